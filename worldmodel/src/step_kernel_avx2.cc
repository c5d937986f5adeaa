#define AMRS_KERNEL_NS avx2
#include "step_kernel_impl.inc"
