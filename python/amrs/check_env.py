"""amrs.check_env: the project's own env checker (docs/python.md "Environments").

Checks an amrs.VectorEnv or amrs.RecEnv against the contract Gymnasium's checkers would, without
needing gymnasium: shapes and dtypes, determinism under a seed (and env i seeded with seed + i),
truncation after the horizon, the declared autoreset mode, reset options, the no-replay rule
(info["banned"], banned actions refused), and errors on bad actions and options. Its actions are
drawn among the songs info["banned"] allows. Raises EnvCheckError (an AssertionError) naming the first failed check.
The env is left reset with an unspecified seed.
"""
import numpy as np

from .envs import RecEnv, autoreset_mode_name


class EnvCheckError(AssertionError):
    pass


def _require(cond, what):
    if not cond:
        raise EnvCheckError(what)


class _Batched:
    """A RecEnv seen as a vector env of one (so one set of checks serves both)."""

    def __init__(self, env):
        self.env, self.num_envs, self.horizon = env, 1, env.horizon
        self.obs_spec, self.num_songs = env.obs_spec, env.num_songs
        self.metadata = {"autoreset_mode": "disabled"}

    @staticmethod
    def _batch(d):
        return {k: np.asarray(v)[None] for k, v in d.items()}

    def reset(self, seed=None, options=None):
        if options and "reset_mask" in options:
            options = {k: v for k, v in options.items() if k != "reset_mask"}
        obs, info = self.env.reset(seed=seed, options=options)
        return self._batch(obs), self._batch(info)

    def step(self, actions):
        a = np.asarray(actions)
        if a.shape != (1,) or a.dtype.kind not in "iu":
            return self.env.step(a)  # let the env raise
        obs, r, term, trunc, info = self.env.step(int(a[0]))
        _require(isinstance(r, float) and isinstance(term, bool) and isinstance(trunc, bool),
                 "RecEnv.step must return Python scalars for reward, terminated and truncated")
        return (self._batch(obs), np.array([r], np.float32), np.array([term]), np.array([trunc]), self._batch(info))

    def predict(self, songs):
        return self.env.predict(np.asarray(songs)[0])[None]

    def score_catalogue(self):
        return self.env.score_catalogue()[None]

    def utilities(self):
        return self.env.utilities()[None]


def _check_obs(env, obs, where):
    n = env.num_envs
    _require(isinstance(obs, dict), f"{where}: observations must be a dict")
    _require(set(obs) == set(env.obs_spec), f"{where}: observation keys {sorted(obs)} != {sorted(env.obs_spec)}")
    for k, (shape, dtype, lo, hi) in env.obs_spec.items():
        a = obs[k]
        _require(isinstance(a, np.ndarray), f"{where}: obs[{k!r}] is not a numpy array")
        _require(a.shape == (n,) + shape, f"{where}: obs[{k!r}] has shape {a.shape}, expected {(n,) + shape}")
        _require(a.dtype == dtype, f"{where}: obs[{k!r}] has dtype {a.dtype}, expected {np.dtype(dtype)}")
        v = a[~np.isnan(a)] if a.dtype.kind == "f" else a
        _require(v.size == 0 or (v.min() >= lo and v.max() <= hi), f"{where}: obs[{k!r}] outside [{lo}, {hi}]")
    T = obs["song"].shape[1]
    slot = np.arange(T)[None]
    pad = slot >= obs["length"][:, None]
    _require((obs["song"][pad] == -1).all() and (obs["boundary"][pad] == 0).all() and
             np.isnan(obs["engagement"][pad]).all(), f"{where}: padding slots must hold the absent values")
    _require(((obs["song"] == -1) | pad)[obs["boundary"] == 0].sum() == pad.sum(),
             f"{where}: song is -1 exactly on boundary tokens and padding")


def _equal(a, b):
    if isinstance(a, dict):
        return set(a) == set(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def _allowed(env, rng, infos, where):
    """One random song per env among those infos["banned"] allows."""
    banned = np.asarray(infos["banned"])
    _require(banned.shape == (env.num_envs, env.num_songs) and banned.dtype == bool,
             f"{where}: info['banned'] must be bool [{env.num_envs}, {env.num_songs}]")
    return np.where(banned, -1.0, rng.random(banned.shape)).argmax(1)


def _session_songs(obs, songs):
    """bool [n, songs]: the songs after each row's last boundary token (the current session's);
    a row whose session holds the whole catalogue bans nothing."""
    n = obs["length"].shape[0]
    m = np.zeros((n, songs), bool)
    for i in range(n):
        length = int(obs["length"][i])
        song, boundary = obs["song"][i, :length], np.flatnonzero(obs["boundary"][i, :length])
        m[i, song[boundary[-1] + 1:] if boundary.size else song] = True
        if m[i].all():
            m[i] = False
    return m


def _episode(env, seed, actions):
    """Observations, rewards and truncations of one seeded episode played with `actions`."""
    trace = [env.reset(seed=seed)]
    for a in actions:
        trace.append(env.step(a))
    return trace


def check_env(env, seed=0):
    """Runs every check on `env` (amrs.VectorEnv or amrs.RecEnv); raises EnvCheckError."""
    if isinstance(env, RecEnv):
        env = _Batched(env)
    n, h, songs = env.num_envs, env.horizon, env.num_songs
    mode = autoreset_mode_name(env)
    _require(mode in ("next_step", "nextstep", "disabled"), f"unknown autoreset mode {mode!r}")
    rng = np.random.default_rng(seed)
    actions = []

    # Shapes, dtypes, truncation after the horizon, rewards from the predicted feedback.
    obs, infos = env.reset(seed=seed)
    _check_obs(env, obs, "reset")
    _require((obs["step"] == 0).all(), "reset: step must be 0")
    for t in range(h):
        a = _allowed(env, rng, infos, "reset" if t == 0 else f"step {t}")
        actions.append(a)
        prev = obs
        obs, rew, term, trunc, infos = env.step(a)
        where = f"step {t + 1}"
        _check_obs(env, obs, where)
        _require(rew.shape == (n,) and rew.dtype == np.float32, f"{where}: rewards must be float32 [{n}]")
        _require(term.shape == (n,) and term.dtype == bool and not term.any(), f"{where}: terminations must be False")
        _require(trunc.shape == (n,) and trunc.dtype == bool, f"{where}: truncations must be bool [{n}]")
        _require((trunc == (t + 1 >= h)).all(), f"{where}: truncated must be True exactly after {h} steps")
        _require((obs["step"] == t + 1).all(), f"{where}: obs['step'] must count the steps")
        grown = np.minimum(prev["length"] + 1, obs["song"].shape[1])
        _require((obs["length"] == grown).all(), f"{where}: the history must grow by one token")
        last = obs["song"][np.arange(n), obs["length"] - 1]
        _require((last == a).all(), f"{where}: the last token must be the action")
        pred = np.asarray(infos["predicted"])
        _require(pred.shape == (n, 4), f"{where}: info['predicted'] must be [{n}, 4]")
        _require(np.allclose(rew, (pred * env.utilities()).sum(-1), atol=1e-5),
                 f"{where}: reward must be the utility of the predicted feedback")

    # The declared autoreset mode.
    if mode == "disabled":
        try:
            env.step(actions[0])
        except ValueError:
            pass
        else:
            raise EnvCheckError("autoreset disabled: a step after truncation must raise ValueError")
    else:
        obs, rew, term, trunc, infos = env.step(actions[0])
        _require((rew == 0).all() and not trunc.any() and (obs["step"] == 0).all(),
                 "next_step autoreset: the step after truncation must return a reset observation, reward 0")
        _require((np.asarray(infos["seed"]) == seed + n + np.arange(n)).all(),
                 "next_step autoreset: env i's next episode must have seed seed + i + num_envs")

    # Determinism under a seed, and env i seeded with seed + i.
    first = _episode(env, seed, actions)
    _require(_equal(first, _episode(env, seed, actions)), "two runs with the same seed and actions differ")
    if n > 1:
        shifted = env.reset(seed=seed + 1)
        _require(_equal({k: v[:-1] for k, v in shifted[0].items()}, {k: v[1:] for k, v in first[0][0].items()}),
                 "env i of reset(seed=s + 1) must equal env i + 1 of reset(seed=s)")

    # Predictions do not change the episode; score_catalogue agrees with predict.
    obs, _ = env.reset(seed=seed)
    cat = env.score_catalogue()
    _require(cat.shape == (n, songs, 4) and cat.dtype == np.float32, "score_catalogue must be float32 [n, songs, 4]")
    p = env.predict(actions[0])
    _require(np.allclose(p, cat[np.arange(n), actions[0]], atol=1e-5), "predict must equal score_catalogue's rows")
    _, rew, _, _, infos = env.step(actions[0])
    _require(np.allclose(infos["predicted"], p, atol=1e-5), "the step's feedback must be the predicted one")

    # Reset options.
    user = int(first[0][1]["user"][0])
    obs, infos = env.reset(seed=seed + 7, options={"user": user, "window": 0})
    _require((infos["user"] == user).all() and (obs["user"] == user).all() and (infos["window"] == 0).all(),
             "reset options 'user' and 'window' must be respected")
    obs, infos = env.reset(seed=seed, options={"new_session": True, "pre_valence": 0.125, "pre_arousal": 0.875,
                                               "mode": "calm"})
    last = obs["length"] - 1
    rows = np.arange(n)
    _require((obs["boundary"][rows, last] == 1).all() and np.allclose(obs["valence"][rows, last], 0.125) and
             np.allclose(obs["arousal"][rows, last], 0.875) and (obs["mode"][rows, last] == 2).all(),
             "reset option new_session must add a boundary token with the given report and mode")
    env.reset(seed=seed, options={"utility": {"rating": 1.0}})
    _require(np.allclose(env.utilities(), [[0, 1, 0, 0]] * n), "reset option 'utility' must set the reward weights")

    # The no-replay rule: what info["banned"] holds under each rule, and a banned action refused
    # without stepping any env.
    rows = np.arange(n)
    for rule in ("off", "session", "episode"):
        obs, infos = env.reset(seed=seed, options={"no_replay": rule})
        where = f"no_replay={rule}"
        a = _allowed(env, rng, infos, where)
        before = np.asarray(infos["banned"])
        if rule == "session":
            _require(np.array_equal(before, _session_songs(obs, songs)),
                     f"{where}: reset must ban exactly the songs of the current session")
        else:
            _require(not before.any(), f"{where}: reset must ban no song")
        obs, _, _, _, infos = env.step(a)
        banned = np.asarray(infos["banned"])
        if rule == "off":
            _require(not banned.any(), f"{where}: no song may be banned")
            continue
        _require(banned[rows, a].all() and (banned | ~before).all(),
                 f"{where}: after a step its song (and every song banned before) must be banned")
        if rule == "session":
            _require(np.array_equal(banned, _session_songs(obs, songs)),
                     f"{where}: a step must ban exactly the songs of the current session")
        if h < 2:
            continue
        try:
            env.step(a)
        except ValueError:
            pass
        else:
            raise EnvCheckError(f"{where}: a step with a banned action must raise ValueError")
        obs, _, _, _, _ = env.step(_allowed(env, rng, infos, where))
        _require((obs["step"] == 2).all(), f"{where}: a refused step must step no env")

    # Errors on bad actions and options.
    env.reset(seed=seed)
    bad = [(np.full(n, songs), IndexError, "an action outside the catalogue"),
           (np.full(n, -1), IndexError, "a negative action"),
           (np.zeros(n, np.float32), ValueError, "float actions"),
           (np.zeros(n + 1, np.int64), ValueError, "too many actions")]
    for a, err, what in bad:
        try:
            env.step(a)
        except err:
            pass
        else:
            raise EnvCheckError(f"step with {what} must raise {err.__name__}")
    for options, what in [({"no_such_option": 1}, "an unknown option"), ({"utility": {"joy": 1}}, "a bad utility"),
                          ({"pre_valence": 0.5}, "pre_valence without new_session"), ({"user": 10**6}, "a bad user"),
                          ({"no_replay": "sometimes"}, "a bad no_replay rule")]:
        try:
            env.reset(seed=seed, options=options)
        except ValueError:
            pass
        else:
            raise EnvCheckError(f"reset with {what} must raise ValueError")
    env.reset(seed=seed)
