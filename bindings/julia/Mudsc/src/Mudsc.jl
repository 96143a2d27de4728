"""
    Mudsc

Julia binding of libmudsc: merge neural networks trained from different
initialisations by MuDSC.  Thin `ccall` wrappers over the C ABI that mirror
the Python package `mudsc` (bindings/python): `Model`, `Graph`,
`Accumulator`, `Matcher` and the convenience call `Mudsc.merge`.

Conventions of this binding (see bindings/julia/README.md):
- The library is loaded by its soname `libmudsc.so.0`; the environment
  variable `MUDSC_LIBRARY` (a path) overrides it, read when the module loads.
- Julia arrays are column-major, the C API is row-major: a C tensor of shape
  (d0, ..., dk) is the Julia array of size (dk, ..., d0) with the same bytes.
  Tensors and features cross the boundary with reversed dimensions, never
  transposed in memory.
- Positions in Julia collections (points, models, units) count from 1; tensor
  axes in a graph are the C axes counted from 0, as in the graph JSON.
- Every failing call throws a `MudscError` carrying the status and the
  library's message.
"""
module Mudsc

using Libdl

export MudscError
export version, blas_info, blas_threads, set_threads
export Model, load_model, save, to_bytes, to_dict, metadata, add!, freeze!, isfrozen
export Graph, Point, Binding, Split, add_point!, set_site!, add_split!, add_concat!, bind!,
       permute_model, point_permutation,
       mlp_graph, resnet_graph, vit_graph, llama_graph, gpt2_graph, graph_from_json, load_graph, to_json,
       points, splits, validate, unbound
export Accumulator, nmodels, width, update!, correlation, covariance, means, stddevs,
       cross_correlation, mode
export Stats, load_stats, replace_stats!, point_names
export Field, load_field, quadrature, begin!, distances, step_distances, input_distances,
       ninputs
export Matcher, PointResult, set_activations!, set_stats!, set_activation_similarity!, run!,
       sweeps, best_sweep, objectives, point_result, assignment, permutation, matrix,
       transform, merge_to_file, transform_to_file
export search_alpha!, search_point_alphas!, set_point_alphas!, point_alphas
export MergeResult
export average, average!, average_aligned!
export repair, repair_layer, prefix, partial_merge
export Lsq, lsq_layer, lsq_update!, lsq_solve, lsq_error, rows
# `merge` is not exported (Base.merge is another function): call `Mudsc.merge`.

"""
The library every `ccall` names, by soname.  When `ENV["MUDSC_LIBRARY"]` holds
a path, `__init__` opens that file first; the dynamic loader then resolves the
soname to the already loaded object (glibc matches a loaded library's
DT_SONAME), so every `ccall` uses the file the variable names.
"""
const libmudsc = "libmudsc.so.0"

# Handle of the library opened from MUDSC_LIBRARY (kept open for the session).
const _library_override = Ref{Ptr{Cvoid}}(C_NULL)

"""
The libmudsc release (MUDSC_VERSION_NUMBER) whose headers this binding
follows.  `__init__` asks the library whether it serves them
(`mudsc_version_check`: the same major version, before 1.0 the same minor
too, and a library at least as new).
"""
const VERSION_NUMBER = 200

function __init__()
    path = get(ENV, "MUDSC_LIBRARY", "")
    if !isempty(path)
        _library_override[] = Libdl.dlopen(path)
    end
    if ccall((:mudsc_version_check, libmudsc), Cint, (Cuint,), VERSION_NUMBER) != 0
        msg = unsafe_string(ccall((:mudsc_error_message, libmudsc), Ptr{UInt8}, ()))
        error("Mudsc: $(msg)")
    end
    return nothing
end

"""
    Mudsc.merge(models, graph; activations=nothing, method, alpha,
                weights=nothing, options...) -> MergeResult
    Mudsc.merge(matcher; weights=nothing) -> Model

Merge models described by a graph in one call (options not given take the
library's defaults, as in `Matcher`), or produce the merged model of a
matcher that has run.
"""
function merge end

include("capi.jl")
include("errors.jl")
include("model.jl")
include("graph.jl")
include("accum.jl")
include("stats.jl")
include("field.jl")
include("matcher.jl")
include("alpha.jl")
include("merge.jl")
include("average.jl")
include("correct.jl")
include("partial.jl")

end # module Mudsc
