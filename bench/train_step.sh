#!/usr/bin/env bash
# S3D-G training step and inference, milnce fp32, milnce bf16 (on a CPU with AVX512_BF16) and
# PyTorch 1.13 (/usr/bin/python3, fp32, 2 threads) on the identical model and batch, one after
# the other in the same run, as ratios; and the convolutions' GFLOP/s as a fraction of this
# machine's GEMM peak measured in the same run (bench/bench_gemm_peak.c: OpenBLAS sgemm on its
# threads, milnce's bf16 GEMM one product per thread).
# usage: bench/train_step.sh [small|full|fulltrain|all] [ITERS]   (BUILD=build dir, default build)
#   small:     width 0.25, 16x64x64, B=32, training step (forward + backward + Adam) and inference
#   full:      full S3D-G, 16x224x224, B=1, inference (eval mode)
#   fulltrain: full S3D-G, 16x224x224, B=2, training step
# The OpenBLAS kernel is the process's (a preset OPENBLAS_CORETYPE is kept: run with
# `env -u OPENBLAS_CORETYPE` for the best kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
iters=${2:-3}
build=${BUILD:-build}
cmake --build "$build" --target milnce_cli bench_gemm_peak -j2 >/dev/null
exe="$build/train_step_milnce"
# shellcheck disable=SC2046
gcc -std=c11 -O2 -D_GNU_SOURCE -Iinclude $(find src io pipeline -type d -printf ' -I%p') bench/train_step_milnce.c \
    "$build/libmilnce_cli.a" "$build/libmilnce.a" $(pkg-config --libs openblas) -fopenmp -lm -o "$exe"
py=/usr/bin/python3
export OMP_NUM_THREADS=2
peaks=$("$build/bench_gemm_peak")
read -r _ score speak <<<"$(sed -n 1p <<<"$peaks")"
read -r _ bpeak <<<"$(sed -n 2p <<<"$peaks")"
echo "GEMM peak here (1536^3, 2 threads): sgemm $speak GFLOP/s (kernel $score), milnce bf16 $bpeak GFLOP/s"
have_bf16=0
[ "${bpeak%.*}" -gt 0 ] && have_bf16=1
rate() { sed -n 's/.*: \([0-9.]*\) clips\/s.*/\1/p' <<<"$1" | head -1; }
frac() { # line peak: conv GFLOP/s as % of the peak
    local f b
    f=$(sed -n 's/.*conv.*fwd *\([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$1" | head -1)
    b=$(sed -n 's/.*bwd *\([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$1" | head -1)
    printf "conv fwd %.0f%%" "$(echo "100 * $f / $2" | bc -l)"
    [ -n "$b" ] && printf ", bwd %.0f%%" "$(echo "100 * $b / $2" | bc -l)"
    printf " of the %s peak" "$3"
}
run() { # mode width T H W B iters
    local c b="" t
    c=$("$exe" "$@" fp32)
    [ $have_bf16 = 1 ] && b=$("$exe" "$@" bf16)
    t=$("$py" bench/train_step_torch.py "$@")
    echo "$c"
    [ -n "$b" ] && echo "$b"
    echo "$t"
    local rc rb rt
    rc=$(rate "$c"); rt=$(rate "$t")
    echo "  => milnce fp32 / PyTorch = $(echo "scale=2; $rc / $rt" | bc -l); $(frac "$c" "$speak" sgemm)"
    if [ -n "$b" ]; then
        rb=$(rate "$b")
        echo "  => milnce bf16 / PyTorch = $(echo "scale=2; $rb / $rt" | bc -l), bf16 / fp32 = $(echo "scale=2; $rb / $rc" | bc -l); $(frac "$b" "$bpeak" bf16)"
    else
        echo "  => bf16 not run: this CPU has no AVX512_BF16"
    fi
}
if [[ $which == small || $which == all ]]; then
    run train 0.25 16 64 64 32 "$iters"
    run infer 0.25 16 64 64 32 "$iters"
fi
if [[ $which == full || $which == all ]]; then
    run infer 1.0 16 224 224 1 "$iters"
fi
if [[ $which == fulltrain || $which == all ]]; then
    run train 1.0 16 224 224 2 "$iters"
fi
