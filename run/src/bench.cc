#include "amrs/run/bench.h"

#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>

#include "amrs/agents/agent.h"
#include "amrs/data/oracle.h"
#include "amrs/env/env.h"
#include "amrs/worldmodel/bench.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::run {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

EnvBench TimeEnv(std::shared_ptr<const env::EnvContext> ctx, const std::string& agent, std::int32_t batch,
                 double min_seconds) {
  agents::AgentContext ac{ctx, {}, 0};
  auto policy = agents::AgentRegistry::Create(agent, ac);
  env::VectorEnv v(ctx, batch);
  EnvBench b;
  double t_steps = 0;
  std::int64_t steps = 0, hist = 0, hist_n = 0;
  const double start = Now();
  std::uint64_t seed = 1;
  while (Now() - start < min_seconds || steps == 0) {
    v.Reset(seed);
    policy->Reset(seed);
    seed += static_cast<std::uint64_t>(batch);
    for (std::int32_t t = 0; t < ctx->config().horizon; ++t) {
      const auto obs = v.Batch();
      for (const auto& o : obs.obs) hist += static_cast<std::int64_t>(o.history->size()), ++hist_n;
      const double t0 = Now();
      const auto a = policy->Act(obs, 0).actions;
      v.Step(a);
      t_steps += Now() - t0;
      steps += batch;
    }
  }
  b.steps_per_second = steps / t_steps;
  b.mean_history = hist_n ? static_cast<double>(hist) / hist_n : 0;
  return b;
}

double ReencodeStepsPerSecond(std::shared_ptr<const env::EnvContext> ctx, std::int32_t batch, bool batched,
                              double min_seconds) {
  const auto& world = ctx->world();
  env::VectorEnv v(ctx, batch);
  std::int64_t steps = 0;
  double t = 0;
  std::uint64_t seed = 1;
  const double start = Now();
  while (Now() - start < min_seconds || steps == 0) {
    const auto first = v.Reset(seed);
    seed += static_cast<std::uint64_t>(batch);
    std::vector<History> hs;
    std::vector<std::int32_t> users, songs(static_cast<std::size_t>(batch));
    for (const auto& [o, info] : first) hs.push_back(*o.history), users.push_back(o.user);
    for (std::int32_t s = 0; s < ctx->config().horizon; ++s) {
      const double t0 = Now();
      for (std::int32_t i = 0; i < batch; ++i) songs[i] = (i * 7 + s) % world.num_songs();
      std::vector<Feedback> fb(static_cast<std::size_t>(batch));
      if (batched) {
        fb = world.Predict(*world.Encode(users, hs), songs);
      } else {
        for (std::int32_t i = 0; i < batch; ++i) fb[i] = world.Predict(*world.Encode({users[i]}, {hs[i]}), {songs[i]})[0];
      }
      for (std::int32_t i = 0; i < batch; ++i)
        hs[i].push_back(Token::Song(songs[i], fb[i], false, false, hs[i].empty() ? SessionMode::kNone : hs[i].back().mode));
      t += Now() - t0;
      steps += batch;
    }
  }
  return steps / t;
}

namespace {

// Sequential read of a 256 MiB array, one thread, best of three (GB/s).
double MemoryReadGbs() {
  std::vector<float> a(std::size_t{64} << 20, 1.f);
  double best = 0, sink = 0;
  for (int r = 0; r < 3; ++r) {
    const double t0 = Now();
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (std::size_t i = 0; i < a.size(); i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
    const double t = Now() - t0;
    sink += s0 + s1 + s2 + s3;
    best = std::max(best, static_cast<double>(a.size() * sizeof(float)) / t / 1e9);
  }
  volatile double keep = sink;
  (void)keep;
  return best;
}

// ScoreCatalogue rows per second on one thread: 64 test-user windows, repeated for min_seconds.
CatalogueBench TimeCatalogue(std::shared_ptr<const env::EnvContext> ctx, const std::string& name,
                             double min_seconds) {
  const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  const auto& world = ctx->world();
  std::vector<std::int32_t> users;
  std::vector<History> hs;
  for (auto u : ctx->Users(data::Part::kTest)) {
    if (ctx->Windows(u).empty()) continue;
    const auto& w = ctx->Windows(u).front();
    const auto& h = ctx->UserHistory(u);
    users.push_back(u);
    hs.emplace_back(h.begin() + w.start, h.begin() + w.start + w.length);
    if (users.size() == 64) break;
  }
  CatalogueBench b;
  b.world = name;
  if (users.empty()) return b;  // nothing to time
  const auto state = world.Encode(users, hs);
  world.ScoreCatalogue(*state);  // warm-up
  std::int64_t rows = 0;
  const double t0 = Now();
  double t = 0;
  do {
    world.ScoreCatalogue(*state);
    rows += static_cast<std::int64_t>(users.size());
    t = Now() - t0;
  } while (t < min_seconds);
  b.rows_per_second = static_cast<double>(rows) / t;
  b.flops_per_row = world.FlopsPerCatalogueRow();
  b.bytes_per_row = world.BytesPerCatalogueRow();
  return b;
}

}  // namespace

EnvBenchReport RunEnvBench(std::shared_ptr<const data::Dataset> d, std::shared_ptr<const env::World> learned,
                           std::shared_ptr<const env::World> oracle, double min_seconds) {
  EnvBenchReport r;
  for (const auto& [wname, w] : {std::pair{"learned", learned}, std::pair{"oracle", oracle}}) {
    if (!w) continue;
    const auto ctx = env::EnvContext::Create(d, w);
    for (const char* agent : {"random", "greedy"})
      for (std::int32_t batch : {1, 256}) {
        const auto b = TimeEnv(ctx, agent, batch, min_seconds);
        r.rows.push_back({wname, agent, batch, b.steps_per_second});
        if (std::string(wname) == "learned" && std::string(agent) == "random" && batch == 256)
          r.cached_steps_per_second = b.steps_per_second, r.mean_history = b.mean_history;
      }
  }
  r.memory_read_gbs = MemoryReadGbs();
  for (const auto& [wname, w] : {std::pair{"learned", learned}, std::pair{"oracle", oracle}}) {
    if (!w) continue;
    auto b = TimeCatalogue(env::EnvContext::Create(d, w), wname, min_seconds);
    if (std::string(wname) == "oracle") b.bound_rows_per_second = 1.0 / data::OracleTranscendentalSeconds(w->num_songs());
    r.catalogue.push_back(b);
  }
  if (!learned) return r;
  r.learned = true;
  const auto ctx = env::EnvContext::Create(d, learned);
  r.flops_per_step = learned->FlopsPerStep(static_cast<std::int32_t>(r.mean_history));
  r.achieved_gflops = r.flops_per_step * r.cached_steps_per_second / 1e9;
  r.matmul_gflops = worldmodel::MatmulGflops(1024);
  r.torch_threads = worldmodel::TorchThreads();
  r.naive_steps_per_second = ReencodeStepsPerSecond(ctx, 256, false, min_seconds);
  r.batched_reencode_steps_per_second = ReencodeStepsPerSecond(ctx, 256, true, min_seconds);
  return r;
}

}  // namespace amrs::run
