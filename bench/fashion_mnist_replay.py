"""Replay of the C main job's merges in NumPy, to try corrections before
they are built into the library (issue 18).

Reads what `fashion_mnist --export DIR` writes (the two trained networks,
the graph, the post-ReLU calibration statistics), rebuilds the job's data
sets exactly as examples/fashion_mnist does (the same splitmix64 stream for
the calibration sample and the class embeddings, the same normalisation,
the last 5,000 training images held out), merges with the Python binding
(the same library calls and statistics as the job) and scores in NumPy.

For each method and correction, alpha is chosen on the held-out images by
the mean per-task accuracy (the job's protocol, docs/algorithm.md 26); the
test set is scored once, at that alpha.  Corrections, fixed in advance:

  none           the plain merge
  repair         the job's REPAIR: mudsc.repair point by point (each point
                 measured on the net repaired so far), then
                 mudsc.repair_layer on the output layer
  repair+lsq-ens REPAIR of the hidden points, then the output layer solved
                 by ridge least squares (relative ridge 1e-2, towards the
                 merged weights, docs/algorithm.md 23.1's objective) on the
                 calibration images, with target the ensemble's embedding:
                 the mean of the two networks' unit-normalised outputs times
                 their mean norm.  The job's logits are cosines, so the
                 ensemble (mean of the two networks' logits) predicts
                 argmax_c E_c . (mean of unit outputs): this target is the
                 ensemble's decision function in embedding space.  NOT in
                 the library yet (NumPy here).

The `repair` rows reproduce the job's table to the last digit (checked on
the four runs of 2026-12-02, Cooperlake kernels).

    build/examples/fashion_mnist/fashion_mnist --split even-odd --seed 1 --threads 1 --export run
    MUDSC_LIBRARY=build/lib/libmudsc.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 bench/fashion_mnist_replay.py --export run --split even-odd --seed 1

SPDX-License-Identifier: MIT
"""
import argparse
import gzip
import math
import os

import numpy as np

import mudsc

M64 = (1 << 64) - 1
PIXEL_MEAN, PIXEL_STD = np.float32(0.2860), np.float32(0.3530)  # examples/fashion_mnist/data.c
EMBEDDING_SEED = 20240617  # task.h TASK_EMBEDDING_SEED
MASKS = {"halves": 0x01F, "even-odd": 0x155}
N_LAYERS, DIM, SCALE = 4, 128, 16.0


class Rng:
    """examples/fashion_mnist/rng.c (splitmix64), bit for bit."""

    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def normal(self):
        u = 1.0 - self.uniform()
        v = self.uniform()
        return math.sqrt(-2.0 * math.log(u)) * math.cos(6.283185307179586 * v)

    def shuffle(self, items):
        for k in range(len(items) - 1, 0, -1):
            j = self.next() % (k + 1)
            items[k], items[j] = items[j], items[k]


def read_idx(data, name):
    raw = gzip.open(os.path.join(data, name)).read()
    if "images" in name:
        return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)
    return np.frombuffer(raw, np.uint8, offset=8)


def normalise(u8):
    return (u8.astype(np.float32) / np.float32(255.0) - PIXEL_MEAN) / PIXEL_STD


def class_embeddings():
    r = Rng(EMBEDDING_SEED)
    E = np.zeros((10, DIM), np.float32)
    for c in range(10):
        e = np.array([np.float32(r.normal()) for _ in range(DIM)], np.float32)
        E[c] = (e / math.sqrt(float(np.sum(e.astype(np.float64) ** 2)))).astype(np.float32)
    return E


class Job:
    """The job's sets, networks and statistics (main.c make_sets)."""

    def __init__(self, args):
        self.mask = [MASKS[args.split], ~MASKS[args.split] & 0x3FF]
        self.classes = [[c for c in range(10) if self.mask[t] >> c & 1] for t in range(2)]
        xtr = read_idx(args.data, "train-images-idx3-ubyte.gz")
        ytr = read_idx(args.data, "train-labels-idx1-ubyte.gz")
        n_fit = len(ytr) - args.holdout
        r = Rng(args.seed ^ 0xC0FFEE)
        ids = []
        for t in range(2):  # take_calibration: calib / 2 of each task's fitting images
            sel = [i for i in range(n_fit) if self.mask[t] >> int(ytr[i]) & 1]
            r.shuffle(sel)
            ids += sel[:args.calib // 2]
        self.calib = normalise(xtr[ids])
        self.held = (normalise(xtr[n_fit:]), ytr[n_fit:])
        self.test = (normalise(read_idx(args.data, "t10k-images-idx3-ubyte.gz")),
                     read_idx(args.data, "t10k-labels-idx1-ubyte.gz"))
        self.E = class_embeddings()
        self.models = [mudsc.Model.load(os.path.join(args.export, f"net_{c}.safetensors"))
                       for c in "ab"]
        self.graph = mudsc.Graph.load(os.path.join(args.export, "graph.json"))
        self.stats_path = os.path.join(args.export, "stats.safetensors")
        self.src = [tensors(m) for m in self.models]
        self.src_pre = [forward(t, self.calib)[1] for t in self.src]
        self.pre = mudsc.Stats(self.graph, 2)  # REPAIR's pre-activation statistics
        for i in range(2):
            for p in range(N_LAYERS - 1):
                self.pre.update(p, i, self.src_pre[i][p])


def tensors(model):
    return {f"layers.{k}.{n}": np.array(model[f"layers.{k}.{n}"], np.float32)
            for k in range(N_LAYERS) for n in ("weight", "bias")}


def forward(t, x):
    """(output, pre-activations of every layer), float32 as the job."""
    pre, h = [], x
    for k in range(N_LAYERS):
        z = h @ t[f"layers.{k}.weight"].T + t[f"layers.{k}.bias"]
        pre.append(z)
        h = np.maximum(z, 0) if k < N_LAYERS - 1 else z
    return h, pre


def moments(z):
    z = z.astype(np.float64)
    return z.mean(0), z.std(0)


def mean_per_task(job, t, data):
    """task.c protocol_score's mean of the two per-task accuracies."""
    x, y = data
    emb = forward(t, x)[0].astype(np.float64)
    logits = (SCALE * (emb @ job.E.T.astype(np.float64))
              / np.maximum(np.linalg.norm(emb, axis=1), 1e-12)[:, None]).astype(np.float32)
    acc = []
    for task in range(2):
        sel = np.array([job.mask[task] >> int(v) & 1 for v in y], bool)
        cl = job.classes[task]
        acc.append(100.0 * np.mean(np.array(cl)[np.argmax(logits[sel][:, cl], 1)] == y[sel]))
    return (acc[0] + acc[1]) / 2.0


def as_model(t):
    return mudsc.Model.from_numpy({k: np.ascontiguousarray(v) for k, v in t.items()}, copy=True)


def repair_hidden(job, matcher, merged):
    """merge.c repair_merged: each point measured on the net repaired so far."""
    for p in range(N_LAYERS - 1):
        ms = [None] * (N_LAYERS - 1)
        ms[p] = moments(forward(tensors(merged), job.calib)[1][p])
        merged = mudsc.repair(matcher, merged, job.pre, ms)
    return merged


def repair_output(job, merged):
    """merge.c repair_output (mudsc_repair_layer on the shared output layer)."""
    src = [moments(job.src_pre[i][-1]) for i in range(2)]
    out = moments(forward(tensors(merged), job.calib)[0])
    last = N_LAYERS - 1
    return mudsc.repair_layer(merged, f"layers.{last}.weight", f"layers.{last}.bias", src, out)


def ensemble_target(job):
    ys = [job.src_pre[i][-1].astype(np.float64) for i in range(2)]
    norm = [np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12) for y in ys]
    k = np.mean([n.mean() for n in norm])
    return k * 0.5 * (ys[0] / norm[0] + ys[1] / norm[1])


def lsq_output(job, merged, ridge=1e-2):
    """The output layer [W b] minimising |X~ W~' - T|^2 + lambda |W~ - W~_merged|^2."""
    t = tensors(merged)
    last = N_LAYERS - 1
    h = np.maximum(forward(t, job.calib)[1][last - 1], 0).astype(np.float64)
    X = np.hstack([h, np.ones((h.shape[0], 1))])
    G = X.T @ X
    lam = ridge * np.trace(G) / G.shape[0]
    W0 = np.hstack([t[f"layers.{last}.weight"], t[f"layers.{last}.bias"][:, None]])
    Wt = np.linalg.solve(G + lam * np.eye(G.shape[0]),
                         X.T @ ensemble_target(job) + lam * W0.T.astype(np.float64)).T
    t[f"layers.{last}.weight"] = Wt[:, :-1].astype(np.float32)
    t[f"layers.{last}.bias"] = Wt[:, -1].astype(np.float32)
    return as_model(t)


CORRECTIONS = {
    "none": lambda job, m, g: g,
    "repair": lambda job, m, g: repair_output(job, repair_hidden(job, m, g)),
    "repair+lsq-ens": lambda job, m, g: lsq_output(job, repair_hidden(job, m, g)),
}

# the job's rows: (name, method, alphas, uses activations)
GRID = [round(0.1 * k, 1) for k in range(1, 10)]
METHODS = [("weight matching", "align", [1.0], False),
           ("activation alignment", "align", [0.0], True),
           ("ZipIt!", "zip", [0.0], True),
           ("MuDSC align", "align", GRID, True),
           ("MuDSC zip", "zip", GRID, True)]


def evaluate(job, method, alphas, acts):
    """{correction: (held, alpha, test)}, alpha chosen on held-out (first on ties)."""
    best = {c: (-1.0, None, None) for c in CORRECTIONS}
    for alpha in alphas:
        m = mudsc.Matcher(job.graph, job.models, method=method, alpha=alpha, threads=1)
        if acts:
            m.set_stats_file(job.stats_path)
        m.run()
        merged = m.merge()
        for c, fix in CORRECTIONS.items():
            t = tensors(fix(job, m, merged))
            held = mean_per_task(job, t, job.held)
            if held > best[c][0]:
                best[c] = (held, alpha, mean_per_task(job, t, job.test))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--export", required=True, help="the job's --export folder")
    ap.add_argument("--split", default="halves", choices=sorted(MASKS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--holdout", type=int, default=5000)
    ap.add_argument("--calib", type=int, default=1000)
    args = ap.parse_args()
    job = Job(args)
    print(f"split {args.split}, seed {args.seed}: mean per-task accuracy, held-out (alpha) / test")
    for name, method, alphas, acts in METHODS:
        best = evaluate(job, method, alphas, acts)
        print(f"{name:22s}" + "".join(f" | {c} {h:.2f} ({a}) / {t:.2f}"
                                       for c, (h, a, t) in best.items()), flush=True)


if __name__ == "__main__":
    main()
