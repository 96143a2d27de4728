/*
 * Atomic file replacement (see atomic_file.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/core.h"

/* Writes are issued in pieces of at most 1 GiB: some kernels refuse more. */
#define WRITE_PIECE ((size_t)1 << 30)

mudsc_status mudsc__write_all(const char *fn, int fd, const void *data, size_t len,
                             const char *path)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len > WRITE_PIECE ? WRITE_PIECE : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mudsc__err(MUDSC_E_IO, "%s: writing '%s': %s", fn, path,
			                 n == 0 ? "no progress" : strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return MUDSC_OK;
}

/* "dir/.name.tmp-XXXXXX" beside path: hidden, and on the same file system
 * so that rename() is atomic.  Owned. */
static char *temp_template(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t n = strlen(path) + 16;
	char *t = mudsc__alloc(n, "temporary file name");

	if (t != NULL)
		snprintf(t, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, path + dirlen);
	return t;
}

/* Make the rename durable.  Best effort: some file systems refuse fsync on
 * folders, and the data itself is already on disk. */
static void sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Write, fsync and close the temporary file. */
static mudsc_status fill(const char *fn, int fd, const char *tmp, mudsc__content_writer write,
                         void *ctx)
{
	mudsc_status st = write(fd, tmp, ctx);

	if (st == MUDSC_OK && fsync(fd) != 0)
		st = mudsc__err(MUDSC_E_IO, "%s: flushing '%s': %s", fn, tmp, strerror(errno));
	if (close(fd) != 0 && st == MUDSC_OK)
		st = mudsc__err(MUDSC_E_IO, "%s: closing '%s': %s", fn, tmp, strerror(errno));
	return st;
}

mudsc_status mudsc__atomic_write(const char *fn, const char *path, mudsc__content_writer write,
                                void *ctx)
{
	mudsc_status st;
	char *tmp;
	int fd;

	if (path[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'path' is empty", fn);
	tmp = temp_template(path);
	if (tmp == NULL)
		return MUDSC_E_NOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		st = mudsc__err(MUDSC_E_IO, "%s: cannot create a file beside '%s': %s", fn, path,
		               strerror(errno));
		free(tmp);
		return st;
	}
	/* mkstemp creates 0600; saved models and graphs are ordinary files. */
	(void)fchmod(fd, 0644);
	st = fill(fn, fd, tmp, write, ctx);
	if (st == MUDSC_OK && rename(tmp, path) != 0)
		st = mudsc__err(MUDSC_E_IO, "%s: renaming onto '%s': %s", fn, path, strerror(errno));
	if (st != MUDSC_OK)
		unlink(tmp);
	else
		sync_folder(path);
	free(tmp);
	return st;
}
