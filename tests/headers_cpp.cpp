// The public headers, experimental.h included, compile as C++ (extern "C" guards) with -pedantic-errors -Werror.
#include <mudsc/experimental.h> /* first: it must stand on its own */
#include <mudsc/mudsc.h>

int main()
{
	mudsc_model *m = nullptr;
	if (mudsc_model_new(&m) != MUDSC_OK)
		return 1;
	mudsc_model_free(m);
	return MUDSC_CHECK_VERSION() == MUDSC_OK ? 0 : 1;
}
