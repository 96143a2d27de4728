"""Fashion-MNIST from the idx files (Debian package dataset-fashion-mnist),
read with gzip + NumPy, and the class splits and image pools of the
protocol.  SPDX-License-Identifier: MIT"""
import gzip
import os
from dataclasses import dataclass

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "boot"]
# Per-pixel statistics of the Fashion-MNIST training set (x / 255).
MEAN, STD = 0.2860, 0.3530
SPLITS = {"halves": (0, 1, 2, 3, 4), "evenodd": (0, 2, 4, 6, 8)}


def read_idx(path):
    """An idx file (optionally gzipped) as a NumPy array of its dtype and shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} values for shape {shape}")
    return data.reshape(shape)


def load(data_dir=DEFAULT_DIR, kind="train"):
    """(images float32 N x 1 x 28 x 28, normalised; labels int64 N)."""
    prefix = "train" if kind == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = ((x.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]
    return np.ascontiguousarray(x), y.astype(np.int64)


def parse_split(spec):
    """Task A's classes from a split name ("halves", "evenodd") or a comma
    list ("0,3,5,7,9"); task B gets the other five."""
    a = SPLITS.get(spec)
    if a is None:
        a = tuple(sorted(int(c) for c in spec.split(",")))
    if len(a) != 5 or len(set(a)) != 5 or not all(0 <= c < 10 for c in a):
        raise ValueError(f"split {spec!r}: need five distinct classes in 0..9")
    return a, tuple(c for c in range(10) if c not in a)


@dataclass
class Pools:
    """Disjoint index pools of the training set, per class in a seeded order:
    the first `holdout` images of every class choose alpha, the next `calib`
    give activations and BatchNorm statistics, the rest train."""
    holdout: np.ndarray
    calib: np.ndarray
    train: dict  # class -> indices


def make_pools(labels, holdout=100, calib=100, seed=0):
    rng = np.random.default_rng(seed)
    hold, cal, train = [], [], {}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        hold.append(idx[:holdout])
        cal.append(idx[holdout:holdout + calib])
        train[c] = idx[holdout + calib:]
    # Interleave classes so any prefix of a pool has every class.
    return Pools(np.stack(hold, 1).ravel(), np.stack(cal, 1).ravel(), train)


def task_indices(pools, classes, per_class):
    """Training indices of a task: `per_class` images of each of its classes."""
    return np.concatenate([pools.train[c][:per_class] for c in classes])


def stratified(labels, per_class, seed=0):
    """Up to per_class indices of every class (all when per_class is None)."""
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                                   for c in range(10)]))

