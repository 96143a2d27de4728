/*
 * Run-time CPU features: asked once through the compiler's runtime.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>

#include "core/core.h"

#if defined(__GNUC__) && defined(__x86_64__)
static unsigned detect(void)
{
	unsigned have = 0;

	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		have |= MUDSC__CPU_AVX2;
	if (__builtin_cpu_supports("fma"))
		have |= MUDSC__CPU_FMA;
	if (__builtin_cpu_supports("avx512f"))
		have |= MUDSC__CPU_AVX512F;
	if (__builtin_cpu_supports("avx512vl"))
		have |= MUDSC__CPU_AVX512VL;
	return have;
}
#else
static unsigned detect(void)
{
	return 0;
}
#endif

/* The detected bits with DETECTED set; 0 before the first call.  Threads
 * racing on the first call all store the same answer. */
#define DETECTED (1u << 31)

bool mudsc__cpu_has(unsigned features)
{
	static atomic_uint state;
	unsigned s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == 0) {
		s = detect() | DETECTED;
		atomic_store_explicit(&state, s, memory_order_relaxed);
	}
	return (s & features) == features;
}
