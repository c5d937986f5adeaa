#!/usr/bin/env bash
# Regenerates the fuzz fixture (fixture/tiny.h5) and the seed inputs of corpus/<target>/ from
# the project's own writers and examples. Usage: bash tests/fuzz/make_corpus.sh build/cli/amrs
# The checkpoint seeds are trained on the fixture; rerunning replaces them (and the fixture),
# so commit both together.
set -euo pipefail
amrs=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p "$here/fixture" "$here"/corpus/{csv,npy,scenario,dataset,checkpoint} "$here"/crashes/{csv,npy,scenario,dataset,checkpoint}

"$amrs" generate --out d.h5 --users 8 --sessions 16 --interactions 96 --songs 40 --embedding-dim 4 \
  --splits 1 --seed 1 >/dev/null
"$amrs" train-world --data d.h5 --out world --splits 0 --epochs 1 --d-model 4 --heads 1 --layers 1 \
  --ff 4 --head-hidden 4 >/dev/null
policy=(--data d.h5 --seeds 1 --epochs 1 --d-model 4 --layers 1 --out-dir policy)
"$amrs" train-policy --kind copycat "${policy[@]}" >/dev/null
"$amrs" train-policy --kind dpo --world oracle --max-pairs 8 "${policy[@]}" >/dev/null
cp d.h5 "$here/fixture/tiny.h5"
cp d.h5 "$here/corpus/dataset/tiny.h5"
cp world/*/split-0.pt "$here/corpus/checkpoint/world.pt"
cp policy/copycat-seed-0.pt "$here/corpus/checkpoint/copycat.pt"
cp policy/dpo-seed-0.pt "$here/corpus/checkpoint/dpo.pt"

cp "$src"/scenarios/*.toml "$here/corpus/scenario/"

# The CSV example of docs/csv-import.md (interactions, sessions, embeddings; see fuzz_csv.cc).
cat > "$here/corpus/csv/docs-example" <<'CSV'
user_id,session_id,position,song_id,engagement,rating
100,1000,0,10,1,1
100,1000,1,11,0.1,0
100,1001,0,12,0.5,
101,1002,0,12,1,1
--8<--
session_id,user_id,order,pre_valence,pre_arousal,post_valence,post_arousal,mode
1000,100,0,0.5,0.5,0.6,0.4,energize
1001,100,1,0.4,0.3,,,
1002,101,0,0.6,0.7,0.7,0.6,calm
--8<--
song_id,d0,d1,d2
10,0,0,1
11,0,1,0
12,1,0,0
CSV
cat > "$here/corpus/csv/no-rating" <<'CSV'
user_id,session_id,position,song_id,engagement
7,70,0,1,0.25
7,70,1,2,1e-3
--8<--
session_id,user_id,order,pre_valence,pre_arousal
70,7,0,0.1,0.9
--8<--
song_id,a
1,-1.5
2,2.5e+2
CSV

/usr/bin/python3 - "$here/corpus/npy" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/f32.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
np.save(d + "/f64.npy", np.linspace(-1, 1, 8).reshape(2, 4))
np.save(d + "/f32-big-endian.npy", np.ones((2, 2), dtype=">f4"))
np.save(d + "/fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
PY
echo "corpus and fixture written under $here"
