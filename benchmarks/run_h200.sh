#!/usr/bin/env bash
# The H200 steps of benchmarks/README.md, run as a user whose job limit is 10 minutes would run a
# nightly: killed at the limit, then resumed in the next call.
#
#   benchmarks/run_h200.sh OUT STEP [STEP ...]
#
# STEP is one of
#   smoke            resnet18 EAGER and inductor at batch 1 with --layers: the GPU paths answer
#   energy           benchmarks/energy_check.py: NVML's counter against integrated power
#   nightly:SECONDS  the nightly matrix (6 models x 5 conversions x batch 1 and 32, --timer both) with
#                    cold compile caches, SIGTERM'd after SECONDS like a job limit would
#   resume:SECONDS:JOURNAL   continue that nightly from its journal, again stopped after SECONDS
#   warm:SECONDS     the same matrix again as a new run, with the compile caches the cold run left
#   verify:N         resnet50 EAGER, FP16+EAGER and inductor at batch 1 and 32 with --layers, a fresh
#                    run (the third measurement of those cells minutes apart, with the nightlies)
# OUT gets each step's bundle or JSON, log.txt (each step's output and wall time) and clocks.csv
# (SM clock, temperature, power every 500 ms).
set -u
if [ $# -lt 2 ]; then
    echo "usage: benchmarks/run_h200.sh OUT STEP [STEP ...]" >&2
    exit 2
fi
out=$1; shift
models=resnet18,resnet50,mobilenet_v2,mobilenet_v3_small,efficientnet_b0,vit_b_16
conversions=EAGER,FP16+EAGER,COMPILE_INDUCTOR_DEFAULT,COMPILE_CUDAGRAPHS,ONNX_GPU
cache=/root/parity-compile-cache  # survives between calls while the machine is held
bench="python3 -m reporter.cli bench --device cuda"

step() {  # STEP
    local what=${1%%:*} rest=${1#*:}
    case $what in
        smoke) timeout 240 $bench --model resnet18 --conversion EAGER,COMPILE_INDUCTOR_DEFAULT --batch-size 1 \
                   --max-seconds 2 --timer synced --layers --compile-cache /root/smoke-cache --out "$out/smoke.json" ;;
        energy) timeout 120 python3 benchmarks/energy_check.py "$out/energy.json" ;;
        nightly) timeout -s TERM "$rest" $bench --model $models --conversion $conversions --batch-size 1,32 \
                     --timer both --compile-cache "$cache" --label h200-nightly-cold --out "$out/nightly.json" ;;
        resume) timeout -s TERM "${rest%%:*}" $bench --resume "${rest#*:}" --out "$out/nightly.json" ;;
        warm) timeout -s TERM "$rest" $bench --model $models --conversion $conversions --batch-size 1,32 \
                  --timer both --compile-cache "$cache" --label h200-nightly-warm --out "$out/warm.json" ;;
        verify) timeout 300 $bench --model resnet50 --conversion EAGER,FP16+EAGER,COMPILE_INDUCTOR_DEFAULT \
                    --batch-size 1,32 --timer synced --layers --compile-cache "$cache" --out "$out/verify-$rest.json" ;;
        *) echo "unknown step $1" >&2; return 2 ;;
    esac
}

mkdir -p "$out"
nvidia-smi --query-gpu=timestamp,clocks.sm,temperature.gpu,power.draw,utilization.gpu \
    --format=csv -lms 500 >"$out/clocks.csv" 2>/dev/null &
clocks=$!
trap 'kill "$clocks" 2>/dev/null' EXIT
for s in "$@"; do
    started=$(date +%s)
    echo "== $s $(date +%T)" >>"$out/log.txt"
    step "$s" >>"$out/log.txt" 2>&1
    status=$?
    echo "== $s ended $(date +%T) status $status after $(( $(date +%s) - started )) s" >>"$out/log.txt"
    tail -c 3000 "$out/log.txt" | grep -v "cell/s" | tail -25
done
