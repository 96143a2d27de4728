/*
 * Whole files handed to a parser (see core/file.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

mudsc_status mudsc__file_map(struct mudsc__file *out, const char *path, const char *fn)
{
	struct stat sb;
	void *addr = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return mudsc__err(MUDSC_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return mudsc__err(MUDSC_E_IO, "%s: '%s' is not a regular file", fn, path);
	}
	if (sb.st_size > 0) {
		addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (addr == MAP_FAILED) {
			int e = errno;
			close(fd);
			return mudsc__err(MUDSC_E_IO, "%s: cannot map '%s': %s", fn, path, strerror(e));
		}
	}
	close(fd); /* the mapping keeps the file's pages reachable */
	out->data = addr;
	out->len = (size_t)sb.st_size;
	return MUDSC_OK;
}

void mudsc__file_unmap(const void *data, size_t len)
{
	if (data != NULL && len > 0)
		munmap((void *)data, len);
}
