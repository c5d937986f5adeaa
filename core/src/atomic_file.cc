#include "amrs/core/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "amrs/core/error.h"

namespace amrs {

namespace {

// The registry of live temporaries read by the signal handler: a fixed array of path buffers,
// each guarded by an atomic state, so that the handler touches no lock and no heap. A temporary
// that finds no free slot (more than kSlots open at once) or whose path is too long is simply not
// registered: the stale-temporary sweep of the next run removes it if a signal leaves it behind.
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
enum SlotState : int { kFree = 0, kFilling = 1, kLive = 2 };
struct Slot {
  std::atomic<int> state{kFree};
  char path[kPathMax];
};
std::array<Slot, kSlots> g_slots;
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

int Register(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_slots[i].state.compare_exchange_strong(expected, kFilling)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(kLive);
      return i;
    }
  }
  return -1;
}

void Unregister(int slot) {
  if (slot >= 0) g_slots[slot].state.store(kFree);
}

const int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void CleanupAndReraise(int sig) {
  const int saved = errno;
  for (auto& s : g_slots)
    if (s.state.load() == kLive) ::unlink(s.path);
  // Default action, then re-raise: the signal is blocked while this handler runs, so it is
  // delivered (and ends the process with 128 + sig) as soon as the handler returns.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
  errno = saved;
}

// True when `s` is one or more ASCII digits.
bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

int RemoveStaleTemporaries(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path t(target);
  const std::string prefix = t.filename().string() + ".tmp";
  fs::path dir = t.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  int removed = 0;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = std::string_view(name).substr(prefix.size());
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos || !AllDigits(rest.substr(0, dot)) || !AllDigits(rest.substr(dot + 1)))
      continue;
    const std::string_view pid_text = rest.substr(0, dot);
    if (pid_text.size() > 9) continue;  // not a pid this system could have given
    const long pid = std::stol(std::string(pid_text));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  static std::atomic<unsigned> counter{0};
  if (target_.empty()) throw ArgumentError("empty output path");
  const auto parent = std::filesystem::path(target_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw InputError(target_ + ": cannot create the folder " + parent.string() + ": " + ec.message());
  RemoveStaleTemporaries(target_);
  temp_ = target_ + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  slot_ = Register(temp_);
}

AtomicFile::~AtomicFile() {
  if (!done_) std::remove(temp_.c_str());
  Unregister(slot_);
}

void AtomicFile::Commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  done_ = true;
  if (ec) std::remove(temp_.c_str());
  Unregister(slot_);
  slot_ = -1;
  if (ec) throw InputError(target_ + ": cannot move the temporary file into place: " + ec.message());
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

void InstallSignalCleanup() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  for (int sig : kSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;  // ignored or taken
    struct sigaction sa {};
    sa.sa_handler = CleanupAndReraise;
    sigemptyset(&sa.sa_mask);
    for (int other : kSignals) sigaddset(&sa.sa_mask, other);
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace amrs
