// Up-front memory checks: a configuration whose estimated footprint cannot fit is refused with an
// ArgumentError before any allocation ("... would need about N GB"), instead of dying later with
// std::bad_alloc or a torch allocation error. Header-only (sysconf), no dependencies.
#pragma once

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "amrs/core/error.h"

namespace amrs {

// Keeps the large arrays of catalogue scoring (a 256-row batch of 6,988 songs is 28.6 MB a world
// model, five of them under a 5-member ensemble) in the heap between steps instead of returning
// them to the system and having the kernel zero fresh pages every step: glibc's mmap threshold
// 256 MiB, trim threshold 1 GiB. The process then keeps up to its peak heap. Does nothing when the
// user set MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_, or off glibc. Called at start by the
// CLI and the Python module; no effect on results.
inline void KeepLargeArraysInHeap() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

// Physical memory of this machine in bytes (0 when unknown).
inline double PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

// "12.3 GB" (decimal gigabytes, at least 0.1).
inline std::string GigabytesText(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GB", bytes < 1e8 ? 0.1 : bytes / 1e9);
  return buf;
}

// Throws ArgumentError "<what> would need about N GB of memory, more than this machine's M GB"
// when `bytes` (an estimate) exceeds the physical memory. `what` names the options responsible.
inline void CheckMemoryEstimate(const std::string& what, double bytes) {
  const double phys = PhysicalMemoryBytes();
  if (phys > 0 && bytes > phys)
    throw ArgumentError(what + " would need about " + GigabytesText(bytes) + " of memory, more than this machine's " +
                        GigabytesText(phys));
}

}  // namespace amrs
