/*
 * CPU features the vector kernels dispatch on at run time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORE_CPU_H
#define MUDSC_CORE_CPU_H

#include <stdbool.h>

/* Bits of mudsc__cpu_has().  F16C is mudsc__cpu_has_f16c() (core/convert.h):
 * clang-14's runtime does not know it, so it is asked through CPUID. */
enum {
	MUDSC__CPU_AVX2 = 1u << 0,
	MUDSC__CPU_FMA = 1u << 1,
	MUDSC__CPU_AVX512F = 1u << 2,
	MUDSC__CPU_AVX512VL = 1u << 3,
};

/* Whether this machine has every feature in `features` (MUDSC__CPU_* bits),
 * with the OS saving their registers (the compiler's runtime asks XGETBV
 * too).  Asked once, then cached; safe from any thread.  False off x86-64
 * or without the GNU builtins. */
bool mudsc__cpu_has(unsigned features);

#endif /* MUDSC_CORE_CPU_H */
