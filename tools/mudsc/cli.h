/*
 * The `mudsc` command-line tool: what its files share.  The tool uses the
 * public API of libmudsc only (<mudsc/mudsc.h>).
 *
 *   main.c      the command table and dispatch, --help, --version
 *   errors.c    exit codes and error messages
 *   config.c    merge settings: the YAML/JSON config file and the flags
 *   graphspec.c a graph from a JSON file or a ready builder and its options
 *   progress.c  the live line on a terminal, plain lines elsewhere, Ctrl-C
 *   cmd_merge.c, cmd_inspect.c, cmd_graph.c, cmd_stats.c, cmd_average.c,
 *   cmd_distance.c: the subcommands
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CLI_H
#define MUDSC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mudsc/mudsc.h>

/* Exit codes, one per failure class (docs/cli.md, mudsc(1)). */
enum cli_exit {
	EXIT_OK_ = 0,
	EXIT_USAGE = 2,     /* bad command line: unknown command or flag, missing argument */
	EXIT_CONFIG = 3,    /* the config file: YAML/JSON syntax, unknown or bad field */
	EXIT_INPUT = 4,     /* an input file is missing or unreadable */
	EXIT_FORMAT = 5,    /* an input file is malformed (safetensors, graph JSON, stats) */
	EXIT_MISMATCH = 6,  /* inputs disagree: models vs graph vs statistics */
	EXIT_OUTPUT = 7,    /* an output file cannot be written */
	EXIT_MEMORY = 8,    /* out of memory or over the memory budget (max_memory) */
	EXIT_NUMERIC = 9,   /* a numerical failure (non-finite values, no feasible zip merge) */
	EXIT_INTERNAL = 70, /* a bug in mudsc or libmudsc */
	EXIT_CANCELLED = 130 /* interrupted (Ctrl-C): no output was written */
};

/* The subcommand running, for messages ("mudsc merge: ..."). */
extern const char *cli_command;

/* Print "mudsc CMD: error: MESSAGE" (and "  hint: HINT" when hint is not
 * NULL) to stderr; returns code. */
int cli_fail(int code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A library call failed: "mudsc CMD: error: WHAT: <library message>" with
 * the exit code of the status's class, `output` telling whether the call
 * was writing (MUDSC_E_IO is then EXIT_OUTPUT), and a hint for the class. */
int cli_fail_lib(mudsc_status st, bool output, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The exit code of a library status (as cli_fail_lib). */
int cli_exit_for(mudsc_status st, bool output);

/* A usage error: the message, then "Try 'mudsc CMD --help'." */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Warnings: "mudsc CMD: warning: ..." unless quiet. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool cli_quiet;

/* Parsing numbers of flags and options: true when the whole text is one. */
bool cli_parse_i64(const char *text, int64_t *out);
bool cli_parse_double(const char *text, double *out);
bool cli_parse_bool(const char *text, int *out);

/* A growing list of strings (borrowed or owned by the caller). */
struct strlist {
	char **v;
	size_t n, cap;
};
void strlist_push(struct strlist *l, const char *s); /* copies s */
void strlist_free(struct strlist *l);

/* Files: whether path exists; its folder's name (owned). */
char *cli_dirname(const char *path);
/* path resolved against base_dir when relative (owned). */
char *cli_resolve(const char *base_dir, const char *path);

/* ---- graphs (graphspec.c) ---- */

/* A graph as a JSON file or a ready builder with its options
 * (key = value strings, lists comma-separated). */
struct graph_spec {
	char *file;            /* owned, or NULL */
	char *builder;         /* "mlp", "resnet", "vit", or NULL */
	struct strlist keys;   /* builder options */
	struct strlist values;
	struct strlist wheres; /* where each option came from, for messages */
};
void graph_spec_free(struct graph_spec *g);
/* The graph is a JSON file (builder NULL) or a builder (file NULL): the
 * other one is dropped; the text is copied. */
void graph_spec_set(struct graph_spec *g, const char *file, const char *builder);
/* Add "key=value" from the command line (where = the flag). */
int graph_spec_add_kv(struct graph_spec *g, const char *kv, const char *where);
/* Build or load the graph; on failure returns the exit code (message printed). */
int graph_spec_build(mudsc_graph **out, const struct graph_spec *g, const char *where);
/* The builders and their options, for --help. */
void graph_spec_help(void);

/* ---- progress and Ctrl-C (progress.c) ---- */

enum progress_mode { PROGRESS_OFF, PROGRESS_PLAIN, PROGRESS_LIVE };
struct progress {
	enum progress_mode mode;
	int64_t npoints;
	const char *const *point_names;
	int32_t sweep;
	int64_t in_sweep;   /* points re-matched in the current sweep */
	int64_t max_iter;
	const char *output; /* while writing */
	int64_t ntensors;
	bool line_open;     /* a live line is on screen */
};
/* PROGRESS_LIVE when stderr is a terminal (and TERM is not "dumb"), else
 * PROGRESS_PLAIN; PROGRESS_OFF when quiet. */
void progress_init(struct progress *p, bool quiet);
/* Name the graph's points for the per-point lines and set the sweep count:
 * the names are borrowed from graph (which must outlive the run) into an
 * array the caller frees; NULL (with the message printed) when out of
 * memory. */
const char **progress_set_points(struct progress *p, const mudsc_graph *graph, int64_t max_iter);
/* A phase's line ("loading 2 models", ...). */
void progress_phase(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The matcher's callback (user = struct progress *); returns 1 once Ctrl-C was pressed. */
int progress_callback(int64_t point, int32_t sweep, double score, void *user);
/* Install as the library's log sink while the matcher runs (the sweep lines). */
void progress_attach_log(struct progress *p);
void progress_detach_log(void);
/* Close an open live line. */
void progress_end(struct progress *p);

/* Ctrl-C: the first SIGINT/SIGTERM sets the flag (the matcher's callback
 * then cancels), a second one ends the process at once. */
void cli_signals_install(void);
bool cli_interrupted(void);

/* ---- the subcommands ---- */
int cmd_merge(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_average(int argc, char **argv);
int cmd_distance(int argc, char **argv);

/* A report's or --json output's text written atomically to path ("-" =
 * stdout); returns 0 or the exit code. */
int cli_write_text(const char *path, const char *text, const char *what);

#endif /* MUDSC_CLI_H */
