// End to end on tiny data: rollouts of random and greedy (learned and oracle worlds) into episode
// logs, then the report; its JSON must equal values computed here from the blocks and dataset.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"
#include "amrs/report/report.h"
#include "amrs/run/tune.h"
#include "amrs/worldmodel/world_model.h"
#include "kill_util.h"
#include "test_util.h"

using namespace amrs;

namespace {

// The dataset as the CLI sees it: written, then read back (the fingerprint is the file's).
const std::string& DataPath() {
  static testing::TempDir dir;
  static const std::string path = [] {
    data::WriteDataset(data::Generate(testing::SmallConfig(5, 30, 150, 900, 60, 8, 1)), dir.File("d.h5"));
    return dir.File("d.h5");
  }();
  return path;
}

std::shared_ptr<const data::Dataset> Data() {
  static auto d = std::make_shared<const data::Dataset>(data::ReadDataset(DataPath()));
  return d;
}

std::shared_ptr<const env::World> Learned() {
  worldmodel::ModelConfig m;
  m.d_model = 16, m.heads = 2, m.layers = 1, m.ff = 32, m.head_hidden = 16;
  static auto w = env::MakeLearnedWorld(worldmodel::WorldModel::CreateUntrained(m, *Data(), 1));
  return w;
}

using Blocks = std::vector<env::EpisodeBlock>;

// What a test log varies.
struct LogSpec {
  std::vector<std::string> agents{"greedy", "random"};
  std::vector<std::uint64_t> seeds{0, 1};
  std::int32_t horizon = 3, max_users = 3;
  std::int32_t batch = 64;  // envs per TBB task
  Utility utility;
};

// Writes a log of the agents (by default random and greedy, seeds 0 and 1) on `part`; returns
// the blocks.
Blocks WriteLog(const std::string& path, std::shared_ptr<const env::World> world, const std::string& part,
                const std::string& fingerprint, const LogSpec& spec = {}) {
  env::EnvConfig cfg;
  cfg.horizon = spec.horizon;
  const auto ctx = env::EnvContext::Create(Data(), world, cfg);
  env::RolloutOptions o;
  o.part = data::ParsePart(part);
  o.topk = 10;
  o.max_users = spec.max_users;
  o.batch = spec.batch;
  o.reset.utility = spec.utility;
  env::RunMetadata meta;
  meta.world = world->Name(), meta.world_id = world->Id(), meta.dataset_fingerprint = fingerprint;
  meta.part = part, meta.horizon = cfg.horizon, meta.topk = o.topk, meta.utility = spec.utility;
  env::EpisodeLogWriter w(path, meta);
  Blocks blocks;
  for (const auto& name : spec.agents)
    for (const auto s : spec.seeds) {
      agents::AgentContext ac{ctx, {}, s};
      blocks.push_back(env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create(name, ac); }, name, s, o));
      w.Write(blocks.back());
    }
  w.Finalize();
  return blocks;
}

double MeanOf(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Independent of the metrics library: straight from the block and the dataset's interactions.
double BlockValence(const env::EpisodeBlock& b) {
  double s = 0;
  for (float x : b.valence) s += x;
  return s / static_cast<double>(b.valence.size());
}
double BlockCoverage(const env::EpisodeBlock& b) {
  return static_cast<double>(std::set<std::int32_t>(b.actions.begin(), b.actions.end()).size()) / Data()->num_songs();
}
double BlockLevel2Hit(const env::EpisodeBlock& b) {
  const auto& it = Data()->interactions;
  double hits = 0;
  for (std::size_t e = 0; e < b.user.size(); ++e) {
    std::set<std::int32_t> history;
    for (std::size_t i = 0; i < it.size(); ++i)
      if (it.user[i] == b.user[e]) history.insert(it.song[i]);
    for (std::int32_t t = 0; t < b.horizon; ++t) {
      const auto* list = &b.ranked[(e * b.horizon + t) * b.topk];
      hits += std::any_of(list, list + std::min(b.topk, 10), [&](std::int32_t s) { return history.count(s) > 0; });
    }
  }
  return hits / static_cast<double>(b.user.size() * b.horizon);
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Options of a report of one learned-world test log (random and greedy), written into `tmp`.
report::ReportOptions OneLogReport(const testing::TempDir& tmp) {
  WriteLog(tmp.File("test.h5"), Learned(), "test", data::Fingerprint(*Data()));
  report::ReportOptions o;
  o.logs = {tmp.File("test.h5")};
  o.data = DataPath();
  o.out_dir = tmp.File("report");
  return o;
}

}  // namespace

TEST_CASE("amrs report: Tables 4 and 5 and the oracle comparison from rollout logs") {
  testing::TempDir tmp;
  const std::string data_path = DataPath();
  const auto fp = data::Fingerprint(*Data());
  const auto test = WriteLog(tmp.File("test.h5"), Learned(), "test", fp);
  WriteLog(tmp.File("train.h5"), Learned(), "train", fp);
  const auto oracle = WriteLog(tmp.File("oracle-test.h5"), env::MakeOracleWorld(Data()), "test", fp);

  report::ReportOptions o;
  o.logs = {tmp.File("test.h5"), tmp.File("train.h5"), tmp.File("oracle-test.h5")};
  o.data = data_path;
  o.out_dir = tmp.File("report");
  o.python = tmp.File("no-such-python");  // figures cannot be made: the report still is
  o.figures_script = "figures.py";
  {
    std::ofstream(tmp.File("stress.md")) << "### Scenario `probe`\n\n| agent | reward |\n";
  }
  o.stress_tables = {tmp.File("stress.md")};
  const auto r = report::RunReport(o, nullptr);

  const auto md = Slurp(r.markdown_path);
  CHECK(md.find("## Table 4") != std::string::npos);
  CHECK(md.find("| random | ") != std::string::npos);
  CHECK(md.find("| greedy | ") != std::string::npos);
  CHECK(md.find("| train | Hit@10 |") != std::string::npos);
  CHECK(md.find("| test | Accuracy |") != std::string::npos);
  CHECK(md.find("part(s) val") != std::string::npos);  // the missing part is named
  CHECK(md.find("## Oracle comparison") != std::string::npos);
  CHECK(md.find("## Stress tests (`" + tmp.File("stress.md") + "`)\n\n### Scenario `probe`") != std::string::npos);
  CHECK(md.find("Figures were not made") != std::string::npos);
  CHECK(r.figures.empty());

  const auto j = nlohmann::json::parse(Slurp(r.json_path));
  CHECK(j["tables_world"] == "learned");
  CHECK(j["runs"].size() == 3);
  CHECK(j["table4"]["agents"] == nlohmann::json::array({"random", "greedy"}));
  for (const auto& b : test) {
    const auto& m = j["table4"]["rows"][b.agent]["metrics"];
    const auto i = static_cast<std::size_t>(b.seed);
    CHECK(m["valence"]["values"][i].get<double>() == doctest::Approx(BlockValence(b)));
    CHECK(m["coverage"]["values"][i].get<double>() == doctest::Approx(BlockCoverage(b)));
    CHECK(j["table5"]["test"]["rows"][b.agent]["metrics"]["l2_hit"]["values"][i].get<double>() ==
          doctest::Approx(BlockLevel2Hit(b)));
  }
  const double greedy_valence = MeanOf({BlockValence(test[0]), BlockValence(test[1])});
  CHECK(j["table4"]["rows"]["greedy"]["metrics"]["valence"]["mean"].get<double>() == doctest::Approx(greedy_valence));
  CHECK(j["oracle_comparison"]["affect"]["greedy"]["valence"]["true"].get<double>() ==
        doctest::Approx(MeanOf({BlockValence(oracle[0]), BlockValence(oracle[1])})));
  CHECK(j["table4"]["rows"]["greedy"]["step_means"]["valence"].size() == 3);
  CHECK_FALSE(std::filesystem::exists(tmp.File("report/report.md.tmp")));
}

TEST_CASE("Logs and report are byte-identical at 1 and 2 threads") {
  // Rollouts in batches of one env (several TBB tasks per block, so two threads really run side
  // by side), written to the same paths at each thread count, then the report of them.
  testing::TempDir tmp;
  const auto fp = data::Fingerprint(*Data());
  LogSpec spec;
  spec.batch = 1;
  spec.max_users = 4;
  std::vector<std::string> outputs;
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    WriteLog(tmp.File("test.h5"), Learned(), "test", fp, spec);
    WriteLog(tmp.File("oracle.h5"), env::MakeOracleWorld(Data()), "test", fp, spec);
    report::ReportOptions o;
    o.logs = {tmp.File("test.h5"), tmp.File("oracle.h5")};
    o.data = DataPath();
    o.out_dir = tmp.File("report-" + std::to_string(threads));
    o.python = tmp.File("no-such-python");
    const auto r = report::RunReport(o, nullptr);
    std::string both = Slurp(r.markdown_path) + "\n" + Slurp(r.json_path);
    // The output folder may be named in the report; nothing else may differ.
    for (auto at = both.find(o.out_dir); at != std::string::npos; at = both.find(o.out_dir))
      both.replace(at, o.out_dir.size(), "OUT");
    outputs.push_back(both);
    CHECK(outputs.back().find("| greedy | ") != std::string::npos);
  }
  CHECK(outputs[0] == outputs[1]);
}

TEST_CASE("A report killed while being rewritten keeps whole files, and no temporary survives the next run") {
  testing::TempDir tmp;
  auto o = OneLogReport(tmp);
  o.python = tmp.File("no-such-python");
  const auto r = report::RunReport(o, nullptr);
  const std::string md = Slurp(r.markdown_path), json = Slurp(r.json_path);
  REQUIRE(md.find("## Table 4") != std::string::npos);
  for (int sig : {SIGTERM, SIGHUP, SIGKILL}) {
    CAPTURE(sig);
    const int status = testing::KillWhileRewriting([&] { report::RunReport(o, nullptr); }, sig, 5 * 1000);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    CHECK(Slurp(r.markdown_path) == md);
    CHECK(Slurp(r.json_path) == json);
    if (sig == SIGKILL) report::RunReport(o, nullptr);  // the next run removes a killed run's temporaries
    const auto names = testing::Names(o.out_dir);
    for (const auto& n : names) CHECK_MESSAGE(n.find(".tmp") == std::string::npos, n);
  }
}

TEST_CASE("amrs report: errors name the file") {
  testing::TempDir tmp;
  const std::string data_path = DataPath();
  WriteLog(tmp.File("other.h5"), Learned(), "test", "0123456789abcdef");
  WriteLog(tmp.File("a.h5"), Learned(), "test", data::Fingerprint(*Data()));
  report::ReportOptions o;
  o.data = data_path;
  o.out_dir = tmp.File("report");
  o.logs = {tmp.File("other.h5")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("other.h5: /meta dataset_fingerprint"),
                       InputError);
  o.logs = {tmp.File("a.h5"), tmp.File("a.h5")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("agent 'greedy' is in both"), InputError);
  o.logs = {tmp.File("missing.h5")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("missing.h5"), InputError);
  o.logs = {tmp.File("a.h5")};
  o.stress_tables = {tmp.File("no-stress.md")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("no-stress.md: no such stress table"),
                       InputError);
  CHECK_FALSE(std::filesystem::exists(tmp.File("report/report.md")));
  CHECK_FALSE(std::filesystem::exists(tmp.File("report/summary.json")));
}

TEST_CASE("amrs report: logs of one world and part merge when they describe the same experiment") {
  testing::TempDir tmp;
  const auto fp = data::Fingerprint(*Data());
  WriteLog(tmp.File("base.h5"), Learned(), "test", fp);
  WriteLog(tmp.File("base-oracle.h5"), env::MakeOracleWorld(Data()), "test", fp);
  LogSpec mine;
  mine.agents = {"guarded(greedy)"};
  const auto later = WriteLog(tmp.File("mine.h5"), Learned(), "test", fp, mine);
  WriteLog(tmp.File("mine-oracle.h5"), env::MakeOracleWorld(Data()), "test", fp, mine);
  report::ReportOptions o;
  o.data = DataPath();
  o.out_dir = tmp.File("report");
  o.logs = {tmp.File("base.h5"), tmp.File("base-oracle.h5"), tmp.File("mine.h5"), tmp.File("mine-oracle.h5")};
  const auto r = report::RunReport(o, nullptr);
  const auto j = nlohmann::json::parse(Slurp(r.json_path));
  CHECK(j["runs"].size() == 4);
  CHECK(j["table4"]["agents"] == nlohmann::json::array({"random", "greedy", "guarded(greedy)"}));
  for (const auto& b : later)
    CHECK(j["table4"]["rows"]["guarded(greedy)"]["metrics"]["valence"]["values"][static_cast<std::size_t>(b.seed)]
              .get<double>() == doctest::Approx(BlockValence(b)));
  CHECK(j["oracle_comparison"]["affect"].contains("guarded(greedy)"));
  // The merged report's numbers of the first log's agents are those of a report of it alone.
  o.logs = {tmp.File("base.h5"), tmp.File("base-oracle.h5")};
  o.out_dir = tmp.File("report-base");
  const auto alone = nlohmann::json::parse(Slurp(report::RunReport(o, nullptr).json_path));
  CHECK(alone["table4"]["rows"]["greedy"]["metrics"] == j["table4"]["rows"]["greedy"]["metrics"]);

  // Refused, naming the field that differs.
  const auto refused = [&](const std::string& name, LogSpec spec, std::shared_ptr<const env::World> world,
                           const std::string& expected) {
    CAPTURE(name);
    WriteLog(tmp.File(name), world, "test", fp, spec);
    o.logs = {tmp.File("base.h5"), tmp.File(name)};
    o.out_dir = tmp.File("report-" + name);
    CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr),
                         doctest::Contains((tmp.File(name) + ": cannot be merged with " + tmp.File("base.h5") +
                                            " (both learned-world test logs): " + expected)
                                               .c_str()),
                         InputError);
    CHECK_FALSE(std::filesystem::exists(tmp.File("report-" + name + "/report.md")));
  };
  auto s = mine;
  s.horizon = 4;
  refused("horizon.h5", s, Learned(), "/meta horizon is '4', the other log's is '3'");
  s = mine;
  s.utility = Utility::Parse("valence=1");
  refused("utility.h5", s, Learned(), "/meta utility is '" + s.utility.ToString() + "'");
  s = mine;
  s.seeds = {0};
  refused("seeds.h5", s, Learned(), "/meta seeds is '[0]', the other log's is '[0,1]'");
  s = mine;
  s.max_users = 2;
  refused("users.h5", s, Learned(), "/runs/guarded(greedy)/seed-0 has other episodes");
  worldmodel::ModelConfig m;
  m.d_model = 16, m.heads = 2, m.layers = 1, m.ff = 32, m.head_hidden = 16;
  const auto other_world = env::MakeLearnedWorld(worldmodel::WorldModel::CreateUntrained(m, *Data(), 2));
  refused("world.h5", mine, other_world, "/meta world_id is '" + other_world->Id() + "'");
  s.agents = {"random"};
  s.max_users = 3;
  refused("same-agent.h5", s, Learned(), "agent 'random' is in both");
}

namespace {

// A tune table as `amrs tune` writes it (run::TuneJson), of the given dataset.
std::string WriteTuneTable(const std::string& path, const std::string& kind, const std::string& fingerprint) {
  run::TuneResult r;
  r.kind = kind, r.seeds = {0, 1}, r.dataset_fingerprint = fingerprint, r.world_id = Learned()->Id();
  r.points.resize(2);
  r.points[0].values = {{"lr", "1e-5"}}, r.points[0].mean = 0.25, r.points[0].valence = 0.5;
  r.points[1].values = {{"lr", "3e-5"}}, r.points[1].mean = 0.75, r.points[1].sd = 0.125, r.points[1].arousal = 0.5;
  r.chosen = 1;
  std::ofstream(path) << run::TuneJson(r);
  return path;
}

}  // namespace

TEST_CASE("amrs report --tune: the Tuning section and Table 4's caption; tables of other data or malformed refused") {
  testing::TempDir tmp;
  auto o = OneLogReport(tmp);
  const auto fp = data::Fingerprint(*Data());
  const auto plain = Slurp(report::RunReport(o, nullptr).markdown_path);
  CHECK(plain.find("How the policies' hyperparameters were chosen is not recorded here") != std::string::npos);
  CHECK(plain.find("## Tuning") == std::string::npos);

  o.tune_tables = {WriteTuneTable(tmp.File("tune-dpo.json"), "dpo", fp)};
  const auto r = report::RunReport(o, nullptr);
  const auto md = Slurp(r.markdown_path);
  INFO(md);
  CHECK(md.find("## Tuning (validation users)") != std::string::npos);
  CHECK(md.find("### dpo (`" + tmp.File("tune-dpo.json") + "`)") != std::string::npos);
  CHECK(md.find("world `" + Learned()->Id() + "`; dataset fingerprint " + fp) != std::string::npos);
  CHECK(md.find("| 1e-5 | 0.2500 (0.0000) | 0.5000 | 0.0000 |\n| **3e-5** | **0.7500 (0.1250)** | **0.0000** | "
                "**0.5000** |") != std::string::npos);
  CHECK(md.find("Hyperparameters of dpo: chosen on validation users with `amrs tune` (section Tuning); the test part "
                "is used for this table only.") != std::string::npos);
  CHECK(md.find("not recorded here") == std::string::npos);
  const auto j = nlohmann::json::parse(Slurp(r.json_path));
  CHECK(j["tuning"]["tables"][0]["dataset_fingerprint"] == fp);
  CHECK(j["tuning"]["tables"][0]["chosen"] == 1);

  // Refused, naming the file (and the key); nothing is written.
  const auto refused = [&](const std::string& name, const std::string& text, const std::string& expected) {
    CAPTURE(name);
    std::ofstream(tmp.File(name)) << text;
    o.tune_tables = {tmp.File(name)};
    o.out_dir = tmp.File("report-" + name);
    CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains((tmp.File(name) + ": " + expected).c_str()),
                         InputError);
    CHECK_FALSE(std::filesystem::exists(o.out_dir + "/report.md"));
  };
  const auto good = nlohmann::json::parse(Slurp(tmp.File("tune-dpo.json")));
  refused("other.json", Slurp(WriteTuneTable(tmp.File("x.json"), "dpo", "0123456789abcdef")),
          "tuned on dataset fingerprint 0123456789abcdef, the report's data has " + fp);
  auto missing = good;
  missing.erase("dataset_fingerprint");
  refused("missing.json", missing.dump(), "key 'dataset_fingerprint' is missing");
  missing = good;
  missing["points"][1]["val_reward"].erase("mean");
  refused("missing-mean.json", missing.dump(), "key 'points[1].val_reward.mean' is missing");
  auto wrong = good;
  wrong["chosen"] = 2;
  refused("chosen.json", wrong.dump(), "key 'chosen' is 2, but there are 2 points");
  wrong = good;
  wrong["part"] = "test";
  refused("part.json", wrong.dump(), "key 'part' is 'test', expected 'val'");
  refused("text.json", "not json\n", "not a JSON tune table");
  o.tune_tables = {tmp.File("tune-dpo.json"), tmp.File("tune-dpo.json")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("a second tune table of kind dpo"), InputError);
  o.tune_tables = {tmp.File("no-such.json")};
  CHECK_THROWS_WITH_AS(report::RunReport(o, nullptr), doctest::Contains("no-such.json: no such tune table"),
                       InputError);
}
