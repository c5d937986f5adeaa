// An ensemble of worlds (docs/ensembles.md): the members' mean and per-signal standard deviation.
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "amrs/core/error.h"
#include "amrs/env/world.h"
#include "amrs/worldmodel/ensemble_manifest.h"

namespace amrs::env {
namespace {

class EnsembleState : public WorldState {
 public:
  std::int32_t size() const override { return members.empty() ? 0 : members.front()->size(); }
  std::vector<std::unique_ptr<WorldState>> members;
};


// Mean and population SD over the members' predictions, field by field, in double: for each
// field the members are summed in member order, then the squared deviations likewise. Blocks of
// fields run on the TBB workers; member-outer loops over contiguous floats inside a block.
std::vector<Feedback> Combine(const std::vector<std::vector<Feedback>>& per_member, std::vector<Feedback>* sd) {
  static_assert(sizeof(Feedback) == 4 * sizeof(float), "Feedback is four floats");
  const std::size_t n = per_member.front().size(), k = per_member.size();
  std::vector<Feedback> mean(n);
  if (sd) sd->assign(n, Feedback{});
  const std::size_t fields = 4 * n;
  constexpr std::size_t kBlock = 4096;
  tbb::parallel_for(std::size_t{0}, (fields + kBlock - 1) / kBlock, std::size_t{1}, [&](std::size_t bi) {
    const std::size_t f0 = bi * kBlock, m = std::min(kBlock, fields - f0);
    double sum[kBlock], ss[kBlock];
    std::fill(sum, sum + m, 0.0);
    for (const auto& pm : per_member) {
      const float* x = reinterpret_cast<const float*>(pm.data()) + f0;
      for (std::size_t i = 0; i < m; ++i) sum[i] += x[i];
    }
    float* mu_out = reinterpret_cast<float*>(mean.data()) + f0;
    for (std::size_t i = 0; i < m; ++i) {
      sum[i] /= static_cast<double>(k);
      mu_out[i] = static_cast<float>(sum[i]);
    }
    if (!sd) return;
    std::fill(ss, ss + m, 0.0);
    for (const auto& pm : per_member) {
      const float* x = reinterpret_cast<const float*>(pm.data()) + f0;
      for (std::size_t i = 0; i < m; ++i) ss[i] += (x[i] - sum[i]) * (x[i] - sum[i]);
    }
    float* sd_out = reinterpret_cast<float*>(sd->data()) + f0;
    for (std::size_t i = 0; i < m; ++i) sd_out[i] = static_cast<float>(std::sqrt(ss[i] / static_cast<double>(k)));
  });
  return mean;
}

class EnsembleWorld : public World {
 public:
  explicit EnsembleWorld(std::vector<std::shared_ptr<const World>> members) : m_(std::move(members)) {
    if (m_.size() < 2) throw ArgumentError("ensemble: needs at least 2 members, got " + std::to_string(m_.size()));
    for (std::size_t i = 0; i < m_.size(); ++i) {
      if (!m_[i]) throw ArgumentError("ensemble: member " + std::to_string(i) + " is empty");
      const auto& c = m_[i]->catalogue();
      const auto& c0 = m_[0]->catalogue();
      if (c.size() != c0.size() || c.family != c0.family || c.dim != c0.dim)
        throw ArgumentError("ensemble: member " + std::to_string(i) + " has another catalogue (" +
                            std::to_string(c.size()) + " songs, family " + c.family + ") than member 0 (" +
                            std::to_string(c0.size()) + " songs, family " + c0.family + ")");
    }
  }
  std::string Name() const override { return "ensemble:" + std::to_string(m_.size()) + "x" + m_[0]->Name(); }
  std::string Id() const override {
    std::string id = "ensemble[";
    for (std::size_t i = 0; i < m_.size(); ++i) id += (i ? "," : "") + m_[i]->Id();
    return id + "]";
  }
  const Catalogue& catalogue() const override { return m_[0]->catalogue(); }
  std::int32_t members() const override { return static_cast<std::int32_t>(m_.size()); }

  std::unique_ptr<WorldState> Encode(const std::vector<std::int32_t>& users,
                                     const std::vector<History>& hs) const override {
    auto s = std::make_unique<EnsembleState>();
    for (const auto& m : m_) s->members.push_back(m->Encode(users, hs));
    return s;
  }
  void Append(WorldState& s, const std::vector<Token>& tokens) const override {
    auto& st = As(s);
    for (std::size_t i = 0; i < m_.size(); ++i) m_[i]->Append(*st.members[i], tokens);
  }
  std::vector<Feedback> Predict(const WorldState& s, const std::vector<std::int32_t>& songs) const override {
    return Combine(PerMember(s, [&](const World& w, const WorldState& ms) { return w.Predict(ms, songs); }), nullptr);
  }
  std::vector<Feedback> ScoreCatalogue(const WorldState& s) const override {
    return Combine(PerMember(s, [&](const World& w, const WorldState& ms) { return w.ScoreCatalogue(ms); }), nullptr);
  }
  std::vector<Feedback> PredictSpread(const WorldState& s, const std::vector<std::int32_t>& songs,
                                      std::vector<Feedback>& sd) const override {
    return Combine(PerMember(s, [&](const World& w, const WorldState& ms) { return w.Predict(ms, songs); }), &sd);
  }
  std::vector<Feedback> ScoreCatalogueSpread(const WorldState& s, std::vector<Feedback>& sd) const override {
    return Combine(PerMember(s, [&](const World& w, const WorldState& ms) { return w.ScoreCatalogue(ms); }), &sd);
  }
  double FlopsPerStep(std::int32_t len) const override {
    double f = 0;
    for (const auto& m : m_) f += m->FlopsPerStep(len);
    return f;
  }

 private:
  EnsembleState& As(WorldState& s) const {
    auto* p = dynamic_cast<EnsembleState*>(&s);
    if (!p || p->members.size() != m_.size()) throw ArgumentError("world: state was not made by this (ensemble) world");
    return *p;
  }
  const EnsembleState& As(const WorldState& s) const { return As(const_cast<WorldState&>(s)); }
  template <class F>
  std::vector<std::vector<Feedback>> PerMember(const WorldState& s, F&& f) const {
    const auto& st = As(s);
    std::vector<std::vector<Feedback>> out;
    for (std::size_t i = 0; i < m_.size(); ++i) out.push_back(f(*m_[i], *st.members[i]));
    return out;
  }
  std::vector<std::shared_ptr<const World>> m_;
};

}  // namespace

std::vector<Feedback> World::PredictSpread(const WorldState& state, const std::vector<std::int32_t>& songs,
                                           std::vector<Feedback>& sd) const {
  auto out = Predict(state, songs);
  sd.assign(out.size(), Feedback{});
  return out;
}

std::vector<Feedback> World::ScoreCatalogueSpread(const WorldState& state, std::vector<Feedback>& sd) const {
  auto out = ScoreCatalogue(state);
  sd.assign(out.size(), Feedback{});
  return out;
}

std::shared_ptr<const World> MakeEnsembleWorld(std::vector<std::shared_ptr<const World>> members) {
  return std::make_shared<EnsembleWorld>(std::move(members));
}

std::shared_ptr<const World> LoadEnsembleWorld(const std::string& manifest, std::shared_ptr<const data::Dataset> d) {
  const auto paths = worldmodel::ReadEnsembleManifest(manifest);
  std::vector<std::shared_ptr<const World>> members;
  std::string name0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    std::shared_ptr<const World> w;
    try {
      w = LoadWorld(path, d);
    } catch (const Error& err) {
      throw InputError(manifest + ": members[" + std::to_string(i) + "] (" + path + "): " + err.what());
    }
    if (w->members() != 1)
      throw InputError(manifest + ": members[" + std::to_string(i) + "] (" + path + ") is itself an ensemble");
    // Same configuration, dataset and split: the Ids differ only by the seed.
    const std::string id = w->Id(), base = id.substr(0, id.rfind("/seed-"));
    if (i == 0) name0 = base;
    else if (base != name0)
      throw InputError(manifest + ": members[" + std::to_string(i) + "] (" + path +
                       ") has another configuration, dataset or split than members[0] ('" + base + "' vs '" + name0 + "')");
    members.push_back(std::move(w));
  }
  return MakeEnsembleWorld(std::move(members));
}

}  // namespace amrs::env
