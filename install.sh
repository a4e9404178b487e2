#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine, as root: the sandbox desktop's packages, a
# virtualenv in .venv with the CPU build of torch, and this package with its test extras.
# Safe to run again: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(
  python3 python3-venv python3-pip         # the interpreter, if the machine has none of its own
  xvfb xauth openbox dbus                  # the sandbox display, its window manager, a session bus
  tint2 hsetroot                           # the desktop's look: panels (taskbar, top bar, dock), the wallpaper
  gnome-themes-extra adwaita-qt            # ... Adwaita for GTK 2 (pcmanfm) and Qt 5 (featherpad); GTK 3/4 have it built in
  adwaita-icon-theme fonts-cantarell       # ... its icons and GNOME's interface font
  xserver-xephyr                           # `agent record`: the sandbox as a window on the person's display
  xdotool x11-utils wmctrl xclip xsel      # window queries, clipboard checks
  imagemagick                              # screenshots of the desktop in the action tests
  mousepad galculator xterm gnumeric       # the applications the shipped tasks use
  abiword pcmanfm zenity ristretto tumbler
  featherpad gnome-text-editor             # a Qt 5 and a GTK 4 editor for the typing tests (~65 MB, ~20 s)
  fonts-dejavu-core fonts-liberation       # standard fonts: DejaVu, Liberation, a CJK font,
  fonts-droid-fallback xfonts-base         # and the core X fonts (xterm's default fixed font)
)

# Run an apt-get command; while another apt/dpkg holds the package lock (unattended-upgrades, a
# second shell), wait and retry with a message, for at most APT_LOCK_WAIT_S seconds in all.
apt_waiting_for_lock() {
  local limit=${APT_LOCK_WAIT_S:-600} out
  local deadline=$((SECONDS + limit))
  until out=$("$@" 2>&1); do
    if ! grep -qiE "could not get lock|unable to acquire|is another process using it" <<<"$out"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$out" >&2
      echo "install.sh: the apt/dpkg lock is still held after ${limit}s; let the other apt finish (see: ps aux | grep -E 'apt|dpkg') or set APT_LOCK_WAIT_S" >&2
      return 1
    fi
    echo "install.sh: another apt/dpkg holds the package lock; retrying in 10s ($((deadline - SECONDS))s left of ${limit}s)"
    sleep 10
  done
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install.sh: apt-get install ${missing[*]} (a few minutes on a fresh machine)"
  export DEBIAN_FRONTEND=noninteractive
  apt_waiting_for_lock apt-get update -qq
  apt_waiting_for_lock apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# torch first and pinned: an unpinned torch would pull gigabytes of CUDA wheels.
echo "install.sh: pip install torch ${TORCH_VERSION:-2.13.0} (CPU build, about 200 MB: can take minutes) …"
.venv/bin/pip install -q "torch==${TORCH_VERSION:-2.13.0}"
echo "install.sh: pip install -e .[dev] (transformers, textual, pytest, …) …"
.venv/bin/pip install -q -e ".[dev]"
# Test-only: transformers' video processor (the reference in tests/model/test_video_reference.py) needs
# torchvision. Kept out of site-packages (transformers would import it everywhere, and this CUDA wheel's
# C extension cannot load on the CPU build of torch); that one test puts the folder on its PYTHONPATH.
if [ ! -d .venv/reference-torchvision/torchvision-0.28.0.dist-info ]; then
  .venv/bin/pip install -q --no-deps --target .venv/reference-torchvision "torchvision==0.28.0"
fi
echo "install.sh: ready (.venv/bin/agent)"
