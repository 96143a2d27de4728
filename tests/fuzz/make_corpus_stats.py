#!/usr/bin/env python3
"""Regenerate the seed corpus of fuzz_stats: real statistics sets of the
fuzz target's graph (points "a" of width 2 and "b" of width 1) made by the
library through the Python binding, plus a few that break one rule each.
Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 make_corpus_stats.py OUT_DIR.
The checked-in corpus is this output plus inputs fuzzing found interesting."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import mudsc  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def graph():
    g = mudsc.Graph()
    g.add_point("a", 2)
    g.add_point("b", 1)
    return g


def save(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def filled(n_models, n, scale=1.0, mean=0.0, dtype=np.float64):
    s = mudsc.Stats(graph(), n_models)
    for p, C in (("a", 2), ("b", 1)):
        for i in range(n_models):
            s.update(p, i, (mean + scale * rng.standard_normal((n, C))).astype(dtype))
    return s


save("empty-n2", mudsc.Stats(graph(), 2).to_bytes())
save("n2-f64", filled(2, 20).to_bytes())
save("n3-f32", filled(3, 7, dtype=np.float32).to_bytes())
save("n2-one-obs", filled(2, 1).to_bytes())
save("n2-far-mean", filled(2, 30, scale=1e-3, mean=1e6).to_bytes())
merged = filled(2, 10)
merged.merge(filled(2, 5, mean=3.0))
save("n2-merged", merged.to_bytes())
# one rule broken each: version, format, a point renamed (MISMATCH)
good = filled(2, 4).to_bytes()
save("bad-version", good.replace(b'"format_version":"1"', b'"format_version":"2"'))
save("bad-format", good.replace(b'"mudsc.stats"', b'"mudsc.stat_"'))
save("other-point-name", good.replace(b'"point.1.name":"b"', b'"point.1.name":"c"'))
