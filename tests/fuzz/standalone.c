/*
 * Runs a libFuzzer target over the files given on the command line, so every
 * fuzz corpus is also a regression test in plain `meson test`, with or
 * without sanitizers.  An argument that is a folder stands for every regular
 * file in it (sorted by name, not recursively); a folder that does not exist
 * holds no input (a target registered before its corpus is checked in).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;
	uint8_t *buf;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of folder dir, in name order: the number run, or -1. */
static int run_folder(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **paths = NULL;
	size_t n = 0, cap = 0;
	int count = 0;

	if (d == NULL) {
		fprintf(stderr, "cannot open folder %s\n", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		struct stat sb;
		char *p = malloc(len);

		if (p == NULL)
			break;
		snprintf(p, len, "%s/%s", dir, e->d_name);
		if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			free(p);
			continue;
		}
		if (n == cap) {
			char **grown = realloc(paths, (cap = cap ? 2 * cap : 64) * sizeof *paths);
			if (grown == NULL) {
				free(p);
				break;
			}
			paths = grown;
		}
		paths[n++] = p;
	}
	closedir(d);
	if (n > 0)
		qsort(paths, n, sizeof *paths, by_name);
	for (size_t i = 0; i < n; i++) {
		if (count >= 0)
			count = run_file(paths[i]) < 0 ? -1 : count + 1;
		free(paths[i]);
	}
	free(paths);
	return count;
}

int main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		struct stat sb;
		int got;

		if (stat(argv[i], &sb) != 0) {
			if (errno != ENOENT)
				return fprintf(stderr, "cannot read %s\n", argv[i]), 1;
			printf("%s: no such corpus, no input\n", argv[i]);
			continue;
		}
		got = S_ISDIR(sb.st_mode) ? run_folder(argv[i]) : run_file(argv[i]);
		if (got < 0)
			return 1;
		total += got;
	}
	printf("%d inputs: no crash\n", total);
	return 0;
}
