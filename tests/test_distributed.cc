// The launch environment (torchrun, OpenMPI, Slurm) and the single-process communicator
// (docs/distributed.md). Multi-process runs are tested end to end by tests/distributed_test.py.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "amrs/core/error.h"
#include "amrs/distributed/distributed.h"

namespace dist = amrs::distributed;

namespace {

const char* const kVars[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                             "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                             "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "AMRS_DIST_TIMEOUT",
                             "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_RUN_ID"};

struct CleanEnv {
  CleanEnv() { Clear(); }
  ~CleanEnv() { Clear(); }
  static void Clear() {
    for (const char* v : kVars) ::unsetenv(v);
  }
  void Set(const char* k, const char* v) { ::setenv(k, v, 1); }
};

std::string ErrorOf(void (*f)()) {
  try {
    f();
  } catch (const amrs::ArgumentError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("no launcher: a single process, nothing to set up") {
  CleanEnv env;
  CHECK_FALSE(dist::LaunchFromEnvironment().has_value());
  CHECK_FALSE(dist::InitFromEnvironment().has_value());
  CHECK(dist::Current().size() == 1);
  CHECK(dist::Current().root());
}

TEST_CASE("torchrun's variables, with its agent's store") {
  CleanEnv env;
  env.Set("RANK", "1"), env.Set("WORLD_SIZE", "4"), env.Set("LOCAL_RANK", "1");
  env.Set("MASTER_ADDR", "127.0.0.1"), env.Set("MASTER_PORT", "29501");
  env.Set("TORCHELASTIC_USE_AGENT_STORE", "True"), env.Set("TORCHELASTIC_RESTART_COUNT", "2");
  env.Set("AMRS_DIST_TIMEOUT", "2.5");
  const auto l = dist::LaunchFromEnvironment();
  REQUIRE(l.has_value());
  CHECK(l->launcher == "torchrun");
  CHECK(l->rank == 1);
  CHECK(l->world_size == 4);
  CHECK(l->local_rank == 1);
  CHECK(l->master_addr == "127.0.0.1");
  CHECK(l->master_port == 29501);
  CHECK(l->agent_store);
  CHECK(l->store_prefix.find("attempt_2") != std::string::npos);
  CHECK(l->timeout.count() == 2500);
}

TEST_CASE("OpenMPI's and Slurm's variables") {
  {
    CleanEnv env;
    env.Set("OMPI_COMM_WORLD_RANK", "0"), env.Set("OMPI_COMM_WORLD_SIZE", "2");
    env.Set("MASTER_ADDR", "node0"), env.Set("MASTER_PORT", "29500");
    const auto l = dist::LaunchFromEnvironment();
    REQUIRE(l.has_value());
    CHECK(l->launcher == "openmpi");
    CHECK(l->world_size == 2);
    CHECK_FALSE(l->agent_store);
    CHECK(l->timeout == dist::kDefaultTimeout);
  }
  {
    CleanEnv env;
    env.Set("SLURM_PROCID", "3"), env.Set("SLURM_NTASKS", "8"), env.Set("SLURM_LOCALID", "1");
    env.Set("MASTER_ADDR", "node0"), env.Set("MASTER_PORT", "29500");
    const auto l = dist::LaunchFromEnvironment();
    REQUIRE(l.has_value());
    CHECK(l->launcher == "slurm");
    CHECK(l->rank == 3);
    CHECK(l->world_size == 8);
  }
  {
    CleanEnv env;  // srun alone (no MASTER_ADDR): an ordinary single-process job step
    env.Set("SLURM_PROCID", "0"), env.Set("SLURM_NTASKS", "1");
    CHECK_FALSE(dist::LaunchFromEnvironment().has_value());
  }
}

TEST_CASE("a malformed or incomplete launch names the variable") {
  CleanEnv env;
  env.Set("RANK", "0"), env.Set("WORLD_SIZE", "2");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("MASTER_ADDR is not set") != std::string::npos);
  env.Set("MASTER_ADDR", "127.0.0.1");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("MASTER_PORT is not set") != std::string::npos);
  env.Set("MASTER_PORT", "70000");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("MASTER_PORT='70000'") != std::string::npos);
  env.Set("MASTER_PORT", "29500");
  env.Set("RANK", "2");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("RANK='2'") != std::string::npos);
  env.Set("RANK", "x");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("RANK='x'") != std::string::npos);
  env.Set("RANK", "0");
  env.Set("AMRS_DIST_TIMEOUT", "-1");
  CHECK(ErrorOf([] { dist::LaunchFromEnvironment(); }).find("AMRS_DIST_TIMEOUT='-1'") != std::string::npos);
  ::unsetenv("AMRS_DIST_TIMEOUT");
  env.Set("WORLD_SIZE", "1");  // one process: no rendezvous, the address is not needed
  ::unsetenv("MASTER_ADDR");
  const auto l = dist::LaunchFromEnvironment();
  REQUIRE(l.has_value());
  CHECK(l->world_size == 1);
}

TEST_CASE("the single-process communicator returns its input") {
  const auto c = dist::Single();
  float f[2] = {1.5f, -2.f};
  double d[1] = {3.0};
  c->AllReduceSum(f, 2, "test");
  c->AllReduceSum(d, 1, "test");
  CHECK(f[0] == 1.5f);
  CHECK(f[1] == -2.f);
  CHECK(d[0] == 3.0);
  const auto all = c->AllGather("abc", "test");
  REQUIRE(all.size() == 1);
  CHECK(all[0] == "abc");
  dist::CheckSame(*c, "anything", "x");  // nothing to compare with
  for (std::size_t i = 0; i < 5; ++i) CHECK(dist::Owns(*c, i));
}
