#include "mon_opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_RUNTIME_ARG = 256,
	OPT_LOG_SIZE_MAX,
	OPT_EXIT_DIR,
	OPT_SOCKET_DIR,
	OPT_STDIN_ONCE,
	OPT_SYNC,
	OPT_EXEC_SPEC,
	OPT_EXEC_ATTACH,
	OPT_EXEC_STDOUT,
	OPT_EXEC_STDERR,
	OPT_EXEC_OUTPUT_MAX,
	OPT_LOG_LEVEL,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{"cid", required_argument, NULL, 'c'},
	{"session-id", required_argument, NULL, 'u'},
	{"runtime", required_argument, NULL, 'r'},
	{"runtime-arg", required_argument, NULL, OPT_RUNTIME_ARG},
	{"bundle", required_argument, NULL, 'b'},
	{"container-pidfile", required_argument, NULL, 'p'},
	{"conmon-pidfile", required_argument, NULL, 'P'},
	{"log-path", required_argument, NULL, 'l'},
	{"log-size-max", required_argument, NULL, OPT_LOG_SIZE_MAX},
	{"exit-dir", required_argument, NULL, OPT_EXIT_DIR},
	{"socket-dir-path", required_argument, NULL, OPT_SOCKET_DIR},
	{"terminal", no_argument, NULL, 't'},
	{"stdin", no_argument, NULL, 'i'},
	{"stdin-once", no_argument, NULL, OPT_STDIN_ONCE},
	{"sync", no_argument, NULL, OPT_SYNC},
	{"exec", no_argument, NULL, 'e'},
	{"exec-process-spec", required_argument, NULL, OPT_EXEC_SPEC},
	{"exec-attach", no_argument, NULL, OPT_EXEC_ATTACH},
	{"timeout", required_argument, NULL, 'T'},
	{"exec-stdout", required_argument, NULL, OPT_EXEC_STDOUT},
	{"exec-stderr", required_argument, NULL, OPT_EXEC_STDERR},
	{"exec-output-max", required_argument, NULL, OPT_EXEC_OUTPUT_MAX},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

void mon_opts_usage(FILE *out)
{
	fputs("Usage: crix-conmon [OPTION]...\n"
	      "The per-container monitor of crix: runs `<runtime> create`, holds the container's\n"
	      "stdio, writes its CRI log, serves attach, reaps it and records how it ended.\n"
	      "The sync pipe is the fd named by $_CRIX_SYNCPIPE; it receives one JSON line.\n"
	      "\n"
	      "  -c, --cid ID                 container id (required)\n"
	      "  -u, --session-id ID          names the exit file and socket dir (default: cid)\n"
	      "  -r, --runtime PATH           OCI runtime binary (required)\n"
	      "      --runtime-arg ARG        global runtime argument, repeatable (--root=DIR)\n"
	      "  -b, --bundle DIR             OCI bundle (container mode)\n"
	      "  -p, --container-pidfile FILE the runtime's --pid-file (default <sockets>/pid)\n"
	      "  -P, --conmon-pidfile FILE    write the monitor's pid here once detached\n"
	      "  -l, --log-path [k8s-file:]FILE  CRI log file (container mode)\n"
	      "      --log-size-max BYTES     rotate the log to FILE.1 at this size (<= 0: never)\n"
	      "      --exit-dir DIR           write DIR/ID (exit status) and DIR/ID.oom\n"
	      "      --socket-dir-path DIR    attach socket DIR/ID/attach, control fifo DIR/ID/ctl\n"
	      "  -t, --terminal               give the container a pty (console socket)\n"
	      "  -i, --stdin                  keep the container's stdin open for attach\n"
	      "      --stdin-once             close the container's stdin when an attach client\n"
	      "                               stops sending\n"
	      "      --sync                   stay in the foreground (do not detach)\n"
	      "  -e, --exec                   exec-sync mode: `<runtime> exec` and report the result\n"
	      "      --exec-process-spec FILE the process.json for `<runtime> exec --process`\n"
	      "      --exec-attach            exec served like a container (attach socket, ctl,\n"
	      "                               exit file); starts when the first client attaches\n"
	      "  -T, --timeout SECONDS        exec: kill the process after this long (0: never)\n"
	      "      --exec-stdout FILE       exec: write the process's stdout here\n"
	      "      --exec-stderr FILE       exec: write the process's stderr here\n"
	      "      --exec-output-max BYTES  exec: keep at most this much per stream (16 MiB)\n"
	      "      --log-level LEVEL        error, warn, info, debug (to stderr)\n"
	      "  -h, --help                   this text\n"
	      "      --version                the version\n",
	      out);
}

static int parse_size(const char *text, const char *name, uint64_t *out, struct crix_err **err)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return crix_err_make(err, 0, "%s: not a number: %s", name, text);
	*out = v <= 0 ? 0 : (uint64_t)v;
	return 0;
}

/* Ids become file names under the exit and socket dirs. */
static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 128 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int check(struct mon_opts *o, struct crix_err **err)
{
	if (o->cid == NULL)
		return crix_err_make(err, 0, "--cid is required");
	if (!valid_id(o->cid))
		return crix_err_make(err, 0, "invalid container id: %s", o->cid);
	if (o->session_id == NULL)
		o->session_id = o->cid;
	if (!valid_id(o->session_id))
		return crix_err_make(err, 0, "invalid session id: %s", o->session_id);
	if (o->runtime == NULL)
		return crix_err_make(err, 0, "--runtime is required");
	if (o->exec_attach && !o->exec)
		return crix_err_make(err, 0, "--exec-attach needs --exec");
	if (o->exec && o->exec_process_spec == NULL)
		return crix_err_make(err, 0, "--exec needs --exec-process-spec");
	/* A detached monitor works from "/". */
	const char *paths[] = {o->bundle, o->container_pidfile, o->monitor_pidfile, o->log_path,
			       o->exit_dir, o->socket_dir, o->exec_process_spec, o->exec_stdout,
			       o->exec_stderr};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i] != NULL && paths[i][0] != '/')
			return crix_err_make(err, 0, "not an absolute path: %s", paths[i]);
	if (o->exec && !o->exec_attach)
		return 0;
	/* a container, or an exec served like one (its log is optional) */
	const char *missing = o->bundle == NULL && !o->exec             ? "--bundle"
			      : o->log_path == NULL && !o->exec         ? "--log-path"
			      : o->exit_dir == NULL                     ? "--exit-dir"
			      : o->socket_dir == NULL                   ? "--socket-dir-path"
									: NULL;
	if (missing != NULL)
		return crix_err_make(err, 0, "%s is required", missing);
	return 0;
}

int mon_opts_parse(int argc, char **argv, struct mon_opts *o, struct crix_err **err)
{
	memset(o, 0, sizeof(*o));
	o->exec_output_max = MON_EXEC_OUTPUT_MAX_DEFAULT;
	optind = 0; /* full re-initialisation, so tests can parse several times */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":c:u:r:b:p:P:l:tieT:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'c': o->cid = optarg; break;
		case 'u': o->session_id = optarg; break;
		case 'r': o->runtime = optarg; break;
		case OPT_RUNTIME_ARG: {
			const char **args = realloc(o->runtime_args, (o->n_runtime_args + 1) * sizeof(*args));
			if (args == NULL)
				return crix_err_make(err, ENOMEM, "runtime args");
			args[o->n_runtime_args++] = optarg;
			o->runtime_args = args;
			break;
		}
		case 'b': o->bundle = optarg; break;
		case 'p': o->container_pidfile = optarg; break;
		case 'P': o->monitor_pidfile = optarg; break;
		case 'l':
			o->log_path = strncmp(optarg, "k8s-file:", 9) == 0 ? optarg + 9 : optarg;
			break;
		case OPT_LOG_SIZE_MAX:
			if (parse_size(optarg, "--log-size-max", &o->log_size_max, err) < 0)
				return -1;
			break;
		case OPT_EXIT_DIR: o->exit_dir = optarg; break;
		case OPT_SOCKET_DIR: o->socket_dir = optarg; break;
		case 't': o->terminal = true; break;
		case 'i': o->stdin_open = true; break;
		case OPT_STDIN_ONCE: o->stdin_once = true; break;
		case OPT_SYNC: o->sync = true; break;
		case 'e': o->exec = true; break;
		case OPT_EXEC_SPEC: o->exec_process_spec = optarg; break;
		case OPT_EXEC_ATTACH: o->exec_attach = true; break;
		case 'T': {
			uint64_t t = 0;
			if (parse_size(optarg, "--timeout", &t, err) < 0)
				return -1;
			if (t > UINT_MAX)
				return crix_err_make(err, ERANGE, "--timeout: too large: %s", optarg);
			o->timeout = (unsigned)t;
			break;
		}
		case OPT_EXEC_STDOUT: o->exec_stdout = optarg; break;
		case OPT_EXEC_STDERR: o->exec_stderr = optarg; break;
		case OPT_EXEC_OUTPUT_MAX:
			if (parse_size(optarg, "--exec-output-max", &o->exec_output_max, err) < 0)
				return -1;
			break;
		case OPT_LOG_LEVEL: o->log_level = optarg; break;
		case 'h': o->help = true; return 0;
		case OPT_VERSION: o->version = true; return 0;
		case ':': return crix_err_make(err, 0, "option %s needs a value", argv[optind - 1]);
		default: return crix_err_make(err, 0, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return crix_err_make(err, 0, "unexpected argument %s", argv[optind]);
	return check(o, err);
}

void mon_opts_free(struct mon_opts *o)
{
	free(o->runtime_args);
	o->runtime_args = NULL;
	o->n_runtime_args = 0;
}
