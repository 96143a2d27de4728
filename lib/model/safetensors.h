/*
 * Shared constants of the safetensors reader and writer.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_SAFETENSORS_H
#define MUDSC_SAFETENSORS_H

/* The same cap as the reference implementation: 100 MB of header. */
#define MUDSC__ST_MAX_HEADER ((size_t)100000000)
#define MUDSC__ST_METADATA_KEY "__metadata__"

#endif /* MUDSC_SAFETENSORS_H */
