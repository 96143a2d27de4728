#!/usr/bin/env python3
"""Regenerate the seed corpus of fuzz_safetensors with the independent writer.
Usage: make_corpus.py OUT_DIR.  The checked-in corpus is this output plus any
inputs fuzzing found interesting."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import safetensors_np as stnp  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
stnp.write(os.path.join(out, "valid-mlp"), {
    "fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
    "fc1.bias": rng.standard_normal(4).astype(np.float16),
    "bn.num_batches_tracked": np.array(3, np.int64),
    "bf": stnp.Raw("BF16", np.arange(6, dtype=np.uint16)),
}, metadata={"format": "pt"})
stnp.write(os.path.join(out, "valid-empty"), {})
stnp.write(os.path.join(out, "valid-scalar"), {"s": np.array(1.5)})
cases = {
    "bad-overlap": ({"a": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
                     "b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\1" * 4),
    "bad-hole": ({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\1" * 2),
    "bad-dtype": ({"a": {"dtype": "X", "shape": [1], "data_offsets": [0, 1]}}, b"\1"),
    "bad-meta": ({"__metadata__": {"a": 1}}, b""),
    "bad-json": ('{"a":', b""),
}
for name, (header, data) in cases.items():
    stnp.write_raw(os.path.join(out, name), header, data)
with open(os.path.join(out, "bad-length"), "wb") as f:
    f.write((1 << 40).to_bytes(8, "little") + b"{}")
