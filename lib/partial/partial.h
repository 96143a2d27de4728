/*
 * The partial room's door: partial zipping (include/mudsc/partial.h).
 * partial.c builds the prefix graph and the trunk + heads model through
 * the graph's, the matcher's and the model's public calls only.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_PARTIAL_ROOM_H
#define MUDSC_PARTIAL_ROOM_H

#include "mudsc/partial.h"
#include "core/core.h"

#endif /* MUDSC_PARTIAL_ROOM_H */
