/* The gRPC C-core front: one thread drives the completion queue and never blocks; each call
 * is a small refcounted state machine (one reference per outstanding batch, one while a
 * handler owns it); handlers run inline (cheap in-memory answers) or on worker pools. */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crix_alloc.h"
#include "crix_cleanup.h"
#include "crix_log.h"
#include "srv_internal.h"

/* Requests kept posted per registered method: incoming calls never wait for a re-post. */
#define REQUESTS_PER_METHOD 4
#define GENERIC_REQUESTS 2

enum tag_kind { TAG_REQUEST, TAG_GENERIC, TAG_CLOSE, TAG_FINAL, TAG_SHUTDOWN };

struct srv_tag {
	enum tag_kind kind;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct srv_server;

/* One posted request for a registered method; reused after each call it yields. */
struct request_slot {
	struct srv_tag tag;
	struct srv_server *server;
	size_t method;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array metadata;
	grpc_byte_buffer *payload;
};

/* One posted request for methods nobody registered (answered UNIMPLEMENTED). */
struct generic_slot {
	struct srv_tag tag;
	struct srv_server *server;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array metadata;
};

struct srv_call {
	struct srv_server *server;
	grpc_call *call;
	const struct cri_method *method; /* NULL for a method not in the proto */
	char *unknown_path;              /* its path, for the message */
	gpr_timespec deadline;
	grpc_metadata_array metadata;
	grpc_byte_buffer *payload;
	struct srv_arena *arena;
	atomic_int refs;
	atomic_bool cancelled;
	int close_cancelled; /* written by RECV_CLOSE_ON_SERVER */
	struct srv_tag close_tag, final_tag;
	grpc_byte_buffer *response;
	grpc_slice status_details;
	grpc_status_code status;
	struct timespec started;
};

struct srv_server {
	struct srv_daemon *daemon;
	grpc_server *server;
	grpc_completion_queue *cq;
	void *registered[CRI_METHODS_COUNT];
	pthread_t cq_thread;
	struct srv_pool *quick_pool, *slow_pool;
	atomic_bool stopping;
	struct srv_tag shutdown_tag;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shutdown_done;
};

int srv_status_from_errno(int errnum)
{
	switch (errnum) {
	case 0:
		return GRPC_STATUS_UNKNOWN;
	case ENOENT:
	case ESRCH:
		return GRPC_STATUS_NOT_FOUND;
	case EINVAL:
	case EDOM:
	case ERANGE:
	case ENAMETOOLONG:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case EEXIST:
		return GRPC_STATUS_ALREADY_EXISTS;
	case ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case ECANCELED:
		return GRPC_STATUS_CANCELLED;
	case EPERM:
	case EACCES:
		return GRPC_STATUS_PERMISSION_DENIED;
	case ENOSPC:
	case E2BIG:
	case EDQUOT:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case EAGAIN:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
		return GRPC_STATUS_UNAVAILABLE;
	case ENOSYS:
	case ENOTSUP:
		return GRPC_STATUS_UNIMPLEMENTED;
	case EBUSY:
		return GRPC_STATUS_FAILED_PRECONDITION;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

/* ---- the handler-facing API (srv.h) ---- */

struct srv_daemon *srv_daemon(struct srv_call *call) { return call->server->daemon; }

void *srv_alloc(struct srv_call *call, size_t size)
{
	void *p = srv_arena_alloc(call->arena, size);
	memset(p, 0, size);
	return p;
}

char *srv_strdup(struct srv_call *call, const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = srv_arena_alloc(call->arena, n);
	memcpy(p, s, n);
	return p;
}

char *srv_printf(struct srv_call *call, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = srv_arena_alloc(call->arena, (size_t)(n < 0 ? 0 : n) + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
	va_end(ap);
	return p;
}

int64_t srv_call_deadline_ms(struct srv_call *call)
{
	if (gpr_time_cmp(call->deadline, gpr_inf_future(call->deadline.clock_type)) == 0)
		return INT64_MAX;
	gpr_timespec now = gpr_now(call->deadline.clock_type);
	gpr_timespec left = gpr_time_sub(call->deadline, now);
	return left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

bool srv_call_cancelled(struct srv_call *call)
{
	/* Not on shutdown itself: running calls get the grace period, after which
	 * grpc_server_cancel_all_calls cancels each of them. */
	return atomic_load(&call->cancelled) || srv_call_deadline_ms(call) <= 0;
}

const char *srv_call_method(struct srv_call *call)
{
	return call->method ? call->method->name : call->unknown_path;
}

/* ---- call lifecycle ---- */

static void call_unref(struct srv_call *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	grpc_call_unref(c->call);
	grpc_metadata_array_destroy(&c->metadata);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	if (c->response)
		grpc_byte_buffer_destroy(c->response);
	grpc_slice_unref(c->status_details);
	srv_arena_free(c->arena);
	free(c->unknown_path);
	free(c);
}

static struct srv_call *call_new(struct srv_server *s, grpc_call *gcall)
{
	struct srv_call *c = crix_xcalloc(1, sizeof(*c));
	c->server = s;
	c->call = gcall;
	c->arena = srv_arena_new();
	c->close_tag.kind = TAG_CLOSE;
	c->final_tag.kind = TAG_FINAL;
	c->status_details = grpc_empty_slice();
	c->deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	atomic_init(&c->refs, 1); /* the handler's */
	clock_gettime(CLOCK_MONOTONIC, &c->started);

	/* Its completion is the cancellation signal (deadline, client gone). */
	grpc_op op = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	atomic_fetch_add(&c->refs, 1);
	if (grpc_call_start_batch(gcall, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
		atomic_fetch_sub(&c->refs, 1);
		atomic_store(&c->cancelled, true);
	}
	return c;
}

/* Status details say what failed on what, which can be a client's input of any size. A
 * client takes 8 KiB of metadata by default and fails the call (RESOURCE_EXHAUSTED, its own)
 * beyond: details are cut at this many bytes, which percent-encoding can make three times as
 * many on the wire. */
#define STATUS_DETAILS_MAX 2048

static grpc_slice status_details(const char *message)
{
	size_t len = strlen(message);
	if (len <= STATUS_DETAILS_MAX)
		return grpc_slice_from_copied_string(message);
	size_t cut = STATUS_DETAILS_MAX - 3;
	while (cut > 0 && ((unsigned char)message[cut] & 0xc0) == 0x80) /* not inside a character */
		cut--;
	grpc_slice s = grpc_slice_malloc(cut + 3);
	memcpy(GRPC_SLICE_START_PTR(s), message, cut);
	memcpy(GRPC_SLICE_START_PTR(s) + cut, "...", 3);
	return s;
}

/* Sends the status (and the response, if any) and drops the handler's reference. */
static void call_finish(struct srv_call *c, grpc_status_code status, const char *message)
{
	c->status = status;
	if (message != NULL && *message != '\0') {
		grpc_slice_unref(c->status_details);
		c->status_details = status_details(message);
	}
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (status == GRPC_STATUS_OK && c->response != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = c->response;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = status;
	ops[n++].data.send_status_from_server.status_details = &c->status_details;
	atomic_fetch_add(&c->refs, 1);
	grpc_call_error rc = grpc_call_start_batch(c->call, ops, n, &c->final_tag, NULL);
	if (rc != GRPC_CALL_OK) {
		crix_warn("rpc %s: cannot send the answer (call error %d)", srv_call_method(c), rc);
		atomic_fetch_sub(&c->refs, 1);
	}
	if (crix_log_get_level() >= CRIX_LOG_DEBUG) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - c->started.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - c->started.tv_nsec) / 1e6;
		crix_debug("rpc %s status=%d duration=%.3fms%s%s", srv_call_method(c), (int)status, ms,
			   status == GRPC_STATUS_OK ? "" : " error=", status == GRPC_STATUS_OK ? "" : message);
	}
	call_unref(c);
}

static void call_fail(struct srv_call *c, grpc_status_code status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void call_fail(struct srv_call *c, grpc_status_code status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call_finish(c, status, msg);
}

/* Decodes the request, runs the handler, encodes the response, answers. */
static void call_run(void *arg)
{
	struct srv_call *c = arg;
	const struct cri_method *m = c->method;
	srv_unary_fn handler = srv_handlers[m - cri_methods];

	if (c->payload == NULL) {
		call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "crix: %s: no request message", m->name);
		return;
	}
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, c->payload)) {
		call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "crix: %s: cannot read request", m->name);
		return;
	}
	grpc_slice bytes = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	ProtobufCAllocator alloc = srv_arena_allocator(c->arena);
	ProtobufCMessage *request =
		protobuf_c_message_unpack(m->input, &alloc, GRPC_SLICE_LENGTH(bytes), GRPC_SLICE_START_PTR(bytes));
	grpc_slice_unref(bytes);
	if (request == NULL) {
		call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "crix: %s: cannot decode request as %s",
			  m->name, m->input->name);
		return;
	}

	ProtobufCMessage *response = NULL;
	_cleanup_err_ struct crix_err *err = NULL;
	if (handler(c, request, &response, &err) < 0) {
		call_finish(c, srv_status_from_errno(err ? err->errnum : 0), crix_err_msg(err));
		return;
	}
	if (response == NULL || response->descriptor != m->output) {
		call_fail(c, GRPC_STATUS_INTERNAL, "crix: %s: handler returned no %s", m->name,
			  m->output->name);
		return;
	}
	size_t size = protobuf_c_message_get_packed_size(response);
	grpc_slice out = grpc_slice_malloc(size);
	protobuf_c_message_pack(response, GRPC_SLICE_START_PTR(out));
	c->response = grpc_raw_byte_buffer_create(&out, 1);
	grpc_slice_unref(out);
	call_finish(c, GRPC_STATUS_OK, NULL);
}

/* Cheap in-memory answers run on the completion-queue thread; reads of state on a small
 * pool; everything that may wait (pulls, stops with grace, exec) on the large pool. */
enum dispatch { DISPATCH_INLINE, DISPATCH_QUICK, DISPATCH_SLOW };

static enum dispatch method_dispatch(const char *name)
{
	static const char *const inline_methods[] = {"Version", "Status", "RuntimeConfig",
						     "UpdateRuntimeConfig"};
	for (size_t i = 0; i < sizeof(inline_methods) / sizeof(inline_methods[0]); i++)
		if (strcmp(name, inline_methods[i]) == 0)
			return DISPATCH_INLINE;
	size_t n = strlen(name);
	if (strncmp(name, "List", 4) == 0 || (n > 6 && strcmp(name + n - 6, "Status") == 0) ||
	    (n > 5 && strcmp(name + n - 5, "Stats") == 0) || strcmp(name, "ImageFsInfo") == 0)
		return DISPATCH_QUICK;
	return DISPATCH_SLOW;
}

static void post_request(struct request_slot *slot)
{
	struct srv_server *s = slot->server;
	if (atomic_load(&s->stopping)) {
		free(slot);
		return;
	}
	slot->call = NULL;
	slot->payload = NULL;
	grpc_metadata_array_init(&slot->metadata);
	grpc_call_error rc = grpc_server_request_registered_call(
		s->server, s->registered[slot->method], &slot->call, &slot->deadline, &slot->metadata,
		&slot->payload, s->cq, s->cq, &slot->tag);
	if (rc != GRPC_CALL_OK) {
		crix_error("cannot request calls for %s (call error %d)", cri_methods[slot->method].name, rc);
		grpc_metadata_array_destroy(&slot->metadata);
		free(slot);
	}
}

static void post_generic(struct generic_slot *slot)
{
	struct srv_server *s = slot->server;
	if (atomic_load(&s->stopping)) {
		free(slot);
		return;
	}
	slot->call = NULL;
	grpc_call_details_init(&slot->details);
	grpc_metadata_array_init(&slot->metadata);
	if (grpc_server_request_call(s->server, &slot->call, &slot->details, &slot->metadata, s->cq,
				     s->cq, &slot->tag) != GRPC_CALL_OK) {
		grpc_call_details_destroy(&slot->details);
		grpc_metadata_array_destroy(&slot->metadata);
		free(slot);
	}
}

static void on_request(struct request_slot *slot, bool ok)
{
	if (!ok) {
		/* Only at shutdown: pending requests come back unfulfilled. */
		grpc_metadata_array_destroy(&slot->metadata);
		if (slot->payload)
			grpc_byte_buffer_destroy(slot->payload);
		free(slot);
		return;
	}
	struct srv_server *s = slot->server;
	struct srv_call *c = call_new(s, slot->call);
	c->method = &cri_methods[slot->method];
	c->deadline = slot->deadline;
	c->metadata = slot->metadata;
	c->payload = slot->payload;
	post_request(slot);

	if (srv_handlers[c->method - cri_methods] == NULL) {
		call_fail(c, GRPC_STATUS_UNIMPLEMENTED, "crix: %s is not implemented", c->method->name);
		return;
	}
	switch (method_dispatch(c->method->name)) {
	case DISPATCH_INLINE:
		call_run(c);
		break;
	case DISPATCH_QUICK:
		srv_pool_submit(s->quick_pool, call_run, c);
		break;
	case DISPATCH_SLOW:
		srv_pool_submit(s->slow_pool, call_run, c);
		break;
	}
}

static void on_generic(struct generic_slot *slot, bool ok)
{
	if (!ok) {
		grpc_call_details_destroy(&slot->details);
		grpc_metadata_array_destroy(&slot->metadata);
		free(slot);
		return;
	}
	struct srv_call *c = call_new(slot->server, slot->call);
	c->metadata = slot->metadata;
	c->deadline = slot->details.deadline;
	c->unknown_path = grpc_slice_to_c_string(slot->details.method);
	/* grpc_slice_to_c_string memory is gpr_malloc'd; keep one allocator for the call. */
	char *path = crix_xstrdup(c->unknown_path ? c->unknown_path : "?");
	gpr_free(c->unknown_path);
	c->unknown_path = path;
	grpc_call_details_destroy(&slot->details);
	post_generic(slot);
	call_fail(c, GRPC_STATUS_UNIMPLEMENTED, "crix: %s is not implemented", c->unknown_path);
}

static void *cq_loop(void *arg)
{
	struct srv_server *s = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		struct srv_tag *tag = ev.tag;
		switch (tag->kind) {
		case TAG_REQUEST:
			on_request(container_of(tag, struct request_slot, tag), ev.success);
			break;
		case TAG_GENERIC:
			on_generic(container_of(tag, struct generic_slot, tag), ev.success);
			break;
		case TAG_CLOSE: {
			struct srv_call *c = container_of(tag, struct srv_call, close_tag);
			if (c->close_cancelled || !ev.success)
				atomic_store(&c->cancelled, true);
			call_unref(c);
			break;
		}
		case TAG_FINAL:
			call_unref(container_of(tag, struct srv_call, final_tag));
			break;
		case TAG_SHUTDOWN:
			pthread_mutex_lock(&s->lock);
			s->shutdown_done = true;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			break;
		}
	}
	return NULL;
}

/* One worker in eight (at least one) serves the quick reads; the rest the calls that may wait. */
static void pool_limits(const struct srv_server_opts *opts, struct srv_pool_limits *quick,
			struct srv_pool_limits *slow)
{
	unsigned n_quick = opts->max_workers / 8 ? opts->max_workers / 8 : 1;
	*quick = (struct srv_pool_limits){.max_threads = n_quick, .idle_ms = opts->worker_idle_ms};
	*slow = (struct srv_pool_limits){.max_threads = opts->max_workers > n_quick ? opts->max_workers - n_quick : 1,
					 .idle_ms = opts->worker_idle_ms};
}

void srv_server_set_workers(struct srv_server *s, const struct srv_server_opts *opts)
{
	struct srv_pool_limits quick, slow;
	pool_limits(opts, &quick, &slow);
	srv_pool_set_limits(s->quick_pool, &quick);
	srv_pool_set_limits(s->slow_pool, &slow);
}

static grpc_arg int_arg(const char *key, int value)
{
	grpc_arg a = {.type = GRPC_ARG_INTEGER, .key = (char *)key};
	a.value.integer = value;
	return a;
}

int srv_server_start(struct srv_daemon *d, const struct srv_server_opts *opts,
		     struct srv_server **out, struct crix_err **err)
{
	struct srv_server *s = crix_xcalloc(1, sizeof(*s));
	s->daemon = d;
	s->shutdown_tag.kind = TAG_SHUTDOWN;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);

	int max = opts->max_msg_size > INT32_MAX ? INT32_MAX : (int)opts->max_msg_size;
	grpc_arg args[] = {
		int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max),
		int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, max),
	};
	grpc_channel_args channel_args = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
	s->server = grpc_server_create(&channel_args, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	for (size_t i = 0; i < CRI_METHODS_COUNT; i++)
		s->registered[i] = grpc_server_register_method(
			s->server, cri_methods[i].path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);

	_cleanup_free_ char *address = NULL;
	if (asprintf(&address, "unix:%s", opts->listen) < 0)
		crix_oom();
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	int port = grpc_server_add_http2_port(s->server, address, creds);
	grpc_server_credentials_release(creds);
	/* The queue's thread runs before the server starts: nothing can be left undrained. */
	int thread_rc = port == 0 ? 0 : pthread_create(&s->cq_thread, NULL, cq_loop, s);
	if (port == 0 || thread_rc != 0) {
		grpc_server_destroy(s->server);
		grpc_completion_queue_shutdown(s->cq);
		while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
		       GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(s->cq);
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		if (port == 0)
			return crix_err_make(err, EADDRNOTAVAIL, "listen on %s", opts->listen);
		return crix_err_make(err, thread_rc, "start the completion-queue thread");
	}
	/* kubelet and crictl run as root; nobody else may drive the runtime. The socket is bound
	 * by now but listens only from grpc_server_start: no connection before the mode is set. */
	if (chmod(opts->listen, 0660) < 0)
		crix_warn("chmod 0660 %s: %s", opts->listen, strerror(errno));
	grpc_server_start(s->server);

	struct srv_pool_limits quick, slow;
	pool_limits(opts, &quick, &slow);
	s->quick_pool = srv_pool_new("quick", &quick);
	s->slow_pool = srv_pool_new("slow", &slow);
	/* Methods without a handler get one posted request each, enough to answer promptly. */
	for (size_t i = 0; i < CRI_METHODS_COUNT; i++) {
		int posted = srv_handlers[i] != NULL ? REQUESTS_PER_METHOD : 1;
		for (int k = 0; k < posted; k++) {
			struct request_slot *slot = crix_xcalloc(1, sizeof(*slot));
			slot->tag.kind = TAG_REQUEST;
			slot->server = s;
			slot->method = i;
			post_request(slot);
		}
	}
	for (int k = 0; k < GENERIC_REQUESTS; k++) {
		struct generic_slot *slot = crix_xcalloc(1, sizeof(*slot));
		slot->tag.kind = TAG_GENERIC;
		slot->server = s;
		post_generic(slot);
	}
	*out = s;
	return 0;
}

/* Waits for the shutdown tag; ms < 0 waits as long as it takes. */
static bool wait_shutdown(struct srv_server *s, int ms)
{
	struct timespec until = srv_time_after_ms(CLOCK_REALTIME, ms < 0 ? 0 : (unsigned)ms);
	pthread_mutex_lock(&s->lock);
	while (!s->shutdown_done) {
		if (ms < 0)
			pthread_cond_wait(&s->cond, &s->lock);
		else if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
			break;
	}
	bool done = s->shutdown_done;
	pthread_mutex_unlock(&s->lock);
	return done;
}

void srv_server_stop(struct srv_server *s, int grace_ms)
{
	atomic_store(&s->stopping, true);
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
	if (!wait_shutdown(s, grace_ms)) {
		crix_warn("calls still running after %d ms: cancelling them", grace_ms);
		grpc_server_cancel_all_calls(s->server);
		wait_shutdown(s, -1);
	}
	srv_pool_destroy(s->quick_pool);
	srv_pool_destroy(s->slow_pool);
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	pthread_join(s->cq_thread, NULL);
	grpc_completion_queue_destroy(s->cq);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
