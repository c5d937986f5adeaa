// CSV / .npy import (docs/csv-import.md) and the DEAM catalogue fixture.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/data/csv_import.h"
#include "amrs/data/dataset.h"
#include "amrs/data/summary.h"
#include "test_util.h"

namespace amrs::data {
namespace {

using amrs::testing::TempDir;

// The CSV form of testing::TinyDataset(), sorted, with the canonical column order. Comments give
// the physical line numbers that the error tests rely on.
const std::string kEmbeddings =
    "song_id,d0,d1,d2\n"  // 1
    "10,0,0,1\n"          // 2
    "11,0,1,0\n"          // 3
    "12,1,0,0\n"          // 4
    "13,1,1,1\n";         // 5
const std::string kSessions =
    "session_id,user_id,order,pre_valence,pre_arousal,post_valence,post_arousal,mode\n"  // 1
    "1000,100,0,0.5,0.5,0.6,0.4,energize\n"                                              // 2
    "1001,100,1,0.4,0.3,,,\n"                                                            // 3
    "1002,101,0,0.6,0.7,0.7,0.6,calm\n"                                                  // 4
    "1003,102,0,0.2,0.9,0.3,0.8,sleep\n";                                                // 5
const std::string kInteractions =
    "user_id,session_id,position,song_id,engagement,rating\n"  // 1
    "100,1000,0,10,1,1\n"                                      // 2
    "100,1000,1,11,0.1,0\n"                                    // 3
    "100,1001,0,12,0.5,\n"                                     // 4
    "101,1002,0,13,1,1\n"                                      // 5
    "101,1002,1,10,0.9,\n"                                     // 6
    "102,1003,0,11,0.05,\n"                                    // 7
    "102,1003,1,11,1,1\n";                                     // 8

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "fixture has no '" << from << "'");
  return s.replace(at, from.size(), to);
}

CsvImportSpec WriteSpec(const TempDir& dir, const std::string& interactions = kInteractions,
                        const std::string& sessions = kSessions,
                        const std::string& embeddings = kEmbeddings) {
  WriteFile(dir.File("interactions.csv"), interactions);
  WriteFile(dir.File("sessions.csv"), sessions);
  WriteFile(dir.File("f.csv"), embeddings);
  CsvImportSpec spec;
  spec.interactions_csv = dir.File("interactions.csv");
  spec.sessions_csv = dir.File("sessions.csv");
  spec.embeddings = {{"f", dir.File("f.csv")}};
  return spec;
}

// The bytes of a .npy file (format `major`.0) holding `data` (raw little-endian element bytes).
std::string NpyBytes(const std::string& descr, const std::string& shape, const std::string& data,
                     int major = 1, const std::string& fortran = "False") {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::uint32_t len = static_cast<std::uint32_t>(dict.size());
  for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b)
    out += static_cast<char>((len >> (8 * b)) & 0xff);
  return out + dict + data;
}

template <typename T>
std::string RawBytes(const std::vector<T>& v) {  // the test host is little-endian (x86, arm64)
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

const std::vector<float> kTinyValues = {0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1};

void CheckSameFamilies(const Dataset& a, const Dataset& b) {
  REQUIRE(a.families.size() == b.families.size());
  for (std::size_t k = 0; k < a.families.size(); ++k) {
    CHECK(a.families[k].name == b.families[k].name);
    CHECK(a.families[k].dim == b.families[k].dim);
    CHECK(a.families[k].values == b.families[k].values);
  }
}

// Every field except attributes and the oracle.
void CheckSame(const Dataset& a, const Dataset& b) {
  CHECK(a.song_ids == b.song_ids);
  CheckSameFamilies(a, b);
  CHECK(a.user_ids == b.user_ids);
  CHECK(a.song_valence == b.song_valence);
  CHECK(a.song_arousal == b.song_arousal);
  const auto &s = a.sessions, &t = b.sessions;
  CHECK(s.id == t.id);
  CHECK(s.user == t.user);
  CHECK(s.order == t.order);
  CHECK(s.pre_valence == t.pre_valence);
  CHECK(s.pre_arousal == t.pre_arousal);
  CHECK(s.post_valence == t.post_valence);
  CHECK(s.post_arousal == t.post_arousal);
  CHECK(s.has_post == t.has_post);
  CHECK(s.mode == t.mode);
  const auto &i = a.interactions, &j = b.interactions;
  CHECK(i.user == j.user);
  CHECK(i.session == j.session);
  CHECK(i.position == j.position);
  CHECK(i.song == j.song);
  CHECK(i.engagement == j.engagement);
  CHECK(i.rating == j.rating);
  CHECK(i.has_rating == j.has_rating);
  CHECK(a.splits.size() == b.splits.size());
}

// The message of the InputError that `f` throws; fails the test if it throws nothing else.
std::string InputErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected InputError, got another exception: " << e.what());
  }
  FAIL("expected InputError, nothing was thrown");
  return {};
}

// Imports `spec` and checks that the error message contains every fragment.
void CheckImportError(const CsvImportSpec& spec, const std::vector<std::string>& fragments) {
  const std::string msg = InputErrorOf([&] { ImportCsv(spec); });
  for (const auto& f : fragments) CHECK_MESSAGE(msg.find(f) != std::string::npos, msg);
}

}  // namespace

TEST_CASE("csv import: round trip through CSV and HDF5") {
  TempDir dir;
  const auto spec = WriteSpec(dir);
  const Dataset d = ImportCsv(spec);
  CheckSame(d, testing::TinyDataset());
  CHECK(d.attributes.at("source") == "csv-import");
  CHECK(d.splits.empty());

  WriteDataset(d, dir.File("tiny.h5"));
  const Dataset back = ReadDataset(dir.File("tiny.h5"));
  CheckSame(back, d);
  CHECK(back.attributes == d.attributes);
  CHECK(Fingerprint(back) == Fingerprint(d));
}

TEST_CASE("csv import: embeddings from .npy (float32, float64, v2 header)") {
  TempDir dir;
  auto spec = WriteSpec(dir);
  const Dataset csv = ImportCsv(spec);
  const std::vector<double> as_double(kTinyValues.begin(), kTinyValues.end());

  SUBCASE("float32 with songs_csv") {
    WriteFile(dir.File("songs.csv"), "song_id\n10\n11\n12\n13\n");
    WriteFile(dir.File("f.npy"), NpyBytes("<f4", "(4, 3)", RawBytes(kTinyValues)));
    spec.songs_csv = dir.File("songs.csv");
    spec.embeddings = {{"f", dir.File("f.npy")}};
    const Dataset d = ImportCsv(spec);
    CheckSame(d, csv);
    WriteDataset(d, dir.File("npy.h5"));
    CheckSame(ReadDataset(dir.File("npy.h5")), csv);
  }
  SUBCASE("float64, v2 header, order from the first CSV family") {
    WriteFile(dir.File("g.npy"), NpyBytes("<f8", "(4,3)", RawBytes(as_double), 2));
    spec.embeddings = {{"g", dir.File("g.npy")}, {"f", dir.File("f.csv")}};
    const Dataset d = ImportCsv(spec);
    CHECK(d.song_ids == csv.song_ids);
    REQUIRE(d.families.size() == 2);
    CHECK(d.families[0].name == "g");
    CHECK(d.families[0].dim == 3);
    CHECK(d.families[0].values == kTinyValues);
    CHECK(d.families[1].name == "f");
    CHECK(d.families[1].values == kTinyValues);
  }
  SUBCASE("songs_csv reorders a CSV family") {
    WriteFile(dir.File("songs.csv"), "song_id\n13\n12\n11\n10\n");
    spec.songs_csv = dir.File("songs.csv");
    const Dataset d = ImportCsv(spec);
    CHECK(d.song_ids == std::vector<std::int64_t>{13, 12, 11, 10});
    CHECK(d.families[0].values == std::vector<float>{1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(d.interactions.song == std::vector<std::int32_t>{3, 2, 1, 0, 3, 2, 2});
  }
  SUBCASE("ReadNpy directly") {
    WriteFile(dir.File("h.npy"), NpyBytes("<f8", "(2, 6)", RawBytes(as_double)));
    std::int64_t rows = 0, cols = 0;
    CHECK(ReadNpy(dir.File("h.npy"), rows, cols) == kTinyValues);
    CHECK(rows == 2);
    CHECK(cols == 6);
  }
}

TEST_CASE("csv import: unsorted input, free column order, blank lines, CRLF") {
  TempDir dir;
  const std::string interactions =
      "engagement , song_id,position,session_id ,user_id,rating\r\n"
      "1,11,1,1003,102,1\r\n"
      "\r\n"
      "0.05,11,0,1003,102,\r\n"
      "0.9,10,1,1002,101,\r\n"
      "0.1,11,1,1000,100,0\r\n"
      "0.5,12,0,1001,100,\r\n"
      "   \r\n"
      "1,13,0,1002,101,1\r\n"
      "1,10,0,1000,100,1\r\n";
  const std::string sessions =
      "mode,user_id,session_id,order,pre_arousal,pre_valence,post_arousal,post_valence\n"
      "sleep,102,1003,0,0.9,0.2,0.8,0.3\n"
      "none,100,1001,1,0.3,0.4,,\n"
      "\n"
      "\"calm\" ,101,1002,0,0.7,0.6,\"0.6\",0.7\n"
      "energize,100,1000,0,0.5,0.5,0.4,0.6\n";
  const std::string embeddings =
      "\xEF\xBB\xBFsong_id, a, b, c\n10,0,0,1\n11,0,1,0\n12,1,0,0\n13,1,1,1\n";
  const Dataset d = ImportCsv(WriteSpec(dir, interactions, sessions, embeddings));
  CheckSame(d, testing::TinyDataset());

  SUBCASE("gaps in order and position are kept") {
    const std::string gaps =
        "user_id,session_id,position,song_id,engagement\n"
        "100,1000,7,11,0.1\n100,1000,3,10,1\n";
    const std::string s2 =
        "session_id,user_id,order,pre_valence,pre_arousal\n"
        "1000,100,20,0.5,0.5\n1001,100,4,0.4,0.3\n";
    const Dataset e = ImportCsv(WriteSpec(dir, gaps, s2));
    CHECK(e.sessions.id == std::vector<std::int64_t>{1001, 1000});
    CHECK(e.sessions.order == std::vector<std::int32_t>{4, 20});
    CHECK(e.sessions.mode == std::vector<std::int8_t>{-1, -1});
    CHECK(e.sessions.has_post == std::vector<std::uint8_t>{0, 0});
    CHECK(e.interactions.session == std::vector<std::int32_t>{1, 1});
    CHECK(e.interactions.position == std::vector<std::int32_t>{3, 7});
    CHECK(e.interactions.song == std::vector<std::int32_t>{0, 1});
    CHECK(e.interactions.has_rating == std::vector<std::uint8_t>{0, 0});
  }
}

TEST_CASE("csv import: bad values name file, line and column") {
  TempDir dir;
  auto bad_interactions = [&](const std::string& from, const std::string& to) {
    return WriteSpec(dir, Replace(kInteractions, from, to));
  };
  auto bad_sessions = [&](const std::string& from, const std::string& to) {
    return WriteSpec(dir, kInteractions, Replace(kSessions, from, to));
  };
  auto bad_embeddings = [&](const std::string& from, const std::string& to) {
    return WriteSpec(dir, kInteractions, kSessions, Replace(kEmbeddings, from, to));
  };

  SUBCASE("engagement outside [0, 1]") {
    CheckImportError(bad_interactions("100,1000,1,11,0.1,0", "100,1000,1,11,1.5,0"),
                     {"interactions.csv:3: column 'engagement': value 1.5 is outside [0, 1]"});
  }
  SUBCASE("NaN and inf") {
    CheckImportError(bad_interactions("101,1002,0,13,1,1", "101,1002,0,13,nan,1"),
                     {"interactions.csv:5: column 'engagement':", "not finite"});
    CheckImportError(bad_sessions("1002,101,0,0.6,0.7", "1002,101,0,inf,0.7"),
                     {"sessions.csv:4: column 'pre_valence':", "not finite"});
    CheckImportError(bad_embeddings("12,1,0,0", "12,1,NaN,0"),
                     {"f.csv:4: column 'd1':", "not finite"});
  }
  SUBCASE("non-numeric text") {
    CheckImportError(bad_interactions("101,1002,1,10,0.9,", "101,1002,1,10,high,"),
                     {"interactions.csv:6: column 'engagement': value 'high' is not a number"});
    CheckImportError(bad_interactions("102,1003,0,11,0.05,", "102,1003,0,x11,0.05,"),
                     {"interactions.csv:7: column 'song_id': value 'x11' is not an integer"});
    CheckImportError(bad_interactions("100,1001,0,12,0.5,", "100,1001,0.5,12,0.5,"),
                     {"interactions.csv:4: column 'position':", "not an integer"});
    CheckImportError(bad_sessions("1003,102,0,0.2", "1003,102,first,0.2"),
                     {"sessions.csv:5: column 'order':", "not an integer"});
    CheckImportError(bad_embeddings("13,1,1,1", "13,1,1,one"),
                     {"f.csv:5: column 'd2':", "not a number"});
  }
  SUBCASE("empty required value") {
    CheckImportError(bad_interactions("100,1001,0,12,0.5,", "100,1001,0,12,,"),
                     {"interactions.csv:4: column 'engagement': value is empty"});
  }
  SUBCASE("unknown song id") {
    CheckImportError(bad_interactions("101,1002,1,10,0.9,", "101,1002,1,99,0.9,"),
                     {"interactions.csv:6: column 'song_id': song id 99 is not in the catalogue"});
  }
  SUBCASE("wrong field count") {
    CheckImportError(bad_interactions("100,1000,1,11,0.1,0", "100,1000,1,11,0.1"),
                     {"interactions.csv:3: column 'rating': value is missing",
                      "the line has 5 fields, the header has 6"});
    CheckImportError(bad_interactions("100,1000,1,11,0.1,0", "100,1000,1,11,0.1,0,7"),
                     {"interactions.csv:3: column 7: unexpected extra field"});
    CheckImportError(bad_sessions("1001,100,1,0.4,0.3,,,", "1001,100,1,0.4,0.3"),
                     {"sessions.csv:3: column 'post_valence': value is missing"});
  }
  SUBCASE("embeddings row with the wrong dimension") {
    CheckImportError(
        bad_embeddings("11,0,1,0", "11,0,1"),
        {"f.csv:3: column 'd2': value is missing", "the line has 3 fields, the header has 4"});
    CheckImportError(bad_embeddings("11,0,1,0", "11,0,1,0,1"),
                     {"f.csv:3: column 5: unexpected extra field"});
  }
  SUBCASE("unknown mode") {
    CheckImportError(bad_sessions("calm", "dance"),
                     {"sessions.csv:4: column 'mode': unknown session mode 'dance'"});
  }
  SUBCASE("rating other than 0, 1 or empty") {
    CheckImportError(bad_interactions("102,1003,1,11,1,1", "102,1003,1,11,1,2"),
                     {"interactions.csv:8: column 'rating': value '2' is not 0, 1 or empty"});
  }
  SUBCASE("post-session report with only one value") {
    CheckImportError(
        bad_sessions("0.3,0.8,sleep", ",0.8,sleep"),
        {"sessions.csv:5: column 'post_valence': value is empty", "give both or neither"});
  }
  SUBCASE("post-session report on a session without interactions") {
    auto spec = WriteSpec(dir, Replace(kInteractions, "100,1001,0,12,0.5,\n", ""),
                          Replace(kSessions, "0.4,0.3,,,", "0.4,0.3,0.5,0.5,"));
    CheckImportError(spec, {"sessions.csv:3: column 'post_valence':", "no interactions"});
  }
  SUBCASE("dangling references and duplicates") {
    CheckImportError(bad_interactions("101,1002,0,13,1,1", "101,1009,0,13,1,1"),
                     {"interactions.csv:5: column 'session_id': unknown session id 1009"});
    CheckImportError(bad_interactions("101,1002,0,13,1,1", "100,1002,0,13,1,1"),
                     {"interactions.csv:5: column 'user_id': user id 100 differs from the user "
                      "101 of session 1002"});
    CheckImportError(bad_interactions("102,1003,1,11,1,1", "102,1003,0,11,1,1"),
                     {"interactions.csv:8: column 'position': duplicate position 0 in session "
                      "1003 (first at line 7)"});
    CheckImportError(bad_sessions("1003,102,0", "1002,102,0"),
                     {"sessions.csv:5: column 'session_id': duplicate session id 1002 "
                      "(first at line 4)"});
    CheckImportError(bad_sessions("1001,100,1", "1001,100,0"),
                     {"sessions.csv:3: column 'order': duplicate order 0 for user 100 "
                      "(first at line 2)"});
  }
  SUBCASE("header problems") {
    CheckImportError(bad_interactions("engagement,rating", "engagement,rating,extra"),
                     {"interactions.csv:1: unknown column 'extra'"});
    CheckImportError(WriteSpec(dir, "user_id,session_id,position,song_id\n100,1000,0,10\n"),
                     {"interactions.csv:1: missing required column 'engagement'"});
    CheckImportError(bad_sessions("post_valence,post_arousal,mode", "post_valence,mode"),
                     {"sessions.csv:1:", "'post_arousal'"});
    CheckImportError(bad_interactions("user_id,session_id", "user_id,user_id"),
                     {"interactions.csv:1: column 'user_id' appears twice"});
    CheckImportError(bad_embeddings("song_id,", "id,"),
                     {"f.csv:1: the first column must be 'song_id'"});
    CheckImportError(WriteSpec(dir, ""), {"interactions.csv: empty file"});
  }
  SUBCASE("catalogue problems across families") {
    auto spec = WriteSpec(dir);
    WriteFile(dir.File("g.csv"), "song_id,x\n13,1\n10,2\n12,3\n11,4\n99,5\n");
    spec.embeddings.push_back({"g", dir.File("g.csv")});
    CheckImportError(spec, {"g.csv:6: column 'song_id': song id 99 is not in the catalogue"});
    WriteFile(dir.File("g.csv"), "song_id,x\n13,1\n10,2\n11,4\n");
    CheckImportError(spec, {"g.csv: song id 12 is missing", "f.csv line 4"});
    WriteFile(dir.File("g.csv"), "song_id,x\n13,1\n10,2\n12,3\n10,4\n11,4\n");
    CheckImportError(spec, {"g.csv:5: column 'song_id': duplicate song id 10 (first at line 3)"});
    CheckImportError(bad_embeddings("13,1,1,1", "11,1,1,1"),
                     {"f.csv:5: column 'song_id': duplicate song id 11 (first at line 3)"});
  }
  SUBCASE("missing file") {
    auto spec = WriteSpec(dir);
    spec.sessions_csv = dir.File("nope.csv");
    CheckImportError(spec, {"nope.csv: cannot open"});
    spec = WriteSpec(dir);
    spec.embeddings[0].second = dir.File("nope.npy");
    spec.songs_csv = dir.File("songs.csv");
    WriteFile(spec.songs_csv, "song_id\n10\n11\n12\n13\n");
    CheckImportError(spec, {"nope.npy: cannot open"});
  }
}

TEST_CASE("csv import: the errors of a file come together, the first 20 by line") {
  TempDir dir;
  SUBCASE("three bad interaction rows, each located") {
    std::string rows = Replace(kInteractions, "100,1000,1,11,0.1,0", "100,1000,1,11,1.5,0");
    rows = Replace(rows, "101,1002,1,10,0.9,", "101,1002,1,99,0.9,");
    rows = Replace(rows, "102,1003,1,11,1,1", "102,1003,1,11,1");
    const std::string msg = InputErrorOf([&] { ImportCsv(WriteSpec(dir, rows)); });
    for (const char* f : {"interactions.csv: 3 errors:\n",
                          "\n  " /* one per line */,
                          "interactions.csv:3: column 'engagement': value 1.5 is outside [0, 1]",
                          "interactions.csv:6: column 'song_id': song id 99 is not in the catalogue",
                          "interactions.csv:8: column 'rating': value is missing"})
      CHECK_MESSAGE(msg.find(f) != std::string::npos, msg);
    CHECK(msg.find("more") == std::string::npos);
    // In line order.
    CHECK(msg.find("csv:3:") < msg.find("csv:6:"));
    CHECK(msg.find("csv:6:") < msg.find("csv:8:"));
  }
  SUBCASE("25 bad rows: the first 20 and a count of the rest") {
    std::string rows = "user_id,session_id,position,song_id,engagement\n";
    for (int k = 0; k < 25; ++k) rows += "100,1000," + std::to_string(k) + ",10,2\n";  // lines 2..26
    const std::string msg = InputErrorOf([&] { ImportCsv(WriteSpec(dir, rows)); });
    CHECK_MESSAGE(msg.find("interactions.csv: 25 errors (the first 20):\n") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("interactions.csv:21: column 'engagement'") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("interactions.csv:22:") == std::string::npos, msg);
    CHECK_MESSAGE(msg.substr(msg.size() - 14) == "... and 5 more", msg);
    std::size_t lines = 0;
    for (const char c : msg) lines += c == '\n';
    CHECK(lines == 21);  // 20 errors and the count
  }
  SUBCASE("a sessions file: row errors and duplicate orders sorted by line") {
    std::string rows = Replace(kSessions, "1001,100,1", "1001,100,0");      // line 3: duplicate order
    rows = Replace(rows, "1003,102,0,0.2,0.9", "1003,102,0,0.2,1.9");       // line 5: range
    rows = Replace(rows, "1000,100,0,0.5,0.5,0.6,0.4,energize", "1000,100,0,0.5,0.5,0.6,0.4,dance");
    const std::string msg = InputErrorOf([&] { ImportCsv(WriteSpec(dir, kInteractions, rows)); });
    CHECK_MESSAGE(msg.find("sessions.csv: 2 errors:\n") != std::string::npos, msg);  // row 2 skipped: no duplicate
    CHECK_MESSAGE(msg.find("sessions.csv:2: column 'mode': unknown session mode 'dance'") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("sessions.csv:5: column 'pre_arousal': value 1.9 is outside [0, 1]") !=
                      std::string::npos, msg);
    // With row 2 fixed, the duplicate order at line 3 joins the range error at line 5.
    rows = Replace(rows, "dance", "energize");
    const std::string both = InputErrorOf([&] { ImportCsv(WriteSpec(dir, kInteractions, rows)); });
    CHECK_MESSAGE(both.find("sessions.csv: 2 errors:\n") != std::string::npos, both);
    CHECK_MESSAGE(both.find("sessions.csv:3: column 'order': duplicate order 0") < both.find("sessions.csv:5:"),
                  both);
  }
  SUBCASE("an embeddings file: a bad row and a missing song") {
    auto spec = WriteSpec(dir);
    WriteFile(dir.File("g.csv"), "song_id,x\n13,1\n10,two\n11,4\n");
    spec.embeddings.push_back({"g", dir.File("g.csv")});
    const std::string msg = InputErrorOf([&] { ImportCsv(spec); });
    CHECK_MESSAGE(msg.find("g.csv: 2 errors:\n") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("g.csv:3: column 'x': value 'two' is not a number") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("g.csv: song id 12 is missing") > msg.find("g.csv:3:"), msg);  // after the lines
  }
  SUBCASE("the import stops at the first file with errors") {
    const std::string msg = InputErrorOf([&] {
      ImportCsv(WriteSpec(dir, Replace(kInteractions, "0.1,0", "9,0"), Replace(kSessions, "0.2,0.9", "0.2,9")));
    });
    CHECK_MESSAGE(msg.find("sessions.csv:5: column 'pre_arousal'") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("interactions.csv") == std::string::npos, msg);
  }
}

namespace {

// The fixture files with `delim` for commas (none of the fixture's fields contain a comma).
CsvImportSpec WriteSpecWith(const TempDir& dir, char delim) {
  auto with = [delim](std::string s) {
    std::replace(s.begin(), s.end(), ',', delim);
    return s;
  };
  auto spec = WriteSpec(dir, with(kInteractions), with(kSessions), with(kEmbeddings));
  WriteFile(dir.File("songs.csv"), "song_id\n10\n11\n12\n13\n");
  spec.songs_csv = dir.File("songs.csv");
  return spec;
}

}  // namespace

TEST_CASE("csv import: --delimiter comma, tab, semicolon and auto") {
  TempDir dir;
  CHECK(ParseDelimiter("auto") == Delimiter::kAuto);
  CHECK(ParseDelimiter("comma") == Delimiter::kComma);
  CHECK(ParseDelimiter("tab") == Delimiter::kTab);
  CHECK(ParseDelimiter("semicolon") == Delimiter::kSemicolon);
  CHECK_THROWS_WITH_AS(ParseDelimiter("pipe"), doctest::Contains("unknown delimiter 'pipe'"), ArgumentError);
  CHECK(CsvImportSpec{}.delimiter == Delimiter::kAuto);

  const std::vector<std::pair<char, Delimiter>> cases = {
      {',', Delimiter::kComma}, {'\t', Delimiter::kTab}, {';', Delimiter::kSemicolon}};
  for (const auto& cd : cases) {
    const char c = cd.first;  // (no structured binding: clang's C++17 refuses capturing one in CAPTURE)
    const Delimiter d = cd.second;
    CAPTURE(DelimiterName(d));
    for (const auto chosen : {d, Delimiter::kAuto}) {
      auto spec = WriteSpecWith(dir, c);
      spec.delimiter = chosen;
      CheckSame(ImportCsv(spec), testing::TinyDataset());
    }
  }
  SUBCASE("tab: empty fields and quoted fields with spaces") {
    const std::string sessions =
        "session_id\tuser_id\torder\tpre_valence\tpre_arousal\tpost_valence\tpost_arousal\tmode\n"
        "1000\t100\t0\t0.5\t0.5\t0.6\t0.4\t\"energize\"\n"
        "1001\t100\t1\t0.4\t0.3\t\t\t\n"
        "1002\t101\t0\t0.6\t0.7\t0.7\t0.6\t calm\n"
        "1003\t102\t0\t0.2\t0.9\t0.3\t0.8\tsleep\n";
    auto spec = WriteSpecWith(dir, '\t');
    WriteFile(spec.sessions_csv, sessions);
    CheckSame(ImportCsv(spec), testing::TinyDataset());
  }
  SUBCASE("semicolon with a decimal comma: the error says so") {
    auto spec = WriteSpecWith(dir, ';');
    WriteFile(spec.interactions_csv, Replace(ReadText(spec.interactions_csv), "0.05", "0,05"));
    CheckImportError(spec, {"interactions.csv:7: column 'engagement': value '0,05' is not a number",
                            "decimal separator must be '.'"});
  }
}

TEST_CASE("csv import: a header that looks like another delimiter gets a hint") {
  TempDir dir;
  auto tabbed = [](std::string t) {
    std::replace(t.begin(), t.end(), ',', '\t');
    return t;
  };
  SUBCASE("a tab-separated embeddings file read as comma (the issue's example)") {
    auto spec = WriteSpec(dir, kInteractions, kSessions, tabbed(kEmbeddings));
    spec.delimiter = Delimiter::kComma;
    CheckImportError(spec, {"f.csv:1: the first column must be 'song_id', got 'song_id\td0\td1\td2'",
                            "; the header looks tab-separated: use --delimiter tab (or auto)"});
    spec.delimiter = Delimiter::kAuto;
    CheckSame(ImportCsv(spec), testing::TinyDataset());
  }
  SUBCASE("tab-separated sessions and interactions read as comma") {
    auto spec = WriteSpec(dir, kInteractions, tabbed(kSessions));
    spec.delimiter = Delimiter::kComma;
    CheckImportError(spec, {"sessions.csv:1: unknown column 'session_id\tuser_id",
                            "the header looks tab-separated: use --delimiter tab (or auto)"});
    spec = WriteSpec(dir, tabbed(kInteractions));
    spec.delimiter = Delimiter::kComma;
    CheckImportError(spec, {"interactions.csv:1: unknown column 'user_id\tsession_id",
                            "the header looks tab-separated: use --delimiter tab (or auto)"});
  }
  SUBCASE("semicolon embeddings read as comma") {
    std::string semi = kEmbeddings;
    std::replace(semi.begin(), semi.end(), ',', ';');
    auto spec = WriteSpec(dir, kInteractions, kSessions, semi);
    spec.delimiter = Delimiter::kComma;
    CheckImportError(spec, {"f.csv:1: the first column must be 'song_id', got 'song_id;d0;d1;d2'",
                            "the header looks semicolon-separated: use --delimiter semicolon (or auto)"});
  }
  SUBCASE("comma-separated songs file read as tab") {
    auto spec = WriteSpecWith(dir, '\t');
    WriteFile(spec.songs_csv, "song_id,title\n10,a\n");
    spec.delimiter = Delimiter::kTab;
    CheckImportError(spec, {"songs.csv:1: unknown column 'song_id,title'",
                            "the header looks comma-separated: use --delimiter comma (or auto)"});
  }
  SUBCASE("no hint when the header is consistent with the delimiter") {
    const std::string msg = InputErrorOf([&] { ImportCsv(WriteSpec(dir, Replace(kInteractions, "rating", "ratings"))); });
    CHECK_MESSAGE(msg.find("unknown column 'ratings'") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("looks") == std::string::npos, msg);
  }
}

TEST_CASE("csv import: per-song valence and arousal columns") {
  TempDir dir;
  const std::string with_affect =
      "user_id,session_id,position,song_id,engagement,rating,valence,arousal\n"  // 1
      "100,1000,0,10,1,1,0.1,0.9\n"                                              // 2
      "100,1000,1,11,0.1,0,,\n"                                                  // 3
      "100,1001,0,12,0.5,,0.3,0.7\n"                                             // 4
      "101,1002,0,13,1,1,1,0\n"                                                  // 5
      "101,1002,1,10,0.9,,,\n"                                                   // 6
      "102,1003,0,11,0.05,,,\n"                                                  // 7
      "102,1003,1,11,1,1,0.5,0.5\n";                                             // 8
  const Dataset d = ImportCsv(WriteSpec(dir, with_affect));
  CheckSame(d, testing::TinyDataset());  // every other column as without them
  const auto& it = d.interactions;
  REQUIRE(it.has_song_affect());
  CHECK(it.has_affect == std::vector<std::uint8_t>{1, 0, 1, 1, 0, 0, 1});
  CHECK(it.valence == std::vector<float>{0.1f, 0.f, 0.3f, 1.f, 0.f, 0.f, 0.5f});
  CHECK(it.arousal == std::vector<float>{0.9f, 0.f, 0.7f, 0.f, 0.f, 0.f, 0.5f});
  WriteDataset(d, dir.File("affect.h5"));
  const Dataset back = ReadDataset(dir.File("affect.h5"));
  CHECK(back.interactions.valence == it.valence);
  CHECK(back.interactions.has_affect == it.has_affect);
  CHECK(Fingerprint(back) == Fingerprint(d));
  // Without the columns: none, and the fingerprint of the plain import.
  const Dataset plain = ImportCsv(WriteSpec(dir));
  CHECK_FALSE(plain.interactions.has_song_affect());
  CHECK(Fingerprint(plain) != Fingerprint(d));

  SUBCASE("summarize counts the per-song reports, as a row only when the columns exist") {
    CHECK(Summarize(d).song_reports == 4);
    CHECK(FormatSummary(d, Summarize(d), std::nullopt).find("Per-song valence/arousal") != std::string::npos);
    CHECK(Summarize(plain).song_reports == 0);
    CHECK(FormatSummary(plain, Summarize(plain), std::nullopt).find("Per-song") == std::string::npos);
  }
  SUBCASE("bad values are located, all in one report") {
    std::string bad = Replace(with_affect, "100,1000,0,10,1,1,0.1,0.9", "100,1000,0,10,1,1,1.2,0.9");
    bad = Replace(bad, "100,1001,0,12,0.5,,0.3,0.7", "100,1001,0,12,0.5,,0.3,");
    bad = Replace(bad, "102,1003,1,11,1,1,0.5,0.5", "102,1003,1,11,1,1,0.5,high");
    CheckImportError(WriteSpec(dir, bad),
                     {"interactions.csv: 3 errors:",
                      "interactions.csv:2: column 'valence': value 1.2 is outside [0, 1]",
                      "interactions.csv:4: column 'arousal': value is empty but the other per-song affect value "
                      "is given (give both or neither)",
                      "interactions.csv:8: column 'arousal': value 'high' is not a number"});
  }
  SUBCASE("both columns or neither") {
    CheckImportError(WriteSpec(dir, Replace(with_affect, ",arousal\n", "\n")),
                     {"interactions.csv:1: column 'valence' needs column 'arousal'"});
    CheckImportError(WriteSpec(dir, Replace(kInteractions, "rating\n", "rating,arousal\n")),
                     {"interactions.csv:1: column 'arousal' needs column 'valence'"});
  }
  SUBCASE("a tab-separated file with the columns") {
    std::string tabbed = with_affect;
    std::replace(tabbed.begin(), tabbed.end(), ',', '\t');
    CHECK(ImportCsv(WriteSpec(dir, tabbed)).interactions.valence == it.valence);
  }
}

TEST_CASE("csv import: bad .npy files name the file") {
  TempDir dir;
  auto spec = WriteSpec(dir);
  WriteFile(dir.File("songs.csv"), "song_id\n10\n11\n12\n13\n");
  spec.songs_csv = dir.File("songs.csv");
  spec.embeddings = {{"f", dir.File("f.npy")}};
  auto check = [&](const std::string& bytes, const std::string& fragment) {
    WriteFile(dir.File("f.npy"), bytes);
    CheckImportError(spec, {"f.npy: ", fragment});
  };
  const std::string data = RawBytes(kTinyValues);
  check(NpyBytes("<f4", "(4, 3)", data.substr(0, data.size() - 4)), "truncated");
  check(NpyBytes("<f4", "(4, 3)", data).substr(0, 40), "truncated .npy header");
  check(NpyBytes("<f4", "(4, 3)", data + "xx"), "extra bytes");
  check(NpyBytes("<f4", "(4, 3)", data, 1, "True"), "fortran_order is True");
  check(NpyBytes("<i4", "(4, 3)", data), "dtype '<i4' is not supported");
  check(NpyBytes(">f4", "(4, 3)", data), "big-endian");
  check(NpyBytes("<f4", "(12,)", data), "expected a 2-D array");
  check(NpyBytes("<f4", "(2, 2, 3)", data), "got 3 dimensions");
  check(NpyBytes("<f4", "(3, 4)", data), "has 3 rows, expected 4");
  check("not a numpy file at all", "not a .npy file");
  check(Replace(NpyBytes("<f4", "(4, 3)", data), "'shape'", "'shapf'"), "malformed .npy header");
  std::vector<float> nan = kTinyValues;
  nan[7] = std::nanf("");
  check(NpyBytes("<f4", "(4, 3)", RawBytes(nan)), "row 2 (song id 12), column 1");

  // .npy only, with neither a songs file nor a CSV family: no song order.
  spec.songs_csv.clear();
  WriteFile(dir.File("f.npy"), NpyBytes("<f4", "(4, 3)", data));
  CHECK_THROWS_WITH_AS(ImportCsv(spec), doctest::Contains("f.npy"), ArgumentError);
}

TEST_CASE("deam import: tiny fixture") {
  TempDir dir;
  WriteFile(dir.File("features.csv"),
            "a,b,tempo,file,emotion\n"
            "1,5,[100],2.wav,sad\n"
            "2,5,[120.5],3.wav,happy\n"
            "3,5,[140],4.wav,calm\n");
  WriteFile(dir.File("ann1.csv"),
            "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
            "2,3.1,0.94,3,0.63\n"
            "3,5,1,9,1\n"
            "77,5,1,5,1\n");  // annotated but without features: ignored
  WriteFile(dir.File("ann2.csv"),
            "song_id, valence_mean, valence_std, valence_ max_mean, arousal_mean, arousal_std\n"
            "4,1,0,2,5,1\n");
  const Dataset d =
      ImportDeamCatalogue(dir.File("features.csv"), {dir.File("ann1.csv"), dir.File("ann2.csv")});
  CHECK(d.song_ids == std::vector<std::int64_t>{2, 3, 4});
  REQUIRE(d.families.size() == 1);
  const auto& f = d.families[0];
  CHECK(f.name == "deam");
  CHECK(f.dim == 3);
  const float z = static_cast<float>(std::sqrt(1.5));  // (x - 2) / sqrt(2/3) for x = 1, 2, 3
  CHECK(f.values[0] == doctest::Approx(-z));
  CHECK(f.values[3] == doctest::Approx(0));
  CHECK(f.values[6] == doctest::Approx(z));
  CHECK(f.values[1] == 0.f);  // constant column
  CHECK(f.values[4] == 0.f);
  const double tempo_mean = (100 + 120.5 + 140) / 3.0;
  const double tempo_sd =
      std::sqrt((std::pow(100 - tempo_mean, 2) + std::pow(120.5 - tempo_mean, 2) +
                 std::pow(140 - tempo_mean, 2)) /
                3.0);
  CHECK(f.values[2] == doctest::Approx((100 - tempo_mean) / tempo_sd));  // "[100]" parsed
  CHECK(d.song_valence == std::vector<float>{2.1f / 8, 0.5f, 0.f});
  CHECK(d.song_arousal == std::vector<float>{0.25f, 1.f, 0.5f});
  CHECK(d.user_ids.empty());
  CHECK(d.sessions.size() == 0);
  CHECK(d.interactions.size() == 0);
  CHECK(d.attributes.at("source") == "deam-import");

  // A catalogue-only dataset validates and survives HDF5.
  WriteDataset(d, dir.File("deam.h5"));
  const Dataset back = ReadDataset(dir.File("deam.h5"));
  CheckSame(back, d);

  // Without annotation files the valence/arousal stay empty.
  CHECK(ImportDeamCatalogue(dir.File("features.csv"), {}, "x").song_valence.empty());

  SUBCASE("errors") {
    auto msg = InputErrorOf(
        [&] { ImportDeamCatalogue(dir.File("features.csv"), {dir.File("ann1.csv")}); });
    CHECK_MESSAGE(msg.find("features.csv:4: column 'file': song id 4 has no valence/arousal") !=
                      std::string::npos,
                  msg);
    WriteFile(dir.File("bad.csv"), "a,tempo,file,emotion\n1,[x],2.wav,sad\n");
    msg = InputErrorOf([&] { ImportDeamCatalogue(dir.File("bad.csv"), {}); });
    CHECK_MESSAGE(msg.find("bad.csv:2: column 'tempo':") != std::string::npos, msg);
    WriteFile(dir.File("bad.csv"), "a,tempo,file,emotion\n1,[3],two.wav,sad\n");
    msg = InputErrorOf([&] { ImportDeamCatalogue(dir.File("bad.csv"), {}); });
    CHECK_MESSAGE(msg.find("bad.csv:2: column 'file':") != std::string::npos, msg);
    WriteFile(dir.File("ann3.csv"), "song_id, valence_mean, arousal_mean\n4,10,5\n");
    msg = InputErrorOf([&] {
      ImportDeamCatalogue(dir.File("features.csv"), {dir.File("ann1.csv"), dir.File("ann3.csv")});
    });
    CHECK_MESSAGE(
        msg.find("ann3.csv:2: column 'valence_mean': value 10 is outside the 1-9 scale") !=
            std::string::npos,
        msg);
    msg = InputErrorOf([&] {
      ImportDeamCatalogue(dir.File("features.csv"), {dir.File("ann1.csv"), dir.File("ann1.csv")});
    });
    CHECK_MESSAGE(
        msg.find("ann1.csv:2: column 'song_id': duplicate annotation") != std::string::npos, msg);
  }
  SUBCASE("the errors of a DEAM file come together") {
    WriteFile(dir.File("bad.csv"), "a,tempo,file,emotion\n1,[x],2.wav,sad\n2,[3],3.wav,sad\n3,[3],four.wav,sad\n4,5,3.wav,sad\n");
    auto msg = InputErrorOf([&] { ImportDeamCatalogue(dir.File("bad.csv"), {}); });
    CHECK_MESSAGE(msg.find("bad.csv: 3 errors:\n") != std::string::npos, msg);
    for (const char* e : {"bad.csv:2: column 'tempo':", "bad.csv:4: column 'file':",
                          "bad.csv:5: column 'file': duplicate song id 3 (first at line 3)"})
      CHECK_MESSAGE(msg.find(e) != std::string::npos, msg);
    WriteFile(dir.File("ann4.csv"), "song_id, valence_mean, arousal_mean\n2,10,5\nx,5,5\n3,5,0\n");
    msg = InputErrorOf([&] { ImportDeamCatalogue(dir.File("features.csv"), {dir.File("ann4.csv")}); });
    CHECK_MESSAGE(msg.find("ann4.csv: 3 errors:\n") != std::string::npos, msg);
  }
}

TEST_CASE("deam import: the shared DEAM fixture") {
  // The fixture is the project's shared folder (not in the repository): ../shared beside the
  // checkout, as CI lays it, or the folder named by AMRS_SHARED_DIR. A missing fixture fails.
  const char* env = std::getenv("AMRS_SHARED_DIR");
  const std::string root = std::string(env && *env ? env : AMRS_SHARED_DIR) + "/data/deam";
  REQUIRE_MESSAGE(std::filesystem::is_directory(root),
                  "the DEAM fixture " << root
                                      << " does not exist: put the project's shared/ folder beside the checkout "
                                         "(../shared) or set AMRS_SHARED_DIR to it");
  const Dataset d = ImportDeamCatalogue(
      root + "/deam_features.csv", {root + "/static_annotations_averaged_songs_1_2000.csv",
                                    root + "/static_annotations_averaged_songs_2000_2058.csv"});
  CHECK(d.num_songs() == 1802);
  REQUIRE(d.families.size() == 1);
  // Every column but `file` and `emotion` is a feature: 73 summary features (MFCC 1-13 and their
  // deltas, mean and std; chroma; contrast; bandwidth; rolloff; tonnetz; zcr) plus tempo.
  CHECK(d.families[0].dim == 74);
  REQUIRE(d.song_valence.size() == 1802);
  REQUIRE(d.song_arousal.size() == 1802);
  bool in_unit = true;
  for (std::size_t i = 0; i < 1802; ++i)
    in_unit = in_unit && d.song_valence[i] >= 0 && d.song_valence[i] <= 1 &&
              d.song_arousal[i] >= 0 && d.song_arousal[i] <= 1;
  CHECK(in_unit);
  std::size_t song2 = 0;
  while (song2 < d.song_ids.size() && d.song_ids[song2] != 2) ++song2;
  REQUIRE(song2 < d.song_ids.size());
  CHECK(d.song_valence[song2] == doctest::Approx((3.1 - 1) / 8));
  CHECK(d.song_arousal[song2] == doctest::Approx((3.0 - 1) / 8));
  // Each standardized column has mean 0 and SD 1.
  const auto& f = d.families[0];
  double worst = 0;
  for (std::int32_t c = 0; c < f.dim; ++c) {
    double sum = 0, sq = 0;
    for (std::int32_t i = 0; i < d.num_songs(); ++i) {
      const double v = f.values[std::size_t(i) * f.dim + c];
      sum += v, sq += v * v;
    }
    const double mean = sum / d.num_songs();
    worst = std::max({worst, std::abs(mean), std::abs(sq / d.num_songs() - 1)});
  }
  CHECK(worst < 1e-4);
  TempDir dir;
  WriteDataset(d, dir.File("deam.h5"));
  CheckSame(ReadDataset(dir.File("deam.h5")), d);
}

}  // namespace amrs::data
