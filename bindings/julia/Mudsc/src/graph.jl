# Graph: merge points, the tensor axes bound to them, splits, sites
# (include/mudsc/graph.h).  Points are numbered from 1 here; tensor axes are
# the C (row-major, PyTorch) axes numbered from 0, as in the graph JSON.

"""
    Graph()

A graph description: empty, or from `mlp_graph`, `resnet_graph`, `vit_graph`,
`llama_graph`, `gpt2_graph`, `graph_from_json` and `load_graph`.  Free with
`close(g)` or leave it to the garbage collector.
"""
mutable struct Graph <: Handle
    ptr::Ptr{Cvoid}
    Graph(ptr::Ptr{Cvoid}) = finalizer(close, new(ptr))
end

Graph() = _new(out -> ccall((:mudsc_graph_new, libmudsc), Cint, (Ref{Ptr{Cvoid}},), out), Graph)

Base.close(g::Graph) = ccall((:mudsc_graph_free, libmudsc), Cvoid, (Ptr{Cvoid},), _release!(g))

"""A bound axis: tensor (and part), C axis from 0, role `:out`/`:in`, ignore flag, and
repeat (entries per unit: unit u is entries u*repeat .. u*repeat+repeat-1; 1 normally)."""
struct Binding
    tensor::String
    part::Union{String,Nothing}
    axis::Int
    role::Symbol
    ignore::Bool
    repeat::Int
end
Binding(tensor, part, axis, role, ignore) = Binding(tensor, part, axis, role, ignore, 1)

"""A merge point: name, width, groups, activation site (or `nothing`), site axis, bindings,
and the offset of its units among the site's features (`set_site!`; 0 for most points)."""
struct Point
    name::String
    width::Int
    groups::Int
    site::Union{String,Nothing}
    site_axis::Int
    bindings::Vector{Binding}
    site_offset::Int
end

"""A split declaration: the fused tensor, its C axis, the names of its parts and, for a
concatenation (`add_concat!`), their sizes (`nothing` for equal parts)."""
struct Split
    tensor::String
    axis::Int
    parts::Vector{String}
    sizes::Union{Vector{Int},Nothing}
end
Split(tensor, axis, parts) = Split(tensor, axis, parts, nothing)

const _ROLES = Dict(:out => 0, :in => 1)
const _BIND_IGNORE = UInt32(1)

Base.length(g::Graph) = Int(ccall((:mudsc_graph_point_count, libmudsc), Csize_t, (Ptr{Cvoid},), g))

# The C index (from 0) of a point given by its position (from 1) or name.
function _point_index(g::Graph, point::Integer)
    1 <= point <= length(g) || throw(BoundsError(g, point))
    return Csize_t(point - 1)
end

_point_index(g::Graph, point::AbstractString) =
    _out(Csize_t, index -> ccall((:mudsc_graph_point_find, libmudsc), Cint,
                                 (Ref{Csize_t}, Ptr{Cvoid}, Cstring), index, g, _cstr(point)))

# The C description of a point (strings borrowed from g).
_point_info(g::Graph, index::Integer) =
    _out(mudsc_point_info, info -> ccall((:mudsc_graph_point_at, libmudsc), Cint,
                                         (Ref{mudsc_point_info}, Ptr{Cvoid}, Csize_t), info, g, index))

"""
    add_point!(g, name, width; groups=1) -> Int

Append a merge point; returns its position (from 1).
"""
function add_point!(g::Graph, name::AbstractString, width::Integer; groups::Integer=1)
    index = _out(Csize_t, i -> ccall((:mudsc_graph_add_point, libmudsc), Cint,
                                     (Ref{Csize_t}, Ptr{Cvoid}, Cstring, Int64, Int64),
                                     i, g, _cstr(name), width, groups))
    return Int(index) + 1
end

"""`set_site!(g, point, name, axis; offset=0)`: where the host observes the point's
activations; `offset`: the point's units are the site's features `offset .. offset + width - 1`
on that axis (a site shared by several points, e.g. a Llama v_proj)."""
function set_site!(g::Graph, point, name::AbstractString, axis::Integer; offset::Integer=0)
    index = _point_index(g, point)
    _check(ccall((:mudsc_graph_set_site, libmudsc), Cint, (Ptr{Cvoid}, Csize_t, Cstring, Int32),
                 g, index, _cstr(name), axis))
    offset == 0 || _check(ccall((:mudsc_graph_set_site_offset, libmudsc), Cint,
                                (Ptr{Cvoid}, Csize_t, Int64), g, index, offset))
    return g
end

# The offset of point `index`'s units on its site (mudsc_graph_site_offset).
function _site_offset(g::Graph, index::Integer)
    off = Ref{Int64}(0)
    _check(ccall((:mudsc_graph_site_offset, libmudsc), Cint, (Ref{Int64}, Ptr{Cvoid}, Csize_t),
                 off, g, index))
    return Int(off[])
end

"""`add_split!(g, tensor, axis, parts)`: declare a fused tensor splittable into named parts."""
function add_split!(g::Graph, tensor::AbstractString, axis::Integer, parts::AbstractVector)
    names = String[_cstr(p) for p in parts]
    GC.@preserve names begin
        ptrs = Ptr{UInt8}[pointer(s) for s in names]
        _check(ccall((:mudsc_graph_add_split, libmudsc), Cint,
                     (Ptr{Cvoid}, Cstring, Int32, Csize_t, Ptr{Ptr{UInt8}}),
                     g, _cstr(tensor), axis, length(ptrs), ptrs))
    end
    return g
end

"""`add_concat!(g, tensor, axis, parts, sizes)`: axis `axis` of `tensor` is the concatenation
of named parts of these lengths, each bound on its own (mudsc_graph_add_concat)."""
function add_concat!(g::Graph, tensor::AbstractString, axis::Integer, parts::AbstractVector,
                     sizes::AbstractVector{<:Integer})
    length(parts) == length(sizes) ||
        throw(ArgumentError("$(length(sizes)) sizes for $(length(parts)) parts"))
    names = String[_cstr(p) for p in parts]
    lengths = Int64[z for z in sizes]
    GC.@preserve names lengths begin
        ptrs = Ptr{UInt8}[pointer(s) for s in names]
        _check(ccall((:mudsc_graph_add_concat, libmudsc), Cint,
                     (Ptr{Cvoid}, Cstring, Int32, Csize_t, Ptr{Ptr{UInt8}}, Ptr{Int64}),
                     g, _cstr(tensor), axis, length(ptrs), ptrs, lengths))
    end
    return g
end

"""
    bind!(g, point, tensor, axis; role=:out, part=nothing, ignore=false, repeat=1)

Bind C axis `axis` (from 0) of `tensor` (or of its part `part`) to `point`; repeat > 1:
the axis holds each unit `repeat` times in a block (a flatten; mudsc_graph_bind_repeat).
"""
function bind!(g::Graph, point, tensor::AbstractString, axis::Integer; role=:out,
               part::Union{AbstractString,Nothing}=nothing, ignore::Bool=false,
               repeat::Integer=1)
    partarg = part === nothing ? Ptr{UInt8}(C_NULL) : _cstr(part)
    _check(ccall((:mudsc_graph_bind_repeat, libmudsc), Cint,
                 (Ptr{Cvoid}, Csize_t, Cstring, Ptr{UInt8}, Int32, Cint, UInt32, Int64),
                 g, _point_index(g, point), _cstr(tensor), partarg, axis,
                 _choice(_ROLES, role, "role"), ignore ? _BIND_IGNORE : UInt32(0), repeat))
    return g
end

"""
    permute_model(g, model; seed=0, point=nothing) -> Model

A copy of `model` with every point's units (or only `point`'s) permuted at random along the
graph (mudsc_permute_model): a correct graph keeps the network's function.
"""
function permute_model(g::Graph, model; seed::Integer=0, point=nothing)
    m = _as_model(model)
    which = point === nothing ? Int64(-1) : Int64(_point_index(g, point))
    return _new(out -> ccall((:mudsc_permute_model, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, UInt64, Int64),
                             out, g, m, seed, which), Model)
end

"""`point_permutation(g, point; seed=0)`: the permutation `permute_model` applies to `point`
(from 0: entry j is the original unit placed at j)."""
point_permutation(g::Graph, point; seed::Integer=0) =
    _sized(Int64, (o, n, needed) -> ccall((:mudsc_permute_point, libmudsc), Cint,
                                          (Ptr{Int64}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}, Csize_t,
                                           UInt64),
                                          o, n, needed, g, _point_index(g, point), seed))

function _binding(g::Graph, point::Integer, index::Integer)
    x = _out(mudsc_binding_info, b -> ccall((:mudsc_graph_binding_at, libmudsc), Cint,
                                            (Ref{mudsc_binding_info}, Ptr{Cvoid}, Csize_t, Csize_t),
                                            b, g, point, index))
    return Binding(unsafe_string(x.tensor), _str(x.part), x.axis, x.role == 0 ? :out : :in,
                   (x.flags & _BIND_IGNORE) != 0, x.repeat)
end

# Point `index` (from 0) with its bindings, copied out of the graph.
function _point(g::Graph, index::Integer)
    GC.@preserve g begin
        p = _point_info(g, index)
        bindings = Binding[_binding(g, index, j) for j in 0:Int(p.binding_count)-1]
        return Point(unsafe_string(p.name), p.width, p.groups, _str(p.site_name), p.site_axis,
                     bindings, _site_offset(g, index))
    end
end

"""`points(g)`: every merge point with its bindings, in order."""
points(g::Graph) = Point[_point(g, i) for i in 0:length(g)-1]

# Split declaration `index` (from 0), copied out of the graph.
function _split(g::Graph, index::Integer)
    GC.@preserve g begin
        x = _out(mudsc_split_info, s -> ccall((:mudsc_graph_split_at, libmudsc), Cint,
                                              (Ref{mudsc_split_info}, Ptr{Cvoid}, Csize_t), s, g, index))
        sizes = x.sizes == C_NULL ? nothing :
                Int[unsafe_load(x.sizes, k) for k in 1:Int(x.part_count)]
        return Split(unsafe_string(x.tensor), x.axis,
                     String[unsafe_string(unsafe_load(x.parts, k)) for k in 1:Int(x.part_count)],
                     sizes)
    end
end

"""`splits(g)`: the split declarations, in order."""
splits(g::Graph) =
    Split[_split(g, i) for i in 0:Int(ccall((:mudsc_graph_split_count, libmudsc), Csize_t,
                                            (Ptr{Cvoid},), g))-1]

"""`validate(g, models)`: check the graph against models; throws on the first problem."""
function validate(g::Graph, models::AbstractVector)
    ms = Model[m for m in models]
    ptrs = _pointers(ms)
    GC.@preserve ms begin
        _check(ccall((:mudsc_graph_validate, libmudsc), Cint, (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Int32),
                     g, ptrs, length(ptrs)))
    end
    return nothing
end

"""`unbound(g, model)`: names of the model's tensors bound to no point (averaged)."""
function unbound(g::Graph, model::Model)
    indices = _sized(Csize_t, (o, n, needed) -> ccall((:mudsc_graph_unbound, libmudsc), Cint,
                                                      (Ptr{Csize_t}, Csize_t, Ptr{Csize_t},
                                                       Ptr{Cvoid}, Ptr{Cvoid}),
                                                      o, n, needed, g, model))
    return GC.@preserve model String[unsafe_string(_view_at(model, i).name) for i in indices]
end

# ---- JSON ------------------------------------------------------------------

"""`graph_from_json(text)`: parse a JSON graph description (docs/graph-format.md)."""
function graph_from_json(text::AbstractString)
    s = String(text)
    return _new(out -> ccall((:mudsc_graph_from_json, libmudsc), Cint,
                             (Ref{Ptr{Cvoid}}, Ptr{UInt8}, Csize_t), out, s, sizeof(s)), Graph)
end

"""`load_graph(path)`: read a JSON graph file."""
load_graph(path::AbstractString) =
    _new(out -> ccall((:mudsc_graph_load_json, libmudsc), Cint, (Ref{Ptr{Cvoid}}, Cstring),
                      out, _cstr(path)), Graph)

"""`to_json(g)`: the canonical JSON text of the graph."""
to_json(g::Graph) =
    String(_owned_bytes((text, len) -> ccall((:mudsc_graph_to_json, libmudsc), Cint,
                                             (Ref{Ptr{UInt8}}, Ref{Csize_t}, Ptr{Cvoid}), text, len, g),
                        UInt8))

"""`save(g::Graph, path)`: write the JSON description (atomically)."""
function save(g::Graph, path::AbstractString)
    _check(ccall((:mudsc_graph_save_json, libmudsc), Cint, (Ptr{Cvoid}, Cstring), g, _cstr(path)))
    return nothing
end

# ---- ready builders --------------------------------------------------------

# The library's defaults of a builder's options (mudsc_<builder>_options_init).
_mlp_defaults() = _defaults(mudsc_mlp_options, 2, p -> ccall((:mudsc_mlp_options_init, libmudsc),
                                                             Cint, (Ptr{mudsc_mlp_options},), p))
_resnet_defaults() = _defaults(mudsc_resnet_options, 3,
                               p -> ccall((:mudsc_resnet_options_init, libmudsc), Cint,
                                          (Ptr{mudsc_resnet_options},), p))
_vit_defaults() = _defaults(mudsc_vit_options, 4, p -> ccall((:mudsc_vit_options_init, libmudsc),
                                                             Cint, (Ptr{mudsc_vit_options},), p))
_llama_defaults() = _defaults(mudsc_llama_options, 5,
                              p -> ccall((:mudsc_llama_options_init, libmudsc), Cint,
                                         (Ptr{mudsc_llama_options},), p))
_gpt2_defaults() = _defaults(mudsc_gpt2_options, 6,
                             p -> ccall((:mudsc_gpt2_options_init, libmudsc), Cint,
                                        (Ptr{mudsc_gpt2_options},), p))

# Name options given as strings: their NUL-terminated copies (kept alive by
# the caller across the ccall) and the pointers for `_with`.
_name_strings(names) = Dict{Symbol,String}(k => _cstr(v) for (k, v) in names if v !== nothing)
_name_pointers(strs) = (k => pointer(v) for (k, v) in strs)

"""
    mlp_graph(hidden; bias, prefix, layer_template, index_start, index_step, site) -> Graph

The graph of an MLP with hidden widths `hidden` (graph.h, mudsc_graph_build_mlp).
`site`: `:post` (the next layer's input, after the activation) or `:pre` (the
layer's output).  Options not given take the library's defaults
(mudsc_mlp_options_init: biases, no prefix, "layers.{i}", 0, 1, `:post`).
"""
function mlp_graph(hidden::AbstractVector{<:Integer}; bias=nothing, prefix=nothing,
                   layer_template=nothing, index_start=nothing, index_step=nothing, site=nothing)
    widths = Int64[hidden...]
    strs = _name_strings((:prefix => prefix, :layer_template => layer_template))
    site = site === nothing ? nothing : _choice(_SITES, site, "site")
    GC.@preserve widths strs begin
        opts = _with(_mlp_defaults(); n_hidden=length(widths), hidden=pointer(widths), bias=bias,
                     index_start=index_start, index_step=index_step, site=site,
                     _name_pointers(strs)...)
        return _new(out -> ccall((:mudsc_graph_build_mlp, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ref{mudsc_mlp_options}), out, opts), Graph)
    end
end

const _NORMS = Dict(:batch => 0, :group => 1)
const _SITES = Dict(:post => 0, :pre => 1)

"""
    resnet_graph(preset=nothing; width_multiplier=1, norm, norm_groups, prefix,
                 shortcut_conv, shortcut_norm, head, blocks, widths, stem_width,
                 bottleneck, site) -> Graph

The graph of a ResNet (graph.h, mudsc_graph_build_resnet), starting from the
library's defaults (mudsc_resnet_options_init: ResNet-20, CIFAR style,
BatchNorm).  `preset`: "resnet20", "resnet32", "resnet56" (CIFAR style:
shortcut.0/1, linear), "resnet18", "resnet26", "resnet50" (torchvision style:
downsample.0/1, fc), widths times `width_multiplier` (which needs a preset).
`norm`: `:batch` or `:group` (GroupNorm(norm_groups)).  `shortcut_conv`,
`shortcut_norm`, `head`: `nothing` keeps the preset's names, `head=""` means
no classifier.  `blocks`, `widths` (per stage), `stem_width`, `bottleneck`
override the preset's architecture.  `site`: `:post` (default: the stem's and
inner points' consumer inputs) or `:pre` (their norms).  Options not given keep
the library's (or the preset's) values.
"""
function resnet_graph(preset::Union{AbstractString,Nothing}=nothing; width_multiplier::Integer=1,
                      norm=nothing, norm_groups=nothing, prefix=nothing, shortcut_conv=nothing,
                      shortcut_norm=nothing, head=nothing, blocks=nothing, widths=nothing,
                      stem_width=nothing, bottleneck=nothing, site=nothing)
    preset === nothing && width_multiplier != 1 &&
        throw(ArgumentError("resnet: width_multiplier scales a preset's widths: give a preset"))
    r = Ref(_resnet_defaults())
    if preset !== nothing
        _check(ccall((:mudsc_resnet_options_preset, libmudsc), Cint,
                     (Ref{mudsc_resnet_options}, Cstring, Int64), r, _cstr(preset), width_multiplier))
    end
    fields = Dict{Symbol,Any}(:norm => norm === nothing ? nothing : _choice(_NORMS, norm, "norm"),
                              :norm_groups => norm_groups, :stem_width => stem_width,
                              :bottleneck => bottleneck,
                              :site => site === nothing ? nothing : _choice(_SITES, site, "site"))
    for (field, values) in (:blocks => blocks, :widths => widths)
        values === nothing && continue
        length(values) <= 4 || throw(ArgumentError("resnet: $(field) has more than 4 stages"))
        preset_values = getfield(r[], field)
        fields[:n_stages] = length(values)
        fields[field] = ntuple(s -> s <= length(values) ? values[s] : preset_values[s], 4)
    end
    strs = _name_strings((:prefix => prefix, :shortcut_conv => shortcut_conv,
                          :shortcut_norm => shortcut_norm, :head => head))
    GC.@preserve strs begin
        opts = _with(r[]; fields..., _name_pointers(strs)...)
        return _new(out -> ccall((:mudsc_graph_build_resnet, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ref{mudsc_resnet_options}), out, opts), Graph)
    end
end

"""
    vit_graph(dim, depth, heads, mlp_dim; qkv_bias, patch_embed, cls_token,
              pos_embed, final_norm, head, prefix, block_template) -> Graph

The graph of a ViT / pre-norm transformer encoder with timm names.  Options
not given take the library's defaults (mudsc_vit_options_init: every tensor
bound, no prefix, "blocks.{i}").
"""
function vit_graph(dim::Integer, depth::Integer, heads::Integer, mlp_dim::Integer;
                   qkv_bias=nothing, patch_embed=nothing, cls_token=nothing, pos_embed=nothing,
                   final_norm=nothing, head=nothing, prefix=nothing, block_template=nothing)
    strs = _name_strings((:prefix => prefix, :block_template => block_template))
    GC.@preserve strs begin
        opts = _with(_vit_defaults(); dim=dim, depth=depth, heads=heads, mlp_dim=mlp_dim,
                     qkv_bias=qkv_bias, patch_embed=patch_embed, cls_token=cls_token,
                     pos_embed=pos_embed, final_norm=final_norm, head=head,
                     _name_pointers(strs)...)
        return _new(out -> ccall((:mudsc_graph_build_vit, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ref{mudsc_vit_options}), out, opts), Graph)
    end
end

"""
    llama_graph(dim, n_layers, num_heads, mlp_dim; num_kv_heads, head_dim,
                tie_word_embeddings=false, attention_bias, prefix, layer_template,
                lm_head) -> Graph

The graph of a Llama-style decoder with Hugging Face names (graph.h,
mudsc_graph_build_llama): the residual stream, per layer and key/value head
the value dimensions ("<layer>.self_attn.v_head{j}"), per layer the MLP.
`num_kv_heads` not given: `num_heads`; `head_dim` not given: dim / num_heads;
`tie_word_embeddings`: no lm_head tensor.  Options not given take the
library's defaults (mudsc_llama_options_init: "model.", "layers.{i}",
"lm_head", no attention biases).
"""
function llama_graph(dim::Integer, n_layers::Integer, num_heads::Integer, mlp_dim::Integer;
                     num_kv_heads=nothing, head_dim=nothing, tie_word_embeddings::Bool=false,
                     attention_bias=nothing, prefix=nothing, layer_template=nothing,
                     lm_head=nothing)
    if tie_word_embeddings
        lm_head === nothing || isempty(lm_head) ||
            throw(ArgumentError("llama: tie_word_embeddings=true and lm_head given: a tied " *
                                "model has no lm_head tensor"))
        lm_head = ""
    end
    strs = _name_strings((:prefix => prefix, :layer_template => layer_template,
                          :lm_head => lm_head))
    GC.@preserve strs begin
        opts = _with(_llama_defaults(); dim=dim, n_layers=n_layers, num_heads=num_heads,
                     num_kv_heads=num_kv_heads === nothing ? num_heads : num_kv_heads,
                     head_dim=head_dim === nothing ? 0 : head_dim, mlp_dim=mlp_dim,
                     attention_bias=attention_bias, _name_pointers(strs)...)
        return _new(out -> ccall((:mudsc_graph_build_llama, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ref{mudsc_llama_options}), out, opts), Graph)
    end
end

"""
    gpt2_graph(dim, n_layers, heads; mlp_dim=4dim, lm_head, prefix,
               block_template) -> Graph

The graph of a GPT-2 style decoder with Hugging Face names, Conv1D layout
(graph.h, mudsc_graph_build_gpt2): the residual stream, per block the
attention (c_attn split along axis 1 into q, k, v; groups = heads) and the
MLP.  Options not given take the library's defaults (mudsc_gpt2_options_init:
no prefix, "h.{i}", no lm_head).
"""
function gpt2_graph(dim::Integer, n_layers::Integer, heads::Integer; mlp_dim=nothing,
                    lm_head=nothing, prefix=nothing, block_template=nothing)
    strs = _name_strings((:prefix => prefix, :block_template => block_template))
    GC.@preserve strs begin
        opts = _with(_gpt2_defaults(); dim=dim, n_layers=n_layers, heads=heads,
                     mlp_dim=mlp_dim === nothing ? 4 * dim : mlp_dim, lm_head=lm_head,
                     _name_pointers(strs)...)
        return _new(out -> ccall((:mudsc_graph_build_gpt2, libmudsc), Cint,
                                 (Ref{Ptr{Cvoid}}, Ref{mudsc_gpt2_options}), out, opts), Graph)
    end
end

Base.show(io::IO, g::Graph) =
    print(io, "Mudsc.Graph(", isopen(g) ? "$(length(g)) points" : "closed", ")")
