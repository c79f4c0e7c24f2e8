#include "oci_process.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "seccomp_filter.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"RLIMIT_AS", RLIMIT_AS},	  {"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_CPU", RLIMIT_CPU},	  {"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},	  {"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},	  {"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_NPROC", RLIMIT_NPROC},	  {"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

int oci_cap_from_name(const char *name)
{
	char lower[64];
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof(lower))
		return -1;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (strncmp(lower, "cap_", 4) != 0)
		return -1;
	cap_value_t v;
	if (cap_from_name(lower, &v) < 0 || v > oci_cap_last())
		return -1;
	return v;
}

char *oci_cap_name(int cap)
{
	char *lower = cap_to_name((cap_value_t)cap);
	if (lower == NULL)
		return NULL;
	char *upper = strncmp(lower, "cap_", 4) == 0 ? strdup(lower) : NULL;
	cap_free(lower);
	for (char *p = upper; p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return upper;
}

int oci_cap_last(void)
{
	static int last = -1;
	if (last < 0) {
		char buf[16] = {0};
		_cleanup_close_ int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
			last = atoi(buf);
		if (last <= 0)
			last = CAP_LAST_CAP;
	}
	return last;
}

void oci_plan_free(struct oci_plan *plan)
{
	if (plan == NULL)
		return;
	crix_strvfreep(&plan->argv);
	crix_strvfreep(&plan->envp);
	free(plan->cwd);
	free(plan->exe);
	free(plan->groups);
	free(plan->rlimits);
	oci_seccomp_filter_free(plan->seccomp);
	free(plan);
}

static int caps_mask(char *const *names, const char *set, uint64_t *mask, struct crix_err **err)
{
	*mask = 0;
	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		int c = oci_cap_from_name(names[i]);
		if (c < 0)
			return crix_err_make(err, EINVAL, "process.capabilities.%s: unknown capability %s",
					     set, names[i]);
		*mask |= 1ULL << c;
	}
	return 0;
}

int oci_plan_build(const struct oci_process *p, const struct oci_seccomp *seccomp,
		   struct oci_plan **out, struct crix_err **err)
{
	if (p->args == NULL || p->args[0] == NULL)
		return crix_err_make(err, EINVAL, "process.args: must not be empty");
	if (p->cwd == NULL || p->cwd[0] != '/')
		return crix_err_make(err, EINVAL, "process.cwd: must be an absolute path");
	struct oci_plan *plan = calloc(1, sizeof(*plan));
	if (plan == NULL)
		return crix_err_make(err, ENOMEM, "allocate process plan");
	plan->argv = crix_strv_dup(p->args);
	static char *const empty[] = {NULL};
	plan->envp = crix_strv_dup(p->env ? p->env : empty);
	plan->cwd = strdup(p->cwd);
	plan->uid = p->user.uid;
	plan->gid = p->user.gid;
	plan->set_groups = true;
	plan->n_groups = p->user.n_additional_gids;
	plan->groups = calloc(plan->n_groups + 1, sizeof(gid_t));
	plan->rlimits = calloc(p->n_rlimits + 1, sizeof(*plan->rlimits));
	if (!plan->argv || !plan->envp || !plan->cwd || !plan->groups || !plan->rlimits) {
		oci_plan_free(plan);
		return crix_err_make(err, ENOMEM, "allocate process plan");
	}
	for (size_t i = 0; i < plan->n_groups; i++)
		plan->groups[i] = p->user.additional_gids[i];
	plan->has_umask = p->user.has_umask;
	plan->umask = p->user.umask;
	plan->terminal = p->terminal;
	plan->no_new_privileges = p->no_new_privileges;
	plan->has_oom_score_adj = p->has_oom_score_adj;
	plan->oom_score_adj = p->oom_score_adj;
	if (p->capabilities != NULL) {
		const struct oci_capabilities *c = p->capabilities;
		plan->has_caps = true;
		if (caps_mask(c->bounding, "bounding", &plan->caps[OCI_CAP_BOUNDING], err) < 0 ||
		    caps_mask(c->effective, "effective", &plan->caps[OCI_CAP_EFFECTIVE], err) < 0 ||
		    caps_mask(c->inheritable, "inheritable", &plan->caps[OCI_CAP_INHERITABLE], err) < 0 ||
		    caps_mask(c->permitted, "permitted", &plan->caps[OCI_CAP_PERMITTED], err) < 0 ||
		    caps_mask(c->ambient, "ambient", &plan->caps[OCI_CAP_AMBIENT], err) < 0) {
			oci_plan_free(plan);
			return -1;
		}
	}
	for (size_t i = 0; i < p->n_rlimits; i++) {
		size_t k;
		for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (strcmp(rlimit_names[k].name, p->rlimits[i].type) == 0)
				break;
		if (k == sizeof(rlimit_names) / sizeof(rlimit_names[0])) {
			oci_plan_free(plan);
			return crix_err_make(err, EINVAL, "process.rlimits[%zu].type: unknown rlimit %s", i,
					     p->rlimits[i].type);
		}
		plan->rlimits[i].resource = rlimit_names[k].resource;
		plan->rlimits[i].name = rlimit_names[k].name;
		plan->rlimits[i].limit.rlim_cur = p->rlimits[i].soft;
		plan->rlimits[i].limit.rlim_max = p->rlimits[i].hard;
	}
	plan->n_rlimits = p->n_rlimits;
	if (p->apparmor_profile != NULL)
		crix_debug("process.apparmorProfile %s ignored: this host has no AppArmor support in crix-runtime",
			   p->apparmor_profile);
	if (p->selinux_label != NULL)
		crix_debug("process.selinuxLabel %s ignored: SELinux is not supported", p->selinux_label);
	if (seccomp != NULL && oci_seccomp_filter_build(seccomp, &plan->seccomp, err) < 0) {
		oci_plan_free(plan);
		return crix_err_wrap(err, "linux.seccomp");
	}
	*out = plan;
	return 0;
}

int oci_plan_apply_limits(const struct oci_plan *plan, struct crix_err **err)
{
	if (plan->has_oom_score_adj) {
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "%d", plan->oom_score_adj);
		_cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || crix_write_all(fd, buf, (size_t)n) < 0)
			return crix_err_make(err, errno, "set oom_score_adj to %d", plan->oom_score_adj);
	}
	for (size_t i = 0; i < plan->n_rlimits; i++)
		if (setrlimit(plan->rlimits[i].resource, &plan->rlimits[i].limit) < 0)
			return crix_err_make(err, errno, "set %s to soft %llu hard %llu", plan->rlimits[i].name,
					     (unsigned long long)plan->rlimits[i].limit.rlim_cur,
					     (unsigned long long)plan->rlimits[i].limit.rlim_max);
	return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static bool is_executable_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* HOME from the container's /etc/passwd when the spec does not set it, as runc does. */
static int set_home(struct oci_plan *plan, struct crix_err **err)
{
	if (env_get(plan->envp, "HOME") != NULL)
		return 0;
	char home[1024] = "/";
	_cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
	char line[2048];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		/* name:pw:uid:gid:gecos:home:shell */
		char *fields[7] = {0};
		char *p = line;
		int n = 0;
		for (char *t; n < 7 && (t = strsep(&p, ":")) != NULL;)
			fields[n++] = t;
		if (n >= 6 && fields[2][0] != '\0' && strtoul(fields[2], NULL, 10) == plan->uid) {
			snprintf(home, sizeof(home), "%s", fields[5]);
			break;
		}
	}
	_cleanup_free_ char *kv = NULL;
	if (asprintf(&kv, "HOME=%s", home) < 0)
		return crix_err_make(err, ENOMEM, "HOME");
	size_t n = crix_strv_len(plan->envp);
	char **grown = realloc(plan->envp, (n + 2) * sizeof(char *));
	if (grown == NULL)
		return crix_err_make(err, ENOMEM, "HOME");
	plan->envp = grown;
	grown[n] = steal_ptr(kv);
	grown[n + 1] = NULL;
	return 0;
}

int oci_plan_resolve_exe(struct oci_plan *plan, struct crix_err **err)
{
	if (set_home(plan, err) < 0)
		return -1;
	const char *name = plan->argv[0];
	free(plan->exe);
	plan->exe = NULL;
	if (strchr(name, '/') != NULL) {
		if (!is_executable_file(name))
			return crix_err_make(err, errno ? errno : EACCES, "exec: \"%s\"", name);
		plan->exe = strdup(name);
		return plan->exe ? 0 : crix_err_make(err, ENOMEM, "exec %s", name);
	}
	const char *path = env_get(plan->envp, "PATH");
	if (path == NULL)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		_cleanup_free_ char *cand = NULL;
		if (asprintf(&cand, "%.*s/%s", (int)len, len ? p : ".", name) < 0)
			return crix_err_make(err, ENOMEM, "exec %s", name);
		if (is_executable_file(cand)) {
			plan->exe = steal_ptr(cand);
			return 0;
		}
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return crix_err_make(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

void oci_cloexec_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Older kernels: walk the open fds. */
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (fd >= first && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

static int apply_caps(const struct oci_plan *plan, struct crix_err **err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(plan->caps[OCI_CAP_EFFECTIVE] >> (32 * i));
		data[i].permitted = (uint32_t)(plan->caps[OCI_CAP_PERMITTED] >> (32 * i));
		data[i].inheritable = (uint32_t)(plan->caps[OCI_CAP_INHERITABLE] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return crix_err_make(err, errno, "capset (effective %#llx, permitted %#llx, inheritable %#llx)",
				     (unsigned long long)plan->caps[OCI_CAP_EFFECTIVE],
				     (unsigned long long)plan->caps[OCI_CAP_PERMITTED],
				     (unsigned long long)plan->caps[OCI_CAP_INHERITABLE]);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return crix_err_make(err, errno, "clear ambient capabilities");
	/* The kernel refuses an ambient capability that is not also permitted and inheritable;
	 * runc skips those silently (its default spec asks for them), and so do we. */
	for (int c = 0; c <= oci_cap_last(); c++)
		if ((plan->caps[OCI_CAP_AMBIENT] >> c) & 1)
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
				return crix_err_make(err, errno, "raise ambient capability %d", c);
	return 0;
}

static int load_seccomp(const struct oci_plan *plan, struct crix_err **err)
{
	if (plan->seccomp == NULL)
		return 0;
	int listener = -1;
	if (oci_seccomp_filter_load(plan->seccomp, &listener, err) < 0)
		return crix_err_wrap(err, "load seccomp filter");
	/* A notify listener would go to the listenerPath agent; not supported yet. */
	if (listener >= 0)
		close(listener);
	return 0;
}

int oci_plan_exec(const struct oci_plan *plan, struct crix_err **err)
{
	for (unsigned i = 0; i < plan->preserve_fds; i++)
		if (fcntl(3 + (int)i, F_SETFD, 0) < 0)
			return crix_err_make(err, errno, "preserve fd %u", 3 + i);
	oci_cloexec_from(3 + (int)plan->preserve_fds);

	/* Without no_new_privs the filter needs CAP_SYS_ADMIN: load it while we still have it. */
	if (!plan->no_new_privileges && load_seccomp(plan, err) < 0)
		return -1;
	if (plan->has_caps) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return crix_err_make(err, errno, "keep capabilities");
		for (int c = 0; c <= oci_cap_last(); c++)
			if (!((plan->caps[OCI_CAP_BOUNDING] >> c) & 1) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return crix_err_make(err, errno, "drop capability %d from the bounding set", c);
	}
	if (plan->set_groups && setgroups(plan->n_groups, plan->groups) < 0)
		return crix_err_make(err, errno, "setgroups");
	if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
		return crix_err_make(err, errno, "setgid %u", (unsigned)plan->gid);
	if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
		return crix_err_make(err, errno, "setuid %u", (unsigned)plan->uid);
	if (plan->has_caps) {
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			return crix_err_make(err, errno, "reset keep capabilities");
		if (apply_caps(plan, err) < 0)
			return -1;
	}
	if (plan->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return crix_err_make(err, errno, "set no_new_privs");
	umask(plan->has_umask ? plan->umask : 022);
	if (chdir(plan->cwd) < 0)
		return crix_err_make(err, errno, "chdir to cwd %s", plan->cwd);
	/* A cwd reached through a leaked fd would lie outside our root (CVE-2024-21626). */
	char here[4096];
	if (getcwd(here, sizeof(here)) == NULL || here[0] != '/')
		return crix_err_make(err, EPERM, "cwd %s is outside the container's root", plan->cwd);
	if (plan->no_new_privileges && load_seccomp(plan, err) < 0)
		return -1;
	execve(plan->exe ? plan->exe : plan->argv[0], plan->argv, plan->envp);
	return crix_err_make(err, errno, "exec %s", plan->exe ? plan->exe : plan->argv[0]);
}
