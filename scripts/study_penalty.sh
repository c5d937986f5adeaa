#!/usr/bin/env bash
# The uncertainty-penalty study of docs/ensembles.md (issue 17): for each lambda, DPO fine-tuned on
# pairs scored by the penalized ensemble, then copycat, dpo and greedy evaluated on the test users
# under the ensemble (penalized reward) and under the oracle, with reports; at the end a table of
# the exploitation gaps (learned-world gain over copycat minus the oracle's gain), coverage, Gini,
# disagreement and its correlation with the error against the oracle, paired t-tests against
# lambda = 0 (scripts/study_penalty.py).
#
#   bash scripts/study_penalty.sh                # defaults below (the quickstart's outputs in ./out)
#   LAMBDAS="0 1" SEEDS=3 bash scripts/study_penalty.sh
#
# Environment: AMRS (binary), DATA (dataset), ENSEMBLE (manifest of train-world --members K),
# REFERENCE (Copycat checkpoints, {seed} = the seed), OUT (results), LAMBDAS, SEEDS, EXTRA (more
# options for evaluate, e.g. "--max-users 50").
set -euo pipefail
cd "$(dirname "$0")/.."
AMRS=${AMRS:-./build/cli/amrs}
DATA=${DATA:-out/synthetic.h5}
ENSEMBLE=${ENSEMBLE:-out/world-ens/factorized-mert+pe/split-0.ensemble.json}
default_reference='out/policy/copycat-seed-{seed}.pt'
REFERENCE=${REFERENCE:-$default_reference}
OUT=${OUT:-out/penalty-study}
LAMBDAS=${LAMBDAS:-0 0.5 1 2}
SEEDS=${SEEDS:-5}
EXTRA=${EXTRA:-}
for f in "$DATA" "$ENSEMBLE"; do
  [ -f "$f" ] || { echo "study_penalty: $f does not exist (see the header of $0)" >&2; exit 2; }
done
mkdir -p "$OUT"
start=$(date +%s)
for lam in $LAMBDAS; do
  dir="$OUT/lambda-$lam"
  mkdir -p "$dir"
  echo "== lambda $lam: DPO on the penalized ensemble ($SEEDS seeds) ($(( $(date +%s) - start )) s elapsed)"
  $AMRS train-policy --kind dpo --data "$DATA" --world "$ENSEMBLE" --penalty "$lam" --seeds "$SEEDS" \
    --reference "$REFERENCE" --out-dir "$dir/policy" | tee "$dir/dpo.txt"
  echo "== lambda $lam: evaluate copycat, dpo, greedy on the test users (ensemble and oracle) ($(( $(date +%s) - start )) s elapsed)"
  # shellcheck disable=SC2086
  $AMRS evaluate --data "$DATA" --world "$ENSEMBLE" --penalty "$lam" --agents copycat,dpo,greedy --seeds "$SEEDS" \
    --parts test --param "copycat=$REFERENCE,dpo=$dir/policy/dpo-seed-{seed}.pt" --out-dir "$dir/eval" $EXTRA \
    | tee "$dir/evaluate.txt"
  $AMRS report "$dir/eval/test.h5" "$dir/eval/test-oracle.h5" --data "$DATA" --out "$dir/report" --no-figures > /dev/null
  $AMRS report "$dir/eval/test-oracle.h5" --data "$DATA" --out "$dir/report-oracle" --no-figures > /dev/null
done
echo "== done in $(( $(date +%s) - start )) s"
/usr/bin/python3 scripts/study_penalty.py "$OUT" $LAMBDAS | tee "$OUT/study.md"
