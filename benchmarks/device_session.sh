#!/usr/bin/env bash
# One session on a lent GPU machine, prepared so that it runs as a single command.
#
# The machine has one H200 with torch 2.11 (python3 3.12) but no snakemake, jsonschema or foolbox,
# no network and no ../shared; a command may run 10 minutes and a session has about 15 in all,
# the start included. So prepare here first, from the project's root:
#
#   bash ../shared/tools/device-wheels.sh     # .whl/: the missing wheels (ignored by git)
#   bash benchmarks/device_session.sh --pack  # .gl/mnist/: MNIST's four files, md5-checked, gzipped
#
# then run, with the device tool (carry [".whl", ".gl"], timeout_s 600), one of:
#
#   bash benchmarks/device_session.sh           # measure: CUDA tests, certification throughput
#                                               # (--compile), Table 1's projection (table1_gpu.py)
#   bash benchmarks/device_session.sh --table1  # run: Table 1 at the paper's settings
#                                               # (profiles/gpu), exported as reference/mnist-table1
#
# Each step runs under its own `timeout` and writes its log to $OUT/log/<step>.log; the session
# stops 30 s before SESSION_SECONDS (default 570) to pack what it has into $OUT: the logs and the
# pipeline's benchmark files (results-logs.tgz), and with --table1 the exported reference/
# mnist-table1/ (per-image counts compressed; never the weights) or, where the run did not finish,
# whatever tables and certificates it wrote. Without CUDA it says so, runs nothing else and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/device-session}
# MNIST's file names and md5s: randablate.datasets.MNIST_FILES (torch-free, so --pack runs anywhere).
MNIST_NAMES=$(PYTHONPATH="$PWD/src" "$PYTHON" -c \
    'from randablate.datasets import MNIST_FILES; print(" ".join(MNIST_FILES))')

check_mnist() {  # check_mnist DIR: every file present with its published md5
    PYTHONPATH="$PWD/src" "$PYTHON" - "$1" <<'PY'
import hashlib
import sys
from pathlib import Path

from randablate.datasets import MNIST_FILES

for name, md5 in MNIST_FILES.items():
    path = Path(sys.argv[1]) / name
    if not path.is_file() or hashlib.md5(path.read_bytes()).hexdigest() != md5:
        sys.exit(f"{path}: missing, or its md5 is not MNIST's {md5}")
PY
}

if [ "${1:-}" = "--pack" ]; then
    source_dir="${RANDABLATE_DATA:-data}/mnist"
    check_mnist "$source_dir" || exit 1
    mkdir -p .gl/mnist
    for name in $MNIST_NAMES; do gzip -c "$source_dir/$name" >".gl/mnist/$name.gz"; done
    echo "packed MNIST from $source_dir into .gl/mnist ($(du -sh .gl/mnist | cut -f1))"
    exit 0
fi
mode=measure
[ "${1:-}" = "--table1" ] && mode=table1

start=$(date +%s)
budget=${SESSION_SECONDS:-570}
mkdir -p "$OUT/log"
left() { echo $((budget - 30 - ($(date +%s) - start))); }
step() {  # step NAME SECONDS COMMAND...: run under a timeout (capped by the time left), log it
    local name=$1 seconds=$2
    shift 2
    [ "$(left)" -lt "$seconds" ] && seconds=$(left)
    if [ "$seconds" -le 10 ]; then
        echo "== $name: skipped, no time left" | tee -a "$OUT/log/session.log"
        return 0
    fi
    echo "== $name ($(date -u +%H:%M:%S), at most ${seconds} s)" | tee -a "$OUT/log/session.log"
    timeout --signal=TERM --kill-after=15 "$seconds" "$@" >"$OUT/log/$name.log" 2>&1
    local rc=$?
    echo "   rc $rc after $(($(date +%s) - start)) s" | tee -a "$OUT/log/session.log"
    tail -n 25 "$OUT/log/$name.log"
}

if [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PATH="/tmp/site/bin:$PATH"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .gl/mnist ]; then
    mkdir -p data/mnist
    for name in $MNIST_NAMES; do gunzip -c ".gl/mnist/$name.gz" >"data/mnist/$name"; done
fi
export RANDABLATE_DATA="$PWD/data"

"$PYTHON" - <<'PY' | tee "$OUT/log/device.log"
import torch
print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB")
PY
# DEVICE_SESSION_CPU=1 runs the steps on the CPU anyway (to try the script's flow, not to measure).
if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    && [ "${DEVICE_SESSION_CPU:-0}" != 1 ]; then
    echo "no CUDA device: nothing to run here (this script is for the lent GPU machine)"
    exit 0
fi
check_mnist data/mnist || echo "MNIST is missing or wrong: the steps that need it will fail"

if [ "$mode" = measure ]; then
    step cuda_tests 120 "$PYTHON" -m pytest -q -rs -k "cuda or gpu or device" \
        tests/test_smoothing.py tests/test_devices.py tests/test_training.py \
        tests/test_ablation.py tests/test_streams.py tests/test_train_many.py
    step certify_throughput 150 "$PYTHON" benchmarks/certify_throughput.py --images 2 \
        --repeats 3 --no-baseline --compile --batch-size 10000
    step table1_gpu 170 "$PYTHON" benchmarks/table1_gpu.py
    step table1_gpu_compile "$(left)" "$PYTHON" benchmarks/table1_gpu.py --compile
else
    step table1 "$(left)" "$PYTHON" -m snakemake reference/mnist-table1/summary.csv \
        --profile profiles/gpu
fi

# Pack: the logs and benchmark files always; Table 1's export or, unfinished, its partial results.
tar -czf "$OUT/results-logs.tgz" logs .snakemake/log 2>/dev/null
if [ -f reference/mnist-table1/summary.csv ]; then
    mkdir -p "$OUT/reference" && cp -r reference/mnist-table1 "$OUT/reference/"
elif [ -d results/gpu ]; then
    find results/gpu -name "*.csv" -print0 | tar -czf "$OUT/results-partial.tgz" --null -T -
fi
echo "== packed into $OUT after $(($(date +%s) - start)) s" | tee -a "$OUT/log/session.log"
ls -la "$OUT"
