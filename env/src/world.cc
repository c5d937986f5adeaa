#include "amrs/env/world.h"

#include <tbb/parallel_for.h>

#include <filesystem>
#include <mutex>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/data/oracle.h"
#include "amrs/worldmodel/pooled_mlp.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::env {
namespace {

// A world backed by a model with Encode/Append/Predict/ScoreCatalogue and its own State type
// (the learned world model, the pooled-MLP baseline).
template <class Model>
class ModelState : public WorldState {
 public:
  explicit ModelState(std::unique_ptr<typename Model::State> s) : s_(std::move(s)) {}
  std::int32_t size() const override { return s_->size(); }
  typename Model::State& get() const { return *s_; }

 private:
  std::unique_ptr<typename Model::State> s_;
};

template <class Model>
class ModelWorld : public World {
 public:
  ModelWorld(std::shared_ptr<const Model> m, std::string kind) : m_(std::move(m)), kind_(std::move(kind)) {}
  const Catalogue& catalogue() const override { return m_->catalogue(); }
  std::unique_ptr<WorldState> Encode(const std::vector<std::int32_t>& users,
                                     const std::vector<History>& hs) const override {
    if (users.size() != hs.size()) throw ArgumentError("world: users and histories differ in length");
    return std::make_unique<ModelState<Model>>(m_->Encode(hs));
  }
  void Append(WorldState& s, const std::vector<Token>& t) const override { m_->Append(As(s).get(), t); }
  std::vector<Feedback> Predict(const WorldState& s, const std::vector<std::int32_t>& songs) const override {
    return m_->Predict(As(s).get(), songs);
  }
  std::vector<Feedback> ScoreCatalogue(const WorldState& s) const override {
    return m_->ScoreCatalogue(As(s).get());
  }

 protected:
  const ModelState<Model>& As(const WorldState& s) const {
    const auto* p = dynamic_cast<const ModelState<Model>*>(&s);
    if (!p) throw ArgumentError("world: state was not made by this (" + kind_ + ") world");
    return *p;
  }
  std::shared_ptr<const Model> m_;
  std::string kind_;
};

class LearnedWorld : public ModelWorld<worldmodel::WorldModel> {
 public:
  explicit LearnedWorld(std::shared_ptr<const worldmodel::WorldModel> m) : ModelWorld(std::move(m), "learned") {}
  std::string Name() const override { return "learned:" + m_->info().config.Name(); }
  std::string Id() const override {
    const auto& i = m_->info();
    return "learned:" + i.config.ToJson() + "@" + i.dataset_fingerprint + "/split-" + std::to_string(i.split) +
           "/seed-" + std::to_string(i.seed);
  }
  double FlopsPerStep(std::int32_t len) const override {
    // Multiply-adds of one factorized step: input projection, per layer qkv/out/ff and attention
    // over the cache, then the head for one candidate (song part precomputed).
    const auto& c = m_->info().config;
    const double d = c.d_model, L = c.layers, T = len + 1;
    // Songs enter through precomputed projections (input and head), so they cost no work here.
    const double per_layer = 4 * d * d + 2 * d * c.ff + 2 * T * d;
    const double head = d * c.head_hidden + c.head_hidden * 4;
    const double models = m_->num_networks();
    return 2 * models * (14 * d + L * per_layer + head);
  }
  // The fused factorized head per (song, hidden unit): in each network an add and a relu, then a
  // multiply-add for each signal it computes (a skipped signal is not computed): 10 flops for one
  // network behind all four signals, 12 for two networks behind two each. It streams each
  // network's song projection (songs x hidden floats) once a row and writes one probability per
  // computed signal and song. Other configurations take the torch head (0: not reported).
  double FlopsPerCatalogueRow() const override {
    const auto& c = m_->info().config;
    if (c.arch != worldmodel::Arch::kFactorized || c.ablation.no_candidate_song) return 0;
    return 2.0 * num_songs() * c.head_hidden * (m_->num_networks() + ComputedSignals());
  }
  double BytesPerCatalogueRow() const override {
    const auto& c = m_->info().config;
    if (c.arch != worldmodel::Arch::kFactorized || c.ablation.no_candidate_song) return 0;
    return 4.0 * num_songs() * (c.head_hidden * m_->num_networks() + ComputedSignals());
  }

 private:
  int ComputedSignals() const {
    int n = 0;
    for (int s = 0; s < 4; ++s) n += m_->info().skipped(s) ? 0 : 1;
    return n;
  }
};

// The pooled-MLP baseline as a world (a baseline that beats the learned model, docs/own-data.md).
class PooledMlpWorld : public ModelWorld<worldmodel::PooledMlp> {
 public:
  explicit PooledMlpWorld(std::shared_ptr<const worldmodel::PooledMlp> m) : ModelWorld(std::move(m), "pooled-MLP") {}
  std::string Name() const override { return "learned:baseline-pooled-mlp"; }
  std::string Id() const override {
    const auto& i = m_->info();
    return "learned:baseline-pooled-mlp{hidden " + std::to_string(i.hidden) + ", components " +
           std::to_string(i.components) + ", family " + i.family + "}@" + i.dataset_fingerprint + "/split-" +
           std::to_string(i.split) + "/seed-" + std::to_string(i.seed);
  }
};

class OracleState : public WorldState {
 public:
  std::int32_t size() const override { return static_cast<std::int32_t>(states.size()); }
  std::vector<data::OracleState> states;
};

const OracleState& AsOracle(const WorldState& s) {
  const auto* p = dynamic_cast<const OracleState*>(&s);
  if (!p) throw ArgumentError("world: state was not made by this (oracle) world");
  return *p;
}

class OracleWorld : public World {
 public:
  OracleWorld(std::shared_ptr<const data::Dataset> d, const std::string& family)
      : d_(std::move(d)), oracle_(d_->oracle), catalogue_(d_->MakeCatalogue(family)) {}
  std::string Name() const override { return "oracle"; }
  std::string Id() const override { return "oracle@" + data::Fingerprint(*d_) + "/" + catalogue_.family; }
  const Catalogue& catalogue() const override { return catalogue_; }
  std::unique_ptr<WorldState> Encode(const std::vector<std::int32_t>& users,
                                     const std::vector<History>& hs) const override {
    if (users.size() != hs.size()) throw ArgumentError("world: users and histories differ in length");
    auto s = std::make_unique<OracleState>();
    for (std::size_t i = 0; i < hs.size(); ++i) {
      for (const auto& t : hs[i]) CheckToken(t);
      s->states.push_back(oracle_.Encode(users[i], hs[i]));
    }
    return s;
  }
  void Append(WorldState& s, const std::vector<Token>& tokens) const override {
    auto& st = const_cast<OracleState&>(AsOracle(s));
    if (tokens.size() != st.states.size())
      throw ArgumentError("world: Append got " + std::to_string(tokens.size()) + " tokens for " +
                          std::to_string(st.states.size()) + " histories");
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      CheckToken(tokens[i]);
      oracle_.Append(st.states[i], tokens[i]);
    }
  }
  std::vector<Feedback> Predict(const WorldState& s, const std::vector<std::int32_t>& songs) const override {
    const auto& st = AsOracle(s);
    if (songs.size() != st.states.size())
      throw ArgumentError("world: Predict got " + std::to_string(songs.size()) + " songs for " +
                          std::to_string(st.states.size()) + " histories");
    std::vector<Feedback> out(songs.size());
    for (std::size_t i = 0; i < songs.size(); ++i) out[i] = oracle_.Predict(st.states[i], songs[i]);
    return out;
  }
  std::vector<Feedback> ScoreCatalogue(const WorldState& s) const override {
    const auto& st = AsOracle(s);
    const std::int32_t n = num_songs();
    std::vector<Feedback> out(st.states.size() * static_cast<std::size_t>(n));
    // Rows are independent: spread over the TBB workers (the same numbers for any thread count).
    tbb::parallel_for(std::size_t{0}, st.states.size(), std::size_t{1}, [&](std::size_t i) {
      oracle_.PredictCatalogue(st.states[i], out.data() + i * static_cast<std::size_t>(n));
    });
    return out;
  }

 private:
  void CheckToken(const Token& t) const {
    if (!t.IsBoundary() && (t.song < 0 || t.song >= num_songs()))
      throw ArgumentError("world: song index " + std::to_string(t.song) + " is outside [0, " +
                          std::to_string(num_songs()) + ")");
  }
  std::shared_ptr<const data::Dataset> d_;
  data::Oracle oracle_;
  Catalogue catalogue_;
};

}  // namespace

std::shared_ptr<const World> MakeLearnedWorld(std::shared_ptr<const worldmodel::WorldModel> m) {
  if (!m) throw ArgumentError("world: no world model");
  return std::make_shared<LearnedWorld>(std::move(m));
}

std::shared_ptr<const World> MakePooledMlpWorld(std::shared_ptr<const worldmodel::PooledMlp> m) {
  if (!m) throw ArgumentError("world: no pooled MLP");
  return std::make_shared<PooledMlpWorld>(std::move(m));
}

std::shared_ptr<const World> MakeOracleWorld(std::shared_ptr<const data::Dataset> d, const std::string& family) {
  if (!d || !d->oracle)
    throw InputError("the oracle world needs a synthetic dataset (this dataset has no ground truth)");
  return std::make_shared<OracleWorld>(std::move(d), family);
}

std::vector<Feedback> World::PredictMany(const WorldState& state, const std::vector<std::int32_t>& songs,
                                        std::int32_t m) const {
  return PredictManyImpl(state, songs, m, nullptr);
}

std::vector<Feedback> World::PredictManySpread(const WorldState& state, const std::vector<std::int32_t>& songs,
                                              std::int32_t m, std::vector<Feedback>& sd) const {
  return PredictManyImpl(state, songs, m, &sd);
}

std::vector<Feedback> World::PredictManyImpl(const WorldState& state, const std::vector<std::int32_t>& songs,
                                            std::int32_t m, std::vector<Feedback>* sd) const {
  const std::int32_t rows = state.size();
  if (m < 1 || songs.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(m))
    throw ArgumentError("PredictMany: expected " + std::to_string(rows) + " rows x " + std::to_string(m) +
                        " candidates, got " + std::to_string(songs.size()) + " songs");
  std::vector<Feedback> out(songs.size());
  if (sd) sd->assign(songs.size(), Feedback{});
  std::vector<std::int32_t> column(static_cast<std::size_t>(rows));
  std::vector<Feedback> column_sd;
  for (std::int32_t j = 0; j < m; ++j) {
    for (std::int32_t r = 0; r < rows; ++r) column[r] = songs[static_cast<std::size_t>(r) * m + j];
    const auto f = sd ? PredictSpread(state, column, column_sd) : Predict(state, column);
    for (std::int32_t r = 0; r < rows; ++r) {
      out[static_cast<std::size_t>(r) * m + j] = f[r];
      if (sd) (*sd)[static_cast<std::size_t>(r) * m + j] = column_sd[r];
    }
  }
  return out;
}

namespace {

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The built-in kinds first; a function-local static, so no static-initialization order trouble.
std::vector<WorldKind>& KindList() {
  static std::vector<WorldKind> kinds = {
      {"oracle", "oracle | oracle:<family>",
       "the synthetic dataset's ground truth (synthetic data only); <family> names the catalogue embeddings "
       "agents see (default mert)",
       [](const std::string& spec) { return spec == "oracle" || spec.rfind("oracle:", 0) == 0; },
       [](const std::string& spec, std::shared_ptr<const data::Dataset> d) {
         return spec == "oracle" ? MakeOracleWorld(std::move(d)) : MakeOracleWorld(std::move(d), spec.substr(7));
       }},
      {"ensemble", "PATH.ensemble.json",
       "an ensemble of world models of one configuration (amrs train-world --members K writes "
       "<out>/<configuration>/split-<k>.ensemble.json): predicts the members' mean and knows their per-signal "
       "standard deviation (docs/ensembles.md)",
       [](const std::string& spec) { return EndsWith(spec, ".ensemble.json"); },
       [](const std::string& spec, std::shared_ptr<const data::Dataset> d) { return LoadEnsembleWorld(spec, std::move(d)); }},
      {"learned", "PATH.pt (or any existing file)",
       "a world-model checkpoint trained on this dataset (amrs train-world), or a pooled-MLP baseline "
       "checkpoint (baseline-pooled-mlp/split-<k>.pt of train-world or sweep-world); a signal a world model "
       "skipped (no usable training targets: its \"skipped_signals\") is predicted as a constant, the training "
       "mean (0.5 without any)",
       [](const std::string& spec) {
         std::error_code ec;
         return EndsWith(spec, ".pt") || std::filesystem::is_regular_file(spec, ec);
       },
       [](const std::string& spec, std::shared_ptr<const data::Dataset> d) {
         if (worldmodel::PooledMlp::IsCheckpoint(spec))
           return MakePooledMlpWorld(worldmodel::PooledMlp::Load(spec, *d));
         return MakeLearnedWorld(worldmodel::WorldModel::Load(spec, *d));
       }},
  };
  return kinds;
}

std::mutex& KindsMutex() {
  static std::mutex m;
  return m;
}

}  // namespace

bool WorldRegistry::Register(WorldKind kind) {
  if (kind.name.empty() || !kind.accepts || !kind.make) throw ArgumentError("world registry: empty name or function");
  std::lock_guard<std::mutex> lock(KindsMutex());
  for (const auto& k : KindList())
    if (k.name == kind.name) throw ArgumentError("world registry: '" + kind.name + "' is registered twice");
  KindList().push_back(std::move(kind));
  return true;
}

std::vector<WorldKind> WorldRegistry::Kinds() {
  std::lock_guard<std::mutex> lock(KindsMutex());
  return KindList();
}

std::shared_ptr<const World> WorldRegistry::Load(const std::string& spec, std::shared_ptr<const data::Dataset> d) {
  const auto kinds = Kinds();
  for (const auto& k : kinds)
    if (k.accepts(spec)) return k.make(spec, std::move(d));
  std::string list;
  for (const auto& k : kinds) list += (list.empty() ? "" : "; ") + k.name + ": " + k.spec;
  throw ArgumentError("unknown world '" + spec + "' (kinds: " + list + "; `amrs worlds` describes them)");
}

std::string DescribeWorlds() {
  std::ostringstream os;
  os << "worlds (--world SPEC):\n";
  for (const auto& k : WorldRegistry::Kinds()) os << "  " << k.name << ": " << k.spec << "\n      " << k.description << "\n";
  return os.str();
}

std::shared_ptr<const World> LoadWorld(const std::string& spec, std::shared_ptr<const data::Dataset> d) {
  return WorldRegistry::Load(spec, std::move(d));
}

}  // namespace amrs::env
