/* The public headers, experimental.h included, compile as strict C99 (built with
 * -std=c99 -pedantic-errors -Werror). */
#include <mudsc/experimental.h> /* first: it must stand on its own */
#include <mudsc/mudsc.h>

int main(void)
{
	return MUDSC_CHECK_VERSION() == MUDSC_OK ? 0 : 1;
}
