#define AMRS_KERNEL_NS base
#include "step_kernel_impl.inc"
