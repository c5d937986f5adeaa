// Beyond one machine (docs/distributed.md): the process group of this process, over torch's c10d
// with the Gloo backend, behind a torch-free interface. A process started by torchrun (RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or by OpenMPI's mpirun (OMPI_COMM_WORLD_RANK,
// OMPI_COMM_WORLD_SIZE, with MASTER_ADDR/MASTER_PORT) joins its peers; any other process runs
// alone (Single(): every collective is the identity, nothing is set up). Every collective is
// bounded by a timeout; when a peer dies, hangs or fails, every other rank throws Failure naming
// that rank and the phase.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amrs/core/error.h"

namespace amrs::distributed {

// A collective failed: a peer died, could not connect, timed out or reported an error of its own,
// or the ranks disagree (options, dataset, version). The message names the phase and the other
// rank(s) to blame, not this rank (the CLI's error line starts with it). The CLI exits with 4.
class Failure : public Error {
 public:
  explicit Failure(const std::string& what) : Error(what) {}
};

inline constexpr std::chrono::seconds kDefaultTimeout{60};

// Where this process stands in a launch, read from the environment.
struct Launch {
  std::string launcher;   // "torchrun" (RANK/WORLD_SIZE) or "openmpi" (OMPI_COMM_WORLD_*)
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  bool agent_store = false;       // TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent serves the store
  std::string store_prefix;       // keys of this launch (torchrun: per restart)
  std::chrono::milliseconds timeout = kDefaultTimeout;  // AMRS_DIST_TIMEOUT (seconds)
};

// torchrun's variables when RANK is set, else OpenMPI's when OMPI_COMM_WORLD_RANK is set, else
// nullopt. ArgumentError naming the variable when one is missing or malformed (e.g. RANK without
// MASTER_PORT, a rank outside [0, WORLD_SIZE)).
std::optional<Launch> LaunchFromEnvironment();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool root() const { return rank() == 0; }
  // Element-wise sum over the ranks, in place, the same bits on every rank. `phase` names the step
  // in errors (e.g. "train-world epoch 3: gradients").
  virtual void AllReduceSum(float* data, std::size_t n, const std::string& phase) = 0;
  virtual void AllReduceSum(double* data, std::size_t n, const std::string& phase) = 0;
  // Every rank's bytes, in rank order (sizes may differ).
  virtual std::vector<std::string> AllGather(const std::string& bytes, const std::string& phase) = 0;
  virtual void Barrier(const std::string& phase) = 0;
  // This rank is failing: tells the others why (best effort, never throws), so that their error
  // names this rank and its message instead of a lost connection.
  virtual void Abort(const std::string& message) noexcept = 0;
  // Bytes this rank has contributed to all-reduces so far (the benchmark's volume).
  std::uint64_t bytes_reduced() const { return bytes_reduced_; }

 protected:
  std::uint64_t bytes_reduced_ = 0;
};

// One process: rank 0 of 1, every collective returns its input.
std::shared_ptr<Communicator> Single();
// Joins the launch's process group over c10d (TCPStore + ProcessGroupGloo). Failure naming the
// address and the timeout when the store or a peer cannot be reached in time.
std::shared_ptr<Communicator> Connect(const Launch& launch);

// The communicator of this process: Single() until SetCurrent. Library functions that can run
// data-parallel or sharded (world-model and policy training, the runner) use it.
Communicator& Current();
std::shared_ptr<Communicator> CurrentPtr();
void SetCurrent(std::shared_ptr<Communicator> comm);
// Connect when LaunchFromEnvironment finds a launch of more than one process, then SetCurrent;
// returns the launch (nullopt: single process, nothing set up).
std::optional<Launch> InitFromEnvironment();

// Throws Failure on every rank unless all ranks pass the same `value`; the message names the
// first rank that differs from rank 0 and `what` (e.g. "dataset fingerprint").
void CheckSame(Communicator& comm, const std::string& what, const std::string& value);

// The ranks own items round-robin: item i belongs to rank i % size.
inline bool Owns(const Communicator& comm, std::size_t i) {
  return static_cast<int>(i % static_cast<std::size_t>(comm.size())) == comm.rank();
}
// This rank's items of `items` (Owns), in order.
template <class T>
std::vector<T> Owned(const Communicator& comm, const std::vector<T>& items) {
  std::vector<T> out;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (Owns(comm, i)) out.push_back(items[i]);
  return out;
}

}  // namespace amrs::distributed
