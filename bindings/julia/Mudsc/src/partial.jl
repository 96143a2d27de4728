# Partial zipping (partial.h).

"""`prefix(g, depth) -> Graph`: the graph of `g`'s first `depth` points (mudsc_graph_prefix)."""
prefix(g::Graph, depth::Integer) =
    _new(out -> ccall((:mudsc_graph_prefix, libmudsc), Cint, (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t),
                      out, g, depth), Graph)

"""
    partial_merge(mt; weights=nothing) -> Model

The trunk + heads model of a matcher that ran on a prefix graph
(mudsc_partial_merge): trunk tensors under their names, model i's head tensors
as "heads.<i-1>.<name>".
"""
function partial_merge(mt::Matcher; weights::Union{AbstractVector{<:Real},Nothing}=nothing)
    w = weights === nothing ? Ptr{Cdouble}(C_NULL) : Vector{Float64}(weights)
    return _new(out -> ccall((:mudsc_partial_merge, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cdouble}),
                             out, mt, mt.graph, w), Model)
end
