#!/bin/bash
# Record golden_engine.json cases with the code BEFORE a change (see test_engine_golden.py):
#   git worktree add /tmp/before 7e0abe4f37f72165078b638cd9d026fdd756260a
#   tests/data/record_golden_engine.sh /tmp/before/src /tmp/golden-runs ped2_rules abm_default ...
#   python tests/data/make_golden_engine.py /tmp/golden-runs 7e0abe4f37f72165078b638cd9d026fdd756260a
# Each case runs `langvad detect` (args as in ENGINE_CASES) on an empty artefact cache.
set -u
SRC=$1; OUT=$2; shift 2
D=$(cd "$(dirname "$0")/../.." && pwd)/../shared/data
CAPS=$(cd "$(dirname "$0")" && pwd)/fighting033_captions.jsonl
PED2=$D/text_bench/ped2/descriptions/test_01.txt
FIGHT=$D/clips/Fighting033_x264_570_841.mp4
SMOL=(--llm smollm2-135m-instruct)
for c in "$@"; do
  case $c in
    ped2_rules) a=("$PED2" --preset ped2 --score-mode rules --no-report) ;;
    ped2_rules_smollm) a=("$PED2" --preset ped2 --score-mode rules --no-report "${SMOL[@]}") ;;
    ped2_keywords) a=("$PED2" --preset ped2 --score-mode keywords --no-explain --no-report) ;;
    fighting033_lavad_captions) a=("$FIGHT" --captions "$CAPS" --profile lavad --no-report) ;;
    fighting033_lavad_captions_smollm)
      a=("$FIGHT" --captions "$CAPS" --profile lavad --no-report "${SMOL[@]}") ;;
    fighting033_experts_only)
      a=("$FIGHT" --captions "$CAPS" --profile lavad --llm-weight 0 --no-report) ;;
    abm_default) a=("$D/clips/A_Beautiful_Mind_label_A_1845_2101.mp4" --no-report) ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
  rm -rf "${OUT:?}/$c"; mkdir -p "$OUT/$c/cache"
  PYTHONPATH=$SRC LANGVAD_CACHE=$OUT/$c/cache \
    LANGVAD_MODELS=${LANGVAD_MODELS:-$HOME/.cache/langvad/models} python -m langvad.cli detect "${a[@]}" \
    --out "$OUT/$c/out" --quiet > "$OUT/$c/log" 2>&1
  echo "$c exit $?"
done
