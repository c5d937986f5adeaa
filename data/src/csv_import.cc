// CSV import of platform logs (docs/csv-import.md): sessions and interactions files against a
// catalogue given by a songs file or the first CSV embedding family.
#include "amrs/data/csv_import.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/core/types.h"
#include "catalogue_files.h"
#include "csv_reader.h"

namespace amrs::data {
namespace {

using namespace csv;

void CheckSpec(const CsvImportSpec& spec) {
  if (spec.interactions_csv.empty()) throw ArgumentError("CSV import: no interactions file given");
  if (spec.sessions_csv.empty()) throw ArgumentError("CSV import: no sessions file given");
  if (spec.embeddings.empty())
    throw ArgumentError("CSV import: at least one embedding family (name=path) is required");
  for (std::size_t k = 0; k < spec.embeddings.size(); ++k) {
    const auto& [name, path] = spec.embeddings[k];
    if (name.empty() || name.find('/') != std::string::npos)
      throw ArgumentError("CSV import: invalid embedding family name " + Quote(name) + " for " +
                          path + " (must be non-empty, without '/')");
    for (std::size_t j = 0; j < k; ++j)
      if (spec.embeddings[j].first == name)
        throw ArgumentError("CSV import: embedding family " + Quote(name) + " is given twice");
    if (!EndsWith(path, ".csv") && !EndsWith(path, ".npy"))
      throw ArgumentError("CSV import: embedding family " + Quote(name) + ": " + path +
                          " must end in .csv or .npy");
  }
}

// The catalogue order (songs file or the first CSV family) and every embedding family into d.
CatalogueOrder ReadCatalogue(const CsvImportSpec& spec, Dataset& d) {
  CatalogueOrder cat;
  std::size_t defining = spec.embeddings.size();  // the CSV family that defines the order
  EmbeddingFamily defining_family;
  if (!spec.songs_csv.empty()) {
    cat = ReadSongsCsv(spec.songs_csv, spec.delimiter);
  } else {
    for (std::size_t k = 0; k < spec.embeddings.size() && defining == spec.embeddings.size(); ++k)
      if (EndsWith(spec.embeddings[k].second, ".csv")) defining = k;
    if (defining == spec.embeddings.size())
      throw ArgumentError("CSV import: the .npy embeddings (" + spec.embeddings[0].second +
                          ") need a song order: give a songs file (song_id per line) or a .csv "
                          "embedding family");
    defining_family = ReadCsvFamily(spec.embeddings[defining].first, spec.embeddings[defining].second,
                                    cat, true, spec.delimiter);
  }
  for (std::size_t k = 0; k < spec.embeddings.size(); ++k) {
    const auto& [name, path] = spec.embeddings[k];
    if (k == defining)
      d.families.push_back(std::move(defining_family));
    else if (EndsWith(path, ".csv"))
      d.families.push_back(ReadCsvFamily(name, path, cat, false, spec.delimiter));
    else
      d.families.push_back(ReadNpyFamily(name, path, cat));
  }
  d.song_ids = cat.ids;
  return cat;
}

struct RawSession {
  std::int64_t id, user_id;
  std::int32_t order;
  float pre_v, pre_a, post_v = 0.f, post_a = 0.f;
  std::uint8_t has_post = 0;
  std::int8_t mode = -1;
  std::size_t line;
  std::int32_t user = 0;  // index into user_ids
  bool has_songs = false;
};

// The sessions file in file order, with the raw index of each session id.
struct RawSessions {
  std::string path;
  ErrorList errors;  // of the sessions file, thrown once sorted
  std::vector<RawSession> rows;
  std::unordered_map<std::int64_t, std::size_t> by_id;
  std::vector<std::size_t> sorted;          // sorted index -> raw index, by (user, order)
  std::vector<std::int32_t> sorted_index;   // raw index -> sorted index
};

enum SCol { kSid, kSUser, kOrder, kPreV, kPreA, kPostV, kPostA, kMode };

// An optional valence/arousal report of the current line (columns vcol, acol): both values or
// neither. False when neither is given.
bool ReadAffectPair(const CsvReader& r, int vcol, int acol, const char* what, float& v, float& a) {
  const bool v_empty = r.field(vcol).empty();
  const bool a_empty = r.field(acol).empty();
  if (v_empty != a_empty)
    r.Fail(v_empty ? vcol : acol,
           std::string("value is empty but the other ") + what + " value is given (give both or neither)");
  if (v_empty) return false;
  v = ParseUnit(r, vcol);
  a = ParseUnit(r, acol);
  return true;
}

// The optional post-session report and mode of the current line.
void ReadSessionExtras(const CsvReader& r, const std::vector<int>& col, RawSession& s) {
  if (col[kPostV] >= 0 && ReadAffectPair(r, col[kPostV], col[kPostA], "post-session", s.post_v, s.post_a))
    s.has_post = 1;
  if (col[kMode] >= 0) {
    try {
      s.mode = static_cast<std::int8_t>(ParseMode(r.field(col[kMode])));
    } catch (const ArgumentError& e) {
      r.Fail(col[kMode], e.what());
    }
  }
}

// Two optional columns that come together (valence and arousal): one without the other is a
// header error naming the missing one.
void RequirePair(const CsvReader& r, int col_a, int col_b, const std::string& a, const std::string& b) {
  if ((col_a < 0) != (col_b < 0))
    r.FailHeader(col_a < 0 ? "column '" + b + "' needs column '" + a + "'" : "column '" + a + "' needs column '" + b + "'");
}

RawSessions ReadSessions(const std::string& spath, Delimiter delimiter) {
  RawSessions out;
  out.path = spath;
  CsvReader r(spath, delimiter, /*collect=*/true);
  const auto col = BindColumns(r, {{"session_id", true},
                                   {"user_id", true},
                                   {"order", true},
                                   {"pre_valence", true},
                                   {"pre_arousal", true},
                                   {"post_valence", false},
                                   {"post_arousal", false},
                                   {"mode", false}});
  RequirePair(r, col[kPostV], col[kPostA], "post_valence", "post_arousal");
  while (r.Next()) {
    CheckRowCount(r, out.rows.size());
    RawSession s;
    s.line = r.line();
    const bool ok = r.Row([&] {
      s.id = ParseInt64(r, col[kSid]);
      s.user_id = ParseInt64(r, col[kSUser]);
      s.order = ParseInt32(r, col[kOrder]);
      s.pre_v = ParseUnit(r, col[kPreV]);
      s.pre_a = ParseUnit(r, col[kPreA]);
      ReadSessionExtras(r, col, s);
      const auto [it, inserted] = out.by_id.emplace(s.id, out.rows.size());
      if (!inserted)
        r.Fail(col[kSid], "duplicate session id " + std::to_string(s.id) + " (first at line " +
                              std::to_string(out.rows[it->second].line) + ")");
    });
    if (ok) out.rows.push_back(s);
  }
  out.errors = r.errors();
  return out;
}

// Users: the distinct user ids of the sessions, ascending. Sessions sorted by (user, order); a
// repeated order within a user is an error at the later line. Throws the sessions file's errors.
void IndexUsersAndSort(RawSessions& ss, Dataset& d) {
  auto& raw_sessions = ss.rows;
  for (const auto& s : raw_sessions) d.user_ids.push_back(s.user_id);
  std::sort(d.user_ids.begin(), d.user_ids.end());
  d.user_ids.erase(std::unique(d.user_ids.begin(), d.user_ids.end()), d.user_ids.end());
  for (auto& s : raw_sessions)
    s.user = static_cast<std::int32_t>(
        std::lower_bound(d.user_ids.begin(), d.user_ids.end(), s.user_id) - d.user_ids.begin());
  const auto sperm = SortedOrder(raw_sessions, [](const auto& x) { return std::make_tuple(x.user, x.order, x.line); });
  ss.sorted_index.assign(raw_sessions.size(), 0);
  for (std::size_t k = 0; k < sperm.size(); ++k) {
    const auto& s = raw_sessions[sperm[k]];
    if (k > 0) {
      const auto& p = raw_sessions[sperm[k - 1]];
      if (p.user == s.user && p.order == s.order)
        AddAt(ss.errors, ss.path, s.line, "'order'",
              "duplicate order " + std::to_string(s.order) + " for user " +
                  std::to_string(s.user_id) + " (first at line " + std::to_string(p.line) + ")");
    }
    ss.sorted_index[sperm[k]] = static_cast<std::int32_t>(k);
  }
  ss.errors.ThrowIfAny(ss.path);
  ss.sorted = sperm;
}

struct RawInteraction {
  std::int32_t session, position, song;  // sorted session index, position, catalogue index
  float engagement;
  std::int8_t rating = 0;
  std::uint8_t has_rating = 0;
  float valence = 0.f, arousal = 0.f;  // the per-song report, where has_affect
  std::uint8_t has_affect = 0;
  std::size_t line;
};

enum ICol { kIUser, kISession, kPosition, kSong, kEngagement, kRating, kValence, kArousal };

// The session of the current interaction line (its user must match); marks it as having songs.
std::int32_t SessionOf(const CsvReader& r, const std::vector<int>& col, RawSessions& ss) {
  const std::int64_t uid = ParseInt64(r, col[kIUser]);
  const std::int64_t sid = ParseInt64(r, col[kISession]);
  const auto sit = ss.by_id.find(sid);
  if (sit == ss.by_id.end())
    r.Fail(col[kISession], "unknown session id " + std::to_string(sid) + " (not in " + ss.path + ")");
  auto& s = ss.rows[sit->second];
  if (uid != s.user_id)
    r.Fail(col[kIUser], "user id " + std::to_string(uid) + " differs from the user " +
                            std::to_string(s.user_id) + " of session " + std::to_string(sid) +
                            " (" + ss.path + " line " + std::to_string(s.line) + ")");
  s.has_songs = true;
  return ss.sorted_index[sit->second];
}

// The optional per-song report of the current line.
void ReadSongAffect(const CsvReader& r, const std::vector<int>& col, RawInteraction& x) {
  if (col[kValence] >= 0 && ReadAffectPair(r, col[kValence], col[kArousal], "per-song affect", x.valence, x.arousal))
    x.has_affect = 1;
}

void ReadRating(const CsvReader& r, int col, RawInteraction& x) {
  if (col < 0) return;
  const auto t = r.field(col);
  if (t == "0" || t == "1") {
    x.rating = static_cast<std::int8_t>(t[0] - '0');
    x.has_rating = 1;
  } else if (!t.empty()) {
    r.Fail(col, "value " + Quote(t) + " is not 0, 1 or empty");
  }
}

struct RawInteractions {
  std::vector<RawInteraction> rows;
  bool song_affect = false;  // the file has the valence and arousal columns
  ErrorList errors;  // of the interactions file, thrown once sorted
};

RawInteractions ReadInteractions(const std::string& ipath, Delimiter delimiter, RawSessions& ss,
                                 const CatalogueOrder& cat) {
  RawInteractions out;
  auto& raw = out.rows;
  CsvReader r(ipath, delimiter, /*collect=*/true);
  const auto col = BindColumns(r, {{"user_id", true},
                                   {"session_id", true},
                                   {"position", true},
                                   {"song_id", true},
                                   {"engagement", true},
                                   {"rating", false},
                                   {"valence", false},
                                   {"arousal", false}});
  RequirePair(r, col[kValence], col[kArousal], "valence", "arousal");
  out.song_affect = col[kValence] >= 0;
  while (r.Next()) {
    CheckRowCount(r, raw.size());
    RawInteraction x;
    x.line = r.line();
    const bool ok = r.Row([&] {
      x.session = SessionOf(r, col, ss);
      x.position = ParseInt32(r, col[kPosition]);
      const std::int64_t song = ParseInt64(r, col[kSong]);
      const auto song_it = cat.index.find(song);
      if (song_it == cat.index.end())
        r.Fail(col[kSong], "song id " + std::to_string(song) + " is not in the catalogue (" + cat.source + ")");
      x.song = song_it->second;
      x.engagement = ParseUnit(r, col[kEngagement]);
      ReadRating(r, col[kRating], x);
      ReadSongAffect(r, col, x);
    });
    if (ok) raw.push_back(x);
  }
  out.errors = r.errors();
  return out;
}

// Interactions sorted by (session, position), rejecting repeated positions (with the other errors
// of the interactions file); then sessions with a post-session report must have interactions.
std::vector<std::size_t> SortInteractions(RawInteractions& in, const RawSessions& ss,
                                          const std::string& ipath) {
  const auto& raw = in.rows;
  const auto iperm = SortedOrder(raw, [](const auto& x) { return std::make_tuple(x.session, x.position, x.line); });
  for (std::size_t k = 1; k < iperm.size(); ++k) {
    const auto& p = raw[iperm[k - 1]];
    const auto& x = raw[iperm[k]];
    if (p.session == x.session && p.position == x.position)
      AddAt(in.errors, ipath, x.line, "'position'",
            "duplicate position " + std::to_string(x.position) + " in session " +
                std::to_string(ss.rows[ss.sorted[x.session]].id) + " (first at line " +
                std::to_string(p.line) + ")");
  }
  in.errors.ThrowIfAny(ipath);
  ErrorList session_errors;
  for (const auto& s : ss.rows)
    if (s.has_post && !s.has_songs)
      AddAt(session_errors, ss.path, s.line, "'post_valence'",
            "post-session report on session " + std::to_string(s.id) +
                ", which has no interactions in " + ipath);
  session_errors.ThrowIfAny(ss.path);
  return iperm;
}

void AssembleSessions(const RawSessions& ss, Dataset& d) {
  auto& S = d.sessions;
  for (const auto k : ss.sorted) {
    const auto& s = ss.rows[k];
    S.id.push_back(s.id);
    S.user.push_back(s.user);
    S.order.push_back(s.order);
    S.pre_valence.push_back(s.pre_v);
    S.pre_arousal.push_back(s.pre_a);
    S.post_valence.push_back(s.post_v);
    S.post_arousal.push_back(s.post_a);
    S.has_post.push_back(s.has_post);
    S.mode.push_back(s.mode);
  }
}

void AssembleInteractions(const RawInteractions& in, const std::vector<std::size_t>& iperm, Dataset& d) {
  const auto& raw = in.rows;
  auto& I = d.interactions;
  const auto& S = d.sessions;
  const std::size_t ni = raw.size();
  I.user.reserve(ni), I.session.reserve(ni), I.position.reserve(ni), I.song.reserve(ni);
  I.engagement.reserve(ni), I.rating.reserve(ni), I.has_rating.reserve(ni);
  for (const auto k : iperm) {
    const auto& x = raw[k];
    I.user.push_back(S.user[x.session]);
    I.session.push_back(x.session);
    I.position.push_back(x.position);
    I.song.push_back(x.song);
    I.engagement.push_back(x.engagement);
    I.rating.push_back(x.rating);
    I.has_rating.push_back(x.has_rating);
    if (in.song_affect) {
      I.valence.push_back(x.valence);
      I.arousal.push_back(x.arousal);
      I.has_affect.push_back(x.has_affect);
    }
  }
}

}  // namespace

Delimiter ParseDelimiter(std::string_view name) {
  for (const auto d : {Delimiter::kAuto, Delimiter::kComma, Delimiter::kTab, Delimiter::kSemicolon})
    if (name == DelimiterName(d)) return d;
  throw ArgumentError("unknown delimiter " + Quote(name) + " (known: auto, comma, tab, semicolon)");
}

std::string_view DelimiterName(Delimiter d) {
  switch (d) {
    case Delimiter::kComma: return "comma";
    case Delimiter::kTab: return "tab";
    case Delimiter::kSemicolon: return "semicolon";
    default: return "auto";
  }
}

Dataset ImportCsv(const CsvImportSpec& spec) {
  CheckSpec(spec);
  Dataset d;
  const CatalogueOrder cat = ReadCatalogue(spec, d);
  auto sessions = ReadSessions(spec.sessions_csv, spec.delimiter);
  IndexUsersAndSort(sessions, d);
  auto raw = ReadInteractions(spec.interactions_csv, spec.delimiter, sessions, cat);
  const auto order = SortInteractions(raw, sessions, spec.interactions_csv);
  AssembleSessions(sessions, d);
  AssembleInteractions(raw, order, d);
  d.attributes["source"] = "csv-import";
  Validate(d, spec.interactions_csv);
  return d;
}

}  // namespace amrs::data
