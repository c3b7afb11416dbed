#!/usr/bin/env bash
# Installs the Debian packages milnce needs to build, test and benchmark, when missing.
# Idempotent: a machine that has them all installs nothing.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavfilter-dev
  libopenblas-dev check libsubunit-dev libyaml-dev libjansson-dev libyajl-dev libutf8proc-dev
  openmpi-bin libopenmpi-dev
  ffmpeg python3 python3-numpy python3-torch python3-av
  python3-pytest python3-venv python3-setuptools python3-pip
  valgrind chromium fonts-dejavu-core bc
  clang libclang-rt-14-dev
)
missing=()
# The WebVTT conformance test runs the W3C expectation files (.js) with node.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
