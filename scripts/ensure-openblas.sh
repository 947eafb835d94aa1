#!/usr/bin/env bash
# Makes sure OpenBLAS is installed: eas loads it at run time and otherwise
# falls back to a pure-Go BLAS (sgemm ~8x slower). Same pattern as
# ensure-fashion-mnist.sh: install as root or with sudo, else say how.
set -euo pipefail
have() {
  ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' && return 0
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -e "$d/libopenblas.so.0" ] && return 0
  done
  return 1
}
if have; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian package libopenblas0 (fast BLAS for the engine) ..."
  (apt-get install -y -qq libopenblas0 >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq libopenblas0 >/dev/null)
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  echo "Installing Debian package libopenblas0 (sudo) ..."
  sudo apt-get install -y -qq libopenblas0 || true
fi
if ! have; then
  echo "OpenBLAS not found: the demo will run on the pure-Go BLAS, several times slower." >&2
  echo "Install it with 'apt-get install libopenblas0' (Debian/Ubuntu), 'dnf install openblas' (Fedora)" >&2
  echo "or 'brew install openblas' (macOS)." >&2
fi
