#include <doctest/doctest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "amrs/core/error.h"
#include "amrs/core/memory.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/data/synthetic.h"
#include "test_util.h"

using namespace amrs;
using amrs::testing::TempDir;
using amrs::testing::TinyDataset;

namespace {

// Overwrites one element of a 1-D dataset in an existing file (bypassing the validating writer).
template <typename T>
void Poke(const std::string& path, const std::string& name, std::size_t row, T value, hid_t type) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  hid_t sp = H5Dget_space(ds);
  const hssize_t n = H5Sget_simple_extent_npoints(sp);
  std::vector<T> v(static_cast<std::size_t>(n));
  H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  v.at(row) = value;
  H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(sp), H5Dclose(ds), H5Fclose(f);
}

// Replaces a scalar attribute of an object in an existing file (deleted and recreated: HDF5 1.10
// cannot rewrite some attributes in dense storage in place).
template <typename T>
void PokeAttr(const std::string& path, const std::string& obj, const std::string& attr, T value, hid_t type) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Adelete_by_name(f, obj.c_str(), attr.c_str(), H5P_DEFAULT) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate_by_name(f, obj.c_str(), attr.c_str(), type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(a >= 0);
  REQUIRE(H5Awrite(a, type, &value) >= 0);
  H5Aclose(a), H5Sclose(sp), H5Fclose(f);
}

std::string ErrorOf(const std::string& path) {
  try {
    data::ReadDataset(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

std::size_t FilesIn(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

// Adds a 1-d string dataset of `count` elements to an existing file, bypassing the writer: string
// size `size` (H5T_VARIABLE for variable-length strings), with `value` written when given.
void AddStringDataset(const std::string& path, const char* name, std::size_t size, hsize_t count, const char* value) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, size);
  hid_t sp = H5Screate_simple(1, &count, nullptr);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(f, name, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  if (value) REQUIRE(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0);
  H5Dclose(ds), H5Pclose(lcpl), H5Sclose(sp), H5Tclose(t), H5Fclose(f);
}

}  // namespace

TEST_CASE("A dataset round-trips through HDF5 exactly") {
  TempDir tmp;
  auto d = TinyDataset();
  d.splits = {{{0}, {1}, {2}}};
  d.split_seed = 42;
  d.attributes["source"] = "test";
  const auto path = tmp.File("d.h5");
  data::WriteDataset(d, path);
  const auto r = data::ReadDataset(path);
  CHECK(r.song_ids == d.song_ids);
  REQUIRE(r.families.size() == 1);
  CHECK(r.families[0].name == "f");
  CHECK(r.families[0].dim == 3);
  CHECK(r.families[0].values == d.families[0].values);
  CHECK(r.user_ids == d.user_ids);
  CHECK(r.sessions.id == d.sessions.id);
  CHECK(r.sessions.user == d.sessions.user);
  CHECK(r.sessions.pre_valence == d.sessions.pre_valence);
  CHECK(r.sessions.post_arousal == d.sessions.post_arousal);
  CHECK(r.sessions.has_post == d.sessions.has_post);
  CHECK(r.sessions.mode == d.sessions.mode);
  CHECK(r.interactions.song == d.interactions.song);
  CHECK(r.interactions.engagement == d.interactions.engagement);
  CHECK(r.interactions.rating == d.interactions.rating);
  CHECK(r.interactions.has_rating == d.interactions.has_rating);
  REQUIRE(r.splits.size() == 1);
  CHECK(r.splits[0].val == std::vector<std::int32_t>{1});
  CHECK(r.split_seed == 42);
  CHECK(r.attributes.at("source") == "test");
  CHECK(data::Fingerprint(r) == data::Fingerprint(d));
}

TEST_CASE("The reader names dataset, field and row of the first problem") {
  TempDir tmp;
  const auto path = tmp.File("d.h5");
  data::WriteDataset(TinyDataset(), path);

  SUBCASE("NaN") {
    Poke<float>(path, "/interactions/engagement", 3, NAN, H5T_NATIVE_FLOAT);
    const auto msg = ErrorOf(path);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("interactions/engagement row 3") != std::string::npos);
    CHECK(msg.find("not finite") != std::string::npos);
  }
  SUBCASE("engagement outside [0, 1]") {
    Poke<float>(path, "/interactions/engagement", 5, 1.5f, H5T_NATIVE_FLOAT);
    const auto msg = ErrorOf(path);
    CHECK(msg.find("interactions/engagement row 5") != std::string::npos);
    CHECK(msg.find("outside [0, 1]") != std::string::npos);
  }
  SUBCASE("pre-session valence outside [0, 1]") {
    Poke<float>(path, "/sessions/pre_valence", 2, -0.1f, H5T_NATIVE_FLOAT);
    CHECK(ErrorOf(path).find("sessions/pre_valence row 2") != std::string::npos);
  }
  SUBCASE("unknown song id") {
    Poke<std::int64_t>(path, "/interactions/song_id", 2, 999, H5T_NATIVE_INT64);
    const auto msg = ErrorOf(path);
    CHECK(msg.find("interactions/song_id row 2") != std::string::npos);
    CHECK(msg.find("unknown song id 999") != std::string::npos);
  }
  SUBCASE("interactions out of order") {
    Poke<std::int32_t>(path, "/interactions/position", 1, 0, H5T_NATIVE_INT32);
    CHECK(ErrorOf(path).find("interactions/position row 1") != std::string::npos);
  }
  SUBCASE("wrong embedding dimension") {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/catalogue/embeddings/f", H5P_DEFAULT);
    hsize_t dims[2] = {3, 3};  // one row short of the 4 songs
    hid_t sp = H5Screate_simple(2, dims, nullptr);
    hid_t ds = H5Dcreate2(f, "/catalogue/embeddings/f", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    std::vector<float> v(9, 0.f);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(ds), H5Sclose(sp), H5Fclose(f);
    const auto msg = ErrorOf(path);
    CHECK(msg.find("/catalogue/embeddings/f") != std::string::npos);
    CHECK(msg.find("has 3 rows, expected one per song (4)") != std::string::npos);
  }
  SUBCASE("truncated file") {
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size / 2);
    const auto msg = ErrorOf(path);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("truncated or corrupt") != std::string::npos);
  }
}

TEST_CASE("Validate names field and row for in-memory datasets") {
  auto d = TinyDataset();
  d.families[0].values[7] = INFINITY;  // song 2, column 1
  CHECK_THROWS_WITH_AS(data::Validate(d, "mem"),
                       doctest::Contains("catalogue/embeddings/f row 2: column 1 is not finite"),
                       InputError);
  d = TinyDataset();
  d.families[0].values.pop_back();
  CHECK_THROWS_WITH_AS(data::Validate(d, "mem"), doctest::Contains("expected 4 songs x 3 dimensions"),
                       InputError);
  d = TinyDataset();
  d.interactions.song[4] = 17;
  CHECK_THROWS_WITH_AS(data::Validate(d, "mem"), doctest::Contains("interactions/song_id row 4"),
                       InputError);
  d = TinyDataset();
  d.interactions.user[3] = 0;  // belongs to session 2, which is user 1's
  CHECK_THROWS_WITH_AS(data::Validate(d, "mem"), doctest::Contains("interactions/user_id row 3"),
                       InputError);
  d = TinyDataset();
  d.splits = {{{0, 1}, {1}, {2}}};
  CHECK_THROWS_WITH_AS(data::Validate(d, "mem"), doctest::Contains("two parts of the split"), InputError);
}

TEST_CASE("Per-song affect columns: optional on disk, validated, in the fingerprint only when present") {
  TempDir tmp;
  const auto plain = TinyDataset();
  CHECK_FALSE(plain.interactions.has_song_affect());
  auto d = TinyDataset();
  d.interactions.valence = {0.1f, 0.2f, 0.f, 0.4f, 0.5f, 0.6f, 0.7f};
  d.interactions.arousal = {0.9f, 0.8f, 0.f, 0.6f, 0.5f, 0.4f, 0.3f};
  d.interactions.has_affect = {1, 1, 0, 1, 1, 1, 1};
  CHECK_NOTHROW(data::Validate(d));

  // A file without the columns reads with none; a file with them keeps them.
  data::WriteDataset(plain, tmp.File("plain.h5"));
  const auto r0 = data::ReadDataset(tmp.File("plain.h5"));
  CHECK_FALSE(r0.interactions.has_song_affect());
  CHECK(data::Fingerprint(r0) == data::Fingerprint(plain));
  data::WriteDataset(d, tmp.File("affect.h5"));
  const auto r1 = data::ReadDataset(tmp.File("affect.h5"));
  CHECK(r1.interactions.valence == d.interactions.valence);
  CHECK(r1.interactions.arousal == d.interactions.arousal);
  CHECK(r1.interactions.has_affect == d.interactions.has_affect);
  CHECK(data::Fingerprint(r1) == data::Fingerprint(d));

  // Present columns count in the fingerprint (values and mask); absent ones add nothing.
  CHECK(data::Fingerprint(d) != data::Fingerprint(plain));
  auto e = d;
  e.interactions.arousal[3] = 0.61f;
  CHECK(data::Fingerprint(e) != data::Fingerprint(d));
  e = d;
  e.interactions.has_affect[2] = 1;
  CHECK(data::Fingerprint(e) != data::Fingerprint(d));

  // Validate: lengths, flags, and [0, 1] only where reported.
  e = d;
  e.interactions.arousal.pop_back();
  CHECK_THROWS_WITH_AS(data::Validate(e, "mem"), doctest::Contains("interactions/arousal: has 6 rows, expected 7"),
                       InputError);
  e = d;
  e.interactions.has_affect.clear();
  CHECK_THROWS_WITH_AS(data::Validate(e, "mem"), doctest::Contains("interactions/has_affect: has 0 rows"), InputError);
  e = d;
  e.interactions.has_affect[4] = 2;
  CHECK_THROWS_WITH_AS(data::Validate(e, "mem"), doctest::Contains("interactions/has_affect row 4: flag must be 0 or 1"),
                       InputError);
  e = d;
  e.interactions.valence[5] = 1.5f;
  CHECK_THROWS_WITH_AS(data::Validate(e, "mem"), doctest::Contains("interactions/valence row 5: value 1.5"),
                       InputError);
  e.interactions.has_affect[5] = 0;  // not reported: any finite placeholder
  CHECK_NOTHROW(data::Validate(e, "mem"));

  // A file with only some of the three columns names the missing one.
  {
    hid_t f = H5Fopen(tmp.File("affect.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/interactions/arousal", H5P_DEFAULT);
    H5Fclose(f);
  }
  CHECK(ErrorOf(tmp.File("affect.h5")).find("/interactions/arousal") != std::string::npos);
}

TEST_CASE("A failed write leaves no file behind") {
  TempDir tmp;
  SUBCASE("invalid data") {
    auto d = TinyDataset();
    d.interactions.engagement[0] = 2.f;
    CHECK_THROWS_AS(data::WriteDataset(d, tmp.File("bad.h5")), InputError);
  }
  SUBCASE("target cannot be replaced") {
    std::filesystem::create_directory(tmp.File("occupied.h5"));
    std::ofstream(tmp.File("occupied.h5") + "/x") << "x";  // non-empty directory: rename fails
    CHECK_THROWS_AS(data::WriteDataset(TinyDataset(), tmp.File("occupied.h5")), InputError);
    CHECK(std::filesystem::is_directory(tmp.File("occupied.h5")));
    CHECK(FilesIn(tmp.path()) == 1);  // only the directory: no temporary left
    return;
  }
  CHECK(FilesIn(tmp.path()) == 0);
}

TEST_CASE("Unknown embedding family lists the known ones") {
  const auto d = TinyDataset();
  CHECK_THROWS_WITH_AS(d.Family("clap"), doctest::Contains("known: f"), ArgumentError);
  const auto c = d.MakeCatalogue("f");
  CHECK(c.size() == 4);
  CHECK(c.Row(1)[1] == 1.f);
}

#include "amrs/data/results.h"

TEST_CASE("Results files merge rows and sections and round-trip") {
  TempDir tmp;
  const auto path = tmp.File("r.h5");
  CHECK(data::ReadResults(path).empty());
  data::ResultSection s1;
  s1["model-a"].values["mse"] = {0.1, 0.2};
  s1["model-a"].attrs["kind"] = "world-model";
  data::UpdateResults(path, "world", s1);
  data::ResultSection s2;
  s2["model-b"].values["mse"] = {0.3};
  data::UpdateResults(path, "world", s2);
  data::UpdateResults(path, "other", s2);
  const auto r = data::ReadResults(path);
  CHECK(r.size() == 2);
  CHECK(r.at("world").at("model-a").values.at("mse") == std::vector<double>{0.1, 0.2});
  CHECK(r.at("world").at("model-a").attrs.at("kind") == "world-model");
  CHECK(r.at("world").at("model-b").values.at("mse") == std::vector<double>{0.3});
  CHECK(FilesIn(tmp.path()) == 1);
  data::ResultSection bad;
  bad["a/b"].values["x"] = {1};
  CHECK_THROWS_AS(data::UpdateResults(path, "world", bad), ArgumentError);
}

TEST_CASE("Every numeric field of a synthetic dataset is checked when read, naming file and field") {
  TempDir tmp;
  const auto path = tmp.File("synthetic.h5");
  data::WriteDataset(data::Generate(testing::SmallConfig(5, 4, 8, 30, 40, 4, 1)), path);
  REQUIRE(ErrorOf(path) == "(no error)");
  auto expect = [&](const std::string& field, const std::string& what) {
    const auto msg = ErrorOf(path);
    CHECK_MESSAGE(msg.find(path + ": ") == 0, msg);
    CHECK_MESSAGE(msg.find(field) != std::string::npos, msg);
    CHECK_MESSAGE(msg.find(what) != std::string::npos, msg);
  };
  SUBCASE("a session signal: infinite pre-session arousal") {
    Poke<float>(path, "/sessions/pre_arousal", 1, INFINITY, H5T_NATIVE_FLOAT);
    expect("sessions/pre_arousal row 1", "not finite");
  }
  SUBCASE("an absent post-session report is still a finite number") {
    const auto d = data::ReadDataset(path);
    std::size_t row = 0;
    while (row < d.sessions.size() && d.sessions.has_post[row]) ++row;
    REQUIRE(row < d.sessions.size());
    Poke<float>(path, "/sessions/post_valence", row, NAN, H5T_NATIVE_FLOAT);
    expect("sessions/post_valence row " + std::to_string(row), "not finite");
  }
  SUBCASE("an oracle per-user array: NaN user bias") {
    Poke<float>(path, "/oracle/user_bias", 2, NAN, H5T_NATIVE_FLOAT);
    expect("oracle/user_bias row 2", "not finite");
  }
  SUBCASE("an oracle per-song array: infinite quality") {
    Poke<float>(path, "/oracle/song_quality", 7, -INFINITY, H5T_NATIVE_FLOAT);
    expect("oracle/song_quality row 7", "not finite");
  }
  SUBCASE("an oracle per-song array out of range: valence above 1") {
    Poke<float>(path, "/oracle/tag_valence", 3, 1.25f, H5T_NATIVE_FLOAT);
    expect("oracle/tag_valence row 3", "outside [0, 1]");
  }
  SUBCASE("an oracle mode target") {
    Poke<float>(path, "/oracle/mode_target", 5, NAN, H5T_NATIVE_FLOAT);  // focus, arousal... (2, 1)
    expect("oracle/mode_target row 2 column 1", "not finite");
  }
  SUBCASE("an oracle scalar attribute: NaN intercept") {
    PokeAttr<float>(path, "/oracle", "like_intercept", NAN, H5T_NATIVE_FLOAT);
    expect("oracle/attribute 'like_intercept'", "not finite");
  }
  SUBCASE("a negative SD") {
    PokeAttr<float>(path, "/oracle", "like_noise_sd", -0.5f, H5T_NATIVE_FLOAT);
    expect("oracle/attribute 'like_noise_sd'", "value -0.5 is outside [0, ");
  }
  SUBCASE("a negative window") {
    PokeAttr<std::int32_t>(path, "/oracle", "repeat_window", -3, H5T_NATIVE_INT32);
    expect("oracle/attribute 'repeat_window'", "value -3 is negative");
  }
  SUBCASE("a zero Beta shape") {
    PokeAttr<float>(path, "/oracle", "skip_b", 0.f, H5T_NATIVE_FLOAT);
    expect("oracle/attribute 'skip_b'", "value 0 is outside (0, ");
  }
  SUBCASE("a probability above 1") {
    PokeAttr<float>(path, "/oracle", "full_play", 1.5f, H5T_NATIVE_FLOAT);
    expect("oracle/attribute 'full_play'", "value 1.5 is outside [0, 1]");
  }
}

TEST_CASE("The writer refuses oracle parameters the reader would refuse") {
  TempDir tmp;
  auto d = data::Generate(testing::SmallConfig(6, 4, 8, 30, 40, 4, 1));
  auto bad = std::make_shared<data::OracleParams>(*d.oracle);
  bad->post_report_sd = -0.1f;
  d.oracle = bad;
  const auto path = tmp.File("w.h5");
  try {
    data::WriteDataset(d, path);
    FAIL("a negative SD was written");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("oracle/attribute 'post_report_sd'") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("Generator sizes are bounded and checked against a memory estimate before any work") {
  auto cfg = testing::SmallConfig(1, 4, 8, 30, 40, 4, 1);
  CHECK_NOTHROW(cfg.Validate());
  auto huge = cfg;
  huge.num_songs = 2'000'000'000;
  CHECK(huge.EstimatedBytes() > 6.4e10);  // 2e9 songs x 2 families x 4 dims x 4 bytes alone
  CHECK_THROWS_WITH_AS(huge.Validate(), doctest::Contains("would need about"), ArgumentError);
  CHECK_THROWS_WITH_AS(data::Generate(huge), doctest::Contains("2000000000 songs"), ArgumentError);
  auto splits = cfg;
  splits.num_splits = data::GeneratorConfig::kMaxSplits + 1;
  CHECK_THROWS_WITH_AS(splits.Validate(), doctest::Contains("'splits' must be at most 1000"), ArgumentError);
  auto users = cfg;
  users.num_users = data::GeneratorConfig::kMaxUsers + 1;
  users.num_sessions = users.num_interactions = users.num_users;
  CHECK_THROWS_WITH_AS(users.Validate(), doctest::Contains("'users' must be in [3, 10000000]"), ArgumentError);
  // The estimate grows with every size it counts.
  using G = data::GeneratorConfig;
  for (auto field : {&G::num_users, &G::num_sessions, &G::num_interactions, &G::num_songs, &G::embedding_dim}) {
    auto bigger = cfg;
    bigger.*field *= 2;
    CHECK(bigger.EstimatedBytes() > cfg.EstimatedBytes());
  }
  // The model's constants are checked like a dataset's oracle attributes.
  auto sd = cfg;
  sd.model.process_sd = -0.1f;
  CHECK_THROWS_WITH_AS(sd.Validate(), doctest::Contains("oracle/attribute 'process_sd'"), ArgumentError);
  auto window = cfg;
  window.model.repeat_window = -1;
  CHECK_THROWS_WITH_AS(window.Validate(), doctest::Contains("'repeat_window'"), ArgumentError);
}

TEST_CASE("CheckMemoryEstimate refuses more than the physical memory, saying how much") {
  const double phys = PhysicalMemoryBytes();
  REQUIRE(phys > 0);
  CHECK_NOTHROW(CheckMemoryEstimate("a small thing", phys / 4));
  const std::string expected = "--songs 2000000000 would need about " + GigabytesText(2 * phys);
  CHECK_THROWS_WITH_AS(CheckMemoryEstimate("--songs 2000000000", 2 * phys), doctest::Contains(expected.c_str()),
                       ArgumentError);
  CHECK(GigabytesText(12.34e9) == "12.3 GB");
}

TEST_CASE("Only the checksummed HDF5 layout is read; corrupt metadata and data are refused, not parsed") {
  TempDir dir;
  const std::string path = dir.File("d.h5");
  data::WriteDataset(TinyDataset(), path);
  auto bytes = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string good = bytes();
  // The writer uses HDF5's latest layout: superblock version >= 2 (its metadata is checksummed).
  REQUIRE(good.size() > 64);
  CHECK(static_cast<unsigned char>(good[8]) >= 2);
  auto write = [&](const std::string& s) { std::ofstream(path, std::ios::binary | std::ios::trunc) << s; };

  SUBCASE("a file of the older layout (superblock 0, no checksums) is refused before HDF5 parses it") {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0);
    H5Fclose(f);
    const auto e = ErrorOf(path);
    CHECK(e.find(path) != std::string::npos);
    CHECK(e.find("superblock version 0 has no metadata checksums") != std::string::npos);
  }
  SUBCASE("one flipped byte in the superblock or the root object header fails a checksum") {
    // Superblock v3: bytes 12..47 are addresses and the checksum; the root object header follows.
    for (std::size_t at : {std::size_t{20}, std::size_t{44}, std::size_t{52}, std::size_t{60}}) {
      std::string s = good;
      s[at] = static_cast<char>(s[at] ^ 0x5a);
      write(s);
      CAPTURE(at);
      const auto e = ErrorOf(path);
      CHECK(e.rfind(path + ":", 0) == 0);
    }
  }
  SUBCASE("a flipped byte anywhere is refused or changes nothing that is read") {
    // Metadata is checksummed, small string lists live in checksummed object headers, chunks carry
    // Fletcher-32 (and zlib's Adler-32): a flip may land in free space, never in a value read back.
    const auto original = data::ReadDataset(path);
    int refused = 0, same = 0;
    for (std::size_t at = 0; at < good.size(); at += 13) {
      std::string s = good;
      s[at] = static_cast<char>(s[at] ^ 0x10);
      write(s);
      CAPTURE(at);
      try {
        const auto d = data::ReadDataset(path);
        CHECK(data::Fingerprint(d) == data::Fingerprint(original));
        CHECK(d.attributes == original.attributes);
        ++same;
      } catch (const InputError& e) {
        CHECK(std::string(e.what()).rfind(path + ":", 0) == 0);
        ++refused;
      }
    }
    MESSAGE(refused << " flips refused, " << same << " changed nothing read");
    CHECK(refused > 0);
    write(good);
    CHECK(ErrorOf(path) == "(no error)");
  }
  SUBCASE("a variable-length string list is refused by name") {
    AddStringDataset(path, "/provenance/vlen_note", H5T_VARIABLE, 1, "x");
    const auto e = ErrorOf(path);
    CHECK(e.find("'/provenance/vlen_note'") != std::string::npos);
    CHECK(e.find("variable-length strings") != std::string::npos);
  }
  SUBCASE("an empty provenance entry is refused by name") {
    AddStringDataset(path, "/provenance/empty", 4, 0, nullptr);
    const auto e = ErrorOf(path);
    CHECK(e.find("/provenance/empty") != std::string::npos);
  }
}
