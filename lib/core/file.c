/*
 * Whole files handed to a parser (see core/file.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

/* Reads are issued in pieces of at most 1 GiB, as writes are. */
#define READ_PIECE ((size_t)1 << 30)

/* Open path read-only and check it is a regular file; *fd and *len. */
static mudsc_status open_regular(const char *path, const char *fn, int *fd, size_t *len)
{
	struct stat sb;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return mudsc__err(MUDSC_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
	if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(*fd);
		return mudsc__err(MUDSC_E_IO, "%s: '%s' is not a regular file", fn, path);
	}
	if ((uintmax_t)sb.st_size > SIZE_MAX) {
		close(*fd);
		return mudsc__err(MUDSC_E_NOMEM, "%s: '%s' is larger than the address space", fn, path);
	}
	*len = (size_t)sb.st_size;
	return MUDSC_OK;
}

mudsc_status mudsc__file_map(struct mudsc__file *out, const char *path, const char *fn)
{
	void *addr = NULL;
	size_t len;
	int fd;
	mudsc_status st = open_regular(path, fn, &fd, &len);

	if (st != MUDSC_OK)
		return st;
	if (len > 0) {
		addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (addr == MAP_FAILED) {
			int e = errno;
			close(fd);
			return mudsc__err(MUDSC_E_IO, "%s: cannot map '%s': %s", fn, path, strerror(e));
		}
	}
	close(fd); /* the mapping keeps the file's pages reachable */
	out->data = addr;
	out->len = len;
	return MUDSC_OK;
}

void mudsc__file_unmap(const void *data, size_t len)
{
	if (data != NULL && len > 0)
		munmap((void *)data, len);
}

mudsc_status mudsc__file_read(struct mudsc__file *out, const char *path, const char *fn)
{
	unsigned char *buf = NULL;
	size_t len, got = 0;
	int fd;
	mudsc_status st = open_regular(path, fn, &fd, &len);

	if (st != MUDSC_OK)
		return st;
	if (len > 0 && (buf = mudsc__alloc(len, "file contents")) == NULL) {
		close(fd);
		return MUDSC_E_NOMEM;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got > READ_PIECE ? READ_PIECE : len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			st = n == 0 ? mudsc__err(MUDSC_E_IO,
			                        "%s: '%s' shrank while being read (%zu of %zu bytes)", fn,
			                        path, got, len)
			            : mudsc__err(MUDSC_E_IO, "%s: reading '%s': %s", fn, path,
			                        strerror(errno));
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (st != MUDSC_OK) {
		free(buf);
		return st;
	}
	out->data = buf;
	out->len = len;
	return MUDSC_OK;
}
