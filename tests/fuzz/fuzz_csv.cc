// libFuzzer target: the CSV import (interactions, sessions, one embedding family). The input is
// the three files one after another, separated by lines "--8<--".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "amrs/data/csv_import.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view part[3];
  for (int i = 0; i < 3; ++i) {
    const auto cut = i < 2 ? in.find("\n--8<--\n") : std::string_view::npos;
    part[i] = in.substr(0, cut);
    in = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 8);
  }
  amrs::data::CsvImportSpec spec;
  spec.interactions_csv = amrs::fuzz::WriteScratch("interactions.csv", part[0]);
  spec.sessions_csv = amrs::fuzz::WriteScratch("sessions.csv", part[1]);
  spec.embeddings = {{"tags", amrs::fuzz::WriteScratch("tags.csv", part[2])}};
  amrs::fuzz::ExpectAcceptOrInputError([&] { amrs::data::ImportCsv(spec); }, spec.interactions_csv,
                                       spec.sessions_csv, spec.embeddings[0].second);
  return 0;
}
