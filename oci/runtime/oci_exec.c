/* exec: a new process in a running container, joined to its namespaces and cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_spawn.h"
#include "crix_strv.h"
#include "oci_ctr.h"
#include "oci_init.h"
#include "oci_sync.h"
#include "oci_terminal.h"

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
		if (crix_read_file(o->process_file, OCI_CONFIG_MAX_BYTES, &text, &len, err) < 0)
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
		if (p->capabilities == NULL && (p->capabilities = calloc(1, sizeof(*p->capabilities))) == NULL) {
			oci_process_free(p);
			return crix_err_make(err, ENOMEM, "exec --cap");
		}
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
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (oci_sync_expect(sync_fd, OCI_SYNC_GO, NULL, &err) < 0)
		oci_sync_fail(sync_fd, err);
	if (setns(pidfd, ns_flags) < 0) {
		crix_err_make(&err, errno, "join the container's namespaces");
		oci_sync_fail(sync_fd, err);
	}
	/* Into the pid namespace joined. */
	if (oci_sync_fork_pid(sync_fd, &err) < 0)
		oci_sync_fail(sync_fd, err);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	oci_reset_signals();
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
	sigset_t set;

	if (oci_ctr_load_live(root, id, &st, &cg, err) < 0 || oci_ctr_load_spec(st, &spec, err) < 0 ||
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
		if (oci_ctr_console_pair(console, err) < 0)
			goto out;
		console_fd = console[1];
		/* The process starts with the caller's window size (wait_forwarding keeps it). */
		struct winsize ws;
		if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
			process->has_console_size = true;
			process->console_height = ws.ws_row;
			process->console_width = ws.ws_col;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		crix_err_make(err, errno, "socketpair");
		goto out;
	}
	if (!o->detach)
		oci_ctr_block_signals(&set);
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
	if (oci_cgroup_enter(cg, child, err) < 0 || oci_sync_send(sv[0], OCI_SYNC_GO, 0, NULL, err) < 0 ||
	    oci_sync_expect(sv[0], OCI_SYNC_PID, &pid, err) < 0) {
		crix_err_wrap(err, "exec in %s", id);
		goto out;
	}
	int status;
	crix_wait(child, &status);
	child = -1;
	if (oci_sync_expect_exec(sv[0], err) < 0) {
		crix_err_wrap(err, "exec in %s", id);
		goto out;
	}
	if (console[0] >= 0 && (master = oci_console_recv(console[0], err)) < 0)
		goto out;
	if (oci_ctr_write_pid_file(o->pid_file, pid, err) < 0)
		goto out;
	if (o->detach) {
		*exit_code = 0;
	} else {
		*exit_code = oci_ctr_wait_forwarding(pid, &set, master);
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
