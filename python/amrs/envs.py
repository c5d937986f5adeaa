"""amrs.VectorEnv and amrs.RecEnv: the Gymnasium 1.x API over the C++ env (docs/python.md).

The work is done by the C++ core ``amrs._amrs._VectorEnv``; this file only adds the conventions of
the ecosystem: Gymnasium signatures, seeds, ``metadata`` and spaces. When ``gymnasium`` is
importable the classes subclass ``gymnasium.vector.VectorEnv`` / ``gymnasium.Env`` and declare
``observation_space`` / ``action_space``; otherwise they are plain classes whose spaces are None
(``obs_spec`` describes the arrays either way). Gymnasium is never required.
"""
import secrets

import numpy as np

from . import _amrs

try:  # optional: only to subclass its classes and build spaces
    import gymnasium as _gym
    from gymnasium import spaces as _spaces
except ImportError:  # pragma: no cover - depends on the machine
    _gym = None
    _spaces = None

_VectorBase = _gym.vector.VectorEnv if _gym is not None else object
_EnvBase = _gym.Env if _gym is not None else object

AUTORESET_MODES = ("next_step", "disabled")


def _autoreset_value(mode):
    """metadata["autoreset_mode"]: Gymnasium's AutoresetMode where it has one, else the string."""
    enum = getattr(getattr(_gym, "vector", None), "AutoresetMode", None) if _gym is not None else None
    if enum is None:
        return mode
    return enum.NEXT_STEP if mode == "next_step" else enum.DISABLED


def autoreset_mode_name(env):
    """The autoreset mode an env declares, as 'next_step' | 'disabled' | other lower-case name."""
    mode = env.metadata.get("autoreset_mode")
    name = getattr(mode, "name", mode)
    return str(name).lower()


def obs_spec(max_len, num_songs, num_users, horizon):
    """Per-env observation arrays: key -> (shape, dtype, low, high). See docs/python.md."""
    T = max_len
    return {
        "song": ((T,), np.int32, -1, num_songs - 1),
        "engagement": ((T,), np.float32, 0.0, 1.0),
        "rating": ((T,), np.float32, 0.0, 1.0),
        "valence": ((T,), np.float32, 0.0, 1.0),
        "arousal": ((T,), np.float32, 0.0, 1.0),
        "boundary": ((T,), np.int8, 0, 1),
        "mode": ((T,), np.int8, -1, 3),
        "length": ((), np.int32, 0, T),
        "user": ((), np.int32, 0, max(num_users - 1, 0)),
        "step": ((), np.int32, 0, horizon),
    }


def _single_spaces(spec, num_songs):
    if _spaces is None:
        return None, None
    obs = _spaces.Dict({k: _spaces.Box(low=lo, high=hi, shape=shape, dtype=dt)
                        for k, (shape, dt, lo, hi) in spec.items()})
    return obs, _spaces.Discrete(num_songs)


def _check_dataset(dataset, world):
    if world.dataset is not dataset and world.dataset.path != dataset.path:
        raise ValueError(f"the world was loaded for {world.dataset.path}, not for {dataset.path}")


class VectorEnv(_VectorBase):
    """``num_envs`` recommendation episodes stepped together (Gymnasium 1.x vector contract).

    reset(seed=None, options=None) -> (obs, infos); step(actions) -> (obs, rewards, terminations,
    truncations, infos). Env i of reset(seed=s) is seeded with s + i; its k-th later episode (an
    autoreset, or reset(seed=None)) with s + i + k * num_envs. ``autoreset_mode``: "next_step"
    (the step after a truncation resets that env and returns its first observation with reward 0,
    ignoring its action) or "disabled" (the caller resets, e.g. reset(options={"reset_mask":
    truncations})). Autoresets use the constructor's part, utility and no_replay, not the last
    options. ``no_replay`` ("session" | "episode" | "off", docs/run.md): the songs each env bans
    at each step, given in infos["banned"] (bool [num_envs, num_songs]); stepping a banned song
    raises ValueError.
    """

    def __init__(self, dataset, world, num_envs, split=0, horizon=5, window_seed=0, part="test",
                 utility=None, autoreset_mode="next_step", no_replay="session"):
        if autoreset_mode not in AUTORESET_MODES:
            raise ValueError(f"autoreset_mode must be one of {AUTORESET_MODES}, got {autoreset_mode!r}")
        _check_dataset(dataset, world)
        self._core = _amrs._VectorEnv(world, int(num_envs), split=int(split), horizon=int(horizon),
                                      window_seed=int(window_seed), part=part, utility=utility,
                                      autoreset_mode=autoreset_mode, no_replay=no_replay)
        self.dataset, self.world = dataset, world
        self.num_envs = int(num_envs)
        self.horizon = int(horizon)
        self.max_len = self._core.max_len
        self.num_songs = self._core.num_songs
        self.autoreset_mode = autoreset_mode
        self.no_replay = no_replay
        self.metadata = {"autoreset_mode": _autoreset_value(autoreset_mode), "render_modes": []}
        self.render_mode = None
        self.closed = False
        self.obs_spec = obs_spec(self.max_len, self.num_songs, dataset.num_users, self.horizon)
        self.single_observation_space, self.single_action_space = _single_spaces(self.obs_spec, self.num_songs)
        if _spaces is not None:
            from gymnasium.vector.utils import batch_space
            self.observation_space = batch_space(self.single_observation_space, self.num_envs)
            self.action_space = _spaces.MultiDiscrete(np.full(self.num_envs, self.num_songs))
        else:
            self.observation_space = self.action_space = None

    def reset(self, *, seed=None, options=None):
        """seed: an int (env i gets seed + i), a list of num_envs ints, or None (each env's next
        seed; the first reset then draws one). options: part, user, window (int or one per env),
        new_session, pre_valence, pre_arousal, mode, utility, no_replay, scenario, reset_mask
        (docs/python.md)."""
        seeds = None
        if seed is None and not getattr(self, "_seeded", False):
            seed = secrets.randbits(62)
        if seed is not None:
            if np.ndim(seed) == 0:
                seeds = [int(seed) + i for i in range(self.num_envs)]
            else:
                seeds = [int(s) for s in seed]
            if any(s < 0 for s in seeds):
                raise ValueError("reset: seeds must be >= 0")
        out = self._core.reset(seeds, options)
        self._seeded = True
        return out

    def step(self, actions):
        """actions: integer array [num_envs] of catalogue indices; none may be a song the env's
        no-replay rule bans (infos["banned"] of the last reset/step), else ValueError and no env
        steps."""
        return self._core.step(np.asarray(actions))

    def predict(self, songs):
        """The world's feedback for songs [num_envs] -> [num_envs, 4] or [num_envs, m] ->
        [num_envs, m, 4] (engagement, rating, valence, arousal), without changing any episode."""
        return self._core.predict(np.asarray(songs))

    def score_catalogue(self):
        """The world's feedback for every song: float32 [num_envs, num_songs, 4]."""
        return self._core.score_catalogue()

    def utilities(self):
        """Reward weights per env, float32 [num_envs, 4] in feedback order: reward = (feedback * w).sum(-1)."""
        return self._core.utilities()

    def observations(self):
        """The current observations (as the last reset/step returned them)."""
        return self._core.observations()

    def close(self, **kwargs):
        self.closed = True

    def __repr__(self):
        return (f"amrs.VectorEnv(num_envs={self.num_envs}, world={self.world.name!r}, horizon={self.horizon}, "
                f"autoreset_mode={self.autoreset_mode!r}, no_replay={self.no_replay!r})")


class RecEnv(_EnvBase):
    """One recommendation episode (Gymnasium Env contract): reset(seed=None, options=None) ->
    (obs, info); step(action) -> (obs, reward, terminated, truncated, info) with Python scalars.
    Stepping after truncation raises ValueError: reset first. info["banned"] (bool [num_songs])
    holds the songs the no-replay rule bans at the next step; stepping one raises ValueError."""

    def __init__(self, dataset, world, split=0, horizon=5, window_seed=0, part="test", utility=None,
                 no_replay="session"):
        self._vec = VectorEnv(dataset, world, 1, split=split, horizon=horizon, window_seed=window_seed,
                              part=part, utility=utility, autoreset_mode="disabled", no_replay=no_replay)
        self.dataset, self.world = dataset, world
        self.horizon, self.max_len, self.num_songs = self._vec.horizon, self._vec.max_len, self._vec.num_songs
        self.no_replay = no_replay
        self.metadata = {"render_modes": []}
        self.render_mode = None
        self.obs_spec = self._vec.obs_spec
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space

    @staticmethod
    def _row(d):
        return {k: v[0] for k, v in d.items()}

    def reset(self, *, seed=None, options=None):
        obs, info = self._vec.reset(seed=seed, options=options)
        return self._row(obs), self._row(info)

    def step(self, action):
        if not isinstance(action, (int, np.integer)):
            raise ValueError(f"step: the action must be an int (a catalogue index), got {action!r}")
        obs, r, term, trunc, info = self._vec.step(np.array([action], dtype=np.int64))
        return self._row(obs), float(r[0]), bool(term[0]), bool(trunc[0]), self._row(info)

    def predict(self, songs):
        """songs: an int -> [4]; an int array [m] -> [m, 4]."""
        s = np.asarray(songs)
        return self._vec.predict(s.reshape(1, -1))[0].reshape(s.shape + (4,))

    def score_catalogue(self):
        """float32 [num_songs, 4]."""
        return self._vec.score_catalogue()[0]

    def utilities(self):
        return self._vec.utilities()[0]

    def close(self):
        pass

    def __repr__(self):
        return f"amrs.RecEnv(world={self.world.name!r}, horizon={self.horizon}, no_replay={self.no_replay!r})"
