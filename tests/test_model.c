/* mudsc_model: tensors by copy and borrow, lookup, order, removal, metadata, freezing. */
#include <stdio.h>

#include "suites.h"
#include "testutil.h"

static mudsc_model *make_model(void)
{
	mudsc_model *m = NULL;
	ck_assert_ok(mudsc_model_new(&m));
	return m;
}

START_TEST(add_copy_and_borrow)
{
	float w[6] = {1, 2, 3, 4, 5, 6};
	int64_t shape[2] = {2, 3};
	mudsc_model *m = make_model();
	mudsc_tensor t;

	ck_assert_ok(mudsc_model_add(m, "copy", MUDSC_DTYPE_F32, 2, shape, w, MUDSC_COPY));
	ck_assert_ok(mudsc_model_add(m, "borrow", MUDSC_DTYPE_F32, 2, shape, w, MUDSC_BORROW));
	w[0] = 100; /* the copy must not see this, the borrow must */
	ck_assert_ok(mudsc_model_find(&t, m, "copy"));
	ck_assert(((const float *)t.data)[0] == 1.0f);
	ck_assert_ptr_ne(t.data, w);
	ck_assert_uint_eq(t.nbytes, 24);
	ck_assert_int_eq(t.rank, 2);
	ck_assert_int_eq(t.shape[1], 3);
	ck_assert_int_eq(t.shape[2], 0);
	ck_assert_ok(mudsc_model_find(&t, m, "borrow"));
	ck_assert_ptr_eq(t.data, w);
	ck_assert_ok(mudsc_model_find(NULL, m, "borrow"));
	mudsc_model_free(m);
}
END_TEST

START_TEST(scalar_and_empty_tensors)
{
	int64_t scalar = 42;
	int64_t zero_shape[3] = {4, 0, 2};
	mudsc_model *m = make_model();
	mudsc_tensor t;

	ck_assert_ok(mudsc_model_add(m, "num_batches_tracked", MUDSC_DTYPE_I64, 0, NULL, &scalar,
	                             MUDSC_COPY));
	ck_assert_ok(mudsc_model_add(m, "empty", MUDSC_DTYPE_F16, 3, zero_shape, NULL, MUDSC_COPY));
	ck_assert_ok(mudsc_model_find(&t, m, "num_batches_tracked"));
	ck_assert_int_eq(t.rank, 0);
	ck_assert_uint_eq(t.nbytes, 8);
	ck_assert_int_eq(*(const int64_t *)t.data, 42);
	ck_assert_ok(mudsc_model_find(&t, m, "empty"));
	ck_assert_uint_eq(t.nbytes, 0);
	mudsc_model_free(m);
}
END_TEST

START_TEST(insertion_order_and_removal)
{
	char name[32];
	uint8_t byte = 7;
	int64_t one = 1;
	mudsc_model *m = make_model();
	mudsc_tensor t;

	/* enough names to force the name table to grow several times */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "layer%03d.weight", 99 - i);
		ck_assert_ok(mudsc_model_add(m, name, MUDSC_DTYPE_U8, 1, &one, &byte, MUDSC_COPY));
	}
	ck_assert_uint_eq(mudsc_model_count(m), 100);
	ck_assert_ok(mudsc_model_remove(m, "layer050.weight"));
	ck_assert_status(mudsc_model_remove(m, "layer050.weight"), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("layer050.weight");
	ck_assert_uint_eq(mudsc_model_count(m), 99);
	for (size_t i = 0, k = 0; i < 100; i++) {
		if (i == 49)
			continue; /* 99 - 49 = 50 was removed */
		snprintf(name, sizeof name, "layer%03zu.weight", 99 - i);
		ck_assert_ok(mudsc_model_at(&t, m, k++));
		ck_assert_str_eq(t.name, name);
		ck_assert_ok(mudsc_model_find(&t, m, name));
		ck_assert_str_eq(t.name, name);
	}
	ck_assert_status(mudsc_model_at(&t, m, 99), MUDSC_E_RANGE);
	ck_assert_status(mudsc_model_find(&t, m, "layer050.weight"), MUDSC_E_NOT_FOUND);
	mudsc_model_free(m);
}
END_TEST

START_TEST(bad_arguments)
{
	float x = 1;
	int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	int64_t neg = -2;
	int64_t huge[2] = {INT64_MAX / 2, 4};
	mudsc_model *m = make_model();

	ck_assert_status(mudsc_model_add(NULL, "a", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, NULL, MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, "", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, "a", (mudsc_dtype)77, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 9, shape, &x, MUDSC_COPY),
	                 MUDSC_E_SHAPE);
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 1, &neg, &x, MUDSC_COPY),
	                 MUDSC_E_SHAPE);
	ck_assert_error_has("negative");
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 2, huge, &x, MUDSC_BORROW),
	                 MUDSC_E_SHAPE);
	ck_assert_error_has("overflow");
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 1, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 0, NULL, NULL, MUDSC_COPY),
	                 MUDSC_E_INVALID);
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 0, NULL, &x, (mudsc_add_mode)5),
	                 MUDSC_E_INVALID);
	ck_assert_ok(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY));
	ck_assert_status(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_EXISTS);
	ck_assert_uint_eq(mudsc_model_count(m), 1); /* failed adds left nothing behind */
	ck_assert_uint_eq(mudsc_model_count(NULL), 0);
	mudsc_model_free(m);
}
END_TEST

START_TEST(metadata)
{
	mudsc_model *m = make_model();
	const char *k, *v;

	ck_assert_ptr_null(mudsc_model_get_meta(m, "format"));
	ck_assert_ok(mudsc_model_set_meta(m, "format", "pt"));
	ck_assert_ok(mudsc_model_set_meta(m, "merged_by", "mudsc"));
	ck_assert_ok(mudsc_model_set_meta(m, "format", "np"));
	ck_assert_uint_eq(mudsc_model_meta_count(m), 2);
	ck_assert_str_eq(mudsc_model_get_meta(m, "format"), "np");
	ck_assert_ok(mudsc_model_meta_at(&k, &v, m, 1));
	ck_assert_str_eq(k, "merged_by");
	ck_assert_str_eq(v, "mudsc");
	ck_assert_status(mudsc_model_meta_at(&k, &v, m, 2), MUDSC_E_RANGE);
	ck_assert_status(mudsc_model_set_meta(m, "k", NULL), MUDSC_E_INVALID);
	mudsc_model_free(m);
}
END_TEST

START_TEST(frozen_models_refuse_changes)
{
	float x = 1;
	mudsc_model *m = make_model();
	ck_assert_ok(mudsc_model_add(m, "a", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY));
	ck_assert_int_eq(mudsc_model_is_frozen(m), 0);
	ck_assert_ok(mudsc_model_freeze(m));
	ck_assert_ok(mudsc_model_freeze(m));
	ck_assert_int_eq(mudsc_model_is_frozen(m), 1);
	ck_assert_status(mudsc_model_add(m, "b", MUDSC_DTYPE_F32, 0, NULL, &x, MUDSC_COPY),
	                 MUDSC_E_STATE);
	ck_assert_status(mudsc_model_remove(m, "a"), MUDSC_E_STATE);
	ck_assert_status(mudsc_model_set_meta(m, "k", "v"), MUDSC_E_STATE);
	ck_assert_ok(mudsc_model_find(NULL, m, "a"));
	mudsc_model_free(m);
}
END_TEST

Suite *suite_model(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, add_copy_and_borrow);
	tcase_add_test(tc, scalar_and_empty_tensors);
	tcase_add_test(tc, insertion_order_and_removal);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, metadata);
	tcase_add_test(tc, frozen_models_refuse_changes);
	suite_add_tcase(s, tc);
	return s;
}
