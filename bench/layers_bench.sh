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
gcc -O2 -g -std=c11 -D_GNU_SOURCE -fopenmp -I"$here" -I"$here/src" -I"$here/io" -I"$here/pipeline" \
  "$here"/src/conv3d.c "$here"/src/conv3d_direct.c "$here"/src/batchnorm3d.c "$here"/src/pool3d.c "$here"/src/linear.c \
  "$here"/src/activations.c "$here"/src/tensor_ops.c "$here"/src/error.c \
  "$here"/pipeline/blas_select.c "$here"/bench/layers_bench.c \
  -o "$out" $(pkg-config --cflags --libs openblas) -lm
# OpenMP runs the conv work units; OpenBLAS single-threaded inside them (see src/conv3d.c).
export OPENBLAS_NUM_THREADS=1
echo "== milnce"
"$out" "$which" "$reps"
echo "== PyTorch"
/usr/bin/python3 "$here/bench/layers_bench_torch.py" "$which" "$reps"
