#!/usr/bin/env bash
# Makes sure the Fashion-MNIST IDX files the quick start uses are present.
set -euo pipefail
dir=${EAS_DATA_FASHION:-/usr/share/datasets/fashion-mnist}
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian package dataset-fashion-mnist ..."
  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null)
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  echo "Installing Debian package dataset-fashion-mnist (sudo) ..."
  sudo apt-get install -y -qq dataset-fashion-mnist
fi
if [ ! -f "$dir/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST not found in $dir." >&2
  echo "Install it with 'apt-get install dataset-fashion-mnist' (Debian/Ubuntu), or download the four IDX files" >&2
  echo "and point eas at them: EAS_DATA_FASHION=/path/to/dir make demo" >&2
  exit 1
fi
