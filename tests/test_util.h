// Helpers for tests: a scratch directory removed at exit, and a tiny valid dataset.
#pragma once

#include <filesystem>
#include <string>

#include "amrs/core/rng.h"
#include "amrs/data/dataset.h"
#include "amrs/data/synthetic.h"

namespace amrs::testing {

class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path();
    Rng rng(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this)) ^
            static_cast<std::uint64_t>(std::filesystem::file_time_type::clock::now().time_since_epoch().count()));
    path_ = base / ("amrs-test-" + std::to_string(rng.NextU64()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A tiny synthetic population for tests (seconds to generate).
inline data::GeneratorConfig SmallConfig(std::uint64_t seed, std::int32_t users, std::int32_t sessions,
                                         std::int32_t interactions, std::int32_t songs, std::int32_t dim,
                                         std::int32_t splits) {
  data::GeneratorConfig c;
  c.seed = seed;
  c.num_users = users;
  c.num_sessions = sessions;
  c.num_interactions = interactions;
  c.num_songs = songs;
  c.embedding_dim = dim;
  c.num_splits = splits;
  return c;
}

// 4 songs (family "f", dim 3), 3 users, 4 sessions, 7 interactions; valid.
inline data::Dataset TinyDataset() {
  data::Dataset d;
  d.song_ids = {10, 11, 12, 13};
  d.families.push_back({"f", 3, {0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1}});
  d.user_ids = {100, 101, 102};
  auto& s = d.sessions;
  s.id = {1000, 1001, 1002, 1003};
  s.user = {0, 0, 1, 2};
  s.order = {0, 1, 0, 0};
  s.pre_valence = {0.5f, 0.4f, 0.6f, 0.2f};
  s.pre_arousal = {0.5f, 0.3f, 0.7f, 0.9f};
  s.post_valence = {0.6f, 0.f, 0.7f, 0.3f};
  s.post_arousal = {0.4f, 0.f, 0.6f, 0.8f};
  s.has_post = {1, 0, 1, 1};
  s.mode = {0, -1, 2, 3};
  auto& it = d.interactions;
  it.user = {0, 0, 0, 1, 1, 2, 2};
  it.session = {0, 0, 1, 2, 2, 3, 3};
  it.position = {0, 1, 0, 0, 1, 0, 1};
  it.song = {0, 1, 2, 3, 0, 1, 1};
  it.engagement = {1.f, 0.1f, 0.5f, 1.f, 0.9f, 0.05f, 1.f};
  it.rating = {1, 0, 0, 1, 0, 0, 1};
  it.has_rating = {1, 1, 0, 1, 0, 0, 1};
  return d;
}

}  // namespace amrs::testing
