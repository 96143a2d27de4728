#!/usr/bin/env python3
"""ModelGiF on Fashion-MNIST: the public code's testbeds in small, with
mudsc.torch.model_distance (docs/algorithm.md section 14).

Trains its own small models (MLPs and CNNs, a few epochs on one thread),
then:
  1. derived-model detection: a source MLP; models derived from it
     (fine-tuned on other classes, magnitude-pruned, distilled into a CNN
     and into a narrower MLP) and models trained independently (other
     seeds, other architectures).  The ROC AUC over the (source, model)
     pairs says how well a small distance separates derived from
     independent (1 = perfectly).
  2. task relatedness: models trained on five-class subsets that share
     5, 4, ..., 0 classes with a reference task; the Spearman rank
     correlation between distance to the reference and the overlap
     (-1 = the distance orders the tasks exactly by overlap).
  3. a heat map of testbed 1's distance matrix (PNG).

Usage: modelgif.py [--quick] [--out DIR] [--threads T] [--data DIR]
Figures are printed and written to DIR/modelgif.json.
SPDX-License-Identifier: MIT
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

import mudsc.torch as mt  # noqa: E402


def mlp(hidden=256):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def cnn(width=8):
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(width, 2 * width, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * width * 25, 10))


def batches(x, y, size, seed):
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    for s in range(0, len(x), size):
        idx = order[s:s + size]
        yield x[idx], y[idx]


def train(net, x, y, epochs, seed, lr=2e-3, teacher=None, temp=4.0):
    """Adam on (x, y); with a teacher, distillation on its softened outputs."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for e in range(epochs):
        for xb, yb in batches(x, y, 128, seed * 100 + e):
            out = net(xb)
            if teacher is None:
                loss = F.cross_entropy(out, yb)
            else:
                with torch.no_grad():
                    soft = F.softmax(teacher(xb) / temp, 1)
                loss = F.kl_div(F.log_softmax(out / temp, 1), soft, reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def new(make, seed):
    torch.manual_seed(seed)
    return make()


def accuracy(net, x, y, classes=None):
    with torch.no_grad():
        out = net(x)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        out, y = out[keep], y[keep]
    return float((out.argmax(1) == y).float().mean())


def prune(net, fraction):
    """Global magnitude pruning of the Linear and Conv weights (no retraining)."""
    p = copy.deepcopy(net)
    ws = [m.weight for m in p.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    cut = torch.quantile(torch.cat([w.detach().abs().flatten() for w in ws]), fraction)
    with torch.no_grad():
        for w in ws:
            w[w.abs() < cut] = 0
    return p


def subset(x, y, classes):
    keep = torch.isin(y, torch.tensor(classes))
    return x[keep], y[keep]


def roc_auc(pos, neg):
    """P(a positive scores below a negative): distances, small = derived
    (ties count one half)."""
    pos, neg = np.asarray(pos), np.asarray(neg)
    wins = (pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def spearman(a, b):
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).correlation)


def heat_map(d, names, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(d, cmap="viridis")
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_yticklabels(names, fontsize=8)
    fig.colorbar(im, ax=ax, label="ModelGiF distance")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    ap.add_argument("--out", default="modelgif-out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=data.DEFAULT_DIR)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--probes", type=int, default=None, help="probe inputs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    per_class, epochs = (60, 1) if args.quick else (600, 3)
    steps = args.steps or (8 if args.quick else 50)
    probes = args.probes or (20 if args.quick else 200)

    t0 = time.perf_counter()
    xtr, ytr = data.load(args.data, "train")
    xte, yte = data.load(args.data, "test")
    idx = data.stratified(ytr, per_class, seed=0)
    x, y = torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx])
    x_test, y_test = torch.from_numpy(xte[:2000]), torch.from_numpy(yte[:2000])
    p_idx = data.stratified(yte[2000:], probes // 10, seed=1) + 2000
    px, py = torch.from_numpy(xte[p_idx]), torch.from_numpy(yte[p_idx])
    probe_batches = [(px[s:s + 50], py[s:s + 50]) for s in range(0, len(px), 50)]

    # ---- testbed 1: derived-model detection --------------------------------
    source = train(new(mlp, 0), x, y, epochs, seed=0)
    lo, hi = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
    models = {"source": source}
    models["ft-classes0-4"] = train(copy.deepcopy(source), *subset(x, y, lo), max(1, epochs - 1),
                                    seed=10, lr=1e-3)
    models["ft-classes5-9"] = train(copy.deepcopy(source), *subset(x, y, hi), max(1, epochs - 1),
                                    seed=11, lr=1e-3)
    models["pruned-50%"] = prune(source, 0.5)
    models["pruned-80%"] = prune(source, 0.8)
    models["distilled-cnn"] = train(new(cnn, 20), x, y, epochs, seed=20, teacher=source)
    models["distilled-mlp128"] = train(new(lambda: mlp(128), 21), x, y, epochs, seed=21,
                                       teacher=source)
    derived = [k for k in models if k != "source"]
    models["indep-mlp-s1"] = train(new(mlp, 1), x, y, epochs, seed=1)
    models["indep-mlp-s2"] = train(new(mlp, 2), x, y, epochs, seed=2)
    models["indep-mlp128-s3"] = train(new(lambda: mlp(128), 3), x, y, epochs, seed=3)
    models["indep-cnn-s4"] = train(new(cnn, 4), x, y, epochs, seed=4)
    models["indep-cnn-s5"] = train(new(cnn, 5), x, y, epochs, seed=5)
    independent = [k for k in models if k.startswith("indep")]
    t_train1 = time.perf_counter() - t0
    accs = {k: round(accuracy(m, x_test, y_test), 4) for k, m in models.items()}

    names = list(models)
    tim1 = {}
    t1 = time.perf_counter()
    d1 = mt.model_distance([models[k] for k in names], probe_batches, steps=steps,
                           target="label", timings=tim1)
    t_dist1 = time.perf_counter() - t1
    ds = {k: float(d1[0, names.index(k)]) for k in names[1:]}
    auc = roc_auc([ds[k] for k in derived], [ds[k] for k in independent])
    heat_map(d1, names, os.path.join(args.out, "modelgif_heatmap.png"),
             f"ModelGiF distances, Fashion-MNIST ({len(px)} probes, K={steps}); AUC {auc:.3f}")

    # ---- testbed 2: task relatedness ------------------------------------------
    t2 = time.perf_counter()
    ref_task = (0, 1, 2, 3, 4)
    tasks = [(0, 1, 2, 3, 4), (0, 1, 2, 3, 5), (0, 1, 2, 5, 6), (0, 1, 5, 6, 7),
             (0, 5, 6, 7, 8), (5, 6, 7, 8, 9)]
    overlaps = [len(set(t) & set(ref_task)) for t in tasks]
    ref = train(new(mlp, 30), *subset(x, y, ref_task), epochs + 1, seed=30)
    task_models = [train(new(mlp, 31 + i), *subset(x, y, t), epochs + 1, seed=31 + i)
                   for i, t in enumerate(tasks)]
    t_train2 = time.perf_counter() - t2
    tim2 = {}
    t3 = time.perf_counter()
    d2 = mt.model_distance([ref] + task_models, probe_batches, steps=steps, target="pred",
                           timings=tim2)
    t_dist2 = time.perf_counter() - t3
    rel = [float(d2[0, 1 + i]) for i in range(len(tasks))]
    rho = spearman(rel, overlaps)

    out = {
        "quick": args.quick, "steps": steps, "probes": int(len(px)),
        "train_images": int(len(x)), "epochs": epochs,
        "test_accuracy": accs,
        "derived_detection": {"distance_to_source": ds, "derived": derived,
                              "independent": independent, "roc_auc": auc},
        "task_relatedness": {"tasks": tasks, "overlap": overlaps, "distance": rel,
                             "spearman": rho},
        "seconds": {"train_testbed1": round(t_train1, 1), "distance_testbed1": round(t_dist1, 2),
                    "library_testbed1": round(tim1["library"], 3),
                    "train_testbed2": round(t_train2, 1), "distance_testbed2": round(t_dist2, 2),
                    "library_testbed2": round(tim2["library"], 3),
                    "cpu_distance_testbed1": round(tim1["total_cpu"], 2),
                    "cpu_library_testbed1": round(tim1["library_cpu"], 3),
                    "cpu_distance_testbed2": round(tim2["total_cpu"], 2),
                    "cpu_library_testbed2": round(tim2["library_cpu"], 3)},
        "uptime_at_end": os.popen("uptime").read().strip(),
        "threads": args.threads,
    }
    with open(os.path.join(args.out, "modelgif.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"testbed 1 ({len(names)} models, {len(px)} probes, K={steps}): distance to the source")
    for k in names[1:]:
        print(f"  {k:18s} {ds[k]:.4f}  ({'derived' if k in derived else 'independent'}, "
              f"test accuracy {accs[k]:.3f})")
    print(f"  ROC AUC derived vs independent: {auc:.3f}")
    print("testbed 2: distance to the reference task (0-4) by overlap")
    for t, o, r in zip(tasks, overlaps, rel):
        print(f"  classes {t}  overlap {o}  distance {r:.4f}")
    print(f"  Spearman(distance, overlap) = {rho:.3f}")
    print(f"times: training {t_train1 + t_train2:.1f} s; distances {t_dist1:.2f} s + "
          f"{t_dist2:.2f} s, of which in the library {tim1['library']:.3f} s + "
          f"{tim2['library']:.3f} s")
    print(f"      CPU: distances {tim1['total_cpu']:.2f} s + {tim2['total_cpu']:.2f} s, library "
          f"{tim1['library_cpu']:.3f} s + {tim2['library_cpu']:.3f} s "
          f"({100 * tim1['library_cpu'] / tim1['total_cpu']:.1f}% of testbed 1's)")
    print(f"wrote {os.path.join(args.out, 'modelgif.json')} and modelgif_heatmap.png")


if __name__ == "__main__":
    main()
