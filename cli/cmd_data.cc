// amrs generate, summarize, import, split: datasets.
#include "common.h"

#include <cstdio>
#include <iostream>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/data/checks.h"
#include "amrs/data/csv_import.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/data/splits.h"
#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"

namespace amrs::cli {
namespace {
constexpr std::int32_t kMinSplitUsers = 3;  // data::MakeSplits: one train, one validation, one test user
}  // namespace

int Generate(const std::vector<std::string>& args) {
  data::GeneratorConfig c;
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
    ("mode-fraction", po::value(&c.mode_fraction)->default_value(c.mode_fraction, "0.8"), "share of sessions with a mode")
    ("affect-per-song", po::bool_switch(&c.affect_per_song),
     "also a valence/arousal report after every song (docs/synthetic.md)");
  po::variables_map vm;
  if (!Parse("generate", args, desc, vm, nullptr, "[--out FILE] [options]")) return 0;
  CheckOutputFile(out, {}, "--out");
  const auto t0 = std::chrono::steady_clock::now();
  auto d = data::Generate(c, &std::cerr);
  data::WriteDataset(d, out);
  std::cerr << "wrote " << out << " in " << Seconds(t0) << " s\n";
  return 0;
}

int Summarize(const std::vector<std::string>& args) {
  std::string path;
  bool no_oracle = false, check = false;
  po::options_description desc("amrs summarize: Table-1 summary and oracle ceilings");
  desc.add_options()
    ("data", po::value(&path)->required(), "dataset (.h5)")
    ("no-oracle", po::bool_switch(&no_oracle), "skip the oracle ceilings")
    ("check-calibration", po::bool_switch(&check),
     "exit 3 unless the oracle ceilings (and, at the paper's sizes, the sampled Table-1 counts) are "
     "inside the calibration bands of docs/synthetic.md");
  po::positional_options_description pos;
  pos.add("data", 1);
  po::variables_map vm;
  if (!Parse("summarize", args, desc, vm, &pos, "DATA.h5")) return 0;
  CheckInputFile(path, "--data");
  const auto d = data::ReadDataset(path);
  if (check && no_oracle) throw ArgumentError("--check-calibration needs the oracle ceilings: drop --no-oracle");
  if (check && !d.oracle) throw InputError(path + ": --check-calibration: the dataset has no oracle (not synthetic)");
  std::optional<data::Ceiling> ceiling;
  if (d.oracle && !no_oracle) ceiling = data::EvaluateOracle(d);
  const auto summary = data::Summarize(d);
  std::cout << path << " (fingerprint " << data::Fingerprint(d) << ")\n" << data::FormatSummary(d, summary, ceiling);
  std::cout << "\n" << data::FormatFindings(data::CheckData(d));
  if (!check) return 0;
  const auto failures = data::CalibrationFailures(summary, *ceiling);
  for (const auto& f : failures) std::cout << "calibration: " << f << "\n";
  std::cout << "calibration: " << (failures.empty() ? "every value inside its band" : "FAILED") << "\n";
  return failures.empty() ? 0 : 3;
}

int Import(const std::vector<std::string>& args) {
  data::CsvImportSpec spec;
  std::vector<std::string> embeddings, deam_annotations;
  std::string out, deam_features, delimiter;
  std::int32_t k = 10;
  std::uint64_t seed = 0;
  po::options_description desc("amrs import: CSV logs (or the DEAM catalogue) into the dataset format");
  desc.add_options()
    ("interactions", po::value(&spec.interactions_csv), "interactions.csv")
    ("sessions", po::value(&spec.sessions_csv), "sessions.csv")
    ("embedding", po::value(&embeddings)->composing(), "NAME=PATH (.csv or .npy); repeat per family")
    ("songs", po::value(&spec.songs_csv), "songs.csv (song_id per line; row order of .npy files)")
    ("delimiter", po::value(&delimiter)->default_value("auto"),
     "field delimiter of the CSV files: comma, tab, semicolon, or auto (detected from each header)")
    ("deam-features", po::value(&deam_features), "DEAM features CSV (catalogue-only import)")
    ("deam-annotations", po::value(&deam_annotations)->composing(), "DEAM annotation CSV; repeat")
    ("splits", po::value(&k)->default_value(k), "MCCV splits to store (0: none)")
    ("seed", po::value(&seed)->default_value(seed), "split seed")
    ("out,o", po::value(&out)->required(), "output dataset (.h5)");
  po::variables_map vm;
  if (!Parse("import", args, desc, vm, nullptr, "--interactions F --sessions F --embedding NAME=F... --out D.h5")) return 0;
  if (k < 0) throw ArgumentError("--splits must be >= 0, got " + std::to_string(k));
  try {
    spec.delimiter = data::ParseDelimiter(delimiter);
  } catch (const ArgumentError& e) {
    throw ArgumentError(std::string("--delimiter: ") + e.what());
  }
  std::vector<std::string> inputs;
  const auto input = [&](const std::string& path, const char* what) {
    CheckInputFile(path, what);
    inputs.push_back(path);
  };
  data::Dataset d;
  if (!deam_features.empty()) {
    input(deam_features, "--deam-features");
    for (const auto& a : deam_annotations) input(a, "--deam-annotations");
    CheckOutputFile(out, inputs, "--out");
    d = data::ImportDeamCatalogue(deam_features, deam_annotations);
  } else {
    if (spec.interactions_csv.empty() || spec.sessions_csv.empty() || embeddings.empty())
      throw ArgumentError("import needs --interactions, --sessions and at least one --embedding (or --deam-features)");
    for (const auto& e : embeddings) {
      const auto eq = e.find('=');
      if (eq == std::string::npos || eq == 0)
        throw ArgumentError("--embedding '" + e + "' is not NAME=PATH");
      spec.embeddings.emplace_back(e.substr(0, eq), e.substr(eq + 1));
      input(spec.embeddings.back().second, "--embedding");
    }
    input(spec.interactions_csv, "--interactions");
    input(spec.sessions_csv, "--sessions");
    if (!spec.songs_csv.empty()) input(spec.songs_csv, "--songs");
    CheckOutputFile(out, inputs, "--out");
    d = data::ImportCsv(spec);
    if (k > 0 && d.num_users() < kMinSplitUsers) {
      if (!vm["splits"].defaulted())
        throw ArgumentError("--splits " + std::to_string(k) + ": the import has " + std::to_string(d.num_users()) +
                            " users; MCCV splits need at least " + std::to_string(kMinSplitUsers) +
                            " (use --splits 0)");
      std::cerr << "import: " << d.num_users() << " users are too few for MCCV splits (at least "
                << kMinSplitUsers << "); storing none (add them later with amrs split)\n";
      k = 0;
    }
    if (k > 0) {
      d.splits = data::MakeSplits(d.num_users(), k, seed);
      d.split_seed = seed;
    }
  }
  data::WriteDataset(d, out);
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
  CheckInputFile(path, "--data");  // rewritten in place on purpose
  auto d = data::ReadDataset(path);
  d.splits = data::MakeSplits(d.num_users(), k, seed);
  d.split_seed = seed;
  data::WriteDataset(d, path);
  std::cerr << "stored " << k << " splits (seed " << seed << ") in " << path << "\n";
  return 0;
}

}  // namespace amrs::cli
