// The extension module amrs._amrs. Bindings only: every call is a library function.
#include "bindings.h"

#include "amrs/core/memory.h"

PYBIND11_MODULE(_amrs, m) {
  amrs::KeepLargeArraysInHeap();
  m.doc() = "AMRS-Sim: offline affective music recommendation (C++ core)";
  m.attr("__version__") = AMRS_VERSION;
  amrs::python::InitData(m);
  amrs::python::InitEnv(m);
  amrs::python::InitRun(m);
}
