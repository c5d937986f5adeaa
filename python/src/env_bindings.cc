#include "bindings.h"

namespace amrs::python {

void InitEnv(pybind11::module_& m) { (void)m; }

}  // namespace amrs::python
