#!/usr/bin/env bash
# S3D-G training step and inference, milnce against PyTorch 1.13 (/usr/bin/python3, 2 threads)
# on the identical model and batch, run one after the other.
# usage: bench/train_step.sh [small|full|all] [ITERS]   (BUILD=build dir, default build)
#   small: width 0.25, 16x64x64, B=32, training step (forward + backward + Adam) and inference
#   full:  full S3D-G, 16x224x224, B=1, inference (eval mode)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
iters=${2:-3}
build=${BUILD:-build}
cmake --build "$build" --target milnce_cli -j2 >/dev/null
exe="$build/train_step_milnce"
# shellcheck disable=SC2046
gcc -std=c11 -O2 -D_GNU_SOURCE -Iinclude $(find src io pipeline -type d -printf ' -I%p') bench/train_step_milnce.c \
    "$build/libmilnce_cli.a" "$build/libmilnce.a" $(pkg-config --libs openblas) -fopenmp -lm -o "$exe"
py=/usr/bin/python3
export OMP_NUM_THREADS=2
ratio() { # milnce-line torch-line
    local a b
    a=$(sed -n 's/.*: \([0-9.]*\) clips\/s.*/\1/p' <<<"$1" | head -1)
    b=$(sed -n 's/.*: \([0-9.]*\) clips\/s.*/\1/p' <<<"$2" | head -1)
    echo "  => milnce / PyTorch = $(echo "scale=2; $a / $b" | bc -l)"
}
run() { # mode width T H W B iters
    local c t
    c=$("$exe" "$@")
    t=$("$py" bench/train_step_torch.py "$@")
    echo "$c"
    echo "$t"
    ratio "$c" "$t"
}
if [[ $which == small || $which == all ]]; then
    run train 0.25 16 64 64 32 "$iters"
    run infer 0.25 16 64 64 32 "$iters"
fi
if [[ $which == full || $which == all ]]; then
    run infer 1.0 16 224 224 1 "$iters"
fi
