// TEMPORARY minimal implementation of observations.h (branch py-agents), so that the Python-agent
// batch can be built and tested; the env-bindings branch (py-env) owns this file. Exactly the
// documented format.
#include "observations.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace amrs::python {

namespace py = pybind11;

pybind11::dict ObservationDict(const env::ObservationBatch& batch, std::int32_t max_len) {
  const auto B = static_cast<py::ssize_t>(batch.size()), T = static_cast<py::ssize_t>(std::max(max_len, 0));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  py::array_t<std::int32_t> song({B, T}), length(B), user(B), step(B);
  py::array_t<float> engagement({B, T}), rating({B, T}), valence({B, T}), arousal({B, T});
  py::array_t<std::int8_t> boundary({B, T}), mode({B, T});
  auto s = song.mutable_unchecked<2>();
  auto e = engagement.mutable_unchecked<2>(), r = rating.mutable_unchecked<2>();
  auto v = valence.mutable_unchecked<2>(), a = arousal.mutable_unchecked<2>();
  auto b = boundary.mutable_unchecked<2>(), m = mode.mutable_unchecked<2>();
  auto len = length.mutable_unchecked<1>(), u = user.mutable_unchecked<1>(), st = step.mutable_unchecked<1>();
  for (py::ssize_t i = 0; i < B; ++i) {
    const auto& o = batch.obs[static_cast<std::size_t>(i)];
    const History empty;
    const History& h = o.history ? *o.history : empty;
    const auto n = std::min<py::ssize_t>(static_cast<py::ssize_t>(h.size()), T);
    const auto first = static_cast<py::ssize_t>(h.size()) - n;
    for (py::ssize_t t = 0; t < T; ++t) {
      if (t >= n) {
        s(i, t) = -1, e(i, t) = r(i, t) = v(i, t) = a(i, t) = nan, b(i, t) = 0, m(i, t) = -1;
        continue;
      }
      const Token& k = h[static_cast<std::size_t>(first + t)];
      s(i, t) = k.IsBoundary() ? -1 : k.song;
      e(i, t) = !k.IsBoundary() && k.has_engagement ? k.engagement : nan;
      r(i, t) = !k.IsBoundary() && k.has_rating ? k.rating : nan;
      v(i, t) = k.has_affect ? k.valence : nan;
      a(i, t) = k.has_affect ? k.arousal : nan;
      b(i, t) = k.IsBoundary() ? 1 : 0;
      m(i, t) = static_cast<std::int8_t>(k.mode);
    }
    len(i) = static_cast<std::int32_t>(n), u(i) = o.user, st(i) = o.step;
  }
  py::dict d;
  d["song"] = song, d["engagement"] = engagement, d["rating"] = rating, d["valence"] = valence;
  d["arousal"] = arousal, d["boundary"] = boundary, d["mode"] = mode, d["length"] = length;
  d["user"] = user, d["step"] = step;
  return d;
}

pybind11::array_t<float> FeedbackArray(const std::vector<Feedback>& feedback, std::int64_t rows, std::int64_t songs) {
  py::array_t<float> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(songs), py::ssize_t{4}});
  if (feedback.size() != static_cast<std::size_t>(rows * songs))
    throw std::logic_error("FeedbackArray: " + std::to_string(feedback.size()) + " predictions for " +
                           std::to_string(rows) + " x " + std::to_string(songs));
  float* p = out.mutable_data();
  const auto n = feedback.size();
  for (std::size_t i = 0; i < n; ++i)
    p[4 * i] = feedback[i].engagement, p[4 * i + 1] = feedback[i].rating, p[4 * i + 2] = feedback[i].valence,
    p[4 * i + 3] = feedback[i].arousal;
  return out;
}

}  // namespace amrs::python
