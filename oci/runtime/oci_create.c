/* create: the container's state dir, spec copy, cgroup and namespaces, and the init cloned
 * and led through its set-up (oci_init.c) over the sync socket until it waits on exec.fifo. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "crix_json.h"
#include "oci_ctr.h"
#include "oci_init.h"
#include "oci_sync.h"
#include "oci_terminal.h"

void oci_ctr_free(struct oci_ctr *c)
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

void oci_ctr_abort(struct oci_ctr *c, pid_t init)
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

/* The kernel takes at most this many lines in a uid_map or gid_map (since Linux 4.15), in one
 * write shorter than a page. */
#define OCI_ID_MAP_MAX_LINES 340

/* The text of linux.<field> for /proc/<pid>/uid_map or gid_map; a map the kernel would refuse
 * is an error that says why. */
static int id_map_text(const char *field, const struct oci_id_mapping *m, size_t n, char **out,
		       struct crix_err **err)
{
	if (n > OCI_ID_MAP_MAX_LINES)
		return crix_err_make(err, EINVAL, "linux.%s: %zu entries, more than the kernel's limit of %d", field, n,
				     OCI_ID_MAP_MAX_LINES);
	size_t size = n * sizeof("4294967295 4294967295 4294967295\n") + 1;
	_cleanup_free_ char *text = malloc(size);
	if (text == NULL)
		return crix_err_make(err, ENOMEM, "linux.%s", field);
	size_t len = 0;
	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, size - len, "%u %u %u\n", m[i].container_id, m[i].host_id,
					m[i].size);
	long page = sysconf(_SC_PAGESIZE);
	if (page > 0 && len >= (size_t)page)
		return crix_err_make(err, EINVAL,
				     "linux.%s: %zu entries take %zu bytes, more than the kernel's limit of %ld bytes",
				     field, n, len, page - 1);
	*out = steal_ptr(text);
	return 0;
}

static int write_id_map(pid_t pid, const char *file, const char *text, struct crix_err **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	size_t len = strlen(text);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", path);
	ssize_t n = write(fd, text, len);
	if (n != (ssize_t)len)
		return crix_err_make(err, n < 0 ? errno : EIO, "write %s", path);
	return 0;
}

/* The resources to create the cgroup with (*res): the spec's, plus an allow rule per
 * linux.devices entry (cgroup.h leaves that to us). *rules is ours to free; *tmp may be used
 * as storage. */
static int cgroup_resources(const struct oci_spec *spec, struct oci_resources *tmp, struct oci_device_rule **rules,
			    const struct oci_resources **res, struct crix_err **err)
{
	static char rwm[] = "rwm";
	const struct oci_linux *l = spec->linux;
	*rules = NULL;
	*res = l ? l->resources : NULL;
	if (l == NULL || l->n_devices == 0)
		return 0;
	if (l->resources != NULL)
		*tmp = *l->resources;
	else
		memset(tmp, 0, sizeof(*tmp));
	size_t n = tmp->n_devices + l->n_devices;
	*rules = calloc(n, sizeof(**rules));
	if (*rules == NULL)
		return crix_err_make(err, ENOMEM, "device rules");
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
	*res = tmp;
	return 0;
}

static int resolve_paths(const struct oci_create_opts *opts, const struct oci_spec *spec,
			 struct oci_state *st, struct crix_err **err)
{
	char buf[PATH_MAX];
	const char *bundle = opts->bundle ? opts->bundle : ".";
	if (realpath(bundle, buf) == NULL)
		return crix_err_make(err, errno, "bundle %s", bundle);
	if ((st->bundle = strdup(buf)) == NULL)
		return crix_err_make(err, ENOMEM, "bundle path");
	if (spec->root == NULL || spec->root->path == NULL)
		return crix_err_make(err, EINVAL, "root.path: required");
	_cleanup_free_ char *rootfs = NULL;
	if (spec->root->path[0] == '/')
		rootfs = strdup(spec->root->path);
	else if (asprintf(&rootfs, "%s/%s", st->bundle, spec->root->path) < 0)
		rootfs = NULL;
	if (rootfs == NULL)
		return crix_err_make(err, ENOMEM, "rootfs path");
	struct stat sb;
	if (realpath(rootfs, buf) == NULL || stat(buf, &sb) < 0)
		return crix_err_make(err, errno, "rootfs %s", rootfs);
	if (!S_ISDIR(sb.st_mode))
		return crix_err_make(err, ENOTDIR, "rootfs %s", rootfs);
	st->rootfs = strdup(buf);
	return st->rootfs ? 0 : crix_err_make(err, ENOMEM, "rootfs path");
}

int oci_ctr_write_pid_file(const char *path, pid_t pid, struct crix_err **err)
{
	if (path == NULL)
		return 0;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	return crix_write_file_atomic(path, buf, (size_t)n, 0644, CRIX_WRITE_VOLATILE, err);
}

static int annotations_json(const struct oci_spec *spec, struct json_object **out, struct crix_err **err)
{
	if (spec->n_annotations == 0)
		return 0;
	struct json_object *o = json_object_new_object();
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "annotations");
	for (size_t i = 0; i < spec->n_annotations; i++)
		if (crix_json_add(o, spec->annotations[i].key, json_object_new_string(spec->annotations[i].value),
				  err) < 0) {
			json_object_put(o);
			return crix_err_wrap(err, "annotations");
		}
	*out = o;
	return 0;
}

/* Namespaces: new ones, or joined by path (opened here, on the host). */
static int plan_namespaces(const struct oci_spec *spec, struct oci_init *in, struct crix_err **err)
{
	for (size_t i = 0; spec->linux && i < spec->linux->n_namespaces; i++) {
		const struct oci_namespace *ns = &spec->linux->namespaces[i];
		if (ns->path == NULL) {
			in->ns_new[ns->type] = true;
			continue;
		}
		in->ns_fd[ns->type] = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (in->ns_fd[ns->type] < 0)
			return crix_err_make(err, errno, "%s namespace %s", oci_ns_type_name(ns->type), ns->path);
	}
	if (!in->ns_new[OCI_NS_MOUNT] && in->ns_fd[OCI_NS_MOUNT] < 0)
		return crix_err_make(err, EINVAL, "linux.namespaces: a mount namespace, new or joined, is required");
	if (in->ns_new[OCI_NS_USER] && (spec->linux->n_uid_mappings == 0 || spec->linux->n_gid_mappings == 0))
		return crix_err_make(err, EINVAL, "linux.uidMappings/gidMappings: required with a new user namespace");
	in->two_stage = in->ns_new[OCI_NS_USER] || in->ns_fd[OCI_NS_USER] >= 0 || in->ns_fd[OCI_NS_PID] >= 0 ||
			in->ns_new[OCI_NS_TIME] || in->ns_fd[OCI_NS_TIME] >= 0;
	return 0;
}

/* The spec from the bundle, its copy in the state dir, the paths and the process plan. */
static int read_spec(struct oci_ctr *c, const struct oci_create_opts *opts, struct crix_err **err)
{
	_cleanup_free_ char *config_text = NULL;
	_cleanup_free_ char *config_path = NULL;
	size_t config_len = 0;
	if (asprintf(&config_path, "%s/config.json", opts->bundle ? opts->bundle : ".") < 0)
		return crix_err_make(err, ENOMEM, "config path");
	if (crix_read_file(config_path, OCI_CONFIG_MAX_BYTES, &config_text, &config_len, err) < 0 ||
	    oci_spec_from_string(config_text, &c->spec, err) < 0)
		return crix_err_wrap(err, "%s", config_path);
	const struct oci_spec *spec = c->spec;
	if (spec->process == NULL)
		return crix_err_make(err, EINVAL, "%s: process: required", config_path);
	if (resolve_paths(opts, spec, c->st, err) < 0)
		return -1;
	_cleanup_free_ char *copy = oci_state_path(c->st, "config.json");
	if (copy == NULL)
		return crix_err_make(err, ENOMEM, "config copy path");
	if (crix_write_file_atomic(copy, config_text, config_len, 0600, CRIX_WRITE_VOLATILE, err) < 0)
		return -1;
	if (oci_plan_build(spec->process, spec->linux ? spec->linux->seccomp : NULL, &c->plan, err) < 0)
		return -1;
	if (spec->linux && spec->linux->mount_label)
		crix_debug("linux.mountLabel %s ignored: SELinux is not supported", spec->linux->mount_label);
	c->plan->preserve_fds = opts->preserve_fds;
	return annotations_json(spec, &c->st->annotations, err);
}

/* The cgroup: the spec's path or one of our own. */
static int make_cgroup(struct oci_ctr *c, const char *id, struct crix_err **err)
{
	const struct oci_spec *spec = c->spec;
	const char *path = spec->linux && spec->linux->cgroups_path ? spec->linux->cgroups_path : NULL;
	if (path != NULL)
		c->st->cgroups_path = strdup(path);
	else if (asprintf(&c->st->cgroups_path, "/crix-runtime/%s", id) < 0)
		c->st->cgroups_path = NULL;
	if (c->st->cgroups_path == NULL)
		return crix_err_make(err, ENOMEM, "cgroups path");
	struct oci_resources tmp;
	_cleanup_free_ struct oci_device_rule *rules = NULL;
	const struct oci_resources *res = NULL;
	if (cgroup_resources(spec, &tmp, &rules, &res, err) < 0 ||
	    oci_cgroup_create(NULL, c->st->cgroups_path, res, &c->cg, err) < 0)
		return crix_err_wrap(err, "cgroup %s", c->st->cgroups_path);
	crix_debug("%s: cgroup %s created", id, c->st->cgroups_path);
	return 0;
}

/* The runtime's side of the init's set-up, from its clone to READY (oci_init.c has the
 * other): the cgroup, the id maps, the init's pid, the hooks that run here. */
static int lead_init(struct oci_ctr *c, const struct oci_init *in, int sync_fd, char *const id_maps[2],
		     pid_t *init, struct crix_err **err)
{
	const struct oci_spec *spec = c->spec;
	if (oci_cgroup_enter(c->cg, c->child, err) < 0)
		return crix_err_wrap(err, "cgroup %s", c->st->cgroups_path);
	if (oci_sync_send(sync_fd, OCI_SYNC_GO, 0, NULL, err) < 0)
		return -1;
	*init = c->child;
	if (in->two_stage) {
		if (in->ns_new[OCI_NS_USER] &&
		    (oci_sync_expect(sync_fd, OCI_SYNC_USERMAP, NULL, err) < 0 ||
		     write_id_map(c->child, "uid_map", id_maps[0], err) < 0 ||
		     write_id_map(c->child, "gid_map", id_maps[1], err) < 0 ||
		     oci_sync_send(sync_fd, OCI_SYNC_USERMAP_DONE, 0, NULL, err) < 0))
			return -1;
		int pid = 0;
		if (oci_sync_expect(sync_fd, OCI_SYNC_PID, &pid, err) < 0)
			return -1;
		*init = pid;
		int status;
		crix_wait(c->child, &status);
		c->child = 0;
	}
	bool zombie;
	char created[48];
	crix_rfc3339_now(created, sizeof(created));
	c->st->pid = *init;
	c->st->pid_start = oci_pid_start_time(*init, &zombie);
	if ((c->st->created = strdup(created)) == NULL)
		return crix_err_make(err, ENOMEM, "created");
	if (in->hooks_sync &&
	    (oci_sync_expect(sync_fd, OCI_SYNC_HOOKS, NULL, err) < 0 ||
	     oci_ctr_run_hooks(spec, c->st, OCI_HOOK_PRESTART, OCI_CREATING, err) < 0 ||
	     oci_ctr_run_hooks(spec, c->st, OCI_HOOK_CREATE_RUNTIME, OCI_CREATING, err) < 0 ||
	     oci_sync_send(sync_fd, OCI_SYNC_HOOKS_DONE, 0, NULL, err) < 0))
		return -1;
	return oci_sync_expect(sync_fd, OCI_SYNC_READY, NULL, err);
}

int oci_ctr_create(const char *root, const char *id, const struct oci_create_opts *opts, int console_fd,
		   struct oci_ctr **out, struct crix_err **err)
{
	struct oci_ctr *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->st = calloc(1, sizeof(*c->st))) == NULL || (c->st->id = strdup(id)) == NULL) {
		if (c != NULL)
			free(c->st);
		free(c);
		if (console_fd >= 0)
			close(console_fd);
		return crix_err_make(err, ENOMEM, "create %s", id);
	}
	c->fifo_fd = -1;
	if (oci_state_reserve(root, id, &c->st->dir, err) < 0) {
		if (console_fd >= 0)
			close(console_fd);
		oci_ctr_free(c);
		return -1;
	}
	pid_t init = 0;
	struct oci_init in = {.sync_fd = -1, .fifo_fd = -1, .console_fd = -1};
	for (int t = 0; t < OCI_NS_TYPES; t++)
		in.ns_fd[t] = -1;
	int sv[2] = {-1, -1};
	_cleanup_free_ char *fifo = oci_state_path(c->st, "exec.fifo");
	_cleanup_free_ char *uid_map = NULL;
	_cleanup_free_ char *gid_map = NULL;
	if (fifo == NULL) {
		crix_err_make(err, ENOMEM, "create %s", id);
		goto fail;
	}
	if (read_spec(c, opts, err) < 0)
		goto fail;
	const struct oci_spec *spec = c->spec;
	crix_debug("%s: spec read and process planned", id);
	if (plan_namespaces(spec, &in, err) < 0)
		goto fail;
	if (in.ns_new[OCI_NS_USER] &&
	    (id_map_text("uidMappings", spec->linux->uid_mappings, spec->linux->n_uid_mappings, &uid_map, err) < 0 ||
	     id_map_text("gidMappings", spec->linux->gid_mappings, spec->linux->n_gid_mappings, &gid_map, err) < 0))
		goto fail;
	in.hooks_sync = spec->hooks[OCI_HOOK_PRESTART].n || spec->hooks[OCI_HOOK_CREATE_RUNTIME].n ||
			spec->hooks[OCI_HOOK_CREATE_CONTAINER].n || spec->hooks[OCI_HOOK_START_CONTAINER].n;
	c->st->cgroup_ns = in.ns_new[OCI_NS_CGROUP];
	if (make_cgroup(c, id, err) < 0)
		goto fail;
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
	in.state = c->st;
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
	if (lead_init(c, &in, sv[0], (char *const[]){uid_map, gid_map}, &init, err) < 0)
		goto fail;
	crix_debug("%s: init ready", id);
	if (oci_state_write(c->st, err) < 0 || oci_ctr_write_pid_file(opts->pid_file, init, err) < 0)
		goto fail;
	close(sv[0]);
	for (int t = 0; t < OCI_NS_TYPES; t++)
		if (in.ns_fd[t] >= 0)
			close(in.ns_fd[t]);
	if (in.console_fd >= 0)
		close(in.console_fd);
	if (console_fd >= 0) /* the process has no terminal: the caller's console socket is unused */
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
	oci_ctr_abort(c, init);
	oci_ctr_free(c);
	return -1;
}

int oci_container_create(const char *root, const char *id, const struct oci_create_opts *opts,
			 struct crix_err **err)
{
	struct oci_ctr *c = NULL;
	if (oci_ctr_create(root, id, opts, -1, &c, err) < 0)
		return -1;
	oci_ctr_free(c);
	return 0;
}

