#!/usr/bin/python3
"""CLI tests of the `amrs` binary (CTest `cli_commands`): every subcommand's success path on tiny
generated data, in the order of scripts/quickstart.sh (generate, summarize, train-world,
train-policy copycat and dpo, evaluate, stress, tune, report) so that a broken pipeline fails here; the
CSV import example of docs/csv-import.md; located errors; and the exit-status rule of README
(0 success, 1 bad input, 2 bad options or values, 3 a failed verdict).

usage: cli_test.py AMRS_BINARY SOURCE_DIR
"""
import concurrent.futures
import glob
import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

AMRS, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# A FIFO given as input must be refused at once, not opened (it would block): 10 s is plenty,
# except under AddressSanitizer on a loaded machine (start-up alone can take seconds).
FIFO_TIMEOUT = 60 if os.environ.get("AMRS_SANITIZE") else 10
PLUGIN = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None  # tests/plugins/good_plugin.cc (shared builds)
failures = []
checks = 0
lock = threading.Lock()
queued = []  # (args, kwargs) of independent commands, run in parallel at the end


def check(cond, what):
    global checks
    with lock:
        checks += 1
        if not cond:
            failures.append(what)
            print("FAIL: " + what, flush=True)


def later(*args, **kw):
    queued.append((args, kw))


def amrs(*args, rc=0, out=None, err=None, timeout=60, memory=None):
    """Runs amrs ARGS; checks the exit status and that stdout/stderr match the regexes out/err."""
    cmd = [AMRS] + [str(a) for a in args]
    t0 = time.time()
    try:
        # Bytes, decoded here: text mode would turn the progress bars' \r into \n.
        limit = (lambda: resource.setrlimit(resource.RLIMIT_AS, (memory, memory))) if memory else None
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, preexec_fn=limit)
        p.stdout, p.stderr = (b.decode("utf-8", "replace") for b in (p.stdout, p.stderr))
        if os.environ.get("AMRS_CLI_TEST_TIMES"):
            print("%6.2f s  %s" % (time.time() - t0, " ".join(cmd[1:])), flush=True)
    except subprocess.TimeoutExpired:
        check(False, "timed out (%d s): %s" % (timeout, " ".join(cmd[1:])))
        return None
    label = " ".join(cmd[1:])
    if rc is not None:
        check(p.returncode == rc, "exit %d, want %d: %s\n  stderr: %s" % (p.returncode, rc, label, p.stderr[-600:]))
    if out is not None:
        check(re.search(out, p.stdout, re.M), "stdout of '%s' lacks /%s/:\n%s" % (label, out, p.stdout[-600:]))
    if err is not None:
        check(re.search(err, p.stderr, re.M), "stderr of '%s' lacks /%s/:\n%s" % (label, err, p.stderr[-600:]))
    # Progress bars draw no carriage-return frames when stderr is not a terminal (here: a pipe).
    check("\r" not in p.stderr, "stderr of '%s' has \\r frames although it is not a terminal" % label)
    if rc in (1, 2):  # every error is one line naming the command
        lines = [l for l in p.stderr.splitlines() if l.startswith("amrs ")]
        check(len(lines) == 1, "want one error line from '%s', got:\n%s" % (label, p.stderr[-600:]))
    return p


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    work = tempfile.mkdtemp(prefix="amrs-cli-test-")
    os.chdir(work)
    d = "d.h5"
    tiny = ["--users", 40, "--sessions", 200, "--interactions", 1300, "--songs", 120, "--embedding-dim", 16,
            "--splits", 2]

    # --- success paths, in the quickstart's order -------------------------------------------------
    amrs("generate", "--out", d, *tiny, err=r"^wrote d\.h5")
    check(os.path.isfile(d), "generate wrote no d.h5")
    amrs("summarize", d, out=r"^d\.h5 \(fingerprint [0-9a-f]{16}\)")
    p = amrs("summarize", d, "--check-calibration", rc=None, out=r"^calibration: ")
    if p is not None:  # 0 when every value is inside its band, 3 (a failed verdict) otherwise
        inside = "calibration: every value inside its band" in p.stdout
        check(p.returncode == (0 if inside else 3), "summarize --check-calibration: exit %d, stdout:\n%s"
              % (p.returncode, p.stdout[-600:]))
    later("summarize", d, "--check-calibration", "--no-oracle", rc=2, err=r"--check-calibration needs the oracle")
    model = ["--d-model", 8, "--heads", 1, "--layers", 1, "--ff", 8, "--head-hidden", 8]
    amrs("train-world", "--data", d, "--out", "world", "--splits", 0, "--epochs", 1, *model,
         out=r"test \(split 0\)[\s\S]*baseline-pooled-mlp [\s\S]*model against baselines",
         err=r"preset small .* family mert")
    ckpts = [c for c in glob.glob("world/*/split-0.pt") if "baseline-" not in c]
    check(len(ckpts) == 1, "train-world wrote %s, want one world/*/split-0.pt besides the baseline" % ckpts)
    world = ckpts[0] if ckpts else "missing.pt"
    # The pooled-MLP baseline's checkpoint is a world like any other (issue 18).
    amrs("rollout", "--data", d, "--world", "world/baseline-pooled-mlp/split-0.pt", "--agents", "greedy", "--seeds", 1,
         "--max-users", 2, "--out", "run-mlp.h5", out=r"^greedy +test +1 ")
    later("train-world", "--data", d, "--out", "world-refused", "--family", "nope", rc=2, err=r"clamp3")
    later("train-world", "--data", d, "--preset", "tiny", rc=2, err=r"--preset must be small or default")
    amrs("sweep-world", "--data", d, "--out", "sweep-refused", "--splits", 0, "--families", "mert,nope", rc=2,
         err=r"unknown embedding family .nope. \(known: clamp3, mert\)")
    check(not os.path.exists("sweep-refused"), "sweep-world refused --families but left its output folder")
    amrs("rollout", "--data", d, "--world", world, "--agents", "random,greedy", "--seeds", 1, "--max-users", 3,
         "--out", "run.h5", out=r"^greedy +test +1 ")
    check(os.path.isfile("run.h5"), "rollout wrote no run.h5")
    amrs("rollout", "--data", d, "--world", "oracle", "--agents", "greedy", "--seeds", 1, "--max-users", 2,
         "--no-replay", "episode", "--out", "run-episode.h5", out=r"^greedy +test +1 ")
    policy = ["--data", d, "--seeds", 1, "--epochs", 1, "--max-train-users", 8, "--d-model", 8, "--layers", 1,
              "--out-dir", "policy"]
    amrs("train-policy", "--kind", "copycat", *policy, out=r"copycat-seed-0\.pt \(best epoch")
    check(os.path.isfile("policy/copycat-seed-0.pt"), "train-policy wrote no policy/copycat-seed-0.pt")
    amrs("train-policy", "--kind", "dpo", "--world", "oracle", "--max-pairs", 16, *policy,
         out=r"dpo-seed-0\.pt \(best epoch")
    amrs("evaluate", "--data", d, "--world", world, "--agents", "copycat,dpo,random", "--seeds", 1,
         "--max-users", 3, "--parts", "test", "--param", "copycat=policy/copycat-seed-{seed}.pt,dpo=policy/dpo-seed-{seed}.pt",
         "--out-dir", "eval", out=r"^dpo +test +1 ")
    check(os.path.isfile("eval/test.h5") and os.path.isfile("eval/test-oracle.h5"),
          "evaluate wrote %s, want eval/test.h5 and eval/test-oracle.h5" % glob.glob("eval/*"))
    p = amrs("stress", os.path.join(SRC, "scenarios", "baseline.toml"), "--data", d, "--world", "oracle",
             "--agents", "random,greedy", "--no-replay", "off", "--out", "stress.h5", "-q", rc=None)
    if p is not None:  # 0: every guardrail passed, 3: one failed (the verdict, not an error)
        check(p.returncode in (0, 3), "stress exited %d:\n%s" % (p.returncode, p.stderr[-600:]))
        check((p.returncode == 3) == ("stress: FAILED" in p.stdout), "stress's exit status and verdict disagree")
        check(os.path.isfile("stress.md"), "stress wrote no stress.md")
    amrs("tune", "--kind", "copycat", "--grid", "tau=0.1,0.3", "--data", d, "--world", world, "--seeds", 1,
         "--epochs", 1, "--max-train-users", 8, "--d-model", 8, "--layers", 1, "--max-users", 3, "--out-dir", "tune",
         out=r"^tune: chosen point [01]: tau=")
    amrs("report", "eval/test.h5", "eval/test-oracle.h5", "--data", d, "--no-figures", "--stress", "stress.md",
         "--tune", "tune/tune-copycat.json", "--out", "report", out=r"^report: ")
    check(os.path.isfile("report/report.md"), "report wrote no report/report.md")
    if os.path.isfile("report/report.md"):
        with open("report/report.md") as f:
            md = f.read()
        for want in ("## Tuning (validation users)", "### copycat (`tune/tune-copycat.json`)",
                     "Hyperparameters of copycat: chosen on validation users with `amrs tune`",
                     "Every agent ran under the no-replay rule `session`"):
            check(want in md, "report/report.md lacks '%s'" % want)
    # Independent commands run in parallel (each amrs start loads LibTorch: about 0.4 s).
    os.symlink(d, "link.h5")
    os.mkdir("folder.h5")
    os.mkfifo("fifo.h5")
    write("text.h5", "not a dataset\n")
    write("bad.csv", "user_id,session_id,position,song_id,engagement,rating\n100,1000,0,10,1.5,1\n")
    with open(d, "rb") as f, open("copy.h5", "wb") as g:
        g.write(f.read())
    later("agents", out=r"^  greedy: ")
    later("worlds", out=r"oracle")
    later("check-agent", "random", out=r"check-agent: random: every check passed")
    later("bench", "--data", d, "--skip-world", "--skip-env", out=r"^bench: OPENBLAS_CORETYPE")  # the timings are slow
    later("bench", "--data", d, "--seconds", 0, rc=2, err=r"--seconds must be > 0")
    later("split", "copy.h5", "--k", 3, "--seed", 4, err=r"stored 3 splits \(seed 4\) in copy\.h5")

    # --- the CSV import example of docs/csv-import.md (two users: no splits with the default) --------
    write("songs.csv", "song_id\n10\n11\n12\n")
    write("tags.csv", "song_id,d0,d1,d2\n10,0,0,1\n11,0,1,0\n12,1,0,0\n")
    write("sessions.csv", "session_id,user_id,order,pre_valence,pre_arousal,post_valence,post_arousal,mode\n"
          "1000,100,0,0.5,0.5,0.6,0.4,energize\n1001,100,1,0.4,0.3,,,\n1002,101,0,0.6,0.7,0.7,0.6,calm\n")
    write("interactions.csv", "user_id,session_id,position,song_id,engagement,rating\n"
          "100,1000,0,10,1,1\n100,1000,1,11,0.1,0\n100,1001,0,12,0.5,\n101,1002,0,12,1,1\n")
    csv = ["--interactions", "interactions.csv", "--sessions", "sessions.csv", "--embedding", "tags=tags.csv",
           "--songs", "songs.csv"]
    amrs("import", *csv, "--out", "platform.h5", err=r"wrote platform\.h5: 3 songs, 2 users, 3 sessions, 4 interactions")
    amrs("summarize", "platform.h5", out=r"^platform\.h5 \(fingerprint")
    later("import", *csv, "--splits", 2, "--out", "p2.h5", rc=2, err=r"--splits 2: the import has 2 users")
    later("import", *csv[2:], "--interactions", "bad.csv", "--out", "p3.h5", rc=1,
         err=r"bad\.csv:2: column 'engagement': value 1\.5 is outside \[0, 1\]")
    # Every bad line of a file in one run (indented below the error line); delimiters and the hint.
    write("bad2.csv", "user_id,session_id,position,song_id,engagement,rating\n100,1000,0,10,1.5,1\n100,1000,1,11,1,7\n")
    later("import", *csv[2:], "--interactions", "bad2.csv", "--out", "p4.h5", rc=1,
          err=r"^amrs import: error: bad2\.csv: 2 errors:\n  bad2\.csv:2: column 'engagement'.*\n  bad2\.csv:3: column 'rating'")
    os.mkdir("tabbed")
    for name in ("songs.csv", "tags.csv", "sessions.csv", "interactions.csv"):
        with open(name) as f:
            write(os.path.join("tabbed", name), f.read().replace(",", "\t"))
    tabbed = ["--interactions", "tabbed/interactions.csv", "--sessions", "tabbed/sessions.csv", "--embedding",
              "tags=tabbed/tags.csv", "--songs", "tabbed/songs.csv"]
    later("import", *tabbed, "--delimiter", "tab", "--out", "tab.h5",
          err=r"wrote tab\.h5: 3 songs, 2 users, 3 sessions, 4 interactions")
    later("import", *tabbed, "--delimiter", "comma", "--out", "tab2.h5", rc=1,
          err=r"the header looks tab-separated: use --delimiter tab \(or auto\)")
    later("import", *csv, "--delimiter", "pipe", "--out", "p5.h5", rc=2, err=r"--delimiter: unknown delimiter 'pipe'")

    # --- data checks before work (docs/data-format.md "Data checks") ---------------------------------
    amrs("summarize", d, out=r"^Data checks$")
    amrs("generate", "--out", "few.h5", "--users", 8, "--sessions", 30, "--interactions", 200, "--songs", 60,
         "--embedding-dim", 8, "--splits", 1, err=r"^wrote few\.h5")
    amrs("summarize", "few.h5", out=r"^  error: users: split 0 test: 1 user\(s\), need at least 2")
    p = amrs("train-world", "--data", "few.h5", "--out", "few", "--epochs", 1, *model, rc=1,
             err=r"^amrs train-world: error: train-world: data checks failed: .*users: split 0 test: 1 user\(s\)")
    check(p is not None and "epoch 1/" not in p.stderr, "train-world started training despite failed data checks")
    check(not glob.glob("few/**/*.pt*", recursive=True), "train-world wrote a checkpoint despite failed data checks")
    # A log without ratings: the rating signal is skipped with a warning, training finishes, the
    # checkpoint loads, and its test AUC prints n/a with the reason (it crashed on NaN metadata).
    write("nr-songs.csv", "song_id\n" + "".join("%d\n" % s for s in range(10, 50)))
    write("nr-emb.csv", "song_id,d0,d1\n" + "".join("%d,%d,%d\n" % (s, s % 3, s % 7) for s in range(10, 50)))
    sessions, inter = ["session_id,user_id,order,pre_valence,pre_arousal,post_valence,post_arousal,mode"], \
        ["user_id,session_id,position,song_id,engagement,rating"]
    for u in range(30):
        for k in range(4):
            sid = u * 4 + k
            sessions.append("%d,%d,%d,0.5,0.5,0.%d,0.%d," % (sid, u, k, (u + k) % 9 + 1, (u * 3 + k) % 9 + 1))
            inter += ["%d,%d,%d,%d,0.%d," % (u, sid, j, 10 + (u * 7 + k * 3 + j) % 40, (u + j * k) % 9 + 1)
                      for j in range(6)]
    write("nr-sessions.csv", "\n".join(sessions) + "\n")
    write("nr-interactions.csv", "\n".join(inter) + "\n")
    amrs("import", "--interactions", "nr-interactions.csv", "--sessions", "nr-sessions.csv", "--embedding",
         "e=nr-emb.csv", "--songs", "nr-songs.csv", "--splits", 1, "--out", "nr.h5", err=r"wrote nr\.h5")
    amrs("summarize", "nr.h5", out=r"^  warning: rating: split 0 train: no ratings in \d+ interactions")
    amrs("train-world", "--data", "nr.h5", "--family", "e", "--out", "nr-world", "--epochs", 1, *model,
         out=r"rating AUC n/a \(skipped: no ratings in split 0 \(train users\)\)",
         err=r"^train-world: warning: skipping the rating signal: no ratings in split 0")
    # Any family names (issue 18): a sweep over the dataset's own family "e", and the report's Table 2
    # of its results (the report looked for clamp3/mert rows only).
    # On small data the sweep applies the small preset like train-world (explicit options win).
    amrs("sweep-world", "--data", "nr.h5", "--out", "nr-sweep", "--splits", 0, "--tables", "table2", "--epochs", 1,
         "--no-baselines", "--jobs", 1, *model, out=r"factorized-e\+pe\+prior\+offset\+session",
         err=r"^sweep-world: preset small \(\d+ training interactions in split 0; small below 20000\), d_model 8, "
             r"1 layer\(s\), lr 0\.0003, up to 1 epochs, patience 8, song prior, prior offset and session features")
    # Under the small preset the sweep also trains the Table-2 winner at d_model 16, 32 and 64.
    if os.path.isfile("nr-sweep/world-tables.md"):
        tables_md = open("nr-sweep/world-tables.md").read()
        check("### Model sizes: " in tables_md, "sweep-world on small data has no model-size table")
        check(any(os.path.isfile(os.path.join("nr-sweep", f, "split-0.pt"))
                  for f in os.listdir("nr-sweep") if f.endswith(".d16")),
              "sweep-world on small data wrote no <winner>.d16/split-0.pt")
    amrs("rollout", "--data", "nr.h5", "--world", "nr-world/factorized-e+pe+prior+offset+session/split-0.pt", "--agents", "random",
         "--seeds", 1, "--max-users", 2, "--out", "nr-run-r.h5", out=r"^random +test +1 ")
    amrs("report", "nr-run-r.h5", "--data", "nr.h5", "--no-figures", "--world-results", "nr-sweep/world-results.h5",
         "--out", "nr-report", out=r"^report: ")
    if os.path.isfile("nr-report/report.md"):
        md = open("nr-report/report.md").read()
        check("Table 2" in md and "factorized-e+pe" in md, "report --world-results of a sweep over family 'e' has no Table 2")
    later("rollout", "--data", "nr.h5", "--world", "nr-world/factorized-e+pe+prior+offset+session/split-0.pt", "--agents", "greedy",
          "--seeds", 1, "--max-users", 2, "--out", "nr-run.h5", out=r"^greedy +test +1 ")
    later("train-policy", "--kind", "copycat", "--data", "few.h5", "--seeds", 1, "--out-dir", "few-policy", rc=1,
          err=r"train-policy: data checks failed: users: split 0 val: 1 user\(s\)")

    # --- bad options or values: exit 2 -----------------------------------------------------------
    oracle_run = ["rollout", "--data", d, "--world", "oracle", "--seeds", 1, "--max-users", 2]
    later("no-such-command", rc=2, err=r"unknown command 'no-such-command'")
    later("generate", "--no-such-option", rc=2, err=r"no-such-option")
    later(*oracle_run, "--agents", "random", "greedy", "--out", "x.h5", rc=2, err=r"unexpected argument 'greedy'")
    later("summarize", d, "extra", rc=2)
    later("worlds", "extra", rc=2, err=r"'extra'")
    later("generate", "--seed", -1, "--out", "x.h5", rc=2, err=r"--seed: '-1' is negative")
    later(*oracle_run, "--window-seed", -1, "--out", "x.h5", rc=2, err=r"--window-seed: '-1' is negative")
    later(*oracle_run, "--threads", -1, "--out", "x.h5", rc=2, err=r"--threads")
    later(*oracle_run, "--batch", 0, "--out", "x.h5", rc=2, err=r"batch")
    later(*oracle_run, "--topk", 121, "--out", "x.h5", rc=2, err=r"'topk' is 121, more than the catalogue's 120 songs")
    later(*oracle_run, "--seeds", 0, "--out", "x.h5", rc=2, err=r"seeds")
    later(*oracle_run, "--no-replay", "sometimes", "--out", "x.h5", rc=2,
          err=r"--no-replay: bad no-replay rule 'sometimes' \(known: session, episode, off\)")
    later("train-world", "--data", d, "--splits", "0,0", rc=2, err=r"--splits: split 0 is listed twice")
    later("train-world", "--data", d, "--epochs", 0, rc=2, err=r"epochs")
    later("train-world", "--data", d, "--session-features", "--song-prior", "--prior-offset", "false", "--out", "x-world",
          rc=2, err=r"'session_features' needs 'prior_offset'")
    later("train-policy", "--kind", "copycat", "--data", d, "--epochs", -1, rc=2, err=r"--epochs")
    later("import", "--sessions", "sessions.csv", "--embedding", "tags=tags.csv", "--out", "x.h5", rc=2,
         err=r"--interactions")
    later("import", *csv, rc=2, err=r"--out")  # a missing --out: also 2
    later(*oracle_run, "--agents", "no-such-agent", "--out", "x.h5", rc=2, err=r"no-such-agent")
    later("check-agent", "no-such-agent", rc=2)
    # An output inside an output folder must not replace an input either.
    later("train-policy", "--kind", "dpo", "--world", "oracle", "--data", d, "--seeds", 1, "--reference",
          "policy/dpo-seed-{seed}.pt", "--out-dir", "policy", rc=2, err=r"--out-dir.*dpo-seed-0\.pt")
    later("report", "run.h5", "--data", d, "--no-figures", "--out", "report", "--stress", "report/report.md", rc=2,
          err=r"--out.*report\.md")
    if PLUGIN:  # a failed verdict: exit 3, the failed check named
        later("check-agent", "test-plugin-stuck", "--plugin", PLUGIN, rc=3, out=r"check-agent: test-plugin-stuck: FAILED")
    later("check-agent", "random", "--split", 5, rc=2, err=r"--split 5: the dataset has 2 splits")
    later("evaluate", "--data", "eval/test.h5", "--world", "oracle", "--agents", "random", "--param", "",
          "--out-dir", "eval", rc=2, err=r"refusing to replace an input")  # eval/test.h5 would be rewritten
    later("generate", *tiny, "--out", "", rc=2, err=r"--out: the path is empty")
    later(*oracle_run, "--out", d, rc=2, err=r"refusing to replace an input")
    later(*oracle_run, "--out", "./" + d, rc=2, err=r"refusing to replace an input")  # same file, other spelling
    later(*oracle_run, "--out", "link.h5", rc=2, err=r"refusing to replace an input")  # same file through a link
    later("import", *csv, "--out", "interactions.csv", rc=2, err=r"refusing to replace an input")
    later("stress", os.path.join(SRC, "scenarios", "baseline.toml"), "--data", d, "--world", "oracle",
         "--out", d, rc=2, err=r"refusing to replace an input")

    # --- bad input: exit 1 --------------------------------------------------------------------------
    later("summarize", "missing.h5", rc=1, err=r"--data 'missing\.h5': no such file")
    later("summarize", "folder.h5", rc=1, err=r"--data 'folder\.h5': a directory")
    later(*oracle_run, "--out", "folder.h5", rc=1, err=r"--out 'folder\.h5': a directory exists there")
    later("summarize", "fifo.h5", rc=1, err=r"a FIFO", timeout=FIFO_TIMEOUT)  # refused, not opened (would block)
    later(*oracle_run[:2], "fifo.h5", *oracle_run[3:], "--out", "x.h5", rc=1, err=r"a FIFO", timeout=FIFO_TIMEOUT)
    later("generate", *tiny, "--out", "fifo.h5", rc=1, err=r"a FIFO exists there", timeout=FIFO_TIMEOUT)
    later("summarize", "text.h5", rc=1, err=r"text\.h5")
    # An allocation LibTorch cannot satisfy (c10::Error) or a std::bad_alloc: one line, no abort (an
    # up-front memory estimate may refuse it as a bad value instead).
    # (Under AddressSanitizer, scripts/sanitize.sh, no address-space limit: ASan reserves terabytes
    # of shadow memory at start; its allocator then returns null for the huge request instead.)
    p = amrs("train-world", "--data", d, "--out", "w2", "--epochs", 1, "--d-model", 4000000, "--heads", 1,
             "--layers", 1, rc=None, memory=None if os.environ.get("AMRS_SANITIZE") else 6 << 30)
    if p is not None:
        check(p.returncode in (1, 2), "an impossible allocation exited %d (want 1 or 2):\n%s" % (p.returncode, p.stderr[-600:]))
        check(len([l for l in p.stderr.splitlines() if l.startswith("amrs ")]) == 1,
              "an impossible allocation gave no single error line:\n" + p.stderr[-600:])
    later("stress", "missing.toml", rc=1, err=r"missing\.toml")
    later("report", "missing-log.h5", "--data", d, "--no-figures", "--out", "r2", rc=1, err=r"missing-log\.h5")
    later("report", "eval/test.h5", "--data", d, "--no-figures", "--tune", "text.h5", "--out", "r3", rc=1,
          err=r"text\.h5: not a JSON tune table")
    later("report", "eval/test.h5", "--data", d, "--no-figures", "--tune", "missing.json", "--out", "r4", rc=1,
          err=r"--tune 'missing\.json': no such file")

    before = {f: digest(f) for f in (d, "copy.h5", "interactions.csv")}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(amrs, *a, **kw) for a, kw in queued]:
            f.result()
    check(digest(d) == before[d], "a refused command changed the input dataset")
    check(digest("interactions.csv") == before["interactions.csv"], "a refused import changed its input CSV")
    check(digest("copy.h5") != before["copy.h5"], "split did not rewrite its dataset")
    for left in ("p2.h5", "p3.h5", "x.h5"):
        check(not os.path.exists(left), "a refused command left %s" % left)

    print("cli test: %d checks, %d failed" % (checks, len(failures)))
    if failures:
        print("cli test: files kept in " + work)
        return 1
    os.chdir("/")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
