// amrs train-world, sweep-world, bench: world models.
#include "common.h"

#include <cstdio>
#include <iostream>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/data/checks.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/env/world.h"
#include "amrs/worldmodel/bench.h"
#include "amrs/worldmodel/sweep.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"
#include "amrs/run/bench.h"

namespace amrs::cli {
namespace {

// Catalogue scoring alone, one thread, against the bound that applies (docs/env.md).
void PrintCatalogueBench(const run::EnvBenchReport& r) {
  if (r.catalogue.empty()) return;
  std::printf("catalogue scoring alone (ScoreCatalogue, 64 test-user windows a call, 1 thread); this machine's sequential "
              "read: %.1f GB/s\n", r.memory_read_gbs);
  for (const auto& c : r.catalogue) {
    if (c.rows_per_second <= 0) continue;  // no test-user window to time
    std::printf("  %-8s %10.1f rows/s", c.world.c_str(), c.rows_per_second);
    if (c.flops_per_row > 0 && r.matmul_gflops > 0) {
      const double gflops = c.flops_per_row * c.rows_per_second / 1e9, gbs = c.bytes_per_row * c.rows_per_second / 1e9;
      std::printf(": %.2f GFLOP/s = %.1f%% of the matrix multiply (the bound: compute, since the %.1f MB of song "
                  "projections a row stay in cache from row to row: %.1f GB/s streamed, %s the sequential read from memory)",
                  gflops, 100 * gflops / r.matmul_gflops, c.bytes_per_row / 1e6, gbs,
                  gbs > r.memory_read_gbs ? "above" : "below");
    } else if (c.bound_rows_per_second > 0) {
      std::printf(": %.1f%% of the bound of its normal CDFs and densities alone (six and four a song through libmvec: "
                  "%.1f rows/s; neither FLOP- nor bandwidth-bound)",
                  100 * c.rows_per_second / c.bound_rows_per_second, c.bound_rows_per_second);
    }
    std::printf("\n");
  }
}

void PrintEnvBench(const run::EnvBenchReport& r) {
  std::printf("env (L = 5, test users of split 0, window strategy; env-steps per second = envs x steps / time)\n");
  std::printf("  %-10s %-8s %6s %14s\n", "world", "agent", "batch", "steps/s");
  for (const auto& row : r.rows)
    std::printf("  %-10s %-8s %6d %14.1f\n", row.world.c_str(), row.agent.c_str(), row.batch, row.steps_per_second);
  if (!r.learned) return;
  std::printf("  learned world: %.0f FLOPs per env-step (history %.0f tokens); achieved %.2f GFLOP/s at batch 256\n",
              r.flops_per_step, r.mean_history, r.achieved_gflops);
  std::printf("  this machine's matrix multiply (1024^3, torch, %d thread(s)): %.1f GFLOP/s -> %.1f%% of it\n",
              r.torch_threads, r.matmul_gflops, 100 * r.achieved_gflops / r.matmul_gflops);
  std::printf("  naive loop re-encoding each env's history every step, batch 256: %.1f steps/s\n",
              r.naive_steps_per_second);
  std::printf("  speed-up of the batched cached step over the naive loop: %.1fx\n",
              r.cached_steps_per_second / r.naive_steps_per_second);
  std::printf("  (for reference: batched re-encode of all 256 histories every step, no cache: %.1f steps/s, %.1fx slower than the cached step)\n",
              r.batched_reencode_steps_per_second, r.cached_steps_per_second / r.batched_reencode_steps_per_second);
  PrintCatalogueBench(r);
}

// worldmodel::DefaultFamily where --family was left at its default.
void ResolveFamily(const po::variables_map& vm, const data::Dataset& d, std::string& family) {
  if (vm["family"].defaulted()) family = worldmodel::DefaultFamily(d);
}

// Applies a preset to the options the command line left at their defaults.
void ApplyPresetToDefaults(const po::variables_map& vm, worldmodel::Preset p, const data::Dataset& d,
                           worldmodel::TrainOptions& o) {
  worldmodel::TrainOptions q = o;
  worldmodel::ApplyPreset(p, d, q);
  auto take = [&](const char* name, std::int32_t& dst, std::int32_t src) {
    if (!vm.count(name) || vm[name].defaulted()) dst = src;
  };
  take("d-model", o.model.d_model, q.model.d_model);
  take("ff", o.model.ff, q.model.ff);
  take("layers", o.model.layers, q.model.layers);
  take("head-hidden", o.model.head_hidden, q.model.head_hidden);
  take("song-components", o.model.song_components, q.model.song_components);
  if (!vm.count("song-prior") || vm["song-prior"].defaulted()) o.model.song_prior = q.model.song_prior;
  // The preset's prior offset only with the song prior it reads (--song-prior false turns it off).
  if (!vm.count("prior-offset") || vm["prior-offset"].defaulted())
    o.model.prior_offset = q.model.prior_offset && o.model.song_prior;
  if (!vm.count("session-features") || vm["session-features"].defaulted())
    o.model.session_features = q.model.session_features && o.model.prior_offset;
  if (!vm.count("dropout") || vm["dropout"].defaulted()) o.model.dropout = q.model.dropout;
  if (!vm.count("lr") || vm["lr"].defaulted()) o.lr = q.lr;
  take("epochs", o.epochs, q.epochs);
  take("patience", o.patience, q.patience);
}

// Resolves --preset ("auto": small or default by the first split's training interactions),
// applies it to the options left at their defaults, and returns how it reads in the command's
// first line: "preset small (2752 training interactions in split 0; small below 20000)".
std::string ApplyPresetOption(const po::variables_map& vm, const std::string& preset, const data::Dataset& d,
                              std::int32_t split, worldmodel::TrainOptions& o) {
  const auto p = preset == "auto" ? worldmodel::ChoosePreset(d, split) : worldmodel::ParsePreset(preset);
  ApplyPresetToDefaults(vm, p, d, o);
  return "preset " + worldmodel::PresetName(p) + " (" + std::to_string(worldmodel::TrainInteractions(d, split)) +
         " training interactions in split " + std::to_string(split) + "; small below " +
         std::to_string(worldmodel::kSmallPresetInteractions) + ")";
}

}  // namespace

int TrainWorld(const std::vector<std::string>& args) {
  worldmodel::TrainOptions o;
  std::string data, out_dir, arch, ablation, splits, preset = "auto";
  std::int32_t max_epochs = 0;
  bool no_resume = false, no_baselines = false;
  po::options_description desc("amrs train-world: train (and test) a world model on MCCV splits");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("out,o", po::value(&out_dir)->default_value("out/world"), "output folder: <config>/split-<k>.pt")
    ("splits", po::value(&splits)->default_value("0"), "comma-separated split indices")
    ("preset", po::value(&preset)->default_value(preset),
     "auto | small | default: model size, song prior and offset, lr, epochs and patience (auto: small below 20000 training interactions "
     "of the first split; explicit options win; docs/own-data.md)")
    ("epochs", po::value(&o.epochs)->default_value(o.epochs), "epochs (the maximum with --patience; preset)")
    ("max-epochs", po::value(&max_epochs), "the same as --epochs")
    ("patience", po::value(&o.patience)->default_value(o.patience),
     "stop when no validation loss improved for N epochs (0 = off; preset)")
    ("batch-tokens", po::value(&o.batch_tokens)->default_value(o.batch_tokens), "padded tokens per batch")
    ("lr", po::value(&o.lr)->default_value(o.lr, "0.001"), "Adam learning rate (the small preset: 0.0003)")
    ("seed", po::value(&o.seed)->default_value(o.seed), "seed")
    ("weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay, "0.01"), "AdamW weight decay")
    ("no-baselines", po::bool_switch(&no_baselines), "skip the baselines (song mean, user mean, pooled MLP)")
    ("no-resume", po::bool_switch(&no_resume), "ignore an existing resume file")
    ("members", po::value(&o.members)->default_value(1),
     "train an ensemble of N members per split (seeds seed..seed+N-1; split-<k>.ensemble.json lists them, "
     "usable as --world; docs/ensembles.md)")
    ("member-jobs", po::value(&o.member_jobs)->default_value(0),
     "members trained side by side, each single-threaded (0: as many as cores; the same checkpoints for any value)")
    ("stop-after", po::value(&o.stop_after)->default_value(0),
     "stop after this epoch of the first unfinished split, keeping its resume file (0: off); rerun without it "
     "to resume, with any number of ranks (e.g. a cluster job's time limit)");
  AddModelOptions(desc, o.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("train-world", args, desc, vm, nullptr, "--data D.h5 [--splits 0,1,2] [options]")) return 0;
  o.model.arch = worldmodel::ParseArch(arch);
  o.model.ablation = worldmodel::Ablation::Parse(ablation);
  o.resume = !no_resume;
  o.progress_bar = StderrIsTerminal();
  if (vm.count("max-epochs") && !vm["epochs"].defaulted())
    throw ArgumentError("give --epochs or --max-epochs, not both");
  if (preset != "auto") worldmodel::ParsePreset(preset);
  const auto split_list = ParseSplits(splits, "splits");
  CheckInputFile(data, "--data");
  CheckOutputDir(out_dir, "--out");
  const auto d = data::ReadDataset(data);
  ResolveFamily(vm, d, o.model.family);
  const std::string preset_line = ApplyPresetOption(vm, preset, d, split_list[0], o);
  if (vm.count("max-epochs")) o.epochs = max_epochs;
  std::fprintf(stderr, "train-world: %s, family %s, %s, lr %g, up to %d epochs%s\n", preset_line.c_str(),
               o.model.family.c_str(), o.model.Name().c_str(), static_cast<double>(o.lr), o.epochs,
               o.patience > 0 ? (", patience " + std::to_string(o.patience)).c_str() : "");
  data::RequireChecks(data::CheckData(d, {split_list, o.model.song_components}), "train-world", &std::cerr);
  const auto runs = worldmodel::TrainAndTest(d, o, split_list, out_dir, &std::cerr, [&](const worldmodel::SplitRun& r) {
    if (!r.train.finished) {
      std::printf("  split %d: stopped after epoch %d (--stop-after); rerun the same command to resume from %s.resume\n",
                  r.split, o.stop_after, r.checkpoint.c_str());
      return;
    }
    std::printf("  trained %d epochs in %.1f s, %.0f train tokens/s; best epochs e/r/v/a %d/%d/%d/%d\n",
                r.train.epochs_run, r.train.seconds, r.train.train_tokens_per_second, r.train.info.best_epoch[0],
                r.train.info.best_epoch[1], r.train.info.best_epoch[2], r.train.info.best_epoch[3]);
    if (r.train.ranks > 1)
      std::printf("  data-parallel over %d ranks: %lld optimizer steps, %.0f bytes all-reduced per rank per step\n",
                  r.train.ranks, static_cast<long long>(r.train.reduced_steps), r.train.reduced_bytes_per_step);
    PrintScores("test (split " + std::to_string(r.split) + ")", r.test, r.train.info.skip_reason);
    if (r.ensemble_test)
      PrintScores("ensemble of " + std::to_string(o.members) + " (mean)", *r.ensemble_test, r.train.info.skip_reason);
    if (r.oracle) PrintScores("oracle ceiling (same users)", *r.oracle);
    for (const auto& b : r.baselines) PrintScores(b.name, b.test);
    std::fflush(stdout);
  }, !no_baselines);
  if (!runs.empty() && !runs.back().train.finished) return 0;
  if (o.members > 1 && !runs.empty())
    std::printf("  ensembles (usable as --world): %s\n",
                (out_dir + "/" + o.model.Name() + "/split-<k>.ensemble.json").c_str());
  const std::string cmp = worldmodel::CompareWithBaselines(runs);
  if (!cmp.empty()) {
    std::printf("%s", cmp.c_str());
    std::printf("  pooled-MLP checkpoints (usable as --world): %s/baseline-pooled-mlp/split-<k>.pt\n", out_dir.c_str());
  }
  return 0;
}

int SweepWorld(const std::vector<std::string>& args) {
  worldmodel::SweepOptions o;
  std::string data, arch, ablation, splits, tables, families, preset = "auto", sizes = "auto";
  bool no_baselines = false;
  po::options_description desc("amrs sweep-world: Tables 2 and 3 on shared MCCV splits, with baselines and the oracle");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("out,o", po::value(&o.out_dir)->default_value(o.out_dir), "output folder")
    ("splits", po::value(&splits)->default_value("0,1,2"), "comma-separated split indices")
    ("tables", po::value(&tables)->default_value("all"), "all | table2 | table3")
    ("families", po::value(&families), "comma-separated embedding families Table 2 compares (default: all of the dataset's)")
    ("jobs", po::value(&o.jobs)->default_value(o.jobs), "trainings in parallel")
    ("preset", po::value(&preset)->default_value(preset),
     "auto | small | default: as in train-world, for every configuration (docs/own-data.md)")
    ("epochs", po::value(&o.train.epochs)->default_value(o.train.epochs), "epochs per model (the maximum with --patience; preset)")
    ("patience", po::value(&o.train.patience)->default_value(o.train.patience),
     "stop when no validation loss improved for N epochs (0 = off; preset)")
    ("batch-tokens", po::value(&o.train.batch_tokens)->default_value(o.train.batch_tokens), "padded tokens per batch")
    ("lr", po::value(&o.train.lr)->default_value(o.train.lr, "0.001"), "AdamW learning rate (the small preset: 0.0003)")
    ("seed", po::value(&o.train.seed)->default_value(o.train.seed), "seed")
    ("fidelity-histories", po::value(&o.fidelity_histories)->default_value(o.fidelity_histories), "sampled histories for ranking fidelity")
    ("members", po::value(&o.members)->default_value(o.members),
     "also an ensemble of N members of the chosen configuration per split (a row next to it; docs/ensembles.md)")
    ("sizes", po::value(&sizes)->default_value(sizes),
     "d_model widths to also train the Table-2 winner at (ff 2N, head N), e.g. 16,32,64 | none | auto "
     "(16,32,64 under the small preset, none otherwise); the best-ranked width meets the baselines (docs/own-data.md)")
    ("no-baselines", po::bool_switch(&no_baselines), "skip the baselines and the oracle");
  AddModelOptions(desc, o.train.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("sweep-world", args, desc, vm, nullptr, "--data D.h5 [--splits 0,1,2] [--tables all]")) return 0;
  o.train.model.arch = worldmodel::ParseArch(arch);
  o.train.model.ablation = worldmodel::Ablation::Parse(ablation);
  o.splits = ParseSplits(splits, "splits");
  if (tables != "all" && tables != "table2" && tables != "table3")
    throw ArgumentError("--tables must be all, table2 or table3, not '" + tables + "'");
  o.table2 = tables != "table3";
  o.table3 = tables != "table2";
  o.baselines = !no_baselines;
  for (std::size_t a = 0; a < families.size();) {
    const auto b = families.find(',', a);
    const auto f = families.substr(a, b == std::string::npos ? std::string::npos : b - a);
    if (f.empty()) throw ArgumentError("--families: empty family name in '" + families + "'");
    o.families.push_back(f);
    if (b == std::string::npos) break;
    a = b + 1;
  }
  CheckInputFile(data, "--data");
  CheckOutputDir(o.out_dir, "--out");
  const auto d = data::ReadDataset(data);
  if (vm["family"].defaulted()) o.train.model.family.clear();  // the first compared family
  const std::string preset_line = ApplyPresetOption(vm, preset, d, o.splits[0], o.train);
  if (sizes == "auto") {
    const auto p = preset == "auto" ? worldmodel::ChoosePreset(d, o.splits[0]) : worldmodel::ParsePreset(preset);
    if (p == worldmodel::Preset::kSmall) o.sizes = {16, 32, 64};
  } else if (sizes != "none") {
    o.sizes = ParseList(sizes, "sizes");  // widths are checked by RunSweep before any work
  }
  std::fprintf(stderr, "sweep-world: %s, d_model %d, %d layer(s), lr %g, up to %d epochs%s%s\n", preset_line.c_str(),
               o.train.model.d_model, o.train.model.layers, static_cast<double>(o.train.lr), o.train.epochs,
               o.train.patience > 0 ? (", patience " + std::to_string(o.train.patience)).c_str() : "",
               o.train.model.session_features ? ", song prior, prior offset and session features"
               : o.train.model.prior_offset   ? ", song prior and prior offset"
               : o.train.model.song_prior     ? ", song prior"
                                              : "");
  if (!o.sizes.empty()) {
    std::string w;
    for (auto x : o.sizes) w += (w.empty() ? "" : ",") + std::to_string(x);
    std::fprintf(stderr, "sweep-world: the Table-2 winner also at d_model %s (--sizes)\n", w.c_str());
  }
  data::RequireChecks(data::CheckData(d, {o.splits, o.train.model.song_components}), "sweep-world", &std::cerr);
  const auto t0 = std::chrono::steady_clock::now();
  const auto rep = worldmodel::RunSweep(d, o, &std::cerr);
  std::cout << rep.markdown;
  if (rep.chosen != rep.table2_chosen && !rep.chosen_checkpoint_dir.empty())
    std::cout << "chosen world: " << rep.chosen << " (checkpoints " << rep.chosen_checkpoint_dir << "/split-<k>.pt)\n";
  std::cerr << "sweep-world: done in " << Seconds(t0) << " s; tables " << rep.tables_path << ", results "
            << rep.results_path << "\n";
  return 0;
}

int Bench(const std::vector<std::string>& args) {
  worldmodel::WorldBenchOptions w;
  std::string data, arch, ablation;
  double min_seconds = 2.0;
  bool skip_world = false, skip_env = false;
  po::options_description desc("amrs bench: speed benchmark (prints measured numbers)");
  desc.add_options()
    ("data", po::value(&data)->required(), "dataset (.h5)")
    ("world", po::value(&w.checkpoint),
     "world-model checkpoint to time, or an ensemble manifest (env part only) (default: untrained default config)")
    ("batch", po::value(&w.batch)->default_value(w.batch), "histories per batch for append/re-encode")
    ("history", po::value(&w.history)->default_value(w.history), "tokens per history")
    ("seconds", po::value(&min_seconds)->default_value(min_seconds), "minimum timed seconds per env measurement")
    ("skip-world", po::bool_switch(&skip_world), "skip the world-model part")
    ("skip-env", po::bool_switch(&skip_env), "skip the env part");
  AddModelOptions(desc, w.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("bench", args, desc, vm, nullptr, "--data D.h5 [--world W.pt]")) return 0;
  w.model.arch = worldmodel::ParseArch(arch);
  w.model.ablation = worldmodel::Ablation::Parse(ablation);
  if (!(min_seconds > 0)) throw ArgumentError("--seconds must be > 0");
  CheckInputFile(data, "--data");
  if (!w.checkpoint.empty()) CheckInputFile(w.checkpoint, "--world");
  auto d = std::make_shared<const data::Dataset>(data::ReadDataset(data));
  if (w.checkpoint.empty()) ResolveFamily(vm, *d, w.model.family);
  worldmodel::SetTorchThreads(1);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("bench: OPENBLAS_CORETYPE=%s\n", coretype ? coretype : "(unset)");
  // An ensemble manifest: the env part times the ensemble world (K members per step); the
  // world-model part needs one checkpoint and is skipped.
  const bool ensemble = w.checkpoint.size() > 14 && w.checkpoint.compare(w.checkpoint.size() - 14, 14, ".ensemble.json") == 0;
  if (!skip_env) {
    const auto learned = ensemble ? env::LoadWorld(w.checkpoint, d)
                                  : env::MakeLearnedWorld(w.checkpoint.empty()
                                                              ? worldmodel::WorldModel::CreateUntrained(w.model, *d, 0)
                                                              : worldmodel::WorldModel::Load(w.checkpoint, *d));
    if (ensemble) std::printf("bench: ensemble world of %d members (%s)\n", learned->members(), w.checkpoint.c_str());
    const auto oracle = d->oracle ? env::MakeOracleWorld(d) : nullptr;
    PrintEnvBench(run::RunEnvBench(d, learned, oracle, min_seconds));
  }
  if (skip_world) return 0;
  if (ensemble) {
    std::printf("bench: the world-model part times one checkpoint; give a member's .pt for it\n");
    return 0;
  }
  const auto b = worldmodel::RunWorldBench(*d, w);
  std::printf("torch intra-op threads: %d\n", b.torch_threads);
  std::printf("world model (%s)\n", (w.checkpoint.empty() ? w.model.Name() + ", untrained weights" : w.checkpoint).c_str());
  std::printf("  append one token, cached, batch %d:          %8.3f ms\n", w.batch, b.append_ms);
  std::printf("  re-encode %d-token histories, batch %d:     %8.3f ms\n", w.history + 1, w.batch, b.reencode_ms);
  std::printf("  speed-up of the cached append:              %8.1fx\n", b.speedup);
  std::printf("  score the whole catalogue (%d songs), 1 history: %8.3f ms\n", b.catalogue_songs, b.catalogue_ms_b1);
  std::printf("  score the whole catalogue, batch %d, per history: %8.3f ms\n", w.batch, b.catalogue_ms_per_history_b32);
  std::printf("  training throughput (1 epoch, %d users):     %8.0f tokens/s\n", w.train_users, b.train_tokens_per_second);
  // Compute-bound: the step's work is matrix products of [tokens x d] by [d x d..ff] and the
  // attention's [S x d] by [d x S] (a few hundred flops per byte moved), so the bound is the
  // matrix multiply, not memory.
  std::printf("  training step: %.2f GFLOP/s (estimated flops of forward + backward / time in the training batches)\n"
              "    this machine's matrix multiply (1024^3, torch, %d thread(s)): %.1f GFLOP/s -> %.1f%% of it (compute-bound)\n",
              b.train_gflops, b.torch_threads, b.matmul_gflops, b.matmul_gflops > 0 ? 100 * b.train_gflops / b.matmul_gflops : 0.0);
  return 0;
}

}  // namespace amrs::cli
