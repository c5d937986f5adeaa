// Private to the CLI: option parsing and terminal output shared by the subcommands.
#pragma once

#include <boost/program_options.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "amrs/metrics/world.h"
#include "amrs/worldmodel/config.h"

namespace amrs::cli {

namespace po = boost::program_options;

inline constexpr const char* kVersion = "0.1.0";

// Exit status of every command (README "Exit status"): 0 success, 1 bad input or another error,
// 2 bad options or values, 3 a verdict of `stress` or `check-agent` that failed.
inline constexpr int kBadInput = 1, kBadOptions = 2, kVerdictFailed = 3, kDistributedFailure = 4;

// Parses `args` against `desc` (+ positionals); prints help and returns false on --help.
bool Parse(const std::string& name, const std::vector<std::string>& args, po::options_description& desc,
           po::variables_map& vm, const po::positional_options_description* pos = nullptr, const char* usage = "");

double Seconds(std::chrono::steady_clock::time_point t0);

// "a,b,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitCommas(const std::string& s);
// "0,1,2" -> integers; ArgumentError naming the option `what`.
std::vector<std::int32_t> ParseList(const std::string& s, const char* what);
// ParseList for split indices: ArgumentError on a negative or repeated index.
std::vector<std::int32_t> ParseSplits(const std::string& s, const char* what);
// Explicit comma-separated seeds, or 0..n-1 when the list is empty.
std::vector<std::uint64_t> SeedsOption(const std::string& list, std::int32_t n, const char* what);
// "KEY=VALUE,KEY=VALUE" (each string may hold several) -> map; ArgumentError on a bad item.
std::map<std::string, std::string> ParseParams(const std::vector<std::string>& items);

// A --world spec that names an existing path must be a regular file (a FIFO would block); other
// specs ("oracle", a plugin's kind, a missing checkpoint) are left to the world registry.
void CheckWorldSpec(const std::string& spec, const char* what = "--world");

// --plugin lib.so (repeatable): agent plugins to load before the agents are looked up.
void AddPluginOption(po::options_description& desc, std::vector<std::string>& plugins);
// Loads each plugin (agents::LoadPlugin; InputError naming the file), listing what it registered
// on stderr.
void LoadPlugins(const std::vector<std::string>& plugins);

// The world-model options shared by train-world, sweep-world and bench.
void AddModelOptions(po::options_description& desc, worldmodel::ModelConfig& m, std::string& arch,
                     std::string& ablation);
// One line of scores; an undefined score (NaN) prints "n/a", a signal the model skipped (its
// CheckpointInfo::skip_reason) "n/a (skipped: <reason>)".
void PrintScores(const std::string& label, const metrics::SignalScores& s,
                 const std::array<std::string, worldmodel::kNumSignals>& skipped = {});

// Whether stderr is a terminal (progress bars redraw with \r only there).
bool StderrIsTerminal();

// A progress bar on stderr, safe to update from several threads. When stderr is not a terminal
// (a log file, a pipe) it prints one line when it starts and one when it ends instead.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void Update(std::int64_t done, std::int64_t total);

 private:
  std::string label_;
  std::chrono::steady_clock::time_point t0_;
  std::mutex mu_;
  bool terminal_, started_ = false, ended_ = false;
};

// The subcommands (one file each group).
int Generate(const std::vector<std::string>& args);
int Summarize(const std::vector<std::string>& args);
int Import(const std::vector<std::string>& args);
int Split(const std::vector<std::string>& args);
int TrainWorld(const std::vector<std::string>& args);
int SweepWorld(const std::vector<std::string>& args);
int Bench(const std::vector<std::string>& args);
int Rollout(const std::vector<std::string>& args);
int Evaluate(const std::vector<std::string>& args);
int TrainPolicy(const std::vector<std::string>& args);
int Tune(const std::vector<std::string>& args);
int Report(const std::vector<std::string>& args);
int Stress(const std::vector<std::string>& args);
int ListAgents(const std::vector<std::string>& args);
int ListWorlds(const std::vector<std::string>& args);
int CheckAgent(const std::vector<std::string>& args);

}  // namespace amrs::cli
