/*
 * Reading IDX files (the MNIST format), gzip-compressed, with zlib.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_IDX_H
#define FMNIST_IDX_H

#include <stdint.h>

#define IDX_MAX_RANK 4

/* An unsigned-byte IDX array. */
struct idx {
	uint8_t *data;                /* malloc'ed, count bytes */
	int32_t rank;
	int64_t dims[IDX_MAX_RANK];
	int64_t count;                /* product of dims */
};

/* idx_read()'s result when the file does not exist */
#define IDX_MISSING (-2)

/*
 * Read path (gzip or plain: zlib reads both).  Only the unsigned-byte
 * type (0x08) is accepted.  On failure prints why on stderr, leaves *out
 * empty and returns IDX_MISSING (no such file) or -1; on success 0.
 */
int idx_read(struct idx *out, const char *path);

/* Release the data; safe on an empty struct. */
void idx_free(struct idx *a);

#endif /* FMNIST_IDX_H */
