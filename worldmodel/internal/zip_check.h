// Internal: a structural check of a torch checkpoint (a ZIP archive of stored records) before
// LibTorch parses it (CMake target amrs_torch_archive). No torch here. Not installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amrs::worldmodel {

// Limits of what this project writes (a checkpoint holds tens of records).
constexpr std::size_t kMaxZipRecords = 100000;
constexpr std::size_t kMaxZipNameBytes = 4096;
constexpr std::uint64_t kMaxDeflatedRecord = std::uint64_t{1} << 26;  // torch deflates only its small code records

struct ZipRecord {
  std::string name;
  std::uint64_t offset = 0;  // of the record's data in the file
  std::uint64_t size = 0;         // once inflated
  std::uint64_t stored_size = 0;  // bytes in the file (differs from size for deflated records)
  std::uint32_t crc32 = 0;
};

// Reads the archive's central directory and checks every record against the file: end-of-
// directory record found, the directory and every local header inside the file and consistent
// with each other, records stored or deflated (as LibTorch writes them; deflated ones at most
// kMaxDeflatedRecord once inflated), sizes within the file,
// no overlapping records, one top-level folder with a data.pkl and a version record, and each
// record's CRC-32 equal to the directory's. Throws InputError "<path>: not a <what>: <reason>"
// naming the record; returns the records in directory order. Reads the file once.
std::vector<ZipRecord> CheckTorchZip(const std::string& path, const std::string& what);

// CRC-32 (ISO-HDLC, as in ZIP) of `n` bytes continuing from `crc` (0 to start).
std::uint32_t Crc32(const void* data, std::size_t n, std::uint32_t crc = 0);

}  // namespace amrs::worldmodel
