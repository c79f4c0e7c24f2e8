/* Worker pools: threads start while queued work exceeds idle workers, up to a limit, and
 * leave after an idle time, so a burst's threads (and the memory their calls took) go back. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crix_alloc.h"
#include "crix_log.h"
#include "srv_internal.h"

struct pool_job {
	struct pool_job *next;
	void (*fn)(void *);
	void *arg;
};

struct srv_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work queued, limits changed or stopping; CLOCK_MONOTONIC */
	pthread_cond_t gone; /* the last worker left */
	pthread_attr_t attr; /* detached: a worker that leaves is joined by nobody */
	struct pool_job *head, *tail;
	unsigned queued, idle, nthreads, max_threads, idle_ms;
	bool stopping;
	char name[16]; /* the workers' thread name */
};

struct timespec srv_time_after_ms(clockid_t clock, unsigned ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *pool_worker(void *arg)
{
	struct srv_pool *p = arg;
	pthread_setname_np(pthread_self(), p->name);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		bool timed_out = false;
		while (p->head == NULL && !p->stopping && !timed_out && p->nthreads <= p->max_threads) {
			struct timespec until = srv_time_after_ms(CLOCK_MONOTONIC, p->idle_ms);
			p->idle++;
			timed_out = pthread_cond_timedwait(&p->wake, &p->lock, &until) == ETIMEDOUT;
			p->idle--;
		}
		/* Leave only with nothing queued: a job is never left without a worker. */
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
	p->nthreads--;
	/* The last idle worker to leave after a burst hands the freed heap back to the kernel
	 * (the calls' arenas and buffers are freed by then, but glibc keeps the pages). */
	bool trim = !p->stopping && p->idle == 0;
	if (p->nthreads == 0)
		pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	if (trim)
		malloc_trim(0);
	return NULL;
}

struct srv_pool *srv_pool_new(const char *name, const struct srv_pool_limits *limits)
{
	struct srv_pool *p = crix_xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t cattr;
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_cond_init(&p->gone, NULL);
	pthread_attr_init(&p->attr);
	pthread_attr_setdetachstate(&p->attr, PTHREAD_CREATE_DETACHED);
	p->max_threads = limits->max_threads;
	p->idle_ms = limits->idle_ms;
	snprintf(p->name, sizeof(p->name), "crixd-%s", name);
	return p;
}

void srv_pool_set_limits(struct srv_pool *p, const struct srv_pool_limits *limits)
{
	pthread_mutex_lock(&p->lock);
	p->max_threads = limits->max_threads;
	p->idle_ms = limits->idle_ms;
	/* Idle workers above a lowered limit leave now; the others restart their idle time. */
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void srv_pool_submit(struct srv_pool *p, void (*fn)(void *), void *arg)
{
	struct pool_job *job = crix_xmalloc(sizeof(*job));
	*job = (struct pool_job){.fn = fn, .arg = arg};
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->queued++;
	/* Grow while more work waits than workers are idle, so calls never run in waves; at the
	 * limit, work waits in the queue for the next free worker. */
	if (p->queued > p->idle && p->nthreads < p->max_threads) {
		pthread_t thread;
		int rc = pthread_create(&thread, &p->attr, pool_worker, p);
		if (rc == 0)
			p->nthreads++;
		else if (p->nthreads == 0)
			crix_error("pool %s: cannot start a worker thread: %s", p->name, strerror(rc));
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
	while (p->nthreads > 0)
		pthread_cond_wait(&p->gone, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_attr_destroy(&p->attr);
	pthread_cond_destroy(&p->gone);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
