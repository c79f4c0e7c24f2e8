/* crix-runtime: an OCI runtime with runc's command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "oci_container.h"
#include "crix_json.h"
#include "crix_strv.h"
#include "oci_process.h"
#include "oci_resources.h"
#include "oci_seccomp.h"
#include "oci_selfexe.h"
#include "oci_spec.h"
#include "oci_state.h"

struct globals {
	const char *root;
	int log_fd; /* --log, or -1 */
	bool log_json;
};

static struct globals g = {.root = OCI_DEFAULT_ROOT, .log_fd = -1};

/* --log: every log line goes to the file (not stderr), as text or JSON like runc's; one
 * write per line on an O_APPEND fd, so the container's init (a fork of ours) can write too. */
static void log_to_file(enum crix_log_level level, const char *when, const char *text)
{
	char line[8192];
	int n = -1;
	if (g.log_json) { /* out of memory: the line goes out as text */
		struct json_object *o = json_object_new_object();
		const char *json = o != NULL &&
					   crix_json_add(o, "level", json_object_new_string(crix_log_level_name(level)), NULL) == 0 &&
					   crix_json_add(o, "msg", json_object_new_string(text), NULL) == 0 &&
					   crix_json_add(o, "time", json_object_new_string(when), NULL) == 0
				   ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
				   : NULL;
		if (json != NULL)
			n = snprintf(line, sizeof(line), "%s\n", json);
		json_object_put(o);
	}
	if (n < 0) {
		/* logfmt: the message quoted, its quotes and backslashes escaped */
		char quoted[sizeof(line) / 2];
		size_t k = 0;
		for (const char *p = text; *p != '\0' && k + 2 < sizeof(quoted); p++) {
			if (*p == '"' || *p == '\\')
				quoted[k++] = '\\';
			quoted[k++] = *p == '\n' ? ' ' : *p;
		}
		quoted[k] = '\0';
		n = snprintf(line, sizeof(line), "time=\"%s\" level=%s msg=\"%s\"\n", when,
			     crix_log_level_name(level), quoted);
	}
	if (n > 0)
		crix_write_all(g.log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Errors go to stderr and, with --log, to the log file. */
static int report(const struct crix_err *err)
{
	const char *msg = crix_err_msg(err);
	fprintf(stderr, "crix-runtime: %s\n", msg);
	if (g.log_fd >= 0)
		crix_error("%s", msg);
	return 1;
}

static int usage_error(const char *cmd, const char *what)
{
	fprintf(stderr, "crix-runtime %s: %s\n", cmd, what);
	return 2;
}

static const char *require_id(int argc, char **argv, const char *cmd)
{
	if (optind >= argc) {
		usage_error(cmd, "missing container id");
		return NULL;
	}
	return argv[optind];
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || v > 65536)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int cmd_create_or_run(int argc, char **argv, bool run)
{
	static const struct option opts[] = {
		{"bundle", required_argument, NULL, 'b'},   {"pid-file", required_argument, NULL, 'p'},
		{"console-socket", required_argument, NULL, 'c'}, {"no-pivot", no_argument, NULL, 'n'},
		{"preserve-fds", required_argument, NULL, 'f'}, {"detach", no_argument, NULL, 'd'},
		{"no-new-keyring", no_argument, NULL, 'k'},  {NULL, 0, NULL, 0},
	};
	struct oci_create_opts o = {0};
	bool detach = false;
	int c;
	while ((c = getopt_long(argc, argv, "+b:dk", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o.bundle = optarg; break;
		case 'p': o.pid_file = optarg; break;
		case 'c': o.console_socket = optarg; break;
		case 'n': o.no_pivot = true; break;
		case 'd': detach = true; break;
		case 'k': break; /* no session keyring is ever joined */
		case 'f':
			if (parse_uint(optarg, &o.preserve_fds) < 0)
				return usage_error(argv[0], "--preserve-fds: expected a number");
			break;
		default: return 2;
		}
	}
	const char *id = require_id(argc, argv, argv[0]);
	if (id == NULL)
		return 2;
	_cleanup_err_ struct crix_err *err = NULL;
	if (!run || detach) {
		if (oci_container_create(g.root, id, &o, &err) < 0)
			return report(err);
		if (run && oci_container_start(g.root, id, &err) < 0)
			return report(err);
		return 0;
	}
	int code = 0;
	if (oci_container_run(g.root, id, &o, &code, &err) < 0)
		return report(err);
	return code;
}

static int cmd_simple(int argc, char **argv)
{
	const char *cmd = argv[0];
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
					     {"all", no_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	bool force = false, all = false;
	int c;
	while ((c = getopt_long(argc, argv, "+fa", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 'a')
			all = true;
		else
			return 2;
	}
	const char *id = require_id(argc, argv, cmd);
	if (id == NULL)
		return 2;
	_cleanup_err_ struct crix_err *err = NULL;
	int r;
	if (strcmp(cmd, "start") == 0) {
		r = oci_container_start(g.root, id, &err);
	} else if (strcmp(cmd, "state") == 0) {
		r = oci_container_state(g.root, id, &err);
	} else if (strcmp(cmd, "delete") == 0) {
		r = oci_container_delete(g.root, id, force, &err);
	} else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
		r = oci_container_pause(g.root, id, strcmp(cmd, "pause") == 0, &err);
	} else { /* kill */
		int sig = 15;
		if (optind + 1 < argc && (sig = oci_signal_parse(argv[optind + 1])) < 0)
			return usage_error(cmd, "unknown signal");
		r = oci_container_kill(g.root, id, sig, all, &err);
	}
	return r < 0 ? report(err) : 0;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
					     {"quiet", no_argument, NULL, 'q'},
					     {NULL, 0, NULL, 0}};
	bool json = false, quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (c == 'f')
			json = strcmp(optarg, "json") == 0;
		else if (c == 'q')
			quiet = true;
		else
			return 2;
	}
	_cleanup_err_ struct crix_err *err = NULL;
	return oci_container_list(g.root, json, quiet, &err) < 0 ? report(err) : 0;
}

static int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (c == 'f')
			json = strcmp(optarg, "json") == 0;
		else
			return 2;
	}
	const char *id = require_id(argc, argv, "ps");
	if (id == NULL)
		return 2;
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (oci_container_pids(g.root, id, &pids, &n, &err) < 0)
		return report(err);
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
		return 0;
	}
	/* As runc: the host's `ps` output (arguments after the id, default -ef), cut to our pids. */
	_cleanup_free_ char *cmdline = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&cmdline, &len);
	if (mem == NULL) {
		crix_err_make(&err, errno, "ps command line");
		return report(err);
	}
	fprintf(mem, "ps");
	if (optind + 1 >= argc)
		fprintf(mem, " -ef");
	for (int i = optind + 1; i < argc; i++) {
		fprintf(mem, " '");
		for (const char *p = argv[i]; *p; p++)
			fputs(*p == '\'' ? "'\\''" : (char[]){*p, 0}, mem);
		fprintf(mem, "'");
	}
	if (fclose(mem) != 0) {
		crix_err_make(&err, ENOMEM, "ps command line");
		return report(err);
	}
	FILE *ps = popen(cmdline, "re");
	if (ps == NULL) {
		crix_err_make(&err, errno, "run ps");
		return report(err);
	}
	char line[4096];
	int pid_col = -1;
	while (fgets(line, sizeof(line), ps) != NULL) {
		if (pid_col < 0) {
			char copy[4096];
			snprintf(copy, sizeof(copy), "%s", line);
			int col = 0;
			for (char *s = NULL, *t = strtok_r(copy, " \t\n", &s); t; t = strtok_r(NULL, " \t\n", &s), col++)
				if (strcmp(t, "PID") == 0)
					pid_col = col;
			fputs(line, stdout);
			continue;
		}
		char copy[4096];
		snprintf(copy, sizeof(copy), "%s", line);
		int col = 0;
		for (char *s = NULL, *t = strtok_r(copy, " \t\n", &s); t; t = strtok_r(NULL, " \t\n", &s), col++)
			if (col == pid_col) {
				int pid = atoi(t);
				for (size_t i = 0; i < n; i++)
					if (pids[i] == pid)
						fputs(line, stdout);
				break;
			}
	}
	pclose(ps);
	return 0;
}

static int cmd_exec(int argc, char **argv)
{
	enum { O_CWD = 256, O_PRESERVE, O_CONSOLE, O_PIDFILE, O_NNP };
	static const struct option opts[] = {
		{"process", required_argument, NULL, 'p'}, {"tty", no_argument, NULL, 't'},
		{"console-socket", required_argument, NULL, O_CONSOLE}, {"detach", no_argument, NULL, 'd'},
		{"pid-file", required_argument, NULL, O_PIDFILE}, {"cwd", required_argument, NULL, O_CWD},
		{"env", required_argument, NULL, 'e'},	   {"user", required_argument, NULL, 'u'},
		{"cap", required_argument, NULL, 'c'},	   {"no-new-privs", no_argument, NULL, O_NNP},
		{"preserve-fds", required_argument, NULL, O_PRESERVE}, {NULL, 0, NULL, 0},
	};
	struct oci_exec_opts o = {0};
	_cleanup_strv_ char **env = NULL;
	_cleanup_strv_ char **caps = NULL;
	_cleanup_err_ struct crix_err *err = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+p:tde:u:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.process_file = optarg; break;
		case 't': o.tty = true; break;
		case 'd': o.detach = true; break;
		case O_CONSOLE: o.console_socket = optarg; break;
		case O_PIDFILE: o.pid_file = optarg; break;
		case O_CWD: o.cwd = optarg; break;
		case 'u': o.user = optarg; break;
		case O_NNP: o.no_new_privs = true; break;
		case 'e':
		case 'c':
			if (crix_strv_append(c == 'e' ? &env : &caps, optarg) < 0) {
				crix_err_make(&err, ENOMEM, "exec %s", c == 'e' ? "--env" : "--cap");
				return report(err);
			}
			break;
		case O_PRESERVE:
			if (parse_uint(optarg, &o.preserve_fds) < 0)
				return usage_error("exec", "--preserve-fds: expected a number");
			break;
		default: return 2;
		}
	}
	const char *id = require_id(argc, argv, "exec");
	if (id == NULL)
		return 2;
	o.args = argv + optind + 1;
	o.env = env;
	o.add_caps = caps;
	int code = 0;
	if (oci_container_exec(g.root, id, &o, &code, &err) < 0)
		return report(err);
	return code;
}

/* "512m" -> bytes; "-1" stays -1. */
static int parse_size(const char *s, int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	int64_t mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = 1LL << 10; end++; break;
	case 'm': case 'M': mult = 1LL << 20; end++; break;
	case 'g': case 'G': mult = 1LL << 30; end++; break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return -1;
	*out = v * mult;
	return 0;
}

/* The --resources argument: a file, or - for stdin. */
static int read_resources(const char *arg, struct oci_resources **res, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (strcmp(arg, "-") == 0) {
		FILE *mem = open_memstream(&text, &len);
		if (mem == NULL)
			return crix_err_make(err, errno, "--resources -");
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			fwrite(buf, 1, n, mem);
		if (fclose(mem) != 0)
			return crix_err_make(err, ENOMEM, "--resources -");
	} else if (crix_read_file(arg, 1 << 20, &text, &len, err) < 0) {
		return -1;
	}
	struct json_object *obj = json_tokener_parse(text ? text : "");
	if (obj == NULL)
		return crix_err_make(err, EINVAL, "--resources %s: not JSON", arg);
	int r = oci_resources_from_json(obj, "resources", res, err);
	json_object_put(obj);
	return r;
}

static int cmd_update(int argc, char **argv)
{
	enum { O_RES = 256, O_MEM, O_MEMRES, O_SWAP, O_SHARES, O_QUOTA, O_PERIOD, O_CPUS, O_MEMS, O_PIDS,
	       O_BLKIO };
	static const struct option opts[] = {
		{"resources", required_argument, NULL, 'r'}, {"memory", required_argument, NULL, O_MEM},
		{"memory-reservation", required_argument, NULL, O_MEMRES},
		{"memory-swap", required_argument, NULL, O_SWAP}, {"cpu-shares", required_argument, NULL, O_SHARES},
		{"cpu-quota", required_argument, NULL, O_QUOTA}, {"cpu-period", required_argument, NULL, O_PERIOD},
		{"cpuset-cpus", required_argument, NULL, O_CPUS}, {"cpuset-mems", required_argument, NULL, O_MEMS},
		{"pids-limit", required_argument, NULL, O_PIDS}, {"blkio-weight", required_argument, NULL, O_BLKIO},
		{NULL, 0, NULL, 0},
	};
	_cleanup_err_ struct crix_err *err = NULL;
	/* As with runc, --resources (wherever it stands) is the whole update: the flags are for
	 * an update without it. */
	const char *resources = NULL;
	int c, code = 0;
	while ((c = getopt_long(argc, argv, "+r:", opts, NULL)) != -1) {
		if (c == '?')
			return usage_error("update", "bad option");
		if (c == 'r')
			resources = optarg;
	}
	struct oci_resources *res = NULL;
	if (resources != NULL && read_resources(resources, &res, &err) < 0)
		return report(err);
	if (res == NULL && (res = calloc(1, sizeof(*res))) == NULL) {
		crix_err_make(&err, ENOMEM, "update");
		return report(err);
	}
	if (resources == NULL)
		optind = 0; /* the options again, for the flags */
	int64_t v = 0;
	while (code == 0 && resources == NULL && (c = getopt_long(argc, argv, "+r:", opts, NULL)) != -1) {
		_cleanup_free_ char *copy = NULL; /* --cpuset-cpus, --cpuset-mems */
		if (c != O_CPUS && c != O_MEMS && parse_size(optarg, &v) < 0) {
			code = usage_error("update", "bad option value");
			break;
		}
		if (((c == O_MEM || c == O_MEMRES || c == O_SWAP) && res->memory == NULL &&
		     (res->memory = calloc(1, sizeof(*res->memory))) == NULL) ||
		    ((c == O_SHARES || c == O_QUOTA || c == O_PERIOD || c == O_CPUS || c == O_MEMS) && res->cpu == NULL &&
		     (res->cpu = calloc(1, sizeof(*res->cpu))) == NULL) ||
		    (c == O_BLKIO && res->block_io == NULL && (res->block_io = calloc(1, sizeof(*res->block_io))) == NULL) ||
		    ((c == O_CPUS || c == O_MEMS) && (copy = strdup(optarg)) == NULL)) {
			crix_err_make(&err, ENOMEM, "update");
			code = report(err);
			break;
		}
		switch (c) {
		case O_MEM: res->memory->has_limit = true; res->memory->limit = v; break;
		case O_MEMRES: res->memory->has_reservation = true; res->memory->reservation = v; break;
		case O_SWAP: res->memory->has_swap = true; res->memory->swap = v; break;
		case O_SHARES: res->cpu->has_shares = true; res->cpu->shares = (uint64_t)v; break;
		case O_QUOTA: res->cpu->has_quota = true; res->cpu->quota = v; break;
		case O_PERIOD: res->cpu->has_period = true; res->cpu->period = (uint64_t)v; break;
		case O_CPUS: free(res->cpu->cpus); res->cpu->cpus = steal_ptr(copy); break;
		case O_MEMS: free(res->cpu->mems); res->cpu->mems = steal_ptr(copy); break;
		case O_PIDS: res->has_pids_limit = true; res->pids_limit = v; break;
		case O_BLKIO: res->block_io->has_weight = true; res->block_io->weight = (uint16_t)v; break;
		}
	}
	const char *id = code == 0 ? require_id(argc, argv, "update") : NULL;
	if (code == 0 && id == NULL)
		code = 2;
	if (code == 0 && oci_container_update(g.root, id, res, &err) < 0)
		code = report(err);
	oci_resources_free(res);
	return code;
}

static int cmd_spec(int argc, char **argv)
{
	static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
					     {"rootless", no_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	const char *bundle = ".";
	int c;
	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		if (c == 'b')
			bundle = optarg;
		else if (c != 'r')
			return 2;
	}
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/config.json", bundle) < 0) {
		crix_err_make(&err, ENOMEM, "spec");
		return report(err);
	}
	if (access(path, F_OK) == 0) {
		crix_err_make(&err, EEXIST, "%s exists: remove it first", path);
		return report(err);
	}
	struct oci_spec *spec = NULL;
	_cleanup_free_ char *text = NULL;
	if (oci_spec_default(&spec, &err) < 0 || oci_spec_to_string(spec, &text, &err) < 0) {
		oci_spec_free(spec);
		return report(err);
	}
	oci_spec_free(spec);
	size_t len = strlen(text);
	text[len] = '\n';
	if (crix_write_file_atomic(path, text, len + 1, 0644, CRIX_WRITE_DURABLE, &err) < 0)
		return report(err);
	return 0;
}

/* NULL when out of memory. */
static struct json_object *strv_json(const char *const *v)
{
	struct json_object *a = json_object_new_array();
	for (; a != NULL && *v; v++) {
		struct json_object *s = json_object_new_string(*v);
		if (s == NULL || json_object_array_add(a, s) < 0) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* Adds val (NULL: its allocation failed) under key; once anything failed, *ok is false. */
static void add(struct json_object *obj, const char *key, struct json_object *val, bool *ok)
{
	if (!*ok || obj == NULL) {
		json_object_put(val);
		*ok = false;
	} else if (crix_json_add(obj, key, val, NULL) < 0) {
		*ok = false;
	}
}

static int cmd_features(void)
{
	static const char *const hooks[] = {"prestart", "createRuntime", "createContainer", "startContainer",
					    "poststart", "poststop", NULL};
	static const char *const mount_options[] = {
		"acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
		"lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
		"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
		"remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent",
		"slave", "strictatime", "suid", "sync", "unbindable", NULL};
	static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user",
						 "uts", NULL};
	static const char *const actions[] = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
					      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
					      "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", NULL};
	static const char *const operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
						"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL};
	static const char *const archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
					    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
	static const char *const flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
					    "SECCOMP_FILTER_FLAG_SPEC_ALLOW", NULL};
	bool ok = true;
	struct json_object *o = json_object_new_object();
	add(o, "ociVersionMin", json_object_new_string("1.0.0"), &ok);
	add(o, "ociVersionMax", json_object_new_string(OCI_VERSION), &ok);
	add(o, "hooks", strv_json(hooks), &ok);
	add(o, "mountOptions", strv_json(mount_options), &ok);
	struct json_object *l = json_object_new_object();
	add(l, "namespaces", strv_json(namespaces), &ok);
	struct json_object *caps = json_object_new_array();
	for (int c = 0; ok && caps != NULL && c <= oci_cap_last(); c++) {
		_cleanup_free_ char *name = oci_cap_name(c);
		struct json_object *s = name ? json_object_new_string(name) : NULL;
		if (name != NULL && (s == NULL || json_object_array_add(caps, s) < 0)) {
			json_object_put(s);
			ok = false;
		}
	}
	add(l, "capabilities", caps, &ok);
	struct json_object *cg = json_object_new_object();
	add(cg, "v1", json_object_new_boolean(true), &ok);
	add(cg, "v2", json_object_new_boolean(true), &ok);
	add(cg, "systemd", json_object_new_boolean(false), &ok);
	add(cg, "systemdUser", json_object_new_boolean(false), &ok);
	add(l, "cgroup", cg, &ok);
	struct json_object *sc = json_object_new_object();
	add(sc, "enabled", json_object_new_boolean(true), &ok);
	add(sc, "actions", strv_json(actions), &ok);
	add(sc, "operators", strv_json(operators), &ok);
	add(sc, "archs", strv_json(archs), &ok);
	add(sc, "supportedFlags", strv_json(flags), &ok);
	add(l, "seccomp", sc, &ok);
	static const char *const disabled[] = {"apparmor", "selinux", "intelRdt"};
	for (size_t i = 0; i < sizeof(disabled) / sizeof(disabled[0]); i++) {
		struct json_object *off = json_object_new_object();
		add(off, "enabled", json_object_new_boolean(false), &ok);
		add(l, disabled[i], off, &ok);
	}
	add(o, "linux", l, &ok);
	struct json_object *ann = json_object_new_object();
	add(ann, "org.crix.runtime.version", json_object_new_string(CRIX_VERSION), &ok);
	add(o, "annotations", ann, &ok);
	const char *text = ok ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
									 JSON_C_TO_STRING_NOSLASHESCAPE)
			      : NULL;
	if (text != NULL)
		printf("%s\n", text);
	json_object_put(o);
	if (text == NULL) {
		_cleanup_err_ struct crix_err *err = NULL;
		crix_err_make(&err, ENOMEM, "features");
		return report(err);
	}
	return 0;
}

static void print_usage(void)
{
	fputs("usage: crix-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
	      "                    COMMAND [OPTIONS] [ID] [ARGS]\n"
	      "commands: create run start state kill delete exec list ps pause resume update spec features\n",
	      stderr);
}

int main(int argc, char **argv)
{
	enum { O_ROOT = 256, O_LOG, O_LOG_FORMAT, O_DEBUG, O_SYSTEMD, O_ROOTLESS, O_CRIU };
	static const struct option opts[] = {
		{"root", required_argument, NULL, O_ROOT},	      {"log", required_argument, NULL, O_LOG},
		{"log-format", required_argument, NULL, O_LOG_FORMAT}, {"debug", no_argument, NULL, O_DEBUG},
		{"systemd-cgroup", no_argument, NULL, O_SYSTEMD},     {"rootless", required_argument, NULL, O_ROOTLESS},
		{"criu", required_argument, NULL, O_CRIU},	      {"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},		      {NULL, 0, NULL, 0},
	};
	int c;
	bool systemd = false;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case O_ROOT: g.root = optarg; break;
		case O_LOG:
			if (g.log_fd >= 0)
				close(g.log_fd);
			g.log_fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			if (g.log_fd < 0) {
				fprintf(stderr, "crix-runtime: --log %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			crix_log_set_sink(log_to_file);
			break;
		case O_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return usage_error("--log-format", "expected text or json");
			g.log_json = strcmp(optarg, "json") == 0;
			break;
		case O_DEBUG: crix_log_set_level(CRIX_LOG_DEBUG); break;
		case O_SYSTEMD: systemd = true; break;
		case O_ROOTLESS:
		case O_CRIU: break;
		case 'v': printf("crix-runtime version %s\nspec: %s\n", CRIX_VERSION, OCI_VERSION); return 0;
		case 'h': print_usage(); return 0;
		default: print_usage(); return 2;
		}
	}
	if (optind >= argc) {
		print_usage();
		return 2;
	}
	if (systemd) {
		_cleanup_err_ struct crix_err *err = NULL;
		crix_err_make(&err, ENOTSUP, "--systemd-cgroup: the systemd cgroup driver is not supported, use cgroupfs");
		return report(err);
	}
	/* Each command parses its own options from its name on. */
	char **cargv = argv + optind;
	int cargc = argc - optind;
	const char *cmd = cargv[0];
	optind = 1;
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0 || strcmp(cmd, "exec") == 0) {
		_cleanup_err_ struct crix_err *err = NULL;
		if (oci_self_exe_protect(argv, &err) < 0)
			return report(err);
	}
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0)
		return cmd_create_or_run(cargc, cargv, strcmp(cmd, "run") == 0);
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "state") == 0 || strcmp(cmd, "kill") == 0 ||
	    strcmp(cmd, "delete") == 0 || strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0)
		return cmd_simple(cargc, cargv);
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(cargc, cargv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(cargc, cargv);
	if (strcmp(cmd, "ps") == 0)
		return cmd_ps(cargc, cargv);
	if (strcmp(cmd, "update") == 0)
		return cmd_update(cargc, cargv);
	if (strcmp(cmd, "spec") == 0)
		return cmd_spec(cargc, cargv);
	if (strcmp(cmd, "features") == 0)
		return cmd_features();
	fprintf(stderr, "crix-runtime: unknown command %s\n", cmd);
	print_usage();
	return 2;
}
