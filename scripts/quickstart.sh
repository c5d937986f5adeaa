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
#                                                # 10 MCCV splits (Tables 2 and 3), then the same
#                                                # policy stage on split 0 (hours on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=quick
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:-}"; shift 2 ;;
    --profile=*) PROFILE="${1#--profile=}"; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "quickstart: unknown option '$1' (known: --profile quick|paper)" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in quick|paper) ;; *) echo "quickstart: --profile must be quick or paper, got '$PROFILE'" >&2; exit 2 ;; esac
OUT=${OUT:-out}
start=$(date +%s)
stage_start=$start
STAGES=9
n=0
stage() {
  local now; now=$(date +%s)
  [ "$n" -gt 0 ] && echo "   (stage took $(( now - stage_start )) s)"
  stage_start=$now
  n=$((n + 1))
  echo; echo "== [$n/$STAGES] $1 ($(( now - start )) s elapsed)"
}
stage "dependencies and build"
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p "$OUT"
amrs=./build/cli/amrs
seeds=5

stage "generate the synthetic listener population -> $OUT/synthetic.h5"
$amrs generate --out "$OUT/synthetic.h5" --seed 0

stage "summarize (Table 1 and the oracle ceilings)"
$amrs summarize "$OUT/synthetic.h5" | tee "$OUT/summary.txt"

world="$OUT/world/factorized-mert+pe/split-0.pt"
world_results=()
if [ "$PROFILE" = paper ]; then
  stage "world-model sweep: Tables 2 and 3 on 10 MCCV splits -> $OUT/world/"
  $amrs sweep-world --data "$OUT/synthetic.h5" --out "$OUT/world" --splits 0,1,2,3,4,5,6,7,8,9 | tee "$OUT/world-sweep.txt"
  world_results=(--world-results "$OUT/world/world-results.h5")
else
  stage "train and test the world model on split 0 -> $world"
  $amrs train-world --data "$OUT/synthetic.h5" --out "$OUT/world" --splits 0 | tee "$OUT/world-split-0.txt"
fi

stage "train Copycat (behaviour cloning, InfoNCE) for $seeds seeds -> $OUT/policy/"
$amrs train-policy --kind copycat --data "$OUT/synthetic.h5" --seeds $seeds --out-dir "$OUT/policy" | tee "$OUT/copycat.txt"

stage "fine-tune Copycat with DPO on pairs scored by the world model ($seeds seeds)"
$amrs train-policy --kind dpo --data "$OUT/synthetic.h5" --world "$world" --seeds $seeds --out-dir "$OUT/policy" | tee "$OUT/dpo.txt"

stage "evaluate copycat, dpo, random, greedy ($seeds paired seeds): train/val/test (learned world), test (oracle)"
$amrs evaluate --data "$OUT/synthetic.h5" --world "$world" --agents copycat,dpo,random,greedy --seeds $seeds \
  --param "copycat=$OUT/policy/copycat-seed-{seed}.pt,dpo=$OUT/policy/dpo-seed-{seed}.pt" --out-dir "$OUT/eval" | tee "$OUT/evaluate.txt"

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
# The tuning tables of `amrs tune` (docs/tuning.md) that are kept with the results, when present.
tune_tables=()
for kind in copycat dpo; do
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
