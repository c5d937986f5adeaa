#include "bindings.h"

namespace amrs::python {

void InitData(pybind11::module_& m) { (void)m; }

}  // namespace amrs::python
