/* __attribute__((cleanup)) helpers so that early returns cannot leak. */
#ifndef CRIX_CLEANUP_H
#define CRIX_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void crix_freep(void *p) { free(*(void **)p); }
/* The close helpers keep errno: a cleanup runs after the return value is computed, and a
 * caller may read the errno of the failure that made the function return. */
static inline void crix_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void crix_fclosep(FILE **f)
{
	if (*f != NULL) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
}
static inline void crix_closedirp(DIR **d)
{
	if (*d != NULL) {
		int saved = errno;
		closedir(*d);
		errno = saved;
	}
}
/* Frees a NULL-terminated array of strings and the array. */
static inline void crix_strvfreep(char ***v)
{
	if (*v == NULL)
		return;
	for (char **p = *v; *p != NULL; p++)
		free(*p);
	free(*v);
}

#define _cleanup_free_ __attribute__((cleanup(crix_freep)))
#define _cleanup_close_ __attribute__((cleanup(crix_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(crix_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(crix_closedirp)))
#define _cleanup_strv_ __attribute__((cleanup(crix_strvfreep)))

/* Hands ownership out of a cleanup variable: return steal_ptr(p); */
#define steal_ptr(p)                                                                               \
	({                                                                                         \
		__typeof__(p) steal_tmp_ = (p);                                                    \
		(p) = NULL;                                                                        \
		steal_tmp_;                                                                        \
	})
#define steal_fd(fd)                                                                               \
	({                                                                                         \
		int steal_fd_tmp_ = (fd);                                                          \
		(fd) = -1;                                                                         \
		steal_fd_tmp_;                                                                     \
	})

#endif
