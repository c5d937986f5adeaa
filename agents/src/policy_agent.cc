// Copycat and DPO agents: a trained policy network recommends the catalogue songs of highest
// cosine similarity to its predicted next-song embedding (docs/policies.md). Both read their
// checkpoint from the agent parameter of their own name, where "{seed}" becomes the seed:
//   amrs rollout ... --agents copycat,dpo --param copycat=out/policy/copycat-seed-{seed}.pt,dpo=...
#include <algorithm>
#include <limits>
#include <numeric>

#include "amrs/agents/agent.h"
#include "amrs/agents/policy.h"
#include "amrs/core/error.h"
#include "policy_net.h"

namespace amrs::agents {
namespace {

// The policy's logits (cos / tau) for every song, per history row-major.
std::vector<float> Logits(const LoadedPolicy& p, const std::vector<const History*>& histories) {
  static const Token kEmpty = [] {
    Token t;
    t.kind = Token::Kind::kBoundary;
    return t;
  }();
  std::vector<std::pair<const Token*, std::int64_t>> spans;
  for (const History* h : histories) {
    if (!h || h->empty()) spans.emplace_back(&kEmpty, 1);  // no history: a bare session start
    else spans.emplace_back(h->data(), static_cast<std::int64_t>(h->size()));
  }
  torch::InferenceMode guard;
  const auto num_songs = static_cast<std::int32_t>(p.songs.size(0) - 1);
  const PolicyInputs in = MakePolicyInputs(spans, num_songs, p.info.config.max_context);
  PolicyNet net = p.net;  // shared, read-only: inference does not change the module
  const auto logits = CatalogueLogits(net->LastOnly(in, p.songs), p.songs, p.info.config.tau).contiguous();
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

class PolicyAgent : public Agent {
 public:
  PolicyAgent(const AgentContext& ctx, std::string kind) : kind_(std::move(kind)) {
    if (!ctx.env) throw ArgumentError(kind_ + ": the agent needs an env context");
    const std::string pattern = ctx.Param(kind_);
    if (pattern.empty())
      throw ArgumentError(kind_ + ": no checkpoint given; pass --param " + kind_ + "=PATH (PATH may contain {seed})");
    policy_ = LoadPolicyFor(ExpandSeed(pattern, ctx.seed), kind_, ctx.env->dataset(), ctx.env->dataset_fingerprint());
    num_songs_ = ctx.env->world().num_songs();
    if (ctx.params.count(kind_ + ".repeats"))
      throw ArgumentError(kind_ + ": parameter '" + kind_ +
                          ".repeats' was removed: the no-replay rule is now the run's, the same for every agent; "
                          "use --no-replay session|episode|off (RunSpec::no_replay)");
    if (policy_->info.num_songs != num_songs_)
      throw InputError(ExpandSeed(pattern, ctx.seed) + ": the policy knows " + std::to_string(policy_->info.num_songs) +
                       " songs, the world " + std::to_string(num_songs_));
  }
  std::string Name() const override { return kind_; }
  void Reset(std::uint64_t) override {}  // deterministic: no randomness of its own

  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    const auto scores = Scores(batch);
    env::Decision d;
    d.actions = BestPerRow(scores, batch.size(), num_songs_);
    if (k > 0) d.ranked = TopKPerRow(scores, batch.size(), num_songs_, k);
    return d;
  }

 private:
  // Scores of the batch's current histories, row-major rows x songs.
  std::vector<float> Scores(const env::ObservationBatch& batch) const {
    std::vector<const History*> h;
    for (const auto& o : batch.obs) h.push_back(o.history);
    auto scores = Logits(*policy_, h);
    MaskBanned(scores, batch, num_songs_);  // the run's no-replay rule (the same for every agent)
    return scores;
  }
  std::string kind_;
  std::shared_ptr<const LoadedPolicy> policy_;
  std::int32_t num_songs_ = 0;
};

}  // namespace

std::vector<float> PolicyLogits(const std::string& checkpoint, const data::Dataset& dataset,
                                const std::vector<History>& histories) {
  const auto info = ReadPolicyInfo(checkpoint);
  const auto p = LoadPolicyFor(checkpoint, info.kind, dataset, data::Fingerprint(dataset));
  std::vector<const History*> h;
  for (const auto& x : histories) h.push_back(&x);
  return Logits(*p, h);
}

namespace {
// The parameters both policy agents read, under their own name.
std::vector<ParamSpec> PolicyParams(const std::string& kind) {
  // "<kind>.repeats" is declared only to be rejected with a pointer to the run's --no-replay.
  return {{kind, ParamType::kString, "", "checkpoint path (required); {seed} becomes the seed"},
          {kind + ".repeats", ParamType::kYesNo, "", "removed: use the run option --no-replay session|episode|off"}};
}
}  // namespace

AMRS_REGISTER_AGENT("copycat", "behaviour clone of the logged policy (InfoNCE); --param copycat=CKPT",
                    [](const AgentContext& ctx) { return std::make_unique<PolicyAgent>(ctx, "copycat"); },
                    PolicyParams("copycat"));
AMRS_REGISTER_AGENT("dpo", "Copycat fine-tuned with DPO on world-scored pairs; --param dpo=CKPT",
                    [](const AgentContext& ctx) { return std::make_unique<PolicyAgent>(ctx, "dpo"); },
                    PolicyParams("dpo"));

}  // namespace amrs::agents
