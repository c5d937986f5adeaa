#include "common.h"

#include <unistd.h>

#include <cstdint>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <typeinfo>

#include "amrs/agents/plugin.h"
#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/run/run.h"
#include "amrs/worldmodel/config.h"

namespace amrs::cli {

bool Parse(const std::string& name, const std::vector<std::string>& args, po::options_description& desc,
           po::variables_map& vm, const po::positional_options_description* pos, const char* usage) {
  desc.add_options()("help,h", "show this help");
  auto parser = po::command_line_parser(args).options(desc);
  if (pos) parser.positional(*pos);
  const auto parsed = parser.run();
  for (const auto& o : parsed.options)  // a word no positional slot takes (boost would drop it)
    if (o.string_key.empty())
      throw ArgumentError("unexpected argument '" + (o.original_tokens.empty() ? std::string() : o.original_tokens[0]) +
                          "' (values with commas, e.g. --agents a,b, take no spaces)");
  po::store(parsed, vm);
  for (const auto& o : parsed.options) {  // boost reads "-1" into an unsigned option as 2^64 - 1
    const auto& type = vm[o.string_key].value().type();
    if (type != typeid(std::uint64_t) && type != typeid(std::uint32_t) && type != typeid(unsigned long long))
      continue;
    for (const auto& v : o.value)
      if (v.find('-') != std::string::npos)
        throw ArgumentError("--" + o.string_key + ": '" + v + "' is negative (the option takes a value >= 0)");
  }
  if (vm.count("help")) {
    std::cout << "usage: amrs " << name << " " << usage << "\n\n" << desc << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const auto comma = s.find(',', pos);
    out.push_back(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<std::int32_t> ParseList(const std::string& s, const char* what) {
  std::vector<std::int32_t> out;
  for (const auto& item : SplitCommas(s)) {
    try {
      std::size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw ArgumentError(std::string("--") + what + ": '" + item + "' is not an integer");
    }
  }
  return out;
}

std::vector<std::int32_t> ParseSplits(const std::string& s, const char* what) {
  const auto out = ParseList(s, what);
  std::set<std::int32_t> seen;
  for (const auto v : out) {
    if (v < 0) throw ArgumentError(std::string("--") + what + ": split " + std::to_string(v) + " is negative");
    if (!seen.insert(v).second)
      throw ArgumentError(std::string("--") + what + ": split " + std::to_string(v) + " is listed twice");
  }
  return out;
}

std::vector<std::uint64_t> SeedsOption(const std::string& list, std::int32_t n, const char* what) {
  if (list.empty()) return run::SeedRange(n, what);
  std::vector<std::uint64_t> seeds;
  for (const auto v : ParseList(list, what)) {
    if (v < 0) throw ArgumentError(std::string("--") + what + ": seed " + std::to_string(v) + " is negative");
    seeds.push_back(static_cast<std::uint64_t>(v));
  }
  return seeds;
}

std::map<std::string, std::string> ParseParams(const std::vector<std::string>& items) {
  std::map<std::string, std::string> params;
  for (const auto& s : items) {
    if (s.empty()) continue;
    for (const auto& kv : SplitCommas(s)) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw ArgumentError("--param '" + kv + "' is not KEY=VALUE");
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return params;
}

void CheckWorldSpec(const std::string& spec, const char* what) {
  std::error_code ec;
  if (!spec.empty() && std::filesystem::exists(spec, ec)) CheckInputFile(spec, what);
}

void AddPluginOption(po::options_description& desc, std::vector<std::string>& plugins) {
  desc.add_options()("plugin", po::value(&plugins)->composing(),
                     "agent plugin (.so) to load, repeatable (docs/adding-an-agent.md)");
}

void LoadPlugins(const std::vector<std::string>& plugins) {
  for (const auto& p : plugins) {
    CheckInputFile(p, "--plugin");
    const auto names = agents::LoadPlugin(p);
    std::cerr << "plugin " << p << ": ";
    for (std::size_t i = 0; i < names.size(); ++i) std::cerr << (i ? ", " : "") << names[i];
    std::cerr << (names.empty() ? "nothing new registered\n" : "\n");
  }
}

void PrintScores(const std::string& label, const metrics::SignalScores& s,
                 const std::array<std::string, worldmodel::kNumSignals>& skipped) {
  // An undefined score prints "n/a", with the reason when the model skipped the signal.
  const auto num = [&](int signal, double v, double scale, const char* fmt) {
    if (!skipped[signal].empty()) return "n/a (skipped: " + skipped[signal] + ")";
    if (!std::isfinite(v)) return std::string("n/a");
    char b[32];
    std::snprintf(b, sizeof b, fmt, scale * v);
    return std::string(b);
  };
  std::printf("  %-28s engagement MSE %s R2 %s | rating AUC %s | valence MSE %s R2 %s | arousal MSE %s R2 %s\n",
              label.c_str(), num(0, s.engagement_mse, 1, "%.4f").c_str(), num(0, s.engagement_r2, 100, "%6.1f%%").c_str(),
              num(1, s.rating_auc, 100, "%5.1f%%").c_str(), num(2, s.valence_mse, 1, "%.4f").c_str(),
              num(2, s.valence_r2, 100, "%6.1f%%").c_str(), num(3, s.arousal_mse, 1, "%.4f").c_str(),
              num(3, s.arousal_r2, 100, "%6.1f%%").c_str());
}

void AddModelOptions(po::options_description& desc, worldmodel::ModelConfig& m, std::string& arch,
                     std::string& ablation) {
  desc.add_options()
    ("arch", po::value(&arch)->default_value("factorized"), "factorized | standard")
    ("family", po::value(&m.family)->default_value(m.family, "mert if the dataset has it, else its first"), "embedding family")
    ("pe", po::value(&m.rope)->default_value(m.rope), "rotary positional encoding (+PE): true | false")
    ("ablation", po::value(&ablation)->default_value("base"), "base | -user-history | -feedback | -history-songs | -lookback-N | -candidate-song")
    ("d-model", po::value(&m.d_model)->default_value(m.d_model), "transformer width")
    ("heads", po::value(&m.heads)->default_value(m.heads), "attention heads")
    ("layers", po::value(&m.layers)->default_value(m.layers), "transformer layers")
    ("ff", po::value(&m.ff)->default_value(m.ff), "feed-forward width")
    ("head-hidden", po::value(&m.head_hidden)->default_value(m.head_hidden), "prediction-head width")
    ("dropout", po::value(&m.dropout)->default_value(m.dropout, "0.2"), "dropout")
    ("song-components", po::value(&m.song_components)->default_value(m.song_components), "principal components of song embeddings fed to the network (0 = raw)")
    ("song-prior", po::value(&m.song_prior)->default_value(m.song_prior)->implicit_value(true),
     "append each song's shrunk per-signal train means and log(1+count) to its input (on in the small preset; docs/own-data.md)")
    ("song-prior-k", po::value(&m.song_prior_k)->default_value(m.song_prior_k, "5"), "the song prior's shrinkage (pseudo-count of the global mean)")
    ("prior-offset", po::value(&m.prior_offset)->default_value(m.prior_offset)->implicit_value(true),
     "add the logit of the candidate song's shrunk train mean to each output, starting from the per-song mean (needs --song-prior; on in the small preset)")
    ("session-features", po::value(&m.session_features)->default_value(m.session_features)->implicit_value(true),
     "add a fitted linear term in the position in the session, the song's recent plays and the user's departure from the per-song means (needs --prior-offset; on in the small preset)");
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), t0_(std::chrono::steady_clock::now()), terminal_(StderrIsTerminal()) {}

void ProgressBar::Update(std::int64_t done, std::int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!terminal_) {  // a log file: one line at the start and one at the end, no \r frames
    const bool end = done >= total;
    if (!started_ || (end && !ended_))
      std::fprintf(stderr, "  %-28s %s %6.1f s\n", label_.c_str(), end ? "done" : "started", Seconds(t0_));
    started_ = true;
    ended_ = ended_ || end;
    std::fflush(stderr);
    return;
  }
  const int width = 30, n = total > 0 ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r  %-28s [%s%s] %3d%% %6.1f s", label_.c_str(), std::string(n, '=').c_str(),
               std::string(width - n, ' ').c_str(), total > 0 ? static_cast<int>(100 * done / total) : 100,
               Seconds(t0_));
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace amrs::cli
