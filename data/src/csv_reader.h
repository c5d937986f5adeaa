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
#include <utility>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/data/csv_import.h"

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

class ErrorList;
// Records FailAt's message in `errors` instead of throwing it.
void AddAt(ErrorList& errors, const std::string& path, std::size_t line, const std::string& column,
           const std::string& problem);

// The located errors of one file. All are counted; the first kMaxReported by line are kept.
class ErrorList {
 public:
  static constexpr std::size_t kMaxReported = 20;
  void Add(std::size_t line, std::string message);
  std::size_t size() const { return count_; }
  // Nothing when empty; the one message when there is one; otherwise one InputError
  // "<path>: N errors:" followed by the kept messages one per line, in line order, and
  // "... and M more" when more than kMaxReported were found.
  void ThrowIfAny(const std::string& path) const;

 private:
  std::vector<std::pair<std::size_t, std::string>> kept_;  // (line, message)
  std::size_t count_ = 0;
};

// The delimiter character of a resolved (non-auto) delimiter, and its name ("tab").
char DelimiterChar(Delimiter d);
// The delimiter a header line looks like: the most frequent of comma, tab and semicolon outside
// double quotes (ties and a line with none: comma first, then tab).
Delimiter DetectDelimiter(std::string_view header_line);

// A streaming reader of a delimited file with a header line. Fields are trimmed of surrounding
// white space; a field may be double-quoted ("" is a literal quote inside quotes). Blank lines
// are skipped; line numbers are physical, 1-based lines of the file. Delimiter::kAuto is
// resolved from the header line (DetectDelimiter).
//
// Without `collect`, the first bad line throws. With `collect`, Next() records a line with a
// wrong field count or an unterminated quote and moves on, Row() records the InputError of a
// row's parse and returns false, and Finish() throws everything recorded (ErrorList). Header
// problems always throw at once.
class CsvReader {
 public:
  explicit CsvReader(std::string path, Delimiter delimiter = Delimiter::kComma, bool collect = false)
      : path_(std::move(path)), in_(path_, std::ios::binary), collect_(collect) {
    if (!in_) throw InputError(path_ + ": cannot open");
    if (!ReadRaw()) throw InputError(path_ + ": empty file (a header line is required)");
    header_raw_ = std::string(raw_);
    delimiter_ = delimiter == Delimiter::kAuto ? DetectDelimiter(raw_) : delimiter;
    delim_ = DelimiterChar(delimiter_);
    Split(raw_);
    header_line_ = line_;
    header_ = fields_;
  }

  const std::string& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  std::size_t header_line() const { return header_line_; }
  std::size_t line() const { return line_; }
  Delimiter delimiter() const { return delimiter_; }
  std::string_view field(std::size_t col) const { return fields_[col]; }

  // Advances to the next non-blank line; false at the end of the file. Every line must have as
  // many fields as the header.
  bool Next() {
    while (ReadRaw())
      if (Row([this] { SplitChecked(); })) return true;  // with `collect`, a bad line is recorded and skipped
    return false;
  }

  // Runs `parse` on the current row. With `collect`, an InputError it throws is recorded and
  // Row returns false (the caller skips the row); without, the error propagates.
  template <typename F>
  bool Row(F&& parse) {
    if (!collect_) {
      parse();
      return true;
    }
    try {
      parse();
      return true;
    } catch (const InputError& e) {
      errors_.Add(line_, e.what());
      return false;
    }
  }

  // The errors recorded so far (callers add the problems they find after reading).
  ErrorList& errors() { return errors_; }
  // Throws the recorded errors, if any.
  void Finish() const { errors_.ThrowIfAny(path_); }

  // The display name of a column: 'engagement', or its 1-based number past the header.
  std::string ColumnName(std::size_t col) const {
    if (col < header_.size() && !header_[col].empty()) return Quote(header_[col]);
    return std::to_string(col + 1);
  }

  [[noreturn]] void Fail(std::size_t col, const std::string& problem) const {
    FailAt(path_, line_, ColumnName(col), problem);
  }

  // A problem of the header line, with DelimiterHint() appended.
  [[noreturn]] void FailHeader(const std::string& problem) const {
    FailLine(path_, header_line_, problem + DelimiterHint());
  }

  // "; the header looks tab-separated: use --delimiter tab (or auto)" when the header line has
  // more of another delimiter than of the one in use; empty otherwise.
  std::string DelimiterHint() const;

 private:
  // The next non-blank line into raw_ (BOM removed); false at the end of the file.
  bool ReadRaw() {
    while (std::getline(in_, buf_)) {
      ++line_;
      std::string_view s(buf_);
      if (line_ == 1 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);  // UTF-8 BOM
      if (Trim(s).empty()) continue;
      raw_ = s;
      return true;
    }
    if (in_.bad()) throw InputError(path_ + ": read error after line " + std::to_string(line_));
    return false;
  }

  void SplitChecked() {
    Split(raw_);
    const auto n = fields_.size(), m = header_.size();
    if (n != m) {
      const std::string counts = "the line has " + std::to_string(n) + " field" +
                                 (n == 1 ? "" : "s") + ", the header has " + std::to_string(m);
      if (n < m) Fail(n, "value is missing (" + counts + ")");
      Fail(m, "unexpected extra field (" + counts + ")");
    }
  }

  // White space around a field: blanks, and tabs unless tab is the delimiter.
  bool IsBlank(char c) const { return c == ' ' || (c == '\t' && delim_ != '\t'); }

  void Split(std::string_view s) {
    fields_.clear();
    std::size_t i = 0;
    while (true) {
      std::size_t j = i;
      while (j < s.size() && IsBlank(s[j])) ++j;
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
        while (j < s.size() && (IsBlank(s[j]) || s[j] == '\r')) ++j;
        if (j < s.size() && s[j] != delim_) Fail(fields_.size(), "text after a closing quote");
        fields_.emplace_back(Trim(field));
      } else {
        const auto next = s.find(delim_, i);
        j = next == std::string_view::npos ? s.size() : next;
        fields_.emplace_back(Trim(s.substr(i, j - i)));
      }
      if (j >= s.size()) break;
      i = j + 1;  // s[j] is the delimiter
    }
  }

  std::string path_;
  std::ifstream in_;
  bool collect_ = false;
  Delimiter delimiter_ = Delimiter::kComma;
  char delim_ = ',';
  std::string buf_;
  std::string_view raw_;  // into buf_
  std::string header_raw_;
  std::size_t line_ = 0;
  std::size_t header_line_ = 0;
  std::vector<std::string> header_;
  std::vector<std::string> fields_;
  ErrorList errors_;
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
