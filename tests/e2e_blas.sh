#!/usr/bin/env bash
# The command runs the fastest OpenBLAS kernel the CPU supports, also when OpenBLAS on its own
# would have picked a slower one (simulated by preloading "Prescott" as OpenBLAS's choice).
set -euo pipefail
BIN=${MILNCE_BIN:-build/milnce}
best=$("$BIN" info | awk '/best for CPU/ {print $4}')
core=$(env -u OPENBLAS_CORETYPE "$BIN" info | awk '/^  core/ {print $2}')
echo "best=$best core=$core"
if [ "$best" != "(default)" ]; then
  [ "$core" = "$best" ] || { echo "FAIL: running $core, CPU supports $best"; exit 1; }
  forced=$(OPENBLAS_CORETYPE=Prescott MILNCE_BLAS_IGNORE_USER_CORETYPE=1 "$BIN" info | awk '/^  core/ {print $2}')
  echo "after a Prescott fallback milnce runs: $forced"
  [ "$forced" = "$best" ] || { echo "FAIL: fallback not corrected ($forced)"; exit 1; }
  # A user's explicit, executable choice is kept.
  kept=$(OPENBLAS_CORETYPE=Haswell "$BIN" info | awk '/^  core/ {print $2}')
  [ "$kept" = "Haswell" ] || { echo "FAIL: user's Haswell not kept ($kept)"; exit 1; }
fi
echo "1 passed, 0 failed"
