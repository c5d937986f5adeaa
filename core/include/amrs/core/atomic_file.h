// The one way every writer in the library puts a file in place: write a temporary file in the
// target's folder, then rename it onto the target (atomic on POSIX file systems). Readers never
// see a half-written file, and a failed or abandoned write leaves nothing behind.
#pragma once

#include <string>
#include <string_view>

namespace amrs {

// Owns a temporary path next to `target`. Write to temp(), then Commit(); the destructor removes
// the temporary unless Commit() succeeded. Creates the target's folder if it is missing.
class AtomicFile {
 public:
  explicit AtomicFile(std::string target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  const std::string& temp() const { return temp_; }
  const std::string& target() const { return target_; }
  // Renames temp() onto target(). Throws InputError naming the target when the rename fails
  // (the temporary is removed then too).
  void Commit();

 private:
  std::string target_, temp_;
  bool done_ = false;
};

// Writes `text` to `path` through an AtomicFile. Throws InputError naming the file on failure.
void WriteFileAtomically(const std::string& path, std::string_view text);

}  // namespace amrs
