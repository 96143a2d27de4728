#!/usr/bin/python3
"""ResNet-20 on Fashion-MNIST (all 10 classes, a stratified subset) trained
with SGD and with mudsc.torch.Lookaround (issue 17), side by side on the
same data stream and the same number of gradient steps, over several seeds.

The data stream: step t takes the next batch of stream t mod 3, each stream
a shuffled pass over the training images with its own augmentation (shift,
noise, erasing).  SGD and Lookaround see exactly the same batches; with
Lookaround head h takes the steps of stream h (each head its own
augmentation, as in the paper), and every `frequency` steps of each head
the heads are averaged by libmudsc.  Both: momentum 0.9, weight decay 5e-4,
cosine learning rate.  Test accuracy is measured every few steps (at the
end of a Lookaround cycle, when the network holds the heads' mean) and
plotted to a PNG; at the end, the flatness of the loss surface: the mean
increase of the training loss (on a fixed subset, eval mode) under random
perturbations of the weights of norm rho * ||w||, for a few rho.

    MUDSC_LIBRARY=build/lib/libmudsc.so.0 PYTHONPATH=bindings/python \\
        nice -n 10 /usr/bin/python3 examples/python/lookaround_resnet.py --plot lookaround.png

CPU only, one torch thread by default (the machine is shared): the default
run is small (6000 training images, 2000 test images, 4 epochs' worth of
steps, 2 seeds; the README's figures are an even smaller run, say which);
--quick is the smoke test.  SPDX-License-Identifier: MIT"""
import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import mudsc
import mudsc.torch as mt

import data
import nets
import protocol

ALL = tuple(range(10))
AUGMENTATIONS = ("shift", "noise", "erasing")
RHOS = (0.02, 0.05, 0.1)


def augment(kind, xb, gen):
    """A batch (B x 1 x 28 x 28, normalised) augmented in a copy."""
    xb = xb.clone()
    if kind == "shift":  # up to 2 pixels each way, background (the minimum) filled in
        pad = F.pad(xb, (2, 2, 2, 2), value=float(xb.min()))
        dx = torch.randint(0, 5, (len(xb),), generator=gen)
        dy = torch.randint(0, 5, (len(xb),), generator=gen)
        for i in range(len(xb)):
            xb[i] = pad[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
    elif kind == "noise":
        xb += 0.3 * torch.randn(xb.shape, generator=gen)
    elif kind == "erasing":  # one rectangle of 4..12 x 4..12 pixels set to 0 (the mean)
        for i in range(len(xb)):
            h, w = (int(v) for v in torch.randint(4, 13, (2,), generator=gen))
            y0 = int(torch.randint(0, 29 - h, (1,), generator=gen))
            x0 = int(torch.randint(0, 29 - w, (1,), generator=gen))
            xb[i, :, y0:y0 + h, x0:x0 + w] = 0.0
    return xb


class Streams:
    """K shuffled passes over (x, y), stream k with augmentation k; next(t)
    is step t's batch, from stream t mod K.  Seeded: two Streams of one seed
    give the same batches."""

    def __init__(self, x, y, batch, seed, k=3):
        self.x, self.y, self.batch, self.k = x, y, batch, k
        self.gens = [torch.Generator().manual_seed(1000 * seed + s) for s in range(k)]
        self.orders = [torch.empty(0, dtype=torch.long) for _ in range(k)]
        self.at = [0] * k

    def next(self, t):
        s = t % self.k
        if self.at[s] + self.batch > len(self.orders[s]):
            self.orders[s] = torch.randperm(len(self.x), generator=self.gens[s])
            self.at[s] = 0
        idx = self.orders[s][self.at[s]:self.at[s] + self.batch]
        self.at[s] += self.batch
        return augment(AUGMENTATIONS[s], self.x[idx], self.gens[s]), self.y[idx]


@torch.no_grad()
def accuracy(net, x, y, emb):
    lg = protocol.net_logits(net, x, emb)
    return 100.0 * (lg.argmax(1) == torch.as_tensor(y)).float().mean().item()


@torch.no_grad()
def mean_loss(net, x, y, emb, batch=500):
    net.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        xb, yb = torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch])
        total += protocol.task_loss(net(xb), yb, emb, ALL).item() * len(xb)
    return total / len(x)


@torch.no_grad()
def flatness(net, x, y, emb, directions, seed):
    """Mean loss increase under `directions` random directions of norm
    rho * ||w|| (parameters only; BatchNorm statistics kept), per rho."""
    params = [p for p in net.parameters()]
    saved = [p.detach().clone() for p in params]
    wn = math.sqrt(sum(float((p.double() ** 2).sum()) for p in saved))
    base = mean_loss(net, x, y, emb)
    gen = torch.Generator().manual_seed(seed)
    out = {rho: 0.0 for rho in RHOS}
    for _ in range(directions):
        d = [torch.randn(p.shape, generator=gen) for p in saved]
        dn = math.sqrt(sum(float((v.double() ** 2).sum()) for v in d))
        for rho in RHOS:
            for p, w, v in zip(params, saved, d):
                p.copy_(w + (rho * wn / dn) * v)
            out[rho] += (mean_loss(net, x, y, emb) - base) / directions
    for p, w in zip(params, saved):
        p.copy_(w)
    return base, out


def run(kind, seed, args, xtr, ytr, xte, yte, xflat, yflat, emb, steps, eval_every, log):
    torch.manual_seed(seed)
    net = nets.ResNet20(args.width, args.dim)
    if kind == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    else:
        opt = mt.Lookaround(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4,
                            heads=args.heads, frequency=args.frequency)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    streams = Streams(torch.from_numpy(xtr), torch.from_numpy(ytr), args.batch, seed, args.heads)
    curve = [(0, accuracy(net, xte, yte, emb))]
    t0 = time.perf_counter()
    for t in range(steps):
        net.train()
        xb, yb = streams.next(t)
        loss = protocol.task_loss(net(xb), yb, emb, ALL)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            curve.append((t + 1, accuracy(net, xte, yte, emb)))
            log(f"  {kind} seed {seed}: step {t + 1}/{steps} loss {loss.item():.3f} "
                f"test {curve[-1][1]:.2f}% ({time.perf_counter() - t0:.0f} s)")
    seconds = time.perf_counter() - t0
    base, flat = flatness(net, xflat, yflat, emb, args.directions, 7 + seed)
    return dict(kind=kind, seed=seed, curve=curve, acc=curve[-1][1], loss=base, flat=flat,
                seconds=seconds)


def plot(results, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, kind in enumerate(("sgd", "lookaround")):
        runs = [r for r in results if r["kind"] == kind]
        name = "SGD" if kind == "sgd" else "Lookaround"
        for r in runs:
            s, a = zip(*r["curve"])
            ax[0].plot(s, a, color=f"C{k}", alpha=0.35, lw=1)
        s = [p[0] for p in runs[0]["curve"]]
        mean = [statistics.mean(r["curve"][i][1] for r in runs) for i in range(len(s))]
        ax[0].plot(s, mean, color=f"C{k}", lw=2, label=f"{name} (mean of {len(runs)} seeds)")
        ax[1].plot(RHOS, [statistics.mean(r["flat"][rho] for r in runs) for rho in RHOS],
                   color=f"C{k}", marker="o", label=name)
    ax[0].set_xlabel("gradient steps")
    ax[0].set_ylabel("test accuracy (%)")
    ax[0].grid(alpha=0.3)
    ax[0].legend()
    ax[1].set_xlabel("perturbation norm rho (relative to ||w||)")
    ax[1].set_ylabel("training-loss increase")
    ax[1].set_title("flatness (lower is flatter)", fontsize=10)
    ax[1].grid(alpha=0.3)
    ax[1].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=data.DEFAULT_DIR)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=600, help="training images per class")
    ap.add_argument("--test-images", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=4, help="gradient steps, in passes over "
                    "the training images")
    ap.add_argument("--heads", type=int, default=3, choices=(1, 2, 3))
    ap.add_argument("--frequency", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--directions", type=int, default=5)
    ap.add_argument("--evals", type=int, default=6, help="test evaluations along the way")
    ap.add_argument("--flat-images", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--quick", action="store_true", help="the smoke test: tiny, meaningless")
    ap.add_argument("--seed-list", default=None, help="comma-separated seeds to run instead "
                    "of 0..seeds-1 (to run seeds in separate processes)")
    ap.add_argument("--kinds", default="sgd,lookaround", help="which optimizers to run "
                    "(comma-separated: sgd, lookaround)")
    ap.add_argument("--save", default=None, help="write the runs' results to this JSON file")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="train nothing: print the table and plot of saved runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.per_class, args.test_images, args.epochs, args.directions = 10, 100, 1, 1
        args.seeds, args.frequency, args.evals, args.flat_images = 2, 1, 1, 100
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    x, y = data.load(args.data, "train")
    xte, yte = data.load(args.data, "test")
    tr = data.stratified(y, args.per_class, seed=0)
    xtr, ytr = x[tr], y[tr]
    xte, yte = xte[:args.test_images], yte[:args.test_images]
    flat = np.random.default_rng(1).permutation(len(xtr))[:min(args.flat_images, len(xtr))]
    xflat, yflat = xtr[flat], ytr[flat]
    emb = protocol.class_embeddings(args.dim)
    cycle = args.heads * args.frequency
    steps = int(math.ceil(args.epochs * len(xtr) / args.batch / cycle)) * cycle
    eval_every = max(cycle, (steps // max(args.evals, 1)) // cycle * cycle)

    if args.merge:
        results, meta = [], None
        for path in args.merge:
            with open(path) as f:
                saved = json.load(f)
            meta = meta or saved["meta"]
            if saved["meta"] != meta:
                sys.exit(f"{path}: a different setting than {args.merge[0]}")
            for r in saved["results"]:
                r["flat"] = {float(k): v for k, v in r["flat"].items()}
                results.append(r)
        results.sort(key=lambda r: (r["seed"], r["kind"] != "sgd"))
        if {r["kind"] for r in results} != {"sgd", "lookaround"}:
            sys.exit("--merge needs runs of both optimizers")
        return report(results, meta, args.plot)
    seeds = ([int(v) for v in args.seed_list.split(",")] if args.seed_list
             else list(range(args.seeds)))
    results = []
    for seed in seeds:
        for kind in args.kinds.split(","):
            results.append(run(kind, seed, args, xtr, ytr, xte, yte, xflat, yflat, emb, steps,
                               eval_every, log))
    meta = dict(title=(f"ResNet-20 x{args.width}, Fashion-MNIST {len(xtr)} train / {len(xte)} "
                       f"test images, {steps} steps (batch {args.batch}), Lookaround "
                       f"K={args.heads} every {args.frequency}"
                       + (" (--quick: meaningless)" if args.quick else "")),
                note=(f"same batches and augmentations ({', '.join(AUGMENTATIONS[:args.heads])}) "
                      f"in turn for both; lr {args.lr} cosine, momentum 0.9, weight decay 5e-4; "
                      f"flatness on {len(xflat)} training images, {args.directions} directions"),
                steps=steps)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
    return report(results, meta, args.plot)


def report(results, meta, plot_path):
    steps = meta["steps"]
    print(f"# {meta['title']}")
    print(f"# {meta['note']}\n")
    print("| seed | optimizer  | steps | test % | loss   | " +
          " | ".join(f"rho={r:.2f}" for r in RHOS) + " | sec |")
    print("|------|------------|-------|--------|--------|" + "----------|" * len(RHOS) +
          "-----|")

    def row(seed, name, acc, loss, flat, sec):
        print(f"| {seed:<4} | {name:<10} | {steps:5d} | {acc:6.2f} | {loss:.4f} | " +
              " | ".join(f"{flat[r]:8.4f}" for r in RHOS) + f" | {sec:3.0f} |")

    for r in results:
        row(r["seed"], "SGD" if r["kind"] == "sgd" else "Lookaround", r["acc"], r["loss"],
            r["flat"], r["seconds"])
    for kind, name in (("sgd", "SGD"), ("lookaround", "Lookaround")):
        rs = [r for r in results if r["kind"] == kind]
        row("mean", name, statistics.mean(r["acc"] for r in rs),
            statistics.mean(r["loss"] for r in rs),
            {rho: statistics.mean(r["flat"][rho] for r in rs) for rho in RHOS},
            statistics.mean(r["seconds"] for r in rs))
    if plot_path:
        plot(results, plot_path, meta["title"])
        print(f"\nplot: {plot_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
