/* String vectors: NULL-terminated arrays of malloc'd strings, and a growable list of them. */
#ifndef CRIX_STRV_H
#define CRIX_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* Entries before the terminating NULL; 0 for a NULL vector. */
size_t crix_strv_len(char *const *v);
/* A deep copy (a NULL vector copies to an empty one); NULL when out of memory. */
char **crix_strv_dup(char *const *v);
/* Appends a copy of s to *v (a NULL *v is an empty vector); -1 when out of memory, *v unchanged. */
int crix_strv_append(char ***v, const char *s);
/* Frees every entry and the array; NULL is fine. (_cleanup_strv_ in crix_cleanup.h does the
 * same for a variable.) */
void crix_strv_free(char **v);

/* A growable list that keeps its count: v is always NULL or NULL-terminated, n entries. */
struct crix_strv {
	char **v;
	size_t n;
};
int crix_strv_add(struct crix_strv *l, const char *s); /* -1 when out of memory */
bool crix_strv_has(const struct crix_strv *l, const char *s);
/* Removes one occurrence; returns whether one was found. */
bool crix_strv_remove(struct crix_strv *l, const char *s);
void crix_strv_clear(struct crix_strv *l);

#endif
