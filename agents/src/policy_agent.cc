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
  const auto logits = CatalogueLogits(net->Last(in, p.songs), p.songs, p.info.config.tau).contiguous();
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
    const std::string repeats = ctx.Param(kind_ + ".repeats", "no");
    if (repeats != "no" && repeats != "yes")
      throw ArgumentError(kind_ + ": parameter '" + kind_ + ".repeats' must be yes or no, got '" + repeats + "'");
    allow_repeats_ = repeats == "yes";
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
    if (!allow_repeats_)  // the production policy's playback rule: no replay within a session
      for (std::size_t i = 0; i < h.size(); ++i) {
        if (!h[i]) continue;
        float* row = scores.data() + i * static_cast<std::size_t>(num_songs_);
        for (std::size_t t = h[i]->size(); t-- > 0 && !(*h[i])[t].IsBoundary();)
          row[(*h[i])[t].song] = -std::numeric_limits<float>::infinity();
      }
    return scores;
  }
  // Songs of the current session (since the history's last boundary token) are not recommended
  // again unless <kind>.repeats=yes: the logged production policy never replays a song within a
  // session, and Copycat imitates it.
  std::string kind_;
  bool allow_repeats_ = false;
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
  return {{kind, ParamType::kString, "", "checkpoint path (required); {seed} becomes the seed"},
          {kind + ".repeats", ParamType::kYesNo, "no", "may recommend a song again within its session"}};
}
}  // namespace

AMRS_REGISTER_AGENT("copycat", "behaviour clone of the logged policy (InfoNCE); --param copycat=CKPT",
                    [](const AgentContext& ctx) { return std::make_unique<PolicyAgent>(ctx, "copycat"); },
                    PolicyParams("copycat"));
AMRS_REGISTER_AGENT("dpo", "Copycat fine-tuned with DPO on world-scored pairs; --param dpo=CKPT",
                    [](const AgentContext& ctx) { return std::make_unique<PolicyAgent>(ctx, "dpo"); },
                    PolicyParams("dpo"));

}  // namespace amrs::agents
