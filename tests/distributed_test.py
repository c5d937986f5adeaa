#!/usr/bin/python3
"""Distributed runs of the `amrs` binary (CTest `distributed`, docs/distributed.md): a launcher
here starts 2 ranks on 127.0.0.1 with a free port and torchrun's variables (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT), as torchrun would, so no torchrun is needed. Checks:

- rollout, evaluate and stress with 2 ranks write the same bytes as 1 process;
- train-world with 2 ranks predicts what the 1-process model predicts (within 1e-4, dropout 0),
  Copycat and DPO with 2 ranks print the same losses (4 decimals) as 1 process;
- a rank killed mid-run makes the other exit with status 4 within the timeout, naming the rank
  and the phase, and leaves no output; a rank that cannot reach its peers gives up after the
  timeout; ranks with different options or datasets are refused at start-up (status 4);
- the real `torchrun --no_python` and `mpirun` lines of docs/distributed.md, when installed
  (skipped with a message otherwise).

usage: distributed_test.py AMRS_BINARY
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

AMRS = os.path.abspath(sys.argv[1])
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, rank, world, port, cwd=".", timeout_s=20, extra_env=None):
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), AMRS_DIST_TIMEOUT=str(timeout_s))
    env.update(extra_env or {})
    return subprocess.Popen([AMRS] + [str(a) for a in args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def launch(args, world=2, per_rank=None, cwd=None, timeout=120):
    """Starts `world` ranks of amrs ARGS (per_rank[r] replaces args for rank r); returns [(rc, out, err)]."""
    port = free_port()
    procs = [start(per_rank[r] if per_rank else args, r, world, port, cwd[r] if cwd else ".") for r in range(world)]
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
            check(False, "rank timed out: %s" % " ".join(map(str, args)))
        out.append((p.returncode, o.decode(), e.decode()))
    return out


def single(args):
    p = subprocess.run([AMRS] + [str(a) for a in args], capture_output=True)
    check(p.returncode == 0, "1 process: exit %d: %s\n%s" % (p.returncode, " ".join(map(str, args)), p.stderr.decode()[-800:]))
    return p.stdout.decode(), p.stderr.decode()


def same_bytes(a, b, what):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        check(fa.read() == fb.read(), "%s: %s and %s differ" % (what, a, b))


def leftovers(folder):
    return [f for f in os.listdir(folder) if ".tmp" in f]


def main():
    work = tempfile.mkdtemp(prefix="amrs-dist-test-")
    os.chdir(work)
    subprocess.run([AMRS] + [str(a) for a in ["generate", "--out", "d.h5", "--users", 40, "--sessions", 200,
                   "--interactions", 1300, "--songs", 120, "--embedding-dim", 16, "--splits", 2]],
                   check=True, capture_output=True)
    model = ["--d-model", 8, "--heads", 1, "--layers", 1, "--ff", 8, "--head-hidden", 8, "--dropout", 0,
             "--epochs", 2, "--splits", 0, "--preset", "default", "--no-baselines"]

    # --- train-world: 2 ranks against 1 process --------------------------------------------------
    _, err1 = single(["train-world", "--data", "d.h5", "--out", "w1"] + model)
    r = launch(["train-world", "--data", "d.h5", "--out", "w2"] + model)
    check(all(rc == 0 for rc, _, _ in r), "train-world 2 ranks: exits %s\n%s" % ([x[0] for x in r], r[0][2][-800:] + r[1][2][-800:]))
    check(r[1][1] == "" and r[1][2] == "", "rank 1 printed something:\n%s%s" % (r[1][1][-400:], r[1][2][-400:]))
    epochs1 = re.findall(r"epoch \d+/\d+ .*", err1)
    epochs2 = re.findall(r"epoch \d+/\d+ .*", r[0][2])
    check(len(epochs1) == 2 and [e.strip() for e in epochs1] == [e.strip() for e in epochs2],
          "train-world: the epoch lines (train and validation losses, 4 decimals) differ:\n%s\n%s" % (epochs1, epochs2))
    w1 = "w1/factorized-mert+pe/split-0.pt"
    w2 = "w2/factorized-mert+pe/split-0.pt"
    check(os.path.isfile(w2) and not os.path.exists(w2 + ".resume"), "train-world 2 ranks: no %s (or a resume file left)" % w2)
    # The two models' predictions along the same episodes (random agent: actions do not depend on
    # the world), read back from the logs: within 1e-4.
    for w, log in ((w1, "p1.h5"), (w2, "p2.h5")):
        single(["rollout", "--data", "d.h5", "--world", w, "--agents", "random", "--seeds", 2, "--out", log])
    import h5py
    import numpy as np
    with h5py.File("p1.h5") as a, h5py.File("p2.h5") as b:
        worst = 0.0
        for seed in ("seed-0", "seed-1"):
            g1, g2 = a["runs/random/" + seed], b["runs/random/" + seed]
            check(np.array_equal(g1["actions"][()], g2["actions"][()]), "random agent's actions differ between the worlds")
            for s in ("engagement", "rating", "valence", "arousal"):
                worst = max(worst, float(np.max(np.abs(g1[s][()] - g2[s][()]))))
        print("train-world, 2 ranks vs 1 process: largest prediction difference %.3g (tolerance 1e-4)" % worst)
        check(worst <= 1e-4, "train-world: 2-rank predictions differ from 1-process ones by %g > 1e-4" % worst)

    # Resume with another rank count: 2 ranks stopped after epoch 2 of 12 (--stop-after), resumed
    # by 1 process; the model predicts what an uninterrupted 1-process run predicts (within 1e-4).
    long_model = [a if a != 2 else 12 for a in model]  # --epochs 12
    assert long_model[long_model.index("--epochs") + 1] == 12
    single(["train-world", "--data", "d.h5", "--out", "u1"] + long_model)
    r = launch(["train-world", "--data", "d.h5", "--out", "u2", "--stop-after", 2] + long_model)
    check([x[0] for x in r] == [0, 0] and "stopped after epoch 2" in r[0][1],
          "2 ranks with --stop-after 2: exits %s\n%s" % ([x[0] for x in r], r[0][1][-400:] + r[0][2][-400:]))
    resume = "u2/factorized-mert+pe/split-0.pt.resume"
    check(os.path.isfile(resume) and not os.path.exists("u2/factorized-mert+pe/split-0.pt"),
          "2 ranks stopped after epoch 2: want a resume file and no checkpoint, have %s" % os.listdir("u2/factorized-mert+pe"))
    _, err = single(["train-world", "--data", "d.h5", "--out", "u2"] + long_model)
    check(re.search(r"resuming from .* after epoch [2-9]", err), "1 process did not resume the 2-rank run:\n%s" % err[-600:])
    for w, log in (("u1/factorized-mert+pe/split-0.pt", "q1.h5"), ("u2/factorized-mert+pe/split-0.pt", "q2.h5")):
        single(["rollout", "--data", "d.h5", "--world", w, "--agents", "random", "--seeds", 1, "--out", log])
    with h5py.File("q1.h5") as a, h5py.File("q2.h5") as b:
        worst = max(float(np.max(np.abs(a["runs/random/seed-0/" + s][()] - b["runs/random/seed-0/" + s][()])))
                    for s in ("engagement", "rating", "valence", "arousal"))
    print("train-world, 2 ranks resumed by 1 process vs 1 process: largest prediction difference %.3g" % worst)
    check(worst <= 1e-4, "train-world resumed with another rank count: predictions differ by %g > 1e-4" % worst)

    # --- Copycat and DPO: the same losses ----------------------------------------------------------
    policy = ["--data", "d.h5", "--seeds", 2, "--epochs", 2, "--max-train-users", 12, "--d-model", 8, "--layers", 1]
    for kind, extra in (("copycat", []), ("dpo", ["--world", "oracle", "--max-pairs", 24])):
        _, e1 = single(["train-policy", "--kind", kind, "--out-dir", "pol1"] + extra + policy)
        r = launch(["train-policy", "--kind", kind, "--out-dir", "pol2"] + extra + policy)
        check(all(rc == 0 for rc, _, _ in r), "train-policy %s 2 ranks: exits %s\n%s" % (kind, [x[0] for x in r], r[0][2][-800:] + r[1][2][-800:]))
        pat = r"%s seed (\d) epoch (\d+)/\d+: (.*) \([\d.]+ s(?:; training \d+ tokens/s)?\)" % kind
        l1, l2 = sorted(re.findall(pat, e1)), sorted(re.findall(pat, r[0][2]))
        check(len(l1) == 4 and l1 == l2, "train-policy %s: epoch lines differ:\n%s\n%s" % (kind, l1, l2))
        for s in (0, 1):
            check(os.path.isfile("pol2/%s-seed-%d.pt" % (kind, s)), "train-policy %s 2 ranks wrote no seed %d" % (kind, s))

    # --- rollout, evaluate, stress: the same bytes ---------------------------------------------------
    roll = ["rollout", "--data", "d.h5", "--world", w1, "--agents", "random,greedy", "--seeds", 3, "--batch", 4]
    single(roll + ["--out", "r1.h5"])
    r = launch(roll + ["--out", "r2.h5"])
    check(all(rc == 0 for rc, _, _ in r), "rollout 2 ranks: exits %s\n%s" % ([x[0] for x in r], r[0][2][-800:]))
    same_bytes("r1.h5", "r2.h5", "rollout, 2 ranks vs 1 process")
    r3 = launch(roll + ["--out", "r3.h5"], world=3)
    check(all(rc == 0 for rc, _, _ in r3), "rollout 3 ranks: exits %s\n%s" % ([x[0] for x in r3], r3[0][2][-800:]))
    same_bytes("r1.h5", "r3.h5", "rollout, 3 ranks vs 1 process")
    ev = ["evaluate", "--data", "d.h5", "--world", w1, "--agents", "random,greedy,copycat", "--seeds", 2, "--parts",
          "test,val", "--param", "copycat=pol1/copycat-seed-{seed}.pt", "--batch", 8]
    single(ev + ["--out-dir", "e1"])
    r = launch(ev + ["--out-dir", "e2"])
    check(all(rc == 0 for rc, _, _ in r), "evaluate 2 ranks: exits %s\n%s" % ([x[0] for x in r], r[0][2][-800:]))
    for f in ("test.h5", "val.h5", "test-oracle.h5"):
        same_bytes("e1/" + f, "e2/" + f, "evaluate " + f)
    st = ["stress", os.path.join(SRC, "scenarios", "baseline.toml"), "--data", "d.h5", "--world", "oracle",
          "--agents", "random,greedy", "--no-replay", "off", "-q"]
    p1 = subprocess.run([AMRS] + st + ["--out", "s1.h5"], capture_output=True)
    r = launch(st + ["--out", "s2.h5"])
    check(p1.returncode in (0, 3) and [x[0] for x in r] == [p1.returncode] * 2,
          "stress: 1 process exit %d, 2 ranks %s\n%s" % (p1.returncode, [x[0] for x in r], r[0][2][-800:]))
    same_bytes("s1.h5", "s2.h5", "stress .h5")
    same_bytes("s1.md", "s2.md", "stress .md")
    check(r[0][1] == p1.stdout.decode(), "stress: rank 0's table differs from the 1-process one")

    # --- failures ------------------------------------------------------------------------------------
    os.makedirs("killed", exist_ok=True)
    long_run = ["rollout", "--data", "d.h5", "--world", "oracle", "--agents", "greedy", "--seeds", 400, "--batch", 2,
                "--threads", 1, "--out", "killed/run.h5"]

    def signal_rank1(sig, timeout_s):
        """Starts 2 ranks of long_run, sends `sig` to rank 1 once rank 0 is a few blocks in; returns
        rank 0's exit status, stderr and the seconds it took to exit after the signal."""
        port = free_port()
        p0, p1 = (start(long_run, r, 2, port, timeout_s=timeout_s) for r in (0, 1))
        seen = b""
        while b"seed 3 " not in seen:
            line = p0.stderr.readline()
            if not line:
                break
            seen += line
        p1.send_signal(sig)
        t_sig = time.time()
        try:
            _, e0 = p0.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p0.kill()
            _, e0 = p0.communicate()
        took = time.time() - t_sig
        p1.kill()
        p1.wait()
        return p0.returncode, e0.decode(), took

    # A rank killed mid-run: the other exits 4 about 2 s later naming rank 1 and the phase; no log.
    rc, e0, took = signal_rank1(signal.SIGKILL, 15)
    print("a killed rank 1: rank 0 exited %d after %.1f s: %s" % (rc, took, e0.strip().splitlines()[-1:]))
    check(rc == 4, "rank 0 after rank 1 was killed: exit %d, want 4:\n%s" % (rc, e0[-600:]))
    check(took < 10, "rank 0 took %.1f s to give up after rank 1 was killed (a reset connection: about 2 s)" % took)
    check(re.search(r"^amrs rollout: rank 0 of 2: error: distributed: 'rollouts of 'greedy', seed \d+.*rank 1 did not respond", e0, re.M),
          "rank 0's error does not name the phase and rank 1:\n%s" % e0[-600:])
    check(os.listdir("killed") == [], "a killed run left %s" % os.listdir("killed"))

    # A hung rank (stopped): the other gives up after the timeout (5 s here) plus at most 2 s.
    rc, e0, took = signal_rank1(signal.SIGSTOP, 5)
    print("a hung rank 1: rank 0 exited %d after %.1f s" % (rc, took))
    check(rc == 4 and re.search(r"rank 1 did not respond", e0) and 4 < took < 5 + 2 + 8,
          "a hung rank 1: rank 0 exit %d after %.1f s (want 4 after 5-7 s, 15 s at most under load):\n%s" % (rc, took, e0[-600:]))
    check(os.listdir("killed") == [], "a hung run left %s" % os.listdir("killed"))

    # A rank that fails on its own (here: a missing input on rank 1 only): the other names it.
    os.makedirs("a", exist_ok=True), os.makedirs("b", exist_ok=True)
    shutil.copy("d.h5", "a/d.h5")
    r = launch(["rollout", "--data", "d.h5", "--world", "oracle", "--seeds", 1, "--out", "run.h5"], cwd=["a", "b"])
    check(r[1][0] == 1 and r[0][0] == 4, "missing input on rank 1: exits %s, want [4, 1]" % [x[0] for x in r])
    check("rank 1 failed: " in r[0][2] and "d.h5" in r[0][2], "rank 0 does not relay rank 1's error:\n%s" % r[0][2][-600:])
    check(not os.path.exists("a/run.h5"), "a failed run left a/run.h5")

    # Different datasets under the same path: refused at start-up by the fingerprint check.
    subprocess.run([AMRS] + [str(a) for a in ["generate", "--out", "b/d.h5", "--users", 40, "--sessions", 200,
                   "--interactions", 1300, "--songs", 120, "--embedding-dim", 16, "--splits", 2, "--seed", 7]],
                   check=True, capture_output=True)
    r = launch(["rollout", "--data", "d.h5", "--world", "oracle", "--seeds", 1, "--out", "run.h5"], cwd=["a", "b"])
    check([x[0] for x in r] == [4, 4] and all("differs from rank 0's" in x[2] for x in r),
          "different datasets: exits %s, want [4, 4] with 'differs':\n%s" % ([x[0] for x in r], r[0][2][-600:]))
    check(not os.path.exists("a/run.h5"), "a refused run left a/run.h5")
    # Different options: refused with both exit statuses 4, nothing written.
    r = launch(None, per_rank=[roll + ["--out", "m.h5"], roll[:-2] + ["--batch", 5, "--out", "m.h5"]])
    check([x[0] for x in r] == [4, 4] and all("command line differs from rank 0's" in x[2] for x in r),
          "mismatched options: exits %s, want [4, 4]:\n%s" % ([x[0] for x in r], r[0][2][-600:] + r[1][2][-600:]))
    check(not os.path.exists("m.h5"), "a refused run left m.h5")
    # A rank alone (its peer never starts): gives up after the timeout (3 s here), exit 4.
    t0 = time.time()
    p = start(roll + ["--out", "alone.h5"], 1, 2, free_port(), timeout_s=3)
    _, e = p.communicate(timeout=60)
    check(p.returncode == 4 and "could not reach the store" in e.decode() and time.time() - t0 < 30,
          "a lone rank 1: exit %d after %.1f s:\n%s" % (p.returncode, time.time() - t0, e.decode()[-400:]))
    # A command that does not run distributed is refused (exit 2) rather than run twice.
    r = launch(["generate", "--out", "g.h5", "--users", 10])
    check([x[0] for x in r] == [2, 2] and "runs as one process only" in r[0][2], "generate under 2 ranks: %s" % [x[0] for x in r])

    # --- the real launchers of docs/distributed.md ---------------------------------------------------
    torchrun = shutil.which("torchrun")
    if torchrun:
        p = subprocess.run([torchrun, "--nproc_per_node", "2", "-r", "1", "-t", "1", "--master_port", str(free_port()),
                            "--no_python", AMRS] + [str(a) for a in roll] + ["--out", "tr.h5"], capture_output=True, timeout=300)
        check(p.returncode == 0, "torchrun: exit %d:\n%s" % (p.returncode, p.stderr.decode()[-800:]))
        if p.returncode == 0:
            same_bytes("r1.h5", "tr.h5", "rollout under torchrun vs 1 process")
        # The multi-node form (c10d rendezvous; rank 0's process serves the store), on one node.
        p = subprocess.run([torchrun, "--nnodes", "1", "--nproc_per_node", "2", "-r", "1", "-t", "1", "--rdzv_backend",
                            "c10d", "--rdzv_endpoint", "127.0.0.1:%d" % free_port(), "--rdzv_id", "amrs-test",
                            "--no_python", AMRS] + [str(a) for a in roll] + ["--out", "rz.h5"], capture_output=True, timeout=300)
        check(p.returncode == 0, "torchrun --rdzv_backend c10d: exit %d:\n%s" % (p.returncode, p.stderr.decode()[-800:]))
        if p.returncode == 0:
            same_bytes("r1.h5", "rz.h5", "rollout under torchrun's c10d rendezvous vs 1 process")
    else:
        print("SKIP: torchrun not installed (Debian: python3-torch); the torchrun launch line is untested")
    mpirun = shutil.which("mpirun")
    if mpirun:
        p = subprocess.run([mpirun, "--allow-run-as-root", "--oversubscribe", "-n", "2", "-x", "MASTER_ADDR=127.0.0.1", "-x",
                            "MASTER_PORT=%d" % free_port(), AMRS] + [str(a) for a in roll] + ["--out", "mp.h5"], capture_output=True, timeout=300)
        check(p.returncode == 0, "mpirun: exit %d:\n%s" % (p.returncode, p.stderr.decode()[-800:]))
        if p.returncode == 0:
            same_bytes("r1.h5", "mp.h5", "rollout under mpirun vs 1 process")
    else:
        print("SKIP: mpirun not installed (Debian: openmpi-bin); the mpirun launch line is untested")

    shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if __name__ == "__main__":
    sys.exit(main())
