/*
 * Shift, noise and erasing of standardised images (augment.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "augment.h"

#include <string.h>

#include "data.h"

enum { SIDE = 28, MAX_SHIFT = 2 };

static void shift(float *img, struct rng *r)
{
	float src[FMNIST_PIXELS], fill = img[0];
	int dx = (int)rng_below(r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;
	int dy = (int)rng_below(r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;

	/* the background is the image's smallest value (a black pixel) */
	for (int i = 0; i < FMNIST_PIXELS; i++)
		fill = img[i] < fill ? img[i] : fill;
	memcpy(src, img, sizeof src);
	for (int y = 0; y < SIDE; y++)
		for (int x = 0; x < SIDE; x++) {
			int sy = y - dy, sx = x - dx;
			img[y * SIDE + x] =
			    sy >= 0 && sy < SIDE && sx >= 0 && sx < SIDE ? src[sy * SIDE + sx] : fill;
		}
}

static void erase(float *img, struct rng *r)
{
	int h = 4 + (int)rng_below(r, 9), w = 4 + (int)rng_below(r, 9);
	int y0 = (int)rng_below(r, SIDE - h + 1), x0 = (int)rng_below(r, SIDE - w + 1);

	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++)
			img[y * SIDE + x] = 0.0f;
}

void augment_batch(enum augment_kind kind, float *x, int64_t rows, struct rng *r)
{
	for (int64_t i = 0; i < rows; i++) {
		float *img = x + i * FMNIST_PIXELS;
		switch (kind) {
		case AUGMENT_SHIFT:
			shift(img, r);
			break;
		case AUGMENT_NOISE:
			for (int k = 0; k < FMNIST_PIXELS; k++)
				img[k] += (float)(0.3 * rng_normal(r));
			break;
		case AUGMENT_ERASE:
			erase(img, r);
			break;
		default:
			break;
		}
	}
}

const char *augment_name(enum augment_kind kind)
{
	static const char *const names[AUGMENT_KINDS] = {"shift", "noise", "erasing"};
	return kind >= 0 && kind < AUGMENT_KINDS ? names[kind] : "none";
}
