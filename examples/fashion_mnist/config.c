/*
 * Command-line options.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

static void usage(FILE *to)
{
	fprintf(to,
	        "usage: fashion_mnist [--data DIR] [--split halves|even-odd|DIGITS] [--seed N]\n"
	        "                     [--epochs N] [--threads 1|2] [--site post|pre]\n"
	        "                     [--repair yes|no] [--repair-output yes|no]\n"
	        "                     [--lsq-output yes|no]\n"
	        "                     [--alpha-by mean|joint]\n"
	        "                     [--alpha-step X] [--quick] [--export DIR]\n"
	        "  --data DIR   Fashion-MNIST idx .gz files (default " FMNIST_DEFAULT_DIR ")\n"
	        "  --split S    task A's classes: halves (0-4, default), even-odd, or five digits\n"
	        "  --seed N     networks use seeds 2N and 2N+1, the sampling N (default 0)\n"
	        "  --epochs N   training epochs per network (default 3)\n"
	        "  --threads N  networks trained at once, 1 or 2 (default 2); the BLAS runs on\n"
	        "               one thread either way, so N does not change the table\n"
	        "  --site S     where the matching statistics are observed: post (after the\n"
	        "               ReLU, the MLP builder's default) or pre (the Linear's output)\n"
	        "  --repair R   yes (default): also every matching method with REPAIR\n"
	        "  --repair-output R  yes (default): REPAIR also corrects the output layer,\n"
	        "               whose units both networks share (mudsc_repair_layer); no: the\n"
	        "               hidden layers only (the job's REPAIR until 2026-12-02)\n"
	        "  --lsq-output L  yes (default, with --repair yes): also every method with\n"
	        "               REPAIR of the hidden layers and the output layer re-solved by\n"
	        "               least squares towards the two networks' mean unit-normalised\n"
	        "               output (mudsc_lsq_layer_new; its ridge chosen on the held-out\n"
	        "               images, 1e-6..1e-1), and CCA merging with it\n"
	        "  --alpha-by M what chooses MuDSC's alpha on the held-out training images:\n"
	        "               mean (default: mean per-task accuracy, the table's measure)\n"
	        "               or joint (10-class accuracy, the criterion until 2026-12-01)\n"
	        "  --alpha-step X  the alpha grid X, 2X, ... < 1 (default 0.1; 0.02-0.5)\n"
	        "  --quick      a small, fast run (the test suite's smoke test)\n"
	        "  --export DIR write the two networks, their graph, the calibration statistics,\n"
	        "               a config for `mudsc merge` (MuDSC align at the chosen alpha) and\n"
	        "               the example's own merge with those settings into DIR\n");
}

static void config_defaults(struct config *c)
{
	*c = (struct config){
		.data_dir = FMNIST_DEFAULT_DIR, .split = "halves", .seed = 0, .threads = 2,
		.epochs = 3, .hidden = 512, .dim = 128, .batch = 128, .holdout = 5000,
		.calib = 1000, .lr = 1e-3f, .scale = 16.0f, .alpha_step = 0.1, .site = 0, .repair = 1,
		.repair_output = 1, .lsq_output = 1,
	};
}

/* --quick: small widths and sets so the whole program runs in seconds. */
static void config_quick(struct config *c)
{
	c->quick = 1;
	c->epochs = 1;
	c->hidden = 64;
	c->dim = 32;
	c->holdout = 1000;
	c->calib = 200;
	c->train_limit = 2000;
	c->test_limit = 2000;
	c->alpha_step = 0.25;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A grid step in [0.02, 0.5] (at most 49 alphas); -1 if malformed. */
/* "yes" or "no" into *out (1 or 0); -1 for anything else. */
static int parse_yes_no(const char *s, int *out)
{
	if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0)
		return -1;
	*out = strcmp(s, "yes") == 0;
	return 0;
}

static int parse_step(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (!*s || *end || !(v >= 0.02 && v <= 0.5))
		return -1;
	*out = v;
	return 0;
}

/* Apply option a with value val (may be NULL); -1 if unknown or malformed. */
static int apply_option(struct config *c, const char *a, const char *val)
{
	long long v;

	if (!val)
		return -1;
	if (strcmp(a, "--data") == 0)
		c->data_dir = val;
	else if (strcmp(a, "--export") == 0)
		c->export_dir = val;
	else if (strcmp(a, "--split") == 0)
		c->split = val;
	else if (strcmp(a, "--seed") == 0 && parse_int(val, 0, INT32_MAX, &v) == 0)
		c->seed = (uint64_t)v;
	else if (strcmp(a, "--epochs") == 0 && parse_int(val, 1, 1000, &v) == 0)
		c->epochs = (int32_t)v;
	else if (strcmp(a, "--threads") == 0 && parse_int(val, 1, 2, &v) == 0)
		c->threads = (int)v;
	else if (strcmp(a, "--site") == 0 && (strcmp(val, "post") == 0 || strcmp(val, "pre") == 0))
		c->site = strcmp(val, "pre") == 0;
	else if (strcmp(a, "--alpha-by") == 0 &&
	         (strcmp(val, "mean") == 0 || strcmp(val, "joint") == 0))
		c->alpha_by = strcmp(val, "joint") == 0 ? ALPHA_BY_JOINT : ALPHA_BY_MEAN;
	else if (strcmp(a, "--alpha-step") == 0) {
		if (parse_step(val, &c->alpha_step) != 0)
			return -1;
	}
	else if (strcmp(a, "--repair") == 0)
		return parse_yes_no(val, &c->repair);
	else if (strcmp(a, "--repair-output") == 0)
		return parse_yes_no(val, &c->repair_output);
	else if (strcmp(a, "--lsq-output") == 0)
		return parse_yes_no(val, &c->lsq_output);
	else
		return -1;
	return 0;
}

int config_parse(struct config *c, int argc, char **argv)
{
	config_defaults(c);
	/* --quick first, so explicit options given with it still apply */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			config_quick(c);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			continue;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(EXIT_SUCCESS);
		}
		if (apply_option(c, argv[i], i + 1 < argc ? argv[i + 1] : NULL) != 0) {
			fprintf(stderr, "fashion_mnist: bad option or value: %s %s\n", argv[i],
			        i + 1 < argc ? argv[i + 1] : "(missing)");
			usage(stderr);
			return -1;
		}
		i++;
	}
	return 0;
}
