#!/usr/bin/env bash
# Builds the libtorch shim of eas's "torch" engine (core/engine/torch/shim)
# into bin/libeas_torch.so, beside bin/easrun, where the backend finds it.
# Against a pip-installed torch >= 2 when python3 has one (its headers and
# libraries, found through torch.utils.cpp_extension), else Debian's
# libtorch-dev (1.13). TORCH_FROM=pip|debian forces one. Prints which.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bin/libeas_torch.so}
SRC=core/engine/torch/shim/eas_torch.cpp
CXX=${CXX:-g++}
PY=${PYTHON:-python3}
mkdir -p "$(dirname "$OUT")"

pip_info() {
	"$PY" - <<'PY' 2>/dev/null
import torch, torch.utils.cpp_extension as c
v = torch.__version__.split("+")[0]
if int(v.split(".")[0]) < 2:
    raise SystemExit(1)
print(v)
print(" ".join(c.include_paths()))
print(" ".join(c.library_paths()))
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
PY
}

from=${TORCH_FROM:-auto}
if [[ $from != debian ]] && info=$(pip_info); then
	mapfile -t f <<<"$info"
	ver=${f[0]}; incs=${f[1]}; libdirs=${f[2]}; abi=${f[3]}
	from=pip
elif [[ $from != pip ]] && [[ -d /usr/include/torch/csrc/api/include ]]; then
	ver=$(dpkg-query -W -f '${Version}' libtorch-dev 2>/dev/null || echo "?")
	incs="/usr/include/torch/csrc/api/include"; libdirs=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu); abi=1
	from=debian
else
	echo "make torch: no libtorch found: install Debian's libtorch-dev (apt-get install libtorch-dev) or a pip torch >= 2 for $PY" >&2
	exit 1
fi

flags=(-O2 -std=c++17 -fPIC -shared -w "-D_GLIBCXX_USE_CXX11_ABI=$abi")
for d in $incs; do flags+=(-isystem "$d"); done
libs=()
for d in $libdirs; do libs+=(-L "$d" "-Wl,-rpath,$d"); done
libs+=(-Wl,--no-as-needed -ltorch -ltorch_cpu -lc10)
for d in $libdirs; do
	# CUDA builds: link libtorch_cuda so its kernels register at load time.
	[[ -e $d/libtorch_cuda.so ]] && libs+=(-ltorch_cuda -lc10_cuda) && break
done
libs+=(-Wl,--as-needed -ldl)
echo "make torch: building $OUT against $from libtorch $ver"
"$CXX" "${flags[@]}" "$SRC" -o "$OUT" "${libs[@]}"
echo "make torch: built $OUT ($from libtorch $ver)"
