#include "amrs/report/report.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "amrs/core/paths.h"
#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/data/results.h"
#include "amrs/data/tokens.h"
#include "amrs/env/episode_log.h"
#include "amrs/worldmodel/world_tables.h"

namespace amrs::report {
namespace fs = std::filesystem;
namespace {

constexpr int kNoMatplotlib = 3;  // figures.py's exit code when matplotlib is missing

bool IsOracle(const std::string& world) { return world.rfind("oracle", 0) == 0; }

metrics::EvalContext MakeEvalContext(const data::Dataset& d, const std::string& family, std::int32_t k,
                                     const metrics::LoggedSongs& logged) {
  if (d.families.empty()) throw InputError("dataset has no embedding family (needed for ILD)");
  const data::EmbeddingFamily* f = &d.families.front();
  for (const auto& x : d.families)
    if (x.name == family) f = &x;
  return {d.num_songs(), f->values, f->dim, &logged, k};
}

RunInfo Info(const std::string& file, const env::EpisodeLog& log) {
  RunInfo r;
  r.file = file, r.world = log.meta.world, r.part = log.meta.part, r.utility = log.meta.utility.ToString();
  r.fingerprint = log.meta.dataset_fingerprint, r.scenario = log.meta.scenario, r.seed_scope = log.meta.seed_scope;
  r.split = log.meta.split, r.horizon = log.meta.horizon, r.topk = log.meta.topk;
  r.no_replay = log.meta.no_replay;
  r.oracle = IsOracle(log.meta.world);
  for (const auto& b : log.blocks) {
    if (std::find(r.agents.begin(), r.agents.end(), b.agent) == r.agents.end()) r.agents.push_back(b.agent);
    if (std::find(r.seeds.begin(), r.seeds.end(), b.seed) == r.seeds.end()) r.seeds.push_back(b.seed);
  }
  std::sort(r.seeds.begin(), r.seeds.end());
  return r;
}

struct LoadedLogs {
  std::vector<RunInfo> runs;
  std::map<std::pair<bool, std::string>, metrics::AgentRuns> by_kind_part;  // (oracle?, part) -> runs
};

// The first log of a (world kind, part): later logs of it merge with it when they describe the
// same experiment.
struct FirstLog {
  std::string file;
  env::RunMetadata meta;
  std::vector<std::string> agents;
  std::vector<std::uint64_t> seeds;
  // seed -> the episodes of one of its blocks (agent, users, windows, episode seeds; no steps)
  std::map<std::uint64_t, EpisodeBlock> episodes;
};

std::string SeedList(const std::vector<std::uint64_t>& seeds) {
  std::string s;
  for (auto x : seeds) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "[" + s + "]";
}

// Throws InputError unless `l` (file) describes the same experiment as `first`: dataset, world,
// split, horizon, top-k, utility, scenario, seed scope, seeds and the episodes of each seed (users, windows,
// episode seeds), with no agent in both.
void CheckMergeable(const FirstLog& first, const std::string& file, const env::EpisodeLog& l, const RunInfo& info) {
  const std::string head = file + ": cannot be merged with " + first.file + " (both " +
                           (IsOracle(l.meta.world) ? "oracle" : "learned") + "-world " + l.meta.part + " logs): ";
  const auto& a = first.meta;
  const auto& b = l.meta;
  const auto differs = [&](const char* field, const std::string& x, const std::string& y) {
    if (x != y) throw InputError(head + "/meta " + field + " is '" + y + "', the other log's is '" + x + "'");
  };
  differs("dataset_fingerprint", a.dataset_fingerprint, b.dataset_fingerprint);
  differs("world_id", a.world_id, b.world_id);
  differs("split", std::to_string(a.split), std::to_string(b.split));
  differs("horizon", std::to_string(a.horizon), std::to_string(b.horizon));
  differs("topk", std::to_string(a.topk), std::to_string(b.topk));
  differs("utility", a.utility.ToString(), b.utility.ToString());
  differs("scenario", a.scenario, b.scenario);
  differs("seed_scope", a.seed_scope, b.seed_scope);
  differs("no_replay", a.no_replay, b.no_replay);
  differs("seeds", SeedList(first.seeds), SeedList(info.seeds));
  for (const auto& agent : info.agents)
    if (std::find(first.agents.begin(), first.agents.end(), agent) != first.agents.end())
      throw InputError(head + "agent '" + agent + "' is in both");
  for (const auto& blk : l.blocks) {
    const auto& ref = first.episodes.at(blk.seed);
    if (blk.user != ref.user || blk.window_start != ref.window_start || blk.episode_seed != ref.episode_seed)
      throw InputError(head + "/runs/" + blk.agent + "/seed-" + std::to_string(blk.seed) +
                       " has other episodes (users, windows or episode seeds) than /runs/" + ref.agent + "/seed-" +
                       std::to_string(ref.seed) + " there (other users, max_users or window seed?)");
  }
}

LoadedLogs LoadLogs(const ReportOptions& o, const data::Dataset& d, const std::string& fp, std::ostream* log) {
  const auto logged = LoggedSongsOf(d);
  const auto ctx = MakeEvalContext(d, o.family, o.k, logged);
  LoadedLogs out;
  std::map<std::pair<bool, std::string>, FirstLog> first;
  for (const auto& file : o.logs) {
    if (!fs::exists(file)) throw InputError(file + ": no such episode log");
    const auto l = env::ReadEpisodeLog(file);
    if (l.meta.dataset_fingerprint != fp)
      throw InputError(file + ": /meta dataset_fingerprint " + l.meta.dataset_fingerprint +
                       " differs from the dataset " + o.data + " (" + fp + ")");
    if (l.meta.part != "train" && l.meta.part != "val" && l.meta.part != "test")
      throw InputError(file + ": /meta part is '" + l.meta.part + "', expected train, val or test");
    if (l.blocks.empty()) throw InputError(file + ": /runs holds no agent");
    const std::pair<bool, std::string> kp{IsOracle(l.meta.world), l.meta.part};
    auto info = Info(file, l);
    auto runs = EvaluateBlocks(l.blocks, ctx, file);
    const auto f = first.find(kp);
    if (f == first.end()) {
      FirstLog& fl = first[kp];
      fl.file = file, fl.meta = l.meta, fl.agents = info.agents, fl.seeds = info.seeds;
      for (const auto& blk : l.blocks) {
        EpisodeBlock e;
        e.agent = blk.agent, e.seed = blk.seed, e.user = blk.user, e.window_start = blk.window_start;
        e.episode_seed = blk.episode_seed;
        fl.episodes.emplace(blk.seed, std::move(e));
      }
      out.by_kind_part[kp] = std::move(runs);
    } else {
      CheckMergeable(f->second, file, l, info);
      f->second.agents.insert(f->second.agents.end(), info.agents.begin(), info.agents.end());
      for (auto& [agent, r] : runs) out.by_kind_part[kp].emplace(agent, std::move(r));
    }
    if (log) *log << "report: " << file << " (" << info.world << ", " << info.part << ")\n";
    out.runs.push_back(std::move(info));
  }
  return out;
}

void AddWorldResults(const ReportOptions& o, ReportData& rd) {
  for (const auto& file : o.world_results) {
    if (!fs::exists(file)) throw InputError(file + ": no such world-results file");
    const auto results = data::ReadResults(file);
    const auto w = results.find("world");
    if (w == results.end() || w->second.empty()) throw InputError(file + ": no 'world' section (from amrs sweep-world)");
    // Only the tables whose configurations the file holds (a Table-3 base alone is no table).
    // The families are the file's own (any names): Table 2 over them, Table 3 on the first family
    // whose ablations the file holds ("mert" first when present, as in sweep-world).
    const auto families = worldmodel::SectionFamilies(w->second);
    worldmodel::ModelConfig base = worldmodel::SectionBase(w->second);  // with the rows' prior settings
    base.family = std::count(families.begin(), families.end(), "mert") ? "mert" : families.front();
    bool table2 = false, table3 = false;
    for (const auto& c : worldmodel::Table2Configs(base, families)) table2 = table2 || w->second.count(c.Name());
    for (const auto& f : families) {
      worldmodel::ModelConfig b = base;
      b.family = f;
      const auto t3 = worldmodel::Table3Configs(b);
      bool has = false;
      for (std::size_t i = 1; i < t3.size(); ++i) has = has || w->second.count(t3[i].Name());
      if (has && !table3) base.family = f;
      table3 = table3 || has;
    }
    rd.world_tables.emplace_back(file, worldmodel::RenderWorldTables(w->second, base, table2, table3).markdown);
    for (const auto& [row, r] : w->second) rd.world_results[file][row] = r.values;
  }
}

ReportData Assemble(LoadedLogs logs) {
  ReportData rd;
  rd.runs = std::move(logs.runs);
  bool any_learned = false;
  for (const auto& [kp, runs] : logs.by_kind_part) any_learned = any_learned || !kp.first;
  const bool tables_oracle = !any_learned;
  rd.tables_world = tables_oracle ? "oracle" : "learned";
  if (tables_oracle)
    rd.notes.push_back("No learned-world log was given: Tables 4 and 5 show the oracle world (true feedback).");
  std::string missing;
  for (const char* p : {"train", "val", "test"}) {
    const auto it = logs.by_kind_part.find({tables_oracle, p});
    if (it == logs.by_kind_part.end()) missing += std::string(missing.empty() ? "" : ", ") + p;
    else rd.table5[p] = it->second;
  }
  if (!missing.empty())
    rd.notes.push_back("Table 5: no " + rd.tables_world + "-world log for part(s) " + missing + ".");
  const auto test = logs.by_kind_part.find({tables_oracle, "test"});
  if (test != logs.by_kind_part.end()) rd.table4 = test->second;
  else rd.notes.push_back("Table 4: no " + rd.tables_world + "-world test log.");
  const auto oracle_test = logs.by_kind_part.find({true, "test"});
  if (!tables_oracle && test != logs.by_kind_part.end() && oracle_test != logs.by_kind_part.end())
    rd.oracle = metrics::CompareWithOracle(test->second, oracle_test->second);
  else if (!tables_oracle)
    rd.notes.push_back("Oracle comparison: needs an oracle-world and a learned-world test log.");
  return rd;
}

std::vector<Figure> ExpectedFigures(const ReportData& rd) {
  std::vector<Figure> f{
      {"fig-affect-coverage.png", "Predicted affect (valence + arousal) against coverage, one point per seed (test)"},
      {"fig-trajectories.png", "Mean predicted valence and arousal per rollout step (test)"}};
  if (!rd.world_results.empty()) f.push_back({"fig-world-fit.png", "World-model fit per signal (mean over splits)"});
  return f;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the figure script; returns the note for the report ("" when every figure was made).
std::string MakeFigures(const ReportOptions& o, const std::vector<Figure>& expected,
                        std::vector<Figure>& made, std::ostream* log) {
  for (const auto& f : expected) fs::remove(fs::path(o.out_dir) / f.file);
  if (o.figures_script.empty()) return "Figures were not requested.";
  std::string why;
  if (!fs::exists(o.python)) why = o.python + " not found";
  else if (!fs::exists(o.figures_script)) why = "figure script " + o.figures_script + " not found";
  else {
    const std::string err = (fs::path(o.out_dir) / "figures.log").string();
    const std::string cmd = Quote(o.python) + " " + Quote(o.figures_script) + " --summary " +
                            Quote((fs::path(o.out_dir) / "summary.json").string()) + " --out " + Quote(o.out_dir) +
                            " >" + Quote(err) + " 2>&1";
    const int rc = std::system(cmd.c_str());
    const int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == kNoMatplotlib) why = "matplotlib is not installed for " + o.python;
    else if (code != 0) why = "the figure script failed (exit " + std::to_string(code) + ", see " + err + ")";
    else fs::remove(err);
  }
  for (const auto& f : expected)
    if (fs::exists(fs::path(o.out_dir) / f.file)) made.push_back(f);
  if (why.empty() && made.size() < expected.size()) why = "the figure script made only some figures";
  if (why.empty()) return "";
  if (log) *log << "report: warning: no figures: " << why << "; report.md and summary.json are complete\n";
  return "Figures were not made: " + why + ". The tables and summary.json are complete.";
}

}  // namespace

metrics::LoggedSongs LoggedSongsOf(const data::Dataset& d) {
  const data::TokenView view(d);
  metrics::LoggedSongs out(static_cast<std::size_t>(view.num_users()));
  for (std::int32_t u = 0; u < view.num_users(); ++u)
    for (const auto& t : view.User(u)) out[static_cast<std::size_t>(u)].push_back(t.IsBoundary() ? -1 : t.song);
  return out;
}

metrics::AgentRuns EvaluateBlocks(const std::vector<EpisodeBlock>& blocks, const metrics::EvalContext& c,
                                  const std::string& file) {
  metrics::AgentRuns runs;
  for (const auto& b : blocks) {
    const std::string where = file + ": /runs/" + b.agent + "/seed-" + std::to_string(b.seed);
    try {
      runs[b.agent].Add(b.seed, metrics::EvaluateSeed(b, c),
                        {{"valence", metrics::StepMeans(b, b.valence)}, {"arousal", metrics::StepMeans(b, b.arousal)}});
    } catch (const Error& e) {
      throw InputError(where + ": " + e.what());
    }
  }
  return runs;
}

ReportResult RunReport(const ReportOptions& o, std::ostream* log) {
  if (o.logs.empty()) throw ArgumentError("report: no episode log given");
  if (!fs::exists(o.data)) throw InputError(o.data + ": no such dataset");
  {  // the two files it writes must not replace an input (e.g. a log named summary.json)
    std::vector<std::string> inputs{o.data};
    for (const auto* list : {&o.logs, &o.world_results, &o.stress_tables, &o.tune_tables})
      inputs.insert(inputs.end(), list->begin(), list->end());
    for (const auto* name : {"report.md", "summary.json"}) CheckOutputFile(o.out_dir + "/" + name, inputs, "--out");
  }
  std::vector<std::string> stress;  // `amrs stress` tables, included as they are; read first
  for (const auto& f : o.stress_tables) {
    std::ifstream in(f);
    if (!in) throw InputError(f + ": no such stress table (the .md that `amrs stress` writes next to its .h5)");
    std::stringstream ss;
    ss << in.rdbuf();
    stress.push_back(ss.str());
  }
  const auto d = data::ReadDataset(o.data);
  const std::string fp = data::Fingerprint(d);
  std::vector<TuneInfo> tuning;
  for (const auto& f : o.tune_tables) {
    tuning.push_back(ReadTuneTable(f, fp));
    for (std::size_t i = 0; i + 1 < tuning.size(); ++i)
      if (tuning[i].kind == tuning.back().kind)
        throw InputError(f + ": a second tune table of kind " + tuning.back().kind + " (the first: " + tuning[i].file +
                         ")");
  }
  ReportResult res;
  res.data = Assemble(LoadLogs(o, d, fp, log));
  res.data.tuning = std::move(tuning);
  AddWorldResults(o, res.data);
  fs::create_directories(o.out_dir);
  res.json_path = (fs::path(o.out_dir) / "summary.json").string();
  res.markdown_path = (fs::path(o.out_dir) / "report.md").string();
  WriteFileAtomically(res.json_path, ReportJson(res.data));
  std::vector<Figure> made;
  res.figures_note = MakeFigures(o, ExpectedFigures(res.data), made, log);
  for (const auto& f : made) res.figures.push_back((fs::path(o.out_dir) / f.file).string());
  std::string md = ReportMarkdown(res.data, made, res.figures_note);
  for (std::size_t i = 0; i < o.stress_tables.size(); ++i)
    md += "\n## Stress tests (`" + o.stress_tables[i] + "`)\n\n" + stress[i] + "\n";
  WriteFileAtomically(res.markdown_path, md);
  return res;
}

}  // namespace amrs::report
