// A results file (HDF5): sections of named rows, each row a set of per-split metric vectors
// (float64) plus string attributes. Used for world-model evaluations (section "world") and read
// by the report. Layout: /<section>/<row>/<metric> float64[K], attributes on /<section>/<row>.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace amrs::data {

struct ResultRow {
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, std::string> attrs;
};
using ResultSection = std::map<std::string, ResultRow>;
using Results = std::map<std::string, ResultSection>;

// Reads every section; an absent file gives empty results. Errors name the file and object.
Results ReadResults(const std::string& path);
// Replaces `rows` of `section` (other rows and sections are kept) and rewrites the file
// atomically. Not safe for concurrent writers: call from one thread.
void UpdateResults(const std::string& path, const std::string& section, const ResultSection& rows);

}  // namespace amrs::data
