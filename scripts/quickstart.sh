#!/usr/bin/env bash
# The main job: installs missing dependencies, builds, then runs the whole pipeline on the built-in
# synthetic data and writes the benchmark report:
#   generate -> summarize -> train the world model -> train Copycat and DPO (5 seeds) ->
#   evaluate all four agents (train/val/test users under the learned world, test users under the
#   oracle) -> stress-test the bundled scenarios -> report (Markdown, JSON, figures).
# Outputs go to ./out (override with OUT=dir).
#
#   bash scripts/quickstart.sh                   # quick profile: world model on split 0 (minutes)
#   bash scripts/quickstart.sh --profile paper   # the paper's protocol: full world-model sweep on
#                                                # 10 MCCV splits (Tables 2 and 3, with a 5-member
#                                                # ensemble of the chosen model), the same policy
#                                                # stage on split 0, and the agents under that
#                                                # ensemble (out/report-ensemble; hours on 2 cores)
#   bash scripts/quickstart.sh --profile smoke   # every stage on tiny data and models (seconds;
#                                                # CTest's quickstart_smoke runs it; numbers mean nothing)
# With AMRS_BIN=path/to/amrs the install and build stage is skipped and that binary is used.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=quick
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:-}"; shift 2 ;;
    --profile=*) PROFILE="${1#--profile=}"; shift ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "quickstart: unknown option '$1' (known: --profile quick|paper|smoke)" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in quick|paper|smoke) ;; *) echo "quickstart: --profile must be quick, paper or smoke, got '$PROFILE'" >&2; exit 2 ;; esac
OUT=${OUT:-out}
start=$(date +%s)
stage_start=$start
STAGES=8
[ "$PROFILE" = paper ] && STAGES=10  # + Copycat and DPO as stages of their own, + the 5-member ensemble's evaluation (docs/ensembles.md)
if [ "$PROFILE" = paper ]; then
  # From stage times measured on a 2-core machine (docs/world-model.md, docs/ensembles.md, the
  # quick profile's stages): the sweep trains 14 configurations x 10 splits two at a time (about
  # 36 s of wall time each: ~85 min) and 4 more members of the chosen one per split (~15 min); the
  # rest is the quick profile's stages (~20 min with the build) plus the ensemble's evaluation (~3 min).
  echo "quickstart: the paper profile takes about 2 hours on a 2-core machine (world-model sweep ~100 min," \
       "the rest ~25 min); this machine has $(nproc) core(s), and the sweep runs 2 trainings at a time"
fi
n=0
stage() {
  local now; now=$(date +%s)
  [ "$n" -gt 0 ] && echo "   (stage took $(( now - stage_start )) s)"
  stage_start=$now
  n=$((n + 1))
  echo; echo "== [$n/$STAGES] $1 ($(( now - start )) s elapsed)"
}
stage "dependencies and build"
if [ -n "${AMRS_BIN:-}" ]; then
  amrs=$AMRS_BIN
  echo "using $amrs (AMRS_BIN): no install, no build"
else
  bash scripts/install-deps.sh
  bash scripts/build.sh amrs  # the CLI and the libraries it links (the tests: scripts/test.sh)
  amrs=./build/cli/amrs
fi
mkdir -p "$OUT"
seeds=5
# The smoke profile: tiny data and models, 3 seeds, so that a broken stage shows in seconds.
gen=() world_opts=() policy_opts=() dpo_opts=() eval_opts=()
if [ "$PROFILE" = smoke ]; then
  seeds=3  # the bundled scenarios run seeds 0-2
  gen=(--users 40 --sessions 200 --interactions 1300 --songs 120 --embedding-dim 16 --splits 2)
  world_opts=(--epochs 1 --d-model 8 --heads 1 --layers 1 --ff 8 --head-hidden 8 --song-prior false)  # small preset: keep the world path below
  policy_opts=(--epochs 1 --d-model 8 --layers 1)
  dpo_opts=(--max-pairs 16)
  eval_opts=(--max-users 3)
fi

stage "generate the synthetic listener population -> $OUT/synthetic.h5"
$amrs generate --out "$OUT/synthetic.h5" --seed 0 ${gen[@]+"${gen[@]}"}

stage "summarize (Table 1 and the oracle ceilings)"
$amrs summarize "$OUT/synthetic.h5" | tee "$OUT/summary.txt"

world="$OUT/world/factorized-mert+pe/split-0.pt"
world_results=()
# The two policy trainings (commands, not functions: a background lane stops the process itself).
copycat=($amrs train-policy --data "$OUT/synthetic.h5" --out-dir "$OUT/policy" --kind copycat ${policy_opts[@]+"${policy_opts[@]}"})
dpo=($amrs train-policy --data "$OUT/synthetic.h5" --out-dir "$OUT/policy" --kind dpo --world "$world"
     ${policy_opts[@]+"${policy_opts[@]}"} ${dpo_opts[@]+"${dpo_opts[@]}"})
if [ "$PROFILE" = paper ]; then
  stage "world-model sweep: Tables 2 and 3 on 10 MCCV splits -> $OUT/world/"
  $amrs sweep-world --data "$OUT/synthetic.h5" --out "$OUT/world" --splits 0,1,2,3,4,5,6,7,8,9 --members 5 \
    | tee "$OUT/world-sweep.txt"
  world_results=(--world-results "$OUT/world/world-results.h5")
  stage "train Copycat (behaviour cloning, InfoNCE) for $seeds seeds -> $OUT/policy/"
  "${copycat[@]}" --seeds $seeds | tee "$OUT/copycat.txt"
  stage "fine-tune Copycat with DPO on pairs scored by the world model ($seeds seeds)"
  "${dpo[@]}" --seeds $seeds | tee "$OUT/dpo.txt"
else
  # The world model, Copycat and DPO each train on one core (seeds in parallel), so they share
  # the cores in two lanes instead of running one stage after another (the results are the same:
  # every seed's training is independent of what runs beside it). Lane A: the world model, then
  # Copycat's even seeds but the last, then DPO seed 0 (it needs the world and Copycat seed 0);
  # lane B: the other Copycat seeds. Then DPO's other seeds, two at a time.
  lane_a=() lane_b=()
  for ((s = 0; s < seeds; s++)); do
    if (( s % 2 == 0 && s < seeds - 1 )); then lane_a+=("$s"); else lane_b+=("$s"); fi
  done
  join() { local IFS=,; echo "$*"; }
  stage "train the world model on split 0 -> $world, and Copycat (behaviour cloning, InfoNCE) for $seeds seeds -> $OUT/policy/"
  echo "lane A (its output in $OUT/world-split-0.txt, $OUT/copycat-lane-a.txt, $OUT/dpo-lane-a.txt, shown when done):" \
       "world model, Copycat seeds $(join "${lane_a[@]}"), DPO seed 0; lane B (below): Copycat seeds $(join "${lane_b[@]}")"
  (
    # A background lane ignores Ctrl-C: the main script stops it (SIGTERM) when it exits early,
    # and the lane passes that on to the command it is running.
    child=
    trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 143' TERM
    run() { "$@" & child=$!; wait "$child"; }
    run $amrs train-world --data "$OUT/synthetic.h5" --out "$OUT/world" --splits 0 ${world_opts[@]+"${world_opts[@]}"} \
      > "$OUT/world-split-0.txt" 2>&1
    run "${copycat[@]}" --seed-list "$(join "${lane_a[@]}")" --threads 1 > "$OUT/copycat-lane-a.txt" 2>&1
    run "${dpo[@]}" --seed-list 0 --threads 1 > "$OUT/dpo-lane-a.txt" 2>&1
  ) &
  lane_a_pid=$!
  trap 'kill -TERM "$lane_a_pid" 2>/dev/null || true' EXIT
  lane_b_status=0
  "${copycat[@]}" --seed-list "$(join "${lane_b[@]}")" --threads 1 | tee "$OUT/copycat.txt" || lane_b_status=$?
  lane_a_status=0
  wait "$lane_a_pid" || lane_a_status=$?
  for f in world-split-0.txt copycat-lane-a.txt dpo-lane-a.txt; do
    [ -f "$OUT/$f" ] && { echo "--- lane A: $OUT/$f"; cat "$OUT/$f"; }
  done
  if [ "$lane_a_status" -ne 0 ] || [ "$lane_b_status" -ne 0 ]; then
    echo "quickstart: training failed (lane A exit status $lane_a_status, lane B $lane_b_status); see the output above" >&2
    exit 1
  fi
  if [ "$seeds" -gt 1 ]; then
    stage "fine-tune Copycat with DPO on pairs scored by the world model (seeds 1-$((seeds - 1)); seed 0 above)"
    "${dpo[@]}" --seed-list "$(seq -s, 1 $((seeds - 1)))" | tee "$OUT/dpo.txt"
  fi
fi

stage "evaluate copycat, dpo, random, greedy ($seeds paired seeds): train/val/test (learned world), test (oracle)"
$amrs evaluate --data "$OUT/synthetic.h5" --world "$world" --agents copycat,dpo,random,greedy --seeds $seeds \
  --param "copycat=$OUT/policy/copycat-seed-{seed}.pt,dpo=$OUT/policy/dpo-seed-{seed}.pt" --out-dir "$OUT/eval" \
  ${eval_opts[@]+"${eval_opts[@]}"} | tee "$OUT/evaluate.txt"

if [ "$PROFILE" = paper ]; then
  # The chosen configuration's 5-member ensemble (trained by the sweep): where the simulator is
  # unsure on each agent's actions, and whether that predicts its error against the oracle.
  ensemble="$OUT/world/factorized-mert+pe/split-0.ensemble.json"
  stage "evaluate the four agents under the 5-member ensemble (test users) -> $OUT/eval-ensemble, $OUT/report-ensemble"
  $amrs evaluate --data "$OUT/synthetic.h5" --world "$ensemble" --agents copycat,dpo,random,greedy --seeds $seeds \
    --parts test --oracle no --param "copycat=$OUT/policy/copycat-seed-{seed}.pt,dpo=$OUT/policy/dpo-seed-{seed}.pt" \
    --out-dir "$OUT/eval-ensemble" | tee "$OUT/evaluate-ensemble.txt"
  $amrs report "$OUT/eval-ensemble/test.h5" --data "$OUT/synthetic.h5" --out "$OUT/report-ensemble" --no-figures
fi

stage "stress-test the bundled scenarios -> $OUT/stress.h5, $OUT/stress.md"
set +e
$amrs stress scenarios/*.toml --data "$OUT/synthetic.h5" --world "$world" --quiet \
  --param "copycat=$OUT/policy/copycat-seed-{seed}.pt,dpo=$OUT/policy/dpo-seed-{seed}.pt" --out "$OUT/stress.h5" | tee "$OUT/stress.txt"
status=${PIPESTATUS[0]}
set -e
case $status in
  0) echo "stress: every required guardrail passed" ;;
  3) echo "stress: some required guardrails failed (exit status 3, as a release gate would see it); see $OUT/stress.md" ;;
  *) echo "stress: failed with exit status $status" >&2; exit "$status" ;;
esac

stage "write the report -> $OUT/report/"
# The tuning tables of `amrs tune` (docs/tuning.md) that are kept with the results, when present
# (they belong to the default dataset: not for the smoke profile's tiny one).
tune_tables=()
[ "$PROFILE" = smoke ] || for kind in copycat dpo; do
  if [ -f "docs/results/tune-$kind.json" ]; then tune_tables+=(--tune "docs/results/tune-$kind.json"); fi
done
$amrs report "$OUT/eval/test.h5" "$OUT/eval/val.h5" "$OUT/eval/train.h5" "$OUT/eval/test-oracle.h5" \
  "${world_results[@]}" ${tune_tables[@]+"${tune_tables[@]}"} --stress "$OUT/stress.md" --data "$OUT/synthetic.h5" \
  --out "$OUT/report"
now=$(date +%s)
echo "   (stage took $(( now - stage_start )) s)"
echo
echo "== done in $(( now - start )) s (profile $PROFILE). The report: $OUT/report/report.md"
echo "   (summary.json and the figures are beside it; episode logs in $OUT/eval/, policies in $OUT/policy/)"
