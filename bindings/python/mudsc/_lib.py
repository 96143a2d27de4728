"""Loading libmudsc and declaring its C ABI for ctypes.

Every function of the export list (lib/mudsc.map) is declared here with its
argument and result types, so that ctypes converts and checks arguments
instead of guessing (a guessed ``int`` would truncate 64-bit sizes and
pointers).  The structs mirror include/mudsc/*.h field by field.

Options structs start from the library's own defaults (defaults(): its
``*_options_init``), never from values written here, and work with a library
newer than this binding whose structs are larger (see defaults()).

The library is the file named by the environment variable MUDSC_LIBRARY if
it is set, else the one `meson install` put beside this package (recorded
in the generated module _installed, present in installed trees only), else
the shared library found by its soname (libmudsc.so.0 on Linux) through the
system's library search path.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import errors

# ---- loading ---------------------------------------------------------------

#: ABI major version this binding was written for (the soname's number).
ABI_MAJOR = 0
#: The libmudsc release (MUDSC_VERSION_NUMBER) whose headers this binding
#: follows; the library decides whether it serves it (mudsc_version_check:
#: same major, for 0.x the same minor, and a library at least as new).
VERSION_NUMBER = 200


def _candidates() -> List[str]:
    """Library names to try, most specific first."""
    if sys.platform == "darwin":
        names = [f"libmudsc.{ABI_MAJOR}.dylib", "libmudsc.dylib"]
    elif sys.platform == "win32":
        names = [f"mudsc-{ABI_MAJOR}.dll", f"libmudsc-{ABI_MAJOR}.dll", "mudsc.dll"]
    else:
        names = [f"libmudsc.so.{ABI_MAJOR}"]
    found = ctypes.util.find_library("mudsc")
    if found and found not in names:
        names.append(found)
    return names


def _installed() -> List[str]:
    """The library `meson install` put beside this package, if it exists:
    first at its place relative to where the package is now (a staged
    DESTDIR tree or a moved prefix loads its own copy), then at the path
    recorded at install time.  [] in the source tree and pip installs."""
    try:
        from . import _installed as installed  # written by meson install only
    except ImportError:
        return []
    here = os.path.dirname(os.path.abspath(__file__))
    moved = os.path.normpath(os.path.join(
        here, os.path.relpath(installed.LIBRARY, installed.PACKAGE_DIR)))
    return [p for p in dict.fromkeys((moved, installed.LIBRARY)) if os.path.isfile(p)]


def load(path: Optional[str] = None) -> ctypes.CDLL:
    """Open libmudsc: `path`, else $MUDSC_LIBRARY, else the library
    installed beside this package, else by soname.

    Raises OSError naming every name tried when none can be opened.
    """
    path = path or os.environ.get("MUDSC_LIBRARY") or None
    if path is not None:
        return ctypes.CDLL(path)
    tried = []
    for name in _installed() + _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            tried.append(f"{name}: {exc}")
    raise OSError("libmudsc not found (set MUDSC_LIBRARY to its path); tried "
                  + "; ".join(tried))


# ---- types -----------------------------------------------------------------

c_int, c_i32, c_i64, c_u32, c_u64, c_size, c_double, c_char_p, c_void_p = (
    ctypes.c_int, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64,
    ctypes.c_size_t, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p)
POINTER = ctypes.POINTER
P = c_void_p                      # any opaque handle
PP = POINTER(c_void_p)            # T **out
I64P = POINTER(c_i64)
F64P = POINTER(c_double)
SIZEP = POINTER(c_size)
STATUS = c_int                    # mudsc_status (a C enum: int)
ENUM = c_int                      # any other C enum

MAX_RANK = 8

LOG_FN = ctypes.CFUNCTYPE(None, ENUM, c_char_p, c_void_p)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_i64, c_i32, c_double, c_void_p)
SCORE_FN = ctypes.CFUNCTYPE(c_int, POINTER(c_double), c_void_p, c_double, c_void_p)
#: mudsc_stats_point_fn (matcher.h)
STATS_POINT_FN = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(c_void_p), c_size, c_char_p, c_i64,
                                  c_void_p)


class Tensor(ctypes.Structure):
    """mudsc_tensor (model.h)."""
    _fields_ = [("name", c_char_p), ("dtype", c_i32), ("rank", c_i32),
                ("shape", c_i64 * MAX_RANK), ("data", c_void_p), ("nbytes", c_size)]


class AccumOptions(ctypes.Structure):
    """mudsc_accum_options (accum.h)."""
    _fields_ = [("size", c_size), ("nonfinite", c_i32), ("max_lead", c_i64),
                ("threads", c_i32), ("mode", c_i32)]


class Features(ctypes.Structure):
    """mudsc_features (accum.h)."""
    _fields_ = [("dtype", c_i32), ("rank", c_i32), ("shape", c_i64 * MAX_RANK),
                ("strides", I64P), ("feature_axis", c_i32), ("data", c_void_p)]


class PointInfo(ctypes.Structure):
    """mudsc_point_info (graph.h)."""
    _fields_ = [("name", c_char_p), ("width", c_i64), ("groups", c_i64),
                ("site_name", c_char_p), ("site_axis", c_i32), ("binding_count", c_size)]


class BindingInfo(ctypes.Structure):
    """mudsc_binding_info (graph.h)."""
    _fields_ = [("tensor", c_char_p), ("part", c_char_p), ("axis", c_i32), ("role", c_i32),
                ("flags", c_u32), ("repeat", c_i64)]


class SplitInfo(ctypes.Structure):
    """mudsc_split_info (graph.h)."""
    _fields_ = [("tensor", c_char_p), ("axis", c_i32), ("part_count", c_size),
                ("parts", POINTER(c_char_p)), ("sizes", I64P)]


class MlpOptions(ctypes.Structure):
    """mudsc_mlp_options (graph.h)."""
    _fields_ = [("size", c_size), ("n_hidden", c_size), ("hidden", I64P), ("bias", c_i32),
                ("prefix", c_char_p), ("layer_template", c_char_p), ("index_start", c_i32),
                ("index_step", c_i32), ("site", c_i32)]


class ResnetOptions(ctypes.Structure):
    """mudsc_resnet_options (graph.h)."""
    _fields_ = [("size", c_size), ("n_stages", c_i32), ("blocks", c_i32 * 4),
                ("widths", c_i64 * 4), ("stem_width", c_i64), ("bottleneck", c_i32),
                ("norm", c_i32), ("norm_groups", c_i64), ("prefix", c_char_p),
                ("shortcut_conv", c_char_p), ("shortcut_norm", c_char_p), ("head", c_char_p),
                ("site", c_i32)]


class VitOptions(ctypes.Structure):
    """mudsc_vit_options (graph.h)."""
    _fields_ = [("size", c_size), ("dim", c_i64), ("depth", c_i32), ("heads", c_i32),
                ("mlp_dim", c_i64), ("qkv_bias", c_i32), ("patch_embed", c_i32),
                ("cls_token", c_i32), ("pos_embed", c_i32), ("final_norm", c_i32),
                ("head", c_i32), ("prefix", c_char_p), ("block_template", c_char_p)]


class LlamaOptions(ctypes.Structure):
    """mudsc_llama_options (graph.h)."""
    _fields_ = [("size", c_size), ("dim", c_i64), ("n_layers", c_i32), ("num_heads", c_i32),
                ("num_kv_heads", c_i32), ("head_dim", c_i64), ("mlp_dim", c_i64),
                ("attention_bias", c_i32), ("prefix", c_char_p), ("layer_template", c_char_p),
                ("lm_head", c_char_p)]


class Gpt2Options(ctypes.Structure):
    """mudsc_gpt2_options (graph.h)."""
    _fields_ = [("size", c_size), ("dim", c_i64), ("n_layers", c_i32), ("heads", c_i32),
                ("mlp_dim", c_i64), ("lm_head", c_i32), ("prefix", c_char_p),
                ("block_template", c_char_p)]
class FieldOptions(ctypes.Structure):
    """mudsc_field_options (field.h)."""
    _fields_ = [("size", c_size), ("rule", c_i32), ("steps", c_i32), ("nonfinite", c_i32),
                ("keep_inputs", c_i32), ("max_lead", c_i64), ("block_rows", c_i64)]


class MatchOptions(ctypes.Structure):
    """mudsc_match_options (experimental.h)."""
    _fields_ = [("size", c_size), ("r", c_double), ("a", c_double), ("b", c_double)]


class AverageOptions(ctypes.Structure):
    """mudsc_average_options (average.h)."""
    _fields_ = [("size", c_size), ("threads", c_i32)]


class MatcherOptions(ctypes.Structure):
    """mudsc_matcher_options (matcher.h)."""
    _fields_ = [("size", c_size), ("method", c_i32), ("alpha", c_double), ("similarity", c_i32),
                ("zip_r", c_double), ("zip_a", c_double), ("zip_b", c_double),
                ("use_groups", c_i32), ("max_iter", c_i32), ("patience", c_i32),
                ("seed", c_u64), ("threads", c_i32), ("eps", c_double),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p),
                ("max_memory", c_i64), ("weight_precision", c_i32),
                ("cca_ridge", c_double), ("sweep_order", c_i32)]


class Moments(ctypes.Structure):
    """mudsc_moments (correct.h)."""
    _fields_ = [("width", c_i64), ("mean", F64P), ("std", F64P)]


class RepairOptions(ctypes.Structure):
    """mudsc_repair_options (correct.h)."""
    _fields_ = [("size", c_size), ("min_std", c_double)]


class LsqOptions(ctypes.Structure):
    """mudsc_lsq_options (correct.h)."""
    _fields_ = [("size", c_size), ("ridge", c_double)]


# ---- the export list: name -> (restype, argtypes) -------------------------

SIGNATURES: Dict[str, Tuple[Any, Tuple[Any, ...]]] = {
    # common.h
    "mudsc_blas_info": (c_char_p, ()),
    "mudsc_blas_get_threads": (c_int, ()),
    "mudsc_blas_set_threads": (STATUS, (c_int,)),
    "mudsc_dtype_from_name": (STATUS, (POINTER(c_i32), c_char_p)),
    "mudsc_dtype_is_float": (c_int, (ENUM,)),
    "mudsc_dtype_name": (c_char_p, (ENUM,)),
    "mudsc_dtype_size": (c_size, (ENUM,)),
    "mudsc_error_clear": (None, ()),
    "mudsc_error_message": (c_char_p, ()),
    "mudsc_error_set": (STATUS, (STATUS, c_char_p)),
    "mudsc_error_status": (STATUS, ()),
    "mudsc_free": (None, (c_void_p,)),
    "mudsc_log_set_callback": (None, (LOG_FN, ENUM, c_void_p)),
    "mudsc_options_size": (c_size, (c_i32,)),
    "mudsc_status_name": (c_char_p, (STATUS,)),
    "mudsc_status_str": (c_char_p, (STATUS,)),
    "mudsc_version": (ctypes.c_uint, ()),
    "mudsc_version_check": (STATUS, (ctypes.c_uint,)),
    "mudsc_version_string": (c_char_p, ()),
    # average.h
    "mudsc_average": (STATUS, (P, c_i32, PP, F64P, POINTER(AverageOptions))),
    "mudsc_average_aligned": (STATUS, (P, P, F64P, POINTER(AverageOptions))),
    "mudsc_average_options_init": (STATUS, (POINTER(AverageOptions),)),
    # graph.h
    "mudsc_graph_add_point": (STATUS, (SIZEP, P, c_char_p, c_i64, c_i64)),
    "mudsc_graph_add_concat": (STATUS, (P, c_char_p, c_i32, c_size, POINTER(c_char_p), I64P)),
    "mudsc_graph_add_split": (STATUS, (P, c_char_p, c_i32, c_size, POINTER(c_char_p))),
    "mudsc_graph_bind": (STATUS, (P, c_size, c_char_p, c_char_p, c_i32, ENUM, c_u32)),
    "mudsc_graph_bind_repeat": (STATUS, (P, c_size, c_char_p, c_char_p, c_i32, ENUM, c_u32,
                                         c_i64)),
    "mudsc_graph_binding_at": (STATUS, (POINTER(BindingInfo), P, c_size, c_size)),
    "mudsc_graph_build_mlp": (STATUS, (PP, POINTER(MlpOptions))),
    "mudsc_graph_build_resnet": (STATUS, (PP, POINTER(ResnetOptions))),
    "mudsc_graph_build_vit": (STATUS, (PP, POINTER(VitOptions))),
    "mudsc_graph_build_llama": (STATUS, (PP, POINTER(LlamaOptions))),
    "mudsc_graph_build_gpt2": (STATUS, (PP, POINTER(Gpt2Options))),
    "mudsc_graph_free": (None, (P,)),
    "mudsc_graph_from_json": (STATUS, (PP, c_char_p, c_size)),
    "mudsc_graph_load_json": (STATUS, (PP, c_char_p)),
    "mudsc_graph_new": (STATUS, (PP,)),
    "mudsc_graph_point_at": (STATUS, (POINTER(PointInfo), P, c_size)),
    "mudsc_graph_point_count": (c_size, (P,)),
    "mudsc_graph_point_find": (STATUS, (SIZEP, P, c_char_p)),
    "mudsc_graph_save_json": (STATUS, (P, c_char_p)),
    "mudsc_graph_set_site": (STATUS, (P, c_size, c_char_p, c_i32)),
    "mudsc_graph_set_site_offset": (STATUS, (P, c_size, c_i64)),
    "mudsc_graph_site_offset": (STATUS, (I64P, P, c_size)),
    "mudsc_graph_split_at": (STATUS, (POINTER(SplitInfo), P, c_size)),
    "mudsc_graph_split_count": (c_size, (P,)),
    "mudsc_graph_to_json": (STATUS, (PP, SIZEP, P)),
    "mudsc_graph_unbound": (STATUS, (SIZEP, c_size, SIZEP, P, P)),
    "mudsc_graph_validate": (STATUS, (P, PP, c_i32)),
    "mudsc_mlp_options_init": (STATUS, (POINTER(MlpOptions),)),
    "mudsc_resnet_options_init": (STATUS, (POINTER(ResnetOptions),)),
    "mudsc_resnet_options_preset": (STATUS, (POINTER(ResnetOptions), c_char_p, c_i64)),
    "mudsc_vit_options_init": (STATUS, (POINTER(VitOptions),)),
    "mudsc_llama_options_init": (STATUS, (POINTER(LlamaOptions),)),
    "mudsc_gpt2_options_init": (STATUS, (POINTER(Gpt2Options),)),
    # accum.h
    "mudsc_accum_correlation": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_accum_count": (STATUS, (I64P, P, c_i32)),
    "mudsc_accum_cross_correlation": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_accum_covariance": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_accum_deserialize": (STATUS, (PP, c_void_p, c_size, POINTER(AccumOptions))),
    "mudsc_accum_free": (None, (P,)),
    "mudsc_accum_means": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_accum_merge": (STATUS, (P, P)),
    "mudsc_accum_mode": (c_i32, (P,)),
    "mudsc_accum_models": (c_i32, (P,)),
    "mudsc_accum_new": (STATUS, (PP, c_i32, c_i64, POINTER(AccumOptions))),
    "mudsc_accum_options_init": (STATUS, (POINTER(AccumOptions),)),
    "mudsc_accum_serialize": (STATUS, (PP, SIZEP, P)),
    "mudsc_accum_stddevs": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_accum_update": (STATUS, (P, c_i32, POINTER(Features))),
    "mudsc_accum_width": (c_i64, (P,)),
    # matcher.h
    "mudsc_matcher_assignment": (STATUS, (I64P, c_size, SIZEP, P, c_size)),
    "mudsc_matcher_best_sweep": (c_i32, (P,)),
    "mudsc_matcher_free": (None, (P,)),
    "mudsc_matcher_matrix": (STATUS, (F64P, c_size, SIZEP, P, c_size, c_i32, ENUM)),
    "mudsc_matcher_merge": (STATUS, (PP, P, F64P)),
    "mudsc_matcher_merge_to_file": (STATUS, (P, c_char_p, F64P)),
    "mudsc_matcher_new": (STATUS, (PP, P, PP, c_i32, POINTER(MatcherOptions))),
    "mudsc_matcher_objectives": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_matcher_options_init": (STATUS, (POINTER(MatcherOptions),)),
    "mudsc_matcher_permutation": (STATUS, (I64P, c_size, SIZEP, P, c_size, c_i32)),
    "mudsc_matcher_point_result": (STATUS, (I64P, F64P, P, c_size)),
    "mudsc_matcher_run": (STATUS, (P,)),
    "mudsc_matcher_search_alpha": (STATUS, (F64P, F64P, P, F64P, c_size, F64P, SCORE_FN, c_void_p)),
    "mudsc_matcher_search_point_alphas": (STATUS, (F64P, F64P, P, F64P, c_size, c_i32, F64P,
                                                   SCORE_FN, c_void_p)),
    "mudsc_matcher_set_point_alphas": (STATUS, (P, F64P, c_size)),
    "mudsc_matcher_point_alphas": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_matcher_set_activation_similarity": (STATUS, (P, c_size, F64P, c_size)),
    "mudsc_matcher_set_activations": (STATUS, (P, c_size, P)),
    "mudsc_matcher_set_stats": (STATUS, (P, P)),
    "mudsc_matcher_set_stats_callback": (STATUS, (P, STATS_POINT_FN, c_void_p)),
    "mudsc_matcher_set_stats_file": (STATUS, (P, c_char_p)),
    "mudsc_matcher_sweeps": (c_i32, (P,)),
    "mudsc_matcher_transform_to_file": (STATUS, (P, c_char_p, c_i32)),
    "mudsc_matcher_transform": (STATUS, (PP, P, c_i32)),
    "mudsc_permute_model": (STATUS, (PP, P, P, c_u64, c_i64)),
    "mudsc_permute_point": (STATUS, (I64P, c_size, SIZEP, P, c_size, c_u64)),
    # model.h
    "mudsc_model_add": (STATUS, (P, c_char_p, ENUM, c_i32, I64P, c_void_p, ENUM)),
    "mudsc_model_at": (STATUS, (POINTER(Tensor), P, c_size)),
    "mudsc_model_count": (c_size, (P,)),
    "mudsc_model_find": (STATUS, (POINTER(Tensor), P, c_char_p)),
    "mudsc_model_free": (None, (P,)),
    "mudsc_model_freeze": (STATUS, (P,)),
    "mudsc_model_get_meta": (c_char_p, (P, c_char_p)),
    "mudsc_model_is_frozen": (c_int, (P,)),
    "mudsc_model_load": (STATUS, (PP, c_char_p)),
    "mudsc_model_load_buffer": (STATUS, (PP, c_void_p, c_size, ENUM)),
    "mudsc_model_load_mode": (STATUS, (PP, c_char_p, ENUM)),
    "mudsc_model_meta_at": (STATUS, (POINTER(c_char_p), POINTER(c_char_p), P, c_size)),
    "mudsc_model_meta_count": (c_size, (P,)),
    "mudsc_model_new": (STATUS, (PP,)),
    "mudsc_model_remove": (STATUS, (P, c_char_p)),
    "mudsc_model_save": (STATUS, (P, c_char_p)),
    "mudsc_model_save_buffer": (STATUS, (PP, SIZEP, P)),
    "mudsc_model_set_meta": (STATUS, (P, c_char_p, c_char_p)),
    "mudsc_safetensors_max_header": (c_size, ()),
    # stats.h
    "mudsc_stats_free": (None, (P,)),
    "mudsc_stats_load": (STATUS, (PP, c_char_p, P, c_i32, POINTER(AccumOptions))),
    "mudsc_stats_load_buffer": (STATUS, (PP, c_void_p, c_size, P, c_i32,
                                         POINTER(AccumOptions))),
    "mudsc_stats_load_buffer_like": (STATUS, (PP, c_void_p, c_size, P, POINTER(AccumOptions))),
    "mudsc_stats_merge": (STATUS, (P, P)),
    "mudsc_stats_models": (c_i32, (P,)),
    "mudsc_stats_new": (STATUS, (PP, P, c_i32, POINTER(AccumOptions))),
    "mudsc_stats_point": (STATUS, (PP, P, c_size)),
    "mudsc_stats_point_at": (STATUS, (POINTER(c_char_p), I64P, P, c_size)),
    "mudsc_stats_point_count": (c_size, (P,)),
    "mudsc_stats_point_find": (STATUS, (SIZEP, P, c_char_p)),
    "mudsc_stats_replace_buffer": (STATUS, (P, c_void_p, c_size)),
    "mudsc_stats_save": (STATUS, (P, c_char_p)),
    "mudsc_stats_save_buffer": (STATUS, (PP, SIZEP, P)),
    "mudsc_stats_update": (STATUS, (P, c_size, c_i32, POINTER(Features))),
    "mudsc_stats_update_named": (STATUS, (P, c_char_p, c_i32, POINTER(Features))),
    # field.h
    "mudsc_field_begin": (STATUS, (P, POINTER(Features), POINTER(Features))),
    "mudsc_field_distances": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_field_free": (None, (P,)),
    "mudsc_field_input_distances": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_field_input_size": (c_i64, (P,)),
    "mudsc_field_inputs": (c_i64, (P,)),
    "mudsc_field_load": (STATUS, (PP, c_char_p, POINTER(FieldOptions))),
    "mudsc_field_load_buffer": (STATUS, (PP, c_void_p, c_size, POINTER(FieldOptions))),
    "mudsc_field_merge": (STATUS, (P, P)),
    "mudsc_field_models": (c_i32, (P,)),
    "mudsc_field_new": (STATUS, (PP, c_i32, c_i64, POINTER(FieldOptions))),
    "mudsc_field_options_init": (STATUS, (POINTER(FieldOptions),)),
    "mudsc_field_points": (STATUS, (F64P, F64P, P)),
    "mudsc_field_rule": (c_i32, (P,)),
    "mudsc_field_save": (STATUS, (P, c_char_p)),
    "mudsc_field_save_buffer": (STATUS, (PP, SIZEP, P)),
    "mudsc_field_step_distances": (STATUS, (F64P, c_size, SIZEP, P)),
    "mudsc_field_steps": (c_i32, (P,)),
    "mudsc_field_update": (STATUS, (P, c_i32, POINTER(Features))),
    "mudsc_quadrature": (STATUS, (F64P, F64P, c_i32, c_i64)),
    # correct.h
    "mudsc_repair": (STATUS, (PP, P, P, P, P, POINTER(Moments), c_size, F64P,
                              POINTER(RepairOptions))),
    "mudsc_repair_layer": (STATUS, (PP, P, c_char_p, c_char_p, POINTER(Moments), c_i32,
                                    POINTER(Moments), F64P, POINTER(RepairOptions))),
    "mudsc_repair_options_init": (STATUS, (POINTER(RepairOptions),)),
    "mudsc_lsq_error": (STATUS, (F64P, P, P)),
    "mudsc_lsq_free": (None, (P,)),
    "mudsc_lsq_layer_new": (STATUS, (PP, P, c_char_p, c_char_p, c_i32, F64P)),
    "mudsc_lsq_new": (STATUS, (PP, P, P, P, c_char_p, F64P)),
    "mudsc_lsq_options_init": (STATUS, (POINTER(LsqOptions),)),
    "mudsc_lsq_rows": (c_i64, (P,)),
    "mudsc_lsq_solve": (STATUS, (PP, P, P, POINTER(LsqOptions))),
    "mudsc_lsq_update": (STATUS, (P, POINTER(Features), POINTER(Features), c_i32)),
    # partial.h
    "mudsc_graph_prefix": (STATUS, (PP, P, c_size)),
    "mudsc_partial_merge": (STATUS, (PP, P, P, F64P)),
    # experimental.h: changes with every release (VERSION_NUMBER is checked)
    "mudsc_align_solve": (STATUS, (I64P, F64P, F64P, c_i64, c_i64, c_i64)),
    "mudsc_lap_solve": (STATUS, (I64P, F64P, F64P, c_i64)),
    "mudsc_accum_set_block_rows": (STATUS, (P, c_i64)),
    "mudsc_match_options_init": (STATUS, (POINTER(MatchOptions),)),
    "mudsc_zip_solve": (STATUS, (I64P, I64P, I64P, F64P, F64P, c_i64, c_i64, c_i64,
                                 POINTER(MatchOptions))),
}

#: The experimental API (experimental.h): it may change with every release,
#: so this binding uses it only with the release it was written for.
EXPERIMENTAL = frozenset(("mudsc_accum_set_block_rows", "mudsc_align_solve", "mudsc_lap_solve",
                          "mudsc_match_options_init", "mudsc_zip_solve"))

#: Options struct -> (its _init function, its mudsc_options_kind; None for
#: the experimental struct, which has the size of this binding's release).
OPTIONS: Dict[Any, Tuple[str, Optional[int]]] = {
    MatcherOptions: ("mudsc_matcher_options_init", 0),
    AccumOptions: ("mudsc_accum_options_init", 1),
    MlpOptions: ("mudsc_mlp_options_init", 2),
    ResnetOptions: ("mudsc_resnet_options_init", 3),
    VitOptions: ("mudsc_vit_options_init", 4),
    LlamaOptions: ("mudsc_llama_options_init", 5),
    Gpt2Options: ("mudsc_gpt2_options_init", 6),
    FieldOptions: ("mudsc_field_options_init", 7),
    MatchOptions: ("mudsc_match_options_init", None),
    AverageOptions: ("mudsc_average_options_init", None),
    RepairOptions: ("mudsc_repair_options_init", None),
    LsqOptions: ("mudsc_lsq_options_init", 9),
}


def _refuse_experimental(name: str, library: str) -> Callable[..., Any]:
    def refuse(*args: Any) -> Any:
        raise errors.UnsupportedError.make(
            f"{name} is experimental (experimental.h): this binding uses it with libmudsc "
            f"{VERSION_NUMBER // 10000}.{VERSION_NUMBER // 100 % 100}.{VERSION_NUMBER % 100} "
            f"only, the library is {library}")
    return refuse


def declare(cdll: ctypes.CDLL) -> ctypes.CDLL:
    """Set restype and argtypes of every exported function on cdll; the
    experimental ones refuse to run unless the library is exactly the release
    this binding follows."""
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(cdll, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)
    if cdll.mudsc_version() != VERSION_NUMBER:
        for name in EXPERIMENTAL:
            setattr(cdll, name, _refuse_experimental(name, cdll.mudsc_version_string().decode()))
    return cdll


def _check_abi(cdll: ctypes.CDLL) -> None:
    """Refuse a library that does not serve this binding's headers, or whose
    options structs are smaller than the binding's (an older library)."""
    if cdll.mudsc_version_check(VERSION_NUMBER) != 0:
        raise ImportError(f"mudsc: {cdll.mudsc_error_message().decode()}")
    for struct, (init, kind) in OPTIONS.items():
        if kind is not None and cdll.mudsc_options_size(kind) < ctypes.sizeof(struct):
            raise ImportError(f"mudsc: {struct.__name__} is {ctypes.sizeof(struct)} bytes here "
                              f"but {cdll.mudsc_options_size(kind)} in the library: the library "
                              f"is older than this binding")


lib = declare(load())
_check_abi(lib)


# ---- helpers shared by the modules -------------------------------------------

def last_error() -> str:
    """mudsc_error_message(): the calling thread's last error message."""
    return lib.mudsc_error_message().decode("utf-8", "replace")


def check(status: int) -> int:
    """Raise the exception class of a negative status, carrying the library's
    message (mudsc_error_message()); return the status otherwise."""
    if status < 0:
        raise errors.from_status(status, last_error())
    return status


def defaults(struct: Any) -> Any:
    """A new options struct (MatcherOptions, AccumOptions, ...) holding the
    library's defaults, from its _init function, with ``size`` = this
    binding's sizeof(struct).

    Why this works with a newer library: its struct may be larger than this
    binding's, so its _init writes more bytes than ``struct`` holds.  It
    writes into a buffer of the library's size (mudsc_options_size()), of
    which the fields this binding knows are copied.  Passed with this
    binding's (smaller) size, the struct is an older caller's to the library,
    which reads only those bytes and gives its newer fields their defaults
    (the size rule of include/mudsc/common.h)."""
    init, kind = OPTIONS[struct]
    own = ctypes.sizeof(struct)
    size = own if kind is None else max(own, int(lib.mudsc_options_size(kind)))
    buf = (ctypes.c_char * size)()
    check(getattr(lib, init)(ctypes.cast(buf, POINTER(struct))))
    out = struct.from_buffer_copy(buf)
    out.size = own
    return out


def read_array(call: Callable[[Any, int, Any], int], ptr_type: Any, dtype: Any) -> Any:
    """The result of a C array getter ``f(out, capacity, needed, ...)``
    (include/mudsc/common.h, the sizing rule): call(out, capacity, needed)
    asked first for the size (capacity 0), then given a NumPy array of that
    many `dtype` elements (whose pointer has type ptr_type)."""
    import numpy as np
    n = c_size()
    check(call(None, 0, ctypes.byref(n)))
    out = np.empty(n.value, dtype=dtype)
    if n.value:
        check(call(out.ctypes.data_as(ptr_type), n.value, None))
    return out


def encode(text: Optional[str], what: str) -> Optional[bytes]:
    """UTF-8 bytes of a str argument (None stays None); a str with NUL or a
    non-str raises InvalidArgumentError naming the argument."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise errors.InvalidArgumentError.make(f"{what} must be a str, got "
                                               f"{type(text).__name__}")
    if "\0" in text:
        raise errors.InvalidArgumentError.make(f"{what} contains a NUL character")
    return text.encode("utf-8")


def decode(raw: Optional[bytes]) -> Optional[str]:
    """str of a borrowed C string (None stays None)."""
    return None if raw is None else raw.decode("utf-8")


def fspath(path: Any, what: str = "path") -> bytes:
    """A path argument (str, bytes or os.PathLike) as bytes for the C API."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise errors.InvalidArgumentError.make(f"{what} contains a NUL character")
    return raw


def take_bytes(buf: ctypes.c_void_p, length: int) -> bytes:
    """Copy length bytes of a library-owned buffer and mudsc_free() it."""
    try:
        return ctypes.string_at(buf, length) if length else b""
    finally:
        lib.mudsc_free(buf)


class Owner:
    """Owns one C handle and what it borrows; frees the handle when the last
    Python reference to the Owner goes (also at interpreter exit).

    Wrappers hold an Owner; NumPy views into the handle's memory and other
    handles that need it (a matcher needs its graph and models) hold it too,
    so the C object outlives everything that points into it.
    """

    __slots__ = ("ptr", "keep", "_free", "__weakref__")

    def __init__(self, ptr: int, free: Callable[[Any], None], keep: Sequence[Any] = ()) -> None:
        self.ptr = ptr
        self.keep = list(keep)
        self._free = weakref.finalize(self, free, ptr)

    @property
    def alive(self) -> bool:
        """False once the handle has been freed."""
        return self._free.alive
