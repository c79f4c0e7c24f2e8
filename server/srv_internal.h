/* crixd's gRPC front, internal to server/. */
#ifndef CRIX_SRV_INTERNAL_H
#define CRIX_SRV_INTERNAL_H

#include <stddef.h>
#include <time.h>

#include "cri_methods.h"
#include "srv.h"

/* Handlers bound to cri_methods[] by index (NULL = not implemented); generated. */
extern const srv_unary_fn srv_handlers[CRI_METHODS_COUNT];

/* Arena: many allocations, one free. Used as the protobuf-c allocator of a call. */
struct srv_arena;
struct srv_arena *srv_arena_new(void);
void *srv_arena_alloc(struct srv_arena *a, size_t size);
void srv_arena_free(struct srv_arena *a);
ProtobufCAllocator srv_arena_allocator(struct srv_arena *a);

/* Worker pool that grows while queued work exceeds idle workers, up to max_threads; beyond
 * that, work queues. A worker idle for idle_ms leaves. */
struct srv_pool_limits {
	unsigned max_threads;
	unsigned idle_ms;
};
struct srv_pool;
/* name: the workers' thread name is "crixd-<name>" (at most 9 characters kept). */
struct srv_pool *srv_pool_new(const char *name, const struct srv_pool_limits *limits);
/* Takes effect at once: idle workers above a lowered max_threads leave. */
void srv_pool_set_limits(struct srv_pool *p, const struct srv_pool_limits *limits);
void srv_pool_submit(struct srv_pool *p, void (*fn)(void *), void *arg);
/* Runs the queued work, then waits for every worker to leave. */
void srv_pool_destroy(struct srv_pool *p);

/* The time ms from now on clock, for pthread_cond_timedwait. */
struct timespec srv_time_after_ms(clockid_t clock, unsigned ms);

struct srv_server_opts {
	const char *listen;       /* unix socket path */
	uint64_t max_msg_size;    /* both directions */
	unsigned max_workers;     /* handler threads of both pools together */
	unsigned worker_idle_ms;  /* a worker idle this long leaves */
};

struct srv_server;
int srv_server_start(struct srv_daemon *d, const struct srv_server_opts *opts,
		     struct srv_server **out, struct crix_err **err);
/* Applies new max_workers and worker_idle_ms (a reload); the other options need a restart. */
void srv_server_set_workers(struct srv_server *s, const struct srv_server_opts *opts);
/* Stops accepting, lets running calls finish within grace_ms, then cancels the rest. */
void srv_server_stop(struct srv_server *s, int grace_ms);

/* Config reference counting (srv_daemon.c). */
struct srv_config *srv_config_new(struct crix_config *cfg);
/* Installs a new config; the previous one is released when its last user is done. */
void srv_daemon_set_config(struct srv_daemon *d, struct srv_config *c);

#endif
