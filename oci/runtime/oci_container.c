#include "oci_container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "oci_hooks.h"
#include "oci_init.h"
#include "oci_process.h"
#include "oci_spec.h"
#include "oci_state.h"
#include "oci_sync.h"
#include "oci_terminal.h"

#define CONFIG_MAX_BYTES (16u << 20)

/* A container while the runtime holds it. */
struct ctr {
	struct oci_spec *spec;
	struct oci_state *st;
	struct oci_cgroup *cg;
	struct oci_plan *plan;
	pid_t child; /* our direct child (the init, or the first stage) */
	int fifo_fd;
};

static void ctr_free(struct ctr *c)
{
	if (c == NULL)
		return;
	oci_spec_free(c->spec);
	oci_state_free(c->st);
	oci_cgroup_free(c->cg);
	oci_plan_free(c->plan);
	if (c->fifo_fd >= 0)
		close(c->fifo_fd);
	free(c);
}

int oci_signal_parse(const char *name)
{
	char *end = NULL;
	long n = strtol(name, &end, 10);
	if (end != name && *end == '\0')
		return n > 0 && n < NSIG ? (int)n : -1;
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (int s = 1; s < NSIG; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev != NULL && strcasecmp(abbrev, name) == 0)
			return s;
	}
	return -1;
}

static int load_spec_copy(const struct oci_state *st, struct oci_spec **spec, struct crix_err **err)
{
	_cleanup_free_ char *path = oci_state_path(st, "config.json");
	if (path == NULL)
		return crix_err_make(err, ENOMEM, "config path");
	return oci_spec_from_file(path, spec, err);
}

static char *state_json_text(const struct oci_state *st, enum oci_status status)
{
	struct json_object *o = oci_state_to_oci_json(st, status);
	char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

static int run_hooks(const struct oci_spec *spec, const struct oci_state *st, enum oci_hook_kind kind,
		     enum oci_status status, struct crix_err **err)
{
	if (spec == NULL || spec->hooks[kind].n == 0)
		return 0;
	_cleanup_free_ char *text = state_json_text(st, status);
	if (text == NULL)
		return crix_err_make(err, ENOMEM, "state for hooks");
	return oci_hooks_run(spec, kind, text, err);
}

/* Waits until the init is gone (or a zombie), up to timeout_ms. */
static bool wait_init_gone(const struct oci_state *st, int timeout_ms)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (!oci_state_init_alive(st))
			return true;
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			poll(&p, 1, 10);
		} else {
			usleep(10000);
		}
	}
	return !oci_state_init_alive(st);
}

/* Cgroup, poststop hooks and state directory of a container whose init is gone. */
static int cleanup(const struct oci_spec *spec, struct oci_state *st, struct oci_cgroup *cg,
		   struct crix_err **err)
{
	struct oci_cgroup *loaded = NULL;
	struct crix_err *e = NULL;
	if (cg == NULL && st->cgroups_path != NULL && oci_cgroup_load(NULL, st->cgroups_path, &loaded, &e) == 0)
		cg = loaded;
	crix_err_free(&e);
	int r = 0;
	if (cg != NULL && oci_cgroup_destroy(cg, err) < 0)
		r = crix_err_wrap(err, "delete %s", st->id);
	oci_cgroup_free(loaded);
	if (run_hooks(spec, st, OCI_HOOK_POSTSTOP, OCI_STOPPED, &e) < 0) {
		crix_warn("%s: %s", st->id, crix_err_msg(e));
		crix_err_free(&e);
	}
	if (crix_remove_tree(st->dir, r < 0 ? &e : err) < 0) {
		if (r < 0)
			crix_err_free(&e);
		return -1;
	}
	return r;
}

/* Undoes a failed create: kill what was started, remove the cgroup and the state dir. */
static void ctr_abort(struct ctr *c, pid_t init)
{
	if (init > 0)
		kill(init, SIGKILL);
	if (c->child > 0) {
		kill(c->child, SIGKILL);
		int status;
		crix_wait(c->child, &status);
	}
	struct crix_err *e = NULL;
	if (c->cg != NULL) {
		if (init > 0) {
			c->st->pid = init;
			c->st->pid_start = 1; /* unknown: wait_init_gone sees the pid vanish */
			for (int i = 0; i < 100 && kill(init, 0) == 0; i++)
				usleep(5000);
		}
		if (oci_cgroup_destroy(c->cg, &e) < 0)
			crix_warn("clean up %s: %s", c->st->id, crix_err_msg(e));
		crix_err_free(&e);
	}
	if (crix_remove_tree(c->st->dir, &e) < 0)
		crix_warn("clean up %s: %s", c->st->id, crix_err_msg(e));
	crix_err_free(&e);
}

static int write_id_map(pid_t pid, const char *file, const struct oci_id_mapping *m, size_t n,
			struct crix_err **err)
{
	char path[64], buf[4096];
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof(buf) - 64; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	if (len == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return crix_err_make(err, errno, "write %s", path);
	return 0;
}

/* The resources to create the cgroup with: the spec's, plus an allow rule per linux.devices
 * entry (cgroup.h leaves that to us). *rules is ours to free; *tmp may be used as storage. */
static const struct oci_resources *cgroup_resources(const struct oci_spec *spec, struct oci_resources *tmp,
						    struct oci_device_rule **rules)
{
	static char rwm[] = "rwm";
	const struct oci_linux *l = spec->linux;
	*rules = NULL;
	if (l == NULL)
		return NULL;
	if (l->n_devices == 0)
		return l->resources;
	if (l->resources != NULL)
		*tmp = *l->resources;
	else
		memset(tmp, 0, sizeof(*tmp));
	size_t n = tmp->n_devices + l->n_devices;
	*rules = calloc(n, sizeof(**rules));
	if (*rules == NULL)
		return l->resources;
	if (tmp->n_devices)
		memcpy(*rules, tmp->devices, tmp->n_devices * sizeof(**rules));
	for (size_t i = 0; i < l->n_devices; i++) {
		struct oci_device_rule *r = &(*rules)[tmp->n_devices + i];
		r->allow = true;
		r->type = l->devices[i].type == 'u' ? 'c' : l->devices[i].type;
		r->has_major = r->has_minor = true;
		r->major = l->devices[i].major;
		r->minor = l->devices[i].minor;
		r->access = rwm;
	}
	tmp->devices = *rules;
	tmp->n_devices = n;
	return tmp;
}

static int resolve_paths(const struct oci_create_opts *opts, const struct oci_spec *spec,
			 struct oci_state *st, struct crix_err **err)
{
	char buf[PATH_MAX];
	const char *bundle = opts->bundle ? opts->bundle : ".";
	if (realpath(bundle, buf) == NULL)
		return crix_err_make(err, errno, "bundle %s", bundle);
	st->bundle = strdup(buf);
	if (spec->root == NULL || spec->root->path == NULL)
		return crix_err_make(err, EINVAL, "root.path: required");
	_cleanup_free_ char *rootfs = NULL;
	if (spec->root->path[0] == '/')
		rootfs = strdup(spec->root->path);
	else if (asprintf(&rootfs, "%s/%s", st->bundle, spec->root->path) < 0)
		rootfs = NULL;
	if (rootfs == NULL || st->bundle == NULL)
		return crix_err_make(err, ENOMEM, "bundle paths");
	struct stat sb;
	if (realpath(rootfs, buf) == NULL || stat(buf, &sb) < 0)
		return crix_err_make(err, errno, "rootfs %s", rootfs);
	if (!S_ISDIR(sb.st_mode))
		return crix_err_make(err, ENOTDIR, "rootfs %s", rootfs);
	st->rootfs = strdup(buf);
	return st->rootfs ? 0 : crix_err_make(err, ENOMEM, "rootfs path");
}

static int write_pid_file(const char *path, pid_t pid, struct crix_err **err)
{
	if (path == NULL)
		return 0;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	return crix_write_file_atomic(path, buf, (size_t)n, 0644, CRIX_WRITE_VOLATILE, err);
}

/* console_fd: -1, or a console socket end of the caller's own (taken over: closed here) that
 * stands in for --console-socket. */
static int ctr_create(const char *root, const char *id, const struct oci_create_opts *opts, int console_fd,
		      struct ctr **out, struct crix_err **err)
{
	struct ctr *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->st = calloc(1, sizeof(*c->st))) == NULL) {
		free(c);
		if (console_fd >= 0)
			close(console_fd);
		return crix_err_make(err, ENOMEM, "create %s", id);
	}
	c->fifo_fd = -1;
	c->st->id = strdup(id);
	if (oci_state_reserve(root, id, &c->st->dir, err) < 0) {
		if (console_fd >= 0)
			close(console_fd);
		ctr_free(c);
		return -1;
	}
	pid_t init = 0;
	struct oci_init in = {.sync_fd = -1, .fifo_fd = -1, .console_fd = -1};
	for (int t = 0; t < OCI_NS_TYPES; t++)
		in.ns_fd[t] = -1;
	int sv[2] = {-1, -1};
	struct oci_sync_msg msg;
	_cleanup_free_ char *config_text = NULL;
	_cleanup_free_ char *config_path = NULL;
	_cleanup_free_ char *fifo = NULL;
	_cleanup_free_ char *copy = NULL;
	size_t config_len = 0;

	if (asprintf(&config_path, "%s/config.json", opts->bundle ? opts->bundle : ".") < 0 ||
	    (fifo = oci_state_path(c->st, "exec.fifo")) == NULL) {
		crix_err_make(err, ENOMEM, "create %s", id);
		goto fail;
	}
	if (crix_read_file(config_path, CONFIG_MAX_BYTES, &config_text, &config_len, err) < 0 ||
	    oci_spec_from_string(config_text, &c->spec, err) < 0) {
		crix_err_wrap(err, "%s", config_path);
		goto fail;
	}
	const struct oci_spec *spec = c->spec;
	if (spec->process == NULL) {
		crix_err_make(err, EINVAL, "%s: process: required", config_path);
		goto fail;
	}
	if (resolve_paths(opts, spec, c->st, err) < 0)
		goto fail;
	copy = oci_state_path(c->st, "config.json");
	if (copy == NULL || crix_write_file_atomic(copy, config_text, config_len, 0600, CRIX_WRITE_VOLATILE, err) < 0)
		goto fail;
	if (oci_plan_build(spec->process, spec->linux ? spec->linux->seccomp : NULL, &c->plan, err) < 0)
		goto fail;
	if (spec->linux && spec->linux->mount_label)
		crix_debug("linux.mountLabel %s ignored: SELinux is not supported", spec->linux->mount_label);
	crix_debug("%s: spec read and process planned", id);
	c->plan->preserve_fds = opts->preserve_fds;

	/* Namespaces: new ones, or joined by path (opened here, on the host). */
	for (size_t i = 0; spec->linux && i < spec->linux->n_namespaces; i++) {
		const struct oci_namespace *ns = &spec->linux->namespaces[i];
		if (ns->path == NULL) {
			in.ns_new[ns->type] = true;
			continue;
		}
		in.ns_fd[ns->type] = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (in.ns_fd[ns->type] < 0) {
			crix_err_make(err, errno, "%s namespace %s", oci_ns_type_name(ns->type), ns->path);
			goto fail;
		}
	}
	if (!in.ns_new[OCI_NS_MOUNT] && in.ns_fd[OCI_NS_MOUNT] < 0) {
		crix_err_make(err, EINVAL, "linux.namespaces: a mount namespace, new or joined, is required");
		goto fail;
	}
	if (in.ns_new[OCI_NS_USER] && (spec->linux->n_uid_mappings == 0 || spec->linux->n_gid_mappings == 0)) {
		crix_err_make(err, EINVAL, "linux.uidMappings/gidMappings: required with a new user namespace");
		goto fail;
	}
	in.two_stage = in.ns_new[OCI_NS_USER] || in.ns_fd[OCI_NS_USER] >= 0 || in.ns_fd[OCI_NS_PID] >= 0 ||
		       in.ns_new[OCI_NS_TIME] || in.ns_fd[OCI_NS_TIME] >= 0;
	in.hooks_sync = spec->hooks[OCI_HOOK_PRESTART].n || spec->hooks[OCI_HOOK_CREATE_RUNTIME].n ||
			spec->hooks[OCI_HOOK_CREATE_CONTAINER].n || spec->hooks[OCI_HOOK_START_CONTAINER].n;
	c->st->cgroup_ns = in.ns_new[OCI_NS_CGROUP];

	/* The cgroup: the spec's path or one of our own. */
	const char *cg_path = spec->linux && spec->linux->cgroups_path ? spec->linux->cgroups_path : NULL;
	if (cg_path != NULL)
		c->st->cgroups_path = strdup(cg_path);
	else if (asprintf(&c->st->cgroups_path, "/crix-runtime/%s", id) < 0)
		c->st->cgroups_path = NULL;
	if (c->st->cgroups_path == NULL) {
		crix_err_make(err, ENOMEM, "cgroups path");
		goto fail;
	}
	struct oci_resources tmp_res;
	struct oci_device_rule *rules = NULL;
	const struct oci_resources *res = cgroup_resources(spec, &tmp_res, &rules);
	int cr = oci_cgroup_create(NULL, c->st->cgroups_path, res, &c->cg, err);
	free(rules);
	if (cr < 0) {
		crix_err_wrap(err, "cgroup %s", c->st->cgroups_path);
		goto fail;
	}
	crix_debug("%s: cgroup %s created", id, c->st->cgroups_path);

	if (mkfifo(fifo, 0600) < 0 || (c->fifo_fd = open(fifo, O_RDWR | O_CLOEXEC)) < 0) {
		crix_err_make(err, errno, "exec fifo %s", fifo);
		goto fail;
	}
	if (spec->process->terminal) {
		if (console_fd >= 0) {
			in.console_fd = console_fd;
			console_fd = -1;
		} else if (opts->console_socket == NULL) {
			crix_err_make(err, EINVAL, "process.terminal needs --console-socket");
			goto fail;
		} else if ((in.console_fd = oci_console_connect(opts->console_socket, err)) < 0) {
			goto fail;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		crix_err_make(err, errno, "socketpair");
		goto fail;
	}
	in.spec = spec;
	in.plan = c->plan;
	in.rootfs = (struct oci_rootfs_opts){.rootfs = c->st->rootfs,
					     .bundle = c->st->bundle,
					     .user_ns = in.ns_new[OCI_NS_USER] || in.ns_fd[OCI_NS_USER] >= 0,
					     .cgroup_ns = in.ns_new[OCI_NS_CGROUP],
					     .no_pivot = opts->no_pivot};
	in.sync_fd = sv[1];
	in.fifo_fd = c->fifo_fd;
	in.parent = getpid();

	unsigned long flags = in.two_stage ? 0 : oci_init_clone_flags(&in);
	c->child = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
	if (c->child < 0) {
		crix_err_make(err, errno, "clone the container init (flags %#lx)", flags);
		goto fail;
	}
	if (c->child == 0) {
		close(sv[0]);
		oci_init_main(&in);
	}
	close(sv[1]);
	sv[1] = -1;
	crix_debug("%s: init cloned (pid %d)", id, (int)c->child);
	if (oci_cgroup_enter(c->cg, c->child, err) < 0 || oci_sync_send(sv[0], OCI_SYNC_GO, 0, NULL) < 0) {
		crix_err_wrap(err, "cgroup %s", c->st->cgroups_path);
		goto fail;
	}
	crix_debug("%s: init placed in its cgroup", id);
	if (in.two_stage) {
		if (in.ns_new[OCI_NS_USER]) {
			if (oci_sync_expect(sv[0], OCI_SYNC_USERMAP, &msg, err) < 0 ||
			    write_id_map(c->child, "uid_map", spec->linux->uid_mappings,
					 spec->linux->n_uid_mappings, err) < 0 ||
			    write_id_map(c->child, "gid_map", spec->linux->gid_mappings,
					 spec->linux->n_gid_mappings, err) < 0)
				goto fail;
			oci_sync_send(sv[0], OCI_SYNC_USERMAP_DONE, 0, NULL);
		}
		if (oci_sync_expect(sv[0], OCI_SYNC_PID, &msg, err) < 0)
			goto fail;
		init = msg.value;
		int status;
		crix_wait(c->child, &status);
		c->child = 0;
	} else {
		init = c->child;
	}
	bool zombie;
	c->st->pid = init;
	c->st->pid_start = oci_pid_start_time(init, &zombie);
	char created[48];
	crix_rfc3339_now(created, sizeof(created));
	c->st->created = strdup(created);
	if (spec->n_annotations) {
		c->st->annotations = json_object_new_object();
		for (size_t i = 0; i < spec->n_annotations; i++)
			json_object_object_add(c->st->annotations, spec->annotations[i].key,
					       json_object_new_string(spec->annotations[i].value));
	}
	if (in.hooks_sync) {
		if (oci_sync_expect(sv[0], OCI_SYNC_HOOKS, &msg, err) < 0 ||
		    run_hooks(spec, c->st, OCI_HOOK_PRESTART, OCI_CREATING, err) < 0 ||
		    run_hooks(spec, c->st, OCI_HOOK_CREATE_RUNTIME, OCI_CREATING, err) < 0)
			goto fail;
		_cleanup_free_ char *text = state_json_text(c->st, OCI_CREATING);
		oci_sync_send(sv[0], OCI_SYNC_HOOKS_DONE, 0, text);
	}
	if (oci_sync_expect(sv[0], OCI_SYNC_READY, &msg, err) < 0)
		goto fail;
	crix_debug("%s: init ready", id);
	if (oci_state_write(c->st, err) < 0 || write_pid_file(opts->pid_file, init, err) < 0)
		goto fail;
	close(sv[0]);
	if (in.console_fd >= 0)
		close(in.console_fd);
	if (console_fd >= 0)
		close(console_fd);
	*out = c;
	return 0;
fail:
	for (int t = 0; t < OCI_NS_TYPES; t++)
		if (in.ns_fd[t] >= 0)
			close(in.ns_fd[t]);
	if (in.console_fd >= 0)
		close(in.console_fd);
	if (console_fd >= 0)
		close(console_fd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	ctr_abort(c, init);
	ctr_free(c);
	return -1;
}

int oci_container_create(const char *root, const char *id, const struct oci_create_opts *opts,
			 struct crix_err **err)
{
	struct ctr *c = NULL;
	if (ctr_create(root, id, opts, -1, &c, err) < 0)
		return -1;
	ctr_free(c);
	return 0;
}

/* Releases the init from exec.fifo. */
static int release_init(const struct oci_state *st, struct crix_err **err)
{
	_cleanup_free_ char *fifo = oci_state_path(st, "exec.fifo");
	if (fifo == NULL)
		return crix_err_make(err, ENOMEM, "start %s", st->id);
	_cleanup_close_ int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno == ENXIO ? ESRCH : errno, "start %s: the init is not waiting",
				     st->id);
	if (write(fd, "0", 1) != 1)
		return crix_err_make(err, errno, "start %s: write %s", st->id, fifo);
	unlink(fifo);
	return 0;
}

static void poststart(const struct oci_spec *spec, const struct oci_state *st)
{
	struct crix_err *e = NULL;
	if (run_hooks(spec, st, OCI_HOOK_POSTSTART, OCI_RUNNING, &e) < 0) {
		crix_warn("%s: %s", st->id, crix_err_msg(e));
		crix_err_free(&e);
	}
}

int oci_container_start(const char *root, const char *id, struct crix_err **err)
{
	struct oci_state *st = NULL;
	if (oci_state_load(root, id, &st, err) < 0)
		return -1;
	enum oci_status s = oci_state_status(st);
	int r = -1;
	struct oci_spec *spec = NULL;
	if (s != OCI_CREATED) {
		crix_err_make(err, EINVAL, "cannot start container %s: it is %s", id, oci_status_name(s));
		goto out;
	}
	if (load_spec_copy(st, &spec, err) < 0 || release_init(st, err) < 0)
		goto out;
	poststart(spec, st);
	r = 0;
out:
	oci_spec_free(spec);
	oci_state_free(st);
	return r;
}

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(set, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, set, NULL);
}

static void copy_window_size(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Copies what is there to read from one fd to another: 1 when it copied, 0 when there was
 * nothing yet, -1 at EOF or on an error (EIO once a pty's other side is closed). */
static int relay(int from, int to)
{
	char buf[8192];
	ssize_t n;
	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	crix_write_all(to, buf, (size_t)n);
	return 1;
}

/* Waits for pid (our child, or adopted as subreaper), forwarding signals to it; returns its
 * exit code (128+signal when killed). With a pty master (a foreground run or exec with a
 * terminal and no --console-socket) it relays the terminal meanwhile, as runc does: stdin to
 * the master, the master to stdout, our window size to the pty; the caller's terminal is raw
 * for the while. */
static int wait_forwarding(pid_t pid, const sigset_t *set, int master)
{
	_cleanup_close_ int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct termios saved;
	bool raw = false;
	if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		copy_window_size(STDIN_FILENO, master);
	}
	struct pollfd fds[3] = {{sfd, POLLIN, 0}, {master, POLLIN, 0}, {master >= 0 ? STDIN_FILENO : -1, POLLIN, 0}};
	int code = -1;
	while (code < 0) {
		int status;
		pid_t r;
		while ((r = waitpid(-1, &status, WNOHANG)) > 0)
			if (r == pid)
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (code >= 0)
			break;
		if (r < 0 && errno == ECHILD) {
			code = 255;
			break;
		}
		/* without a signalfd (out of fds), look for the exit every 100 ms */
		if (poll(fds, 3, sfd < 0 ? 100 : -1) < 0)
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGWINCH && master >= 0)
				copy_window_size(STDIN_FILENO, master);
			else if (si.ssi_signo != SIGCHLD)
				kill(pid, (int)si.ssi_signo);
		}
		for (int i = 1; i < 3; i++)
			if (fds[i].revents && relay(fds[i].fd, i == 1 ? STDOUT_FILENO : master) < 0)
				fds[i].fd = -1;
	}
	if (master >= 0) { /* what the process wrote just before it exited */
		fcntl(master, F_SETFL, O_NONBLOCK);
		while (relay(master, STDOUT_FILENO) > 0)
			;
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return code;
}

/* For a foreground process with a terminal and no --console-socket: a socket pair whose
 * send end goes to the container as its console socket. */
static int console_pair(int pair[2], struct crix_err **err)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return crix_err_make(err, errno, "console socketpair");
	return 0;
}

int oci_container_run(const char *root, const char *id, const struct oci_create_opts *opts,
		      int *exit_code, struct crix_err **err)
{
	sigset_t set;
	block_signals(&set);
	/* The init of a two-stage create is our grandchild: adopt it when the first stage exits. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	struct ctr *c = NULL;
	/* Without --console-socket a terminal is relayed here: the container gets one end of a
	 * pair as its console socket (used only when process.terminal is set). */
	int console[2] = {-1, -1};
	if (opts->console_socket == NULL && console_pair(console, err) < 0)
		return -1;
	_cleanup_close_ int console_recv = console[0];
	if (ctr_create(root, id, opts, console[1], &c, err) < 0)
		return -1;
	_cleanup_close_ int master = -1;
	int r = 0;
	if (c->spec->process->terminal && console_recv >= 0)
		r = master = oci_console_recv(console_recv, err);
	if (r >= 0 && write(c->fifo_fd, "0", 1) != 1)
		r = crix_err_make(err, errno, "start %s", id);
	if (r < 0) {
		ctr_abort(c, c->st->pid);
		ctr_free(c);
		return -1;
	}
	_cleanup_free_ char *fifo = oci_state_path(c->st, "exec.fifo");
	if (fifo != NULL)
		unlink(fifo);
	close(c->fifo_fd);
	c->fifo_fd = -1;
	poststart(c->spec, c->st);
	*exit_code = wait_forwarding(c->st->pid, &set, master);
	crix_debug("%s: exited with %d", id, *exit_code);
	r = cleanup(c->spec, c->st, c->cg, err);
	ctr_free(c);
	return r;
}

int oci_container_kill(const char *root, const char *id, int sig, bool all, struct crix_err **err)
{
	struct oci_state *st = NULL;
	if (oci_state_load(root, id, &st, err) < 0)
		return -1;
	enum oci_status s = oci_state_status(st);
	int r = 0;
	if (s == OCI_STOPPED || s == OCI_CREATING) {
		r = crix_err_make(err, ESRCH, "container %s is not running", id);
	} else if (all && st->cgroups_path != NULL) {
		struct oci_cgroup *cg = NULL;
		if (oci_cgroup_load(NULL, st->cgroups_path, &cg, err) < 0 || oci_cgroup_kill(cg, sig, err) < 0)
			r = crix_err_wrap(err, "kill %s", id);
		oci_cgroup_free(cg);
	} else if (kill(st->pid, sig) < 0) {
		r = crix_err_make(err, errno, "kill %s (pid %d)", id, (int)st->pid);
	}
	oci_state_free(st);
	return r;
}

int oci_container_delete(const char *root, const char *id, bool force, struct crix_err **err)
{
	struct oci_state *st = NULL;
	if (oci_state_load(root, id, &st, err) < 0)
		return -1;
	enum oci_status s = oci_state_status(st);
	int r = -1;
	struct oci_spec *spec = NULL;
	struct crix_err *e = NULL;
	if ((s == OCI_RUNNING || s == OCI_PAUSED) && !force) {
		crix_err_make(err, EBUSY, "cannot delete container %s that is not stopped: %s", id,
			      oci_status_name(s));
		goto out;
	}
	if (load_spec_copy(st, &spec, &e) < 0) /* gone with a half-made container: no hooks then */
		crix_err_free(&e);
	if (s == OCI_CREATED || s == OCI_RUNNING || s == OCI_PAUSED) {
		if (st->cgroups_path != NULL) {
			struct oci_cgroup *cg = NULL;
			if (oci_cgroup_load(NULL, st->cgroups_path, &cg, &e) < 0 || oci_cgroup_kill(cg, SIGKILL, &e) < 0)
				crix_err_free(&e);
			oci_cgroup_free(cg);
		}
		kill(st->pid, SIGKILL);
		if (!wait_init_gone(st, 10000)) {
			crix_err_make(err, ETIMEDOUT, "delete %s: the init (pid %d) did not die", id, (int)st->pid);
			goto out;
		}
	}
	r = cleanup(spec, st, NULL, err);
out:
	oci_spec_free(spec);
	oci_state_free(st);
	return r;
}

int oci_container_state(const char *root, const char *id, struct crix_err **err)
{
	struct oci_state *st = NULL;
	if (oci_state_load(root, id, &st, err) < 0)
		return -1;
	struct json_object *o = oci_state_to_oci_json(st, oci_state_status(st));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
								  JSON_C_TO_STRING_SPACED));
	json_object_put(o);
	oci_state_free(st);
	return 0;
}

int oci_container_list(const char *root, bool json, bool quiet, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	if (d == NULL && errno != ENOENT)
		return crix_err_make(err, errno, "open %s", root);
	struct json_object *arr = json_object_new_array();
	if (!json && !quiet)
		printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || oci_state_validate_id(de->d_name, NULL) < 0)
			continue;
		struct oci_state *st = NULL;
		struct crix_err *e = NULL;
		if (oci_state_load(root, de->d_name, &st, &e) < 0) {
			crix_err_free(&e);
			continue;
		}
		enum oci_status s = oci_state_status(st);
		if (json)
			json_object_array_add(arr, oci_state_to_oci_json(st, s));
		else if (quiet)
			printf("%s\n", st->id);
		else
			printf("%-20s %-8d %-10s %-40s %-31s %s\n", st->id, s == OCI_STOPPED ? 0 : (int)st->pid,
			       oci_status_name(s), st->bundle ? st->bundle : "", st->created ? st->created : "",
			       "root");
		oci_state_free(st);
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return 0;
}

/* Loads the state and the cgroup of a container whose init is alive. */
static int load_live(const char *root, const char *id, struct oci_state **st, struct oci_cgroup **cg,
		     struct crix_err **err)
{
	if (oci_state_load(root, id, st, err) < 0)
		return -1;
	enum oci_status s = oci_state_status(*st);
	if (s == OCI_STOPPED || s == OCI_CREATING)
		return crix_err_make(err, ESRCH, "container %s is not running", id);
	if ((*st)->cgroups_path == NULL || oci_cgroup_load(NULL, (*st)->cgroups_path, cg, err) < 0)
		return crix_err_wrap(err, "cgroup of %s", id);
	return 0;
}

int oci_container_pause(const char *root, const char *id, bool pause, struct crix_err **err)
{
	struct oci_state *st = NULL;
	struct oci_cgroup *cg = NULL;
	int r = load_live(root, id, &st, &cg, err);
	if (r == 0) {
		enum oci_status s = oci_state_status(st);
		if (pause && s != OCI_RUNNING)
			r = crix_err_make(err, EINVAL, "cannot pause container %s: it is %s", id, oci_status_name(s));
		else if (!pause && s != OCI_PAUSED)
			r = crix_err_make(err, EINVAL, "cannot resume container %s: it is %s", id, oci_status_name(s));
		else
			r = oci_cgroup_freeze(cg, pause, err);
	}
	oci_cgroup_free(cg);
	oci_state_free(st);
	return r;
}

int oci_container_update(const char *root, const char *id, const struct oci_resources *res,
			 struct crix_err **err)
{
	struct oci_state *st = NULL;
	struct oci_cgroup *cg = NULL;
	int r = load_live(root, id, &st, &cg, err);
	if (r == 0)
		r = oci_cgroup_update(cg, res, err);
	oci_cgroup_free(cg);
	oci_state_free(st);
	return r < 0 ? crix_err_wrap(err, "update %s", id) : 0;
}

int oci_container_pids(const char *root, const char *id, pid_t **pids, size_t *n, struct crix_err **err)
{
	struct oci_state *st = NULL;
	struct oci_cgroup *cg = NULL;
	int r = load_live(root, id, &st, &cg, err);
	if (r == 0)
		r = oci_cgroup_pids(cg, pids, n, err);
	oci_cgroup_free(cg);
	oci_state_free(st);
	return r;
}

/* ---- exec ---- */

static int env_set(char ***envp, const char *kv, struct crix_err **err)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	size_t n = crix_strv_len(*envp);
	for (size_t i = 0; i < n; i++)
		if (strncmp((*envp)[i], kv, klen) == 0 && (*envp)[i][klen] == '=') {
			char *dup = strdup(kv);
			if (dup == NULL)
				return crix_err_make(err, ENOMEM, "env");
			free((*envp)[i]);
			(*envp)[i] = dup;
			return 0;
		}
	char **grown = realloc(*envp, (n + 2) * sizeof(char *));
	if (grown == NULL)
		return crix_err_make(err, ENOMEM, "env");
	*envp = grown;
	grown[n] = strdup(kv);
	grown[n + 1] = NULL;
	return grown[n] ? 0 : crix_err_make(err, ENOMEM, "env");
}

/* The exec'd process: --process FILE, or the container's process with the options over it. */
static int exec_process(struct oci_spec *spec, const struct oci_exec_opts *o, struct oci_process **out,
			struct crix_err **err)
{
	if (o->process_file != NULL) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		if (crix_read_file(o->process_file, CONFIG_MAX_BYTES, &text, &len, err) < 0)
			return -1;
		struct json_object *obj = json_tokener_parse(text);
		if (obj == NULL)
			return crix_err_make(err, EINVAL, "%s: not JSON", o->process_file);
		int r = oci_process_from_json(obj, "process", out, err);
		json_object_put(obj);
		return r < 0 ? crix_err_wrap(err, "%s", o->process_file) : 0;
	}
	if (o->args == NULL || o->args[0] == NULL)
		return crix_err_make(err, EINVAL, "exec: no command given");
	struct oci_process *p = steal_ptr(spec->process);
	if (p == NULL)
		return crix_err_make(err, EINVAL, "exec: the container has no process");
	crix_strvfreep(&p->args);
	p->args = crix_strv_dup(o->args);
	p->terminal = o->tty;
	p->has_console_size = false;
	if (o->cwd != NULL) {
		free(p->cwd);
		p->cwd = strdup(o->cwd);
	}
	for (size_t i = 0; o->env && o->env[i]; i++)
		if (env_set(&p->env, o->env[i], err) < 0) {
			oci_process_free(p);
			return -1;
		}
	if (o->user != NULL) {
		unsigned uid = 0, gid = 0;
		int n = sscanf(o->user, "%u:%u", &uid, &gid);
		if (n < 1) {
			oci_process_free(p);
			return crix_err_make(err, EINVAL, "exec --user %s: expected uid[:gid]", o->user);
		}
		p->user.uid = uid;
		p->user.gid = n == 2 ? gid : 0;
	}
	if (o->no_new_privs)
		p->no_new_privileges = true;
	for (size_t i = 0; o->add_caps && o->add_caps[i]; i++) {
		if (p->capabilities == NULL && (p->capabilities = calloc(1, sizeof(*p->capabilities))) == NULL)
			break;
		char ***sets[] = {&p->capabilities->bounding, &p->capabilities->effective,
				  &p->capabilities->permitted};
		for (size_t k = 0; k < 3; k++)
			if (crix_strv_append(sets[k], o->add_caps[i]) < 0) {
				oci_process_free(p);
				return crix_err_make(err, ENOMEM, "exec --cap");
			}
	}
	if (p->args == NULL || p->cwd == NULL) {
		oci_process_free(p);
		return crix_err_make(err, ENOMEM, "exec process");
	}
	*out = p;
	return 0;
}

__attribute__((noreturn)) static void exec_child(int sync_fd, int pidfd, int ns_flags, int console_fd,
						 const struct oci_process *process, struct oci_plan *plan)
{
	struct crix_err *err = NULL;
	struct oci_sync_msg msg;
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (oci_sync_expect(sync_fd, OCI_SYNC_GO, &msg, &err) < 0)
		oci_sync_fail(sync_fd, err);
	if (setns(pidfd, ns_flags) < 0) {
		crix_err_make(&err, errno, "join the container's namespaces");
		oci_sync_fail(sync_fd, err);
	}
	pid_t pid = fork();
	if (pid < 0) {
		crix_err_make(&err, errno, "fork");
		oci_sync_fail(sync_fd, err);
	}
	if (pid > 0) {
		oci_sync_send(sync_fd, OCI_SYNC_PID, pid, NULL);
		_exit(0);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (console_fd >= 0 && oci_console_setup(console_fd, process, false, &err) < 0)
		oci_sync_fail(sync_fd, err);
	if (console_fd >= 0)
		close(console_fd);
	if (oci_plan_resolve_exe(plan, &err) < 0 || oci_plan_apply_limits(plan, &err) < 0)
		oci_sync_fail(sync_fd, err);
	/* Our end closes on a successful execve: the runtime reads EOF. */
	oci_plan_exec(plan, &err);
	oci_sync_fail(sync_fd, err);
}

int oci_container_exec(const char *root, const char *id, const struct oci_exec_opts *o, int *exit_code,
		       struct crix_err **err)
{
	struct oci_state *st = NULL;
	struct oci_spec *spec = NULL;
	struct oci_process *process = NULL;
	struct oci_plan *plan = NULL;
	struct oci_cgroup *cg = NULL;
	int pidfd = -1, console_fd = -1, sv[2] = {-1, -1}, console[2] = {-1, -1}, master = -1;
	pid_t child = -1, pid = -1;
	int r = -1;
	struct oci_sync_msg msg;
	sigset_t set;

	if (load_live(root, id, &st, &cg, err) < 0 || load_spec_copy(st, &spec, err) < 0 ||
	    exec_process(spec, o, &process, err) < 0)
		goto out;
	if (oci_plan_build(process, spec->linux ? spec->linux->seccomp : NULL, &plan, err) < 0)
		goto out;
	plan->preserve_fds = o->preserve_fds;
	int ns_flags = 0;
	for (size_t i = 0; spec->linux && i < spec->linux->n_namespaces; i++)
		ns_flags |= oci_ns_clone_flag(spec->linux->namespaces[i].type);
	if (ns_flags & CLONE_NEWUSER) {
		char path[64], buf[16] = {0};
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)st->pid);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		plan->set_groups = !(fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "deny", 4) == 0);
	}
	pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	if (pidfd < 0 || !oci_state_init_alive(st)) {
		crix_err_make(err, ESRCH, "container %s is not running", id);
		goto out;
	}
	if (process->terminal && o->console_socket != NULL) {
		if ((console_fd = oci_console_connect(o->console_socket, err)) < 0)
			goto out;
	} else if (process->terminal) { /* relayed here, as with run */
		if (o->detach) {
			crix_err_make(err, EINVAL, "exec --tty --detach needs --console-socket");
			goto out;
		}
		if (console_pair(console, err) < 0)
			goto out;
		console_fd = console[1];
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		crix_err_make(err, errno, "socketpair");
		goto out;
	}
	if (!o->detach)
		block_signals(&set);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	child = fork();
	if (child < 0) {
		crix_err_make(err, errno, "fork");
		goto out;
	}
	if (child == 0) {
		close(sv[0]);
		exec_child(sv[1], pidfd, ns_flags, console_fd, process, plan);
	}
	close(sv[1]);
	sv[1] = -1;
	if (console_fd >= 0) { /* the child has it: receiving the master must see its end close */
		close(console_fd);
		console_fd = -1;
	}
	if (oci_cgroup_enter(cg, child, err) < 0 || oci_sync_send(sv[0], OCI_SYNC_GO, 0, NULL) < 0)
		goto out;
	if (oci_sync_expect(sv[0], OCI_SYNC_PID, &msg, err) < 0)
		goto out;
	pid = msg.value;
	int status;
	crix_wait(child, &status);
	child = -1;
	int got = oci_sync_recv(sv[0], &msg);
	if (got != 0) {
		if (got > 0 && msg.type == OCI_SYNC_ERROR) {
			crix_err_make(err, 0, "exec in %s: %s", id, msg.text);
		} else {
			crix_err_make(err, EPROTO, "exec in %s: unexpected message", id);
		}
		goto out;
	}
	if (console[0] >= 0 && (master = oci_console_recv(console[0], err)) < 0)
		goto out;
	if (write_pid_file(o->pid_file, pid, err) < 0)
		goto out;
	if (o->detach) {
		*exit_code = 0;
	} else {
		*exit_code = wait_forwarding(pid, &set, master);
		pid = -1;
	}
	r = 0;
out:
	if (r < 0 && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (console_fd >= 0)
		close(console_fd);
	if (console[0] >= 0)
		close(console[0]);
	if (master >= 0)
		close(master);
	if (pidfd >= 0)
		close(pidfd);
	oci_plan_free(plan);
	oci_process_free(process);
	oci_cgroup_free(cg);
	oci_spec_free(spec);
	oci_state_free(st);
	return r;
}
