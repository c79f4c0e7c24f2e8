/* The bookkeeping shared by concurrent pulls: job locks (one download and unpack of a layer
 * among all processes), pins of what pulls in progress fetch (against garbage collection) and
 * the registry tokens crix-pull keeps across pulls. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crix_cleanup.h"
#include "img_internal.h"

int img_job_lock(struct img_store *s, const char *key, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (img_path_lock(s, key, &path, err) < 0)
		return -1;
	for (;;) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return crix_err_make(err, errno, "lock %s: open %s", key, path);
		int rc;
		do
			rc = flock(fd, LOCK_EX);
		while (rc < 0 && errno == EINTR);
		struct stat held, named;
		if (rc < 0 || fstat(fd, &held) < 0) {
			int e = errno;
			close(fd);
			return crix_err_make(err, e, "lock %s", key);
		}
		/* The previous holder unlinks the file as it unlocks: a lock taken on that old
		 * file excludes nobody, so take the one now under the name. */
		if (stat(path, &named) == 0 && named.st_ino == held.st_ino && named.st_dev == held.st_dev)
			return fd;
		close(fd);
	}
}

void img_job_unlock(struct img_store *s, const char *key, int fd)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_err_ struct crix_err *err = NULL;
	/* The key was good for img_job_lock: only out of memory leaves the file, which the
	 * next holder reuses. */
	if (img_path_lock(s, key, &path, &err) == 0)
		unlink(path);
	close(fd);
}

/* ---- pins ---- */

int img_pins_add(struct img_store *s, const struct crix_strv *keys, struct crix_err **err)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < keys->n; i++) {
		if (crix_strv_add(&s->pull_pins, keys->v[i]) < 0) {
			for (size_t j = 0; j < i; j++) /* all or none */
				crix_strv_remove(&s->pull_pins, keys->v[j]);
			pthread_mutex_unlock(&s->lock);
			return crix_err_make(err, ENOMEM, "pin %s", keys->v[i]);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void img_pins_remove(struct img_store *s, const struct crix_strv *keys)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < keys->n; i++)
		crix_strv_remove(&s->pull_pins, keys->v[i]);
	pthread_mutex_unlock(&s->lock);
}

/* ---- registry tokens ---- */

struct img_token {
	char *key; /* realm \n scope \n user */
	char *value;
	time_t expires;
	struct img_token *next;
};

static void token_free(struct img_token *t)
{
	OPENSSL_cleanse(t->value, strlen(t->value));
	free(t->key);
	free(t->value);
	free(t);
}

void img_tokens_clear(struct img_store *s)
{
	while (s->tokens) {
		struct img_token *t = s->tokens;
		s->tokens = t->next;
		token_free(t);
	}
}

char *img_token_get(struct img_store *s, const char *key)
{
	char *v = NULL;
	time_t now = time(NULL);
	pthread_mutex_lock(&s->lock);
	for (struct img_token *t = s->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0 && t->expires > now)
			v = strdup(t->value);
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* A cache: a token that cannot be kept (out of memory) is asked for again by the next pull. */
void img_token_put(struct img_store *s, const char *key, const char *value, long expires_in)
{
	struct img_token *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->key = strdup(key)) == NULL || (t->value = strdup(value)) == NULL) {
		if (t)
			free(t->key);
		free(t);
		return;
	}
	/* Renew a little early so that a token does not expire mid-request. */
	time_t now = time(NULL);
	t->expires = now + (expires_in > 30 ? expires_in - 10 : expires_in);
	pthread_mutex_lock(&s->lock);
	for (struct img_token **p = &s->tokens; *p;) {
		struct img_token *old = *p;
		if (strcmp(old->key, key) == 0 || old->expires <= now) { /* replaced, or of no use */
			*p = old->next;
			token_free(old);
		} else {
			p = &old->next;
		}
	}
	t->next = s->tokens;
	s->tokens = t;
	pthread_mutex_unlock(&s->lock);
}
