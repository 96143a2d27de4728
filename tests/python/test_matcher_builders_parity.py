"""mudsc_matcher against the NumPy oracle on the ready builders' graphs:
ResNet-20 (BatchNorm), ResNet-20 x2 with GroupNorm(4) (group align / group zip)
and a ViT with 2 blocks and 3 heads (fused qkv split, heads as groups), for
every method and N = 2 and 3.  The graph comes from the C builder (exported to
JSON for the oracle); the networks are PyTorch state_dicts; model i >= 1 is a
graph-permuted copy of model 0 plus noise, so optima are unique."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mudsc_ref as ref  # noqa: E402
import nets  # noqa: E402
from mudsc import Graph, Matcher, Model  # noqa: E402
from test_graph_builders import permute_state_dict, randomise  # noqa: E402
from test_matcher_parity import assert_same  # noqa: E402


def numpy_state(sd):
    return {k: v.detach().cpu().numpy().copy() for k, v in sd.items()}


def related_models(net, graph, N, seed):
    rng = np.random.default_rng(seed)
    sd = net.state_dict()
    models = [numpy_state(sd)]
    for _ in range(1, N):
        m = numpy_state(permute_state_dict(sd, graph, rng))
        for k, v in m.items():
            if v.dtype.kind == "f" and not k.endswith("running_var"):
                m[k] = v + 0.3 * v.std() * rng.standard_normal(v.shape)
        models.append(m)
    return models


def synthetic_sa(graph_dict, N, seed):
    """An S_a per point from features of N models that share a signal."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in graph_dict["points"]:
        base = rng.standard_normal((120, p["width"]))
        feats = [base + 0.8 * rng.standard_normal(base.shape) for _ in range(N)]
        out[p["name"]] = ref.activation_similarity(feats)
    return out


GRAPHS = {
    "resnet20": (lambda: nets.ResNet([3, 3, 3], [16, 32, 64], 16),
                 lambda: Graph.resnet("resnet20")),
    "resnet20-gn": (lambda: nets.ResNet([3, 3, 3], [32, 64, 128], 32, norm="gn", groups=4),
                    lambda: Graph.resnet("resnet20", width_multiplier=2, norm="group",
                                         norm_groups=4)),
    "vit": (lambda: nets.ViT(dim=12, depth=2, heads=3, mlp_dim=24),
            lambda: Graph.vit(dim=12, depth=2, heads=3, mlp_dim=24)),
}
METHODS = {
    "weight-align": ("align", 1.0, False),
    "act-align": ("align", 0.0, True),
    "mudsc-align": ("align", 0.5, True),
    "act-zip": ("zip", 0.0, True),
    "mudsc-zip": ("zip", 0.5, True),
}


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("family", list(GRAPHS))
def test_builder_graph_parity(family, method, N, precision):
    make_net, make_graph = GRAPHS[family]
    kind, alpha, with_acts = METHODS[method]
    g = make_graph()
    graph_dict = json.loads(g.to_json())
    net = randomise(make_net(), seed=N)
    models = related_models(net, g, N, seed=N)
    acts = synthetic_sa(graph_dict, N, seed=N) if with_acts else None
    graph = ref.load_graph(graph_dict)
    expect = ref.mudsc(graph, models, activations=acts, method=kind, alpha=alpha,
                       max_iter=4, patience=2, seed=5)
    m = Matcher(g, [Model.from_numpy(x) for x in models], method=kind, alpha=alpha, max_iter=4,
                patience=2, seed=5, weight_precision=precision)
    if acts:
        for k, p in enumerate(graph.points):
            m.set_activation_similarity(k, acts[p.name])
    m.run()
    assert_same(m, expect, graph, models, N)
