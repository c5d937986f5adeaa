#include "bindings.h"

namespace amrs::python {

void InitRun(pybind11::module_& m) { (void)m; }

}  // namespace amrs::python
