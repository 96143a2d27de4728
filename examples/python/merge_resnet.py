#!/usr/bin/python3
"""Merge two ResNet-20s (width x2, BatchNorm) trained from different seeds
on disjoint halves of the Fashion-MNIST classes, with every method libmudsc
offers (weight averaging, weight matching, activation alignment, ZipIt!,
MuDSC align and zip), through mudsc and mudsc.torch, with BatchNorm
re-estimation; alpha is chosen by joint accuracy on held-out training
images.  Prints one table and plots the per-point match scores.

    MUDSC_LIBRARY=build/lib/libmudsc.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 examples/python/merge_resnet.py --split halves --plot resnet_halves.png

(MUDSC_LIBRARY and PYTHONPATH are not needed once libmudsc and the binding
are installed.)  Trained weights are cached (--cache), so a rerun only merges.

SPDX-License-Identifier: MIT"""
import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import torch

import mudsc
import mudsc.torch as mt

import data
import plot
import protocol
import train


@dataclass
class Method:
    name: str
    kind: str            # "average", "align" or "zip"
    alphas: tuple = (None,)
    activations: bool = True
    reset_bn: bool = True


def methods(grid):
    return [
        Method("weight averaging, no BN reset", "average", reset_bn=False),
        Method("weight averaging", "average"),
        Method("weight matching", "align", (1.0,), activations=False),
        Method("activation alignment", "align", (0.0,)),
        Method("ZipIt! (zip)", "zip", (0.0,)),
        Method("MuDSC align", "align", grid),
        Method("MuDSC zip", "zip", grid),
    ]


@dataclass
class Row:
    name: str
    alpha: object
    scores: protocol.Scores
    seconds: object = None
    result: object = None  # the MergeResult of the chosen alpha


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=data.DEFAULT_DIR, help="folder of the idx .gz files")
    p.add_argument("--split", default="halves",
                   help="task A's classes: halves (0-4), evenodd (0,2,4,6,8) or a comma list")
    p.add_argument("--seeds", default="1,2", help="seeds of model A and model B")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--per-class", type=int, default=2000, help="training images per class")
    p.add_argument("--dim", type=int, default=64, help="embedding dimension D")
    p.add_argument("--grid", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
                   help="alphas tried by the MuDSC methods")
    p.add_argument("--holdout", type=int, default=100,
                   help="held-out training images per class (choose alpha)")
    p.add_argument("--calib", type=int, default=100,
                   help="calibration training images per class (activations, BatchNorm)")
    p.add_argument("--test-per-class", type=int, default=None,
                   help="test images per class (default: the whole test set)")
    p.add_argument("--cache", default=train.default_cache_dir(),
                   help="folder of trained weights ('' for none)")
    p.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    p.add_argument("--plot", default="resnet_scores.png",
                   help="PNG of the match scores ('' for none)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny subsets, one epoch, alpha 0.5, no cache")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs, a.per_class, a.grid, a.holdout, a.calib = 1, 100, "0.5", 20, 20
        a.test_per_class, a.cache = 50, ""
    a.grid = tuple(float(v) for v in a.grid.split(","))
    a.seeds = tuple(int(v) for v in a.seeds.split(","))
    return a


def merge_once(nets, graph, acts, method, alpha, calib):
    """One merged network and its MergeResult through mudsc.torch.merge, with
    the activation statistics collected once for all merges; the seconds of
    the merge step (matcher run, merged tensors, network built) and, apart,
    of the BatchNorm re-estimation."""
    opts = {} if method.kind == "average" else {"method": method.kind, "alpha": alpha}
    if method.activations and method.kind != "average":
        opts["activations"] = acts
    t0 = time.perf_counter()
    net, result = mt.merge(nets, graph, **opts)
    t1 = time.perf_counter()
    if method.reset_bn:
        mt.reset_bn_stats(net, calib)
    return net, result, t1 - t0, time.perf_counter() - t1


def run_method(method, nets, graphs, acts, calib, hold, test, emb, tasks, log):
    """Merge at every alpha of the method, keep the one with the best joint
    accuracy on the held-out training images, score it on the test set."""
    graph = graphs["average" if method.kind == "average" else "resnet"]
    best, all_secs = None, []
    for alpha in method.alphas:
        net, result, secs, bn_secs = merge_once(nets, graph, acts, method, alpha, calib)
        all_secs.append(secs)
        held = protocol.joint_accuracy(net, *hold, emb)
        log(f"  {method.name:30s} alpha {alpha!s:4s}: merge {secs:.3f} s ({result.sweeps} sweeps), "
            f"BN reset {bn_secs:.2f} s, held-out joint {held:.2f}%")
        if best is None or held > best[0]:
            best = (held, alpha, net, result, secs)
    _, alpha, net, result, secs = best
    scores = protocol.score(protocol.net_logits(net, test[0], emb), test[1], *tasks)
    return Row(method.name, alpha, scores, secs, result), all_secs


def format_table(rows):
    head = f"| {'method':30s} | alpha | joint | task A | task B |  mean | merge s |"
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        alpha = "-" if r.alpha is None else f"{r.alpha:.1f}"
        secs = "-" if r.seconds is None else f"{r.seconds:.3f}"
        s = r.scores
        lines.append(f"| {r.name:30s} | {alpha:>5s} | {s.joint:5.2f} | {s.a:6.2f} | {s.b:6.2f} "
                     f"| {s.mean:5.2f} | {secs:>7s} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    torch.set_num_threads(args.threads)
    mudsc.set_threads(args.threads)
    task_a, task_b = data.parse_split(args.split)
    log(f"libmudsc {mudsc.version()} ({mudsc.blas_info()}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads")
    for name, task in (("A", task_a), ("B", task_b)):
        log(f"task {name}: " + ", ".join(f"{c} {data.CLASS_NAMES[c]}" for c in task))

    x, y = data.load(args.data, "train")
    xt, yt = data.load(args.data, "test")
    keep = data.stratified(yt, args.test_per_class)
    test = (xt[keep], yt[keep])
    pools = data.make_pools(y, args.holdout, args.calib)
    hold = (x[pools.holdout], y[pools.holdout])
    calib = [torch.from_numpy(x[pools.calib[i:i + 128]]) for i in range(0, len(pools.calib), 128)]

    nets = []
    for task, seed in zip((task_a, task_b), args.seeds):
        cfg = train.TrainConfig(task, seed, args.epochs, args.per_class, dim=args.dim)
        idx = data.task_indices(pools, task, args.per_class)
        nets.append(train.trained(cfg, x[idx], y[idx], args.cache or None, log))

    emb = protocol.class_embeddings(args.dim)
    tasks = (task_a, task_b)
    base = [protocol.net_logits(n, test[0], emb) for n in nets]
    rows = [Row(f"model A (seed {args.seeds[0]})", None, protocol.score(base[0], test[1], *tasks)),
            Row(f"model B (seed {args.seeds[1]})", None, protocol.score(base[1], test[1], *tasks)),
            Row("output ensemble", None, protocol.score((base[0] + base[1]) / 2, test[1], *tasks))]

    graphs = {"resnet": mudsc.Graph.resnet("resnet20", width_multiplier=2),
              "average": mudsc.Graph()}  # no points: every tensor is averaged
    t0 = time.perf_counter()
    acts = mt.collect_activations(nets, graphs["resnet"], calib)
    log(f"activations of {len(pools.calib)} calibration images: {time.perf_counter() - t0:.2f} s")

    all_secs = []
    for m in methods(args.grid):
        row, secs = run_method(m, nets, graphs, acts, calib, hold, test, emb, tasks, log)
        rows.append(row)
        all_secs += secs

    log(f"\nResNet-20 x2 on Fashion-MNIST, split A={task_a} B={task_b}, seeds {args.seeds}, "
        f"{args.epochs} epochs x {5 * args.per_class} images, test images {len(test[1])}")
    if args.quick:
        log("--quick: a smoke run (100 images per class, 1 epoch, alpha 0.5): "
            "its accuracies mean nothing.")
    log(format_table(rows))
    log(f"merge step (mudsc.torch.merge, statistics given) over {len(all_secs)} merges: "
        f"median {statistics.median(all_secs):.3f} s, min {min(all_secs):.3f} s, "
        f"max {max(all_secs):.3f} s")
    if args.plot:
        plot.match_scores([r for r in rows if r.result is not None and r.result.scores],
                          args.plot, f"ResNet-20 x2, split A={task_a} B={task_b}")
        log(f"plot: {args.plot}")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
