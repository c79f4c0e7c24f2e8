/* The commands on an existing container (start, kill, delete, state, list, pause, update,
 * ps) and what create, run and exec share with them. */
#include "oci_container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "oci_ctr.h"
#include "oci_hooks.h"

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

int oci_ctr_load_spec(const struct oci_state *st, struct oci_spec **spec, struct crix_err **err)
{
	_cleanup_free_ char *path = oci_state_path(st, "config.json");
	if (path == NULL)
		return crix_err_make(err, ENOMEM, "config path");
	return oci_spec_from_file(path, spec, err);
}

int oci_ctr_run_hooks(const struct oci_spec *spec, const struct oci_state *st, enum oci_hook_kind kind,
		      enum oci_status status, struct crix_err **err)
{
	if (spec == NULL || spec->hooks[kind].n == 0)
		return 0;
	_cleanup_free_ char *text = oci_state_hook_text(st, status, st->pid);
	if (text == NULL)
		return crix_err_make(err, ENOMEM, "state for the %s hooks", oci_hook_kind_name(kind));
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

int oci_ctr_cleanup(const struct oci_spec *spec, struct oci_state *st, struct oci_cgroup *cg,
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
	if (oci_ctr_run_hooks(spec, st, OCI_HOOK_POSTSTOP, OCI_STOPPED, &e) < 0) {
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

void oci_ctr_poststart(const struct oci_spec *spec, const struct oci_state *st)
{
	struct crix_err *e = NULL;
	if (oci_ctr_run_hooks(spec, st, OCI_HOOK_POSTSTART, OCI_RUNNING, &e) < 0) {
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
	if (oci_ctr_load_spec(st, &spec, err) < 0 || release_init(st, err) < 0)
		goto out;
	oci_ctr_poststart(spec, st);
	r = 0;
out:
	oci_spec_free(spec);
	oci_state_free(st);
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
	if (oci_ctr_load_spec(st, &spec, &e) < 0) /* gone with a half-made container: no hooks then */
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
	r = oci_ctr_cleanup(spec, st, NULL, err);
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
	oci_state_free(st);
	const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
								    JSON_C_TO_STRING_SPACED)
			     : NULL;
	int r = text ? printf("%s\n", text) : crix_err_make(err, ENOMEM, "state of %s", id);
	json_object_put(o);
	return r < 0 ? -1 : 0;
}

int oci_container_list(const char *root, bool json, bool quiet, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	if (d == NULL && errno != ENOENT)
		return crix_err_make(err, errno, "open %s", root);
	struct json_object *arr = json ? json_object_new_array() : NULL;
	if (json && arr == NULL)
		return crix_err_make(err, ENOMEM, "list");
	if (!json && !quiet)
		printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
	struct dirent *de;
	int r = 0;
	while (r == 0 && d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || oci_state_validate_id(de->d_name, NULL) < 0)
			continue;
		struct oci_state *st = NULL;
		struct crix_err *e = NULL;
		if (oci_state_load(root, de->d_name, &st, &e) < 0) {
			crix_err_free(&e);
			continue;
		}
		enum oci_status s = oci_state_status(st);
		if (json) {
			struct json_object *o = oci_state_to_oci_json(st, s);
			if (o == NULL || json_object_array_add(arr, o) < 0) {
				json_object_put(o);
				r = crix_err_make(err, ENOMEM, "list");
			}
		} else if (quiet) {
			printf("%s\n", st->id);
		} else {
			printf("%-20s %-8d %-10s %-40s %-31s %s\n", st->id, s == OCI_STOPPED ? 0 : (int)st->pid,
			       oci_status_name(s), st->bundle ? st->bundle : "", st->created ? st->created : "",
			       "root");
		}
		oci_state_free(st);
	}
	const char *text = r == 0 && json ? json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
										   JSON_C_TO_STRING_NOSLASHESCAPE)
					  : NULL;
	if (r == 0 && json && text == NULL)
		r = crix_err_make(err, ENOMEM, "list");
	if (text != NULL)
		printf("%s\n", text);
	json_object_put(arr);
	return r;
}

int oci_ctr_load_live(const char *root, const char *id, struct oci_state **st, struct oci_cgroup **cg,
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
	int r = oci_ctr_load_live(root, id, &st, &cg, err);
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
	int r = oci_ctr_load_live(root, id, &st, &cg, err);
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
	int r = oci_ctr_load_live(root, id, &st, &cg, err);
	if (r == 0)
		r = oci_cgroup_pids(cg, pids, n, err);
	oci_cgroup_free(cg);
	oci_state_free(st);
	return r;
}

