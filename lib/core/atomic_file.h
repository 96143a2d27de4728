/*
 * Atomic file replacement, shared by every saver.  Nothing partial is ever
 * visible under the destination's name, and on any error the destination
 * is untouched and nothing is left behind.
 *
 * - Where the file system supports O_TMPFILE (Linux >= 3.11 on ext4, xfs,
 *   btrfs, tmpfs, ...), the content goes to an unnamed file in the
 *   destination's folder, is fsync'ed, and only then gets a name: linked
 *   at the destination when there is none, else linked under a hidden
 *   name and renamed over it.  A process killed at any point (SIGKILL,
 *   SIGXFSZ) leaves nothing partial; killed between the link and the
 *   rename it can leave a complete hidden ".name.tmp-XXXXXX".
 * - Elsewhere the content goes to that hidden temporary file directly and
 *   is renamed over the destination; a killed process leaves the partial
 *   temporary file behind (the destination is still intact).
 * Then the folder is fsync'ed.
 *
 * Mode: a replaced regular file keeps its permission bits (set while the
 * new file is still empty, so the content is never more readable than the
 * old file); a new file gets 0666 narrowed by the umask (or the folder's
 * default ACL).  The owner is the saving process, as with any
 * rename-based save.
 *
 * Symbolic links: when path is a symbolic link (or a chain of them), the
 * file it leads to is replaced, in that file's folder, and the links stay;
 * a dangling link creates the file it names.  More than 40 links is
 * MUDSC_E_IO.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ATOMIC_FILE_H
#define MUDSC_ATOMIC_FILE_H

#include <stddef.h>

#include "mudsc/common.h"

/*
 * Writes the content to fd (the new file, named tmp for messages).
 * Returns MUDSC_OK or a status whose message it has set.  It may be called
 * a second time, on a fresh fd, when the unnamed file cannot be linked in
 * (no /proc): it must write the same content each time.
 */
typedef mudsc_status (*mudsc__content_writer)(int fd, const char *tmp, void *ctx);

/* Replace path atomically with what write() produces; fn names the public
 * function in error messages. */
mudsc_status mudsc__atomic_write(const char *fn, const char *path, mudsc__content_writer write,
                                void *ctx);

/* Flags of mudsc__atomic_write_ex(). */
#define MUDSC__ATOMIC_NAMED 1u     /* the named temporary file even where O_TMPFILE works */
#define MUDSC__ATOMIC_PROC_LINK 2u /* link through /proc/self/fd, as without CAP_DAC_READ_SEARCH */

/* mudsc__atomic_write() with flags (tests reach the fallback with them). */
mudsc_status mudsc__atomic_write_ex(const char *fn, const char *path, mudsc__content_writer write,
                                   void *ctx, unsigned flags);

/* Write all len bytes of data to fd (retrying short writes and EINTR);
 * MUDSC_E_IO naming fn and path on failure. */
mudsc_status mudsc__write_all(const char *fn, int fd, const void *data, size_t len,
                             const char *path);

#endif
