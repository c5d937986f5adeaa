// The logged-listening dataset (docs/data-format.md): catalogue with named embedding families,
// users, sessions and interactions, plus optional MCCV splits and, for synthetic data, the
// generator's ground-truth parameters. In memory, references are indices (user, session, song);
// on disk they are ids, so any platform can write the file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amrs/core/types.h"

namespace amrs::data {

constexpr int kSchemaVersion = 1;

// One embedding family (e.g. "mert"): num_songs x dim float32, row-major.
struct EmbeddingFamily {
  std::string name;
  std::int32_t dim = 0;
  std::vector<float> values;
};

// One Monte Carlo cross-validation split by user (indices into Dataset::user_ids).
struct Split {
  std::vector<std::int32_t> train, val, test;
};

struct OracleParams;  // data/oracle.h

struct Sessions {
  std::vector<std::int64_t> id;
  std::vector<std::int32_t> user;   // index into Dataset::user_ids
  std::vector<std::int32_t> order;  // strictly increasing within a user
  std::vector<float> pre_valence, pre_arousal;    // [0, 1], always present
  std::vector<float> post_valence, post_arousal;  // [0, 1] where has_post, else 0
  std::vector<std::uint8_t> has_post;
  std::vector<std::int8_t> mode;  // SessionMode as int8 (-1 = none)
  std::size_t size() const { return id.size(); }
};

struct Interactions {
  std::vector<std::int32_t> user;      // index into Dataset::user_ids
  std::vector<std::int32_t> session;   // index into Sessions
  std::vector<std::int32_t> position;  // strictly increasing within a session
  std::vector<std::int32_t> song;      // index into Dataset::song_ids
  std::vector<float> engagement;       // [0, 1]
  std::vector<std::int8_t> rating;     // 0 or 1 where has_rating, else 0
  std::vector<std::uint8_t> has_rating;
  // Optional per-song affect: a valence/arousal report given right after the song. Either all
  // three are empty (the dataset has no per-song reports: files without the columns) or each has
  // one row per interaction: [0, 1] where has_affect, else 0.
  std::vector<float> valence, arousal;
  std::vector<std::uint8_t> has_affect;
  std::size_t size() const { return user.size(); }
  bool has_song_affect() const { return !has_affect.empty(); }
};

// Sorted by user, then session order, then position (Validate checks it).
struct Dataset {
  std::vector<std::int64_t> song_ids;
  std::vector<EmbeddingFamily> families;
  std::vector<std::int64_t> user_ids;
  Sessions sessions;
  Interactions interactions;
  // Optional per-song human annotation (e.g. DEAM's valence/arousal), [0, 1]; empty if absent.
  std::vector<float> song_valence, song_arousal;
  // MCCV splits by user and the seed they came from; empty if none were made.
  std::vector<Split> splits;
  std::uint64_t split_seed = 0;
  // Free-form provenance (generator parameters, import source), stored as string attributes.
  std::map<std::string, std::string> attributes;
  // Ground truth of a synthetic population; null for logged data.
  std::shared_ptr<const OracleParams> oracle;

  std::int32_t num_songs() const { return static_cast<std::int32_t>(song_ids.size()); }
  std::int32_t num_users() const { return static_cast<std::int32_t>(user_ids.size()); }
  // Throws ArgumentError listing the known families.
  const EmbeddingFamily& Family(const std::string& name) const;
  // The catalogue with one embedding family, for the world model, env and agents.
  Catalogue MakeCatalogue(const std::string& family) const;
};

// Per-user ranges into sessions and interactions (valid for a validated dataset).
struct UserIndex {
  std::vector<std::int32_t> session_begin, session_end;          // per user
  std::vector<std::int32_t> interaction_begin, interaction_end;  // per user
  std::vector<std::int32_t> session_interaction_begin, session_interaction_end;  // per session
  explicit UserIndex(const Dataset& d);
};

// Checks every invariant of the format; throws InputError naming `source` (a file name), the
// dataset and field, and the row of the first problem.
void Validate(const Dataset& d, const std::string& source = "<memory>");

// Reads and validates a dataset file. Throws InputError naming the file, dataset, field, row.
Dataset ReadDataset(const std::string& path);

// Validates, then writes atomically: a temporary file next to `path`, renamed on success; on any
// failure the temporary is removed and `path` is untouched.
void WriteDataset(const Dataset& d, const std::string& path);

// Content fingerprint (hex) of everything a checkpoint's validity depends on: the catalogue ids
// and embeddings, every logged column and mask (the per-song affect columns only when present),
// song annotations, and the MCCV splits with their seed. Checkpoints record it so that loading against another dataset (or other splits) fails.
std::string Fingerprint(const Dataset& d);
// Throws InputError unless `d`'s fingerprint is `fingerprint`, saying what changed: "<what> was
// trained on dataset fingerprint A with split seed S; the dataset now has fingerprint B with
// split seed T: the MCCV splits changed (...) - retrain".
void CheckTrainedOn(const Dataset& d, const std::string& what, const std::string& fingerprint,
                    std::uint64_t split_seed);

}  // namespace amrs::data
