// Baselines and model choice (issue 18): train-world's baselines and paired comparison, the
// sweep choosing a baseline, the pooled MLP as a world checkpoint, family defaults, presets and
// early stopping. Torch is included before doctest (glog otherwise breaks doctest's CHECK).
#include <torch/torch.h>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/data/tokens.h"
#include "amrs/env/world.h"
#include "amrs/metrics/stats.h"
#include "amrs/data/results.h"
#include "amrs/metrics/world.h"
#include "amrs/worldmodel/ensemble_manifest.h"
#include "amrs/worldmodel/pooled_mlp.h"
#include "amrs/worldmodel/sweep.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/validate.h"
#include "amrs/worldmodel/world_tables.h"
#include "test_util.h"
#include "world_util.h"

using namespace amrs;
using namespace amrs::worldmodel;

namespace {

std::shared_ptr<const data::Dataset> Data(std::uint64_t seed = 4) {
  static std::map<std::uint64_t, std::shared_ptr<const data::Dataset>> cache;
  auto& d = cache[seed];
  if (!d) d = std::make_shared<const data::Dataset>(data::Generate(testing::SmallConfig(seed, 30, 150, 900, 40, 12, 2)));
  return d;
}

TrainOptions TinyTrain() { return testing::TinyTrainOptions(); }

// A one-split Table-2 sweep of tiny models (family: the first compared), written to out_dir.
SweepOptions TinySweep(const std::string& out_dir) {
  SweepOptions o;
  o.splits = {0};
  o.train = TinyTrain();
  o.train.model.family = "";
  o.table3 = false;
  o.jobs = 1;
  o.out_dir = out_dir;
  return o;
}

MlpBaselineOptions TinyMlp() {
  MlpBaselineOptions m;
  m.epochs = 3;
  m.hidden = 16;
  m.components = 8;
  return m;
}

std::vector<History> TestHistories(const data::Dataset& d, std::int32_t split) {
  const data::UserIndex index(d);
  std::vector<History> hs;
  for (auto u : d.splits[static_cast<std::size_t>(split)].test) hs.push_back(data::UserHistory(d, index, u));
  return hs;
}

float MaxDiff(const std::vector<Feedback>& a, const std::vector<Feedback>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (float Feedback::*f : {&Feedback::engagement, &Feedback::rating, &Feedback::valence, &Feedback::arousal})
      m = std::max(m, std::fabs(a[i].*f - b[i].*f));
  return m;
}

}  // namespace

TEST_CASE("train-world scores the three baselines on the model's test tokens and says when one beats it") {
  testing::TempDir tmp;
  const auto& d = *Data();
  const auto runs = TrainAndTest(d, TinyTrain(), {0, 1}, tmp.path().string(), nullptr);
  REQUIRE(runs.size() == 2);
  for (const auto& r : runs) {
    REQUIRE(r.baselines.size() == 3);
    CHECK(r.baselines[0].name == "baseline-song-mean");
    CHECK(r.baselines[1].name == "baseline-user-mean");
    CHECK(r.baselines[2].name == "baseline-pooled-mlp");
    const auto& split = d.splits[static_cast<std::size_t>(r.split)];
    const auto hs = TestHistories(d, r.split);
    const auto song = ScoreFeedback(hs, SongMeanBaseline(d, split, hs));
    CHECK(r.baselines[0].test.valence_r2 == song.valence_r2);
    CHECK(r.baselines[0].test.rating_auc == song.rating_auc);
    CHECK(r.baselines[1].test.engagement_r2 == ScoreFeedback(hs, UserMeanBaseline(d, split, hs)).engagement_r2);
    CHECK(std::filesystem::exists(r.baseline_checkpoint));
  }
  const std::string text = CompareWithBaselines(runs);
  CHECK(text.find("paired t-test") != std::string::npos);
  // One plain sentence per signal where the best baseline's mean is above the model's.
  const std::pair<const char*, double SignalScores::*> sig[] = {{"engagement", &SignalScores::engagement_r2},
                                                                {"rating", &SignalScores::rating_auc},
                                                                {"valence", &SignalScores::valence_r2},
                                                                {"arousal", &SignalScores::arousal_r2}};
  int beaten = 0;
  for (const auto& nf : sig) {
    const std::string name = nf.first;  // (no structured binding: clang's C++17 refuses capturing one in a message)
    const auto field = nf.second;
    const double model = (runs[0].test.*field + runs[1].test.*field) / 2;
    double best = model;
    for (std::size_t b = 0; b < 3; ++b) best = std::max(best, (runs[0].baselines[b].test.*field + runs[1].baselines[b].test.*field) / 2);
    const bool says = text.find(std::string("on ") + name + " the ") != std::string::npos;
    CHECK_MESSAGE(says == (best > model), name);
    beaten += best > model;
  }
  CHECK(beaten > 0);  // one epoch on 10 users: some baseline must win somewhere
  const double p = metrics::PairedTTestP({runs[0].test.valence_r2, runs[1].test.valence_r2},
                                         {runs[0].baselines[0].test.valence_r2, runs[1].baselines[0].test.valence_r2});
  char buf[32];
  std::snprintf(buf, sizeof buf, "(p %.3g)", p);
  CHECK(text.find(buf) != std::string::npos);
  // A score undefined on one split (a test part with ratings of one class): n/a, no p, no verdict.
  auto one_class = runs;
  one_class[1].test.rating_auc = std::nan("");
  for (auto& b : one_class[1].baselines) b.test.rating_auc = std::nan("");
  const std::string undefined = CompareWithBaselines(one_class);
  CHECK(undefined.find("rating AUC: model n/a | song-mean n/a | user-mean n/a | pooled-mlp n/a\n") != std::string::npos);
  CHECK(undefined.find("nan") == std::string::npos);
  CHECK(undefined.find("on rating") == std::string::npos);

  // Without baselines: nothing computed, no pooled-MLP folder.
  testing::TempDir tmp2;
  const auto plain = TrainAndTest(d, TinyTrain(), {0}, tmp2.path().string(), nullptr, {}, false);
  CHECK(plain[0].baselines.empty());
  CHECK(CompareWithBaselines(plain).empty());
  CHECK_FALSE(std::filesystem::exists(tmp2.path() / "baseline-pooled-mlp"));
}

TEST_CASE("The pooled MLP as a world: checkpoint round trip, World scoring equals its predictions, refusals") {
  testing::TempDir tmp;
  const auto d = Data();
  const auto& split = d->splits[0];
  const auto mlp = PooledMlp::Train(*d, split, 0, TinyMlp());
  const auto hs = TestHistories(*d, 0);
  // The baseline function is this model's predictions.
  const auto preds = mlp->PredictSequences(hs);
  const auto base = PooledMlpBaseline(*d, split, hs, TinyMlp());
  for (std::size_t u = 0; u < hs.size(); ++u) CHECK(MaxDiff(preds[u], base[u]) == 0.f);
  const std::string path = tmp.File("mlp.pt");
  mlp->Save(path);
  CHECK(PooledMlp::IsCheckpoint(path));
  const auto loaded = PooledMlp::Load(path, *d);
  CHECK(loaded->info().split == 0);
  CHECK(loaded->info().dataset_fingerprint == data::Fingerprint(*d));
  const auto again = loaded->PredictSequences(hs);
  for (std::size_t u = 0; u < hs.size(); ++u) CHECK(MaxDiff(preds[u], again[u]) == 0.f);

  // Through --world: prefix t of each history, Predict / ScoreCatalogue give token t's prediction.
  const auto world = env::LoadWorld(path, d);
  CHECK(world->Name() == "learned:baseline-pooled-mlp");
  CHECK(world->num_songs() == d->num_songs());
  std::vector<History> prefixes;
  std::vector<std::int32_t> users, songs;
  std::vector<Feedback> expect;
  std::vector<Token> next;
  for (std::size_t u = 0; u < hs.size(); ++u) {
    std::size_t t = hs[u].size() / 2;
    while (t + 1 < hs[u].size() && (hs[u][t].IsBoundary() || hs[u][t + 1].IsBoundary())) ++t;
    REQUIRE(!hs[u][t].IsBoundary());
    prefixes.emplace_back(hs[u].begin(), hs[u].begin() + static_cast<std::ptrdiff_t>(t));
    users.push_back(d->splits[0].test[u]);
    songs.push_back(hs[u][t].song);
    expect.push_back(preds[u][t]);
    next.push_back(hs[u][t]);
  }
  auto state = world->Encode(users, prefixes);
  CHECK(MaxDiff(world->Predict(*state, songs), expect) < 1e-6f);
  const auto all = world->ScoreCatalogue(*state);
  const std::int32_t n = world->num_songs();
  std::vector<Feedback> picked;
  for (std::size_t r = 0; r < songs.size(); ++r) picked.push_back(all[r * n + songs[r]]);
  CHECK(MaxDiff(picked, expect) < 1e-6f);
  // Append = encoding the longer prefix.
  world->Append(*state, next);
  for (std::size_t u = 0; u < prefixes.size(); ++u) prefixes[u].push_back(next[u]);
  auto longer = world->Encode(users, prefixes);
  CHECK(MaxDiff(world->ScoreCatalogue(*state), world->ScoreCatalogue(*longer)) == 0.f);

  // Another dataset: refused naming the fingerprint.
  CHECK_THROWS_WITH_AS(PooledMlp::Load(path, *Data(5)), doctest::Contains("fingerprint"), InputError);
  CHECK_THROWS_AS(env::LoadWorld(path, Data(5)), InputError);
  // Shapes that disagree with the metadata: refused naming the parameter.
  {
    torch::serialize::InputArchive in;
    in.load_from(path);
    c10::IValue meta;
    in.read("meta", meta);
    auto j = nlohmann::json::parse(meta.toStringRef());
    j["hidden"] = 17;
    torch::serialize::OutputArchive out;
    out.write("meta", c10::IValue(j.dump()));
    for (const char* k : {"song_pca_mean", "song_pca_basis", "mlp__0__weight", "mlp__0__bias", "mlp__2__weight",
                          "mlp__2__bias", "mlp__4__weight", "mlp__4__bias"}) {
      torch::Tensor t;
      in.read(k, t);
      out.write(k, t);
    }
    out.save_to(tmp.File("bad.pt"));
  }
  CHECK_THROWS_WITH_AS(PooledMlp::Load(tmp.File("bad.pt"), *d), doctest::Contains("parameter 'mlp.0.weight' has shape [16, "), InputError);
  // A world-model checkpoint is not a pooled MLP.
  CHECK_FALSE(PooledMlp::IsCheckpoint(tmp.File("missing.pt")));
}

TEST_CASE("The chosen world is a baseline when it ranks better than the Table-2 winner, or level with it") {
  const ModelConfig base;
  auto section = [&](double model_shift) {
    data::ResultSection s;
    for (const auto& c : Table2Configs(base)) {
      auto& row = s[c.Name()];
      row.attrs["config"] = c.ToJson();
      const double q = c.Name() == "factorized-mert+pe" ? 0.0 : 0.01;  // the Table-2 winner
      row.values["engagement_mse"] = {0.05 + q + model_shift, 0.051 + q + model_shift};
      row.values["rating_auc"] = {0.7 - q - model_shift, 0.71 - q - model_shift};
      row.values["valence_mse"] = {0.03 + q + model_shift, 0.031 + q + model_shift};
      row.values["arousal_mse"] = {0.03 + q + model_shift, 0.032 + q + model_shift};
    }
    auto& mlp = s["baseline-pooled-mlp"];
    mlp.values = {{"engagement_mse", {0.06, 0.06}}, {"rating_auc", {0.68, 0.69}}, {"valence_mse", {0.035, 0.036}},
                  {"arousal_mse", {0.035, 0.036}}};
    s["baseline-song-mean"].values = {{"engagement_mse", {0.2, 0.2}}, {"rating_auc", {0.5, 0.5}},
                                      {"valence_mse", {0.2, 0.2}}, {"arousal_mse", {0.2, 0.2}}};
    return s;
  };
  const auto good = RenderWorldTables(section(0.0), base, true, false);
  CHECK(good.chosen_model == "factorized-mert+pe");
  CHECK(good.chosen == "factorized-mert+pe");
  CHECK(good.markdown.find("Chosen world") == std::string::npos);
  const auto bad = RenderWorldTables(section(0.1), base, true, false);  // every model worse than the MLP
  CHECK(bad.chosen_model == "factorized-mert+pe");
  CHECK(bad.chosen == "baseline-pooled-mlp");
  CHECK(bad.markdown.find("**Chosen world: baseline-pooled-mlp**") != std::string::npos);
  CHECK(bad.markdown.find("Use its checkpoints (baseline-pooled-mlp/split-<k>.pt)") != std::string::npos);
  // A per-song mean that ranks first is chosen, but the world to use is the better of the others.
  auto s = section(0.1);
  s["baseline-song-mean"].values = {{"engagement_mse", {0.01, 0.01}}, {"rating_auc", {0.9, 0.9}},
                                    {"valence_mse", {0.01, 0.01}}, {"arousal_mse", {0.01, 0.01}}};
  const auto song = RenderWorldTables(s, base, true, false);
  CHECK(song.chosen == "baseline-song-mean");
  CHECK(song.markdown.find("not available as a world; of those that are, baseline-pooled-mlp ranks best") !=
        std::string::npos);
  // A tie in average rank goes to the baseline: the MLP better on engagement and rating, the model
  // on valence and arousal (1.5 each).
  auto tie = section(0.0);
  tie["baseline-pooled-mlp"].values = {{"engagement_mse", {0.04, 0.04}}, {"rating_auc", {0.75, 0.75}},
                                       {"valence_mse", {0.035, 0.036}}, {"arousal_mse", {0.035, 0.036}}};
  const auto level = RenderWorldTables(tie, base, true, false);
  CHECK(level.chosen == "baseline-pooled-mlp");
  CHECK(level.markdown.find("(a tie goes to the baseline)") != std::string::npos);
}

TEST_CASE("Model sizes: a width that ranks better than the Table-2 winner meets the baselines; a tie keeps the winner") {
  CHECK(SizeRowWidth("m.d16", "m") == 16);
  CHECK(SizeRowWidth(SizeRowName("factorized-mert+pe", 64), "factorized-mert+pe") == 64);
  CHECK(SizeRowWidth("m.d16.ensemble-5", "m") == 0);
  CHECK(SizeRowWidth("m.dx", "m") == 0);
  CHECK(SizeRowWidth("m.d", "m") == 0);
  CHECK(SizeRowWidth("n.d16", "m") == 0);
  const ModelConfig base;
  const std::string winner = "factorized-mert+pe";
  auto section = [&](double size_shift) {
    data::ResultSection s;
    for (const auto& c : Table2Configs(base)) {
      auto& row = s[c.Name()];
      row.attrs["config"] = c.ToJson();
      const double q = c.Name() == winner ? 0.0 : 0.01;
      row.values["engagement_mse"] = {0.05 + q, 0.051 + q};
      row.values["rating_auc"] = {0.7 - q, 0.71 - q};
      row.values["valence_mse"] = {0.03 + q, 0.031 + q};
      row.values["arousal_mse"] = {0.03 + q, 0.032 + q};
    }
    ModelConfig c16 = ModelConfig::FromJson(s[winner].attrs["config"]);
    c16.d_model = 16, c16.ff = 32, c16.head_hidden = 16;
    auto& r16 = s[SizeRowName(winner, 16)];
    r16.attrs["config"] = c16.ToJson();
    r16.values = s[winner].values;
    for (const char* k : {"engagement_mse", "valence_mse", "arousal_mse"})
      for (auto& v : r16.values[k]) v -= size_shift;
    for (auto& v : r16.values["rating_auc"]) v += size_shift;
    // A worse width, never chosen.
    auto& r128 = s[SizeRowName(winner, 128)];
    r128.attrs["config"] = c16.ToJson();
    r128.values = s[winner].values;
    for (const char* k : {"engagement_mse", "valence_mse", "arousal_mse"})
      for (auto& v : r128.values[k]) v += 0.02;
    s["baseline-song-mean"].values = {{"engagement_mse", {0.2, 0.2}}, {"rating_auc", {0.5, 0.5}},
                                      {"valence_mse", {0.2, 0.2}}, {"arousal_mse", {0.2, 0.2}}};
    return s;
  };
  const auto better = RenderWorldTables(section(0.005), base, true, false);
  CHECK(better.table2_chosen == winner);
  CHECK(better.chosen_model == winner + ".d16");
  CHECK(better.chosen == winner + ".d16");
  INFO(better.markdown);
  CHECK(better.markdown.find("### Model sizes: " + winner + " at other widths") != std::string::npos);
  CHECK(better.markdown.find("(†, d_model 64)") != std::string::npos);
  CHECK(better.markdown.find("### World-model validation: " + winner + ".d16 against") != std::string::npos);
  // The size table lists the widths in order (16 before 128).
  CHECK(better.markdown.find("| " + winner + ".d16") < better.markdown.find("| " + winner + ".d128"));
  const auto level = RenderWorldTables(section(0.0), base, true, false);
  CHECK(level.table2_chosen == winner);
  CHECK(level.chosen_model == winner);
  // Without size rows there is no size table.
  auto plain = section(0.0);
  plain.erase(SizeRowName(winner, 16));
  plain.erase(SizeRowName(winner, 128));
  CHECK(RenderWorldTables(plain, base, true, false).markdown.find("### Model sizes") == std::string::npos);
}

TEST_CASE("sweep-world --sizes trains the Table-2 winner at other widths, rows and checkpoints beside it") {
  testing::TempDir tmp;
  const auto& d = *Data();
  SweepOptions o = TinySweep(tmp.File("sweep"));
  o.families = {"mert"};
  o.baselines = false;
  o.jobs = 2;
  o.sizes = {4, o.train.model.d_model, 4};  // the winner's own width and a repeat are skipped
  const auto rep = RunSweep(d, o, nullptr);
  const std::string row = SizeRowName(rep.table2_chosen, 4);
  const auto results = data::ReadResults(rep.results_path);
  REQUIRE(results.at("world").count(row));
  CHECK_FALSE(results.at("world").count(SizeRowName(rep.table2_chosen, o.train.model.d_model)));
  const auto info = WorldModel::ReadInfo(o.out_dir + "/" + row + "/split-0.pt");
  CHECK(info.config.d_model == 4);
  CHECK(info.config.ff == 8);
  CHECK(info.config.head_hidden == 4);
  CHECK(4 % info.config.heads == 0);
  CHECK(info.config.Name() == rep.table2_chosen);  // the same configuration, another width
  CHECK(rep.markdown.find("### Model sizes") != std::string::npos);
  CHECK((rep.chosen_model == rep.table2_chosen || rep.chosen_model == row));
  // The row is that checkpoint scored on the split's test users.
  const auto model = WorldModel::Load(o.out_dir + "/" + row + "/split-0.pt", d);
  const auto want = metrics::ScoreFeedback(TestHistories(d, 0), model->PredictSequences(TestHistories(d, 0)));
  CHECK(results.at("world").at(row).values.at("valence_mse")[0] == doctest::Approx(want.valence_mse));
  // A width no configuration can take is refused before any work, naming it.
  o.sizes = {6, 3};
  o.out_dir = tmp.File("refused");
  CHECK_THROWS_WITH_AS(RunSweep(d, o, nullptr), doctest::Contains("--sizes: width 3 must be"), ArgumentError);
  CHECK_FALSE(std::filesystem::exists(o.out_dir));
}

TEST_CASE("sweep-world compares the given families, refuses unknown ones before creating anything, and writes the pooled MLP") {
  testing::TempDir tmp;
  const auto& d = *Data();
  SweepOptions o = TinySweep(tmp.File("refused"));
  o.families = {"nope"};
  CHECK_THROWS_WITH_AS(RunSweep(d, o, nullptr), doctest::Contains("mert"), ArgumentError);
  CHECK_FALSE(std::filesystem::exists(o.out_dir));
  o.families = {"clamp3"};
  o.out_dir = tmp.File("sweep");
  const auto rep = RunSweep(d, o, nullptr);
  CHECK(rep.markdown.find("clamp3") != std::string::npos);
  CHECK(rep.markdown.find("mert") == std::string::npos);
  CHECK(std::filesystem::exists(o.out_dir + "/factorized-clamp3/split-0.pt"));
  CHECK_FALSE(std::filesystem::exists(o.out_dir + "/factorized-mert/split-0.pt"));
  const std::string mlp = o.out_dir + "/baseline-pooled-mlp/split-0.pt";
  REQUIRE(std::filesystem::exists(mlp));
  CHECK(PooledMlp::Load(mlp, d)->info().family == "clamp3");
  CHECK((rep.chosen == rep.chosen_model || rep.chosen.rfind("baseline-", 0) == 0));
}

TEST_CASE("train-world uses the family it is given and lists the dataset's families otherwise") {
  testing::TempDir tmp;
  const auto& d = *Data();
  auto o = TinyTrain();
  o.model.family = "audio";
  CHECK_THROWS_WITH_AS(TrainAndTest(d, o, {0}, tmp.File("w"), nullptr), doctest::Contains("clamp3"), ArgumentError);
  CHECK_FALSE(std::filesystem::exists(tmp.File("w")));
  o.model.family = "clamp3";
  const auto runs = TrainAndTest(d, o, {0}, tmp.File("w"), nullptr, {}, false);
  CHECK(WorldModel::ReadInfo(runs[0].checkpoint).config.family == "clamp3");
  // The default: mert where the dataset has it (the quickstart), else its first family.
  CHECK(DefaultFamily(d) == "mert");
  CHECK(DefaultFamily(testing::TinyDataset()) == "f");
  auto two = testing::TinyDataset();
  two.families.insert(two.families.begin(), data::EmbeddingFamily{"audio", 3, two.families[0].values});
  CHECK(DefaultFamily(two) == "audio");
}

TEST_CASE("Presets: small below the threshold, default above; the small preset scales song components") {
  const auto& d = *Data();
  CHECK(TrainInteractions(d, 0) < kSmallPresetInteractions);
  CHECK(TrainInteractions(d, 0) > 0);
  CHECK(ChoosePreset(d, 0) == Preset::kSmall);
  TrainOptions o;
  ApplyPreset(Preset::kSmall, d, o);
  CHECK(o.model.song_components == std::min(32, d.num_songs() / 2));
  CHECK(o.model.d_model < ModelConfig{}.d_model);
  CHECK(o.patience > 0);
  CHECK(o.model.prior_offset);
  CHECK(o.model.session_features);
  CHECK(o.lr == 3e-4f);
  ApplyPreset(Preset::kDefault, d, o);
  CHECK(o.lr == TrainOptions{}.lr);
  CHECK(o.model == ModelConfig{});
  CHECK(o.epochs == TrainOptions{}.epochs);
  CHECK(o.patience == 0);
  CHECK(ParsePreset("small") == Preset::kSmall);
  CHECK_THROWS_AS(ParsePreset("tiny"), ArgumentError);
}

TEST_CASE("Early stopping stops after `patience` epochs without improvement and keeps the best epochs") {
  testing::TempDir tmp;
  const auto& d = *Data();
  auto o = TinyTrain();
  o.epochs = 40;
  o.patience = 2;
  o.lr = 0.01f;
  o.max_train_users = 4;  // overfits quickly
  o.out = tmp.File("es.pt");
  const auto r = TrainWorldModel(d, o, nullptr);
  const int last_best = *std::max_element(r.info.best_epoch.begin(), r.info.best_epoch.end());
  CHECK(r.epochs_run < 40);
  CHECK(r.epochs_run == last_best + 2);
  // The same run without early stopping, up to the last best epoch: the same per-signal weights.
  o.patience = 0;
  o.epochs = last_best;
  o.out = tmp.File("full.pt");
  const auto full = TrainWorldModel(d, o, nullptr);
  CHECK(full.info.best_epoch == r.info.best_epoch);
  const auto a = WorldModel::Load(tmp.File("es.pt"), d), b = WorldModel::Load(tmp.File("full.pt"), d);
  const auto hs = TestHistories(d, 0);
  const auto pa = a->PredictSequences(hs), pb = b->PredictSequences(hs);
  for (std::size_t u = 0; u < hs.size(); ++u) CHECK(MaxDiff(pa[u], pb[u]) == 0.f);
}

TEST_CASE("sweep-world --members: the chosen configuration as an ensemble, scored next to the single model") {
  testing::TempDir tmp;
  const auto& d = *Data();
  SweepOptions o;
  o.splits = {0, 1};
  o.train = TinyTrain();
  o.train.model.family = "";
  o.families = {"mert"};
  o.table3 = false;
  o.jobs = 2;
  o.members = 3;
  o.fidelity_histories = 4;
  o.out_dir = tmp.File("sweep");
  const auto rep = RunSweep(d, o, nullptr);
  const std::string row = EnsembleRowName(rep.chosen_model, 3);
  const auto results = data::ReadResults(rep.results_path);
  REQUIRE(results.at("world").count(row));
  const auto& r = results.at("world").at(row);
  REQUIRE(r.values.at("valence_r2").size() == 2);
  REQUIRE(r.values.at("ranking_spearman").size() == 2);
  const data::UserIndex index(d);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::int32_t k = o.splits[i];
    const std::string dir = o.out_dir + "/" + rep.chosen_model + "/split-" + std::to_string(k);
    const auto members = ReadEnsembleManifest(dir + ".ensemble.json");
    REQUIRE(members.size() == 3);
    CHECK(members[0] == dir + ".pt");
    // Member m trained with seed + m.
    for (std::size_t m = 0; m < 3; ++m) CHECK(WorldModel::ReadInfo(members[m]).seed == o.train.seed + m);
    // The row is the members' mean prediction scored on the split's test users.
    std::vector<History> test;
    for (auto u : d.splits[static_cast<std::size_t>(k)].test) test.push_back(data::UserHistory(d, index, u));
    std::vector<std::vector<std::vector<Feedback>>> preds;
    for (const auto& m : members) preds.push_back(WorldModel::Load(m, d)->PredictSequences(test));
    const auto want = metrics::ScoreFeedback(test, MeanPredictions(preds));
    CHECK(r.values.at("valence_r2")[i] == doctest::Approx(want.valence_r2));
    CHECK(r.values.at("engagement_r2")[i] == doctest::Approx(want.engagement_r2));
    CHECK(r.values.at("rating_auc")[i] == doctest::Approx(want.rating_auc));
  }
  INFO(rep.markdown);
  CHECK(rep.markdown.find("| " + row + " |") != std::string::npos);
  CHECK(rep.markdown.find("Ensemble `" + row + "`") != std::string::npos);
  CHECK(rep.markdown.find("fraction of the oracle ceiling engagement") != std::string::npos);
  // A second run reuses the members (same seeds): their files are not rewritten.
  const std::string member = o.out_dir + "/" + rep.chosen_model + "/split-0.member-2.pt";
  const auto before = std::filesystem::last_write_time(member);
  RunSweep(d, o, nullptr);
  CHECK(std::filesystem::last_write_time(member) == before);
  // Another seed is another model: the configurations' checkpoints are retrained, not reused.
  const std::string single = o.out_dir + "/" + rep.chosen_model + "/split-0.pt";
  REQUIRE(WorldModel::ReadInfo(single).seed == o.train.seed);
  o.members = 1;
  o.train.seed += 7;
  RunSweep(d, o, nullptr);
  CHECK(WorldModel::ReadInfo(single).seed == o.train.seed);
  // So is another learning rate (the checkpoint records its training options), and the same
  // options again reuse it.
  CHECK(WorldModel::ReadInfo(single).training == TrainingRecord(o.train));
  o.train.lr *= 2;
  RunSweep(d, o, nullptr);
  const auto retrained = WorldModel::ReadInfo(single);
  CHECK(retrained.training.at("lr") == TrainingRecord(o.train).at("lr"));
  const auto stamp = std::filesystem::last_write_time(single);
  RunSweep(d, o, nullptr);
  CHECK(std::filesystem::last_write_time(single) == stamp);
  o.members = 0;
  CHECK_THROWS_AS(RunSweep(d, o, nullptr), ArgumentError);
}
