// The ZIP check run on every checkpoint before LibTorch parses it (worldmodel/internal/zip_check.h).
// Uses the fuzz corpus's real checkpoints (tests/fuzz/corpus/checkpoint, made by make_corpus.sh).
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "amrs/core/error.h"
#include "test_util.h"
#include "zip_check.h"

using namespace amrs;
using amrs::testing::TempDir;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void Spit(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary | std::ios::trunc) << s; }

std::string ErrorOf(const std::string& path) {
  try {
    worldmodel::CheckTorchZip(path, "world-model checkpoint");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::string kCorpus = std::string(AMRS_SOURCE_DIR) + "/tests/fuzz/corpus/checkpoint/";

}  // namespace

TEST_CASE("CRC-32 known answer") {
  CHECK(worldmodel::Crc32("123456789", 9) == 0xCBF43926u);
  CHECK(worldmodel::Crc32("", 0) == 0u);
  // Continuing a CRC equals computing it at once.
  CHECK(worldmodel::Crc32("6789", 4, worldmodel::Crc32("12345", 5)) == 0xCBF43926u);
}

TEST_CASE("Real checkpoints pass; each record's data is covered by its CRC") {
  for (const char* name : {"world.pt", "copycat.pt", "dpo.pt"}) {
    CAPTURE(name);
    const std::string path = kCorpus + name;
    const auto records = worldmodel::CheckTorchZip(path, "checkpoint");
    REQUIRE(records.size() >= 3);
    bool pkl = false;
    for (const auto& r : records) pkl = pkl || r.name.size() >= 8 && r.name.compare(r.name.size() - 8, 8, "data.pkl") == 0;
    CHECK(pkl);
  }
  TempDir dir;
  const std::string path = dir.File("w.pt");
  const std::string good = Slurp(kCorpus + "world.pt");
  const auto records = worldmodel::CheckTorchZip(kCorpus + "world.pt", "checkpoint");
  // A flipped byte inside any record (stored or deflated) is refused, naming the file and record.
  int flips = 0;
  for (const auto& r : records) {
    if (r.stored_size == 0) continue;
    std::string s = good;
    const std::size_t at = static_cast<std::size_t>(r.offset + (r.stored_size - 1) / 2);
    s[at] = static_cast<char>(s[at] ^ 0x20);
    Spit(path, s);
    const auto e = ErrorOf(path);
    CAPTURE(r.name);
    CHECK(e.rfind(path + ": not a world-model checkpoint: record '" + r.name + "'", 0) == 0);
    ++flips;
  }
  CHECK(flips >= 3);
}

TEST_CASE("Truncated, resized and foreign archives are refused with the file named") {
  TempDir dir;
  const std::string path = dir.File("w.pt");
  const std::string good = Slurp(kCorpus + "world.pt");
  SUBCASE("truncated anywhere") {
    for (std::size_t n : {std::size_t{0}, std::size_t{10}, good.size() / 3, good.size() - 30, good.size() - 1}) {
      Spit(path, good.substr(0, n));
      CAPTURE(n);
      CHECK(ErrorOf(path).rfind(path + ": not a world-model checkpoint", 0) == 0);
    }
  }
  SUBCASE("a record size beyond the file") {
    // The first central-directory entry's sizes (offsets 20 and 24 of the entry) made huge.
    const auto dir_at = good.rfind(std::string("PK\x01\x02", 4), good.rfind(std::string("PK\x05\x06", 4)));
    REQUIRE(dir_at != std::string::npos);
    const auto first = good.find(std::string("PK\x01\x02", 4));
    std::string s = good;
    const std::uint32_t huge = 0x7fffff00u;
    std::memcpy(&s[first + 20], &huge, 4);
    std::memcpy(&s[first + 24], &huge, 4);
    Spit(path, s);
    const auto e = ErrorOf(path);
    CHECK(e.find("beyond the file") != std::string::npos);
  }
  SUBCASE("not a ZIP at all") {
    Spit(path, std::string(4096, 'x'));
    CHECK(ErrorOf(path).find("no ZIP end-of-directory record") != std::string::npos);
  }
}
