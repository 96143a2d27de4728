"""The decoder-transformer builders (Graph.llama, Graph.gpt2) are right.

Small reference implementations written here from the published
architectures (Hugging Face's LlamaForCausalLM: RMSNorm, rotary embeddings
with rotate_half, grouped-query attention through repeat_kv, SwiGLU; and
GPT2Model: Conv1D layout, fused c_attn, GELU), with the checkpoints' tensor
names.  Random weights; a random permutation per merge point, applied by
following only the graph the builder made (its points, bindings and splits
read through the C accessors, test_graph_builders.permute_state_dict),
leaves the logits unchanged to 1e-5.  Permuting what the Llama graph leaves
alone (a head's query/key dimensions, under rotary embeddings) does change
them, so the check has teeth.  A model merged with a permuted copy of itself
by weight matching comes back."""
import copy
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import mudsc  # noqa: E402
import mudsc.torch  # noqa: E402,F401
from mudsc import Graph, Model  # noqa: E402
from test_graph_builders import permute_state_dict  # noqa: E402

TOL = 1e-5
VOCAB, SEQ = 37, 7


# ---- a tiny Llama (Hugging Face names) -------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, theta=10000.0):
    """x: [batch, heads, seq, head_dim]; Hugging Face's rotary embedding
    (dimension i pairs with i + head_dim / 2)."""
    d = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=x.dtype) / d)
    ang = torch.arange(x.shape[-2], dtype=x.dtype)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def causal_attention(q, k, v):
    """q, k, v: [batch, heads, seq, head_dim]."""
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    n = q.shape[-2]
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)
    return s.masked_fill(mask, float("-inf")).softmax(-1) @ v


class LlamaAttention(nn.Module):
    def __init__(self, d, heads, kv_heads, head_dim, bias):
        super().__init__()
        self.h, self.kv, self.hd = heads, kv_heads, head_dim
        self.q_proj = nn.Linear(d, heads * head_dim, bias=bias)
        self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=bias)
        self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=bias)
        self.o_proj = nn.Linear(heads * head_dim, d, bias=bias)

    def forward(self, x):
        b, n, _ = x.shape

        def heads(t, h):
            return t.view(b, n, h, self.hd).transpose(1, 2)
        q = rope(heads(self.q_proj(x), self.h))
        k = rope(heads(self.k_proj(x), self.kv))
        v = heads(self.v_proj(x), self.kv)
        rep = self.h // self.kv  # repeat_kv: query head h reads kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        o = causal_attention(q, k, v).transpose(1, 2).reshape(b, n, self.h * self.hd)
        return self.o_proj(o)


class LlamaMLP(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(m, d, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, d, heads, kv_heads, head_dim, m, bias):
        super().__init__()
        self.input_layernorm = RMSNorm(d)
        self.self_attn = LlamaAttention(d, heads, kv_heads, head_dim, bias)
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = LlamaMLP(d, m)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaBody(nn.Module):
    def __init__(self, d, layers, heads, kv_heads, head_dim, m, bias):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, d)
        self.layers = nn.ModuleList(LlamaLayer(d, heads, kv_heads, head_dim, m, bias)
                                    for _ in range(layers))
        self.norm = RMSNorm(d)


class TinyLlama(nn.Module):
    def __init__(self, d=16, layers=2, heads=4, kv_heads=2, head_dim=None, m=24, bias=False,
                 tied=False):
        super().__init__()
        self.model = LlamaBody(d, layers, heads, kv_heads, head_dim or d // heads, m, bias)
        self.tied = tied
        if not tied:
            self.lm_head = nn.Linear(d, VOCAB, bias=False)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x)
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return x @ w.T


# ---- a tiny GPT-2 (Hugging Face names, Conv1D layout) ----------------------

class Conv1D(nn.Module):
    """Hugging Face's Conv1D: weight [in, out], y = x W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class GPT2Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)

        def heads(t):
            return t.view(b, n, self.h, d // self.h).transpose(1, 2)
        o = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(b, n, d)
        return self.c_proj(o)


class GPT2MLP(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.c_fc = Conv1D(d, m)
        self.c_proj = Conv1D(m, d)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, d, heads, m):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = GPT2Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = GPT2MLP(d, m)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGPT2(nn.Module):
    def __init__(self, d=16, layers=2, heads=4, m=None, lm_head=False):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, d)
        self.wpe = nn.Embedding(SEQ, d)
        self.h = nn.ModuleList(GPT2Block(d, heads, m or 4 * d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.has_head = lm_head
        if lm_head:
            self.lm_head = nn.Linear(d, VOCAB, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.h:
            x = blk(x)
        x = self.ln_f(x)
        return x @ (self.lm_head.weight if self.has_head else self.wte.weight).T


# ---- helpers ---------------------------------------------------------------

def randomise(net, seed):
    """Every float parameter random in float64 (norm scales near 1)."""
    g = torch.Generator().manual_seed(seed)
    net.double().eval()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            r = torch.randn(t.shape, generator=g, dtype=t.dtype)
            t.copy_(r + 1.0 if (name.endswith("weight") and t.ndim == 1) else r * 0.5)
    return net


def tokens(n=3, seed=2):
    return torch.randint(0, VOCAB, (n, SEQ), generator=torch.Generator().manual_seed(seed))


def logits_with(net, sd, ids):
    other = copy.deepcopy(net)
    other.load_state_dict(sd)
    with torch.no_grad():
        return other(ids)


def rel_change(net, sd, ids):
    with torch.no_grad():
        y0 = net(ids)
    y1 = logits_with(net, sd, ids)
    return float((y1 - y0).abs().max() / y0.abs().max())


def model_of(sd):
    return Model.from_numpy({k: v.detach().cpu().numpy() for k, v in sd.items()}, copy=True)


def check_preserves(net, graph, unbound, trials=3):
    sd = net.state_dict()
    with model_of(sd) as m:
        graph.validate([m, m])
        assert graph.unbound(m) == unbound
    rng = np.random.default_rng(0)
    ids = tokens()
    for _ in range(trials):
        moved = permute_state_dict(sd, graph, rng)
        assert any(not torch.equal(moved[k], sd[k]) for k in sd)
        assert rel_change(net, moved, ids) < TOL


# ---- Llama -----------------------------------------------------------------

LLAMA_SHAPES = [  # heads, kv_heads, head_dim
    (4, 4, None),   # multi-head attention
    (4, 2, None),   # grouped-query attention
    (4, 1, None),   # multi-query attention
    (6, 3, 4),      # head_dim * heads != dim
]


@pytest.mark.parametrize("heads,kv,hd", LLAMA_SHAPES)
@pytest.mark.parametrize("tied", [False, True])
def test_llama_permutations_keep_logits(heads, kv, hd, tied):
    net = randomise(TinyLlama(d=16, layers=2, heads=heads, kv_heads=kv, head_dim=hd,
                              tied=tied), 1)
    g = Graph.llama(16, 2, heads, 24, num_kv_heads=kv, head_dim=hd, tie_word_embeddings=tied)
    check_preserves(net, g, [])
    names = g.point_names
    assert names[0] == "model.residual"
    assert names[1:kv + 2] == [f"model.layers.0.self_attn.v_head{j}" for j in range(kv)] + \
        ["model.layers.0.mlp"]
    assert len(names) == 1 + 2 * (kv + 1)
    res = g.point("model.residual")
    assert (res.site, res.site_axis) == ("model.norm", -1)
    assert g.point("model.layers.1.mlp").site == "model.layers.1.mlp.down_proj:input"
    bound = {b.tensor for b in res.bindings}
    assert ("lm_head.weight" in bound) == (not tied)
    assert "model.layers.1.post_attention_layernorm.weight" in bound


def test_llama_attention_bias():
    net = randomise(TinyLlama(heads=4, kv_heads=2, bias=True), 3)
    g = Graph.llama(16, 2, 4, 24, num_kv_heads=2, attention_bias=True)
    # q and k biases are not permuted (rotary embeddings) and have no residual axis
    unbound = [f"model.layers.{i}.self_attn.{p}_proj.bias" for i in range(2) for p in "qk"]
    check_preserves(net, g, unbound)


def test_llama_query_key_dims_may_not_move_under_rope():
    """Why the graph leaves query/key dimensions alone: the same reordering
    of a head's q and k dimensions (what the ViT graph allows without
    rotary embeddings) changes the logits."""
    net = randomise(TinyLlama(heads=4, kv_heads=4), 4)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    perm = torch.as_tensor(np.random.default_rng(5).permutation(4))
    for p in ("q_proj", "k_proj"):
        w = sd[f"model.layers.0.self_attn.{p}.weight"]
        w[:4] = w[:4][perm]  # head 0's dims, same order in q and k
    assert rel_change(net, sd, tokens()) > 1e-3


def test_llama_value_head_must_follow_its_query_heads():
    """A GQA value head's dimensions must move in o_proj's columns of every
    query head reading it: dropping one of those bindings breaks it."""
    net = randomise(TinyLlama(heads=4, kv_heads=2), 6)
    g = Graph.llama(16, 2, 4, 24, num_kv_heads=2)
    doc = json.loads(g.to_json())
    pt = next(p for p in doc["points"] if p["name"] == "model.layers.0.self_attn.v_head1")
    pt["bindings"] = [b for b in pt["bindings"] if b.get("part") != "h3"]
    broken = Graph.from_json(json.dumps(doc))
    rng = np.random.default_rng(7)  # a 4-unit permutation may be the identity: try a few
    changes = [rel_change(net, permute_state_dict(net.state_dict(), broken, rng), tokens())
               for _ in range(4)]
    assert max(changes) > 1e-3


def test_llama_prefix_template_and_head_name():
    g = Graph.llama(8, 1, 2, 12, prefix="lm.", layer_template="block", lm_head="out")
    assert g.point_names == ["lm.residual", "lm.block.self_attn.v_head0",
                             "lm.block.self_attn.v_head1", "lm.block.mlp"]
    assert "out.weight" in {b.tensor for b in g.point(0).bindings}


@pytest.mark.parametrize("field,kwargs", [
    ("num_kv_heads", dict(num_kv_heads=3)),
    ("head_dim", dict(num_heads=3)),
    ("layer_template", dict(layer_template="layer")),
    ("dim", dict(dim=0)),
    ("mlp_dim", dict(mlp_dim=0)),
])
def test_llama_bad_options(field, kwargs):
    args = dict(dim=16, n_layers=2, num_heads=4, mlp_dim=24)
    args.update(kwargs)
    with pytest.raises(mudsc.InvalidArgumentError, match=f"opts->{field}"):
        Graph.llama(**args)


# ---- GPT-2 -----------------------------------------------------------------

@pytest.mark.parametrize("lm_head", [False, True])
def test_gpt2_permutations_keep_logits(lm_head):
    net = randomise(TinyGPT2(d=16, layers=2, heads=4, lm_head=lm_head), 8)
    g = Graph.gpt2(16, 2, 4, lm_head=lm_head)
    check_preserves(net, g, [])
    assert g.point_names == ["residual", "h.0.attn", "h.0.mlp", "h.1.attn", "h.1.mlp"]
    assert g.point("h.0.attn").groups == 4
    assert g.point("h.1.attn").site == "h.1.attn.c_proj:input"
    assert ("h.0.attn.c_attn.weight", 1, ["q", "k", "v"], None) in g.splits  # equal parts


def test_gpt2_prefix_and_bad_options():
    g = Graph.gpt2(8, 1, 2, prefix="transformer.", block_template="blk")
    assert g.point_names == ["transformer.residual", "transformer.blk.attn",
                             "transformer.blk.mlp"]
    with pytest.raises(mudsc.InvalidArgumentError, match=r"opts->heads"):
        Graph.gpt2(16, 2, 3)
    with pytest.raises(mudsc.InvalidArgumentError, match=r"opts->block_template"):
        Graph.gpt2(16, 2, 4, block_template="blk")


# ---- merging a model with a permuted copy of itself ------------------------

@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_weight_matching_undoes_a_permutation(arch):
    """Weight matching a model with a randomly permuted copy finds the
    permutation: the copy transformed onto model 0 and the merge (the
    average of the two aligned) are the original tensors again."""
    if arch == "llama":
        net = randomise(TinyLlama(d=16, layers=2, heads=4, kv_heads=2, m=24), 9)
        g = Graph.llama(16, 2, 4, 24, num_kv_heads=2)
    else:
        net = randomise(TinyGPT2(d=16, layers=2, heads=4), 10)
        g = Graph.gpt2(16, 2, 4)
    sd = net.state_dict()
    moved = permute_state_dict(sd, g, np.random.default_rng(11))
    assert rel_change(net, moved, tokens()) < TOL
    with model_of(sd) as m0, model_of(moved) as m1:
        res = mudsc.merge([m0, m1], g, method="align")
        with mudsc.Matcher(g, [m0, m1], method="align") as mt:
            mt.run()
            back = mt.transform(1).to_numpy()
        merged = res.tensors
    for k, v in sd.items():
        want = v.numpy()
        np.testing.assert_allclose(back[k], want, rtol=0, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(merged[k], want, rtol=0, atol=1e-12, err_msg=k)


# ---- activations of the value heads (site offsets) --------------------------

def llama_pair(seed=9, moved_seed=11):
    net = randomise(TinyLlama(d=16, layers=2, heads=4, kv_heads=2, m=24), seed)
    g = Graph.llama(16, 2, 4, 24, num_kv_heads=2)
    sd = net.state_dict()
    other = copy.deepcopy(net)
    other.load_state_dict(permute_state_dict(sd, g, np.random.default_rng(moved_seed)))
    return net, other, g


def test_llama_value_heads_have_site_offsets():
    g = Graph.llama(16, 2, 4, 24, num_kv_heads=2)
    p0, p1 = g.point("model.layers.1.self_attn.v_head0"), g.point("model.layers.1.self_attn.v_head1")
    assert (p0.site, p0.site_offset, p0.width) == ("model.layers.1.self_attn.v_proj", 0, 4)
    assert (p1.site, p1.site_offset, p1.width) == ("model.layers.1.self_attn.v_proj", 4, 4)
    assert g.point("model.residual").site_offset == 0
    back = Graph.from_json(g.to_json())
    assert back.point("model.layers.1.self_attn.v_head1").site_offset == 4
    g.set_site(0, "model.norm", -1, offset=3)
    assert g.point(0).site_offset == 3
    g.set_site(0, "model.norm", -1)  # a new site starts at offset 0
    assert g.point(0).site_offset == 0


def test_collect_activations_takes_each_value_heads_slice():
    """The value heads' statistics are those of their own features of
    v_proj's output, computed here from the layer's input by NumPy."""
    net, other, g = llama_pair()
    ids = [tokens(3, seed=s) for s in (2, 3)]
    stats = mudsc.torch.collect_activations([net, other], g, ids)
    inputs = {0: [], 1: []}
    hooks = [m.model.layers[1].self_attn.v_proj.register_forward_hook(
        lambda mod, inp, out, i=i: inputs[i].append(inp[0].detach().numpy().reshape(-1, 16)))
        for i, m in enumerate((net, other))]
    with torch.no_grad():
        for b in ids:
            net(b)
            other(b)
    for h in hooks:
        h.remove()
    for j in range(2):
        feats = []
        for i, m in enumerate((net, other)):
            w = m.model.layers[1].self_attn.v_proj.weight.detach().numpy()
            x = np.concatenate(inputs[i])
            feats.append(x @ w[4 * j:4 * j + 4].T)
        f = np.concatenate(feats, axis=1)  # units of model 0 then model 1
        acc = stats[f"model.layers.1.self_attn.v_head{j}"]
        np.testing.assert_allclose(acc.means(), f.mean(axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(acc.covariance(), np.cov(f, rowvar=False, bias=True),
                                   rtol=0, atol=1e-11)


def test_activation_alignment_undoes_a_permutation_of_a_llama():
    """Align on activations alone (alpha 0) finds every point's permutation,
    the value heads' from their own slices: the copy transformed onto
    model 0 is the original again."""
    net, other, g = llama_pair()
    stats = mudsc.torch.collect_activations([net, other], g, [tokens(4, seed=s) for s in (2, 3)])
    sd = net.state_dict()
    with model_of(sd) as m0, model_of(other.state_dict()) as m1:
        with mudsc.Matcher(g, [m0, m1], method="align", alpha=0.0) as mt:
            mt.set_stats(stats)
            mt.run()
            back = mt.transform(1).to_numpy()
    for k, v in sd.items():
        np.testing.assert_allclose(back[k], v.numpy(), rtol=0, atol=1e-12, err_msg=k)


def test_pre_activation_graph_keeps_the_value_heads_slices():
    """REPAIR's sites (pre_activation_graph): a value head's producer is
    v_proj, its own site, so the head keeps its slice of it."""
    net, _, g = llama_pair()
    pre = mudsc.torch.pre_activation_graph(g, [net])
    for j in range(2):
        p = pre.point(f"model.layers.0.self_attn.v_head{j}")
        assert (p.site, p.site_offset) == ("model.layers.0.self_attn.v_proj", 4 * j)
