// The one way every writer in the library puts a file in place: write a temporary file in the
// target's folder, then rename it onto the target (atomic on POSIX file systems). Readers never
// see a half-written file, and a failed or abandoned write leaves nothing behind: the destructor
// removes it, the handlers of InstallSignalCleanup remove it on SIGINT/SIGTERM/SIGHUP, and after
// a SIGKILL the next AtomicFile for the same target removes it (see docs/reliability.md).
#pragma once

#include <string>
#include <string_view>

namespace amrs {

// Owns a temporary path `<target>.tmp<pid>.<counter>` next to `target`. Write to temp(), then
// Commit(); the destructor removes the temporary unless Commit() succeeded. Creates the target's
// folder if it is missing. On construction, removes stale temporaries of the same target left by
// processes that no longer exist (names matching exactly `<target>.tmp<digits>.<digits>` whose
// pid is not alive); the temporary is registered for InstallSignalCleanup until it is committed
// or destroyed.
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
  int slot_ = -1;  // index in the process-wide registry of live temporaries, -1 if not registered
  bool done_ = false;
};

// Writes `text` to `path` through an AtomicFile. Throws InputError naming the file on failure.
void WriteFileAtomically(const std::string& path, std::string_view text);

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every live AtomicFile temporary of
// this process, then re-raise the signal with its default action (so the process ends with the
// conventional status 128 + signal). Signals whose handler is not the default (e.g. SIGHUP
// ignored under nohup) are left alone. Idempotent; meant for a program's main (the `amrs` CLI).
void InstallSignalCleanup();

// Removes stale temporaries of `target` (`<target>.tmp<pid>.<n>` with no live process `pid`);
// returns how many were removed. AtomicFile's constructor calls it; exposed for tests.
int RemoveStaleTemporaries(const std::string& target);

}  // namespace amrs
