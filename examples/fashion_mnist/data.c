/*
 * Fashion-MNIST loading and index subsets.
 *
 * SPDX-License-Identifier: MIT
 */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

/* Pixel mean and standard deviation of the 60,000 training images (/255). */
#define PIXEL_MEAN 0.2860f
#define PIXEL_STD 0.3530f

static int file_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "fashion_mnist: data path too long: %s\n", dir);
		return -1;
	}
	return 0;
}

static void install_hint(const char *dir)
{
	fprintf(stderr,
	        "fashion_mnist: Fashion-MNIST not found in %s.\n"
	        "  Install it with: apt-get install dataset-fashion-mnist\n"
	        "  (files go to " FMNIST_DEFAULT_DIR "), or pass --data DIR with\n"
	        "  {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.\n",
	        dir);
}

/* 0, -1, or IDX_MISSING when a file does not exist. */
static int read_set(struct dataset *out, const char *dir, const char *prefix)
{
	char path[4096];
	struct idx img = {0}, lab = {0};
	int rc = -1;

	if (file_path(path, sizeof(path), dir, prefix) != 0)
		return -1;
	strncat(path, "-images-idx3-ubyte.gz", sizeof(path) - strlen(path) - 1);
	if ((rc = idx_read(&img, path)) != 0)
		goto done;
	rc = -1;
	if (img.rank != 3 || img.dims[1] * img.dims[2] != FMNIST_PIXELS) {
		fprintf(stderr, "fashion_mnist: %s: expected n x 28 x 28 images\n", path);
		goto done;
	}
	if (file_path(path, sizeof(path), dir, prefix) != 0)
		goto done;
	strncat(path, "-labels-idx1-ubyte.gz", sizeof(path) - strlen(path) - 1);
	if ((rc = idx_read(&lab, path)) != 0)
		goto done;
	rc = -1;
	if (lab.rank != 1 || lab.dims[0] != img.dims[0]) {
		fprintf(stderr, "fashion_mnist: %s: %lld labels for %lld images\n", path,
		        (long long)lab.count, (long long)img.dims[0]);
		goto done;
	}
	for (int64_t i = 0; i < lab.count; i++)
		if (lab.data[i] >= FMNIST_CLASSES) {
			fprintf(stderr, "fashion_mnist: %s: label %u at %lld\n", path, lab.data[i],
			        (long long)i);
			goto done;
		}
	out->x = malloc((size_t)img.count * sizeof(float));
	if (!out->x) {
		fprintf(stderr, "fashion_mnist: out of memory for %s\n", prefix);
		goto done;
	}
	for (int64_t i = 0; i < img.count; i++)
		out->x[i] = ((float)img.data[i] / 255.0f - PIXEL_MEAN) / PIXEL_STD;
	out->y = lab.data; /* hand the label bytes over */
	lab.data = NULL;
	out->n = img.dims[0];
	rc = 0;
done:
	idx_free(&img);
	idx_free(&lab);
	return rc;
}

int fmnist_load(struct dataset *train, struct dataset *test, const char *dir)
{
	int rc;

	memset(train, 0, sizeof(*train));
	memset(test, 0, sizeof(*test));
	rc = read_set(train, dir, "train");
	if (rc == 0)
		rc = read_set(test, dir, "t10k");
	if (rc == 0)
		return 0;
	dataset_free(train);
	dataset_free(test);
	if (rc == IDX_MISSING)
		install_hint(dir);
	return -1;
}

void dataset_free(struct dataset *d)
{
	free(d->x);
	free(d->y);
	memset(d, 0, sizeof(*d));
}

void dataset_gather(const struct dataset *d, const int64_t *idx, int64_t n, float *x, uint8_t *y)
{
	for (int64_t i = 0; i < n; i++) {
		memcpy(x + i * FMNIST_PIXELS, d->x + idx[i] * FMNIST_PIXELS,
		       FMNIST_PIXELS * sizeof(float));
		if (y)
			y[i] = d->y[idx[i]];
	}
}

int subset_select(struct subset *out, const struct dataset *d, int64_t lo, int64_t hi,
                  unsigned class_mask)
{
	int64_t n = 0;

	out->n = 0;
	out->idx = malloc((size_t)(hi > lo ? hi - lo : 1) * sizeof(int64_t));
	if (!out->idx) {
		fprintf(stderr, "fashion_mnist: out of memory selecting images\n");
		return -1;
	}
	for (int64_t i = lo; i < hi; i++)
		if (class_mask >> d->y[i] & 1u)
			out->idx[n++] = i;
	out->n = n;
	return 0;
}

void subset_sample(struct subset *s, int64_t k, struct rng *r)
{
	rng_shuffle(r, s->idx, s->n);
	if (k < s->n)
		s->n = k;
}

int subset_append(struct subset *a, const struct subset *b)
{
	int64_t *grown = realloc(a->idx, (size_t)(a->n + b->n + 1) * sizeof(int64_t));

	if (!grown) {
		fprintf(stderr, "fashion_mnist: out of memory joining subsets\n");
		return -1;
	}
	memcpy(grown + a->n, b->idx, (size_t)b->n * sizeof(int64_t));
	a->idx = grown;
	a->n += b->n;
	return 0;
}

void subset_free(struct subset *s)
{
	free(s->idx);
	s->idx = NULL;
	s->n = 0;
}

int dataset_take(struct dataset *out, const struct dataset *d, const struct subset *s)
{
	memset(out, 0, sizeof(*out));
	out->x = malloc((size_t)(s->n * FMNIST_PIXELS + 1) * sizeof(float));
	out->y = malloc((size_t)s->n + 1);
	if (!out->x || !out->y) {
		fprintf(stderr, "fashion_mnist: out of memory for %lld images\n", (long long)s->n);
		dataset_free(out);
		return -1;
	}
	dataset_gather(d, s->idx, s->n, out->x, out->y);
	out->n = s->n;
	return 0;
}
