"""Accuracy of the least-squares correction (mudsc.torch.lsq_correct,
docs/algorithm.md section 23) on Fashion-MNIST MLP pairs without BatchNorm,
beside REPAIR, for every matching method.

Protocol of examples/python (protocol.py): two MLPs 784-512-512-D (ReLU,
D = 64 embedding, fixed class embeddings) trained on the two class halves
(or another --split), seeds A and B; merged by mudsc.torch.merge at the
post-activation sites; MuDSC's alpha chosen on held-out training images
(joint accuracy of the plain merge, never the test set); then each merge is
corrected on the calibration images (100 per class, disjoint from the
held-out ones) by REPAIR (pre-activation statistics), by the least-squares
correction (ridge default 1e-4), and by REPAIR then least squares.  Prints
the mean per-task test accuracy of each.  The output Linear (not a merge
point) is not corrected.

    nice -n 10 /usr/bin/python3 bench/lsq_accuracy.py --seeds 0,1 --split halves

SPDX-License-Identifier: MIT
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import data  # noqa: E402
import protocol  # noqa: E402
import mudsc  # noqa: E402
import mudsc.torch as mt  # noqa: E402


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k + 1 < len(self.layers):
                x = torch.relu(x)
        return x


def train(widths, x, y, task, emb, seed, epochs, batch=128, lr=1e-3):
    torch.manual_seed(seed)
    net = Mlp(widths)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            loss = protocol.task_loss(net(xt[idx]), yt[idx], emb, task)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


METHODS = [("weight matching", "align", (1.0,), False),
           ("activation alignment", "align", (0.0,), True),
           ("ZipIt!", "zip", (0.0,), True),
           ("MuDSC align", "align", (0.3, 0.5, 0.7), True),
           ("MuDSC zip", "zip", (0.3, 0.5, 0.7), True)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=data.DEFAULT_DIR)
    ap.add_argument("--split", default="halves")
    ap.add_argument("--seeds", default="0,1", help="seeds of model A and model B")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=2000)
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--ridge", type=float, default=None)
    ap.add_argument("--test-images", type=int, default=10000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    hidden = [int(h) for h in args.hidden.split(",")]
    widths = [784, *hidden, args.dim]
    task_a, task_b = data.parse_split(args.split)
    xtr, ytr = data.load(args.data, "train")
    xte, yte = data.load(args.data, "test")
    xte, yte = xte[:args.test_images], yte[:args.test_images]
    emb = protocol.class_embeddings(args.dim)
    seeds = [int(s) for s in args.seeds.split(",")]
    pools = data.make_pools(ytr, seed=seeds[0])
    nets = []
    for task, seed in zip((task_a, task_b), seeds):
        idx = data.task_indices(pools, task, args.per_class)
        nets.append(train(widths, xtr[idx], ytr[idx], task, emb, seed, args.epochs))
    calib = [torch.from_numpy(xtr[pools.calib][i:i + 250]) for i in range(0, len(pools.calib), 250)]
    hold = (xtr[pools.holdout], ytr[pools.holdout])
    post, pre = mudsc.Graph.mlp(hidden), mudsc.Graph.mlp(hidden, site="pre")
    acts = mt.collect_activations(nets, post, calib)

    def mean_acc(net):
        return protocol.score(protocol.net_logits(net, xte, emb), yte, task_a, task_b).mean

    print(f"split {args.split}, seeds {seeds}, MLP {widths}, {args.epochs} epochs, "
          f"{args.per_class}/class; uptime: {os.popen('uptime').read().strip()}")
    print(f"endpoints: A {mean_acc(nets[0]):.2f}  B {mean_acc(nets[1]):.2f} (mean per-task %)")
    print(f"{'method':22s} {'alpha':>5s} {'plain':>7s} {'REPAIR':>7s} {'LSQ':>7s} "
          f"{'R+LSQ':>7s}  lsq s")
    for name, kind, alphas, use_acts in METHODS:
        best = None
        for alpha in alphas:
            opts = {"method": kind, "alpha": alpha}
            if use_acts:
                opts["activations"] = acts
            net, result = mt.merge(nets, post, **opts)
            held = protocol.joint_accuracy(net, *hold, emb)
            if best is None or held > best[0]:
                best = (held, alpha, net, result)
        _, alpha, net, result = best
        rep = mt.repair(net, nets, result, calib, graph=pre)
        t0 = time.perf_counter()
        lsq = mt.lsq_correct(net, nets, result, calib, ridge=args.ridge)
        secs = time.perf_counter() - t0
        both = mt.lsq_correct(rep, nets, result, calib, ridge=args.ridge)
        print(f"{name:22s} {alpha:5.1f} {mean_acc(net):7.2f} {mean_acc(rep):7.2f} "
              f"{mean_acc(lsq):7.2f} {mean_acc(both):7.2f}  {secs:.2f}", flush=True)


if __name__ == "__main__":
    main()
