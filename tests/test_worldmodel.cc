// World-model tests. Torch is included before doctest (glog otherwise breaks doctest's CHECK).
#include <torch/torch.h>

#include "../worldmodel/src/checkpoint.h"
#include "../worldmodel/src/net.h"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/data/splits.h"
#include "amrs/data/synthetic.h"
#include "amrs/data/tokens.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"
#include "kill_util.h"
#include "test_util.h"

using namespace amrs;
using namespace amrs::worldmodel;

namespace {

const data::Dataset& Small(std::uint64_t seed = 4) {
  static std::map<std::uint64_t, data::Dataset> cache;
  auto it = cache.find(seed);
  if (it == cache.end()) {
    it = cache.emplace(seed, data::Generate(testing::SmallConfig(seed, 30, 150, 900, 120, 12, 2))).first;
  }
  return it->second;
}

ModelConfig Tiny(Arch arch = Arch::kFactorized, bool rope = false) {
  ModelConfig m;
  m.arch = arch;
  m.rope = rope;
  m.d_model = 16;
  m.heads = 2;
  m.layers = 2;
  m.ff = 32;
  m.head_hidden = 16;
  return m;
}

// Training options of the tiny model on up to 12 train users, into `out`.
TrainOptions TinyTraining(const std::string& out, int epochs) {
  TrainOptions o;
  o.model = Tiny();
  o.epochs = epochs;
  o.batch_tokens = 512;
  o.max_train_users = 12;
  o.out = out;
  return o;
}

ModelConfig WithPrior(ModelConfig m) {
  m.song_prior = true;
  return m;
}

float MaxDiff(const std::vector<Feedback>& a, const std::vector<Feedback>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    m = std::max({m, std::fabs(a[i].engagement - b[i].engagement), std::fabs(a[i].rating - b[i].rating),
                  std::fabs(a[i].valence - b[i].valence), std::fabs(a[i].arousal - b[i].arousal)});
  return m;
}

}  // namespace

TEST_CASE("Causality: changing a token changes no earlier prediction") {
  const auto& d = Small();
  const data::TokenView view(d);
  for (auto cfg : {Tiny(Arch::kFactorized), Tiny(Arch::kStandard, true)}) {
    const auto model = WorldModel::CreateUntrained(cfg, d, 1);
    History h = view.User(0);
    REQUIRE(h.size() > 12);
    History g = h;
    const std::size_t t = 8;
    REQUIRE_FALSE(g[t].IsBoundary());
    g[t].song = (g[t].song + 17) % d.num_songs();
    g[t].engagement = 1.f - g[t].engagement;
    g[t].has_rating = !g[t].has_rating;
    const auto p = model->PredictSequences({h, g});
    for (std::size_t i = 0; i < t; ++i)
      if (!h[i].IsBoundary()) CHECK(MaxDiff({p[0][i]}, {p[1][i]}) == 0.f);
    float later = 0;
    for (std::size_t i = t + 1; i < h.size(); ++i)
      if (!h[i].IsBoundary()) later = std::max(later, MaxDiff({p[0][i]}, {p[1][i]}));
    CHECK(later > 1e-4f);  // the change does reach later predictions
  }
}

TEST_CASE("Cached append equals a full re-encode within 1e-5") {
  const auto& d = Small();
  const data::TokenView view(d);
  ModelConfig lookback = Tiny();
  lookback.ablation.max_lookback = 4;
  // Head width 16 (the default model's) runs the dedicated AVX2 attention kernel where the CPU
  // has it: contiguous keys, the uncommitted own key (standard arch) and a lookback window.
  auto wide = [](ModelConfig m) {
    m.d_model = 32;
    return m;
  };
  ModelConfig wide_lookback = wide(Tiny(Arch::kFactorized, true));
  wide_lookback.ablation.max_lookback = 5;
  for (auto cfg : {Tiny(Arch::kFactorized), Tiny(Arch::kFactorized, true), Tiny(Arch::kStandard),
                   Tiny(Arch::kStandard, true), lookback, wide(Tiny(Arch::kFactorized, true)),
                   wide(Tiny(Arch::kStandard, true)), wide_lookback, WithPrior(Tiny(Arch::kFactorized, true)),
                   WithPrior(Tiny(Arch::kStandard, true)), WithPrior(wide(Tiny(Arch::kFactorized, true)))}) {
    CAPTURE(cfg.Name());
    const auto model = WorldModel::CreateUntrained(cfg, d, 2);
    // Ragged batch: rows of different lengths, one empty.
    std::vector<History> prefix{History(view.User(1).begin(), view.User(1).begin() + 5),
                                History(view.User(2).begin(), view.User(2).begin() + 11), History{}};
    auto state = model->Encode(prefix);
    std::vector<History> full = prefix;
    for (int step = 0; step < 6; ++step) {
      std::vector<Token> next;
      for (std::size_t r = 0; r < prefix.size(); ++r) {
        Token t = step == 2 ? Token::Boundary(0.3f, 0.7f, SessionMode::kCalm)
                            : Token::Song(static_cast<std::int32_t>((7 * step + 3 * r) % d.num_songs()),
                                          {0.5f + 0.05f * step, 1.f, 0.f, 0.f}, step % 2 == 0, false,
                                          SessionMode::kCalm);
        next.push_back(t);
        full[r].push_back(t);
      }
      model->Append(*state, next);
    }
    const auto fresh = model->Encode(full);
    const std::vector<std::int32_t> cand{3, 50, 119};
    CHECK(MaxDiff(model->Predict(*state, cand), model->Predict(*fresh, cand)) < 1e-5f);
    CHECK(MaxDiff(model->ScoreCatalogue(*state), model->ScoreCatalogue(*fresh)) < 1e-5f);
    // Predict agrees with the teacher-forced pass on the next token.
    History with_next = full[1];
    with_next.push_back(Token::Song(50, {}, false, false, SessionMode::kCalm));
    const auto seq = model->PredictSequences({with_next});
    CHECK(MaxDiff({seq[0].back()}, {model->Predict(*fresh, cand)[1]}) < 1e-5f);
  }
}

TEST_CASE("Encoding a large ragged batch in chunks equals encoding each history alone") {
  const auto& d = Small();
  const data::TokenView view(d);
  for (auto cfg : {Tiny(Arch::kFactorized, true), Tiny(Arch::kStandard, true)}) {
    CAPTURE(cfg.Name());
    const auto model = WorldModel::CreateUntrained(cfg, d, 5);
    // 150 rows (more than one chunk of 64), lengths out of order, some equal, one empty.
    std::vector<History> hs;
    std::vector<std::int32_t> cand;
    for (int r = 0; r < 150; ++r) {
      const History& u = view.User(r % view.num_users());
      const std::size_t len = r == 7 ? 0 : std::min<std::size_t>(u.size(), 1 + (r * 37) % 60);
      hs.emplace_back(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(len));
      cand.push_back((r * 13) % d.num_songs());
    }
    const auto batch = model->Encode(hs);
    const auto together = model->Predict(*batch, cand);
    float worst = 0;
    for (std::size_t r = 0; r < hs.size(); ++r) {
      const auto alone = model->Encode({hs[r]});
      worst = std::max(worst, MaxDiff({together[r]}, model->Predict(*alone, {cand[r]})));
    }
    CHECK(worst < 1e-5f);
    // The cached step continues correctly from a chunked encoding.
    std::vector<Token> next;
    for (std::size_t r = 0; r < hs.size(); ++r) {
      next.push_back(Token::Song(cand[r], {0.6f, 1.f, 0.f, 0.f}, true, false, SessionMode::kFocus));
      hs[r].push_back(next.back());
    }
    model->Append(*batch, next);
    const auto fresh = model->Encode(hs);
    CHECK(MaxDiff(model->Predict(*batch, cand), model->Predict(*fresh, cand)) < 1e-5f);
  }
}

TEST_CASE("Different candidate songs get different predictions") {
  const auto& d = Small();
  const auto model = WorldModel::CreateUntrained(Tiny(), d, 3);
  const data::TokenView view(d);
  auto s = model->Encode({view.User(0)});
  const auto all = model->ScoreCatalogue(*s);
  REQUIRE(all.size() == static_cast<std::size_t>(d.num_songs()));
  CHECK(MaxDiff({all[0]}, {all[1]}) > 0.f);
  CHECK_THROWS_AS(model->Predict(*s, {d.num_songs()}), ArgumentError);
  CHECK_THROWS_AS(model->Predict(*s, {1, 2}), ArgumentError);
}

TEST_CASE("Masked loss: unobserved targets contribute nothing") {
  const auto& d = Small();
  const data::TokenView view(d);
  const History& h = view.User(3);
  const ModelConfig cfg = Tiny();
  const auto b = MakeSequenceBatch({{h.data(), static_cast<int64_t>(h.size())}}, cfg, d.num_songs());
  WorldNet net(cfg, SongInputDim(d.MakeCatalogue("mert"), cfg));
  net->Initialize(5);
  net->eval();
  const auto catalogue = d.MakeCatalogue("mert");
  const auto cat = SongInputs(catalogue, FitReduction(catalogue, cfg.song_components));
  const auto logits = ForwardBatch(net, b, cat);
  const auto [l1, c1] = MaskedLosses(logits, b);
  auto tampered = b;
  tampered.targets = b.targets + (1 - b.mask) * 123.0;  // garbage wherever unobserved
  const auto [l2, c2] = MaskedLosses(logits, tampered);
  CHECK(torch::allclose(l1, l2));
  CHECK(torch::equal(c1, c2));
  // Hand-computed: engagement loss = mean over observed tokens of (sigmoid - target)^2.
  const auto p = torch::sigmoid(logits.select(-1, 0));
  const auto m = b.mask.select(-1, 0);
  const double expect = (((p - b.targets.select(-1, 0)).pow(2) * m).sum() / m.sum()).item<double>();
  CHECK(l1[0].item<double>() == doctest::Approx(expect).epsilon(1e-5));
  // Boundary tokens and pre-session reports are never targets.
  for (std::size_t t = 0; t < h.size(); ++t)
    if (h[t].IsBoundary()) CHECK(b.mask[0][static_cast<int64_t>(t)].sum().item<float>() == 0.f);
  CHECK(c1[2].item<float>() == static_cast<float>(std::count_if(h.begin(), h.end(), [](const Token& x) {
          return !x.IsBoundary() && x.has_affect;
        })));
}

TEST_CASE("Checkpoint round trip and mismatched checkpoints") {
  testing::TempDir tmp;
  const auto& d = Small();
  const auto model = WorldModel::CreateUntrained(Tiny(Arch::kFactorized, true), d, 6);
  model->Save(tmp.File("m.pt"));
  const auto loaded = WorldModel::Load(tmp.File("m.pt"), d);
  const data::TokenView view(d);
  auto a = model->Encode({view.User(4)});
  auto b = loaded->Encode({view.User(4)});
  CHECK(MaxDiff(model->ScoreCatalogue(*a), loaded->ScoreCatalogue(*b)) == 0.f);
  CHECK(loaded->info().config == model->info().config);
  CHECK(WorldModel::ReadInfo(tmp.File("m.pt")).dataset_fingerprint == data::Fingerprint(d));

  SUBCASE("another dataset") {
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("m.pt"), Small(99)), doctest::Contains("fingerprint"),
                         InputError);
  }
  SUBCASE("the splits remade with another seed (amrs split --seed 1)") {
    CHECK(WorldModel::ReadInfo(tmp.File("m.pt")).split_seed == d.split_seed);
    REQUIRE(d.split_seed != 1);
    data::Dataset resplit = d;
    resplit.splits = data::MakeSplits(resplit.num_users(), static_cast<std::int32_t>(d.splits.size()), 1);
    resplit.split_seed = 1;
    data::WriteDataset(resplit, tmp.File("d.h5"));
    const auto back = data::ReadDataset(tmp.File("d.h5"));
    const std::string message = "m.pt was trained on dataset fingerprint " + data::Fingerprint(d) +
                                " with split seed " + std::to_string(d.split_seed) +
                                "; the dataset now has fingerprint " + data::Fingerprint(back) +
                                " with split seed 1: the MCCV splits changed";
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("m.pt"), back), doctest::Contains(message.c_str()), InputError);
  }
  SUBCASE("not a checkpoint") {
    std::ofstream(tmp.File("junk.pt")) << "not a checkpoint";
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("junk.pt"), d), doctest::Contains("junk.pt"), InputError);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("missing.pt"), d), doctest::Contains("no such file"),
                         InputError);
  }
  SUBCASE("metadata that does not match the weights") {
    CheckpointInfo info = model->info();
    info.config.d_model = 32;  // the weights are 16 wide
    info.config.heads = 2;
    std::array<WorldNet, kNumSignals> nets{WorldNet(Tiny(Arch::kFactorized, true), 12), WorldNet(nullptr),
                                           WorldNet(nullptr), WorldNet(nullptr)};
    nets[1] = nets[2] = nets[3] = nets[0];
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, SongReduction{});
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("has shape"), InputError);
  }
}

TEST_CASE("A checkpoint killed while being rewritten is the old file, and no temporary survives the next save") {
  const auto& d = Small();
  const auto model = WorldModel::CreateUntrained(Tiny(), d, 6);
  const data::TokenView view(d);
  const auto expected = model->ScoreCatalogue(*model->Encode({view.User(4)}));
  for (int sig : {SIGTERM, SIGINT, SIGKILL}) {
    CAPTURE(sig);
    testing::TempDir tmp;
    const std::string target = tmp.File("m.pt");
    const int status = testing::KillWhileRewriting([&] { model->Save(target); }, sig, 20 * 1000);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    // The final path is a whole checkpoint: it loads and predicts what the model predicts.
    const auto loaded = WorldModel::Load(target, d);
    CHECK(MaxDiff(loaded->ScoreCatalogue(*loaded->Encode({view.User(4)})), expected) == 0.f);
    if (sig == SIGKILL) {
      // Nothing could clean up: at most the killed save's temporary is left, until the next save.
      CHECK(testing::Names(tmp.path()).size() <= 2);
      model->Save(target);
    }
    CHECK(testing::Names(tmp.path()) == std::vector<std::string>{"m.pt"});
  }
}

TEST_CASE("Training writes per-signal checkpoints and resumes to the same result") {
  testing::TempDir tmp;
  const auto& d = Small();
  TrainOptions o = TinyTraining(tmp.File("a.pt"), 2);
  const auto ra = TrainWorldModel(d, o, nullptr);
  CHECK(ra.finished);
  CHECK(std::filesystem::exists(o.out));
  CHECK_FALSE(std::filesystem::exists(o.out + ".resume"));
  for (int s = 0; s < kNumSignals; ++s) {
    CHECK(ra.info.best_epoch[s] >= 1);
    CHECK(ra.info.best_epoch[s] <= 2);
    CHECK(std::isfinite(ra.info.best_val_loss[s]));
  }
  // Interrupted after epoch 1, then resumed: identical weights.
  o.out = tmp.File("b.pt");
  o.stop_after = 1;
  const auto rb1 = TrainWorldModel(d, o, nullptr);
  CHECK_FALSE(rb1.finished);
  CHECK(std::filesystem::exists(o.out + ".resume"));
  o.stop_after = 0;
  const auto rb = TrainWorldModel(d, o, nullptr);
  CHECK(rb.resumed);
  const auto ma = WorldModel::Load(tmp.File("a.pt"), d), mb = WorldModel::Load(tmp.File("b.pt"), d);
  const data::TokenView view(d);
  auto sa = ma->Encode({view.User(5)});
  auto sb = mb->Encode({view.User(5)});
  CHECK(MaxDiff(ma->ScoreCatalogue(*sa), mb->ScoreCatalogue(*sb)) == 0.f);
  // A resume file from other options is refused.
  o.out = tmp.File("c.pt");
  o.stop_after = 1;
  TrainWorldModel(d, o, nullptr);
  o.lr = 0.01f;
  CHECK_THROWS_WITH_AS(TrainWorldModel(d, o, nullptr), doctest::Contains("different 'lr'"), InputError);
}

// ---------------------------------------------------------------------------------------------
// The song prior (ModelConfig::song_prior)

namespace {

torch::Tensor CheckpointPrior(const std::string& path) {
  torch::serialize::InputArchive a;
  a.load_from(path);
  torch::Tensor t;
  REQUIRE(a.try_read("song_prior", t));
  return t;
}

// The dataset with user u's feedback changed (engagement flipped, ratings inverted, affect moved).
data::Dataset ChangeUser(data::Dataset d, std::int32_t u) {
  auto& x = d.interactions;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x.user[i] == u) {
      x.engagement[i] = 1.f - x.engagement[i];
      x.rating[i] = static_cast<std::int8_t>(1 - x.rating[i]);
      x.has_rating[i] = 1;
      if (x.has_song_affect()) x.valence[i] = 1.f - x.valence[i], x.has_affect[i] = 1;
    }
  return d;
}

}  // namespace

TEST_CASE("Song prior: shrunk per-song means and log counts, by hand") {
  const auto& d = Small();
  const data::TokenView view(d);
  const std::vector<std::int32_t> users{0, 1, 2};
  const float k = 5.f;
  const auto prior = ComputeSongPrior(view, users, d.num_songs(), k);
  REQUIRE(prior.sizes() == torch::IntArrayRef({d.num_songs(), kSongPriorColumns}));
  double gs = 0, gn = 0;
  std::map<std::int32_t, std::pair<double, double>> per;  // song -> engagement sum, count
  for (auto u : users)
    for (const auto& t : view.User(u))
      if (!t.IsBoundary() && t.has_engagement) gs += t.engagement, gn += 1, per[t.song].first += t.engagement, per[t.song].second += 1;
  REQUIRE(gn > 0);
  const auto [song, sn] = *per.begin();
  CHECK(prior[song][0].item<float>() == doctest::Approx((sn.first + k * gs / gn) / (sn.second + k)).epsilon(1e-5));
  CHECK(prior[song][1].item<float>() == doctest::Approx(std::log1p(sn.second)).epsilon(1e-6));
  // A song none of these users heard: the global mean, count 0.
  std::int32_t unheard = 0;
  while (per.count(unheard)) ++unheard;
  REQUIRE(unheard < d.num_songs());
  CHECK(prior[unheard][0].item<float>() == doctest::Approx(gs / gn).epsilon(1e-5));
  CHECK(prior[unheard][1].item<float>() == 0.f);
}

TEST_CASE("Song prior: training uses the train users only") {
  testing::TempDir tmp;
  const auto& d = Small();
  const auto& split = d.splits[0];
  REQUIRE_FALSE(split.test.empty());
  REQUIRE_FALSE(split.val.empty());
  TrainOptions o;
  o.model = WithPrior(Tiny());
  o.epochs = 1;
  o.batch_tokens = 512;
  auto train = [&](const data::Dataset& data, const std::string& name) {
    o.out = tmp.File(name);
    TrainWorldModel(data, o, nullptr);
    return CheckpointPrior(o.out);
  };
  const auto base = train(d, "base.pt");
  // The checkpoint's table is the one of the split's train users.
  CHECK(torch::equal(base, ComputeSongPrior(data::TokenView(d), split.train, d.num_songs(), o.model.song_prior_k)));
  // Changing a test user's or a validation user's feedback leaves it identical...
  CHECK(torch::equal(base, train(ChangeUser(d, split.test[0]), "test.pt")));
  CHECK(torch::equal(base, train(ChangeUser(d, split.val[0]), "val.pt")));
  // ...a train user's does not (the comparison can fail).
  CHECK_FALSE(torch::equal(base, train(ChangeUser(d, split.train[0]), "train.pt")));
}

TEST_CASE("Song prior: checkpoint round trip, and a prior table of the wrong shape is refused") {
  testing::TempDir tmp;
  const auto& d = Small();
  const ModelConfig cfg = WithPrior(Tiny(Arch::kFactorized, true));
  CHECK(cfg.Name() == "factorized-mert+pe+prior");
  const auto model = WorldModel::CreateUntrained(cfg, d, 6);
  model->Save(tmp.File("m.pt"));
  const auto loaded = WorldModel::Load(tmp.File("m.pt"), d);
  CHECK(loaded->info().config.song_prior);
  CHECK(loaded->info().config == model->info().config);
  const data::TokenView view(d);
  CHECK(MaxDiff(model->ScoreCatalogue(*model->Encode({view.User(4)})),
                loaded->ScoreCatalogue(*loaded->Encode({view.User(4)}))) == 0.f);
  const auto saved = CheckpointPrior(tmp.File("m.pt"));
  CHECK(torch::equal(saved, ComputeSongPrior(view, d.splits[0].train, d.num_songs(), cfg.song_prior_k)));
  // The prior reaches the predictions: another table changes them.
  const auto catalogue = d.MakeCatalogue("mert");
  std::array<WorldNet, kNumSignals> nets{WorldNet(cfg, SongInputDim(catalogue, cfg)), WorldNet(nullptr),
                                         WorldNet(nullptr), WorldNet(nullptr)};
  nets[0]->Initialize(6);
  nets[1] = nets[2] = nets[3] = nets[0];
  CheckpointInfo info = model->info();
  info.best_epoch = {1, 1, 1, 1};
  SongReduction r = FitReduction(catalogue, cfg.song_components);
  r.prior = saved;
  SaveCheckpoint(tmp.File("same.pt"), info, nets, r);
  const auto same = WorldModel::Load(tmp.File("same.pt"), d);
  r.prior = saved.roll(1, 0).contiguous();  // the songs' rows moved by one
  SaveCheckpoint(tmp.File("shifted.pt"), info, nets, r);
  const auto shifted = WorldModel::Load(tmp.File("shifted.pt"), d);
  CHECK(MaxDiff(same->ScoreCatalogue(*same->Encode({view.User(4)})),
                shifted->ScoreCatalogue(*shifted->Encode({view.User(4)}))) > 1e-4f);

  SUBCASE("a table of another catalogue (one song fewer)") {
    r.prior = saved.narrow(0, 0, d.num_songs() - 1).clone();
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d),
                         doctest::Contains(("the song_prior table is " + std::to_string(d.num_songs() - 1) + "x8").c_str()),
                         InputError);
  }
  SUBCASE("a table with other columns") {
    r.prior = torch::zeros({d.num_songs(), kSongPriorColumns + 1});
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("expected float"), InputError);
  }
  SUBCASE("no table") {
    r.prior = torch::Tensor();
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("no song_prior table"), InputError);
  }
}

TEST_CASE("Song prior in the configuration: JSON, old configurations, validation") {
  ModelConfig m = Tiny();
  // Off: the JSON is what it was before the prior existed.
  CHECK(m.ToJson().find("song_prior") == std::string::npos);
  std::string old = m.ToJson();
  CHECK_FALSE(ModelConfig::FromJson(old).song_prior);
  m.song_prior = true;
  m.song_prior_k = 7.5f;
  const auto back = ModelConfig::FromJson(m.ToJson());
  CHECK(back.song_prior);
  CHECK(back.song_prior_k == 7.5f);
  CHECK(back == m);
  CHECK(back.Name() == "factorized-mert+prior");
  m.song_prior_k = -1.f;
  CHECK_THROWS_WITH_AS(m.Validate(), doctest::Contains("song_prior_k"), ArgumentError);
}

// ---------------------------------------------------------------------------------------------
// The prior offset (ModelConfig::prior_offset)

namespace {

// The largest difference between a model's outputs and the song prior's means (columns 2s of the
// split-0 train users' table): catalogue scores and single candidates of two encoded users (also
// after an appended token), and the teacher-forced predictions of one history.
float MaxDiffFromSongMeans(const WorldModel& m, const data::Dataset& d) {
  const data::TokenView view(d);
  const auto prior = ComputeSongPrior(view, d.splits[0].train, d.num_songs(), m.info().config.song_prior_k);
  const auto acc = prior.accessor<float, 2>();
  auto diff = [&](const Feedback& f, std::int32_t song) {
    const float* p = &f.engagement;
    float x = 0;
    for (int s = 0; s < kNumSignals; ++s) x = std::max(x, std::fabs(p[s] - acc[song][2 * s]));
    return x;
  };
  float worst = 0;
  const std::int32_t N = d.num_songs();
  auto state = m.Encode({view.User(4), view.User(5)});
  for (int round = 0; round < 2; ++round) {
    const auto all = m.ScoreCatalogue(*state);
    REQUIRE(all.size() == static_cast<std::size_t>(2 * N));
    for (std::int32_t r = 0; r < 2; ++r)
      for (std::int32_t j = 0; j < N; ++j) worst = std::max(worst, diff(all[static_cast<std::size_t>(r * N + j)], j));
    const std::vector<std::int32_t> songs{1, N - 1};
    const auto some = m.Predict(*state, songs);
    for (std::size_t r = 0; r < 2; ++r) worst = std::max(worst, diff(some[r], songs[r]));
    m.Append(*state, {view.User(4).back(), view.User(5).back()});
  }
  const auto seq = m.PredictSequences({view.User(4)});
  for (std::size_t t = 0; t < view.User(4).size(); ++t)
    if (!view.User(4)[t].IsBoundary()) worst = std::max(worst, diff(seq[0][t], view.User(4)[t].song));
  return worst;
}

}  // namespace

TEST_CASE("Prior offset: an untrained model predicts the per-song means in every path") {
  const auto& d = Small();
  for (Arch arch : {Arch::kFactorized, Arch::kStandard}) {
    CAPTURE(ArchName(arch));
    ModelConfig cfg = WithPrior(Tiny(arch, true));
    cfg.prior_offset = true;
    // The output layer starts at zero, so the output is the offset: the per-song mean.
    CHECK(MaxDiffFromSongMeans(*WorldModel::CreateUntrained(cfg, d, 6), d) < 1e-5f);
    // Without the offset the same model is far from it (the check can fail).
    cfg.prior_offset = false;
    CHECK(MaxDiffFromSongMeans(*WorldModel::CreateUntrained(cfg, d, 6), d) > 1e-2f);
  }
}

TEST_CASE("Prior offset: trained and reloaded, the checkpoint predicts what the model did") {
  testing::TempDir tmp;
  const auto& d = Small();
  TrainOptions o;
  o.model = WithPrior(Tiny());
  o.model.prior_offset = true;
  o.epochs = 2;
  o.batch_tokens = 512;
  o.out = tmp.File("m.pt");
  std::ostringstream log;
  TrainWorldModel(d, o, &log);
  // The per-song mean is scored on validation before the first epoch (best epoch 0 until beaten).
  CHECK(log.str().find("epoch 0 (the per-song mean)  val eng") != std::string::npos);
  const auto m = WorldModel::Load(o.out, d);
  CHECK(m->info().config.prior_offset);
  CHECK(m->info().config.Name() == "factorized-mert+prior+offset");
  for (int s = 0; s < kNumSignals; ++s) CHECK(m->info().best_epoch[s] >= 0);
  // Trained, the model departs from the per-song means, and its three prediction paths agree.
  CHECK(MaxDiffFromSongMeans(*m, d) > 1e-4f);
  const data::TokenView view(d);
  const auto seq = m->PredictSequences({view.User(4)});
  const History& h = view.User(4);
  std::size_t t = h.size() - 1;
  while (t > 0 && h[t].IsBoundary()) --t;
  auto st = m->Encode({History(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(t))});
  const auto one = m->Predict(*st, {h[t].song});
  CHECK(MaxDiff({seq[0][t]}, one) < 1e-4f);
  CHECK(MaxDiff({m->ScoreCatalogue(*st)[static_cast<std::size_t>(h[t].song)]}, one) < 1e-5f);
}

TEST_CASE("Prior offset in the configuration: JSON, name, needs the song prior") {
  ModelConfig m = WithPrior(Tiny());
  CHECK(m.ToJson().find("prior_offset") == std::string::npos);  // off: the JSON of before
  m.prior_offset = true;
  const auto back = ModelConfig::FromJson(m.ToJson());
  CHECK(back.prior_offset);
  CHECK(back == m);
  CHECK(back.Name() == "factorized-mert+prior+offset");
  m.song_prior = false;
  CHECK_THROWS_WITH_AS(m.Validate(), doctest::Contains("'prior_offset' needs 'song_prior'"), ArgumentError);
}

// ---------------------------------------------------------------------------------------------
// Session features (ModelConfig::session_features)

namespace {

Token SongTok(std::int32_t song, float e, bool rated, float r) {
  return Token::Song(song, Feedback{e, r, 0.f, 0.f}, rated, false, SessionMode::kNone);
}

// The prior offset plus session features, on the song prior of a tiny model.
ModelConfig WithSession(ModelConfig m) {
  m.song_prior = m.prior_offset = m.session_features = true;
  return m;
}

// The largest differences between a model's prediction paths over history h's song tokens:
// [0] teacher-forced vs one candidate after Encode, [1] the whole catalogue's row vs that
// candidate, [2] Encode + Append of the previous token vs Encode.
std::array<float, 3> SessionPathDiffs(const WorldModel& m, const History& h) {
  const auto seq = m.PredictSequences({h});
  std::array<float, 3> worst{0, 0, 0};
  int checked = 0;
  for (std::size_t t = 2; t < h.size(); ++t) {
    if (h[t].IsBoundary()) continue;
    auto st = m.Encode({History(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(t))});
    const auto one = m.Predict(*st, {h[t].song});
    worst[0] = std::max(worst[0], MaxDiff({seq[0][t]}, one));
    worst[1] = std::max(worst[1], MaxDiff({m.ScoreCatalogue(*st)[static_cast<std::size_t>(h[t].song)]}, one));
    auto st2 = m.Encode({History(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(t - 1))});
    m.Append(*st2, {h[t - 1]});
    worst[2] = std::max(worst[2], MaxDiff(m.Predict(*st2, {h[t].song}), one));
    ++checked;
  }
  REQUIRE(checked > 5);
  return worst;
}

}  // namespace

TEST_CASE("Session features: position in the session, recent plays, the user's shrunk residuals") {
  // Three songs; song means (engagement, rating, valence, arousal) per song.
  const std::vector<float> means = {0.5f, 0.5f, 0.5f, 0.5f, 0.2f, 0.4f, 0.5f, 0.5f, 0.9f, 0.6f, 0.5f, 0.5f};
  SessionStats st;
  float f[kSessionFeatures];
  st.Features(1, f);
  CHECK(f[0] == 0.f);
  CHECK(f[1] == 0.f);
  CHECK(f[2] == 0.f);
  st.Add(Token::Boundary(0.5f, 0.5f, SessionMode::kNone), means.data());
  st.Add(SongTok(0, 0.8f, true, 1.f), means.data());   // residuals: e +0.3, r +0.5
  st.Add(SongTok(1, 0.1f, false, 0.f), means.data());  // e -0.1, no rating
  st.Features(0, f);
  CHECK(f[0] == 2.f);  // two songs since the boundary
  CHECK(f[1] == 1.f);  // song 0 played once
  CHECK(f[2] == doctest::Approx((0.3 - 0.1) / (2 + SessionStats::kResidualK)));
  CHECK(f[3] == doctest::Approx(0.5 / (1 + SessionStats::kResidualK)));  // only the rated token
  CHECK(f[4] == 0.f);  // no affect reports
  st.Features(2, f);
  CHECK(f[1] == 0.f);
  // A boundary restarts the position, not the plays or the residuals.
  st.Add(Token::Boundary(0.5f, 0.5f, SessionMode::kNone), means.data());
  st.Features(0, f);
  CHECK(f[0] == 0.f);
  CHECK(f[1] == 1.f);
  CHECK(f[2] == doctest::Approx(0.2 / 7));
  // Plays count the last kRepeatWindow song tokens only.
  for (int i = 0; i < SessionStats::kRepeatWindow; ++i) st.Add(SongTok(2, 0.9f, false, 0.f), means.data());
  CHECK(st.Plays(2) == SessionStats::kRepeatWindow);
  CHECK(st.Plays(0) == 0);
  // The logits: w[s][0] position + w[s][1] plays + w[s][2] residual + w[s][3]; the catalogue's
  // split form (BaseLogits + w[s][1] plays) is the same.
  const float w[16] = {-0.1f, -0.5f, 2.f, 0.3f, 0.2f, 0.1f, 1.f, -0.2f, 0, 0, 0, 0, 0, 0, 0, 0};
  float lg[4], base[4];
  st.Features(2, f);
  st.Logits(2, w, lg);
  st.BaseLogits(w, base);
  CHECK(lg[0] == doctest::Approx(-0.1 * f[0] - 0.5 * f[1] + 2 * f[2] + 0.3));
  CHECK(lg[1] == doctest::Approx(0.2 * f[0] + 0.1 * f[1] + 1 * f[3] - 0.2));
  CHECK(lg[2] == 0.f);
  CHECK(lg[0] == doctest::Approx(base[0] - 0.5f * 30));
}

TEST_CASE("Session features in a batch: each token's features from the span's earlier tokens") {
  const auto& d = Small();
  const data::TokenView view(d);
  const History& h = view.User(3);
  REQUIRE(h.size() > 10);
  const auto prior = ComputeSongPrior(view, d.splits[0].train, d.num_songs(), 5.f);
  const std::vector<float> means = SongMeans(prior);
  REQUIRE(means.size() == static_cast<std::size_t>(d.num_songs()) * kNumSignals);
  CHECK(means[4 * 2 + 1] == prior[2][2].item<float>());  // song 2's rating mean
  const ModelConfig cfg = WithSession(Tiny());
  const auto b = MakeSequenceBatch({{h.data(), static_cast<int64_t>(h.size())}}, cfg, d.num_songs(), &means);
  REQUIRE(b.session.defined());
  SessionStats st;
  float f[kSessionFeatures];
  int nonzero = 0;
  for (std::size_t t = 0; t < h.size(); ++t) {
    if (!h[t].IsBoundary()) {
      st.Features(h[t].song, f);
      for (int k = 0; k < kSessionFeatures; ++k) CHECK(b.session[0][static_cast<int64_t>(t)][k].item<float>() == f[k]);
      nonzero += f[2] != 0.f;
    }
    st.Add(h[t], means.data());
  }
  CHECK(nonzero > 0);
  // Without the song means (or the option) the batch has none.
  CHECK_FALSE(MakeSequenceBatch({{h.data(), static_cast<int64_t>(h.size())}}, cfg, d.num_songs()).session.defined());
  CHECK_FALSE(MakeSequenceBatch({{h.data(), static_cast<int64_t>(h.size())}}, Tiny(), d.num_songs(), &means)
                  .session.defined());
}

TEST_CASE("Session features: the fit finds a fading engagement and leaves affect to the network") {
  // Songs of one mean; engagement falls by 0.08 per song within a session, rating does not move.
  // Histories of 1 to 3 sessions (the fit joins them without padding).
  const std::int32_t N = 4;
  std::vector<History> users;
  for (int u = 0; u < 20; ++u) {
    History h;
    for (int s = 0; s < 1 + u % 3; ++s) {
      h.push_back(Token::Boundary(0.5f, 0.5f, SessionMode::kNone));
      for (int p = 0; p < 8; ++p)
        h.push_back(Token::Song((u + s + p) % N, Feedback{0.85f - 0.08f * p, static_cast<float>((u + p) % 2), 0.3f, 0.7f},
                                true, true, SessionMode::kNone));
    }
    users.push_back(h);
  }
  std::vector<std::pair<const Token*, int64_t>> spans;
  for (const auto& h : users) spans.emplace_back(h.data(), static_cast<int64_t>(h.size()));
  SongReduction r;
  r.prior = torch::zeros({N, kSongPriorColumns});
  for (int s = 0; s < kNumSignals; ++s) r.prior.select(1, 2 * s).fill_(0.5f);
  const auto w = FitSessionWeights(spans, WithSession(Tiny()), N, r);
  REQUIRE(w.sizes() == torch::IntArrayRef({kNumSignals, kSessionWeights}));
  CHECK(w[0][0].item<float>() < -0.1f);  // engagement falls with the position
  CHECK(std::fabs(w[1][0].item<float>()) < 0.05f);  // rating does not
  CHECK(torch::equal(w.narrow(0, 2, 2), torch::zeros({2, kSessionWeights})));
  // The fitted term brings the teacher-forced loss below the prior offset's alone.
  const std::vector<float> means = SongMeans(r.prior);
  const auto b = MakeSequenceBatch(spans, WithSession(Tiny()), N, &means);
  const auto base = PriorOffset(r).index_select(0, b.candidates.reshape({-1})).view_as(b.targets);
  const auto without = MaskedLosses(base, b).first, with = MaskedLosses(base + SessionLogits(b.session, w), b).first;
  CHECK(with[0].item<float>() < 0.5f * without[0].item<float>());
}

TEST_CASE("Session features: trained, every prediction path applies them alike; the checkpoint keeps them") {
  testing::TempDir tmp;
  const auto& d = Small();
  const data::TokenView view(d);
  TrainOptions o;
  o.model = WithSession(Tiny());
  o.epochs = 1;
  o.batch_tokens = 512;
  o.out = tmp.File("m.pt");
  std::ostringstream log;
  TrainWorldModel(d, o, &log);
  CHECK(log.str().find("epoch 0 (the per-song mean and session features)  val eng") != std::string::npos);
  CHECK(log.str().find("session features (position, recent plays, user residual, constant) per signal: engagement") !=
        std::string::npos);
  const auto m = WorldModel::Load(o.out, d);
  CHECK(m->info().config.Name() == "factorized-mert+prior+offset+session");
  torch::serialize::InputArchive a;
  a.load_from(o.out);
  torch::Tensor w;
  REQUIRE(a.try_read("session_weights", w));
  CHECK(w.abs().sum().item<float>() > 0.f);
  // Teacher-forced, one candidate after Encode, after Encode + Append, and the whole catalogue.
  const History& h = view.User(4);
  const auto diffs = SessionPathDiffs(*m, h);
  CHECK(diffs[0] < 1e-4f);
  CHECK(diffs[1] < 1e-5f);
  CHECK(diffs[2] < 1e-4f);
  // The term reaches the predictions: the same networks with the weights zeroed predict otherwise.
  const auto catalogue = d.MakeCatalogue("mert");
  std::array<WorldNet, kNumSignals> nets{WorldNet(o.model, SongInputDim(catalogue, o.model)), WorldNet(nullptr),
                                         WorldNet(nullptr), WorldNet(nullptr)};
  nets[0]->Initialize(6);
  nets[1] = nets[2] = nets[3] = nets[0];
  CheckpointInfo info = m->info();
  info.best_epoch = {1, 1, 1, 1};
  SongReduction r = FitReduction(catalogue, o.model.song_components);
  r.prior = CheckpointPrior(o.out);
  r.session_w = w;
  SaveCheckpoint(tmp.File("same.pt"), info, nets, r);
  r.session_w = torch::zeros_like(w);
  SaveCheckpoint(tmp.File("zero.pt"), info, nets, r);
  const auto same = WorldModel::Load(tmp.File("same.pt"), d), zero = WorldModel::Load(tmp.File("zero.pt"), d);
  CHECK(MaxDiff(same->ScoreCatalogue(*same->Encode({h})), zero->ScoreCatalogue(*zero->Encode({h}))) > 1e-3f);

  SUBCASE("weights of another shape") {
    r.session_w = torch::zeros({kNumSignals, kSessionWeights + 1});
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("the session_weights are not float 4x4"),
                         InputError);
  }
  SUBCASE("no weights") {
    r.session_w = torch::Tensor();
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("has no session_weights"), InputError);
  }
  SUBCASE("non-finite weights") {
    r.session_w = torch::full({kNumSignals, kSessionWeights}, std::nanf(""));
    SaveCheckpoint(tmp.File("bad.pt"), info, nets, r);
    CHECK_THROWS_WITH_AS(WorldModel::Load(tmp.File("bad.pt"), d), doctest::Contains("non-finite"), InputError);
  }
}

TEST_CASE("Session features: the standard architecture and the torch catalogue head apply them alike") {
  testing::TempDir tmp;
  const auto& d = Small();
  const data::TokenView view(d);
  ModelConfig ablated = WithSession(Tiny());
  ablated.ablation.no_candidate_song = true;  // not fusable: the catalogue through the torch head
  for (const auto& cfg : {WithSession(Tiny(Arch::kStandard, true)), ablated}) {
    CAPTURE(cfg.Name());
    TrainOptions o;
    o.model = cfg;
    o.epochs = 1;
    o.batch_tokens = 512;
    o.out = tmp.File("m.pt");
    TrainWorldModel(d, o, nullptr);
    const auto m = WorldModel::Load(o.out, d);
    const auto diffs = SessionPathDiffs(*m, view.User(4));
    CHECK(diffs[0] < 1e-4f);
    CHECK(diffs[1] < 1e-5f);
    CHECK(diffs[2] < 1e-4f);
  }
}

TEST_CASE("Session features in the configuration: JSON, name, needs the prior offset") {
  ModelConfig m = WithPrior(Tiny());
  m.prior_offset = true;
  CHECK(m.ToJson().find("session_features") == std::string::npos);  // off: the JSON of before
  m.session_features = true;
  const auto back = ModelConfig::FromJson(m.ToJson());
  CHECK(back.session_features);
  CHECK(back == m);
  CHECK(back.Name() == "factorized-mert+prior+offset+session");
  m.prior_offset = false;
  CHECK_THROWS_WITH_AS(m.Validate(), doctest::Contains("'session_features' needs 'prior_offset'"), ArgumentError);
}

TEST_CASE("Same seed, same checkpoint bytes (whatever the file's name)") {
  testing::TempDir tmp;
  const auto& d = Small();
  TrainOptions o;
  o.model = Tiny();
  o.epochs = 1;
  o.batch_tokens = 512;
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  o.out = tmp.File("first.pt");
  TrainWorldModel(d, o, nullptr);
  o.out = tmp.File("second-name.pt");
  TrainWorldModel(d, o, nullptr);
  const std::string a = bytes(tmp.File("first.pt")), b = bytes(tmp.File("second-name.pt"));
  REQUIRE(a.size() > 1000);
  // The ZIP records were named after the temporary file (name and process id) before.
  CHECK(a == b);
}

TEST_CASE("Catalogue scoring (the fused factorized head) agrees with one candidate at a time") {
  const auto& d = Small();
  const data::TokenView view(d);
  ModelConfig offset = WithPrior(Tiny());
  offset.prior_offset = true;
  ModelConfig ablated = Tiny();
  ablated.ablation.no_candidate_song = true;  // not fusable: the torch head
  for (const auto& cfg : {Tiny(), Tiny(Arch::kFactorized, true), offset, ablated, Tiny(Arch::kStandard)}) {
    CAPTURE(cfg.Name());
    const auto model = WorldModel::CreateUntrained(cfg, d, 5);
    const auto state = model->Encode({view.User(0), view.User(1), History{}});
    const auto all = model->ScoreCatalogue(*state);
    const std::int32_t n = d.num_songs();
    REQUIRE(all.size() == static_cast<std::size_t>(3 * n));
    float worst = 0, spread = 0;
    for (std::int32_t j = 0; j < n; ++j) {
      const auto one = model->Predict(*state, {j, j, j});
      for (std::size_t r = 0; r < 3; ++r) {
        worst = std::max(worst, MaxDiff({all[r * n + j]}, {one[r]}));
        spread = std::max(spread, MaxDiff({all[r * n + j]}, {all[r * n]}));
      }
    }
    INFO(worst);
    CHECK(worst < 2e-6f);
    // The songs differ (a check that could fail), except without the candidate song, where every
    // song gets the state's one prediction (this path read past its logits before).
    if (cfg.ablation.no_candidate_song) CHECK(spread == 0.f);
    else CHECK(spread > 1e-4f);
  }
}

TEST_CASE("Training-step flops for the bench: by hand for a tiny configuration, and counted over a run") {
  ModelConfig c;
  c.d_model = 8, c.layers = 2, c.ff = 16, c.head_hidden = 4;
  // Per row of 3 tokens (S = 4 with BOS), song input 5, kSmallFeatures small features:
  // input 3 (5 + small) 8; per layer 4 (4*64 + 2*8*16) + 2*16*8; head 3 (8*4 + 5*4 + 16).
  const double input = 3.0 * (5 + data::kSmallFeatures) * 8, layer = 4.0 * (256 + 256) + 256, head = 3.0 * (32 + 20 + 16);
  CHECK(TrainingBatchFlops(c, 5, 2, 3) == doctest::Approx(6 * 2 * (input + 2 * layer + head)));
  c.arch = Arch::kStandard;  // no song half in the head
  CHECK(TrainingBatchFlops(c, 5, 2, 3) == doctest::Approx(6 * 2 * (input + 2 * layer + 3.0 * (32 + 16))));

  testing::TempDir tmp;
  const TrainOptions o = TinyTraining(tmp.File("flops.pt"), 1);
  const auto r = TrainWorldModel(Small(), o, nullptr);
  // Every trained token passes every layer's q/k/v/out and feed-forward products (a lower bound;
  // padding and attention add to it).
  const double dm = o.model.d_model;
  const double per_token = 6.0 * 2 * o.model.layers * (4 * dm * dm + 2 * dm * o.model.ff);
  CHECK(r.train_tokens > 0);
  CHECK(r.batch_flops >= per_token * static_cast<double>(r.train_tokens));
  CHECK(r.batch_flops < 100 * per_token * static_cast<double>(r.train_tokens));
  CHECK(r.batch_seconds > 0);
  CHECK(r.batch_seconds <= r.seconds);
}
