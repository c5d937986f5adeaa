// amrs.Dataset, amrs.generate, amrs.load_world / amrs.World, and the exception translation of the
// whole extension (docs/python.md "Datasets and worlds").
#include <algorithm>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <mutex>

#include "amrs/core/error.h"
#include "amrs/data/splits.h"
#include "amrs/data/synthetic.h"
#include "bindings.h"
#include "objects.h"

namespace py = pybind11;

namespace amrs::python {

namespace {

// A read-only numpy view of `n x dim` floats that keeps `owner` alive (no copy).
template <typename T>
py::array ReadOnlyView(std::shared_ptr<const void> owner, const T* ptr, std::vector<py::ssize_t> shape) {
  auto* keep = new std::shared_ptr<const void>(std::move(owner));
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  py::array a(py::dtype::of<T>(), std::move(shape), {}, ptr, base);
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

template <typename T>
py::array_t<T> Copy(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Per-song annotation, NaN where unknown (the dataset has none at all when the vector is empty).
py::array_t<float> SongAnnotation(const data::Dataset& d, const std::vector<float>& v) {
  if (!v.empty()) return Copy(v);
  py::array_t<float> a(d.num_songs());
  std::fill_n(a.mutable_data(), a.size(), std::numeric_limits<float>::quiet_NaN());
  return a;
}

std::shared_ptr<PyDataset> OpenDataset(const std::string& path) {
  data::Dataset d;
  {
    py::gil_scoped_release release;
    d = data::ReadDataset(path);
  }
  return std::make_shared<PyDataset>(PyDataset{std::make_shared<const data::Dataset>(std::move(d)), path});
}

}  // namespace

void InitData(py::module_& m) {
  // amrs::InputError (bad data or files) -> amrs.InputError, a ValueError; amrs::ArgumentError
  // (bad arguments or options) -> ValueError; any other amrs::Error -> RuntimeError.
  static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      input_error(e.what());
    } catch (const ArgumentError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<PyDataset, std::shared_ptr<PyDataset>>(m, "Dataset",
                                                    "A dataset file (docs/data-format.md), read once.")
      .def(py::init(&OpenDataset), py::arg("path"))
      .def_readonly("path", &PyDataset::path)
      .def_property_readonly("num_users", [](const PyDataset& d) { return d.data->num_users(); })
      .def_property_readonly("num_songs", [](const PyDataset& d) { return d.data->num_songs(); })
      .def_property_readonly("num_sessions", [](const PyDataset& d) { return d.data->sessions.size(); })
      .def_property_readonly("num_interactions", [](const PyDataset& d) { return d.data->interactions.size(); })
      .def_property_readonly("num_splits", [](const PyDataset& d) { return d.data->splits.size(); })
      .def_property_readonly(
          "num_song_affect_reports",
          [](const PyDataset& d) {
            const auto& f = d.data->interactions.has_affect;
            return static_cast<std::int64_t>(std::count(f.begin(), f.end(), std::uint8_t{1}));
          },
          "Interactions with a per-song valence/arousal report (0 when the dataset has none).")
      .def_property_readonly("song_ids", [](const PyDataset& d) { return Copy(d.data->song_ids); })
      .def_property_readonly("user_ids", [](const PyDataset& d) { return Copy(d.data->user_ids); })
      .def_property_readonly("families",
                             [](const PyDataset& d) {
                               std::vector<std::string> names;
                               for (const auto& f : d.data->families) names.push_back(f.name);
                               return names;
                             })
      .def_property_readonly("has_oracle", [](const PyDataset& d) { return d.data->oracle != nullptr; })
      .def_property_readonly("fingerprint",
                             [](const PyDataset& d) {
                               py::gil_scoped_release release;
                               return data::Fingerprint(*d.data);
                             })
      .def_property_readonly("attributes", [](const PyDataset& d) { return d.data->attributes; })
      .def(
          "embeddings",
          [](const PyDataset& d, const std::string& family) {
            const auto& f = d.data->Family(family);
            return ReadOnlyView<float>(d.data, f.values.data(), {d.data->num_songs(), f.dim});
          },
          py::arg("family"), "Read-only float32 [num_songs, dim] view of one embedding family.")
      .def_property_readonly("song_valence",
                             [](const PyDataset& d) { return SongAnnotation(*d.data, d.data->song_valence); })
      .def_property_readonly("song_arousal",
                             [](const PyDataset& d) { return SongAnnotation(*d.data, d.data->song_arousal); })
      .def(
          "parts",
          [](const PyDataset& d, std::int32_t split) {
            const auto& splits = d.data->splits;
            if (split < 0 || split >= static_cast<std::int32_t>(splits.size()))
              throw ArgumentError("split " + std::to_string(split) + " does not exist (the dataset has " +
                                  std::to_string(splits.size()) + ")");
            const auto& s = splits[static_cast<std::size_t>(split)];
            py::dict out;
            out["train"] = Copy(s.train);
            out["val"] = Copy(s.val);
            out["test"] = Copy(s.test);
            return out;
          },
          py::arg("split") = 0, "The MCCV parts of one split: {'train','val','test'} -> int32 user indices.")
      .def("__repr__", [](const PyDataset& d) {
        return "amrs.Dataset('" + d.path + "', users=" + std::to_string(d.data->num_users()) +
               ", songs=" + std::to_string(d.data->num_songs()) + ")";
      });

  data::GeneratorConfig defaults;
  m.def(
      "generate",
      [](const std::string& path, std::uint64_t seed, std::int32_t users, std::int32_t sessions,
         std::int32_t interactions, std::int32_t songs, std::int32_t embedding_dim, std::int32_t splits,
         bool affect_per_song) {
        data::GeneratorConfig c;
        c.seed = seed;
        c.num_users = users;
        c.num_sessions = sessions;
        c.num_interactions = interactions;
        c.num_songs = songs;
        c.embedding_dim = embedding_dim;
        c.num_splits = splits;
        c.affect_per_song = affect_per_song;
        {
          py::gil_scoped_release release;
          c.Validate();
          data::WriteDataset(data::Generate(c), path);
        }
        return OpenDataset(path);
      },
      py::arg("path"), py::arg("seed") = 0, py::arg("users") = defaults.num_users,
      py::arg("sessions") = defaults.num_sessions, py::arg("interactions") = defaults.num_interactions,
      py::arg("songs") = defaults.num_songs, py::arg("embedding_dim") = defaults.embedding_dim,
      py::arg("splits") = defaults.num_splits, py::arg("affect_per_song") = false,
      "Writes a synthetic dataset with its oracle (docs/synthetic.md) to `path` and opens it.");

  py::class_<PyWorld, std::shared_ptr<PyWorld>>(m, "World", "A world (oracle or learned) for one dataset.")
      .def_readonly("spec", &PyWorld::spec)
      .def_property_readonly("name", [](const PyWorld& w) { return w.world->Name(); })
      .def_property_readonly("id", [](const PyWorld& w) { return w.world->Id(); })
      .def_property_readonly("num_songs", [](const PyWorld& w) { return w.world->num_songs(); })
      .def_property_readonly("family", [](const PyWorld& w) { return w.world->catalogue().family; })
      .def_property_readonly("dataset", [](const PyWorld& w) { return w.dataset; })
      .def_property_readonly(
          "embeddings",
          [](const PyWorld& w) {
            const auto& c = w.world->catalogue();
            return ReadOnlyView<float>(w.world, c.embedding.data(), {c.size(), c.dim});
          },
          "Read-only float32 [num_songs, dim]: the catalogue embeddings agents see in this world.")
      .def("__repr__", [](const PyWorld& w) { return "amrs.World('" + w.world->Name() + "')"; });

  m.def(
      "load_world",
      [](const std::string& spec, std::shared_ptr<PyDataset> dataset) {
        if (!dataset) throw ArgumentError("load_world: a dataset is required");
        std::shared_ptr<const env::World> w;
        {
          py::gil_scoped_release release;
          w = env::LoadWorld(spec, dataset->data);
        }
        return std::make_shared<PyWorld>(PyWorld{w, spec, dataset});
      },
      py::arg("spec"), py::arg("dataset"),
      "The world a spec names: 'oracle' (synthetic data), 'oracle:<family>' or a world-model checkpoint.");
}

}  // namespace amrs::python
