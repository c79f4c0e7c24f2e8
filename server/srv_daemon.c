#include <stdlib.h>

#include "crix_alloc.h"
#include "srv_internal.h"

struct srv_config *srv_config_new(struct crix_config *cfg)
{
	struct srv_config *c = crix_xmalloc(sizeof(*c));
	c->cfg = cfg;
	atomic_init(&c->refs, 1);
	return c;
}

struct srv_config *srv_config_get(struct srv_daemon *d)
{
	pthread_mutex_lock(&d->lock);
	struct srv_config *c = d->config;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&d->lock);
	return c;
}

void srv_config_put(struct srv_config *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	cfg_free(c->cfg);
	free(c);
}

void srv_daemon_set_config(struct srv_daemon *d, struct srv_config *c)
{
	pthread_mutex_lock(&d->lock);
	struct srv_config *old = d->config;
	d->config = c;
	pthread_mutex_unlock(&d->lock);
	if (old != NULL)
		srv_config_put(old);
}
