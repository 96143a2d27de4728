"""ctypes access to mudsc_graph (include/mudsc/graph.h) for the test suites.

Test scaffolding, not the binding: Graph wraps a handle, reads every point,
binding and split through the accessors, and calls the builders with their
options structs mirrored below.
"""
import ctypes

from shim import Handle, Tensor, check, declare, lib

P = ctypes.c_void_p
c_int, c_i32, c_i64, c_size, c_char_p = (ctypes.c_int, ctypes.c_int32, ctypes.c_int64,
                                         ctypes.c_size_t, ctypes.c_char_p)

ROLE_OUT, ROLE_IN = 0, 1
BIND_IGNORE = 1
NORM_BATCH, NORM_GROUP = 0, 1


class PointInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("width", c_i64), ("groups", c_i64),
                ("site_name", c_char_p), ("site_axis", c_i32), ("binding_count", c_size)]


class BindingInfo(ctypes.Structure):
    _fields_ = [("tensor", c_char_p), ("part", c_char_p), ("axis", c_i32), ("role", c_int),
                ("flags", ctypes.c_uint32)]


class SplitInfo(ctypes.Structure):
    _fields_ = [("tensor", c_char_p), ("axis", c_i32), ("part_count", c_size),
                ("parts", ctypes.POINTER(c_char_p))]


class MlpOptions(ctypes.Structure):
    _fields_ = [("size", c_size), ("n_hidden", c_size), ("hidden", ctypes.POINTER(c_i64)),
                ("bias", c_i32), ("prefix", c_char_p), ("layer_template", c_char_p),
                ("index_start", c_i32), ("index_step", c_i32)]


class ResnetOptions(ctypes.Structure):
    _fields_ = [("size", c_size), ("n_stages", c_i32), ("blocks", c_i32 * 4),
                ("widths", c_i64 * 4), ("stem_width", c_i64), ("bottleneck", c_i32),
                ("norm", c_i32), ("norm_groups", c_i64), ("prefix", c_char_p),
                ("shortcut_conv", c_char_p), ("shortcut_norm", c_char_p), ("head", c_char_p)]


class VitOptions(ctypes.Structure):
    _fields_ = [("size", c_size), ("dim", c_i64), ("depth", c_i32), ("heads", c_i32),
                ("mlp_dim", c_i64), ("qkv_bias", c_i32), ("patch_embed", c_i32),
                ("cls_token", c_i32), ("pos_embed", c_i32), ("final_norm", c_i32),
                ("head", c_i32), ("prefix", c_char_p), ("block_template", c_char_p)]


declare("mudsc_graph_new", c_int, ctypes.POINTER(P))
declare("mudsc_graph_free", None, P)
declare("mudsc_graph_point_count", c_size, P)
declare("mudsc_graph_point_at", c_int, P, c_size, ctypes.POINTER(PointInfo))
declare("mudsc_graph_binding_at", c_int, P, c_size, c_size, ctypes.POINTER(BindingInfo))
declare("mudsc_graph_split_count", c_size, P)
declare("mudsc_graph_split_at", c_int, P, c_size, ctypes.POINTER(SplitInfo))
declare("mudsc_graph_validate", c_int, P, ctypes.POINTER(P), c_size)
declare("mudsc_graph_unbound", c_int, P, P, ctypes.POINTER(c_size), c_size,
        ctypes.POINTER(c_size))
declare("mudsc_graph_from_json", c_int, ctypes.POINTER(P), c_char_p, c_size)
declare("mudsc_graph_to_json", c_int, P, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(c_size))
declare("mudsc_free", None, ctypes.c_void_p)
declare("mudsc_mlp_options_init", None, ctypes.POINTER(MlpOptions))
declare("mudsc_resnet_options_init", None, ctypes.POINTER(ResnetOptions))
declare("mudsc_resnet_options_preset", c_int, ctypes.POINTER(ResnetOptions), c_char_p, c_i64)
declare("mudsc_vit_options_init", None, ctypes.POINTER(VitOptions))
declare("mudsc_graph_build_mlp", c_int, ctypes.POINTER(P), ctypes.POINTER(MlpOptions))
declare("mudsc_graph_build_resnet", c_int, ctypes.POINTER(P), ctypes.POINTER(ResnetOptions))
declare("mudsc_graph_build_vit", c_int, ctypes.POINTER(P), ctypes.POINTER(VitOptions))


def _s(b):
    return None if b is None else b.decode()


def _b(s):
    return None if s is None else s.encode()


class Graph(Handle):
    """A mudsc_graph handle, freed on close()."""
    _free = "mudsc_graph_free"

    def __init__(self, handle):
        self.handle = handle

    # ---- constructors ----
    @classmethod
    def from_json(cls, text):
        data = text.encode() if isinstance(text, str) else text
        h = P()
        check(lib.mudsc_graph_from_json(ctypes.byref(h), data, len(data)))
        return cls(h)

    @classmethod
    def mlp(cls, hidden, bias=True, **names):
        o = MlpOptions()
        lib.mudsc_mlp_options_init(ctypes.byref(o))
        arr = (c_i64 * len(hidden))(*hidden)
        o.n_hidden, o.hidden, o.bias = len(hidden), arr, int(bias)
        keep = {k: _b(v) if isinstance(v, str) else v for k, v in names.items()}
        for k, v in keep.items():
            setattr(o, k, v)
        h = P()
        check(lib.mudsc_graph_build_mlp(ctypes.byref(h), ctypes.byref(o)))
        return cls(h)

    @classmethod
    def resnet(cls, preset=None, width_multiplier=1, norm=NORM_BATCH, norm_groups=1, **fields):
        o = ResnetOptions()
        lib.mudsc_resnet_options_init(ctypes.byref(o))
        if preset is not None:
            check(lib.mudsc_resnet_options_preset(ctypes.byref(o), preset.encode(),
                                                  width_multiplier))
        o.norm, o.norm_groups = norm, norm_groups
        for k, v in fields.items():
            if k in ("blocks", "widths"):
                for i, x in enumerate(v):
                    getattr(o, k)[i] = x
            else:
                setattr(o, k, _b(v) if isinstance(v, str) else v)
        h = P()
        check(lib.mudsc_graph_build_resnet(ctypes.byref(h), ctypes.byref(o)))
        return cls(h)

    @classmethod
    def vit(cls, **fields):
        o = VitOptions()
        lib.mudsc_vit_options_init(ctypes.byref(o))
        for k, v in fields.items():
            setattr(o, k, _b(v) if isinstance(v, str) else v)
        h = P()
        check(lib.mudsc_graph_build_vit(ctypes.byref(h), ctypes.byref(o)))
        return cls(h)

    # ---- accessors ----
    def points(self):
        """[{name, width, groups, site: (name, axis) or None, bindings: [...]}]"""
        out = []
        pi, bi = PointInfo(), BindingInfo()
        for p in range(lib.mudsc_graph_point_count(self.handle)):
            check(lib.mudsc_graph_point_at(self.handle, p, ctypes.byref(pi)))
            bindings = []
            for b in range(pi.binding_count):
                check(lib.mudsc_graph_binding_at(self.handle, p, b, ctypes.byref(bi)))
                bindings.append({"tensor": _s(bi.tensor), "part": _s(bi.part), "axis": bi.axis,
                                 "role": "out" if bi.role == ROLE_OUT else "in",
                                 "ignore": bool(bi.flags & BIND_IGNORE)})
            site = None if pi.site_name is None else (_s(pi.site_name), pi.site_axis)
            out.append({"name": _s(pi.name), "width": pi.width, "groups": pi.groups,
                        "site": site, "bindings": bindings})
        return out

    def splits(self):
        """{tensor: (axis, [part names])}"""
        out = {}
        si = SplitInfo()
        for s in range(lib.mudsc_graph_split_count(self.handle)):
            check(lib.mudsc_graph_split_at(self.handle, s, ctypes.byref(si)))
            out[_s(si.tensor)] = (si.axis, [_s(si.parts[k]) for k in range(si.part_count)])
        return out

    def to_json(self):
        buf, n = ctypes.c_void_p(), c_size()
        check(lib.mudsc_graph_to_json(self.handle, ctypes.byref(buf), ctypes.byref(n)))
        try:
            return ctypes.string_at(buf, n.value).decode()
        finally:
            lib.mudsc_free(buf)

    def validate(self, models):
        arr = (P * len(models))(*[m.handle for m in models])
        check(lib.mudsc_graph_validate(self.handle, arr, len(models)))

    def unbound(self, model):
        """Names of model's tensors bound to no point, in model order."""
        n = c_size()
        check(lib.mudsc_graph_unbound(self.handle, model.handle, None, 0, ctypes.byref(n)))
        idx = (c_size * max(n.value, 1))()
        check(lib.mudsc_graph_unbound(self.handle, model.handle, idx, n.value, ctypes.byref(n)))
        names = _model_names(model)
        return [names[i] for i in idx[:n.value]]



def _model_names(model):
    t = Tensor()
    names = []
    for i in range(lib.mudsc_model_count(model.handle)):
        check(lib.mudsc_model_at(model.handle, i, ctypes.byref(t)))
        names.append(t.name.decode())
    return names

