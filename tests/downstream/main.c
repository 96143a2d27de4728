/* A program outside the tree, built only with `pkg-config --cflags --libs mudsc`;
 * it also uses the installed experimental API (experimental.h, node
 * MUDSC_EXPERIMENTAL_<release>). */
#include <mudsc/experimental.h>
#include <mudsc/mudsc.h>
#include <stdio.h>

int main(void)
{
	float w[4] = {1, 2, 3, 4};
	int64_t shape[2] = {2, 2};
	mudsc_model *m = NULL;
	mudsc_tensor t;
	const double S[1] = {2.5};
	int64_t col = -1;
	double objective = 0;

	if (MUDSC_CHECK_VERSION() != MUDSC_OK || mudsc_lap_solve(&col, &objective, S, 1) != MUDSC_OK ||
	    col != 0 || objective != 2.5 || mudsc_model_new(&m) != MUDSC_OK ||
	    mudsc_model_add(m, "w", MUDSC_DTYPE_F32, 2, shape, w, MUDSC_COPY) != MUDSC_OK ||
	    mudsc_model_find(&t, m, "w") != MUDSC_OK) {
		fprintf(stderr, "downstream: %s\n", mudsc_error_message());
		return 1;
	}
	printf("downstream: libmudsc %s, %s, tensor %s %lldx%lld\n", mudsc_version_string(),
	       mudsc_blas_info(), t.name, (long long)t.shape[0], (long long)t.shape[1]);
	mudsc_model_free(m);
	return 0;
}
