/*
 * Options that grow (the rule is in core/options.h): the one helper every
 * entry that takes options calls, and the one table of the options structs'
 * sizes and defaults.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "core/core.h"
#include "mudsc/experimental.h"
#include "mudsc/mudsc.h"

static const mudsc_matcher_options matcher_defaults = MUDSC_MATCHER_OPTIONS_INIT;
static const mudsc_accum_options accum_defaults = MUDSC_ACCUM_OPTIONS_INIT;
static const mudsc_mlp_options mlp_defaults = MUDSC_MLP_OPTIONS_INIT;
static const mudsc_resnet_options resnet_defaults = MUDSC_RESNET_OPTIONS_INIT;
static const mudsc_vit_options vit_defaults = MUDSC_VIT_OPTIONS_INIT;
static const mudsc_llama_options llama_defaults = MUDSC_LLAMA_OPTIONS_INIT;
static const mudsc_gpt2_options gpt2_defaults = MUDSC_GPT2_OPTIONS_INIT;
static const mudsc_match_options match_defaults = MUDSC_MATCH_OPTIONS_INIT;
static const mudsc_field_options field_defaults = MUDSC_FIELD_OPTIONS_INIT;
static const mudsc_average_options average_defaults = MUDSC_AVERAGE_OPTIONS_INIT;
static const mudsc_repair_options repair_defaults = MUDSC_REPAIR_OPTIONS_INIT;
static const mudsc_lsq_options lsq_defaults = MUDSC_LSQ_OPTIONS_INIT;

/*
 * One row per struct.  first_size is the struct's size in the release that
 * introduced it, written as MUDSC__SIZE_THROUGH(type, its last field then):
 * every struct here first shipped in 0.2.0.  A release that appends fields
 * changes nothing here (sizeof grows by itself); a struct added later gets
 * a row of its own.
 */
#define OPTIONS_ROW(type, first_last_field, defaults)                                           \
	{#type, MUDSC__SIZE_THROUGH(type, first_last_field), sizeof(type), &(defaults)}

static const struct mudsc__options_type options_types[MUDSC__OPTIONS_COUNT] = {
	[MUDSC__OPTIONS_MATCHER] = OPTIONS_ROW(mudsc_matcher_options, progress_user, matcher_defaults),
	[MUDSC__OPTIONS_ACCUM] = OPTIONS_ROW(mudsc_accum_options, threads, accum_defaults),
	[MUDSC__OPTIONS_MLP] = OPTIONS_ROW(mudsc_mlp_options, index_step, mlp_defaults),
	[MUDSC__OPTIONS_RESNET] = OPTIONS_ROW(mudsc_resnet_options, head, resnet_defaults),
	[MUDSC__OPTIONS_VIT] = OPTIONS_ROW(mudsc_vit_options, block_template, vit_defaults),
	[MUDSC__OPTIONS_LLAMA] = OPTIONS_ROW(mudsc_llama_options, lm_head, llama_defaults),
	[MUDSC__OPTIONS_GPT2] = OPTIONS_ROW(mudsc_gpt2_options, block_template, gpt2_defaults),
	[MUDSC__OPTIONS_MATCH] = OPTIONS_ROW(mudsc_match_options, b, match_defaults),
	[MUDSC__OPTIONS_FIELD] = OPTIONS_ROW(mudsc_field_options, block_rows, field_defaults),
	[MUDSC__OPTIONS_AVERAGE] = OPTIONS_ROW(mudsc_average_options, threads, average_defaults),
	[MUDSC__OPTIONS_REPAIR] = OPTIONS_ROW(mudsc_repair_options, min_std, repair_defaults),
	[MUDSC__OPTIONS_LSQ] = OPTIONS_ROW(mudsc_lsq_options, ridge, lsq_defaults),
};

/* The public kinds are the first internal ids. */
_Static_assert((int)MUDSC_OPTIONS_MATCHER == (int)MUDSC__OPTIONS_MATCHER &&
                   (int)MUDSC_OPTIONS_ACCUM == (int)MUDSC__OPTIONS_ACCUM &&
                   (int)MUDSC_OPTIONS_MLP == (int)MUDSC__OPTIONS_MLP &&
                   (int)MUDSC_OPTIONS_RESNET == (int)MUDSC__OPTIONS_RESNET &&
                   (int)MUDSC_OPTIONS_VIT == (int)MUDSC__OPTIONS_VIT &&
                   (int)MUDSC_OPTIONS_LLAMA == (int)MUDSC__OPTIONS_LLAMA &&
                   (int)MUDSC_OPTIONS_GPT2 == (int)MUDSC__OPTIONS_GPT2 &&
                   (int)MUDSC_OPTIONS_FIELD == (int)MUDSC__OPTIONS_FIELD,
               "mudsc_options_kind and mudsc__options_id disagree");

const struct mudsc__options_type *mudsc__options_type_of(enum mudsc__options_id id)
{
	return &options_types[id];
}

MUDSC_API size_t mudsc_options_size(int32_t kind)
{
	if (kind == MUDSC_OPTIONS_LSQ) /* public kinds past FIELD map to later rows */
		return options_types[MUDSC__OPTIONS_LSQ].size;
	if (kind < MUDSC_OPTIONS_MATCHER || kind > MUDSC_OPTIONS_FIELD)
		return 0;
	return options_types[kind].size;
}

mudsc_status mudsc__options_take(void *out, const void *in, const struct mudsc__options_type *t,
                                const char *fn)
{
	size_t size;

	if (in == NULL) {
		memcpy(out, t->defaults, t->size);
		return MUDSC_OK;
	}
	/* the size field is the one field every release has */
	memcpy(&size, in, sizeof size);
	if (size < t->first_size || size > t->size)
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: opts->size = %zu is not a size of %s (%zu..%zu bytes; "
		                 "initialise the options with its _init function or _INIT macro)",
		                 fn, size, t->name, t->first_size, t->size);
	/* an older caller's struct: its bytes, then the defaults of the fields
	 * its release did not have */
	memcpy(out, t->defaults, t->size);
	memcpy(out, in, size);
	memcpy(out, &t->size, sizeof t->size);
	return MUDSC_OK;
}

mudsc_status mudsc__options_read(void *out, const void *in, enum mudsc__options_id id,
                                const char *fn)
{
	return mudsc__options_take(out, in, &options_types[id], fn);
}

mudsc_status mudsc__options_init(void *opts, enum mudsc__options_id id, const char *fn)
{
	if (opts == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'opts' is NULL", fn);
	memcpy(opts, options_types[id].defaults, options_types[id].size);
	return MUDSC_OK;
}
