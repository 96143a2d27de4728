/*
 * Exit codes and messages: every error names the file, the field or the
 * argument and says what to do.  Also the small helpers the subcommands
 * share (number parsing, string lists, paths, atomic text output).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *cli_command = NULL;
bool cli_quiet = false;

static void prefix(const char *kind)
{
	fprintf(stderr, "mudsc%s%s: %s: ", cli_command ? " " : "", cli_command ? cli_command : "",
	        kind);
}

int cli_fail(int code, const char *hint, const char *fmt, ...)
{
	va_list ap;
	prefix("error");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (hint != NULL)
		fprintf(stderr, "  hint: %s\n", hint);
	return code;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	if (cli_quiet)
		return;
	prefix("warning");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;
	prefix("error");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  hint: try 'mudsc%s%s --help'\n", cli_command ? " " : "",
	        cli_command ? cli_command : "");
	return EXIT_USAGE;
}

int cli_exit_for(mudsc_status st, bool output)
{
	switch (st) {
	case MUDSC_OK:
		return 0;
	case MUDSC_E_IO:
		return output ? EXIT_OUTPUT : EXIT_INPUT;
	case MUDSC_E_PARSE:
		return EXIT_FORMAT;
	case MUDSC_E_SHAPE:
	case MUDSC_E_MISMATCH:
	case MUDSC_E_NOT_FOUND:
	case MUDSC_E_UNSUPPORTED:
	case MUDSC_E_EXISTS:
	case MUDSC_E_STATE:
		return EXIT_MISMATCH;
	case MUDSC_E_NOMEM:
		return EXIT_MEMORY;
	case MUDSC_E_NUMERIC:
		return EXIT_NUMERIC;
	case MUDSC_E_CANCELLED:
		return EXIT_CANCELLED;
	case MUDSC_E_INVALID:
	case MUDSC_E_RANGE:
		return EXIT_CONFIG;
	default:
		return EXIT_INTERNAL;
	}
}

static bool command_is(const char *name)
{
	return cli_command != NULL && strcmp(cli_command, name) == 0;
}

static const char *hint_for(int code)
{
	if (command_is("distance") && (code == EXIT_FORMAT || code == EXIT_MISMATCH))
		return code == EXIT_FORMAT
		               ? "field shards are files of mudsc_field_save() or mudsc.Field.save() "
		                 "(docs/field-format.md)"
		               : "merge only shards of one field: the same models (N), input size "
		                 "(D), rule, steps and keep_inputs";
	if (command_is("average") && code == EXIT_MISMATCH)
		return "every model must have the first model's tensor names, dtypes and shapes "
		       "(and fit the graph with --align): 'mudsc inspect MODEL...' lists them";
	if (command_is("average") && code == EXIT_CONFIG)
		return "see 'mudsc average --help': one weight per model, summing to 1";
	switch (code) {
	case EXIT_INPUT:
		return "check that the file exists and is readable (paths in a config file are "
		       "relative to the config file's folder)";
	case EXIT_FORMAT:
		return "the file is not what it should be: a safetensors model, a graph JSON "
		       "(docs/graph-format.md) or a statistics file (docs/stats-format.md)";
	case EXIT_MISMATCH:
		return "the models, the graph and the statistics must describe the same network: "
		       "'mudsc inspect --graph G MODEL...' shows what binds";
	case EXIT_OUTPUT:
		return "choose an output path in an existing folder you can write to, on a disk "
		       "with room";
	case EXIT_MEMORY:
		return "raise max_memory (0 turns the budget off) or use a machine with more memory";
	case EXIT_NUMERIC:
		return "check the inputs for NaN or Inf; for zip, try other zip parameters";
	case EXIT_CANCELLED:
		return NULL;
	case EXIT_CONFIG:
		return "see 'mudsc merge --help' and docs/cli.md for the settings and their ranges";
	default:
		return "this is a bug: please report it with the command line";
	}
}

int cli_fail_lib(mudsc_status st, bool output, const char *fmt, ...)
{
	va_list ap;
	int code = cli_exit_for(st, output);
	prefix("error");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (%s)\n", mudsc_error_message(), mudsc_status_name(st));
	const char *hint = hint_for(code);
	if (hint != NULL)
		fprintf(stderr, "  hint: %s\n", hint);
	return code;
}

bool cli_parse_i64(const char *text, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

bool cli_parse_double(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool cli_parse_bool(const char *text, int *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return *out = 1, true;
		if (strcasecmp(text, no[i]) == 0)
			return *out = 0, true;
	}
	return false;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL) {
		fprintf(stderr, "mudsc: out of memory\n");
		exit(EXIT_MEMORY);
	}
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = xrealloc(NULL, strlen(s) + 1);
	return strcpy(d, s);
}

void strlist_push(struct strlist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = s ? xstrdup(s) : NULL;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct strlist){0};
}

char *cli_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	char *d = xrealloc(NULL, (size_t)(slash - path) + 1);
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

char *cli_resolve(const char *base_dir, const char *path)
{
	if (base_dir == NULL || path[0] == '/' || strcmp(base_dir, ".") == 0)
		return xstrdup(path);
	size_t n = strlen(base_dir) + strlen(path) + 2;
	char *r = xrealloc(NULL, n);
	snprintf(r, n, "%s/%s", base_dir, path);
	return r;
}

/* Text to a file atomically: a hidden temporary file in the same folder,
 * fsync, rename; removed on any failure. */
int cli_write_text(const char *path, const char *text, const char *what)
{
	size_t len = strlen(text);
	if (strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
			return cli_fail(EXIT_OUTPUT, NULL, "%s: cannot write to standard output: %s",
			                what, strerror(errno));
		return 0;
	}
	char *dir = cli_dirname(path);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(dir) + strlen(base) + 32;
	char *tmp = xrealloc(NULL, n);
	snprintf(tmp, n, "%s/.%s.tmp-XXXXXX", dir, base);
	free(dir);
	int fd = mkstemp(tmp);
	int err = 0;
	if (fd < 0) {
		err = errno;
	} else {
		const char *p = text;
		size_t left = len;
		while (left > 0 && err == 0) {
			ssize_t w = write(fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				err = errno;
			else
				p += w, left -= (size_t)w;
		}
		if (err == 0 && fsync(fd) != 0)
			err = errno;
		if (close(fd) != 0 && err == 0)
			err = errno;
		mode_t um = umask(0);
		umask(um);
		if (err == 0 && chmod(tmp, 0666 & ~um) != 0)
			err = errno;
		if (err == 0 && rename(tmp, path) != 0)
			err = errno;
		if (err != 0)
			unlink(tmp);
	}
	free(tmp);
	if (err != 0)
		return cli_fail(EXIT_OUTPUT, "choose a path in an existing folder you can write to",
		                "%s '%s': cannot write: %s", what, path, strerror(err));
	return 0;
}
