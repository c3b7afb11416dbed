#!/usr/bin/env bash
# sgemm GFLOP/s: the kernel OpenBLAS falls back to on a CPU it does not know ("Prescott",
# forced here) against the kernel milnce selects, in one run. Usage: bench/sgemm.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target bench_sgemm >/dev/null
n=${1:-2048}
read -r pc pg < <(OPENBLAS_CORETYPE=Prescott MILNCE_BLAS_NO_REEXEC=1 ./build/bench_sgemm "$n")
read -r mc mg < <(env -u OPENBLAS_CORETYPE ./build/bench_sgemm "$n")
echo "sgemm ${n}^3, $(nproc) threads"
printf "  fallback kernel %-12s %7.1f GFLOP/s\n" "$pc" "$pg"
printf "  milnce's kernel %-12s %7.1f GFLOP/s  (%.1fx)\n" "$mc" "$mg" "$(echo "$mg / $pg" | bc -l)"
