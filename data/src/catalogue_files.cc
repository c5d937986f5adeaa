#include "catalogue_files.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "amrs/data/csv_import.h"

namespace amrs::data::csv {

CatalogueOrder ReadSongsCsv(const std::string& path, Delimiter delimiter) {
  CsvReader r(path, delimiter, /*collect=*/true);
  const auto col = BindColumns(r, {{"song_id", true}});
  CatalogueOrder cat;
  cat.source = path;
  while (r.Next()) r.Row([&] { cat.Add(r, col[0], ParseInt64(r, col[0])); });
  r.Finish();
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

EmbeddingFamily ReadCsvFamily(const std::string& name, const std::string& path, CatalogueOrder& cat,
                              bool define, Delimiter delimiter) {
  CsvReader r(path, delimiter, /*collect=*/true);
  const auto& h = r.header();
  if (h[0] != "song_id") r.FailHeader("the first column must be 'song_id', got " + Quote(h[0]));
  if (h.size() < 2) r.FailHeader("no embedding columns after 'song_id'");
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
    r.Row([&] {
      const std::int64_t id = ParseInt64(r, 0);
      float* row = nullptr;
      if (define) {
        cat.Add(r, 0, id);
        fam.values.resize(cat.ids.size() * dim);
        row = fam.values.data() + (cat.ids.size() - 1) * dim;
      } else {
        const auto it = cat.index.find(id);
        if (it == cat.index.end())
          r.Fail(0, "song id " + std::to_string(id) + " is not in the catalogue (" + cat.source + ")");
        auto& seen = seen_line[it->second];
        if (seen)
          r.Fail(0, "duplicate song id " + std::to_string(id) + " (first at line " +
                        std::to_string(seen) + ")");
        seen = r.line();
        row = fam.values.data() + static_cast<std::size_t>(it->second) * dim;
      }
      for (std::size_t c = 0; c < dim; ++c) row[c] = ParseFloat32(r, c + 1, r.field(c + 1));
    });
  }
  // Songs of the catalogue missing from this family: after every line's errors.
  for (std::size_t i = 0; i < seen_line.size(); ++i)
    if (!seen_line[i])
      r.errors().Add(static_cast<std::size_t>(-1),
                     path + ": song id " + std::to_string(cat.ids[i]) +
                         " is missing (it is in the catalogue: " + cat.source + " line " +
                         std::to_string(cat.lines[i]) + ")");
  r.Finish();
  if (define && cat.ids.empty()) throw InputError(path + ": no songs (the file has only a header)");
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

}  // namespace amrs::data::csv
