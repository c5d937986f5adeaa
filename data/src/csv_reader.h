// Internal to the data module: a streaming CSV reader and the field parsers of the CSV imports
// (docs/csv-import.md), every error naming file, line and column.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "amrs/core/error.h"

namespace amrs::data::csv {

// Indices of `rows` ordered by key(row) (a tuple); ties keep input order via the line in the key.
template <typename Row, typename Key>
std::vector<std::size_t> SortedOrder(const std::vector<Row>& rows, Key key) {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(rows[a]) < key(rows[b]); });
  return order;
}

constexpr std::int64_t kMaxRows = std::numeric_limits<std::int32_t>::max();

std::string_view Trim(std::string_view s);
std::string Quote(std::string_view s);  // 'text'

// "<file>:<line>: column '<name>': <problem>".
[[noreturn]] void FailAt(const std::string& path, std::size_t line, const std::string& column,
                         const std::string& problem);
// "<file>:<line>: <problem>" for problems of a whole line or of the header.
[[noreturn]] void FailLine(const std::string& path, std::size_t line, const std::string& problem);

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
                             bool allow_unknown = false);

std::int64_t ParseInt64(const CsvReader& r, std::size_t col);
std::int32_t ParseInt32(const CsvReader& r, std::size_t col);
// A finite number; `text` overrides the field (used for bracketed values).
double ParseNumber(const CsvReader& r, std::size_t col, std::string_view text);
double ParseNumber(const CsvReader& r, std::size_t col);
float ParseFloat32(const CsvReader& r, std::size_t col, std::string_view text);
float ParseUnit(const CsvReader& r, std::size_t col);  // a number in [0, 1]
// Fails (at the reader's line) when `rows` rows are already read and one more does not fit.
void CheckRowCount(const CsvReader& r, std::size_t rows);

}  // namespace amrs::data::csv
