/*
 * Progress on stderr.  On a terminal (PROGRESS_LIVE) one live line,
 * redrawn in place ("\r" and erase-line) after every point the matcher
 * re-matches and every tensor written, and a lasting line per sweep (its
 * objective, from the library's INFO log) and per phase.  Elsewhere
 * (PROGRESS_PLAIN: a pipe, a file) only the lasting lines, without any
 * control character.  Ctrl-C: the matcher's progress callback cancels.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig)
{
	if (interrupted) { /* the second one: stop now (the output is never partial) */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	interrupted = 1;
}

void cli_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool cli_interrupted(void)
{
	return interrupted != 0;
}

void progress_init(struct progress *p, bool quiet)
{
	const char *term = getenv("TERM");
	memset(p, 0, sizeof *p);
	if (quiet)
		p->mode = PROGRESS_OFF;
	else if (isatty(STDERR_FILENO) && term != NULL && strcmp(term, "dumb") != 0)
		p->mode = PROGRESS_LIVE;
	else
		p->mode = PROGRESS_PLAIN;
	p->sweep = -1;
}

const char **progress_set_points(struct progress *p, const mudsc_graph *graph, int64_t max_iter)
{
	size_t np = mudsc_graph_point_count(graph);
	const char **names = calloc(np + 1, sizeof *names);

	if (names == NULL) {
		cli_fail(EXIT_MEMORY, NULL, "out of memory naming %zu points", np);
		return NULL;
	}
	for (size_t k = 0; k < np; k++) {
		mudsc_point_info info;
		mudsc_graph_point_at(&info, graph, k);
		names[k] = info.name;
	}
	p->npoints = (int64_t)np;
	p->point_names = names;
	p->max_iter = max_iter;
	return names;
}

static void live(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void live(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	if (p->mode != PROGRESS_LIVE)
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	p->line_open = true;
}

void progress_end(struct progress *p)
{
	if (p->line_open) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->line_open = false;
	}
}

void progress_phase(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	if (p->mode == PROGRESS_OFF)
		return;
	progress_end(p);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

int progress_callback(int64_t point, int32_t sweep, double score, void *user)
{
	struct progress *p = user;
	if (sweep < 0) { /* writing: point = tensor index, score = fraction written */
		if (point < p->ntensors)
			live(p, "writing %s: tensor %lld/%lld, %3.0f%%", p->output ? p->output : "",
			     (long long)point + 1, (long long)p->ntensors, 100.0 * score);
		return cli_interrupted();
	}
	if (sweep != p->sweep) {
		p->sweep = sweep;
		p->in_sweep = 0;
	}
	p->in_sweep++;
	const char *name = p->point_names && point >= 0 && point < p->npoints
	                   ? p->point_names[point] : "?";
	live(p, "sweep %d/%lld: point %lld/%lld %s, score %.6f", (int)sweep + 1,
	     (long long)p->max_iter, (long long)p->in_sweep, (long long)p->npoints, name, score);
	return cli_interrupted();
}

static struct progress *log_target;

/* The library's INFO "mudsc_matcher_run: sweep S: objective X[, the best so far]". */
static void on_log(mudsc_log_level level, const char *message, void *user)
{
	struct progress *p = user;
	const char *tail;
	int sweep;
	double obj;
	(void)level;
	if (p->mode == PROGRESS_OFF)
		return;
	if ((tail = strstr(message, "mudsc_matcher_run: sweep ")) != NULL &&
	    sscanf(tail, "mudsc_matcher_run: sweep %d: objective %lf", &sweep, &obj) == 2) {
		progress_phase(p, "sweep %d/%lld: objective %.6f%s", sweep + 1, (long long)p->max_iter,
		               obj, strstr(message, "best") ? " (best so far)" : "");
		return;
	}
	if (level == MUDSC_LOG_WARNING) {
		progress_end(p);
		fprintf(stderr, "mudsc %s: warning: %s\n", cli_command, message);
	}
}

void progress_attach_log(struct progress *p)
{
	log_target = p;
	mudsc_log_set_callback(on_log, MUDSC_LOG_INFO, p);
}

void progress_detach_log(void)
{
	mudsc_log_set_callback(NULL, MUDSC_LOG_ERROR, NULL);
	log_target = NULL;
}
