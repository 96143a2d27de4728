/*
 * The settings of `mudsc merge`: from a config file (YAML or JSON, see
 * docs/cli.md) and from flags, which override the file.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CLI_CONFIG_H
#define MUDSC_CLI_CONFIG_H

#include "cli.h"

struct merge_config {
	struct strlist models;   /* paths */
	double *weights;         /* one per model; NaN = not given */
	size_t nweights;
	struct graph_spec graph;
	struct strlist stats;    /* statistics shards */
	char *output;
	char *report;
	mudsc_matcher_options opts;
	bool alpha_given;        /* alpha set by the config or a flag */
	int32_t transform;       /* >= 0: write model `transform` brought into the merged order */
};

void merge_config_init(struct merge_config *c);
void merge_config_free(struct merge_config *c);

/* Read a config file into c (paths resolved against the file's folder).
 * 0 or the exit code, with the message printed: syntax errors name the
 * line and column, schema errors the field and its line. */
int merge_config_load(struct merge_config *c, const char *path);

/* Set one setting by its config name from text (a flag's value); where
 * names the flag in messages.  0 or the exit code. */
int merge_config_set(struct merge_config *c, const char *key, const char *value,
                     const char *where);

#endif
