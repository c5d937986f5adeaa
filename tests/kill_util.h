// Kill tests of writers: a forked child rewrites an output in a loop and is killed mid-write.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "amrs/core/atomic_file.h"

namespace amrs::testing {

// The child starts like a fresh program (doctest installs its own handlers for SIGINT and
// SIGTERM, which InstallSignalCleanup would rightly leave alone), then installs the cleanup.
inline void FreshInstall() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
  InstallSignalCleanup();
}

// The names in `dir`, sorted.
inline std::vector<std::string> Names(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Forks a child that calls `write` once, tells the parent, then calls it again and again until
// it is killed; the parent waits `delay_us` (mid-rewrite: the loop spends nearly all its time
// writing a temporary), sends `sig` and returns the child's wait status. Returns -1 if the child
// ended before the signal (its first write failed).
inline int KillWhileRewriting(const std::function<void()>& write, int sig, useconds_t delay_us = 50 * 1000) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FreshInstall();
    ::close(fds[0]);
    write();
    const char c = 1;
    if (::write(fds[1], &c, 1) != 1) ::_exit(98);
    for (;;) write();
  }
  ::close(fds[1]);
  char c = 0;
  const bool started = ::read(fds[0], &c, 1) == 1;
  ::close(fds[0]);
  if (started) {
    ::usleep(delay_us);
    ::kill(pid, sig);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return started ? status : -1;
}

}  // namespace amrs::testing
