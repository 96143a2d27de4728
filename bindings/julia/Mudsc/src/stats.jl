# Stats: the activation statistics of a whole graph for N models, one
# Accumulator per point (include/mudsc/stats.h): updated point by point,
# merged set with set (shards of the calibration data), one safetensors file
# (docs/stats-format.md), handed to a Matcher in one call.

"""
    Stats(graph, n_models; replace_nonfinite, max_lead, threads)

One accumulator per point of `graph` for `n_models` models, all with the same
options (as `Accumulator`'s).  `stats[point]` (a name or an index from 1) is
the point's accumulator, a view owned by the set.
"""
mutable struct Stats <: Handle
    ptr::Ptr{Cvoid}
    Stats(ptr::Ptr{Cvoid}) = finalizer(close, new(ptr))
end

function Stats(graph::Graph, n_models::Integer; options...)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_stats_new, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Int32, Ref{mudsc_accum_options}),
                             out, graph, n_models, opts), Stats)
end

Base.close(s::Stats) = ccall((:mudsc_stats_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(s))

nmodels(s::Stats) = Int(ccall((:mudsc_stats_models, libmudsc), Int32, (Ptr{Cvoid},), s))

Base.length(s::Stats) = Int(ccall((:mudsc_stats_point_count, libmudsc), Csize_t, (Ptr{Cvoid},), s))

# The 0-based index of a point given by name or by a 1-based index.
_stats_index(s::Stats, point::Integer) = point - 1
_stats_index(s::Stats, point::AbstractString) =
    Int(_out(Csize_t, i -> ccall((:mudsc_stats_point_find, libmudsc), Cint,
                                 (Ref{Csize_t}, Ptr{Cvoid}, Cstring), i, s, _cstr(point))))

"""`point_names(s::Stats)`: the points, in the graph's order."""
function point_names(s::Stats)
    names = String[]
    for p in 0:length(s)-1
        name = Ref{Ptr{UInt8}}(C_NULL)
        w = Ref{Int64}(0)
        _check(ccall((:mudsc_stats_point_at, libmudsc), Cint,
                     (Ref{Ptr{UInt8}}, Ref{Int64}, Ptr{Cvoid}, Csize_t), name, w, s, p))
        push!(names, unsafe_string(name[]))
    end
    return names
end

"""`s[point]`: the point's Accumulator (a view owned by the set; it keeps the set alive)."""
function Base.getindex(s::Stats, point::Union{Integer,AbstractString})
    i = _stats_index(s, point)
    p = _out(Ptr{Cvoid}, out -> ccall((:mudsc_stats_point, libmudsc), Cint,
                                      (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t), out, s, i))
    return Accumulator(p, s)
end

"""
    update!(s::Stats, point, model, features; axis=1, dtype=nothing)

`update!` of the point's accumulator (point by name or index from 1).
"""
update!(s::Stats, point::Union{Integer,AbstractString}, model::Integer, features::AbstractArray;
        kw...) = (update!(s[point], model, features; kw...); s)

"""`merge!(dst::Stats, src::Stats)`: add src's statistics into dst, every point or none."""
function Base.merge!(dst::Stats, src::Stats)
    _check(ccall((:mudsc_stats_merge, libmudsc), Cint, (Ptr{Cvoid}, Ptr{Cvoid}), dst, src))
    return dst
end

"""`to_bytes(s::Stats)`: the set as safetensors bytes (docs/stats-format.md)."""
to_bytes(s::Stats) =
    _owned_bytes((buf, len) -> ccall((:mudsc_stats_save_buffer, libmudsc), Cint,
                                     (Ref{Ptr{Cvoid}}, Ref{Csize_t}, Ptr{Cvoid}), buf, len, s))

"""`save(s::Stats, path)`: save the set as a safetensors file, atomically."""
function save(s::Stats, path::AbstractString)
    _check(ccall((:mudsc_stats_save, libmudsc), Cint, (Ptr{Cvoid}, Cstring), s, _cstr(path)))
    return nothing
end

"""
    load_stats(path, graph; n_models=0, options...)
    load_stats(bytes::AbstractVector{UInt8}, graph; n_models=0, options...)

A set from a file or bytes, checked against `graph` and `n_models` (0: the
file's N).
"""
function load_stats(path::AbstractString, graph::Graph; n_models::Integer=0, options...)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_stats_load, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Cstring, Ptr{Cvoid}, Int32,
                              Ref{mudsc_accum_options}),
                             out, _cstr(path), graph, n_models, opts), Stats)
end

function load_stats(bytes::AbstractVector{UInt8}, graph::Graph; n_models::Integer=0, options...)
    buf = Vector{UInt8}(bytes)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_stats_load_buffer, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Ptr{Cvoid}, Int32,
                              Ref{mudsc_accum_options}),
                             out, buf, length(buf), graph, n_models, opts), Stats)
end

"""
    load_stats(bytes::AbstractVector{UInt8}, like::Stats; options...)

A set from bytes, checked against the points and N of the set `like`
(for hosts that hold a set but not its graph).
"""
function load_stats(bytes::AbstractVector{UInt8}, like::Stats; options...)
    buf = Vector{UInt8}(bytes)
    opts = _accum_options(; options...)
    return _new(out -> ccall((:mudsc_stats_load_buffer_like, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Ptr{Cvoid},
                              Ref{mudsc_accum_options}),
                             out, buf, length(buf), like, opts), Stats)
end

"""
    replace_stats!(s::Stats, bytes::AbstractVector{UInt8})

Replace every point's statistics of `s` by those of the bytes (checked
against `s`'s points and N; all or nothing).
"""
function replace_stats!(s::Stats, bytes::AbstractVector{UInt8})
    buf = Vector{UInt8}(bytes)
    _check(ccall((:mudsc_stats_replace_buffer, libmudsc), Cint,
                 (Ptr{Cvoid}, Ptr{Cvoid}, Csize_t), s, buf, length(buf)))
    return s
end

Base.show(io::IO, s::Stats) =
    print(io, "Mudsc.Stats(", isopen(s) ? "$(nmodels(s)) models, $(length(s)) points" : "closed", ")")
