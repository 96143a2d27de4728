#!/usr/bin/env python3
"""Regenerate the seed corpus of fuzz_accum: real serialized accumulators
made by the library (through the Python binding), plus a few near the
range limits of docs/algorithm.md 2.7.
Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 make_corpus_accum.py OUT_DIR.
The checked-in corpus is this output plus inputs fuzzing found interesting."""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import mudsc  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_checksum import fnv1a64, rehash  # noqa: E402,F401

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def save(name, acc):
    with open(os.path.join(out, name), "wb") as f:
        f.write(acc.to_bytes())


a = mudsc.Accumulator(2, 3)
x = rng.standard_normal((50, 3)).astype(np.float32)
a.update(0, x)
a.update(1, 2 * x + rng.standard_normal((50, 3)).astype(np.float32))
save("valid-n2-c3-f32", a)
b = mudsc.Accumulator(3, 2)
for m in range(3):
    b.update(m, rng.standard_normal((7, 2)) * 1e4 + 1e6)
save("valid-n3-c2-f64", b)
save("valid-empty", mudsc.Accumulator(2, 1))
c = mudsc.Accumulator(2, 1)
c.update(0, np.array([[3e38], [3e38]], np.float32))
c.update(1, np.array([[1.0], [2.0]], np.float32))
save("valid-float-max", c)
d = mudsc.Accumulator(2, 2)
d.update(0, np.ones((1, 2), np.float32))
d.update(1, np.zeros((1, 2), np.float32))
save("valid-single", d)
# at the limits: means at FLT_MAX + 2^102, sums of products at +-2^990
raw = bytearray(mudsc.Accumulator.to_bytes(a))
nc = 6
for u in range(nc):
    struct.pack_into("<d", raw, 40 + 8 * u, (-1) ** u * float.fromhex("0x1.fffffe8p+127"))
for k in range(nc * (nc + 1) // 2):
    struct.pack_into("<d", raw, 40 + 8 * nc + 8 * k, float.fromhex("0x1p+990"))
with open(os.path.join(out, "limit-values"), "wb") as f:
    f.write(rehash(raw))
with open(os.path.join(out, "bad-hash"), "wb") as f:
    f.write(bytes(raw))
bad = bytearray(raw)
struct.pack_into("<d", bad, 40, 1e300)
with open(os.path.join(out, "bad-mean-1e300"), "wb") as f:
    f.write(rehash(bad))
