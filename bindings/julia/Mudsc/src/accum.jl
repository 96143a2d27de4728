# Accumulator: exact, streamed, mergeable activation statistics of one merge
# point for N models (include/mudsc/accum.h).
#
# Layout: a feature array crosses as a C view with reversed dimensions and
# strides, so nothing is copied and `axis` is a Julia dimension: with the
# default axis=1, a (C, B) matrix (Flux's features x batch) is B observations
# of C features, the same memory as NumPy's (B, C) with axis=-1.  Unit u of
# the statistics (from 1) is feature c of model i at u = (i-1)*C + c.

"""
    Accumulator(n_models, width; replace_nonfinite, max_lead, threads)
    Accumulator(bytes::AbstractVector{UInt8}; replace_nonfinite, max_lead, threads)

Statistics of `n_models` models' features of `width` each, or rebuilt from
`to_bytes` output.  Options not given take the library's defaults
(mudsc_accum_options_init): with `replace_nonfinite=true`, NaN and Inf inputs
count as 0 (the paper's code) instead of throwing; `max_lead`: how many
observations one model may run ahead; `threads`: the accumulator's thread
count (0: the process-wide setting).
"""
mutable struct Accumulator <: Handle
    ptr::Ptr{Cvoid}
    owner::Any   # nothing: the accumulator is its own; else the Stats it belongs to
    Accumulator(ptr::Ptr{Cvoid}) = finalizer(close, new(ptr, nothing))
    Accumulator(ptr::Ptr{Cvoid}, owner) = new(ptr, owner)   # a view: freed with its set
end

# mudsc_stats_mode: :full (NC x NC) or :cross (model 0 against each model: align only)
const _MODES = Dict(:full => Int32(0), :cross => Int32(1))

function _accum_options(; replace_nonfinite=nothing, max_lead=nothing, threads=nothing,
                        mode=nothing)
    defaults = _defaults(mudsc_accum_options, 1, p -> ccall((:mudsc_accum_options_init, libmudsc),
                                                            Cint, (Ptr{mudsc_accum_options},), p))
    nonfinite = replace_nonfinite === nothing ? nothing : replace_nonfinite ? 1 : 0  # _ZERO : _ERROR
    m = mode === nothing ? nothing : _MODES[Symbol(mode)]
    return _with(defaults; nonfinite=nonfinite, max_lead=max_lead, threads=threads, mode=m)
end

function Accumulator(n_models::Integer, width::Integer; options...)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_accum_new, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Int32, Int64, Ref{mudsc_accum_options}),
                             out, n_models, width, opts), Accumulator)
end

function Accumulator(bytes::AbstractVector{UInt8}; options...)
    buf = Vector{UInt8}(bytes)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_accum_deserialize, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Ref{mudsc_accum_options}),
                             out, buf, length(buf), opts), Accumulator)
end

function Base.close(a::Accumulator)
    p = _release!(a)
    a.owner === nothing && ccall((:mudsc_accum_free, libmudsc), Cvoid, (Ptr{Cvoid},), p)
    a.owner = nothing
    return nothing
end

"""`nmodels(a)`: number of models N."""
nmodels(a::Accumulator) = Int(ccall((:mudsc_accum_models, libmudsc), Int32, (Ptr{Cvoid},), a))

"""`width(a)`: width C of each model's features."""
width(a::Accumulator) = Int(ccall((:mudsc_accum_width, libmudsc), Int64, (Ptr{Cvoid},), a))

"""
    update!(a, model, features; axis=1, dtype=nothing)

Add the next observations of model `model` (from 1): `features` has the
point's width along Julia dimension `axis` (negative counts from the end);
every index of the other dimensions is one observation.  Float16, Float32
and Float64 arrays (BF16 as UInt16 bits with dtype="BF16"), any strides,
read during the call only and never copied (other array types are collected
first).  Model i's k-th observation must be the same input as model j's.
"""
function update!(a::Accumulator, model::Integer, features::AbstractArray; axis::Integer=1,
                 dtype=nothing)
    x = features isa StridedArray ? features : collect(features)
    n = ndims(x)
    1 <= n <= MAX_RANK || throw(ArgumentError("features of rank $(n), need 1 to $(MAX_RANK)"))
    ax = axis < 0 ? n + 1 + axis : Int(axis)
    1 <= ax <= n || throw(ArgumentError("axis $(axis) outside 1:$(n)"))
    code = _dtype(eltype(x), dtype)
    # a dense Array is C-contiguous once its dimensions are reversed: no strides
    strides_c = x isa Array ? Int64[] : Int64[reverse(strides(x))...]
    GC.@preserve x strides_c begin
        fv = mudsc_features(code, n, _shape8(reverse(size(x))),
                              isempty(strides_c) ? Ptr{Int64}(C_NULL) : pointer(strides_c),
                              n - ax, pointer(x))
        _check(ccall((:mudsc_accum_update, libmudsc), Cint, (Ptr{Cvoid}, Int32, Ref{mudsc_features}),
                     a, model - 1, fv))
    end
    return a
end

"""
    count(a)          observations every model has delivered
    count(a, model)   observations model `model` (from 1) has delivered
"""
Base.count(a::Accumulator, model::Union{Integer,Nothing}=nothing) =
    Int(_out(Int64, out -> ccall((:mudsc_accum_count, libmudsc), Cint, (Ref{Int64}, Ptr{Cvoid}, Int32),
                                 out, a, model === nothing ? -1 : model - 1)))

# An NC*NC vector as the NC x NC matrix.  The statistics are symmetric, so the
# library's row-major layout and Julia's column-major one agree.
_square(v::Vector{Float64}) = reshape(v, isqrt(length(v)), isqrt(length(v)))

"""`correlation(a)`: the NC x NC Pearson correlation."""
correlation(a::Accumulator) =
    _square(_sized(Float64, (o, n, needed) -> ccall((:mudsc_accum_correlation, libmudsc), Cint,
                                                    (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                    o, n, needed, a)))

"""`mode(a)`: `:full` or `:cross` (mudsc_accum_mode)."""
function mode(a::Accumulator)
    m = ccall((:mudsc_accum_mode, libmudsc), Int32, (Ptr{Cvoid},), a)
    return m == 1 ? :cross : :full
end

"""
`cross_correlation(a)`: the cross blocks of the correlation, a (C, C, N-1) array
whose `[b, a, i]` is model 0's unit `a` against model `i`'s unit `b` (the library's
row-major (N-1) x C x C layout read column-major); every mode.
"""
function cross_correlation(a::Accumulator)
    v = _sized(Float64, (o, n, needed) -> ccall((:mudsc_accum_cross_correlation, libmudsc), Cint,
                                                (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                o, n, needed, a))
    c = width(a)
    return reshape(v, c, c, length(v) ÷ (c * c))
end

"""`covariance(a)`: the NC x NC population covariance."""
covariance(a::Accumulator) =
    _square(_sized(Float64, (o, n, needed) -> ccall((:mudsc_accum_covariance, libmudsc), Cint,
                                                    (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                    o, n, needed, a)))

"""`means(a)`: the NC means (reshape to (C, N) for one column per model)."""
means(a::Accumulator) =
    _sized(Float64, (o, n, needed) -> ccall((:mudsc_accum_means, libmudsc), Cint,
                                            (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                            o, n, needed, a))

"""`stddevs(a)`: the NC population standard deviations."""
stddevs(a::Accumulator) =
    _sized(Float64, (o, n, needed) -> ccall((:mudsc_accum_stddevs, libmudsc), Cint,
                                            (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                            o, n, needed, a))

"""`merge!(a, b)`: add b's statistics (over disjoint data) into a."""
function Base.merge!(dst::Accumulator, src::Accumulator)
    _check(ccall((:mudsc_accum_merge, libmudsc), Cint, (Ptr{Cvoid}, Ptr{Cvoid}), dst, src))
    return dst
end

"""`to_bytes(a::Accumulator)`: the statistics in the versioned byte format (accum.h)."""
to_bytes(a::Accumulator) =
    _owned_bytes((buf, len) -> ccall((:mudsc_accum_serialize, libmudsc), Cint,
                                     (Ref{Ptr{Cvoid}}, Ref{Csize_t}, Ptr{Cvoid}), buf, len, a))

Base.show(io::IO, a::Accumulator) =
    print(io, "Mudsc.Accumulator(", isopen(a) ? "$(nmodels(a)) models x $(width(a))" : "closed", ")")
