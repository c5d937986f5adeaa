#include "amrs/core/paths.h"

#include <filesystem>
#include <system_error>

#include "amrs/core/error.h"

namespace amrs {
namespace fs = std::filesystem;
namespace {

// What a path that is not a regular file is, for the message.
std::string Kind(const fs::file_status& s) {
  switch (s.type()) {
    case fs::file_type::directory: return "a directory";
    case fs::file_type::fifo: return "a FIFO";
    case fs::file_type::socket: return "a socket";
    case fs::file_type::block: return "a block device";
    case fs::file_type::character: return "a character device";
    default: return "a special file";
  }
}

std::string Named(const std::string& what, const std::string& path) { return what + " '" + path + "'"; }

}  // namespace

bool SameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool same = fs::equivalent(a, b, ec);
    if (!ec) return same;
  }
  const auto ca = fs::weakly_canonical(a, ec);
  if (ec) return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
  const auto cb = fs::weakly_canonical(b, ec);
  return !ec && ca == cb;
}

void CheckInputFile(const std::string& path, const std::string& what) {
  if (path.empty()) throw ArgumentError(what + ": the path is empty");
  std::error_code ec;
  const auto s = fs::status(path, ec);  // follows links: a link to a regular file is fine
  if (ec || !fs::exists(s)) throw InputError(Named(what, path) + ": no such file");
  if (!fs::is_regular_file(s)) throw InputError(Named(what, path) + ": " + Kind(s) + ", not a regular file");
}

void CheckOutputFile(const std::string& path, const std::vector<std::string>& inputs, const std::string& what) {
  if (path.empty()) throw ArgumentError(what + ": the path is empty");
  for (const auto& in : inputs)
    if (!in.empty() && SameFile(path, in))
      throw ArgumentError(Named(what, path) + " is the input '" + in + "': refusing to replace an input");
  std::error_code ec;
  const auto s = fs::status(path, ec);
  if (!ec && fs::exists(s) && !fs::is_regular_file(s))
    throw InputError(Named(what, path) + ": " + Kind(s) + " exists there; the output must be a regular file");
}

void CheckOutputDir(const std::string& path, const std::string& what) {
  if (path.empty()) throw ArgumentError(what + ": the path is empty");
  std::error_code ec;
  const auto s = fs::status(path, ec);
  if (!ec && fs::exists(s) && !fs::is_directory(s))
    throw InputError(Named(what, path) + ": " + Kind(s) + " exists there; the output must be a folder");
}

}  // namespace amrs
