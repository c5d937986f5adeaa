// amrs report.
#include "common.h"

#include <cstdio>
#include <iostream>

#include <filesystem>

#include "amrs/core/paths.h"
#include "amrs/report/report.h"

namespace amrs::cli {
namespace {

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

}  // namespace

int Report(const std::vector<std::string>& args) {
  report::ReportOptions o;
  bool no_figures = false;
  po::options_description desc("amrs report: Tables 4 and 5, the oracle comparison, Tables 2 and 3, figures");
  desc.add_options()
    ("logs", po::value(&o.logs)->multitoken()->required(), "episode logs of amrs rollout/evaluate (.h5); logs of one world kind and part are merged (same run options, different agents)")
    ("world-results", po::value(&o.world_results)->multitoken(), "world-results.h5 of amrs sweep-world (Tables 2, 3)")
    ("data", po::value(&o.data)->required(), "the dataset of the logs (.h5)")
    ("out,o", po::value(&o.out_dir)->default_value(o.out_dir), "output folder (report.md, summary.json, fig-*.png)")
    ("family", po::value(&o.family)->default_value(o.family), "embedding family for ILD")
    ("python", po::value(&o.python)->default_value(o.python), "Python with matplotlib for the figures")
    ("figures-script", po::value(&o.figures_script)->default_value(FiguresScript()), "figure script")
    ("no-figures", po::bool_switch(&no_figures), "skip the figures")
    ("stress", po::value(&o.stress_tables)->composing(), "stress table(s) (.md written by `amrs stress`) to include")
    ("tune", po::value(&o.tune_tables)->composing(), "tune table(s) (tune-<kind>.json of `amrs tune`, same dataset): section Tuning, Table 4's caption");
  po::positional_options_description pos;
  pos.add("logs", -1);
  po::variables_map vm;
  if (!Parse("report", args, desc, vm, &pos, "RUN.h5... [--world-results R.h5 ...] [--tune tune-dpo.json ...] --data D.h5 --out DIR")) return 0;
  if (no_figures) o.figures_script.clear();
  CheckInputFile(o.data, "--data");
  for (const auto& l : o.logs) CheckInputFile(l, "--logs");
  for (const auto& r : o.world_results) CheckInputFile(r, "--world-results");
  for (const auto& t : o.stress_tables) CheckInputFile(t, "--stress");
  for (const auto& t : o.tune_tables) CheckInputFile(t, "--tune");
  CheckOutputDir(o.out_dir, "--out");
  const auto r = report::RunReport(o, &std::cerr);
  std::cout << "report: " << r.markdown_path << " (summary " << r.json_path << ", " << r.figures.size()
            << " figures)\n";
  return 0;
}

}  // namespace amrs::cli
