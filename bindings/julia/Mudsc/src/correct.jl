# Corrections of a merged model (correct.h): REPAIR.

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
