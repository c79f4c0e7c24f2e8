#include "mon_oom.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"

int mon_cgroup_memory_path(const char *text, char **path, int *version, struct crix_err **err)
{
	const char *v2 = NULL;
	size_t v2_len = 0;
	for (const char *line = text; *line != '\0';) {
		const char *end = strchrnul(line, '\n');
		/* "ID:CONTROLLERS:PATH" */
		const char *c1 = memchr(line, ':', (size_t)(end - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (c2 != NULL) {
			const char *p = c2 + 1;
			size_t plen = (size_t)(end - p);
			if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0) {
				v2 = p;
				v2_len = plen;
			}
			for (const char *ctl = c1 + 1; ctl < c2;) {
				const char *comma = memchr(ctl, ',', (size_t)(c2 - ctl));
				const char *ctl_end = comma ? comma : c2;
				if (ctl_end - ctl == 6 && strncmp(ctl, "memory", 6) == 0) {
					*path = strndup(p, plen);
					*version = 1;
					return *path ? 0 : crix_err_make(err, ENOMEM, "cgroup path");
				}
				ctl = ctl_end + 1;
			}
		}
		line = *end ? end + 1 : end;
	}
	if (v2 == NULL)
		return crix_err_make(err, ENOENT, "no memory cgroup in /proc/PID/cgroup");
	*path = strndup(v2, v2_len);
	*version = 2;
	return *path ? 0 : crix_err_make(err, ENOMEM, "cgroup path");
}

int mon_oom_parse_kills(const char *text, uint64_t *kills)
{
	for (const char *line = text; *line != '\0';) {
		if (strncmp(line, "oom_kill ", 9) == 0) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(line + 9, &end, 10);
			if (errno != 0 || end == line + 9)
				return -1;
			*kills = v;
			return 0;
		}
		const char *nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return -1;
}

static int read_kills(const char *path, uint64_t *kills, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	if (crix_read_file(path, 64 * 1024, &text, NULL, err) < 0)
		return -1;
	if (mon_oom_parse_kills(text, kills) < 0)
		return crix_err_make(err, EINVAL, "no oom_kill counter in %s", path);
	return 0;
}

static int register_v1(const char *dir, int efd, struct crix_err **err)
{
	_cleanup_free_ char *control = NULL, *events = NULL;
	if (asprintf(&control, "%s/memory.oom_control", dir) < 0 ||
	    asprintf(&events, "%s/cgroup.event_control", dir) < 0)
		return crix_err_make(err, ENOMEM, "oom watch");
	/* The registration keeps what it needs; the fds can go afterwards. */
	_cleanup_close_ int control_fd = open(control, O_RDONLY | O_CLOEXEC);
	if (control_fd < 0)
		return crix_err_make(err, errno, "open %s", control);
	_cleanup_close_ int events_fd = open(events, O_WRONLY | O_CLOEXEC);
	if (events_fd < 0)
		return crix_err_make(err, errno, "open %s", events);
	char line[32];
	int n = snprintf(line, sizeof(line), "%d %d", efd, control_fd);
	if (write(events_fd, line, (size_t)n) != n)
		return crix_err_make(err, errno, "register oom eventfd in %s", events);
	return 0;
}

int mon_oom_watch_dir(struct mon_oom *oom, int version, const char *dir, struct crix_err **err)
{
	memset(oom, 0, sizeof(*oom));
	oom->fd = -1;
	oom->version = version;
	if (asprintf(&oom->counter_path, "%s/%s", dir, version == 1 ? "memory.oom_control" : "memory.events") < 0) {
		oom->counter_path = NULL;
		return crix_err_make(err, ENOMEM, "oom watch");
	}
	if (read_kills(oom->counter_path, &oom->baseline, err) < 0)
		goto fail;
	if (version == 1) {
		oom->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (oom->fd < 0) {
			crix_err_make(err, errno, "eventfd");
			goto fail;
		}
		if (register_v1(dir, oom->fd, err) < 0)
			goto fail;
	} else {
		oom->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (oom->fd < 0) {
			crix_err_make(err, errno, "inotify_init1");
			goto fail;
		}
		if (inotify_add_watch(oom->fd, oom->counter_path, IN_MODIFY) < 0) {
			crix_err_make(err, errno, "inotify watch %s", oom->counter_path);
			goto fail;
		}
	}
	return 0;
fail:
	crix_err_wrap(err, "watch OOM kills in %s", dir);
	mon_oom_close(oom);
	return -1;
}

int mon_oom_watch_pid(struct mon_oom *oom, const char *cgroup_root, pid_t pid, struct crix_err **err)
{
	memset(oom, 0, sizeof(*oom));
	oom->fd = -1;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *text = NULL, *path = NULL, *dir = NULL;
	int version;
	if (crix_read_file(proc, 64 * 1024, &text, NULL, err) < 0 ||
	    mon_cgroup_memory_path(text, &path, &version, err) < 0)
		return crix_err_wrap(err, "memory cgroup of pid %d", (int)pid);
	if (asprintf(&dir, "%s%s%s", cgroup_root, version == 1 ? "/memory" : "", path) < 0)
		return crix_err_make(err, ENOMEM, "oom watch");
	return mon_oom_watch_dir(oom, version, dir, err);
}

int mon_oom_check(struct mon_oom *oom)
{
	if (oom->counter_path == NULL)
		return -1;
	if (oom->fd >= 0) {
		char drain[4096];
		while (read(oom->fd, drain, sizeof(drain)) > 0)
			;
	}
	uint64_t kills = 0;
	struct crix_err *err = NULL;
	int rc = read_kills(oom->counter_path, &kills, &err);
	crix_err_free(&err);
	if (rc < 0)
		return -1;
	return kills > oom->baseline ? 1 : 0;
}

void mon_oom_close(struct mon_oom *oom)
{
	if (oom->fd >= 0)
		close(oom->fd);
	oom->fd = -1;
	free(oom->counter_path);
	oom->counter_path = NULL;
}
