/*
 * Atomic file replacement (see atomic_file.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH, linkat */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/core.h"

/* Writes are issued in pieces of at most 1 GiB: some kernels refuse more. */
#define WRITE_PIECE ((size_t)1 << 30)
/* Symbolic links followed before giving up, as the kernel does (ELOOP). */
#define MAX_LINK_HOPS 40

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

/* The file a save replaces: path itself, or the file its symbolic links
 * lead to.  A regular file found there keeps its permission bits. */
struct target {
	char *path;  /* owned */
	int exists;  /* a regular file is there */
	mode_t mode; /* its permission bits, when it exists */
};

/* "dir/" of path, as a length: 0 when path has no slash. */
static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) + 1 : 0;
}

/* The link at cur (of lstat size size) resolved one step; owned, or NULL
 * with errno set. */
static char *follow_once(const char *cur, off_t size)
{
	size_t cap = (size > 0 ? (size_t)size : 255) + 1, dl = dir_len(cur);
	char *link = malloc(cap), *next;
	ssize_t n;

	if (link == NULL)
		return NULL;
	n = readlink(cur, link, cap);
	if (n < 0 || (size_t)n >= cap) {
		if (n >= 0)
			errno = ENAMETOOLONG; /* the link changed under us: give up */
		free(link);
		return NULL;
	}
	link[n] = '\0';
	if (link[0] == '/' || dl == 0)
		return link;
	next = malloc(dl + (size_t)n + 1);
	if (next != NULL)
		snprintf(next, dl + (size_t)n + 1, "%.*s%s", (int)dl, cur, link);
	free(link);
	return next;
}

static mudsc_status resolve_target(const char *fn, const char *path, struct target *t)
{
	char *cur = mudsc__strdup(path, "file name");

	memset(t, 0, sizeof *t);
	if (cur == NULL)
		return MUDSC_E_NOMEM;
	for (int hops = 0;; hops++) {
		struct stat sb;
		char *next;

		/* Anything but a link ends the walk; a missing file is created,
		 * and other errors are reported by the creation itself. */
		int found = lstat(cur, &sb) == 0;

		if (!found || !S_ISLNK(sb.st_mode)) {
			if (found && S_ISREG(sb.st_mode)) {
				t->exists = 1;
				t->mode = sb.st_mode & 07777;
			}
			break;
		}
		if (hops == MAX_LINK_HOPS) {
			free(cur);
			return mudsc__err(MUDSC_E_IO, "%s: '%s': more than %d symbolic links", fn, path,
			                 MAX_LINK_HOPS);
		}
		next = follow_once(cur, sb.st_size);
		if (next == NULL) {
			mudsc_status st = mudsc__err(MUDSC_E_IO, "%s: reading the symbolic link '%s': %s",
			                            fn, cur, strerror(errno));
			free(cur);
			return st;
		}
		free(cur);
		cur = next;
	}
	t->path = cur;
	return MUDSC_OK;
}

/* The folder path is in ("." when it has no slash, "/" for "/x"); owned. */
static char *folder_of(const char *path)
{
	size_t dl = dir_len(path);
	char *dir = mudsc__alloc(dl + 2, "folder name");

	if (dir == NULL)
		return NULL;
	if (dl == 0)
		snprintf(dir, 2, ".");
	else
		snprintf(dir, dl + 2, "%.*s", (int)(dl == 1 ? 1 : dl - 1), path);
	return dir;
}

/* Make the new name durable.  Best effort: some file systems refuse fsync
 * on folders, and the data itself is already on disk. */
static void sync_folder(const char *path)
{
	char *dir = folder_of(path);
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* "dir/.name.tmp-XXXXXX" beside path, X random: hidden, and on the same
 * file system so that rename() is atomic.  Owned. */
static char *temp_name(const char *path)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static _Atomic uint64_t counter;
	size_t dl = dir_len(path), n = strlen(path) + 16;
	char *t = mudsc__alloc(n, "temporary file name");
	struct timespec ts;
	uint64_t x;

	if (t == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40) ^
	    (uintptr_t)t ^ (++counter * 0x9e3779b97f4a7c15ull);
	snprintf(t, n, "%.*s.%s.tmp-XXXXXX", (int)dl, path, path + dl);
	for (char *p = t + strlen(t) - 6; *p; p++) {
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdull;
		x ^= x >> 29;
		*p = digits[x % (sizeof digits - 1)];
	}
	return t;
}

/* A replaced file's mode is set while the new file is still empty, so its
 * content is never more readable than the file it replaces.  A new file
 * was created with 0666, which the kernel narrowed by the umask (or a
 * default ACL).  Best effort: file systems without modes refuse. */
static void apply_mode(int fd, const struct target *t)
{
	if (t->exists)
		(void)fchmod(fd, t->mode);
}

/* Write and fsync; the caller closes fd. */
static mudsc_status fill(const char *fn, int fd, const char *name, mudsc__content_writer write,
                         void *ctx)
{
	mudsc_status st = write(fd, name, ctx);

	if (st == MUDSC_OK && fsync(fd) != 0)
		st = mudsc__err(MUDSC_E_IO, "%s: flushing '%s': %s", fn, name, strerror(errno));
	return st;
}

static mudsc_status close_checked(const char *fn, int fd, const char *name, mudsc_status st)
{
	if (close(fd) != 0 && st == MUDSC_OK)
		st = mudsc__err(MUDSC_E_IO, "%s: closing '%s': %s", fn, name, strerror(errno));
	return st;
}

/* The scheme every file system supports: a named hidden temporary file,
 * renamed over the target.  A process killed while it writes leaves that
 * temporary file behind. */
static mudsc_status save_named(const char *fn, const char *path, const struct target *t,
                               mudsc__content_writer write, void *ctx)
{
	mudsc_status st;
	char *tmp = NULL;
	int fd = -1;

	for (int tries = 0; tries < 100 && fd < 0; tries++) {
		free(tmp);
		if ((tmp = temp_name(t->path)) == NULL)
			return MUDSC_E_NOMEM;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, t->exists ? 0600 : 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		st = mudsc__err(MUDSC_E_IO, "%s: cannot create a file beside '%s': %s", fn, path,
		               strerror(errno));
		free(tmp);
		return st;
	}
	apply_mode(fd, t);
	st = close_checked(fn, fd, tmp, fill(fn, fd, tmp, write, ctx));
	if (st == MUDSC_OK && rename(tmp, t->path) != 0)
		st = mudsc__err(MUDSC_E_IO, "%s: renaming onto '%s': %s", fn, path, strerror(errno));
	if (st != MUDSC_OK)
		unlink(tmp);
	free(tmp);
	return st;
}

#ifdef O_TMPFILE
/* Status of save_unnamed() meaning: nothing was made visible, use the
 * named scheme instead. */
#define UNSUPPORTED ((mudsc_status)-1000)

/* Give the unnamed file fd the name `name`.  AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH; /proc/self/fd works for everyone where /proc is
 * mounted. */
static int link_fd(int fd, const char *name, unsigned flags)
{
	char proc[64];

	if (!(flags & MUDSC__ATOMIC_PROC_LINK)) {
		if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno == EEXIST)
			return -1;
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Name the finished file: straight at the target when there is none, else
 * under a hidden name renamed over it (linkat cannot replace).  Only a
 * complete file is ever named. */
static mudsc_status publish(const char *fn, const char *path, const struct target *t, int fd,
                            unsigned flags)
{
	char *tmp = NULL;
	mudsc_status st = MUDSC_OK;
	int linked = -1;

	if (!t->exists) {
		if (link_fd(fd, t->path, flags) == 0)
			return MUDSC_OK;
		if (errno != EEXIST)
			return errno == ENOENT || errno == EPERM || errno == EXDEV || errno == EOPNOTSUPP
			           ? UNSUPPORTED
			           : mudsc__err(MUDSC_E_IO, "%s: creating '%s': %s", fn, path,
			                       strerror(errno));
		/* created meanwhile: replace it like any other file */
	}
	for (int tries = 0; tries < 100 && linked != 0; tries++) {
		free(tmp);
		if ((tmp = temp_name(t->path)) == NULL)
			return MUDSC_E_NOMEM;
		linked = link_fd(fd, tmp, flags);
		if (linked != 0 && errno != EEXIST)
			break;
	}
	if (linked != 0)
		st = errno == ENOENT || errno == EPERM || errno == EXDEV || errno == EOPNOTSUPP
		         ? UNSUPPORTED
		         : mudsc__err(MUDSC_E_IO, "%s: cannot create a file beside '%s': %s", fn, path,
		                     strerror(errno));
	else if (rename(tmp, t->path) != 0) {
		st = mudsc__err(MUDSC_E_IO, "%s: renaming onto '%s': %s", fn, path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return st;
}

/* An unnamed file in the target's folder (O_TMPFILE), written, flushed and
 * only then linked in: a save killed at any point leaves nothing. */
static mudsc_status save_unnamed(const char *fn, const char *path, const struct target *t,
                                 mudsc__content_writer write, void *ctx, unsigned flags)
{
	char *dir = folder_of(t->path);
	mudsc_status st;
	int fd;

	if (dir == NULL)
		return MUDSC_E_NOMEM;
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, t->exists ? 0600 : 0666);
	free(dir);
	if (fd < 0)
		return UNSUPPORTED; /* old kernel, file system without it, or a real error
		                       the named scheme will report */
	apply_mode(fd, t);
	st = fill(fn, fd, path, write, ctx);
	if (st == MUDSC_OK)
		st = publish(fn, path, t, fd, flags);
	return close_checked(fn, fd, path, st);
}
#endif

mudsc_status mudsc__atomic_write_ex(const char *fn, const char *path, mudsc__content_writer write,
                                   void *ctx, unsigned flags)
{
	struct target t;
	mudsc_status st = MUDSC_OK;

	if (path[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'path' is empty", fn);
	if ((st = resolve_target(fn, path, &t)) != MUDSC_OK)
		return st;
#ifdef O_TMPFILE
	st = (flags & MUDSC__ATOMIC_NAMED) ? UNSUPPORTED : save_unnamed(fn, path, &t, write, ctx, flags);
	if (st == UNSUPPORTED)
		st = save_named(fn, path, &t, write, ctx);
#else
	(void)flags;
	st = save_named(fn, path, &t, write, ctx);
#endif
	if (st == MUDSC_OK)
		sync_folder(t.path);
	free(t.path);
	return st;
}

mudsc_status mudsc__atomic_write(const char *fn, const char *path, mudsc__content_writer write,
                                void *ctx)
{
	return mudsc__atomic_write_ex(fn, path, write, ctx, 0);
}
