// The dataset fingerprint (everything a checkpoint's validity depends on) and the check that a
// checkpoint was trained on this dataset.
#include <algorithm>
#include <cstdio>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/dataset.h"

namespace amrs::data {

std::string Fingerprint(const Dataset& d) {
  std::uint64_t h = HashString("amrs-dataset");
  auto mix_bytes = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
    h = Mix64(h);
  };
  auto mix = [&](const auto& v) { mix_bytes(v.data(), v.size() * sizeof(v[0])); };
  mix(d.song_ids);
  // Families in name order: a file lists them by name, whatever order they were created in.
  std::vector<const EmbeddingFamily*> families;
  for (const auto& f : d.families) families.push_back(&f);
  std::sort(families.begin(), families.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (const auto* f : families) {
    mix_bytes(f->name.data(), f->name.size());
    mix(f->values);
  }
  mix(d.user_ids);
  mix(d.sessions.id), mix(d.sessions.user), mix(d.sessions.pre_valence), mix(d.sessions.post_valence);
  mix(d.interactions.session), mix(d.interactions.song), mix(d.interactions.engagement);
  mix(d.interactions.rating);
  // Everything else a checkpoint's validity depends on, each field prefixed by its length (so
  // that an empty and an absent field differ): the remaining signal columns and their masks, the
  // family dimensions, the song annotations and the MCCV splits with their seed.
  auto mix_sized = [&](const auto& v) {
    const std::uint64_t n = v.size();
    mix_bytes(&n, sizeof n);
    mix(v);
  };
  for (const auto* f : families) mix_bytes(&f->dim, sizeof f->dim);
  mix_sized(d.sessions.order), mix_sized(d.sessions.pre_arousal), mix_sized(d.sessions.post_arousal);
  mix_sized(d.sessions.has_post), mix_sized(d.sessions.mode);
  mix_sized(d.interactions.user), mix_sized(d.interactions.position), mix_sized(d.interactions.has_rating);
  mix_sized(d.song_valence), mix_sized(d.song_arousal);
  // Per-song affect reports only when the dataset has them, so that the fingerprints of datasets
  // without them are those of the files written before the columns existed.
  if (d.interactions.has_song_affect())
    mix_sized(d.interactions.valence), mix_sized(d.interactions.arousal), mix_sized(d.interactions.has_affect);
  const std::uint64_t num_splits = d.splits.size();
  mix_bytes(&num_splits, sizeof num_splits);
  for (const auto& sp : d.splits) mix_sized(sp.train), mix_sized(sp.val), mix_sized(sp.test);
  mix_bytes(&d.split_seed, sizeof d.split_seed);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void CheckTrainedOn(const Dataset& d, const std::string& what, const std::string& fingerprint,
                    std::uint64_t split_seed) {
  const std::string fp = Fingerprint(d);
  if (fingerprint == fp) return;
  const std::string why = split_seed != d.split_seed
                              ? "the MCCV splits changed (remade with another seed: amrs split?)"
                              : "the dataset's contents or its splits differ (another dataset?)";
  throw InputError(what + " was trained on dataset fingerprint " + fingerprint + " with split seed " +
                   std::to_string(split_seed) + "; the dataset now has fingerprint " + fp + " with split seed " +
                   std::to_string(d.split_seed) + ": " + why + " - retrain");
}

}  // namespace amrs::data
