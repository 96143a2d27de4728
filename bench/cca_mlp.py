#!/usr/bin/python3
"""CCA merging against the other methods on Fashion-MNIST MLPs (issue 18).

Two MLPs 784-H-H-10 (ReLU) trained from different seeds on the two class
halves (0-4 and 5-9) with 10-way cross-entropy on their own classes; merged
with weight averaging, activation alignment (alpha 0), MuDSC align
(alpha 0.5), ZipIt-style zip (alpha 0) and CCA (cca_ridge chosen among
--ridges on held-out training images); statistics from --calib training
images of both halves at the builder's post-activation sites.  Prints the
mean per-task accuracy on the test set (each task's images, argmax over its
own classes), per seed, with the load average.  A first figure for the
measurement of issue 18, not a tuned protocol.

    MUDSC_LIBRARY=build/lib/libmudsc.so.0 PYTHONPATH=bindings/python \\
        OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 bench/cca_mlp.py

SPDX-License-Identifier: MIT"""
import argparse
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

import mudsc
import mudsc.torch as mt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                                "python"))
import data  # noqa: E402

TASKS = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))


class MLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        dims = [784, hidden, hidden, 10]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


def train(x, y, hidden, seed, epochs):
    torch.manual_seed(seed)
    net = MLP(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for k in range(0, len(y), 128):
            idx = order[k:k + 128]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def per_task(net, x, y):
    with torch.no_grad():
        lg = net(x)
    accs = []
    for task in TASKS:
        t = torch.as_tensor(task)
        on = torch.isin(y, t)
        pred = t[lg[on][:, t].argmax(1)]
        accs.append(100.0 * (pred == y[on]).float().mean().item())
    return sum(accs) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=2000)
    ap.add_argument("--calib", type=int, default=100, help="images per class")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--ridges", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0])
    args = ap.parse_args()
    torch.set_num_threads(1)
    xtr, ytr = data.load(kind="train")
    xte, yte = data.load(kind="test")
    xte, yte = torch.from_numpy(xte), torch.from_numpy(yte)
    print(f"# load before: {os.getloadavg()}")
    rows = []
    for seed in args.seeds:
        pools = data.make_pools(ytr, holdout=100, calib=args.calib, seed=seed)
        nets = []
        for t, task in enumerate(TASKS):
            idx = data.task_indices(pools, task, args.per_class)
            nets.append(train(torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx]),
                              args.hidden, 10 * seed + t, args.epochs))
        xcal = torch.from_numpy(xtr[pools.calib])
        xho, yho = torch.from_numpy(xtr[pools.holdout]), torch.from_numpy(ytr[pools.holdout])
        graph = mudsc.Graph.mlp([args.hidden, args.hidden])
        stats = mt.collect_activations(nets, graph, [xcal[k:k + 250]
                                                     for k in range(0, len(xcal), 250)])
        res = {"model A": per_task(nets[0], xte, yte), "model B": per_task(nets[1], xte, yte)}
        methods = {"average": None, "act. align": ("align", 0.0), "MuDSC align": ("align", 0.5),
                   "act. zip": ("zip", 0.0)}
        for name, spec in methods.items():
            if spec is None:
                merged = MLP(args.hidden)
                sd = {k: (nets[0].state_dict()[k] + nets[1].state_dict()[k]) / 2
                      for k in nets[0].state_dict()}
                merged.load_state_dict(sd)
            else:
                merged, _ = mt.merge(nets, graph, activations=stats, method=spec[0],
                                     alpha=spec[1])
            res[name] = per_task(merged.eval(), xte, yte)
        best = None
        for r in args.ridges:
            merged, _ = mt.merge(nets, graph, activations=stats, method="cca", cca_ridge=r)
            ho = per_task(merged.eval(), xho, yho)
            te = per_task(merged.eval(), xte, yte)
            res[f"CCA r={r:g}"] = te
            if best is None or ho > best[0]:
                best = (ho, r, te)
        res[f"CCA (r={best[1]:g} on held-out)"] = best[2]
        rows.append((seed, res))
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in res.items()), flush=True)
    print(f"# load after: {os.getloadavg()}")
    names = list(rows[0][1])
    print("| method | " + " | ".join(f"seed {s}" for s, _ in rows) + " | mean |")
    print("|---|" + "---|" * (len(rows) + 1))
    for n in names:
        vals = [r[n] for _, r in rows]
        print(f"| {n} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {np.mean(vals):.2f} |")


if __name__ == "__main__":
    main()
