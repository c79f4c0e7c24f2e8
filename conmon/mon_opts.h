/* The command line of crix-conmon (see docs/conmon.md and --help). */
#ifndef MON_OPTS_H
#define MON_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "crix_err.h"

#define MON_EXEC_OUTPUT_MAX_DEFAULT (16u << 20)

struct mon_opts {
	const char *cid;               /* -c, required */
	const char *session_id;        /* -u: names exit file and socket dir (default: cid) */
	const char *runtime;           /* -r, required */
	const char **runtime_args;     /* --runtime-arg, before the runtime's verb */
	size_t n_runtime_args;
	const char *bundle;            /* -b, container mode */
	const char *container_pidfile; /* -p, given to the runtime's --pid-file */
	const char *monitor_pidfile;   /* -P, the monitor's own pid once detached */
	const char *log_path;          /* -l, CRI log; "k8s-file:" prefix accepted */
	uint64_t log_size_max;         /* --log-size-max, 0 = no cap */
	const char *exit_dir;          /* --exit-dir */
	const char *socket_dir;        /* --socket-dir-path: <dir>/<cid>/{attach,ctl} */
	bool terminal;                 /* -t */
	bool stdin_open;               /* -i */
	bool stdin_once;               /* --stdin-once */
	bool sync;                     /* --sync: stay in the foreground */
	bool exec;                     /* -e: exec mode (exec-sync unless exec_attach) */
	bool exec_attach;              /* --exec-attach: exec served like a container */
	const char *exec_process_spec; /* --exec-process-spec */
	unsigned timeout;              /* -T seconds, exec mode; 0 = none */
	const char *exec_stdout;       /* --exec-stdout FILE */
	const char *exec_stderr;       /* --exec-stderr FILE */
	uint64_t exec_output_max;      /* --exec-output-max, per stream */
	const char *log_level;         /* --log-level */
	bool help, version;
};

/* Parses argv into opts (pointers into argv; runtime_args allocated) and checks that the
 * options needed by the chosen mode are present. Usage errors carry errnum 0. */
int mon_opts_parse(int argc, char **argv, struct mon_opts *opts, struct crix_err **err);

void mon_opts_free(struct mon_opts *opts);

void mon_opts_usage(FILE *out);

#endif
