/* Safetensors: round trips, atomic saves and at least 15 kinds of malformed file. */
#define _GNU_SOURCE /* O_TMPFILE, to ask whether the file system supports it */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h" /* mudsc__atomic_write_ex: white box of both save schemes */

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
	const char *header; /* NULL: deep_header() */
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
	{"invalid UTF-8", "{\"\xff\xfe\":{}}", 0, UINT64_MAX, "safetensors header, line 1, column 3: invalid UTF-8"},
	{"duplicate names", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	                    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	 2, UINT64_MAX, "duplicate object key 'a'"},
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
	 1, UINT64_MAX, "too big integer"},
	/* the library's one JSON rule (core/json.h, issue 11) */
	{"duplicate field", "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
	                    "\"data_offsets\":[0,1]}}",
	 1, UINT64_MAX, "duplicate object key 'dtype'"},
	{"duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
	 UINT64_MAX, "duplicate object key 'k'"},
	{"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, UINT64_MAX,
	 "duplicate object key '__metadata__'"},
	{"escaped duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	                           "\"\\u0061\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	 2, UINT64_MAX, "duplicate object key 'a'"},
	/* objects of more than 8 members: the model's maps refuse the repeat */
	{"large metadata with a duplicate key",
	 "{\"__metadata__\":{\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\",\"e\":\"\","
	 "\"f\":\"\",\"g\":\"\",\"h\":\"\",\"i\":\"\",\"\\u0062\":\"\"}}",
	 0, UINT64_MAX, "duplicate object key 'b'"},
	{"many entries with a duplicate name",
	 "{\"__metadata__\":{},\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"c\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"f\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"g\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"h\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"__metadata__\":{}}",
	 0, UINT64_MAX, "duplicate object key '__metadata__'"},
	{"NUL escape", "{\"a\\u0000\":{}}", 0, UINT64_MAX, "\\u0000"},
	{"lone low surrogate", "{\"\\udc00\":{}}", 0, UINT64_MAX, "surrogate"},
	{"high surrogate unpaired", "{\"\\ud800x\":{}}", 0, UINT64_MAX, "surrogate"},
	{"overlong UTF-8", "{\"\xc0\x80\":{}}", 0, UINT64_MAX, "UTF-8"},
	{"UTF-16 surrogate in UTF-8", "{\"\xed\xa0\x80\":{}}", 0, UINT64_MAX, "UTF-8"},
	{"past U+10FFFF", "{\"\xf4\x90\x80\x80\":{}}", 0, UINT64_MAX, "UTF-8"},
	{"control character", "{\"a\tb\":{}}", 0, UINT64_MAX, "control"},
	{"bad escape", "{\"a\\qb\":{}}", 0, UINT64_MAX, "escape"},
	{"leading zero", "{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1,
	 UINT64_MAX, "',' or ']' expected"},
	{"exponent shape", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1,
	 UINT64_MAX, "not an integer"},
	{"string shape", "{\"a\":{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}}", 1,
	 UINT64_MAX, "not an integer"},
	{"minimum integer", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-9223372036854775808],"
	                    "\"data_offsets\":[0,1]}}",
	 1, UINT64_MAX, "negative"},
	{"below the minimum integer", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-9223372036854775809],"
	                              "\"data_offsets\":[0,1]}}",
	 1, UINT64_MAX, "too big integer"},
	{"trailing garbage", "{} x", 0, UINT64_MAX, "end of input expected"},
	{"two objects", "{}{}", 0, UINT64_MAX, "end of input expected"},
	{"trailing comma", "{\"__metadata__\":{},}", 0, UINT64_MAX, "string or '}' expected"},
	{"missing colon", "{\"a\" {}}", 0, UINT64_MAX, "':' expected"},
	{"bare word", "{\"a\":nul}", 0, UINT64_MAX, "invalid token"},
	{"unterminated string", "{\"abc", 0, UINT64_MAX, "premature end"},
	{"nested too deep", NULL, 0, UINT64_MAX, "nesting deeper than 64"},
	{"literal as an entry", "{\"a\":true}", 0, UINT64_MAX, "not an object"},
	{"unknown field with a deep value", "{\"a\":{\"x\":[[[{\"y\":[1,{}]}]]]}}", 0, UINT64_MAX,
	 "unknown field 'x'"},
};

/* "{"x":[[[...]]]}" nested 3000 deep (the limit is 64). */
static char *deep_header(void)
{
	size_t n = 3000, len = 6 + 2 * n + 1;
	char *h = malloc(len + 1), *p = h;
	ck_assert_ptr_nonnull(h);
	p += sprintf(p, "{\"x\":");
	for (size_t i = 0; i < n; i++)
		*p++ = '[';
	for (size_t i = 0; i < n; i++)
		*p++ = ']';
	*p++ = '}';
	*p = '\0';
	return h;
}

START_TEST(malformed_buffers_are_rejected)
{
	const struct bad_case *c = &bad_cases[_i];
	size_t len;
	char *deep = c->header == NULL ? deep_header() : NULL;
	const char *header = deep ? deep : c->header;
	unsigned char *b = st_bytes(header, strlen(header), c->declared_len, c->data_len, &len);
	mudsc_model *m = (mudsc_model *)&len; /* must stay untouched */

	mudsc_status st = mudsc_model_load_buffer(&m, b, len, MUDSC_BORROW);
	ck_assert_msg(st == MUDSC_E_PARSE, "case '%s': got %s (%s)", c->what, mudsc_status_name(st),
	              mudsc_error_message());
	ck_assert_msg(strstr(mudsc_error_message(), c->message_has) != NULL,
	              "case '%s': message '%s' lacks '%s'", c->what, mudsc_error_message(),
	              c->message_has);
	ck_assert_msg(strncmp(mudsc_error_message(), "mudsc_model_load_buffer: ", 25) == 0,
	              "case '%s': message '%s' does not start with the function", c->what,
	              mudsc_error_message());
	ck_assert_ptr_eq(m, (mudsc_model *)&len);
	/* and the same through COPY mode, which must free its copy */
	ck_assert_int_eq(mudsc_model_load_buffer(&m, b, len, MUDSC_COPY), MUDSC_E_PARSE);
	free(b);
	free(deep);
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
	ck_assert_int_eq(strncmp(mudsc_error_message(), "mudsc_model_load: loading '", 27), 0);
	ck_assert_ptr_null(m);
	ck_assert_status(mudsc_model_load_mode(&m, path, MUDSC_LOAD_READ), MUDSC_E_PARSE);
	ck_assert_int_eq(strncmp(mudsc_error_message(), "mudsc_model_load_mode: loading '", 32), 0);
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

/* ---- saved files: their mode, symlinks, interrupted saves (issue 11) ---- */

static mode_t mode_of(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static const char small_text[] = "saved by the test\n";

static mudsc_status write_small(int fd, const char *tmp, void *ctx)
{
	(void)ctx;
	return mudsc__write_all("test", fd, small_text, sizeof small_text - 1, tmp);
}

static int file_is(const char *path, const char *text)
{
	char buf[256] = {0};
	FILE *f = fopen(path, "rb");
	size_t n;
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* _i = 0: the default scheme (O_TMPFILE where supported), 1: the named
 * temporary file every file system supports, 2: O_TMPFILE linked through
 * /proc (what an unprivileged process does). */
static const unsigned scheme_flags[] = {0, MUDSC__ATOMIC_NAMED, MUDSC__ATOMIC_PROC_LINK};

/* Defect 2: a new file gets 0666 & ~umask, a replaced one keeps its mode. */
START_TEST(saved_file_mode)
{
	char path[512];
	mudsc_model *m;
	mode_t old = umask(022);

	make_tmpdir();
	snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
	ck_assert_ok(mudsc__atomic_write_ex("test", path, write_small, NULL, scheme_flags[_i]));
	ck_assert_uint_eq(mode_of(path), 0644);
	unlink(path);
	umask(077);
	ck_assert_ok(mudsc__atomic_write_ex("test", path, write_small, NULL, scheme_flags[_i]));
	ck_assert_uint_eq(mode_of(path), 0600);
	/* replacing keeps the mode, whatever the umask */
	umask(0);
	ck_assert_ok(mudsc__atomic_write_ex("test", path, write_small, NULL, scheme_flags[_i]));
	ck_assert_uint_eq(mode_of(path), 0600);
	ck_assert_int_eq(chmod(path, 0640), 0);
	umask(022);
	ck_assert_ok(mudsc__atomic_write_ex("test", path, write_small, NULL, scheme_flags[_i]));
	ck_assert_uint_eq(mode_of(path), 0640);
	ck_assert(file_is(path, small_text));
	/* and through the public savers */
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_save(m, path));
	ck_assert_uint_eq(mode_of(path), 0600);
	mudsc_model_free(m);
	ck_assert_int_eq(count_entries(tmpdir), 1);
	unlink(path);
	rmdir(tmpdir);
	umask(old);
}
END_TEST

static int is_symlink(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

/* Defect 2: saving through a symbolic link replaces the file the link
 * leads to (keeping its mode); the link itself stays. */
START_TEST(save_through_symlink)
{
	char target[512], link1[512], link2[512], dangling[512], created[512], sub[512];

	make_tmpdir();
	snprintf(sub, sizeof sub, "%s/real", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(target, sizeof target, "%s/real/model.safetensors", tmpdir);
	snprintf(link1, sizeof link1, "%s/latest", tmpdir);
	snprintf(link2, sizeof link2, "%s/current", tmpdir);
	put_file(target, "old", 0600);
	ck_assert_int_eq(symlink("real/model.safetensors", link1), 0); /* relative */
	ck_assert_int_eq(symlink(link1, link2), 0);                     /* absolute, a chain */
	ck_assert_ok(mudsc__atomic_write_ex("test", link2, write_small, NULL, scheme_flags[_i]));
	ck_assert(is_symlink(link1));
	ck_assert(is_symlink(link2));
	ck_assert(file_is(target, small_text));
	ck_assert_uint_eq(mode_of(target), 0600);
	ck_assert_int_eq(count_entries(sub), 1);
	ck_assert_int_eq(count_entries(tmpdir), 3);
	/* a dangling link: the file it names is created */
	snprintf(dangling, sizeof dangling, "%s/dangling", tmpdir);
	snprintf(created, sizeof created, "%s/real/new.safetensors", tmpdir);
	ck_assert_int_eq(symlink("real/new.safetensors", dangling), 0);
	ck_assert_ok(mudsc__atomic_write_ex("test", dangling, write_small, NULL, scheme_flags[_i]));
	ck_assert(is_symlink(dangling));
	ck_assert(file_is(created, small_text));
	/* a loop is refused, naming the path */
	unlink(link1);
	ck_assert_int_eq(symlink("current", link1), 0);
	ck_assert_status(mudsc__atomic_write_ex("test", link1, write_small, NULL, scheme_flags[_i]),
	                 MUDSC_E_IO);
	ck_assert_error_has("latest");
	ck_assert_int_eq(count_entries(tmpdir), 4);
	unlink(link1);
	unlink(link2);
	unlink(dangling);
	unlink(target);
	unlink(created);
	rmdir(sub);
	rmdir(tmpdir);
}
END_TEST

/* A model of `bytes` bytes in one tensor; *pool is owned by the caller. */
static mudsc_model *big_model(size_t bytes, unsigned char **pool)
{
	mudsc_model *m;
	int64_t shape[1] = {(int64_t)bytes};
	*pool = malloc(bytes);
	ck_assert_ptr_nonnull(*pool);
	memset(*pool, 7, bytes);
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "w", MUDSC_DTYPE_U8, 1, shape, *pool, MUDSC_BORROW));
	return m;
}

static int tmpfile_supported(const char *dir)
{
#ifdef O_TMPFILE
	int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
#else
	(void)dir;
	return 0;
#endif
}

/* Defect 3: a save killed by SIGXFSZ (RLIMIT_FSIZE) in the middle of its
 * write leaves the old file and nothing else in the folder. */
START_TEST(save_killed_by_file_size_limit)
{
	char path[512];
	unsigned char *pool;
	mudsc_model *m;
	int status;
	pid_t pid;

	make_tmpdir();
	if (!tmpfile_supported(tmpdir)) {
		rmdir(tmpdir);
		return; /* the fallback scheme cannot promise this */
	}
	snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
	put_file(path, "old", 0644);
	m = big_model((size_t)4 << 20, &pool);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit core = {0, 0}, fsize = {1 << 20, 1 << 20};
		setrlimit(RLIMIT_CORE, &core);
		setrlimit(RLIMIT_FSIZE, &fsize);
		mudsc_model_save(m, path);
		_exit(0); /* not reached: SIGXFSZ ends the child */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGXFSZ);
	ck_assert_int_eq(count_entries(tmpdir), 1);
	ck_assert(file_is(path, "old"));
	unlink(path);
	rmdir(tmpdir);
	mudsc_model_free(m);
	free(pool);
}
END_TEST

static int ready_pipe[2];

/* Writes half a megabyte, says so, and waits to be killed. */
static mudsc_status write_then_wait(int fd, const char *tmp, void *ctx)
{
	static unsigned char half[1 << 19];
	(void)ctx;
	if (mudsc__write_all("test", fd, half, sizeof half, tmp) != MUDSC_OK)
		_exit(3);
	if (write(ready_pipe[1], "x", 1) != 1)
		_exit(4);
	for (;;)
		pause();
	return MUDSC_OK;
}

/* Defect 3: a save killed by SIGKILL mid-write shows nothing partial, not
 * even while it is being written. */
START_TEST(save_killed_by_sigkill)
{
	char path[512], c;
	int status;
	pid_t pid;

	make_tmpdir();
	if (!tmpfile_supported(tmpdir)) {
		rmdir(tmpdir);
		return;
	}
	snprintf(path, sizeof path, "%s/graph.json", tmpdir);
	ck_assert_int_eq(pipe(ready_pipe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready_pipe[0]);
		mudsc__atomic_write_ex("test", path, write_then_wait, NULL, 0);
		_exit(5);
	}
	close(ready_pipe[1]);
	ck_assert_int_eq(read(ready_pipe[0], &c, 1), 1);
	ck_assert_int_eq(count_entries(tmpdir), 0); /* mid-write: nothing to see */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	close(ready_pipe[0]);
	ck_assert_int_eq(count_entries(tmpdir), 0);
	rmdir(tmpdir);
}
END_TEST

/* ---- files that change under a loaded model (issue 11, defect 9) ---- */

/* Save a model of 64 KiB of 0x07 bytes to path; returns its file size. */
static long save_sevens(const char *path)
{
	unsigned char *pool;
	mudsc_model *m = big_model((size_t)64 << 10, &pool);
	struct stat sb;
	ck_assert_ok(mudsc_model_save(m, path));
	mudsc_model_free(m);
	free(pool);
	ck_assert_int_eq(stat(path, &sb), 0);
	return (long)sb.st_size;
}

static int all_sevens(const mudsc_model *m)
{
	mudsc_tensor t;
	const unsigned char *p;
	ck_assert_ok(mudsc_model_find(&t, m, "w"));
	p = t.data;
	for (size_t i = 0; i < t.nbytes; i++)
		if (p[i] != 7)
			return 0;
	return t.nbytes == (size_t)64 << 10;
}

/* Overwrite the file's bytes in place (no rename), then cut it short. */
static void rewrite_then_truncate(const char *path, long size)
{
	static unsigned char junk[(size_t)64 << 10];
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	memset(junk, 0x55, sizeof junk);
	ck_assert_int_eq(pwrite(fd, junk, sizeof junk, size - (long)sizeof junk),
	                 (ssize_t)sizeof junk);
	ck_assert_int_eq(ftruncate(fd, 16), 0);
	close(fd);
}

START_TEST(load_read_mode_is_a_private_copy)
{
	char path[512];
	mudsc_model *m = NULL;
	long size;

	make_tmpdir();
	snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
	size = save_sevens(path);
	ck_assert_ok(mudsc_model_load_mode(&m, path, MUDSC_LOAD_READ));
	rewrite_then_truncate(path, size);
	ck_assert(all_sevens(m)); /* neither the rewrite nor the cut reached it */
	mudsc_model_free(m);
	m = NULL;
	/* the file is now 16 bytes: a parse error naming it, in either mode */
	ck_assert_status(mudsc_model_load_mode(&m, path, MUDSC_LOAD_READ), MUDSC_E_PARSE);
	ck_assert_error_has("model.safetensors");
	ck_assert_status(mudsc_model_load_mode(&m, path, MUDSC_LOAD_MAP), MUDSC_E_PARSE);
	ck_assert_status(mudsc_model_load_mode(&m, path, (mudsc_load_mode)7), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_model_load_mode: argument 'mode' = 7");
	ck_assert_status(mudsc_model_load_mode(&m, tmpdir, MUDSC_LOAD_READ), MUDSC_E_IO);
	ck_assert_error_has("not a regular file");
	ck_assert_status(mudsc_model_load_mode(NULL, path, MUDSC_LOAD_READ), MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_load_mode(&m, NULL, MUDSC_LOAD_READ), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_model_load_mode: argument 'path'");
	ck_assert_ptr_null(m);
	/* an empty file reads as a parse error, not a crash */
	put_file(path, "", 0644);
	ck_assert_status(mudsc_model_load_mode(&m, path, MUDSC_LOAD_READ), MUDSC_E_PARSE);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

/* What model.h documents for the mapped mode: a truncated file raises
 * SIGBUS on the next read of a cut page (in a child, which it kills). */
START_TEST(load_map_mode_truncation_is_sigbus)
{
	char path[512];
	int status;
	pid_t pid;
	long size;

	make_tmpdir();
	snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
	size = save_sevens(path);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mudsc_model *m = NULL;
		struct rlimit core = {0, 0};
		setrlimit(RLIMIT_CORE, &core);
		signal(SIGBUS, SIG_DFL); /* a sanitizer's handler would turn it into an exit */
		if (mudsc_model_load_mode(&m, path, MUDSC_LOAD_MAP) != MUDSC_OK)
			_exit(2);
		mudsc_tensor t;
		if (mudsc_model_find(&t, m, "w") != MUDSC_OK)
			_exit(3);
		rewrite_then_truncate(path, size);
		/* the last byte lies pages past the new end of the file */
		_exit(((const volatile unsigned char *)t.data)[t.nbytes - 1]); /* not reached */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS, "child status %d", status);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

/* What the header reader must accept, and decode right. */
START_TEST(header_json_accepted_and_decoded)
{
	static const char good[] =
	    "{\n  \"w\\u00e9\" : {\"data_offsets\" : [ 2 , 4 ], \"shape\":[ 1, 2 ],"
	    " \"dtype\":\"U8\"},\n  \"a\\/b\": {\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[-0,2]},"
	    " \"__metadata__\" : { \"caf\\u00e9\" : \"\\ud83d\\ude00 \\\"q\\\" \\\\ \\b\\f\\n\\r\\t\","
	    " \"k\":\"\"}\n}\n \t\r";
	mudsc_model *m = NULL;
	mudsc_tensor t;
	size_t len;
	unsigned char *b = st_bytes(good, sizeof good - 1, UINT64_MAX, 4, &len);

	ck_assert_ok(mudsc_model_load_buffer(&m, b, len, MUDSC_BORROW));
	ck_assert_uint_eq(mudsc_model_count(m), 2);
	ck_assert_ok(mudsc_model_at(&t, m, 0));
	ck_assert_str_eq(t.name, "w\xc3\xa9");
	ck_assert_int_eq(t.rank, 2);
	ck_assert_int_eq(t.shape[0], 1);
	ck_assert_int_eq(t.shape[1], 2);
	ck_assert_ptr_eq(t.data, b + 8 + sizeof good - 1 + 2);
	ck_assert_ok(mudsc_model_at(&t, m, 1));
	ck_assert_str_eq(t.name, "a/b");
	ck_assert_ptr_eq(t.data, b + 8 + sizeof good - 1);
	ck_assert_str_eq(mudsc_model_get_meta(m, "caf\xc3\xa9"), "\xf0\x9f\x98\x80 \"q\" \\ \b\f\n\r\t");
	ck_assert_str_eq(mudsc_model_get_meta(m, "k"), "");
	mudsc_model_free(m);
	free(b);
}
END_TEST

/* Defect 7: metadata and tensor lookups are hash lookups, so a header of
 * 100,000 metadata entries and 100,000 tensors loads, and answers every
 * lookup, in well under a second (the linear metadata scan took minutes;
 * this test case has a 30 s timeout). */
START_TEST(large_header_is_linear)
{
	const long n = 100000;
	size_t cap = (size_t)n * 100 + 64, len = 0, total;
	char *h = malloc(cap), key[32], want[32];
	unsigned char *b;
	mudsc_model *m = NULL;

	ck_assert_ptr_nonnull(h);
	len += (size_t)sprintf(h + len, "{\"__metadata__\":{");
	for (long i = 0; i < n; i++)
		len += (size_t)sprintf(h + len, "%s\"key%ld\":\"v%ld\"", i ? "," : "", i, i);
	len += (size_t)sprintf(h + len, "}");
	for (long i = 0; i < n; i++) /* in reverse offset order: the sort is exercised */
		len += (size_t)sprintf(h + len, ",\"t%ld\":{\"dtype\":\"U8\",\"shape\":[1],"
		                                "\"data_offsets\":[%ld,%ld]}",
		                       i, n - 1 - i, n - i);
	len += (size_t)sprintf(h + len, "}");
	b = st_bytes(h, len, UINT64_MAX, (size_t)n, &total);
	free(h);
	ck_assert_ok(mudsc_model_load_buffer(&m, b, total, MUDSC_BORROW));
	ck_assert_uint_eq(mudsc_model_meta_count(m), (size_t)n);
	ck_assert_uint_eq(mudsc_model_count(m), (size_t)n);
	for (long i = 0; i < n; i++) {
		mudsc_tensor t;
		snprintf(key, sizeof key, "key%ld", i);
		snprintf(want, sizeof want, "v%ld", i);
		ck_assert_str_eq(mudsc_model_get_meta(m, key), want);
		snprintf(key, sizeof key, "t%ld", i);
		ck_assert_ok(mudsc_model_find(&t, m, key));
		ck_assert_ptr_eq(t.data, b + total - (size_t)n + (size_t)(n - 1 - i));
	}
	/* and set_meta on a model with many entries replaces in place */
	ck_assert_ok(mudsc_model_set_meta(m, "key5", "new"));
	ck_assert_str_eq(mudsc_model_get_meta(m, "key5"), "new");
	ck_assert_uint_eq(mudsc_model_meta_count(m), (size_t)n);
	mudsc_model_free(m);
	free(b);
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
	tcase_add_loop_test(tc, saved_file_mode, 0, 3);
	tcase_add_loop_test(tc, save_through_symlink, 0, 3);
	tcase_add_test(tc, save_killed_by_file_size_limit);
	tcase_add_test(tc, save_killed_by_sigkill);
	tcase_add_test(tc, load_read_mode_is_a_private_copy);
	tcase_add_test(tc, load_map_mode_truncation_is_sigbus);
	tcase_add_test(tc, header_json_accepted_and_decoded);
	suite_add_tcase(s, tc);
	tc = tcase_create("large");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, large_header_is_linear);
	suite_add_tcase(s, tc);
	return s;
}
