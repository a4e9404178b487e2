#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, as root: the sandbox desktop's packages, a
# virtualenv in .venv with the CPU build of torch, and this package with its test extras.
# Safe to run again: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(
  python3 python3-venv python3-pip         # the interpreter, if the machine has none of its own
  xvfb xauth openbox                       # the sandbox display and its window manager
  xdotool x11-utils wmctrl xclip xsel      # window queries, non-ASCII typing, clipboard checks
  imagemagick                              # screenshots of the desktop in the action tests
  mousepad galculator                      # the applications the shipped tasks use
  fonts-dejavu-core                        # readable text in screenshots
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install.sh: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# torch first and pinned: an unpinned torch would pull gigabytes of CUDA wheels.
.venv/bin/pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/pip install -q -e ".[dev]"
echo "install.sh: ready (.venv/bin/agent)"
