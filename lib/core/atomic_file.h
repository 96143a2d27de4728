/*
 * Atomic file replacement, shared by every saver: the content goes to a
 * temporary file in the destination's folder, is fsync'ed, and is renamed
 * over the destination; the folder is then fsync'ed.  On any error the
 * temporary file is removed and the destination is untouched.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ATOMIC_FILE_H
#define MUDSC_ATOMIC_FILE_H

#include <stddef.h>

#include "mudsc/common.h"

/*
 * Writes the content to fd (the temporary file, named tmp for messages).
 * Returns MUDSC_OK or a status whose message it has set.
 */
typedef mudsc_status (*mudsc__content_writer)(int fd, const char *tmp, void *ctx);

/* Replace path atomically with what write() produces; fn names the public
 * function in error messages. */
mudsc_status mudsc__atomic_write(const char *fn, const char *path, mudsc__content_writer write,
                                void *ctx);

/* Write all len bytes of data to fd (retrying short writes and EINTR);
 * MUDSC_E_IO naming fn and path on failure. */
mudsc_status mudsc__write_all(const char *fn, int fd, const void *data, size_t len,
                             const char *path);

#endif
