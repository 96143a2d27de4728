/*
 * The average room's door: weighted averaging of N models in place into a
 * destination model (average.c), plain and aligned through the matcher's
 * merge.  Nothing else of the library calls into it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_AVERAGE_ROOM_H
#define MUDSC_AVERAGE_ROOM_H

#include "mudsc/average.h"
#include "core/core.h"

/* Elements of one task of the element loop (a tensor is cut into tasks of
 * this many elements, each averaged through a stack buffer of doubles). */
#define MUDSC__AVERAGE_TASK 65536

#endif /* MUDSC_AVERAGE_ROOM_H */
