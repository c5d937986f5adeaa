#include <cstdlib>
#include <string>

#include "amrs/core/error.h"
#include "amrs/distributed/distributed.h"

namespace amrs::distributed {
namespace {

const char* Get(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

long Integer(const char* name, long lo, long hi) {
  const char* v = Get(name);
  if (!v) throw ArgumentError(std::string("distributed launch: the environment variable ") + name + " is not set");
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw ArgumentError(std::string("distributed launch: ") + name + "='" + v + "' is not an integer in [" +
                        std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

}  // namespace

std::optional<Launch> LaunchFromEnvironment() {
  Launch l;
  const char *rank_var, *size_var, *local_var;
  if (Get("RANK")) {
    l.launcher = "torchrun";
    rank_var = "RANK", size_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
  } else if (Get("OMPI_COMM_WORLD_RANK")) {
    l.launcher = "openmpi";
    rank_var = "OMPI_COMM_WORLD_RANK", size_var = "OMPI_COMM_WORLD_SIZE", local_var = "OMPI_COMM_WORLD_LOCAL_RANK";
  } else if (Get("SLURM_PROCID") && Get("MASTER_ADDR")) {
    l.launcher = "slurm";
    rank_var = "SLURM_PROCID", size_var = "SLURM_NTASKS", local_var = "SLURM_LOCALID";
  } else {
    return std::nullopt;
  }
  l.world_size = static_cast<int>(Integer(size_var, 1, 1 << 20));
  l.rank = static_cast<int>(Integer(rank_var, 0, l.world_size - 1));
  l.local_rank = Get(local_var) ? static_cast<int>(Integer(local_var, 0, 1 << 20)) : 0;
  if (Get("AMRS_DIST_TIMEOUT")) {
    const char* v = Get("AMRS_DIST_TIMEOUT");
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (*end != '\0' || !(s > 0) || s > 86400)
      throw ArgumentError(std::string("distributed launch: AMRS_DIST_TIMEOUT='") + v +
                          "' is not a number of seconds in (0, 86400]");
    l.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
  }
  if (l.world_size == 1) return l;  // one process: no rendezvous needed
  const char* addr = Get("MASTER_ADDR");
  if (!addr)
    throw ArgumentError("distributed launch (" + l.launcher + ", " + size_var + "=" + std::to_string(l.world_size) +
                        "): MASTER_ADDR is not set (the address of rank 0's store, e.g. 127.0.0.1)");
  l.master_addr = addr;
  l.master_port = static_cast<int>(Integer("MASTER_PORT", 1, 65535));
  if (const char* v = Get("TORCHELASTIC_USE_AGENT_STORE")) l.agent_store = std::string(v) == "True";
  l.store_prefix = "amrs/";
  if (const char* v = Get("TORCHELASTIC_RESTART_COUNT")) l.store_prefix += std::string("attempt_") + v + "/";
  if (const char* v = Get("TORCHELASTIC_RUN_ID")) l.store_prefix += std::string("run_") + v + "/";
  return l;
}

}  // namespace amrs::distributed
