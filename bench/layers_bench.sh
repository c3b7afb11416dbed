#!/bin/bash
# Conv3d layers of milnce next to PyTorch (oneDNN) on the same shapes, same thread count.
#   bench/layers_bench.sh [small|full|all] [reps]
# Builds bench/layers_bench.c against the library sources, then runs both. On a machine shared
# with other jobs set MILNCE_BENCH_CPU=1 OMP_NUM_THREADS=1: both then report GFLOP per
# CPU-second of one thread, which the other jobs disturb much less than wall time.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/milnce_layers_bench
which=${1:-all}
reps=${2:-5}
gcc -O2 -g -std=c11 -D_GNU_SOURCE -fopenmp -I"$here" $(find "$here/src" "$here/io" "$here/pipeline" -type d -printf ' -I%p') \
  "$here"/src/nn/conv3d.c "$here"/src/nn/conv3d_direct.c "$here"/src/nn/batchnorm3d.c "$here"/src/nn/pool3d.c "$here"/src/nn/linear.c \
  "$here"/src/nn/activations.c "$here"/src/nn/tensor_ops.c "$here"/src/base/error.c \
  "$here"/pipeline/cli/blas_select.c "$here"/bench/layers_bench.c \
  -o "$out" $(pkg-config --cflags --libs openblas) -lm
# OpenMP runs the conv work units; OpenBLAS single-threaded inside them (see src/nn/conv3d.c).
export OPENBLAS_NUM_THREADS=1
echo "== milnce"
"$out" "$which" "$reps"
echo "== PyTorch"
/usr/bin/python3 "$here/bench/layers_bench_torch.py" "$which" "$reps"
