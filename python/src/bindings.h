// Private to the Python extension: one Init function per group of bindings (one file each).
#pragma once

#include <pybind11/pybind11.h>

namespace amrs::python {

void InitData(pybind11::module_& m);  // data_bindings.cc: datasets, worlds, catalogue, parts
void InitEnv(pybind11::module_& m);   // env_bindings.cc: VectorEnv / RecEnv core, observations
void InitRun(pybind11::module_& m);   // run_bindings.cc: Python agents, rollout / evaluate / stress

}  // namespace amrs::python
