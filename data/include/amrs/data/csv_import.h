// Import of platform logs from CSV and .npy (docs/csv-import.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amrs/data/dataset.h"

namespace amrs::data {

// The field delimiter of the CSV files. kAuto detects it from each file's header line: the most
// frequent of comma, tab and semicolon outside quotes (comma when the header has none of them).
enum class Delimiter { kAuto, kComma, kTab, kSemicolon };
// "auto" | "comma" | "tab" | "semicolon"; throws ArgumentError naming the value.
Delimiter ParseDelimiter(std::string_view name);
std::string_view DelimiterName(Delimiter d);  // "auto", "comma", "tab", "semicolon"

struct CsvImportSpec {
  // user_id,session_id,position,song_id,engagement[,rating][,valence,arousal]
  std::string interactions_csv;
  std::string sessions_csv;      // session_id,user_id,order,pre_valence,pre_arousal[,...]
  // name=path pairs; path ends in .csv (song_id then dim values per line) or .npy (float32 or
  // float64, num_songs x dim, rows in the order of `songs_csv` or of the first CSV family).
  std::vector<std::pair<std::string, std::string>> embeddings;
  std::string songs_csv;  // optional: song_id per line (needed for .npy-only catalogues)
  Delimiter delimiter = Delimiter::kAuto;  // of every CSV file above
};

// Reads the CSV files and builds a validated dataset. Errors name the file, line and column; the
// bad rows of one file are reported together (up to the first 20 by line, then "... and N more")
// in one InputError, and the import stops at the first file with errors.
Dataset ImportCsv(const CsvImportSpec& spec);

// A catalogue-only import of the DEAM fixture: features CSV (`file` = <song_id>.wav, numeric
// feature columns, `tempo` as "[x]") standardized per column into the family `name`, and human
// valence/arousal (1-9 scale, mapped to [0, 1]) from the annotation CSVs. The third-party
// `emotion` label column is ignored.
Dataset ImportDeamCatalogue(const std::string& features_csv,
                            const std::vector<std::string>& annotation_csvs,
                            const std::string& name = "deam");

// Reads a .npy array of float32 or float64 with 2 dimensions (C order). Errors name the file.
std::vector<float> ReadNpy(const std::string& path, std::int64_t& rows, std::int64_t& cols);

}  // namespace amrs::data
