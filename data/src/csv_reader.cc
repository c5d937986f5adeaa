#include "csv_reader.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace amrs::data::csv {

std::string_view Trim(std::string_view s) {
  constexpr const char* kSpace = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

namespace {

std::string AtMessage(const std::string& path, std::size_t line, const std::string& column,
                      const std::string& problem) {
  return path + ":" + std::to_string(line) + ": column " + column + ": " + problem;
}

}  // namespace

// "<file>:<line>: column '<name>': <problem>".
void FailAt(const std::string& path, std::size_t line, const std::string& column,
            const std::string& problem) {
  throw InputError(AtMessage(path, line, column, problem));
}

void AddAt(ErrorList& errors, const std::string& path, std::size_t line, const std::string& column,
           const std::string& problem) {
  errors.Add(line, AtMessage(path, line, column, problem));
}

// "<file>:<line>: <problem>" for problems of a whole line or of the header.
void FailLine(const std::string& path, std::size_t line, const std::string& problem) {
  throw InputError(path + ":" + std::to_string(line) + ": " + problem);
}

void ErrorList::Add(std::size_t line, std::string message) {
  ++count_;
  if (kept_.size() < kMaxReported) {
    kept_.emplace_back(line, std::move(message));
    return;
  }
  auto last = std::max_element(kept_.begin(), kept_.end(),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
  if (line < last->first) *last = {line, std::move(message)};
}

void ErrorList::ThrowIfAny(const std::string& path) const {
  if (count_ == 0) return;
  if (count_ == 1) throw InputError(kept_.front().second);
  auto sorted = kept_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string msg = path + ": " + std::to_string(count_) + " errors" +
                    (count_ > sorted.size() ? " (the first " + std::to_string(sorted.size()) + ")" : "") +
                    ":";
  for (const auto& e : sorted) msg += "\n  " + e.second;
  if (count_ > sorted.size()) msg += "\n  ... and " + std::to_string(count_ - sorted.size()) + " more";
  throw InputError(msg);
}

char DelimiterChar(Delimiter d) {
  switch (d) {
    case Delimiter::kTab: return '\t';
    case Delimiter::kSemicolon: return ';';
    default: return ',';
  }
}

namespace {

constexpr Delimiter kCandidates[] = {Delimiter::kComma, Delimiter::kTab, Delimiter::kSemicolon};

// Occurrences of each candidate delimiter outside double quotes.
std::array<std::size_t, 3> DelimiterCounts(std::string_view line) {
  std::array<std::size_t, 3> n{0, 0, 0};
  bool quoted = false;
  for (const char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    for (std::size_t k = 0; k < 3; ++k) n[k] += c == DelimiterChar(kCandidates[k]);
  }
  return n;
}

}  // namespace

Delimiter DetectDelimiter(std::string_view header_line) {
  const auto n = DelimiterCounts(header_line);
  std::size_t best = 0;
  for (std::size_t k = 1; k < 3; ++k)
    if (n[k] > n[best]) best = k;
  return kCandidates[best];
}

std::string CsvReader::DelimiterHint() const {
  const auto n = DelimiterCounts(header_raw_);
  std::size_t used = 0, best = 0;
  while (kCandidates[used] != delimiter_) ++used;
  best = used;
  for (std::size_t k = 0; k < 3; ++k)
    if (n[k] > n[best]) best = k;
  if (best == used) return {};
  const std::string name(DelimiterName(kCandidates[best]));
  return "; the header looks " + name + "-separated: use --delimiter " + name + " (or auto)";
}

std::vector<int> BindColumns(const CsvReader& r, const std::vector<ColumnSpec>& schema,
                             bool allow_unknown) {
  std::vector<int> index(schema.size(), -1);
  std::string known;
  for (const auto& c : schema) known += (known.empty() ? "" : ", ") + std::string(c.name);
  const auto& h = r.header();
  for (std::size_t col = 0; col < h.size(); ++col) {
    std::size_t k = 0;
    while (k < schema.size() && h[col] != schema[k].name) ++k;
    if (k == schema.size()) {
      if (allow_unknown) continue;
      r.FailHeader("unknown column " + Quote(h[col]) + " (known columns: " + known + ")");
    }
    if (index[k] >= 0) r.FailHeader("column " + Quote(h[col]) + " appears twice");
    index[k] = static_cast<int>(col);
  }
  for (std::size_t k = 0; k < schema.size(); ++k)
    if (schema[k].required && index[k] < 0)
      r.FailHeader("missing required column " + Quote(schema[k].name) + " (known columns: " + known + ")");
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

double ParseNumber(const CsvReader& r, std::size_t col, std::string_view text) {
  if (text.empty()) r.Fail(col, "value is empty (a number is required)");
  const char* b = text.data();
  const char* e = b + text.size();
  if (*b == '+' && b + 1 < e && b[1] != '-') ++b;
  double v = 0;
  const auto [p, ec] = std::from_chars(b, e, v, std::chars_format::general);
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || p != e)
    r.Fail(col, "value " + Quote(text) + " is not a number" +
                    (text.find(',') != std::string_view::npos ? " (the decimal separator must be '.')" : ""));
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

}  // namespace amrs::data::csv
