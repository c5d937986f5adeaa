// Markdown tables of per-split (or per-seed) metrics in the layout of the paper's tables:
// mean (SD), bold best mean per metric, stars from paired t-tests against a reference row, and
// the row chosen by equal-weight average rank over the primary metrics.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace amrs::metrics {

struct Column {
  std::string key;        // metric key in the row data
  std::string label;      // column header
  bool higher_better = true;
  double scale = 1.0;     // e.g. 100 for percentages
  int precision = 3;
  bool primary = false;   // enters the average rank
};

// rows[name][metric key] = per-split values (same split order for every row).
using RowData = std::map<std::string, std::map<std::string, std::vector<double>>>;

struct TableResult {
  std::string markdown;
  std::string chosen;  // row with the best average rank over primary columns ("" if none)
  std::map<std::string, double> average_rank;
};

// `order` lists the rows to show; `reference` ("" for none) gets no stars and is shaded (marked
// with a trailing dagger in Markdown). Missing metrics show as "n/a".
// `rank` = false omits the average-rank column and the "(chosen)" mark.
TableResult MakeTable(const std::vector<std::string>& order, const RowData& rows,
                      const std::vector<Column>& columns, const std::string& reference, bool rank = true);

}  // namespace amrs::metrics
