#!/usr/bin/env bash
# scripts/gpu-check.sh: the torch engine on a GPU machine, in one go (< 8 minutes).
#
# For a machine with CUDA and a pip PyTorch >= 2 but no network: copy in the
# repository and a stripped binary (bin/easrun, e.g. built elsewhere with
# `go build -ldflags='-s -w' -o bin/easrun ./cmd/easrun`), then run
#
#   bash scripts/gpu-check.sh            # on cuda
#   DEVICE=cpu bash scripts/gpu-check.sh # dry mode: the same steps on the CPU, small
#
# Steps: (1) build the shim against that torch (make torch), (2) the engine
# conformance suite on the device (easrun conformance), (3) train and eval
# speed of the Table 1 net, a 10x child and DenseNet-BC (L=40, k=12) with eas
# and with PyTorch eager on the same device (same graph, batch 64, float32),
# (4) several children at once, (5) a short search on synthetic 28x28 data
# (Fashion-MNIST when /usr/share/datasets/fashion-mnist exists). Prints one
# Markdown table and the paper-scale estimate; logs go to $OUT (default
# gpu-check-out/).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu-check-out}
PY=${PYTHON:-python3}
EASRUN=${EASRUN:-bin/easrun}
mkdir -p "$OUT"
if [[ $DEVICE == cpu ]]; then STEPS=${STEPS:-4}; CONC=${CONC:-"1 2"}; else STEPS=${STEPS:-100}; CONC=${CONC:-"1 4 8"}; fi
t0=$(date +%s)
say() { echo "== $(($(date +%s) - t0))s: $*" >&2; }

[[ -x $EASRUN ]] || { echo "gpu-check: no $EASRUN: build it (go build -o bin/easrun ./cmd/easrun) and copy it in" >&2; exit 1; }

say "1. shim"
if [[ ${SKIP_BUILD:-} != 1 ]]; then
	OUT= bash scripts/build-torch-shim.sh 2>&1 | tee "$OUT/build.log" | grep '^make torch' >&2
fi
if [[ $DEVICE != cpu ]]; then
	"$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' || {
		echo "gpu-check: $PY's torch sees no CUDA device" >&2; exit 1; }
fi

say "2. conformance on $DEVICE"
"$EASRUN" conformance --engine torch --device "$DEVICE" >"$OUT/conformance.txt" 2>&1 || {
	tail -20 "$OUT/conformance.txt" >&2; echo "gpu-check: conformance failed on $DEVICE" >&2; exit 1; }
conf=$(tail -1 "$OUT/conformance.txt")

say "3. eas vs PyTorch eager, batch 64"
nets=(
	"table1|C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)"
	"child10x|C(32,3,1) C(32,3,1) P(2,2,MAX) C(64,3,1) C(64,3,1) P(2,2,MAX) C(128,3,1) C(128,3,1) P(2,2,MAX) C(192,3,1) P(4,4,AVG) FC(256) SM(10)"
	"densenet40|C(24,3,1) DB(6x12) T(0.5) DB(6x12) T(0.5) DB(6x12) GAP SM(10)"
)
for n in "${nets[@]}"; do
	name=${n%%|*}; arch=${n#*|}
	"$EASRUN" bench --arch "$arch" --graph-json >"$OUT/$name.graph.json"
	"$EASRUN" bench --engine torch --device "$DEVICE" --arch "$arch" --batch 64 --steps "$STEPS" --json >"$OUT/$name.eas.json"
	"$PY" scripts/bench_peers.py --torch-worker "$OUT/$name.graph.json" --device "$DEVICE" --steps "$STEPS" --batch 64 \
		--threads "$(nproc)" >"$OUT/$name.torch.json"
done

say "4. children at once (table1)"
for k in $CONC; do
	"$EASRUN" bench --engine torch --device "$DEVICE" --arch "${nets[0]#*|}" --batch 64 --steps "$STEPS" --concurrent "$k" --json >"$OUT/conc$k.json"
done

say "5. a short search"
data=/usr/share/datasets/fashion-mnist
if [[ ! -e $data/train-images-idx3-ubyte.gz ]]; then
	data=$OUT/synthetic
	"$PY" - "$data" <<'PY'
import gzip, os, struct, sys, random
d = sys.argv[1]; os.makedirs(d, exist_ok=True); r = random.Random(1)
def write(prefix, n):
    labels = bytes(r.randrange(10) for _ in range(n))
    px = bytearray()
    for y in labels:  # class y: a bright 8x8 block at a class-dependent place, plus noise
        img = bytearray(r.randrange(60) for _ in range(784))
        oy, ox = 2 + (y // 5) * 12, 2 + (y % 5) * 5
        for i in range(8):
            for j in range(4):
                img[(oy + i) * 28 + ox + j] = 200 + r.randrange(55)
        px += img
    with gzip.open(os.path.join(d, prefix + "-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(px))
    with gzip.open(os.path.join(d, prefix + "-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
write("train", 6000); write("t10k", 1000)
PY
fi
if [[ $DEVICE == cpu ]]; then lim=600; budget=2; else lim=6000; budget=8; fi
cat >"$OUT/search.eas" <<EOF2
experiment "gpucheck"
dataset fashion {
  kind = idx
  path = "$(cd "$data" && pwd)"
  validation = $((lim / 6))
  limit = $lim
}
start {
  arch = "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) FC(64) SM(10)"
  epochs = 2
}
child {
  epochs = 1
}
search "rl" {
  controller reinforce { }
  steps = [wider, deeper]
  per_episode = $((budget / 2))
  budget = $budget
}
EOF2
s0=$(date +%s)
rm -rf "$OUT/runs"
"$EASRUN" run "$OUT/search.eas" --engine torch --device "$DEVICE" --out "$OUT/runs" --plain --workers 2 >"$OUT/search.log" 2>&1 || {
	tail -20 "$OUT/search.log" >&2; echo "gpu-check: the search failed" >&2; exit 1; }
search_s=$(($(date +%s) - s0))
nets_done=$(grep '"kind":"sample"' "$OUT"/runs/gpucheck/rl/networks.jsonl | grep -c '"status":"ok"' || true)

say "table"
"$PY" - "$OUT" "$DEVICE" "$search_s" "$nets_done" "$conf" $CONC <<'PY'
import json, sys, os
out, dev, search_s, nets_done, conf, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:]
ld = lambda p: json.load(open(os.path.join(out, p)))
e0 = ld("table1.eas.json")
print("eas torch engine on %s: libtorch %s, CUDA %s, cuDNN %s, GPU %s; %s" % (
    e0["device"], e0.get("libtorch"), e0.get("cuda", "-"), e0.get("cudnn", "-"), e0.get("gpu", "-"), conf))
print()
print("| network | eas train img/s | PyTorch train img/s | eas/PyTorch | eas eval img/s | PyTorch eval img/s | eas/PyTorch |")
print("|---|---|---|---|---|---|---|")
for n in ("table1", "child10x", "densenet40"):
    e, t = ld(n + ".eas.json"), ld(n + ".torch.json")
    print("| %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx |" % (n, e["train_img_s"], t["train_img_s"], e["train_img_s"] / t["train_img_s"],
                                                          e["eval_img_s"], t["eval_img_s"], e["eval_img_s"] / t["eval_img_s"]))
one = ld("conc%s.json" % conc[0])["train_img_s"]
for k in conc:
    c = ld("conc%s.json" % k)["train_img_s"]
    print("| table1 x%s at once | %.0f | | %.2fx of one | | | |" % (k, c, c / one))
best = max(ld("conc%s.json" % k)["train_img_s"] for k in conc)
ch = ld("child10x.eas.json")["train_img_s"]
imgs = 450 * 20 * 45000  # the paper's plain-CNN search: 450 networks x 20 epochs on 45,000 CIFAR-10 training images
print()
print("short search: %d networks trained in %ds" % (int(nets_done or 0), search_s))
print("paper-scale estimate (450 networks x 20 epochs x 45k images, training only): %.1f GPU-hours at the Table 1 net's "
      "concurrent rate, %.1f at a 10x child's single rate (the paper: 10 GPU-days)" % (imgs / best / 3600, imgs / ch / 3600))
PY
say "done"
