# Model: named tensors with metadata (include/mudsc/model.h).
#
# Layout: the library keeps C-order (row-major) tensors; a Julia array has the
# same bytes with its dimensions reversed.  A PyTorch Linear weight of shape
# (out, in) is therefore the Julia matrix of size (in, out); permutedims gives
# the PyTorch orientation.  Reading a tensor copies it: the data may be an
# unaligned memory map, and a Julia array cannot keep the model alive.

"""
    Model()
    Model(tensors; copy=false)

A set of named tensors.  `tensors` is a dictionary or a vector of pairs
`name => array` (use a vector or an ordered dictionary: the order is the
model's order).  Dense `Array`s are borrowed without a copy unless
`copy=true`; the model keeps them referenced, so do not modify them while
it lives.  Free with `close(m)` or leave it to the garbage collector.
"""
mutable struct Model <: Handle
    ptr::Ptr{Cvoid}
    keep::Vector{Any}   # Julia arrays the C model borrows (MUDSC_BORROW)
    Model(ptr::Ptr{Cvoid}) = finalizer(close, new(ptr, Any[]))
end

Model() = _new(out -> ccall((:mudsc_model_new, libmudsc), Cint, (Ref{Ptr{Cvoid}},), out), Model)

function Model(tensors::Union{AbstractDict,AbstractVector{<:Pair}}; copy::Bool=false)
    m = Model()
    try
        for (name, array) in tensors
            add!(m, string(name), array; copy=copy)
        end
    catch
        close(m)
        rethrow()
    end
    return m
end

function Base.close(m::Model)
    ccall((:mudsc_model_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(m))
    empty!(m.keep)   # the borrowed arrays may go once the C model is gone
    return nothing
end

"""
    add!(m, name, array; copy=false, dtype=nothing)

Add a tensor.  Its C shape is `reverse(size(array))`.  A dense `Array` is
borrowed (kept referenced by `m`) unless `copy=true`; other arrays are
collected first.  `dtype` names a safetensors dtype ("BF16") for raw bits of
the same element size; by default it follows the element type.
"""
function add!(m::Model, name::AbstractString, array::AbstractArray; copy::Bool=false,
              dtype=nothing)
    data = array isa Array ? array : collect(array)
    ndims(data) <= MAX_RANK || throw(ArgumentError("rank $(ndims(data)) > $(MAX_RANK)"))
    code = _dtype(eltype(data), dtype)
    shape = Int64[reverse(size(data))...]
    mode = copy ? Cint(0) : Cint(1)    # MUDSC_COPY, MUDSC_BORROW
    GC.@preserve data shape begin
        _check(ccall((:mudsc_model_add, libmudsc), Cint,
                     (Ptr{Cvoid}, Cstring, Cint, Int32, Ptr{Int64}, Ptr{Cvoid}, Cint),
                     m, _cstr(name), code, ndims(data), shape, data, mode))
    end
    copy || push!(m.keep, data)
    return m
end

"""`delete!(m, name)`: remove a tensor."""
function Base.delete!(m::Model, name::AbstractString)
    _check(ccall((:mudsc_model_remove, libmudsc), Cint, (Ptr{Cvoid}, Cstring), m, _cstr(name)))
    return m
end

"""
    load_model(path; mode=:map)

Load a safetensors file.  `mode=:map` (the default) memory-maps it, zero
copy: the file must not change in place while the model lives (truncating it
raises SIGBUS on the next read of a cut tensor, rewriting it in place changes
the tensors silently; replacing it by rename, as `save` does, is safe).
`mode=:read` reads the whole file into memory the model owns, for files that
may change.
"""
function load_model(path::AbstractString; mode::Symbol=:map)
    mode === :map &&
        return _new(out -> ccall((:mudsc_model_load, libmudsc), Cint, (Ref{Ptr{Cvoid}}, Cstring),
                                 out, _cstr(path)), Model)
    mode === :read || throw(ArgumentError("mode must be :map or :read, not :$(mode)"))
    return _new(out -> ccall((:mudsc_model_load_mode, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Cstring, Cint),
                             out, _cstr(path), Cint(1)), Model)   # MUDSC_LOAD_READ
end

"""
    load_model(bytes::AbstractVector{UInt8}; copy=false)

Parse safetensors bytes.  Without `copy` the tensors borrow `bytes`, which the
model keeps referenced.
"""
function load_model(bytes::AbstractVector{UInt8}; copy::Bool=false)
    buf = bytes isa Vector{UInt8} ? bytes : Vector{UInt8}(bytes)
    mode = copy ? Cint(0) : Cint(1)
    m = GC.@preserve buf _new(out -> ccall((:mudsc_model_load_buffer, libmudsc), Cint,
                                           (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Cint),
                                           out, buf, length(buf), mode), Model)
    copy || push!(m.keep, buf)
    return m
end

"""
    save(m::Model, path; metadata=nothing)

Save as safetensors (atomically).  `metadata` (a dictionary of strings) is
added to the model's metadata first, which a frozen model refuses.
"""
function save(m::Model, path::AbstractString; metadata=nothing)
    if metadata !== nothing
        for (k, v) in metadata
            _check(ccall((:mudsc_model_set_meta, libmudsc), Cint, (Ptr{Cvoid}, Cstring, Cstring),
                         m, _cstr(k), _cstr(v)))
        end
    end
    _check(ccall((:mudsc_model_save, libmudsc), Cint, (Ptr{Cvoid}, Cstring), m, _cstr(path)))
    return nothing
end

"""`to_bytes(m::Model)`: the model as safetensors bytes."""
to_bytes(m::Model) =
    _owned_bytes((buf, len) -> ccall((:mudsc_model_save_buffer, libmudsc), Cint,
                                     (Ref{Ptr{Cvoid}}, Ref{Csize_t}, Ptr{Cvoid}), buf, len, m))

Base.length(m::Model) = Int(ccall((:mudsc_model_count, libmudsc), Csize_t, (Ptr{Cvoid},), m))

# A copy of a borrowed tensor view as a Julia array with reversed dimensions.
function _array(t::mudsc_tensor)
    T = _JULIA_TYPES[t.dtype]
    dims = ntuple(i -> Int(t.shape[t.rank - i + 1]), Int(t.rank))
    a = Array{T}(undef, dims)
    sizeof(a) == t.nbytes || error("tensor $(unsafe_string(t.name)): $(t.nbytes) bytes, expected $(sizeof(a))")
    if t.nbytes > 0
        GC.@preserve a unsafe_copyto!(Ptr{UInt8}(pointer(a)), Ptr{UInt8}(t.data), Int(t.nbytes))
    end
    return a
end

# The index-th tensor view (from 0).  Borrowed from m: use it under GC.@preserve m.
_view_at(m::Model, index::Integer) =
    _out(mudsc_tensor, t -> ccall((:mudsc_model_at, libmudsc), Cint,
                                  (Ref{mudsc_tensor}, Ptr{Cvoid}, Csize_t), t, m, index))

"""`keys(m)`: the tensor names in the model's order."""
Base.keys(m::Model) = GC.@preserve m [unsafe_string(_view_at(m, i).name) for i in 0:length(m)-1]

"""`m[name]`: a copy of the tensor, dimensions reversed (see the module notes)."""
function Base.getindex(m::Model, name::AbstractString)
    GC.@preserve m begin
        t = _out(mudsc_tensor, r -> ccall((:mudsc_model_find, libmudsc), Cint,
                                          (Ref{mudsc_tensor}, Ptr{Cvoid}, Cstring),
                                          r, m, _cstr(name)))
        return _array(t)
    end
end

Base.haskey(m::Model, name::AbstractString) =
    ccall((:mudsc_model_find, libmudsc), Cint, (Ref{mudsc_tensor}, Ptr{Cvoid}, Cstring),
          Ref{mudsc_tensor}(), m, _cstr(name)) == 0

"""`to_dict(m)`: every tensor, copied, as a `Dict{String,Array}`."""
function to_dict(m::Model)
    d = Dict{String,Array}()
    GC.@preserve m begin
        for i in 0:length(m)-1
            t = _view_at(m, i)
            d[unsafe_string(t.name)] = _array(t)
        end
    end
    return d
end

"""`metadata(m)`: the safetensors metadata as a `Dict{String,String}`."""
function metadata(m::Model)
    n = ccall((:mudsc_model_meta_count, libmudsc), Csize_t, (Ptr{Cvoid},), m)
    key = Ref{Ptr{UInt8}}(C_NULL)
    value = Ref{Ptr{UInt8}}(C_NULL)
    d = Dict{String,String}()
    GC.@preserve m begin
        for i in 0:Int(n)-1
            _check(ccall((:mudsc_model_meta_at, libmudsc), Cint,
                         (Ref{Ptr{UInt8}}, Ref{Ptr{UInt8}}, Ptr{Cvoid}, Csize_t), key, value, m, i))
            d[unsafe_string(key[])] = unsafe_string(value[])
        end
    end
    return d
end

"""`metadata(m, key)`: one metadata value, or `nothing` if absent."""
metadata(m::Model, key::AbstractString) =
    GC.@preserve m _str(ccall((:mudsc_model_get_meta, libmudsc), Ptr{UInt8}, (Ptr{Cvoid}, Cstring),
                              m, _cstr(key)))

"""`freeze!(m)`: make the model immutable (matchers do it to their models)."""
function freeze!(m::Model)
    _check(ccall((:mudsc_model_freeze, libmudsc), Cint, (Ptr{Cvoid},), m))
    return m
end

isfrozen(m::Model) = ccall((:mudsc_model_is_frozen, libmudsc), Cint, (Ptr{Cvoid},), m) != 0

Base.show(io::IO, m::Model) =
    print(io, "Mudsc.Model(", isopen(m) ? "$(length(m)) tensors" : "closed", ")")
