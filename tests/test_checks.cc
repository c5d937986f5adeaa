// Data checks before work (data/checks.h): each finding triggered by a crafted tiny dataset and
// absent on a good one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <functional>
#include <string>

#include "amrs/core/error.h"
#include "amrs/data/checks.h"
#include "amrs/data/splits.h"

using namespace amrs;
using namespace amrs::data;

namespace {

// `users` users, each with `sessions` sessions of `songs` interactions over an 8-song catalogue;
// every signal varies (engagement, both rating classes, a post-session report per session).
// One split: the last two users are test, the two before them val, the rest train.
Dataset Good(std::int32_t users = 10, std::int32_t sessions = 6, std::int32_t songs = 4) {
  Dataset d;
  for (std::int64_t s = 0; s < 8; ++s) d.song_ids.push_back(100 + s);
  d.families.push_back({"f", 2, std::vector<float>(16)});
  for (std::int32_t i = 0; i < 16; ++i) d.families[0].values[i] = static_cast<float>(i % 5);
  auto& ss = d.sessions;
  auto& it = d.interactions;
  for (std::int32_t u = 0; u < users; ++u) {
    d.user_ids.push_back(1000 + u);
    for (std::int32_t k = 0; k < sessions; ++k) {
      const auto sid = static_cast<std::int32_t>(ss.size());
      ss.id.push_back(sid);
      ss.user.push_back(u);
      ss.order.push_back(k);
      ss.pre_valence.push_back(0.5f), ss.pre_arousal.push_back(0.5f);
      ss.post_valence.push_back(0.1f * static_cast<float>((u + k) % 7) + 0.1f);
      ss.post_arousal.push_back(0.1f * static_cast<float>((u * 3 + k) % 7) + 0.1f);
      ss.has_post.push_back(1);
      ss.mode.push_back(-1);
      for (std::int32_t j = 0; j < songs; ++j) {
        it.user.push_back(u);
        it.session.push_back(sid);
        it.position.push_back(j);
        it.song.push_back((u + k + j) % 8);
        it.engagement.push_back(0.1f * static_cast<float>((u + 2 * j + k) % 9) + 0.05f);
        it.rating.push_back(static_cast<std::int8_t>((u + j) % 2));
        it.has_rating.push_back(1);
      }
    }
  }
  Split sp;
  for (std::int32_t u = 0; u < users; ++u) (u < users - 4 ? sp.train : u < users - 2 ? sp.val : sp.test).push_back(u);
  d.splits = {sp};
  Validate(d);
  return d;
}

// The findings of `signal` (and, when given, `part` and `severity`).
std::vector<Finding> Of(const std::vector<Finding>& fs, const std::string& signal, std::optional<Part> part = {},
                        std::optional<Severity> severity = {}) {
  std::vector<Finding> out;
  for (const auto& f : fs)
    if (f.signal == signal && (!part || f.part == part) && (!severity || f.severity == *severity)) out.push_back(f);
  return out;
}

bool Contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// Mutates every interaction (or session) of the users of `part` of split 0.
void ForPart(Dataset& d, Part part, const std::function<void(std::size_t)>& interaction) {
  const auto& users = Users(d.splits[0], part);
  for (std::size_t i = 0; i < d.interactions.size(); ++i)
    if (std::find(users.begin(), users.end(), d.interactions.user[i]) != users.end()) interaction(i);
}

}  // namespace

TEST_CASE("A good dataset passes every data check") {
  const auto fs = CheckData(Good());
  for (const auto& f : fs) INFO(f.message);
  CHECK(fs.empty());
  CHECK(Contains(FormatFindings(fs), "every check passed"));
  CHECK_NOTHROW(RequireChecks(fs, "train-world", nullptr));
}

TEST_CASE("Data check: no ratings at all warns per part and names split and count") {
  auto d = Good();
  for (auto& h : d.interactions.has_rating) h = 0;
  for (auto& r : d.interactions.rating) r = 0;
  const auto fs = CheckData(d);
  const auto train = Of(fs, "rating", Part::kTrain, Severity::kWarning);
  REQUIRE(train.size() == 1);
  CHECK(train[0].split == 0);
  CHECK(train[0].count == 0);
  CHECK(train[0].threshold == kMinRatingsPerClass);
  CHECK(Contains(train[0].message, "rating: split 0 train: no ratings in 144 interactions"));
  CHECK(Contains(train[0].message, "skips rating"));
  CHECK(Of(fs, "rating", Part::kVal).size() == 1);
  CHECK(Of(fs, "rating", Part::kTest).size() == 1);
  CHECK(Of(fs, "engagement").empty());
  // A warning, not an error: the signal is skipped.
  CHECK_NOTHROW(RequireChecks(fs, "train-world", nullptr));
}

TEST_CASE("Data check: ratings of one class") {
  auto d = Good();
  ForPart(d, Part::kTrain, [&](std::size_t i) { d.interactions.rating[i] = 1; });
  const auto fs = CheckData(d);
  const auto f = Of(fs, "rating", Part::kTrain);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 0);
  CHECK(Contains(f[0].message, "ratings of one class (144 likes, 0 dislikes)"));
  CHECK(Of(fs, "rating", Part::kTest).empty());
}

TEST_CASE("Data check: constant engagement") {
  auto d = Good();
  ForPart(d, Part::kTest, [&](std::size_t i) { d.interactions.engagement[i] = 0.5f; });
  const auto fs = CheckData(d);
  const auto f = Of(fs, "engagement", Part::kTest, Severity::kWarning);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 48);
  CHECK(Contains(f[0].message, "engagement: split 0 test: constant engagement (variance 0 over 48 interactions)"));
  CHECK(Contains(f[0].message, "scored n/a"));
  CHECK(Of(fs, "engagement", Part::kTrain).empty());
}

TEST_CASE("Data check: no affect reports, and few") {
  auto d = Good();
  for (auto& h : d.sessions.has_post) h = 0;
  for (auto& v : d.sessions.post_valence) v = 0;
  for (auto& v : d.sessions.post_arousal) v = 0;
  auto fs = CheckData(d);
  auto f = Of(fs, "affect", Part::kTrain);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 0);
  CHECK(Contains(f[0].message, "affect: split 0 train: no affect reports"));
  CHECK(Contains(f[0].message, "valence and arousal"));
  CHECK(Of(fs, "valence").empty());  // one finding for both

  // Val users: 2 x 6 sessions, 4 of them with a report, below kMinAffectReports.
  d = Good();
  static_assert(kMinAffectReports > 4 && kMinAffectReports <= 12, "the good dataset's val part must pass");
  for (std::size_t k = 0, kept = 0; k < d.sessions.size(); ++k)
    if (d.sessions.user[k] == 6 || d.sessions.user[k] == 7)
      if (kept++ >= 4) d.sessions.has_post[k] = 0, d.sessions.post_valence[k] = d.sessions.post_arousal[k] = 0;
  fs = CheckData(d);
  f = Of(fs, "affect", Part::kVal, Severity::kWarning);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 4);
  CHECK(f[0].threshold == kMinAffectReports);
  CHECK(Contains(f[0].message, "affect: split 0 val: 4 affect reports"));
  CHECK(Of(fs, "affect", Part::kTrain).empty());
}

TEST_CASE("Data check: constant valence") {
  auto d = Good();
  for (auto& v : d.sessions.post_valence) v = 0.3f;
  const auto fs = CheckData(d);
  CHECK(Of(fs, "valence", Part::kTrain).size() == 1);
  CHECK(Of(fs, "valence", Part::kTest).size() == 1);
  CHECK(Of(fs, "arousal").empty());
  CHECK(Contains(Of(fs, "valence", Part::kTrain)[0].message, "constant valence (variance 0 over 36 affect reports)"));
}

TEST_CASE("Data check: too few users in a part is an error that refuses the run") {
  auto d = Good();
  d.splits[0].train.push_back(d.splits[0].test.back());  // test keeps one user
  d.splits[0].test.pop_back();
  const auto fs = CheckData(d);
  const auto f = Of(fs, "users", Part::kTest, Severity::kError);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 1);
  CHECK(f[0].threshold == kMinUsersPerPart);
  CHECK(Contains(f[0].message, "users: split 0 test: 1 user(s), need at least 2"));
  CHECK(Of(fs, "users", Part::kVal).empty());
  std::ostringstream warnings;
  CHECK_THROWS_WITH_AS(RequireChecks(fs, "train-world", &warnings),
                       doctest::Contains("train-world: data checks failed: users: split 0 test: 1 user(s)"), InputError);
}

TEST_CASE("Data check: too few test interactions") {
  auto d = Good(10, 2, 4);  // test: 2 users x 2 sessions x 4 songs = 16 interactions
  static_assert(kMinTestInteractions > 16 && kMinTestInteractions <= 48, "Good() must pass");
  const auto fs = CheckData(d);
  const auto f = Of(fs, "test interactions", Part::kTest, Severity::kError);
  REQUIRE(f.size() == 1);
  CHECK(f[0].count == 16);
  CHECK(Contains(f[0].message, "test interactions: split 0 test: 16 interactions, need at least 20"));
}

TEST_CASE("Data check: song components beyond the catalogue, only when asked") {
  const auto d = Good();
  CHECK(Of(CheckData(d, {{}, 8}), "song components").empty());
  const auto fs = CheckData(d, {{}, 32});
  const auto f = Of(fs, "song components");
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].split == -1);
  CHECK(f[0].count == 32);
  CHECK(f[0].threshold == 8);
  CHECK(Contains(f[0].message, "32 requested but the catalogue has 8 songs"));
  std::ostringstream warnings;
  CHECK_NOTHROW(RequireChecks(fs, "train-world", &warnings));
  CHECK(Contains(warnings.str(), "train-world: warning: song components: 32"));
}

TEST_CASE("Data check: no splits, a missing split, and nothing learnable") {
  auto d = Good();
  CHECK_THROWS_AS(CheckData(d, {{1}}), ArgumentError);
  CHECK(CheckData(d, {{0}}).empty());
  // Every signal unusable on the train users: nothing to train.
  ForPart(d, Part::kTrain, [&](std::size_t i) {
    d.interactions.engagement[i] = 0.5f;
    d.interactions.has_rating[i] = 0;
    d.interactions.rating[i] = 0;
  });
  for (std::size_t k = 0; k < d.sessions.size(); ++k)
    if (d.sessions.user[k] < 6) d.sessions.has_post[k] = 0, d.sessions.post_valence[k] = d.sessions.post_arousal[k] = 0;
  auto fs = CheckData(d);
  CHECK(Of(fs, "signals", Part::kTrain, Severity::kError).size() == 1);
  d.splits.clear();
  fs = CheckData(d);
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].signal == "splits");
  CHECK(fs[0].severity == Severity::kError);
}

TEST_CASE("Signal counts come from the token view (affect on song tokens)") {
  const auto d = Good();
  const TokenView view(d);
  const auto c = CountSignals(view, d.splits[0].val);
  CHECK(c.users == 2);
  CHECK(c.song_tokens == 48);
  CHECK(c.n[0] == 48);
  CHECK(c.n[1] == 48);
  CHECK(c.likes + c.dislikes == 48);
  CHECK(c.likes == 24);
  CHECK(c.n[2] == 12);  // one post-session report per session, on its last song token
  CHECK(c.n[3] == 12);
  CHECK(UnusableReason(c, 0).empty());
  CHECK(std::isnan(CountSignals(view, {}).Mean(0)));
  CHECK(UnusableReason(CountSignals(view, {}), 1) == "no ratings");
}
