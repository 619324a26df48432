#!/usr/bin/env bash
# count_cudnn_deprecations.sh [BUILD_DIR]
# Counts the deprecated cuDNN calls the CUDA backend still makes (cuDNN 9 marks the legacy
# convolution and batch-norm entry points deprecated; the graph API replaces them): configures a
# scratch build with -DHRNET_CUDNN_WARN_DEPRECATED=ON, compiles the CUDA sources of the library, and
# prints the deprecation warnings per file and in total. Needs nvcc (no GPU). About 5 minutes on 2 cores.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build-cudnn-deprecations}
command -v nvcc > /dev/null || { echo "count_cudnn_deprecations: nvcc not found"; exit 2; }
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHRNET_WITH_CUDA=ON -DHRNET_CUDNN_WARN_DEPRECATED=ON \
  -DHRNET_BUILD_TESTS=OFF -DHRNET_BUILD_EXAMPLES=OFF -DHRNET_BUILD_BENCHMARKS=OFF > /dev/null
objs=$(ninja -C "$build" -t targets all | grep -o '^[^:]*kernels/cuda/[^:]*\.cu\.o' | sort -u)
rm -f $(for o in $objs; do echo "$build/$o"; done)
log=$build/deprecations.log
ninja -C "$build" $objs > "$log" 2>&1 || { tail -20 "$log"; exit 1; }
echo "deprecated cuDNN calls per file (compiler warnings with CUDNN_WARN_DEPRECATED):"
grep -i 'deprecat' "$log" | grep -o 'kernels/cuda/[a-z_]*\.cu' | sort | uniq -c | sort -rn || true
echo "total: $(grep -ci 'deprecat' "$log" || true)"
