"""Overhead of a Python agent in amrs.rollout: amrs.agents.Greedy (numpy argmax of the utility of
batch.score_catalogue()) against the built-in greedy (C++), same data, world, users and seeds.
Prints seconds, steps per second and the ratio (docs/python.md, "Measured").

    PYTHONPATH=build/python /usr/bin/python3 examples/python/bench_agent_overhead.py DATA.h5 [WORLD] [--seeds N]
"""
import argparse
import time

import numpy as np

import amrs
from amrs.agents import Greedy


def timed(data, world, agents, a, threads):
    t0 = time.perf_counter()
    r = amrs.rollout(data, world, agents, seeds=a.seeds, part=a.part, max_users=a.max_users, threads=threads)
    return time.perf_counter() - t0, r


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("world", nargs="?", default="oracle")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--part", default="test")
    p.add_argument("--max-users", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    timed(a.data, a.world, ["greedy"], a, 1)  # warm-up: loads the world once into the page cache
    rows = []
    for label, agents, threads in (("built-in greedy, 1 thread", ["greedy"], 1),
                                   ("Python greedy, 1 thread", {"pygreedy": Greedy()}, 1),
                                   ("built-in greedy, all threads", ["greedy"], 0),
                                   ("Python greedy, all threads", {"pygreedy": Greedy()}, 0)):
        best, r = min((timed(a.data, a.world, agents, a, threads) for _ in range(a.repeats)), key=lambda x: x[0])
        block = next(iter(next(iter(r["parts"].values())).values()))
        steps = sum(b["actions"].size for b in block.values())
        rows.append((label, best, steps, r))
        print(f"{label:30s} {best:8.3f} s  {steps / best:10.0f} steps/s  ({steps} steps)")
    same = all(np.array_equal(rows[0][3]["parts"][a.part]["greedy"][s]["actions"],
                              rows[1][3]["parts"][a.part]["pygreedy"][s]["actions"]) for s in range(a.seeds))
    print(f"Python / built-in time at 1 thread: {rows[1][1] / rows[0][1]:.2f}x; same actions: {same}")
    print(f"Python / built-in time at all threads: {rows[3][1] / rows[2][1]:.2f}x")


if __name__ == "__main__":
    main()
