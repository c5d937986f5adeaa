// The c10d implementation: TCPStore rendezvous and ProcessGroupGloo collectives. Each collective
// has a sequence number; when one fails, this rank diagnoses the failure through the store: ranks
// that reported an error of their own (Abort) are named with their message, ranks that do not
// answer within a few seconds are named as dead or hung.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "amrs/distributed/distributed.h"

namespace amrs::distributed {
namespace {

using Clock = std::chrono::steady_clock;
// How long a rank whose collective failed waits for the others to answer through the store: live
// ranks whose collective failed too answer within milliseconds.
constexpr std::chrono::seconds kAnswerWindow{2};

std::string FirstLine(const char* what) {
  std::string s(what ? what : "");
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

std::vector<std::uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

std::string Seconds(std::chrono::milliseconds t) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", static_cast<double>(t.count()) / 1000.0);
  return b;
}

class GlooCommunicator final : public Communicator {
 public:
  explicit GlooCommunicator(const Launch& l) : launch_(l) {
    // A peer that dies leaves sockets whose next write raises SIGPIPE, which would kill this
    // process at once (no diagnosis, temporaries left behind): ignore it, so that the write fails
    // with EPIPE and the collective reports the dead rank. Only when nobody installed a handler.
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
      ::signal(SIGPIPE, SIG_IGN);
    where_ = l.master_addr + ":" + std::to_string(l.master_port);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(l.master_port);
    so.isServer = !l.agent_store && l.rank == 0;
    so.waitWorkers = false;
    so.timeout = l.timeout;
    serves_store_ = so.isServer;
    try {
      tcp_ = c10::make_intrusive<c10d::TCPStore>(l.master_addr, so);
    } catch (const std::exception& e) {
      throw Failure("distributed (" + l.launcher + "): " +
                    (so.isServer ? "could not serve the store on " : "could not reach the store at ") + where_ +
                    " within " + Seconds(l.timeout) + ": " + FirstLine(e.what()));
    }
    store_ = c10::make_intrusive<c10d::PrefixStore>(l.store_prefix, tcp_);
    auto opts = c10d::ProcessGroupGloo::Options::create(l.timeout);
    try {
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (IsLoopback(l.master_addr))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      store_->set("joined/" + std::to_string(l.rank), Bytes("1"));
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, l.rank, l.world_size, opts);
    } catch (const std::exception& e) {
      std::string missing;
      try {
        for (int r = 0; r < l.world_size; ++r)
          if (!store_->check({"joined/" + std::to_string(r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      } catch (const std::exception&) {
        missing = "unknown (the store is unreachable)";
      }
      throw Failure("distributed: the process group did not form within " + Seconds(l.timeout) +
                    (missing.empty() ? "" : " (ranks that never joined: " + missing + ")") + ": " + FirstLine(e.what()));
    }
  }

  // The process group goes before the store it was formed through.
  ~GlooCommunicator() override { pg_.reset(); }

  int rank() const override { return launch_.rank; }
  int size() const override { return launch_.world_size; }

  void AllReduceSum(float* data, std::size_t n, const std::string& phase) override {
    Reduce(torch::from_blob(data, {static_cast<std::int64_t>(n)}, torch::kFloat), phase);
  }
  void AllReduceSum(double* data, std::size_t n, const std::string& phase) override {
    Reduce(torch::from_blob(data, {static_cast<std::int64_t>(n)}, torch::kDouble), phase);
  }

  std::vector<std::string> AllGather(const std::string& bytes, const std::string& phase) override {
    std::vector<std::string> out;
    Collective(phase, [&] {
      const int w = size();
      std::vector<at::Tensor> in{torch::tensor({static_cast<std::int64_t>(bytes.size())}, torch::kLong)};
      std::vector<std::vector<at::Tensor>> sizes(1);
      for (int r = 0; r < w; ++r) sizes[0].push_back(torch::empty({1}, torch::kLong));
      pg_->allgather(sizes, in)->wait();
      std::int64_t max = 1;
      for (const auto& t : sizes[0]) max = std::max(max, t.item<std::int64_t>());
      at::Tensor mine = torch::zeros({max}, torch::kUInt8);
      if (!bytes.empty()) std::memcpy(mine.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
      std::vector<at::Tensor> in2{mine};
      std::vector<std::vector<at::Tensor>> all(1);
      for (int r = 0; r < w; ++r) all[0].push_back(torch::empty({max}, torch::kUInt8));
      pg_->allgather(all, in2)->wait();
      for (int r = 0; r < w; ++r)
        out.emplace_back(reinterpret_cast<const char*>(all[0][r].data_ptr<std::uint8_t>()),
                         static_cast<std::size_t>(sizes[0][r].item<std::int64_t>()));
    });
    return out;
  }

  void Barrier(const std::string& phase) override {
    Collective(phase, [&] { pg_->barrier()->wait(); });
  }

  void Abort(const std::string& message) noexcept override {
    try {
      store_->set("failed/" + std::to_string(rank()), Bytes(message));
      pg_.reset();  // closes the connections: peers blocked in a collective fail now
      if (serves_store_) {
        // The others read this message through the store that this process serves: wait (a few
        // seconds at most) until each has acknowledged it.
        const auto deadline = Clock::now() + std::min<Clock::duration>(launch_.timeout, std::chrono::seconds(10));
        for (int r = 0; r < size(); ++r) {
          if (r == rank() || silent_.count(r)) continue;  // dead or hung: will not read it
          const std::string key = "ack/" + std::to_string(rank()) + "/" + std::to_string(r);
          const std::string theirs = "failed/" + std::to_string(r);  // failing too: will not read it
          while (Clock::now() < deadline && !store_->check({key}) && !store_->check({theirs}))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    } catch (...) {
    }
  }

 private:
  void Reduce(at::Tensor t, const std::string& phase) {
    Collective(phase, [&] {
      std::vector<at::Tensor> v{t};
      pg_->allreduce(v)->wait();
    });
    bytes_reduced_ += static_cast<std::uint64_t>(t.numel() * t.element_size());
  }

  template <class F>
  void Collective(const std::string& phase, F&& f) {
    const std::uint64_t seq = ++seq_;
    if (!pg_) throw Failure("distributed: rank " + std::to_string(rank()) + ": the process group was shut down");
    try {
      f();
    } catch (const Failure&) {
      throw;
    } catch (const std::exception& e) {
      throw Failure(Diagnose(seq, phase, FirstLine(e.what())));
    }
  }

  // Who is to blame for the failure of collective `seq`: ranks that reported an error (their
  // message), ranks that do not answer within a few seconds (dead or hung).
  std::string Diagnose(std::uint64_t seq, const std::string& phase, const std::string& detail) {
    std::string msg = "distributed: '" + phase + "' failed: ";
    std::map<int, std::string> failed;
    std::vector<int> silent;
    try {
      const std::string s = std::to_string(seq);
      store_->set("alive/" + s + "/" + std::to_string(rank()), Bytes("1"));
      const auto deadline = Clock::now() + std::min<Clock::duration>(launch_.timeout, kAnswerWindow);
      for (;;) {
        silent.clear();
        for (int r = 0; r < size(); ++r) {
          if (r == rank() || failed.count(r)) continue;
          if (store_->check({"failed/" + std::to_string(r)})) {
            const auto v = store_->get("failed/" + std::to_string(r));
            failed[r] = std::string(v.begin(), v.end());
            store_->set("ack/" + std::to_string(r) + "/" + std::to_string(rank()), Bytes("1"));
          } else if (!store_->check({"alive/" + s + "/" + std::to_string(r)})) {
            silent.push_back(r);
          }
        }
        if ((silent.empty() && failed.empty()) || !failed.empty() || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } catch (const std::exception&) {
      if (!serves_store_)
        return msg + "the store at " + where_ + " is unreachable" +
               (launch_.agent_store ? " (torchrun's agent is gone)" : " (rank 0 serves it: rank 0 died or failed)") +
               " [" + detail + "]";
    }
    if (!failed.empty()) {
      for (const auto& [r, m] : failed) msg += "rank " + std::to_string(r) + " failed: " + m + "; ";
      return msg.substr(0, msg.size() - 2);
    }
    if (!silent.empty()) {
      silent_.insert(silent.begin(), silent.end());
      std::string ranks;
      for (auto r : silent) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
      return msg + "rank" + (silent.size() > 1 ? "s " : " ") + ranks +
             " did not respond (died or hung; the collective's timeout is " + Seconds(launch_.timeout) +
             ", AMRS_DIST_TIMEOUT) [" + detail + "]";
    }
    return msg + detail;
  }

  Launch launch_;
  std::string where_;
  bool serves_store_ = false;
  c10::intrusive_ptr<c10d::TCPStore> tcp_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  std::uint64_t seq_ = 0;
  std::set<int> silent_;  // ranks that did not answer a diagnosis
};

}  // namespace

std::shared_ptr<Communicator> Connect(const Launch& launch) {
  if (launch.world_size < 2) return Single();
  return std::make_shared<GlooCommunicator>(launch);
}

}  // namespace amrs::distributed

#include "amrs/distributed/gradients.h"

namespace amrs::distributed {

std::vector<float> AllReduceGradients(const std::vector<torch::Tensor>& params, std::vector<float> extra,
                                      Communicator& comm, const std::string& phase) {
  if (comm.size() == 1) return extra;
  torch::NoGradGuard g;
  std::int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  at::Tensor flat = torch::empty({n + static_cast<std::int64_t>(extra.size())}, torch::kFloat);
  std::int64_t at = 0;
  for (const auto& p : params) {
    auto dst = flat.narrow(0, at, p.numel());
    if (p.grad().defined()) dst.copy_(p.grad().reshape({-1}));
    else dst.zero_();
    at += p.numel();
  }
  float* data = flat.data_ptr<float>();
  std::copy(extra.begin(), extra.end(), data + n);
  comm.AllReduceSum(data, static_cast<std::size_t>(flat.numel()), phase);
  at = 0;
  for (auto p : params) {
    const auto src = flat.narrow(0, at, p.numel()).view(p.sizes());
    if (p.grad().defined()) p.mutable_grad().copy_(src);
    else p.mutable_grad() = src.clone();
    at += p.numel();
  }
  std::copy(data + n, data + n + static_cast<std::int64_t>(extra.size()), extra.begin());
  return extra;
}

std::string ParameterDigest(const std::vector<torch::Tensor>& params) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the raw bytes
  for (const auto& p : params) {
    const at::Tensor c = p.detach().contiguous();
    const auto* b = static_cast<const unsigned char*>(c.data_ptr());
    for (std::int64_t i = 0; i < c.numel() * static_cast<std::int64_t>(c.element_size()); ++i)
      h = (h ^ b[i]) * 1099511628211ULL;
  }
  return std::to_string(h);
}

}  // namespace amrs::distributed
