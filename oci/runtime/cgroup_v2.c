/* Limits on the unified (v2) hierarchy. OCI values are v1-shaped; the conversions follow
 * runc (swap, io weight) and crun (cpu weight). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "crix_cleanup.h"
#include "crix_log.h"

/* OCI swap is memory+swap (v1 memsw); memory.swap.max is swap alone. */
static int swap_v2(int64_t swap, int64_t limit, int64_t *out, struct crix_err **err)
{
	if (limit == -1 && swap == 0) {
		*out = -1; /* unlimited memory, swap unset: unlimited swap, as on v1 */
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*out = swap;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return crix_err_make(err, EINVAL, "memory.swap %" PRId64 " needs a memory.limit", swap);
	if (swap < limit)
		return crix_err_make(err, EINVAL,
				     "memory.swap %" PRId64 " is below memory.limit %" PRId64
				     " (swap is memory+swap)",
				     swap, limit);
	*out = swap - limit;
	return 0;
}

static int write_limit(const char *dir, const char *file, int64_t v, struct crix_err **err)
{
	if (v < 0)
		return cg_write(dir, file, "max", err);
	return cg_writef(dir, file, err, "%" PRId64, v);
}

static int apply_memory(const char *dir, const struct oci_memory *m, struct crix_err **err)
{
	int64_t limit = m->has_limit ? m->limit : 0;
	int64_t swap = 0;

	if (swap_v2(m->has_swap ? m->swap : 0, limit, &swap, err) < 0)
		return -1;
	/* Swap first: memory.max alone could briefly allow more than memory+swap. */
	if (swap != 0) {
		if (!cg_exists(dir, "memory.swap.max")) {
			if (swap != -1)
				return crix_err_make(err, ENOTSUP,
						     "memory.swap: %s/memory.swap.max does not exist "
						     "(no swap accounting)",
						     dir);
			crix_debug("cgroup %s: no memory.swap.max, unlimited swap skipped", dir);
		} else if (write_limit(dir, "memory.swap.max", swap, err) < 0) {
			return -1;
		}
	}
	if (limit != 0 && write_limit(dir, "memory.max", limit, err) < 0)
		return -1;
	if (m->has_reservation && m->reservation != 0 &&
	    write_limit(dir, "memory.low", m->reservation, err) < 0)
		return -1;
	if (m->has_swappiness)
		crix_debug("cgroup %s: memory.swappiness has no cgroup v2 file, ignored", dir);
	if (m->has_disable_oom_killer && m->disable_oom_killer)
		crix_debug("cgroup %s: disableOOMKiller has no cgroup v2 file, ignored", dir);
	return 0;
}

/* crun's mapping of shares [2, 262144] onto weight [1, 10000]. */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int apply_cpu(const char *dir, const struct oci_cpu *c, struct crix_err **err)
{
	if (c->has_shares && c->shares != 0 &&
	    cg_writef(dir, "cpu.weight", err, "%" PRIu64, shares_to_weight(c->shares)) < 0)
		return -1;
	bool quota = c->has_quota && c->quota != 0;
	bool period = c->has_period && c->period != 0;
	if (quota || period) {
		/* cpu.max holds both: keep the current half that is not being set (update). */
		char cur[64] = "", q[24] = "max", p[24] = "100000";
		if ((!quota || !period) && cg_read(dir, "cpu.max", cur, sizeof(cur), err) < 0)
			return -1;
		sscanf(cur, "%23s %23s", q, p);
		if (quota && c->quota > 0)
			snprintf(q, sizeof(q), "%" PRId64, c->quota);
		else if (quota)
			snprintf(q, sizeof(q), "max");
		if (period)
			snprintf(p, sizeof(p), "%" PRIu64, c->period);
		if (cg_writef(dir, "cpu.max", err, "%s %s", q, p) < 0)
			return -1;
	}
	if (c->has_burst && cg_writef(dir, "cpu.max.burst", err, "%" PRIu64, c->burst) < 0)
		return -1;
	if (c->has_idle && cg_writef(dir, "cpu.idle", err, "%" PRId64, c->idle) < 0)
		return -1;
	if ((c->has_realtime_runtime && c->realtime_runtime != 0) ||
	    (c->has_realtime_period && c->realtime_period != 0))
		return crix_err_make(err, ENOTSUP, "cpu.realtimeRuntime/realtimePeriod need cgroup v1");
	if (c->cpus != NULL && c->cpus[0] != '\0' && cg_write(dir, "cpuset.cpus", c->cpus, err) < 0)
		return -1;
	if (c->mems != NULL && c->mems[0] != '\0' && cg_write(dir, "cpuset.mems", c->mems, err) < 0)
		return -1;
	return 0;
}

/* runc's mapping of blkio weight [10, 1000] onto io.weight [1, 10000]. */
static unsigned io_weight(unsigned blkio_weight)
{
	if (blkio_weight < 10)
		blkio_weight = 10;
	return 1 + (blkio_weight - 10) * 9999 / 990;
}

/* One io.max line per device carrying all four limits of that device. */
struct io_max_line {
	int64_t major, minor;
	uint64_t v[4];
	bool set[4];
};

static int add_io_max(struct io_max_line **lines, size_t *n, size_t which,
		      const struct oci_throttle_device *t, size_t count, struct crix_err **err)
{
	for (size_t i = 0; i < count; i++) {
		size_t j;
		for (j = 0; j < *n; j++)
			if ((*lines)[j].major == t[i].major && (*lines)[j].minor == t[i].minor)
				break;
		if (j == *n) {
			struct io_max_line *grown = realloc(*lines, (*n + 1) * sizeof(*grown));
			if (grown == NULL)
				return crix_err_make(err, ENOMEM, "io.max");
			*lines = grown;
			(*lines)[j] = (struct io_max_line){.major = t[i].major, .minor = t[i].minor};
			(*n)++;
		}
		(*lines)[j].v[which] = t[i].rate;
		(*lines)[j].set[which] = true;
	}
	return 0;
}

static int apply_io(const char *dir, const struct oci_block_io *b, struct crix_err **err)
{
	static const char *const keys[4] = {"rbps", "wbps", "riops", "wiops"};
	_cleanup_free_ struct io_max_line *lines = NULL;
	size_t n = 0;

	if (b->has_weight && b->weight != 0 &&
	    cg_writef(dir, "io.weight", err, "default %u", io_weight(b->weight)) < 0)
		return -1;
	for (size_t i = 0; i < b->n_weight_device; i++) {
		const struct oci_weight_device *w = &b->weight_device[i];
		if (w->has_weight && cg_writef(dir, "io.weight", err, "%" PRId64 ":%" PRId64 " %u",
					       w->major, w->minor, io_weight(w->weight)) < 0)
			return -1;
	}
	if (add_io_max(&lines, &n, 0, b->throttle_read_bps, b->n_throttle_read_bps, err) < 0 ||
	    add_io_max(&lines, &n, 1, b->throttle_write_bps, b->n_throttle_write_bps, err) < 0 ||
	    add_io_max(&lines, &n, 2, b->throttle_read_iops, b->n_throttle_read_iops, err) < 0 ||
	    add_io_max(&lines, &n, 3, b->throttle_write_iops, b->n_throttle_write_iops, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char line[160];
		int len = snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64, lines[i].major,
				   lines[i].minor);
		for (size_t k = 0; k < 4; k++)
			if (lines[i].set[k])
				len += snprintf(line + len, sizeof(line) - (size_t)len, " %s=%" PRIu64,
						keys[k], lines[i].v[k]);
		if (cg_write(dir, "io.max", line, err) < 0)
			return -1;
	}
	return 0;
}

/* Keys of linux.resources.unified are file names in the container's own directory. */
static int apply_unified(const char *dir, const struct oci_resources *res, struct crix_err **err)
{
	for (size_t i = 0; i < res->n_unified; i++) {
		const char *key = res->unified[i].key;
		if (key[0] == '\0' || strchr(key, '/') != NULL || strcmp(key, ".") == 0 ||
		    strcmp(key, "..") == 0)
			return crix_err_make(err, EINVAL, "linux.resources.unified: invalid key \"%s\"", key);
		if (cg_write(dir, key, res->unified[i].value, err) < 0)
			return -1;
	}
	return 0;
}

static int apply_devices(const char *dir, const struct oci_resources *res, struct crix_err **err)
{
	_cleanup_free_ struct oci_device_rule *rules = NULL;
	_cleanup_free_ void *insns = NULL;
	size_t n_rules = 0, n_insns = 0;

	if (cg_device_rules(res, &rules, &n_rules, err) < 0 ||
	    oci_cgroup_devices_bpf_build(rules, n_rules, &insns, &n_insns, err) < 0)
		return -1;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", dir);
	if (oci_cgroup_devices_bpf_attach(fd, insns, n_insns, err) < 0)
		return crix_err_wrap(err, "device rules on %s", dir);
	return 0;
}

int cg_v2_apply(const struct oci_cgroup *cg, const struct oci_resources *res, struct crix_err **err)
{
	const char *dir = cg->dirs[0].path;

	if (res->memory != NULL && apply_memory(dir, res->memory, err) < 0)
		goto fail;
	if (res->cpu != NULL && apply_cpu(dir, res->cpu, err) < 0)
		goto fail;
	if (res->has_pids_limit && res->pids_limit != 0 &&
	    write_limit(dir, "pids.max", res->pids_limit, err) < 0)
		goto fail;
	if (res->block_io != NULL && apply_io(dir, res->block_io, err) < 0)
		goto fail;
	for (size_t i = 0; i < res->n_hugepage_limits; i++) {
		char file[96];
		snprintf(file, sizeof(file), "hugetlb.%s.max", res->hugepage_limits[i].page_size);
		if (cg_writef(dir, file, err, "%" PRIu64, res->hugepage_limits[i].limit) < 0)
			goto fail;
	}
	for (size_t i = 0; i < res->n_rdma; i++) {
		const struct oci_rdma_limit *r = &res->rdma[i];
		if (cg_write_rdma(dir, r, err) < 0)
			goto fail;
	}
	if (res->n_devices > 0 && apply_devices(dir, res, err) < 0)
		goto fail;
	if (apply_unified(dir, res, err) < 0)
		goto fail;
	return 0;
fail:
	return -1;
}
