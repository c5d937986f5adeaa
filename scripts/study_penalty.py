#!/usr/bin/env python3
"""The table of the uncertainty-penalty study (scripts/study_penalty.sh, docs/ensembles.md).

    study_penalty.py OUT LAMBDA...

Reads OUT/lambda-<l>/report/summary.json (the ensemble world, test part, with the episodes
replayed in the oracle) and OUT/lambda-<l>/report-oracle/summary.json (the oracle world, test
part). Per agent (dpo, greedy) and lambda: the predicted gain over copycat and the true gain of the
same actions, paired by seed, and the exploitation gap = predicted - true, for valence and
arousal, with a paired t-test against the first lambda; coverage, Gini, the mean disagreement and
its Spearman correlation with the error against the oracle. Standard library only.
"""
import json
import math
import sys


def betacf(a, b, x):
    """Continued fraction of the incomplete beta function (Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def betai(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    bt = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * betacf(a, b, x) / a
    return 1.0 - bt * betacf(b, a, 1.0 - x) / b


def paired_p(x, y):
    """Two-sided paired t-test p-value; nan when undefined."""
    d = [a - b for a, b in zip(x, y)]
    n = len(d)
    if n < 2:
        return float("nan")
    m = sum(d) / n
    var = sum((v - m) ** 2 for v in d) / (n - 1)
    if var == 0:
        return 1.0 if m == 0 else 0.0
    t = m / math.sqrt(var / n)
    df = n - 1
    return betai(df / 2.0, 0.5, df / (df + t * t))


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def sd(v):
    if len(v) < 2:
        return float("nan")
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def values(summary, agent, key):
    return summary["table4"]["rows"][agent]["metrics"][key]["values"]


def replayed(summary, agent, key):
    """Per-seed values of an uncertainty key (oracle_valence, ...) of the learned-world log."""
    return summary["uncertainty"]["test"][agent][key]["values"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, lambdas = sys.argv[1], sys.argv[2:]
    data = {}
    for lam in lambdas:
        with open(f"{out}/lambda-{lam}/report/summary.json") as f:
            learned = json.load(f)
        with open(f"{out}/lambda-{lam}/report-oracle/summary.json") as f:
            oracle = json.load(f)
        data[lam] = (learned, oracle)
    gaps = {}
    print("| lambda | agent | valence gain predicted / true | valence gap (p vs lambda 0) | arousal gain predicted / true |"
          " arousal gap (p vs lambda 0) | coverage | Gini | disagreement | Spearman(disagreement, error) |"
          " utility gain predicted / true | utility gap (p vs lambda 0) |"
          " closed-loop oracle gain valence / arousal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for agent in ["copycat", "dpo", "greedy"]:
        for lam in lambdas:
            learned, oracle = data[lam]
            cells = []
            for sig in ["valence", "arousal"]:
                if agent == "copycat":
                    cells += ["(reference)", ""]
                    continue
                # Predicted gain over copycat, and the true gain of the same actions (replayed in
                # the oracle), paired by seed.
                gp = [a - c for a, c in zip(values(learned, agent, sig), values(learned, "copycat", sig))]
                gt = [a - c for a, c in zip(replayed(learned, agent, "oracle_" + sig),
                                            replayed(learned, "copycat", "oracle_" + sig))]
                gap = [a - b for a, b in zip(gp, gt)]
                gaps[(agent, sig, lam)] = gap
                base = gaps.get((agent, sig, lambdas[0]))
                p = "" if lam == lambdas[0] else f" (p {paired_p(gap, base):.3g})"
                cells += [f"{mean(gp):+.4f} / {mean(gt):+.4f}", f"{mean(gap):+.4f} (SD {sd(gap):.4f}){p}"]
            # The utility 0.5 valence + 0.5 arousal (the study's, without the penalty).
            if agent == "copycat":
                ucells = ["(reference)", ""]
            else:
                up = [0.5 * (a - c) for a, c in zip(values(learned, agent, "valence"), values(learned, "copycat", "valence"))]
                up = [x + 0.5 * (a - c) for x, a, c in zip(up, values(learned, agent, "arousal"),
                                                          values(learned, "copycat", "arousal"))]
                ut = [0.5 * (a - c) for a, c in zip(replayed(learned, agent, "oracle_valence"),
                                                   replayed(learned, "copycat", "oracle_valence"))]
                ut = [x + 0.5 * (a - c) for x, a, c in zip(ut, replayed(learned, agent, "oracle_arousal"),
                                                          replayed(learned, "copycat", "oracle_arousal"))]
                ugap = [a - b for a, b in zip(up, ut)]
                gaps[(agent, "utility", lam)] = ugap
                base = gaps.get((agent, "utility", lambdas[0]))
                p = "" if lam == lambdas[0] else f" (p {paired_p(ugap, base):.3g})"
                ucells = [f"{mean(up):+.4f} / {mean(ut):+.4f}", f"{mean(ugap):+.4f} (SD {sd(ugap):.4f}){p}"]
            cov = f"{mean(values(learned, agent, 'coverage')):.4f}"
            gini = f"{mean(values(learned, agent, 'gini')):.4f}"
            u = learned.get("uncertainty", {}).get("test", {}).get(agent, {})
            dis = f"{u['mean']:.4f}" if "mean" in u else "n/a"
            rho = (f"{u['disagreement_error_spearman']['mean']:+.3f} (SD {u['disagreement_error_spearman']['sd']:.3f})"
                   if "disagreement_error_spearman" in u else "n/a")
            closed = "(reference)" if agent == "copycat" else " / ".join(
                f"{mean([a - c for a, c in zip(values(oracle, agent, sig), values(oracle, 'copycat', sig))]):+.4f}"
                for sig in ["valence", "arousal"])
            print(f"| {lam} | {agent} | " + " | ".join(cells) + f" | {cov} | {gini} | {dis} | {rho} | " + " | ".join(ucells) + f" | {closed} |")
    print()
    print("Gains over copycat, paired by seed, mean over seeds. Predicted: under the ensemble (its members' mean). "
          "True: the same actions replayed in the oracle (oracle_valence, oracle_arousal). Gap = predicted gain - "
          "true gain (the exploitation gap); p: two-sided paired t-test of the per-seed gaps against lambda "
          f"{lambdas[0]}. Coverage, Gini, disagreement and its Spearman correlation with the error against the oracle: "
          "the ensemble runs (test part). Closed-loop oracle gain: the agent run in the oracle world itself "
          "(amrs evaluate's oracle log; Greedy there is the oracle's own argmax, whatever lambda).")


if __name__ == "__main__":
    main()
