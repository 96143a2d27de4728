# Alpha search and per-point alphas of a Matcher (include/mudsc/matcher.h;
# docs/algorithm.md sections 18 and 24).  Points count from 1, in graph order.

# The score callback and the first exception it threw, referenced by the
# search for as long as the C call runs.
mutable struct _Score
    f::Any
    error::Any
end

# Called by the C matcher for each candidate; non-zero cancels.  The merged
# model is borrowed for the call only, so the score function gets its own
# copy (as the Python binding); an exception must not unwind through C.
function _score_trampoline(out::Ptr{Cdouble}, merged::Ptr{Cvoid}, alpha::Cdouble,
                           user::Ptr{Cvoid})::Cint
    s = unsafe_pointer_to_objref(user)::_Score
    borrowed = Model(merged)
    try
        mine = load_model(to_bytes(borrowed); copy=true)
        unsafe_store!(out, Float64(s.f(mine, alpha)))
        return Cint(0)
    catch e
        s.error = e
        return Cint(1)
    finally
        _release!(borrowed)   # the C search frees it, not this handle's finalizer
    end
end

_score_callback() = @cfunction(_score_trampoline, Cint, (Ptr{Cdouble}, Ptr{Cvoid}, Cdouble, Ptr{Cvoid}))

# Run a search ccall `call(callback, user)`; rethrow the score function's
# exception (the C call then reports MUDSC_E_CANCELLED).
function _with_score(call, score)
    state = _Score(score, nothing)
    status = GC.@preserve state call(_score_callback(), pointer_from_objref(state))
    state.error === nothing || throw(state.error)
    _check(status)
end

"""
    search_alpha!(mt, alphas, score; weights=nothing) -> (best_alpha, scores)

Alpha search (mudsc_matcher_search_alpha): for each alpha in order, run the
matcher, merge with `weights` (default 1/N) and call `score(merged, alpha)`
-> a finite number, higher is better (`merged` is the caller's copy).  The
statistics and weight features are prepared once for every candidate.  The
matcher keeps the first best candidate's results and alpha.  An exception
thrown by `score` stops the search and is rethrown; the matcher then keeps
what it had before.
"""
function search_alpha!(mt::Matcher, alphas::AbstractVector{<:Real}, score; weights=nothing)
    a = Vector{Float64}(alphas)
    w = _merge_weights(mt, weights, "search_alpha!: ")
    best = Ref{Cdouble}(0)
    scores = Vector{Float64}(undef, max(length(a), 1))
    _with_score(score) do callback, user
        ccall((:mudsc_matcher_search_alpha, libmudsc), Cint,
              (Ref{Cdouble}, Ptr{Cdouble}, Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Ptr{Cdouble},
               Ptr{Cvoid}, Ptr{Cvoid}),
              best, scores, mt, a, length(a), w, callback, user)
    end
    return best[], scores[1:length(a)]
end

"""
    search_point_alphas!(mt, alphas, score; rounds=1, weights=nothing)
        -> (point_alphas, best_score)

Alpha search with per-point alphas (mudsc_matcher_search_point_alphas): the
global search of `search_alpha!`, then up to `rounds` coordinate rounds over
the points in graph order (each point tries every other value with the others
fixed; kept when strictly better).  `score` as for `search_alpha!` (its alpha
is the value tried at the point searched).  The matcher keeps the best
candidate's results and per-point alphas.
"""
function search_point_alphas!(mt::Matcher, alphas::AbstractVector{<:Real}, score; rounds::Integer=1,
                              weights=nothing)
    a = Vector{Float64}(alphas)
    w = _merge_weights(mt, weights, "search_point_alphas!: ")
    out = Vector{Float64}(undef, max(length(mt.graph), 1))
    best = Ref{Cdouble}(0)
    _with_score(score) do callback, user
        ccall((:mudsc_matcher_search_point_alphas, libmudsc), Cint,
              (Ptr{Cdouble}, Ref{Cdouble}, Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Int32, Ptr{Cdouble},
               Ptr{Cvoid}, Ptr{Cvoid}),
              out, best, mt, a, length(a), Int32(rounds), w, callback, user)
    end
    return out[1:length(mt.graph)], best[]
end

"""
    set_point_alphas!(mt, alphas)

Per-point alphas for the next `run!` (mudsc_matcher_set_point_alphas): one
value in [0, 1] per point in graph order, or `nothing` for the options'
alpha at every point.
"""
function set_point_alphas!(mt::Matcher, alphas::Union{AbstractVector{<:Real},Nothing})
    a = alphas === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(alphas)
    n = alphas === nothing ? 0 : length(alphas)
    _check(ccall((:mudsc_matcher_set_point_alphas, libmudsc), Cint,
                 (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t), mt, a, n))
    return mt
end

"""`point_alphas(mt)`: the alpha each point is matched with (mudsc_matcher_point_alphas)."""
point_alphas(mt::Matcher) =
    _sized(Float64, (o, n, needed) -> ccall((:mudsc_matcher_point_alphas, libmudsc), Cint,
                                            (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                            o, n, needed, mt))
