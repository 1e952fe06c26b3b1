#!/usr/bin/env bash
# The campaign (campaign.toml) on a lent GPU, in one command; its results come back with one more.
#
#   RNNBOOK_CODE_COMMIT=$(git rev-parse HEAD) bash benchmarks/gpu_campaign.sh OUT [BUDGET]
#   python -m rnnbook campaign --merge OUT          # back on the book's machine
#
# Run from the repository root of a copy of the tree (results/ included) with the machine's own
# python3 and torch (no install: PYTHONPATH=src). It copies the files the queue trains from
# results/ into OUT (with their hashes, OUT/campaign-base.json), trains the queue there on the GPU
# for BUDGET (default 8m: it stops cleanly before, every run checkpointed; at most 9 minutes, inside
# one 10-minute device call), and logs to OUT/campaign.log. Run again with the same OUT, it goes on
# where it stopped. `campaign --merge OUT` then brings the trained files back into results/, byte
# for byte, and refuses if a file there changed since the copy was taken.
#
# The same script trains on the CPU (tests/unit/test_campaign.py rehearses the whole path so): the
# environment variables DEVICE (default cuda), QUEUE (campaign.toml), RESULTS_DIR (results),
# BUDGET, PYTHON (python3) and EXTRA (more campaign options, e.g. "--only fig7-cr-short-1e6") change it.
set -u
OUT=${1:?usage: bash benchmarks/gpu_campaign.sh OUT [BUDGET]}
BUDGET=${2:-${BUDGET:-8m}}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONHASHSEED=0
PY=${PYTHON:-python3}
GRAPH=$([ "${DEVICE%%:*}" = cuda ] && echo --cuda-graph)

$PY - "$BUDGET" <<'PY' || exit 2
import sys
from rnnbook.errors import parse_budget
if parse_budget(sys.argv[1]) > 540:
    sys.exit(f"gpu_campaign.sh: budget {sys.argv[1]} is over 9 minutes (a device call lasts 10)")
PY
{ date -u; [ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1
  echo "code ${RNNBOOK_CODE_COMMIT:-unknown}"; } > "$OUT/machine.txt"
# shellcheck disable=SC2086
$PY -m rnnbook campaign --queue "${QUEUE:-campaign.toml}" --results-dir "${RESULTS_DIR:-results}" --out "$OUT" \
    --device "$DEVICE" $GRAPH --budget "$BUDGET" --nice 0 ${EXTRA:-} 2>&1 | tee "$OUT/campaign.log"
exit "${PIPESTATUS[0]}"
