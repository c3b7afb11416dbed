#!/usr/bin/env bash
# The built command's options, as a user sees them: for every subcommand `milnce --help` lists,
# every option its --help lists is recognised (tried with a value when the help shows one, then a
# trailing unknown option so nothing runs: the error must name that one, not the option tried),
# an unknown option is a usage error (exit 2) naming it, and --help exits 0. check_cli checks the
# other direction (every option of a table is in its --help) on the tables themselves.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*"; exit 1; }
ERRFILE=$(mktemp)
trap 'rm -f "$ERRFILE"' EXIT

cmds=$("$BIN" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 12 ] || fail "milnce --help lists too few commands: $cmds"
tried=0
for c in $cmds; do
    help=$("$BIN" "$c" --help) || fail "milnce $c --help exits $?"
    echo "$help" | head -1 | grep -q "^usage: milnce $c" || fail "milnce $c --help: no usage line"
    set +e
    "$BIN" "$c" --no-such-option >/dev/null 2>"$ERRFILE" ; rc=$?
    set -e
    [ $rc -eq 2 ] && grep -q -- "--no-such-option" "$ERRFILE" || fail "milnce $c --no-such-option: rc $rc"
    # option lines: "  --name META  help" or "  -x, --name META  help"
    while read -r name meta; do
        [ "$name" = help ] && continue
        if [ -n "$meta" ]; then args=("--$name" 1); else args=("--$name"); fi
        set +e
        "$BIN" "$c" "${args[@]}" --zz-not-an-option >/dev/null 2>"$ERRFILE"; rc=$?
        set -e
        err=$(cat "$ERRFILE")
        [ $rc -eq 2 ] || fail "milnce $c ${args[*]} --zz-not-an-option: rc $rc, want 2: $err"
        if echo "$err" | grep -q -- "unknown option '--$name'"; then fail "milnce $c --help lists --$name, which it refuses"; fi
        tried=$((tried + 1))
    done < <(echo "$help" | sed -n '/^options:/,$p' | sed -nE 's/^  (-[a-zA-Z], )?--([a-z0-9-]+)( ([^ ]+))?.*/\2 \4/p')
done
[ $tried -ge 60 ] || fail "only $tried options tried"
echo "ok: $tried options of $(echo "$cmds" | wc -w) commands recognised as their --help lists them"
