#include "amrs/env/episode_log.h"

#include <algorithm>
#include <set>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "episode_block_h5.h"
#include "h5util.h"

namespace amrs::env {

namespace h5 = amrs::data::h5;

struct EpisodeLogWriter::Impl {
  std::string path;
  AtomicFile tmp;
  h5::File file;
  std::set<std::string> written;
  bool finalized = false;
  explicit Impl(const std::string& p) : path(p), tmp(p), file(h5::File::Create(tmp.temp())) {}
};

EpisodeLogWriter::EpisodeLogWriter(const std::string& path, const RunMetadata& m)
    : impl_(std::make_unique<Impl>(path)) {
  auto& f = impl_->file;
  f.WriteScalarAttr<std::int32_t>("/", "log_version", kLogVersion);
  f.WriteStringAttr("/", "created_by", "amrs-sim");
  f.Group("/meta");
  f.WriteStringAttr("/meta", "config", m.config);
  f.WriteStringAttr("/meta", "world", m.world);
  f.WriteStringAttr("/meta", "world_id", m.world_id);
  f.WriteStringAttr("/meta", "dataset_fingerprint", m.dataset_fingerprint);
  f.WriteStringAttr("/meta", "scenario", m.scenario);
  f.WriteStringAttr("/meta", "seed_scope", m.seed_scope);
  f.WriteStringAttr("/meta", "part", m.part);
  f.WriteStringAttr("/meta", "version", m.version);
  f.WriteStringAttr("/meta", "no_replay", m.no_replay);
  f.WriteScalarAttr<std::int32_t>("/meta", "split", m.split);
  f.WriteScalarAttr<std::int32_t>("/meta", "horizon", m.horizon);
  f.WriteScalarAttr<std::int32_t>("/meta", "topk", m.topk);
  f.WriteScalarAttr<float>("/meta", "utility_rating", m.utility.rating);
  f.WriteScalarAttr<float>("/meta", "utility_engagement", m.utility.engagement);
  f.WriteScalarAttr<float>("/meta", "utility_valence", m.utility.valence);
  f.WriteScalarAttr<float>("/meta", "utility_arousal", m.utility.arousal);
  if (m.utility.penalty != 0.f) f.WriteScalarAttr<float>("/meta", "utility_penalty", m.utility.penalty);
  f.Group("/runs");
}

EpisodeLogWriter::~EpisodeLogWriter() = default;

void EpisodeLogWriter::Write(const EpisodeBlock& b) {
  if (impl_->finalized) throw ArgumentError("episode log: already finalized");
  if (b.agent.empty() || b.agent.find('/') != std::string::npos)
    throw ArgumentError("episode log: invalid agent name '" + b.agent + "'");
  const std::string g = "/runs/" + b.agent + "/seed-" + std::to_string(b.seed);
  if (!impl_->written.insert(g).second) throw ArgumentError("episode log: " + g + " written twice");
  WriteEpisodeBlockH5(impl_->file, g, b);
}

void EpisodeLogWriter::Finalize() {
  if (impl_->finalized) return;
  impl_->file.Close();
  impl_->tmp.Commit();
  impl_->finalized = true;
}

EpisodeLog ReadEpisodeLog(const std::string& path) {
  auto f = h5::File::Open(path);
  if (!f.HasAttr("/", "log_version")) throw InputError(path + ": not an AMRS episode log (no log_version)");
  const auto v = f.ReadScalarAttr<std::int32_t>("/", "log_version");
  if (v != kLogVersion) throw InputError(path + ": unsupported log_version " + std::to_string(v));
  EpisodeLog log;
  auto& m = log.meta;
  m.config = f.ReadStringAttr("/meta", "config");
  m.world = f.ReadStringAttr("/meta", "world");
  m.world_id = f.ReadStringAttr("/meta", "world_id");
  m.dataset_fingerprint = f.ReadStringAttr("/meta", "dataset_fingerprint");
  m.scenario = f.ReadStringAttr("/meta", "scenario");
  if (f.HasAttr("/meta", "seed_scope")) m.seed_scope = f.ReadStringAttr("/meta", "seed_scope");  // older logs: "policy"
  m.part = f.ReadStringAttr("/meta", "part");
  m.version = f.ReadStringAttr("/meta", "version");
  if (f.HasAttr("/meta", "no_replay")) m.no_replay = f.ReadStringAttr("/meta", "no_replay");  // older logs: ""
  m.split = f.ReadScalarAttr<std::int32_t>("/meta", "split");
  m.horizon = f.ReadScalarAttr<std::int32_t>("/meta", "horizon");
  m.topk = f.ReadScalarAttr<std::int32_t>("/meta", "topk");
  m.utility.rating = f.ReadScalarAttr<float>("/meta", "utility_rating");
  m.utility.engagement = f.ReadScalarAttr<float>("/meta", "utility_engagement");
  m.utility.valence = f.ReadScalarAttr<float>("/meta", "utility_valence");
  m.utility.arousal = f.ReadScalarAttr<float>("/meta", "utility_arousal");
  if (f.HasAttr("/meta", "utility_penalty")) m.utility.penalty = f.ReadScalarAttr<float>("/meta", "utility_penalty");
  for (const auto& agent : f.Children("/runs"))
    for (const auto& seed : f.Children("/runs/" + agent)) {
      const std::string g = "/runs/" + agent + "/" + seed;
      EpisodeBlock b;
      b.agent = agent;
      b.seed = f.ReadScalarAttr<std::uint64_t>(g, "seed");
      b.horizon = m.horizon;
      b.topk = f.Exists(g + "/topk") ? m.topk : 0;
      b.episode_seed = f.Read<std::uint64_t>(g + "/episode_seed");
      b.user = f.Read<std::int32_t>(g + "/user");
      b.window_index = f.Read<std::int32_t>(g + "/window_index");
      b.window_start = f.Read<std::int32_t>(g + "/window_start");
      b.window_length = f.Read<std::int32_t>(g + "/window_length");
      const std::size_t E = b.user.size(), L = static_cast<std::size_t>(m.horizon);
      auto check = [&](const std::string& name, std::size_t n, std::size_t expect) {
        if (n != expect)
          throw InputError(path + ": " + g + "/" + name + " has " + std::to_string(n) + " values, expected " +
                           std::to_string(expect));
      };
      b.actions = f.Read<std::int32_t>(g + "/actions");
      check("actions", b.actions.size(), E * L);
      if (b.topk > 0) {
        b.ranked = f.Read<std::int32_t>(g + "/topk");
        check("topk", b.ranked.size(), E * L * static_cast<std::size_t>(b.topk));
      }
      for (auto [name, vec] : {std::pair{"engagement", &b.engagement}, {"rating", &b.rating}, {"valence", &b.valence},
                               {"arousal", &b.arousal}, {"reward", &b.reward}}) {
        *vec = f.Read<float>(g + "/" + name);
        check(name, vec->size(), E * L);
      }
      if (f.Exists(g + "/disagreement")) {  // ensemble worlds only (docs/ensembles.md)
        b.disagreement = f.Read<float>(g + "/disagreement");
        check("disagreement", b.disagreement.size(), E * L);
      }
      if (f.Exists(g + "/oracle_error")) {  // synthetic data under an ensemble world only
        b.oracle_error = f.Read<float>(g + "/oracle_error");
        check("oracle_error", b.oracle_error.size(), E * L);
      }
      if (f.Exists(g + "/oracle_feedback")) {
        b.oracle_feedback = f.Read<float>(g + "/oracle_feedback");
        check("oracle_feedback", b.oracle_feedback.size(), E * L * 4);
      }
      check("episode_seed", b.episode_seed.size(), E);
      log.blocks.push_back(std::move(b));
    }
  std::sort(log.blocks.begin(), log.blocks.end(), [](const EpisodeBlock& a, const EpisodeBlock& b) {
    return a.agent != b.agent ? a.agent < b.agent : a.seed < b.seed;
  });
  return log;
}

}  // namespace amrs::env
