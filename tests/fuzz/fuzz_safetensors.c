/*
 * Fuzz target for the safetensors reader (libFuzzer entry point).  Any
 * input must give MUDSC_OK or MUDSC_E_PARSE (its message starting with
 * "mudsc_model_load_buffer: "), never a crash, a leak or an
 * out-of-bounds read; an accepted model must answer every name and
 * metadata lookup (the hash maps agree with the lists) and save and
 * re-load to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every tensor and metadata entry is found by its name. */
static void check_lookups(const mudsc_model *m)
{
	for (size_t i = 0; i < mudsc_model_count(m); i++) {
		mudsc_tensor at, found;
		if (mudsc_model_at(&at, m, i) != MUDSC_OK ||
		    mudsc_model_find(&found, m, at.name) != MUDSC_OK || found.data != at.data ||
		    found.nbytes != at.nbytes)
			abort();
	}
	for (size_t i = 0; i < mudsc_model_meta_count(m); i++) {
		const char *key, *value;
		if (mudsc_model_meta_at(&key, &value, m, i) != MUDSC_OK ||
		    mudsc_model_get_meta(m, key) != value)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mudsc_model *m = NULL, *again = NULL;
	void *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	mudsc_status st = mudsc_model_load_buffer(&m, data, size, MUDSC_BORROW);

	if (st != MUDSC_OK) {
		if (st != MUDSC_E_PARSE ||
		    strncmp(mudsc_error_message(), "mudsc_model_load_buffer: ", 25) != 0)
			abort();
		return 0;
	}
	check_lookups(m);
	if (mudsc_model_save_buffer(&buf, &len, m) != MUDSC_OK ||
	    mudsc_model_load_buffer(&again, buf, len, MUDSC_BORROW) != MUDSC_OK ||
	    mudsc_model_save_buffer(&buf2, &len2, again) != MUDSC_OK || len != len2 ||
	    memcmp(buf, buf2, len) != 0)
		abort(); /* what we accept, we must write back faithfully */
	mudsc_model_free(again);
	mudsc_model_free(m);
	mudsc_free(buf);
	mudsc_free(buf2);
	return 0;
}
