#!/usr/bin/env bash
# The H200 check of Parity's timer (benchmarks/README.md), on a machine with 2 GPUs: resnet18 on
# GPU 0 and resnet50 on GPU 1 in parallel, each pinned to its own half of the CPU cores so that
# one model's compile cannot disturb the other's timing.
#
#   benchmarks/run_h200.sh first  WORK   # repeat 0 (Parity + Alma, bundle), repeat 1 (Parity)
#   benchmarks/run_h200.sh second WORK   # repeat 2 (Parity), then gpu_reference.py reference
#
# WORK/<model>/ gets bundle-r<N>.json, reference.json and log.txt; `second` needs `first`'s files.
# `second` also runs one ONNX_GPU cell straight through the worker, bypassing the probe (which
# marks ONNX_GPU unavailable when ONNX Runtime has no CUDA provider), to show the wrong_device check.
set -u
phase=$1 work=$2
conversions=EAGER,FP16+EAGER,COMPILE_INDUCTOR_DEFAULT,COMPILE_CUDAGRAPHS,ONNX_GPU
timed=${conversions%,ONNX_GPU}  # the repeats skip the cell that cannot run on this GPU

pin() {  # CORES COMMAND...: run COMMAND on those cores where taskset exists
    local cores=$1; shift
    if command -v taskset >/dev/null; then taskset -c "$cores" "$@"; else "$@"; fi
}

bench() {  # GPU CORES MODEL REPEAT TIMER CONVERSIONS
    CUDA_VISIBLE_DEVICES=$1 pin "$2" python3 -m reporter.cli bench --model "$3" --conversion "$6" \
        --batch-size 1,32 --device cuda --max-seconds 10 --timeout 240 --timer "$5" \
        --label "h200-r$4" --out "$work/$3/bundle-r$4.json" >>"$work/$3/log.txt" 2>&1
}

per_gpu() {  # GPU CORES MODEL
    mkdir -p "$work/$3"
    case $phase in
        first) bench "$1" "$2" "$3" 0 both "$conversions"; bench "$1" "$2" "$3" 1 synced "$timed" ;;
        second) bench "$1" "$2" "$3" 2 synced "$timed"
                CUDA_VISIBLE_DEVICES=$1 pin "$2" python3 benchmarks/gpu_reference.py reference "$work/$3" \
                    >>"$work/$3/log.txt" 2>&1 ;;
    esac
}

half=$(( $(nproc) / 2 ))
per_gpu 0 "0-$((half - 1))" resnet18 &
per_gpu 1 "$half-$((2 * half - 1))" resnet50 &
wait

if [ "$phase" = second ]; then
    mkdir -p "$work/onnx_gpu"
    echo '{"model": "resnet18", "conversion": "ONNX_GPU", "batch_size": 1, "device": "cuda", "timer": "synced",
           "target_ci": 0.01, "max_seconds": 5, "alma_batches": 16, "threads": 4}' >"$work/onnx_gpu/request.json"
    (cd "$work/onnx_gpu" && PYTHONPATH="$OLDPWD:${PYTHONPATH:-}" CUDA_VISIBLE_DEVICES=0 \
        python3 -m collectors.worker request.json result.json >log.txt 2>&1)
fi
