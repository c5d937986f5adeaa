// The policy losses against hand-computed values on tiny tensors. Torch before doctest.
#include <torch/torch.h>

#include "../agents/src/losses.h"
#include "../agents/src/policy_net.h"

#include <doctest/doctest.h>

#include <cmath>

#include "amrs/core/error.h"

using namespace amrs::agents;

namespace {
// n random unit song embeddings of `dim` and the trailing zero row (UnitCatalogue's layout).
torch::Tensor RandomUnitSongs(int n, int dim) {
  return torch::cat({torch::nn::functional::normalize(torch::randn({n, dim}),
                                                      torch::nn::functional::NormalizeFuncOptions().dim(1)),
                     torch::zeros({1, dim})});
}
}  // namespace

TEST_CASE("InfoNCE (eq. 1) on a hand-computed example") {
  // pred (1,0); positive (1,0): cos 1; negatives (0,1): cos 0 and (-1,0): cos -1; tau 0.5.
  const auto pred = torch::tensor({{1.f, 0.f}});
  const auto pos = torch::tensor({{2.f, 0.f}});  // scale does not matter (cosine)
  const auto neg = torch::tensor({{{0.f, 3.f}, {-1.f, 0.f}}});
  const double l = InfoNceLoss(pred, pos, neg, 0.5).item<double>();
  const double e = -std::log(std::exp(2.0) / (std::exp(2.0) + std::exp(0.0) + std::exp(-2.0)));
  CHECK(l == doctest::Approx(e).epsilon(1e-6));
  // Batch mean of two rows; the second row's positive is its worst candidate.
  const auto pred2 = torch::tensor({{1.f, 0.f}, {0.f, 1.f}});
  const auto pos2 = torch::tensor({{1.f, 0.f}, {0.f, -1.f}});
  const auto neg2 = torch::tensor({{{0.f, 1.f}}, {{0.f, 1.f}}});
  const double l2 = InfoNceLoss(pred2, pos2, neg2, 1.0).item<double>();
  const double r1 = -std::log(std::exp(1.0) / (std::exp(1.0) + std::exp(0.0)));
  const double r2 = -std::log(std::exp(-1.0) / (std::exp(-1.0) + std::exp(1.0)));
  CHECK(l2 == doctest::Approx((r1 + r2) / 2).epsilon(1e-6));
  CHECK_THROWS_AS(InfoNceLoss(pred, pos, neg, 0.0), amrs::ArgumentError);
  CHECK_THROWS_AS(InfoNceLoss(pred, pos2, neg, 1.0), amrs::ArgumentError);
}

TEST_CASE("pi(y|x) is a softmax of cosine / tau over the catalogue") {
  const auto cat = torch::tensor({{1.f, 0.f}, {0.f, 1.f}, {-1.f, 0.f}});
  const auto pred = torch::tensor({{1.f, 0.f}});
  const auto lp = PolicyLogProb(pred, cat, torch::tensor({0}, torch::kLong), 1.0);
  const double z = std::exp(1.0) + std::exp(0.0) + std::exp(-1.0);
  CHECK(lp.item<double>() == doctest::Approx(1.0 - std::log(z)).epsilon(1e-6));
  // Probabilities over the catalogue sum to one.
  const auto all = PolicyLogProb(pred.expand({3, 2}), cat, torch::tensor({0, 1, 2}, torch::kLong), 1.0);
  CHECK(all.exp().sum().item<double>() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("DPO (eq. 2) loss, margin and accuracy on hand-computed values") {
  const auto w = torch::tensor({-1.0f, -2.0f}), l = torch::tensor({-2.0f, -1.0f});
  const auto rw = torch::tensor({-1.5f, -1.5f}), rl = torch::tensor({-1.5f, -1.5f});
  // margins: beta * ((w - rw) - (l - rl)) = 0.1 * {1, -1}
  const auto o = DpoLoss(w, l, rw, rl, 0.1);
  const double expect = 0.5 * (-std::log(1 / (1 + std::exp(-0.1))) - std::log(1 / (1 + std::exp(0.1))));
  CHECK(o.loss.item<double>() == doctest::Approx(expect).epsilon(1e-6));
  CHECK(o.reward_margin.item<double>() == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(o.accuracy.item<double>() == doctest::Approx(0.5));
  // At the reference the loss is log 2 whatever beta.
  CHECK(DpoLoss(rw, rl, rw, rl, 5.0).loss.item<double>() == doctest::Approx(std::log(2.0)).epsilon(1e-6));
  CHECK_THROWS_AS(DpoLoss(w, l, rw, rl, 0.0), amrs::ArgumentError);
}

TEST_CASE("Policy positions: the prediction after token p of a span is the one for the history ending at p") {
  // Copycat trains every position of a span (net->forward) and is queried after the last token of
  // a history (net->Last). Both must encode the same prefix the same way: with positions counted
  // from the span's end (checkpoint version 1) the two differed.
  PolicyConfig c;
  c.d_model = 16, c.heads = 2, c.ff = 32, c.layers = 2, c.max_context = 32;
  const int n_songs = 6, dim = 4;
  PolicyNet net(c, dim);
  net->Initialize(7);
  const auto songs = RandomUnitSongs(n_songs, dim);
  std::vector<amrs::Token> h;
  h.push_back(amrs::Token::Boundary(0.4f, 0.6f, amrs::SessionMode::kNone));
  for (int s : {1, 4, 2, 5, 0, 3}) {
    amrs::Feedback fb;
    fb.engagement = 0.1f * static_cast<float>(s);
    h.push_back(amrs::Token::Song(s, fb, false, false, amrs::SessionMode::kNone));
  }
  torch::NoGradGuard guard;
  const auto n = static_cast<std::int64_t>(h.size());
  const auto all = net->forward(MakePolicyInputs({{h.data(), n}}, n_songs, c.max_context), songs);  // [T,1,D]
  for (std::int64_t p = 0; p < n; ++p) {
    const auto last = net->Last(MakePolicyInputs({{h.data(), p + 1}}, n_songs, c.max_context), songs);  // [1,D]
    CHECK_MESSAGE((all[p][0] - last[0]).abs().max().item<float>() < 1e-5f, "prefix ending at token " << p);
  }
}

TEST_CASE("Acting: LastOnly (the head on the last positions only) gives Last's numbers within float rounding") {
  PolicyConfig c;
  c.d_model = 64, c.heads = 4, c.ff = 128, c.layers = 2, c.max_context = 48;
  const int n_songs = 50, dim = 40;
  PolicyNet net(c, dim);
  net->Initialize(11);
  const auto songs = RandomUnitSongs(n_songs, dim);
  // A ragged batch: lengths 1..60 (some over max_context), rows of several sessions.
  std::vector<std::vector<amrs::Token>> hs;
  for (int r = 0; r < 37; ++r) {
    std::vector<amrs::Token> h;
    const int len = 1 + (r * 17) % 60;
    for (int t = 0; t < len; ++t) {
      if (t % 9 == 0) {
        h.push_back(amrs::Token::Boundary(0.3f, 0.7f, amrs::SessionMode::kNone));
        continue;
      }
      amrs::Feedback fb;
      fb.engagement = 0.01f * static_cast<float>((r + 3 * t) % 100);
      h.push_back(amrs::Token::Song((r * 7 + t * 3) % n_songs, fb, t % 2 == 0, false, amrs::SessionMode::kNone));
    }
    hs.push_back(std::move(h));
  }
  for (std::size_t rows : {std::size_t{1}, std::size_t{5}, hs.size()}) {
    std::vector<std::pair<const amrs::Token*, std::int64_t>> spans;
    for (std::size_t r = 0; r < rows; ++r) spans.emplace_back(hs[r].data(), static_cast<std::int64_t>(hs[r].size()));
    const auto in = MakePolicyInputs(spans, n_songs, c.max_context);
    torch::InferenceMode guard;
    const auto a = net->Last(in, songs), b = net->LastOnly(in, songs);
    REQUIRE(a.sizes() == b.sizes());
    // Equal, or within rounding where OpenBLAS multiplies a few rows with another kernel (seen:
    // 1.8e-7 at 5 rows; 1 and 37 rows exact); a wrong row would differ by far more.
    CHECK_MESSAGE((a - b).abs().max().item<float>() <= 1e-6f, rows << " rows");
    CHECK((a.abs().max().item<float>() > 0.1f));
  }
}

TEST_CASE("InfoNCE over valid positions: the gradient of a non-contiguous input lands where it belongs") {
  // The copycat batch's shape: similarities [T,B,K] as a transposed (non-contiguous) view. Its
  // gradient must equal the one through a contiguous copy. LibTorch 1.13's masked_select with a
  // broadcast mask misplaced it (max difference about 6 here), so Copycat trained on wrong gradients.
  torch::manual_seed(0);
  const int64_t T = 100, B = 32, K = 64;
  const auto base_neg = torch::randn({B, T, K});
  const auto pos = torch::randn({T, B});
  const auto valid = torch::rand({T, B}) > 0.5;
  auto grad_of = [&](bool contiguous) {
    auto b = base_neg.clone().requires_grad_(true);
    const auto neg = contiguous ? b.transpose(0, 1).contiguous() : b.transpose(0, 1);
    InfoNceOverValid(pos, neg, valid, 0.2).backward();
    return b.grad();
  };
  const auto g_view = grad_of(false), g_copy = grad_of(true);
  CHECK(g_view.abs().sum().item<double>() > 0);
  CHECK((g_view - g_copy).abs().max().item<double>() < 1e-6);
  // The loss itself: the mean InfoNCE over the valid positions (hand-rolled).
  const auto neg = base_neg.transpose(0, 1);
  const auto logits = torch::cat({pos.unsqueeze(-1), neg}, -1) / 0.2;
  const auto per = -torch::log_softmax(logits, -1).select(-1, 0);
  const double want = (per * valid).sum().item<double>() / valid.sum().item<double>();
  CHECK(InfoNceOverValid(pos, neg, valid, 0.2).item<double>() == doctest::Approx(want).epsilon(1e-5));
  CHECK_THROWS_AS(InfoNceOverValid(pos, neg, valid.narrow(0, 0, 2), 0.2), amrs::ArgumentError);
}
