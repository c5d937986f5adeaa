#include "amrs/metrics/tables.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "amrs/metrics/stats.h"

namespace amrs::metrics {

TableResult MakeTable(const std::vector<std::string>& order, const RowData& rows,
                      const std::vector<Column>& columns, const std::string& reference, bool rank) {
  auto values = [&](const std::string& row, const std::string& key) -> const std::vector<double>* {
    auto r = rows.find(row);
    if (r == rows.end()) return nullptr;
    auto m = r->second.find(key);
    return (m == r->second.end() || m->second.empty()) ? nullptr : &m->second;
  };
  // Best mean per column and ranks for the average-rank choice.
  std::map<std::string, std::string> best;
  TableResult out;
  std::map<std::string, double> rank_sum;
  std::map<std::string, int> rank_n;
  for (const auto& c : columns) {
    std::vector<std::pair<double, std::string>> ms;
    for (const auto& r : order)
      if (const auto* v = values(r, c.key); v && std::isfinite(Mean(*v)))  // undefined scores: not ranked
        ms.emplace_back(c.higher_better ? -Mean(*v) : Mean(*v), r);
    if (ms.empty()) continue;
    std::sort(ms.begin(), ms.end());
    best[c.key] = ms.front().second;
    if (!c.primary) continue;
    for (std::size_t i = 0; i < ms.size();) {  // average ranks for ties
      std::size_t j = i;
      while (j + 1 < ms.size() && ms[j + 1].first == ms[i].first) ++j;
      for (std::size_t k = i; k <= j; ++k) rank_sum[ms[k].second] += 0.5 * (i + j) + 1, rank_n[ms[k].second]++;
      i = j + 1;
    }
  }
  double best_rank = 1e300;
  for (const auto& r : order)
    if (rank_n[r] > 0) {
      out.average_rank[r] = rank_sum[r] / rank_n[r];
      if (out.average_rank[r] < best_rank) best_rank = out.average_rank[r], out.chosen = r;
    }
  std::ostringstream os;
  os << "| Configuration |";
  for (const auto& c : columns) os << " " << c.label << (c.higher_better ? " ↑" : " ↓") << " |";
  os << (rank ? " Avg. rank |\n|---|" : "\n|---|");
  for (std::size_t i = 0; i < columns.size(); ++i) os << "---|";
  os << (rank ? "---|\n" : "\n");
  for (const auto& r : order) {
    os << "| " << r << (r == reference ? " †" : "") << (rank && r == out.chosen ? " (chosen)" : "") << " |";
    for (const auto& c : columns) {
      const auto* v = values(r, c.key);
      if (!v || !std::isfinite(Mean(*v))) {  // absent, or undefined on some split (e.g. a one-class AUC)
        os << " n/a |";
        continue;
      }
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(c.precision) << c.scale * Mean(*v) << " (" << c.scale * Sd(*v) << ")";
      std::string s = cell.str();
      if (best[c.key] == r) s = "**" + s + "**";
      if (!reference.empty() && r != reference) {
        const auto* ref = values(reference, c.key);
        if (ref && ref->size() == v->size() && v->size() >= 2) {
          const std::string st = Stars(PairedTTestP(*v, *ref));
          if (!st.empty()) s += "<sup>" + st + "</sup>";
        }
      }
      os << " " << s << " |";
    }
    auto ar = out.average_rank.find(r);
    if (!rank) os << "\n";
    else if (ar != out.average_rank.end()) os << " " << std::fixed << std::setprecision(2) << ar->second << " |\n";
    else os << " |\n";
  }
  out.markdown = os.str();
  return out;
}

}  // namespace amrs::metrics
