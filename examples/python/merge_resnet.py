#!/usr/bin/python3
"""Merge two ResNet-20s (width x2, BatchNorm) trained from different seeds
on disjoint halves of the Fashion-MNIST classes, with every method libmudsc
offers (weight averaging, weight matching, activation alignment, ZipIt!,
MuDSC align and zip), through mudsc and mudsc.torch, with BatchNorm
re-estimation alone and with each correction (REPAIR of the points, then of
the embedding head, whose units correspond by index; --repair-output no for
the points only); alpha is chosen by
mean per-task accuracy on held-out training images (after the correction,
protocol.selection_score), never on the test set.  Then partial zipping
(ZipIt! and MuDSC zip of the first points only, one head per network) at a
few depths, with its parameter count.  Prints one table and plots the per-point match scores.

Methods and corrections are the registries METHODS and CORRECTIONS below
(--methods, --corrections pick from them): a new library method or
correction is one line there.

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
    kind: str            # "average" or a matcher method: "align", "zip", ...
    alphas: tuple = (None,)
    activations: bool = True
    reset_bn: bool = True


def methods(grid):
    """Every method of the table, by key (--methods)."""
    return {
        "average-raw": Method("weight averaging, no BN reset", "average", reset_bn=False),
        "average": Method("weight averaging", "average"),
        "wm": Method("weight matching", "align", (1.0,), activations=False),
        "act-align": Method("activation alignment", "align", (0.0,)),
        "zipit": Method("ZipIt! (zip)", "zip", (0.0,)),
        "mudsc-align": Method("MuDSC align", "align", grid),
        "mudsc-zip": Method("MuDSC zip", "zip", grid),
        # CCA merging (issue 18, docs/algorithm.md section 22): the matcher method "cca"
        "cca": Method("CCA merge", "cca", (0.0,)),
    }


DEFAULT_METHODS = "average-raw,average,wm,act-align,zipit,mudsc-align,mudsc-zip,cca"


def _repair_points(net, nets, result, calib, cache):
    # mudsc.torch.repair observes each point's producer (the pre-activation
    # site) by default, whatever site the matching used; the source nets'
    # statistics there are the same for every merge of a run (one graph, one
    # calibration set): collected once
    if "repair sources" not in cache:
        graph = mt.pre_activation_graph(cache["graph"], nets)
        cache["repair sources"] = mt.collect_activations(nets, graph, calib)
    return mt.repair(net, nets, result, calib, sources=cache["repair sources"])


def _repair(net, nets, result, calib, cache):
    net = _repair_points(net, nets, result, calib, cache)
    return _repair_head(net, nets, result, calib, cache) if cache["repair output"] else net


def _repair_head(net, nets, result, calib, cache):
    # the head "linear" maps to the embedding that every network compares
    # with the same class embeddings: its units correspond by index, so the
    # merge averages it unpermuted and no point corrects its collapsed
    # spread (docs/algorithm.md 17.5); corrected last, on the net as
    # corrected so far; the sources' statistics once per run
    if "head sources" not in cache:
        cache["head sources"] = [mt.layer_moments(n, HEAD, calib) for n in nets]
    return mt.repair_layer(net, nets, HEAD, calib, sources=cache["head sources"])


def _unit_rows(rows):
    # the embeddings are compared with the class embeddings by cosine
    # (protocol.logits): the mean of the unit vectors is the decision
    # function of the two networks' output ensemble
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)


# relative ridges tried for the head, by held-out score (1e-4, the lower end of
# the first grid, was chosen in 2 of 4 runs of 2026-12-02)
LSQ_RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def _repair_lsq_head(net, nets, result, calib, cache):
    # REPAIR of the points, then the head "linear" re-solved by least squares
    # towards the mean of the networks' unit-normalised embeddings
    # (mudsc.torch.lsq_layer, docs/algorithm.md 23.4) instead of its REPAIR;
    # the ridge is chosen on the held-out training images (cache["select"]),
    # never on the test set
    net = _repair_points(net, nets, result, calib, cache)
    best = None
    for ridge in LSQ_RIDGES:
        cand = mt.lsq_layer(net, nets, HEAD, calib, ridge=ridge, transform=_unit_rows)
        held = cache["select"](cand)
        if best is None or held > best[0]:
            best = (held, ridge, cand)
    cache["log"](f"    head least squares: ridge {best[1]:g} (held-out {best[0]:.2f}%)")
    return best[2]


def _lsq(net, nets, result, calib, cache):
    # the least-squares correction (issue 18, section 23): it corrects Linear and
    # Conv2d producers only, so it skips the ResNet's BatchNorm-produced points
    return mt.lsq_correct(net, nets, result, calib)


# Corrections applied after the BatchNorm reset: (table suffix, function
# (merged net, source nets, MergeResult, calibration batches, the run's
# cache: a dict holding "graph", the matching graph) -> net).
CORRECTIONS = {
    "none": ("", None),
    "repair": (" + REPAIR", _repair),
    "head": (" + head REPAIR", _repair_head),  # the head alone (a diagnosis)
    "lsq": (" + LSQ", _lsq),
    "repair-lsq-head": (" + REPAIR, head LSQ", _repair_lsq_head),
}

DEFAULT_CORRECTIONS = "none,repair"

HEAD = "linear"  # nets.ResNet20's head: a Linear to the D-dimensional embedding

# Partial zipping: (table name, graph points merged).  The ResNet-20 graph's
# points are in order: stage 1 (its stream, then its three inner points),
# stage 2, stage 3; a prefix ending at a stage boundary keeps whole stages.
PARTIAL_DEPTHS = ((4, "stage 1"), (8, "stages 1-2"), (10, "stages 1-2 + 3.0"))


@dataclass
class Row:
    name: str
    alpha: object
    scores: protocol.Scores
    seconds: object = None
    result: object = None  # the MergeResult of the chosen alpha
    held: object = None    # held-out mean per-task accuracy of the chosen alpha
    params: object = None  # parameter count, when it differs from one network's


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
    p.add_argument("--methods", default=DEFAULT_METHODS,
                   help="methods of the table (keys of METHODS: " + ",".join(methods(()))
                   + ")")
    p.add_argument("--corrections", default=DEFAULT_CORRECTIONS,
                   help="corrections after the BatchNorm reset (keys of CORRECTIONS: "
                   + ",".join(CORRECTIONS) + "); 'none' is the reset alone")
    p.add_argument("--repair-output", choices=("yes", "no"), default="yes",
                   help="yes: REPAIR also corrects the head (its units correspond by index, "
                   "docs/algorithm.md 17.5), after the points; no: the points only")
    p.add_argument("--partial", default="zipit,mudsc-zip",
                   help="methods of the partial-zipping rows ('' for none)")
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
                   help="smoke test: tiny subsets, one epoch, alpha 0.5, no cache, one "
                   "partial depth")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs, a.per_class, a.grid, a.holdout, a.calib = 1, 100, "0.5", 20, 20
        a.test_per_class, a.cache = 50, ""
    a.depths = PARTIAL_DEPTHS[:1] if a.quick else PARTIAL_DEPTHS
    a.grid = tuple(float(v) for v in a.grid.split(","))
    a.seeds = tuple(int(v) for v in a.seeds.split(","))
    a.methods = [m for m in a.methods.split(",") if m]
    a.corrections = [c for c in a.corrections.split(",") if c]
    a.partial = [m for m in a.partial.split(",") if m]
    known = methods(())
    for m in a.methods + a.partial:
        if m not in known:
            p.error(f"unknown method {m!r} (known: {', '.join(known)})")
    for c in a.corrections:
        if c not in CORRECTIONS:
            p.error(f"unknown correction {c!r} (known: {', '.join(CORRECTIONS)})")
    return a


def merge_once(nets, graph, acts, method, alpha, calib, correct, cache):
    """One merged network and its MergeResult through mudsc.torch.merge, with
    the activation statistics collected once for all merges, then the
    BatchNorm re-estimation and the correction (a function or None); the
    seconds of the merge step (matcher run, merged tensors, network built)
    and, apart, of the reset plus correction."""
    opts = {} if method.kind == "average" else {"method": method.kind, "alpha": alpha}
    if method.activations and method.kind != "average":
        opts["activations"] = acts
    t0 = time.perf_counter()
    net, result = mt.merge(nets, graph, **opts)
    t1 = time.perf_counter()
    if method.reset_bn:
        mt.reset_bn_stats(net, calib)
    if correct is not None:
        net = correct(net, nets, result, calib, cache)
    return net, result, t1 - t0, time.perf_counter() - t1


def run_method(method, correction, nets, graphs, acts, calib, hold, test, emb, tasks, log,
               cache):
    """Merge (and correct) at every alpha of the method, keep the one with
    the best mean per-task accuracy on the held-out training images
    (protocol.selection_score; the first of equals), score it on the test
    set."""
    suffix, correct = CORRECTIONS[correction]
    name = method.name + suffix
    graph = graphs["average" if method.kind == "average" else "resnet"]
    best, all_secs = None, []
    for alpha in method.alphas:
        net, result, secs, bn_secs = merge_once(nets, graph, acts, method, alpha, calib, correct,
                                                cache)
        all_secs.append(secs)
        h = protocol.score(protocol.net_logits(net, hold[0], emb), hold[1], *tasks)
        held = protocol.selection_score(h)
        log(f"  {name:30s} alpha {alpha!s:4s}: merge {secs:.3f} s ({result.sweeps} sweeps), "
            f"BN reset{suffix} {bn_secs:.2f} s, held-out mean per-task {held:.2f}% "
            f"(joint {h.joint:.2f}%)")
        if best is None or held > best[0]:
            best = (held, alpha, net, result, secs)
    held, alpha, net, result, secs = best
    scores = protocol.score(protocol.net_logits(net, test[0], emb), test[1], *tasks)
    row = Row(name, alpha, scores, secs, result, held)
    log(f"  -> {format_table([row]).splitlines()[-1]}")
    return row, all_secs


def heads_scores(model, x, y, emb, tasks):
    """Scores of a MultiHead: task A through head A, task B through head B,
    joint on the mean of the heads' logits (as the output ensemble)."""
    lg = [protocol.net_logits(h, x, emb) for h in model.nets]
    s = [protocol.score(v, y, *tasks) for v in lg]
    return protocol.Scores(protocol.score((lg[0] + lg[1]) / 2, y, *tasks).joint, s[0].a, s[1].b)


def run_partial(method, depth, label, nets, graph, acts, calib, hold, test, emb, tasks, log):
    """Partial zipping of the first `depth` points (mudsc.torch.partial_zip)
    at every alpha of the method, BatchNorm reset, alpha by held-out mean
    per-task accuracy (protocol.selection_score)."""
    best = None
    for alpha in method.alphas:
        t0 = time.perf_counter()
        model, _ = mt.partial_zip(nets, graph, depth, activations=acts, method=method.kind,
                                  alpha=alpha)
        secs = time.perf_counter() - t0
        mt.reset_bn_stats(model, calib)
        h = heads_scores(model, *hold, emb, tasks)
        held = protocol.selection_score(h)
        log(f"  partial {method.name} {label} alpha {alpha!s:4s}: {secs:.3f} s, "
            f"held-out mean per-task {held:.2f}% (joint {h.joint:.2f}%)")
        if best is None or held > best[0]:
            best = (held, alpha, model, secs)
    held, alpha, model, secs = best
    params = mt.parameter_count(model)
    row = Row(f"{method.name} partial, {label}", alpha, heads_scores(model, *test, emb, tasks),
              secs, None, held, params)
    log(f"  -> {format_table([row]).splitlines()[-1]}")
    return row, params


def format_table(rows):
    head = (f"| {'method':40s} | alpha | held-out | joint | task A | task B |  mean "
            f"| parameters | merge s |")
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        alpha = "-" if r.alpha is None else f"{r.alpha:.1f}"
        secs = "-" if r.seconds is None else f"{r.seconds:.3f}"
        held = "-" if r.held is None else f"{r.held:.2f}"
        params = "-" if r.params is None else f"{r.params:,}"
        s = r.scores
        lines.append(f"| {r.name:40s} | {alpha:>5s} | {held:>8s} | {s.joint:5.2f} | {s.a:6.2f} "
                     f"| {s.b:6.2f} | {s.mean:5.2f} | {params:>10s} | {secs:>7s} |")
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

    one_net = mt.parameter_count(nets[0])
    rows[2].params = 2 * one_net
    table = methods(args.grid)
    all_secs = []
    # what the corrections share over the run
    cache = {"graph": graphs["resnet"], "repair output": args.repair_output == "yes", "log": log,
             "select": lambda net: protocol.selection_score(
                 protocol.score(protocol.net_logits(net, hold[0], emb), hold[1], *tasks))}
    for key in args.methods:
        for c in args.corrections:
            if c != "none" and table[key].kind in ("average", "cca"):
                # no correspondences to correct through: averaging has no matcher, and
                # CCA's dense transforms are refused by REPAIR and LSQ (MUDSC_E_STATE)
                continue
            row, secs = run_method(table[key], c, nets, graphs, acts, calib, hold, test, emb,
                                   tasks, log, cache)
            rows.append(row)
            all_secs += secs
    log("\nfull-size merges:\n" + format_table(rows))
    for key in args.partial:
        for depth, label in args.depths:
            row, params = run_partial(table[key], depth, label, nets, graphs["resnet"],
                                      acts, calib, hold, test, emb, tasks, log)
            row.params = params
            rows.append(row)

    log(f"\nResNet-20 x2 on Fashion-MNIST, split A={task_a} B={task_b}, seeds {args.seeds}, "
        f"{args.epochs} epochs x {5 * args.per_class} images, test images {len(test[1])}")
    if args.quick:
        log("--quick: a smoke run (100 images per class, 1 epoch, alpha 0.5): "
            "its accuracies mean nothing.")
    log(format_table(rows))
    log("held-out: the mean per-task accuracy on the held-out training images, what alpha "
        "is chosen by")
    log(f"parameters: one network {one_net:,}; a full-size merge has as many")
    if all_secs:  # none with --methods '' (partial rows only)
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
