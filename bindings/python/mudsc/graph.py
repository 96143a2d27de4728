"""Graph: where a network's units can be reordered (mudsc_graph).

Merge points (name, width, groups), the tensor axes bound to each, fused
tensors split into parts, and each point's activation site.  Built by calls,
by the ready builders (MLP, ResNet, ViT, Llama, GPT-2 with PyTorch /
torchvision / timm / Hugging Face names) or from JSON (docs/graph-format.md).
"""
from __future__ import annotations

import ctypes
import os
from typing import Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import (SIZEP, BindingInfo, Gpt2Options, LlamaOptions, MlpOptions, PointInfo,
                   ResnetOptions, SplitInfo, VitOptions, check, decode, defaults, encode, fspath, lib, read_array,
                   take_bytes)
from .model import Model, as_model

ROLES = {"out": 0, "in": 1}
ROLE_NAMES = {v: k for k, v in ROLES.items()}
BIND_IGNORE = 1
NORMS = {"batch": 0, "group": 1}
SITES = {"post": 0, "pre": 1}  # mudsc_site_kind
#: suffix of a site name that means the module's first input, not its output
INPUT_SUFFIX = ":input"


class Binding(NamedTuple):
    """One tensor axis bound to a point."""
    tensor: str
    part: Optional[str]   # None: the whole tensor
    axis: int
    role: str             # "out" (produces the units) or "in" (consumes them)
    ignore: bool          # transformed and merged, not a weight-similarity feature
    repeat: int = 1       # entries per unit: unit u is entries u*repeat .. u*repeat+repeat-1


class Point(NamedTuple):
    """A merge point.  site: the module (or tensor) name where the host
    observes its activations, None if not recorded; a name ending in
    ":input" means the module's first input.  site_axis: the feature axis.
    site_offset: the point's units are the site's features site_offset ..
    site_offset + width - 1 on that axis (a site shared by several points,
    e.g. a Llama v_proj holding every value head; 0 otherwise)."""
    name: str
    width: int
    groups: int
    site: Optional[str]
    site_axis: int
    bindings: List[Binding]
    site_offset: int = 0


class Split(NamedTuple):
    """A fused tensor declared splittable along axis into equal named parts,
    or (sizes not None) a concatenation of parts of these lengths."""
    tensor: str
    axis: int
    parts: List[str]
    sizes: Optional[List[int]] = None


class Graph(Handle):
    """A graph description; see the module documentation."""

    def __init__(self) -> None:
        """An empty graph."""
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_new(ctypes.byref(out)))
        self._adopt(out.value, lib.mudsc_graph_free)

    @classmethod
    def _wrap(cls, out: ctypes.c_void_p) -> "Graph":
        g = cls.__new__(cls)
        g._adopt(out.value, lib.mudsc_graph_free)
        return g

    # ---- building by calls --------------------------------------------------

    def add_point(self, name: str, width: int, groups: int = 1) -> int:
        """Append a merge point; returns its index.  ExistsError for a taken
        name, ShapeError unless width >= 1, groups >= 1 divides width."""
        index = ctypes.c_size_t()
        check(lib.mudsc_graph_add_point(ctypes.byref(index), self._h, encode(name, "name"), width,
                                        groups))
        return index.value

    def index(self, point: Union[int, str]) -> int:
        """The index of a point given by index or name (NotFoundError,
        RangeError)."""
        if isinstance(point, str):
            index = ctypes.c_size_t()
            check(lib.mudsc_graph_point_find(ctypes.byref(index), self._h, encode(point, "point")))
            return index.value
        n = len(self)
        if not 0 <= int(point) < n:
            raise errors.RangeError.make(f"point index {point} outside [0, {n})")
        return int(point)

    def set_site(self, point: Union[int, str], name: str, axis: int, offset: int = 0) -> None:
        """Record where the host observes the point's activations: a module
        name (suffix ":input" for its first input), the feature axis, and
        the offset of the point's first unit among the site's features
        (mudsc_graph_set_site_offset; 0: the site's first feature)."""
        index = self.index(point)
        check(lib.mudsc_graph_set_site(self._h, index, encode(name, "name"), axis))
        if offset != 0:
            check(lib.mudsc_graph_set_site_offset(self._h, index, offset))

    def add_split(self, tensor: str, axis: int, parts: Sequence[str]) -> None:
        """Declare `tensor` splittable along `axis` into len(parts) >= 2
        equal contiguous parts with these names (e.g. qkv -> q, k, v)."""
        raw = [encode(p, "parts[]") for p in parts]
        arr = (ctypes.c_char_p * max(len(raw), 1))(*raw)
        check(lib.mudsc_graph_add_split(self._h, encode(tensor, "tensor"), axis, len(raw), arr))

    def add_concat(self, tensor: str, axis: int, parts: Sequence[str],
                   sizes: Sequence[int]) -> None:
        """Declare axis `axis` of `tensor` a concatenation of contiguous parts
        of lengths `sizes` named `parts` (mudsc_graph_add_concat), each bound
        on its own, e.g. the input axis of a layer fed torch.cat([a, b], 1)."""
        if len(sizes) != len(parts):
            raise errors.InvalidArgumentError.make(
                f"add_concat: {len(sizes)} sizes for {len(parts)} parts")
        raw = [encode(p, "parts[]") for p in parts]
        arr = (ctypes.c_char_p * max(len(raw), 1))(*raw)
        lengths = (ctypes.c_int64 * max(len(sizes), 1))(*[int(z) for z in sizes])
        check(lib.mudsc_graph_add_concat(self._h, encode(tensor, "tensor"), axis, len(raw), arr,
                                         lengths))

    def bind(self, point: Union[int, str], tensor: str, axis: int, role: str = "out",
             part: Optional[str] = None, ignore: bool = False, repeat: int = 1) -> None:
        """Bind axis `axis` of `tensor` (or of its split part `part`) to a
        point, producing (role "out") or consuming ("in") its units;
        ignore=True leaves it out of the weight-similarity features.
        repeat > 1: the axis holds each unit `repeat` times in a block (a
        flatten of C x H x W: repeat = H*W; mudsc_graph_bind_repeat)."""
        if role not in ROLES:
            raise errors.InvalidArgumentError.make(f"bind: role {role!r} is not 'out' or 'in'")
        check(lib.mudsc_graph_bind_repeat(self._h, self.index(point), encode(tensor, "tensor"),
                                          encode(part, "part"), axis, ROLES[role],
                                          BIND_IGNORE if ignore else 0, int(repeat)))

    def prefix(self, depth: int) -> "Graph":
        """The graph of the first `depth` points (mudsc_graph_prefix): a
        matcher on it merges only those (partial zipping, mudsc.partial_merge)."""
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_prefix(ctypes.byref(out), self._h, depth))
        return Graph._wrap(out)

    # ---- ready builders -----------------------------------------------------

    @classmethod
    def mlp(cls, hidden: Sequence[int], bias: Optional[bool] = None,
            prefix: Optional[str] = None, layer_template: Optional[str] = None,
            index_start: Optional[int] = None, index_step: Optional[int] = None,
            site: Optional[str] = None) -> "Graph":
        """An MLP of len(hidden) + 1 Linear layers named prefix +
        layer_template ({i} = index_start + k * index_step); one point per
        hidden width, named as its layer.  site: "post" (default: the next
        layer's input, after the activation) or "pre" (the layer's output).
        nn.Sequential(Linear, ReLU, Linear, ...) is layer_template="{i}",
        index_step=2.  Options left None take the library's defaults
        (mudsc_mlp_options_init: biases, no prefix, "layers.{i}", 0, 1, "post")."""
        o = defaults(MlpOptions)
        _set(o, site=_site(site, "mlp"))
        widths = (ctypes.c_int64 * max(len(hidden), 1))(*hidden)
        o.n_hidden, o.hidden = len(hidden), widths
        _set(o, bias=bias, prefix=prefix, layer_template=layer_template,
             index_start=index_start, index_step=index_step)
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_build_mlp(ctypes.byref(out), ctypes.byref(o)))
        return cls._wrap(out)

    @classmethod
    def resnet(cls, preset: Optional[str] = None, width_multiplier: int = 1,
               norm: Optional[str] = None, norm_groups: Optional[int] = None,
               prefix: Optional[str] = None, shortcut_conv: Optional[str] = None,
               shortcut_norm: Optional[str] = None, head: Optional[str] = None, *,
               blocks: Optional[Sequence[int]] = None, widths: Optional[Sequence[int]] = None,
               stem_width: Optional[int] = None, bottleneck: Optional[bool] = None,
               site: Optional[str] = None) -> "Graph":
        """A ResNet (graph.h, mudsc_graph_build_resnet).

        Starts from the library's defaults (mudsc_resnet_options_init:
        ResNet-20, CIFAR style, BatchNorm).  preset: "resnet20", "resnet32",
        "resnet56" (CIFAR style: shortcut.0/1, linear), "resnet18",
        "resnet26", "resnet50" (torchvision style: downsample.0/1, fc),
        widths times width_multiplier (which needs a preset).  norm: "batch" or "group"
        (GroupNorm(norm_groups): every point gets groups = norm_groups).
        shortcut_conv, shortcut_norm, head: None keeps the preset's names;
        head="" means no classifier.  blocks, widths (per stage),
        stem_width, bottleneck override the preset's architecture.  site:
        "post" (default: the stem's and inner points' consumer inputs, after
        the activation) or "pre" (their norms' outputs).  Every
        option left None keeps the library's (or the preset's) value.
        """
        if norm is not None and norm not in NORMS:
            raise errors.InvalidArgumentError.make(f"resnet: norm {norm!r} is not 'batch' or "
                                                   f"'group'")
        if preset is None and width_multiplier != 1:
            raise errors.InvalidArgumentError.make(
                "resnet: width_multiplier scales a preset's widths: give a preset")
        o = defaults(ResnetOptions)
        if preset is not None:
            check(lib.mudsc_resnet_options_preset(ctypes.byref(o), encode(preset, "preset"),
                                                  width_multiplier))
        _set(o, site=_site(site, "resnet"))
        _set(o, norm=None if norm is None else NORMS[norm], norm_groups=norm_groups,
             prefix=prefix, shortcut_conv=shortcut_conv, shortcut_norm=shortcut_norm, head=head)
        for field, values in (("blocks", blocks), ("widths", widths)):
            if values is not None:
                if len(values) > 4:
                    raise errors.InvalidArgumentError.make(f"resnet: {field} has more than 4 "
                                                           f"stages")
                o.n_stages = len(values)
                for s, v in enumerate(values):
                    getattr(o, field)[s] = v
        if stem_width is not None:
            o.stem_width = stem_width
        if bottleneck is not None:
            o.bottleneck = int(bool(bottleneck))
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_build_resnet(ctypes.byref(out), ctypes.byref(o)))
        return cls._wrap(out)

    @classmethod
    def vit(cls, dim: int, depth: int, heads: int, mlp_dim: int,
            qkv_bias: Optional[bool] = None, patch_embed: Optional[bool] = None,
            cls_token: Optional[bool] = None, pos_embed: Optional[bool] = None,
            final_norm: Optional[bool] = None, head: Optional[bool] = None,
            prefix: Optional[str] = None, block_template: Optional[str] = None) -> "Graph":
        """A ViT / pre-norm transformer encoder with timm names: points
        "residual", then per block "<block>.attn" (fused qkv split into q, k,
        v; groups = heads; site "<block>.attn.proj:input") and "<block>.mlp"
        (site "<block>.mlp.act").  The flags say which tensors exist; options
        left None take the library's defaults (mudsc_vit_options_init: every
        tensor bound, no prefix, "blocks.{i}")."""
        o = defaults(VitOptions)
        o.dim, o.depth, o.heads, o.mlp_dim = dim, depth, heads, mlp_dim
        _set(o, qkv_bias=qkv_bias, patch_embed=patch_embed, cls_token=cls_token,
             pos_embed=pos_embed, final_norm=final_norm, head=head, prefix=prefix,
             block_template=block_template)
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_build_vit(ctypes.byref(out), ctypes.byref(o)))
        return cls._wrap(out)

    @classmethod
    def llama(cls, dim: int, n_layers: int, num_heads: int, mlp_dim: int,
              num_kv_heads: Optional[int] = None, head_dim: Optional[int] = None,
              tie_word_embeddings: bool = False, attention_bias: Optional[bool] = None,
              prefix: Optional[str] = None, layer_template: Optional[str] = None,
              lm_head: Optional[str] = None) -> "Graph":
        """A Llama-style decoder with Hugging Face names (graph.h,
        mudsc_graph_build_llama): points "<prefix>residual" (the residual
        stream, every RMSNorm weight on it), per layer and key/value head j
        "<layer>.self_attn.v_head{j}" (the value dimensions of head j: v_proj
        part j OUT, o_proj parts of its query heads IN; site v_proj with
        site_offset j * head_dim; query/key dimensions are not permuted,
        rotary embeddings forbid it) and "<layer>.mlp".
        num_kv_heads None: num_heads (no GQA); head_dim None: dim /
        num_heads; tie_word_embeddings: no lm_head tensor (lm_head is
        embed_tokens).  Options left None take the library's defaults
        (mudsc_llama_options_init: prefix "model.", "layers.{i}",
        "lm_head", no attention biases)."""
        o = defaults(LlamaOptions)
        o.dim, o.n_layers, o.num_heads, o.mlp_dim = dim, n_layers, num_heads, mlp_dim
        o.num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        o.head_dim = 0 if head_dim is None else head_dim
        if tie_word_embeddings:
            if lm_head:
                raise errors.InvalidArgumentError.make(
                    "llama: tie_word_embeddings=True and lm_head given: a tied model has no "
                    "lm_head tensor")
            lm_head = ""
        _set(o, attention_bias=attention_bias, prefix=prefix, layer_template=layer_template,
             lm_head=lm_head)
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_build_llama(ctypes.byref(out), ctypes.byref(o)))
        return cls._wrap(out)

    @classmethod
    def gpt2(cls, dim: int, n_layers: int, heads: int, mlp_dim: Optional[int] = None,
             lm_head: Optional[bool] = None, prefix: Optional[str] = None,
             block_template: Optional[str] = None) -> "Graph":
        """A GPT-2 style decoder with Hugging Face names, Conv1D layout
        (graph.h, mudsc_graph_build_gpt2): points "<prefix>residual", per
        block "<block>.attn" (c_attn split along axis 1 into q, k, v;
        groups = heads) and "<block>.mlp".  mlp_dim None: 4 * dim.  lm_head:
        bind "lm_head.weight" too.  Options left None take the library's
        defaults (mudsc_gpt2_options_init: no prefix, "h.{i}", no
        lm_head)."""
        o = defaults(Gpt2Options)
        o.dim, o.n_layers, o.heads = dim, n_layers, heads
        o.mlp_dim = 4 * dim if mlp_dim is None else mlp_dim
        _set(o, lm_head=lm_head, prefix=prefix, block_template=block_template)
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_build_gpt2(ctypes.byref(out), ctypes.byref(o)))
        return cls._wrap(out)

    # ---- JSON -------------------------------------------------------------------

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "Graph":
        """Parse a JSON graph (ParseError with line and column, or naming the
        place that breaks the schema; ShapeError for sizes that do not fit)."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_from_json(ctypes.byref(out), raw, len(raw)))
        return cls._wrap(out)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"]) -> "Graph":
        """Read a JSON graph file (MudscIOError if unreadable)."""
        out = ctypes.c_void_p()
        check(lib.mudsc_graph_load_json(ctypes.byref(out), fspath(path)))
        return cls._wrap(out)

    def to_json(self) -> str:
        """The graph as canonical JSON text (ends with a newline)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_graph_to_json(ctypes.byref(buf), ctypes.byref(n), self._h))
        return take_bytes(buf, n.value).decode("utf-8")

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write to_json() to a file, atomically."""
        check(lib.mudsc_graph_save_json(self._h, fspath(path)))

    # ---- reading ------------------------------------------------------------

    def __len__(self) -> int:
        return int(lib.mudsc_graph_point_count(self._h))

    def point(self, point: Union[int, str]) -> Point:
        """One point, by index or name."""
        index = self.index(point)
        pi, bi = PointInfo(), BindingInfo()
        check(lib.mudsc_graph_point_at(ctypes.byref(pi), self._h, index))
        bindings = []
        for b in range(pi.binding_count):
            check(lib.mudsc_graph_binding_at(ctypes.byref(bi), self._h, index, b))
            bindings.append(Binding(decode(bi.tensor), decode(bi.part), bi.axis,
                                    ROLE_NAMES[bi.role], bool(bi.flags & BIND_IGNORE),
                                    int(bi.repeat)))
        offset = ctypes.c_int64(0)
        check(lib.mudsc_graph_site_offset(ctypes.byref(offset), self._h, index))
        return Point(decode(pi.name), pi.width, pi.groups, decode(pi.site_name),
                     pi.site_axis if pi.site_name is not None else 0, bindings, offset.value)

    @property
    def points(self) -> List[Point]:
        """Every point, in order."""
        return [self.point(i) for i in range(len(self))]

    @property
    def point_names(self) -> List[str]:
        """Every point's name, in order."""
        pi = PointInfo()
        out = []
        for i in range(len(self)):
            check(lib.mudsc_graph_point_at(ctypes.byref(pi), self._h, i))
            out.append(decode(pi.name))
        return out

    @property
    def splits(self) -> List[Split]:
        """Every split declaration, in order."""
        si = SplitInfo()
        out = []
        for s in range(lib.mudsc_graph_split_count(self._h)):
            check(lib.mudsc_graph_split_at(ctypes.byref(si), self._h, s))
            sizes = None if not si.sizes else [int(si.sizes[k]) for k in range(si.part_count)]
            out.append(Split(decode(si.tensor), si.axis,
                             [decode(si.parts[k]) for k in range(si.part_count)], sizes))
        return out

    # ---- against models -------------------------------------------------------

    def validate(self, models: Iterable[Union[Model, Mapping[str, npt.ArrayLike]]]) -> None:
        """Check the graph against models (Models or dicts of arrays): bound
        tensors exist (NotFoundError), are float (UnsupportedError), axes
        have the point's width (ShapeError)."""
        ms = [as_model(m) for m in models]
        arr = (ctypes.c_void_p * max(len(ms), 1))(*[m._h for m in ms])
        check(lib.mudsc_graph_validate(self._h, arr, len(ms)))

    def unbound(self, model: Union[Model, Mapping[str, npt.ArrayLike]]) -> List[str]:
        """Names of the model's tensors bound to no point (merged by plain
        averaging), in the model's order."""
        m = as_model(model)
        h = self._h
        idx = read_array(lambda o, cap, needed: lib.mudsc_graph_unbound(o, cap, needed, h, m._h),
                         SIZEP, np.uintp)
        names = m.names()
        return [names[i] for i in idx]

    def permute_model(self, model: Union[Model, Mapping[str, npt.ArrayLike]], seed: int = 0,
                      point: Union[None, int, str] = None) -> Model:
        """A copy of the model with every point's units (or only those of
        `point`) permuted at random, along splits, concatenations and
        repeated bindings (mudsc_permute_model).  A correct graph leaves the
        network's function unchanged by it (verify_graph in mudsc.torch)."""
        m = as_model(model)
        out = ctypes.c_void_p()
        which = -1 if point is None else self.index(point)
        check(lib.mudsc_permute_model(ctypes.byref(out), self._h, m._h, seed, which))
        return Model._wrap(out.value)

    def permutation(self, point: Union[int, str], seed: int = 0) -> "npt.NDArray[np.int64]":
        """The permutation permute_model(seed=seed) applies to `point`:
        out[j] = the original unit placed at j (W_permuted = W[out])."""
        index, h = self.index(point), self._h
        return read_array(lambda o, cap, needed: lib.mudsc_permute_point(o, cap, needed, h, index,
                                                                         seed),
                          ctypes.POINTER(ctypes.c_int64), np.int64)

    def __repr__(self) -> str:
        if self.closed:
            return "<mudsc.Graph closed>"
        return f"<mudsc.Graph {len(self)} points>"


def _set(opts: ctypes.Structure, **fields: object) -> None:
    """Set the options fields given (None: keep the library's value): str as
    UTF-8 (the binding keeps the bytes alive through the struct), bool as 0/1."""
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = encode(value, name)
        elif isinstance(value, bool):
            value = int(value)
        setattr(opts, name, value)


def site_module(site: str) -> Tuple[str, bool]:
    """(module name, True if the site is the module's first input) of a site
    name: a trailing ":input" selects the input (docs/graph-format.md)."""
    if site.endswith(INPUT_SUFFIX):
        return site[:-len(INPUT_SUFFIX)], True
    return site, False

def _site(site: Optional[str], fn: str) -> Optional[int]:
    """A builder's site option ("post", "pre" or None) as its mudsc_site_kind."""
    if site is None:
        return None
    if site not in SITES:
        raise errors.InvalidArgumentError.make(f"{fn}: site {site!r} is not 'post' or 'pre'")
    return SITES[site]
