/*
 * mudsc_stats: a graph's statistics set.  Sharded accumulation merged in
 * any order against a direct two-pass computation (long double) and the
 * single stream, the file round trip bit-exact, the matcher handed a set
 * in one call, and every bad input with its status.  Numbers against
 * NumPy are in tests/python/test_binding_stats.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

enum { NM = 3, NOBS = 600 };
static const int64_t widths[2] = { 4, 3 };
#define NC_MAX (NM * 4)

/* Two points "a" (width 4) and "b" (width 3), no bindings. */
static mudsc_graph *two_points(void)
{
	mudsc_graph *g;
	size_t i;

	ck_assert_ok(mudsc_graph_new(&g));
	ck_assert_ok(mudsc_graph_add_point(&i, g, "a", widths[0], 1));
	ck_assert_ok(mudsc_graph_add_point(&i, g, "b", widths[1], 1));
	return g;
}

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return (double)(*s >> 11) / 9007199254740992.0;
}

/* obs[p][k][i*C + c]: observation k of model i, feature c at point p;
 * means far from 0 (1e3) against a spread of 1, correlated features. */
static double obs[2][NOBS][NC_MAX];

static void fill_data(void)
{
	uint64_t s = 12345;

	for (int p = 0; p < 2; p++)
		for (int k = 0; k < NOBS; k++) {
			double common = lcg(&s) - 0.5;
			for (int u = 0; u < NM * widths[p]; u++)
				obs[p][k][u] = 1e3 * (u + 1) + common * (u % 3) + (lcg(&s) - 0.5);
		}
}

/* Rows k0 .. k1 of model i at point p, as (n, C) F64 rows with a stride. */
static void feed(mudsc_stats *st, int p, int k0, int k1)
{
	const int64_t C = widths[p];
	const int64_t strides[2] = { NC_MAX, 1 };

	for (int32_t i = 0; i < NM; i++) {
		mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { k1 - k0, C },
		                     .strides = strides, .feature_axis = 1,
		                     .data = &obs[p][k0][i * C] };
		if (p == 0)
			ck_assert_ok(mudsc_stats_update(st, 0, i, &f));
		else
			ck_assert_ok(mudsc_stats_update_named(st, "b", i, &f));
	}
}

static mudsc_stats *new_set(const mudsc_graph *g)
{
	mudsc_stats *s = NULL;
	ck_assert_ok(mudsc_stats_new(&s, g, NM, NULL));
	return s;
}

/* Largest |got - want| / max(|want|, floor). */
static double rel_err(const double *got, const long double *want, size_t n, double floor)
{
	double worst = 0.0;

	for (size_t k = 0; k < n; k++) {
		double d = fabs(got[k] - (double)want[k]) / fmax(fabs((double)want[k]), floor);
		worst = fmax(worst, d);
	}
	return worst;
}

/* The set's covariance and means at point p against the two-pass direct
 * computation over all NOBS observations. */
static void check_against_direct(mudsc_stats *st, int p, double tol)
{
	const size_t nc = (size_t)(NM * widths[p]);
	long double mean[NC_MAX] = { 0 }, cov[NC_MAX * NC_MAX] = { 0 };
	double got_cov[NC_MAX * NC_MAX], got_mean[NC_MAX];
	mudsc_accum *acc;
	size_t need;
	int64_t n;

	ck_assert_ok(mudsc_stats_point(&acc, st, (size_t)p));
	ck_assert_ok(mudsc_accum_count(&n, acc, -1));
	ck_assert_int_eq(n, NOBS);
	for (int k = 0; k < NOBS; k++)
		for (size_t u = 0; u < nc; u++)
			mean[u] += obs[p][k][u];
	for (size_t u = 0; u < nc; u++)
		mean[u] /= NOBS;
	for (int k = 0; k < NOBS; k++)
		for (size_t a = 0; a < nc; a++)
			for (size_t b = 0; b < nc; b++)
				cov[a * nc + b] += (obs[p][k][a] - mean[a]) * (obs[p][k][b] - mean[b]);
	for (size_t u = 0; u < nc * nc; u++)
		cov[u] /= NOBS;
	ck_assert_ok(mudsc_accum_covariance(got_cov, nc * nc, &need, acc));
	ck_assert_ok(mudsc_accum_means(got_mean, nc, &need, acc));
	/* covariances relative to the variances' scale (the off-diagonal
	 * entries of independent features are near 0) */
	ck_assert_double_le(rel_err(got_cov, cov, nc * nc, 0.05), tol);
	ck_assert_double_le(rel_err(got_mean, mean, nc, 1.0), tol);
}

/* Bytes of a set (caller frees). */
static void *bytes_of(mudsc_stats *s, size_t *len)
{
	void *buf = NULL;
	ck_assert_ok(mudsc_stats_save_buffer(&buf, len, s));
	return buf;
}

START_TEST(test_single_stream_matches_direct)
{
	mudsc_graph *g = two_points();
	mudsc_stats *s = new_set(g);

	fill_data();
	for (int p = 0; p < 2; p++)
		feed(s, p, 0, NOBS);
	ck_assert_int_eq(mudsc_stats_models(s), NM);
	ck_assert_uint_eq(mudsc_stats_point_count(s), 2);
	for (int p = 0; p < 2; p++)
		check_against_direct(s, p, 1e-12);
	mudsc_stats_free(s);
	mudsc_graph_free(g);
}
END_TEST

/* Shard boundaries: 4 shards of unequal sizes. */
static const int cut[5] = { 0, 1, 157, 420, NOBS };

static mudsc_stats *shard(const mudsc_graph *g, int k)
{
	mudsc_stats *s = new_set(g);
	for (int p = 0; p < 2; p++)
		feed(s, p, cut[k], cut[k + 1]);
	return s;
}

START_TEST(test_sharded_any_order_equals_single_stream)
{
	/* merge orders: left fold, right fold, pairwise tree, reversed */
	static const int order[3][4] = { { 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 2, 0, 3, 1 } };
	mudsc_graph *g = two_points();
	mudsc_stats *one = new_set(g);

	fill_data();
	for (int p = 0; p < 2; p++)
		feed(one, p, 0, NOBS);
	for (int o = 0; o < 4; o++) {
		mudsc_stats *sh[4], *dst;
		for (int k = 0; k < 4; k++)
			sh[k] = shard(g, k);
		if (o < 3) {
			dst = sh[order[o][0]];
			for (int k = 1; k < 4; k++)
				ck_assert_ok(mudsc_stats_merge(dst, sh[order[o][k]]));
		} else { /* a tree: (0+1) + (2+3), into an empty set */
			ck_assert_ok(mudsc_stats_merge(sh[0], sh[1]));
			ck_assert_ok(mudsc_stats_merge(sh[2], sh[3]));
			dst = new_set(g);
			ck_assert_ok(mudsc_stats_merge(dst, sh[2]));
			ck_assert_ok(mudsc_stats_merge(dst, sh[0]));
		}
		for (int p = 0; p < 2; p++) {
			const size_t nc = (size_t)(NM * widths[p]);
			double c1[NC_MAX * NC_MAX], c2[NC_MAX * NC_MAX];
			long double ref[NC_MAX * NC_MAX];
			mudsc_accum *a1, *a2;
			check_against_direct(dst, p, 1e-12);
			ck_assert_ok(mudsc_stats_point(&a1, one, (size_t)p));
			ck_assert_ok(mudsc_stats_point(&a2, dst, (size_t)p));
			ck_assert_ok(mudsc_accum_correlation(c1, nc * nc, NULL, a1));
			ck_assert_ok(mudsc_accum_correlation(c2, nc * nc, NULL, a2));
			for (size_t u = 0; u < nc * nc; u++)
				ref[u] = c1[u];
			ck_assert_double_le(rel_err(c2, ref, nc * nc, 1e-3), 1e-12);
		}
		for (int k = 0; k < 4; k++)
			if (sh[k] != dst)
				mudsc_stats_free(sh[k]);
		mudsc_stats_free(dst);
	}
	mudsc_stats_free(one);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(test_file_round_trip_bit_exact)
{
	char path[] = "/tmp/mudsc-stats-XXXXXX";
	mudsc_graph *g = two_points();
	mudsc_stats *s = new_set(g), *t = NULL, *u = NULL, *empty = new_set(g);
	size_t n1, n2, n3, n4;
	void *b1, *b2, *b3, *b4;
	int fd;

	fill_data();
	for (int p = 0; p < 2; p++)
		feed(s, p, 0, 333);
	b1 = bytes_of(s, &n1);
	ck_assert_ok(mudsc_stats_load_buffer(&t, b1, n1, g, NM, NULL));
	b2 = bytes_of(t, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(b1, b2, n1) == 0);
	/* the loaded set's results are the original's, bit for bit, and it
	 * takes more updates like the original */
	for (int p = 0; p < 2; p++) {
		const size_t nc = (size_t)(NM * widths[p]);
		double c1[NC_MAX * NC_MAX], c2[NC_MAX * NC_MAX];
		mudsc_accum *a1, *a2;
		ck_assert_ok(mudsc_stats_point(&a1, s, (size_t)p));
		ck_assert_ok(mudsc_stats_point(&a2, t, (size_t)p));
		ck_assert_ok(mudsc_accum_correlation(c1, nc * nc, NULL, a1));
		ck_assert_ok(mudsc_accum_correlation(c2, nc * nc, NULL, a2));
		ck_assert(memcmp(c1, c2, sizeof(double) * nc * nc) == 0);
		feed(s, p, 333, NOBS);
		feed(t, p, 333, NOBS);
	}
	free(b1);
	free(b2);
	b1 = bytes_of(s, &n1);
	b2 = bytes_of(t, &n2);
	ck_assert(n1 == n2 && memcmp(b1, b2, n1) == 0);
	/* file: atomic save, read back */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_ok(mudsc_stats_save(t, path));
	ck_assert_ok(mudsc_stats_load(&u, path, g, 0, NULL));
	b3 = bytes_of(u, &n3);
	ck_assert(n3 == n1 && memcmp(b1, b3, n1) == 0);
	/* size: the raw sums plus a small header */
	{
		size_t raw = 0;
		for (int p = 0; p < 2; p++) {
			size_t nc = (size_t)(NM * widths[p]);
			raw += 8 * (2 * nc + nc * (nc + 1) / 2 + NM);
		}
		ck_assert_uint_gt(n3, raw);
		ck_assert_uint_lt(n3, raw + 2048);
	}
	/* an empty set round-trips too */
	b4 = bytes_of(empty, &n4);
	mudsc_stats_free(u);
	ck_assert_ok(mudsc_stats_load_buffer(&u, b4, n4, g, NM, NULL));
	mudsc_stats_free(u);
	unlink(path);
	free(b1);
	free(b2);
	free(b3);
	free(b4);
	mudsc_stats_free(s);
	mudsc_stats_free(t);
	mudsc_stats_free(empty);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(test_bad_arguments)
{
	mudsc_graph *g = two_points(), *g2, *g3, *none;
	mudsc_stats *s = new_set(g), *o = NULL, *out = (mudsc_stats *)0x1;
	mudsc_accum_options bad = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *acc;
	const char *name;
	int64_t w;
	size_t k, len;
	void *buf;
	double x[4] = { 1, 2, 3, 4 };
	mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { 1, 4 },
	                     .feature_axis = 1, .data = x };
	size_t i;

	ck_assert_ok(mudsc_graph_new(&none));
	ck_assert_ok(mudsc_graph_new(&g2));
	ck_assert_ok(mudsc_graph_add_point(&i, g2, "a", 4, 1));
	ck_assert_ok(mudsc_graph_add_point(&i, g2, "b", 5, 1));
	ck_assert_ok(mudsc_graph_new(&g3));
	ck_assert_ok(mudsc_graph_add_point(&i, g3, "a", 4, 1));
	ck_assert_ok(mudsc_graph_add_point(&i, g3, "c", 3, 1));

	ck_assert_status(mudsc_stats_new(NULL, g, 2, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'out'");
	ck_assert_status(mudsc_stats_new(&out, NULL, 2, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'graph'");
	ck_assert_status(mudsc_stats_new(&out, g, 1, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_stats_new: n_models = 1");
	ck_assert_status(mudsc_stats_new(&out, none, 2, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_stats_new: argument 'graph' has no points");
	bad.threads = -1;
	ck_assert_status(mudsc_stats_new(&out, g, 2, &bad), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_stats_new: point 0 'a': mudsc_accum_new: options->threads");
	ck_assert_ptr_eq(out, (mudsc_stats *)0x1);

	ck_assert_status(mudsc_stats_point_at(&name, &w, NULL, 0), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_point_at(&name, &w, s, 2), MUDSC_E_RANGE);
	ck_assert_error_has("mudsc_stats_point_at: argument 'point' = 2");
	ck_assert_ok(mudsc_stats_point_at(&name, &w, s, 1));
	ck_assert_str_eq(name, "b");
	ck_assert_int_eq(w, 3);
	ck_assert_status(mudsc_stats_point_find(&k, s, "zz"), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("mudsc_stats_point_find: argument 'name': the set has no point 'zz'");
	ck_assert_status(mudsc_stats_point_find(NULL, s, "a"), MUDSC_E_INVALID);
	ck_assert_ok(mudsc_stats_point_find(&k, s, "b"));
	ck_assert_uint_eq(k, 1);
	ck_assert_status(mudsc_stats_point(&acc, s, 5), MUDSC_E_RANGE);
	ck_assert_status(mudsc_stats_point(NULL, s, 0), MUDSC_E_INVALID);

	ck_assert_status(mudsc_stats_update(NULL, 0, 0, &f), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_update(s, 0, 0, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'features'");
	ck_assert_status(mudsc_stats_update(s, 2, 0, &f), MUDSC_E_RANGE);
	ck_assert_error_has("mudsc_stats_update: argument 'point' = 2");
	ck_assert_status(mudsc_stats_update(s, 0, 3, &f), MUDSC_E_RANGE);
	ck_assert_error_has("mudsc_stats_update: point 0 'a': ");
	ck_assert_status(mudsc_stats_update(s, 1, 0, &f), MUDSC_E_SHAPE);
	ck_assert_error_has("mudsc_stats_update: point 1 'b': ");
	ck_assert_status(mudsc_stats_update_named(s, "q", 0, &f), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("mudsc_stats_update_named: argument 'name': the set has no point 'q'");
	ck_assert_status(mudsc_stats_update_named(s, NULL, 0, &f), MUDSC_E_INVALID);

	/* merge: same set, N, points */
	ck_assert_status(mudsc_stats_merge(s, s), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_stats_merge: 'dst' and 'src' are the same");
	ck_assert_status(mudsc_stats_merge(NULL, s), MUDSC_E_INVALID);
	ck_assert_ok(mudsc_stats_new(&o, g, 2, NULL));
	ck_assert_status(mudsc_stats_merge(s, o), MUDSC_E_MISMATCH);
	ck_assert_error_has("mudsc_stats_merge: dst has N = 3 models, src 2");
	mudsc_stats_free(o);
	ck_assert_ok(mudsc_stats_new(&o, g2, NM, NULL));
	ck_assert_status(mudsc_stats_merge(s, o), MUDSC_E_MISMATCH);
	ck_assert_error_has("point 1 is 'b' of width 3 in dst, 'b' of width 5 in src");
	mudsc_stats_free(o);
	/* a model ahead (unmatched observations) in src: nothing of dst changes */
	ck_assert_ok(mudsc_stats_new(&o, g, 2, NULL));
	ck_assert_ok(mudsc_stats_update(o, 0, 0, &f));
	{
		mudsc_stats *d = NULL;
		void *before, *after;
		size_t nb, na;
		ck_assert_ok(mudsc_stats_new(&d, g, 2, NULL));
		ck_assert_ok(mudsc_stats_update(d, 0, 0, &f));
		ck_assert_ok(mudsc_stats_update(d, 0, 1, &f));
		before = bytes_of(d, &nb);
		ck_assert_status(mudsc_stats_merge(d, o), MUDSC_E_MISMATCH);
		ck_assert_error_has("mudsc_stats_merge: point 0 'a': mudsc_accum_merge (src)");
		after = bytes_of(d, &na);
		ck_assert(na == nb && memcmp(before, after, na) == 0);
		free(before);
		free(after);
		/* save refuses the unmatched set, naming the point */
		ck_assert_status(mudsc_stats_save_buffer(&buf, &len, o), MUDSC_E_MISMATCH);
		ck_assert_error_has("mudsc_stats_save_buffer: point 0 'a'");
		ck_assert_status(mudsc_stats_save(o, "/tmp/never-written.stats"), MUDSC_E_MISMATCH);
		ck_assert_int_ne(access("/tmp/never-written.stats", F_OK), 0);
		mudsc_stats_free(d);
	}
	mudsc_stats_free(o);
	ck_assert_status(mudsc_stats_save_buffer(NULL, &len, s), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_save(s, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_save(s, "/nonexistent-dir/x.stats"), MUDSC_E_IO);
	ck_assert_error_has("mudsc_stats_save: argument 'path'");

	/* loads: graph and N checked */
	buf = bytes_of(s, &len);
	out = (mudsc_stats *)0x1;
	ck_assert_status(mudsc_stats_load_buffer(NULL, buf, len, g, 0, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_load_buffer(&out, NULL, len, g, 0, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, NULL, 0, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'graph'");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g, 1, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("argument 'n_models' = 1, must be 0 or >= 2");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g, 2, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("mudsc_stats_load_buffer: the set has N = 3 models, argument 'n_models' = 2");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g2, 0, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("point 1 'b' has width 3 in the set, 5 in argument 'graph'");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g3, 0, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("point 1 of the set is 'b', of argument 'graph' 'c'");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, none, 0, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("the set has 2 points, argument 'graph' has 0");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len - 1, g, 0, NULL), MUDSC_E_PARSE);
	ck_assert_error_has("mudsc_stats_load_buffer: argument 'buf': ");
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g, 0, &bad), MUDSC_E_INVALID);
	ck_assert_error_has("options->threads");
	ck_assert_status(mudsc_stats_load(&out, "/nonexistent-dir/x.stats", g, 0, NULL), MUDSC_E_IO);
	ck_assert_error_has("mudsc_stats_load");
	ck_assert_status(mudsc_stats_load(&out, NULL, g, 0, NULL), MUDSC_E_INVALID);
	ck_assert_ptr_eq(out, (mudsc_stats *)0x1);
	free(buf);

	mudsc_stats_free(s);
	mudsc_graph_free(g);
	mudsc_graph_free(g2);
	mudsc_graph_free(g3);
	mudsc_graph_free(none);
}
END_TEST

/* A safetensors file built by hand as a set of graph two_points() for N
 * models, with one thing changed by `edit`; loading it gives `want`
 * naming `sub`. */
struct doctor {
	const char *what;
	mudsc_status want;
	const char *sub;
};

static mudsc_model *set_as_model(mudsc_stats *s)
{
	mudsc_model *m = NULL;
	size_t len;
	void *buf = bytes_of(s, &len);
	ck_assert_ok(mudsc_model_load_buffer(&m, buf, len, MUDSC_COPY));
	free(buf);
	return m;
}

/* A copy of m with tensor `name` replaced by (dtype, rank, shape, data),
 * or dropped (data NULL and rank < 0), and metadata key set to value
 * (value NULL: not set). */
static mudsc_model *edited(const mudsc_model *m, const char *name, int32_t dtype, int32_t rank,
                           const int64_t *shape, const void *data, const char *key,
                           const char *value)
{
	mudsc_model *c;
	const char *k, *v;

	ck_assert_ok(mudsc_model_new(&c));
	for (size_t i = 0; i < mudsc_model_count(m); i++) {
		mudsc_tensor t;
		ck_assert_ok(mudsc_model_at(&t, m, i));
		if (name && strcmp(t.name, name) == 0) {
			if (rank >= 0)
				ck_assert_ok(mudsc_model_add(c, t.name, (mudsc_dtype)dtype, rank, shape, data,
				                             MUDSC_COPY));
			continue;
		}
		ck_assert_ok(mudsc_model_add(c, t.name, t.dtype, t.rank, t.shape, t.data, MUDSC_COPY));
	}
	for (size_t i = 0; i < mudsc_model_meta_count(m); i++) {
		ck_assert_ok(mudsc_model_meta_at(&k, &v, m, i));
		ck_assert_ok(mudsc_model_set_meta(c, k, key && strcmp(k, key) == 0 && value ? value : v));
	}
	if (key && value && mudsc_model_get_meta(m, key) == NULL)
		ck_assert_ok(mudsc_model_set_meta(c, key, value));
	return c;
}

static void expect_load(const mudsc_model *m, const mudsc_graph *g, mudsc_status want,
                        const char *sub)
{
	mudsc_stats *out = (mudsc_stats *)0x1;
	void *buf;
	size_t len;

	ck_assert_ok(mudsc_model_save_buffer(&buf, &len, m));
	ck_assert_status(mudsc_stats_load_buffer(&out, buf, len, g, 0, NULL), want);
	ck_assert_error_has(sub);
	ck_assert_ptr_eq(out, (mudsc_stats *)0x1);
	free(buf);
}

static const struct {
	const char *key, *value, *sub;
} bad_meta[] = {
	{ "format", "other", "metadata 'format' is 'other', not 'mudsc.stats'" },
	{ "format_version", "3", "metadata 'format_version' is '3': this library reads versions 1 and 2" },
	{ "format_version", "2", "metadata 'mode' is '(missing)', not 'full' or 'cross'" },
	{ "n_models", "1", "metadata 'n_models' = \"1\" is not an integer in [2, " },
	{ "n_models", "3x", "metadata 'n_models' = \"3x\"" },
	{ "n_models", "4", "tensor 'a.shift' has the wrong dtype or shape" },
	{ "points", "3", "8 tensors, but 3 points need 12" },
	{ "point.0.count", "7", "point 'a': model 0's count 600 is not the metadata's 7" },
	{ "point.1.width", "-3", "metadata 'point.1.width' = \"-3\"" },
};

START_TEST(test_bad_files)
{
	mudsc_graph *g = two_points();
	mudsc_stats *s = new_set(g), *empty = new_set(g);
	mudsc_model *m, *e, *m0;
	double big[12 * 13 / 2], shifts[3 * 4], sums[3 * 4];
	const int64_t s34[2] = { 3, 4 }, s12[1] = { 12 }, s78[1] = { 78 }, s3[1] = { 3 };
	const int64_t counts_bad[3] = { 600, 600, 599 };
	mudsc_tensor t;

	fill_data();
	for (int p = 0; p < 2; p++)
		feed(s, p, 0, NOBS);
	m = set_as_model(s);
	m0 = set_as_model(empty);
	/* metadata: one entry changed each */
	for (size_t k = 0; k < sizeof bad_meta / sizeof bad_meta[0]; k++) {
		e = edited(m, NULL, 0, 0, NULL, NULL, bad_meta[k].key, bad_meta[k].value);
		expect_load(e, g, MUDSC_E_PARSE, bad_meta[k].sub);
		mudsc_model_free(e);
	}
	e = edited(m, "a.count", MUDSC_DTYPE_I64, 1, s3, counts_bad, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "model 2's count 599 is not the metadata's 600");
	mudsc_model_free(e);
	/* tensors */
	e = edited(m, "b.prod", 0, -1, NULL, NULL, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "7 tensors, but 2 points need 8");
	mudsc_model_free(e);
	ck_assert_ok(mudsc_model_find(&t, m, "a.shift"));
	memcpy(shifts, t.data, sizeof shifts);
	e = edited(m, "a.shift", MUDSC_DTYPE_F32, 2, s34, shifts, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "tensor 'a.shift' has the wrong dtype or shape");
	mudsc_model_free(e);
	e = edited(m, "a.shift", MUDSC_DTYPE_F64, 1, s12, shifts, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "tensor 'a.shift' has the wrong dtype or shape");
	mudsc_model_free(e);
	/* values */
	shifts[5] = 0.1; /* not a float value */
	e = edited(m, "a.shift", MUDSC_DTYPE_F64, 2, s34, shifts, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE,
	            "mudsc_stats_load_buffer: argument 'buf': point 'a': a shift is not a finite "
	            "float value (entry 5)");
	mudsc_model_free(e);
	ck_assert_ok(mudsc_model_find(&t, m, "a.sum"));
	memcpy(sums, t.data, sizeof sums);
	sums[2] = NAN;
	e = edited(m, "a.sum", MUDSC_DTYPE_F64, 2, s34, sums, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "point 'a': a shifted sum is not finite (entry 2)");
	mudsc_model_free(e);
	sums[2] = 1e300; /* mean far past the float range */
	e = edited(m, "a.sum", MUDSC_DTYPE_F64, 2, s34, sums, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "a mean is outside the float range");
	mudsc_model_free(e);
	ck_assert_ok(mudsc_model_find(&t, m, "a.prod"));
	memcpy(big, t.data, sizeof big);
	big[3] = INFINITY;
	e = edited(m, "a.prod", MUDSC_DTYPE_F64, 1, s78, big, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "a sum of products is not finite (entry 3)");
	mudsc_model_free(e);
	big[3] = 1e300;
	e = edited(m, "a.prod", MUDSC_DTYPE_F64, 1, s78, big, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "a centred sum of products is larger than the sums hold");
	mudsc_model_free(e);
	/* an empty set's state must be zeros */
	memset(shifts, 0, sizeof shifts);
	shifts[0] = 1.0;
	e = edited(m0, "a.shift", MUDSC_DTYPE_F64, 2, s34, shifts, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "count 0 but a shift or a sum is not 0 (entry 0)");
	mudsc_model_free(e);
	memset(big, 0, sizeof big);
	big[10] = 2.0;
	e = edited(m0, "a.prod", MUDSC_DTYPE_F64, 1, s78, big, NULL, NULL);
	expect_load(e, g, MUDSC_E_PARSE, "count 0 but a sum of products is not 0 (entry 10)");
	mudsc_model_free(e);
	/* not safetensors at all */
	{
		mudsc_stats *out = NULL;
		ck_assert_status(mudsc_stats_load_buffer(&out, "hello", 5, g, 0, NULL), MUDSC_E_PARSE);
		ck_assert_error_has("mudsc_stats_load_buffer: argument 'buf': ");
	}
	/* a plain model (no format) */
	e = edited(m, NULL, 0, 0, NULL, NULL, NULL, NULL);
	ck_assert_ok(mudsc_model_set_meta(e, "format", "pt"));
	expect_load(e, g, MUDSC_E_PARSE, "not a statistics set");
	mudsc_model_free(e);
	mudsc_model_free(m);
	mudsc_model_free(m0);
	mudsc_stats_free(s);
	mudsc_stats_free(empty);
	mudsc_graph_free(g);
}
END_TEST

/* ---- the matcher ------------------------------------------------------- */

enum { H0 = 4, H1 = 3, IN = 3, OUT = 2 };

static mudsc_model *mlp_model(uint64_t seed, double *store)
{
	const int64_t shapes[4][2] = { { H0, IN }, { H1, H0 }, { OUT, H1 }, { 0, 0 } };
	static const char *const names[3] = { "layers.0.weight", "layers.1.weight",
	                                      "layers.2.weight" };
	mudsc_model *m;
	size_t off = 0;

	ck_assert_ok(mudsc_model_new(&m));
	for (int l = 0; l < 3; l++) {
		size_t n = (size_t)(shapes[l][0] * shapes[l][1]);
		for (size_t k = 0; k < n; k++)
			store[off + k] = lcg(&seed) - 0.5;
		ck_assert_ok(mudsc_model_add(m, names[l], MUDSC_DTYPE_F64, 2, shapes[l], store + off,
		                             MUDSC_BORROW));
		off += n;
	}
	return m;
}

START_TEST(test_matcher_set_stats)
{
	const int64_t hidden[2] = { H0, H1 };
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	double store[2][64];
	mudsc_model *models[2];
	mudsc_graph *g, *other;
	mudsc_matcher *m1, *m2;
	mudsc_model *merged1, *merged2;
	mudsc_stats *s, *wrong;
	uint64_t seed = 99;
	size_t i, np;

	mo.n_hidden = 2;
	mo.hidden = hidden;
	mo.bias = 0;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	for (int k = 0; k < 2; k++)
		models[k] = mlp_model(7 + (uint64_t)k, store[k]);
	ck_assert_ok(mudsc_matcher_new(&m1, g, (const mudsc_model *const *)models, 2, NULL));
	ck_assert_ok(mudsc_matcher_new(&m2, g, (const mudsc_model *const *)models, 2, NULL));
	ck_assert_ok(mudsc_stats_new(&s, g, 2, NULL));
	np = mudsc_stats_point_count(s);
	ck_assert_uint_eq(np, 2);
	/* an empty set: STATE naming the point, the matcher unchanged */
	ck_assert_status(mudsc_matcher_set_stats(m1, s), MUDSC_E_STATE);
	ck_assert_error_has("mudsc_matcher_set_stats: point '");
	for (size_t p = 0; p < np; p++) {
		int64_t w;
		double x[50 * 2 * H0];
		ck_assert_ok(mudsc_stats_point_at(NULL, &w, s, p));
		for (size_t k = 0; k < (size_t)(50 * 2 * w); k++)
			x[k] = lcg(&seed);
		for (int32_t mi = 0; mi < 2; mi++) {
			mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { 50, w },
			                     .feature_axis = 1, .data = x + mi * 50 * w };
			ck_assert_ok(mudsc_stats_update(s, p, mi, &f));
		}
	}
	ck_assert_ok(mudsc_matcher_set_stats(m1, s));
	for (size_t p = 0; p < np; p++) {
		mudsc_accum *acc;
		ck_assert_ok(mudsc_stats_point(&acc, s, p));
		ck_assert_ok(mudsc_matcher_set_activations(m2, p, acc));
	}
	ck_assert_ok(mudsc_matcher_run(m1));
	ck_assert_ok(mudsc_matcher_run(m2));
	ck_assert_ok(mudsc_matcher_merge(&merged1, m1, NULL));
	ck_assert_ok(mudsc_matcher_merge(&merged2, m2, NULL));
	for (size_t k = 0; k < mudsc_model_count(merged1); k++) {
		mudsc_tensor a, b;
		ck_assert_ok(mudsc_model_at(&a, merged1, k));
		ck_assert_ok(mudsc_model_at(&b, merged2, k));
		ck_assert_uint_eq(a.nbytes, b.nbytes);
		ck_assert(memcmp(a.data, b.data, a.nbytes) == 0);
	}
	/* mismatches */
	ck_assert_status(mudsc_matcher_set_stats(NULL, s), MUDSC_E_INVALID);
	ck_assert_status(mudsc_matcher_set_stats(m1, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'stats'");
	ck_assert_ok(mudsc_stats_new(&wrong, g, 3, NULL));
	ck_assert_status(mudsc_matcher_set_stats(m1, wrong), MUDSC_E_MISMATCH);
	ck_assert_error_has("argument 'stats' has N = 3 models, the matcher 2");
	mudsc_stats_free(wrong);
	ck_assert_ok(mudsc_graph_new(&other));
	ck_assert_ok(mudsc_graph_add_point(&i, other, "elsewhere", 4, 1));
	ck_assert_ok(mudsc_stats_new(&wrong, other, 2, NULL));
	ck_assert_status(mudsc_matcher_set_stats(m1, wrong), MUDSC_E_MISMATCH);
	ck_assert_error_has("argument 'stats' has no point '");
	mudsc_stats_free(wrong);
	mudsc_graph_free(other);
	mudsc_model_free(merged1);
	mudsc_model_free(merged2);
	mudsc_matcher_free(m1);
	mudsc_matcher_free(m2);
	mudsc_stats_free(s);
	for (int k = 0; k < 2; k++)
		mudsc_model_free(models[k]);
	mudsc_graph_free(g);
}
END_TEST

/* load_buffer_like and replace_buffer: the shape of a set instead of a
 * graph; bit-exact; mismatches named; replace all or nothing. */
/* Cross-block sets (issue 13): the cross correlations of a full set, the
 * file (format_version 2) bit-exact and of its own mode whatever the
 * loader's options say, mixed modes refused, and the matcher reading a
 * cross file in place equal to reading the set. */
START_TEST(test_cross_sets)
{
	mudsc_accum_options co = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_graph *g = two_points();
	mudsc_stats *full = new_set(g), *cross = NULL, *back = NULL;
	void *b1 = NULL, *b2 = NULL, *fb = NULL;
	size_t n1 = 0, n2 = 0, fn = 0;

	co.mode = MUDSC_STATS_CROSS;
	ck_assert_ok(mudsc_stats_new(&cross, g, NM, &co));
	fill_data();
	feed(full, 0, 0, NOBS);
	feed(full, 1, 0, NOBS);
	feed(cross, 0, 0, 250);
	feed(cross, 0, 250, NOBS);
	feed(cross, 1, 0, NOBS);
	for (size_t p = 0; p < 2; p++) {
		const size_t C = (size_t)widths[p], n = (NM - 1) * C * C;
		double want[(NM - 1) * 16], got[(NM - 1) * 16], sd_f[NC_MAX], sd_c[NC_MAX];
		mudsc_accum *af, *ac;
		ck_assert_ok(mudsc_stats_point(&af, full, p));
		ck_assert_ok(mudsc_stats_point(&ac, cross, p));
		ck_assert_int_eq(mudsc_accum_mode(ac), MUDSC_STATS_CROSS);
		ck_assert_ok(mudsc_accum_cross_correlation(want, n, NULL, af));
		ck_assert_ok(mudsc_accum_cross_correlation(got, n, NULL, ac));
		for (size_t k = 0; k < n; k++)
			ck_assert_double_eq_tol(got[k], want[k], 1e-12);
		ck_assert_ok(mudsc_accum_stddevs(sd_f, NM * C, NULL, af));
		ck_assert_ok(mudsc_accum_stddevs(sd_c, NM * C, NULL, ac));
		for (size_t u = 0; u < NM * C; u++)
			ck_assert_double_eq_tol(sd_c[u], sd_f[u], 1e-12 * sd_f[u]);
		ck_assert_status(mudsc_accum_covariance(got, 0, &n1, ac), MUDSC_OK); /* size only */
		ck_assert_status(mudsc_accum_covariance(got, 1, NULL, ac), MUDSC_E_RANGE);
	}
	/* the file: version 2, bit-exact, its own mode under any options */
	ck_assert_ok(mudsc_stats_save_buffer(&b1, &n1, cross));
	ck_assert_ok(mudsc_stats_load_buffer(&back, b1, n1, g, 0, NULL));
	ck_assert_ok(mudsc_stats_save_buffer(&b2, &n2, back));
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(b1, b2, n1) == 0);
	{
		mudsc_accum *a;
		ck_assert_ok(mudsc_stats_point(&a, back, 1));
		ck_assert_int_eq(mudsc_accum_mode(a), MUDSC_STATS_CROSS);
	}
	/* modes do not mix */
	ck_assert_status(mudsc_stats_merge(full, cross), MUDSC_E_MISMATCH);
	ck_assert_error_has("mudsc_stats_merge: point 0 'a': mudsc_accum_merge: dst keeps full");
	ck_assert_ok(mudsc_stats_save_buffer(&fb, &fn, full));
	ck_assert_status(mudsc_stats_replace_buffer(cross, fb, fn), MUDSC_E_MISMATCH);
	ck_assert_error_has("holds full statistics, argument 'stats' keeps cross-block ones");
	ck_assert_ok(mudsc_stats_replace_buffer(back, b1, n1));
	ck_assert_ok(mudsc_stats_merge(back, cross));
	mudsc_free(b1);
	mudsc_free(b2);
	mudsc_free(fb);
	mudsc_stats_free(back);
	mudsc_stats_free(full);
	mudsc_stats_free(cross);
	mudsc_graph_free(g);
}
END_TEST

/* A host's statistics callback: the set's accumulator of the point. */
static mudsc_status set_point(mudsc_accum **out, size_t point, const char *name, int64_t width,
                              void *user)
{
	size_t k;

	(void)point;
	(void)width;
	if (mudsc_stats_point_find(&k, user, name) != MUDSC_OK)
		return MUDSC_E_NOT_FOUND;
	return mudsc_stats_point(out, user, k);
}

/* The matcher's three sources of statistics on demand on one cross-block
 * set: the same bits as the all-at-once path; zip refuses them. */
START_TEST(test_matcher_cross_sources)
{
	const int64_t hidden[2] = { H0, H1 };
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_accum_options co = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_matcher_options zo = MUDSC_MATCHER_OPTIONS_INIT;
	double store[2][64];
	mudsc_model *models[2];
	mudsc_graph *g;
	mudsc_matcher *m[4], *zip;
	mudsc_stats *s;
	uint64_t seed = 5;
	char path[] = "/tmp/test-cross-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	mo.n_hidden = 2;
	mo.hidden = hidden;
	mo.bias = 0;
	co.mode = MUDSC_STATS_CROSS;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	for (int k = 0; k < 2; k++)
		models[k] = mlp_model(11 + (uint64_t)k, store[k]);
	ck_assert_ok(mudsc_stats_new(&s, g, 2, &co));
	for (size_t p = 0; p < 2; p++) {
		int64_t w;
		float x[60 * 2 * H0];
		ck_assert_ok(mudsc_stats_point_at(NULL, &w, s, p));
		for (size_t k = 0; k < (size_t)(60 * 2 * w); k++)
			x[k] = (float)lcg(&seed);
		for (int32_t mi = 0; mi < 2; mi++) {
			mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 60, w },
			                     .feature_axis = 1, .data = x + mi * 60 * w };
			ck_assert_ok(mudsc_stats_update(s, p, mi, &f));
		}
	}
	ck_assert_ok(mudsc_stats_save(s, path));
	for (int k = 0; k < 4; k++)
		ck_assert_ok(mudsc_matcher_new(&m[k], g, (const mudsc_model *const *)models, 2, NULL));
	for (size_t p = 0; p < 2; p++) {
		mudsc_accum *acc;
		ck_assert_ok(mudsc_stats_point(&acc, s, p));
		ck_assert_ok(mudsc_matcher_set_activations(m[0], p, acc));
	}
	ck_assert_ok(mudsc_matcher_set_stats(m[1], s));
	ck_assert_ok(mudsc_matcher_set_stats_file(m[2], path));
	ck_assert_ok(mudsc_matcher_set_stats_callback(m[3], set_point, s));
	for (int k = 0; k < 4; k++)
		ck_assert_ok(mudsc_matcher_run(m[k]));
	for (size_t p = 0; p < 2; p++) {
		int64_t a[2 * H0], b[2 * H0];
		size_t nc = 2 * (size_t)(p == 0 ? H0 : H1);
		double sa[3], sb[3];
		ck_assert_ok(mudsc_matcher_assignment(a, nc, NULL, m[0], p));
		ck_assert_ok(mudsc_matcher_point_result(NULL, sa, m[0], p));
		for (int k = 1; k < 4; k++) {
			ck_assert_ok(mudsc_matcher_assignment(b, nc, NULL, m[k], p));
			ck_assert_ok(mudsc_matcher_point_result(NULL, sb, m[k], p));
			ck_assert(memcmp(a, b, nc * sizeof *a) == 0);
			ck_assert(memcmp(sa, sb, sizeof sa) == 0);
		}
	}
	zo.method = MUDSC_METHOD_ZIP;
	ck_assert_ok(mudsc_matcher_new(&zip, g, (const mudsc_model *const *)models, 2, &zo));
	ck_assert_status(mudsc_matcher_set_stats_file(zip, path), MUDSC_E_UNSUPPORTED);
	ck_assert_error_has("zip (opts->method = MUDSC_METHOD_ZIP) needs the full mode");
	ck_assert_status(mudsc_matcher_set_stats(zip, s), MUDSC_E_UNSUPPORTED);
	ck_assert_ok(mudsc_matcher_set_stats_callback(zip, set_point, s));
	ck_assert_status(mudsc_matcher_run(zip), MUDSC_E_UNSUPPORTED);
	ck_assert_error_has("mudsc_matcher_run: point 'layers.0': cross-block statistics");
	unlink(path);
	mudsc_matcher_free(zip);
	for (int k = 0; k < 4; k++)
		mudsc_matcher_free(m[k]);
	mudsc_stats_free(s);
	for (int k = 0; k < 2; k++)
		mudsc_model_free(models[k]);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(test_load_like_and_replace)
{
	mudsc_graph *g = two_points(), *g2;
	mudsc_stats *s, *like, *t = NULL, *e, *o;
	void *b0, *b1, *b2;
	size_t n0, n1, n2, i;

	fill_data();
	s = shard(g, 1);
	like = new_set(g);
	b0 = bytes_of(s, &n0);
	ck_assert_ok(mudsc_stats_load_buffer_like(&t, b0, n0, like, NULL));
	b1 = bytes_of(t, &n1);
	ck_assert_uint_eq(n0, n1);
	ck_assert(memcmp(b0, b1, n0) == 0);
	mudsc_free(b1);
	/* replace into an empty set: the same bytes back */
	e = new_set(g);
	ck_assert_ok(mudsc_stats_replace_buffer(e, b0, n0));
	b1 = bytes_of(e, &n1);
	ck_assert_uint_eq(n0, n1);
	ck_assert(memcmp(b0, b1, n0) == 0);
	/* replace a set holding data by another's: the other's bytes */
	mudsc_stats_free(t);
	t = shard(g, 2);
	b2 = bytes_of(t, &n2);
	ck_assert_ok(mudsc_stats_replace_buffer(e, b2, n2));
	mudsc_free(b1);
	b1 = bytes_of(e, &n1);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(b1, b2, n2) == 0);
	/* other N, other points: MISMATCH naming it; e unchanged */
	ck_assert_ok(mudsc_stats_new(&o, g, 2, NULL));
	ck_assert_status(mudsc_stats_replace_buffer(o, b0, n0), MUDSC_E_MISMATCH);
	ck_assert_error_has("mudsc_stats_replace_buffer: the set has N = 3 models");
	mudsc_stats_free(o);
	ck_assert_ok(mudsc_graph_new(&g2));
	ck_assert_ok(mudsc_graph_add_point(&i, g2, "a", widths[0], 1));
	ck_assert_ok(mudsc_graph_add_point(&i, g2, "c", widths[1], 1));
	o = new_set(g2);
	ck_assert_status(mudsc_stats_replace_buffer(o, b0, n0), MUDSC_E_MISMATCH);
	ck_assert_error_has("point 1 of the set is 'b', of argument 'like' 'c'");
	mudsc_stats_free(t);
	t = NULL;
	ck_assert_status(mudsc_stats_load_buffer_like(&t, b0, n0, o, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("mudsc_stats_load_buffer_like: point 1");
	ck_assert_ptr_null(t);
	ck_assert_status(mudsc_stats_replace_buffer(e, b0, n0 / 2), MUDSC_E_PARSE);
	ck_assert_error_has("mudsc_stats_replace_buffer: argument 'buf'");
	ck_assert_status(mudsc_stats_replace_buffer(NULL, b0, n0), MUDSC_E_INVALID);
	ck_assert_status(mudsc_stats_load_buffer_like(&t, b0, n0, NULL, NULL), MUDSC_E_INVALID);
	mudsc_free(b1);
	b1 = bytes_of(e, &n1);
	ck_assert(memcmp(b1, b2, n2) == 0);
	/* mudsc_error_set: what companion libraries raise */
	ck_assert_int_eq(mudsc_error_set(MUDSC_E_IO, "x: MPI_Bcast failed"), MUDSC_E_IO);
	ck_assert_int_eq(mudsc_error_status(), MUDSC_E_IO);
	ck_assert_str_eq(mudsc_error_message(), "x: MPI_Bcast failed");
	mudsc_free(b0);
	mudsc_free(b1);
	mudsc_free(b2);
	mudsc_stats_free(s);
	mudsc_stats_free(like);
	mudsc_stats_free(e);
	mudsc_stats_free(o);
	mudsc_graph_free(g2);
	mudsc_graph_free(g);
}
END_TEST

Suite *suite_stats(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, test_single_stream_matches_direct);
	tcase_add_test(tc, test_sharded_any_order_equals_single_stream);
	tcase_add_test(tc, test_file_round_trip_bit_exact);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_matcher_set_stats);
	tcase_add_test(tc, test_load_like_and_replace);
	tcase_add_test(tc, test_cross_sets);
	tcase_add_test(tc, test_matcher_cross_sources);
	suite_add_tcase(s, tc);
	return s;
}
