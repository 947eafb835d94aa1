#!/usr/bin/env python3
"""make bench-peers: eas against PyTorch (CPU) on the same networks, same thread count.

A third column is eas's torch engine (easrun bench --engine torch --device cpu: the same
nets through eas's libtorch shim, built by make torch); it is skipped, with a note, where
the shim is absent. It measures the overhead of ours around PyTorch's own kernels.

For each network the script asks easrun for its lowered graph (easrun bench --graph-json)
and builds the PyTorch twin node by node, so both sides run exactly the same layers:
conv without bias + BatchNorm + ReLU, pooling, FC + BN + ReLU, concatenations, the final
linear layer. Training is forward + cross-entropy + backward + SGD step (momentum 0.9,
Nesterov, weight decay 1e-4 on conv/FC weights only, as eas does), batch 64; eval is a
forward pass with the running BN statistics.

Each measurement is a fresh process with its own warm-up. eas and PyTorch alternate
(eas, torch, eas, torch, ...) so both see the same background load; the table reports
medians over the pairs and the median of the per-pair ratios. Only ratios mean anything
on a shared machine.

Usage: scripts/bench_peers.py [--easrun bin/easrun] [--pairs 5] [--threads 2] [--net NAME]
       scripts/bench_peers.py --torch-worker GRAPH.json ...   (internal)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

NETS = [
    # The paper's Table 1 start network.
    ("table1", "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)"),
    # A widened and deepened child: 10.5x the start's mult-adds (42.2 M vs 4.0 M).
    ("child10x", "C(32,3,1) C(32,3,1) P(2,2,MAX) C(64,3,1) C(64,3,1) P(2,2,MAX) C(128,3,1) C(128,3,1) P(2,2,MAX) "
                 "C(192,3,1) P(4,4,AVG) FC(256) SM(10)"),
    # DenseNet-BC, L=40, k=12 (bottleneck 4k, compression 0.5) on 32x32.
    ("densenet40", "C(24,3,1) DB(6x12) T(0.5) DB(6x12) T(0.5) DB(6x12) GAP SM(10)"),
]

INSTALL = ("PyTorch is not installed for {py}.\n"
           "Install Debian's CPU build with:  apt-get install python3-torch\n"
           "(or: pip install torch --index-url https://download.pytorch.org/whl/cpu), then run make bench-peers again.")


def torch_model(graph):
    """The PyTorch twin of an eas graph (list of nodes in topological order)."""
    import torch
    import torch.nn as nn

    nodes = graph["nodes"]

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = nn.ModuleDict()
            self.decay = []  # parameters with weight decay (conv/FC/linear weights)
            for n in nodes[1:]:
                src = nodes[n["inputs"][0]]
                op, key = n["op"], str(n["id"])
                if op == "conv":
                    m = nn.Conv2d(src["c"], n["filters"], n["kernel"], n["stride"], n["pad"], bias=n.get("bias", False))
                    self.decay.append(m.weight)
                elif op == "bn":
                    spatial = src["h"] * src["w"] > 1 or src["op"] not in ("fc", "linear")
                    m = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(n["c"], eps=1e-5, momentum=0.1)
                elif op in ("fc", "linear"):
                    m = nn.Linear(src["c"] * src["h"] * src["w"], n["units"], bias=n.get("bias", False) or op == "linear")
                    self.decay.append(m.weight)
                elif op == "relu":
                    m = nn.ReLU(inplace=False)
                elif op == "maxpool":
                    m = nn.MaxPool2d(n["kernel"], n["stride"])
                elif op == "avgpool":
                    m = nn.AvgPool2d(n["kernel"], n["stride"])
                elif op == "gap":
                    m = nn.AdaptiveAvgPool2d(1)
                elif op == "dropout":
                    m = nn.Dropout(n["rate"])
                elif op == "concat":
                    m = None
                else:
                    raise SystemExit("bench_peers: no PyTorch twin for op %r" % op)
                if m is not None:
                    self.mods[key] = m

        def forward(self, x):
            outs = [x]
            for n in nodes[1:]:
                op = n["op"]
                if op == "concat":
                    y = torch.cat([outs[i] for i in n["inputs"]], 1)
                else:
                    a = outs[n["inputs"][0]]
                    if op in ("fc", "linear") and a.dim() > 2:
                        a = torch.flatten(a, 1)
                    y = self.mods[str(n["id"])](a)
                outs.append(y)
            return outs[-1]

    return Twin()


def torch_worker(args):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    dev = torch.device(args.device)
    # float32 throughout, as eas (no TF32 on Ampere and later).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    with open(args.torch_worker) as f:
        graph = json.load(f)
    model = torch_model(graph).to(dev)
    inp = graph["nodes"][0]
    x = torch.randn(args.batch, inp["c"], inp["h"], inp["w"], device=dev)
    classes = graph["nodes"][-1]["c"]
    y = torch.randint(0, classes, (args.batch,), device=dev)
    decay_ids = {id(p) for p in model.decay}
    groups = [{"params": [p for p in model.parameters() if id(p) in decay_ids], "weight_decay": 1e-4},
              {"params": [p for p in model.parameters() if id(p) not in decay_ids], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=1e-4, momentum=0.9, nesterov=True)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(max(2, args.steps // 10)):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            model(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            model(x)
        sync()
        eval_s = time.perf_counter() - t0
    print(json.dumps({"train_img_s": args.batch * args.steps / train_s, "eval_img_s": args.batch * args.steps / eval_s,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--easrun", default="bin/easrun")
    ap.add_argument("--pairs", type=int, default=5, help="alternating eas/PyTorch pairs per network (median reported)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (eas --workers, torch.set_num_threads)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.5, help="rough length of one timed training loop")
    ap.add_argument("--net", action="append", help="only these networks (%s)" % ", ".join(n for n, _ in NETS))
    ap.add_argument("--json", help="also write the raw measurements here")
    ap.add_argument("--omp-wait", choices=("auto", "active", "passive"), default="auto",
                    help="OMP_WAIT_POLICY for PyTorch: spinning (libgomp's default) collapses when the cores are "
                         "oversubscribed (measured on a loaded 2-core host: 28 vs 461 img/s); auto = passive when the "
                         "load average exceeds the CPU count")
    ap.add_argument("--no-torch-engine", action="store_true", help="skip the torch-engine column")
    ap.add_argument("--torch-worker", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=20, help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)  # the worker's device (scripts/gpu-check.sh: cuda)
    args = ap.parse_args()
    if args.torch_worker:
        return torch_worker(args)
    try:
        import torch
    except ImportError:
        print(INSTALL.format(py=sys.executable), file=sys.stderr)
        return 2

    env = dict(os.environ)
    for k in ("EAS_BLAS", "EAS_SIMD", "EAS_BLAS_THREADS"):
        env.pop(k, None)
    # Both sides get the same cores; libgomp and OpenBLAS threads stay at the chosen count.
    env["OMP_NUM_THREADS"] = str(args.threads)
    wait = args.omp_wait
    if wait == "auto":
        wait = "passive" if os.getloadavg()[0] > (os.cpu_count() or 1) else "active"
    if wait == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif "OMP_WAIT_POLICY" in env and args.omp_wait == "active":
        env.pop("OMP_WAIT_POLICY")
    load0 = os.getloadavg()[0]
    nets = [(n, a) for n, a in NETS if not args.net or n in args.net]
    with_te = not args.no_torch_engine
    if with_te:
        probe = subprocess.run([args.easrun, "bench", "--engine", "torch", "--device", "cpu", "--arch", "SM(10)", "--input",
                                "4x4x1", "--steps", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        if probe.returncode != 0:
            print("bench_peers: no torch-engine column: %s" % probe.stderr.strip().splitlines()[-1:], file=sys.stderr)
            with_te = False
    raw, rows, info = {}, [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch in nets:
            gpath = os.path.join(tmp, name + ".json")
            graph = run_json([args.easrun, "bench", "--arch", arch, "--graph-json"], env)
            with open(gpath, "w") as f:
                json.dump(graph, f)
            # Size the loops from one quick eas run: about args.seconds of training.
            probe = run_json([args.easrun, "bench", "--arch", arch, "--steps", "2", "--workers", str(args.threads),
                              "--batch", str(args.batch), "--no-peak", "--json"], env)
            steps = max(3, min(200, int(args.seconds * probe["train_img_s"] / args.batch)))
            eas_cmd = [args.easrun, "bench", "--arch", arch, "--steps", str(steps), "--workers", str(args.threads),
                       "--batch", str(args.batch), "--no-peak", "--json"]
            torch_cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", gpath, "--steps", str(steps),
                         "--threads", str(args.threads), "--batch", str(args.batch)]
            te_cmd = eas_cmd[:2] + ["--engine", "torch", "--device", "cpu"] + eas_cmd[2:]
            pairs, tes = [], []
            for i in range(args.pairs):
                e = run_json(eas_cmd, env)
                te = run_json(te_cmd, env) if with_te else None
                t = run_json(torch_cmd, env)
                pairs.append((e, t))
                tes.append(te)
                print("%-10s pair %d/%d: eas train %6.0f eval %6.0f | %storch train %6.0f eval %6.0f img/s" % (
                    name, i + 1, args.pairs, e["train_img_s"], e["eval_img_s"],
                    "eas-torch train %6.0f eval %6.0f | " % (te["train_img_s"], te["eval_img_s"]) if te else "",
                    t["train_img_s"], t["eval_img_s"]), file=sys.stderr, flush=True)
            info = {"eas": "%s, core %s, %s kernels" % (e["blas"], e["blas_core"] or "-", e["kernels"]),
                    "torch": "PyTorch %s, %d threads, OMP_WAIT_POLICY=%s" % (t["torch"], t["threads"],
                                                                         env.get("OMP_WAIT_POLICY", "default")),
                    "load": "load average %.1f on %d CPUs at the start" % (load0, os.cpu_count() or 1)}
            raw[name] = {"arch": arch, "steps": steps, "mflop_per_train_image": e["mflop_per_train_image"],
                         "pairs": [{"eas": e, "torch": t, "eas_torch_engine": te} for (e, t), te in zip(pairs, tes)]}
            med = lambda xs: statistics.median(xs)
            for mode in ("train", "eval"):
                k = mode + "_img_s"
                ev = [e[k] for e, _ in pairs]
                tv = [t[k] for _, t in pairs]
                ratio = med([a / b for a, b in zip(ev, tv)])
                te_med = te_ratio = None
                if with_te:
                    xv = [te[k] for te in tes]
                    te_med, te_ratio = med(xv), med([a / b for a, b in zip(xv, tv)])
                rows.append((name, mode, med(ev), med(tv), ratio, min(a / b for a, b in zip(ev, tv)),
                             max(a / b for a, b in zip(ev, tv)), te_med, te_ratio))
    print()
    print("eas: %s" % info.get("eas", ""))
    print("peer: %s" % info.get("torch", ""))
    print("host: %s" % info.get("load", ""))
    print("%d alternating pairs per network, batch %d, %d threads each; images/s medians, ratio = median of per-pair eas/torch"
          % (args.pairs, args.batch, args.threads))
    print()
    te_head = " eas torch engine img/s | torch engine / PyTorch |" if with_te else ""
    print("| network | pass | eas img/s | PyTorch img/s | eas / PyTorch | range |" + te_head)
    print("|---|---|---|---|---|---|" + ("---|---|" if with_te else ""))
    for name, mode, e, t, r, lo, hi, te, ter in rows:
        te_cols = " %.0f | %.2fx |" % (te, ter) if with_te else ""
        print("| %s | %s | %.0f | %.0f | %.2fx | %.2f-%.2f |%s" % (name, mode, e, t, r, lo, hi, te_cols))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "nets": raw}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
