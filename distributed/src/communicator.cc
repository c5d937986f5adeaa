#include <mutex>

#include "amrs/distributed/distributed.h"

namespace amrs::distributed {
namespace {

class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void AllReduceSum(float*, std::size_t, const std::string&) override {}
  void AllReduceSum(double*, std::size_t, const std::string&) override {}
  std::vector<std::string> AllGather(const std::string& bytes, const std::string&) override { return {bytes}; }
  void Barrier(const std::string&) override {}
  void Abort(const std::string&) noexcept override {}
};

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<Communicator>& Slot() {
  static std::shared_ptr<Communicator> current = Single();
  return current;
}

}  // namespace

std::shared_ptr<Communicator> Single() { return std::make_shared<SingleCommunicator>(); }

Communicator& Current() { return *CurrentPtr(); }

std::shared_ptr<Communicator> CurrentPtr() {
  std::lock_guard<std::mutex> lock(Mutex());
  return Slot();
}

void SetCurrent(std::shared_ptr<Communicator> comm) {
  std::lock_guard<std::mutex> lock(Mutex());
  Slot() = comm ? std::move(comm) : Single();
}

std::optional<Launch> InitFromEnvironment() {
  auto launch = LaunchFromEnvironment();
  if (launch && launch->world_size > 1) SetCurrent(Connect(*launch));
  return launch;
}

void CheckSame(Communicator& comm, const std::string& what, const std::string& value) {
  if (comm.size() == 1) return;
  const auto all = comm.AllGather(value, "start-up check of the " + what);
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) {
      auto shown = [](const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; };
      throw Failure("distributed: rank " + std::to_string(r) + "'s " + what + " differs from rank 0's ('" +
                    shown(all[r]) + "' vs '" + shown(all[0]) + "'); every rank must run the same command on the same inputs");
    }
}

}  // namespace amrs::distributed
