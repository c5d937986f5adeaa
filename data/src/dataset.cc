#include "amrs/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/oracle.h"
#include "h5util.h"

namespace amrs::data {
namespace {

[[noreturn]] void Bad(const std::string& source, const std::string& field, std::size_t row,
                      const std::string& what) {
  std::ostringstream os;
  os << source << ": " << field << " row " << row << ": " << what;
  throw InputError(os.str());
}

[[noreturn]] void BadField(const std::string& source, const std::string& field,
                           const std::string& what) {
  throw InputError(source + ": " + field + ": " + what);
}

template <typename T>
void CheckLength(const std::string& src, const std::string& field, const std::vector<T>& v,
                 std::size_t n) {
  if (v.size() != n)
    BadField(src, field,
             "has " + std::to_string(v.size()) + " rows, expected " + std::to_string(n));
}

void CheckUnit(const std::string& src, const std::string& field, const std::vector<float>& v,
               const std::vector<std::uint8_t>* present = nullptr) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) Bad(src, field, i, "value is not finite (NaN or inf)");
    if (present && !(*present)[i]) continue;  // absent: any finite placeholder
    if (v[i] < 0.f || v[i] > 1.f)
      Bad(src, field, i, "value " + std::to_string(v[i]) + " is outside [0, 1]");
  }
}

template <typename T>
void CheckIndex(const std::string& src, const std::string& field, const std::vector<T>& v,
                std::int64_t n, const char* what) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] < 0 || v[i] >= n) Bad(src, field, i, std::string("dangling ") + what + " reference");
}

template <typename T>
void CheckUnique(const std::string& src, const std::string& field, const std::vector<T>& ids) {
  std::unordered_map<T, std::size_t> seen;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = seen.emplace(ids[i], i);
    if (!inserted)
      Bad(src, field, i,
          "duplicate id " + std::to_string(ids[i]) + " (first at row " +
              std::to_string(it->second) + ")");
  }
}

}  // namespace

const EmbeddingFamily& Dataset::Family(const std::string& name) const {
  std::string known;
  for (const auto& f : families) {
    if (f.name == name) return f;
    known += (known.empty() ? "" : ", ") + f.name;
  }
  throw ArgumentError("unknown embedding family '" + name + "' (known: " + known + ")");
}

Catalogue Dataset::MakeCatalogue(const std::string& family) const {
  const auto& f = Family(family);
  Catalogue c;
  c.song_ids = song_ids;
  c.family = f.name;
  c.dim = f.dim;
  c.embedding = f.values;
  return c;
}

UserIndex::UserIndex(const Dataset& d) {
  const auto nu = static_cast<std::size_t>(d.num_users());
  session_begin.assign(nu, 0);
  session_end.assign(nu, 0);
  interaction_begin.assign(nu, 0);
  interaction_end.assign(nu, 0);
  const auto ns = d.sessions.size();
  session_interaction_begin.assign(ns, 0);
  session_interaction_end.assign(ns, 0);
  // Sessions and interactions are sorted by user, so each user's rows are one contiguous run.
  std::vector<bool> seen_s(nu, false), seen_i(nu, false);
  for (std::size_t s = 0; s < ns; ++s) {
    const auto u = d.sessions.user[s];
    if (!seen_s[u]) session_begin[u] = static_cast<std::int32_t>(s), seen_s[u] = true;
    session_end[u] = static_cast<std::int32_t>(s + 1);
  }
  for (std::size_t s = 0; s < ns; ++s) session_interaction_begin[s] = session_interaction_end[s] = -1;
  for (std::size_t i = 0; i < d.interactions.size(); ++i) {
    const auto u = d.interactions.user[i];
    const auto s = d.interactions.session[i];
    if (!seen_i[u]) interaction_begin[u] = static_cast<std::int32_t>(i), seen_i[u] = true;
    interaction_end[u] = static_cast<std::int32_t>(i + 1);
    if (session_interaction_begin[s] < 0) session_interaction_begin[s] = static_cast<std::int32_t>(i);
    session_interaction_end[s] = static_cast<std::int32_t>(i + 1);
  }
  for (std::size_t s = 0; s < ns; ++s)
    if (session_interaction_begin[s] < 0) session_interaction_begin[s] = session_interaction_end[s] = 0;
}

void Validate(const Dataset& d, const std::string& src) {
  const std::size_t n_songs = d.song_ids.size();
  if (n_songs == 0) BadField(src, "catalogue/song_id", "catalogue is empty");
  CheckUnique(src, "catalogue/song_id", d.song_ids);
  if (d.families.empty()) BadField(src, "catalogue/embeddings", "no embedding family");
  for (const auto& f : d.families) {
    const std::string field = "catalogue/embeddings/" + f.name;
    if (f.name.empty() || f.name.find('/') != std::string::npos)
      BadField(src, field, "invalid family name");
    if (f.dim <= 0) BadField(src, field, "dimension must be positive");
    if (f.values.size() != n_songs * static_cast<std::size_t>(f.dim))
      BadField(src, field,
               "has " + std::to_string(f.values.size()) + " values, expected " +
                   std::to_string(n_songs) + " songs x " + std::to_string(f.dim) + " dimensions");
    for (std::size_t i = 0; i < f.values.size(); ++i)
      if (!std::isfinite(f.values[i]))
        Bad(src, field, i / f.dim,
            "column " + std::to_string(i % f.dim) + " is not finite (NaN or inf)");
  }
  if (!d.song_valence.empty() || !d.song_arousal.empty()) {
    CheckLength(src, "catalogue/valence", d.song_valence, n_songs);
    CheckLength(src, "catalogue/arousal", d.song_arousal, n_songs);
    CheckUnit(src, "catalogue/valence", d.song_valence);
    CheckUnit(src, "catalogue/arousal", d.song_arousal);
  }
  CheckUnique(src, "users/user_id", d.user_ids);

  const auto& s = d.sessions;
  const std::size_t ns = s.id.size();
  CheckLength(src, "sessions/user_id", s.user, ns);
  CheckLength(src, "sessions/order", s.order, ns);
  CheckLength(src, "sessions/pre_valence", s.pre_valence, ns);
  CheckLength(src, "sessions/pre_arousal", s.pre_arousal, ns);
  CheckLength(src, "sessions/post_valence", s.post_valence, ns);
  CheckLength(src, "sessions/post_arousal", s.post_arousal, ns);
  CheckLength(src, "sessions/has_post", s.has_post, ns);
  CheckLength(src, "sessions/mode", s.mode, ns);
  CheckUnique(src, "sessions/session_id", s.id);
  CheckIndex(src, "sessions/user_id", s.user, d.num_users(), "user");
  CheckUnit(src, "sessions/pre_valence", s.pre_valence);
  CheckUnit(src, "sessions/pre_arousal", s.pre_arousal);
  CheckUnit(src, "sessions/post_valence", s.post_valence, &s.has_post);
  CheckUnit(src, "sessions/post_arousal", s.post_arousal, &s.has_post);
  for (std::size_t i = 0; i < ns; ++i) {
    if (s.has_post[i] > 1) Bad(src, "sessions/has_post", i, "flag must be 0 or 1");
    if (s.mode[i] < -1 || s.mode[i] >= kNumModes)
      Bad(src, "sessions/mode", i, "mode " + std::to_string(s.mode[i]) + " is not in -1..3");
    if (i > 0) {
      if (s.user[i] < s.user[i - 1])
        Bad(src, "sessions/user_id", i, "sessions are not grouped by user in users/user_id order");
      if (s.user[i] == s.user[i - 1] && s.order[i] <= s.order[i - 1])
        Bad(src, "sessions/order", i, "order is not strictly increasing within the user");
    }
  }

  const auto& it = d.interactions;
  const std::size_t ni = it.user.size();
  CheckLength(src, "interactions/session_id", it.session, ni);
  CheckLength(src, "interactions/position", it.position, ni);
  CheckLength(src, "interactions/song_id", it.song, ni);
  CheckLength(src, "interactions/engagement", it.engagement, ni);
  CheckLength(src, "interactions/rating", it.rating, ni);
  CheckLength(src, "interactions/has_rating", it.has_rating, ni);
  CheckIndex(src, "interactions/user_id", it.user, d.num_users(), "user");
  CheckIndex(src, "interactions/session_id", it.session, static_cast<std::int64_t>(ns), "session");
  CheckIndex(src, "interactions/song_id", it.song, static_cast<std::int64_t>(n_songs), "song");
  CheckUnit(src, "interactions/engagement", it.engagement);
  if (!it.valence.empty() || !it.arousal.empty() || !it.has_affect.empty()) {
    CheckLength(src, "interactions/valence", it.valence, ni);
    CheckLength(src, "interactions/arousal", it.arousal, ni);
    CheckLength(src, "interactions/has_affect", it.has_affect, ni);
    for (std::size_t i = 0; i < ni; ++i)
      if (it.has_affect[i] > 1) Bad(src, "interactions/has_affect", i, "flag must be 0 or 1");
    CheckUnit(src, "interactions/valence", it.valence, &it.has_affect);
    CheckUnit(src, "interactions/arousal", it.arousal, &it.has_affect);
  }
  std::vector<std::uint8_t> has_songs(ns, 0);
  for (std::size_t i = 0; i < ni; ++i) {
    if (it.has_rating[i] > 1) Bad(src, "interactions/has_rating", i, "flag must be 0 or 1");
    if (it.has_rating[i] && it.rating[i] != 0 && it.rating[i] != 1)
      Bad(src, "interactions/rating", i, "rating must be 0 or 1");
    if (it.user[i] != s.user[it.session[i]])
      Bad(src, "interactions/user_id", i, "user differs from the user of its session");
    if (i > 0) {
      if (it.session[i] < it.session[i - 1])
        Bad(src, "interactions/session_id", i,
            "interactions are not grouped by session in sessions order");
      if (it.session[i] == it.session[i - 1] && it.position[i] <= it.position[i - 1])
        Bad(src, "interactions/position", i, "position is not strictly increasing in the session");
    }
    has_songs[it.session[i]] = 1;
  }
  for (std::size_t i = 0; i < ns; ++i)
    if (s.has_post[i] && !has_songs[i])
      Bad(src, "sessions/has_post", i, "post-session report on a session with no interactions");

  if (d.oracle) {
    ValidateOracleParams(*d.oracle, src);
    if (d.oracle->num_songs() != d.num_songs() || d.oracle->num_users() != d.num_users())
      BadField(src, "oracle",
               "parameters for " + std::to_string(d.oracle->num_songs()) + " songs and " +
                   std::to_string(d.oracle->num_users()) + " users do not match the catalogue (" +
                   std::to_string(d.num_songs()) + " songs) and users (" +
                   std::to_string(d.num_users()) + ")");
  }

  for (std::size_t k = 0; k < d.splits.size(); ++k) {
    std::vector<int> part(d.user_ids.size(), -1);
    const auto& sp = d.splits[k];
    const std::vector<std::int32_t>* parts[3] = {&sp.train, &sp.val, &sp.test};
    const char* names[3] = {"train", "val", "test"};
    for (int p = 0; p < 3; ++p) {
      const std::string field = "splits/" + std::to_string(k) + "/" + names[p];
      CheckIndex(src, field, *parts[p], d.num_users(), "user");
      for (std::size_t r = 0; r < parts[p]->size(); ++r) {
        auto u = (*parts[p])[r];
        if (part[u] >= 0) Bad(src, field, r, "user is in two parts of the split");
        part[u] = p;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HDF5 I/O

namespace {

template <typename T>
std::vector<T> Read1D(const h5::File& f, const std::string& name, std::size_t expected_rows,
                      bool check_rows = true) {
  std::vector<hsize_t> shape;
  auto v = f.Read<T>(name, &shape);
  if (shape.size() != 1)
    throw InputError(f.path() + ": " + name + ": expected a 1-D dataset, got " +
                     std::to_string(shape.size()) + " dimensions");
  if (check_rows && v.size() != expected_rows)
    throw InputError(f.path() + ": " + name + ": has " + std::to_string(v.size()) +
                     " rows, expected " + std::to_string(expected_rows));
  return v;
}

std::vector<std::int32_t> MapIds(const h5::File& f, const std::string& field,
                                 const std::vector<std::int64_t>& ids,
                                 const std::unordered_map<std::int64_t, std::int32_t>& index,
                                 const char* what) {
  std::vector<std::int32_t> out(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto it = index.find(ids[i]);
    if (it == index.end())
      Bad(f.path(), field, i, std::string("unknown ") + what + " id " + std::to_string(ids[i]));
    out[i] = it->second;
  }
  return out;
}

std::unordered_map<std::int64_t, std::int32_t> IndexOf(const h5::File& f, const std::string& field,
                                                       const std::vector<std::int64_t>& ids) {
  std::unordered_map<std::int64_t, std::int32_t> m;
  m.reserve(ids.size() * 2);
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!m.emplace(ids[i], static_cast<std::int32_t>(i)).second)
      Bad(f.path(), field, i, "duplicate id " + std::to_string(ids[i]));
  return m;
}

#define AMRS_ORACLE_SCALARS(X)                                                                \
  X(num_genres) X(style_dim) X(like_intercept) X(like_taste) X(like_quality) X(like_fit)      \
  X(like_fatigue) X(like_repeat) X(repeat_window) X(skip_a) X(skip_b) X(full_play)            \
  X(partial_a) X(partial_b) X(rate_prob) X(like_threshold) X(like_noise_sd) X(eta_v) X(eta_a) \
  X(kappa_v) X(kappa_a) X(process_sd) X(pre_report_sd) X(post_report_sd) X(mood_phi)          \
  X(mood_drift_sd) X(post_report_prob)
#define AMRS_ORACLE_SONG_F(X) \
  X(song_style) X(song_valence) X(song_arousal) X(song_quality) X(tag_valence) X(tag_arousal)
#define AMRS_ORACLE_USER_F(X) \
  X(user_taste) X(user_bias) X(user_mood_valence) X(user_mood_arousal) X(user_responsiveness)

void WriteOracle(h5::File& f, const OracleParams& p) {
  f.Group("/oracle");
#define W(name) f.WriteScalarAttr("/oracle", #name, p.name);
  AMRS_ORACLE_SCALARS(W)
#undef W
  std::vector<float> targets;
  for (const auto& t : p.mode_target) targets.insert(targets.end(), t.begin(), t.end());
  f.Write("/oracle/mode_target", targets, {kNumModes, 2});
  f.Write("/oracle/song_genre", p.song_genre);
  f.Write("/oracle/song_tagged", p.song_tagged);
#define W(name) f.Write("/oracle/" #name, p.name);
  AMRS_ORACLE_SONG_F(W)
  AMRS_ORACLE_USER_F(W)
#undef W
}

std::shared_ptr<const OracleParams> ReadOracle(const h5::File& f, std::size_t n_songs,
                                               std::size_t n_users) {
  auto p = std::make_shared<OracleParams>();
#define R(name) p->name = f.ReadScalarAttr<decltype(p->name)>("/oracle", #name);
  AMRS_ORACLE_SCALARS(R)
#undef R
  std::vector<hsize_t> shape;
  auto mt = f.Read<float>("/oracle/mode_target", &shape);
  if (mt.size() != kNumModes * 2) throw InputError(f.path() + ": /oracle/mode_target: bad shape");
  for (int m = 0; m < kNumModes; ++m) p->mode_target[m] = {mt[2 * m], mt[2 * m + 1]};
  if (p->style_dim <= 0 || p->style_dim > 4096 || p->num_genres <= 0)
    throw InputError(f.path() + ": /oracle: style_dim must be in [1, 4096] and num_genres positive");
  const std::size_t sd = static_cast<std::size_t>(p->style_dim);
  p->song_genre = Read1D<std::int32_t>(f, "/oracle/song_genre", n_songs);
  p->song_tagged = Read1D<std::uint8_t>(f, "/oracle/song_tagged", n_songs);
#define R(name) \
  p->name = Read1D<float>(f, "/oracle/" #name, (#name == std::string("song_style") ? sd : 1) * n_songs);
  AMRS_ORACLE_SONG_F(R)
#undef R
#define R(name) \
  p->name = Read1D<float>(f, "/oracle/" #name, (#name == std::string("user_taste") ? sd : 1) * n_users);
  AMRS_ORACLE_USER_F(R)
#undef R
  return p;  // ReadDataset's Validate checks every value (ValidateOracleParams)
}

}  // namespace

Dataset ReadDataset(const std::string& path) {
  auto f = h5::File::Open(path);
  Dataset d;
  if (!f.HasAttr("/", "schema_version"))
    throw InputError(path + ": missing root attribute 'schema_version' (not an AMRS dataset?)");
  const auto version = f.ReadScalarAttr<std::int32_t>("/", "schema_version");
  if (version != kSchemaVersion)
    throw InputError(path + ": schema_version " + std::to_string(version) +
                     " is not supported (this build reads " + std::to_string(kSchemaVersion) + ")");
  for (const char* g : {"/catalogue", "/users", "/sessions", "/interactions"})
    if (!f.Exists(g)) throw InputError(path + ": missing group '" + std::string(g) + "'");

  d.song_ids = Read1D<std::int64_t>(f, "/catalogue/song_id", 0, false);
  const std::size_t n_songs = d.song_ids.size();
  if (!f.Exists("/catalogue/embeddings"))
    throw InputError(path + ": missing group '/catalogue/embeddings'");
  for (const auto& name : f.Children("/catalogue/embeddings")) {
    const std::string field = "/catalogue/embeddings/" + name;
    std::vector<hsize_t> shape;
    EmbeddingFamily fam;
    fam.name = name;
    fam.values = f.Read<float>(field, &shape);
    if (shape.size() != 2)
      throw InputError(path + ": " + field + ": expected a 2-D dataset (songs x dim)");
    if (shape[0] != n_songs)
      throw InputError(path + ": " + field + ": has " + std::to_string(shape[0]) +
                       " rows, expected one per song (" + std::to_string(n_songs) + ")");
    fam.dim = static_cast<std::int32_t>(shape[1]);
    if (f.HasAttr(field, "dim")) {
      auto declared = f.ReadScalarAttr<std::int32_t>(field, "dim");
      if (declared != fam.dim)
        throw InputError(path + ": " + field + ": dimension " + std::to_string(fam.dim) +
                         " differs from its 'dim' attribute " + std::to_string(declared));
    }
    d.families.push_back(std::move(fam));
  }
  if (f.Exists("/catalogue/valence")) {
    d.song_valence = Read1D<float>(f, "/catalogue/valence", n_songs);
    d.song_arousal = Read1D<float>(f, "/catalogue/arousal", n_songs);
  }
  const auto song_index = IndexOf(f, "/catalogue/song_id", d.song_ids);

  d.user_ids = Read1D<std::int64_t>(f, "/users/user_id", 0, false);
  const auto user_index = IndexOf(f, "/users/user_id", d.user_ids);

  auto& s = d.sessions;
  s.id = Read1D<std::int64_t>(f, "/sessions/session_id", 0, false);
  const std::size_t ns = s.id.size();
  s.user = MapIds(f, "/sessions/user_id", Read1D<std::int64_t>(f, "/sessions/user_id", ns),
                  user_index, "user");
  s.order = Read1D<std::int32_t>(f, "/sessions/order", ns);
  s.pre_valence = Read1D<float>(f, "/sessions/pre_valence", ns);
  s.pre_arousal = Read1D<float>(f, "/sessions/pre_arousal", ns);
  s.post_valence = Read1D<float>(f, "/sessions/post_valence", ns);
  s.post_arousal = Read1D<float>(f, "/sessions/post_arousal", ns);
  s.has_post = Read1D<std::uint8_t>(f, "/sessions/has_post", ns);
  s.mode = Read1D<std::int8_t>(f, "/sessions/mode", ns);
  const auto session_index = IndexOf(f, "/sessions/session_id", s.id);

  auto& it = d.interactions;
  auto user_col = Read1D<std::int64_t>(f, "/interactions/user_id", 0, false);
  const std::size_t ni = user_col.size();
  it.user = MapIds(f, "/interactions/user_id", user_col, user_index, "user");
  it.session = MapIds(f, "/interactions/session_id",
                      Read1D<std::int64_t>(f, "/interactions/session_id", ni), session_index,
                      "session");
  it.position = Read1D<std::int32_t>(f, "/interactions/position", ni);
  it.song = MapIds(f, "/interactions/song_id", Read1D<std::int64_t>(f, "/interactions/song_id", ni),
                   song_index, "song");
  it.engagement = Read1D<float>(f, "/interactions/engagement", ni);
  it.rating = Read1D<std::int8_t>(f, "/interactions/rating", ni);
  it.has_rating = Read1D<std::uint8_t>(f, "/interactions/has_rating", ni);
  if (f.Exists("/interactions/has_affect") || f.Exists("/interactions/valence") ||
      f.Exists("/interactions/arousal")) {  // optional: per-song affect reports
    it.valence = Read1D<float>(f, "/interactions/valence", ni);
    it.arousal = Read1D<float>(f, "/interactions/arousal", ni);
    it.has_affect = Read1D<std::uint8_t>(f, "/interactions/has_affect", ni);
  }

  if (f.Exists("/splits")) {
    d.split_seed = f.ReadScalarAttr<std::uint64_t>("/splits", "seed");
    const auto k = f.ReadScalarAttr<std::int32_t>("/splits", "k");
    const auto groups = f.Children("/splits").size();
    if (k < 0 || static_cast<std::size_t>(k) != groups)
      throw InputError(path + ": /splits: attribute 'k' is " + std::to_string(k) + " but the group has " +
                       std::to_string(groups) + " splits");
    for (std::int32_t i = 0; i < k; ++i) {
      Split sp;
      const std::string g = "/splits/" + std::to_string(i) + "/";
      for (auto [name, part] : {std::pair{"train", &sp.train}, {"val", &sp.val}, {"test", &sp.test}})
        *part = MapIds(f, g + name, Read1D<std::int64_t>(f, g + name, 0, false), user_index, "user");
      d.splits.push_back(std::move(sp));
    }
  }
  if (f.Exists("/provenance")) {
    for (const auto& name : f.Children("/provenance")) {
      const auto v = f.ReadStrings("/provenance/" + name);
      if (v.size() != 1)
        throw InputError(path + ": /provenance/" + name + ": holds " + std::to_string(v.size()) + " strings, expected 1");
      d.attributes[name] = v[0];
    }
  }
  if (f.Exists("/oracle")) d.oracle = ReadOracle(f, n_songs, d.user_ids.size());
  Validate(d, path);
  return d;
}

void WriteDataset(const Dataset& d, const std::string& path) {
  Validate(d, path);
  AtomicFile tmp(path);
  {
    auto f = h5::File::Create(tmp.temp());
    f.WriteScalarAttr<std::int32_t>("/", "schema_version", kSchemaVersion);
    f.WriteStringAttr("/", "created_by", "amrs-sim");
    f.Write("/catalogue/song_id", d.song_ids);
    for (const auto& fam : d.families) {
      const std::string name = "/catalogue/embeddings/" + fam.name;
      f.Write(name, fam.values, {d.song_ids.size(), static_cast<hsize_t>(fam.dim)});
      f.WriteScalarAttr<std::int32_t>(name, "dim", fam.dim);
    }
    if (!d.song_valence.empty()) {
      f.Write("/catalogue/valence", d.song_valence);
      f.Write("/catalogue/arousal", d.song_arousal);
    }
    f.Write("/users/user_id", d.user_ids);
    const auto& s = d.sessions;
    std::vector<std::int64_t> ids(s.user.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = d.user_ids[s.user[i]];
    f.Write("/sessions/session_id", s.id);
    f.Write("/sessions/user_id", ids);
    f.Write("/sessions/order", s.order);
    f.Write("/sessions/pre_valence", s.pre_valence);
    f.Write("/sessions/pre_arousal", s.pre_arousal);
    f.Write("/sessions/post_valence", s.post_valence);
    f.Write("/sessions/post_arousal", s.post_arousal);
    f.Write("/sessions/has_post", s.has_post);
    f.Write("/sessions/mode", s.mode);
    const auto& it = d.interactions;
    ids.resize(it.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = d.user_ids[it.user[i]];
    f.Write("/interactions/user_id", ids);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = s.id[it.session[i]];
    f.Write("/interactions/session_id", ids);
    f.Write("/interactions/position", it.position);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = d.song_ids[it.song[i]];
    f.Write("/interactions/song_id", ids);
    f.Write("/interactions/engagement", it.engagement);
    f.Write("/interactions/rating", it.rating);
    f.Write("/interactions/has_rating", it.has_rating);
    if (it.has_song_affect()) {
      f.Write("/interactions/valence", it.valence);
      f.Write("/interactions/arousal", it.arousal);
      f.Write("/interactions/has_affect", it.has_affect);
    }
    if (!d.splits.empty()) {
      f.Group("/splits");
      f.WriteScalarAttr<std::uint64_t>("/splits", "seed", d.split_seed);
      f.WriteScalarAttr<std::int32_t>("/splits", "k", static_cast<std::int32_t>(d.splits.size()));
      for (std::size_t k = 0; k < d.splits.size(); ++k) {
        const std::string g = "/splits/" + std::to_string(k) + "/";
        const auto& sp = d.splits[k];
        for (auto [name, part] : {std::pair{"train", &sp.train}, {"val", &sp.val}, {"test", &sp.test}}) {
          std::vector<std::int64_t> uid(part->size());
          for (std::size_t i = 0; i < uid.size(); ++i) uid[i] = d.user_ids[(*part)[i]];
          f.Write(g + name, uid);
        }
      }
    }
    if (!d.attributes.empty()) {
      f.Group("/provenance");
      for (const auto& [k, v] : d.attributes) f.WriteStrings("/provenance/" + k, {v});
    }
    if (d.oracle) WriteOracle(f, *d.oracle);
    f.Close();
  }
  tmp.Commit();
}

}  // namespace amrs::data
