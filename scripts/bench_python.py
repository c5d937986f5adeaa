#!/usr/bin/python3
"""Measured, not tested: env-steps per second of the Python amrs.VectorEnv against the C++
VectorEnv on the same data and learned world, and against ../shared/bench/py_env_baseline.py
(a plain Python + PyTorch env around a model of the same size). Prints the numbers.

Usage (from the repository root, after the build):
  PYTHONPATH=build/python /usr/bin/python3 scripts/bench_python.py [--seconds 5] [--out out/bench-python]

It generates a small synthetic dataset, saves an untrained-size learned world with
`amrs train-world --epochs 1` (speed does not depend on training), then times random actions at
1 and 256 envs. Both sides time the step call plus drawing the actions; resets are not timed
(as in `amrs bench`). Random actions may replay a song, so the envs run with no_replay="off"
(a banned action would be refused). The baseline needs PyTorch for Python (Debian: python3-torch); it is
skipped with a note when torch is missing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

import amrs
from amrs import _amrs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_rate(data, world, n, seconds, horizon):
    env = amrs.VectorEnv(data, world, n, horizon=horizon, autoreset_mode="disabled", no_replay="off")
    rng = np.random.default_rng(0)
    steps, timed, seed = 0, 0.0, 1
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or steps == 0:
        env.reset(seed=seed)
        seed += n
        for _ in range(horizon):
            t0 = time.perf_counter()
            env.step(rng.integers(0, env.num_songs, n))
            timed += time.perf_counter() - t0
            steps += n
    return steps / timed


def python_rate_with_resets(data, world, n, seconds, horizon):
    """The same with next-step autoreset, everything timed (what a training loop sees)."""
    env = amrs.VectorEnv(data, world, n, horizon=horizon, no_replay="off")
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or steps == 0:
        for _ in range(horizon + 1):  # horizon steps plus the autoreset step
            env.step(rng.integers(0, env.num_songs, n))
        steps += n * horizon
    return steps / (time.perf_counter() - start)


def baseline(path, seconds, songs):
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, "PyTorch for Python is not installed (Debian: apt install python3-torch)"
    out = subprocess.run([sys.executable, path, "--seconds", str(seconds), "--songs", str(songs)],
                         capture_output=True, text=True, check=True).stdout
    rates = {k: float(v) for k, v in re.findall(r"python (single-env loop|batched B=256).*?: (\d+) env-steps/s", out)}
    return rates, out.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5, help="seconds per measurement")
    ap.add_argument("--out", default="out/bench-python", help="folder for the dataset and the world")
    ap.add_argument("--amrs", default=shutil.which("amrs") or os.path.join(ROOT, "build", "cli", "amrs"),
                    help="the amrs command (to save the world)")
    ap.add_argument("--baseline", default=os.path.join(ROOT, "..", "shared", "bench", "py_env_baseline.py"))
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--songs", type=int, default=2000)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "synthetic.h5")
    data = amrs.generate(path, seed=0, users=args.users, sessions=8 * args.users, interactions=60 * args.users,
                         songs=args.songs, embedding_dim=128, splits=1)
    ckpt = os.path.join(args.out, "world", "factorized-mert+pe", "split-0.pt")
    if not os.path.exists(ckpt):
        r = subprocess.run([args.amrs, "train-world", "--data", path, "--out", os.path.join(args.out, "world"),
                            "--epochs", "1"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{args.amrs} train-world failed:\n{r.stderr}")
    world = amrs.load_world(ckpt, data)
    print(f"dataset {path}: {data.num_users} users, {data.num_songs} songs; world {world.name}; "
          f"horizon {args.horizon}; {args.seconds:g} s per measurement; {os.cpu_count()} CPUs")

    rows = []
    for n in (1, 256):
        cpp = _amrs._bench_cpp_env(world, n, seconds=args.seconds, agent="random", horizon=args.horizon)
        py = python_rate(data, world, n, args.seconds, args.horizon)
        py_all = python_rate_with_resets(data, world, n, args.seconds, args.horizon)
        rows.append((n, cpp, py, py_all))
    print(f"{'envs':>5} {'C++ VectorEnv':>15} {'amrs.VectorEnv':>15} {'Python/C++':>11} {'Python incl. resets':>20}")
    for n, cpp, py, py_all in rows:
        print(f"{n:>5} {cpp:>15.0f} {py:>15.0f} {py / cpp:>11.2f} {py_all:>20.0f}")

    rates, text = baseline(args.baseline, args.seconds, data.num_songs)
    if rates is None:
        print(f"baseline {args.baseline}: skipped: {text}")
        return
    print(f"baseline {os.path.normpath(args.baseline)} (its default: 1 torch thread):")
    print("  " + text.replace("\n", "\n  "))
    single, batched = rates.get("single-env loop"), rates.get("batched B=256")
    if single:
        print(f"amrs.VectorEnv at 1 env / baseline single-env loop: {rows[0][2] / single:.1f}x")
    if batched:
        print(f"amrs.VectorEnv at 256 envs / baseline batched B=256: {rows[1][2] / batched:.1f}x")


if __name__ == "__main__":
    main()
