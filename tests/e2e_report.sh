#!/usr/bin/env bash
# `milnce report` on a fake run folder, rendered by headless Chromium with the network off:
# the page must be self-contained, the DOM must hold the SVG plots and the embedded thumbnails,
# and the screenshot must be a real picture (not blank). The last screenshot is kept at
# /tmp/milnce-report-screenshot.png for a human to look at.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CHROMIUM=${MILNCE_CHROMIUM:-/usr/bin/chromium}
fail() { echo "FAIL: $*"; exit 1; }
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }

need_cmd "$CHROMIUM" "renders the report headless (Debian package chromium)"
need_cmd ffmpeg "the fixture grabs thumbnails with it"

T=$(mktemp -d /tmp/milnce-e2e-report-XXXXXX)
trap 'rm -rf "$T"' EXIT
RUN="$T/run 1"   # a space in the path on purpose
"$PY" "$SRC/tests/reference/report_fixture.py" "$RUN" --steps 6000 --milnce "$BIN"

# Usage and runtime errors.
"$BIN" report --help | grep -q "usage: milnce report" || fail "--help"
set +e
"$BIN" report >/dev/null 2>&1; rc_none=$?
"$BIN" report "$T/missing" >/dev/null 2>&1; rc_missing=$?
"$BIN" report "$RUN" --max-points 2 >/dev/null 2>&1; rc_bad=$?
set -e
[ "$rc_none" = 2 ] && [ "$rc_bad" = 2 ] || fail "usage errors exit $rc_none/$rc_bad, want 2"
[ "$rc_missing" = 1 ] || fail "missing run folder exits $rc_missing, want 1"
ok "usage and error exit codes"

"$BIN" report "$RUN" 2>"$T/stderr" || fail "milnce report failed: $(cat "$T/stderr")"
HTML="$RUN/report.html"
[ -s "$HTML" ] || fail "no report.html"
grep -q "log.jsonl:2001: not JSON" "$T/stderr" || fail "the torn log line was not reported: $(cat "$T/stderr")"
ls "$RUN"/report.html.tmp* >/dev/null 2>&1 && fail "temporary file left behind"
ok "report written ($(stat -c %s "$HTML") bytes)"

# Self-contained: no reference to anything outside the file, nothing active.
if grep -qi "http" "$HTML"; then fail "report mentions http"; fi
if grep -qi "<script" "$HTML"; then fail "report holds a <script>"; fi
if grep -qiE "url\(|@import|<link|<iframe|<object" "$HTML"; then fail "report references external resources"; fi
grep -q "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; whisk the eggs &amp; milk" "$HTML" \
  || fail "injected query not escaped"
ok "self-contained and escaped"

CHROME=("$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --proxy-server=127.0.0.1:9 --user-data-dir="$T/profile")
URL="file://$(cd "$RUN" && pwd)/report.html"
URL=${URL// /%20}
timeout 180 "${CHROME[@]}" --dump-dom "$URL" >"$T/dom.html" 2>"$T/chromium.log" \
  || fail "chromium --dump-dom failed: $(tail -5 "$T/chromium.log")"
"$PY" - "$T/dom.html" <<'EOF'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
def need(cond, what):
    if not cond:
        print("FAIL: rendered DOM: " + what); sys.exit(1)
svgs = re.findall(r'<svg class="plot"', dom)
need(len(svgs) == 6, "%d plot <svg> elements, want 6 (5 curves + recall bars)" % len(svgs))
need(len(re.findall(r"<polyline", dom)) >= 6, "polylines missing")
need(len(re.findall(r'<rect class="bar"', dom)) == 9, "recall bars missing")
imgs = re.findall(r'<img [^>]*src="data:image/jpeg;base64,', dom)
need(len(imgs) == 25, "%d embedded thumbnails, want 25" % len(imgs))
need(dom.count("\u2713 match") == 4, "correct-clip marks missing")
need("pwned" not in re.sub(r"<[^>]+>", "", dom.split("<title>")[1].split("</title>")[0]), "title changed by script")
need("<script" not in dom.lower(), "a script element in the DOM")
print("dom: %d plots, %d thumbnails" % (len(svgs), len(imgs)))
EOF
ok "rendered DOM holds the plots and thumbnails"

SHOT="$T/shot.png"
timeout 180 "${CHROME[@]}" --screenshot="$SHOT" --window-size=1200,2000 --hide-scrollbars "$URL" \
  >>"$T/chromium.log" 2>&1 || fail "chromium --screenshot failed: $(tail -5 "$T/chromium.log")"
[ -s "$SHOT" ] || fail "no screenshot"
ffmpeg -nostdin -v error -i "$SHOT" -f rawvideo -pix_fmt rgb24 "$T/shot.rgb" || fail "ffmpeg cannot decode the screenshot"
"$PY" - "$SHOT" "$T/shot.rgb" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
def need(cond, what):
    if not cond:
        print("FAIL: screenshot: " + what); sys.exit(1)
need(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG")
need(len(data) > 50000, "only %d bytes" % len(data))
w, h = struct.unpack(">II", data[16:24])
need((w, h) == (1200, 2000), "size %dx%d, want 1200x2000" % (w, h))
rgb = open(sys.argv[2], "rb").read()  # decoded by ffmpeg
need(len(rgb) == w * h * 3, "decoded %d bytes" % len(rgb))
colors = {rgb[i:i + 3] for i in range(0, len(rgb), 3)}
need(len(colors) > 500, "only %d distinct colours: blank or broken page" % len(colors))
need(max(rgb[(20 * w + 20) * 3:(20 * w + 20) * 3 + 3]) < 80, "dark header band missing")
# The loss curve's blue (#2563c9), the learning-rate purple (#8a44c2), the match mark's green.
def near(t): return any(all(abs(a - b) <= 24 for a, b in zip(c, t)) for c in colors)
for name, t in (("loss blue", (0x25, 0x63, 0xc9)), ("lr purple", (0x8a, 0x44, 0xc2)), ("match green", (0x1a, 0x9e, 0x46))):
    need(near(t), name + " not found")
print("screenshot: %dx%d, %d distinct colours" % (w, h, len(colors)))
EOF
cp "$SHOT" /tmp/milnce-report-screenshot.png
ok "screenshot is a real page (kept at /tmp/milnce-report-screenshot.png)"
echo "$passed passed, 0 failed"
