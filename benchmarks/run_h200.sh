#!/usr/bin/env bash
# The H200 check of Parity's timer (benchmarks/README.md), on one quiet GPU, one process at a time:
#
#   benchmarks/run_h200.sh WORK STEP [STEP ...]
#
# STEP is MODEL/r0 (`--timer both`: Parity and Alma's own loop, all five conversions; the bundle
# committed under data/examples/), MODEL/reference (gpu_reference.py's independent reference of
# the cells that WORK/MODEL's first bundle ran), MODEL/r1 or MODEL/r2 (repeats, `--timer synced`),
# or MODEL/onnx (one ONNX_GPU cell straight through the worker, bypassing the probe, which marks
# ONNX_GPU unavailable when ONNX Runtime has no CUDA provider: shows the wrong_device check).
# The steps are split over device calls of at most 10 minutes. Seen on the lent H200 for resnet50:
# r0 about 250 s (cold compiles, Alma's loop too), r1 and r2 about 190 s each, the reference
# about 40 s per cell (each recompiles), so for example
#
#   resnet50/r0 resnet50/r1 | resnet50/reference resnet50/r2 | resnet18/r0 resnet18/r1 |
#   resnet18/reference resnet18/r2 resnet18/onnx
#
# WORK/MODEL/ gets bundle-r<N>.json, reference.json, onnx_gpu.json and log.txt; WORK/clocks.csv
# logs the SM clock, temperature, power and utilisation every 500 ms. Each step has its own time
# limit, so that one slow step cannot take the others' results with it.
set -u
if [ $# -lt 2 ]; then
    echo "usage: benchmarks/run_h200.sh WORK STEP [STEP ...]   (STEP: MODEL/r0|r1|r2|reference|onnx)" >&2
    exit 2
fi
work=$1; shift
conversions=EAGER,FP16+EAGER,COMPILE_INDUCTOR_DEFAULT,COMPILE_CUDAGRAPHS,ONNX_GPU
timed=${conversions%,ONNX_GPU}  # the repeats skip the cell that cannot run on this GPU

bench() {  # MODEL REPEAT TIMER CONVERSIONS LIMIT_S
    timeout "$5" python3 -m reporter.cli bench --model "$1" --conversion "$4" --batch-size 1,32 \
        --device cuda --max-seconds 4 --timeout 120 --timer "$3" --label "h200-r$2" \
        --out "$work/$1/bundle-r$2.json"
}

onnx_gpu() {  # MODEL
    local scratch
    scratch=$(mktemp -d)
    echo "{\"model\": \"$1\", \"conversion\": \"ONNX_GPU\", \"batch_size\": 1, \"device\": \"cuda\",
           \"timer\": \"synced\", \"target_ci\": 0.01, \"max_seconds\": 2, \"alma_batches\": 16, \"threads\": 4}" \
        >"$scratch/request.json"
    (cd "$scratch" && PYTHONPATH="$OLDPWD:${PYTHONPATH:-}" timeout 90 python3 -m collectors.worker request.json result.json)
    cp "$scratch/result.json" "$work/$1/onnx_gpu.json"
}

step() {  # MODEL/WHAT
    local model=${1%/*} what=${1#*/}
    case $what in
        r0) bench "$model" 0 both "$conversions" 330 ;;
        r[12]) bench "$model" "${what#r}" synced "$timed" 240 ;;
        reference) timeout 400 python3 benchmarks/gpu_reference.py reference "$work/$model" ;;
        onnx) onnx_gpu "$model" ;;
        *) echo "unknown step $1" >&2; return 2 ;;
    esac
}

mkdir -p "$work"
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,temperature.gpu,power.draw,utilization.gpu \
    --format=csv -lms 500 >"$work/clocks.csv" 2>/dev/null &
clocks=$!
trap 'kill "$clocks" 2>/dev/null' EXIT
for s in "$@"; do
    mkdir -p "$work/${s%/*}"
    echo "== $s $(date +%T)" >>"$work/${s%/*}/log.txt"
    step "$s" >>"$work/${s%/*}/log.txt" 2>&1
    status=$?
    echo "== $s ended $(date +%T) status $status" >>"$work/${s%/*}/log.txt"
done
