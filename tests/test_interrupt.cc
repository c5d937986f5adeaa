// Writers killed mid-write. AtomicFile under signals: SIGINT/SIGTERM/SIGHUP remove the temporary (with the handlers of
// InstallSignalCleanup) and end the process by the signal; after SIGKILL the temporary stays
// until the next AtomicFile for the same target removes it. Each case forks a child that holds a
// written temporary and kills itself, so the parent sees exactly what a user would.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/atomic_file.h"
#include "amrs/data/dataset.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/episode_log.h"
#include "block_util.h"
#include "kill_util.h"
#include "test_util.h"

using namespace amrs;
namespace fs = std::filesystem;

namespace {

using testing::FreshInstall;
using testing::Names;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Forks a child that (optionally) installs the cleanup handlers, opens an AtomicFile for
// `target`, writes 1 MB into its temporary and raises `sig`; returns the child's wait status.
int KillWriter(const std::string& target, int sig, bool install) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int s : {SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
    if (install) FreshInstall();
    AtomicFile f(target);
    {
      std::ofstream out(f.temp(), std::ios::binary);
      out << std::string(1 << 20, 'x');
    }
    ::raise(sig);
    ::_exit(99);  // not reached: the signal ends the child
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

// The pid of a child that has already exited (and been reaped): a pid that is not alive.
pid_t DeadPid() {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return pid;
}

}  // namespace

TEST_CASE("SIGINT, SIGTERM and SIGHUP remove the temporary, keep the old file and end by the signal") {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    CAPTURE(sig);
    const testing::TempDir dir;
    const std::string target = dir.File("out.h5");
    WriteFileAtomically(target, "old contents");
    const int status = KillWriter(target, sig, /*install=*/true);
    REQUIRE(WIFSIGNALED(status));  // the conventional exit: 128 + sig in a shell
    CHECK(WTERMSIG(status) == sig);
    CHECK(Names(dir.path()) == std::vector<std::string>{"out.h5"});
    CHECK(Slurp(target) == "old contents");
  }
  {  // a new target: nothing at all remains
    const testing::TempDir dir;
    const int status = KillWriter(dir.File("new.h5"), SIGTERM, true);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    CHECK(Names(dir.path()).empty());
  }
}

TEST_CASE("SIGKILL (or a signal without the handlers) leaves the temporary; the next writer removes it") {
  for (const auto& [signal, install_handlers] : {std::pair{SIGKILL, true}, std::pair{SIGTERM, false}}) {
    const int sig = signal;  // (a structured binding cannot be captured by CAPTURE's lambda in C++17)
    const bool install = install_handlers;
    CAPTURE(sig);
    const testing::TempDir dir;
    const std::string target = dir.File("out.h5");
    const int status = KillWriter(target, sig, install);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    const auto left = Names(dir.path());
    REQUIRE(left.size() == 1);  // out.h5.tmp<child pid>.<n>: nothing could clean up
    CHECK(left[0].rfind("out.h5.tmp", 0) == 0);
    CHECK_FALSE(fs::exists(target));
    WriteFileAtomically(target, "new");  // the next run writing the same output
    CHECK(Names(dir.path()) == std::vector<std::string>{"out.h5"});
    CHECK(Slurp(target) == "new");
  }
}

TEST_CASE("The stale-temporary sweep removes only dead processes' temporaries of the same target") {
  const testing::TempDir dir;
  const std::string dead = std::to_string(DeadPid());
  const std::string parent = std::to_string(::getppid());  // alive
  const std::string self = std::to_string(::getpid());
  const std::vector<std::string> keep = {
      "out.h5.tmp" + parent + ".0",        // a live process's write in progress
      "out.h5.tmp" + self + ".999",        // this process's own
      "out.h5.tmp" + dead,                 // no counter
      "out.h5.tmp" + dead + ".",           // empty counter
      "out.h5.tmp" + dead + ".1x",         // not digits
      "out.h5.tmp" + dead + ".1.2",        // extra part
      "out.h5.tmpx" + dead + ".1",         // not digits
      "out.h5x.tmp" + dead + ".1",         // another target
      "other.h5.tmp" + dead + ".1",        // another target
      "out.h5",                            // the target itself
  };
  const std::vector<std::string> stale = {"out.h5.tmp" + dead + ".0", "out.h5.tmp" + dead + ".17"};
  for (const auto& n : keep) WriteFileAtomically(dir.File(n), "k");
  for (const auto& n : stale) std::ofstream(dir.File(n)) << "s";
  CHECK(RemoveStaleTemporaries(dir.File("out.h5")) == 2);
  auto want = keep;
  std::sort(want.begin(), want.end());
  CHECK(Names(dir.path()) == want);
  CHECK(RemoveStaleTemporaries(dir.File("out.h5")) == 0);
}

TEST_CASE("A committed or destroyed AtomicFile leaves no temporary and is no longer cleaned up") {
  const testing::TempDir dir;
  const std::string target = dir.File("a.txt");
  {
    AtomicFile f(target);
    std::ofstream(f.temp()) << "abandoned";
  }
  CHECK(Names(dir.path()).empty());
  // More live temporaries than the registry's slots: all are removed on a signal or by the sweep.
  const int status = [&] {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      FreshInstall();
      WriteFileAtomically(target, "committed");  // committed: the handler must not touch it
      std::vector<std::unique_ptr<AtomicFile>> open;
      for (int i = 0; i < 70; ++i) {
        open.push_back(std::make_unique<AtomicFile>(dir.File("many" + std::to_string(i))));
        std::ofstream(open.back()->temp()) << i;
      }
      ::raise(SIGTERM);
      ::_exit(99);
    }
    int s = 0;
    REQUIRE(::waitpid(pid, &s, 0) == pid);
    return s;
  }();
  REQUIRE(WIFSIGNALED(status));
  CHECK(Slurp(target) == "committed");
  auto left = Names(dir.path());
  // The registry has 64 slots: the first 64 temporaries are removed by the handler, the rest
  // by the next writer of each target.
  CHECK(left.size() == 1 + (70 - 64));
  for (int i = 0; i < 70; ++i) WriteFileAtomically(dir.File("many" + std::to_string(i)), "x");
  left = Names(dir.path());
  CHECK(left.size() == 71);
  for (const auto& n : left) CHECK(n.find(".tmp") == std::string::npos);
}

namespace {

// A valid block of `e` episodes of horizon 20 for agent "a", seed `seed`.
EpisodeBlock SomeBlock(std::uint64_t seed, int e) {
  const int L = 20;
  EpisodeBlock b;
  b.agent = "a";
  b.seed = seed;
  b.horizon = L;
  for (int i = 0; i < e; ++i) {
    b.episode_seed.push_back(seed * 1000 + static_cast<std::uint64_t>(i));
    b.user.push_back(i % 7);
    b.window_index.push_back(0);
    b.window_start.push_back(i % 3);
    b.window_length.push_back(5);
    for (int t = 0; t < L; ++t) {
      b.actions.push_back((i + t) % 11);
      const float x = static_cast<float>((i * L + t) % 97) / 97.f;
      b.engagement.push_back(x);
      b.rating.push_back(x > 0.5f ? 1.f : 0.f);
      b.valence.push_back(1.f - x);
      b.arousal.push_back(x * 0.5f);
      b.reward.push_back(x * 0.25f);
    }
  }
  return b;
}

env::RunMetadata Meta() {
  env::RunMetadata m;
  m.world = "oracle";
  m.horizon = 20;
  m.part = "test";
  return m;
}

// Forks a child that writes an episode log of 200 blocks over `target` and raises `sig` after
// the 50th block (mid-run: the temporary holds 50 blocks); returns the wait status.
int KillLogWriter(const std::string& target, int sig) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FreshInstall();
    env::EpisodeLogWriter w(target, Meta());
    for (std::uint64_t s = 0; s < 200; ++s) {
      w.Write(SomeBlock(s, 30));
      if (s == 50) ::raise(sig);
    }
    w.Finalize();
    ::_exit(99);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("An episode log killed mid-run leaves the old log intact and no temporary") {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGKILL}) {
    CAPTURE(sig);
    const testing::TempDir dir;
    const std::string target = dir.File("run.h5");
    const auto old = SomeBlock(7, 3);
    {
      env::EpisodeLogWriter w(target, Meta());
      w.Write(old);
      w.Finalize();
    }
    const int status = KillLogWriter(target, sig);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    const auto log = env::ReadEpisodeLog(target);
    REQUIRE(log.blocks.size() == 1);
    CHECK(testing::SameBlock(log.blocks[0], old));
    if (sig == SIGKILL) {
      CHECK(Names(dir.path()).size() == 2);  // the killed run's temporary, until the next run
      env::EpisodeLogWriter w(target, Meta());
      w.Write(SomeBlock(8, 2));
      w.Finalize();
      CHECK(env::ReadEpisodeLog(target).blocks.at(0).seed == 8);
    }
    CHECK(Names(dir.path()) == std::vector<std::string>{"run.h5"});
  }
}

TEST_CASE("A dataset killed while being rewritten is the old or the new file, never partial") {
  const auto d = data::Generate(testing::SmallConfig(3, 30, 150, 1000, 100, 8, 2));
  const std::string fingerprint = data::Fingerprint(d);
  const testing::TempDir dir;
  const std::string target = dir.File("d.h5");
  const int status = testing::KillWhileRewriting([&] { data::WriteDataset(d, target); }, SIGTERM);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  CHECK(data::Fingerprint(data::ReadDataset(target)) == fingerprint);
  CHECK(Names(dir.path()) == std::vector<std::string>{"d.h5"});
}
