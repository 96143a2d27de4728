"""Training one ResNet-20 on one task (5 classes), with the trained weights
cached on disk so that reruns skip training.  SPDX-License-Identifier: MIT"""
import hashlib
import os
import time
from dataclasses import asdict, dataclass

import torch

import nets
import protocol

CACHE_VERSION = 1  # bump when training changes in a way the key does not show


@dataclass(frozen=True)
class TrainConfig:
    task: tuple        # the task's classes
    seed: int          # initialisation and batch order
    epochs: int
    per_class: int     # training images per class
    width: int = 2
    dim: int = 64
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4

    def key(self):
        """The cache file name: readable fields plus a hash of all of them."""
        h = hashlib.sha1(repr((CACHE_VERSION, sorted(asdict(self).items()))).encode())
        classes = "".join(str(c) for c in self.task)
        return (f"resnet20x{self.width}-c{classes}-s{self.seed}-e{self.epochs}"
                f"-n{self.per_class}-{h.hexdigest()[:10]}.pt")


def default_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mudsc", "examples")


def train(cfg, x, y, log=print):
    """A ResNet20 trained on images x (NumPy, float32) with labels y (all in
    cfg.task): SGD with Nesterov momentum, one-cycle learning rate, random
    horizontal flips; the softmax covers the task's classes only."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    net = nets.ResNet20(cfg.width, cfg.dim)
    emb = protocol.class_embeddings(cfg.dim)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    steps = cfg.epochs * -(-len(x) // cfg.batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    net.train()
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = xt[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = protocol.task_loss(net(xb), yt[idx], emb, cfg.task)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        log(f"  classes {cfg.task} seed {cfg.seed}: epoch {epoch + 1}/{cfg.epochs} "
            f"loss {total / seen:.3f} ({time.perf_counter() - t0:.0f} s)")
    net.eval()
    return net


def trained(cfg, x, y, cache_dir=None, log=print):
    """train(), or the cached weights of an identical earlier run.  cache_dir
    None: no cache."""
    path = os.path.join(cache_dir, cfg.key()) if cache_dir else None
    if path and os.path.exists(path):
        net = nets.ResNet20(cfg.width, cfg.dim)
        net.load_state_dict(torch.load(path))
        log(f"  classes {cfg.task} seed {cfg.seed}: cached {path}")
        return net.eval()
    net = train(cfg, x, y, log)
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, path)
    return net
