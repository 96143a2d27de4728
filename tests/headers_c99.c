/* The public headers compile as strict C99 (built with -std=c99 -pedantic-errors -Werror). */
#include <mudsc/mudsc.h>

int main(void)
{
	return MUDSC_CHECK_VERSION() == MUDSC_OK ? 0 : 1;
}
