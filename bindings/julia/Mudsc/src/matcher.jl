# Matcher: MuDSC on N models described by a graph, with optional activation
# statistics per point (include/mudsc/matcher.h).  Points, models and units
# count from 1; sweep numbers are the library's (from 0, -1 = the activation
# initialisation).

# The progress callback and the first exception it threw.  The C matcher
# holds its address, so the Matcher keeps it referenced.
mutable struct _Progress
    f::Any
    error::Any
end

"""
    Matcher(graph, models; method, alpha, similarity, zip_r, zip_a, zip_b,
            use_groups, max_iter, patience, seed, threads, eps, max_memory,
            weight_precision, cca_ridge, sweep_order, progress=nothing)

A matcher for two or more models (`Model`s, or tensor dictionaries turned
into models) described by `graph`.  The models are frozen.  Options not
given (or `nothing`) take the library's defaults
(mudsc_matcher_options_init, matcher.h); `method` is `:align`, `:zip` or
`:cca` (dense CCA transforms from full-mode activation covariances, with the
relative ridge `cca_ridge`, default 0.1; docs/algorithm.md section 22),
`similarity` `:correlation` or `:cosine`.  `progress`, if given, is called as
`progress(point, sweep, score)` after each re-matched point; returning
`true` cancels the run.  `max_memory` is the memory budget in bytes (0: no
limit; default 8 GiB): a problem whose run or merge would allocate more is
refused here (MUDSC_E_NOMEM, naming the figure).  `weight_precision` is
`:float32` (the default: S_w's products by sgemm over unit rows, each entry
within (D + 2) 2^-24 of float64, D the feature length) or `:float64`.
`sweep_order` is `:random` (the default: every sweep in a random order from
`seed`) or `:graph_first` (the first sweep in the graph's point order, the
later ones random; docs/algorithm.md section 10).
"""
mutable struct Matcher <: Handle
    ptr::Ptr{Cvoid}
    graph::Graph            # the C matcher reads the graph and the models
    models::Vector{Model}   # for its whole life: they are kept referenced
    progress::_Progress
    options::mudsc_matcher_options   # what the matcher was created with
    Matcher(ptr::Ptr{Cvoid}, graph::Graph, models::Vector{Model}, progress::_Progress,
            options::mudsc_matcher_options) =
        finalizer(close, new(ptr, graph, models, progress, options))
end

"""Scores of one point after `run!`: merged width C' and mean matched S_w, S_a, S (NaN where not computed)."""
struct PointResult
    merged_width::Int
    weight::Float64
    activation::Float64
    combined::Float64
end

const _METHODS = Dict(:align => 0, :zip => 1, :cca => 2)
const _SIMILARITIES = Dict(:correlation => 0, :cosine => 1)
const _PRECISIONS = Dict(:float32 => 0, :float64 => 1)
const _SWEEP_ORDERS = Dict(:random => 0, :graph_first => 1)
const _MATRIX_KINDS = Dict(:merge => 0, :unmerge => 1)

# Called by the C matcher on the thread running run!; non-zero cancels.  An
# exception must not unwind through C: it is kept and rethrown by run!.
function _progress_trampoline(point::Int64, sweep::Int32, score::Cdouble, user::Ptr{Cvoid})::Cint
    p = unsafe_pointer_to_objref(user)::_Progress
    try
        return p.f(Int(point) + 1, Int(sweep), score) === true ? Cint(1) : Cint(0)
    catch e
        p.error = e
        return Cint(1)
    end
end

function _matcher_options(progress::_Progress; method=nothing, similarity=nothing,
                          weight_precision=nothing, sweep_order=nothing, options...)
    for k in keys(options)
        k in (:size, :progress, :progress_user) && throw(ArgumentError("unknown option $(k)"))
    end
    defaults = _defaults(mudsc_matcher_options, 0, p -> ccall((:mudsc_matcher_options_init, libmudsc),
                                                              Cint, (Ptr{mudsc_matcher_options},), p))
    opts = _with(defaults;
                 method=method === nothing ? nothing : _choice(_METHODS, method, "method"),
                 similarity=similarity === nothing ? nothing :
                            _choice(_SIMILARITIES, similarity, "similarity"),
                 weight_precision=weight_precision === nothing ? nothing :
                                  _choice(_PRECISIONS, weight_precision, "weight_precision"),
                 sweep_order=sweep_order === nothing ? nothing :
                             _choice(_SWEEP_ORDERS, sweep_order, "sweep_order"),
                 options...)
    progress.f === nothing && return opts
    callback = @cfunction(_progress_trampoline, Cint, (Int64, Int32, Cdouble, Ptr{Cvoid}))
    return _with(opts; progress=callback, progress_user=pointer_from_objref(progress))
end

_as_model(m::Model) = m
_as_model(tensors) = Model(tensors)

function Matcher(graph::Graph, models::AbstractVector; progress=nothing, options...)
    ms = Model[_as_model(m) for m in models]
    state = _Progress(progress, nothing)
    opts = _matcher_options(state; options...)
    ptrs = _pointers(ms)
    return GC.@preserve ms _new(out -> ccall((:mudsc_matcher_new, libmudsc), Cint,
                                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Int32,
                                              Ref{mudsc_matcher_options}),
                                             out, graph, ptrs, length(ptrs), opts),
                                Matcher, graph, ms, state, opts)
end

Base.close(mt::Matcher) = ccall((:mudsc_matcher_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(mt))

"""
    set_activations!(mt, point, accumulator)
    set_activations!(mt, point, S::AbstractMatrix)

Give a point (position or name) its activation statistics: an `Accumulator`'s
correlation, or an NC x NC similarity computed by the host.
"""
"""`set_stats!(mt, stats)`: every point's activation statistics from a `Stats` set, in one call
(read on demand, a point at a time); `set_stats!(mt, path::AbstractString)`: the same from a
statistics file, mapped (mudsc_matcher_set_stats_file)."""
function set_stats!(mt::Matcher, stats::Stats)
    _check(ccall((:mudsc_matcher_set_stats, libmudsc), Cint, (Ptr{Cvoid}, Ptr{Cvoid}), mt, stats))
    return mt
end

function set_stats!(mt::Matcher, path::AbstractString)
    _check(ccall((:mudsc_matcher_set_stats_file, libmudsc), Cint, (Ptr{Cvoid}, Cstring), mt, path))
    return mt
end

function set_activations!(mt::Matcher, point, accum::Accumulator)
    _check(ccall((:mudsc_matcher_set_activations, libmudsc), Cint, (Ptr{Cvoid}, Csize_t, Ptr{Cvoid}),
                 mt, _point_index(mt.graph, point), accum))
    return mt
end

set_activations!(mt::Matcher, point, S::AbstractMatrix{<:Real}) =
    set_activation_similarity!(mt, point, S)

"""
    set_activation_similarity!(mt, point, S)

An NC x NC activation similarity; it must be exactly symmetric (the library
checks), so its column-major bytes are the row-major matrix.
"""
function set_activation_similarity!(mt::Matcher, point, S::AbstractMatrix{<:Real})
    s = Matrix{Float64}(S)
    _check(ccall((:mudsc_matcher_set_activation_similarity, libmudsc), Cint,
                 (Ptr{Cvoid}, Csize_t, Ptr{Cdouble}, Csize_t),
                 mt, _point_index(mt.graph, point), s, length(s)))
    return mt
end

"""`run!(mt)`: run the matching (rethrows an exception of the progress callback)."""
function run!(mt::Matcher)
    mt.progress.error = nothing
    status = ccall((:mudsc_matcher_run, libmudsc), Cint, (Ptr{Cvoid},), mt)
    err = mt.progress.error
    err === nothing || throw(err)
    _check(status)
    return mt
end

"""`sweeps(mt)`: sweeps of the last run (0 for activation-only matching, -1 before any run)."""
sweeps(mt::Matcher) = Int(ccall((:mudsc_matcher_sweeps, libmudsc), Int32, (Ptr{Cvoid},), mt))

"""`best_sweep(mt)`: the sweep whose correspondences were kept (-1: the activation initialisation)."""
best_sweep(mt::Matcher) = Int(ccall((:mudsc_matcher_best_sweep, libmudsc), Int32, (Ptr{Cvoid},), mt))

"""`objectives(mt)`: the objective of each sweep of the last run."""
objectives(mt::Matcher) =
    _sized(Float64, (o, n, needed) -> ccall((:mudsc_matcher_objectives, libmudsc), Cint,
                                            (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                            o, n, needed, mt))

"""`point_result(mt, point)`: the point's `PointResult`."""
function point_result(mt::Matcher, point)
    merged = Ref{Int64}(0)
    scores = Vector{Float64}(undef, 3)
    _check(ccall((:mudsc_matcher_point_result, libmudsc), Cint,
                 (Ref{Int64}, Ptr{Cdouble}, Ptr{Cvoid}, Csize_t),
                 merged, scores, mt, _point_index(mt.graph, point)))
    return PointResult(merged[], scores[1], scores[2], scores[3])
end

# The point's C index and width C.
function _point_width(mt::Matcher, point)
    index = _point_index(mt.graph, point)
    return index, Int(_point_info(mt.graph, index).width)
end

"""
    assignment(mt, point) -> Vector{Int}

The merged unit (from 1) of every stacked unit u = (i-1)*C + c of the point.
"""
function assignment(mt::Matcher, point)
    index = _point_index(mt.graph, point)
    out = _sized(Int64, (o, n, needed) -> ccall((:mudsc_matcher_assignment, libmudsc), Cint,
                                                (Ptr{Int64}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid},
                                                 Csize_t), o, n, needed, mt, index))
    return out .+ 1
end

"""
    permutation(mt, point, model) -> Vector{Int}

Align only: entry j is the unit of `model` (from 1) matched to anchor unit j.
"""
function permutation(mt::Matcher, point, model::Integer)
    index = _point_index(mt.graph, point)
    out = _sized(Int64, (o, n, needed) -> ccall((:mudsc_matcher_permutation, libmudsc), Cint,
                                                (Ptr{Int64}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid},
                                                 Csize_t, Int32), o, n, needed, mt, index, model - 1))
    return out .+ 1
end

"""
    matrix(mt, point, model; kind=:merge) -> Matrix{Float64}

Model `model`'s C x C' merge (`:merge`) or unmerge (`:unmerge`) matrix of the
point, as a Julia C x C' matrix (copied out of the library's row-major
buffer).
"""
function matrix(mt::Matcher, point, model::Integer; kind=:merge)
    index, c = _point_width(mt, point)
    k = _choice(_MATRIX_KINDS, kind, "kind")
    out = _sized(Float64, (o, n, needed) -> ccall((:mudsc_matcher_matrix, libmudsc), Cint,
                                                  (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid},
                                                   Csize_t, Int32, Cint),
                                                  o, n, needed, mt, index, model - 1, k))
    return permutedims(reshape(out, :, c))
end

# The merge weights for a C call: C_NULL (1/N each) or one Float64 per model.
function _merge_weights(mt::Matcher, weights, fn="")
    weights === nothing && return Ptr{Cdouble}(C_NULL)
    length(weights) == length(mt.models) ||
        throw(ArgumentError("$(fn)$(length(weights)) weights for $(length(mt.models)) models"))
    return Vector{Float64}(weights)
end

function merge(mt::Matcher; weights::Union{AbstractVector{<:Real},Nothing}=nothing)
    w = _merge_weights(mt, weights)
    return _new(out -> ccall((:mudsc_matcher_merge, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cdouble}), out, mt, w), Model)
end

"""`transform(mt, model)`: model `model` (from 1) brought into the merged order, not averaged."""
transform(mt::Matcher, model::Integer) =
    _new(out -> ccall((:mudsc_matcher_transform, libmudsc), Cint, (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Int32),
                      out, mt, model - 1), Model)

"""
    merge_to_file(mt, path; weights=nothing)

The merged model of `Mudsc.merge(mt; weights)` written straight to a safetensors
file, tensor by tensor and atomically (`mudsc_matcher_merge_to_file`): the same
bytes as `save(Mudsc.merge(mt), path)`, holding about one tensor at a time.
"""
function merge_to_file(mt::Matcher, path::AbstractString;
                       weights::Union{AbstractVector{<:Real},Nothing}=nothing)
    w = _merge_weights(mt, weights)
    _check(ccall((:mudsc_matcher_merge_to_file, libmudsc), Cint,
                 (Ptr{Cvoid}, Cstring, Ptr{Cdouble}), mt, _cstr(path), w))
    return nothing
end

"""`transform_to_file(mt, path, model)`: `transform(mt, model)` (model from 1) written
straight to a safetensors file, as `merge_to_file`."""
function transform_to_file(mt::Matcher, path::AbstractString, model::Integer)
    _check(ccall((:mudsc_matcher_transform_to_file, libmudsc), Cint,
                 (Ptr{Cvoid}, Cstring, Int32), mt, _cstr(path), model - 1))
    return nothing
end

Base.show(io::IO, mt::Matcher) =
    print(io, "Mudsc.Matcher(", isopen(mt) ? "$(length(mt.models)) models" : "closed", ")")
