#include "crix_strv.h"

#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"

size_t crix_strv_len(char *const *v)
{
	size_t n = 0;
	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

char **crix_strv_dup(char *const *v)
{
	size_t n = crix_strv_len(v);
	char **c = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; c != NULL && i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			crix_strvfreep(&c);
			return NULL;
		}
	return c;
}

int crix_strv_append(char ***v, const char *s)
{
	size_t n = crix_strv_len(*v);
	char *copy = strdup(s);
	char **grown = copy ? realloc(*v, (n + 2) * sizeof(char *)) : NULL;
	if (grown == NULL) {
		free(copy);
		return -1;
	}
	grown[n] = copy;
	grown[n + 1] = NULL;
	*v = grown;
	return 0;
}

void crix_strv_free(char **v)
{
	crix_strvfreep(&v);
}

int crix_strv_add(struct crix_strv *l, const char *s)
{
	if (crix_strv_append(&l->v, s) < 0)
		return -1;
	l->n++;
	return 0;
}

bool crix_strv_has(const struct crix_strv *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool crix_strv_remove(struct crix_strv *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0) {
			free(l->v[i]);
			memmove(&l->v[i], &l->v[i + 1], (l->n - i) * sizeof(char *));
			l->n--;
			return true;
		}
	}
	return false;
}

void crix_strv_clear(struct crix_strv *l)
{
	crix_strv_free(l->v);
	l->v = NULL;
	l->n = 0;
}
