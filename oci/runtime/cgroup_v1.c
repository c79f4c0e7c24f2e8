/* Limits on cgroup v1 hierarchies (runc 1.1's cgroupfs driver is the reference for the
 * values and the order of the writes). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_internal.h"
#include "crix_cleanup.h"
#include "crix_log.h"

/* The directory of controller, or an error saying a limit needs it. */
static const char *need(const struct oci_cgroup *cg, const char *controller, const char *what,
			struct crix_err **err)
{
	const char *dir = cg_v1_dir(cg, controller);
	if (dir == NULL)
		crix_err_make(err, ENOENT, "%s: the %s cgroup controller is not mounted under %s", what,
			      controller, cg->root);
	return dir;
}

static int write_i64(const char *dir, const char *file, int64_t v, struct crix_err **err)
{
	return cg_writef(dir, file, err, "%" PRId64, v);
}

static int apply_memory(const struct oci_cgroup *cg, const struct oci_memory *m,
			struct crix_err **err)
{
	int64_t limit = m->has_limit ? m->limit : 0;
	int64_t swap = m->has_swap ? m->swap : 0;
	const char *dir = need(cg, "memory", "memory limits", err);
	if (dir == NULL)
		return -1;

	/* 0 means unset, as in runc; unlimited memory without a swap value means unlimited swap. */
	if (limit == -1 && swap == 0)
		swap = -1;
	bool has_memsw = cg_exists(dir, "memory.memsw.limit_in_bytes");
	if (swap != 0 && !has_memsw) {
		if (swap != -1 && swap != limit)
			return crix_err_make(err, ENOTSUP,
					     "memory.swap %" PRId64 ": swap accounting is not enabled in %s",
					     swap, dir);
		crix_debug("cgroup %s: no swap accounting, memory.swap %" PRId64 " skipped", dir, swap);
		swap = 0;
	}
	if (limit != 0 && swap != 0) {
		/* memory.limit <= memsw.limit at every moment: raise memsw first when growing. */
		char cur[64];
		if (cg_read(dir, "memory.limit_in_bytes", cur, sizeof(cur), err) < 0)
			return -1;
		bool memsw_first = swap == -1 || strtoll(cur, NULL, 10) < swap;
		if (memsw_first && write_i64(dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
			return -1;
		if (write_i64(dir, "memory.limit_in_bytes", limit, err) < 0)
			return -1;
		if (!memsw_first && write_i64(dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
			return -1;
	} else {
		if (limit != 0 && write_i64(dir, "memory.limit_in_bytes", limit, err) < 0)
			return -1;
		if (swap != 0 && write_i64(dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
			return -1;
	}
	if (m->has_reservation && m->reservation != 0 &&
	    write_i64(dir, "memory.soft_limit_in_bytes", m->reservation, err) < 0)
		return -1;
	if (m->has_kernel && m->kernel != 0)
		crix_debug("cgroup %s: memory.kernel is deprecated and ignored", dir);
	if (m->has_kernel_tcp && m->kernel_tcp != 0 &&
	    write_i64(dir, "memory.kmem.tcp.limit_in_bytes", m->kernel_tcp, err) < 0)
		return -1;
	if (m->has_swappiness) {
		if (m->swappiness > 100)
			return crix_err_make(err, EINVAL, "memory.swappiness %" PRIu64 ": not in [0, 100]",
					     m->swappiness);
		if (cg_writef(dir, "memory.swappiness", err, "%" PRIu64, m->swappiness) < 0)
			return -1;
	}
	if (m->has_disable_oom_killer && m->disable_oom_killer &&
	    cg_write(dir, "memory.oom_control", "1", err) < 0)
		return -1;
	if (m->has_use_hierarchy && m->use_hierarchy &&
	    cg_write(dir, "memory.use_hierarchy", "1", err) < 0)
		return -1;
	return 0;
}

static int apply_cpu(const struct oci_cgroup *cg, const struct oci_cpu *c, struct crix_err **err)
{
	bool has_cpu = (c->has_shares && c->shares != 0) || (c->has_quota && c->quota != 0) ||
		       (c->has_period && c->period != 0) || c->has_burst || c->has_idle ||
		       (c->has_realtime_runtime && c->realtime_runtime != 0) ||
		       (c->has_realtime_period && c->realtime_period != 0);
	if (has_cpu) {
		const char *dir = need(cg, "cpu", "cpu limits", err);
		if (dir == NULL)
			return -1;
		if (c->has_shares && c->shares != 0 &&
		    cg_writef(dir, "cpu.shares", err, "%" PRIu64, c->shares) < 0)
			return -1;
		if (c->has_period && c->period != 0 &&
		    cg_writef(dir, "cpu.cfs_period_us", err, "%" PRIu64, c->period) < 0)
			return -1;
		if (c->has_quota && c->quota != 0 && write_i64(dir, "cpu.cfs_quota_us", c->quota, err) < 0)
			return -1;
		if (c->has_burst && cg_writef(dir, "cpu.cfs_burst_us", err, "%" PRIu64, c->burst) < 0)
			return -1;
		if (c->has_realtime_period && c->realtime_period != 0 &&
		    cg_writef(dir, "cpu.rt_period_us", err, "%" PRIu64, c->realtime_period) < 0)
			return -1;
		if (c->has_realtime_runtime && c->realtime_runtime != 0 &&
		    write_i64(dir, "cpu.rt_runtime_us", c->realtime_runtime, err) < 0)
			return -1;
		if (c->has_idle && write_i64(dir, "cpu.idle", c->idle, err) < 0)
			return -1;
	}
	if (c->cpus != NULL || c->mems != NULL) {
		const char *dir = need(cg, "cpuset", "cpu.cpus/mems", err);
		if (dir == NULL)
			return -1;
		if (c->cpus != NULL && c->cpus[0] != '\0' && cg_write(dir, "cpuset.cpus", c->cpus, err) < 0)
			return -1;
		if (c->mems != NULL && c->mems[0] != '\0' && cg_write(dir, "cpuset.mems", c->mems, err) < 0)
			return -1;
	}
	return 0;
}

static int write_throttle(const char *dir, const char *file, const struct oci_throttle_device *t,
			  size_t n, struct crix_err **err)
{
	for (size_t i = 0; i < n; i++)
		if (cg_writef(dir, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64, t[i].major, t[i].minor,
			      t[i].rate) < 0)
			return -1;
	return 0;
}

static int apply_blkio(const struct oci_cgroup *cg, const struct oci_block_io *b,
		       struct crix_err **err)
{
	const char *dir = need(cg, "blkio", "blockIO limits", err);
	if (dir == NULL)
		return -1;
	/* Proportional weights need CFQ/BFQ; kernels without them have throttling only. */
	const char *weight_file = cg_exists(dir, "blkio.weight")       ? "blkio.weight"
				  : cg_exists(dir, "blkio.bfq.weight") ? "blkio.bfq.weight"
								       : NULL;
	bool wants_weight = (b->has_weight && b->weight != 0) || (b->has_leaf_weight && b->leaf_weight != 0) ||
			    b->n_weight_device > 0;
	if (wants_weight && weight_file == NULL) {
		crix_debug("cgroup %s: no proportional blkio weight in this kernel, blockIO weights skipped",
			   dir);
	} else if (wants_weight) {
		if (b->has_weight && b->weight != 0 &&
		    cg_writef(dir, weight_file, err, "%u", (unsigned)b->weight) < 0)
			return -1;
		if (b->has_leaf_weight && b->leaf_weight != 0 &&
		    cg_writef(dir, "blkio.leaf_weight", err, "%u", (unsigned)b->leaf_weight) < 0)
			return -1;
		const char *dev_file = strcmp(weight_file, "blkio.weight") == 0 ? "blkio.weight_device"
										 : "blkio.bfq.weight_device";
		for (size_t i = 0; i < b->n_weight_device; i++) {
			const struct oci_weight_device *w = &b->weight_device[i];
			if (w->has_weight &&
			    cg_writef(dir, dev_file, err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
				      (unsigned)w->weight) < 0)
				return -1;
			if (w->has_leaf_weight &&
			    cg_writef(dir, "blkio.leaf_weight_device", err, "%" PRId64 ":%" PRId64 " %u",
				      w->major, w->minor, (unsigned)w->leaf_weight) < 0)
				return -1;
		}
	}
	if (write_throttle(dir, "blkio.throttle.read_bps_device", b->throttle_read_bps,
			   b->n_throttle_read_bps, err) < 0 ||
	    write_throttle(dir, "blkio.throttle.write_bps_device", b->throttle_write_bps,
			   b->n_throttle_write_bps, err) < 0 ||
	    write_throttle(dir, "blkio.throttle.read_iops_device", b->throttle_read_iops,
			   b->n_throttle_read_iops, err) < 0 ||
	    write_throttle(dir, "blkio.throttle.write_iops_device", b->throttle_write_iops,
			   b->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

/* "c 1:3 rwm", "a" for everything. */
static void format_rule(const struct oci_device_rule *d, char *buf, size_t size)
{
	char major[24] = "*", minor[24] = "*";
	bool all = d->type == 'a' && !d->has_major && !d->has_minor;

	if (d->has_major && d->major >= 0)
		snprintf(major, sizeof(major), "%" PRId64, d->major);
	if (d->has_minor && d->minor >= 0)
		snprintf(minor, sizeof(minor), "%" PRId64, d->minor);
	const char *access = d->access != NULL && d->access[0] != '\0' ? d->access : "rwm";
	if (all && strcmp(access, "rwm") == 0)
		snprintf(buf, size, "a");
	else
		snprintf(buf, size, "%c %s:%s %s", d->type, major, minor, access);
}

static int apply_devices(const struct oci_cgroup *cg, const struct oci_resources *res,
			 struct crix_err **err)
{
	const char *dir = need(cg, "devices", "device rules", err);
	_cleanup_free_ struct oci_device_rule *rules = NULL;
	size_t n = 0;

	if (dir == NULL || cg_device_rules(res, &rules, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char rule[96];
		format_rule(&rules[i], rule, sizeof(rule));
		if (cg_write(dir, rules[i].allow ? "devices.allow" : "devices.deny", rule, err) < 0)
			return -1;
	}
	return 0;
}

int cg_v1_apply(const struct oci_cgroup *cg, const struct oci_resources *res, struct crix_err **err)
{
	if (res->n_devices > 0 && apply_devices(cg, res, err) < 0)
		goto fail;
	if (res->memory != NULL && apply_memory(cg, res->memory, err) < 0)
		goto fail;
	if (res->cpu != NULL && apply_cpu(cg, res->cpu, err) < 0)
		goto fail;
	if (res->has_pids_limit && res->pids_limit != 0) {
		const char *dir = need(cg, "pids", "pids.limit", err);
		if (dir == NULL)
			goto fail;
		int rc = res->pids_limit < 0 ? cg_write(dir, "pids.max", "max", err)
					     : write_i64(dir, "pids.max", res->pids_limit, err);
		if (rc < 0)
			goto fail;
	}
	if (res->block_io != NULL && apply_blkio(cg, res->block_io, err) < 0)
		goto fail;
	for (size_t i = 0; i < res->n_hugepage_limits; i++) {
		const struct oci_hugepage_limit *h = &res->hugepage_limits[i];
		const char *dir = need(cg, "hugetlb", "hugepageLimits", err);
		char file[96];
		if (dir == NULL)
			goto fail;
		snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes", h->page_size);
		if (cg_writef(dir, file, err, "%" PRIu64, h->limit) < 0)
			goto fail;
	}
	for (size_t i = 0; i < res->n_rdma; i++) {
		const struct oci_rdma_limit *r = &res->rdma[i];
		const char *dir = need(cg, "rdma", "rdma limits", err);
		if (dir == NULL)
			goto fail;
		if (cg_write_rdma(dir, r, err) < 0)
			goto fail;
	}
	if (res->n_unified > 0) {
		crix_err_make(err, ENOTSUP, "linux.resources.unified needs cgroup v2; this host uses v1");
		goto fail;
	}
	return 0;
fail:
	return -1;
}
