#include "oci_resources.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_json.h"
#include "crix_json_read.h"
#include "oci_emit.h"

/* s->field from obj[key] through the crix_json getter `get`; s->has_field when present. */
#define GET(get, obj, path, key, s, field)                                                         \
	({                                                                                         \
		int r_ = get(obj, path, key, &(s)->field, err);                                    \
		(s)->has_##field = r_ > 0;                                                         \
		r_;                                                                                \
	})
/* The same for unsigned fields bounded by max (uint16 weights, uint32 counts). */
#define GET_UINT_MAX(obj, path, key, max, s, field)                                                \
	({                                                                                         \
		uint64_t v_ = 0;                                                                   \
		int r_ = crix_json_uint_max(obj, path, key, max, &v_, err);                         \
		if (r_ > 0)                                                                        \
			(s)->field = (__typeof__((s)->field))v_;                                   \
		(s)->has_##field = r_ > 0;                                                         \
		r_;                                                                                \
	})

/* Allocates a zeroed array for the JSON array obj[key]; *arr NULL and *items NULL when absent
 * or empty. */
static int get_array(struct json_object *obj, const char *path, const char *key, size_t size,
		     struct json_object **arr, void **items, struct crix_err **err)
{
	*arr = NULL;
	*items = NULL;
	if (crix_json_array(obj, path, key, arr, err) < 0)
		return -1;
	if (*arr == NULL || json_object_array_length(*arr) == 0) {
		*arr = NULL;
		return 0;
	}
	*items = calloc(json_object_array_length(*arr), size);
	if (*items == NULL)
		return crix_err_make(err, ENOMEM, "%s.%s", path, key);
	return 0;
}

/* Element i of arr, which must be an object; its path "<path>.<key>[i]" goes to ipath. */
static int array_object(struct json_object *arr, const char *path, const char *key, size_t i,
			struct json_object **item, char *ipath, struct crix_err **err)
{
	char kp[CRIX_JSON_PATH_MAX];
	crix_json_path_index(ipath, crix_json_path_key(kp, path, key), i);
	*item = json_object_array_get_idx(arr, i);
	return crix_json_expect_object(*item, ipath, err);
}

static size_t length(struct json_object *arr)
{
	return arr != NULL ? json_object_array_length(arr) : 0;
}

static int parse_devices(struct json_object *obj, const char *path, struct oci_resources *r,
			 struct crix_err **err)
{
	struct json_object *arr;
	if (get_array(obj, path, "devices", sizeof(*r->devices), &arr, (void **)&r->devices, err) < 0)
		return -1;
	for (size_t i = 0; i < length(arr); i++) {
		struct oci_device_rule *d = &r->devices[i];
		struct json_object *item;
		char ipath[CRIX_JSON_PATH_MAX];
		_cleanup_free_ char *type = NULL;
		int rc;

		r->n_devices = i + 1; /* so that free() sees what was filled */
		if (array_object(arr, path, "devices", i, &item, ipath, err) < 0 ||
		    (rc = crix_json_bool(item, ipath, "allow", &d->allow, err)) < 0)
			return -1;
		if (rc == 0)
			return crix_err_make(err, EINVAL, "%s.allow: required", ipath);
		if (crix_json_string(item, ipath, "type", &type, err) < 0)
			return -1;
		d->type = type == NULL ? 'a' : type[0];
		if (type != NULL && (strlen(type) != 1 || strchr("acb", type[0]) == NULL))
			return crix_err_make(err, EINVAL, "%s.type: expected \"a\", \"c\" or \"b\", got \"%s\"",
					     ipath, type);
		if (GET(crix_json_int64, item, ipath, "major", d, major) < 0 ||
		    GET(crix_json_int64, item, ipath, "minor", d, minor) < 0 ||
		    crix_json_string(item, ipath, "access", &d->access, err) < 0)
			return -1;
		if (d->access != NULL && d->access[strspn(d->access, "rwm")] != '\0')
			return crix_err_make(err, EINVAL, "%s.access: expected letters of \"rwm\", got \"%s\"",
					     ipath, d->access);
	}
	return 0;
}

static int parse_memory(struct json_object *obj, const char *path, struct oci_resources *r,
			struct crix_err **err)
{
	struct json_object *m = NULL;
	char p[CRIX_JSON_PATH_MAX];
	int rc = crix_json_object(obj, path, "memory", &m, err);
	if (rc <= 0)
		return rc;
	if ((r->memory = calloc(1, sizeof(*r->memory))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.memory", path);
	struct oci_memory *mem = r->memory;
	crix_json_path_key(p, path, "memory");
	if (GET(crix_json_int64, m, p, "limit", mem, limit) < 0 ||
	    GET(crix_json_int64, m, p, "reservation", mem, reservation) < 0 ||
	    GET(crix_json_int64, m, p, "swap", mem, swap) < 0 ||
	    GET(crix_json_int64, m, p, "kernel", mem, kernel) < 0 ||
	    GET(crix_json_int64, m, p, "kernelTCP", mem, kernel_tcp) < 0 ||
	    GET(crix_json_uint64, m, p, "swappiness", mem, swappiness) < 0 ||
	    GET(crix_json_bool, m, p, "disableOOMKiller", mem, disable_oom_killer) < 0 ||
	    GET(crix_json_bool, m, p, "useHierarchy", mem, use_hierarchy) < 0 ||
	    GET(crix_json_bool, m, p, "checkBeforeUpdate", mem, check_before_update) < 0)
		return -1;
	return 0;
}

static int parse_cpu(struct json_object *obj, const char *path, struct oci_resources *r,
		     struct crix_err **err)
{
	struct json_object *c = NULL;
	char p[CRIX_JSON_PATH_MAX];
	int rc = crix_json_object(obj, path, "cpu", &c, err);
	if (rc <= 0)
		return rc;
	if ((r->cpu = calloc(1, sizeof(*r->cpu))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.cpu", path);
	struct oci_cpu *cpu = r->cpu;
	crix_json_path_key(p, path, "cpu");
	if (GET(crix_json_uint64, c, p, "shares", cpu, shares) < 0 ||
	    GET(crix_json_int64, c, p, "quota", cpu, quota) < 0 ||
	    GET(crix_json_uint64, c, p, "burst", cpu, burst) < 0 ||
	    GET(crix_json_uint64, c, p, "period", cpu, period) < 0 ||
	    GET(crix_json_int64, c, p, "realtimeRuntime", cpu, realtime_runtime) < 0 ||
	    GET(crix_json_uint64, c, p, "realtimePeriod", cpu, realtime_period) < 0 ||
	    crix_json_string(c, p, "cpus", &cpu->cpus, err) < 0 ||
	    crix_json_string(c, p, "mems", &cpu->mems, err) < 0 ||
	    GET(crix_json_int64, c, p, "idle", cpu, idle) < 0)
		return -1;
	return 0;
}

static int parse_pids(struct json_object *obj, const char *path, struct oci_resources *r,
		      struct crix_err **err)
{
	struct json_object *pids = NULL;
	char p[CRIX_JSON_PATH_MAX];
	int rc = crix_json_object(obj, path, "pids", &pids, err);
	if (rc <= 0)
		return rc;
	crix_json_path_key(p, path, "pids");
	return GET(crix_json_int64, pids, p, "limit", r, pids_limit) < 0 ? -1 : 0;
}

/* major and minor of a device entry, both required. */
static int get_major_minor(struct json_object *item, const char *ipath, int64_t *major,
			   int64_t *minor, struct crix_err **err)
{
	int has_major, has_minor;
	if ((has_major = crix_json_int64(item, ipath, "major", major, err)) < 0 ||
	    (has_minor = crix_json_int64(item, ipath, "minor", minor, err)) < 0)
		return -1;
	if (!has_major || !has_minor)
		return crix_err_make(err, EINVAL, "%s: major and minor are required", ipath);
	return 0;
}

static int parse_throttle(struct json_object *obj, const char *path, const char *key,
			  struct oci_throttle_device **out, size_t *n_out, struct crix_err **err)
{
	struct json_object *arr;
	if (get_array(obj, path, key, sizeof(**out), &arr, (void **)out, err) < 0)
		return -1;
	for (size_t i = 0; i < length(arr); i++) {
		struct oci_throttle_device *t = &(*out)[i];
		struct json_object *item;
		char ipath[CRIX_JSON_PATH_MAX];

		*n_out = i + 1;
		if (array_object(arr, path, key, i, &item, ipath, err) < 0 ||
		    get_major_minor(item, ipath, &t->major, &t->minor, err) < 0 ||
		    crix_json_uint64(item, ipath, "rate", &t->rate, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_block_io(struct json_object *obj, const char *path, struct oci_resources *r,
			  struct crix_err **err)
{
	struct json_object *b = NULL, *arr;
	char p[CRIX_JSON_PATH_MAX];
	int rc = crix_json_object(obj, path, "blockIO", &b, err);
	if (rc <= 0)
		return rc;
	if ((r->block_io = calloc(1, sizeof(*r->block_io))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.blockIO", path);
	struct oci_block_io *bio = r->block_io;
	crix_json_path_key(p, path, "blockIO");
	if (GET_UINT_MAX(b, p, "weight", UINT16_MAX, bio, weight) < 0 ||
	    GET_UINT_MAX(b, p, "leafWeight", UINT16_MAX, bio, leaf_weight) < 0 ||
	    get_array(b, p, "weightDevice", sizeof(*bio->weight_device), &arr,
		      (void **)&bio->weight_device, err) < 0)
		return -1;
	for (size_t i = 0; i < length(arr); i++) {
		struct oci_weight_device *w = &bio->weight_device[i];
		struct json_object *item;
		char ipath[CRIX_JSON_PATH_MAX];

		bio->n_weight_device = i + 1;
		if (array_object(arr, p, "weightDevice", i, &item, ipath, err) < 0 ||
		    get_major_minor(item, ipath, &w->major, &w->minor, err) < 0 ||
		    GET_UINT_MAX(item, ipath, "weight", UINT16_MAX, w, weight) < 0 ||
		    GET_UINT_MAX(item, ipath, "leafWeight", UINT16_MAX, w, leaf_weight) < 0)
			return -1;
	}
	if (parse_throttle(b, p, "throttleReadBpsDevice", &bio->throttle_read_bps,
			   &bio->n_throttle_read_bps, err) < 0 ||
	    parse_throttle(b, p, "throttleWriteBpsDevice", &bio->throttle_write_bps,
			   &bio->n_throttle_write_bps, err) < 0 ||
	    parse_throttle(b, p, "throttleReadIOPSDevice", &bio->throttle_read_iops,
			   &bio->n_throttle_read_iops, err) < 0 ||
	    parse_throttle(b, p, "throttleWriteIOPSDevice", &bio->throttle_write_iops,
			   &bio->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

static int parse_hugepages(struct json_object *obj, const char *path, struct oci_resources *r,
			   struct crix_err **err)
{
	struct json_object *arr;
	if (get_array(obj, path, "hugepageLimits", sizeof(*r->hugepage_limits), &arr,
		      (void **)&r->hugepage_limits, err) < 0)
		return -1;
	for (size_t i = 0; i < length(arr); i++) {
		struct oci_hugepage_limit *h = &r->hugepage_limits[i];
		struct json_object *item;
		char ipath[CRIX_JSON_PATH_MAX];
		int has_limit;

		r->n_hugepage_limits = i + 1;
		if (array_object(arr, path, "hugepageLimits", i, &item, ipath, err) < 0 ||
		    crix_json_string(item, ipath, "pageSize", &h->page_size, err) < 0 ||
		    (has_limit = crix_json_uint64(item, ipath, "limit", &h->limit, err)) < 0)
			return -1;
		if (h->page_size == NULL || !has_limit)
			return crix_err_make(err, EINVAL, "%s: pageSize and limit are required", ipath);
		/* It becomes part of a file name. */
		if (strchr(h->page_size, '/') != NULL || strstr(h->page_size, "..") != NULL)
			return crix_err_make(err, EINVAL, "%s.pageSize: invalid \"%s\"", ipath, h->page_size);
	}
	return 0;
}

static int parse_network(struct json_object *obj, const char *path, struct oci_resources *r,
			 struct crix_err **err)
{
	struct json_object *net = NULL, *arr;
	char p[CRIX_JSON_PATH_MAX];
	int rc = crix_json_object(obj, path, "network", &net, err);
	if (rc <= 0)
		return rc;
	if ((r->network = calloc(1, sizeof(*r->network))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.network", path);
	struct oci_network *nw = r->network;
	crix_json_path_key(p, path, "network");
	if (GET(crix_json_uint32, net, p, "classID", nw, class_id) < 0 ||
	    get_array(net, p, "priorities", sizeof(*nw->priorities), &arr, (void **)&nw->priorities,
		      err) < 0)
		return -1;
	for (size_t i = 0; i < length(arr); i++) {
		struct oci_net_priority *prio = &nw->priorities[i];
		struct json_object *item;
		char ipath[CRIX_JSON_PATH_MAX];

		nw->n_priorities = i + 1;
		if (array_object(arr, p, "priorities", i, &item, ipath, err) < 0 ||
		    crix_json_string(item, ipath, "name", &prio->name, err) < 0 ||
		    crix_json_uint32(item, ipath, "priority", &prio->priority, err) < 0)
			return -1;
		if (prio->name == NULL)
			return crix_err_make(err, EINVAL, "%s.name: required", ipath);
	}
	return 0;
}

static int parse_rdma(struct json_object *obj, const char *path, struct oci_resources *r,
		      struct crix_err **err)
{
	struct json_object *rdma = NULL;
	char p[CRIX_JSON_PATH_MAX];
	if (crix_json_object(obj, path, "rdma", &rdma, err) < 0)
		return -1;
	if (rdma == NULL || json_object_object_length(rdma) == 0)
		return 0;
	crix_json_path_key(p, path, "rdma");
	r->rdma = calloc((size_t)json_object_object_length(rdma), sizeof(*r->rdma));
	if (r->rdma == NULL)
		return crix_err_make(err, ENOMEM, "%s", p);
	json_object_object_foreach(rdma, dev, limits)
	{
		struct oci_rdma_limit *l = &r->rdma[r->n_rdma++];
		char dpath[CRIX_JSON_PATH_MAX];
		crix_json_path_key(dpath, p, dev);
		if ((l->device = strdup(dev)) == NULL)
			return crix_err_make(err, ENOMEM, "%s", p);
		if (crix_json_expect_object(limits, dpath, err) < 0 ||
		    GET(crix_json_uint32, limits, dpath, "hcaHandles", l, hca_handles) < 0 ||
		    GET(crix_json_uint32, limits, dpath, "hcaObjects", l, hca_objects) < 0)
			return -1;
	}
	return 0;
}

static int parse_unified(struct json_object *obj, const char *path, struct oci_resources *r,
			 struct crix_err **err)
{
	struct json_object *unified = NULL;
	if (crix_json_object(obj, path, "unified", &unified, err) < 0)
		return -1;
	if (unified == NULL || json_object_object_length(unified) == 0)
		return 0;
	r->unified = calloc((size_t)json_object_object_length(unified), sizeof(*r->unified));
	if (r->unified == NULL)
		return crix_err_make(err, ENOMEM, "%s.unified", path);
	json_object_object_foreach(unified, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			return crix_err_make(err, EINVAL, "%s.unified.%s: expected string", path, key);
		struct oci_unified_entry *e = &r->unified[r->n_unified++];
		e->key = strdup(key);
		e->value = strdup(json_object_get_string(val));
		if (e->key == NULL || e->value == NULL)
			return crix_err_make(err, ENOMEM, "%s.unified", path);
	}
	return 0;
}

static const char *const known_keys[] = {"devices", "memory",  "cpu",  "pids",    "blockIO",
					 "hugepageLimits", "network", "rdma", "unified", NULL};

int oci_resources_from_json(struct json_object *obj, const char *json_path,
			    struct oci_resources **out, struct crix_err **err)
{
	const char *path = json_path != NULL ? json_path : "linux.resources";

	*out = NULL;
	if (crix_json_expect_object(obj, path, err) < 0)
		return -1;
	struct oci_resources *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return crix_err_make(err, ENOMEM, "%s", path);
	if (parse_devices(obj, path, r, err) < 0 || parse_memory(obj, path, r, err) < 0 ||
	    parse_cpu(obj, path, r, err) < 0 || parse_pids(obj, path, r, err) < 0 ||
	    parse_block_io(obj, path, r, err) < 0 || parse_hugepages(obj, path, r, err) < 0 ||
	    parse_network(obj, path, r, err) < 0 || parse_rdma(obj, path, r, err) < 0 ||
	    parse_unified(obj, path, r, err) < 0 ||
	    crix_json_keep_unknown(obj, known_keys, &r->unknown, err) < 0) {
		oci_resources_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* --- emit --- */

static int emit_devices(const struct oci_resources *r, struct json_object *o, struct crix_err **err)
{
	struct json_object *arr;
	if (r->devices == NULL)
		return 0;
	if (oci_emit_container(o, "devices", true, &arr, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_devices; i++) {
		const struct oci_device_rule *d = &r->devices[i];
		struct json_object *item = json_object_new_object();
		char type[2] = {d->type, '\0'};
		if (oci_emit_append(arr, item, err) < 0 ||
		    oci_emit_bool(item, "allow", true, d->allow, err) < 0 ||
		    oci_emit_string(item, "type", type, err) < 0 ||
		    oci_emit_int(item, "major", d->has_major, d->major, err) < 0 ||
		    oci_emit_int(item, "minor", d->has_minor, d->minor, err) < 0 ||
		    oci_emit_string(item, "access", d->access, err) < 0)
			return -1;
	}
	return 0;
}

static int emit_memory(const struct oci_memory *m, struct json_object *o, struct crix_err **err)
{
	struct json_object *mo;
	if (m == NULL)
		return 0;
	if (oci_emit_container(o, "memory", false, &mo, err) < 0 ||
	    oci_emit_int(mo, "limit", m->has_limit, m->limit, err) < 0 ||
	    oci_emit_int(mo, "reservation", m->has_reservation, m->reservation, err) < 0 ||
	    oci_emit_int(mo, "swap", m->has_swap, m->swap, err) < 0 ||
	    oci_emit_int(mo, "kernel", m->has_kernel, m->kernel, err) < 0 ||
	    oci_emit_int(mo, "kernelTCP", m->has_kernel_tcp, m->kernel_tcp, err) < 0 ||
	    oci_emit_uint(mo, "swappiness", m->has_swappiness, m->swappiness, err) < 0 ||
	    oci_emit_bool(mo, "disableOOMKiller", m->has_disable_oom_killer, m->disable_oom_killer,
			  err) < 0 ||
	    oci_emit_bool(mo, "useHierarchy", m->has_use_hierarchy, m->use_hierarchy, err) < 0 ||
	    oci_emit_bool(mo, "checkBeforeUpdate", m->has_check_before_update, m->check_before_update,
		     err) < 0)
		return -1;
	return 0;
}

static int emit_cpu(const struct oci_cpu *c, struct json_object *o, struct crix_err **err)
{
	struct json_object *co;
	if (c == NULL)
		return 0;
	if (oci_emit_container(o, "cpu", false, &co, err) < 0 ||
	    oci_emit_uint(co, "shares", c->has_shares, c->shares, err) < 0 ||
	    oci_emit_int(co, "quota", c->has_quota, c->quota, err) < 0 ||
	    oci_emit_uint(co, "burst", c->has_burst, c->burst, err) < 0 ||
	    oci_emit_uint(co, "period", c->has_period, c->period, err) < 0 ||
	    oci_emit_int(co, "realtimeRuntime", c->has_realtime_runtime, c->realtime_runtime, err) < 0 ||
	    oci_emit_uint(co, "realtimePeriod", c->has_realtime_period, c->realtime_period, err) < 0 ||
	    oci_emit_string(co, "cpus", c->cpus, err) < 0 ||
	    oci_emit_string(co, "mems", c->mems, err) < 0 ||
	    oci_emit_int(co, "idle", c->has_idle, c->idle, err) < 0)
		return -1;
	return 0;
}

static int emit_throttle(struct json_object *o, const char *key, const struct oci_throttle_device *t,
			 size_t n, struct crix_err **err)
{
	struct json_object *arr;
	if (t == NULL)
		return 0;
	if (oci_emit_container(o, key, true, &arr, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_new_object();
		if (oci_emit_append(arr, item, err) < 0 ||
		    oci_emit_int(item, "major", true, t[i].major, err) < 0 ||
		    oci_emit_int(item, "minor", true, t[i].minor, err) < 0 ||
		    oci_emit_uint(item, "rate", true, t[i].rate, err) < 0)
			return -1;
	}
	return 0;
}

static int emit_block_io(const struct oci_block_io *b, struct json_object *o, struct crix_err **err)
{
	struct json_object *bo, *arr;
	if (b == NULL)
		return 0;
	if (oci_emit_container(o, "blockIO", false, &bo, err) < 0 ||
	    oci_emit_uint(bo, "weight", b->has_weight, b->weight, err) < 0 ||
	    oci_emit_uint(bo, "leafWeight", b->has_leaf_weight, b->leaf_weight, err) < 0)
		return -1;
	if (b->weight_device != NULL) {
		if (oci_emit_container(bo, "weightDevice", true, &arr, err) < 0)
			return -1;
		for (size_t i = 0; i < b->n_weight_device; i++) {
			const struct oci_weight_device *w = &b->weight_device[i];
			struct json_object *item = json_object_new_object();
			if (oci_emit_append(arr, item, err) < 0 ||
			    oci_emit_int(item, "major", true, w->major, err) < 0 ||
			    oci_emit_int(item, "minor", true, w->minor, err) < 0 ||
			    oci_emit_uint(item, "weight", w->has_weight, w->weight, err) < 0 ||
			    oci_emit_uint(item, "leafWeight", w->has_leaf_weight, w->leaf_weight, err) < 0)
				return -1;
		}
	}
	if (emit_throttle(bo, "throttleReadBpsDevice", b->throttle_read_bps, b->n_throttle_read_bps, err) < 0 ||
	    emit_throttle(bo, "throttleWriteBpsDevice", b->throttle_write_bps, b->n_throttle_write_bps, err) < 0 ||
	    emit_throttle(bo, "throttleReadIOPSDevice", b->throttle_read_iops, b->n_throttle_read_iops, err) < 0 ||
	    emit_throttle(bo, "throttleWriteIOPSDevice", b->throttle_write_iops, b->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

static int emit_rest(const struct oci_resources *r, struct json_object *o, struct crix_err **err)
{
	struct json_object *c;
	if (r->has_pids_limit &&
	    (oci_emit_container(o, "pids", false, &c, err) < 0 ||
	     oci_emit_int(c, "limit", true, r->pids_limit, err) < 0))
		return -1;
	if (r->hugepage_limits != NULL) {
		if (oci_emit_container(o, "hugepageLimits", true, &c, err) < 0)
			return -1;
		for (size_t i = 0; i < r->n_hugepage_limits; i++) {
			struct json_object *item = json_object_new_object();
			if (oci_emit_append(c, item, err) < 0 ||
			    oci_emit_string(item, "pageSize", r->hugepage_limits[i].page_size, err) < 0 ||
			    oci_emit_uint(item, "limit", true, r->hugepage_limits[i].limit, err) < 0)
				return -1;
		}
	}
	if (r->network != NULL) {
		struct json_object *arr;
		if (oci_emit_container(o, "network", false, &c, err) < 0 ||
		    oci_emit_uint(c, "classID", r->network->has_class_id, r->network->class_id, err) < 0)
			return -1;
		if (r->network->priorities != NULL) {
			if (oci_emit_container(c, "priorities", true, &arr, err) < 0)
				return -1;
			for (size_t i = 0; i < r->network->n_priorities; i++) {
				struct json_object *item = json_object_new_object();
				if (oci_emit_append(arr, item, err) < 0 ||
				    oci_emit_string(item, "name", r->network->priorities[i].name, err) < 0 ||
				    oci_emit_uint(item, "priority", true, r->network->priorities[i].priority, err) < 0)
					return -1;
			}
		}
	}
	if (r->rdma != NULL) {
		if (oci_emit_container(o, "rdma", false, &c, err) < 0)
			return -1;
		for (size_t i = 0; i < r->n_rdma; i++) {
			struct json_object *dev;
			const struct oci_rdma_limit *l = &r->rdma[i];
			if (oci_emit_container(c, l->device, false, &dev, err) < 0 ||
			    oci_emit_uint(dev, "hcaHandles", l->has_hca_handles, l->hca_handles, err) < 0 ||
			    oci_emit_uint(dev, "hcaObjects", l->has_hca_objects, l->hca_objects, err) < 0)
				return -1;
		}
	}
	if (r->unified != NULL) {
		if (oci_emit_container(o, "unified", false, &c, err) < 0)
			return -1;
		for (size_t i = 0; i < r->n_unified; i++)
			if (oci_emit_string(c, r->unified[i].key, r->unified[i].value, err) < 0)
				return -1;
	}
	return 0;
}

int oci_resources_to_json(const struct oci_resources *r, struct json_object **out,
			  struct crix_err **err)
{
	struct json_object *o = json_object_new_object();

	*out = NULL;
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "emit linux.resources");
	if (emit_devices(r, o, err) < 0 || emit_memory(r->memory, o, err) < 0 ||
	    emit_cpu(r->cpu, o, err) < 0 || emit_block_io(r->block_io, o, err) < 0 ||
	    emit_rest(r, o, err) < 0 || crix_json_add_unknown(o, r->unknown, err) < 0) {
		json_object_put(o);
		return crix_err_wrap(err, "emit linux.resources");
	}
	*out = o;
	return 0;
}

void oci_resources_free(struct oci_resources *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_devices; i++)
		free(r->devices[i].access);
	free(r->devices);
	free(r->memory);
	if (r->cpu != NULL) {
		free(r->cpu->cpus);
		free(r->cpu->mems);
		free(r->cpu);
	}
	if (r->block_io != NULL) {
		free(r->block_io->weight_device);
		free(r->block_io->throttle_read_bps);
		free(r->block_io->throttle_write_bps);
		free(r->block_io->throttle_read_iops);
		free(r->block_io->throttle_write_iops);
		free(r->block_io);
	}
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	if (r->network != NULL) {
		for (size_t i = 0; i < r->network->n_priorities; i++)
			free(r->network->priorities[i].name);
		free(r->network->priorities);
		free(r->network);
	}
	for (size_t i = 0; i < r->n_rdma; i++)
		free(r->rdma[i].device);
	free(r->rdma);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	json_object_put(r->unknown);
	free(r);
}
