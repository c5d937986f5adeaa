// Observations and predictions as numpy arrays (format: observations.h, docs/python.md).
#include "observations.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace py = pybind11;

namespace amrs::python {

namespace {

template <typename T>
py::array_t<T> Filled(std::initializer_list<py::ssize_t> shape, T value) {
  py::array_t<T> a{std::vector<py::ssize_t>(shape)};
  std::fill_n(a.mutable_data(), a.size(), value);
  return a;
}

}  // namespace

py::dict ObservationDict(const env::ObservationBatch& batch, std::int32_t max_len) {
  const py::ssize_t B = static_cast<py::ssize_t>(batch.size()), T = max_len;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto song = Filled<std::int32_t>({B, T}, -1);
  auto engagement = Filled<float>({B, T}, nan), rating = Filled<float>({B, T}, nan);
  auto valence = Filled<float>({B, T}, nan), arousal = Filled<float>({B, T}, nan);
  auto boundary = Filled<std::int8_t>({B, T}, 0), mode = Filled<std::int8_t>({B, T}, -1);
  py::array_t<std::int32_t> length(B), user(B), step(B);
  {
    // The arrays are ours alone until returned: fill them without the GIL.
    py::gil_scoped_release release;
    std::int32_t* s = song.mutable_data();
    float *e = engagement.mutable_data(), *r = rating.mutable_data();
    float *v = valence.mutable_data(), *a = arousal.mutable_data();
    std::int8_t *b = boundary.mutable_data(), *m = mode.mutable_data();
    std::int32_t *len = length.mutable_data(), *u = user.mutable_data(), *st = step.mutable_data();
    for (py::ssize_t i = 0; i < B; ++i) {
      const auto& o = batch.obs[static_cast<std::size_t>(i)];
      const std::size_t n = o.history ? o.history->size() : 0;
      const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(T));
      len[i] = static_cast<std::int32_t>(k);
      u[i] = o.user;
      st[i] = o.step;
      for (std::size_t j = 0; j < k; ++j) {
        const Token& t = (*o.history)[n - k + j];
        const py::ssize_t x = i * T + static_cast<py::ssize_t>(j);
        s[x] = t.IsBoundary() ? -1 : t.song;
        if (!t.IsBoundary() && t.has_engagement) e[x] = t.engagement;
        if (!t.IsBoundary() && t.has_rating) r[x] = t.rating;
        if (t.has_affect) v[x] = t.valence, a[x] = t.arousal;
        b[x] = t.IsBoundary() ? 1 : 0;
        m[x] = static_cast<std::int8_t>(t.mode);
      }
    }
  }
  py::dict d;
  d["song"] = song;
  d["engagement"] = engagement;
  d["rating"] = rating;
  d["valence"] = valence;
  d["arousal"] = arousal;
  d["boundary"] = boundary;
  d["mode"] = mode;
  d["length"] = length;
  d["user"] = user;
  d["step"] = step;
  return d;
}

py::array_t<float> FeedbackArray(const std::vector<Feedback>& feedback, std::int64_t rows, std::int64_t songs) {
  static_assert(sizeof(Feedback) == 4 * sizeof(float), "Feedback must be four packed floats");
  if (static_cast<std::int64_t>(feedback.size()) != rows * songs)
    throw std::logic_error("FeedbackArray: " + std::to_string(feedback.size()) + " predictions for " +
                           std::to_string(rows) + " x " + std::to_string(songs));
  py::array_t<float> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(songs), py::ssize_t{4}});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    std::memcpy(dst, feedback.data(), feedback.size() * sizeof(Feedback));
  }
  return out;
}

}  // namespace amrs::python
