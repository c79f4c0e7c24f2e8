/* crix configuration: built-in defaults, /etc/crix/crix.yaml, drop-ins /etc/crix/crix.d/NAME.yaml
 * (lexical order, later files override earlier ones), then command-line overrides.
 * The YAML schema is a contract (README "Configuration"; config/crix.yaml documents every key
 * with its default).
 *
 * Merge semantics (each file is merged onto the result of the previous ones):
 *  - scalars: a file that sets a key overrides it; keys it does not mention keep their value;
 *  - runtime.handlers merges by handler name: a later file can change a known handler's path
 *    or add handlers (a new handler must give its path); handlers are never removed;
 *  - lists (image.registries, network.cni_plugin_dirs) are replaced whole by a file that
 *    sets them ("[]" empties them);
 *  - a section that is present but empty (only comments below "image:") changes nothing;
 *  - an empty file, or one with only comments, changes nothing.
 * A file that fails to parse or validate leaves the config untouched. Config errors have
 * errnum EINVAL (ENOENT for an explicitly named file that is missing) and name
 * file:line:column (1-based) of the offending key or value. */
#ifndef CRIX_CFG_H
#define CRIX_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crix_err.h"
#include "crix_log.h"

enum cfg_cgroup_manager { CFG_CGROUP_CGROUPFS, CFG_CGROUP_SYSTEMD };

struct cfg_mirror {
	char *location; /* "host[:port][/path]" that replaces the matched prefix */
	bool insecure;  /* plain HTTP / unverified TLS allowed */
};

struct cfg_registry {
	char *prefix; /* "registry.k8s.io" or "docker.io/library"; longest match wins */
	bool insecure;
	struct cfg_mirror *mirrors;
	size_t n_mirrors;
};

struct cfg_handler {
	char *name; /* RuntimeClass handler name */
	char *path; /* OCI runtime binary; "" = the embedded crix-runtime beside crixd */
};

struct crix_config {
	char *listen;  /* unix socket path */
	char *root;    /* persistent state */
	char *runroot; /* volatile state */
	enum crix_log_level log_level;
	enum cfg_cgroup_manager cgroup_manager;
	uint64_t grpc_max_msg_size;
	unsigned grpc_max_workers;         /* threads that run handlers, all pools together */
	unsigned grpc_worker_idle_timeout; /* seconds after which an idle worker leaves */
	struct {
		char *default_handler;
		struct cfg_handler *handlers; /* in the order first defined */
		size_t n_handlers;
	} runtime;
	struct {
		unsigned max_parallel_downloads;
		char *auth_file; /* docker config.json; "" = none */
		unsigned stall_timeout; /* seconds a transfer may stay below min_speed */
		unsigned min_speed;     /* bytes per second */
		struct cfg_registry *registries;
		size_t n_registries;
	} image;
	struct {
		char *cni_config_dir;
		char **cni_plugin_dirs;
		size_t n_cni_plugin_dirs;
	} network;
	struct {
		char *address;
		unsigned port; /* 0 = pick a free port */
	} streaming;
	/* "file:line:column" where runtime.default_handler was last set (NULL: built-in or
	   programmatic); only used to point cfg_validate's message at the right line. Not part
	   of the config: ignored by cfg_equal and the printers. */
	char *default_handler_origin;
};

/* Where configuration comes from. NULL fields take their defaults. */
struct cfg_sources {
	const char *config_file; /* main file; default /etc/crix/crix.yaml (missing is fine only
				    when it is the default) */
	const char *config_dir;  /* drop-in dir; default /etc/crix/crix.d (missing is fine) */
	/* Command-line overrides, applied last. */
	const char *listen;
	const char *root;
	const char *runroot;
	const char *log_level;
};

/* Built-in defaults only. */
int cfg_defaults(struct crix_config **out, struct crix_err **err);

/* Defaults, then the main file, then drop-ins, then overrides; validated. Errors name
 * file:line:column (e.g. "/etc/crix/crix.yaml:4:12: log_level: expected one of error, warn,
 * info, debug, got \"loud\""). */
int cfg_load(const struct cfg_sources *src, struct crix_config **out, struct crix_err **err);

/* Merges one YAML document into cfg (keys present in the file override). */
int cfg_merge_file(struct crix_config *cfg, const char *path, struct crix_err **err);
int cfg_merge_string(struct crix_config *cfg, const char *name, const char *yaml, size_t len,
		     struct crix_err **err);

/* Cross-key checks (default handler exists, sizes in range ...). */
int cfg_validate(const struct crix_config *cfg, struct crix_err **err);

/* Deep copy (e.g. to apply a reload and compare). */
int cfg_dup(const struct crix_config *cfg, struct crix_config **out, struct crix_err **err);

/* The handler with this name, or NULL. */
const struct cfg_handler *cfg_find_handler(const struct crix_config *cfg, const char *name);

/* The registry entry whose prefix matches the image name "host[:port]/path[:tag|@digest]"
 * longest, or NULL. A prefix matches the whole name or a part of it followed by '/', ':' or
 * '@' ("docker.io/library" matches "docker.io/library/busybox", not "docker.io/libraryx"). */
const struct cfg_registry *cfg_find_registry(const struct crix_config *cfg, const char *image);

/* YAML that cfg_merge_string parses back to an equal config. */
int cfg_to_yaml(const struct crix_config *cfg, char **out, struct crix_err **err);
/* The same data as a JSON object (for Status verbose info["config"]). */
int cfg_to_json(const struct crix_config *cfg, char **out, struct crix_err **err);

/* Deep equality (used to report what a reload changed). */
bool cfg_equal(const struct crix_config *a, const struct crix_config *b);

void cfg_free(struct crix_config *cfg);

#endif
