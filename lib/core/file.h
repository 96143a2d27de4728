/*
 * Whole files handed to a parser: one way to open, check and map (or read) a file,
 * shared by every loader (safetensors models, graph JSON, and later the
 * statistics files), so that each reports the same errors the same way.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORE_FILE_H
#define MUDSC_CORE_FILE_H

#include <stddef.h>

#include "mudsc/common.h"

/* A read-only view of a whole regular file: data is NULL when len is 0. */
struct mudsc__file {
	const void *data;
	size_t len;
};

/*
 * Map `path` read-only (MAP_PRIVATE).  Errors are MUDSC_E_IO naming fn and
 * path: the file cannot be opened, is not a regular file, or cannot be
 * mapped.  Release with mudsc__file_unmap().
 */
mudsc_status mudsc__file_map(struct mudsc__file *out, const char *path, const char *fn);

/* Release a mapping made by mudsc__file_map(); an empty one is a no-op. */
void mudsc__file_unmap(const void *data, size_t len);

/*
 * Read `path` whole into memory the caller owns (free(); NULL when empty):
 * a copy that later changes to the file cannot reach.  Same errors as
 * mudsc__file_map(), plus MUDSC_E_IO when the file shrinks while it is read
 * and MUDSC_E_NOMEM.
 */
mudsc_status mudsc__file_read(struct mudsc__file *out, const char *path, const char *fn);

#endif /* MUDSC_CORE_FILE_H */
