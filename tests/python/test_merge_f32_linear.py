"""Merging float32 linear layers whose two axes are both permuted (the
merge's scatter of one element per unit, merge_apply.c), and their float32
S_w (the transposed gather of an IN binding, weight_sim.c): the merged
tensors against the NumPy oracle's (tests/oracle/mudsc_ref.py,
merged_tensors) under the assignments the matcher found, and the
assignments of weight matching against the oracle's."""
import json

import numpy as np
import pytest

import mudsc
import mudsc_ref as ref
import toy_nets
# wide enough for several 4 x 4 blocks and the ragged edges of the transpose
WIDTHS = [10, 37, 20, 6]


def f32_models(seed):
    """Model 0 random; model 1 = model 0 with its hidden units permuted,
    plus noise; both float32."""
    rng = np.random.default_rng(seed)
    base = toy_nets.random_mlp(WIDTHS, seed)
    perms = {k: rng.permutation(WIDTHS[k]) for k in range(1, len(WIDTHS) - 1)}
    other = {k: v + 0.3 * rng.standard_normal(v.shape) * v.std()
             for k, v in toy_nets.permute_mlp(base, perms).items()}
    return [{k: v.astype(np.float32) for k, v in m.items()} for m in (base, other)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("seed", [3, 4])
def test_weight_matching_f32_merge_equals_oracle(threads, seed):
    gdict = toy_nets.mlp_graph(WIDTHS)
    g = mudsc.Graph.from_json(json.dumps(gdict))
    models = f32_models(seed)
    m = mudsc.Matcher(g, [mudsc.Model.from_numpy(x, copy=True) for x in models],
                      method="align", max_iter=2, threads=threads)
    m.run()
    graph = ref.load_graph(gdict)
    corr = {}
    for i, p in enumerate(graph.points):
        P = np.asarray(m.assignment(i), dtype=np.int64)
        C = P.size // 2
        corr[p.name] = ref.Correspondence(P, C, 2, C, np.zeros((0, 2), dtype=np.int64))
    merged = m.merge().to_numpy()
    m.close()
    want = ref.merged_tensors(graph, [{k: v.astype(np.float64) for k, v in x.items()}
                                      for x in models], corr)
    for name, value in want.items():
        # permutations and a mean of two: exact in float64, one rounding to float32
        np.testing.assert_array_equal(merged[name], value.astype(np.float32), err_msg=name)
