"""Python agents in the benchmark (docs/python.md).

A Python agent is any object with

- ``act(batch) -> int array [rows]``: one catalogue index per row (required);
- ``rank(batch, k) -> int array [rows, k]``: the agent's top-k songs per row, best first, -1 for
  "no song" (optional: without it the logged top-k list is the action followed by -1);
- ``reset(seed)``: re-seed its own randomness (optional); called before each batch of envs with
  the seed the built-in agents get there (derived from the run seed and the batch index).

``batch`` is an :class:`amrs.AgentBatch`: ``obs`` (the observation arrays), ``size``,
``num_songs``, ``utility`` (float32 [rows, 4] weights: engagement, rating, valence, arousal),
``score_catalogue()`` (float32 [rows, songs, 4] in the same signal order), ``predict(songs)``,
``embedding`` (float32 [songs, dim]) and ``run_seed``.

:func:`rollout`, :func:`evaluate` and :func:`stress` run Python agents next to registered ones
through the library's run API and write the same episode logs and stress tables as the CLI.
Python agents run serially (batch after batch on the calling thread), so results are the same for
any thread count.
"""
import numpy as np

from . import _amrs

AgentBatch = _amrs.AgentBatch

SIGNALS = ("engagement", "rating", "valence", "arousal")  # the last axis of scores and utility


def utility_scores(scores, weights):
    """Reward (eq. 3) of every song: ``scores`` [rows, songs, 4], ``weights`` [rows, 4] ->
    float32 [rows, songs]. Summed in the order the library uses (rating, engagement, valence,
    arousal), so an argmax ties with the built-in greedy's exactly."""
    s = np.asarray(scores, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32)[:, None, :]
    return s[..., 1] * w[..., 1] + s[..., 0] * w[..., 0] + s[..., 2] * w[..., 2] + s[..., 3] * w[..., 3]


def top_k(values, k):
    """The k columns of highest value per row, best first (ties: the lower index), int64 [rows, k]."""
    return np.argsort(-np.asarray(values), axis=1, kind="stable")[:, :k]


class Agent:
    """Optional base class: a no-op ``reset`` and a ``rank`` from ``scores(batch)``.

    Subclasses override ``scores(batch) -> [rows, songs]`` (higher is better), or ``act``/``rank``.
    ``act`` and ``rank`` choose among the songs the run's no-replay rule allows (``batch.banned``).
    """

    def reset(self, seed):
        pass

    def scores(self, batch):
        raise NotImplementedError("override scores(batch) or act(batch)")

    def act(self, batch):
        return top_k(self.allowed_scores(batch), 1)[:, 0]

    def rank(self, batch, k):
        return top_k(self.allowed_scores(batch), k)

    def allowed_scores(self, batch):
        """``scores(batch)`` as float64 with -inf for the songs ``batch.banned`` bans."""
        s = np.array(self.scores(batch), dtype=np.float64)
        s[np.asarray(batch.banned)] = -np.inf
        return s


class Greedy(Agent):
    """The built-in greedy in numpy: the song of best predicted utility (a reference and an example)."""

    def scores(self, batch):
        return utility_scores(batch.score_catalogue(), batch.utility)


def _agent_pairs(agents):
    """dict name -> registered name | object, or a list of names and (name, object) pairs ->
    [(name, object or None)]."""
    if isinstance(agents, str):
        agents = [a for a in agents.split(",") if a]
    items = list(agents.items()) if isinstance(agents, dict) else list(agents)
    pairs = []
    for item in items:
        if isinstance(item, str):
            pairs.append((item, None))
            continue
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"agents: {item!r} is neither a registered agent's name nor a (name, agent) pair")
        name, agent = item
        if isinstance(agent, str):
            if agent != name:
                raise ValueError(f"agents: '{name}': a registered agent is listed under its own name "
                                 f"(got '{name}': '{agent}')")
            agent = None
        elif agent is not None and not callable(getattr(agent, "act", None)):
            raise TypeError(f"agents: '{name}' has no act(batch) method")
        pairs.append((name, agent))
    if not pairs:
        raise ValueError("agents: empty")
    return pairs


def _utility(utility):
    if isinstance(utility, str):
        return utility
    if isinstance(utility, dict):
        return ",".join(f"{k}={float(v)!r}" for k, v in utility.items())
    raise TypeError(f"utility: expected 'affect', 'valence=0.5,arousal=0.5' or a dict, got {utility!r}")


def _seeds(seeds):
    if isinstance(seeds, (int, np.integer)):
        return list(range(int(seeds)))
    return [int(s) for s in seeds]


def _params(params):
    return {str(k): str(v) for k, v in (params or {}).items()}


def _options(data, world, seeds, parts, split, horizon, topk, utility, batch, max_users, users, window_seed,
             new_session, params, seed_scope, no_replay, oracle_error=True):
    return dict(data=str(data), world=str(world), seeds=_seeds(seeds),
                parts=[parts] if isinstance(parts, str) else list(parts), split=int(split), horizon=int(horizon),
                topk=int(topk), utility=_utility(utility), batch=int(batch), max_users=int(max_users),
                users=[int(u) for u in (users or [])], window_seed=int(window_seed), new_session=bool(new_session),
                params=_params(params), seed_scope=str(seed_scope or ""), no_replay=str(no_replay),
                oracle_error=bool(oracle_error))


def rollout(data, world="oracle", agents=("random", "greedy"), *, seeds=5, part="test", out=None, split=0,
            horizon=5, topk=10, utility="affect", batch=64, max_users=0, users=None, window_seed=0,
            new_session=False, params=None, threads=0, seed_scope=None, no_replay="session", oracle_error=True):
    """``amrs rollout`` from Python: every agent x seed on the users of ``part`` (a name or a list;
    with several parts ``out`` needs ``{part}``).

    ``agents``: ``{"mine": MyAgent(), "dpo": "dpo"}`` or ``["dpo", ("mine", MyAgent())]``.
    ``seeds``: a count (0..n-1) or a list. ``params``: registered agents' KEY=VALUE parameters.
    ``out``: the HDF5 episode log (the CLI's format; ``amrs report`` reads it). ``threads``: TBB
    threads for this call (0: all cores). ``seed_scope``: what the seeds vary, as ``--seed-scope``
    (``"policy"``, ``"policy+windows"``, ``"policy+windows+world"``; None: the CLI's default).
    ``no_replay``: the run's rule, the same for every agent
    (``"session"`` | ``"episode"`` | ``"off"``, docs/run.md; banned songs in ``batch.banned``).
    ``oracle_error``: under an ensemble world on synthetic data, replay each block in the oracle
    for ``"oracle_error"`` and ``"oracle_feedback"`` (False: skip it, as ``--no-oracle-error``).

    Returns ``{"world", ""world_id", "dataset_fingerprint", "logs": {part: path},
    "parts": {part: {agent: {seed: {"actions": [E, L], "ranked": [E, L, K], "reward", "valence",
    "arousal", "rating", "engagement": [E, L], "user", "window_index", ...: [E]}}}},
    "summary": {part: {agent: {"seeds", "reward", "valence", "arousal", "rating", "engagement"}}}}``.
    """
    options = _options(data, world, seeds, part, split, horizon, topk, utility, batch, max_users, users,
                       window_seed, new_session, params, seed_scope, no_replay, oracle_error)
    return _amrs._rollout(_agent_pairs(agents), options, "" if out is None else str(out), int(threads))


def evaluate(data, world, agents=("copycat", "dpo", "random", "greedy"), *, out_dir="out/eval",
             parts=("test", "val", "train"), oracle="auto", seeds=5, split=0, horizon=5, topk=10,
             utility="affect", batch=64, max_users=0, users=None, window_seed=0, params=None, threads=0,
             seed_scope=None, no_replay="session", oracle_error=True):
    """``amrs evaluate`` from Python: every agent on each part under ``world`` (``<out_dir>/<part>.h5``),
    then the test part under the oracle (``<out_dir>/test-oracle.h5``; ``oracle``: auto | yes | no).
    ``params`` defaults to the quickstart's Copycat and DPO checkpoints for those selected.
    ``oracle_error``: as in :func:`rollout`.

    Returns ``{"logs": [paths], "learned": <rollout result>, "oracle": <rollout result> or None}``.
    """
    pairs = _agent_pairs(agents)
    if params is None:
        params = _amrs._default_policy_params([name for name, agent in pairs if agent is None])
    options = _options(data, world, seeds, parts, split, horizon, topk, utility, batch, max_users, users,
                       window_seed, False, params, seed_scope, no_replay, oracle_error)
    return _amrs._evaluate(pairs, options, str(out_dir), str(oracle), int(threads))


def stress(scenarios, agents=None, *, external=None, data="", world="", params=None, out="out/stress.h5",
           threads=0):
    """``amrs stress`` from Python: scenario files (one path or a list) through the stress runner;
    writes ``out`` (stress.h5) and the Markdown table next to it (.md), which ``amrs report --stress``
    reads.

    ``agents`` replaces every file's agent list (like ``--agents``; names and Python agents as in
    :func:`rollout`). ``external``: Python agents ``{name: object}`` that the files' own agent lists
    may name. ``data``, ``world``, ``params``: as ``--data``, ``--world``, ``--param``.

    Returns ``{"required_failed", "scenarios": {name: {"world", "num_songs", "agents": {agent:
    {"reward", ..., "coverage", "metrics", "guardrails": {kind: {...}}}}}}, "table", "markdown",
    "out", "markdown_file"}``.
    """
    files = [str(scenarios)] if isinstance(scenarios, (str, bytes)) or hasattr(scenarios, "__fspath__") \
        else [str(f) for f in scenarios]
    pairs = None if agents is None else _agent_pairs(agents)
    ext = [] if external is None else _agent_pairs(external)
    for name, agent in ext:
        if agent is None:
            raise TypeError(f"external: '{name}' must be a Python agent object")
    return _amrs._stress(files, pairs, ext, str(data or ""), str(world or ""), _params(params), str(out),
                         int(threads))
