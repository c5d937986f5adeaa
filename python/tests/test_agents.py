"""Python agents in the benchmark: amrs.rollout / evaluate / stress with Python objects next to
registered agents (docs/python.md). Tiny synthetic data made by the CLI."""
import os
import subprocess

import numpy as np
import pytest

import amrs
from amrs.agents import Agent, Greedy, top_k, utility_scores


def amrs_cli():
    build = os.environ.get("AMRS_BINARY_DIR") or os.path.join(os.environ["AMRS_SOURCE_DIR"], "build")
    path = os.path.join(build, "cli", "amrs")
    assert os.path.exists(path), f"the amrs CLI is not built at {path}"
    return path


def source_dir():
    return os.environ.get("AMRS_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("agents") / "tiny.h5")
    subprocess.run([amrs_cli(), "generate", "--users", "40", "--sessions", "200", "--interactions", "1300",
                    "--songs", "120", "--embedding-dim", "16", "--splits", "2", "--out", path],
                   check=True, capture_output=True)
    return path


class SecondBest(Agent):
    """Not greedy: the second-best song (so the greedy comparison can fail)."""

    def scores(self, batch):
        u = utility_scores(batch.score_catalogue(), batch.utility)
        u[np.arange(len(u)), u.argmax(axis=1)] = -np.inf
        return u


class Stateful:
    """Depends on the order of its calls and on its reset seeds (thread-count check)."""

    def __init__(self):
        self.calls, self.rng = 0, np.random.default_rng(0)

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, batch):
        self.calls += 1
        return (self.rng.integers(0, batch.num_songs, batch.size) + self.calls) % batch.num_songs


class Recorder:
    def __init__(self):
        self.seeds, self.run_seeds, self.batches = [], [], []

    def reset(self, seed):
        self.seeds.append(seed)

    def act(self, batch):
        self.run_seeds.append(batch.run_seed)
        self.batches.append(batch)
        return np.zeros(batch.size, dtype=np.int64)


class Output:
    """Returns what it is told to (bad outputs)."""

    def __init__(self, act, rank=None):
        self._act, self._rank = act, rank

    def act(self, batch):
        return self._act(batch)

    def rank(self, batch, k):
        return self._rank(batch, k) if self._rank else top_k(np.zeros((batch.size, batch.num_songs)), k)


def run(data, agents, **kw):
    kw.setdefault("seeds", 2)
    return amrs.rollout(data, "oracle", agents, **kw)


def test_python_greedy_gives_exactly_the_builtin_greedy(data):
    r = run(data, {"greedy": "greedy", "pygreedy": Greedy(), "second": SecondBest()}, utility="valence=1")
    test = r["parts"]["test"]
    for seed in (0, 1):
        mine, ref, other = test["pygreedy"][seed], test["greedy"][seed], test["second"][seed]
        assert mine["actions"].shape == (20, 5)
        for key in ("actions", "ranked", "reward", "valence", "arousal", "rating", "engagement", "user"):
            np.testing.assert_array_equal(mine[key], ref[key], err_msg=key)
        assert not np.array_equal(other["actions"], ref["actions"])
    assert r["summary"]["test"]["pygreedy"]["reward"] == r["summary"]["test"]["greedy"]["reward"]


def test_seed_scope_decides_whether_the_windows_vary_with_the_seed(data):
    def windows(scope):
        test = run(data, ["greedy"], seed_scope=scope)["parts"]["test"]["greedy"]
        return [test[seed]["window_start"] for seed in (0, 1)]
    same = windows("policy")
    np.testing.assert_array_equal(same[0], same[1])
    per_seed = windows("policy+windows")
    assert not np.array_equal(per_seed[0], per_seed[1])
    np.testing.assert_array_equal(windows(None)[1], per_seed[1])  # the default
    with pytest.raises(ValueError, match="seed scope must be"):
        windows("windows")


def test_results_are_the_same_for_one_and_two_threads(data):
    kw = dict(batch=4, part=["test", "val"])
    one = run(data, [("mine", Stateful()), "random"], threads=1, **kw)
    two = run(data, [("mine", Stateful()), "random"], threads=2, **kw)
    for part in ("test", "val"):
        for agent in ("mine", "random"):
            for seed in (0, 1):
                a, b = one["parts"][part][agent][seed], two["parts"][part][agent][seed]
                for key in ("actions", "reward", "ranked"):
                    np.testing.assert_array_equal(a[key], b[key], err_msg=f"{part} {agent} {seed} {key}")


def test_reset_gets_the_batch_seeds_and_the_batch_is_the_run_state(data):
    rec = Recorder()
    r = run(data, {"rec": rec}, batch=8, utility={"rating": 0.25, "arousal": -1})
    episodes = r["parts"]["test"]["rec"][0]["actions"].shape[0]
    batches = -(-episodes // 8)
    horizon = 5
    assert len(rec.seeds) == 2 * batches  # one reset per batch of envs, per run seed
    assert len(set(rec.seeds)) == len(rec.seeds)
    assert rec.run_seeds == [0] * (batches * horizon) + [1] * (batches * horizon)
    again = Recorder()
    run(data, {"rec": again}, batch=8, utility={"rating": 0.25, "arousal": -1})
    assert again.seeds == rec.seeds  # deterministic in the run seed
    # The batch was valid only during its call.
    with pytest.raises(ValueError, match="no longer valid"):
        rec.batches[0].obs


def test_batch_exposes_observations_world_and_utility(data):
    seen = {}

    class Probe:
        def act(self, batch):
            if not seen:
                obs = batch.obs
                seen["obs"] = {k: v.copy() for k, v in obs.items()}
                seen["utility"] = batch.utility.copy()
                scores = batch.score_catalogue()
                seen["scores"] = scores.copy()
                songs = np.array([3, 0, 119])
                seen["per_row"] = np.arange(batch.size) * 7 % 120
                seen["predict_one"] = batch.predict(seen["per_row"])
                seen["predict"] = batch.predict(np.tile(songs, (batch.size, 1)))
                seen["embedding"] = batch.embedding.copy()
                seen["size"], seen["num_songs"] = batch.size, batch.num_songs
                seen["same_scores"] = batch.score_catalogue() is scores
                with pytest.raises(ValueError, match="expected a song index in 0..119"):
                    batch.predict(np.full(batch.size, 120))
            return np.zeros(batch.size, dtype=np.int32)

    run(data, {"probe": Probe()}, seeds=[3], batch=6, utility="rating=0.5,engagement=-0.25,valence=1")
    obs, B = seen["obs"], seen["size"]
    assert B == 6 and seen["num_songs"] == 120
    T = obs["song"].shape[1]
    assert T == 100 + 5 + 1  # longest window + horizon + new-session boundary
    for key, dtype in (("song", np.int32), ("engagement", np.float32), ("rating", np.float32), ("boundary", np.int8),
                       ("mode", np.int8)):
        assert obs[key].shape == (B, T) and obs[key].dtype == dtype, key
    for key in ("length", "user", "step"):
        assert obs[key].shape == (B,) and obs[key].dtype == np.int32, key
    assert (obs["step"] == 0).all() and (obs["length"] >= 10).all()
    valid = np.arange(T)[None, :] < obs["length"][:, None]
    assert (obs["song"][~valid] == -1).all() and np.isnan(obs["engagement"][~valid]).all()
    assert (obs["song"][valid & (obs["boundary"] == 0)] >= 0).all()
    assert (obs["song"][obs["boundary"] == 1] == -1).all()
    np.testing.assert_array_equal(seen["utility"], np.tile([-0.25, 0.5, 1.0, 0.0], (B, 1)).astype(np.float32))
    assert seen["scores"].shape == (B, 120, 4) and seen["scores"].dtype == np.float32 and seen["same_scores"]
    assert seen["predict"].shape == (B, 3, 4)
    np.testing.assert_allclose(seen["predict"], seen["scores"][:, [3, 0, 119], :], rtol=1e-5, atol=1e-6)
    assert seen["predict_one"].shape == (B, 4)
    np.testing.assert_allclose(seen["predict_one"], seen["scores"][np.arange(B), seen["per_row"], :],
                               rtol=1e-5, atol=1e-6)
    assert seen["embedding"].shape == (120, 16)


def test_without_rank_the_logged_list_is_the_action(data):
    class NoRank:
        def act(self, batch):
            return np.full(batch.size, 7)

    block = run(data, {"norank": NoRank()}, seeds=1, topk=4, no_replay="off")["parts"]["test"]["norank"][0]
    assert block["ranked"].shape == (20, 5, 4)
    assert (block["ranked"][..., 0] == 7).all() and (block["ranked"][..., 1:] == -1).all()
    ranked = run(data, {"out": Output(lambda b: np.zeros(b.size, int), lambda b, k: np.tile(np.arange(k), (b.size, 1)))},
                 seeds=1, topk=4, no_replay="off")["parts"]["test"]["out"][0]["ranked"]
    assert (ranked == np.arange(4)).all()


@pytest.mark.parametrize("act, rank, error, message", [
    (lambda b: np.zeros(b.size, np.float32), None, TypeError, "Python agent 'bad': act returned an array of float32"),
    (lambda b: None, None, TypeError, "act returned None"),
    (lambda b: np.zeros(b.size + 1, int), None, ValueError, r"act returned shape \(21,\); expected \(20,\)"),
    (lambda b: np.zeros((b.size, 1), int), None, ValueError, r"act returned shape \(20, 1\)"),
    (lambda b: np.full(b.size, 120), None, ValueError, "act returned 120 at row 0; expected a song index in 0..119"),
    (lambda b: np.full(b.size, -1), None, ValueError, "act returned -1 at row 0"),
    (lambda b: np.zeros(b.size, int), lambda b, k: np.zeros((b.size, k - 1), int), ValueError,
     r"Python agent 'bad': rank returned shape \(20, 9\); expected \(20, 10\)"),
    (lambda b: np.zeros(b.size, int), lambda b, k: np.full((b.size, k), 500), ValueError,
     "rank returned 500 at row 0, rank 0; expected a song index in 0..119 or -1"),
])
def test_bad_agent_output_raises_a_clear_error(data, act, rank, error, message):
    with pytest.raises(error, match=message):
        run(data, {"random": "random", "bad": Output(act, rank)}, seeds=1, batch=64)


def test_an_exception_in_the_agent_keeps_its_type_and_names_the_agent(data):
    class Broken:
        def act(self, batch):
            raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom") as e:
        run(data, {"broken": Broken()}, seeds=1)
    assert "raised in act of Python agent 'broken'" in getattr(e.value, "__notes__", [])


def test_bad_agent_lists_are_refused(data):
    with pytest.raises(ValueError, match="'greedy': the name is a registered agent's"):
        run(data, {"greedy": Greedy()})
    with pytest.raises(TypeError, match="'x' has no act"):
        run(data, {"x": object()})
    with pytest.raises(ValueError, match="listed under its own name"):
        run(data, {"mine": "greedy"})
    with pytest.raises(Exception, match="unknown agent 'nope'"):
        run(data, ["nope", ("mine", Greedy())])


def test_the_log_is_read_by_the_report(data, tmp_path):
    log = str(tmp_path / "run.h5")
    r = run(data, {"mine": SecondBest(), "greedy": "greedy", "random": "random"}, out=log)
    assert r["logs"] == {"test": log}
    out = tmp_path / "report"
    subprocess.run([amrs_cli(), "report", log, "--data", data, "--out", str(out), "--no-figures"], check=True,
                   capture_output=True)
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| mine |"))
    assert row.count("|") > 5
    assert "greedy, mine, random" in report


def test_evaluate_writes_the_part_logs_and_the_oracle_log(data, tmp_path):
    out = tmp_path / "eval"
    r = amrs.evaluate(data, "oracle", {"mine": Greedy(), "random": "random"}, out_dir=str(out), parts=["test", "val"],
                      oracle="yes", seeds=2)
    assert r["logs"] == [str(out / "test.h5"), str(out / "val.h5"), str(out / "test-oracle.h5")]
    assert all(os.path.exists(p) for p in r["logs"])
    assert set(r["learned"]["parts"]) == {"test", "val"} and set(r["oracle"]["parts"]) == {"test"}
    np.testing.assert_array_equal(r["oracle"]["parts"]["test"]["mine"][1]["actions"],
                                  r["learned"]["parts"]["test"]["mine"][1]["actions"])


def test_stress_with_a_python_agent_writes_its_rows(data, tmp_path):
    out = tmp_path / "stress.h5"
    baseline = os.path.join(source_dir(), "scenarios", "baseline.toml")
    r = amrs.stress([baseline], {"mine": SecondBest(), "greedy": "greedy"}, data=data, world="oracle", out=str(out))
    assert r["markdown_file"] == str(tmp_path / "stress.md") and out.exists()
    md = (tmp_path / "stress.md").read_text()
    assert md.count("| mine |") == 1 and md.count("| greedy |") == 1
    mine = r["scenarios"]["baseline"]["agents"]["mine"]
    assert set(mine["guardrails"]) == {"max_arousal_step", "max_repeats", "min_coverage"}
    assert mine["reward"] != r["scenarios"]["baseline"]["agents"]["greedy"]["reward"]
    # A scenario file that names the Python agent itself (external=).
    scenario = tmp_path / "mine.toml"
    scenario.write_text(f'name = "mine-only"\nworld = "oracle"\ndata = "{data}"\nagents = ["mine", "random"]\n'
                        'seeds = [0]\n[guardrails.max_repeats]\nthreshold = 1\n')
    r2 = amrs.stress(str(scenario), external={"mine": Greedy()}, out=str(tmp_path / "s2.h5"))
    assert list(r2["scenarios"]["mine-only"]["agents"]) == ["mine", "random"]
    with pytest.raises(Exception, match="unknown agent 'mine'"):
        amrs.stress(str(scenario), out=str(tmp_path / "s3.h5"))
    # The report includes the stress table with the Python agent.
    log = str(tmp_path / "run.h5")
    run(data, {"mine": SecondBest()}, out=log)
    rep = tmp_path / "report"
    subprocess.run([amrs_cli(), "report", log, "--data", data, "--out", str(rep), "--no-figures", "--stress",
                    str(tmp_path / "stress.md")], check=True, capture_output=True)
    assert "### Scenario `baseline`" in (rep / "report.md").read_text()


def test_no_replay_is_the_runs_rule_for_python_agents(data):
    """Under the default rule (session) no logged action or ranked song of a Python agent is a song
    of the current session, whatever the agent returns; under "off" its own choice is kept."""
    const = Output(lambda b: np.full(b.size, 7), lambda b, k: np.tile(np.arange(7, 7 + k), (b.size, 1)))
    seen = []

    class Watch(Agent):
        def scores(self, batch):
            seen.append(np.asarray(batch.banned).copy())
            return np.zeros((batch.size, batch.num_songs))

    r = run(data, {"const": const, "watch": Watch()}, seeds=1, topk=4)["parts"]["test"]
    block = r["const"][0]
    actions, ranked = block["actions"], block["ranked"]
    for e in range(actions.shape[0]):
        played = list(actions[e])
        for t in range(1, actions.shape[1]):
            assert actions[e, t] not in played[:t]
            assert not set(ranked[e, t][ranked[e, t] >= 0]) & set(played[:t])
    assert (actions[:, 0] != actions[:, 1]).all()  # 7 was replaced after the first step
    assert seen and any(s.any() for s in seen) and all(s.dtype == bool for s in seen)
    off = run(data, {"const": const}, seeds=1, topk=4, no_replay="off")["parts"]["test"]["const"][0]
    assert (off["actions"] == 7).all()
    with pytest.raises(Exception, match="no-replay"):
        run(data, {"const": const}, seeds=1, no_replay="sometimes")


def test_an_ensemble_world_gives_python_runs_the_disagreement_and_the_error_against_the_oracle(data, tmp_path):
    world = tmp_path / "world"
    subprocess.run([amrs_cli(), "train-world", "--data", data, "--out", str(world), "--members", "2", "--epochs", "1",
                    "--d-model", "8", "--heads", "1", "--layers", "1", "--ff", "8", "--head-hidden", "8",
                    "--no-baselines"], check=True, capture_output=True)
    manifest = next(world.glob("*/split-0.ensemble.json"))
    r = amrs.rollout(data, str(manifest), {"mine": Greedy(), "random": "random"}, seeds=1,
                     utility="valence=0.5,arousal=0.5,penalty=1")
    for agent in ("mine", "random"):
        block = r["parts"]["test"][agent][0]
        shape = block["actions"].shape
        assert block["disagreement"].shape == shape and block["oracle_error"].shape == shape
        assert (block["disagreement"] > 0).all() and (block["oracle_error"] >= 0).all()
        assert block["oracle_error"].max() > 0
        assert block["oracle_feedback"].shape == shape + (4,)
        # The penalized reward: the utility of the mean prediction minus 1 x the disagreement.
        expected = 0.5 * block["valence"] + 0.5 * block["arousal"] - block["disagreement"]
        np.testing.assert_allclose(block["reward"], expected, rtol=1e-5, atol=1e-6)
    # oracle_error=False skips the replay (the CLI's --no-oracle-error); the disagreement stays.
    skipped = amrs.rollout(data, str(manifest), {"random": "random"}, seeds=1,
                           oracle_error=False)["parts"]["test"]["random"][0]
    assert "disagreement" in skipped and "oracle_error" not in skipped and "oracle_feedback" not in skipped
    single = amrs.rollout(data, "oracle", {"random": "random"}, seeds=1)["parts"]["test"]["random"][0]
    assert "disagreement" not in single and "oracle_error" not in single
