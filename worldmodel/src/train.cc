#include "amrs/worldmodel/train.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/checks.h"
#include "amrs/data/splits.h"
#include "amrs/data/tokens.h"
#include "amrs/worldmodel/ensemble_manifest.h"
#include "amrs/distributed/gradients.h"
#include "archive.h"
#include "checkpoint.h"
#include "net.h"

namespace amrs::worldmodel {

using torch::Tensor;
using Span = std::pair<const Token*, int64_t>;

void TrainOptions::Validate() const {
  model.Validate();
  if (epochs < 1 || epochs > kMaxEpochs)
    throw ArgumentError("train-world: 'epochs' must be in [1, " + std::to_string(kMaxEpochs) + "]");
  if (batch_tokens < 64 || batch_tokens > kMaxBatchTokens)
    throw ArgumentError("train-world: 'batch-tokens' must be in [64, " + std::to_string(kMaxBatchTokens) + "]");
  if (max_train_users < 0) throw ArgumentError("train-world: 'max_train_users' must be >= 0");
  if (stop_after < 0) throw ArgumentError("train-world: 'stop_after' must be >= 0");
  if (patience < 0) throw ArgumentError("train-world: 'patience' must be >= 0");
  if (members < 1 || members > kMaxEnsembleMembers)
    throw ArgumentError("train-world: 'members' must be in [1, " + std::to_string(kMaxEnsembleMembers) + "]");
  if (member_jobs < 0 || member_jobs > kMaxEnsembleMembers)
    throw ArgumentError("train-world: 'member_jobs' must be in [0, " + std::to_string(kMaxEnsembleMembers) + "]");
  if (!(lr > 0.f) || !std::isfinite(lr)) throw ArgumentError("train-world: 'lr' must be positive");
  if (out.empty()) throw ArgumentError("train-world: an output checkpoint path is required");
  if (split < 0) throw ArgumentError("train-world: 'split' must be >= 0");
}

namespace {

// Groups spans of similar length into batches bounded in padded tokens and attention size.
std::vector<std::vector<Span>> MakeBatches(std::vector<Span> spans, int64_t batch_tokens, int heads) {
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.second < b.second; });
  std::vector<std::vector<Span>> out;
  std::vector<Span> cur;
  for (const auto& s : spans) {
    const int64_t t = std::max<int64_t>(1, s.second);
    const int64_t n = static_cast<int64_t>(cur.size()) + 1;
    if (!cur.empty() && (n * t > batch_tokens || n * (t + 1) * (t + 1) * heads > 40'000'000)) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    cur.push_back(s);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

struct SignalSums {
  double sum[kNumSignals] = {0, 0, 0, 0};
  double count[kNumSignals] = {0, 0, 0, 0};
  void Add(const Tensor& losses, const Tensor& counts) {
    for (int s = 0; s < kNumSignals; ++s) {
      const double c = counts[s].item<double>();
      sum[s] += losses[s].item<double>() * c;
      count[s] += c;
    }
  }
  double Mean(int s) const { return count[s] > 0 ? sum[s] / count[s] : std::numeric_limits<double>::quiet_NaN(); }
};

std::string Losses(const SignalSums& s) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  const char* names[kNumSignals] = {"eng", "rat", "val", "aro"};
  for (int i = 0; i < kNumSignals; ++i) {
    os << (i ? " " : "") << names[i] << " ";
    if (std::isfinite(s.Mean(i))) os << s.Mean(i);
    else os << "n/a";
  }
  return os.str();
}

// The whole histories of `users`, empty ones left out.
std::vector<Span> WholeHistories(const data::TokenView& view, const std::vector<std::int32_t>& users) {
  std::vector<Span> spans;
  for (auto u : users)
    if (!view.User(u).empty()) spans.emplace_back(view.User(u).data(), static_cast<int64_t>(view.User(u).size()));
  return spans;
}

// The prior offset's and the session term's inputs of a training run.
struct Offsets {
  Tensor offset;                  // PriorOffset, or undefined
  Tensor session_w;               // SongReduction::session_w, or undefined
  std::vector<float> song_means;  // SongMeans (with the session features)
  const std::vector<float>* means() const { return session_w.defined() ? &song_means : nullptr; }
};

SignalSums ValidationLoss(WorldNet& net, const std::vector<Span>& spans, const Tensor& cat, const Offsets& off,
                          const ModelConfig& cfg, std::int32_t n_songs) {
  torch::NoGradGuard g;
  net->eval();
  SignalSums s;
  for (const auto& batch : MakeBatches(spans, 16384, cfg.heads)) {
    const SequenceBatch b = MakeSequenceBatch(batch, cfg, n_songs, off.means());
    const auto [losses, counts] = MaskedLosses(ForwardBatch(net, b, cat, off.offset, off.session_w), b);
    s.Add(losses, counts);
  }
  return s;
}

std::vector<Tensor> CloneParams(WorldNet& net) {
  std::vector<Tensor> v;
  for (const auto& p : net->parameters()) v.push_back(p.detach().clone());
  return v;
}

void LoadParams(WorldNet& net, const std::vector<Tensor>& v) {
  torch::NoGradGuard g;
  auto ps = net->parameters();
  for (std::size_t i = 0; i < ps.size(); ++i) ps[i].copy_(v[i]);
}

struct ResumeState {
  int epoch = 0;
  std::array<double, kNumSignals> best_loss{};
  std::array<std::int32_t, kNumSignals> best_epoch{};
  std::int64_t train_tokens = 0;
  double seconds = 0;
};

std::string ResumeJson(const TrainOptions& o, const std::string& fp, const ResumeState& r) {
  nlohmann::json j;
  j["config"] = nlohmann::json::parse(o.model.ToJson());
  j["fingerprint"] = fp;
  j["split"] = o.split;
  j["seed"] = o.seed;
  j["epochs"] = o.epochs;
  j["batch_tokens"] = o.batch_tokens;
  j["lr"] = o.lr;
  j["weight_decay"] = o.weight_decay;
  j["max_train_users"] = o.max_train_users;
  j["patience"] = o.patience;
  j["epoch"] = r.epoch;
  j["best_loss"] = r.best_loss;
  j["best_epoch"] = r.best_epoch;
  j["train_tokens"] = r.train_tokens;
  j["seconds"] = r.seconds;
  return j.dump();
}

// Each signal's loss is divided by the variance of its training targets (the rating BCE by
// its Bernoulli entropy scale, p(1-p)) so that the sparse, low-variance affect targets are not
// drowned by engagement and rating: every term then reads as 1 - R^2 up to a constant. A signal
// that cannot be learned from the train users (data::UnusableReason: no ratings, ratings of one
// class, constant engagement, no affect reports) gets weight 0, a warning on `log`, and is
// recorded as skipped with its constant prediction (the training mean, 0.5 without targets).
struct SignalWeights {
  Tensor weights = torch::ones({kNumSignals});
  std::array<std::string, kNumSignals> skip_reason{};
  std::array<float, kNumSignals> skip_prediction{};
};

SignalWeights ComputeSignalWeights(const data::TokenView& view, const std::vector<std::int32_t>& users,
                                   std::int32_t split, std::ostream* log) {
  static_assert(data::kCheckedSignals == kNumSignals, "data checks and the world model disagree on the signals");
  SignalWeights w;
  const data::SignalCounts c = data::CountSignals(view, users);
  for (int s = 0; s < kNumSignals; ++s) {
    const std::string reason = data::UnusableReason(c, s);
    if (!reason.empty()) {
      w.weights[s] = 0.f;
      w.skip_reason[s] = reason + " in split " + std::to_string(split) + " (train users)";
      w.skip_prediction[s] = c.n[s] > 0 ? static_cast<float>(c.Mean(s)) : 0.5f;
      if (log)
        *log << "train-world: warning: skipping the " << kSignalNames[s] << " signal: " << w.skip_reason[s]
             << "; the model predicts the constant " << w.skip_prediction[s] << " for it\n";
      continue;
    }
    if (c.n[s] < 2) continue;
    w.weights[s] = static_cast<float>(s == 1 ? 1.0 : 0.25 / std::max(1e-4, c.Variance(s)));
  }
  return w;
}

}  // namespace

std::map<std::string, std::string> TrainingRecord(const TrainOptions& o) {
  auto exact = [](double v) {
    std::ostringstream os;
    os << std::setprecision(9) << v;  // a float's value, exactly enough to compare
    return os.str();
  };
  return {{"batch_tokens", std::to_string(o.batch_tokens)}, {"lr", exact(o.lr)},
          {"weight_decay", exact(o.weight_decay)},           {"grad_clip", exact(o.grad_clip)},
          {"max_train_users", std::to_string(o.max_train_users)}, {"patience", std::to_string(o.patience)}};
}

double TrainingBatchFlops(const ModelConfig& c, int song_in_dim, std::int64_t rows, std::int64_t tokens) {
  const double d = c.d_model, T = static_cast<double>(tokens), S = T + 1, B = static_cast<double>(rows);
  const double input = T * (song_in_dim + data::kSmallFeatures) * d;
  const double layer = S * (4 * d * d + 2 * d * c.ff) + 2 * S * S * d;
  const double head = T * (d * c.head_hidden + (c.arch == Arch::kFactorized ? song_in_dim * c.head_hidden : 0) +
                           c.head_hidden * 4.0);
  return 3 * 2 * B * (input + c.layers * layer + head);
}

TrainResult TrainWorldModel(const data::Dataset& d, const TrainOptions& o, std::ostream* log) {
  o.Validate();
  if (d.splits.empty()) throw InputError("dataset has no MCCV splits (run `amrs split`)");
  if (o.split >= static_cast<std::int32_t>(d.splits.size()))
    throw ArgumentError("split " + std::to_string(o.split) + " does not exist (the dataset has " +
                        std::to_string(d.splits.size()) + ")");
  const Catalogue catalogue = d.MakeCatalogue(o.model.family);
  const std::int32_t N = catalogue.size();
  const data::TokenView view(d);
  const auto& split = d.splits[static_cast<std::size_t>(o.split)];
  std::vector<std::int32_t> train_users = split.train;
  if (o.max_train_users > 0 && static_cast<std::int32_t>(train_users.size()) > o.max_train_users)
    train_users.resize(static_cast<std::size_t>(o.max_train_users));
  SongReduction reduction = FitReduction(catalogue, o.model.song_components);
  // The song prior sees the users trained on, never the validation or test users.
  if (o.model.song_prior) reduction.prior = ComputeSongPrior(view, train_users, N, o.model.song_prior_k);
  const Tensor cat = SongInputs(catalogue, reduction);
  Offsets offset;
  if (o.model.prior_offset) offset.offset = PriorOffset(reduction);
  if (o.model.session_features) {  // fitted on the train users' whole histories, before the network
    const auto tf = std::chrono::steady_clock::now();
    reduction.session_w = FitSessionWeights(WholeHistories(view, train_users), o.model, N, reduction);
    const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - tf).count();
    offset.session_w = reduction.session_w;
    offset.song_means = SongMeans(reduction.prior);
    if (log) {
      *log << "  session features (position, recent plays, user residual, constant) per signal:";
      const auto w = reduction.session_w.accessor<float, 2>();
      for (int s = 0; s < kNumSignals; ++s) {
        *log << " " << kSignalNames[s];
        for (int k = 0; k < kSessionWeights; ++k) *log << (k ? "," : " ") << std::setprecision(3) << w[s][k];
      }
      *log << std::setprecision(2) << " (fitted in " << fit_s << " s)" << std::setprecision(6) << "\n";
    }
  }
  const int in_dim = SongInputDim(catalogue, o.model);
  const std::vector<Span> val_spans = WholeHistories(view, split.val);
  const std::string fp = data::Fingerprint(d);

  WorldNet net(o.model, in_dim);
  net->Initialize(o.seed);
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  net->SetGenerator(gen);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  // Data-parallel under a distributed launch (docs/distributed.md): every rank builds the same
  // batches, takes the sequences i % size == rank of each, and the gradients are summed over the
  // ranks (each rank's loss is its share of the global per-token mean) before every step; the
  // validation is sharded and summed; rank 0 alone writes the resume file and the checkpoint.
  auto& comm = distributed::Current();
  const bool dp = comm.size() > 1;
  if (dp) distributed::CheckSame(comm, "train-world options and dataset", ResumeJson(o, fp, ResumeState{}));
  auto validate = [&] {
    if (!dp) return ValidationLoss(net, val_spans, cat, offset, o.model, N);
    SignalSums v = ValidationLoss(net, distributed::Owned(comm, val_spans), cat, offset, o.model, N);
    double buf[2 * kNumSignals];
    for (int s = 0; s < kNumSignals; ++s) buf[s] = v.sum[s], buf[kNumSignals + s] = v.count[s];
    comm.AllReduceSum(buf, 2 * kNumSignals, "train-world split " + std::to_string(o.split) + ": validation");
    for (int s = 0; s < kNumSignals; ++s) v.sum[s] = buf[s], v.count[s] = buf[kNumSignals + s];
    return v;
  };
  const SignalWeights sw = ComputeSignalWeights(view, train_users, o.split, comm.root() ? log : nullptr);
  const Tensor& weights = sw.weights;

  ResumeState rs;
  rs.best_loss.fill(std::numeric_limits<double>::infinity());
  std::array<std::vector<Tensor>, kNumSignals> best;
  const std::string resume_path = o.out + ".resume";
  TrainResult result;
  if (o.resume && std::filesystem::exists(resume_path)) {
    worldmodel::CheckTorchZip(resume_path, "resume file (delete it to start over)");
    torch::serialize::InputArchive a;
    try {
      a.load_from(resume_path);
    } catch (const std::exception&) {
      throw InputError(resume_path + ": unreadable resume file (delete it to start over)");
    }
    c10::IValue meta;
    a.read("meta", meta);
    const auto j = nlohmann::json::parse(meta.toStringRef());
    const auto expect = nlohmann::json::parse(ResumeJson(o, fp, rs));
    for (const char* k : {"config", "fingerprint", "split", "seed", "epochs", "batch_tokens", "lr", "weight_decay", "max_train_users"})
      if (j.at(k) != expect.at(k))
        throw InputError(resume_path + ": was started with a different '" + k + "' (" + j.at(k).dump() +
                         " vs " + expect.at(k).dump() + "); delete it or use --no-resume");
    if (j.value("patience", 0) != o.patience)
      throw InputError(resume_path + ": was started with a different 'patience'; delete it or use --no-resume");
    rs.epoch = j.at("epoch").get<int>();
    rs.best_loss = j.at("best_loss").get<std::array<double, kNumSignals>>();
    rs.best_epoch = j.at("best_epoch").get<std::array<std::int32_t, kNumSignals>>();
    rs.train_tokens = j.at("train_tokens").get<std::int64_t>();
    rs.seconds = j.at("seconds").get<double>();
    ReadParams(a, "current", *net, resume_path);
    for (int s = 0; s < kNumSignals; ++s) {
      WorldNet tmp(o.model, in_dim);
      ReadParams(a, std::string("best_") + kSignalNames[s], *tmp, resume_path);
      best[s] = CloneParams(tmp);
    }
    torch::serialize::InputArchive oa;
    a.read("optimizer", oa);
    opt.load(oa);
    result.resumed = true;
    if (log) *log << "resuming from " << resume_path << " after epoch " << rs.epoch << "\n";
  }

  if (dp)
    distributed::CheckSame(comm, "train-world start (resumed epoch, initial weights)",
                           std::to_string(rs.epoch) + " " + distributed::ParameterDigest(net->parameters()));
  const auto& cfg = o.model;
  // With the prior offset the initial network is the per-song mean (its output layer starts at
  // zero): each signal's best until an epoch beats it on validation (best epoch 0).
  if (cfg.prior_offset && rs.epoch == 0) {
    const SignalSums val = validate();
    for (int s = 0; s < kNumSignals; ++s)
      if (std::isfinite(val.Mean(s))) {
        best[s] = CloneParams(net);
        rs.best_loss[s] = val.Mean(s);
      }
    if (log)
      *log << (cfg.session_features ? "  epoch 0 (the per-song mean and session features)  val "
                                    : "  epoch 0 (the per-song mean)  val ")
           << Losses(val) << "\n";
  }
  // Early stopping: no signal improved since this many epochs (derived from the best epochs, so
  // that a resumed run stops where an uninterrupted one would).
  auto patience_spent = [&] {
    return o.patience > 0 && rs.epoch > 0 && rs.epoch - *std::max_element(rs.best_epoch.begin(), rs.best_epoch.end()) >= o.patience;
  };
  std::int64_t steps = 0;
  std::uint64_t step_bytes = 0;  // all-reduced inside optimizer steps
  double batch_flops = 0, batch_seconds = 0;  // single-process training batches of this run
  for (int epoch = rs.epoch + 1; epoch <= o.epochs && !patience_spent(); ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    gen.set_current_seed(Mix64(o.seed ^ (0x5eedULL + static_cast<std::uint64_t>(epoch))));
    std::vector<Span> spans;
    const std::string purpose = "world-train/epoch-" + std::to_string(epoch);
    for (auto u : train_users) {
      const History& h = view.User(u);
      for (const auto& w : data::SampleWindows(static_cast<std::int32_t>(h.size()), data::WindowSpec::WorldModel(),
                                               o.seed, purpose, u))
        if (w.length > 0) spans.emplace_back(h.data() + w.start, w.length);
    }
    auto batches = MakeBatches(spans, o.batch_tokens, cfg.heads);
    Rng order(o.seed, "world-train/batch-order", static_cast<std::uint64_t>(epoch));
    for (std::size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[order.UniformInt(i)]);

    net->train();
    SignalSums train_sums;
    std::int64_t epoch_tokens = 0;
    for (std::size_t bi = 0; bi < batches.size(); ++bi) {
      if (dp) {
        const std::vector<Span> mine = distributed::Owned(comm, batches[bi]);
        const std::string phase = "train-world split " + std::to_string(o.split) + " epoch " + std::to_string(epoch) +
                                  " batch " + std::to_string(bi + 1);
        Tensor losses = torch::zeros({kNumSignals}), counts = torch::zeros({kNumSignals});
        SequenceBatch b;
        if (!mine.empty()) {
          b = MakeSequenceBatch(mine, cfg, N, offset.means());
          std::tie(losses, counts) = MaskedLosses(ForwardBatch(net, b, cat, offset.offset, offset.session_w), b);
        }
        const std::uint64_t bytes_before = comm.bytes_reduced();
        double total[kNumSignals];
        for (int s = 0; s < kNumSignals; ++s) total[s] = counts[s].item<double>();
        comm.AllReduceSum(total, kNumSignals, phase + ": token counts");
        // This rank's share of the global per-token mean of each signal.
        const Tensor share = counts.to(torch::kFloat) /
                             torch::tensor(std::vector<float>(total, total + kNumSignals)).clamp_min(1.0f);
        const Tensor loss = (losses * share * weights).sum();
        opt.zero_grad();
        if (!mine.empty()) loss.backward();
        const auto global = distributed::AllReduceGradients(net->parameters(), {loss.item<float>()}, comm,
                                                            phase + ": gradients");
        if (!std::isfinite(global[0]))
          throw Error("train-world: loss became non-finite at epoch " + std::to_string(epoch) + " (try a smaller --lr)");
        step_bytes += comm.bytes_reduced() - bytes_before, ++steps;
        torch::nn::utils::clip_grad_norm_(net->parameters(), o.grad_clip);
        opt.step();
        if (!mine.empty()) train_sums.Add(losses.detach(), counts);
        for (auto l : b.lengths) epoch_tokens += l;
      } else {
      const auto tb = std::chrono::steady_clock::now();
      const SequenceBatch b = MakeSequenceBatch(batches[bi], cfg, N, offset.means());
      const auto [losses, counts] = MaskedLosses(ForwardBatch(net, b, cat, offset.offset, offset.session_w), b);
      const Tensor loss = (losses * weights).sum();
      if (!std::isfinite(loss.item<double>()))
        throw Error("train-world: loss became non-finite at epoch " + std::to_string(epoch) +
                    " (try a smaller --lr)");
      opt.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), o.grad_clip);
      opt.step();
      train_sums.Add(losses.detach(), counts);
      for (auto l : b.lengths) epoch_tokens += l;
      batch_flops += TrainingBatchFlops(cfg, in_dim, b.inputs.song.size(0), b.inputs.song.size(1));
      batch_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - tb).count();
      }
      if (log && o.progress_bar && (bi % 8 == 0 || bi + 1 == batches.size())) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
        const int width = 24, done = static_cast<int>(width * (bi + 1) / batches.size());
        *log << "\r  epoch " << epoch << "/" << o.epochs << " [" << std::string(done, '=')
             << std::string(width - done, ' ') << "] " << std::setw(3) << (100 * (bi + 1) / batches.size())
             << "%  " << Losses(train_sums) << "  " << static_cast<int>(epoch_tokens / std::max(el, 1e-9))
             << " tok/s   " << std::flush;
      }
    }
    if (dp) {  // the epoch's training losses and tokens over every rank (for the log)
      double buf[2 * kNumSignals + 1];
      for (int s = 0; s < kNumSignals; ++s) buf[s] = train_sums.sum[s], buf[kNumSignals + s] = train_sums.count[s];
      buf[2 * kNumSignals] = static_cast<double>(epoch_tokens);
      comm.AllReduceSum(buf, 2 * kNumSignals + 1, "train-world split " + std::to_string(o.split) + " epoch " +
                                                      std::to_string(epoch) + ": training losses");
      for (int s = 0; s < kNumSignals; ++s) train_sums.sum[s] = buf[s], train_sums.count[s] = buf[kNumSignals + s];
      epoch_tokens = static_cast<std::int64_t>(buf[2 * kNumSignals]);
    }
    rs.train_tokens += epoch_tokens;
    const SignalSums val = validate();
    std::string improved;
    for (int s = 0; s < kNumSignals; ++s) {
      const double v = val.Mean(s);
      if (std::isfinite(v) && v < rs.best_loss[s]) {
        rs.best_loss[s] = v;
        rs.best_epoch[s] = epoch;
        best[s] = CloneParams(net);
        improved += std::string(improved.empty() ? "" : ",") + kSignalNames[s];
      } else if (best[s].empty()) {
        best[s] = CloneParams(net);
        rs.best_epoch[s] = epoch;
      }
    }
    rs.epoch = epoch;
    rs.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    if (log)
      *log << (o.progress_bar ? "\r" : "") << "  epoch " << epoch << "/" << o.epochs << "  train " << Losses(train_sums) << " | val "
           << Losses(val) << (improved.empty() ? "" : " | best: " + improved) << std::string(8, ' ') << "\n";
    if (log && patience_spent())
      *log << "  early stopping after epoch " << epoch << ": no validation loss improved for " << o.patience
           << " epochs (each signal keeps its best epoch)\n";

    // Resume point: current weights, optimizer, per-signal bests (written atomically, by rank 0).
    if (comm.root()) {
      torch::serialize::OutputArchive a;
      a.write("meta", c10::IValue(ResumeJson(o, fp, rs)));
      WriteParams(a, "current", *net);
      for (int s = 0; s < kNumSignals; ++s) {
        WorldNet tmp(o.model, in_dim);
        LoadParams(tmp, best[s]);
        WriteParams(a, std::string("best_") + kSignalNames[s], *tmp);
      }
      torch::serialize::OutputArchive oa;
      opt.save(oa);
      a.write("optimizer", oa);
      SaveArchive(a, resume_path, "resume file");
    }
    if (o.stop_after > 0 && epoch >= o.stop_after && epoch < o.epochs) {
      result.finished = false;
      result.train_tokens = rs.train_tokens;
      result.seconds = rs.seconds;
      if (log) *log << "  stopped after epoch " << epoch << "; rerun to resume from " << resume_path << "\n";
      return result;
    }
  }

  CheckpointInfo info;
  info.config = o.model;
  info.dataset_fingerprint = fp;
  info.split_seed = d.split_seed;
  info.split = o.split;
  info.song_dim = catalogue.dim;
  info.num_songs = N;
  info.epochs = o.epochs;
  info.seed = o.seed;
  info.best_epoch = rs.best_epoch;
  info.best_val_loss = rs.best_loss;
  info.skip_reason = sw.skip_reason;
  info.skip_prediction = sw.skip_prediction;
  info.training = TrainingRecord(o);
  for (int s = 0; s < kNumSignals; ++s)
    if (info.skipped(s) || !std::isfinite(info.best_val_loss[s])) info.best_val_loss[s] = std::numeric_limits<double>::quiet_NaN();
  std::array<WorldNet, kNumSignals> nets{WorldNet(nullptr), WorldNet(nullptr), WorldNet(nullptr), WorldNet(nullptr)};
  for (int s = 0; s < kNumSignals; ++s) {
    nets[s] = WorldNet(o.model, in_dim);
    LoadParams(nets[s], best[s]);
  }
  if (comm.root()) {
    SaveCheckpoint(o.out, info, nets, reduction);
    std::filesystem::remove(resume_path);
  }
  if (dp) comm.Barrier("train-world split " + std::to_string(o.split) + ": rank 0 writes " + o.out);
  result.info = info;
  result.epochs_run = rs.epoch;
  result.train_tokens = rs.train_tokens;
  result.seconds = rs.seconds;
  result.train_tokens_per_second = rs.train_tokens / std::max(rs.seconds, 1e-9);
  result.batch_flops = batch_flops;
  result.batch_seconds = batch_seconds;
  result.ranks = comm.size();
  result.reduced_steps = steps;
  result.reduced_bytes_per_step = steps > 0 ? static_cast<double>(step_bytes) / static_cast<double>(steps) : 0.0;
  return result;
}

metrics::SignalScores Evaluate(const WorldModel& m, const data::Dataset& d,
                               const std::vector<std::int32_t>& users) {
  const data::UserIndex index(d);
  std::vector<History> hs;
  for (auto u : users) hs.push_back(data::UserHistory(d, index, u));
  return metrics::ScoreFeedback(hs, m.PredictSequences(hs));
}

}  // namespace amrs::worldmodel
