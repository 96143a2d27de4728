# Field: ModelGiF distances of N models by their gradient fields
# (include/mudsc/field.h, docs/algorithm.md section 14), and the quadrature
# rules of the path.  Julia arrays cross with reversed dimensions: inputs and
# gradients are D x B (or D x B x S for S steps) arrays, the D input values
# along the first dimension.

const _FIELD_RULES = Dict(:gauss_legendre => 0, :riemann_left => 1, :riemann_right => 2,
                          :riemann_middle => 3, :riemann_trapezoid => 4)

_field_rule(r::Symbol) = haskey(_FIELD_RULES, r) ? _FIELD_RULES[r] :
    throw(ArgumentError("rule $(r) is not one of $(join(keys(_FIELD_RULES), ", "))"))
_field_rule(r::Integer) = Int32(r)

"""
    quadrature(rule=:gauss_legendre, steps=50) -> (nodes, weights)

The rule's nodes and weights on [0, 1] (Gauss-Legendre by Golub-Welsch, or
:riemann_left, :riemann_right, :riemann_middle, :riemann_trapezoid).
"""
function quadrature(rule=:gauss_legendre, steps::Integer=50)
    t = Vector{Float64}(undef, max(steps, 1))
    w = Vector{Float64}(undef, max(steps, 1))
    _check(ccall((:mudsc_quadrature, libmudsc), Cint,
                 (Ptr{Cdouble}, Ptr{Cdouble}, Int32, Int64), t, w, _field_rule(rule), steps))
    return t, w
end

"""
    Field(n_models, input_size; rule=:gauss_legendre, steps=50, keep_inputs=false,
          replace_nonfinite=false, max_lead, block_rows)

Field distances of `n_models` models over inputs of `input_size` values.
Open a batch with `begin!(f, inputs[, baselines])` (D x B), then give every
model's gradients at the path points step by step with
`update!(f, model, grads)` (D x B per step, or D x B x S for S steps; models
from 1).  `distances(f)` is the N x N matrix.
"""
mutable struct Field <: Handle
    ptr::Ptr{Cvoid}
    Field(ptr::Ptr{Cvoid}) = finalizer(close, new(ptr))
end

function _field_options(; rule=nothing, steps=nothing, keep_inputs=nothing,
                        replace_nonfinite=nothing, max_lead=nothing, block_rows=nothing)
    defaults = _defaults(mudsc_field_options, 5, p -> ccall((:mudsc_field_options_init, libmudsc),
                                                            Cint, (Ptr{mudsc_field_options},), p))
    return _with(defaults; rule=rule === nothing ? nothing : _field_rule(rule), steps=steps,
                 keep_inputs=keep_inputs === nothing ? nothing : Int32(keep_inputs),
                 nonfinite=replace_nonfinite === nothing ? nothing : Int32(replace_nonfinite),
                 max_lead=max_lead, block_rows=block_rows)
end

function Field(n_models::Integer, input_size::Integer; options...)
    opts = _field_options(; options...)
    return _new(out -> ccall((:mudsc_field_new, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Int32, Int64, Ref{mudsc_field_options}),
                             out, n_models, input_size, opts), Field)
end

Base.close(f::Field) = ccall((:mudsc_field_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(f))

nmodels(f::Field) = Int(ccall((:mudsc_field_models, libmudsc), Int32, (Ptr{Cvoid},), f))
"""`ninputs(f::Field)`: inputs of the closed batches (merged shards included)."""
ninputs(f::Field) = Int(ccall((:mudsc_field_inputs, libmudsc), Int64, (Ptr{Cvoid},), f))
width(f::Field) = Int(ccall((:mudsc_field_input_size, libmudsc), Int64, (Ptr{Cvoid},), f))
steps(f::Field) = Int(ccall((:mudsc_field_steps, libmudsc), Int32, (Ptr{Cvoid},), f))

"""`points(f::Field)`: (nodes, weights) of the path."""
function points(f::Field)
    k = steps(f)
    t, w = Vector{Float64}(undef, k), Vector{Float64}(undef, k)
    _check(ccall((:mudsc_field_points, libmudsc), Cint, (Ptr{Cdouble}, Ptr{Cdouble}, Ptr{Cvoid}),
                 t, w, f))
    return t, w
end

# A mudsc_features view of x (D along Julia dimension 1), valid while x and
# the strides vector are preserved.
function _field_view(x, strides_c)
    n = ndims(x)
    return mudsc_features(_dtype(eltype(x), nothing), n, _shape8(reverse(size(x))),
                          isempty(strides_c) ? Ptr{Int64}(C_NULL) : pointer(strides_c),
                          n - 1, pointer(x))
end

_field_strides(x) = x isa Array ? Int64[] : Int64[reverse(strides(x))...]

"""`begin!(f, inputs[, baselines])`: open a batch of B inputs (D x B arrays)."""
function begin!(f::Field, inputs::AbstractArray, baselines::Union{AbstractArray,Nothing}=nothing)
    x = inputs isa StridedArray ? inputs : collect(inputs)
    b = baselines === nothing || baselines isa StridedArray ? baselines : collect(baselines)
    sx = _field_strides(x)
    sb = b === nothing ? Int64[] : _field_strides(b)
    GC.@preserve x b sx sb begin
        vx = _field_view(x, sx)
        if b === nothing
            _check(ccall((:mudsc_field_begin, libmudsc), Cint,
                         (Ptr{Cvoid}, Ref{mudsc_features}, Ptr{mudsc_features}), f, vx, C_NULL))
        else
            vb = Ref(_field_view(b, sb))
            _check(ccall((:mudsc_field_begin, libmudsc), Cint,
                         (Ptr{Cvoid}, Ref{mudsc_features}, Ptr{mudsc_features}), f, vx, vb))
        end
    end
    return f
end

"""`update!(f::Field, model, gradients)`: model's (from 1) next gradients, step-major."""
function update!(f::Field, model::Integer, gradients::AbstractArray)
    g = gradients isa StridedArray ? gradients : collect(gradients)
    sg = _field_strides(g)
    GC.@preserve g sg begin
        _check(ccall((:mudsc_field_update, libmudsc), Cint, (Ptr{Cvoid}, Int32, Ref{mudsc_features}),
                     f, model - 1, _field_view(g, sg)))
    end
    return f
end

"""`merge!(dst::Field, src::Field)`: add src's sums (other inputs) into dst."""
function Base.merge!(dst::Field, src::Field)
    _check(ccall((:mudsc_field_merge, libmudsc), Cint, (Ptr{Cvoid}, Ptr{Cvoid}), dst, src))
    return dst
end

# N x N matrices from a row-major buffer: symmetric, so the layouts agree.
_field_square(v, n) = reshape(v, n, n, :)

"""`distances(f)`: the N x N ModelGiF distances."""
distances(f::Field) =
    _field_square(_sized(Float64, (o, c, needed) -> ccall((:mudsc_field_distances, libmudsc), Cint,
                                                          (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                          o, c, needed, f)), nmodels(f))[:, :, 1]

"""`step_distances(f)`: N x N x K, the mean over inputs at each step."""
step_distances(f::Field) =
    _field_square(_sized(Float64, (o, c, needed) -> ccall((:mudsc_field_step_distances, libmudsc), Cint,
                                                          (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                          o, c, needed, f)), nmodels(f))

"""`input_distances(f)`: N x N x M, the mean over steps of each input (keep_inputs only)."""
input_distances(f::Field) =
    _field_square(_sized(Float64, (o, c, needed) -> ccall((:mudsc_field_input_distances, libmudsc), Cint,
                                                          (Ptr{Cdouble}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}),
                                                          o, c, needed, f)), nmodels(f))

"""`to_bytes(f::Field)`: the sums as bytes (docs/field-format.md)."""
to_bytes(f::Field) =
    _owned_bytes((buf, len) -> ccall((:mudsc_field_save_buffer, libmudsc), Cint,
                                     (Ref{Ptr{Cvoid}}, Ref{Csize_t}, Ptr{Cvoid}), buf, len, f))

"""`save(f::Field, path)`: save atomically."""
function save(f::Field, path::AbstractString)
    _check(ccall((:mudsc_field_save, libmudsc), Cint, (Ptr{Cvoid}, Cstring), f, _cstr(path)))
    return nothing
end

"""
    load_field(path; options...)
    load_field(bytes::AbstractVector{UInt8}; options...)

A field from a file or bytes (the streaming options: replace_nonfinite,
max_lead, block_rows).
"""
function load_field(path::AbstractString; options...)
    opts = _field_options(; options...)
    return _new(out -> ccall((:mudsc_field_load, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Cstring, Ref{mudsc_field_options}),
                             out, _cstr(path), opts), Field)
end

function load_field(bytes::AbstractVector{UInt8}; options...)
    buf = Vector{UInt8}(bytes)
    opts = _field_options(; options...)
    return _new(out -> ccall((:mudsc_field_load_buffer, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Ref{mudsc_field_options}),
                             out, buf, length(buf), opts), Field)
end

Base.show(io::IO, f::Field) =
    print(io, "Mudsc.Field(", isopen(f) ? "$(nmodels(f)) models, $(ninputs(f)) inputs" : "closed", ")")
