/* Safetensors: round trips, atomic saves and at least 15 kinds of malformed file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

/* Bytes of a safetensors file: 8-byte LE length (declared_len, or the
 * header's own length when declared_len is UINT64_MAX), the header, and
 * data_len bytes of data. */
static unsigned char *st_bytes(const char *header, size_t header_len, uint64_t declared_len,
                               size_t data_len, size_t *out_len)
{
	size_t n = 8 + header_len + data_len;
	unsigned char *b = calloc(1, n);
	uint64_t l = declared_len == UINT64_MAX ? header_len : declared_len;
	ck_assert_ptr_nonnull(b);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(l >> (8 * i));
	memcpy(b + 8, header, header_len);
	for (size_t i = 0; i < data_len; i++)
		b[8 + header_len + i] = (unsigned char)i;
	*out_len = n;
	return b;
}

struct bad_case {
	const char *what;
	const char *header; /* NULL: use raw bytes below */
	size_t data_len;
	uint64_t declared_len;
	const char *message_has;
};

#define T1 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
static const struct bad_case bad_cases[] = {
	{"header length over the cap", "{}", 0, 100000001ull, "cap"},
	{"header length past the end", "{}", 0, 64, "past the end"},
	{"not starting with a brace", " {}", 0, UINT64_MAX, "start"},
	{"top level array", "[1,2]", 0, UINT64_MAX, "start"},
	{"truncated JSON", "{\"a\":{\"dtype\":\"F32\"", 0, UINT64_MAX, "line 1"},
	{"invalid UTF-8", "{\"\xff\xfe\":{}}", 0, UINT64_MAX, "JSON"},
	{"duplicate names", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	                    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	 2, UINT64_MAX, "duplicate"},
	{"unknown dtype", "{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	 UINT64_MAX, "F31"},
	{"negative shape", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
	 UINT64_MAX, "negative"},
	{"fractional shape", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,2]}}", 2,
	 UINT64_MAX, "integer"},
	{"rank over 8", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
	                "\"data_offsets\":[0,1]}}",
	 1, UINT64_MAX, "rank"},
	{"shape product overflows",
	 "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
	 UINT64_MAX, "overflow"},
	{"offsets reversed", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[3,1]}}", 3,
	 UINT64_MAX, "end < begin"},
	{"offsets not a pair", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
	 UINT64_MAX, "data_offsets"},
	{"size does not match shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}",
	 8, UINT64_MAX, "need 16"},
	{"hole between tensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
	                         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
	 5, UINT64_MAX, "hole"},
	{"overlapping tensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
	                        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}",
	 4, UINT64_MAX, "overlaps"},
	{"trailing bytes", T1 "}", 9, UINT64_MAX, "cover 8 bytes"},
	{"data past the end", T1 "}", 7, UINT64_MAX, "cover 8 bytes"},
	{"metadata value not a string", "{\"__metadata__\":{\"k\":1}}", 0, UINT64_MAX, "'k'"},
	{"metadata not an object", "{\"__metadata__\":[]}", 0, UINT64_MAX, "__metadata__"},
	{"unknown tensor field", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
	                         "\"extra\":1}}",
	 1, UINT64_MAX, "extra"},
	{"missing data_offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, UINT64_MAX, "missing"},
	{"tensor entry not an object", "{\"a\":[1]}", 0, UINT64_MAX, "not an object"},
	{"empty tensor name", "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
	 UINT64_MAX, "empty name"},
	{"offset too large", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
	                     "\"data_offsets\":[0,99999999999999999999]}}",
	 1, UINT64_MAX, "JSON"},
};

START_TEST(malformed_buffers_are_rejected)
{
	const struct bad_case *c = &bad_cases[_i];
	size_t len;
	unsigned char *b = st_bytes(c->header, strlen(c->header), c->declared_len, c->data_len, &len);
	mudsc_model *m = (mudsc_model *)&len; /* must stay untouched */

	mudsc_status st = mudsc_model_load_buffer(&m, b, len, MUDSC_BORROW);
	ck_assert_msg(st == MUDSC_E_PARSE, "case '%s': got %s (%s)", c->what, mudsc_status_name(st),
	              mudsc_error_message());
	ck_assert_msg(strstr(mudsc_error_message(), c->message_has) != NULL,
	              "case '%s': message '%s' lacks '%s'", c->what, mudsc_error_message(),
	              c->message_has);
	ck_assert_ptr_eq(m, (mudsc_model *)&len);
	/* and the same through COPY mode, which must free its copy */
	ck_assert_int_eq(mudsc_model_load_buffer(&m, b, len, MUDSC_COPY), MUDSC_E_PARSE);
	free(b);
}
END_TEST

START_TEST(short_and_nul_inputs)
{
	unsigned char tiny[5] = {1, 0, 0, 0, 0};
	mudsc_model *m = NULL;
	size_t len;
	static const char nul_header[] = "{\"a\0\":{}}";
	unsigned char *b;

	ck_assert_status(mudsc_model_load_buffer(&m, tiny, sizeof tiny, MUDSC_BORROW), MUDSC_E_PARSE);
	ck_assert_error_has("shorter");
	ck_assert_status(mudsc_model_load_buffer(&m, tiny, 0, MUDSC_BORROW), MUDSC_E_PARSE);
	b = st_bytes(nul_header, sizeof nul_header - 1, UINT64_MAX, 0, &len);
	ck_assert_status(mudsc_model_load_buffer(&m, b, len, MUDSC_BORROW), MUDSC_E_PARSE);
	free(b);
	ck_assert_status(mudsc_model_load_buffer(NULL, tiny, 5, MUDSC_BORROW), MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_load_buffer(&m, NULL, 5, MUDSC_BORROW), MUDSC_E_INVALID);
	ck_assert_ptr_null(m);
}
END_TEST

/* A model holding one tensor of every dtype plus metadata. */
static mudsc_model *every_dtype_model(unsigned char *pool)
{
	mudsc_model *m;
	char name[32];
	int64_t shape[3] = {2, 3, 1};
	ck_assert_ok(mudsc_model_new(&m));
	for (int i = 0; i < 8 * 6; i++)
		pool[i] = (unsigned char)(i * 37 + 11);
	for (int d = 0; d < MUDSC_DTYPE_COUNT_; d++) {
		snprintf(name, sizeof name, "t.%s", mudsc_dtype_name((mudsc_dtype)d));
		ck_assert_ok(mudsc_model_add(m, name, (mudsc_dtype)d, 3, shape, pool, MUDSC_BORROW));
	}
	ck_assert_ok(mudsc_model_add(m, "scalar", MUDSC_DTYPE_I64, 0, NULL, pool, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_set_meta(m, "format", "pt"));
	ck_assert_ok(mudsc_model_set_meta(m, "note", "caf\xc3\xa9"));
	return m;
}

static void assert_same_models(const mudsc_model *a, const mudsc_model *b)
{
	mudsc_tensor x, y;
	ck_assert_uint_eq(mudsc_model_count(a), mudsc_model_count(b));
	for (size_t i = 0; i < mudsc_model_count(a); i++) {
		ck_assert_ok(mudsc_model_at(&x, a, i));
		ck_assert_ok(mudsc_model_at(&y, b, i));
		ck_assert_str_eq(x.name, y.name);
		ck_assert_int_eq(x.dtype, y.dtype);
		ck_assert_int_eq(x.rank, y.rank);
		for (int d = 0; d < MUDSC_MAX_RANK; d++)
			ck_assert_int_eq(x.shape[d], y.shape[d]);
		ck_assert_uint_eq(x.nbytes, y.nbytes);
		ck_assert_int_eq(memcmp(x.data, y.data, x.nbytes), 0);
	}
	ck_assert_uint_eq(mudsc_model_meta_count(a), mudsc_model_meta_count(b));
	ck_assert_str_eq(mudsc_model_get_meta(b, "note"), "caf\xc3\xa9");
}

START_TEST(buffer_round_trip_every_dtype)
{
	unsigned char pool[64];
	mudsc_model *m = every_dtype_model(pool), *back = NULL;
	void *buf;
	size_t len;
	uint64_t hlen = 0;

	ck_assert_ok(mudsc_model_save_buffer(&buf, &len, m));
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | ((unsigned char *)buf)[i];
	ck_assert_uint_eq(hlen % 8, 0); /* data starts 8-byte aligned */
	ck_assert_ok(mudsc_model_load_buffer(&back, buf, len, MUDSC_COPY));
	mudsc_free(buf); /* COPY mode: the model no longer needs buf */
	assert_same_models(m, back);
	mudsc_model_free(back);
	mudsc_model_free(m);
}
END_TEST

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/mudsc-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

START_TEST(file_round_trip_and_atomic_replace)
{
	unsigned char pool[64];
	char path[512];
	mudsc_model *m = every_dtype_model(pool), *back = NULL, *small;
	float one = 1.0f;

	make_tmpdir();
	snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
	ck_assert_ok(mudsc_model_save(m, path));
	ck_assert_ok(mudsc_model_load(&back, path));
	assert_same_models(m, back);
	/* Overwrite the file the loaded model maps: the mapping keeps the old bytes. */
	ck_assert_ok(mudsc_model_new(&small));
	ck_assert_ok(mudsc_model_add(small, "x", MUDSC_DTYPE_F32, 0, NULL, &one, MUDSC_COPY));
	ck_assert_ok(mudsc_model_save(small, path));
	assert_same_models(m, back);
	ck_assert_int_eq(count_entries(tmpdir), 1); /* no temporary file left */
	mudsc_model_free(back);
	ck_assert_ok(mudsc_model_load(&back, path));
	ck_assert_uint_eq(mudsc_model_count(back), 1);
	mudsc_model_free(back);
	unlink(path);
	rmdir(tmpdir);
	mudsc_model_free(small);
	mudsc_model_free(m);
}
END_TEST

START_TEST(io_errors)
{
	mudsc_model *m = NULL, *empty;
	char path[512];
	FILE *f;

	make_tmpdir();
	ck_assert_ok(mudsc_model_new(&empty));
	snprintf(path, sizeof path, "%s/missing/model.safetensors", tmpdir);
	ck_assert_status(mudsc_model_save(empty, path), MUDSC_E_IO);
	ck_assert_error_has("missing");
	ck_assert_status(mudsc_model_load(&m, path), MUDSC_E_IO);
	ck_assert_status(mudsc_model_load(&m, tmpdir), MUDSC_E_IO); /* a folder */
	snprintf(path, sizeof path, "%s/garbage.safetensors", tmpdir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs("not a safetensors file at all", f);
	fclose(f);
	ck_assert_status(mudsc_model_load(&m, path), MUDSC_E_PARSE);
	ck_assert_error_has("garbage.safetensors"); /* the path is named */
	ck_assert_ptr_null(m);
	unlink(path);
	snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
	ck_assert_ok(mudsc_model_save(empty, path));
	ck_assert_ok(mudsc_model_load(&m, path));
	ck_assert_uint_eq(mudsc_model_count(m), 0);
	mudsc_model_free(m);
	unlink(path);
	ck_assert_int_eq(count_entries(tmpdir), 0);
	rmdir(tmpdir);
	ck_assert_status(mudsc_model_save(empty, ""), MUDSC_E_INVALID);
	mudsc_model_free(empty);
}
END_TEST

Suite *suite_safetensors(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, malformed_buffers_are_rejected, 0,
	                    (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, short_and_nul_inputs);
	tcase_add_test(tc, buffer_round_trip_every_dtype);
	tcase_add_test(tc, file_round_trip_and_atomic_replace);
	tcase_add_test(tc, io_errors);
	suite_add_tcase(s, tc);
	return s;
}
