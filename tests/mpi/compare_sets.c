/*
 * compare_sets GRAPH.json A.safetensors B.safetensors TOL: the two
 * statistics sets describe the same data to TOL relative, point by point:
 * covariance and means, max |a - b| / max |b|; the counts equal.
 * Prints the largest relative difference.  Exit 0 when within TOL.
 */
#include <math.h>
#include <mudsc/mudsc.h>
#include <stdio.h>
#include <stdlib.h>

static double rel(const double *a, const double *b, size_t n)
{
	double d = 0, m = 0;
	for (size_t k = 0; k < n; k++) {
		d = fmax(d, fabs(a[k] - b[k]));
		m = fmax(m, fabs(b[k]));
	}
	return m > 0 ? d / m : d;
}

int main(int argc, char **argv)
{
	mudsc_graph *g = NULL;
	mudsc_stats *s[2] = { NULL, NULL };
	double worst = 0, tol;

	if (argc != 5)
		return fprintf(stderr, "usage: compare_sets GRAPH A B TOL\n"), 2;
	tol = atof(argv[4]);
	if (mudsc_graph_load_json(&g, argv[1]) != MUDSC_OK ||
	    mudsc_stats_load(&s[0], argv[2], g, 0, NULL) != MUDSC_OK ||
	    mudsc_stats_load(&s[1], argv[3], g, 0, NULL) != MUDSC_OK)
		return fprintf(stderr, "compare_sets: %s\n", mudsc_error_message()), 1;
	for (size_t p = 0; p < mudsc_stats_point_count(s[0]); p++) {
		mudsc_accum *acc[2];
		double *cov[2], *mean[2];
		size_t ncov = 0, nmean = 0;
		for (int k = 0; k < 2; k++) {
			if (mudsc_stats_point(&acc[k], s[k], p) != MUDSC_OK ||
			    mudsc_accum_covariance(NULL, 0, &ncov, acc[k]) != MUDSC_OK ||
			    mudsc_accum_means(NULL, 0, &nmean, acc[k]) != MUDSC_OK)
				return fprintf(stderr, "compare_sets: %s\n", mudsc_error_message()), 1;
			cov[k] = malloc(ncov * sizeof(double));
			mean[k] = malloc(nmean * sizeof(double));
			if (!cov[k] || !mean[k] ||
			    mudsc_accum_covariance(cov[k], ncov, NULL, acc[k]) != MUDSC_OK ||
			    mudsc_accum_means(mean[k], nmean, NULL, acc[k]) != MUDSC_OK)
				return fprintf(stderr, "compare_sets: %s\n", mudsc_error_message()), 1;
		}
		int64_t n0 = -1, n1 = -2;
		if (mudsc_accum_count(&n0, acc[0], 0) != MUDSC_OK ||
		    mudsc_accum_count(&n1, acc[1], 0) != MUDSC_OK || n0 != n1)
			return fprintf(stderr, "compare_sets: point %zu: counts differ\n", p), 1;
		worst = fmax(worst, fmax(rel(cov[0], cov[1], ncov), rel(mean[0], mean[1], nmean)));
		for (int k = 0; k < 2; k++) {
			free(cov[k]);
			free(mean[k]);
		}
	}
	printf("compare_sets: largest relative difference %.3g (tolerance %.3g)\n", worst, tol);
	mudsc_stats_free(s[0]);
	mudsc_stats_free(s[1]);
	mudsc_graph_free(g);
	return worst <= tol ? 0 : 1;
}
