// The .npy reader of the embedding import (docs/csv-import.md).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/data/csv_import.h"
#include "csv_reader.h"

namespace amrs::data {
namespace {

using csv::Quote;

// .npy header

[[noreturn]] void NpyFail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  bool has_descr = false, has_fortran = false, has_shape = false;
};

// Parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

  NpyHeader Parse() {
    NpyHeader h;
    Expect('{');
    while (true) {
      SkipSpace();
      if (Eat('}')) break;
      const std::string key = String();
      Expect(':');
      if (key == "descr") {
        SkipSpace();
        if (Peek() == '[') Fail("structured dtypes are not supported (need float32 or float64)");
        h.descr = String();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        const std::string v = Word();
        if (v != "True" && v != "False") Fail("fortran_order must be True or False, got " + v);
        h.fortran_order = v == "True";
        h.has_fortran = true;
      } else if (key == "shape") {
        h.shape = Tuple();
        h.has_shape = true;
      } else {
        Fail("unexpected key " + Quote(key));
      }
      SkipSpace();
      if (Eat(',')) continue;
      Expect('}');
      break;
    }
    SkipSpace();
    if (i_ != s_.size()) Fail("unexpected text after the header dictionary");
    if (!h.has_descr || !h.has_fortran || !h.has_shape)
      Fail("the header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    NpyFail(path_, "malformed .npy header: " + what);
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  void Expect(char c) {
    SkipSpace();
    if (!Eat(c)) Fail(std::string("expected '") + c + "' at byte " + std::to_string(i_));
  }
  std::string String() {
    SkipSpace();
    const char q = Peek();
    if (q != '\'' && q != '"') Fail("expected a quoted string at byte " + std::to_string(i_));
    ++i_;
    const auto end = s_.find(q, i_);
    if (end == std::string_view::npos) Fail("unterminated string");
    std::string v(s_.substr(i_, end - i_));
    i_ = end + 1;
    return v;
  }
  std::string Word() {
    SkipSpace();
    const auto b = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return std::string(s_.substr(b, i_ - b));
  }
  std::vector<std::int64_t> Tuple() {
    Expect('(');
    std::vector<std::int64_t> v;
    while (true) {
      SkipSpace();
      if (Eat(')')) break;
      const auto b = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      std::int64_t x = 0;
      const auto [p, ec] = std::from_chars(s_.data() + b, s_.data() + i_, x);
      if (ec != std::errc() || i_ == b)
        Fail("bad dimension in 'shape' at byte " + std::to_string(b));
      (void)p;
      v.push_back(x);
      SkipSpace();
      if (Eat(',')) continue;
      Expect(')');
      break;
    }
    return v;
  }

  const std::string& path_;
  std::string_view s_;
  std::size_t i_ = 0;
};

bool HostIsLittleEndian() {
  const std::uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

template <typename T>
void FromLittleEndian(T* v, std::size_t n) {
  if (HostIsLittleEndian()) return;
  for (std::size_t i = 0; i < n; ++i) {
    auto* b = reinterpret_cast<unsigned char*>(v + i);
    std::reverse(b, b + sizeof(T));
  }
}

}  // namespace

std::vector<float> ReadNpy(const std::string& path, std::int64_t& rows, std::int64_t& cols) {
  std::ifstream in(path, std::ios::binary);
  if (!in) NpyFail(path, "cannot open");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  unsigned char pre[12] = {};
  const std::size_t pre_len = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 12));
  in.read(reinterpret_cast<char*>(pre), static_cast<std::streamsize>(pre_len));
  if (pre_len < 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    NpyFail(path, "not a .npy file (the \\x93NUMPY magic is missing)");
  const int major = pre[6], minor = pre[7];
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = pre[8] | (std::uint64_t{pre[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (pre_len < 12) NpyFail(path, "truncated .npy header");
    header_len = pre[8] | (std::uint64_t{pre[9]} << 8) | (std::uint64_t{pre[10]} << 16) |
                 (std::uint64_t{pre[11]} << 24);
    header_start = 12;
  } else {
    NpyFail(path, "unsupported .npy format version " + std::to_string(major) + "." +
                      std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  if (header_start + header_len > file_size)
    NpyFail(path, "truncated .npy header (" + std::to_string(header_len) + " bytes declared, " +
                      std::to_string(file_size - header_start) + " present)");
  std::string text(static_cast<std::size_t>(header_len), '\0');
  in.seekg(static_cast<std::streamoff>(header_start));
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (!in) NpyFail(path, "read error in the .npy header");
  const NpyHeader h = NpyHeaderParser(path, text).Parse();

  std::size_t item = 0;
  const bool native_le = HostIsLittleEndian();
  if (h.descr == "<f4" || (native_le && h.descr == "=f4")) {
    item = 4;
  } else if (h.descr == "<f8" || (native_le && h.descr == "=f8")) {
    item = 8;
  } else if (!h.descr.empty() && h.descr[0] == '>') {
    NpyFail(path, "big-endian dtype " + Quote(h.descr) +
                      " is not supported (need little-endian float32 '<f4' or float64 '<f8')");
  } else {
    NpyFail(path,
            "dtype " + Quote(h.descr) + " is not supported (need float32 '<f4' or float64 '<f8')");
  }
  if (h.fortran_order)
    NpyFail(path,
            "fortran_order is True: only C-order arrays are supported "
            "(save np.ascontiguousarray(x))");
  if (h.shape.size() != 2) {
    std::string shape;
    for (auto x : h.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(x);
    if (h.shape.size() == 1) shape += ",";
    NpyFail(path, "expected a 2-D array (songs x dim), got " + std::to_string(h.shape.size()) +
                      (h.shape.size() == 1 ? " dimension" : " dimensions") + " (shape (" + shape +
                      "))");
  }
  rows = h.shape[0];
  cols = h.shape[1];
  const std::uint64_t data_bytes = file_size - header_start - header_len;
  const std::uint64_t max_count = std::numeric_limits<std::uint64_t>::max() / 16;
  if (cols > 0 && static_cast<std::uint64_t>(rows) > max_count / static_cast<std::uint64_t>(cols))
    NpyFail(path,
            "shape (" + std::to_string(rows) + ", " + std::to_string(cols) + ") is too large");
  const std::uint64_t count = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  const std::uint64_t need = count * item;
  const std::string what = std::to_string(rows) + " x " + std::to_string(cols) +
                           (item == 4 ? " float32" : " float64") + " values (" +
                           std::to_string(need) + " bytes)";
  if (data_bytes < need)
    NpyFail(path, "truncated: the header promises " + what + ", the file has " +
                      std::to_string(data_bytes) + " bytes of data");
  if (data_bytes > need)
    NpyFail(path, "the header promises " + what + ", the file has " +
                      std::to_string(data_bytes - need) + " extra bytes after the data");
  if (count > std::numeric_limits<std::size_t>::max() / item) NpyFail(path, "array is too large");

  std::vector<float> out(static_cast<std::size_t>(count));
  if (item == 4) {
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(need));
    if (!in) NpyFail(path, "read error in the data");
    FromLittleEndian(out.data(), out.size());
  } else {
    std::vector<double> buf(1 << 16);
    for (std::size_t done = 0; done < out.size();) {
      const std::size_t n = std::min(buf.size(), out.size() - done);
      in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n * 8));
      if (!in) NpyFail(path, "read error in the data");
      FromLittleEndian(buf.data(), n);
      for (std::size_t k = 0; k < n; ++k) out[done + k] = static_cast<float>(buf[k]);
      done += n;
    }
  }
  return out;
}

}  // namespace amrs::data
