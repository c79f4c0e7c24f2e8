/* crix-conmon: parse the command line, detach from crixd, then run one of the two modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "crix_err.h"
#include "crix_file.h"
#include "crix_log.h"
#include "mon_opts.h"
#include "mon_proto.h"
#include "mon_run.h"

/* The sync pipe's fd from the environment, removed so the runtime does not inherit it. */
static int take_sync_fd(void)
{
	const char *value = getenv(MON_SYNC_ENV);
	if (value == NULL)
		return -1;
	char *end;
	long fd = strtol(value, &end, 10);
	unsetenv(MON_SYNC_ENV);
	if (end == value || *end != '\0' || fd < 0 || fd > 0x7fffffff ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
		crix_warn("ignoring %s=%s: not an open fd", MON_SYNC_ENV, value);
		return -1;
	}
	return (int)fd;
}

/* A monitor outlives crixd: not crixd's child, in a session of its own, and the parent
 * returns at once so the spawner's waitpid does too. */
static int detach(struct crix_err **err)
{
	pid_t child = fork();
	if (child < 0)
		return crix_err_make(err, errno, "fork");
	if (child > 0)
		_exit(0);
	if (setsid() < 0)
		return crix_err_make(err, errno, "setsid");
	if (chdir("/") < 0) /* hold no mount busy */
		return crix_err_make(err, errno, "chdir /");
	return 0;
}

int main(int argc, char **argv)
{
	int sync_fd = take_sync_fd();
	struct mon_opts opts;
	struct crix_err *err = NULL;
	if (mon_opts_parse(argc, argv, &opts, &err) < 0) {
		crix_err_wrap(&err, "crix-conmon");
		mon_sync_fail(&sync_fd, err);
		crix_err_free(&err);
		mon_opts_free(&opts);
		return 2;
	}
	if (opts.help || opts.version) {
		if (opts.help)
			mon_opts_usage(stdout);
		else
			printf("crix-conmon %s\n", CRIX_VERSION);
		mon_opts_free(&opts);
		return 0;
	}
	if (opts.log_level != NULL) {
		int level = crix_log_level_parse(opts.log_level);
		if (level >= 0)
			crix_log_set_level((enum crix_log_level)level);
	}
	int status = 1;
	bool exec_sync = opts.exec && !opts.exec_attach;
	if (!opts.sync && !exec_sync && detach(&err) < 0)
		goto fail;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		crix_err_make(&err, errno, "become child subreaper");
		goto fail;
	}
	if (opts.monitor_pidfile != NULL) {
		char pid[16];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (crix_write_file_atomic(opts.monitor_pidfile, pid, (size_t)n, 0644, CRIX_WRITE_VOLATILE, &err) < 0)
			goto fail;
	}
	status = exec_sync ? mon_run_exec(&opts, sync_fd) : mon_run_container(&opts, sync_fd);
	mon_opts_free(&opts);
	return status;
fail:
	mon_sync_fail(&sync_fd, err);
	crix_err_free(&err);
	mon_opts_free(&opts);
	return 1;
}
