# Mudsc.merge: one call from models and a graph to merged tensors and the
# match results, as the Python package's mudsc.merge.

"""
Result of `Mudsc.merge`, keyed by point name:
- `tensors`: the merged tensors (copies, dimensions reversed as `m[name]`)
- `model`: the merged `Model`
- `points`: the point names in graph order
- `permutations`: point => one permutation per model (align only, else `nothing`)
- `matrices`: point => one (merge, unmerge) matrix pair per model
- `scores`: point => `PointResult`
- `objectives`, `sweeps`, `best_sweep`: as the `Matcher` accessors
"""
struct MergeResult
    tensors::Dict{String,Array}
    model::Model
    points::Vector{String}
    permutations::Union{Dict{String,Vector{Vector{Int}}},Nothing}
    matrices::Dict{String,Vector{Tuple{Matrix{Float64},Matrix{Float64}}}}
    scores::Dict{String,PointResult}
    objectives::Vector{Float64}
    sweeps::Int
    best_sweep::Int
end

function merge(models::AbstractVector, graph::Graph; activations=nothing, method=nothing,
               alpha=nothing, weights=nothing, options...)
    mt = Matcher(graph, models; method=method, alpha=alpha, options...)
    try
        if activations !== nothing
            for (point, stats) in activations
                set_activations!(mt, point isa Integer ? point : string(point), stats)
            end
        end
        run!(mt)
        n = length(mt.models)
        names = GC.@preserve graph [unsafe_string(_point_info(graph, i).name) for i in 0:length(graph)-1]
        perms = mt.options.method == _METHODS[:align] ?
                Dict(p => [permutation(mt, p, i) for i in 1:n] for p in names) : nothing
        mats = Dict(p => [(matrix(mt, p, i; kind=:merge), matrix(mt, p, i; kind=:unmerge)) for i in 1:n]
                    for p in names)
        scores = Dict(p => point_result(mt, p) for p in names)
        merged = merge(mt; weights=weights)
        return MergeResult(to_dict(merged), merged, names, perms, mats, scores, objectives(mt),
                           sweeps(mt), best_sweep(mt))
    finally
        close(mt)
    end
end
