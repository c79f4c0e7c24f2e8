#include "oci_init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "oci_hooks.h"
#include "oci_sync.h"
#include "oci_terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const int ns_flags[OCI_NS_TYPES] = {
	[OCI_NS_PID] = CLONE_NEWPID,   [OCI_NS_NETWORK] = CLONE_NEWNET, [OCI_NS_MOUNT] = CLONE_NEWNS,
	[OCI_NS_IPC] = CLONE_NEWIPC,   [OCI_NS_UTS] = CLONE_NEWUTS,	 [OCI_NS_USER] = CLONE_NEWUSER,
	[OCI_NS_CGROUP] = CLONE_NEWCGROUP, [OCI_NS_TIME] = CLONE_NEWTIME,
};

int oci_ns_clone_flag(enum oci_ns_type type)
{
	return ns_flags[type];
}

void oci_reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
}

unsigned long oci_init_clone_flags(const struct oci_init *in)
{
	/* cgroup waits for the runtime to place us in the container's cgroup; time and user
	 * are handled by the runtime (time) or the two-stage path (user). */
	static const enum oci_ns_type at_birth[] = {OCI_NS_PID, OCI_NS_NETWORK, OCI_NS_MOUNT, OCI_NS_IPC,
						    OCI_NS_UTS};
	unsigned long flags = 0;
	for (size_t i = 0; i < sizeof(at_birth) / sizeof(at_birth[0]); i++)
		if (in->ns_new[at_birth[i]])
			flags |= (unsigned long)ns_flags[at_birth[i]];
	return flags;
}

int oci_time_ns_create(const struct oci_spec *spec, struct crix_err **err)
{
	if (unshare(CLONE_NEWTIME) < 0)
		return crix_err_make(err, errno, "unshare the time namespace");
	const struct oci_linux *l = spec->linux;
	char buf[128];
	int n = 0;
	if (l && l->time_monotonic.set)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "monotonic %lld %u\n",
			      (long long)l->time_monotonic.secs, l->time_monotonic.nanosecs);
	if (l && l->time_boottime.set)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "boottime %lld %u\n",
			      (long long)l->time_boottime.secs, l->time_boottime.nanosecs);
	if (n == 0)
		return 0;
	_cleanup_close_ int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		return crix_err_make(err, errno, "write time namespace offsets");
	return 0;
}

static int join(struct oci_init *in, enum oci_ns_type t, struct crix_err **err)
{
	if (in->ns_fd[t] < 0)
		return 0;
	if (setns(in->ns_fd[t], ns_flags[t]) < 0)
		return crix_err_make(err, errno, "join %s namespace %s", oci_ns_type_name(t),
				     oci_spec_namespace(in->spec, t)->path);
	close(in->ns_fd[t]);
	in->ns_fd[t] = -1;
	return 0;
}

static int become_root(struct crix_err **err)
{
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return crix_err_make(err, errno, "become root in the user namespace (is 0 mapped?)");
	return 0;
}

/* Two-stage path: namespaces in an order that works with a new or joined user namespace,
 * then a fork so that the init is born in the new pid (and time) namespace. Returns in the
 * init; the first stage exits here. */
static int first_stage(struct oci_init *in, struct crix_err **err)
{
	static const enum oci_ns_type others[] = {OCI_NS_NETWORK, OCI_NS_IPC, OCI_NS_UTS, OCI_NS_MOUNT,
						  OCI_NS_CGROUP};
	/* Into a joined user namespace first (its namespaces are ours to join after); with a new
	 * one, join the others while still root of the host's. */
	if (join(in, OCI_NS_USER, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (join(in, others[i], err) < 0)
			return -1;
	if (in->ns_new[OCI_NS_USER]) {
		if (unshare(CLONE_NEWUSER) < 0)
			return crix_err_make(err, errno, "unshare the user namespace");
		if (oci_sync_send(in->sync_fd, OCI_SYNC_USERMAP, 0, NULL, err) < 0 ||
		    oci_sync_expect(in->sync_fd, OCI_SYNC_USERMAP_DONE, NULL, err) < 0)
			return crix_err_wrap(err, "user namespace mappings");
	}
	if (become_root(err) < 0)
		return -1;
	int flags = 0;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (in->ns_new[others[i]])
			flags |= ns_flags[others[i]];
	if (in->ns_new[OCI_NS_PID])
		flags |= CLONE_NEWPID;
	if (flags && unshare(flags) < 0)
		return crix_err_make(err, errno, "unshare namespaces (flags %#x)", flags);
	if (in->ns_new[OCI_NS_TIME] && oci_time_ns_create(in->spec, err) < 0)
		return -1;
	if (join(in, OCI_NS_TIME, err) < 0 || join(in, OCI_NS_PID, err) < 0)
		return -1;
	/* The init is born in the new pid (and time) namespace. No parent-death signal for it: its
	 * parent exits now. A runtime that dies shows as EOF on the sync socket at our next
	 * exchange. */
	if (oci_sync_fork_pid(in->sync_fd, err) < 0)
		return crix_err_wrap(err, "fork the container init");
	return 0;
}

/* setgroups is refused in a user namespace created with "deny" (rootless ones). */
static bool setgroups_allowed(void)
{
	char buf[16] = {0};
	_cleanup_close_ int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return true;
	return strncmp(buf, "deny", 4) != 0;
}

/* Waits until the runtime has put us in the container's cgroup, then makes the cgroup
 * namespace (rooted there). The one-stage init does its mounts meanwhile: the first attach
 * to a new cgroup costs milliseconds of the runtime's time, spent in parallel. */
static int await_cgroup(void *arg, struct crix_err **err)
{
	struct oci_init *in = arg;
	if (in->placed)
		return 0;
	if (oci_sync_expect(in->sync_fd, OCI_SYNC_GO, NULL, err) < 0)
		return -1;
	in->placed = true;
	if (!in->two_stage && in->ns_new[OCI_NS_CGROUP] && unshare(CLONE_NEWCGROUP) < 0)
		return crix_err_make(err, errno, "unshare the cgroup namespace");
	return 0;
}

/* linux.personality: the execution domain the process sees (LINUX32: uname -m says i686). */
static int set_personality(const struct oci_linux *l, struct crix_err **err)
{
	if (l == NULL || !l->has_personality)
		return 0;
	const char *domain = l->personality_domain ? l->personality_domain : "";
	unsigned long persona;
	if (strcmp(domain, "LINUX") == 0)
		persona = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		persona = PER_LINUX32;
	else
		return crix_err_make(err, EINVAL, "linux.personality.domain: %s is not LINUX or LINUX32", domain);
	if (personality(persona) < 0)
		return crix_err_make(err, errno, "personality %s", domain);
	return 0;
}

/* The container's own hooks (createContainer, startContainer) run in its init: the state
 * they get has our pid as we see it, as runc gives it (1 in a new pid namespace). */
static int run_own_hooks(const struct oci_init *in, enum oci_hook_kind kind, enum oci_status status,
			 struct crix_err **err)
{
	if (in->spec->hooks[kind].n == 0)
		return 0;
	_cleanup_free_ char *state = oci_state_hook_text(in->state, status, getpid());
	if (state == NULL)
		return crix_err_make(err, ENOMEM, "state for the %s hooks", oci_hook_kind_name(kind));
	return oci_hooks_run(in->spec, kind, state, err);
}

static int setup(struct oci_init *in, struct crix_err **err)
{
	const struct oci_spec *spec = in->spec;
	if (in->two_stage) {
		/* The first stage forks the init: it must be in the cgroup before. */
		if (await_cgroup(in, err) < 0 || first_stage(in, err) < 0)
			return -1;
		in->plan->set_groups = setgroups_allowed();
	} else {
		static const enum oci_ns_type joinable[] = {OCI_NS_NETWORK, OCI_NS_IPC, OCI_NS_UTS,
							    OCI_NS_MOUNT, OCI_NS_CGROUP};
		for (size_t i = 0; i < sizeof(joinable) / sizeof(joinable[0]); i++)
			if (join(in, joinable[i], err) < 0)
				return -1;
	}
	in->rootfs.cgroup_ready = await_cgroup;
	in->rootfs.cgroup_ready_arg = in;
	if (spec->hostname != NULL && spec->hostname[0] != '\0') {
		if (!in->ns_new[OCI_NS_UTS])
			return crix_err_make(err, EINVAL, "hostname %s: needs a new uts namespace", spec->hostname);
		if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
			return crix_err_make(err, errno, "sethostname %s", spec->hostname);
	}
	if (spec->domainname != NULL && spec->domainname[0] != '\0') {
		if (!in->ns_new[OCI_NS_UTS])
			return crix_err_make(err, EINVAL, "domainname %s: needs a new uts namespace",
					     spec->domainname);
		if (setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
			return crix_err_make(err, errno, "setdomainname %s", spec->domainname);
	}
	if (oci_rootfs_prepare(spec, &in->rootfs, err) < 0 || await_cgroup(in, err) < 0)
		return -1;
	if (in->hooks_sync) {
		if (oci_sync_send(in->sync_fd, OCI_SYNC_HOOKS, 0, NULL, err) < 0 ||
		    oci_sync_expect(in->sync_fd, OCI_SYNC_HOOKS_DONE, NULL, err) < 0 ||
		    run_own_hooks(in, OCI_HOOK_CREATE_CONTAINER, OCI_CREATING, err) < 0)
			return -1;
	}
	if (oci_rootfs_pivot(&in->rootfs, err) < 0)
		return -1;
	if (in->console_fd >= 0) {
		if (oci_console_setup(in->console_fd, spec->process, true, err) < 0)
			return crix_err_wrap(err, "console");
		close(in->console_fd);
		in->console_fd = -1;
	}
	if (oci_rootfs_finish(spec, err) < 0)
		return -1;
	if (oci_plan_resolve_exe(in->plan, err) < 0)
		return -1;
	if (oci_plan_apply_limits(in->plan, err) < 0)
		return -1;
	return set_personality(spec->linux, err);
}

void oci_init_main(struct oci_init *in)
{
	struct crix_err *err = NULL;
	/* Nobody in the container may open our /proc/<pid>/exe, and we die with the runtime
	 * until the container is set up. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	oci_reset_signals();
	if (setup(in, &err) < 0)
		oci_sync_fail(in->sync_fd, err);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	if (oci_sync_send(in->sync_fd, OCI_SYNC_READY, 0, NULL, NULL) < 0)
		_exit(1);
	close(in->sync_fd);
	/* Block until `start` writes to exec.fifo. */
	char c;
	ssize_t n;
	do
		n = read(in->fifo_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1);
	close(in->fifo_fd);
	if (run_own_hooks(in, OCI_HOOK_START_CONTAINER, OCI_CREATED, &err) < 0 || oci_plan_exec(in->plan, &err) < 0)
		dprintf(STDERR_FILENO, "crix-runtime: %s\n", crix_err_msg(err));
	_exit(127);
}
