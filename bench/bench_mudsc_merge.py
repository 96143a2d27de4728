#!/usr/bin/env python3
"""The merge step of libmudsc against other implementations on identical inputs.

Two modes:

--paper DIR: against the paper's own code (github.com/zju-vipa/
  training_free_model_merging, DIR = a checkout of it; its
  homogeneous_tasks/mudsc.py, class WeightFusion, is imported unchanged).
  Statistics given, no forward passes, one sweep: the paper's
  WeightFusion.transform() with its gen_act_sims replaced by the given
  activation correlations (everything else is its code: the
  activation-initial matching, iter_transform with iter = 1, the merged state
  dict loaded into the merged network), against mudsc.Matcher(max_iter=1),
  set_activation_similarity, run, merge and to_numpy on the same float32
  weights and the same S_a.  Cases: weight matching (wm) and MuDSC align
  (align, alpha 0.5) at ResNet-20 x2, x4, x8 and an MLP 784-1024-1024-1024-10;
  ZipIt (activation zip, alpha 0) and MuDSC zip (alpha 0.5) at ResNet-20 x2
  and x4.  Each case alternates the two sides --reps times and reports the
  medians.  In the same run: this machine's sgemm rate (cblas_sgemm of the
  OpenBLAS libmudsc links, n = 2048, the same threads) against the rate of
  the weight-similarity GEMMs inside libmudsc's sweeps (the library logs their
  flops and seconds per sweep at level debug), and the rest of the sweep.
  libmudsc's time is split into run_s (mudsc_matcher_run: the sweep) and
  merge_s (merge + to_numpy: the merged state dict, ~1/3 of the total at
  ResNet-20 x8).  `uptime` is printed before and after: on a loaded machine the paper's code
  (PyTorch, many small operations) slows down more than the library.

(default): the older check against the NumPy oracle (tests/oracle/mudsc_ref.py):
  a whole MuDSC align run (all sweeps) of a ResNet-20 x K pair in float64,
  same correspondences and merged tensors, seconds and the speed-up.

Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 /usr/bin/python3 bench_mudsc_merge.py
       [--paper DIR [--cases wm-r20x2,...] [--reps 5] [--threads 2]] [--width-mult K]
"""
import argparse
import contextlib
import ctypes
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mudsc  # noqa: E402
import mudsc_ref as ref  # noqa: E402
import nets  # noqa: E402
from mudsc import Graph, Matcher, Model  # noqa: E402
from test_graph_builders import permute_state_dict  # noqa: E402


def main_oracle(args):
    """libmudsc against the NumPy oracle (the whole MuDSC run, float64)."""
    k = args.width_mult
    torch.manual_seed(0)
    net = nets.ResNet([3, 3, 3], [16 * k, 32 * k, 64 * k], 16 * k).double().eval()
    g = Graph.resnet("resnet20", width_multiplier=k)
    graph_dict = json.loads(g.to_json())
    rng = np.random.default_rng(0)
    sd = net.state_dict()
    a = {n: v.numpy().copy() for n, v in sd.items()}
    b = {n: v.numpy().copy() for n, v in permute_state_dict(sd, g, rng).items()}
    for n, v in b.items():
        if v.dtype.kind == "f" and v.ndim > 1:
            b[n] = v + 0.5 * v.std() * rng.standard_normal(v.shape)
    models = [a, b]
    acts = {}
    for p in graph_dict["points"]:
        base = rng.standard_normal((2000, p["width"]))
        acts[p["name"]] = ref.activation_similarity(
            [base + rng.standard_normal(base.shape) for _ in range(2)])

    cm = [Model.from_numpy(m) for m in models]

    def libmudsc_merge():
        m = Matcher(g, cm, method="align", alpha=args.alpha, weight_precision="float64")
        for i, p in enumerate(graph_dict["points"]):
            m.set_activation_similarity(i, acts[p["name"]])
        m.run()
        return m, m.merge().to_numpy()

    graph = ref.load_graph(graph_dict)

    def oracle_merge():
        expect = ref.mudsc(graph, models, activations=acts, method="align", alpha=args.alpha)
        return expect, ref.merged_tensors(graph, models, expect.corr)

    # best of `reps` for both sides (the same inputs; first runs pay page faults
    # and thread start-up on either side)
    c_seconds, ref_seconds = float("inf"), float("inf")
    for _ in range(args.reps):
        t0 = time.perf_counter()
        m, merged = libmudsc_merge()
        c_seconds = min(c_seconds, time.perf_counter() - t0)
        t0 = time.perf_counter()
        expect, want = oracle_merge()
        ref_seconds = min(ref_seconds, time.perf_counter() - t0)

    same = all(np.array_equal(m.assignment(i), expect.corr[p.name].P)
               for i, p in enumerate(graph.points))
    worst = max(float(np.max(np.abs(merged[n] - want[n]) / (np.abs(want[n]) + 1e-12)))
                for n in want if want[n].dtype.kind == "f" and want[n].size)
    print(json.dumps({
        "bench": "mudsc-merge-resnet20", "width_mult": k, "points": len(graph.points),
        "alpha": args.alpha, "reps": args.reps, "libmudsc_seconds": round(c_seconds, 3),
        "oracle_seconds": round(ref_seconds, 3), "speedup": round(ref_seconds / c_seconds, 2),
        "sweeps": m.sweeps, "oracle_sweeps": expect.sweeps,
        "same_correspondences": bool(same), "merged_max_rel_diff": worst,
    }))
    return 0 if same and m.sweeps == expect.sweeps else 1




# ---------------------------------------------------------------------------
# Against the paper's code
# ---------------------------------------------------------------------------

def load_paper(root):
    """The paper's homogeneous_tasks/mudsc.py as a module (named paper_mudsc:
    it would shadow the mudsc binding).  It imports tqdm only for progress
    bars: a pass-through stands in when tqdm is not installed."""
    path = os.path.join(root, "homogeneous_tasks", "mudsc.py")
    if not os.path.exists(path):
        sys.exit(f"{path} not found: --paper takes a checkout of "
                 "github.com/zju-vipa/training_free_model_merging")
    if importlib.util.find_spec("tqdm") is None:
        stub = types.ModuleType("tqdm")
        stub.tqdm = lambda it=None, *a, **k: it
        sys.modules["tqdm"] = stub
    spec = importlib.util.spec_from_file_location("paper_mudsc", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mlp_perm(n_hidden):
    """The paper's perm format for nets.MLP (layers.{i}): point k = the
    output units of layers.k, read by layers.{k+1}."""
    return {k: [[0, f"layers.{k}.weight"], [0, f"layers.{k}.bias"],
                [1, f"layers.{k + 1}.weight", {"in": None}]] for k in range(n_hidden)}


def make_case_models(net_name):
    """(torch net of model 0, our graph, [state dict 0, state dict 1] in
    float32, the paper's perm); model 1 = model 0 with every point's units
    permuted, plus noise (0.5 of each weight tensor's std)."""
    torch.manual_seed(0)
    if net_name == "mlp":
        widths = [784, 1024, 1024, 1024, 10]
        net = nets.MLP(widths)
        g = Graph.mlp(widths[1:-1])
        perm = mlp_perm(len(widths) - 2)
    else:
        k = int(net_name[len("r20x"):])
        net = nets.ResNet([3, 3, 3], [16 * k, 32 * k, 64 * k], 16 * k)
        g = Graph.resnet("resnet20", width_multiplier=k)
        perm = None  # the paper's get_resnet_perm() (CIFAR names: shortcut, linear)
    net = net.float().eval()
    rng = np.random.default_rng(0)
    sd0 = {n: v.clone() for n, v in net.state_dict().items()}
    sd1 = permute_state_dict(net.state_dict(), g, rng)
    for n, v in sd1.items():
        if v.dtype.is_floating_point and v.ndim > 1:
            noise = torch.from_numpy(rng.standard_normal(tuple(v.shape))).float()
            sd1[n] = v + 0.5 * v.std() * noise
    return net, g, [sd0, sd1], perm


def activation_sims(graph_dict, rng, samples=2000):
    """Per point an NC x NC activation correlation (N = 2, float32 values,
    exactly symmetric, unit diagonal) of correlated random features: the
    paper's CovarianceMetric gives float32."""
    out = {}
    for p in graph_dict["points"]:
        C = p["width"]
        base = rng.standard_normal((samples, C))
        X = np.hstack([base + rng.standard_normal(base.shape) for _ in range(2)])
        S = np.corrcoef(X, rowvar=False).astype(np.float32)
        S = (S + S.T) / np.float32(2)
        np.fill_diagonal(S, 1)
        out[p["name"]] = S
    return out


def paper_point_names(paper, perm, graph_dict):
    """Map the paper's perm keys to our point names: the point whose
    first binding is the same tensor's output axis."""
    refined, _ = paper.refine_perm(__import__("copy").deepcopy(perm))
    ours = {}
    for p in graph_dict["points"]:
        for b in p["bindings"]:
            if b["role"] == "out" and b["axis"] == 0:
                ours.setdefault(b["tensor"], p["name"])
    names = {}
    for key, o in refined.items():
        first = next(w for axis, w, cfg in o["weights"] if axis == 0 and "in" not in cfg)
        names[key] = ours[first]
    return names


# method: (library method, library alpha or None = no activations,
#          paper WeightFusion options, paper transform options)
METHODS = {
    "wm": ("align", None, dict(use_permute=True), dict(act=False, iws=True)),
    "align": ("align", 0.5, dict(use_permute=True, fix_sims=True, fix_rate=0.5),
              dict(act=True, iws=True)),
    "zipit": ("zip", 0.0, dict(), dict(act=True, iws=False)),
    "zip": ("zip", 0.5, dict(fix_sims=True, fix_rate=0.5), dict(act=True, iws=True)),
}
DEFAULT_CASES = ("wm-r20x2,wm-r20x4,wm-r20x8,wm-mlp,align-r20x2,align-r20x4,align-r20x8,"
                 "align-mlp,zipit-r20x2,zipit-r20x4,zip-r20x2,zip-r20x4")


class SweepLog:
    """Collects libmudsc's per-sweep debug lines: sweep seconds, S_w's
    product flops and seconds."""

    def __init__(self):
        self.sweeps = []

    def __call__(self, level, message):
        if "of which S_w's products" in message:
            w = message.replace(",", "").split()
            # "...: sweep S: T s of which S_w's products F flops in G s"
            i = w.index("products")
            self.sweeps.append((float(w[i - 5]), float(w[i + 1]), float(w[i + 4])))


def sgemm_rate(threads, n=2048, reps=5):
    """GFLOP/s of cblas_sgemm (the OpenBLAS libmudsc links), n x n x n, median."""
    blas = ctypes.CDLL("libopenblas.so.0")
    blas.openblas_set_num_threads(threads)
    A = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    B = A.copy()
    Cm = np.zeros_like(A)
    fp = ctypes.POINTER(ctypes.c_float)
    args = [101, 111, 112, n, n, n, ctypes.c_float(1.0), A.ctypes.data_as(fp), n,
            B.ctypes.data_as(fp), n, ctypes.c_float(0.0), Cm.ctypes.data_as(fp), n]
    blas.cblas_sgemm(*args)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        blas.cblas_sgemm(*args)
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime unavailable"


def run_case(paper, method, net_name, args, log):
    lib_method, alpha, wf_opts, tr = METHODS[method]
    net, g, sds, perm = make_case_models(net_name)
    graph_dict = json.loads(g.to_json())
    perm = perm if perm is not None else paper.get_resnet_perm()
    acts = activation_sims(graph_dict, np.random.default_rng(1)) if tr["act"] else None
    names = paper_point_names(paper, perm, graph_dict)
    torch_sims = ({k: torch.from_numpy(acts[names[k]]) for k in names} if acts else None)
    nets_ = []
    for sd in sds:
        m = __import__("copy").deepcopy(net)
        m.load_state_dict(sd)
        nets_.append(m)
    models = [Model.from_numpy({n: v.numpy() for n, v in sd.items()}, copy=True) for sd in sds]
    acts64 = {k: v.astype(np.float64) for k, v in acts.items()} if acts else None
    point_names = g.point_names

    def ours():
        opts = dict(method=lib_method, max_iter=1, threads=args.threads,
                    weight_precision=args.weight_precision)
        if alpha is not None:
            opts["alpha"] = alpha
        m = Matcher(g, models, **opts)
        if acts64:
            for i, name in enumerate(point_names):
                m.set_activation_similarity(i, acts64[name])
        t0 = time.perf_counter()
        m.run()
        t1 = time.perf_counter()
        merged = m.merge().to_numpy()
        split.append((t1 - t0, time.perf_counter() - t1))
        widths = [m.point_result(i).merged_width for i in range(len(point_names))]
        m.close()
        return merged, widths

    def theirs():
        with contextlib.redirect_stdout(io.StringIO()):
            wf = paper.WeightFusion(iter=1, verbose=False, **wf_opts)
            if torch_sims is not None:
                wf.gen_act_sims = lambda nets, loader: torch_sims  # statistics given
            merged = wf.transform(nets_, perm, act_loader=object() if tr["act"] else None,
                                  in_weight_space=tr["iws"])
        return merged

    t_ours, t_theirs, sweep_lines, split = [], [], [], []
    with torch.no_grad():
        for _ in range(args.reps):
            log.sweeps.clear()
            t0 = time.perf_counter()
            merged, widths = ours()
            t_ours.append(time.perf_counter() - t0)
            sweep_lines.extend(log.sweeps)
            t0 = time.perf_counter()
            fused = theirs()
            t_theirs.append(time.perf_counter() - t0)
    sd_theirs = fused.state_dict()
    shapes_agree = all(tuple(sd_theirs[n].shape) == merged[n].shape for n in merged)
    row = {"case": f"{method}-{net_name}", "libmudsc_s": round(statistics.median(t_ours), 4),
           "paper_s": round(statistics.median(t_theirs), 4),
           "speedup": round(statistics.median(t_theirs) / statistics.median(t_ours), 1),
           "run_s": round(statistics.median(r for r, _ in split), 4),
           "merge_s": round(statistics.median(g for _, g in split), 4),
           "merged_shapes_agree": shapes_agree, "merged_widths": sorted(set(widths))}
    if method == "zipit":  # no sweep: the same algorithm on the same S_a gives the same merge
        row["max_rel_diff_vs_paper"] = float(max(
            np.max(np.abs(merged[n] - sd_theirs[n].numpy()))
            / (np.max(np.abs(sd_theirs[n].numpy())) + 1e-30)
            for n in merged if merged[n].dtype.kind == "f" and merged[n].size))
    if sweep_lines:
        sweep_s = statistics.median(s[0] for s in sweep_lines)
        flops = statistics.median(s[1] for s in sweep_lines)
        gemm_s = statistics.median(s[2] for s in sweep_lines)
        row.update({"sweep_s": round(sweep_s, 4), "gemm_gflop": round(flops / 1e9, 3),
                    "gemm_s": round(gemm_s, 4),
                    "gemm_gflops": round(flops / gemm_s / 1e9, 1) if gemm_s > 0 else None,
                    "rest_of_sweep_s": round(sweep_s - gemm_s, 4)})
    return row


def main_paper(args):
    paper = load_paper(args.paper)
    torch.set_num_threads(args.threads)
    mudsc.set_threads(args.threads)
    log = SweepLog()
    mudsc.set_log_callback(log, "debug")
    print(json.dumps({"uptime_before": uptime(), "threads": args.threads, "reps": args.reps,
                      "weight_precision": args.weight_precision,
                      "blas": mudsc.blas_info(), "torch": torch.__version__}), flush=True)
    # The sgemm reference is measured before every case and once after the
    # last: a single measurement moved by 30% between runs on a quiet machine
    # (83 to 130 GFLOP/s, 2026-12-02), so each case's GEMM rate is divided by
    # the fastest sgemm of the whole run, the strictest reference.
    rates = []
    rows = []
    for case in args.cases.split(","):
        rates.append(sgemm_rate(args.threads))
        method, net_name = case.split("-", 1)
        row = run_case(paper, method, net_name, args, log)
        row["sgemm_gflops_before"] = round(rates[-1], 1)
        row["uptime"] = uptime().split("load average:")[-1].strip()
        rows.append(row)
        print(json.dumps(row), flush=True)
    rates.append(sgemm_rate(args.threads))
    best = max(rates)
    for row in rows:
        if row.get("gemm_gflops"):
            row["gemm_fraction_of_sgemm"] = round(row["gemm_gflops"] / best, 2)
            print(json.dumps({"case": row["case"],
                              "gemm_fraction_of_sgemm": row["gemm_fraction_of_sgemm"]}),
                  flush=True)
    print(json.dumps({"sgemm_gflops_n2048_max": round(best, 1),
                      "sgemm_gflops_n2048_median": round(statistics.median(rates), 1),
                      "uptime_after": uptime()}), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paper", help="a checkout of zju-vipa/training_free_model_merging")
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weight-precision", default="float32", choices=["float32", "float64"])
    ap.add_argument("--width-mult", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    if args.paper:
        args.reps = args.reps or 5
        return main_paper(args)
    args.reps = args.reps or 3
    return main_oracle(args)


if __name__ == "__main__":
    sys.exit(main())
