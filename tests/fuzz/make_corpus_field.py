#!/usr/bin/env python3
"""Regenerate the seed corpus of fuzz_field: field accumulators made by the
library (through the Python binding), every rule, with and without
per-input detail, and a few rehashed headers at the format's limits
(docs/field-format.md).
Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 make_corpus_field.py OUT_DIR."""
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


def save(name, raw):
    with open(os.path.join(out, name), "wb") as f:
        f.write(raw)


for r, rule in enumerate(mudsc.field.RULES):
    f = mudsc.Field(2 + r % 2, 3, rule=rule, steps=2 + r, keep_inputs=bool(r % 2))
    for _ in range(2):
        x = rng.standard_normal((2, 3))
        f.begin(x)
        for s in range(f.steps):
            for i in range(f.n_models):
                f.update(i, rng.standard_normal((2, 3)))
    save(f"{rule}", f.to_bytes())
empty = mudsc.Field(2, 4, steps=1).to_bytes()
save("empty", empty)
big_d = bytearray(empty)
big_d[24:32] = struct.pack("<q", 1 << 40)     # a huge D costs nothing until a batch
save("huge-input-size", rehash(big_d))
many = bytearray(empty)
many[32:40] = struct.pack("<q", 1 << 60)      # inputs, no detail kept
save("many-inputs", rehash(many))
