# Sourced by every tests/e2e_*.sh: where the command, the sources and the test data are, and the
# one way a test says it cannot run here. CTest passes the paths in the environment; the defaults
# make a script runnable by hand from the repository's root.
MILNCE_SOURCE_DIR=${MILNCE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SRC=$MILNCE_SOURCE_DIR
BIN=$(realpath "${MILNCE_BIN:-$SRC/build/milnce}")
PY=${MILNCE_PYTHON:-/usr/bin/python3}
# Real files written by others (tests/data/README.md says where each comes from).
TD=$(realpath "${MILNCE_TESTDATA:-$SRC/tests/data}")

# skip_test KIND REASON: the test cannot run here. Exit 77 is CTest's SKIP_RETURN_CODE for every
# test. KIND "tool" (a missing package or program) fails under CI=true, where scripts/setup.sh
# installed everything; KIND "hardware" (a CPU feature) stays a skip everywhere.
skip_test() {
  local kind=$1
  shift
  if [ "$kind" != hardware ] && [ "${CI:-}" = true ]; then
    echo "FAIL (CI=true: every tool is installed there): cannot run: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

# need_cmd PROGRAM [WHY]: skip unless PROGRAM is on PATH (or an executable path).
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || skip_test tool "$1 not found${2:+ ($2)}; scripts/setup.sh installs it"
}

# need_py MODULE...: skip unless $PY imports every MODULE (Debian's python3-<module> packages).
need_py() {
  local m
  need_cmd "$PY" "Python 3 runs the reference checks"
  for m in "$@"; do
    "$PY" -c "import $m" >/dev/null 2>&1 || skip_test tool "$PY cannot import $m (Debian package python3-$m; scripts/setup.sh installs it)"
  done
}
