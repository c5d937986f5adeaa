// World-model metrics (docs/metrics.md): MSE, R^2, ROC AUC, Spearman. They live in core
// (amrs/core/regression.h) so that the data module's oracle ceiling can use them; this header
// keeps their metrics names.
#pragma once

#include "amrs/core/regression.h"

namespace amrs::metrics {

using amrs::Mse;
using amrs::Pearson;
using amrs::R2;
using amrs::Ranks;
using amrs::RocAuc;
using amrs::Spearman;

}  // namespace amrs::metrics
