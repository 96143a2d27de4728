# Corrections of a merged model (correct.h): REPAIR and the least-squares correction.

struct mudsc_moments
    width::Int64
    mean::Ptr{Cdouble}
    std::Ptr{Cdouble}
end

struct mudsc_repair_options
    size::Csize_t
    min_std::Cdouble
end

"""
    repair(mt, merged, sources, merged_stats; weights=nothing, min_std=nothing) -> Model

REPAIR (correct.h, mudsc_repair): `merged` (a `Model` merged by `mt`) with
every merged unit rescaled and shifted so that its mean and standard deviation
are the weighted mean of its source units'.  `sources`: the source models'
`Stats` at the pre-activation site; `merged_stats`: one entry per point of
`mt`'s graph, `nothing` (leave the point) or a tuple `(means, stds)` of the
merged model's statistics.  `weights`: the merge weights (default 1/N);
`min_std`: merged units at or below it are only shifted (default 1e-8).
"""
function repair(mt::Matcher, merged::Model, sources::Stats, merged_stats::AbstractVector;
                weights::Union{AbstractVector{<:Real},Nothing}=nothing, min_std=nothing)
    length(merged_stats) == length(points(mt.graph)) ||
        throw(ArgumentError("$(length(merged_stats)) merged_stats for $(length(points(mt.graph))) points"))
    arrays = [s === nothing ? (Float64[], Float64[]) : (Vector{Float64}(s[1]), Vector{Float64}(s[2]))
              for s in merged_stats]
    w = weights === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(weights)
    opts = min_std === nothing ? nothing :
           Ref(mudsc_repair_options(sizeof(mudsc_repair_options), Float64(min_std)))
    GC.@preserve arrays w opts begin
        moments = [s === nothing ? mudsc_moments(0, C_NULL, C_NULL) :
                   mudsc_moments(length(a[1]), pointer(a[1]), pointer(a[2]))
                   for (s, a) in zip(merged_stats, arrays)]
        po = opts === nothing ? Ptr{mudsc_repair_options}(C_NULL) :
             Base.unsafe_convert(Ptr{mudsc_repair_options}, opts)
        return _new(out -> ccall((:mudsc_repair, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid},
                                  Ptr{mudsc_moments}, Csize_t, Ptr{Cdouble},
                                  Ptr{mudsc_repair_options}),
                                 out, mt, mt.graph, merged, sources, moments, length(moments), w,
                                 po), Model)
    end
end

"""
    repair_layer(merged, weight, bias, sources, merged_stats; weights=nothing, min_std=nothing) -> Model

REPAIR of one layer whose units correspond by index in every model
(correct.h, mudsc_repair_layer; docs/algorithm.md 17.5), such as a shared
output layer: unit j (rows of the tensors named `weight` and `bias`) brought
to the weighted mean over the models of their unit j's mean and standard
deviation.  `sources`: one tuple `(means, stds)` per model, the layer's output
statistics; `merged_stats`: the merged model's tuple on the same data.
"""
function repair_layer(merged::Model, weight::AbstractString, bias::AbstractString,
                      sources::AbstractVector, merged_stats::Tuple;
                      weights::Union{AbstractVector{<:Real},Nothing}=nothing, min_std=nothing)
    arrays = [(Vector{Float64}(s[1]), Vector{Float64}(s[2])) for s in sources]
    ma = (Vector{Float64}(merged_stats[1]), Vector{Float64}(merged_stats[2]))
    w = weights === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(weights)
    opts = min_std === nothing ? nothing :
           Ref(mudsc_repair_options(sizeof(mudsc_repair_options), Float64(min_std)))
    GC.@preserve arrays ma w opts begin
        src = [mudsc_moments(length(a[1]), pointer(a[1]), pointer(a[2])) for a in arrays]
        ms = Ref(mudsc_moments(length(ma[1]), pointer(ma[1]), pointer(ma[2])))
        po = opts === nothing ? Ptr{mudsc_repair_options}(C_NULL) :
             Base.unsafe_convert(Ptr{mudsc_repair_options}, opts)
        return _new(out -> ccall((:mudsc_repair_layer, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Cstring, Cstring, Ptr{mudsc_moments},
                                  Int32, Ref{mudsc_moments}, Ptr{Cdouble},
                                  Ptr{mudsc_repair_options}),
                                 out, merged, weight, bias, src, length(src), ms, w, po), Model)
    end
end

# ---- the least-squares correction (correct.h, docs/algorithm.md section 23) ----

struct mudsc_lsq_options
    size::Csize_t
    ridge::Cdouble
end

"""
    Lsq(mt, merged, point; weights=nothing)

The statistics of the least-squares correction of point `point` (its name)
of `mt`'s graph (mudsc_lsq_new): the point's producer layer (`X.weight`,
`X.bias`) of the merged `Model` `merged`.  `weights`: the merge weights
(default 1/N).  Feed it with `lsq_update!`, then `lsq_solve`.
"""
mutable struct Lsq <: Handle
    ptr::Ptr{Cvoid}
    keep::Any    # the matcher (its graph) the handle was made from
    Lsq(ptr::Ptr{Cvoid}, keep) = finalizer(close, new(ptr, keep))
end

function Lsq(mt::Matcher, merged::Model, point::AbstractString;
             weights::Union{AbstractVector{<:Real},Nothing}=nothing)
    w = weights === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(weights)
    GC.@preserve w begin
        return _new(out -> ccall((:mudsc_lsq_new, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Cstring,
                                  Ptr{Cdouble}),
                                 out, mt, mt.graph, merged, _cstr(point), w), Lsq, mt)
    end
end

"""
    lsq_layer(merged, weight, bias, n_models; weights=nothing) -> Lsq

The statistics of a layer whose units correspond by index in all `n_models`
models, so that no point matches them (mudsc_lsq_layer_new; a shared output
layer): unit j's target is the weighted mean of unit j of the outputs given
to `lsq_update!`.  `weight`, `bias`: the layer's tensor names in `merged`.
"""
function lsq_layer(merged::Model, weight::AbstractString, bias::AbstractString,
                   n_models::Integer; weights::Union{AbstractVector{<:Real},Nothing}=nothing)
    w = weights === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(weights)
    GC.@preserve w begin
        return _new(out -> ccall((:mudsc_lsq_layer_new, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Cstring, Cstring, Int32,
                                  Ptr{Cdouble}),
                                 out, merged, _cstr(weight), _cstr(bias), n_models, w),
                    Lsq, nothing)
    end
end

Base.close(l::Lsq) = ccall((:mudsc_lsq_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(l))

"""`rows(l)`: observations added so far (mudsc_lsq_rows)."""
rows(l::Lsq) = Int(ccall((:mudsc_lsq_rows, libmudsc), Int64, (Ptr{Cvoid},), l))

# A dense array as a C view (dimensions reversed, as Accumulator's update!).
function _lsq_view(x::Array, axis::Integer)
    n = ndims(x)
    1 <= n <= MAX_RANK || throw(ArgumentError("features of rank $(n), need 1 to $(MAX_RANK)"))
    ax = axis < 0 ? n + 1 + axis : Int(axis)
    1 <= ax <= n || throw(ArgumentError("axis $(axis) outside 1:$(n)"))
    return mudsc_features(_dtype(eltype(x), nothing), n, _shape8(reverse(size(x))),
                          Ptr{Int64}(C_NULL), n - ax, pointer(x))
end

"""
    lsq_update!(l, inputs, outputs; axis=1)

Add observations (mudsc_lsq_update): `inputs`, the merged network's inputs to
the layer (D features along Julia dimension `axis`: a (D, B) matrix is B
observations; a convolution's im2col patches), and `outputs`, a vector of
the N source models' outputs of the layer on the same inputs (C features
along `axis`, each model's own unit order).  Arrays are collected to dense
Float32/Float64 arrays if needed, read during the call only.  All or nothing.
"""
function lsq_update!(l::Lsq, inputs::AbstractArray, outputs::AbstractVector; axis::Integer=1)
    x = inputs isa Array ? inputs : collect(inputs)
    ys = [y isa Array ? y : collect(y) for y in outputs]
    GC.@preserve x ys begin
        fx = _lsq_view(x, axis)
        fy = [_lsq_view(y, axis) for y in ys]
        _check(ccall((:mudsc_lsq_update, libmudsc), Cint,
                     (Ptr{Cvoid}, Ref{mudsc_features}, Ptr{mudsc_features}, Int32),
                     l, fx, fy, length(fy)))
    end
    return l
end

"""`lsq_error(l, model)`: the mean squared error of `model`'s layer against the
targets over the observations so far (mudsc_lsq_error)."""
lsq_error(l::Lsq, model::Model) =
    _out(Float64, out -> ccall((:mudsc_lsq_error, libmudsc), Cint,
                               (Ref{Cdouble}, Ptr{Cvoid}, Ptr{Cvoid}), out, l, model))

"""
    lsq_solve(l, merged; ridge=nothing) -> Model

A new `Model`: `merged` with the point's weight and bias solved
(mudsc_lsq_solve; `ridge`: the relative ridge, default 1e-4).
"""
function lsq_solve(l::Lsq, merged::Model; ridge=nothing)
    opts = ridge === nothing ? nothing :
           Ref(mudsc_lsq_options(sizeof(mudsc_lsq_options), Float64(ridge)))
    GC.@preserve opts begin
        po = opts === nothing ? Ptr{mudsc_lsq_options}(C_NULL) :
             Base.unsafe_convert(Ptr{mudsc_lsq_options}, opts)
        return _new(out -> ccall((:mudsc_lsq_solve, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{mudsc_lsq_options}),
                                 out, l, merged, po), Model)
    end
end
