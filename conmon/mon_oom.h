/* Noticing OOM kills in the container's memory cgroup.
 * cgroup v1: an eventfd registered on memory.oom_control through cgroup.event_control. It
 *   also fires when the cgroup is removed, so the `oom_kill` counter of memory.oom_control
 *   decides.
 * cgroup v2: inotify on memory.events; its `oom_kill` counter decides.
 * Either way the counter is compared with its value when watching began. */
#ifndef MON_OOM_H
#define MON_OOM_H

#include <stdint.h>
#include <sys/types.h>

#include "crix_err.h"

struct mon_oom {
	int fd;          /* pollable: eventfd (v1) or inotify (v2); -1 when not watching */
	int version;     /* 1 or 2 */
	char *counter_path; /* memory.oom_control (v1) or memory.events (v2) */
	uint64_t baseline;
};

/* From the text of /proc/PID/cgroup: the memory cgroup's path and version (v1 when a
 * hierarchy lists the memory controller, else the v2 "0::" path). */
int mon_cgroup_memory_path(const char *proc_cgroup, char **path, int *version, struct crix_err **err);

/* Watches the memory cgroup directory dir (version 1 or 2). */
int mon_oom_watch_dir(struct mon_oom *oom, int version, const char *dir, struct crix_err **err);

/* Watches the memory cgroup of pid under cgroup_root (normally /sys/fs/cgroup). */
int mon_oom_watch_pid(struct mon_oom *oom, const char *cgroup_root, pid_t pid, struct crix_err **err);

/* After fd was readable, or at the end: 1 if oom_kill grew since watching began, 0 if not,
 * -1 if the counter can no longer be read (cgroup gone). Drains fd. */
int mon_oom_check(struct mon_oom *oom);

/* The `oom_kill N` value in the text of memory.oom_control or memory.events; -1 if absent. */
int mon_oom_parse_kills(const char *text, uint64_t *kills);

void mon_oom_close(struct mon_oom *oom);

#endif
