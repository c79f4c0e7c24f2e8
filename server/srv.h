/* The handler-facing API of crixd's gRPC front.
 *
 * A unary RPC is implemented by defining, in its own file server/<area>_<rpc>.c,
 *
 *     int srv_rpc_<Method>(struct srv_call *call, const ProtobufCMessage *request,
 *                          ProtobufCMessage **response, struct crix_err **err);
 *
 * The method table (generated from api.proto) binds these names through weak symbols; a
 * method without one answers UNIMPLEMENTED "crix: <Method> is not implemented".
 * The response and everything it points to are allocated with srv_alloc()/srv_strdup() and
 * freed with the call. On failure the handler returns negative with *err set; the status code
 * comes from err->errnum (srv_status_from_errno). */
#ifndef CRIX_SRV_H
#define CRIX_SRV_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "cfg.h"
#include "crix_err.h"

struct srv_call;
struct img_store;

/* One loaded configuration; SIGHUP swaps in a new one while calls may still use the old. */
struct srv_config {
	struct crix_config *cfg;
	atomic_int refs;
};

struct srv_daemon {
	pthread_mutex_t lock;       /* guards config and pod_cidr */
	struct srv_config *config;  /* current; take it with srv_config_get() */
	char *pod_cidr;             /* from UpdateRuntimeConfig */
	char *exe_dir;              /* directory of the crixd binary (helpers live beside it) */
	struct img_store *images;   /* image/ store, NULL until the image service is built */
};

/* The current configuration, referenced until srv_config_put(). */
struct srv_config *srv_config_get(struct srv_daemon *d);
void srv_config_put(struct srv_config *c);
static inline void srv_config_putp(struct srv_config **c)
{
	if (*c != NULL)
		srv_config_put(*c);
}
#define _cleanup_config_ __attribute__((cleanup(srv_config_putp)))

struct srv_daemon *srv_daemon(struct srv_call *call);

/* Memory that lives as long as the call (never NULL: allocation failure ends the process). */
void *srv_alloc(struct srv_call *call, size_t size);
char *srv_strdup(struct srv_call *call, const char *s);
char *srv_printf(struct srv_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new message of a generated type: SRV_NEW(call, Runtime__V1__VersionResponse,
 * runtime__v1__version_response__init). */
#define SRV_NEW(call, type, init_fn)                                                               \
	({                                                                                         \
		type *srv_new_msg_ = srv_alloc((call), sizeof(type));                              \
		init_fn(srv_new_msg_);                                                             \
		srv_new_msg_;                                                                      \
	})

/* True once the client cancelled, its deadline passed, or the daemon's shutdown grace period
 * ran out. */
bool srv_call_cancelled(struct srv_call *call);
/* Milliseconds until the call's deadline (INT64_MAX when it has none; <= 0 when passed). */
int64_t srv_call_deadline_ms(struct srv_call *call);
const char *srv_call_method(struct srv_call *call);

typedef int (*srv_unary_fn)(struct srv_call *call, const ProtobufCMessage *request,
			    ProtobufCMessage **response, struct crix_err **err);

/* grpc_status_code for an errno (see srv_grpc.c for the table). */
int srv_status_from_errno(int errnum);

#endif
