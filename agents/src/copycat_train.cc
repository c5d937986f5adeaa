// Copycat: behaviour cloning of the logged production policy with InfoNCE (paper 3.4, eq. 1).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <ostream>

#include <nlohmann/json.hpp>

#include "amrs/agents/policy.h"
#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/tokens.h"
#include "amrs/distributed/gradients.h"
#include "archive.h"
#include "losses.h"
#include "policy_net.h"

namespace amrs::agents {

using torch::Tensor;

void CopycatOptions::Validate() const {
  model.Validate();
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ArgumentError("copycat: " + what);
  };
  need(epochs >= 1 && epochs <= kMaxEpochs, "'epochs' must be in [1, " + std::to_string(kMaxEpochs) + "]");
  need(batch >= 1 && batch <= kMaxBatch, "'batch' must be in [1, " + std::to_string(kMaxBatch) + "]");
  need(negatives >= 1 && negatives <= kMaxNegatives, "'negatives' must be in [1, " + std::to_string(kMaxNegatives) + "]");
  need(stop_after >= 0, "'stop_after' must be >= 0");
  need(std::isfinite(lr) && lr > 0, "'lr' must be positive");
  need(std::isfinite(weight_decay) && weight_decay >= 0, "'weight_decay' must be >= 0");
  need(max_train_users >= 0, "'max_train_users' must be >= 0");
  need(!out.empty(), "an output checkpoint path is required");
  need(split >= 0, "'split' must be >= 0");
}

namespace {

// One training example: a rollout window plus the logged token after it; every position
// predicts the next token's song (boundaries are not targets).
struct Example {
  std::int32_t user;
  std::int32_t start, length;  // tokens [start, start + length), length >= 2
};

std::vector<Example> Examples(const data::TokenView& tokens, const std::vector<std::int32_t>& users,
                              std::uint64_t window_seed, std::int32_t max_context) {
  std::vector<Example> out;
  for (const std::int32_t u : users) {
    const auto n = static_cast<std::int32_t>(tokens.User(u).size());
    for (const auto& w : data::SampleWindows(n, data::WindowSpec::Rollout(), window_seed, "rollout", u)) {
      const std::int32_t end = std::min(n, w.start + w.length + 1);
      const std::int32_t start = std::max(w.start, end - (max_context + 1));
      if (end - start >= 2) out.push_back({u, start, end - start});
    }
  }
  return out;
}

// Songs each user played, sorted (negatives are drawn from the rest).
std::vector<std::vector<std::int32_t>> PlayedSongs(const data::TokenView& tokens) {
  std::vector<std::vector<std::int32_t>> played(static_cast<std::size_t>(tokens.num_users()));
  for (std::int32_t u = 0; u < tokens.num_users(); ++u) {
    for (const auto& t : tokens.User(u))
      if (!t.IsBoundary()) played[u].push_back(t.song);
    std::sort(played[u].begin(), played[u].end());
    played[u].erase(std::unique(played[u].begin(), played[u].end()), played[u].end());
  }
  return played;
}

struct BatchLoss {
  Tensor loss;          // InfoNCE over the batch's target positions
  std::int64_t targets = 0;
  Tensor last_pred;     // [B, D]: prediction after each example's second-to-last token
  std::vector<std::int32_t> last_song;  // the example's last token (-1: boundary)
};

BatchLoss Step(PolicyNet& net, const data::TokenView& tokens, const std::vector<Example>& ex,
               const std::vector<std::size_t>& idx, const std::vector<std::vector<std::int32_t>>& played,
               const Tensor& songs, const CopycatOptions& o, std::uint64_t negative_stream) {
  const std::int32_t n_songs = static_cast<std::int32_t>(songs.size(0) - 1);
  const auto b = static_cast<std::int64_t>(idx.size());
  std::vector<std::pair<const Token*, std::int64_t>> spans;
  for (const auto i : idx) spans.emplace_back(tokens.User(ex[i].user).data() + ex[i].start, ex[i].length - 1);
  const PolicyInputs in = MakePolicyInputs(spans, n_songs, o.model.max_context);
  const std::int64_t t = in.song.size(0);
  // Targets: position p predicts token p + 1 of the span.
  std::vector<std::int64_t> target(static_cast<std::size_t>(t * b), -1), negs;
  BatchLoss out;
  for (std::int64_t r = 0; r < b; ++r) {
    const Example& e = ex[idx[r]];
    const Token* tok = tokens.User(e.user).data() + e.start;
    for (std::int64_t p = 0; p < e.length - 1; ++p)
      if (!tok[p + 1].IsBoundary()) target[static_cast<std::size_t>(p * b + r)] = tok[p + 1].song;
    const Token& last = tok[e.length - 1];
    out.last_song.push_back(last.IsBoundary() ? -1 : last.song);
    // Unplayed songs of this user (rejection sampling; any other song if the user played them all).
    const auto& pl = played[e.user];
    Rng rng(negative_stream, "copycat-negatives", idx[r]);
    for (std::int32_t k = 0; k < o.negatives; ++k) {
      std::int32_t s = 0;
      for (int tries = 0; tries < 64; ++tries) {
        s = static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(n_songs)));
        if (!std::binary_search(pl.begin(), pl.end(), s)) break;
      }
      negs.push_back(s);
    }
  }
  const Tensor pred = net->forward(in, songs);                                            // [T,B,D]
  const Tensor unit = pred / pred.norm(2, -1, true).clamp_min(1e-8);
  const Tensor tgt = torch::tensor(target, torch::kLong).reshape({t, b});
  const Tensor valid = tgt.ge(0);
  out.targets = valid.sum().item<std::int64_t>();
  const Tensor neg_emb = songs.index_select(0, torch::tensor(negs, torch::kLong)).reshape({b, o.negatives, -1});
  const Tensor neg_sim = torch::bmm(unit.transpose(0, 1), neg_emb.transpose(1, 2)).transpose(0, 1);  // [T,B,K]
  const Tensor pos_sim = (unit * songs.index_select(0, tgt.clamp_min(0).reshape({-1})).reshape(unit.sizes())).sum(-1);
  out.loss = InfoNceOverValid(pos_sim, neg_sim, valid, o.model.tau);
  std::vector<std::int64_t> last(static_cast<std::size_t>(b));
  for (std::int64_t r = 0; r < b; ++r) last[r] = in.lengths[r] - 1;
  out.last_pred = pred.index({torch::tensor(last, torch::kLong), torch::arange(b, torch::kLong)});
  return out;
}

struct Snapshot {
  std::vector<Tensor> params;
};
Snapshot Take(PolicyNet& net) {
  Snapshot s;
  for (const auto& p : net->parameters()) s.params.push_back(p.detach().clone());
  return s;
}
void Restore(PolicyNet& net, const Snapshot& s) {
  torch::NoGradGuard g;
  auto ps = net->parameters();
  for (std::size_t i = 0; i < ps.size(); ++i) ps[i].copy_(s.params[i]);
}

std::string ResumeKey(const CopycatOptions& o, const std::string& fingerprint) {
  nlohmann::json j;
  j["model"] = nlohmann::json::parse(o.model.ToJson());
  j["split"] = o.split, j["window_seed"] = o.window_seed, j["seed"] = o.seed, j["epochs"] = o.epochs;
  j["batch"] = o.batch, j["negatives"] = o.negatives, j["lr"] = o.lr, j["weight_decay"] = o.weight_decay;
  j["max_train_users"] = o.max_train_users, j["dataset"] = fingerprint;
  return j.dump();
}

}  // namespace

TrainOutcome TrainCopycat(const data::Dataset& d, const CopycatOptions& o, std::ostream* progress) {
  o.Validate();
  const auto t0 = std::chrono::steady_clock::now();
  if (d.splits.empty()) throw InputError("copycat: the dataset has no MCCV splits (run `amrs split`)");
  if (o.split >= static_cast<std::int32_t>(d.splits.size()))
    throw ArgumentError("copycat: split " + std::to_string(o.split) + " does not exist (the dataset has " +
                        std::to_string(d.splits.size()) + ")");
  torch::manual_seed(0);  // nothing below draws from it; fixed in case a library op does
  const Catalogue cat = d.MakeCatalogue(o.model.family);
  const Tensor songs = UnitCatalogue(cat);
  const data::TokenView tokens(d);
  const auto played = PlayedSongs(tokens);
  const auto& split = d.splits[static_cast<std::size_t>(o.split)];
  auto train_users = data::Users(split, data::Part::kTrain);
  if (o.max_train_users > 0 && static_cast<std::int32_t>(train_users.size()) > o.max_train_users)
    train_users.resize(static_cast<std::size_t>(o.max_train_users));
  const auto train = Examples(tokens, train_users, o.window_seed, o.model.max_context);
  const auto val = Examples(tokens, data::Users(split, data::Part::kVal), o.window_seed, o.model.max_context);
  if (train.empty() || val.empty()) throw InputError("copycat: the split has no train or validation windows");

  PolicyNet net(o.model, cat.dim);
  net->Initialize(o.seed);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const std::string fp = data::Fingerprint(d);
  const std::string resume_path = o.out + ".resume";
  const std::string key = ResumeKey(o, fp);

  TrainOutcome result;
  PolicyInfo& info = result.info;
  info.kind = "copycat";
  info.config = o.model;
  info.dataset_fingerprint = fp;
  info.split_seed = d.split_seed;
  info.num_songs = cat.size(), info.song_dim = cat.dim, info.split = o.split;
  info.window_seed = o.window_seed, info.seed = o.seed, info.epochs = o.epochs;
  info.options = CopycatTrainingOptions(o);
  info.best_val_loss = std::numeric_limits<double>::infinity();
  Snapshot best;
  std::int32_t first_epoch = 1;
  if (o.resume && std::filesystem::exists(resume_path)) {
    worldmodel::CheckTorchZip(resume_path, "resume file (delete it to start over)");
    torch::serialize::InputArchive a;
    try {
      a.load_from(resume_path);
    } catch (const std::exception&) {
      throw InputError(resume_path + ": unreadable resume file (delete it to start over)");
    }
    c10::IValue k, state;
    if (a.try_read("key", k) && k.isString() && k.toStringRef() == key && a.try_read("state", state)) {
      const auto j = nlohmann::json::parse(state.toStringRef());
      first_epoch = j.at("epoch").get<std::int32_t>() + 1;
      info.best_epoch = j.at("best_epoch").get<std::int32_t>();
      info.best_val_loss = j.at("best_val_loss").get<double>();
      torch::NoGradGuard g;
      for (auto& p : net->named_parameters()) a.read("net__" + p.key(), p.value());
      for (const auto& p : net->named_parameters()) {
        Tensor t;
        a.read("best__" + p.key(), t);
        best.params.push_back(t);
      }
      torch::serialize::InputArchive oa;
      a.read("optimizer", oa);
      opt.load(oa);
      result.resumed = true;
      if (progress) *progress << "copycat seed " << o.seed << ": resuming after epoch " << first_epoch - 1 << "\n";
    } else if (progress) {
      *progress << "copycat seed " << o.seed << ": " << resume_path << " belongs to other options; starting over\n";
    }
  }

  // Data-parallel under a distributed launch (docs/distributed.md): each global batch's examples
  // i % size == rank run on this rank; the gradients of the summed InfoNCE terms are summed over
  // the ranks and divided by the global number of targets (the single-process batch mean);
  // validation batches are sharded and their sums reduced; rank 0 alone writes files.
  auto& comm = distributed::Current();
  const bool dp = comm.size() > 1;
  if (dp)
    distributed::CheckSame(comm, "copycat seed " + std::to_string(o.seed) + " start (options, dataset, resumed epoch, weights)",
                           key + " " + std::to_string(first_epoch) + " " + distributed::ParameterDigest(net->parameters()));
  const std::int32_t n_songs = cat.size();
  for (std::int32_t epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    net->train();
    std::vector<std::size_t> order(train.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    Rng shuffle(o.seed, "copycat-order", static_cast<std::uint64_t>(epoch));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.UniformInt(i)]);
    double loss_sum = 0;
    std::int64_t loss_n = 0, epoch_tokens = 0;
    for (std::size_t at = 0; at < order.size(); at += static_cast<std::size_t>(o.batch)) {
      const std::vector<std::size_t> idx(order.begin() + at,
                                         order.begin() + std::min(order.size(), at + static_cast<std::size_t>(o.batch)));
      if (dp) {
        const std::vector<std::size_t> mine = distributed::Owned(comm, idx);
        for (const auto i : mine) epoch_tokens += train[i].length - 1;
        opt.zero_grad();
        float local[2] = {0.f, 0.f};  // targets, summed loss
        if (!mine.empty()) {
          auto bl = Step(net, tokens, train, mine, played, songs, o, Mix64(o.seed * 1000003ULL + epoch));
          if (bl.targets > 0) {
            const Tensor sum = bl.loss * static_cast<double>(bl.targets);
            sum.backward();
            local[0] = static_cast<float>(bl.targets), local[1] = sum.item<float>();
          }
        }
        const auto g = distributed::AllReduceGradients(
            net->parameters(), {local[0], local[1]}, comm,
            "copycat seed " + std::to_string(o.seed) + " epoch " + std::to_string(epoch) + " batch " +
                std::to_string(at / static_cast<std::size_t>(o.batch) + 1) + ": gradients");
        if (g[0] == 0) continue;
        {
          torch::NoGradGuard ng;
          for (auto& p : net->parameters()) p.mutable_grad().div_(static_cast<double>(g[0]));
        }
        torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
        opt.step();
        loss_sum += g[1];
        loss_n += static_cast<std::int64_t>(g[0]);
        continue;
      }
      for (const auto i : idx) epoch_tokens += train[i].length - 1;
      auto bl = Step(net, tokens, train, idx, played, songs, o, Mix64(o.seed * 1000003ULL + epoch));
      if (bl.targets == 0) continue;
      opt.zero_grad();
      bl.loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
      opt.step();
      loss_sum += bl.loss.item<double>() * bl.targets;
      loss_n += bl.targets;
    }
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    // Validation: InfoNCE with fixed negatives, and Hit@10 of the logged song after each window
    // over the whole catalogue (the first rollout step's Level-3 target).
    net->eval();
    torch::NoGradGuard ng;
    double vsum = 0, hits = 0;
    std::int64_t vn = 0, hn = 0;
    for (std::size_t at = 0; at < val.size(); at += 64) {
      if (!distributed::Owns(comm, at / 64)) continue;  // sharded under a distributed launch
      std::vector<std::size_t> idx;
      for (std::size_t i = at; i < std::min(val.size(), at + 64); ++i) idx.push_back(i);
      auto bl = Step(net, tokens, val, idx, played, songs, o, Mix64(o.seed * 1000003ULL));
      vsum += bl.loss.item<double>() * bl.targets;
      vn += bl.targets;
      const Tensor top = std::get<1>(CatalogueLogits(bl.last_pred, songs, o.model.tau).topk(std::min(10, n_songs), 1));
      const auto acc = top.accessor<std::int64_t, 2>();
      for (std::size_t r = 0; r < idx.size(); ++r) {
        if (bl.last_song[r] < 0) continue;
        ++hn;
        for (std::int64_t j = 0; j < top.size(1); ++j)
          if (acc[static_cast<std::int64_t>(r)][j] == bl.last_song[r]) hits += 1;
      }
    }
    if (dp) {
      double sums[4] = {vsum, static_cast<double>(vn), hits, static_cast<double>(hn)};
      comm.AllReduceSum(sums, 4, "copycat seed " + std::to_string(o.seed) + " epoch " + std::to_string(epoch) + ": validation");
      vsum = sums[0], vn = static_cast<std::int64_t>(sums[1]), hits = sums[2], hn = static_cast<std::int64_t>(sums[3]);
    }
    EpochLog log;
    log.epoch = epoch;
    log.train_loss = loss_n ? loss_sum / loss_n : 0;
    log.val_loss = vn ? vsum / vn : 0;
    log.val_hit10 = hn ? hits / hn : 0;
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    log.train_tokens_per_second = train_seconds > 0 ? static_cast<double>(epoch_tokens) / train_seconds : 0;
    if (!std::isfinite(log.train_loss) || !std::isfinite(log.val_loss))
      throw std::runtime_error("copycat seed " + std::to_string(o.seed) + ": the loss became NaN at epoch " +
                               std::to_string(epoch) + " (try a smaller --lr)");
    if (log.val_loss < info.best_val_loss) {
      info.best_val_loss = log.val_loss;
      info.best_epoch = epoch;
      best = Take(net);
    }
    result.epochs.push_back(log);
    if (progress)
      *progress << "copycat seed " << o.seed << " epoch " << epoch << "/" << o.epochs << ": train InfoNCE "
                << std::fixed << std::setprecision(4) << log.train_loss << ", val InfoNCE " << log.val_loss
                << ", val Hit@10 (next song) " << std::setprecision(3) << log.val_hit10 << " ("
                << std::setprecision(1) << log.seconds << " s; training " << std::setprecision(0)
                << log.train_tokens_per_second << " tokens/s)" << std::endl;
    // Resume file after every epoch: current and best parameters, optimizer, progress.
    if (epoch < o.epochs) {
      torch::serialize::OutputArchive a;
      a.write("key", c10::IValue(key));
      nlohmann::json st;
      st["epoch"] = epoch, st["best_epoch"] = info.best_epoch, st["best_val_loss"] = info.best_val_loss;
      a.write("state", c10::IValue(st.dump()));
      const auto named = net->named_parameters();
      for (std::size_t i = 0; i < named.size(); ++i) {
        a.write("net__" + named[i].key(), named[i].value().detach());
        a.write("best__" + named[i].key(), best.params[i]);
      }
      torch::serialize::OutputArchive oa;
      opt.save(oa);
      a.write("optimizer", oa);
      if (comm.root()) worldmodel::SaveArchive(a, resume_path, "Copycat resume file");
      if (o.stop_after > 0 && epoch >= o.stop_after) {
        result.finished = false;
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return result;
      }
    }
  }
  Restore(net, best);
  if (comm.root()) {
    SavePolicy(o.out, info, net);
    std::error_code ec;
    std::filesystem::remove(resume_path, ec);
  }
  if (dp) comm.Barrier("copycat seed " + std::to_string(o.seed) + ": rank 0 writes " + o.out);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace amrs::agents
