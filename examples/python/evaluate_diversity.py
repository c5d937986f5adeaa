"""Evaluates the diversity re-ranker (diversity_agent.py) next to Copycat, DPO, Random and Greedy,
stress-tests them with the bundled scenarios and writes the report (docs/python.md).

With the quickstart's files (out/synthetic.h5, out/world/factorized-mert+pe/split-0.pt,
out/policy/{copycat,dpo}-seed-*.pt) it evaluates under the learned world, then the test users under
the oracle. Without them it generates a small dataset, trains Copycat and DPO on it and evaluates
under the oracle. Run from the repository root after the build:

    PYTHONPATH=build/python /usr/bin/python3 examples/python/evaluate_diversity.py
"""
import argparse
import glob
import os
import subprocess
import sys
import time

import amrs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diversity_agent import DiversityReranker  # noqa: E402


def sh(*cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quickstart", default="out", help="the quickstart's output folder")
    p.add_argument("--out-dir", default="out/python-example")
    p.add_argument("--amrs", default="build/cli/amrs", help="the amrs CLI")
    p.add_argument("--seeds", type=int, default=0, help="seeds 0..N-1 (0: 5 with the quickstart, else 3)")
    p.add_argument("--parts", default="test", help="parts under the learned world, e.g. test,val,train")
    p.add_argument("--penalty", type=float, default=0.1, help="the re-ranker's similarity penalty")
    p.add_argument("--no-stress", action="store_true", help="skip the stress scenarios")
    p.add_argument("--figures", action="store_true", help="let the report draw figures (needs matplotlib)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)

    q = a.quickstart
    data, world = f"{q}/synthetic.h5", f"{q}/world/factorized-mert+pe/split-0.pt"
    policy = f"{q}/policy"
    quickstart = all(os.path.exists(f) for f in (data, world, f"{policy}/copycat-seed-0.pt", f"{policy}/dpo-seed-0.pt"))
    seeds = a.seeds or (5 if quickstart else 3)
    if not quickstart:  # a small dataset with an oracle, and Copycat and DPO trained on it
        data, world, policy = f"{a.out_dir}/small.h5", "oracle", f"{a.out_dir}/policy"
        if not os.path.exists(data):
            sh(a.amrs, "generate", "--users", "120", "--sessions", "900", "--interactions", "6000", "--songs", "300",
               "--embedding-dim", "16", "--splits", "2", "--out", data)
        sh(a.amrs, "train-policy", "--kind", "copycat", "--data", data, "--seeds", str(seeds), "--out-dir", policy)
        sh(a.amrs, "train-policy", "--kind", "dpo", "--data", data, "--world", "oracle", "--seeds", str(seeds),
           "--out-dir", policy)
    params = {"copycat": f"{policy}/copycat-seed-{{seed}}.pt", "dpo": f"{policy}/dpo-seed-{{seed}}.pt"}
    agents = {"copycat": "copycat", "dpo": "dpo", "random": "random", "greedy": "greedy",
              "diverse": DiversityReranker(a.penalty)}

    t0 = time.time()
    r = amrs.evaluate(data, world, agents, out_dir=f"{a.out_dir}/eval", parts=a.parts.split(","), seeds=seeds,
                      params=params, oracle="yes" if quickstart else "no", threads=a.threads)
    print(f"evaluate: {len(agents)} agents x {seeds} seeds in {time.time() - t0:.1f} s; logs {', '.join(r['logs'])}")
    for name, result in (("world", r["learned"]), ("oracle", r["oracle"])):
        for part, means in (result or {"summary": {}})["summary"].items():
            for agent, m in means.items():
                print(f"  {name:6s} {part:5s} {agent:8s} reward {m['reward']:.4f} valence {m['valence']:.4f} "
                      f"arousal {m['arousal']:.4f} rating {m['rating']:.4f} engagement {m['engagement']:.4f}")

    report = [a.amrs, "report", *r["logs"], "--data", data, "--out", f"{a.out_dir}/report"]
    if not a.figures:
        report.append("--no-figures")
    if not a.no_stress:
        t0 = time.time()
        scenarios = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "*.toml")))
        s = amrs.stress(scenarios, {**agents, "guarded(dpo)": "guarded(dpo)"}, data=data, world=world, params=params,
                        out=f"{a.out_dir}/stress.h5", threads=a.threads)
        print(s["table"], end="")
        print(f"stress: {len(scenarios)} scenarios in {time.time() - t0:.1f} s; wrote {s['out']} and {s['markdown_file']}")
        report += ["--stress", s["markdown_file"]]
    sh(*report)


if __name__ == "__main__":
    main()
