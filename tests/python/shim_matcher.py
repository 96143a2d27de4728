"""ctypes declarations of include/mudsc/matcher.h for the test suites."""
import ctypes

import numpy as np

from shim import Handle, Model, P, check, declare, lib

PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_int32, ctypes.c_double,
                            ctypes.c_void_p)


class MatcherOptions(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("method", ctypes.c_int), ("alpha", ctypes.c_double),
                ("similarity", ctypes.c_int), ("zip_r", ctypes.c_double),
                ("zip_a", ctypes.c_double), ("zip_b", ctypes.c_double),
                ("use_groups", ctypes.c_int32), ("max_iter", ctypes.c_int32),
                ("patience", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("threads", ctypes.c_int32), ("eps", ctypes.c_double),
                ("progress", PROGRESS), ("progress_user", ctypes.c_void_p)]


I64P = ctypes.POINTER(ctypes.c_int64)
F64P = ctypes.POINTER(ctypes.c_double)
declare("mudsc_matcher_options_init", ctypes.c_int, ctypes.POINTER(MatcherOptions))
declare("mudsc_matcher_new", ctypes.c_int, ctypes.POINTER(P), P, ctypes.POINTER(P),
        ctypes.c_int32, ctypes.POINTER(MatcherOptions))
declare("mudsc_matcher_free", None, P)
declare("mudsc_matcher_set_activation_similarity", ctypes.c_int, P, ctypes.c_size_t, F64P,
        ctypes.c_size_t)
declare("mudsc_matcher_set_activations", ctypes.c_int, P, ctypes.c_size_t, P)
declare("mudsc_matcher_run", ctypes.c_int, P)
declare("mudsc_matcher_sweeps", ctypes.c_int32, P)
declare("mudsc_matcher_best_sweep", ctypes.c_int32, P)
declare("mudsc_matcher_objectives", ctypes.c_int, P, F64P, ctypes.c_size_t)
declare("mudsc_matcher_point_result", ctypes.c_int, P, ctypes.c_size_t, I64P, F64P)
declare("mudsc_matcher_assignment", ctypes.c_int, P, ctypes.c_size_t, I64P, ctypes.c_size_t)
declare("mudsc_matcher_permutation", ctypes.c_int, P, ctypes.c_size_t, ctypes.c_int32, I64P,
        ctypes.c_size_t)
declare("mudsc_matcher_matrix", ctypes.c_int, P, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int,
        F64P, ctypes.c_size_t)
declare("mudsc_matcher_merge", ctypes.c_int, ctypes.POINTER(P), P, F64P)
declare("mudsc_matcher_transform", ctypes.c_int, ctypes.POINTER(P), P, ctypes.c_int32)

METHODS = {"align": 0, "zip": 1}


class Matcher(Handle):
    """A mudsc_matcher over Models (kept alive here) and a shim_graph.Graph."""
    _free = "mudsc_matcher_free"

    def __init__(self, graph, models, method="align", alpha=0.5, progress=None, **fields):
        self.handle = None
        self.graph, self.models = graph, models
        opts = MatcherOptions()
        check(lib.mudsc_matcher_options_init(ctypes.byref(opts)))
        opts.method = METHODS[method]
        opts.alpha = alpha
        for k, v in fields.items():
            setattr(opts, k, v)
        self._progress = PROGRESS(progress) if progress else PROGRESS()
        opts.progress = self._progress
        arr = (P * len(models))(*[m.handle for m in models])
        h = P()
        check(lib.mudsc_matcher_new(ctypes.byref(h), graph.handle, arr, len(models),
                                    ctypes.byref(opts)))
        self.handle = h
        self.N = len(models)

    def set_sa(self, point, S):
        S = np.ascontiguousarray(S, dtype=np.float64)
        check(lib.mudsc_matcher_set_activation_similarity(
            self.handle, point, S.ctypes.data_as(F64P), S.size))

    def set_activations(self, point, accum):
        check(lib.mudsc_matcher_set_activations(self.handle, point, accum.handle))

    def run(self):
        check(lib.mudsc_matcher_run(self.handle))

    def sweeps(self):
        return lib.mudsc_matcher_sweeps(self.handle)

    def best_sweep(self):
        return lib.mudsc_matcher_best_sweep(self.handle)

    def objectives(self):
        n = max(self.sweeps(), 0)
        out = np.zeros(n)
        check(lib.mudsc_matcher_objectives(self.handle, out.ctypes.data_as(F64P), n))
        return out

    def point_result(self, point):
        width = ctypes.c_int64()
        scores = np.zeros(3)
        check(lib.mudsc_matcher_point_result(self.handle, point, ctypes.byref(width),
                                             scores.ctypes.data_as(F64P)))
        return width.value, scores

    def assignment(self, point, NC):
        out = np.zeros(NC, dtype=np.int64)
        check(lib.mudsc_matcher_assignment(self.handle, point, out.ctypes.data_as(I64P), NC))
        return out

    def permutation(self, point, model, C):
        out = np.zeros(C, dtype=np.int64)
        check(lib.mudsc_matcher_permutation(self.handle, point, model,
                                            out.ctypes.data_as(I64P), C))
        return out

    def matrix(self, point, model, kind, C):
        width, _ = self.point_result(point)
        out = np.zeros((C, width))
        check(lib.mudsc_matcher_matrix(self.handle, point, model, {"merge": 0, "unmerge": 1}[kind],
                                       out.ctypes.data_as(F64P), out.size))
        return out

    def merge(self, weights=None):
        h = P()
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        check(lib.mudsc_matcher_merge(ctypes.byref(h), self.handle,
                                      None if w is None else w.ctypes.data_as(F64P)))
        with Model(handle=h) as m:
            return m.to_dict()

    def transform(self, model):
        h = P()
        check(lib.mudsc_matcher_transform(ctypes.byref(h), self.handle, model))
        with Model(handle=h) as m:
            return m.to_dict()

