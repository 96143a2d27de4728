# Weighted averages of models in place (average.h), as the Python package's
# mudsc.average.

# The options (mudsc_average_options has no mudsc_options_kind: -1 makes
# mudsc_options_size answer 0, so the buffer is this binding's size).
function _average_options(threads)
    o = _defaults(mudsc_average_options, -1,
                  p -> ccall((:mudsc_average_options_init, libmudsc), Cint,
                             (Ptr{mudsc_average_options},), p))
    return threads === nothing ? o : _with(o; threads=Int32(threads))
end

_weights(weights, n) = weights === nothing ? Ptr{Cdouble}(C_NULL) :
    (length(weights) == n ? Vector{Float64}(weights) :
     throw(ArgumentError("$(length(weights)) weights for $n models")))

"""
`average!(dst::Model, models; weights=nothing, threads=nothing)`: write
sum_i weights[i] * models[i] into dst's tensors in place (dst not frozen, not
a mapped file; it may be one of models).  Each float element is summed in
double and rounded once; non-float tensors come from models[1].  weights:
one per model, summing to 1 (within 1e-6); `nothing` = 1/N.  Returns dst.
"""
function average!(dst::Model, models::AbstractVector{Model}; weights=nothing, threads=nothing)
    opts = _average_options(threads)
    w = _weights(weights, length(models))
    ptrs = _pointers(models)
    GC.@preserve models begin
        _check(ccall((:mudsc_average, libmudsc), Cint,
                     (Ptr{Cvoid}, Int32, Ptr{Ptr{Cvoid}}, Ptr{Cdouble},
                      Ref{mudsc_average_options}),
                     dst, length(models), ptrs, w, opts))
    end
    return dst
end

"""
`average(models; weights=nothing)`: a new Model holding the weighted average
(copies of models[1]'s tensors, then `average!` into them).
"""
function average(models::AbstractVector{Model}; weights=nothing, threads=nothing)
    isempty(models) && throw(ArgumentError("average: no models"))
    dst = Model(Pair{String,Any}[name => copy(arr) for (name, arr) in to_dict(models[1])])
    return average!(dst, models; weights=weights, threads=threads)
end

"""
`average_aligned!(dst::Model, mt::Matcher; weights=nothing)`: write the
matcher's merged model (align: every model permuted onto model 1, then
averaged) into dst in place.  The matcher must have run.  Returns dst.
"""
function average_aligned!(dst::Model, mt::Matcher; weights=nothing)
    opts = _average_options(nothing)
    w = _weights(weights, length(mt.models))
    _check(ccall((:mudsc_average_aligned, libmudsc), Cint,
                 (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cdouble}, Ref{mudsc_average_options}),
                 dst, mt, w, opts))
    return dst
end
