// The `amrs` command line: a table of subcommands. Each subcommand (cmd_*.cc) parses its options,
// calls the library and prints; the experiment logic lives in the libraries.
#include <boost/program_options.hpp>

#include <iostream>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
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
// an unknown command; 3 when `stress` or `check-agent` ran and its verdict is "failed". Every
// error is reported as one line on stderr.
int main(int argc, char** argv) {
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
  const std::string prefix = "amrs " + name + ": ";
  try {
    return it->second.run(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const boost::program_options::error& e) {
    std::cerr << prefix << OneLine(e.what()) << " (see amrs " << name << " --help)\n";
    return amrs::cli::kBadOptions;
  } catch (const amrs::ArgumentError& e) {
    std::cerr << prefix << "error: " << OneLine(e.what()) << " (see amrs " << name << " --help)\n";
    return amrs::cli::kBadOptions;
  } catch (const std::bad_alloc&) {
    std::cerr << prefix << "error: out of memory (std::bad_alloc); a size option (e.g. --songs, --d-model, --batch) "
              << "may be too large for this machine\n";
    return amrs::cli::kBadInput;
  } catch (const std::exception& e) {  // amrs::Error, and others (e.g. c10::Error from LibTorch)
    std::cerr << prefix << "error: " << OneLine(e.what()) << "\n";
    return amrs::cli::kBadInput;
  } catch (...) {
    std::cerr << prefix << "error: an unknown exception\n";
    return amrs::cli::kBadInput;
  }
}
