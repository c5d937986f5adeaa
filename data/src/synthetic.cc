#include "amrs/data/synthetic.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <ostream>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/core/memory.h"
#include "amrs/core/rng.h"
#include "amrs/data/splits.h"

namespace amrs::data {
namespace {

void Normalize(float* v, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += double(v[i]) * v[i];
  const float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.f;
  for (std::size_t i = 0; i < n; ++i) v[i] *= inv;
}

float Clip01(float x) { return std::clamp(x, 0.f, 1.f); }

// Distributes `extra` units over weighted bins (one categorical draw per unit).
std::vector<std::int32_t> Allocate(std::int64_t extra, const std::vector<double>& weights, Rng& rng) {
  std::vector<double> cum(weights.size());
  std::partial_sum(weights.begin(), weights.end(), cum.begin());
  std::vector<std::int32_t> out(weights.size(), 0);
  for (std::int64_t i = 0; i < extra; ++i) {
    const double x = rng.Uniform() * cum.back();
    const auto k = std::upper_bound(cum.begin(), cum.end(), x) - cum.begin();
    ++out[std::min<std::size_t>(static_cast<std::size_t>(k), out.size() - 1)];
  }
  return out;
}

// The production policy's knobs (docs/synthetic.md). It scores each song in isolation from
// preference-based retrieval (genre like-rate and similarity to liked songs), global affect tags
// matched to the session's mode, popularity, skip management and a repeat guard.
struct ProductionPolicy {
  float w_genre = 1.0f;     // log odds of the genre's like rate in the user's history
  float w_similar = 1.2f;   // cosine of the song's style to the user's liked-song profile
  float w_tag = 2.5f;       // negative distance of the song's affect tag to the mode target
  float w_popular = 0.35f;  // global popularity
  float explore = 0.6f;     // Gumbel noise scale
  float w_skip = 0.8f;      // penalty per skip of the genre earlier in this session
  float w_recent = 1.5f;    // penalty for songs heard in the last sessions
  std::array<float, 2> default_target{0.6f, 0.5f};  // sessions without a mode
};

}  // namespace

void GeneratorConfig::Validate() const {
  auto need = [](bool ok, const char* field, const std::string& what) {
    if (!ok) throw ArgumentError(std::string("generator option '") + field + "' " + what);
  };
  // Memory first, so that a huge size says how much it would need (docs/synthetic.md).
  CheckMemoryEstimate("generating " + std::to_string(num_users) + " users, " + std::to_string(num_sessions) +
                          " sessions, " + std::to_string(num_interactions) + " interactions and " +
                          std::to_string(num_songs) + " songs x " + std::to_string(embedding_dim) + " dims",
                      EstimatedBytes());
  need(num_users >= 3 && num_users <= kMaxUsers, "users", "must be in [3, " + std::to_string(kMaxUsers) + "]");
  need(num_sessions <= kMaxSessions, "sessions", "must be at most " + std::to_string(kMaxSessions));
  need(num_interactions <= kMaxInteractions, "interactions", "must be at most " + std::to_string(kMaxInteractions));
  need(num_songs <= kMaxSongs, "songs", "must be at most " + std::to_string(kMaxSongs));
  need(num_splits <= kMaxSplits, "splits", "must be at most " + std::to_string(kMaxSplits));
  need(num_sessions >= num_users, "sessions", "must be at least the number of users");
  need(num_interactions >= num_sessions, "interactions", "must be at least the number of sessions");
  need(num_songs >= 10, "songs", "must be at least 10");
  need(embedding_dim >= 4 && embedding_dim <= 4096, "embedding-dim", "must be in [4, 4096]");
  need(tagged_fraction > 0.f && tagged_fraction <= 1.f, "tagged-fraction", "must be in (0, 1]");
  need(mode_fraction >= 0.f && mode_fraction <= 1.f, "mode-fraction", "must be in [0, 1]");
  need(mert_noise >= 0.f && clamp3_noise >= 0.f, "noise", "must be non-negative");
  need(num_splits >= 1, "splits", "must be at least 1");
  need(model.num_genres >= 2 && model.style_dim >= 2, "model", "needs >= 2 genres and style dims");
  {
    OracleParams constants = model;  // the per-entity parts are ignored here
    for (auto* v : {&constants.song_style, &constants.song_valence, &constants.song_arousal, &constants.song_quality,
                    &constants.tag_valence, &constants.tag_arousal, &constants.user_taste, &constants.user_bias,
                    &constants.user_mood_valence, &constants.user_mood_arousal, &constants.user_responsiveness})
      v->clear();
    constants.song_genre.clear(), constants.song_tagged.clear();
    try {
      ValidateOracleParams(constants, "generator option 'model'");
    } catch (const InputError& e) {
      throw ArgumentError(e.what());
    }
  }
  need(model.rate_prob >= 0.f && model.rate_prob <= 1.f, "rate-prob", "must be in [0, 1]");
  need(model.post_report_prob >= 0.f && model.post_report_prob <= 1.f, "post-prob", "must be in [0, 1]");
  need(static_cast<std::int64_t>(num_songs * tagged_fraction) >= 30, "tagged-fraction",
       "leaves fewer than 30 songs for the production policy");
}

double GeneratorConfig::EstimatedBytes() const {
  const double sd = std::max(0, model.style_dim);
  const double per_song = 8 + 2.0 * 4 * std::max(0, embedding_dim) + 4 * sd + 4 * 6 + 2;
  const double per_user = 8 + 4 * sd + 4 * 5 + 4.0 * std::max(0, num_splits);
  const double per_session = 8 + 4 * 2 + 4 * 4 + 2 + 8;  // columns and the written user ids
  const double per_interaction = 4 * 4 + 4 + 2 + 3 * 8 + (affect_per_song ? 9 : 0);  // columns, written ids
  // The dataset in memory plus the generator's working copies and the writer's id columns.
  return 2.0 * (per_song * std::max(0, num_songs) + per_user * std::max(0, num_users) +
                per_session * std::max(0, num_sessions) + per_interaction * std::max(0, num_interactions));
}

Dataset Generate(const GeneratorConfig& cfg, std::ostream* log) {
  cfg.Validate();
  const std::uint64_t seed = cfg.seed;
  auto P = std::make_shared<OracleParams>(cfg.model);
  OracleParams& p = *P;
  const std::size_t G = static_cast<std::size_t>(p.num_genres);
  const std::size_t SD = static_cast<std::size_t>(p.style_dim);
  const std::size_t NS = static_cast<std::size_t>(cfg.num_songs);
  const std::size_t NU = static_cast<std::size_t>(cfg.num_users);

  // ---- genres and songs ----
  Rng grng(seed, "genres");
  std::vector<float> centroid(G * SD), genre_v(G), genre_a(G), genre_weight(G);
  for (std::size_t g = 0; g < G; ++g) {
    for (std::size_t k = 0; k < SD; ++k) centroid[g * SD + k] = static_cast<float>(grng.Normal());
    Normalize(&centroid[g * SD], SD);
    genre_v[g] = static_cast<float>(grng.Uniform(0.2, 0.8));
    genre_a[g] = static_cast<float>(grng.Uniform(0.15, 0.85));
    genre_weight[g] = static_cast<float>(1.0 / std::pow(double(g) + 1.0, 0.6));  // uneven sizes
  }
  std::vector<double> gw(genre_weight.begin(), genre_weight.end());
  std::vector<double> gcum(G);
  std::partial_sum(gw.begin(), gw.end(), gcum.begin());

  p.song_genre.resize(NS);
  p.song_style.resize(NS * SD);
  p.song_valence.resize(NS), p.song_arousal.resize(NS), p.song_quality.resize(NS);
  p.song_tagged.resize(NS), p.tag_valence.resize(NS), p.tag_arousal.resize(NS);
  std::vector<float> popularity(NS);
  {
    Rng rng(seed, "songs");
    for (std::size_t j = 0; j < NS; ++j) {
      const double x = rng.Uniform() * gcum.back();
      const auto g = std::min<std::size_t>(
          static_cast<std::size_t>(std::upper_bound(gcum.begin(), gcum.end(), x) - gcum.begin()), G - 1);
      p.song_genre[j] = static_cast<std::int32_t>(g);
      for (std::size_t k = 0; k < SD; ++k)
        p.song_style[j * SD + k] = centroid[g * SD + k] + static_cast<float>(rng.Normal(0, 0.22));
      Normalize(&p.song_style[j * SD], SD);
      p.song_valence[j] = std::clamp(genre_v[g] + static_cast<float>(rng.Normal(0, 0.15)), 0.02f, 0.98f);
      p.song_arousal[j] = std::clamp(genre_a[g] + static_cast<float>(rng.Normal(0, 0.15)), 0.02f, 0.98f);
      p.song_quality[j] = static_cast<float>(rng.Normal());
      p.song_tagged[j] = rng.Bernoulli(cfg.tagged_fraction) ? 1 : 0;
      // Global, population-level affect tags: noisy views of the song's intrinsic affect.
      p.tag_valence[j] = Clip01(p.song_valence[j] + static_cast<float>(rng.Normal(0, 0.08)));
      p.tag_arousal[j] = Clip01(p.song_arousal[j] + static_cast<float>(rng.Normal(0, 0.08)));
      popularity[j] = 0.6f * p.song_quality[j] + static_cast<float>(rng.Normal(0, 0.8));
    }
  }

  // ---- users ----
  p.user_taste.resize(NU * SD);
  p.user_bias.resize(NU), p.user_mood_valence.resize(NU), p.user_mood_arousal.resize(NU);
  p.user_responsiveness.resize(NU);
  std::vector<std::array<float, kNumModes>> mode_pref(NU);
  {
    Rng rng(seed, "users");
    for (std::size_t u = 0; u < NU; ++u) {
      const auto g1 = rng.UniformInt(G), g2 = rng.UniformInt(G);
      const float w2 = static_cast<float>(rng.Uniform(0.0, 0.7));
      for (std::size_t k = 0; k < SD; ++k)
        p.user_taste[u * SD + k] = centroid[g1 * SD + k] + w2 * centroid[g2 * SD + k] +
                                   static_cast<float>(rng.Normal(0, 0.2));
      Normalize(&p.user_taste[u * SD], SD);
      p.user_bias[u] = static_cast<float>(rng.Normal(0, 0.5));
      p.user_mood_valence[u] = std::clamp(static_cast<float>(rng.Normal(0.5, 0.13)), 0.05f, 0.95f);
      p.user_mood_arousal[u] = std::clamp(static_cast<float>(rng.Normal(0.45, 0.13)), 0.05f, 0.95f);
      p.user_responsiveness[u] = static_cast<float>(rng.Uniform(0.2, 1.0));
      const auto fav = rng.UniformInt(kNumModes);
      for (int m = 0; m < kNumModes; ++m) mode_pref[u][m] = (m == int(fav) ? 0.55f : 0.15f);
    }
  }

  // ---- sizes: sessions per user and songs per session, exact totals ----
  std::vector<std::int32_t> sessions_of(NU), length_of(static_cast<std::size_t>(cfg.num_sessions));
  {
    Rng rng(seed, "allocation");
    std::vector<double> w(NU);
    for (auto& x : w) x = std::exp(rng.Normal(0, 0.9));
    sessions_of = Allocate(cfg.num_sessions - cfg.num_users, w, rng);
    for (auto& n : sessions_of) n += 1;
    std::vector<double> ws(static_cast<std::size_t>(cfg.num_sessions));
    for (auto& x : ws) x = rng.Gamma(2.0);
    length_of = Allocate(cfg.num_interactions - cfg.num_sessions, ws, rng);
    for (auto& n : length_of) n += 1;
  }
  std::vector<std::int32_t> session_offset(NU + 1, 0);
  for (std::size_t u = 0; u < NU; ++u) session_offset[u + 1] = session_offset[u] + sessions_of[u];
  std::vector<std::int64_t> inter_offset(static_cast<std::size_t>(cfg.num_sessions) + 1, 0);
  for (std::size_t s = 0; s < length_of.size(); ++s) inter_offset[s + 1] = inter_offset[s] + length_of[s];

  Dataset d;
  d.song_ids.resize(NS);
  for (std::size_t j = 0; j < NS; ++j) d.song_ids[j] = static_cast<std::int64_t>(j) + 1;
  d.user_ids.resize(NU);
  for (std::size_t u = 0; u < NU; ++u) d.user_ids[u] = static_cast<std::int64_t>(u) + 1;
  auto& S = d.sessions;
  const std::size_t NSe = static_cast<std::size_t>(cfg.num_sessions);
  S.id.resize(NSe), S.user.resize(NSe), S.order.resize(NSe), S.pre_valence.resize(NSe);
  S.pre_arousal.resize(NSe), S.post_valence.resize(NSe), S.post_arousal.resize(NSe);
  S.has_post.resize(NSe), S.mode.resize(NSe);
  auto& I = d.interactions;
  const std::size_t NI = static_cast<std::size_t>(cfg.num_interactions);
  I.user.resize(NI), I.session.resize(NI), I.position.resize(NI), I.song.resize(NI);
  I.engagement.resize(NI), I.rating.resize(NI), I.has_rating.resize(NI);
  if (cfg.affect_per_song) I.valence.resize(NI), I.arousal.resize(NI), I.has_affect.resize(NI);

  std::vector<std::int32_t> pool;  // the production policy's tagged songs
  for (std::size_t j = 0; j < NS; ++j)
    if (p.song_tagged[j]) pool.push_back(static_cast<std::int32_t>(j));

  if (log) *log << "generating " << NU << " users, " << NSe << " sessions, " << NI
                << " interactions over " << NS << " songs\n";
  const Oracle oracle(P);
  const ProductionPolicy policy;

  // ---- sessions, user by user (independent streams, so any thread count gives the same data) ----
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, NU), [&](const tbb::blocked_range<std::size_t>& r) {
    std::vector<float> base(pool.size());
    std::vector<std::int32_t> order(pool.size());
    std::vector<std::uint16_t> recent_count(NS, 0);  // plays in the user's last 3 sessions
    for (std::size_t u = r.begin(); u != r.end(); ++u) {
      Rng rng(seed, "listener", u);
      Rng affect_rng(seed, "listener-affect", u);  // per-song reports only: `rng` stays as without them
      const auto ui = static_cast<std::int32_t>(u);
      std::vector<float> genre_plays(G, 0.f), genre_likes(G, 0.f), profile(SD, 0.f);
      std::fill(recent_count.begin(), recent_count.end(), 0);
      std::vector<std::int32_t> recent_sessions;  // songs of the last 3 sessions
      std::vector<std::size_t> recent_sizes;
      OracleState st = oracle.Start(ui);  // carries recent plays and position
      float mood_v = p.user_mood_valence[u] + static_cast<float>(rng.Normal(0, p.MoodSd()));
      float mood_a = p.user_mood_arousal[u] + static_cast<float>(rng.Normal(0, p.MoodSd()));
      for (std::int32_t k = 0; k < sessions_of[u]; ++k) {
        const std::size_t s = static_cast<std::size_t>(session_offset[u] + k);
        if (k > 0) {  // mood drifts between sessions (AR(1) around the baseline)
          mood_v = p.user_mood_valence[u] + p.mood_phi * (mood_v - p.user_mood_valence[u]) +
                   static_cast<float>(rng.Normal(0, p.mood_drift_sd));
          mood_a = p.user_mood_arousal[u] + p.mood_phi * (mood_a - p.user_mood_arousal[u]) +
                   static_cast<float>(rng.Normal(0, p.mood_drift_sd));
        }
        mood_v = Clip01(mood_v), mood_a = Clip01(mood_a);
        SessionMode mode = SessionMode::kNone;
        if (rng.Bernoulli(cfg.mode_fraction)) {
          double x = rng.Uniform(), c = 0;
          int m = 0;
          for (; m < kNumModes - 1; ++m) {
            c += mode_pref[u][m];
            if (x < c) break;
          }
          mode = static_cast<SessionMode>(m);
        }
        S.id[s] = static_cast<std::int64_t>(s) + 1;
        S.user[s] = ui;
        S.order[s] = k;
        S.mode[s] = static_cast<std::int8_t>(mode);
        const float pre_v = Clip01(mood_v + static_cast<float>(rng.Normal(0, p.pre_report_sd)));
        const float pre_a = Clip01(mood_a + static_cast<float>(rng.Normal(0, p.pre_report_sd)));
        S.pre_valence[s] = pre_v, S.pre_arousal[s] = pre_a;
        oracle.Append(st, Token::Boundary(pre_v, pre_a, mode));
        float true_v = mood_v, true_a = mood_a;  // the listener's real state

        // Production policy: score the pool once per session (songs in isolation).
        const auto target = mode == SessionMode::kNone ? policy.default_target
                                                       : p.mode_target[static_cast<int>(mode)];
        float profile_norm = 0.f;
        for (float x : profile) profile_norm += x * x;
        profile_norm = std::sqrt(profile_norm);
        for (std::size_t c = 0; c < pool.size(); ++c) {
          const auto j = static_cast<std::size_t>(pool[c]);
          const auto g = static_cast<std::size_t>(p.song_genre[j]);
          float sim = 0.f;
          if (profile_norm > 0)
            for (std::size_t q = 0; q < SD; ++q) sim += profile[q] * p.song_style[j * SD + q];
          if (profile_norm > 0) sim /= profile_norm;
          const float like_rate = (genre_likes[g] + 1.f) / (genre_plays[g] + 2.f);
          const float dv = p.tag_valence[j] - target[0], da = p.tag_arousal[j] - target[1];
          const double gumbel = -std::log(-std::log(std::max(1e-12, rng.Uniform())));
          base[c] = policy.w_genre * std::log(like_rate / (1.f - like_rate)) + policy.w_similar * sim -
                    policy.w_tag * std::sqrt(dv * dv + da * da) + policy.w_popular * popularity[j] +
                    policy.explore * static_cast<float>(gumbel);
          if (recent_count[j]) base[c] -= policy.w_recent;
        }
        const std::size_t top = std::min<std::size_t>(pool.size(), 64 + 4 * length_of[s]);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + top, order.end(),
                          [&](std::int32_t a, std::int32_t b) { return base[a] > base[b]; });
        std::vector<float> genre_skips(G, 0.f);
        std::vector<std::uint8_t> used(top, 0);
        const bool has_post = rng.Bernoulli(p.post_report_prob);
        const std::int64_t i0 = inter_offset[s];
        std::vector<std::int32_t> this_session;
        float session_post_v = 0.f, session_post_a = 0.f;
        for (std::int32_t pos = 0; pos < length_of[s]; ++pos) {
          std::size_t best = top;
          float best_score = -1e30f;
          for (std::size_t c = 0; c < top; ++c) {
            if (used[c]) continue;
            const auto j = pool[order[c]];
            const float sc = base[order[c]] - policy.w_skip * genre_skips[p.song_genre[j]];
            if (sc > best_score) best_score = sc, best = c;
          }
          if (best == top) {  // exhausted the shortlist: fall back to any unused pool song
            best = 0;
            std::fill(used.begin(), used.end(), 0);
          }
          used[best] = 1;
          const std::int32_t j = pool[order[best]];
          const float mu = oracle.Liking(st, j);
          const float y = mu + static_cast<float>(rng.Normal());
          float e;
          if (y < 0.f) e = static_cast<float>(rng.Beta(p.skip_a, p.skip_b));
          else if (rng.Bernoulli(p.full_play)) e = 1.f;
          else e = static_cast<float>(rng.Beta(p.partial_a, p.partial_b));
          const bool rated = rng.Bernoulli(p.rate_prob);
          const bool like = y + static_cast<float>(rng.Normal(0, p.like_noise_sd)) > p.like_threshold;
          // The listener's affect moves with the song and how much of it they took in.
          OracleState truth = st;
          truth.valence = true_v, truth.arousal = true_a;
          auto [nv, na] = oracle.StepAffect(truth, j, e);
          true_v = Clip01(nv + static_cast<float>(rng.Normal(0, p.process_sd)));
          true_a = Clip01(na + static_cast<float>(rng.Normal(0, p.process_sd)));

          const std::size_t i = static_cast<std::size_t>(i0 + pos);
          I.user[i] = ui;
          I.session[i] = static_cast<std::int32_t>(s);
          I.position[i] = pos;
          I.song[i] = j;
          I.engagement[i] = e;
          I.has_rating[i] = rated ? 1 : 0;
          I.rating[i] = rated && like ? 1 : 0;
          if (cfg.affect_per_song) {  // the report right after the song, like the post-session one
            I.valence[i] = Clip01(true_v + static_cast<float>(affect_rng.Normal(0, p.post_report_sd)));
            I.arousal[i] = Clip01(true_a + static_cast<float>(affect_rng.Normal(0, p.post_report_sd)));
            I.has_affect[i] = 1;
          }
          const bool last = pos + 1 == length_of[s];
          float post_v = 0.f, post_a = 0.f;
          if (last && has_post) {
            post_v = Clip01(true_v + static_cast<float>(rng.Normal(0, p.post_report_sd)));
            post_a = Clip01(true_a + static_cast<float>(rng.Normal(0, p.post_report_sd)));
            session_post_v = post_v, session_post_a = post_a;
          }
          oracle.Append(st, Token::Song(j, {e, I.rating[i] * 1.f, post_v, post_a}, rated,
                                        last && has_post, mode));
          // What the production policy learns about the user (it never sees latents).
          const auto g = static_cast<std::size_t>(p.song_genre[j]);
          genre_plays[g] += 1.f;
          if (e < 0.3f) genre_skips[g] += 1.f;
          const bool liked = rated ? like : e > 0.8f;
          if (liked) {
            genre_likes[g] += 1.f;
            for (std::size_t q = 0; q < SD; ++q) profile[q] += p.song_style[static_cast<std::size_t>(j) * SD + q];
          }
          this_session.push_back(j);
        }
        S.has_post[s] = has_post ? 1 : 0;
        S.post_valence[s] = session_post_v;
        S.post_arousal[s] = session_post_a;
        recent_sizes.push_back(this_session.size());
        recent_sessions.insert(recent_sessions.end(), this_session.begin(), this_session.end());
        for (auto j : this_session) ++recent_count[j];
        if (recent_sizes.size() > 3) {
          for (std::size_t q = 0; q < recent_sizes.front(); ++q) --recent_count[recent_sessions[q]];
          recent_sessions.erase(recent_sessions.begin(), recent_sessions.begin() + recent_sizes.front());
          recent_sizes.erase(recent_sizes.begin());
        }
      }
    }
  });

  // ---- embeddings: two families that encode the same latents with different fidelity ----
  // Latent features per song: style, genre one-hot, intrinsic valence/arousal, quality.
  const std::size_t F = SD + G + 3;
  std::vector<float> feat(NS * F, 0.f);
  for (std::size_t j = 0; j < NS; ++j) {
    float* f = &feat[j * F];
    for (std::size_t k = 0; k < SD; ++k) f[k] = p.song_style[j * SD + k];
    f[SD + static_cast<std::size_t>(p.song_genre[j])] = 0.5f;
    f[SD + G] = 4.f * (p.song_valence[j] - 0.5f);
    f[SD + G + 1] = 4.f * (p.song_arousal[j] - 0.5f);
    f[SD + G + 2] = 0.3f * p.song_quality[j];
  }
  struct FamilySpec { const char* name; float noise, affect_scale; };
  for (const FamilySpec fs : {FamilySpec{"mert", cfg.mert_noise, 1.f},
                              FamilySpec{"clamp3", cfg.clamp3_noise, cfg.clamp3_affect_scale}}) {
    const std::size_t D = static_cast<std::size_t>(cfg.embedding_dim);
    Rng prng(seed, std::string("projection/") + fs.name);
    std::vector<float> A(D * F);
    for (auto& x : A) x = static_cast<float>(prng.Normal(0, 1.0 / std::sqrt(double(F))));
    EmbeddingFamily fam{fs.name, static_cast<std::int32_t>(D), std::vector<float>(NS * D)};
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, NS, 256), [&](const tbb::blocked_range<std::size_t>& r) {
      for (std::size_t j = r.begin(); j != r.end(); ++j) {
        Rng nrng(seed, std::string("embedding-noise/") + fs.name, j);
        std::vector<float> f(feat.begin() + j * F, feat.begin() + (j + 1) * F);
        f[SD + G] *= fs.affect_scale;
        f[SD + G + 1] *= fs.affect_scale;
        for (std::size_t o = 0; o < D; ++o) {
          float acc = 0.f;
          for (std::size_t k = 0; k < F; ++k) acc += A[o * F + k] * f[k];
          fam.values[j * D + o] = acc + static_cast<float>(nrng.Normal(0, fs.noise));
        }
      }
    });
    d.families.push_back(std::move(fam));
  }

  d.splits = MakeSplits(cfg.num_users, cfg.num_splits, seed);
  d.split_seed = seed;
  std::ostringstream params;
  params << "seed=" << seed << " users=" << cfg.num_users << " sessions=" << cfg.num_sessions
         << " interactions=" << cfg.num_interactions << " songs=" << cfg.num_songs
         << " embedding_dim=" << cfg.embedding_dim << " tagged_fraction=" << cfg.tagged_fraction
         << " mode_fraction=" << cfg.mode_fraction << " mert_noise=" << cfg.mert_noise
         << " clamp3_noise=" << cfg.clamp3_noise << " clamp3_affect_scale=" << cfg.clamp3_affect_scale;
  if (cfg.affect_per_song) params << " affect_per_song=1";
  d.attributes["source"] = "synthetic";
  d.attributes["generator"] = params.str();
  d.oracle = P;
  if (log) *log << "generated; validating\n";
  Validate(d, "<generated>");
  return d;
}

}  // namespace amrs::data
