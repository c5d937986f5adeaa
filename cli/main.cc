// The `amrs` command line: one subcommand per job. Logic lives in the libraries; this file
// parses options, calls them and prints.
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <mutex>
#include <sstream>

#include "amrs/agents/agent.h"
#include "amrs/agents/policy.h"
#include "amrs/core/error.h"
#include "amrs/env/env.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"
#include "amrs/metrics/stats.h"
#include "amrs/report/report.h"
#include "amrs/scenarios/scenario.h"
#include "amrs/scenarios/stress.h"
#include "amrs/data/csv_import.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/data/splits.h"
#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"
#include "amrs/worldmodel/bench.h"
#include "bench.h"
#include "list.h"
#include "amrs/worldmodel/sweep.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kVersion = "0.1.0";

struct Command {
  const char* summary;
  std::function<int(const std::vector<std::string>&)> run;
};

// Parses `args` against `desc` (+ positionals); prints help and returns false on --help.
bool Parse(const std::string& name, const std::vector<std::string>& args, po::options_description& desc,
           po::variables_map& vm, const po::positional_options_description* pos = nullptr,
           const char* usage = "") {
  desc.add_options()("help,h", "show this help");
  auto parser = po::command_line_parser(args).options(desc);
  if (pos) parser.positional(*pos);
  po::store(parser.run(), vm);
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

int Generate(const std::vector<std::string>& args) {
  amrs::data::GeneratorConfig c;
  std::string out;
  po::options_description desc("amrs generate: sample the built-in synthetic listener population");
  desc.add_options()
    ("out,o", po::value(&out)->default_value("synthetic.h5"), "output dataset (.h5)")
    ("seed", po::value(&c.seed)->default_value(c.seed), "random seed")
    ("users", po::value(&c.num_users)->default_value(c.num_users), "number of users")
    ("sessions", po::value(&c.num_sessions)->default_value(c.num_sessions), "number of sessions")
    ("interactions", po::value(&c.num_interactions)->default_value(c.num_interactions), "number of interactions")
    ("songs", po::value(&c.num_songs)->default_value(c.num_songs), "catalogue size")
    ("embedding-dim", po::value(&c.embedding_dim)->default_value(c.embedding_dim), "dimension of both embedding families")
    ("splits", po::value(&c.num_splits)->default_value(c.num_splits), "MCCV splits stored with the data")
    ("tagged-fraction", po::value(&c.tagged_fraction)->default_value(c.tagged_fraction, "0.88"), "share of the catalogue the production policy can play")
    ("mode-fraction", po::value(&c.mode_fraction)->default_value(c.mode_fraction, "0.8"), "share of sessions with a mode");
  po::variables_map vm;
  if (!Parse("generate", args, desc, vm, nullptr, "[--out FILE] [options]")) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto d = amrs::data::Generate(c, &std::cerr);
  amrs::data::WriteDataset(d, out);
  std::cerr << "wrote " << out << " in " << Seconds(t0) << " s\n";
  return 0;
}

int Summarize(const std::vector<std::string>& args) {
  std::string path;
  bool no_oracle = false;
  po::options_description desc("amrs summarize: Table-1 summary and oracle ceilings");
  desc.add_options()
    ("data", po::value(&path)->required(), "dataset (.h5)")
    ("no-oracle", po::bool_switch(&no_oracle), "skip the oracle ceilings");
  po::positional_options_description pos;
  pos.add("data", 1);
  po::variables_map vm;
  if (!Parse("summarize", args, desc, vm, &pos, "DATA.h5")) return 0;
  const auto d = amrs::data::ReadDataset(path);
  std::optional<amrs::data::Ceiling> ceiling;
  if (d.oracle && !no_oracle) ceiling = amrs::data::EvaluateOracle(d);
  std::cout << path << " (fingerprint " << amrs::data::Fingerprint(d) << ")\n"
            << amrs::data::FormatSummary(d, amrs::data::Summarize(d), ceiling);
  return 0;
}

int Import(const std::vector<std::string>& args) {
  amrs::data::CsvImportSpec spec;
  std::vector<std::string> embeddings, deam_annotations;
  std::string out, deam_features;
  std::int32_t k = 10;
  std::uint64_t seed = 0;
  po::options_description desc("amrs import: CSV logs (or the DEAM catalogue) into the dataset format");
  desc.add_options()
    ("interactions", po::value(&spec.interactions_csv), "interactions.csv")
    ("sessions", po::value(&spec.sessions_csv), "sessions.csv")
    ("embedding", po::value(&embeddings)->composing(), "NAME=PATH (.csv or .npy); repeat per family")
    ("songs", po::value(&spec.songs_csv), "songs.csv (song_id per line; row order of .npy files)")
    ("deam-features", po::value(&deam_features), "DEAM features CSV (catalogue-only import)")
    ("deam-annotations", po::value(&deam_annotations)->composing(), "DEAM annotation CSV; repeat")
    ("splits", po::value(&k)->default_value(k), "MCCV splits to store (0: none)")
    ("seed", po::value(&seed)->default_value(seed), "split seed")
    ("out,o", po::value(&out)->required(), "output dataset (.h5)");
  po::variables_map vm;
  if (!Parse("import", args, desc, vm, nullptr, "--interactions F --sessions F --embedding NAME=F... --out D.h5")) return 0;
  amrs::data::Dataset d;
  if (!deam_features.empty()) {
    d = amrs::data::ImportDeamCatalogue(deam_features, deam_annotations);
  } else {
    if (spec.interactions_csv.empty() || spec.sessions_csv.empty() || embeddings.empty())
      throw amrs::ArgumentError("import needs --interactions, --sessions and at least one --embedding (or --deam-features)");
    for (const auto& e : embeddings) {
      const auto eq = e.find('=');
      if (eq == std::string::npos || eq == 0)
        throw amrs::ArgumentError("--embedding '" + e + "' is not NAME=PATH");
      spec.embeddings.emplace_back(e.substr(0, eq), e.substr(eq + 1));
    }
    d = amrs::data::ImportCsv(spec);
    if (k > 0) {
      d.splits = amrs::data::MakeSplits(d.num_users(), k, seed);
      d.split_seed = seed;
    }
  }
  amrs::data::WriteDataset(d, out);
  std::cerr << "wrote " << out << ": " << d.num_songs() << " songs, " << d.num_users() << " users, "
            << d.sessions.size() << " sessions, " << d.interactions.size() << " interactions\n";
  return 0;
}

int Split(const std::vector<std::string>& args) {
  std::string path;
  std::int32_t k = 10;
  std::uint64_t seed = 0;
  po::options_description desc("amrs split: (re)make the MCCV splits by user stored in a dataset");
  desc.add_options()
    ("data", po::value(&path)->required(), "dataset (.h5), rewritten atomically")
    ("k", po::value(&k)->default_value(k), "number of 80/10/10 splits")
    ("seed", po::value(&seed)->default_value(seed), "split seed");
  po::positional_options_description pos;
  pos.add("data", 1);
  po::variables_map vm;
  if (!Parse("split", args, desc, vm, &pos, "DATA.h5 [--k K] [--seed S]")) return 0;
  auto d = amrs::data::ReadDataset(path);
  d.splits = amrs::data::MakeSplits(d.num_users(), k, seed);
  d.split_seed = seed;
  amrs::data::WriteDataset(d, path);
  std::cerr << "stored " << k << " splits (seed " << seed << ") in " << path << "\n";
  return 0;
}

std::vector<std::int32_t> ParseList(const std::string& s, const char* what) {
  std::vector<std::int32_t> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const auto comma = s.find(',', pos);
    const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      std::size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw amrs::ArgumentError(std::string("--") + what + ": '" + item + "' is not an integer");
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void PrintScores(const std::string& label, const amrs::metrics::SignalScores& s) {
  std::printf("  %-28s engagement MSE %.4f R2 %6.1f%% | rating AUC %5.1f%% | valence MSE %.4f R2 %6.1f%% | arousal MSE %.4f R2 %6.1f%%\n",
              label.c_str(), s.engagement_mse, 100 * s.engagement_r2, 100 * s.rating_auc, s.valence_mse,
              100 * s.valence_r2, s.arousal_mse, 100 * s.arousal_r2);
}

void AddModelOptions(po::options_description& desc, amrs::worldmodel::ModelConfig& m, std::string& arch,
                     std::string& ablation) {
  desc.add_options()
    ("arch", po::value(&arch)->default_value("factorized"), "factorized | standard")
    ("family", po::value(&m.family)->default_value(m.family), "embedding family")
    ("pe", po::value(&m.rope)->default_value(m.rope), "rotary positional encoding (+PE): true | false")
    ("ablation", po::value(&ablation)->default_value("base"), "base | -user-history | -feedback | -history-songs | -lookback-N | -candidate-song")
    ("d-model", po::value(&m.d_model)->default_value(m.d_model), "transformer width")
    ("heads", po::value(&m.heads)->default_value(m.heads), "attention heads")
    ("layers", po::value(&m.layers)->default_value(m.layers), "transformer layers")
    ("ff", po::value(&m.ff)->default_value(m.ff), "feed-forward width")
    ("head-hidden", po::value(&m.head_hidden)->default_value(m.head_hidden), "prediction-head width")
    ("dropout", po::value(&m.dropout)->default_value(m.dropout, "0.2"), "dropout")
    ("song-components", po::value(&m.song_components)->default_value(m.song_components), "principal components of song embeddings fed to the network (0 = raw)");
}

int TrainWorld(const std::vector<std::string>& args) {
  amrs::worldmodel::TrainOptions o;
  std::string data, out_dir, arch, ablation, splits;
  bool no_resume = false;
  po::options_description desc("amrs train-world: train (and test) a world model on MCCV splits");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("out,o", po::value(&out_dir)->default_value("out/world"), "output folder: <config>/split-<k>.pt")
    ("splits", po::value(&splits)->default_value("0"), "comma-separated split indices")
    ("epochs", po::value(&o.epochs)->default_value(o.epochs), "epochs")
    ("batch-tokens", po::value(&o.batch_tokens)->default_value(o.batch_tokens), "padded tokens per batch")
    ("lr", po::value(&o.lr)->default_value(o.lr, "0.001"), "Adam learning rate")
    ("seed", po::value(&o.seed)->default_value(o.seed), "seed")
    ("weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay, "0.01"), "AdamW weight decay")
    ("no-resume", po::bool_switch(&no_resume), "ignore an existing resume file");
  AddModelOptions(desc, o.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("train-world", args, desc, vm, nullptr, "--data D.h5 [--splits 0,1,2] [options]")) return 0;
  o.model.arch = amrs::worldmodel::ParseArch(arch);
  o.model.ablation = amrs::worldmodel::Ablation::Parse(ablation);
  o.resume = !no_resume;
  o.model.Validate();
  const auto d = amrs::data::ReadDataset(data);
  d.Family(o.model.family);  // fail before creating anything for an unknown family
  for (auto k : ParseList(splits, "splits"))
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw amrs::ArgumentError("split " + std::to_string(k) + " does not exist (the dataset has " +
                                std::to_string(d.splits.size()) + ")");
  const std::string dir = out_dir + "/" + o.model.Name();
  std::filesystem::create_directories(dir);
  for (auto k : ParseList(splits, "splits")) {
    o.split = k;
    o.out = dir + "/split-" + std::to_string(k) + ".pt";
    std::cerr << "== train-world " << o.model.Name() << " split " << k << " -> " << o.out << "\n";
    const auto r = amrs::worldmodel::TrainWorldModel(d, o, &std::cerr);
    std::printf("  trained %d epochs in %.1f s, %.0f train tokens/s; best epochs e/r/v/a %d/%d/%d/%d\n", o.epochs,
                r.seconds, r.train_tokens_per_second, r.info.best_epoch[0], r.info.best_epoch[1],
                r.info.best_epoch[2], r.info.best_epoch[3]);
    const auto model = amrs::worldmodel::WorldModel::Load(o.out, d);
    PrintScores("test (split " + std::to_string(k) + ")", amrs::worldmodel::Evaluate(*model, d, d.splits.at(k).test));
    if (d.oracle) PrintScores("oracle ceiling (same users)", amrs::data::EvaluateOracle(d, d.splits.at(k).test));
  }
  return 0;
}

int SweepWorld(const std::vector<std::string>& args) {
  amrs::worldmodel::SweepOptions o;
  std::string data, arch, ablation, splits, tables;
  bool no_baselines = false;
  po::options_description desc("amrs sweep-world: Tables 2 and 3 on shared MCCV splits, with baselines and the oracle");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("out,o", po::value(&o.out_dir)->default_value(o.out_dir), "output folder")
    ("splits", po::value(&splits)->default_value("0,1,2"), "comma-separated split indices")
    ("tables", po::value(&tables)->default_value("all"), "all | table2 | table3")
    ("jobs", po::value(&o.jobs)->default_value(o.jobs), "trainings in parallel")
    ("epochs", po::value(&o.train.epochs)->default_value(o.train.epochs), "epochs per model")
    ("batch-tokens", po::value(&o.train.batch_tokens)->default_value(o.train.batch_tokens), "padded tokens per batch")
    ("lr", po::value(&o.train.lr)->default_value(o.train.lr, "0.001"), "AdamW learning rate")
    ("seed", po::value(&o.train.seed)->default_value(o.train.seed), "seed")
    ("fidelity-histories", po::value(&o.fidelity_histories)->default_value(o.fidelity_histories), "sampled histories for ranking fidelity")
    ("no-baselines", po::bool_switch(&no_baselines), "skip the baselines and the oracle");
  AddModelOptions(desc, o.train.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("sweep-world", args, desc, vm, nullptr, "--data D.h5 [--splits 0,1,2] [--tables all]")) return 0;
  o.train.model.arch = amrs::worldmodel::ParseArch(arch);
  o.train.model.ablation = amrs::worldmodel::Ablation::Parse(ablation);
  o.splits = ParseList(splits, "splits");
  if (tables != "all" && tables != "table2" && tables != "table3")
    throw amrs::ArgumentError("--tables must be all, table2 or table3, not '" + tables + "'");
  o.table2 = tables != "table3";
  o.table3 = tables != "table2";
  o.baselines = !no_baselines;
  const auto d = amrs::data::ReadDataset(data);
  const auto t0 = std::chrono::steady_clock::now();
  const auto rep = amrs::worldmodel::RunSweep(d, o, &std::cerr);
  std::cout << rep.markdown;
  std::cerr << "sweep-world: done in " << Seconds(t0) << " s; tables " << rep.tables_path << ", results "
            << rep.results_path << "\n";
  return 0;
}

int Bench(const std::vector<std::string>& args) {
  amrs::worldmodel::WorldBenchOptions w;
  std::string data, arch, ablation;
  double min_seconds = 2.0;
  bool skip_world = false, skip_env = false;
  po::options_description desc("amrs bench: speed benchmark (prints measured numbers)");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("world", po::value(&w.checkpoint), "world-model checkpoint to time (default: untrained default config)")
    ("batch", po::value(&w.batch)->default_value(w.batch), "histories per batch for append/re-encode")
    ("history", po::value(&w.history)->default_value(w.history), "tokens per history")
    ("seconds", po::value(&min_seconds)->default_value(min_seconds), "minimum timed seconds per env measurement")
    ("skip-world", po::bool_switch(&skip_world), "skip the world-model part")
    ("skip-env", po::bool_switch(&skip_env), "skip the env part");
  AddModelOptions(desc, w.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("bench", args, desc, vm, nullptr, "--data D.h5 [--world W.pt]")) return 0;
  w.model.arch = amrs::worldmodel::ParseArch(arch);
  w.model.ablation = amrs::worldmodel::Ablation::Parse(ablation);
  auto d = std::make_shared<const amrs::data::Dataset>(amrs::data::ReadDataset(data));
  amrs::worldmodel::SetTorchThreads(1);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("bench: OPENBLAS_CORETYPE=%s\n", coretype ? coretype : "(unset)");
  if (!skip_env) {
    const auto learned = amrs::env::MakeLearnedWorld(
        w.checkpoint.empty() ? amrs::worldmodel::WorldModel::CreateUntrained(w.model, *d, 0)
                             : amrs::worldmodel::WorldModel::Load(w.checkpoint, *d));
    const auto oracle = d->oracle ? amrs::env::MakeOracleWorld(d) : nullptr;
    amrs::cli::PrintEnvBench(d, learned, oracle, min_seconds);
  }
  if (skip_world) return 0;
  const auto b = amrs::worldmodel::RunWorldBench(*d, w);
  std::printf("torch intra-op threads: %d\n", b.torch_threads);
  std::printf("world model (%s)\n", (w.checkpoint.empty() ? w.model.Name() + ", untrained weights" : w.checkpoint).c_str());
  std::printf("  append one token, cached, batch %d:          %8.3f ms\n", w.batch, b.append_ms);
  std::printf("  re-encode %d-token histories, batch %d:     %8.3f ms\n", w.history + 1, w.batch, b.reencode_ms);
  std::printf("  speed-up of the cached append:              %8.1fx\n", b.speedup);
  std::printf("  score the whole catalogue (%d songs), 1 history: %8.3f ms\n", b.catalogue_songs, b.catalogue_ms_b1);
  std::printf("  score the whole catalogue, batch %d, per history: %8.3f ms\n", w.batch, b.catalogue_ms_per_history_b32);
  std::printf("  training throughput (1 epoch, %d users):     %8.0f tokens/s\n", w.train_users, b.train_tokens_per_second);
  return 0;
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

// A progress bar on stderr, safe to update from several threads.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), t0_(std::chrono::steady_clock::now()) {}
  void Update(std::int64_t done, std::int64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    const int width = 30, n = total > 0 ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r  %-28s [%s%s] %3d%% %6.1f s", label_.c_str(), std::string(n, '=').c_str(),
                 std::string(width - n, ' ').c_str(), total > 0 ? static_cast<int>(100 * done / total) : 100,
                 Seconds(t0_));
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::string label_;
  std::chrono::steady_clock::time_point t0_;
  std::mutex mu_;
};

std::map<std::string, std::string> ParseParams(const std::string& s) {
  std::map<std::string, std::string> params;
  if (s.empty()) return params;
  for (const auto& kv : SplitCommas(s)) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw amrs::ArgumentError("--param '" + kv + "' is not KEY=VALUE");
    params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return params;
}

void CheckAgents(const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (!amrs::agents::AgentRegistry::Has(n)) amrs::agents::AgentRegistry::Create(n, {});  // throws, listing names
}

// Rolls out every agent for seeds 0..n-1 on one part and writes the episode log `out`.
void RunAndLog(const std::shared_ptr<const amrs::env::EnvContext>& ctx, const std::vector<std::string>& names,
               const std::map<std::string, std::string>& params, std::int32_t n_seeds,
               const amrs::env::RolloutOptions& ro, const std::string& config_json, const std::string& out) {
  const auto& w = ctx->world();
  const std::string part = amrs::data::PartName(ro.part);
  amrs::env::RunMetadata meta;
  meta.world = w.Name();
  meta.world_id = w.Id();
  meta.dataset_fingerprint = amrs::data::Fingerprint(ctx->dataset());
  meta.part = part;
  meta.split = ctx->config().split;
  meta.horizon = ctx->config().horizon;
  meta.topk = ro.topk;
  meta.utility = ro.reset.utility;
  meta.version = kVersion;
  meta.config = config_json;
  amrs::env::EpisodeLogWriter writer(out, meta);
  std::cerr << "rollout: " << names.size() << " agents x " << n_seeds << " seeds on " << part << " users of split "
            << meta.split << ", world " << w.Name() << ", L = " << meta.horizon << "\n";
  std::printf("%-12s %-6s %6s %10s %10s %10s %10s %10s\n", "agent", "part", "seeds", "reward", "valence", "arousal",
              "rating", "engagement");
  for (const auto& name : names) {
    std::vector<double> rw, va, ar, ra, en;
    for (std::int32_t s = 0; s < n_seeds; ++s) {
      amrs::agents::AgentContext ac{ctx, params, static_cast<std::uint64_t>(s)};
      amrs::agents::AgentRegistry::Create(name, ac);  // fails early (e.g. a missing checkpoint)
      ProgressBar bar(name + " " + part + " seed " + std::to_string(s));
      const auto block = amrs::env::RunRollouts(
          ctx, [&] { return amrs::agents::AgentRegistry::Create(name, ac); }, name, static_cast<std::uint64_t>(s), ro,
          [&](std::int64_t done, std::int64_t total) { bar.Update(done, total); });
      writer.Write(block);
      using amrs::metrics::Mean;
      auto mean = [](const std::vector<float>& v) { return Mean(std::vector<double>(v.begin(), v.end())); };
      rw.push_back(mean(block.reward)), va.push_back(mean(block.valence)), ar.push_back(mean(block.arousal));
      ra.push_back(mean(block.rating)), en.push_back(mean(block.engagement));
    }
    using amrs::metrics::Mean;
    std::printf("%-12s %-6s %6d %10.4f %10.4f %10.4f %10.4f %10.4f\n", name.c_str(), part.c_str(), n_seeds, Mean(rw),
                Mean(va), Mean(ar), Mean(ra), Mean(en));
    std::fflush(stdout);
  }
  writer.Finalize();
  std::cerr << "rollout: wrote " << out << "\n";
}

std::string RunConfigJson(const std::string& agents, std::int32_t n_seeds, std::int32_t batch, bool new_session,
                          std::uint64_t window_seed, const amrs::Utility& utility, const std::string& params) {
  return "{\"agents\": \"" + agents + "\", \"seeds\": " + std::to_string(n_seeds) + ", \"batch\": " +
         std::to_string(batch) + ", \"new_session\": " + (new_session ? "true" : "false") +
         ", \"window_seed\": " + std::to_string(window_seed) + ", \"utility\": \"" + utility.ToString() +
         "\", \"params\": \"" + params + "\"}";
}

int Rollout(const std::vector<std::string>& args) {
  std::string data, world, agents, part, out, utility, params_s;
  std::int32_t split = 0, n_seeds = 5, horizon = 5, threads = 0;
  std::uint64_t window_seed = 0;
  bool new_session = false;
  amrs::env::RolloutOptions ro;
  po::options_description desc("amrs rollout: run agents in the env and log every episode (HDF5)");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("world", po::value(&world)->required(), "world-model checkpoint, or 'oracle' (synthetic data)")
    ("agents", po::value(&agents)->default_value("random,greedy"), "comma-separated registered agents")
    ("split", po::value(&split)->default_value(split), "MCCV split")
    ("part", po::value(&part)->default_value("test"), "train | val | test")
    ("seeds", po::value(&n_seeds)->default_value(n_seeds), "seeds 0..N-1, shared by all agents (paired)")
    ("horizon,L", po::value(&horizon)->default_value(horizon), "steps per episode (L)")
    ("topk", po::value(&ro.topk)->default_value(ro.topk), "length of the logged top-k lists")
    ("batch", po::value(&ro.batch)->default_value(ro.batch), "envs per batch (one TBB task)")
    ("max-users", po::value(&ro.max_users)->default_value(0), "limit the users of the part (0: all)")
    ("utility", po::value(&utility)->default_value("affect"), "reward weights, e.g. valence=0.5,arousal=0.5")
    ("new-session", po::bool_switch(&new_session), "open a new session (boundary token) before the first step")
    ("window-seed", po::value(&window_seed)->default_value(0), "seed of the users' windows")
    ("param", po::value(&params_s)->default_value(""),
     "agent parameters KEY=VALUE,... e.g. copycat=out/policy/copycat-seed-{seed}.pt")
    ("threads", po::value(&threads)->default_value(0), "TBB worker threads (0: all cores)")
    ("out,o", po::value(&out)->default_value("out/run.h5"), "episode log (.h5)");
  po::variables_map vm;
  if (!Parse("rollout", args, desc, vm, nullptr, "--data D.h5 --world W.pt|oracle [--agents random,greedy]")) return 0;
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  amrs::worldmodel::SetTorchThreads(1);
  ro.part = amrs::data::ParsePart(part);
  ro.reset.utility = amrs::Utility::Parse(utility);
  ro.reset.new_session = new_session;
  const auto names = SplitCommas(agents);
  CheckAgents(names);
  const auto params = ParseParams(params_s);
  amrs::agents::ValidateParams(names, params);
  auto d = std::make_shared<const amrs::data::Dataset>(amrs::data::ReadDataset(data));
  amrs::env::EnvConfig cfg;
  cfg.split = split;
  cfg.horizon = horizon;
  cfg.window_seed = window_seed;
  const auto ctx = amrs::env::EnvContext::Create(d, amrs::env::LoadWorld(world, d), cfg);
  RunAndLog(ctx, names, params, n_seeds, ro,
            RunConfigJson(agents, n_seeds, ro.batch, new_session, window_seed, ro.reset.utility, params_s), out);
  return 0;
}

// The paper's evaluation protocol (4.5, 4.6): every agent on the train, validation and test users
// of one split under the learned world, plus the test users under the oracle (ground truth).
int Evaluate(const std::vector<std::string>& args) {
  std::string data, world, agents, parts, out_dir, utility, params_s, oracle;
  std::int32_t split = 0, n_seeds = 5, horizon = 5, threads = 0;
  std::uint64_t window_seed = 0;
  amrs::env::RolloutOptions ro;
  po::options_description desc(
      "amrs evaluate: roll out every agent on each part under the learned world (and the test part under the "
      "oracle), one episode log per part");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("world", po::value(&world)->required(), "world-model checkpoint (or 'oracle')")
    ("agents", po::value(&agents)->default_value("copycat,dpo,random,greedy"), "comma-separated registered agents")
    ("param", po::value(&params_s)->default_value("copycat=out/policy/copycat-seed-{seed}.pt,dpo=out/policy/dpo-seed-{seed}.pt"),
     "agent parameters KEY=VALUE,...")
    ("parts", po::value(&parts)->default_value("test,val,train"), "parts to evaluate")
    ("oracle", po::value(&oracle)->default_value("auto"),
     "also score the test part under the oracle: auto (if the dataset has one) | yes | no")
    ("split", po::value(&split)->default_value(split), "MCCV split")
    ("seeds", po::value(&n_seeds)->default_value(n_seeds), "seeds 0..N-1, shared by all agents (paired)")
    ("horizon,L", po::value(&horizon)->default_value(horizon), "steps per episode (L)")
    ("topk", po::value(&ro.topk)->default_value(ro.topk), "length of the logged top-k lists (adherence uses 10)")
    ("batch", po::value(&ro.batch)->default_value(ro.batch), "envs per batch (one TBB task)")
    ("max-users", po::value(&ro.max_users)->default_value(0), "limit the users of each part (0: all)")
    ("utility", po::value(&utility)->default_value("affect"), "reward weights")
    ("window-seed", po::value(&window_seed)->default_value(0), "seed of the users' windows")
    ("threads", po::value(&threads)->default_value(0), "TBB worker threads (0: all cores)")
    ("out-dir,o", po::value(&out_dir)->default_value("out/eval"), "writes <part>.h5 and test-oracle.h5 here");
  po::variables_map vm;
  if (!Parse("evaluate", args, desc, vm, nullptr, "--data D.h5 --world W.pt [--agents ...] [--param ...]")) return 0;
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  amrs::worldmodel::SetTorchThreads(1);
  if (oracle != "auto" && oracle != "yes" && oracle != "no")
    throw amrs::ArgumentError("--oracle must be auto, yes or no, got '" + oracle + "'");
  ro.reset.utility = amrs::Utility::Parse(utility);
  const auto names = SplitCommas(agents);
  CheckAgents(names);
  const auto params = ParseParams(params_s);
  if (!vm["param"].defaulted()) amrs::agents::ValidateParams(names, params);  // the default names copycat and dpo
  std::vector<amrs::data::Part> part_list;
  for (const auto& p : SplitCommas(parts)) part_list.push_back(amrs::data::ParsePart(p));
  auto d = std::make_shared<const amrs::data::Dataset>(amrs::data::ReadDataset(data));
  amrs::env::EnvConfig cfg;
  cfg.split = split;
  cfg.horizon = horizon;
  cfg.window_seed = window_seed;
  const auto learned = amrs::env::EnvContext::Create(d, amrs::env::LoadWorld(world, d), cfg);
  const bool with_oracle = oracle == "yes" || (oracle == "auto" && d->oracle && world != "oracle");
  std::filesystem::create_directories(out_dir);
  const std::string config = RunConfigJson(agents, n_seeds, ro.batch, false, window_seed, ro.reset.utility, params_s);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto p : part_list) {
    ro.part = p;
    RunAndLog(learned, names, params, n_seeds, ro, config, out_dir + "/" + amrs::data::PartName(p) + ".h5");
  }
  if (with_oracle) {
    ro.part = amrs::data::Part::kTest;
    const auto truth = amrs::env::EnvContext::Create(d, amrs::env::LoadWorld("oracle", d), cfg);
    RunAndLog(truth, names, params, n_seeds, ro, config, out_dir + "/test-oracle.h5");
  }
  std::printf("evaluate: %zu agents x %d seeds in %.1f s; logs in %s/\n", names.size(), n_seeds, Seconds(t0),
              out_dir.c_str());
  return 0;
}

// An ostream whose complete lines go to stderr under one lock (for parallel training jobs).
class LineStream : public std::ostream {
 public:
  LineStream() : std::ostream(&buf_) {}

 private:
  struct Buf : std::stringbuf {
    int sync() override {
      static std::mutex mu;
      std::lock_guard<std::mutex> lock(mu);
      std::cerr << str() << std::flush;
      str("");
      return 0;
    }
  } buf_;
};

// Does `path` hold a policy checkpoint that this run would produce anyway?
bool UpToDate(const std::string& path, const std::string& kind, std::uint64_t seed, const std::string& fingerprint,
              std::int32_t split, std::uint64_t window_seed, std::int32_t epochs, const std::string& reference) {
  if (!std::filesystem::exists(path)) return false;
  try {
    const auto i = amrs::agents::ReadPolicyInfo(path);
    return i.kind == kind && i.seed == seed && i.dataset_fingerprint == fingerprint && i.split == split &&
           i.window_seed == window_seed && i.epochs == epochs && (reference.empty() || i.reference == reference);
  } catch (const amrs::Error&) {
    return false;
  }
}

int TrainPolicy(const std::vector<std::string>& args) {
  std::string kind, data, world, reference, out_dir, utility, seeds_s;
  std::int32_t n_seeds = 5, threads = 0;
  bool force = false;
  amrs::agents::CopycatOptions cc;
  amrs::agents::DpoOptions dp;
  double tau = cc.model.tau;
  std::int32_t epochs = 0;
  double lr = 0;
  po::options_description desc(
      "amrs train-policy: train Copycat (behaviour cloning, InfoNCE) or DPO (fine-tuning on world-scored preference "
      "pairs) for seeds 0..N-1; seeds run in parallel, each on one torch thread");
  desc.add_options()
    ("kind", po::value(&kind)->required(), "copycat | dpo")
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("world", po::value(&world)->default_value(""), "dpo: world that scores the pairs (checkpoint or 'oracle')")
    ("reference", po::value(&reference)->default_value(""),
     "dpo: Copycat checkpoint pattern ({seed} = the seed); default <out-dir>/copycat-seed-{seed}.pt")
    ("seeds", po::value(&n_seeds)->default_value(n_seeds), "seeds 0..N-1")
    ("seed-list", po::value(&seeds_s)->default_value(""), "explicit comma-separated seeds (overrides --seeds)")
    ("split", po::value(&cc.split)->default_value(cc.split), "MCCV split")
    ("window-seed", po::value(&cc.window_seed)->default_value(cc.window_seed), "seed of the users' rollout windows")
    ("epochs", po::value(&epochs)->default_value(0), "epochs (0: copycat 6, dpo 2)")
    ("lr", po::value(&lr)->default_value(0), "AdamW learning rate (0: copycat 1e-3, dpo 5e-6)")
    ("tau", po::value(&tau)->default_value(tau), "copycat: temperature of InfoNCE and pi(y|x)")
    ("negatives", po::value(&cc.negatives)->default_value(cc.negatives), "copycat: unplayed songs per window")
    ("d-model", po::value(&cc.model.d_model)->default_value(cc.model.d_model), "copycat: width")
    ("layers", po::value(&cc.model.layers)->default_value(cc.model.layers), "copycat: transformer layers")
    ("max-train-users", po::value(&cc.max_train_users)->default_value(0), "copycat: limit train users (0: all)")
    ("beta", po::value(&dp.beta)->default_value(dp.beta), "dpo: KL strength beta of eq. 2")
    ("pool", po::value(&dp.pairs.pool)->default_value(dp.pairs.pool), "dpo: candidate pool size M (even)")
    ("max-pairs", po::value(&dp.pairs.max_pairs)->default_value(dp.pairs.max_pairs),
     "dpo: training pairs sampled from the negative steps (0: all)")
    ("engagement-threshold", po::value(&dp.pairs.engagement_threshold)->default_value(dp.pairs.engagement_threshold),
     "dpo: a logged song is negative if disliked or its engagement is below this")
    ("utility", po::value(&utility)->default_value("affect"), "dpo: utility that scores the pairs")
    ("threads", po::value(&threads)->default_value(0), "seeds trained at once (0: all cores)")
    ("force", po::bool_switch(&force), "retrain seeds whose checkpoint is already up to date")
    ("out-dir,o", po::value(&out_dir)->default_value("out/policy"), "writes <kind>-seed-<s>.pt here");
  po::variables_map vm;
  if (!Parse("train-policy", args, desc, vm, nullptr, "--kind copycat|dpo --data D.h5 [--world W.pt]")) return 0;
  if (kind != "copycat" && kind != "dpo") throw amrs::ArgumentError("--kind must be copycat or dpo, got '" + kind + "'");
  if (kind == "dpo" && world.empty()) throw amrs::ArgumentError("--kind dpo needs --world (checkpoint or 'oracle')");
  std::vector<std::uint64_t> seeds;
  if (!seeds_s.empty()) {
    for (const auto v : ParseList(seeds_s, "--seed-list")) seeds.push_back(static_cast<std::uint64_t>(v));
  } else {
    if (n_seeds < 1) throw amrs::ArgumentError("--seeds must be >= 1");
    for (std::int32_t s = 0; s < n_seeds; ++s) seeds.push_back(static_cast<std::uint64_t>(s));
  }
  cc.model.tau = tau;
  cc.epochs = epochs > 0 ? epochs : cc.epochs;
  cc.lr = lr > 0 ? lr : cc.lr;
  dp.epochs = epochs > 0 ? epochs : dp.epochs;
  dp.lr = lr > 0 ? lr : dp.lr;
  dp.utility = amrs::Utility::Parse(utility);
  if (reference.empty()) reference = out_dir + "/copycat-seed-{seed}.pt";
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  amrs::worldmodel::SetTorchThreads(1);
  auto d = std::make_shared<const amrs::data::Dataset>(amrs::data::ReadDataset(data));
  const std::string fp = amrs::data::Fingerprint(*d);
  std::shared_ptr<const amrs::env::EnvContext> ctx;
  if (kind == "dpo") {
    amrs::env::EnvConfig cfg;
    cfg.split = cc.split;
    cfg.window_seed = cc.window_seed;
    ctx = amrs::env::EnvContext::Create(d, amrs::env::LoadWorld(world, d), cfg);
    dp.pairs.Validate();
    dp.utility.Validate();
    for (const auto s : seeds)  // fail before any training if a reference is missing or wrong
      amrs::agents::ReadPolicyInfo(amrs::agents::ExpandSeed(reference, s));
  } else {
    cc.out = "x";
    cc.Validate();
  }
  std::filesystem::create_directories(out_dir);
  std::cerr << "train-policy: " << kind << " for " << seeds.size() << " seeds on split " << cc.split
            << (kind == "dpo" ? ", pairs scored by " + ctx->world().Name() + " with utility " + dp.utility.ToString()
                              : std::string())
            << "\n";
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> lines(seeds.size());
  tbb::parallel_for(std::size_t(0), seeds.size(), [&](std::size_t i) {
    const std::uint64_t s = seeds[i];
    const std::string out = out_dir + "/" + kind + "-seed-" + std::to_string(s) + ".pt";
    const std::string ref = kind == "dpo" ? amrs::agents::ExpandSeed(reference, s) : "";
    LineStream log;
    if (!force && UpToDate(out, kind, s, fp, cc.split, cc.window_seed, kind == "dpo" ? dp.epochs : cc.epochs, ref)) {
      log << kind << " seed " << s << ": " << out << " is up to date (use --force to retrain)" << std::endl;
      lines[i] = out + " (up to date)";
      return;
    }
    amrs::agents::TrainOutcome r;
    if (kind == "copycat") {
      auto o = cc;
      o.seed = s;
      o.out = out;
      r = amrs::agents::TrainCopycat(*d, o, &log);
    } else {
      auto o = dp;
      o.seed = s;
      o.reference = ref;
      o.out = out;
      r = amrs::agents::TrainDpo(ctx, o, &log);
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s (best epoch %d, validation loss %.4f, %.1f s)", out.c_str(), r.info.best_epoch,
                  r.info.best_val_loss, r.seconds);
    lines[i] = buf;
  });
  for (const auto& l : lines) std::printf("  %s\n", l.c_str());
  std::printf("train-policy: %s, %zu seeds in %.1f s\n", kind.c_str(), seeds.size(), Seconds(t0));
  return 0;
}

// scripts/figures.py: installed next to the binary (../share/amrs), else the source tree's.
std::string FiguresScript() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "amrs" / "figures.py";
    if (std::filesystem::exists(installed)) return installed.string();
  }
  return std::string(AMRS_SOURCE_DIR) + "/scripts/figures.py";
}

int Report(const std::vector<std::string>& args) {
  amrs::report::ReportOptions o;
  bool no_figures = false;
  po::options_description desc("amrs report: Tables 4 and 5, the oracle comparison, Tables 2 and 3, figures");
  desc.add_options()
    ("logs", po::value(&o.logs)->multitoken()->required(), "episode logs of amrs rollout (.h5), one per world kind and part")
    ("world-results", po::value(&o.world_results)->multitoken(), "world-results.h5 of amrs sweep-world (Tables 2, 3)")
    ("data", po::value(&o.data)->required(), "the dataset of the logs (.h5)")
    ("out,o", po::value(&o.out_dir)->default_value(o.out_dir), "output folder (report.md, summary.json, fig-*.png)")
    ("family", po::value(&o.family)->default_value(o.family), "embedding family for ILD")
    ("python", po::value(&o.python)->default_value(o.python), "Python with matplotlib for the figures")
    ("figures-script", po::value(&o.figures_script)->default_value(FiguresScript()), "figure script")
    ("no-figures", po::bool_switch(&no_figures), "skip the figures")
    ("stress", po::value(&o.stress_tables)->composing(), "stress table(s) (.md written by `amrs stress`) to include");
  po::positional_options_description pos;
  pos.add("logs", -1);
  po::variables_map vm;
  if (!Parse("report", args, desc, vm, &pos, "RUN.h5... [--world-results R.h5 ...] --data D.h5 --out DIR")) return 0;
  if (no_figures) o.figures_script.clear();
  const auto r = amrs::report::RunReport(o, &std::cerr);
  std::cout << "report: " << r.markdown_path << " (summary " << r.json_path << ", " << r.figures.size()
            << " figures)\n";
  return 0;
}

// Exit status: 0 every required guardrail passed, 1 one failed, 2 bad input or another error
// (then nothing is written).
int Stress(const std::vector<std::string>& args) {
  std::vector<std::string> files, params_s;
  std::string out, data, world, agents;
  std::int32_t threads = 0;
  bool quiet = false;
  po::options_description desc("amrs stress: run scenario files (agents x seeds) and check their guardrails");
  desc.add_options()
    ("scenario", po::value(&files)->composing(), "scenario files (.toml), also as positional arguments")
    ("out,o", po::value(&out)->default_value("out/stress.h5"), "results (.h5); the Markdown table goes next to it (.md)")
    ("data", po::value(&data)->default_value(""), "dataset (.h5) for every scenario, instead of the files' 'data'")
    ("world", po::value(&world)->default_value(""), "world checkpoint or 'oracle' for every scenario, instead of 'world'")
    ("agents", po::value(&agents)->default_value(""), "comma-separated agents for every scenario, instead of 'agents'")
    ("param", po::value(&params_s)->composing(), "agent parameters KEY=VALUE[,KEY=VALUE...] over the files' [params]")
    ("threads", po::value(&threads)->default_value(0), "TBB worker threads (0: all cores)")
    ("quiet,q", po::bool_switch(&quiet), "no progress bar");
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  if (!Parse("stress", args, desc, vm, &pos, "SCENARIO.toml... [--out stress.h5] [--data D.h5] [--world W.pt|oracle] [--agents a,b]"))
    return 0;
  try {
    if (files.empty()) throw amrs::ArgumentError("no scenario files given");
    std::unique_ptr<tbb::global_control> gc;
    if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
    amrs::worldmodel::SetTorchThreads(1);
    amrs::scenarios::Overrides o;
    o.data = data;
    o.world = world;
    if (!agents.empty()) o.agents = SplitCommas(agents);
    for (const auto& p : params_s)
      for (const auto& kv : SplitCommas(p)) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw amrs::ArgumentError("--param '" + kv + "' is not KEY=VALUE");
        o.params[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    std::vector<amrs::scenarios::Scenario> scenarios;
    for (const auto& f : files) scenarios.push_back(amrs::scenarios::ParseScenario(f, o));
    std::cerr << "stress: " << scenarios.size() << " scenario(s)\n";
    std::unique_ptr<ProgressBar> bar;
    std::string label;
    std::mutex mu;
    const auto report = amrs::scenarios::RunStress(scenarios, [&](const std::string& l, std::int64_t done, std::int64_t total) {
      if (quiet) return;
      std::lock_guard<std::mutex> lock(mu);
      if (l != label) bar = std::make_unique<ProgressBar>(l), label = l;
      bar->Update(done, total);
    });
    bar.reset();
    std::filesystem::path md = out;
    md.replace_extension(".md");
    if (!std::filesystem::path(out).parent_path().empty()) std::filesystem::create_directories(std::filesystem::path(out).parent_path());
    amrs::scenarios::WriteStressHdf5(report, out, kVersion);
    {
      const std::string tmp = md.string() + ".tmp";
      std::ofstream f(tmp);
      f << amrs::scenarios::StressMarkdown(report);
      f.close();
      if (!f) throw amrs::Error("cannot write " + tmp);
      std::filesystem::rename(tmp, md);
    }
    std::cout << amrs::scenarios::StressTable(report);
    const bool failed = report.RequiredFailed();
    std::cout << (failed ? "stress: FAILED: a required guardrail is violated above its allowed rate\n"
                         : "stress: every required guardrail passed\n");
    std::cerr << "stress: wrote " << out << " and " << md.string() << "\n";
    return failed ? 1 : 0;
  } catch (const amrs::Error& e) {
    std::cerr << "amrs stress: error: " << e.what() << "\n";
    return 2;
  }
}

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = {
      {"agents", {"list the registered agents and wrappers with their parameters", ListAgents}},
      {"worlds", {"list the world kinds (--world specs)", ListWorlds}},
      {"generate", {"sample the synthetic listener population (Table-1 sizes by default)", Generate}},
      {"summarize", {"print a Table-1 summary and, for synthetic data, the oracle ceilings", Summarize}},
      {"import", {"import CSV logs and embeddings (CSV or .npy) into a dataset", Import}},
      {"split", {"(re)make the MCCV splits by user stored in a dataset", Split}},
      {"train-world", {"train and test a world model on MCCV splits", TrainWorld}},
      {"bench", {"speed benchmark: cached append vs re-encode, catalogue scoring, training throughput", Bench}},
      {"evaluate", {"the evaluation protocol: all agents on train/val/test (learned world) and test (oracle)", Evaluate}},
      {"train-policy", {"train Copycat (InfoNCE) or DPO policies for N seeds", TrainPolicy}},
      {"rollout", {"run agents in the env (learned world or oracle) and log every episode to HDF5", Rollout}},
      {"report", {"benchmark report: Tables 4 and 5, oracle comparison, Tables 2 and 3, figures (Markdown, JSON, PNG)", Report}},
      {"stress", {"stress-test agents on scenario files (perturbed histories) against guardrails", Stress}},
      {"sweep-world", {"Tables 2 and 3: all configurations and ablations on shared splits, with baselines and oracle", SweepWorld}},
  };
  return commands;
}

void Usage(std::ostream& os) {
  os << "amrs " << kVersion << ": offline affective music recommendation simulator\n\n"
     << "usage: amrs <command> [options]   (amrs <command> --help for its options)\n\ncommands:\n";
  for (const auto& [name, c] : Commands()) os << "  " << name << std::string(name.size() < 13 ? 13 - name.size() : 1, ' ') << c.summary << "\n";
}

}  // namespace

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
  try {
    return it->second.run(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const po::error& e) {
    std::cerr << "amrs " << name << ": " << e.what() << " (see amrs " << name << " --help)\n";
    return 2;
  } catch (const amrs::Error& e) {
    std::cerr << "amrs " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}
