/* mudsc_matcher_merge_to_file() and _transform_to_file(): the file holds
 * exactly the bytes of mudsc_matcher_merge() + mudsc_model_save() (align
 * and zip, one and three threads, F32 and F16 tensors, an unbound float
 * and an integer tensor), also when every bound tensor is written in
 * blocks of rows (the block size lowered to one row and to a few), and a
 * cancel through the progress callback or a failure leaves no file and an
 * existing file unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matcher/merge_apply.h"
#include "suites.h"
#include "testutil.h"

enum { D_IN = 7, H1 = 12, H2 = 9, D_OUT = 5 };

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static void add_random(mudsc_model *m, const char *name, mudsc_dtype dt, int32_t rank,
                       const int64_t *shape, uint64_t *seed)
{
	size_t n = 1;
	for (int32_t d = 0; d < rank; d++)
		n *= (size_t)shape[d];
	double *v = malloc(n * sizeof *v);
	void *bytes = malloc(n * 8);
	for (size_t k = 0; k < n; k++)
		v[k] = lcg(seed);
	if (dt == MUDSC_DTYPE_F32)
		for (size_t k = 0; k < n; k++)
			((float *)bytes)[k] = (float)v[k];
	else if (dt == MUDSC_DTYPE_I64)
		for (size_t k = 0; k < n; k++)
			((int64_t *)bytes)[k] = (int64_t)(v[k] * 1000);
	else /* F16 from a simple pattern of exactly representable values */
		for (size_t k = 0; k < n; k++)
			((uint16_t *)bytes)[k] = (uint16_t)(0x3000 + (uint16_t)(v[k] * 1024 + 512));
	ck_assert_ok(mudsc_model_add(m, name, dt, rank, shape, bytes, MUDSC_COPY));
	free(v);
	free(bytes);
}

static mudsc_model *random_model(uint64_t seed)
{
	mudsc_model *m;
	int64_t w0[2] = {H1, D_IN}, w1[2] = {H2, H1}, w2[2] = {D_OUT, H2};
	int64_t b0 = H1, b1 = H2, b2 = D_OUT, one = 1, extra[2] = {3, 4};
	ck_assert_ok(mudsc_model_new(&m));
	add_random(m, "layers.0.weight", MUDSC_DTYPE_F32, 2, w0, &seed);
	add_random(m, "layers.0.bias", MUDSC_DTYPE_F32, 1, &b0, &seed);
	add_random(m, "steps", MUDSC_DTYPE_I64, 1, &one, &seed);
	add_random(m, "layers.1.weight", MUDSC_DTYPE_F16, 2, w1, &seed);
	add_random(m, "layers.1.bias", MUDSC_DTYPE_F16, 1, &b1, &seed);
	add_random(m, "extra", MUDSC_DTYPE_F32, 2, extra, &seed);
	add_random(m, "layers.2.weight", MUDSC_DTYPE_F32, 2, w2, &seed);
	add_random(m, "layers.2.bias", MUDSC_DTYPE_F32, 1, &b2, &seed);
	return m;
}

struct fx {
	mudsc_model *m[3];
	mudsc_graph *g;
	char dir[64], path[96];
};

static void fx_setup(struct fx *f)
{
	int64_t hidden[2] = {H1, H2};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	o.n_hidden = 2;
	o.hidden = hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&f->g, &o));
	for (int i = 0; i < 3; i++)
		f->m[i] = random_model(11 + 7 * (uint64_t)i);
	snprintf(f->dir, sizeof f->dir, "/tmp/mudsc-mergefile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/out.safetensors", f->dir);
}

static void fx_teardown(struct fx *f)
{
	for (int i = 0; i < 3; i++)
		mudsc_model_free(f->m[i]);
	mudsc_graph_free(f->g);
	unlink(f->path);
	ck_assert_int_eq(rmdir(f->dir), 0); /* nothing else left in the folder */
}

static void *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	void *buf = malloc(*len + 1);
	ck_assert_uint_eq(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

static void assert_file_is(const char *path, const mudsc_model *expect)
{
	void *want, *got;
	size_t want_len, got_len;
	ck_assert_ok(mudsc_model_save_buffer(&want, &want_len, expect));
	got = slurp(path, &got_len);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_msg(memcmp(got, want, want_len) == 0, "file bytes differ from merge + save");
	mudsc_free(want);
	free(got);
}

static mudsc_matcher *ran(struct fx *f, int32_t method, int32_t threads, int32_t n)
{
	mudsc_matcher *m;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	o.method = method;
	o.threads = threads;
	ck_assert_ok(mudsc_matcher_new(&m, f->g, (const mudsc_model *const *)f->m, n, &o));
	ck_assert_ok(mudsc_matcher_run(m));
	return m;
}

/* _i: method (align, zip) x threads (1, 3) x models (2, 3). */
START_TEST(file_is_merge_then_save)
{
	struct fx f;
	int32_t method = _i & 1, threads = (_i & 2) ? 3 : 1, n = (_i & 4) ? 3 : 2;
	const double w3[3] = {0.5, 0.25, 0.25}, w2[2] = {0.7, 0.3};
	mudsc_model *merged;
	fx_setup(&f);
	mudsc_matcher *m = ran(&f, method, threads, n);

	/* whole tensors; every bound tensor in blocks of one row (one thread) or
	 * of a few rows (three threads: sub-blocks side by side) */
	const size_t blocks[2] = {MUDSC__MERGE_BLOCK, threads == 1 ? 1 : 3 * H1};
	for (int b = 0; b < 2; b++) {
		mudsc__merge_block = blocks[b];
		ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
		ck_assert_ok(mudsc_matcher_merge_to_file(m, f.path, NULL));
		assert_file_is(f.path, merged);
		mudsc_model_free(merged);

		ck_assert_ok(mudsc_matcher_merge(&merged, m, n == 3 ? w3 : w2));
		ck_assert_ok(mudsc_matcher_merge_to_file(m, f.path, n == 3 ? w3 : w2));
		assert_file_is(f.path, merged);
		mudsc_model_free(merged);

		for (int32_t i = 0; i < n; i++) {
			ck_assert_ok(mudsc_matcher_transform(&merged, m, i));
			ck_assert_ok(mudsc_matcher_transform_to_file(m, f.path, i));
			assert_file_is(f.path, merged);
			mudsc_model_free(merged);
		}
	}
	mudsc__merge_block = MUDSC__MERGE_BLOCK;
	mudsc_matcher_free(m);
	fx_teardown(&f);
}
END_TEST

struct calls {
	int n, cancel_at, last_point;
	double last_score;
	int sweeps_ok;
};

static int count_progress(int64_t point, int32_t sweep, double score, void *user)
{
	struct calls *c = user;
	if (sweep != -1)
		return 0; /* the run's own calls */
	c->sweeps_ok &= point == c->n; /* tensors in order, from 0 */
	c->n++;
	c->last_point = (int)point;
	c->last_score = score;
	return c->cancel_at >= 0 && point == c->cancel_at;
}

START_TEST(cancel_and_failure_leave_nothing)
{
	struct fx f;
	struct calls c = {0, -1, -1, -1.0, 1};
	mudsc_matcher *m;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	size_t len0, len1;
	fx_setup(&f);
	o.progress = count_progress;
	o.progress_user = &c;
	ck_assert_ok(mudsc_matcher_new(&m, f.g, (const mudsc_model *const *)f.m, 2, &o));
	ck_assert_ok(mudsc_matcher_run(m));

	/* a full write: one call per tensor and a last one with score 1 */
	ck_assert_ok(mudsc_matcher_merge_to_file(m, f.path, NULL));
	ck_assert_int_eq(c.n, 9);
	ck_assert_int_eq(c.last_point, 8);
	ck_assert(c.last_score == 1.0);
	ck_assert(c.sweeps_ok);
	void *before = slurp(f.path, &len0);

	/* cancelled at tensor 3 over an existing file: unchanged, nothing else left */
	c = (struct calls){0, 3, -1, -1.0, 1};
	ck_assert_status(mudsc_matcher_transform_to_file(m, f.path, 1), MUDSC_E_CANCELLED);
	ck_assert_error_has("mudsc_matcher_transform_to_file: cancelled");
	void *after = slurp(f.path, &len1);
	ck_assert_uint_eq(len0, len1);
	ck_assert(memcmp(before, after, len0) == 0);
	free(after);
	free(before);

	/* cancelled before the first tensor, no file there before: none after */
	unlink(f.path);
	c = (struct calls){0, 0, -1, -1.0, 1};
	ck_assert_status(mudsc_matcher_merge_to_file(m, f.path, NULL), MUDSC_E_CANCELLED);
	ck_assert_int_eq(access(f.path, F_OK), -1);
	mudsc_matcher_free(m);
	fx_teardown(&f); /* rmdir fails if a temporary file was left */
}
END_TEST

Suite *suite_merge_file(void)
{
	Suite *s = suite_create("merge_file");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, file_is_merge_then_save, 0, 8);
	tcase_add_test(tc, cancel_and_failure_leave_nothing);
	suite_add_tcase(s, tc);
	return s;
}
