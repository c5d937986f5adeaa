// Internal to the data module: the song catalogue of an import (songs file or the first CSV
// embedding family) and the embedding families read against it (.csv or .npy).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "amrs/data/dataset.h"
#include "csv_reader.h"

namespace amrs::data::csv {

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

// A songs file: song_id per line.
CatalogueOrder ReadSongsCsv(const std::string& path, Delimiter delimiter = Delimiter::kComma);
// Case-insensitive suffix test ("x.CSV" ends with ".csv").
bool EndsWith(const std::string& s, std::string_view suffix);
// Reads an embeddings CSV (`song_id` then dim values per line). With `define`, the file's line
// order becomes the catalogue `cat`; otherwise rows are placed in the order of `cat`.
// Bad rows are reported together (CsvReader's collect mode).
EmbeddingFamily ReadCsvFamily(const std::string& name, const std::string& path, CatalogueOrder& cat,
                              bool define, Delimiter delimiter = Delimiter::kComma);
// A .npy matrix with one row per catalogue song, in the catalogue's order.
EmbeddingFamily ReadNpyFamily(const std::string& name, const std::string& path, const CatalogueOrder& cat);

}  // namespace amrs::data::csv
