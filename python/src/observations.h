// Private to the Python extension: observations and predictions as numpy arrays, shared by the
// env bindings (reset/step) and the Python-agent adapter (the batch an agent sees).
//
// Observation format (docs/python.md), for B rows and T = max_len token slots:
//   "song"        int32   [B, T]  catalogue index; -1 for session-boundary tokens and padding
//   "engagement"  float32 [B, T]  NaN where absent (boundary, padding, not observed)
//   "rating"      float32 [B, T]  1 liked / 0 disliked; NaN where absent
//   "valence"     float32 [B, T]  on boundary tokens: the pre-session report; NaN where absent
//   "arousal"     float32 [B, T]  likewise
//   "boundary"    int8    [B, T]  1 for a session-boundary token, 0 otherwise (padding 0)
//   "mode"        int8    [B, T]  session mode 0..3, -1 none/padding
//   "length"      int32   [B]     valid tokens (the last `length` of the history, left-aligned)
//   "user"        int32   [B]     dataset user index
//   "step"        int32   [B]     steps taken in the episode
// Histories longer than T keep their last T tokens.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/env/env.h"

namespace amrs::python {

pybind11::dict ObservationDict(const env::ObservationBatch& batch, std::int32_t max_len);

// Predicted feedback as float32 [rows, songs, 4]: engagement, rating, valence, arousal.
pybind11::array_t<float> FeedbackArray(const std::vector<Feedback>& feedback, std::int64_t rows, std::int64_t songs);

}  // namespace amrs::python
