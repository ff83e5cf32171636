#!/usr/bin/env bash
# Does a cell's level depend on the process that measures it, and does pinning the process to
# fixed cores change that? (benchmarks/README.md, "fresh processes"). On a CUDA machine:
#
#   PYTHONPATH=$PWD benchmarks/process_spread.sh OUT
#
# For resnet50 FP16+EAGER batch 1 and COMPILE_INDUCTOR_DEFAULT batch 32, five rounds of two fresh
# worker processes, one free to run anywhere and one pinned by taskset to the GPU's first four
# local cores. OUT/spread.txt gets one line per process (cell, free/pinned, round, perf_counter
# median ms, CUDA-event median ms, samples, why it stopped); OUT/host.txt the CPU and GPU topology.
set -u
mkdir -p "$1"
out=$(realpath "$1")
lscpu >"$out/host.txt" 2>&1
nvidia-smi topo -m >>"$out/host.txt" 2>&1
(numactl -H || echo "no numactl") >>"$out/host.txt" 2>&1
affinity=$(nvidia-smi topo -m 2>/dev/null | awk '$1 == "GPU0" {for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+-[0-9]+/) {print $i; exit}}')
first=${affinity%%-*}; first=${first:-0}
pinned="$first-$((first + 3))"
echo "GPU-local cores: ${affinity:-unknown}; pinned to $pinned" >>"$out/host.txt"

cd "$(mktemp -d)" || exit 1
for cell in "FP16+EAGER 1" "COMPILE_INDUCTOR_DEFAULT 32"; do
    set -- $cell
    echo "{\"model\": \"resnet50\", \"conversion\": \"$1\", \"batch_size\": $2, \"device\": \"cuda\", \"timer\": \"synced\",
           \"target_ci\": 0.01, \"max_seconds\": 3, \"alma_batches\": 16, \"threads\": 4}" >request.json
    for round in 1 2 3 4 5; do
        for mode in free pinned; do
            prefix=(); [ $mode = pinned ] && prefix=(taskset -c "$pinned")
            OMP_NUM_THREADS=4 timeout 90 "${prefix[@]}" python3 -m collectors.worker request.json result.json >/dev/null 2>&1
            python3 -c "
import json, statistics
try:
    r = json.load(open('result.json'))['results'][0]
    figures = [round(statistics.median(r['samples']), 3), round(statistics.median(r['gpu_samples']), 3),
               len(r['samples']), r['stopped_by']]
except (OSError, KeyError, ValueError, IndexError) as error:  # no result: the worker failed
    figures = ['failed:', repr(error)]
print('$1', $2, '$mode', $round, *figures)" | tee -a "$out/spread.txt"
            rm -f result.json
        done
    done
done
