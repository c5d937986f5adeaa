"""Datasets, worlds and the Gymnasium-style envs (docs/python.md), on a tiny generated dataset."""
import numpy as np
import pytest

import amrs

SIZES = dict(users=30, sessions=120, interactions=900, songs=50, embedding_dim=8, splits=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return amrs.generate(str(tmp_path_factory.mktemp("data") / "tiny.h5"), seed=3, **SIZES)


@pytest.fixture(scope="module")
def world(data):
    return amrs.load_world("oracle", data)


def test_dataset_objects(data, tmp_path):
    assert (data.num_users, data.num_songs, data.num_splits) == (30, 50, 2)
    assert data.user_ids.shape == (30,) and len(set(data.user_ids)) == 30
    assert data.song_ids.shape == (50,) and data.song_ids.dtype == np.int64
    assert sorted(data.families) == ["clamp3", "mert"] and data.has_oracle
    emb = data.embeddings("mert")
    assert emb.shape == (50, 8) and emb.dtype == np.float32 and not emb.flags.writeable
    assert not np.array_equal(emb, data.embeddings("clamp3"))
    # Synthetic data has no per-song annotation: every song is unknown.
    assert data.song_valence.shape == (50,) and np.isnan(data.song_valence).all()
    parts = data.parts(1)
    users = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert parts["test"].dtype == np.int32 and np.array_equal(np.sort(users), np.arange(30))
    assert not np.array_equal(parts["test"], data.parts(0)["test"])
    again = amrs.Dataset(data.path)
    assert again.fingerprint == data.fingerprint
    other = amrs.generate(str(tmp_path / "other.h5"), seed=4, **SIZES)
    assert other.fingerprint != data.fingerprint
    # A report after every song only with affect_per_song; nothing else changes but the fingerprint.
    assert data.num_song_affect_reports == 0
    affect = amrs.generate(str(tmp_path / "affect.h5"), seed=3, affect_per_song=True, **SIZES)
    assert affect.num_song_affect_reports == 900
    assert affect.fingerprint != data.fingerprint
    assert np.array_equal(affect.embeddings("mert"), data.embeddings("mert"))


def test_data_errors(data, tmp_path):
    with pytest.raises(amrs.InputError, match="missing.h5"):
        amrs.Dataset(str(tmp_path / "missing.h5"))
    assert issubclass(amrs.InputError, ValueError)
    with pytest.raises(ValueError, match="mert"):
        data.embeddings("nope")
    with pytest.raises(ValueError, match="split 2"):
        data.parts(2)
    with pytest.raises(ValueError):
        amrs.generate(str(tmp_path / "bad.h5"), users=0)
    assert not (tmp_path / "bad.h5").exists()
    with pytest.raises(ValueError, match="oracle"):
        amrs.load_world("no-such-world-kind:", data)


def test_world(world, data):
    assert world.name == "oracle" and world.num_songs == 50 and world.id.startswith("oracle@")
    assert np.array_equal(world.embeddings, data.embeddings("mert"))
    assert amrs.load_world("oracle:clamp3", data).family == "clamp3"


@pytest.mark.parametrize("mode", ["next_step", "disabled"])
def test_vector_env_contract(data, world, mode):
    env = amrs.VectorEnv(data, world, 3, horizon=3, autoreset_mode=mode)
    assert amrs.envs.autoreset_mode_name(env) == mode
    amrs.check_env(env)


def test_rec_env_contract(data, world):
    env = amrs.RecEnv(data, world, horizon=2)
    amrs.check_env(env)
    obs, info = env.reset(seed=5)
    assert obs["song"].shape == (env.max_len,) and int(info["seed"]) == 5
    assert info["banned"].shape == (env.num_songs,) and info["banned"].dtype == bool
    _, r, term, trunc, _ = env.step(int(np.flatnonzero(~info["banned"])[0]))
    assert isinstance(r, float) and term is False and trunc is False
    assert env.predict(3).shape == (4,) and env.predict([1, 2]).shape == (2, 4)


def test_checker_catches_a_broken_env(data, world):
    class WrongTruncation(amrs.VectorEnv):
        def step(self, actions):
            obs, r, term, trunc, info = super().step(actions)
            return obs, r, term, np.zeros_like(trunc), info

    with pytest.raises(amrs.EnvCheckError, match="truncated"):
        amrs.check_env(WrongTruncation(data, world, 2, horizon=2))


def test_observations_follow_the_history(data, world):
    env = amrs.VectorEnv(data, world, 2, horizon=4, no_replay="off")
    obs, info = env.reset(seed=11, options={"user": data.parts(0)["test"][0], "window": 1})
    assert env.max_len == 100 + 4 + 1
    n0 = obs["length"].copy()
    assert (n0 == info["window_length"]).all()
    obs, r, _, _, info = env.step(np.array([7, 9]))
    assert np.array_equal(obs["length"], n0 + 1)
    assert np.array_equal(obs["song"][[0, 1], n0], [7, 9])
    # The appended token carries the predicted engagement only (EnvConfig defaults).
    assert np.allclose(obs["engagement"][[0, 1], n0], info["predicted"][:, 0])
    assert np.isnan(obs["rating"][[0, 1], n0]).all()


def test_determinism_and_seeding(data, world):
    def run(seed):
        env = amrs.VectorEnv(data, world, 4, horizon=3, no_replay="off")
        out = [env.reset(seed=seed)]
        rng = np.random.default_rng(0)
        for _ in range(7):  # crosses two autoresets
            out.append(env.step(rng.integers(0, 50, 4)))
        return out

    a, b, c = run(1), run(1), run(2)
    rewards = lambda t: np.stack([s[1] for s in t[1:]])  # noqa: E731
    assert np.array_equal(rewards(a), rewards(b))
    assert not np.array_equal(rewards(a), rewards(c))
    assert np.array_equal(a[0][1]["seed"], [1, 2, 3, 4])
    assert np.array_equal(a[4][4]["seed"], [5, 6, 7, 8])  # first autoreset: seed + i + num_envs


def test_score_catalogue_matches_predict(data, world):
    env = amrs.VectorEnv(data, world, 3, horizon=3, no_replay="off")
    env.reset(seed=0)
    env.step(np.array([1, 2, 3]))
    cat = env.score_catalogue()
    assert cat.shape == (3, 50, 4) and cat.dtype == np.float32
    for song in (0, 17, 49):
        assert np.allclose(cat[:, song], env.predict(np.full(3, song)), atol=1e-6)
    many = np.array([[0, 5], [6, 7], [49, 1]])
    assert np.allclose(env.predict(many), np.take_along_axis(cat, many[:, :, None], 1), atol=1e-6)
    # Asking the world does not change the episode.
    before = env.observations()
    env.score_catalogue()
    assert np.array_equal(before["length"], env.observations()["length"])
    _, r, _, _, info = env.step(np.array([4, 4, 4]))
    assert np.allclose(info["predicted"], cat[:, 4], atol=1e-6)
    assert not np.allclose(cat[0, 4], cat[0, 5])


def test_next_step_autoreset(data, world):
    env = amrs.VectorEnv(data, world, 2, horizon=2, no_replay="off")
    env.reset(seed=3)
    env.step([1, 1])
    obs, r, term, trunc, info = env.step([2, 2])
    assert trunc.all()
    obs, r, term, trunc, info = env.step([3, 3])  # ignored: this step resets
    assert (r == 0).all() and not trunc.any() and (obs["step"] == 0).all()
    assert (info["seed"] == [5, 6]).all() and np.isnan(info["predicted"]).all()
    assert not (obs["song"][np.arange(2), obs["length"] - 1] == 3).all()
    _, r, _, trunc, _ = env.step([3, 3])
    assert (r != 0).all() and not trunc.any()


def test_reset_mask_keeps_other_episodes(data, world):
    env = amrs.VectorEnv(data, world, 3, horizon=3, autoreset_mode="disabled", no_replay="off")
    ref = amrs.VectorEnv(data, world, 3, horizon=3, autoreset_mode="disabled", no_replay="off")
    for e in (env, ref):
        e.reset(seed=8)
        e.step([1, 2, 3])
    obs_before = env.observations()
    obs, info = env.reset(seed=20, options={"reset_mask": np.array([True, False, False])})
    assert list(obs["step"]) == [0, 1, 1] and list(info["seed"]) == [20, 9, 10]
    for k in ("song", "length", "user"):
        assert np.array_equal(obs[k][1:], obs_before[k][1:])
    # The kept envs go on exactly as without the reset; env 0 truncates one step later.
    _, r, _, trunc, _ = env.step([4, 5, 6])
    _, r_ref, _, _, _ = ref.step([4, 5, 6])
    assert np.allclose(r[1:], r_ref[1:], atol=1e-6)
    _, _, _, trunc, _ = env.step([4, 5, 6])
    assert list(trunc) == [False, True, True]
    with pytest.raises(ValueError, match="env 1 is truncated"):
        env.step([4, 5, 6])
    obs, _ = env.reset(options={"reset_mask": trunc})
    _, _, _, trunc, _ = env.step([4, 5, 6])
    assert list(trunc) == [True, False, False]


def test_reset_options(data, world):
    test_users = data.parts(0)["test"]
    env = amrs.VectorEnv(data, world, 2, horizon=2, no_replay="off")
    obs, info = env.reset(seed=0, options={"user": [test_users[0], test_users[1]], "window": 2})
    assert list(info["user"]) == list(test_users[:2]) and (info["window"] == 2).all()
    obs, info = env.reset(seed=0, options={"part": "train", "user": data.parts(0)["train"][3]})
    assert (info["user"] == data.parts(0)["train"][3]).all()
    for utility, weights in [("calm", [0, 0, 0.6, -0.4]), ("rating=1", [0, 1, 0, 0]),
                             ({"engagement": 0.5, "arousal": -1}, [0.5, 0, 0, -1])]:
        env.reset(seed=0, options={"utility": utility})
        assert np.allclose(env.utilities(), [weights] * 2)
        _, r, _, _, info = env.step([1, 2])
        assert np.allclose(r, info["predicted"] @ np.array(weights, np.float32), atol=1e-6)
    # Options apply to that reset only: the next autoreset uses the constructor's utility.
    env.step([1, 2])
    env.step([1, 2])
    assert np.allclose(env.utilities(), [[0, 0, 0.5, 0.5]] * 2)
    plain, _ = env.reset(seed=4)
    obs, _ = env.reset(seed=4, options={"new_session": True, "mode": 3})
    rows = np.arange(2)
    assert np.array_equal(obs["length"], plain["length"] + 1)
    assert (obs["boundary"][rows, obs["length"] - 1] == 1).all() and (obs["mode"][rows, obs["length"] - 1] == 3).all()


def test_scenario_option(data, world, tmp_path):
    scenario = tmp_path / "cold.toml"
    scenario.write_text('name = "cold"\nworld = "oracle"\ndata = "elsewhere.h5"\nagents = ["random"]\n'
                        '[history]\nkeep_last = 3\nnew_session = true\npre_valence = 0.25\npre_arousal = 0.75\n'
                        '[utility]\npreset = "sleep"\n')
    env = amrs.VectorEnv(data, world, 2, horizon=2)
    obs, _ = env.reset(seed=1, options={"scenario": str(scenario)})
    rows, last = np.arange(2), obs["length"] - 1
    assert (obs["length"] == 4).all()  # the last 3 tokens plus the new session's boundary
    assert np.allclose(obs["valence"][rows, last], 0.25) and np.allclose(obs["arousal"][rows, last], 0.75)
    assert np.allclose(env.utilities(), [[0, 0, 0.3, -0.7]] * 2)
    # Explicit options override the scenario's.
    obs, _ = env.reset(seed=1, options={"scenario": str(scenario), "pre_valence": 0.5})
    assert np.allclose(obs["valence"][rows, obs["length"] - 1], 0.5)
    scenario.write_text('name = "bad"\nno_such_key = 1\n')
    with pytest.raises(amrs.InputError, match="no_such_key"):
        env.reset(seed=1, options={"scenario": str(scenario)})


def test_errors(data, world):
    env = amrs.VectorEnv(data, world, 2, horizon=2, no_replay="off")
    with pytest.raises(ValueError, match="reset first"):
        env.step([1, 2])
    env.reset(seed=0)
    with pytest.raises(IndexError, match="action 50 of env 1"):
        env.step([1, 50])
    with pytest.raises(ValueError, match="integer"):
        env.step([1.5, 2.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step([[1, 2]])
    with pytest.raises(ValueError, match="unknown reset option 'usr'"):
        env.reset(seed=0, options={"usr": 1})
    with pytest.raises(ValueError, match="joy"):
        env.reset(seed=0, options={"utility": {"joy": 1}})
    with pytest.raises(ValueError, match="pre_arousal"):
        env.reset(seed=0, options={"new_session": True, "pre_arousal": 1.5})
    with pytest.raises(ValueError, match="mode"):
        env.reset(seed=0, options={"new_session": True, "mode": "party"})
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(seed=0, options={"reset_mask": np.array([1, 0])})
    with pytest.raises(IndexError, match="song 50"):
        env.reset(seed=0) and env.predict([0, 50])
    with pytest.raises(ValueError, match="autoreset_mode"):
        amrs.VectorEnv(data, world, 2, autoreset_mode="same_step")
    with pytest.raises(ValueError, match="horizon"):
        amrs.VectorEnv(data, world, 2, horizon=0)
    with pytest.raises(ValueError, match="split 5"):
        amrs.VectorEnv(data, world, 2, split=5)
    # A failed reset leaves no half-reset envs: a masked reset is refused until a full one.
    with pytest.raises(ValueError, match="user index 1000000"):
        env.reset(seed=0, options={"user": 10**6})
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(seed=0, options={"reset_mask": np.array([True, False])})
    env.reset(seed=0)
    env.step([1, 2])


def _session_songs(obs, row):
    """The songs after the row's last boundary token (the current session's)."""
    n = int(obs["length"][row])
    songs, boundary = obs["song"][row, :n], obs["boundary"][row, :n]
    last = np.flatnonzero(boundary)
    return set(songs[last[-1] + 1:] if last.size else songs)


def _mask(rows, songs):
    m = np.zeros((len(rows), songs), bool)
    for i, r in enumerate(rows):
        m[i, sorted(r)] = True
    return m


@pytest.mark.parametrize("rule", ["session", "episode", "off"])
def test_no_replay_banned_follows_the_rule(data, world, rule):
    env = amrs.VectorEnv(data, world, 3, horizon=4)
    obs, info = env.reset(seed=2, options={"no_replay": rule})
    rng = np.random.default_rng(0)
    played = [set() for _ in range(3)]
    banned_any = False
    for t in range(4):
        want = {"session": [_session_songs(obs, i) for i in range(3)], "episode": played,
                "off": [set()] * 3}[rule]
        assert info["banned"].shape == (3, 50) and info["banned"].dtype == bool
        assert np.array_equal(info["banned"], _mask(want, 50)), f"step {t}"
        banned_any |= info["banned"].any()
        actions = np.where(info["banned"], -1.0, rng.random((3, 50))).argmax(1)
        obs, _, _, _, info = env.step(actions)
        for i, a in enumerate(actions):
            played[i].add(int(a))
    assert banned_any == (rule != "off")
    # RecEnv: the same rows without the env axis.
    one = amrs.RecEnv(data, world, horizon=2, no_replay=rule)
    obs, info = one.reset(seed=2)
    vec_obs, vec_info = amrs.VectorEnv(data, world, 1, horizon=2, no_replay=rule).reset(seed=2)
    assert np.array_equal(info["banned"], vec_info["banned"][0])


def test_banned_actions_are_refused(data, world):
    env = amrs.VectorEnv(data, world, 3, horizon=3)  # the default rule: session
    obs, info = env.reset(seed=4)
    row = int(np.flatnonzero(info["banned"].any(1))[0])
    song = int(np.flatnonzero(info["banned"][row])[0])
    assert song in _session_songs(obs, row)
    actions = np.where(info["banned"], -1.0, np.random.default_rng(1).random((3, 50))).argmax(1)
    bad = actions.copy()
    bad[row] = song
    with pytest.raises(ValueError, match=rf"step: action {song} at row {row} is banned by no_replay=session "
                                         r"\(a song of the current session\)"):
        env.step(bad)
    assert (env.observations()["step"] == 0).all()  # no env stepped
    env.step(actions)
    with pytest.raises(ValueError, match="is banned by no_replay=session"):  # the session now holds it
        env.step(actions)
    # episode: the episode's own songs only; off: any song, replays too.
    env.reset(seed=4, options={"no_replay": "episode"})
    _, _, _, _, info = env.step(bad)  # the window's session songs are allowed
    again = (bad + 1) % 50
    again[row] = song
    with pytest.raises(ValueError, match=rf"action {song} at row {row} is banned by no_replay=episode "
                                         r"\(a song this episode already recommended\)"):
        env.step(again)
    env.reset(seed=4, options={"no_replay": "off"})
    env.step(bad)
    _, _, _, _, info = env.step(bad)
    assert not info["banned"].any()
    one = amrs.RecEnv(data, world, horizon=3, no_replay="episode")
    one.reset(seed=4)
    one.step(7)
    with pytest.raises(ValueError, match="action 7 at row 0 is banned by no_replay=episode"):
        one.step(7)


def test_no_replay_option_is_validated(data, world):
    env = amrs.VectorEnv(data, world, 2, horizon=2)
    with pytest.raises(ValueError, match="reset option 'no_replay': 'sometimes' is not one of session, episode, off"):
        env.reset(seed=0, options={"no_replay": "sometimes"})
    with pytest.raises(ValueError, match="reset option 'no_replay': expected"):
        env.reset(seed=0, options={"no_replay": 1})
    with pytest.raises(ValueError, match="VectorEnv: 'no_replay': 'always' is not one of"):
        amrs.VectorEnv(data, world, 2, no_replay="always")
    with pytest.raises(ValueError, match="'no_replay'"):
        amrs.RecEnv(data, world, no_replay=None)


def test_no_replay_across_masked_resets_and_autoresets(data, world):
    # A masked reset keeps the other envs' episodes, and their episode bans.
    env = amrs.VectorEnv(data, world, 2, horizon=3, autoreset_mode="disabled", no_replay="episode")
    env.reset(seed=6)
    env.step([11, 12])
    _, info = env.reset(seed=30, options={"reset_mask": np.array([True, False])})
    assert not info["banned"][0].any() and np.flatnonzero(info["banned"][1]).tolist() == [12]
    with pytest.raises(ValueError, match="action 12 at row 1 is banned by no_replay=episode"):
        env.step([11, 12])
    env.step([11, 13])
    # Autoresets use the constructor's rule; a truncated env's ignored action is never refused.
    env = amrs.VectorEnv(data, world, 2, horizon=2, no_replay="episode")
    env.reset(seed=6, options={"no_replay": "off"})
    env.step([0, 0])
    env.step([0, 0])  # off: a replay
    _, _, _, _, info = env.step([0, 0])  # autoreset, under episode
    env.step([0, 0])
    _, _, _, trunc, info = env.step([1, 1])
    assert trunc.all() and np.flatnonzero(info["banned"][0]).tolist() == [0, 1]
    _, r, _, trunc, info = env.step([0, 0])  # ignored: resets (the core's own step must be allowed)
    assert (r == 0).all() and not info["banned"].any()
