/* Allocation in crixd, which aborts on out-of-memory (docs/DESIGN.md, "Out of memory"): the
 * x-allocators never return NULL. Helper processes (crix-conmon, crix-runtime, crix-pull) do
 * not use them: they return ENOMEM errors instead. */
#ifndef CRIX_ALLOC_H
#define CRIX_ALLOC_H

#include <stddef.h>

/* Says "out of memory" on stderr (without allocating) and aborts. */
_Noreturn void crix_oom(void);

void *crix_xmalloc(size_t size);
void *crix_xcalloc(size_t n, size_t size);
char *crix_xstrdup(const char *s);

#endif
