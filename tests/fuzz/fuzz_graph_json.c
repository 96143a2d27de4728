/*
 * Fuzz target for the graph JSON reader (libFuzzer entry point).  Any
 * input must give MUDSC_OK or one of the statuses mudsc_graph_from_json
 * documents for bad text (MUDSC_E_PARSE, MUDSC_E_SHAPE; MUDSC_E_NOMEM), with
 * a message that starts with "mudsc_graph_from_json: " and *out untouched, never a crash, a leak
 * or undefined behaviour; an accepted graph must write to JSON that reads
 * back and writes again to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mudsc_graph *g = (mudsc_graph *)&size, *again = NULL; /* a sentinel: must stay */
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	mudsc_status st = mudsc_graph_from_json(&g, (const char *)data, size);

	if (st != MUDSC_OK) {
		if ((st != MUDSC_E_PARSE && st != MUDSC_E_SHAPE && st != MUDSC_E_NOMEM) ||
		    g != (mudsc_graph *)&size ||
		    strncmp(mudsc_error_message(), "mudsc_graph_from_json: ", 23) != 0)
			abort();
		return 0;
	}
	if (mudsc_graph_to_json(&text, &len, g) != MUDSC_OK ||
	    mudsc_graph_from_json(&again, text, len) != MUDSC_OK ||
	    mudsc_graph_to_json(&text2, &len2, again) != MUDSC_OK || len != len2 ||
	    memcmp(text, text2, len) != 0)
		abort(); /* what we accept, we must write back faithfully */
	mudsc_graph_free(again);
	mudsc_graph_free(g);
	mudsc_free(text);
	mudsc_free(text2);
	return 0;
}
