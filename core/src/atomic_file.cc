#include "amrs/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "amrs/core/error.h"

namespace amrs {

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  static std::atomic<unsigned> counter{0};
  if (target_.empty()) throw ArgumentError("empty output path");
  const auto parent = std::filesystem::path(target_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw InputError(target_ + ": cannot create the folder " + parent.string() + ": " + ec.message());
  temp_ = target_ + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

AtomicFile::~AtomicFile() {
  if (!done_) std::remove(temp_.c_str());
}

void AtomicFile::Commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  done_ = true;
  if (ec) {
    std::remove(temp_.c_str());
    throw InputError(target_ + ": cannot move the temporary file into place: " + ec.message());
  }
}

void WriteFileAtomically(const std::string& path, std::string_view text) {
  AtomicFile file(path);
  {
    std::ofstream f(file.temp(), std::ios::binary);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    if (!f) throw InputError(path + ": cannot write");
  }
  file.Commit();
}

}  // namespace amrs
