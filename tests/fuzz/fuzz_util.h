// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cc, docs/reliability.md "Fuzzing"): the
// rule every parser of outside input must follow, and scratch files for the file-based readers.
//
// A target feeds one input to a parser. The parser may accept it or throw amrs::InputError whose
// message names the file; anything else (another exception type, a message without the file, a
// crash, a hang, a sanitizer report, memory beyond libFuzzer's -rss_limit_mb) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "amrs/core/error.h"

namespace amrs::fuzz {

// A file in the temporary directory named for this process and `name` (e.g. "data.h5"),
// rewritten for every input.
inline std::string ScratchPath(const std::string& name) {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("amrs-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir + "/" + name;
}

inline std::string WriteScratch(const std::string& name, std::string_view bytes) {
  const auto path = ScratchPath(name);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Calls `parse`; an InputError must name one of `files` (substring match), else abort. Other
// exceptions propagate (libFuzzer reports them as a crash).
template <class Parse, class... Files>
void ExpectAcceptOrInputError(Parse&& parse, const Files&... files) {
  try {
    parse();
  } catch (const amrs::InputError& e) {
    const std::string what = e.what();
    if (!((what.find(files) != std::string::npos) || ...)) {
      std::fprintf(stderr, "fuzz: InputError does not name the file: %s\n", what.c_str());
      std::abort();
    }
  }
}

}  // namespace amrs::fuzz
