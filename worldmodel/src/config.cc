#include "amrs/worldmodel/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "amrs/core/error.h"
#include "amrs/core/memory.h"

namespace amrs::worldmodel {

std::string ArchName(Arch a) { return a == Arch::kFactorized ? "factorized" : "standard"; }

Arch ParseArch(const std::string& s) {
  if (s == "factorized") return Arch::kFactorized;
  if (s == "standard" || s == "transformer") return Arch::kStandard;
  throw ArgumentError("unknown architecture '" + s + "' (known: factorized, standard)");
}

std::string Ablation::Name() const {
  if (!Any()) return "base";
  std::string n;
  if (no_user_history) n += "-user-history";
  if (no_feedback) n += "-feedback";
  if (no_history_songs) n += "-history-songs";
  if (max_lookback > 0) n += "-lookback-" + std::to_string(max_lookback);
  if (no_candidate_song) n += "-candidate-song";
  return n;
}

Ablation Ablation::Parse(const std::string& name) {
  Ablation a;
  if (name == "base" || name.empty()) return a;
  std::string rest = name;
  auto take = [&rest](const std::string& prefix) {
    if (rest.rfind(prefix, 0) == 0) {
      rest = rest.substr(prefix.size());
      return true;
    }
    return false;
  };
  while (!rest.empty()) {
    if (take("-user-history")) a.no_user_history = true;
    else if (take("-feedback")) a.no_feedback = true;
    else if (take("-history-songs")) a.no_history_songs = true;
    else if (take("-candidate-song")) a.no_candidate_song = true;
    else if (take("-lookback-")) {
      std::size_t used = 0;
      int n = 0;
      try {
        n = std::stoi(rest, &used);
      } catch (...) {
        used = 0;
      }
      if (used == 0 || n <= 0) throw ArgumentError("ablation '" + name + "': lookback needs a positive number");
      a.max_lookback = n;
      rest = rest.substr(used);
    } else {
      throw ArgumentError("unknown ablation '" + name +
                          "' (known: base, -user-history, -feedback, -history-songs, -lookback-N, "
                          "-candidate-song)");
    }
  }
  return a;
}

std::string ModelConfig::Name() const {
  std::string n = ArchName(arch) + "-" + family + (rope ? "+pe" : "") + (song_prior ? "+prior" : "") +
                  (prior_offset ? "+offset" : "") + (session_features ? "+session" : "");
  if (ablation.Any()) n += ablation.Name();
  return n;
}

void ModelConfig::Validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ArgumentError("world-model config: " + what);
  };
  need(!family.empty(), "'family' must name an embedding family");
  need(d_model > 0 && heads > 0 && d_model % heads == 0, "'d_model' must be a positive multiple of 'heads'");
  need(!rope || (d_model / heads) % 2 == 0, "rotary encoding needs an even head dimension");
  need(layers >= 1 && layers <= 16, "'layers' must be in [1, 16]");
  need(ff > 0 && head_hidden > 0, "'ff' and 'head_hidden' must be positive");
  need(dropout >= 0.f && dropout < 1.f, "'dropout' must be in [0, 1)");
  need(song_components >= 0, "'song_components' must be >= 0");
  need(std::isfinite(song_prior_k) && song_prior_k >= 0.f, "'song_prior_k' must be a finite number >= 0");
  need(!prior_offset || song_prior, "'prior_offset' needs 'song_prior'");
  need(!session_features || prior_offset, "'session_features' needs 'prior_offset'");
  need(ablation.max_lookback >= 0, "'max_lookback' must be >= 0");
  need(d_model <= kMaxWidth, "'d_model' must be at most " + std::to_string(kMaxWidth));
  need(heads <= kMaxHeads, "'heads' must be at most " + std::to_string(kMaxHeads));
  need(ff <= kMaxFeedForward, "'ff' must be at most " + std::to_string(kMaxFeedForward));
  need(head_hidden <= kMaxWidth, "'head_hidden' must be at most " + std::to_string(kMaxWidth));
  need(song_components <= kMaxWidth, "'song_components' must be at most " + std::to_string(kMaxWidth));
  // Weights, gradients and AdamW's two moments, 4 bytes each.
  CheckMemoryEstimate("a world model with d_model " + std::to_string(d_model) + ", ff " + std::to_string(ff) +
                          " and " + std::to_string(layers) + " layers",
                      16.0 * EstimatedParameters());
  need(arch == Arch::kFactorized || !ablation.Any(), "ablations apply to the factorized architecture only");
}

double ModelConfig::EstimatedParameters() const {
  const double d = d_model, song = song_components > 0 ? song_components : 1024;  // raw: a typical family
  const double block = 4 * d * d + 2 * d * ff + 9 * d + ff;   // attention, feed-forward, norms, biases
  const double heads_mlp = kNumSignals * ((d + song) * head_hidden + 2 * head_hidden + 1);
  return layers * block + 2 * song * d + 16 * d + heads_mlp;  // + song and feedback input projections
}

std::string ModelConfig::ToJson() const {
  nlohmann::json j;
  j["arch"] = ArchName(arch);
  j["family"] = family;
  j["rope"] = rope;
  j["d_model"] = d_model;
  j["heads"] = heads;
  j["layers"] = layers;
  j["ff"] = ff;
  j["head_hidden"] = head_hidden;
  j["dropout"] = dropout;
  j["song_components"] = song_components;
  j["ablation"] = ablation.Name();
  // Written only when on, so that configurations without the prior keep their JSON (and old
  // readers their checkpoints).
  if (song_prior) {
    j["song_prior"] = true;
    j["song_prior_k"] = song_prior_k;
  }
  if (prior_offset) j["prior_offset"] = true;
  if (session_features) j["session_features"] = true;
  return j.dump();
}

ModelConfig ModelConfig::FromJson(const std::string& s) {
  try {
    const auto j = nlohmann::json::parse(s);
    ModelConfig c;
    c.arch = ParseArch(j.at("arch").get<std::string>());
    c.family = j.at("family").get<std::string>();
    c.rope = j.at("rope").get<bool>();
    c.d_model = j.at("d_model").get<std::int32_t>();
    c.heads = j.at("heads").get<std::int32_t>();
    c.layers = j.at("layers").get<std::int32_t>();
    c.ff = j.at("ff").get<std::int32_t>();
    c.head_hidden = j.at("head_hidden").get<std::int32_t>();
    c.dropout = j.at("dropout").get<float>();
    c.song_components = j.at("song_components").get<std::int32_t>();
    c.ablation = Ablation::Parse(j.at("ablation").get<std::string>());
    c.song_prior = j.value("song_prior", false);  // absent: written before the prior existed, or off
    if (c.song_prior) c.song_prior_k = j.at("song_prior_k").get<float>();
    c.prior_offset = j.value("prior_offset", false);
    c.session_features = j.value("session_features", false);
    c.Validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("world-model config: ") + e.what());
  } catch (const ArgumentError& e) {
    throw InputError(e.what());
  }
}

}  // namespace amrs::worldmodel
