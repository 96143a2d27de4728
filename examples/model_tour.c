/*
 * model_tour: builds a small two-layer model, saves it as safetensors,
 * maps it back (zero copy) and prints what it holds: a tour of the model
 * and safetensors calls.  The main job is examples/fashion_mnist.
 *
 * Usage: model_tour [OUT.safetensors]
 */
#include <mudsc/mudsc.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what)
{
	fprintf(stderr, "model_tour: %s: %s (%s)\n", what, mudsc_error_message(),
	        mudsc_status_name(mudsc_error_status()));
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "model_tour.safetensors";
	float w1[8 * 4], b1[8], w2[3 * 8];
	int64_t s_w1[2] = {8, 4}, s_b1[1] = {8}, s_w2[2] = {3, 8};
	int64_t tracked = 0;
	mudsc_model *m, *loaded;
	mudsc_tensor t;

	if (MUDSC_CHECK_VERSION() != MUDSC_OK)
		return fail("version check");
	for (int i = 0; i < 32; i++)
		w1[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
	for (int i = 0; i < 8; i++)
		b1[i] = 0.01f * (float)i;
	for (int i = 0; i < 24; i++)
		w2[i] = (float)((i * 5) % 13) / 13.0f - 0.5f;

	if (mudsc_model_new(&m) != MUDSC_OK ||
	    mudsc_model_add(m, "fc1.weight", MUDSC_DTYPE_F32, 2, s_w1, w1, MUDSC_BORROW) ||
	    mudsc_model_add(m, "fc1.bias", MUDSC_DTYPE_F32, 1, s_b1, b1, MUDSC_BORROW) ||
	    mudsc_model_add(m, "fc2.weight", MUDSC_DTYPE_F32, 2, s_w2, w2, MUDSC_BORROW) ||
	    mudsc_model_add(m, "bn.num_batches_tracked", MUDSC_DTYPE_I64, 0, NULL, &tracked,
	                    MUDSC_COPY) ||
	    mudsc_model_set_meta(m, "format", "pt"))
		return fail("building the model");
	if (mudsc_model_save(m, path) != MUDSC_OK)
		return fail("saving");
	mudsc_model_free(m);
	if (mudsc_model_load(&loaded, path) != MUDSC_OK)
		return fail("loading");

	printf("libmudsc %s with %s (%d BLAS threads)\n", mudsc_version_string(), mudsc_blas_info(),
	       mudsc_blas_get_threads());
	printf("%s: %zu tensors, format=%s\n", path, mudsc_model_count(loaded),
	       mudsc_model_get_meta(loaded, "format"));
	for (size_t i = 0; i < mudsc_model_count(loaded); i++) {
		mudsc_model_at(&t, loaded, i);
		printf("  %-24s %-4s [", t.name, mudsc_dtype_name(t.dtype));
		for (int d = 0; d < t.rank; d++)
			printf(d ? ", %lld" : "%lld", (long long)t.shape[d]);
		printf("] %zu bytes\n", t.nbytes);
	}
	mudsc_model_free(loaded);
	return EXIT_SUCCESS;
}
