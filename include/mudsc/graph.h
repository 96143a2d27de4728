/*
 * mudsc_graph: where a network's units can be reordered.  Merge points
 * (name, width C, groups G), the tensor axes bound to each (OUT: produce
 * the units, IN: consume them), fused tensors declared splittable into
 * named parts, and per point the activation site a host observes.
 * Built by C calls, read from JSON (docs/graph-format.md) or made by the
 * ready builders (MLP, ResNet, ViT) with PyTorch/timm tensor names.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_GRAPH_H
#define MUDSC_GRAPH_H

#include "common.h"
#include "model.h"

MUDSC_BEGIN_DECLS

/**
 * Opaque graph description.  Mutable while one thread builds it; reading
 * (accessors, validation, saving) may then happen from any number of threads.
 */
typedef struct mudsc_graph mudsc_graph;

/** Role of a bound axis. */
typedef enum mudsc_role {
	MUDSC_ROLE_OUT = 0, /**< the axis produces the units (weight axis 0, bias, norm parameters) */
	MUDSC_ROLE_IN = 1   /**< the axis consumes them (next layer's weight axis 1) */
} mudsc_role;

/** Binding flag: transformed and merged, but left out of the weight-similarity
 * features (BatchNorm running statistics). */
#define MUDSC_BIND_IGNORE 1u

/** Newest version of the JSON format: the loaders read versions 1 and 2;
 * mudsc_graph_to_json() writes 1 when the graph uses nothing new (no
 * concatenation, no repeated binding), else 2 (docs/graph-format.md). */
#define MUDSC_GRAPH_FORMAT_VERSION 2

/** Create an empty graph.  Free it with mudsc_graph_free(). */
MUDSC_API mudsc_status mudsc_graph_new(mudsc_graph **out);

/** Free a graph.  NULL is a no-op. */
MUDSC_API void mudsc_graph_free(mudsc_graph *graph);

/**
 * Append a merge point.  name: non-empty and unique (MUDSC_E_EXISTS);
 * width >= 1 and groups >= 1 with width % groups == 0 (MUDSC_E_SHAPE).
 * index (may be NULL) receives the point's index, which is its order.
 */
MUDSC_API mudsc_status mudsc_graph_add_point(size_t *index, mudsc_graph *graph, const char *name,
                                             int64_t width, int64_t groups);

/**
 * Record where the host observes point's activations: a module or tensor
 * name of the host's network and the feature axis of its output (negative
 * counts from the end: -1 = last; NCHW conv features use 1).  A name
 * ending in ":input" means the first input of the module named before the
 * suffix instead of its output (docs/graph-format.md).  The library only
 * stores the name.  Replaces an earlier site.  MUDSC_E_RANGE if point is
 * past the end.
 */
MUDSC_API mudsc_status mudsc_graph_set_site(mudsc_graph *graph, size_t point, const char *name,
                                            int32_t axis);

/**
 * Say that point's units are the features offset .. offset + width - 1 of
 * its site's feature axis, not all of them: a site whose output holds
 * several points' units side by side (a Llama value projection holds every
 * key/value head's dimensions; mudsc_graph_build_llama() sets offset
 * j * head_dim for value head j).  A host observing the site passes that
 * slice of the features for this point (mudsc.torch.collect_activations
 * does).  0, the default, is the first feature; mudsc_graph_set_site()
 * resets it to 0, so call this after it.  The library stores the offset
 * and saves it with the graph; the site's width is the host's, so an
 * offset past it is the host's to refuse.  MUDSC_E_RANGE if point is past
 * the end or offset < 0; MUDSC_E_INVALID if the point has no site.
 */
MUDSC_API mudsc_status mudsc_graph_set_site_offset(mudsc_graph *graph, size_t point,
                                                   int64_t offset);

/** The site offset of point `point` (mudsc_graph_set_site_offset(); 0 when none was set or
 * the point has no site).  MUDSC_E_RANGE if point is past the end. */
MUDSC_API mudsc_status mudsc_graph_site_offset(int64_t *offset, const mudsc_graph *graph,
                                               size_t point);

/**
 * Declare the fused tensor `tensor` splittable along `axis` (>= 0) into
 * n_parts >= 2 equal contiguous parts named parts[0..n_parts-1] (distinct,
 * non-empty), e.g. qkv -> q, k, v.  A tensor is split at most once
 * (MUDSC_E_EXISTS); a split must be declared before its parts are bound;
 * the split axis may not already carry a whole-tensor binding
 * (MUDSC_E_INVALID).
 */
MUDSC_API mudsc_status mudsc_graph_add_split(mudsc_graph *graph, const char *tensor, int32_t axis,
                                             size_t n_parts, const char *const *parts);

/**
 * Declare axis `axis` (>= 0) of `tensor` a concatenation of n_parts >= 2
 * contiguous parts of lengths sizes[0..n_parts-1] (each >= 1; their sum
 * must be the axis length, checked by mudsc_graph_validate), named
 * parts[] (distinct, non-empty).  A split with unequal parts: each part is
 * bound on its own, usually to a different point, e.g. a convolution
 * whose input is torch.cat([a, b], 1) binds part "a" of its weight's axis
 * 1 IN to a's point and part "b" IN to b's point (DenseNet).  The rules
 * of mudsc_graph_add_split() apply (one split per tensor, declared before
 * its parts are bound, MUDSC_E_EXISTS / MUDSC_E_INVALID); a size < 1 is
 * MUDSC_E_SHAPE.  sizes is copied.
 */
MUDSC_API mudsc_status mudsc_graph_add_concat(mudsc_graph *graph, const char *tensor, int32_t axis,
                                              size_t n_parts, const char *const *parts,
                                              const int64_t *sizes);

/**
 * Bind axis `axis` (>= 0) of tensor `tensor` (or of its part `part`; NULL
 * for the whole tensor) to point `point` with role and flags
 * (0 or MUDSC_BIND_IGNORE).  A tensor may bind to several points on
 * different axes; an axis binds to at most one point (MUDSC_E_EXISTS).  A
 * whole-tensor binding of a split tensor applies to every part and may not
 * be on the split axis (MUDSC_E_INVALID); an unknown part is
 * MUDSC_E_NOT_FOUND.
 */
MUDSC_API mudsc_status mudsc_graph_bind(mudsc_graph *graph, size_t point, const char *tensor,
                                        const char *part, int32_t axis, mudsc_role role,
                                        uint32_t flags);

/**
 * mudsc_graph_bind() of an axis that holds each unit `repeat` times in a
 * block: the axis has width * repeat entries and unit u occupies entries
 * u*repeat .. u*repeat + repeat - 1 (the flatten of C x H x W into a
 * Linear: repeat = H*W).  Permuting, merging and transforming move such
 * blocks whole; a merged axis has width_out * repeat entries.  repeat
 * 1 is mudsc_graph_bind().  repeat < 1: MUDSC_E_SHAPE; repeat > 1 on a
 * part or on a split axis: MUDSC_E_UNSUPPORTED.  The matcher refuses a
 * tensor whose rank plus its repeated axes exceeds MUDSC_MAX_RANK.
 */
MUDSC_API mudsc_status mudsc_graph_bind_repeat(mudsc_graph *graph, size_t point,
                                               const char *tensor, const char *part, int32_t axis,
                                               mudsc_role role, uint32_t flags, int64_t repeat);

/* ---- accessors (everything returned is borrowed from the graph) ------- */

/** A merge point.  Strings are borrowed and live as long as the graph. */
typedef struct mudsc_point_info {
	const char *name;
	int64_t width;
	int64_t groups;
	const char *site_name; /**< NULL when no site was recorded */
	int32_t site_axis;     /**< meaningful when site_name is not NULL */
	size_t binding_count;
} mudsc_point_info;

/** One bound axis.  Strings are borrowed and live as long as the graph. */
typedef struct mudsc_binding_info {
	const char *tensor;
	const char *part; /**< NULL for the whole tensor */
	int32_t axis;
	int32_t role;     /**< a mudsc_role */
	uint32_t flags;
	int64_t repeat;   /**< entries per unit (1; mudsc_graph_bind_repeat()) */
} mudsc_binding_info;

/** A split declaration.  Strings are borrowed and live as long as the graph. */
typedef struct mudsc_split_info {
	const char *tensor;
	int32_t axis;
	size_t part_count;
	const char *const *parts;
	const int64_t *sizes; /**< part lengths of a concatenation (mudsc_graph_add_concat()),
	                           NULL for equal parts */
} mudsc_split_info;

/** Number of points (0 for NULL). */
MUDSC_API size_t mudsc_graph_point_count(const mudsc_graph *graph);

/** The index-th point (MUDSC_E_RANGE past the end). */
MUDSC_API mudsc_status mudsc_graph_point_at(mudsc_point_info *out, const mudsc_graph *graph,
                                            size_t index);

/** The index of the point called name (MUDSC_E_NOT_FOUND if absent). */
MUDSC_API mudsc_status mudsc_graph_point_find(size_t *index, const mudsc_graph *graph,
                                              const char *name);

/** The index-th binding of point `point`, in the order they were added (MUDSC_E_RANGE). */
MUDSC_API mudsc_status mudsc_graph_binding_at(mudsc_binding_info *out, const mudsc_graph *graph,
                                              size_t point, size_t index);

/** Number of split declarations (0 for NULL). */
MUDSC_API size_t mudsc_graph_split_count(const mudsc_graph *graph);

/** The index-th split declaration (MUDSC_E_RANGE past the end). */
MUDSC_API mudsc_status mudsc_graph_split_at(mudsc_split_info *out, const mudsc_graph *graph,
                                            size_t index);

/* ---- validation ------------------------------------------------------- */

/**
 * Check the graph against n_models >= 1 models: every bound and split
 * tensor exists (MUDSC_E_NOT_FOUND), is a float tensor
 * (MUDSC_E_UNSUPPORTED), every bound axis exists and has the point's width
 * (times the binding's repeat) and every split axis divides into its
 * parts, or is the sum of a concatenation's sizes (MUDSC_E_SHAPE).  The first
 * problem is reported, naming the model index, point, tensor, axis and
 * sizes.
 */
MUDSC_API mudsc_status mudsc_graph_validate(const mudsc_graph *graph,
                                            const mudsc_model *const *models, int32_t n_models);

/**
 * The tensors of `model` bound to no point (merged by plain averaging), as
 * indices into the model's insertion order (names via mudsc_model_at()),
 * in that order.  The sizing rule of array getters (common.h): a first
 * call with capacity 0 gives the count in *needed.
 */
MUDSC_API mudsc_status mudsc_graph_unbound(size_t *out, size_t capacity, size_t *needed,
                                           const mudsc_graph *graph, const mudsc_model *model);

/* ---- JSON (docs/graph-format.md) -------------------------------------- */

/**
 * Parse a JSON graph description of len bytes.  Malformed JSON gives
 * MUDSC_E_PARSE with the line and column; a well-formed document that
 * breaks the schema gives MUDSC_E_PARSE (or MUDSC_E_SHAPE for sizes that
 * do not fit: width, groups, axes) naming the place, e.g.
 * "points[3].bindings[1].axis".  The JSON is read strictly (UTF-8
 * checked, no duplicate keys, no "\u0000", integers within int64, at most
 * 64 levels of nesting; docs/graph-format.md) in time linear in len.
 */
MUDSC_API mudsc_status mudsc_graph_from_json(mudsc_graph **out, const char *text, size_t len);

/** mudsc_graph_from_json() on the contents of a file (MUDSC_E_IO if unreadable). */
MUDSC_API mudsc_status mudsc_graph_load_json(mudsc_graph **out, const char *path);

/**
 * The graph as JSON text (UTF-8, NUL-terminated, ends with a newline).
 * The form is canonical: loading it and writing again gives the same
 * bytes.  *out_text is owned by the caller (mudsc_free()); out_len (may
 * be NULL) receives its length without the NUL.
 */
MUDSC_API mudsc_status mudsc_graph_to_json(char **out_text, size_t *out_len,
                                           const mudsc_graph *graph);

/**
 * Write mudsc_graph_to_json() to path, atomically: nothing partial is ever
 * visible at path.  The text goes to an unnamed file in path's folder
 * (O_TMPFILE; elsewhere a hidden temporary file), which is flushed to disk
 * and then linked or renamed over path (linkat); on any error nothing is
 * left behind and path is unchanged.  A file replaced keeps its
 * permission bits; a new one gets 0666 & ~umask.  When path is a symbolic
 * link, the file it leads to is replaced and the link stays.  Same
 * scheme as mudsc_model_save() (docs/safetensors.md has the details).
 */
MUDSC_API mudsc_status mudsc_graph_save_json(const mudsc_graph *graph, const char *path);

/* ---- ready builders --------------------------------------------------- */

/**
 * Which activation site a ready builder records for the points that have
 * both (the option `site` of mudsc_mlp_options and mudsc_resnet_options).
 */
typedef enum mudsc_site_kind {
	MUDSC_SITE_POST = 0, /**< after the activation: the consuming layer's input (default) */
	MUDSC_SITE_PRE = 1   /**< before it: the producing layer's (or its norm's) output */
} mudsc_site_kind;

/** Normalisation layers of a ResNet. */
typedef enum mudsc_norm_kind {
	MUDSC_NORM_BATCH = 0, /**< BatchNorm: weight, bias, running_mean, running_var (ignored) */
	MUDSC_NORM_GROUP = 1  /**< GroupNorm(G): weight, bias; every point gets groups = G */
} mudsc_norm_kind;

/**
 * A multilayer perceptron of n_hidden + 1 Linear layers; one point per
 * hidden width.  Layer k (0-based) is named prefix + layer_template with
 * "{i}" replaced by index_start + k * index_step; tensors "<layer>.weight"
 * (and "<layer>.bias" when bias != 0).  Point k is called "<layer k>",
 * binds layer k's weight axis 0 and bias OUT and layer k+1's weight axis 1
 * IN; its site (axis -1) is, with opts->site = MUDSC_SITE_POST (the
 * default), the input of layer k+1, "<layer k+1>:input" (after the
 * activation, where the paper observes), or with MUDSC_SITE_PRE layer k's
 * module output (before the activation).  A unit-wise activation commutes
 * with permutations, so both sites are valid for matching; their
 * statistics differ (docs/graph-format.md, "Sites").
 * nn.Sequential(Linear, ReLU, Linear, ...) is layer_template "{i}",
 * index_step 2.  An MLP has at least two layers, so layer_template must
 * contain "{i}" (MUDSC_E_INVALID naming opts->layer_template otherwise:
 * the layers would share one name); bias is 0 or 1, site a
 * mudsc_site_kind.
 */
typedef struct mudsc_mlp_options {
	size_t size;            /**< sizeof(mudsc_mlp_options) as the caller compiled it */
	size_t n_hidden;        /**< number of hidden layers (>= 1) */
	const int64_t *hidden;  /**< n_hidden widths (>= 1), borrowed during the call */
	int32_t bias;           /**< 1: layers have biases (default), 0: not */
	const char *prefix;     /**< prepended to every name (default "") */
	const char *layer_template; /**< default "layers.{i}" */
	int32_t index_start;    /**< default 0 */
	int32_t index_step;     /**< default 1 */
	/* ---- fields appended after 0.2.0's first struct (see common.h) ---- */
	int32_t site;           /**< a mudsc_site_kind; default MUDSC_SITE_POST */
} mudsc_mlp_options;

#define MUDSC_MLP_OPTIONS_INIT                                                                  \
	{sizeof(mudsc_mlp_options), 0, NULL, 1, "", "layers.{i}", 0, 1, MUDSC_SITE_POST}

/** Fill *opts with the defaults (MUDSC_MLP_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_mlp_options_init(mudsc_mlp_options *opts);

/**
 * Build the graph of an MLP.  MUDSC_E_INVALID for bad options, naming the
 * field (opts->bias, opts->layer_template, ...), before anything is built.  opts may be NULL (the defaults, which name no hidden width and are
 * refused: set n_hidden and hidden).
 */
MUDSC_API mudsc_status mudsc_graph_build_mlp(mudsc_graph **out, const mudsc_mlp_options *opts);

/**
 * A ResNet of basic or bottleneck blocks (CIFAR style: conv1/bn1 stem,
 * layer1..3, "shortcut.0/1", "linear"; ImageNet style as torchvision:
 * conv1/bn1 stem, layer1..4, "downsample.0/1", "fc").  Names, with
 * {s} = stage (1-based) and {j} = block: prefix + "layer{s}.{j}.conv1",
 * ".bn1", ".conv2", ".bn2" (bottleneck also ".conv3", ".bn3"), the
 * shortcut conv and norm "layer{s}.{j}." + shortcut_conv / shortcut_norm,
 * the stem prefix + "conv1", "bn1" and the classifier prefix + head.
 * Block j of stage s has a shortcut convolution when s > 1 and j = 0
 * (stride 2) or its input width differs from its output width.
 * Points: the residual stream of each stage ("layer{s}"; the stem joins
 * stage 1's stream when layer1.0 has no shortcut, else it is point
 * "stem"), and inside each block "layer{s}.{j}.conv1" (and ".conv2" for
 * bottlenecks).  Sites (axis 1): the stream's last block output (after
 * its final activation, whatever opts->site); with opts->site =
 * MUDSC_SITE_POST (default) the stem's consumer input prefix +
 * "layer1.0:input" and each inner point's consumer input
 * "layer{s}.{j}.conv{k+1}:input", with MUDSC_SITE_PRE the stem's norm
 * "bn1" and each inner point's norm "layer{s}.{j}.bn{k}" (before the
 * activation).  opts->site is 0 or 1.
 * num_batches_tracked is left unbound (integer).
 * Checked up front (MUDSC_E_INVALID naming the field): bottleneck 0 or 1,
 * widths[s] in 1..INT64_MAX/4, with MUDSC_NORM_GROUP norm_groups >= 1
 * dividing stem_width and every widths[s] (so every point's width),
 * shortcut_conv and shortcut_norm different from each other and from a
 * block's own modules (conv1..conv3, bn1..bn3).  Names the options make
 * clash in another way are MUDSC_E_INVALID too.
 */
typedef struct mudsc_resnet_options {
	size_t size;          /**< sizeof(mudsc_resnet_options) as the caller compiled it */
	int32_t n_stages;     /**< 1..4 */
	int32_t blocks[4];    /**< blocks per stage */
	int64_t widths[4];    /**< planes per stage (block output = planes * expansion) */
	int64_t stem_width;   /**< conv1 output channels */
	int32_t bottleneck;   /**< 0: basic blocks (expansion 1), 1: bottleneck (expansion 4) */
	int32_t norm;         /**< a mudsc_norm_kind */
	int64_t norm_groups;  /**< G for MUDSC_NORM_GROUP */
	const char *prefix;   /**< prepended to every name (default "") */
	const char *shortcut_conv; /**< default "shortcut.0" */
	const char *shortcut_norm; /**< default "shortcut.1" */
	const char *head;     /**< classifier Linear (default "linear"); NULL or "": none */
	/* ---- fields appended after 0.2.0's first struct (see common.h) ---- */
	int32_t site;         /**< a mudsc_site_kind for the stem and inner points; default
	                           MUDSC_SITE_POST */
} mudsc_resnet_options;

/** ResNet-20 CIFAR style with BatchNorm. */
#define MUDSC_RESNET_OPTIONS_INIT                                                               \
	{sizeof(mudsc_resnet_options), 3, {3, 3, 3, 0}, {16, 32, 64, 0}, 16, 0, MUDSC_NORM_BATCH, 1, \
	 "", "shortcut.0", "shortcut.1", "linear", MUDSC_SITE_POST}

/** Fill *opts with the defaults (MUDSC_RESNET_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_resnet_options_init(mudsc_resnet_options *opts);

/**
 * Set the depth, widths and names of a named family member, keeping size,
 * norm, norm_groups and prefix: "resnet20", "resnet32", "resnet56" (CIFAR
 * style, widths 16, 32, 64 times width_multiplier) or "resnet18",
 * "resnet26", "resnet50" (ImageNet style as torchvision, widths 64..512
 * times width_multiplier; 26 and 50 use bottlenecks).  MUDSC_E_NOT_FOUND
 * for another name, MUDSC_E_INVALID for a multiplier < 1.
 */
MUDSC_API mudsc_status mudsc_resnet_options_preset(mudsc_resnet_options *opts, const char *name,
                                                   int64_t width_multiplier);

/** Build the graph of a ResNet (opts NULL: ResNet-20).  MUDSC_E_INVALID for bad options,
 * naming the field (see mudsc_resnet_options). */
MUDSC_API mudsc_status mudsc_graph_build_resnet(mudsc_graph **out,
                                                const mudsc_resnet_options *opts);

/**
 * A ViT / pre-norm transformer encoder with timm names: prefix +
 * "patch_embed.proj", "cls_token", "pos_embed", block_template ("{i}" =
 * block) + ".norm1", ".attn.qkv", ".attn.proj", ".norm2", ".mlp.fc1",
 * ".mlp.fc2", then "norm" and "head".  Points:
 * - "residual": the residual stream (every producer OUT: patch embedding,
 *   cls_token/pos_embed last axis, attn.proj, mlp.fc2, every LayerNorm
 *   weight/bias; every consumer IN: attn.qkv and mlp.fc1 axis 1, head);
 *   site prefix + "norm", axis -1.
 * - "<block>.attn": qkv split along axis 0 into q, k, v (and its bias);
 *   parts q, k, v OUT axis 0 and attn.proj IN axis 1, groups = heads.
 *   The heads' order must be the same for q, k and v, so the three parts
 *   share one point (within a head, q and k units must also move
 *   together).  Site: prefix + "<block>.attn.proj:input" (the input
 *   of attn.proj), axis -1.
 * - "<block>.mlp": mlp.fc1 OUT, mlp.fc2 IN; site "<block>.mlp.act", axis -1.
 * block_template needs "{i}" when depth > 1 (MUDSC_E_INVALID naming
 * opts->block_template otherwise: the blocks would share one name); with
 * depth 1 a fixed name is fine.  qkv_bias, patch_embed, cls_token,
 * pos_embed, final_norm and head are 0 or 1.
 */
typedef struct mudsc_vit_options {
	size_t size;        /**< sizeof(mudsc_vit_options) as the caller compiled it */
	int64_t dim;        /**< embedding width */
	int32_t depth;      /**< number of blocks (>= 1) */
	int32_t heads;      /**< attention heads (divides dim) */
	int64_t mlp_dim;    /**< hidden width of the blocks' MLPs */
	int32_t qkv_bias;   /**< 1: attn.qkv has a bias (default) */
	int32_t patch_embed; /**< 1: bind patch_embed.proj (weight, bias) */
	int32_t cls_token;  /**< 1: bind cls_token */
	int32_t pos_embed;  /**< 1: bind pos_embed */
	int32_t final_norm; /**< 1: bind norm */
	int32_t head;       /**< 1: bind head.weight IN */
	const char *prefix; /**< prepended to every name (default "") */
	const char *block_template; /**< default "blocks.{i}" */
} mudsc_vit_options;

/** ViT-Tiny-like defaults: dim 192, depth 12, heads 3, mlp_dim 768, everything bound. */
#define MUDSC_VIT_OPTIONS_INIT                                                                  \
	{sizeof(mudsc_vit_options), 192, 12, 3, 768, 1, 1, 1, 1, 1, 1, "", "blocks.{i}"}

/** Fill *opts with the defaults (MUDSC_VIT_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_vit_options_init(mudsc_vit_options *opts);

/** Build the graph of a ViT (opts NULL: the defaults).  MUDSC_E_INVALID for bad options,
 * naming the field. */
MUDSC_API mudsc_status mudsc_graph_build_vit(mudsc_graph **out, const mudsc_vit_options *opts);

/**
 * A Llama-style decoder transformer (Hugging Face LlamaForCausalLM names;
 * also Mistral, Qwen2 with attention_bias, and other checkpoints with the
 * same layout): prefix + "embed_tokens", layer_template ("{i}" = layer) +
 * ".self_attn.q_proj", ".k_proj", ".v_proj", ".o_proj", ".mlp.gate_proj",
 * ".up_proj", ".down_proj", ".input_layernorm", ".post_attention_layernorm"
 * (RMSNorm: weight only), then prefix + "norm" and lm_head (no prefix).
 * Names of tensors are these + ".weight" (".bias" for the attention
 * projections when attention_bias is 1).  Points, in this order:
 * - prefix + "residual", width dim: the residual stream.  embed_tokens
 *   axis 1, o_proj and down_proj axis 0 (and o_proj's bias), every
 *   RMSNorm weight OUT; q/k/v_proj, gate_proj, up_proj and lm_head axis 1
 *   IN.  Site prefix + "norm", axis -1.
 * - per layer and key/value head j (0 <= j < num_kv_heads):
 *   "<layer>.self_attn.v_head{j}", width head_dim: the dimensions of value
 *   head j.  v_proj (and its bias) is split along axis 0 into the
 *   num_kv_heads parts "h0", "h1", ... (unsplit when there is one), part j
 *   OUT axis 0; o_proj is split along axis 1 into the num_heads parts
 *   "h0", ... (one per query head), and part h IN axis 1 of the point of
 *   the key/value head it reads, j = h / (num_heads / num_kv_heads) (the
 *   grouping of Hugging Face's repeat_kv).  Site "<layer>.self_attn.v_proj",
 *   axis -1, whose features [j * head_dim, (j + 1) * head_dim) are this
 *   point's units (a host observing activations takes that slice).
 * - per layer "<layer>.mlp", width mlp_dim: gate_proj and up_proj OUT
 *   axis 0, down_proj IN axis 1 (SiLU(gate) * up is unit-wise).  Site
 *   "<layer>.mlp.down_proj:input", axis -1.
 * What is not permuted, and why (docs/graph-format.md): the query and key
 * dimensions.  Rotary embeddings rotate dimension pairs (i, i + head_dim/2)
 * of a head by angles that differ from pair to pair, so no reordering of a
 * head's query/key dimensions other than the identity keeps q . k for
 * every position; q_proj and k_proj are bound on their residual axis only.
 * The value dimensions of a head may be reordered freely (the same order
 * in v_proj's rows and o_proj's columns of every query head reading it),
 * but heads stay in place: moving whole heads (q, k, v, o together within a
 * key/value group) needs a binding whose unit is a block of rows, which
 * the graph does not have.
 * Checked up front (MUDSC_E_INVALID naming the field): dim, n_layers,
 * num_heads, num_kv_heads, mlp_dim >= 1; num_kv_heads divides num_heads;
 * head_dim >= 1, or 0 for dim / num_heads (which must then divide);
 * attention_bias 0 or 1; layer_template with "{i}" when n_layers > 1;
 * lm_head NULL or "" for tied embeddings (tie_word_embeddings: the head is
 * embed_tokens itself, already bound, and no lm_head tensor exists).
 */
typedef struct mudsc_llama_options {
	size_t size;           /**< sizeof(mudsc_llama_options) as the caller compiled it */
	int64_t dim;           /**< hidden_size */
	int32_t n_layers;      /**< num_hidden_layers (>= 1) */
	int32_t num_heads;     /**< num_attention_heads */
	int32_t num_kv_heads;  /**< num_key_value_heads (divides num_heads; = num_heads: no GQA) */
	int64_t head_dim;      /**< per-head width; 0: dim / num_heads (default) */
	int64_t mlp_dim;       /**< intermediate_size */
	int32_t attention_bias; /**< 1: q/k/v/o_proj have biases (default 0) */
	const char *prefix;    /**< prepended to the body's names (default "model.") */
	const char *layer_template; /**< default "layers.{i}" (after prefix) */
	const char *lm_head;   /**< default "lm_head"; NULL or "": tied to embed_tokens */
} mudsc_llama_options;

/** Llama-2-7B-like defaults: dim 4096, 32 layers, 32 heads (no GQA), MLP 11008, untied. */
#define MUDSC_LLAMA_OPTIONS_INIT                                                                \
	{sizeof(mudsc_llama_options), 4096, 32, 32, 32, 0, 11008, 0, "model.", "layers.{i}",      \
	 "lm_head"}

/** Fill *opts with the defaults (MUDSC_LLAMA_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_llama_options_init(mudsc_llama_options *opts);

/** Build the graph of a Llama-style decoder (opts NULL: the defaults).  MUDSC_E_INVALID
 * for bad options, naming the field (see mudsc_llama_options). */
MUDSC_API mudsc_status mudsc_graph_build_llama(mudsc_graph **out,
                                               const mudsc_llama_options *opts);

/**
 * A GPT-2 style decoder (Hugging Face GPT2Model names; Conv1D layout: every
 * weight is [in, out]): prefix + "wte", "wpe", block_template ("{i}" =
 * block) + ".ln_1", ".attn.c_attn", ".attn.c_proj", ".ln_2", ".mlp.c_fc",
 * ".mlp.c_proj", then prefix + "ln_f" and, when lm_head is 1, "lm_head"
 * (no prefix; GPT2LMHeadModel ties it to wte and safetensors files often
 * leave it out).  Points:
 * - prefix + "residual", width dim: wte and wpe axis 1, attn.c_proj and
 *   mlp.c_proj axis 1 and their biases, every LayerNorm weight and bias
 *   OUT; attn.c_attn and mlp.c_fc axis 0 and lm_head axis 1 IN.  Site
 *   prefix + "ln_f", axis -1.
 * - "<block>.attn", width dim, groups = heads: c_attn.weight is split
 *   along axis 1 (its OUT axis in Conv1D layout) and c_attn.bias along
 *   axis 0 into q, k, v; the parts OUT, attn.c_proj IN axis 0.  As in the
 *   ViT graph, one point carries q, k and v (no rotary embeddings here, so
 *   a head's q and k dimensions may move, together).  Site
 *   "<block>.attn.c_proj:input", axis -1.
 * - "<block>.mlp", width mlp_dim: mlp.c_fc axis 1 and bias OUT,
 *   mlp.c_proj axis 0 IN.  Site "<block>.mlp.c_proj:input", axis -1.
 * The causal-mask buffers of old checkpoints ("<block>.attn.bias",
 * ".attn.masked_bias") stay unbound (averaged, and equal in every model).
 * Checked up front (MUDSC_E_INVALID naming the field): dim, n_layers,
 * heads (dividing dim), mlp_dim >= 1, lm_head 0 or 1, block_template with
 * "{i}" when n_layers > 1.
 */
typedef struct mudsc_gpt2_options {
	size_t size;        /**< sizeof(mudsc_gpt2_options) as the caller compiled it */
	int64_t dim;        /**< n_embd */
	int32_t n_layers;   /**< n_layer (>= 1) */
	int32_t heads;      /**< n_head (divides dim) */
	int64_t mlp_dim;    /**< n_inner (4 * dim in GPT-2) */
	int32_t lm_head;    /**< 1: bind lm_head.weight IN axis 1 (default 0) */
	const char *prefix; /**< prepended to every name but lm_head (default ""; "transformer."
	                       for GPT2LMHeadModel state dicts) */
	const char *block_template; /**< default "h.{i}" (after prefix) */
} mudsc_gpt2_options;

/** GPT-2 small defaults: dim 768, 12 layers, 12 heads, MLP 3072, no lm_head. */
#define MUDSC_GPT2_OPTIONS_INIT {sizeof(mudsc_gpt2_options), 768, 12, 12, 3072, 0, "", "h.{i}"}

/** Fill *opts with the defaults (MUDSC_GPT2_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_gpt2_options_init(mudsc_gpt2_options *opts);

/** Build the graph of a GPT-2 style decoder (opts NULL: GPT-2 small).  MUDSC_E_INVALID for
 * bad options, naming the field (see mudsc_gpt2_options). */
MUDSC_API mudsc_status mudsc_graph_build_gpt2(mudsc_graph **out, const mudsc_gpt2_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_GRAPH_H */
