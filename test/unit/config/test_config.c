/* Unit tests of the config component: defaults, files, drop-ins, overrides, every error class
 * with its position, YAML and JSON printing. Usage: test_config [case-name...] */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "crix_cleanup.h"
#include "crix_file.h"

static char tmpdir[] = "/tmp/crix-test-config-XXXXXX";
static const char *current_case;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s (%s:%d): %s\n", current_case, __FILE__, __LINE__, #cond); \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *got_ = (got), *want_ = (want);                                         \
		if (got_ == NULL || strcmp(got_, want_) != 0) {                                    \
			fprintf(stderr, "FAIL %s (%s:%d): %s\n  got:  %s\n  want: %s\n", current_case, \
				__FILE__, __LINE__, #got, got_ ? got_ : "(null)", want_);          \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* A call that must succeed; prints the error otherwise. */
#define CHECK_OK(call)                                                                             \
	do {                                                                                       \
		if ((call) < 0) {                                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): %s: %s\n", current_case, __FILE__, __LINE__, \
				#call, crix_err_msg(err));                                         \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static void cfg_freep(struct crix_config **c) { cfg_free(*c); }
#define _cleanup_cfg_ __attribute__((cleanup(cfg_freep)))

/* tmpdir/name, in a ring of buffers so that a case can hold several paths at once. */
static const char *tmp_path(const char *name)
{
	static char ring[32][4096];
	static unsigned next;
	char *path = ring[next++ % 32];
	snprintf(path, sizeof(ring[0]), "%s/%s", tmpdir, name);
	return path;
}

/* Writes content to tmpdir/name (creating parent dirs) and returns the path. */
static const char *write_tmp(const char *name, const char *content)
{
	const char *path = tmp_path(name);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	struct crix_err *err = NULL;
	if (crix_mkdir_p(dir, 0755, &err) < 0 ||
	    crix_write_file_atomic(path, content, strlen(content), 0644, CRIX_WRITE_DURABLE, &err) < 0) {
		fprintf(stderr, "write %s: %s\n", path, crix_err_msg(err));
		crix_err_free(&err);
		exit(2);
	}
	return path;
}

static int merge(struct crix_config *cfg, const char *yaml, struct crix_err **err)
{
	return cfg_merge_string(cfg, "t.yaml", yaml, strlen(yaml), err);
}

/* yaml merged onto the defaults must fail with exactly this message and EINVAL, and leave the
 * config as it was. */
static int expect_error_at(int line, const char *yaml, const char *want)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL, *defaults = NULL;
	if (cfg_defaults(&cfg, &err) < 0 || cfg_defaults(&defaults, &err) < 0)
		return -1;
	if (merge(cfg, yaml, &err) == 0) {
		fprintf(stderr, "FAIL %s (line %d): accepted:\n%s\n", current_case, line, yaml);
		return -1;
	}
	if (strcmp(crix_err_msg(err), want) != 0 || err->errnum != EINVAL) {
		fprintf(stderr, "FAIL %s (line %d):\n  got:  %s (errno %d)\n  want: %s (EINVAL)\n",
			current_case, line, crix_err_msg(err), err->errnum, want);
		return -1;
	}
	if (!cfg_equal(cfg, defaults)) {
		fprintf(stderr, "FAIL %s (line %d): failed merge changed the config\n", current_case, line);
		return -1;
	}
	return 0;
}
#define EXPECT_ERROR(yaml, want) CHECK(expect_error_at(__LINE__, yaml, want) == 0)

static int test_defaults(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK_STR(cfg->listen, "/run/crix/crix.sock");
	CHECK_STR(cfg->root, "/var/lib/crix");
	CHECK_STR(cfg->runroot, "/run/crix");
	CHECK(cfg->log_level == CRIX_LOG_INFO);
	CHECK(cfg->cgroup_manager == CFG_CGROUP_CGROUPFS);
	CHECK(cfg->grpc_max_msg_size == 16777216);
	CHECK(cfg->grpc_max_workers == 64);
	CHECK(cfg->grpc_worker_idle_timeout == 15);
	CHECK_STR(cfg->runtime.default_handler, "crix");
	CHECK(cfg->runtime.n_handlers == 3);
	CHECK_STR(cfg->runtime.handlers[0].name, "crix");
	CHECK_STR(cfg->runtime.handlers[0].path, "");
	CHECK_STR(cfg->runtime.handlers[1].name, "runc");
	CHECK_STR(cfg->runtime.handlers[1].path, "/usr/sbin/runc");
	CHECK_STR(cfg->runtime.handlers[2].name, "crun");
	CHECK_STR(cfg->runtime.handlers[2].path, "/usr/bin/crun");
	CHECK(cfg->image.max_parallel_downloads == 3);
	CHECK_STR(cfg->image.auth_file, "");
	CHECK(cfg->image.stall_timeout == 60);
	CHECK(cfg->image.min_speed == 16384);
	CHECK(cfg->image.n_registries == 0);
	CHECK_STR(cfg->network.cni_config_dir, "/etc/cni/net.d");
	CHECK(cfg->network.n_cni_plugin_dirs == 2);
	CHECK_STR(cfg->network.cni_plugin_dirs[0], "/usr/lib/cni");
	CHECK_STR(cfg->network.cni_plugin_dirs[1], "/opt/cni/bin");
	CHECK_STR(cfg->streaming.address, "127.0.0.1");
	CHECK(cfg->streaming.port == 0);
	CHECK_OK(cfg_validate(cfg, &err));
	CHECK(cfg_find_handler(cfg, "runc") == &cfg->runtime.handlers[1]);
	CHECK(cfg_find_handler(cfg, "kata") == NULL);

	/* cfg_load with an existing empty main file and no drop-in dir gives the defaults. */
	_cleanup_cfg_ struct crix_config *loaded = NULL;
	struct cfg_sources src = { .config_file = write_tmp("defaults/crix.yaml", ""),
				   .config_dir = tmp_path("defaults/none.d") };
	CHECK_OK(cfg_load(&src, &loaded, &err));
	CHECK(cfg_equal(loaded, cfg));
	return 0;
}

/* The shipped, commented config/crix.yaml sets every key to its default. */
static int test_shipped_file(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL, *defaults = NULL;
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK_OK(cfg_defaults(&defaults, &err));
	/* Start from something else so that the file must set every scalar itself. */
	CHECK_OK(merge(cfg,
		       "listen: /x\nroot: /x\nrunroot: /x\nlog_level: debug\ncgroup_manager: systemd\n"
		       "grpc_max_msg_size: 2097152\ngrpc_max_workers: 3\ngrpc_worker_idle_timeout: 7\n"
		       "runtime: {default_handler: runc, handlers: {crix: "
		       "{path: /x}, runc: {path: /x}, crun: {path: /x}}}\n"
		       "image: {max_parallel_downloads: 9, auth_file: /x, stall_timeout: 9, min_speed: 9, registries: [{prefix: x}]}\n"
		       "network: {cni_config_dir: /x, cni_plugin_dirs: [/x]}\n"
		       "streaming: {address: x, port: 9}\n",
		       &err));
	CHECK(!cfg_equal(cfg, defaults));
	CHECK_OK(cfg_merge_file(cfg, CRIX_CONFIG_YAML, &err));
	CHECK(cfg_equal(cfg, defaults));
	return 0;
}

static const char *const full_yaml =
	"# every key\n"
	"listen: /tmp/a.sock\n"
	"root: /srv/crix\n"
	"runroot: /run/x\n"
	"log_level: debug\n"
	"cgroup_manager: systemd\n"
	"grpc_max_msg_size: 1048576\n"
	"grpc_max_workers: 16\n"
	"grpc_worker_idle_timeout: 5\n"
	"runtime:\n"
	"  default_handler: kata\n"
	"  handlers:\n"
	"    runc: {path: /opt/runc}\n"
	"    kata:\n"
	"      path: /opt/kata\n"
	"image:\n"
	"  max_parallel_downloads: 64\n"
	"  auth_file: /etc/crix/auth.json\n"
	"  stall_timeout: 3600\n"
	"  min_speed: 1\n"
	"  registries:\n"
	"    - prefix: registry.k8s.io\n"
	"      insecure: false\n"
	"      mirrors: [{location: \"127.0.0.1:5000\", insecure: true}, {location: mirror.example/k8s}]\n"
	"    - prefix: localhost:5000\n"
	"      insecure: true\n"
	"network:\n"
	"  cni_config_dir: /etc/cni/other\n"
	"  cni_plugin_dirs:\n"
	"    - /a\n"
	"    - '/b # not a comment'\n"
	"streaming:\n"
	"  address: \"::1\"\n"
	"  port: 65535\n";

static int check_full(const struct crix_config *cfg)
{
	CHECK_STR(cfg->listen, "/tmp/a.sock");
	CHECK_STR(cfg->root, "/srv/crix");
	CHECK_STR(cfg->runroot, "/run/x");
	CHECK(cfg->log_level == CRIX_LOG_DEBUG);
	CHECK(cfg->cgroup_manager == CFG_CGROUP_SYSTEMD);
	CHECK(cfg->grpc_max_msg_size == 1048576);
	CHECK(cfg->grpc_max_workers == 16);
	CHECK(cfg->grpc_worker_idle_timeout == 5);
	CHECK_STR(cfg->runtime.default_handler, "kata");
	CHECK(cfg->runtime.n_handlers == 4);
	CHECK_STR(cfg->runtime.handlers[1].path, "/opt/runc");
	CHECK_STR(cfg->runtime.handlers[2].path, "/usr/bin/crun");
	CHECK_STR(cfg->runtime.handlers[3].name, "kata");
	CHECK_STR(cfg->runtime.handlers[3].path, "/opt/kata");
	CHECK(cfg->image.max_parallel_downloads == 64);
	CHECK_STR(cfg->image.auth_file, "/etc/crix/auth.json");
	CHECK(cfg->image.stall_timeout == 3600);
	CHECK(cfg->image.min_speed == 1);
	CHECK(cfg->image.n_registries == 2);
	const struct cfg_registry *r = &cfg->image.registries[0];
	CHECK_STR(r->prefix, "registry.k8s.io");
	CHECK(!r->insecure);
	CHECK(r->n_mirrors == 2);
	CHECK_STR(r->mirrors[0].location, "127.0.0.1:5000");
	CHECK(r->mirrors[0].insecure);
	CHECK_STR(r->mirrors[1].location, "mirror.example/k8s");
	CHECK(!r->mirrors[1].insecure);
	CHECK_STR(cfg->image.registries[1].prefix, "localhost:5000");
	CHECK(cfg->image.registries[1].insecure);
	CHECK(cfg->image.registries[1].n_mirrors == 0);
	CHECK_STR(cfg->network.cni_config_dir, "/etc/cni/other");
	CHECK(cfg->network.n_cni_plugin_dirs == 2);
	CHECK_STR(cfg->network.cni_plugin_dirs[0], "/a");
	CHECK_STR(cfg->network.cni_plugin_dirs[1], "/b # not a comment");
	CHECK_STR(cfg->streaming.address, "::1");
	CHECK(cfg->streaming.port == 65535);
	return 0;
}

static int test_every_key(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	struct cfg_sources src = { .config_file = write_tmp("full/crix.yaml", full_yaml),
				   .config_dir = tmp_path("full/crix.d") };
	CHECK_OK(cfg_load(&src, &cfg, &err));
	CHECK(check_full(cfg) == 0);
	return 0;
}

static int test_dropins(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	/* Written out of order: lexical order of names decides. */
	write_tmp("d/crix.d/30-c.yaml", "log_level: error\nruntime:\n  handlers:\n    runc: {path: /c/runc}\n");
	write_tmp("d/crix.d/10-a.yaml",
		  "log_level: warn\nnetwork: {cni_plugin_dirs: [/a]}\n"
		  "image: {registries: [{prefix: x.io}]}\nruntime: {default_handler: kata}\n");
	write_tmp("d/crix.d/20-b.yaml",
		  "runtime:\n  handlers:\n    crun: {path: /b/crun}\n    kata: {path: /k}\n"
		  "image:\n  registries:\n    - prefix: y.io\n    - {prefix: z.io, mirrors: [{location: m}]}\n");
	/* Not drop-ins: hidden, other suffix, a directory. */
	write_tmp("d/crix.d/.05-hidden.yaml", "log_level: loud\n");
	write_tmp("d/crix.d/40-notes.txt", "log_level: loud\n");
	write_tmp("d/crix.d/50-dir.yaml/x", "");
	struct cfg_sources src = { .config_file = write_tmp("d/crix.yaml", "log_level: debug\nroot: /main\n"),
				   .config_dir = tmp_path("d/crix.d") };
	CHECK_OK(cfg_load(&src, &cfg, &err));
	CHECK(cfg->log_level == CRIX_LOG_ERROR);
	CHECK_STR(cfg->root, "/main");
	CHECK_STR(cfg->runtime.default_handler, "kata"); /* defined only by a later drop-in */
	CHECK(cfg->runtime.n_handlers == 4);
	CHECK_STR(cfg->runtime.handlers[0].name, "crix");
	CHECK_STR(cfg->runtime.handlers[0].path, "");
	CHECK_STR(cfg->runtime.handlers[1].name, "runc");
	CHECK_STR(cfg->runtime.handlers[1].path, "/c/runc");
	CHECK_STR(cfg->runtime.handlers[2].name, "crun");
	CHECK_STR(cfg->runtime.handlers[2].path, "/b/crun");
	CHECK_STR(cfg->runtime.handlers[3].name, "kata");
	CHECK_STR(cfg->runtime.handlers[3].path, "/k");
	CHECK(cfg->network.n_cni_plugin_dirs == 1);
	CHECK_STR(cfg->network.cni_plugin_dirs[0], "/a");
	CHECK(cfg->image.n_registries == 2); /* 20-b replaced 10-a's list whole */
	CHECK_STR(cfg->image.registries[0].prefix, "y.io");
	CHECK_STR(cfg->image.registries[1].prefix, "z.io");
	CHECK_STR(cfg->image.registries[1].mirrors[0].location, "m");

	/* An empty list empties; an empty section or an empty file changes nothing. */
	write_tmp("d/crix.d/60-empty.yaml", "");
	write_tmp("d/crix.d/61-comments.yaml", "# nothing here\n\n   # nor here\n");
	write_tmp("d/crix.d/62-sections.yaml", "image:\n  # registries: []\nnetwork:\n  cni_plugin_dirs: []\n");
	cfg_free(cfg);
	cfg = NULL;
	CHECK_OK(cfg_load(&src, &cfg, &err));
	CHECK(cfg->image.n_registries == 2);
	CHECK(cfg->network.n_cni_plugin_dirs == 0);

	/* A bad drop-in fails the load and is named. */
	write_tmp("d/crix.d/70-bad.yaml", "# x\n\nlog_level: loud\n");
	struct crix_config *bad = NULL;
	CHECK(cfg_load(&src, &bad, &err) < 0);
	CHECK(bad == NULL);
	char want[4096];
	snprintf(want, sizeof(want),
		 "%s: log_level: expected one of error, warn, info, debug, got \"loud\"",
		 tmp_path("d/crix.d/70-bad.yaml:3:12"));
	CHECK_STR(crix_err_msg(err), want);
	CHECK(err->errnum == EINVAL);
	return 0;
}

static int test_missing_files(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	struct cfg_sources src = { .config_file = tmp_path("missing/crix.yaml"),
				   .config_dir = tmp_path("missing/crix.d") };
	CHECK(cfg_load(&src, &cfg, &err) < 0);
	CHECK(cfg == NULL);
	CHECK(err->errnum == ENOENT);
	CHECK(strstr(crix_err_msg(err), tmp_path("missing/crix.yaml")) != NULL);

	/* A missing drop-in dir is fine; a file where the dir should be is not. */
	src.config_file = write_tmp("missing/crix.yaml", "");
	CHECK_OK(cfg_load(&src, &cfg, &err));
	cfg_free(cfg);
	cfg = NULL;
	src.config_dir = write_tmp("missing/file.d", "");
	CHECK(cfg_load(&src, &cfg, &err) < 0);
	CHECK(err->errnum == ENOTDIR);
	return 0;
}

static int test_overrides(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	write_tmp("o/crix.d/10.yaml", "listen: /dropin.sock\nlog_level: error\n");
	struct cfg_sources src = {
		.config_file = write_tmp("o/crix.yaml", "listen: /f.sock\nroot: /f\nrunroot: /fr\nlog_level: debug\n"),
		.config_dir = tmp_path("o/crix.d"),
		.listen = "/o.sock",
		.root = "/o",
		.runroot = "/or",
		.log_level = "warn",
	};
	CHECK_OK(cfg_load(&src, &cfg, &err));
	CHECK_STR(cfg->listen, "/o.sock");
	CHECK_STR(cfg->root, "/o");
	CHECK_STR(cfg->runroot, "/or");
	CHECK(cfg->log_level == CRIX_LOG_WARN);

	struct crix_config *bad = NULL;
	src.log_level = "loud";
	CHECK(cfg_load(&src, &bad, &err) < 0);
	CHECK_STR(crix_err_msg(err),
		  "command line: log_level: expected one of error, warn, info, debug, got \"loud\"");
	CHECK(err->errnum == EINVAL);
	src.log_level = NULL;
	src.root = "relative";
	CHECK(cfg_load(&src, &bad, &err) < 0);
	CHECK_STR(crix_err_msg(err), "command line: root: must be an absolute path, got \"relative\"");
	return 0;
}

static int test_type_errors(void)
{
	EXPECT_ERROR("runtime: crix\n", "t.yaml:1:10: runtime: expected a mapping, got a scalar");
	EXPECT_ERROR("runtime: [a]\n", "t.yaml:1:10: runtime: expected a mapping, got a sequence");
	EXPECT_ERROR("listen: {a: b}\n", "t.yaml:1:9: listen: expected a string, got a mapping");
	EXPECT_ERROR("listen:\n", "t.yaml:1:8: listen: expected a string, got null (write \"\" for an empty string)");
	EXPECT_ERROR("listen: relative.sock\n", "t.yaml:1:9: listen: must be an absolute path, got \"relative.sock\"");
	EXPECT_ERROR("runroot: ''\n", "t.yaml:1:10: runroot: must be an absolute path, got \"\"");
	EXPECT_ERROR("grpc_max_msg_size: 16M\n", "t.yaml:1:20: grpc_max_msg_size: expected an integer, got \"16M\"");
	EXPECT_ERROR("grpc_max_msg_size: \"16777216\"\n",
		     "t.yaml:1:20: grpc_max_msg_size: expected an integer, got \"16777216\"");
	EXPECT_ERROR("grpc_max_msg_size: 1048575\n",
		     "t.yaml:1:20: grpc_max_msg_size: expected an integer between 1048576 and 2147483648, got 1048575");
	EXPECT_ERROR("grpc_max_msg_size: 2147483649\n",
		     "t.yaml:1:20: grpc_max_msg_size: expected an integer between 1048576 and 2147483648, got 2147483649");
	EXPECT_ERROR("grpc_max_workers: 1\n",
		     "t.yaml:1:19: grpc_max_workers: expected an integer between 2 and 1024, got 1");
	EXPECT_ERROR("grpc_max_workers: 1025\n",
		     "t.yaml:1:19: grpc_max_workers: expected an integer between 2 and 1024, got 1025");
	EXPECT_ERROR("grpc_worker_idle_timeout: 0\n",
		     "t.yaml:1:27: grpc_worker_idle_timeout: expected an integer between 1 and 3600, got 0");
	EXPECT_ERROR("grpc_worker_idle_timeout: 30s\n",
		     "t.yaml:1:27: grpc_worker_idle_timeout: expected an integer, got \"30s\"");
	EXPECT_ERROR("grpc_max_msg_size: 99999999999999999999999\n",
		     "t.yaml:1:20: grpc_max_msg_size: expected an integer between 1048576 and 2147483648, got 99999999999999999999999");
	EXPECT_ERROR("image:\n  max_parallel_downloads: 0\n",
		     "t.yaml:2:27: image.max_parallel_downloads: expected an integer between 1 and 64, got 0");
	EXPECT_ERROR("image:\n  max_parallel_downloads: 65\n",
		     "t.yaml:2:27: image.max_parallel_downloads: expected an integer between 1 and 64, got 65");
	EXPECT_ERROR("image:\n  max_parallel_downloads: 2.5\n",
		     "t.yaml:2:27: image.max_parallel_downloads: expected an integer, got \"2.5\"");
	EXPECT_ERROR("image:\n  stall_timeout: 0\n",
		     "t.yaml:2:18: image.stall_timeout: expected an integer between 1 and 3600, got 0");
	EXPECT_ERROR("image:\n  stall_timeout: 3601\n",
		     "t.yaml:2:18: image.stall_timeout: expected an integer between 1 and 3600, got 3601");
	EXPECT_ERROR("image:\n  stall_timeout: 60s\n",
		     "t.yaml:2:18: image.stall_timeout: expected an integer, got \"60s\"");
	EXPECT_ERROR("image:\n  min_speed: 0\n",
		     "t.yaml:2:14: image.min_speed: expected an integer between 1 and 1073741824, got 0");
	EXPECT_ERROR("image:\n  min_speed: 1073741825\n",
		     "t.yaml:2:14: image.min_speed: expected an integer between 1 and 1073741824, got 1073741825");
	EXPECT_ERROR("image:\n  min_speed: 16K\n", "t.yaml:2:14: image.min_speed: expected an integer, got \"16K\"");
	EXPECT_ERROR("streaming: {port: -1}\n",
		     "t.yaml:1:19: streaming.port: expected an integer between 0 and 65535, got -1");
	EXPECT_ERROR("streaming: {port: 65536}\n",
		     "t.yaml:1:19: streaming.port: expected an integer between 0 and 65535, got 65536");
	EXPECT_ERROR("streaming: {address: ''}\n", "t.yaml:1:22: streaming.address: must not be empty");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n      insecure: yes\n",
		     "t.yaml:4:17: image.registries[0].insecure: expected true or false, got \"yes\"");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n      mirrors: [{location: b, insecure: 1}]\n",
		     "t.yaml:4:41: image.registries[0].mirrors[0].insecure: expected true or false, got \"1\"");
	EXPECT_ERROR("image: {registries: {prefix: a}}\n",
		     "t.yaml:1:21: image.registries: expected a sequence, got a mapping");
	EXPECT_ERROR("image: {registries: [a]}\n",
		     "t.yaml:1:22: image.registries[0]: expected a mapping, got a scalar");
	EXPECT_ERROR("network: {cni_plugin_dirs: /a}\n",
		     "t.yaml:1:28: network.cni_plugin_dirs: expected a sequence, got a scalar");
	EXPECT_ERROR("network: {cni_plugin_dirs: [/a, [/b]]}\n",
		     "t.yaml:1:33: network.cni_plugin_dirs[1]: expected a string, got a sequence");
	EXPECT_ERROR("runtime: {handlers: {runc: /usr/sbin/runc}}\n",
		     "t.yaml:1:28: runtime.handlers.runc: expected a mapping, got a scalar");
	EXPECT_ERROR("runtime: {handlers: {runc: {path: [a]}}}\n",
		     "t.yaml:1:35: runtime.handlers.runc.path: expected a string, got a sequence");
	EXPECT_ERROR("{[a]: b}\n", "t.yaml:1:2: key must be a scalar, got a sequence");
	EXPECT_ERROR("- a\n", "t.yaml:1:1: expected a mapping, got a sequence");
	return 0;
}

static int test_unknown_keys(void)
{
	EXPECT_ERROR("log_levle: debug\n", "t.yaml:1:1: unknown key \"log_levle\" (did you mean \"log_level\"?)");
	EXPECT_ERROR("root: /r\nrun_root: /x\n", "t.yaml:2:1: unknown key \"run_root\" (did you mean \"runroot\"?)");
	EXPECT_ERROR("image:\n  max_parallel_download: 3\n",
		     "t.yaml:2:3: image: unknown key \"max_parallel_download\" (did you mean \"max_parallel_downloads\"?)");
	EXPECT_ERROR("runtime: {handlers: {runc: {pth: /x}}}\n",
		     "t.yaml:1:29: runtime.handlers.runc: unknown key \"pth\" (did you mean \"path\"?)");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n      mirrors:\n        - locaton: b\n",
		     "t.yaml:5:11: image.registries[0].mirrors[0]: unknown key \"locaton\" (did you mean \"location\"?)");
	EXPECT_ERROR("streaming: {adress: x}\n",
		     "t.yaml:1:13: streaming: unknown key \"adress\" (did you mean \"address\"?)");
	return 0;
}

static int test_enum_errors(void)
{
	EXPECT_ERROR("# c\n\nlog_level: loud\n",
		     "t.yaml:3:12: log_level: expected one of error, warn, info, debug, got \"loud\"");
	EXPECT_ERROR("log_level: INFO\n",
		     "t.yaml:1:12: log_level: expected one of error, warn, info, debug, got \"INFO\"");
	EXPECT_ERROR("cgroup_manager: cgroupv2\n",
		     "t.yaml:1:17: cgroup_manager: expected one of cgroupfs, systemd, got \"cgroupv2\"");
	EXPECT_ERROR("cgroup_manager: {a: b}\n",
		     "t.yaml:1:17: cgroup_manager: expected one of cgroupfs, systemd, got a mapping");
	return 0;
}

static int test_duplicates(void)
{
	EXPECT_ERROR("runtime:\n  handlers:\n    runc: {path: /a}\n    crun: {path: /b}\n    runc: {path: /c}\n",
		     "t.yaml:5:5: runtime.handlers: duplicate handler \"runc\" (first at line 3)");
	EXPECT_ERROR("root: /a\nlisten: /l\nroot: /b\n", "t.yaml:3:1: duplicate key \"root\" (first at line 1)");
	EXPECT_ERROR("streaming:\n  port: 1\n  port: 2\n",
		     "t.yaml:3:3: streaming: duplicate key \"port\" (first at line 2)");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n    - prefix: a\n",
		     "t.yaml:4:7: image.registries[1].prefix: duplicate prefix \"a\" (also image.registries[0])");
	return 0;
}

static int test_syntax_errors(void)
{
	EXPECT_ERROR("listen: /a\n  root: /b\n", "t.yaml:2:7: mapping values are not allowed in this context");
	EXPECT_ERROR("log_level: info\nnetwork:\n  cni_plugin_dirs: [/a, /b\n",
		     "t.yaml:4:1: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 20)");
	EXPECT_ERROR("listen: \"/a\n", "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at line 1, column 9)");
	EXPECT_ERROR("root: /a\n\tlisten: /b\n",
		     "t.yaml:2:1: found a tab character that violates indentation (while scanning a plain scalar at line 1, column 7)");
	EXPECT_ERROR("root: /a\nlisten: /b\xff\n", "t.yaml:2:11: invalid leading UTF-8 octet (byte 0xff)");
	EXPECT_ERROR("root: *nowhere\n", "t.yaml:1:7: found undefined alias");
	EXPECT_ERROR("root: /a\n---\nroot: /b\n", "t.yaml:2:1: a config file holds one YAML document, found another");
	return 0;
}

static int test_value_checks(void)
{
	EXPECT_ERROR("image:\n  registries:\n    - prefix: \"\"\n",
		     "t.yaml:3:15: image.registries[0].prefix: must not be empty");
	EXPECT_ERROR("image:\n  registries:\n    - insecure: true\n",
		     "t.yaml:3:7: image.registries[0]: missing key \"prefix\"");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n      mirrors: [{location: ''}]\n",
		     "t.yaml:4:28: image.registries[0].mirrors[0].location: must not be empty");
	EXPECT_ERROR("image:\n  registries:\n    - prefix: a\n      mirrors: [{insecure: true}]\n",
		     "t.yaml:4:17: image.registries[0].mirrors[0]: missing key \"location\"");
	EXPECT_ERROR("runtime:\n  handlers:\n    kata: {}\n",
		     "t.yaml:3:5: runtime.handlers.kata: a new handler needs a path (\"\" = the embedded crix-runtime)");
	EXPECT_ERROR("runtime:\n  handlers:\n    '': {path: /x}\n",
		     "t.yaml:3:5: runtime.handlers: handler name must not be empty");

	/* cfg_validate: the default handler is checked once all files are merged, and the error
	   points at where it was set. */
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	struct cfg_sources src = {
		.config_file = write_tmp("v/crix.yaml", "runtime:\n  default_handler: kata\n"),
		.config_dir = tmp_path("v/crix.d"),
	};
	CHECK(cfg_load(&src, &cfg, &err) < 0);
	char want[4096];
	snprintf(want, sizeof(want),
		 "%s:2:20: runtime.default_handler: \"kata\" is not a defined handler (defined: crix, runc, crun)",
		 tmp_path("v/crix.yaml"));
	CHECK_STR(crix_err_msg(err), want);
	CHECK(err->errnum == EINVAL);

	/* The same checks on a config changed in memory. */
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK_OK(cfg_validate(cfg, &err));
	free(cfg->runtime.default_handler);
	cfg->runtime.default_handler = strdup("nope");
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err),
		  "runtime.default_handler: \"nope\" is not a defined handler (defined: crix, runc, crun)");
	free(cfg->runtime.default_handler);
	cfg->runtime.default_handler = strdup("runc");
	free(cfg->root);
	cfg->root = strdup("var/lib");
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "root: must be an absolute path, got \"var/lib\"");
	CHECK(err->errnum == EINVAL);
	free(cfg->root);
	cfg->root = strdup("/var/lib");
	cfg->grpc_max_workers = 1;
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "grpc_max_workers: expected an integer between 2 and 1024, got 1");
	cfg->grpc_max_workers = 2;
	cfg->grpc_worker_idle_timeout = 3601;
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "grpc_worker_idle_timeout: expected an integer between 1 and 3600, got 3601");
	cfg->grpc_worker_idle_timeout = 1;
	CHECK_OK(cfg_validate(cfg, &err));
	CHECK_OK(merge(cfg, "image: {registries: [{prefix: a, mirrors: [{location: b}]}]}\n", &err));
	cfg->image.registries[0].mirrors[0].location[0] = '\0';
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "image.registries[0].mirrors[0].location: must not be empty");
	cfg->image.registries[0].prefix[0] = '\0';
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "image.registries[0].prefix: must not be empty");
	cfg->image.registries[0].prefix[0] = 'a';
	cfg->image.stall_timeout = 0;
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "image.stall_timeout: expected an integer between 1 and 3600, got 0");
	cfg->image.stall_timeout = 1;
	cfg->image.min_speed = 0;
	CHECK(cfg_validate(cfg, &err) < 0);
	CHECK_STR(crix_err_msg(err), "image.min_speed: expected an integer between 1 and 1073741824, got 0");
	return 0;
}

static int roundtrip(const struct crix_config *cfg)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *yaml = NULL;
	_cleanup_cfg_ struct crix_config *back = NULL;
	CHECK_OK(cfg_to_yaml(cfg, &yaml, &err));
	CHECK_OK(cfg_defaults(&back, &err));
	CHECK_OK(cfg_merge_string(back, "printed", yaml, strlen(yaml), &err));
	if (!cfg_equal(cfg, back)) {
		fprintf(stderr, "FAIL %s: printed config reads back different:\n%s\n", current_case, yaml);
		return -1;
	}
	/* Printing is stable. */
	_cleanup_free_ char *again = NULL;
	CHECK_OK(cfg_to_yaml(back, &again, &err));
	CHECK_STR(again, yaml);
	return 0;
}

static const char *const awkward_yaml =
	"listen: \"/run/a: b #c.sock\"\n"
	"root: \"/var/lib/'quoted' \\\"dq\\\" \\\\back\"\n"
	"runroot: \"/run/ünïcode/\\t tab\"\n"
	"runtime:\n"
	"  default_handler: \"true\"\n"
	"  handlers:\n"
	"    \"true\": {path: \"\"}\n"
	"    \"my:handler #1\": {path: \"- dash\"}\n"
	"    \"123\": {path: \"null\"}\n"
	"    \"~\": {path: \"*star &amp [x] {y}, z\"}\n"
	"image:\n"
	"  auth_file: \"@at\"\n"
	"  max_parallel_downloads: 1\n"
	"  registries:\n"
	"    - {prefix: \"localhost:5000\", insecure: true, mirrors: [{location: \"\\n\"}, {location: \"yes\", insecure: true}]}\n"
	"    - {prefix: \"%percent\"}\n"
	"network:\n"
	"  cni_config_dir: \" leading and trailing \"\n"
	"  cni_plugin_dirs: [\"0x10\", \"-\", \"?\", \"a\\u00e9\"]\n"
	"streaming: {address: \"0.0.0.0\", port: 65535}\n"
	"grpc_max_msg_size: 2147483648\n"
	"cgroup_manager: systemd\n"
	"log_level: error\n";

static int test_yaml_roundtrip(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK(roundtrip(cfg) == 0);
	CHECK_OK(merge(cfg, full_yaml, &err));
	CHECK(roundtrip(cfg) == 0);
	CHECK_OK(merge(cfg, awkward_yaml, &err));
	CHECK_STR(cfg->listen, "/run/a: b #c.sock");
	CHECK_STR(cfg->runtime.handlers[5].name, "my:handler #1");
	CHECK_STR(cfg->network.cni_plugin_dirs[0], "0x10");
	CHECK_STR(cfg->image.registries[0].mirrors[0].location, "\n");
	CHECK(roundtrip(cfg) == 0);
	return 0;
}

static int test_json(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	_cleanup_free_ char *text = NULL;
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK_OK(merge(cfg, full_yaml, &err));
	CHECK_OK(merge(cfg, "listen: \"/run/a \\\"b\\\": c\"\n", &err));
	CHECK_OK(cfg_to_json(cfg, &text, &err));
	struct json_object *root = json_tokener_parse(text), *v, *o;
	CHECK(root != NULL);
	int ok = json_object_is_type(root, json_type_object) &&
		 json_object_object_get_ex(root, "listen", &v) && strcmp(json_object_get_string(v), "/run/a \"b\": c") == 0 &&
		 json_object_object_get_ex(root, "log_level", &v) && strcmp(json_object_get_string(v), "debug") == 0 &&
		 json_object_object_get_ex(root, "cgroup_manager", &v) && strcmp(json_object_get_string(v), "systemd") == 0 &&
		 json_object_object_get_ex(root, "grpc_max_msg_size", &v) && json_object_get_int64(v) == 1048576 &&
		 json_object_object_get_ex(root, "grpc_max_workers", &v) && json_object_get_int64(v) == 16 &&
		 json_object_object_get_ex(root, "grpc_worker_idle_timeout", &v) && json_object_get_int64(v) == 5 &&
		 json_object_object_get_ex(root, "runtime", &o) &&
		 json_object_object_get_ex(o, "default_handler", &v) && strcmp(json_object_get_string(v), "kata") == 0 &&
		 json_object_object_get_ex(o, "handlers", &o) && json_object_object_length(o) == 4 &&
		 json_object_object_get_ex(o, "crix", &v) && json_object_object_get_ex(v, "path", &v) &&
		 strcmp(json_object_get_string(v), "") == 0 &&
		 json_object_object_get_ex(root, "image", &o) &&
		 json_object_object_get_ex(o, "max_parallel_downloads", &v) && json_object_get_int(v) == 64 &&
		 json_object_object_get_ex(o, "stall_timeout", &v) && json_object_get_int(v) == 3600 &&
		 json_object_object_get_ex(o, "min_speed", &v) && json_object_get_int(v) == 1 &&
		 json_object_object_get_ex(o, "registries", &o) && json_object_array_length(o) == 2 &&
		 (o = json_object_array_get_idx(o, 0)) != NULL &&
		 json_object_object_get_ex(o, "insecure", &v) && json_object_is_type(v, json_type_boolean) &&
		 !json_object_get_boolean(v) && json_object_object_get_ex(o, "mirrors", &o) &&
		 (o = json_object_array_get_idx(o, 0)) != NULL &&
		 json_object_object_get_ex(o, "location", &v) && strcmp(json_object_get_string(v), "127.0.0.1:5000") == 0 &&
		 json_object_object_get_ex(o, "insecure", &v) && json_object_get_boolean(v) &&
		 json_object_object_get_ex(root, "network", &o) &&
		 json_object_object_get_ex(o, "cni_plugin_dirs", &o) && json_object_array_length(o) == 2 &&
		 strcmp(json_object_get_string(json_object_array_get_idx(o, 1)), "/b # not a comment") == 0 &&
		 json_object_object_get_ex(root, "streaming", &o) &&
		 json_object_object_get_ex(o, "port", &v) && json_object_get_int(v) == 65535 &&
		 json_object_object_get_ex(o, "address", &v) && strcmp(json_object_get_string(v), "::1") == 0 &&
		 json_object_object_length(root) == 12;
	json_object_put(root);
	if (!ok)
		fprintf(stderr, "JSON: %s\n", text);
	CHECK(ok);
	return 0;
}

static int test_equal_and_dup(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *a = NULL, *b = NULL;
	CHECK_OK(cfg_defaults(&a, &err));
	CHECK_OK(merge(a, full_yaml, &err));
	CHECK_OK(cfg_dup(a, &b, &err));
	CHECK(cfg_equal(a, b));
	/* Each change below must make them differ; each is undone before the next. */
	static const char *const changes[] = {
		"listen: /other\n",
		"log_level: info\n",
		"cgroup_manager: cgroupfs\n",
		"grpc_max_msg_size: 1048577\n",
		"grpc_max_workers: 17\n",
		"grpc_worker_idle_timeout: 6\n",
		"runtime: {default_handler: runc}\n",
		"runtime: {handlers: {kata: {path: /other}}}\n",
		"runtime: {handlers: {new: {path: /other}}}\n",
		"image: {max_parallel_downloads: 2}\n",
		"image: {auth_file: ''}\n",
		"image: {stall_timeout: 59}\n",
		"image: {min_speed: 2}\n",
		"image: {registries: []}\n",
		"image: {registries: [{prefix: registry.k8s.io}, {prefix: localhost:5000, insecure: true}]}\n",
		("image: {registries: [{prefix: registry.k8s.io, mirrors: [{location: '127.0.0.1:5000'}, "
		 "{location: mirror.example/k8s}]}, {prefix: localhost:5000, insecure: true}]}\n"),
		"network: {cni_config_dir: /x}\n",
		"network: {cni_plugin_dirs: [/a, /c]}\n",
		"streaming: {address: x}\n",
		"streaming: {port: 1}\n",
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		_cleanup_cfg_ struct crix_config *c = NULL;
		CHECK_OK(cfg_dup(a, &c, &err));
		CHECK_OK(merge(c, changes[i], &err));
		if (cfg_equal(a, c) || cfg_equal(c, a)) {
			fprintf(stderr, "FAIL %s: change not seen by cfg_equal: %s", current_case, changes[i]);
			return -1;
		}
	}
	return 0;
}

static int test_find_registry(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	CHECK_OK(cfg_defaults(&cfg, &err));
	CHECK(cfg_find_registry(cfg, "docker.io/library/busybox") == NULL);
	CHECK_OK(merge(cfg,
		       "image:\n  registries:\n    - prefix: docker.io\n    - prefix: docker.io/library\n"
		       "    - prefix: localhost\n",
		       &err));
	const struct cfg_registry *r = cfg->image.registries;
	CHECK(cfg_find_registry(cfg, "docker.io/library/busybox:1.36") == &r[1]);
	CHECK(cfg_find_registry(cfg, "docker.io/library") == &r[1]);
	CHECK(cfg_find_registry(cfg, "docker.io/libraryx/busybox") == &r[0]);
	CHECK(cfg_find_registry(cfg, "docker.io/x@sha256:00") == &r[0]);
	CHECK(cfg_find_registry(cfg, "docker.iox/a") == NULL);
	CHECK(cfg_find_registry(cfg, "localhost:5000/a") == &r[2]);
	CHECK(cfg_find_registry(cfg, "quay.io/a") == NULL);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} cases[] = {
	{ "defaults", test_defaults },
	{ "shipped_file", test_shipped_file },
	{ "every_key", test_every_key },
	{ "dropins", test_dropins },
	{ "missing_files", test_missing_files },
	{ "overrides", test_overrides },
	{ "type_errors", test_type_errors },
	{ "unknown_keys", test_unknown_keys },
	{ "enum_errors", test_enum_errors },
	{ "duplicates", test_duplicates },
	{ "syntax_errors", test_syntax_errors },
	{ "value_checks", test_value_checks },
	{ "yaml_roundtrip", test_yaml_roundtrip },
	{ "json", test_json },
	{ "equal_and_dup", test_equal_and_dup },
	{ "find_registry", test_find_registry },
};

int main(int argc, char **argv)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	int failed = 0, run = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], cases[i].name) == 0;
		if (!wanted)
			continue;
		current_case = cases[i].name;
		run++;
		if (cases[i].fn() < 0)
			failed++;
		else
			printf("ok   %s\n", cases[i].name);
	}
	struct crix_err *err = NULL;
	if (crix_remove_tree(tmpdir, &err) < 0) {
		fprintf(stderr, "cleanup: %s\n", crix_err_msg(err));
		crix_err_free(&err);
	}
	printf("%d of %d cases failed\n", failed, run);
	return failed || run == 0 ? 1 : 0;
}
