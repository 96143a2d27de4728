/*
 * IDX reader.  Layout: magic (0, 0, type, rank), rank big-endian u32
 * dimensions, then the elements in C order.
 *
 * SPDX-License-Identifier: MIT
 */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
/* larger than any MNIST-family file: guards against a corrupt header */
#define IDX_MAX_BYTES (INT64_C(1) << 32)

/* Read exactly len bytes; gzread takes an unsigned count, so go in pieces. */
static int read_full(gzFile f, void *buf, int64_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		unsigned piece = len > (1 << 30) ? (1u << 30) : (unsigned)len;
		int got = gzread(f, p, piece);

		if (got <= 0)
			return -1;
		p += got;
		len -= got;
	}
	return 0;
}

static int read_header(gzFile f, struct idx *a, const char *path)
{
	uint8_t magic[4], be[4];

	if (read_full(f, magic, 4) != 0 || magic[0] != 0 || magic[1] != 0) {
		fprintf(stderr, "fashion_mnist: %s: not an IDX file\n", path);
		return -1;
	}
	if (magic[2] != IDX_UBYTE || magic[3] < 1 || magic[3] > IDX_MAX_RANK) {
		fprintf(stderr, "fashion_mnist: %s: IDX type 0x%02x rank %u unsupported\n", path,
		        magic[2], magic[3]);
		return -1;
	}
	a->rank = magic[3];
	a->count = 1;
	for (int32_t d = 0; d < a->rank; d++) {
		if (read_full(f, be, 4) != 0) {
			fprintf(stderr, "fashion_mnist: %s: truncated header\n", path);
			return -1;
		}
		a->dims[d] = (int64_t)be[0] << 24 | (int64_t)be[1] << 16 | (int64_t)be[2] << 8 | be[3];
		a->count *= a->dims[d];
		if (a->count > IDX_MAX_BYTES) {
			fprintf(stderr, "fashion_mnist: %s: implausible size\n", path);
			return -1;
		}
	}
	return 0;
}

int idx_read(struct idx *out, const char *path)
{
	struct idx a = {0};
	gzFile f;

	memset(out, 0, sizeof(*out));
	errno = 0;
	f = gzopen(path, "rb");
	if (!f) {
		int missing = errno == ENOENT;

		fprintf(stderr, "fashion_mnist: cannot open %s: %s\n", path,
		        errno ? strerror(errno) : "out of memory");
		return missing ? IDX_MISSING : -1;
	}
	if (read_header(f, &a, path) != 0)
		goto fail;
	a.data = malloc(a.count ? (size_t)a.count : 1);
	if (!a.data) {
		fprintf(stderr, "fashion_mnist: %s: out of memory\n", path);
		goto fail;
	}
	if (read_full(f, a.data, a.count) != 0) {
		fprintf(stderr, "fashion_mnist: %s: truncated or corrupt data\n", path);
		goto fail;
	}
	gzclose(f);
	*out = a;
	return 0;
fail:
	free(a.data);
	gzclose(f);
	return -1;
}

void idx_free(struct idx *a)
{
	free(a->data);
	a->data = NULL;
	a->count = 0;
}
