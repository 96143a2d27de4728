"""The PNG of per-point match scores (MergeResult.scores) of every method.
SPDX-License-Identifier: MIT"""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (("weight", "weight space: mean matched S_w"),
          ("activation", "activation space: mean matched S_a"))


def match_scores(rows, path, title):
    """rows: objects with .name, .alpha and .result (a MergeResult); one line
    per method in each panel, points on the x axis in graph order (a method
    that did not compute a space, e.g. S_w at alpha 0, has no line there)."""
    points = list(rows[0].result.scores)
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(11, 7.5), sharex=True)
    colors = {r.name: f"C{k}" for k, r in enumerate(rows)}  # one colour per method
    for ax, (field, label) in zip(axes, PANELS):
        for r in rows:
            ys = [getattr(r.result.scores[p], field) for p in points]
            if all(math.isnan(v) for v in ys):
                continue
            name = r.name if r.alpha is None else f"{r.name} (alpha {r.alpha:.1f})"
            ax.plot(range(len(points)), ys, marker="o", ms=3, label=name, color=colors[r.name])
        ax.set_ylabel("score")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[-1].set_xticks(range(len(points)))
    axes[-1].set_xticklabels(points, rotation=60, ha="right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
