#include "amrs/worldmodel/bench.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <unistd.h>

#include "amrs/core/error.h"
#include "amrs/data/tokens.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::worldmodel {
namespace {

double Ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

WorldBench RunWorldBench(const data::Dataset& d, const WorldBenchOptions& o) {
  if (o.batch < 1 || o.history < 1 || o.appends < 1) throw ArgumentError("bench: batch, history, appends must be >= 1");
  const auto model = o.checkpoint.empty() ? WorldModel::CreateUntrained(o.model, d, 0) : WorldModel::Load(o.checkpoint, d);
  const data::TokenView view(d);
  // Histories: the first `history` tokens of the longest users (repeated if too few).
  std::vector<History> hs;
  for (std::int32_t u = 0; u < view.num_users() && static_cast<std::int32_t>(hs.size()) < o.batch; ++u)
    if (static_cast<std::int32_t>(view.User(u).size()) >= o.history + o.appends + 1)
      hs.emplace_back(view.User(u).begin(), view.User(u).begin() + o.history);
  if (hs.empty()) throw InputError("bench: no user has " + std::to_string(o.history + o.appends + 1) + " tokens");
  while (static_cast<std::int32_t>(hs.size()) < o.batch) hs.push_back(hs[hs.size() % hs.size()]);
  WorldBench b;
  b.torch_threads = torch::get_num_threads();
  std::vector<Token> next(hs.size());
  for (std::size_t i = 0; i < hs.size(); ++i) next[i] = Token::Song(1, {0.9f, 1.f, 0.f, 0.f}, true, false, SessionMode::kCalm);
  // Cached append.
  auto state = model->Encode(hs);
  model->Append(*state, next);  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (std::int32_t i = 0; i < o.appends; ++i) model->Append(*state, next);
  b.append_ms = Ms(t0) / o.appends;
  // Full re-encode of history + 1 token.
  std::vector<History> longer = hs;
  for (std::size_t i = 0; i < longer.size(); ++i) longer[i].push_back(next[i]);
  model->Encode(longer);  // warm-up
  const int reps = 5;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) model->Encode(longer);
  b.reencode_ms = Ms(t0) / reps;
  b.speedup = b.reencode_ms / b.append_ms;
  // Whole-catalogue scoring.
  b.catalogue_songs = model->num_songs();
  auto one = model->Encode({hs[0]});
  model->ScoreCatalogue(*one);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) model->ScoreCatalogue(*one);
  b.catalogue_ms_b1 = Ms(t0) / reps;
  t0 = std::chrono::steady_clock::now();
  model->ScoreCatalogue(*state);
  b.catalogue_ms_per_history_b32 = Ms(t0) / static_cast<double>(hs.size());
  // Training throughput: one epoch on a subset of train users.
  TrainOptions t;
  t.model = o.checkpoint.empty() ? o.model : model->info().config;
  t.epochs = 1;
  t.max_train_users = o.train_users;
  t.resume = false;
  t.out = (std::filesystem::temp_directory_path() / ("amrs-bench-" + std::to_string(::getpid()) + ".pt")).string();
  const auto r = TrainWorldModel(d, t, nullptr);
  std::filesystem::remove(t.out);
  b.train_tokens_per_second = r.train_tokens_per_second;
  b.train_gflops = r.batch_seconds > 0 ? r.batch_flops / r.batch_seconds / 1e9 : 0;
  b.matmul_gflops = MatmulGflops();
  return b;
}

double MatmulGflops(std::int32_t n) {
  torch::NoGradGuard g;
  const auto a = torch::rand({n, n}), b = torch::rand({n, n});
  torch::mm(a, b);  // warm-up
  const int reps = 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * n * n * static_cast<double>(n) * reps / s / 1e9;
}

}  // namespace amrs::worldmodel
