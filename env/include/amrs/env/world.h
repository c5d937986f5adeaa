// The World interface: what the env and the agents ask of a simulated listener population.
// Two implementations: the learned world model and the synthetic data's oracle (ground truth),
// so that any env, agent or metric runs on either (docs/env.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"

namespace amrs::worldmodel {
class WorldModel;
class PooledMlp;
}

namespace amrs::env {

// Per-episode world state for a batch of histories (KV caches for the learned model, affect
// state for the oracle). Not thread-safe; one per worker.
class WorldState {
 public:
  virtual ~WorldState() = default;
  virtual std::int32_t size() const = 0;
};

// Immutable; const methods are safe for concurrent use from several threads.
class World {
 public:
  virtual ~World() = default;
  virtual std::string Name() const = 0;  // "oracle" or "learned:<configuration>"
  virtual std::string Id() const = 0;    // identifies the exact world (for logs)
  // Songs and the content embeddings agents and diversity metrics use.
  virtual const Catalogue& catalogue() const = 0;
  std::int32_t num_songs() const { return catalogue().size(); }

  // users[i] is the dataset user index of histories[i] (the oracle needs it; the learned model
  // ignores it). Histories may be empty.
  virtual std::unique_ptr<WorldState> Encode(const std::vector<std::int32_t>& users,
                                             const std::vector<History>& histories) const = 0;
  virtual void Append(WorldState& state, const std::vector<Token>& tokens) const = 0;
  virtual std::vector<Feedback> Predict(const WorldState& state,
                                        const std::vector<std::int32_t>& songs) const = 0;
  // out[row * num_songs() + song]
  virtual std::vector<Feedback> ScoreCatalogue(const WorldState& state) const = 0;
  // Feedback of m candidate songs per row, without changing the state: songs[row * m + j] and
  // out[row * m + j]. One Predict per candidate column.
  std::vector<Feedback> PredictMany(const WorldState& state, const std::vector<std::int32_t>& songs,
                                    std::int32_t m) const;
  // Multiply-adds of one Append plus one Predict per row (0 if unknown), for benchmarks.
  virtual double FlopsPerStep(std::int32_t history_length) const { (void)history_length; return 0; }
  // Floating-point operations and bytes streamed to score the whole catalogue for one row
  // (ScoreCatalogue), 0 if unknown, for benchmarks.
  virtual double FlopsPerCatalogueRow() const { return 0; }
  virtual double BytesPerCatalogueRow() const { return 0; }

  // Where the world is unsure (docs/ensembles.md): the members of an ensemble (1 for a single
  // model or the oracle) and, with each prediction, the members' standard deviation per signal
  // (zeros for a single member). `sd` gets one Feedback per prediction, in the same order.
  virtual std::int32_t members() const { return 1; }
  virtual std::vector<Feedback> PredictSpread(const WorldState& state, const std::vector<std::int32_t>& songs,
                                              std::vector<Feedback>& sd) const;
  virtual std::vector<Feedback> ScoreCatalogueSpread(const WorldState& state, std::vector<Feedback>& sd) const;
  // PredictMany with the spread of each candidate (one PredictSpread per candidate column).
  std::vector<Feedback> PredictManySpread(const WorldState& state, const std::vector<std::int32_t>& songs,
                                          std::int32_t m, std::vector<Feedback>& sd) const;

 private:
  std::vector<Feedback> PredictManyImpl(const WorldState& state, const std::vector<std::int32_t>& songs,
                                        std::int32_t m, std::vector<Feedback>* sd) const;
};

std::shared_ptr<const World> MakeLearnedWorld(std::shared_ptr<const worldmodel::WorldModel> model);
// The pooled-MLP baseline as a world (Name "learned:baseline-pooled-mlp"). LoadWorld makes one
// for a pooled-MLP checkpoint path.
std::shared_ptr<const World> MakePooledMlpWorld(std::shared_ptr<const worldmodel::PooledMlp> model);
// The oracle of a synthetic dataset; `family` names the catalogue embeddings agents see.
// Throws InputError if the dataset has no oracle.
std::shared_ptr<const World> MakeOracleWorld(std::shared_ptr<const data::Dataset> dataset,
                                             const std::string& family = "mert");
// An ensemble of worlds of one configuration (members of `amrs train-world --members K`): predicts
// the members' mean, with their per-signal standard deviation (population SD over the K members)
// from PredictSpread / ScoreCatalogueSpread. Every call costs one call per member. The members
// must share the catalogue (ArgumentError otherwise); at least 2.
std::shared_ptr<const World> MakeEnsembleWorld(std::vector<std::shared_ptr<const World>> members);
// The ensemble a manifest names (`<split>.ensemble.json` of train-world --members): its member
// checkpoints, paths relative to the manifest's folder. InputError naming the manifest and the
// member on a missing or unreadable file, or members of different configurations, datasets or
// splits.
std::shared_ptr<const World> LoadEnsembleWorld(const std::string& manifest, std::shared_ptr<const data::Dataset> dataset);

// The world a --world spec names, through the WorldRegistry: "oracle" (optionally
// "oracle:<family>") or a world-model checkpoint path. An unknown spec throws ArgumentError
// listing the kinds.
std::shared_ptr<const World> LoadWorld(const std::string& spec,
                                       std::shared_ptr<const data::Dataset> dataset);

// A kind of world a spec can name (docs/adding-a-world.md).
struct WorldKind {
  std::string name;         // e.g. "oracle", "learned"
  std::string spec;         // the spec forms it accepts, for listings, e.g. "oracle | oracle:<family>"
  std::string description;  // one line
  std::function<bool(const std::string& spec)> accepts;
  std::function<std::shared_ptr<const World>(const std::string& spec, std::shared_ptr<const data::Dataset> dataset)>
      make;
};

class WorldRegistry {
 public:
  // Adds a kind (after the built-in oracle and learned kinds); returns true so it can initialize
  // a static. An empty name, a missing function or a duplicate name throws ArgumentError.
  static bool Register(WorldKind kind);
  static std::vector<WorldKind> Kinds();  // in registration order, built-ins first
  // The first kind that accepts `spec` makes the world; none: ArgumentError listing the kinds.
  static std::shared_ptr<const World> Load(const std::string& spec, std::shared_ptr<const data::Dataset> dataset);
};

// Every world kind with its spec forms and description (what `amrs worlds` prints).
std::string DescribeWorlds();

#define AMRS_WORLD_CONCAT_INNER(a, b) a##b
#define AMRS_WORLD_CONCAT(a, b) AMRS_WORLD_CONCAT_INNER(a, b)
// Registers a WorldKind at static-initialization time: AMRS_REGISTER_WORLD(WorldKind{...}).
#define AMRS_REGISTER_WORLD(...)                                                            \
  static const bool AMRS_WORLD_CONCAT(amrs_world_registered_, __LINE__) [[maybe_unused]] = \
      ::amrs::env::WorldRegistry::Register(__VA_ARGS__)

}  // namespace amrs::env
