/*
 * The experiment's settings: defaults (the README's full run), --quick
 * (the test suite's smoke run) and the command line.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_CONFIG_H
#define FMNIST_CONFIG_H

#include <stdint.h>

struct config {
	const char *data_dir, *split;
	const char *export_dir;   /* --export DIR: files for the mudsc tool, or NULL */
	uint64_t seed;
	int threads, quick;       /* threads: networks trained at once (1 or 2) */
	int32_t epochs;
	int64_t hidden, dim, batch;
	int64_t holdout, calib;   /* held-out images (for alpha), calibration images */
	int64_t train_limit;      /* most training images per task (0: all) */
	int64_t test_limit;       /* first test images scored (0: all) */
	float lr, scale;
	double alpha_step;        /* alpha grid: alpha_step, 2 alpha_step, ... < 1 */
	int site;                 /* MUDSC_SITE_POST (0, default) or MUDSC_SITE_PRE (1) */
	int repair;               /* 1 (default): also every method with REPAIR */
	int repair_output;        /* 1 (default): REPAIR also corrects the output layer */
	int lsq_output;           /* 1 (default): also the rows with REPAIR of the hidden layers
	                             and the output layer's least squares (with repair), and CCA's */
	int alpha_by;             /* what picks alpha on the held-out images: ALPHA_BY_MEAN
	                             (default, the table's measure) or ALPHA_BY_JOINT */
};

/* The held-out score that chooses MuDSC's alpha (--alpha-by). */
enum { ALPHA_BY_MEAN = 0, ALPHA_BY_JOINT = 1 };

/*
 * Fill c from the defaults, --quick and the command line.  --help prints
 * the usage and exits 0; a bad option prints it on stderr and returns -1.
 */
int config_parse(struct config *c, int argc, char **argv);

#endif /* FMNIST_CONFIG_H */
