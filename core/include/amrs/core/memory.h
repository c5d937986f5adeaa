// Up-front memory checks: a configuration whose estimated footprint cannot fit is refused with an
// ArgumentError before any allocation ("... would need about N GB"), instead of dying later with
// std::bad_alloc or a torch allocation error. Header-only (sysconf), no dependencies.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "amrs/core/error.h"

namespace amrs {

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
