// The `amrs` command line: a table of subcommands. Each subcommand (cmd_*.cc) parses its options,
// calls the library and prints; the experiment logic lives in the libraries.
#include <boost/program_options.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/core/memory.h"
#include "amrs/distributed/distributed.h"
#include "common.h"

namespace {

using amrs::cli::kVersion;

struct Command {
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

const std::map<std::string, Command>& Commands() {
  using namespace amrs::cli;
  static const std::map<std::string, Command> commands = {
      {"generate", {"sample the synthetic listener population (Table-1 sizes by default)", Generate}},
      {"summarize", {"print a Table-1 summary and, for synthetic data, the oracle ceilings", Summarize}},
      {"import", {"import CSV logs and embeddings (CSV or .npy) into a dataset", Import}},
      {"split", {"(re)make the MCCV splits by user stored in a dataset", Split}},
      {"train-world", {"train and test a world model on MCCV splits", TrainWorld}},
      {"sweep-world", {"Tables 2 and 3: all configurations and ablations on shared splits, with baselines and oracle", SweepWorld}},
      {"bench", {"speed benchmark: cached append vs re-encode, catalogue scoring, training throughput", Bench}},
      {"rollout", {"run agents in the env (learned world or oracle) and log every episode to HDF5", Rollout}},
      {"train-policy", {"train Copycat (InfoNCE) or DPO policies for N seeds", TrainPolicy}},
      {"tune", {"choose train-policy options on validation users (a grid; never the test users)", Tune}},
      {"evaluate", {"the evaluation protocol: all agents on train/val/test (learned world) and test (oracle)", Evaluate}},
      {"stress", {"stress-test agents on scenario files (perturbed histories) against guardrails", Stress}},
      {"check-agent", {"conformance checks of an agent (e.g. from a --plugin) on a learned world and the oracle", CheckAgent}},
      {"agents", {"list every agent and wrapper with its description and parameters", ListAgents}},
      {"worlds", {"list the world kinds a --world spec can name", ListWorlds}},
      {"report", {"benchmark report: Tables 4 and 5, oracle comparison, Tables 2 and 3, figures (Markdown, JSON, PNG)", Report}},
  };
  return commands;
}

// The first line of an exception's message (LibTorch appends a backtrace), with control
// characters shown as '?', so that every error is one line.
// The first line of an error message, and the indented lines right after it (a list of located
// input errors: csv import); anything else after the first line (e.g. a LibTorch backtrace) is
// dropped. Control characters become '?'.
std::string OneLine(const char* what) {
  const std::string all(what ? what : "");
  std::string s;
  std::size_t begin = 0;
  do {
    const auto end = all.find('\n', begin);
    std::string line = all.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (begin > 0 && line.compare(0, 2, "  ") != 0) break;
    for (auto& c : line)
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    s += (begin > 0 ? "\n" : "") + line;
    begin = end == std::string::npos ? std::string::npos : end + 1;
  } while (begin != std::string::npos);
  return s.empty() ? "an error without a message" : s;
}

// The commands that run with several processes under torchrun, mpirun or srun (docs/distributed.md).
const std::set<std::string> kDistributedCommands = {"train-world", "train-policy", "rollout", "evaluate", "stress"};

void Usage(std::ostream& os) {
  os << "amrs " << kVersion << ": offline affective music recommendation simulator\n\n"
     << "usage: amrs <command> [options]   (amrs <command> --help for its options)\n\ncommands:\n";
  for (const auto& [name, c] : Commands())
    os << "  " << name << std::string(name.size() < 13 ? 13 - name.size() : 1, ' ') << c.summary << "\n";
}

}  // namespace

// Exit status, the one rule of every command (README "Exit status"): 0 success; 1 bad input (a
// file that is missing, malformed or out of range: InputError) or any other error, including an
// allocation that cannot be satisfied; 2 bad options or values (a parse error, ArgumentError) or
// an unknown command; 3 when `stress` or `check-agent` ran and its verdict is "failed"; 4 when a
// distributed run failed because of another rank (it died, hung, failed or disagrees) or the
// process group could not form. Every error is reported as one line on stderr; under a launcher
// only rank 0 prints, except errors, which every rank prints with its rank.
int main(int argc, char** argv) {
  amrs::KeepLargeArraysInHeap();
  if (argc < 2) {
    Usage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    Usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::cout << "amrs " << kVersion << "\n";
    return 0;
  }
  const auto it = Commands().find(name);
  if (it == Commands().end()) {
    std::cerr << "amrs: unknown command '" << name << "'\n\n";
    Usage(std::cerr);
    return 2;
  }
  amrs::InstallSignalCleanup();  // SIGINT/SIGTERM/SIGHUP remove the temporary outputs (exit 128+sig)
  std::string prefix = "amrs " + name + ": ";
  int saved_stderr = -1;  // rank > 0 prints nothing but its errors: stdout and stderr go to /dev/null
  auto fail = [&](int status, const std::string& message, bool see_help) {
    if (saved_stderr >= 0) {
      std::cerr.flush();
      std::fflush(stderr);
      ::dup2(saved_stderr, 2);
    }
    std::cerr << prefix << message << (see_help ? " (see amrs " + name + " --help)" : "") << "\n";
    amrs::distributed::Current().Abort(message);  // the other ranks name this rank and its message
    return status;
  };
  try {
    const std::vector<std::string> args(argv + 2, argv + argc);
    if (const auto launch = amrs::distributed::LaunchFromEnvironment(); launch && launch->world_size > 1) {
      prefix = "amrs " + name + ": rank " + std::to_string(launch->rank) + " of " + std::to_string(launch->world_size) + ": ";
      // Refused before joining the process group: every rank refuses on its own, none waits.
      if (!kDistributedCommands.count(name))
        throw amrs::ArgumentError("runs as one process only; distributed (WORLD_SIZE " + std::to_string(launch->world_size) +
                                  " from " + launch->launcher + "): train-world, train-policy, rollout, evaluate, stress");
      amrs::distributed::SetCurrent(amrs::distributed::Connect(*launch));
      std::string command = std::string(kVersion) + " " + name;
      for (const auto& a : args) command += " " + a;
      amrs::distributed::CheckSame(amrs::distributed::Current(), "version and command line", command);
      if (launch->rank != 0) {
        std::cout.flush(), std::cerr.flush(), std::fflush(nullptr);
        const int null_fd = ::open("/dev/null", O_WRONLY);
        saved_stderr = ::dup(2);
        if (null_fd >= 0 && saved_stderr >= 0) ::dup2(null_fd, 1), ::dup2(null_fd, 2);
        if (null_fd >= 0) ::close(null_fd);
      }
    }
    return it->second.run(args);
  } catch (const boost::program_options::error& e) {
    return fail(amrs::cli::kBadOptions, OneLine(e.what()), true);
  } catch (const amrs::ArgumentError& e) {
    return fail(amrs::cli::kBadOptions, "error: " + OneLine(e.what()), true);
  } catch (const amrs::distributed::Failure& e) {
    return fail(amrs::cli::kDistributedFailure, "error: " + OneLine(e.what()), false);
  } catch (const std::bad_alloc&) {
    return fail(amrs::cli::kBadInput,
                "error: out of memory (std::bad_alloc); a size option (e.g. --songs, --d-model, --batch) may be too "
                "large for this machine", false);
  } catch (const std::exception& e) {  // amrs::Error, and others (e.g. c10::Error from LibTorch)
    return fail(amrs::cli::kBadInput, "error: " + OneLine(e.what()), false);
  } catch (...) {
    return fail(amrs::cli::kBadInput, "error: an unknown exception", false);
  }
}
