#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "crix_log.h"
#include "srv_internal.h"

struct pool_job {
	struct pool_job *next;
	void (*fn)(void *);
	void *arg;
};

struct srv_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pool_job *head, *tail;
	unsigned queued, idle, nthreads, max_threads;
	bool stopping;
	pthread_t *threads;
	char name[32];
};

static void *pool_worker(void *arg)
{
	struct srv_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->wake, &p->lock);
			p->idle--;
		}
		if (p->head == NULL)
			break;
		struct pool_job *job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		job->fn(job->arg);
		free(job);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct srv_pool *srv_pool_new(const char *name, unsigned max_threads)
{
	struct srv_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		abort();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->max_threads = max_threads;
	p->threads = calloc(max_threads, sizeof(*p->threads));
	if (p->threads == NULL)
		abort();
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

void srv_pool_submit(struct srv_pool *p, void (*fn)(void *), void *arg)
{
	struct pool_job *job = malloc(sizeof(*job));
	if (job == NULL)
		abort();
	*job = (struct pool_job){.fn = fn, .arg = arg};
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->queued++;
	/* Grow while more work waits than workers are idle, so calls never run in waves. */
	if (p->queued > p->idle && p->nthreads < p->max_threads) {
		if (pthread_create(&p->threads[p->nthreads], NULL, pool_worker, p) == 0)
			p->nthreads++;
		else if (p->nthreads == 0)
			crix_error("pool %s: cannot start a worker thread", p->name);
	}
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void srv_pool_destroy(struct srv_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	unsigned n = p->nthreads;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
