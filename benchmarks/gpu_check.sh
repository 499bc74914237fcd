#!/usr/bin/env bash
# One short check of the code on a GPU (under 8 minutes on one GPU), ready to run whenever one
# is at hand:
#
#   bash benchmarks/gpu_check.sh            # from the repository root, venv active or PYTHON=...
#
# Prints: the CUDA tests; certification throughput in fp32 and bf16 on CUDA beside the CPU's; the
# tiny pipeline with two concurrent GPU jobs sharing the GPUs through the lock files; MNIST CNN
# training throughput at batch 128 with the projected GPU-hours of Table 1 at the paper's scale.
# Without CUDA it says so, runs the CPU parts briefly and exits 0 (CI runs it so).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

cuda=$("$PYTHON" -c 'import torch; print(int(torch.cuda.is_available()))')
section "device"
"$PYTHON" - <<'PY'
import torch
print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(f"cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB")
else:
    print("no CUDA device: the CUDA parts are skipped; CPU parts run briefly")
PY

if [ "$cuda" = 1 ]; then
    section "CUDA tests"
    "$PYTHON" -m pytest -q -rs -k "cuda or gpu or device" tests/test_smoothing.py \
        tests/test_devices.py tests/test_training.py tests/test_ablation.py tests/test_streams.py \
        tests/test_train_many.py
    section "certification throughput (CPU and CUDA, fp32 and bf16)"
    "$PYTHON" benchmarks/certify_throughput.py --images 8 --repeats 2 --batch-size 10000
    section "training throughput (MNIST CNN, batch 128)"
    "$PYTHON" benchmarks/train_epoch.py --batches 100
    section "tiny pipeline: two concurrent GPU jobs through the lock files"
    workdir=$(mktemp -d)
    "$PYTHON" - "$workdir" <<'PY'
import sys
from pathlib import Path

sys.path.insert(0, "tests")
from conftest import copy_mnist, tiny_config, write_config

workdir = Path(sys.argv[1])
write_config(workdir, tiny_config(workdir / "data"))
copy_mnist(workdir)
PY
    start=$(date +%s)
    # targets before the options: --resources takes any number of values
    "$PYTHON" -m snakemake results/tables/table1.csv -s "$PWD/workflow/Snakefile" --directory "$workdir" \
        --cores 4 --resources gpu=2 >"$workdir/run.log" 2>&1 \
        || { tail -40 "$workdir/run.log"; exit 1; }
    echo "tiny Table 1 in $(($(date +%s) - start)) s; devices taken per job:"
    grep -r "device: " "$workdir"/logs/results/models "$workdir"/logs/results/votes \
        2>/dev/null | sed "s|$workdir/||" | sort | head -20
    cat "$workdir/results/tables/table1.csv"
else
    section "certification throughput (CPU only, brief)"
    "$PYTHON" benchmarks/certify_throughput.py --images 2 --repeats 1 --no-baseline
    section "training throughput (CPU only, brief)"
    "$PYTHON" benchmarks/train_epoch.py --batches 5
fi
section "done"
