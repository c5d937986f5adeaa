// The `amrs` command line: one subcommand per job. Logic lives in the libraries; this file
// parses options, calls them and prints.
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "amrs/core/error.h"
#include "amrs/data/csv_import.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/data/splits.h"
#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"
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
    ("pe", po::bool_switch(&m.rope), "rotary positional encoding (+PE)")
    ("ablation", po::value(&ablation)->default_value("base"), "base | -user-history | -feedback | -history-songs | -lookback-N | -candidate-song")
    ("d-model", po::value(&m.d_model)->default_value(m.d_model), "transformer width")
    ("heads", po::value(&m.heads)->default_value(m.heads), "attention heads")
    ("layers", po::value(&m.layers)->default_value(m.layers), "transformer layers")
    ("ff", po::value(&m.ff)->default_value(m.ff), "feed-forward width")
    ("head-hidden", po::value(&m.head_hidden)->default_value(m.head_hidden), "prediction-head width")
    ("dropout", po::value(&m.dropout)->default_value(m.dropout, "0.1"), "dropout")
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
    ("lr", po::value(&o.lr)->default_value(o.lr, "0.002"), "Adam learning rate")
    ("seed", po::value(&o.seed)->default_value(o.seed), "seed")
    ("weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay, "0.01"), "AdamW weight decay")
    ("no-resume", po::bool_switch(&no_resume), "ignore an existing resume file");
  AddModelOptions(desc, o.model, arch, ablation);
  po::variables_map vm;
  if (!Parse("train-world", args, desc, vm, nullptr, "--data D.h5 [--splits 0,1,2] [options]")) return 0;
  o.model.arch = amrs::worldmodel::ParseArch(arch);
  o.model.ablation = amrs::worldmodel::Ablation::Parse(ablation);
  o.resume = !no_resume;
  const auto d = amrs::data::ReadDataset(data);
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
    if (d.oracle) {
      const auto c = amrs::data::EvaluateOracle(d, d.splits.at(k).test);
      amrs::metrics::SignalScores s;
      s.engagement_mse = c.engagement_mse, s.engagement_r2 = c.engagement_r2, s.rating_auc = c.rating_auc;
      s.valence_mse = c.valence_mse, s.valence_r2 = c.valence_r2, s.arousal_mse = c.arousal_mse, s.arousal_r2 = c.arousal_r2;
      PrintScores("oracle ceiling (same users)", s);
    }
  }
  return 0;
}

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = {
      {"generate", {"sample the synthetic listener population (Table-1 sizes by default)", Generate}},
      {"summarize", {"print a Table-1 summary and, for synthetic data, the oracle ceilings", Summarize}},
      {"import", {"import CSV logs and embeddings (CSV or .npy) into a dataset", Import}},
      {"split", {"(re)make the MCCV splits by user stored in a dataset", Split}},
      {"train-world", {"train and test a world model on MCCV splits", TrainWorld}},
  };
  return commands;
}

void Usage(std::ostream& os) {
  os << "amrs " << kVersion << ": offline affective music recommendation simulator\n\n"
     << "usage: amrs <command> [options]   (amrs <command> --help for its options)\n\ncommands:\n";
  for (const auto& [name, c] : Commands()) os << "  " << name << std::string(12 - name.size(), ' ') << c.summary << "\n";
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
