/* crixd: serves the CRI (RuntimeService + ImageService) on a unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <json-c/json.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cfg.h"
#include "crix_alloc.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "img_config.h"
#include "srv_internal.h"

/* Running calls get this long to finish on SIGTERM before they are cancelled. */
#define SHUTDOWN_GRACE_MS 10000
/* glibc gives each thread that allocates while others hold the arenas a new one (up to 8 per
 * core) and never frees an arena: after a burst on 64 workers the heap stayed ~100 MiB. Two
 * are plenty for calls whose time is spent waiting, not allocating. */
#define MALLOC_ARENAS 2

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crixd [OPTIONS] [config]\n"
		"\n"
		"Serves the Kubernetes CRI (runtime.v1) on a unix socket.\n"
		"With the argument \"config\", prints the effective configuration as YAML and exits.\n"
		"\n"
		"Options:\n"
		"  --config FILE      main config file (default /etc/crix/crix.yaml)\n"
		"  --config-dir DIR   drop-in directory, *.yaml in lexical order (default /etc/crix/crix.d)\n"
		"  --listen PATH      CRI socket (overrides the config's listen)\n"
		"  --root DIR         persistent state (overrides root)\n"
		"  --runroot DIR      volatile state (overrides runroot)\n"
		"  --log-level LEVEL  error, warn, info or debug (overrides log_level)\n"
		"  --version          print the version and exit\n"
		"  --help             print this help and exit\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the configuration.\n");
}

/* Takes the lock beside the socket. gRPC unlinks an existing socket when it binds, so without
 * it a second daemon would silently steal the socket of the first. */
static int lock_socket(const char *listen, int *lock_fd, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s.lock", listen) < 0)
		crix_oom();
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return crix_err_make(err, errno, "lock %s", path);
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return crix_err_make(err, 0, "another crixd (pid %s) is serving %s", *pid ? pid : "?", listen);
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		return crix_err_make(err, errno, "write %s", path);
	*lock_fd = steal_fd(fd);
	return 0;
}

static int open_images(struct srv_daemon *d, const struct crix_config *cfg, struct crix_err **err)
{
	struct img_config_opts o;
	if (img_config_opts(cfg, &o, err) < 0)
		return crix_err_wrap(err, "image store");
	int rc = img_store_open(&o.opts, &d->images, err);
	img_config_opts_clear(&o);
	return rc < 0 ? crix_err_wrap(err, "image store") : 0;
}

static char *exe_dir(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return crix_xstrdup(".");
	buf[n] = '\0';
	return crix_xstrdup(dirname(buf));
}

/* Names the top-level config sections that differ, e.g. "log_level, image". */
static void describe_changes(const struct crix_config *old, const struct crix_config *new, char *out,
			     size_t size)
{
	out[0] = '\0';
	_cleanup_free_ char *a = NULL, *b = NULL;
	if (cfg_to_json(old, &a, NULL) < 0 || cfg_to_json(new, &b, NULL) < 0)
		return;
	json_object *ja = json_tokener_parse(a), *jb = json_tokener_parse(b);
	if (ja != NULL && jb != NULL) {
		json_object_object_foreach(jb, key, value)
		{
			json_object *before = NULL;
			if (json_object_object_get_ex(ja, key, &before) && json_object_equal(before, value))
				continue;
			size_t used = strlen(out);
			snprintf(out + used, size - used, "%s%s", used ? ", " : "", key);
		}
	}
	json_object_put(ja);
	json_object_put(jb);
}

static void replace_string(char **field, const char *value)
{
	char *copy = crix_xstrdup(value);
	free(*field);
	*field = copy;
}

/* SIGHUP: load again; a bad config keeps the current one. Paths the daemon is already
 * serving from (listen, root, runroot) take effect only at the next start. */
static struct srv_server_opts server_opts(const struct crix_config *cfg)
{
	return (struct srv_server_opts){
		.listen = cfg->listen,
		.max_msg_size = cfg->grpc_max_msg_size,
		.max_workers = cfg->grpc_max_workers,
		.worker_idle_ms = cfg->grpc_worker_idle_timeout * 1000,
	};
}

static void reload(struct srv_daemon *d, struct srv_server *server, const struct cfg_sources *src)
{
	struct crix_config *next = NULL;
	_cleanup_err_ struct crix_err *err = NULL;
	if (cfg_load(src, &next, &err) < 0) {
		crix_error("reload: %s; keeping the current configuration", crix_err_msg(err));
		return;
	}
	_cleanup_config_ struct srv_config *current = srv_config_get(d);
	const struct crix_config *cur = current->cfg;
	const char *names[] = {"listen", "root", "runroot"};
	char **next_fields[] = {&next->listen, &next->root, &next->runroot};
	char *const cur_fields[] = {cur->listen, cur->root, cur->runroot};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(*next_fields[i], cur_fields[i]) == 0)
			continue;
		crix_warn("reload: %s changed to %s; it applies after a restart", names[i], *next_fields[i]);
		replace_string(next_fields[i], cur_fields[i]);
	}
	char changed[512];
	describe_changes(cur, next, changed, sizeof(changed));
	crix_log_set_level(next->log_level);
	_cleanup_err_ struct crix_err *img_err = NULL;
	struct img_config_opts img_opts;
	if (img_config_opts(next, &img_opts, &img_err) < 0 || img_store_reload(d->images, &img_opts.opts, &img_err) < 0)
		crix_error("reload: image settings: %s", crix_err_msg(img_err));
	img_config_opts_clear(&img_opts);
	struct srv_server_opts opts = server_opts(next);
	srv_server_set_workers(server, &opts);
	srv_daemon_set_config(d, srv_config_new(next));
	crix_info("configuration reloaded: %s", changed[0] ? changed : "nothing changed");
}

int main(int argc, char **argv)
{
	enum { OPT_CONFIG = 1, OPT_CONFIG_DIR, OPT_LISTEN, OPT_ROOT, OPT_RUNROOT, OPT_LOG_LEVEL, OPT_VERSION, OPT_HELP };
	static const struct option options[] = {
		{"config", required_argument, NULL, OPT_CONFIG},
		{"config-dir", required_argument, NULL, OPT_CONFIG_DIR},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"root", required_argument, NULL, OPT_ROOT},
		{"runroot", required_argument, NULL, OPT_RUNROOT},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct cfg_sources src = {0};
	for (int opt; (opt = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		switch (opt) {
		case OPT_CONFIG: src.config_file = optarg; break;
		case OPT_CONFIG_DIR: src.config_dir = optarg; break;
		case OPT_LISTEN: src.listen = optarg; break;
		case OPT_ROOT: src.root = optarg; break;
		case OPT_RUNROOT: src.runroot = optarg; break;
		case OPT_LOG_LEVEL: src.log_level = optarg; break;
		case OPT_VERSION:
			printf("crixd version %s\n", CRIX_VERSION);
			return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	bool print_config = false;
	if (optind < argc) {
		if (strcmp(argv[optind], "config") != 0 || optind + 1 < argc) {
			fprintf(stderr, "crixd: unknown argument \"%s\"\n", argv[optind]);
			usage(stderr);
			return 2;
		}
		print_config = true;
	}

	_cleanup_err_ struct crix_err *err = NULL;
	struct crix_config *cfg = NULL;
	if (cfg_load(&src, &cfg, &err) < 0) {
		fprintf(stderr, "crixd: %s\n", crix_err_msg(err));
		return 1;
	}
	if (print_config) {
		_cleanup_free_ char *yaml = NULL;
		int rc = cfg_to_yaml(cfg, &yaml, &err);
		if (rc == 0)
			fputs(yaml, stdout);
		else
			fprintf(stderr, "crixd: %s\n", crix_err_msg(err));
		cfg_free(cfg);
		return rc == 0 ? 0 : 1;
	}
	crix_log_set_level(cfg->log_level);

	struct srv_daemon daemon = {.exe_dir = exe_dir()};
	pthread_mutex_init(&daemon.lock, NULL);
	srv_daemon_set_config(&daemon, srv_config_new(cfg));

	_cleanup_free_ char *listen_copy = crix_xstrdup(cfg->listen);
	_cleanup_close_ int lock_fd = -1;
	if (crix_mkdir_p(dirname(listen_copy), 0755, &err) < 0 ||
	    crix_mkdir_p(cfg->root, 0700, &err) < 0 || crix_mkdir_p(cfg->runroot, 0755, &err) < 0 ||
	    lock_socket(cfg->listen, &lock_fd, &err) < 0 || open_images(&daemon, cfg, &err) < 0) {
		crix_error("%s", crix_err_msg(err));
		srv_daemon_set_config(&daemon, NULL);
		free(daemon.exe_dir);
		return 1;
	}

	/* Blocked before grpc_init so that gRPC's threads inherit the mask: signals arrive only
	 * at the sigwait below. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	mallopt(M_ARENA_MAX, MALLOC_ARENAS);
	grpc_init();
	struct srv_server *server = NULL;
	struct srv_server_opts opts = server_opts(cfg);
	if (srv_server_start(&daemon, &opts, &server, &err) < 0) {
		crix_error("%s", crix_err_msg(err));
		grpc_shutdown();
		img_store_close(daemon.images);
		srv_daemon_set_config(&daemon, NULL);
		free(daemon.exe_dir);
		return 1;
	}
	_cleanup_free_ char *listen_path = crix_xstrdup(cfg->listen);
	crix_info("crixd %s serving CRI v1 on %s (root %s, runroot %s)", CRIX_VERSION, cfg->listen,
		  cfg->root, cfg->runroot);

	for (;;) {
		int sig = 0;
		if (sigwait(&signals, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&daemon, server, &src);
			continue;
		}
		crix_info("%s: shutting down", strsignal(sig));
		break;
	}
	srv_server_stop(server, SHUTDOWN_GRACE_MS);
	grpc_shutdown();
	img_store_close(daemon.images);
	unlink(listen_path);
	srv_daemon_set_config(&daemon, NULL);
	free(daemon.pod_cidr);
	free(daemon.exe_dir);
	pthread_mutex_destroy(&daemon.lock);
	crix_info("stopped");
	return 0;
}
