/*
 * Options that grow: the one rule every options struct of the API follows,
 * and the table that records each struct's sizes and defaults.
 *
 * Every public options struct starts with `size_t size`, the size of the
 * struct as the caller compiled it.  A caller built against an older
 * release passes a smaller size: the library reads only those bytes and
 * takes its defaults for the fields that release did not have.  Accepted:
 * first_size <= size <= sizeof (today's struct); anything else is
 * MUDSC_E_INVALID naming the struct.  NULL options mean the defaults.
 *
 * For this to hold, a later release only appends fields, each starting at
 * or after the previous release's sizeof (so a released size never covers
 * part of a newer field), and never raises the struct's alignment.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORE_OPTIONS_H
#define MUDSC_CORE_OPTIONS_H

#include <stddef.h>

#include "mudsc/common.h"

/* What the rule needs to know of one options struct. */
struct mudsc__options_type {
	const char *name;     /* "mudsc_matcher_options", for messages */
	size_t first_size;    /* sizeof in the first release that had the struct */
	size_t size;          /* sizeof today */
	const void *defaults; /* today's defaults, `size` bytes, size field included */
};

/* The size of `type` in a release whose last field was `field`: the bytes
 * through that field rounded up to the struct's alignment, which is the
 * sizeof the caller's compiler gave it then.  Fields appended later do not
 * change it, so it records a release's size once and for all. */
#define MUDSC__SIZE_THROUGH(type, field)                                                        \
	((offsetof(type, field) + sizeof(((type *)0)->field) + _Alignof(type) - 1) /               \
	 _Alignof(type) * _Alignof(type))

/* The options structs of the API, indices into the table of options.c. */
enum mudsc__options_id {
	MUDSC__OPTIONS_MATCHER,
	MUDSC__OPTIONS_ACCUM,
	MUDSC__OPTIONS_MLP,
	MUDSC__OPTIONS_RESNET,
	MUDSC__OPTIONS_VIT,
	MUDSC__OPTIONS_LLAMA,
	MUDSC__OPTIONS_GPT2,
	MUDSC__OPTIONS_FIELD,
	MUDSC__OPTIONS_MATCH,
	MUDSC__OPTIONS_AVERAGE,
	MUDSC__OPTIONS_REPAIR,
	MUDSC__OPTIONS_LSQ,
	MUDSC__OPTIONS_COUNT
};

/* The table entry of id. */
const struct mudsc__options_type *mudsc__options_type_of(enum mudsc__options_id id);

/* The rule: *out (t->size bytes) receives the defaults overlaid with the
 * first in->size bytes of in (in == NULL: the defaults alone); out->size
 * becomes t->size.  in is never read past its size.  MUDSC_E_INVALID
 * naming fn and the struct for a size outside first_size..size; *out is
 * then untouched. */
mudsc_status mudsc__options_take(void *out, const void *in, const struct mudsc__options_type *t,
                                const char *fn);

/* mudsc__options_take() for the struct id. */
mudsc_status mudsc__options_read(void *out, const void *in, enum mudsc__options_id id,
                                const char *fn);

/* The body of every mudsc_*_options_init(): *opts = the defaults of id;
 * NULL is MUDSC_E_INVALID naming fn. */
mudsc_status mudsc__options_init(void *opts, enum mudsc__options_id id, const char *fn);

#endif /* MUDSC_CORE_OPTIONS_H */
