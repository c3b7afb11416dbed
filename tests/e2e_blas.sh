#!/usr/bin/env bash
# The command runs an OpenBLAS kernel at least as fast as the best one this CPU supports (its
# sgemm: Cooperlake and SapphireRapids count as SkylakeX, whose sgemm they use), and a user's
# explicit OPENBLAS_CORETYPE is kept. The decision itself is unit-tested on recorded CPUs in
# check_blas_select; here the real process on this machine is checked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# sgemm speed rank of a kernel name, independent of pipeline/cli/blas_select.c's table.
rank() {
  case ${1,,} in
    skylakex|cooperlake|sapphirerapids) echo 3 ;;
    haswell|zen) echo 2 ;;
    sandybridge|bulldozer|piledriver|steamroller|excavator) echo 1 ;;
    *) echo 0 ;;
  esac
}
info=$(env -u OPENBLAS_CORETYPE -u MILNCE_BLAS_SELECTED -u MILNCE_BLAS_REEXEC "$BIN" info)
best=$(echo "$info" | awk '/best for CPU/ {print $4}')
core=$(echo "$info" | awk '/^  core/ {print $2}')
selection=$(echo "$info" | sed -n 's/^  selection *//p')
echo "best=$best core=$core selection: $selection"
if [ "$best" != "(default)" ]; then
  [ "$(rank "$core")" -ge "$(rank "$best")" ] || { echo "FAIL: running $core, CPU supports $best"; exit 1; }
  case $selection in *"best this CPU supports"*) ;; *) echo "FAIL: selection says: $selection"; exit 1 ;; esac
fi
# A user's explicit, executable choice is kept, also a slower one.
for user in Prescott ${best/(default)/}; do
  kept=$(env -u MILNCE_BLAS_SELECTED -u MILNCE_BLAS_REEXEC OPENBLAS_CORETYPE=$user "$BIN" info)
  got=$(echo "$kept" | awk '/^  core/ {print $2}')
  [ "${got,,}" = "${user,,}" ] || { echo "FAIL: user's $user not kept ($got)"; exit 1; }
  echo "$kept" | grep -q "set by OPENBLAS_CORETYPE" || { echo "FAIL: user's $user: $(echo "$kept" | grep selection)"; exit 1; }
done
echo "1 passed, 0 failed"
