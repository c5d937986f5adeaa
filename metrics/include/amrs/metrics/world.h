// World-model fit metrics (paper 4.2): SignalScores and ScoreFeedback. They live in core
// (amrs/core/signal_scores.h) so that the data module's oracle ceiling is scored by the same
// code; this header keeps their metrics names.
#pragma once

#include "amrs/core/signal_scores.h"

namespace amrs::metrics {

using SignalScores = amrs::SignalScores;
using amrs::ScoreFeedback;

}  // namespace amrs::metrics
