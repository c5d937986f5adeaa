#!/usr/bin/env python3
"""Figures of `amrs report` (docs/report.md), drawn from its summary.json with matplotlib (Agg).

usage: /usr/bin/python3 scripts/figures.py --summary OUT/summary.json --out OUT
Writes fig-affect-coverage.png, fig-trajectories.png and, with world-model results,
fig-world-fit.png. Exit code 3 when matplotlib is missing (the report then says so).
"""
import argparse
import json
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("figures.py: matplotlib is not installed", file=sys.stderr)
    sys.exit(3)


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp.png"
    fig.tight_layout()
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def affect_vs_coverage(table, out_dir):
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for agent in table["agents"]:
        m = table["rows"][agent].get("metrics", {})
        if not all(k in m for k in ("valence", "arousal", "coverage")):
            continue
        affect = [v + a for v, a in zip(m["valence"]["values"], m["arousal"]["values"])]
        ax.scatter(m["coverage"]["values"], affect, label=agent, alpha=0.8)
    ax.set_xlabel("coverage (fraction of catalogue)")
    ax.set_ylabel("predicted valence + arousal")
    ax.set_title("Predicted affect vs coverage (one point per seed)")
    ax.legend()
    save(fig, out_dir, "fig-affect-coverage.png")


def trajectories(table, out_dir):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True)
    for signal, ax in zip(("valence", "arousal"), axes):
        for agent in table["agents"]:
            steps = table["rows"][agent].get("step_means", {}).get(signal)
            if steps:
                ax.plot(range(1, len(steps) + 1), steps, marker="o", label=agent)
        ax.set_xlabel("rollout step")
        ax.set_ylabel("mean predicted " + signal)
        ax.set_title(signal)
    axes[0].legend()
    save(fig, out_dir, "fig-trajectories.png")


def world_fit(world, out_dir):
    signals = [("engagement_r2", "Engagement R²"), ("rating_auc", "Rating AUC"),
               ("valence_r2", "Valence R²"), ("arousal_r2", "Arousal R²")]
    rows = {}
    for file_rows in world.values():
        for name, metrics in file_rows.items():
            rows[name] = metrics
    names = sorted(rows)
    fig, axes = plt.subplots(1, len(signals), figsize=(4 * len(signals), 0.35 * len(names) + 1.8), sharey=True)
    for (key, label), ax in zip(signals, axes):
        means = [rows[n].get(key, {}).get("mean") for n in names]
        sds = [rows[n].get(key, {}).get("sd") or 0 for n in names]
        ys = [i for i, m in enumerate(means) if m is not None]
        ax.barh(ys, [means[i] for i in ys], xerr=[sds[i] for i in ys], color="tab:blue", alpha=0.8)
        ax.set_title(label)
        ax.axvline(0.5 if key == "rating_auc" else 0.0, color="grey", lw=0.8)
    axes[0].set_yticks(range(len(names)))
    axes[0].set_yticklabels(names, fontsize=7)
    save(fig, out_dir, "fig-world-fit.png")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--summary", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.summary) as f:
        s = json.load(f)
    test = s.get("table4")
    if test:
        affect_vs_coverage(test, a.out)
        trajectories(test, a.out)
    if s.get("world"):
        world_fit(s["world"], a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
