# The C side: mirrors of the structs libmudsc reads or fills through a
# pointer, the handle base type and the small helpers every wrapper uses.
#
# Each mirror has the C struct's name, and its fields the C names, order and
# types (enum fields are Cint, strings Ptr{UInt8}, fixed arrays NTuple), so
# Julia lays it out as the C compiler does.  tests/check_julia_bindings.py
# compares them field by field with include/mudsc/*.h.  Mirrors are immutable
# (isbits): `Ref{T}()` is then storage the library can fill.

"""Largest tensor rank the library handles (MUDSC_MAX_RANK)."""
const MAX_RANK = 8

struct mudsc_tensor
    name::Ptr{UInt8}
    dtype::Int32
    rank::Int32
    shape::NTuple{8,Int64}
    data::Ptr{Cvoid}
    nbytes::Csize_t
end

struct mudsc_point_info
    name::Ptr{UInt8}
    width::Int64
    groups::Int64
    site_name::Ptr{UInt8}
    site_axis::Int32
    binding_count::Csize_t
end

struct mudsc_binding_info
    tensor::Ptr{UInt8}
    part::Ptr{UInt8}
    axis::Int32
    role::Int32
    flags::UInt32
    repeat::Int64
end

struct mudsc_split_info
    tensor::Ptr{UInt8}
    axis::Int32
    part_count::Csize_t
    parts::Ptr{Ptr{UInt8}}
    sizes::Ptr{Int64}
end

struct mudsc_mlp_options
    size::Csize_t
    n_hidden::Csize_t
    hidden::Ptr{Int64}
    bias::Int32
    prefix::Ptr{UInt8}
    layer_template::Ptr{UInt8}
    index_start::Int32
    index_step::Int32
    site::Int32
end

struct mudsc_resnet_options
    size::Csize_t
    n_stages::Int32
    blocks::NTuple{4,Int32}
    widths::NTuple{4,Int64}
    stem_width::Int64
    bottleneck::Int32
    norm::Int32
    norm_groups::Int64
    prefix::Ptr{UInt8}
    shortcut_conv::Ptr{UInt8}
    shortcut_norm::Ptr{UInt8}
    head::Ptr{UInt8}
    site::Int32
end

struct mudsc_vit_options
    size::Csize_t
    dim::Int64
    depth::Int32
    heads::Int32
    mlp_dim::Int64
    qkv_bias::Int32
    patch_embed::Int32
    cls_token::Int32
    pos_embed::Int32
    final_norm::Int32
    head::Int32
    prefix::Ptr{UInt8}
    block_template::Ptr{UInt8}
end

struct mudsc_llama_options
    size::Csize_t
    dim::Int64
    n_layers::Int32
    num_heads::Int32
    num_kv_heads::Int32
    head_dim::Int64
    mlp_dim::Int64
    attention_bias::Int32
    prefix::Ptr{UInt8}
    layer_template::Ptr{UInt8}
    lm_head::Ptr{UInt8}
end

struct mudsc_gpt2_options
    size::Csize_t
    dim::Int64
    n_layers::Int32
    heads::Int32
    mlp_dim::Int64
    lm_head::Int32
    prefix::Ptr{UInt8}
    block_template::Ptr{UInt8}
end

struct mudsc_average_options
    size::Csize_t
    threads::Int32
end

struct mudsc_accum_options
    size::Csize_t
    nonfinite::Int32
    max_lead::Int64
    threads::Int32
    mode::Int32
end

struct mudsc_field_options
    size::Csize_t
    rule::Int32
    steps::Int32
    nonfinite::Int32
    keep_inputs::Int32
    max_lead::Int64
    block_rows::Int64
end

struct mudsc_features
    dtype::Int32
    rank::Int32
    shape::NTuple{8,Int64}
    strides::Ptr{Int64}
    feature_axis::Int32
    data::Ptr{Cvoid}
end

struct mudsc_matcher_options
    size::Csize_t
    method::Int32
    alpha::Cdouble
    similarity::Int32
    zip_r::Cdouble
    zip_a::Cdouble
    zip_b::Cdouble
    use_groups::Int32
    max_iter::Int32
    patience::Int32
    seed::UInt64
    threads::Int32
    eps::Cdouble
    progress::Ptr{Cvoid}
    progress_user::Ptr{Cvoid}
    max_memory::Int64
    weight_precision::Int32
    cca_ridge::Cdouble
end

# A copy of the mirror `x` with the fields named in `kw` replaced (converted
# to the field types); a field given as `nothing` keeps its value.  Options
# start from the library's *_options_init() (`_defaults`).
function _with(x::T; kw...) where {T}
    for k in keys(kw)
        hasfield(T, k) || throw(ArgumentError("$(T) has no field $(k)"))
    end
    vals = ntuple(fieldcount(T)) do i
        f = fieldname(T, i)
        haskey(kw, f) && kw[f] !== nothing ? convert(fieldtype(T, i), kw[f]) : getfield(x, i)
    end
    return T(vals...)
end

# The library's defaults of the options struct T (`init(p)`, a ccall of its
# *_options_init on a Ptr{T}), with `size` = this binding's sizeof(T); `kind`
# is its mudsc_options_kind.  Why this works with a newer library, whose
# struct may be larger than T: init writes into a buffer of the library's
# size (mudsc_options_size), of which the fields T has are read.  Passed with
# T's (smaller) size, the struct is an older caller's to the library, which
# gives its newer fields their defaults (the size rule of common.h).
function _defaults(::Type{T}, kind::Integer, init) where {T}
    n = max(sizeof(T), Int(ccall((:mudsc_options_size, libmudsc), Csize_t, (Int32,), kind)))
    buf = zeros(UInt8, n)
    x = GC.@preserve buf begin
        p = Ptr{T}(pointer(buf))
        _check(init(p))
        unsafe_load(p)
    end
    return _with(x; size=sizeof(T))
end

# ---- handles ---------------------------------------------------------------

"""
Supertype of the handle types.  Each is a `mutable struct` whose field
`ptr` is the C handle (C_NULL once closed), freed by `close` or by its
finalizer.
"""
abstract type Handle end

# Passing a handle to a Ptr{Cvoid} argument of ccall passes its C pointer and
# keeps the Julia object (so the C object) alive for the call.
function Base.unsafe_convert(::Type{Ptr{Cvoid}}, h::Handle)
    p = getfield(h, :ptr)
    p == C_NULL && throw(ArgumentError("$(typeof(h)) is closed"))
    return p
end

Base.isopen(h::Handle) = getfield(h, :ptr) != C_NULL

# Mark a handle closed and return the C pointer it held, for its free
# function (which ignores NULL, so closing twice is harmless).
function _release!(h::Handle)
    p = getfield(h, :ptr)
    setfield!(h, :ptr, C_NULL)
    return p
end

# Run a constructor ccall `f(out)` that fills a `T **out`; wrap the result as
# T(ptr, extra...).  Nothing is allocated on the Julia side if it fails.
function _new(f, ::Type{T}, extra...) where {T<:Handle}
    out = Ref{Ptr{Cvoid}}(C_NULL)
    _check(f(out))
    return T(out[], extra...)
end

# The C pointers of handles, for `T *const *` arguments.  The caller keeps
# `handles` alive across the call (GC.@preserve).
_pointers(handles) = Ptr{Cvoid}[Base.unsafe_convert(Ptr{Cvoid}, h) for h in handles]

# ---- strings and buffers ---------------------------------------------------

# The result of a C array getter `f(out, capacity, needed, ...)` (the sizing
# rule of common.h): `call(out, capacity, needed)`, a ccall returning a
# status, is asked for the size first (capacity 0), then fills a new
# Vector{T} of that many elements.
function _sized(::Type{T}, call) where {T}
    n = Ref{Csize_t}(0)
    _check(call(Ptr{T}(C_NULL), 0, n))
    out = Vector{T}(undef, n[])
    isempty(out) || _check(call(out, length(out), Ptr{Csize_t}(C_NULL)))
    return out
end

# A string argument as a String (ccall passes its NUL-terminated bytes),
# refusing an embedded NUL the C side would silently cut at.
function _cstr(s::AbstractString)
    str = String(s)
    '\0' in str && throw(ArgumentError("string contains a NUL character: $(repr(str))"))
    return str
end

# Borrowed C string, `nothing` for NULL.
_str(p::Ptr{UInt8}) = p == C_NULL ? nothing : unsafe_string(p)

# The value of type T that call(ref), a ccall returning a status, writes
# through its out-parameter (an index, a count, a struct view).
function _out(::Type{T}, call) where {T}
    r = Ref{T}()
    _check(call(r))
    return r[]
end

# The bytes of a buffer the library allocates for the caller: call(buf, len)
# fills a `T **` and a `size_t *`; the bytes are copied, then released.
function _owned_bytes(call, ::Type{T}=Cvoid) where {T}
    buf = Ref{Ptr{T}}(C_NULL)
    len = Ref{Csize_t}(0)
    _check(call(buf, len))
    try
        return copy(unsafe_wrap(Vector{UInt8}, Ptr{UInt8}(buf[]), Int(len[])))
    finally
        ccall((:mudsc_free, libmudsc), Cvoid, (Ptr{Cvoid},), buf[])
    end
end

# Map a Symbol or String option to its enum value.
function _choice(table, value, what::AbstractString)
    key = Symbol(value)
    haskey(table, key) || throw(ArgumentError("$(what) must be one of $(join(keys(table), ", ")), got $(repr(value))"))
    return table[key]
end

# ---- element types ---------------------------------------------------------

# Julia element type of each mudsc_dtype.  BF16 has no Julia base type: its
# raw bits are UInt16 (reinterpret with BFloat16s.jl); F8 formats are UInt8.
const _JULIA_TYPES = Dict{Cint,DataType}(
    0 => Bool, 1 => UInt8, 2 => Int8, 3 => UInt16, 4 => Int16, 5 => UInt32, 6 => Int32,
    7 => UInt64, 8 => Int64, 9 => Float16, 10 => UInt16, 11 => Float32, 12 => Float64,
    13 => UInt8, 14 => UInt8, 15 => UInt8)

const _DTYPES = Dict{DataType,Cint}(
    Bool => 0, UInt8 => 1, Int8 => 2, UInt16 => 3, Int16 => 4, UInt32 => 5, Int32 => 6,
    UInt64 => 7, Int64 => 8, Float16 => 9, Float32 => 11, Float64 => 12)

# The dtype of an element type, or of a safetensors dtype name ("BF16").
function _dtype(::Type{T}, name) where {T}
    if name === nothing
        haskey(_DTYPES, T) || throw(ArgumentError("no mudsc dtype for element type $(T); pass dtype=\"BF16\" (or another name) for raw bits"))
        return _DTYPES[T]
    end
    code = Ref{Cint}(0)
    _check(ccall((:mudsc_dtype_from_name, libmudsc), Cint, (Ref{Cint}, Cstring),
                 code, _cstr(string(name))))
    nbytes = ccall((:mudsc_dtype_size, libmudsc), Csize_t, (Cint,), code[])
    nbytes == sizeof(T) || throw(ArgumentError("dtype $(name) has $(nbytes)-byte elements, $(T) has $(sizeof(T))"))
    return code[]
end

_dtype_name(code::Integer) =
    _str(ccall((:mudsc_dtype_name, libmudsc), Ptr{UInt8}, (Cint,), code))

# NTuple{8,Int64} of a shape, zero-padded as the C structs keep it.
_shape8(dims) = ntuple(i -> i <= length(dims) ? Int64(dims[i]) : Int64(0), MAX_RANK)
