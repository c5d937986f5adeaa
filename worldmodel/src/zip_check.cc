#include "zip_check.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <iterator>

#include <zlib.h>

#include "amrs/core/error.h"

namespace amrs::worldmodel {
namespace {

const std::array<std::uint32_t, 256>& CrcTable() {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Little-endian reads within a byte buffer; every caller checks the bound first.
std::uint64_t Le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

constexpr std::uint32_t kEocd = 0x06054b50, kZip64Eocd = 0x06064b50, kZip64Locator = 0x07064b50,
                        kCentral = 0x02014b50, kLocal = 0x04034b50;

}  // namespace

std::uint32_t Crc32(const void* data, std::size_t n, std::uint32_t crc) {
  const auto& t = CrcTable();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::vector<ZipRecord> CheckTorchZip(const std::string& path, const std::string& what) {
  auto fail = [&](const std::string& why) -> void { throw InputError(path + ": not a " + what + ": " + why); };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::vector<unsigned char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::uint64_t n = f.size();
  if (n < 22) fail("too short for a ZIP archive (" + std::to_string(n) + " bytes; truncated?)");
  // End of central directory: the last signature within the final 22 + 65535 bytes.
  std::uint64_t eocd = n;
  for (std::uint64_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (Le(&f[i], 4) == kEocd) { eocd = i; break; }
  if (eocd == n) fail("no ZIP end-of-directory record (truncated or corrupt?)");
  std::uint64_t count = Le(&f[eocd + 10], 2), dir_size = Le(&f[eocd + 12], 4), dir_offset = Le(&f[eocd + 16], 4);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFFu || dir_offset == 0xFFFFFFFFu) {  // ZIP64
    if (eocd < 20 || Le(&f[eocd - 20], 4) != kZip64Locator) fail("ZIP64 locator missing (corrupt?)");
    const std::uint64_t z = Le(&f[eocd - 20 + 8], 8);
    if (z > eocd - 20 || eocd - 20 - z < 56 || Le(&f[z], 4) != kZip64Eocd) fail("ZIP64 end-of-directory record missing (corrupt?)");
    count = Le(&f[z + 32], 8);
    dir_size = Le(&f[z + 40], 8);
    dir_offset = Le(&f[z + 48], 8);
  }
  if (count == 0 || count > kMaxZipRecords) fail("the directory claims " + std::to_string(count) + " records (corrupt?)");
  if (dir_offset > eocd || dir_size > eocd - dir_offset) fail("the directory lies outside the file (truncated or corrupt?)");
  std::vector<ZipRecord> records;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;  // [local header, end of data)
  std::uint64_t p = dir_offset;
  const std::uint64_t dir_end = dir_offset + dir_size;
  for (std::uint64_t r = 0; r < count; ++r) {
    const std::string where = "directory entry " + std::to_string(r);
    if (dir_end - p < 46 || Le(&f[p], 4) != kCentral) fail(where + " is malformed (corrupt?)");
    const std::uint64_t method = Le(&f[p + 10], 2), name_len = Le(&f[p + 28], 2), extra_len = Le(&f[p + 30], 2),
                        comment_len = Le(&f[p + 32], 2);
    ZipRecord rec;
    rec.crc32 = static_cast<std::uint32_t>(Le(&f[p + 16], 4));
    std::uint64_t csize = Le(&f[p + 20], 4), usize = Le(&f[p + 24], 4), local = Le(&f[p + 42], 4);
    if (name_len == 0 || name_len > kMaxZipNameBytes || dir_end - p - 46 < name_len + extra_len + comment_len)
      fail(where + " has a malformed name or extra field (corrupt?)");
    rec.name.assign(reinterpret_cast<const char*>(&f[p + 46]), name_len);
    // ZIP64 sizes and offset, in this order, for the fields that hold 0xFFFFFFFF.
    for (std::uint64_t e = p + 46 + name_len, e_end = e + extra_len; e + 4 <= e_end;) {
      const std::uint64_t id = Le(&f[e], 2), len = Le(&f[e + 2], 2);
      if (len > e_end - e - 4) fail("record '" + rec.name + "' has a malformed extra field (corrupt?)");
      if (id == 0x0001) {
        std::uint64_t q = e + 4;
        for (std::uint64_t* v : {&usize, &csize, &local})
          if (*v == 0xFFFFFFFFu) {
            if (q + 8 > e + 4 + len) fail("record '" + rec.name + "' has a short ZIP64 field (corrupt?)");
            *v = Le(&f[q], 8);
            q += 8;
          }
      }
      e += 4 + len;
    }
    // Torch stores tensors and deflates its small TorchScript records.
    if (method != 0 && method != 8)
      fail("record '" + rec.name + "' uses compression method " + std::to_string(method) + " (torch writes 0 or 8)");
    if (method == 0 && csize != usize) fail("record '" + rec.name + "' has two different sizes (corrupt?)");
    if (method == 8 && (usize > kMaxDeflatedRecord || usize > 1032 * csize + 64))
      fail("record '" + rec.name + "' claims to inflate to " + std::to_string(usize) + " bytes (corrupt?)");
    // Local header: signature, same name, then the data, all before the directory.
    if (local > dir_offset || dir_offset - local < 30 || Le(&f[local], 4) != kLocal)
      fail("record '" + rec.name + "' has no local header where the directory says (corrupt?)");
    const std::uint64_t lname = Le(&f[local + 26], 2), lextra = Le(&f[local + 28], 2);
    if (dir_offset - local - 30 < lname + lextra || lname != name_len ||
        std::memcmp(&f[local + 30], rec.name.data(), name_len) != 0)
      fail("record '" + rec.name + "': its local header does not match the directory (corrupt?)");
    rec.offset = local + 30 + lname + lextra;
    if (csize > dir_offset - rec.offset)
      fail("record '" + rec.name + "' claims " + std::to_string(csize) + " bytes, beyond the file (truncated or corrupt?)");
    rec.size = usize;
    rec.stored_size = csize;
    std::uint32_t crc = 0;
    if (method == 0) {
      crc = Crc32(&f[rec.offset], rec.size);
    } else {
      std::vector<unsigned char> out(static_cast<std::size_t>(usize) + 1);
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail("cannot inflate record '" + rec.name + "'");
      z.next_in = &f[rec.offset];
      z.avail_in = static_cast<uInt>(csize);
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      const int rc = inflate(&z, Z_FINISH);
      const std::uint64_t got = z.total_out;
      inflateEnd(&z);
      if (rc != Z_STREAM_END || got != usize)
        fail("record '" + rec.name + "' does not inflate to its " + std::to_string(usize) + " bytes (corrupt)");
      crc = Crc32(out.data(), static_cast<std::size_t>(usize));
    }
    if (crc != rec.crc32) fail("record '" + rec.name + "' fails its CRC-32 check (corrupt)");
    spans.emplace_back(local, rec.offset + csize);
    records.push_back(std::move(rec));
    p += 46 + name_len + extra_len + comment_len;
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) fail("two records overlap (corrupt?)");
  // One top-level folder holding data.pkl and version (what torch::serialize writes).
  const std::string top = records.front().name.substr(0, records.front().name.find('/') + 1);
  bool pkl = false, version = false;
  for (const auto& r : records) {
    if (top.size() < 2 || r.name.compare(0, top.size(), top) != 0 || r.name.find("..") != std::string::npos)
      fail("record '" + r.name + "' is outside the archive's folder '" + top + "'");
    pkl = pkl || r.name == top + "data.pkl";
    version = version || r.name == top + "version";
  }
  if (!pkl || !version) fail("no " + std::string(pkl ? "version" : "data.pkl") + " record (not a torch archive)");
  return records;
}

}  // namespace amrs::worldmodel
