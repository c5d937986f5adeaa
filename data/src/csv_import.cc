// CSV / .npy import of platform logs and of the DEAM catalogue fixture (docs/csv-import.md).
#include "amrs/data/csv_import.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <tuple>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/core/types.h"

namespace amrs::data {
namespace {

// Indices of `rows` ordered by key(row) (a tuple); ties keep input order via the line in the key.
template <typename Row, typename Key>
std::vector<std::size_t> SortedOrder(const std::vector<Row>& rows, Key key) {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(rows[a]) < key(rows[b]); });
  return order;
}

constexpr std::int64_t kMaxRows = std::numeric_limits<std::int32_t>::max();

std::string_view Trim(std::string_view s) {
  constexpr const char* kSpace = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// "<file>:<line>: column '<name>': <problem>".
[[noreturn]] void FailAt(const std::string& path, std::size_t line, const std::string& column,
                         const std::string& problem) {
  throw InputError(path + ":" + std::to_string(line) + ": column " + column + ": " + problem);
}

// "<file>:<line>: <problem>" for problems of a whole line or of the header.
[[noreturn]] void FailLine(const std::string& path, std::size_t line, const std::string& problem) {
  throw InputError(path + ":" + std::to_string(line) + ": " + problem);
}

// A streaming reader of a comma-separated file with a header line. Fields are trimmed of
// surrounding white space; a field may be double-quoted ("" is a literal quote inside quotes).
// Blank lines are skipped; line numbers are physical, 1-based lines of the file.
class CsvReader {
 public:
  explicit CsvReader(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
    if (!in_) throw InputError(path_ + ": cannot open");
    if (!ReadLine()) throw InputError(path_ + ": empty file (a header line is required)");
    header_line_ = line_;
    header_ = fields_;
  }

  const std::string& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  std::size_t header_line() const { return header_line_; }
  std::size_t line() const { return line_; }
  std::string_view field(std::size_t col) const { return fields_[col]; }

  // Advances to the next non-blank line; false at the end of the file. Every line must have as
  // many fields as the header.
  bool Next() {
    if (!ReadLine()) return false;
    const auto n = fields_.size(), m = header_.size();
    if (n != m) {
      const std::string counts = "the line has " + std::to_string(n) + " field" +
                                 (n == 1 ? "" : "s") + ", the header has " + std::to_string(m);
      if (n < m) Fail(n, "value is missing (" + counts + ")");
      Fail(m, "unexpected extra field (" + counts + ")");
    }
    return true;
  }

  // The display name of a column: 'engagement', or its 1-based number past the header.
  std::string ColumnName(std::size_t col) const {
    if (col < header_.size() && !header_[col].empty()) return Quote(header_[col]);
    return std::to_string(col + 1);
  }

  [[noreturn]] void Fail(std::size_t col, const std::string& problem) const {
    FailAt(path_, line_, ColumnName(col), problem);
  }

 private:
  bool ReadLine() {
    while (std::getline(in_, buf_)) {
      ++line_;
      std::string_view s(buf_);
      if (line_ == 1 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);  // UTF-8 BOM
      if (Trim(s).empty()) continue;
      Split(s);
      return true;
    }
    if (in_.bad()) throw InputError(path_ + ": read error after line " + std::to_string(line_));
    return false;
  }

  void Split(std::string_view s) {
    fields_.clear();
    std::size_t i = 0;
    while (true) {
      std::size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j < s.size() && s[j] == '"') {
        std::string field;
        for (++j;; ++j) {
          if (j >= s.size()) Fail(fields_.size(), "unterminated quoted field");
          if (s[j] == '"') {
            if (j + 1 < s.size() && s[j + 1] == '"') {
              field += '"';
              ++j;
              continue;
            }
            ++j;
            break;
          }
          field += s[j];
        }
        while (j < s.size() && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r')) ++j;
        if (j < s.size() && s[j] != ',') Fail(fields_.size(), "text after a closing quote");
        fields_.emplace_back(Trim(field));
      } else {
        const auto comma = s.find(',', i);
        j = comma == std::string_view::npos ? s.size() : comma;
        fields_.emplace_back(Trim(s.substr(i, j - i)));
      }
      if (j >= s.size()) break;
      i = j + 1;  // s[j] is a comma
    }
  }

  std::string path_;
  std::ifstream in_;
  std::string buf_;
  std::size_t line_ = 0;
  std::size_t header_line_ = 0;
  std::vector<std::string> header_;
  std::vector<std::string> fields_;
};

// Maps the header of `r` onto a schema. Returns each schema column's index in the file (-1 when
// an optional column is absent). Unknown columns are an error unless `allow_unknown`.
struct ColumnSpec {
  const char* name;
  bool required;
};

std::vector<int> BindColumns(const CsvReader& r, const std::vector<ColumnSpec>& schema,
                             bool allow_unknown = false) {
  std::vector<int> index(schema.size(), -1);
  std::string known;
  for (const auto& c : schema) known += (known.empty() ? "" : ", ") + std::string(c.name);
  const auto& h = r.header();
  for (std::size_t col = 0; col < h.size(); ++col) {
    std::size_t k = 0;
    while (k < schema.size() && h[col] != schema[k].name) ++k;
    if (k == schema.size()) {
      if (allow_unknown) continue;
      FailLine(r.path(), r.header_line(),
               "unknown column " + Quote(h[col]) + " (known columns: " + known + ")");
    }
    if (index[k] >= 0)
      FailLine(r.path(), r.header_line(), "column " + Quote(h[col]) + " appears twice");
    index[k] = static_cast<int>(col);
  }
  for (std::size_t k = 0; k < schema.size(); ++k)
    if (schema[k].required && index[k] < 0)
      FailLine(
          r.path(), r.header_line(),
          "missing required column " + Quote(schema[k].name) + " (known columns: " + known + ")");
  return index;
}

std::int64_t ParseInt64(const CsvReader& r, std::size_t col) {
  const auto s = r.field(col);
  if (s.empty()) r.Fail(col, "value is empty (an integer id is required)");
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+' && b + 1 < e && b[1] != '-') ++b;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(b, e, v);
  if (ec == std::errc::result_out_of_range)
    r.Fail(col, "value " + std::string(s) + " is outside the int64 range");
  if (ec != std::errc() || p != e) r.Fail(col, "value " + Quote(s) + " is not an integer");
  return v;
}

std::int32_t ParseInt32(const CsvReader& r, std::size_t col) {
  const auto v = ParseInt64(r, col);
  if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
    r.Fail(col, "value " + std::string(r.field(col)) + " is outside the int32 range");
  return static_cast<std::int32_t>(v);
}

// A finite number; `text` overrides the field (used for bracketed values).
double ParseNumber(const CsvReader& r, std::size_t col, std::string_view text) {
  if (text.empty()) r.Fail(col, "value is empty (a number is required)");
  const char* b = text.data();
  const char* e = b + text.size();
  if (*b == '+' && b + 1 < e && b[1] != '-') ++b;
  double v = 0;
  const auto [p, ec] = std::from_chars(b, e, v, std::chars_format::general);
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || p != e)
    r.Fail(col, "value " + Quote(text) + " is not a number");
  if (ec == std::errc::result_out_of_range) {
    v = std::strtod(std::string(b, e).c_str(), nullptr);  // 0 or a denormal on underflow
    if (std::isinf(v)) r.Fail(col, "value " + std::string(text) + " is outside the double range");
  }
  if (!std::isfinite(v)) r.Fail(col, "value " + std::string(text) + " is not finite (NaN or inf)");
  return v;
}

double ParseNumber(const CsvReader& r, std::size_t col) {
  return ParseNumber(r, col, r.field(col));
}

float ParseFloat32(const CsvReader& r, std::size_t col, std::string_view text) {
  const double v = ParseNumber(r, col, text);
  const auto f = static_cast<float>(v);
  if (!std::isfinite(f))
    r.Fail(col, "value " + std::string(text) + " is outside the float32 range");
  return f;
}

float ParseUnit(const CsvReader& r, std::size_t col) {
  const double v = ParseNumber(r, col);
  if (v < 0.0 || v > 1.0) r.Fail(col, "value " + std::string(r.field(col)) + " is outside [0, 1]");
  return static_cast<float>(v);
}

void CheckRowCount(const CsvReader& r, std::size_t rows) {
  if (static_cast<std::int64_t>(rows) >= kMaxRows)
    FailLine(r.path(), r.line(), "too many rows (more than " + std::to_string(kMaxRows) + ")");
}

// ---------------------------------------------------------------------------------------------
// The catalogue: song ids in order, their index, where the order came from.

struct CatalogueOrder {
  std::vector<std::int64_t> ids;
  std::vector<std::size_t> lines;  // line of each song in `source`
  std::unordered_map<std::int64_t, std::int32_t> index;
  std::string source;

  // Adds a song read at the current line of `r` (column `col`), rejecting duplicates.
  void Add(const CsvReader& r, std::size_t col, std::int64_t id) {
    CheckRowCount(r, ids.size());
    const auto [it, inserted] = index.emplace(id, static_cast<std::int32_t>(ids.size()));
    if (!inserted)
      r.Fail(col, "duplicate song id " + std::to_string(id) + " (first at line " +
                      std::to_string(lines[it->second]) + ")");
    ids.push_back(id);
    lines.push_back(r.line());
  }
};

CatalogueOrder ReadSongsCsv(const std::string& path) {
  CsvReader r(path);
  const auto col = BindColumns(r, {{"song_id", true}});
  CatalogueOrder cat;
  cat.source = path;
  while (r.Next()) cat.Add(r, col[0], ParseInt64(r, col[0]));
  if (cat.ids.empty()) throw InputError(path + ": no songs (the file has only a header)");
  return cat;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    const char c = s[s.size() - suffix.size() + i];
    if (std::tolower(static_cast<unsigned char>(c)) != suffix[i]) return false;
  }
  return true;
}

// Reads an embeddings CSV (`song_id` then dim values per line). With `define`, the file's line
// order becomes the catalogue `cat`; otherwise rows are placed in the order of `cat`.
EmbeddingFamily ReadCsvFamily(const std::string& name, const std::string& path, CatalogueOrder& cat,
                              bool define) {
  CsvReader r(path);
  const auto& h = r.header();
  if (h[0] != "song_id")
    FailLine(path, r.header_line(), "the first column must be 'song_id', got " + Quote(h[0]));
  if (h.size() < 2) FailLine(path, r.header_line(), "no embedding columns after 'song_id'");
  if (h.size() - 1 > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    FailLine(path, r.header_line(), "too many columns");
  EmbeddingFamily fam;
  fam.name = name;
  fam.dim = static_cast<std::int32_t>(h.size() - 1);
  const std::size_t dim = static_cast<std::size_t>(fam.dim);
  std::vector<std::size_t> seen_line;  // per catalogue song: line where it was read, 0 if not yet
  if (define) {
    cat = CatalogueOrder{};
    cat.source = path;
  } else {
    fam.values.assign(cat.ids.size() * dim, 0.f);
    seen_line.assign(cat.ids.size(), 0);
  }
  while (r.Next()) {
    const std::int64_t id = ParseInt64(r, 0);
    float* row = nullptr;
    if (define) {
      cat.Add(r, 0, id);
      fam.values.resize(cat.ids.size() * dim);
      row = fam.values.data() + (cat.ids.size() - 1) * dim;
    } else {
      const auto it = cat.index.find(id);
      if (it == cat.index.end())
        r.Fail(0,
               "song id " + std::to_string(id) + " is not in the catalogue (" + cat.source + ")");
      auto& seen = seen_line[it->second];
      if (seen)
        r.Fail(0, "duplicate song id " + std::to_string(id) + " (first at line " +
                      std::to_string(seen) + ")");
      seen = r.line();
      row = fam.values.data() + static_cast<std::size_t>(it->second) * dim;
    }
    for (std::size_t c = 0; c < dim; ++c) row[c] = ParseFloat32(r, c + 1, r.field(c + 1));
  }
  if (define && cat.ids.empty()) throw InputError(path + ": no songs (the file has only a header)");
  for (std::size_t i = 0; i < seen_line.size(); ++i)
    if (!seen_line[i])
      throw InputError(path + ": song id " + std::to_string(cat.ids[i]) +
                       " is missing (it is in the catalogue: " + cat.source + " line " +
                       std::to_string(cat.lines[i]) + ")");
  return fam;
}

EmbeddingFamily ReadNpyFamily(const std::string& name, const std::string& path,
                              const CatalogueOrder& cat) {
  std::int64_t rows = 0, cols = 0;
  EmbeddingFamily fam;
  fam.name = name;
  fam.values = ReadNpy(path, rows, cols);
  if (rows != static_cast<std::int64_t>(cat.ids.size()))
    throw InputError(path + ": has " + std::to_string(rows) + " rows, expected " +
                     std::to_string(cat.ids.size()) + " (one per song, in the order of " +
                     cat.source + ")");
  if (cols <= 0) throw InputError(path + ": has no columns (the dimension must be positive)");
  if (cols > std::numeric_limits<std::int32_t>::max())
    throw InputError(path + ": too many columns (" + std::to_string(cols) + ")");
  fam.dim = static_cast<std::int32_t>(cols);
  for (std::size_t i = 0; i < fam.values.size(); ++i)
    if (!std::isfinite(fam.values[i]))
      throw InputError(path + ": row " + std::to_string(i / cols) + " (song id " +
                       std::to_string(cat.ids[i / cols]) + "), column " + std::to_string(i % cols) +
                       ": value is not finite (NaN, inf, or outside the float32 range)");
  return fam;
}

// ---------------------------------------------------------------------------------------------
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

Dataset ImportCsv(const CsvImportSpec& spec) {
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

  // --- catalogue order and embedding families ---
  Dataset d;
  CatalogueOrder cat;
  std::size_t defining = spec.embeddings.size();  // the CSV family that defines the order
  EmbeddingFamily defining_family;
  if (!spec.songs_csv.empty()) {
    cat = ReadSongsCsv(spec.songs_csv);
  } else {
    for (std::size_t k = 0; k < spec.embeddings.size() && defining == spec.embeddings.size(); ++k)
      if (EndsWith(spec.embeddings[k].second, ".csv")) defining = k;
    if (defining == spec.embeddings.size())
      throw ArgumentError("CSV import: the .npy embeddings (" + spec.embeddings[0].second +
                          ") need a song order: give a songs file (song_id per line) or a .csv "
                          "embedding family");
    defining_family =
        ReadCsvFamily(spec.embeddings[defining].first, spec.embeddings[defining].second, cat, true);
  }
  for (std::size_t k = 0; k < spec.embeddings.size(); ++k) {
    const auto& [name, path] = spec.embeddings[k];
    if (k == defining)
      d.families.push_back(std::move(defining_family));
    else if (EndsWith(path, ".csv"))
      d.families.push_back(ReadCsvFamily(name, path, cat, false));
    else
      d.families.push_back(ReadNpyFamily(name, path, cat));
  }
  d.song_ids = cat.ids;

  // --- sessions ---
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
  std::vector<RawSession> raw_sessions;
  std::unordered_map<std::int64_t, std::size_t> session_by_id;  // -> raw index
  enum SCol { kSid, kSUser, kOrder, kPreV, kPreA, kPostV, kPostA, kMode };
  const std::string& spath = spec.sessions_csv;
  {
    CsvReader r(spath);
    const auto col = BindColumns(r, {{"session_id", true},
                                     {"user_id", true},
                                     {"order", true},
                                     {"pre_valence", true},
                                     {"pre_arousal", true},
                                     {"post_valence", false},
                                     {"post_arousal", false},
                                     {"mode", false}});
    if ((col[kPostV] < 0) != (col[kPostA] < 0))
      FailLine(spath, r.header_line(),
               col[kPostV] < 0 ? "column 'post_arousal' needs column 'post_valence'"
                               : "column 'post_valence' needs column 'post_arousal'");
    while (r.Next()) {
      CheckRowCount(r, raw_sessions.size());
      RawSession s;
      s.line = r.line();
      s.id = ParseInt64(r, col[kSid]);
      s.user_id = ParseInt64(r, col[kSUser]);
      s.order = ParseInt32(r, col[kOrder]);
      s.pre_v = ParseUnit(r, col[kPreV]);
      s.pre_a = ParseUnit(r, col[kPreA]);
      if (col[kPostV] >= 0) {
        const bool v_empty = r.field(col[kPostV]).empty();
        const bool a_empty = r.field(col[kPostA]).empty();
        if (v_empty != a_empty)
          r.Fail(v_empty ? col[kPostV] : col[kPostA],
                 "value is empty but the other post-session value is given (give both or "
                 "neither)");
        if (!v_empty) {
          s.post_v = ParseUnit(r, col[kPostV]);
          s.post_a = ParseUnit(r, col[kPostA]);
          s.has_post = 1;
        }
      }
      if (col[kMode] >= 0) {
        try {
          s.mode = static_cast<std::int8_t>(ParseMode(r.field(col[kMode])));
        } catch (const ArgumentError& e) {
          r.Fail(col[kMode], e.what());
        }
      }
      const auto [it, inserted] = session_by_id.emplace(s.id, raw_sessions.size());
      if (!inserted)
        r.Fail(col[kSid], "duplicate session id " + std::to_string(s.id) + " (first at line " +
                              std::to_string(raw_sessions[it->second].line) + ")");
      raw_sessions.push_back(s);
    }
  }
  // Users: the distinct user ids of the sessions, ascending.
  for (const auto& s : raw_sessions) d.user_ids.push_back(s.user_id);
  std::sort(d.user_ids.begin(), d.user_ids.end());
  d.user_ids.erase(std::unique(d.user_ids.begin(), d.user_ids.end()), d.user_ids.end());
  for (auto& s : raw_sessions)
    s.user = static_cast<std::int32_t>(
        std::lower_bound(d.user_ids.begin(), d.user_ids.end(), s.user_id) - d.user_ids.begin());
  // Sort by (user, order); a repeated order within a user is an error at the later line.
  const auto sperm = SortedOrder(raw_sessions, [](const auto& x) { return std::make_tuple(x.user, x.order, x.line); });
  std::vector<std::int32_t> sorted_session(raw_sessions.size());  // raw index -> sorted index
  for (std::size_t k = 0; k < sperm.size(); ++k) {
    const auto& s = raw_sessions[sperm[k]];
    if (k > 0) {
      const auto& p = raw_sessions[sperm[k - 1]];
      if (p.user == s.user && p.order == s.order)
        FailAt(spath, s.line, "'order'",
               "duplicate order " + std::to_string(s.order) + " for user " +
                   std::to_string(s.user_id) + " (first at line " + std::to_string(p.line) + ")");
    }
    sorted_session[sperm[k]] = static_cast<std::int32_t>(k);
  }

  // --- interactions ---
  struct RawInteraction {
    std::int32_t session, position, song;  // sorted session index, position, catalogue index
    float engagement;
    std::int8_t rating = 0;
    std::uint8_t has_rating = 0;
    std::size_t line;
  };
  std::vector<RawInteraction> raw;
  enum ICol { kIUser, kISession, kPosition, kSong, kEngagement, kRating };
  const std::string& ipath = spec.interactions_csv;
  {
    CsvReader r(ipath);
    const auto col = BindColumns(r, {{"user_id", true},
                                     {"session_id", true},
                                     {"position", true},
                                     {"song_id", true},
                                     {"engagement", true},
                                     {"rating", false}});
    while (r.Next()) {
      CheckRowCount(r, raw.size());
      RawInteraction x;
      x.line = r.line();
      const std::int64_t uid = ParseInt64(r, col[kIUser]);
      const std::int64_t sid = ParseInt64(r, col[kISession]);
      const auto sit = session_by_id.find(sid);
      if (sit == session_by_id.end())
        r.Fail(col[kISession],
               "unknown session id " + std::to_string(sid) + " (not in " + spath + ")");
      auto& s = raw_sessions[sit->second];
      if (uid != s.user_id)
        r.Fail(col[kIUser], "user id " + std::to_string(uid) + " differs from the user " +
                                std::to_string(s.user_id) + " of session " + std::to_string(sid) +
                                " (" + spath + " line " + std::to_string(s.line) + ")");
      s.has_songs = true;
      x.session = sorted_session[sit->second];
      x.position = ParseInt32(r, col[kPosition]);
      const std::int64_t song = ParseInt64(r, col[kSong]);
      const auto song_it = cat.index.find(song);
      if (song_it == cat.index.end())
        r.Fail(col[kSong],
               "song id " + std::to_string(song) + " is not in the catalogue (" + cat.source + ")");
      x.song = song_it->second;
      x.engagement = ParseUnit(r, col[kEngagement]);
      if (col[kRating] >= 0) {
        const auto t = r.field(col[kRating]);
        if (t == "0" || t == "1") {
          x.rating = static_cast<std::int8_t>(t[0] - '0');
          x.has_rating = 1;
        } else if (!t.empty()) {
          r.Fail(col[kRating], "value " + Quote(t) + " is not 0, 1 or empty");
        }
      }
      raw.push_back(x);
    }
  }
  const auto iperm = SortedOrder(raw, [](const auto& x) { return std::make_tuple(x.session, x.position, x.line); });
  for (std::size_t k = 1; k < iperm.size(); ++k) {
    const auto& p = raw[iperm[k - 1]];
    const auto& x = raw[iperm[k]];
    if (p.session == x.session && p.position == x.position)
      FailAt(ipath, x.line, "'position'",
             "duplicate position " + std::to_string(x.position) + " in session " +
                 std::to_string(raw_sessions[sperm[x.session]].id) + " (first at line " +
                 std::to_string(p.line) + ")");
  }
  for (const auto& s : raw_sessions)
    if (s.has_post && !s.has_songs)
      FailAt(spath, s.line, "'post_valence'",
             "post-session report on session " + std::to_string(s.id) +
                 ", which has no interactions in " + ipath);

  // --- assemble ---
  auto& S = d.sessions;
  for (const auto k : sperm) {
    const auto& s = raw_sessions[k];
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
  auto& I = d.interactions;
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
  }
  d.attributes["source"] = "csv-import";
  Validate(d, spec.interactions_csv);
  return d;
}

Dataset ImportDeamCatalogue(const std::string& features_csv,
                            const std::vector<std::string>& annotation_csvs,
                            const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos)
    throw ArgumentError("DEAM import: invalid embedding family name " + Quote(name));
  Dataset d;
  CatalogueOrder cat;
  cat.source = features_csv;
  std::vector<std::size_t> feature_cols;
  std::vector<double> x;  // songs x dim, raw
  {
    CsvReader r(features_csv);
    const auto& h = r.header();
    int file_col = -1;
    for (std::size_t c = 0; c < h.size(); ++c) {
      if (h[c] == "file") {
        if (file_col >= 0) FailLine(features_csv, r.header_line(), "column 'file' appears twice");
        file_col = static_cast<int>(c);
      } else if (h[c] != "emotion") {
        if (h[c].empty())
          FailLine(features_csv, r.header_line(),
                   "column " + std::to_string(c + 1) + " has an empty name");
        for (const auto fc : feature_cols)
          if (h[fc] == h[c])
            FailLine(features_csv, r.header_line(), "column " + Quote(h[c]) + " appears twice");
        feature_cols.push_back(c);
      }
    }
    if (file_col < 0) FailLine(features_csv, r.header_line(), "missing required column 'file'");
    if (feature_cols.empty()) FailLine(features_csv, r.header_line(), "no feature columns");
    while (r.Next()) {
      // Song id: the file name without its extension, e.g. "2.wav" -> 2.
      std::string_view f = r.field(file_col);
      const auto slash = f.find_last_of("/\\");
      if (slash != std::string_view::npos) f.remove_prefix(slash + 1);
      const auto dot = f.rfind('.');
      const std::string_view stem = dot == std::string_view::npos ? f : f.substr(0, dot);
      std::int64_t id = 0;
      const auto [p, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), id);
      if (stem.empty() || ec != std::errc() || p != stem.data() + stem.size())
        r.Fail(file_col, "value " + Quote(r.field(file_col)) +
                             " is not <song_id>.wav with an integer song id");
      cat.Add(r, file_col, id);
      for (const auto c : feature_cols) {
        std::string_view t = r.field(c);
        if (t.size() >= 2 && t.front() == '[' && t.back() == ']')
          t = Trim(t.substr(1, t.size() - 2));
        x.push_back(ParseNumber(r, c, t));
      }
    }
  }
  const std::size_t n = cat.ids.size(), dim = feature_cols.size();
  if (n == 0) throw InputError(features_csv + ": no songs (the file has only a header)");
  // Standardize each column over songs (population SD); a constant column becomes 0.
  EmbeddingFamily fam;
  fam.name = name;
  fam.dim = static_cast<std::int32_t>(dim);
  fam.values.assign(n * dim, 0.f);
  for (std::size_t c = 0; c < dim; ++c) {
    double lo = x[c], hi = x[c], mean = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[i * dim + c];
      lo = std::min(lo, v), hi = std::max(hi, v), mean += v;
    }
    if (lo == hi) continue;
    mean /= static_cast<double>(n);
    double var = 0;
    for (std::size_t i = 0; i < n; ++i) var += (x[i * dim + c] - mean) * (x[i * dim + c] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    for (std::size_t i = 0; i < n; ++i)
      fam.values[i * dim + c] = static_cast<float>((x[i * dim + c] - mean) / sd);
  }
  d.song_ids = cat.ids;
  d.families.push_back(std::move(fam));

  if (!annotation_csvs.empty()) {
    d.song_valence.assign(n, 0.f);
    d.song_arousal.assign(n, 0.f);
    std::vector<std::pair<std::size_t, std::size_t>> seen(n, {0, 0});  // (file + 1, line)
    for (std::size_t a = 0; a < annotation_csvs.size(); ++a) {
      CsvReader r(annotation_csvs[a]);
      const auto col =
          BindColumns(r, {{"song_id", true}, {"valence_mean", true}, {"arousal_mean", true}}, true);
      while (r.Next()) {
        const std::int64_t id = ParseInt64(r, col[0]);
        auto scaled = [&r](std::size_t c) {
          const double v = ParseNumber(r, c);
          if (v < 1.0 || v > 9.0)
            r.Fail(c, "value " + std::string(r.field(c)) + " is outside the 1-9 scale");
          return static_cast<float>((v - 1.0) / 8.0);
        };
        const float valence = scaled(col[1]);
        const float arousal = scaled(col[2]);
        const auto it = cat.index.find(id);
        if (it == cat.index.end()) continue;  // annotated song without features: not imported
        auto& s = seen[it->second];
        if (s.first)
          r.Fail(col[0], "duplicate annotation of song id " + std::to_string(id) + " (first at " +
                             annotation_csvs[s.first - 1] + ":" + std::to_string(s.second) + ")");
        s = {a + 1, r.line()};
        d.song_valence[it->second] = valence;
        d.song_arousal[it->second] = arousal;
      }
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!seen[i].first)
        FailAt(features_csv, cat.lines[i], "'file'",
               "song id " + std::to_string(cat.ids[i]) + " has no valence/arousal annotation");
  }
  d.attributes["source"] = "deam-import";
  Validate(d, features_csv);
  return d;
}

}  // namespace amrs::data
