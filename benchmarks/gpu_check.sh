#!/usr/bin/env bash
# The engine's checks on a lent GPU, in one go (the project's CI has no GPU; see benchmarks/README.md).
#
#   RNNBOOK_CODE_COMMIT=$(git rev-parse HEAD) OUT=/some/dir bash benchmarks/gpu_check.sh
#
# Runs from the repository root with the machine's own python3/torch (no install: PYTHONPATH=src):
#   1. the machine (nvidia-smi, torch, CUDA);
#   2. the GPU tests (tests/unit/test_cuda.py) and the CPU stream, task and gradient tests beside them;
#   3. the benchmark with --device cuda (E = 1, 32, 128, 1024; T = 100, 200) -> $OUT/results-cuda.json;
#   4. the quick temporal-order sweep trained on the GPU -> $OUT/sweep/temporal_order/quick.json;
#   5. training_probe.json (225 runs x 1,000 updates) trained on the GPU, eager and with
#      --cuda-graph -> $OUT/probe-*/ (the progress bar's last line gives the rate if time runs out).
# The limits add up to 9.5 minutes, inside one 10-minute device call.
# Each step has its own time limit and the next runs whatever the last did; logs go to $OUT.
set -u
OUT=${OUT:-/tmp/rnnbook-gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 PYTHONHASHSEED=0
PY=${PYTHON:-python3}

{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  $PY -c "import torch, sys; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda, '|', torch.cuda.get_device_name())"
  echo "code ${RNNBOOK_CODE_COMMIT:-unknown}"; } 2>&1 | tee "$OUT/machine.txt"

echo "== GPU tests"
timeout 90 $PY -m pytest -q -p no:cacheprovider -x tests/unit/test_cuda.py tests/unit/test_streams.py tests/unit/test_tasks.py tests/unit/test_model_gradients.py 2>&1 | tee "$OUT/tests.txt"

echo "== benchmark"
timeout 240 $PY benchmarks/bench_engine.py --device cuda --out "$OUT/results-cuda.json" 2>&1 | tee "$OUT/bench.txt"

echo "== quick sweep on the GPU"
{ time timeout 60 $PY -m rnnbook run temporal_order --protocol quick --device cuda --results-dir "$OUT/sweep" --no-progress; } 2>&1 \
    | tr '\r' '\n' | tail -n 25 | tee "$OUT/sweep.txt"

for mode in eager cuda-graph; do
  echo "== training probe on the GPU, $mode (225 paper-protocol runs, T = 100, 1,000 updates each)"
  flag=$([ "$mode" = cuda-graph ] && echo --cuda-graph)
  { time timeout 90 $PY -m rnnbook run training_probe --config benchmarks/training_probe.json --device cuda \
      --max-parallel 256 $flag --results-dir "$OUT/probe-$mode"; } 2>&1 | tr '\r' '\n' | tail -n 6 | tee "$OUT/probe-$mode.txt"
done
