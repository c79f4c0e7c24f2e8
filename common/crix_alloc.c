#include "crix_alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void crix_oom(void)
{
	/* write(2), not stdio: nothing here may need memory. */
	static const char msg[] = ": out of memory, aborting\n";
	const char *name = program_invocation_short_name;
	(void)!write(STDERR_FILENO, name, strlen(name));
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *crix_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		crix_oom();
	return p;
}

void *crix_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		crix_oom();
	return p;
}

char *crix_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		crix_oom();
	return p;
}
