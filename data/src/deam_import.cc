// Import of the DEAM catalogue fixture (docs/csv-import.md): standardized audio features as an
// embedding family and, optionally, the songs' valence/arousal annotations.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/data/csv_import.h"
#include "catalogue_files.h"
#include "csv_reader.h"

namespace amrs::data {
namespace {

using namespace csv;

// The features file: every column but 'file' and 'emotion' is a feature.
struct DeamFeatures {
  CatalogueOrder cat;
  std::size_t dim = 0;
  std::vector<double> x;  // songs x dim, raw
};

// The feature columns of the header (all but 'file' and 'emotion'); sets file_col.
std::vector<std::size_t> FeatureColumns(const CsvReader& r, int& file_col) {
  const auto& features_csv = r.path();
  const auto& h = r.header();
  std::vector<std::size_t> feature_cols;
  file_col = -1;
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
  return feature_cols;
}

// Song id: the file name without its extension, e.g. "2.wav" -> 2.
std::int64_t SongIdOfFile(const CsvReader& r, int file_col) {
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
  return id;
}

DeamFeatures ReadFeatures(const std::string& features_csv) {
  DeamFeatures out;
  out.cat.source = features_csv;
  CsvReader r(features_csv, Delimiter::kComma, /*collect=*/true);  // up to the first 20 errors in one run
  int file_col = -1;
  const auto feature_cols = FeatureColumns(r, file_col);
  out.dim = feature_cols.size();
  std::vector<double> row(feature_cols.size());
  while (r.Next()) {
    r.Row([&] {
      const std::int64_t id = SongIdOfFile(r, file_col);
      for (std::size_t k = 0; k < feature_cols.size(); ++k) {
        std::string_view t = r.field(feature_cols[k]);
        if (t.size() >= 2 && t.front() == '[' && t.back() == ']')
          t = Trim(t.substr(1, t.size() - 2));
        row[k] = ParseNumber(r, feature_cols[k], t);
      }
      out.cat.Add(r, file_col, id);  // last: a row with an error adds nothing
      out.x.insert(out.x.end(), row.begin(), row.end());
    });
  }
  r.Finish();
  if (out.cat.ids.empty()) throw InputError(features_csv + ": no songs (the file has only a header)");
  return out;
}

// Standardize each column over songs (population SD); a constant column becomes 0.
EmbeddingFamily Standardized(const DeamFeatures& f, const std::string& name) {
  const std::size_t n = f.cat.ids.size(), dim = f.dim;
  const auto& x = f.x;
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
  return fam;
}

// Valence and arousal means on the 1-9 scale, scaled to [0, 1], for every catalogue song.
void ReadAnnotations(const std::vector<std::string>& annotation_csvs, const CatalogueOrder& cat, Dataset& d) {
  const std::size_t n = cat.ids.size();
  d.song_valence.assign(n, 0.f);
  d.song_arousal.assign(n, 0.f);
  std::vector<std::pair<std::size_t, std::size_t>> seen(n, {0, 0});  // (file + 1, line)
  for (std::size_t a = 0; a < annotation_csvs.size(); ++a) {
    CsvReader r(annotation_csvs[a], Delimiter::kComma, /*collect=*/true);
    const auto col =
        BindColumns(r, {{"song_id", true}, {"valence_mean", true}, {"arousal_mean", true}}, true);
    while (r.Next()) r.Row([&] {
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
      if (it == cat.index.end()) return;  // annotated song without features: not imported
      auto& s = seen[it->second];
      if (s.first)
        r.Fail(col[0], "duplicate annotation of song id " + std::to_string(id) + " (first at " +
                           annotation_csvs[s.first - 1] + ":" + std::to_string(s.second) + ")");
      s = {a + 1, r.line()};
      d.song_valence[it->second] = valence;
      d.song_arousal[it->second] = arousal;
    });
    r.Finish();
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!seen[i].first)
      FailAt(cat.source, cat.lines[i], "'file'",
             "song id " + std::to_string(cat.ids[i]) + " has no valence/arousal annotation");
}

}  // namespace

Dataset ImportDeamCatalogue(const std::string& features_csv,
                            const std::vector<std::string>& annotation_csvs,
                            const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos)
    throw ArgumentError("DEAM import: invalid embedding family name " + Quote(name));
  const auto features = ReadFeatures(features_csv);
  Dataset d;
  d.song_ids = features.cat.ids;
  d.families.push_back(Standardized(features, name));
  if (!annotation_csvs.empty()) ReadAnnotations(annotation_csvs, features.cat, d);
  d.attributes["source"] = "deam-import";
  Validate(d, features_csv);
  return d;
}

}  // namespace amrs::data
