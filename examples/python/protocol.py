"""The protocol of the real merges (as in the paper, with fixed random class
embeddings in place of CLIP's text embeddings): every network maps an image
to a D-dimensional embedding; logits are the scaled cosine between it and a
FIXED 10 x D class-embedding matrix shared by all networks; a network is
trained with a softmax over its own task's 5 classes.  Evaluation: joint
accuracy (argmax over all 10 classes, every test image), task accuracy
(argmax within the task's classes, on that task's images) and the mean of
the two task accuracies.  SPDX-License-Identifier: MIT"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

EMBED_SEED = 20240301  # fixed: the class embeddings never change
SCALE = 16.0           # logit scale of the cosine similarities


def class_embeddings(dim, n_classes=10, seed=EMBED_SEED):
    """The fixed n_classes x dim matrix of unit rows (Gaussian, seeded)."""
    e = np.random.default_rng(seed).standard_normal((n_classes, dim))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return torch.from_numpy(e.astype(np.float32))


def logits(emb, classes_emb):
    """Scaled cosine between embeddings (B x D) and class embeddings (K x D)."""
    return SCALE * F.normalize(emb, dim=1) @ classes_emb.t()


def task_loss(emb, labels, classes_emb, task):
    """Cross-entropy of the softmax over the task's classes only."""
    task_t = torch.as_tensor(task)
    remap = torch.full((classes_emb.shape[0],), -1, dtype=torch.long)
    remap[task_t] = torch.arange(len(task))
    return F.cross_entropy(logits(emb, classes_emb[task_t]), remap[labels])


@torch.no_grad()
def net_logits(net, x, classes_emb, batch_size=128):
    """10-class logits of a network (eval mode) on images x (NumPy N x 1 x H x W)."""
    net.eval()
    emb = torch.cat([net(torch.from_numpy(x[i:i + batch_size]))
                     for i in range(0, len(x), batch_size)])
    return logits(emb, classes_emb)


@dataclass
class Scores:
    """Accuracies in %."""
    joint: float
    a: float
    b: float

    @property
    def mean(self):
        return 0.5 * (self.a + self.b)


def score(lg, labels, task_a, task_b):
    """Joint / task A / task B accuracy of 10-class logits (N x 10)."""
    labels = torch.as_tensor(labels)
    joint = (lg.argmax(1) == labels).float().mean().item()
    accs = []
    for task in (task_a, task_b):
        t = torch.as_tensor(task)
        on = torch.isin(labels, t)
        pred = t[lg[on][:, t].argmax(1)]
        accs.append((pred == labels[on]).float().mean().item())
    return Scores(100 * joint, 100 * accs[0], 100 * accs[1])


def joint_accuracy(net, x, y, classes_emb):
    """Joint accuracy (%) over all classes."""
    lg = net_logits(net, x, classes_emb)
    return 100 * (lg.argmax(1) == torch.as_tensor(y)).float().mean().item()


def selection_score(scores):
    """What alpha is chosen by, on the held-out training images: the mean
    per-task accuracy (Scores.mean), the measure the tables report and issue
    18's bars compare, the same for every method."""
    return scores.mean
