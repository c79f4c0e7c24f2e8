/* Defaults, copies, comparison, validation and the load sequence; YAML is in cfg_parse.c and
 * cfg_print.c. */
#include "cfg.h"
#include "cfg_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crix_cleanup.h"

#define CFG_DEFAULT_FILE "/etc/crix/crix.yaml"
#define CFG_DEFAULT_DIR "/etc/crix/crix.d"

int cfg_fail(struct crix_err **err, const char *where, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (where != NULL)
		crix_err_make(err, 0, "%s: %s", where, text ? text : "invalid configuration");
	else
		crix_err_make(err, 0, "%s", text ? text : "invalid configuration");
	/* EINVAL without crix_err_make's ": Invalid argument" suffix, which would only add noise
	   to a message that already says what is wrong. */
	return crix_err_classify(err, EINVAL, 0);
}

static const char *const cgroup_manager_names[] = {
	[CFG_CGROUP_CGROUPFS] = "cgroupfs",
	[CFG_CGROUP_SYSTEMD] = "systemd",
};

const char *cfg_cgroup_manager_name(enum cfg_cgroup_manager m)
{
	if ((unsigned)m >= sizeof(cgroup_manager_names) / sizeof(cgroup_manager_names[0]))
		return "unknown";
	return cgroup_manager_names[m];
}

int cfg_cgroup_manager_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(cgroup_manager_names) / sizeof(cgroup_manager_names[0]); i++)
		if (strcmp(name, cgroup_manager_names[i]) == 0)
			return (int)i;
	return -1;
}

static int dup_str(char **dst, const char *src, struct crix_err **err)
{
	char *copy = strdup(src);
	if (copy == NULL)
		return crix_err_make(err, ENOMEM, "copy configuration string");
	free(*dst);
	*dst = copy;
	return 0;
}

int cfg_add_handler(struct crix_config *cfg, const char *name, const char *path, struct crix_err **err)
{
	struct cfg_handler *h =
		realloc(cfg->runtime.handlers, (cfg->runtime.n_handlers + 1) * sizeof(*h));
	if (h == NULL)
		return crix_err_make(err, ENOMEM, "add handler %s", name);
	cfg->runtime.handlers = h;
	struct cfg_handler *nh = &h[cfg->runtime.n_handlers];
	*nh = (struct cfg_handler){ 0 };
	if (dup_str(&nh->name, name, err) < 0)
		return -1;
	if (dup_str(&nh->path, path, err) < 0) {
		free(nh->name);
		return -1;
	}
	cfg->runtime.n_handlers++;
	return 0;
}

void cfg_free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cfg_free_registries(struct cfg_registry *regs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(regs[i].prefix);
		for (size_t j = 0; j < regs[i].n_mirrors; j++)
			free(regs[i].mirrors[j].location);
		free(regs[i].mirrors);
	}
	free(regs);
}

/* Frees what cfg owns, not cfg itself. */
static void free_contents(struct crix_config *cfg)
{
	free(cfg->listen);
	free(cfg->root);
	free(cfg->runroot);
	free(cfg->runtime.default_handler);
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++) {
		free(cfg->runtime.handlers[i].name);
		free(cfg->runtime.handlers[i].path);
	}
	free(cfg->runtime.handlers);
	free(cfg->image.auth_file);
	cfg_free_registries(cfg->image.registries, cfg->image.n_registries);
	free(cfg->network.cni_config_dir);
	cfg_free_strings(cfg->network.cni_plugin_dirs, cfg->network.n_cni_plugin_dirs);
	free(cfg->streaming.address);
	free(cfg->default_handler_origin);
}

void cfg_free(struct crix_config *cfg)
{
	if (cfg == NULL)
		return;
	free_contents(cfg);
	free(cfg);
}

void cfg_replace(struct crix_config *dst, struct crix_config *src)
{
	free_contents(dst);
	*dst = *src;
	free(src);
}

static void cfg_freep(struct crix_config **cfg) { cfg_free(*cfg); }
#define _cleanup_cfg_ __attribute__((cleanup(cfg_freep)))

int cfg_defaults(struct crix_config **out, struct crix_err **err)
{
	static const char *const plugin_dirs[] = { "/usr/lib/cni", "/opt/cni/bin" };
	_cleanup_cfg_ struct crix_config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return crix_err_make(err, ENOMEM, "allocate configuration");
	cfg->log_level = CRIX_LOG_INFO;
	cfg->cgroup_manager = CFG_CGROUP_CGROUPFS;
	cfg->grpc_max_msg_size = 16u << 20;
	cfg->grpc_max_workers = 64;
	cfg->grpc_worker_idle_timeout = 15;
	cfg->image.max_parallel_downloads = 3;
	cfg->image.stall_timeout = 60;
	cfg->image.min_speed = 16u << 10;
	cfg->streaming.port = 0;
	if (dup_str(&cfg->listen, "/run/crix/crix.sock", err) < 0 ||
	    dup_str(&cfg->root, "/var/lib/crix", err) < 0 ||
	    dup_str(&cfg->runroot, "/run/crix", err) < 0 ||
	    dup_str(&cfg->runtime.default_handler, "crix", err) < 0 ||
	    cfg_add_handler(cfg, "crix", "", err) < 0 ||
	    cfg_add_handler(cfg, "runc", "/usr/sbin/runc", err) < 0 ||
	    cfg_add_handler(cfg, "crun", "/usr/bin/crun", err) < 0 ||
	    dup_str(&cfg->image.auth_file, "", err) < 0 ||
	    dup_str(&cfg->network.cni_config_dir, "/etc/cni/net.d", err) < 0 ||
	    dup_str(&cfg->streaming.address, "127.0.0.1", err) < 0)
		return -1;
	size_t n = sizeof(plugin_dirs) / sizeof(plugin_dirs[0]);
	cfg->network.cni_plugin_dirs = calloc(n, sizeof(char *));
	if (cfg->network.cni_plugin_dirs == NULL)
		return crix_err_make(err, ENOMEM, "allocate configuration");
	for (size_t i = 0; i < n; i++) {
		if (dup_str(&cfg->network.cni_plugin_dirs[i], plugin_dirs[i], err) < 0)
			return -1;
		cfg->network.n_cni_plugin_dirs++;
	}
	*out = steal_ptr(cfg);
	return 0;
}

int cfg_dup(const struct crix_config *src, struct crix_config **out, struct crix_err **err)
{
	_cleanup_cfg_ struct crix_config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return crix_err_make(err, ENOMEM, "copy configuration");
	cfg->log_level = src->log_level;
	cfg->cgroup_manager = src->cgroup_manager;
	cfg->grpc_max_msg_size = src->grpc_max_msg_size;
	cfg->grpc_max_workers = src->grpc_max_workers;
	cfg->grpc_worker_idle_timeout = src->grpc_worker_idle_timeout;
	cfg->image.max_parallel_downloads = src->image.max_parallel_downloads;
	cfg->image.stall_timeout = src->image.stall_timeout;
	cfg->image.min_speed = src->image.min_speed;
	cfg->streaming.port = src->streaming.port;
	if (dup_str(&cfg->listen, src->listen, err) < 0 || dup_str(&cfg->root, src->root, err) < 0 ||
	    dup_str(&cfg->runroot, src->runroot, err) < 0 ||
	    dup_str(&cfg->runtime.default_handler, src->runtime.default_handler, err) < 0 ||
	    dup_str(&cfg->image.auth_file, src->image.auth_file, err) < 0 ||
	    dup_str(&cfg->network.cni_config_dir, src->network.cni_config_dir, err) < 0 ||
	    dup_str(&cfg->streaming.address, src->streaming.address, err) < 0)
		return -1;
	if (src->default_handler_origin != NULL &&
	    dup_str(&cfg->default_handler_origin, src->default_handler_origin, err) < 0)
		return -1;
	for (size_t i = 0; i < src->runtime.n_handlers; i++)
		if (cfg_add_handler(cfg, src->runtime.handlers[i].name, src->runtime.handlers[i].path,
				    err) < 0)
			return -1;

	if (src->network.n_cni_plugin_dirs > 0) {
		cfg->network.cni_plugin_dirs = calloc(src->network.n_cni_plugin_dirs, sizeof(char *));
		if (cfg->network.cni_plugin_dirs == NULL)
			return crix_err_make(err, ENOMEM, "copy configuration");
	}
	for (size_t i = 0; i < src->network.n_cni_plugin_dirs; i++) {
		if (dup_str(&cfg->network.cni_plugin_dirs[i], src->network.cni_plugin_dirs[i], err) < 0)
			return -1;
		cfg->network.n_cni_plugin_dirs++;
	}

	if (src->image.n_registries > 0) {
		cfg->image.registries = calloc(src->image.n_registries, sizeof(struct cfg_registry));
		if (cfg->image.registries == NULL)
			return crix_err_make(err, ENOMEM, "copy configuration");
	}
	for (size_t i = 0; i < src->image.n_registries; i++) {
		const struct cfg_registry *sr = &src->image.registries[i];
		struct cfg_registry *dr = &cfg->image.registries[i];
		cfg->image.n_registries++; /* counted first so that cleanup frees a partial entry */
		dr->insecure = sr->insecure;
		if (dup_str(&dr->prefix, sr->prefix, err) < 0)
			return -1;
		if (sr->n_mirrors == 0)
			continue;
		dr->mirrors = calloc(sr->n_mirrors, sizeof(struct cfg_mirror));
		if (dr->mirrors == NULL)
			return crix_err_make(err, ENOMEM, "copy configuration");
		for (size_t j = 0; j < sr->n_mirrors; j++) {
			dr->n_mirrors++;
			dr->mirrors[j].insecure = sr->mirrors[j].insecure;
			if (dup_str(&dr->mirrors[j].location, sr->mirrors[j].location, err) < 0)
				return -1;
		}
	}
	*out = steal_ptr(cfg);
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool cfg_equal(const struct crix_config *a, const struct crix_config *b)
{
	if (!str_eq(a->listen, b->listen) || !str_eq(a->root, b->root) ||
	    !str_eq(a->runroot, b->runroot) || a->log_level != b->log_level ||
	    a->cgroup_manager != b->cgroup_manager || a->grpc_max_msg_size != b->grpc_max_msg_size ||
	    a->grpc_max_workers != b->grpc_max_workers ||
	    a->grpc_worker_idle_timeout != b->grpc_worker_idle_timeout ||
	    !str_eq(a->runtime.default_handler, b->runtime.default_handler) ||
	    a->runtime.n_handlers != b->runtime.n_handlers ||
	    a->image.max_parallel_downloads != b->image.max_parallel_downloads ||
	    a->image.stall_timeout != b->image.stall_timeout || a->image.min_speed != b->image.min_speed ||
	    !str_eq(a->image.auth_file, b->image.auth_file) ||
	    a->image.n_registries != b->image.n_registries ||
	    !str_eq(a->network.cni_config_dir, b->network.cni_config_dir) ||
	    a->network.n_cni_plugin_dirs != b->network.n_cni_plugin_dirs ||
	    !str_eq(a->streaming.address, b->streaming.address) || a->streaming.port != b->streaming.port)
		return false;
	for (size_t i = 0; i < a->runtime.n_handlers; i++)
		if (!str_eq(a->runtime.handlers[i].name, b->runtime.handlers[i].name) ||
		    !str_eq(a->runtime.handlers[i].path, b->runtime.handlers[i].path))
			return false;
	for (size_t i = 0; i < a->network.n_cni_plugin_dirs; i++)
		if (!str_eq(a->network.cni_plugin_dirs[i], b->network.cni_plugin_dirs[i]))
			return false;
	for (size_t i = 0; i < a->image.n_registries; i++) {
		const struct cfg_registry *ra = &a->image.registries[i], *rb = &b->image.registries[i];
		if (!str_eq(ra->prefix, rb->prefix) || ra->insecure != rb->insecure ||
		    ra->n_mirrors != rb->n_mirrors)
			return false;
		for (size_t j = 0; j < ra->n_mirrors; j++)
			if (!str_eq(ra->mirrors[j].location, rb->mirrors[j].location) ||
			    ra->mirrors[j].insecure != rb->mirrors[j].insecure)
				return false;
	}
	return true;
}

const struct cfg_handler *cfg_find_handler(const struct crix_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++)
		if (strcmp(cfg->runtime.handlers[i].name, name) == 0)
			return &cfg->runtime.handlers[i];
	return NULL;
}

const struct cfg_registry *cfg_find_registry(const struct crix_config *cfg, const char *image)
{
	const struct cfg_registry *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < cfg->image.n_registries; i++) {
		const struct cfg_registry *r = &cfg->image.registries[i];
		size_t len = strlen(r->prefix);
		if (len == 0 || strncmp(image, r->prefix, len) != 0)
			continue;
		char next = image[len];
		if (next != '\0' && next != '/' && next != ':' && next != '@')
			continue;
		if (best == NULL || len > best_len) {
			best = r;
			best_len = len;
		}
	}
	return best;
}

static int check_absolute(const char *key, const char *path, struct crix_err **err)
{
	if (path == NULL || path[0] != '/')
		return cfg_fail(err, NULL, "%s: must be an absolute path, got \"%s\"", key,
				path ? path : "");
	return 0;
}

int cfg_validate(const struct crix_config *cfg, struct crix_err **err)
{
	if (check_absolute("listen", cfg->listen, err) < 0 || check_absolute("root", cfg->root, err) < 0 ||
	    check_absolute("runroot", cfg->runroot, err) < 0)
		return -1;
	if ((unsigned)cfg->log_level > CRIX_LOG_DEBUG)
		return cfg_fail(err, NULL, "log_level: invalid value %d", (int)cfg->log_level);
	if ((unsigned)cfg->cgroup_manager > CFG_CGROUP_SYSTEMD)
		return cfg_fail(err, NULL, "cgroup_manager: invalid value %d", (int)cfg->cgroup_manager);
	if (cfg->grpc_max_msg_size < CFG_GRPC_MSG_MIN || cfg->grpc_max_msg_size > CFG_GRPC_MSG_MAX)
		return cfg_fail(err, NULL,
				"grpc_max_msg_size: expected an integer between %llu and %llu, got %llu",
				(unsigned long long)CFG_GRPC_MSG_MIN, (unsigned long long)CFG_GRPC_MSG_MAX,
				(unsigned long long)cfg->grpc_max_msg_size);
	if (cfg->grpc_max_workers < CFG_WORKERS_MIN || cfg->grpc_max_workers > CFG_WORKERS_MAX)
		return cfg_fail(err, NULL, "grpc_max_workers: expected an integer between %d and %d, got %u",
				CFG_WORKERS_MIN, CFG_WORKERS_MAX, cfg->grpc_max_workers);
	if (cfg->grpc_worker_idle_timeout < CFG_WORKER_IDLE_MIN ||
	    cfg->grpc_worker_idle_timeout > CFG_WORKER_IDLE_MAX)
		return cfg_fail(err, NULL,
				"grpc_worker_idle_timeout: expected an integer between %d and %d, got %u",
				CFG_WORKER_IDLE_MIN, CFG_WORKER_IDLE_MAX, cfg->grpc_worker_idle_timeout);
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++) {
		const struct cfg_handler *h = &cfg->runtime.handlers[i];
		if (h->name == NULL || h->name[0] == '\0' || h->path == NULL)
			return cfg_fail(err, NULL, "runtime.handlers: handler %zu has no name or path", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->runtime.handlers[j].name, h->name) == 0)
				return cfg_fail(err, NULL, "runtime.handlers: duplicate handler \"%s\"",
						h->name);
	}
	const char *dh = cfg->runtime.default_handler;
	if (dh == NULL || cfg_find_handler(cfg, dh) == NULL) {
		_cleanup_free_ char *names = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&names, &size);
		if (f == NULL)
			return crix_err_make(err, ENOMEM, "validate configuration");
		for (size_t i = 0; i < cfg->runtime.n_handlers; i++)
			fprintf(f, "%s%s", i ? ", " : "", cfg->runtime.handlers[i].name);
		fclose(f);
		return cfg_fail(err, cfg->default_handler_origin,
				"runtime.default_handler: \"%s\" is not a defined handler (defined: %s)",
				dh ? dh : "", names && names[0] ? names : "none");
	}
	if (cfg->image.max_parallel_downloads < CFG_DOWNLOADS_MIN ||
	    cfg->image.max_parallel_downloads > CFG_DOWNLOADS_MAX)
		return cfg_fail(err, NULL,
				"image.max_parallel_downloads: expected an integer between %d and %d, got %u",
				CFG_DOWNLOADS_MIN, CFG_DOWNLOADS_MAX, cfg->image.max_parallel_downloads);
	if (cfg->image.stall_timeout < CFG_STALL_TIMEOUT_MIN || cfg->image.stall_timeout > CFG_STALL_TIMEOUT_MAX)
		return cfg_fail(err, NULL, "image.stall_timeout: expected an integer between %d and %d, got %u",
				CFG_STALL_TIMEOUT_MIN, CFG_STALL_TIMEOUT_MAX, cfg->image.stall_timeout);
	if (cfg->image.min_speed < CFG_MIN_SPEED_MIN || cfg->image.min_speed > CFG_MIN_SPEED_MAX)
		return cfg_fail(err, NULL, "image.min_speed: expected an integer between %d and %llu, got %u",
				CFG_MIN_SPEED_MIN, (unsigned long long)CFG_MIN_SPEED_MAX, cfg->image.min_speed);
	if (cfg->image.auth_file == NULL)
		return cfg_fail(err, NULL, "image.auth_file: not set");
	for (size_t i = 0; i < cfg->image.n_registries; i++) {
		const struct cfg_registry *r = &cfg->image.registries[i];
		if (r->prefix == NULL || r->prefix[0] == '\0')
			return cfg_fail(err, NULL, "image.registries[%zu].prefix: must not be empty", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->image.registries[j].prefix, r->prefix) == 0)
				return cfg_fail(err, NULL,
						"image.registries[%zu].prefix: duplicate prefix \"%s\"", i,
						r->prefix);
		for (size_t j = 0; j < r->n_mirrors; j++)
			if (r->mirrors[j].location == NULL || r->mirrors[j].location[0] == '\0')
				return cfg_fail(err, NULL,
						"image.registries[%zu].mirrors[%zu].location: must not be empty",
						i, j);
	}
	if (cfg->network.cni_config_dir == NULL)
		return cfg_fail(err, NULL, "network.cni_config_dir: not set");
	for (size_t i = 0; i < cfg->network.n_cni_plugin_dirs; i++)
		if (cfg->network.cni_plugin_dirs[i] == NULL)
			return cfg_fail(err, NULL, "network.cni_plugin_dirs[%zu]: not set", i);
	if (cfg->streaming.address == NULL)
		return cfg_fail(err, NULL, "streaming.address: not set");
	if (cfg->streaming.port > CFG_PORT_MAX)
		return cfg_fail(err, NULL, "streaming.port: expected an integer between 0 and %d, got %u",
				CFG_PORT_MAX, cfg->streaming.port);
	return 0;
}

static int merge_dropins(struct crix_config *cfg, const char *dir, struct crix_err **err)
{
	struct dirent **entries = NULL;
	int n = scandir(dir, &entries, NULL, alphasort);
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		return crix_err_make(err, errno, "read drop-in directory %s", dir);
	}
	int ret = 0;
	for (int i = 0; i < n; i++) {
		const char *name = entries[i]->d_name;
		size_t len = strlen(name);
		/* Like the shell's *.yaml: hidden files (editor backups, ".x.yaml.swp") are skipped. */
		bool wanted = name[0] != '.' && len > 5 && strcmp(name + len - 5, ".yaml") == 0;
		if (ret == 0 && wanted) {
			_cleanup_free_ char *path = NULL;
			struct stat st;
			if (asprintf(&path, "%s/%s", dir, name) < 0)
				ret = crix_err_make(err, ENOMEM, "read drop-in directory %s", dir);
			else if (stat(path, &st) < 0)
				ret = crix_err_make(err, errno, "stat %s", path);
			else if (S_ISREG(st.st_mode))
				ret = cfg_merge_file(cfg, path, err);
		}
		free(entries[i]);
	}
	free(entries);
	return ret;
}

static int apply_override(char **field, const char *key, const char *value, struct crix_err **err)
{
	if (value == NULL)
		return 0;
	if (value[0] != '/')
		return cfg_fail(err, "command line", "%s: must be an absolute path, got \"%s\"", key, value);
	return dup_str(field, value, err);
}

int cfg_load(const struct cfg_sources *src, struct crix_config **out, struct crix_err **err)
{
	static const struct cfg_sources none = { 0 };
	if (src == NULL)
		src = &none;
	_cleanup_cfg_ struct crix_config *cfg = NULL;
	if (cfg_defaults(&cfg, err) < 0)
		return -1;

	const char *file = src->config_file ? src->config_file : CFG_DEFAULT_FILE;
	struct stat st;
	if (src->config_file != NULL || stat(file, &st) == 0 || errno != ENOENT) {
		if (cfg_merge_file(cfg, file, err) < 0)
			return -1;
	}
	if (merge_dropins(cfg, src->config_dir ? src->config_dir : CFG_DEFAULT_DIR, err) < 0)
		return -1;

	if (apply_override(&cfg->listen, "listen", src->listen, err) < 0 ||
	    apply_override(&cfg->root, "root", src->root, err) < 0 ||
	    apply_override(&cfg->runroot, "runroot", src->runroot, err) < 0)
		return -1;
	if (src->log_level != NULL) {
		int level = crix_log_level_parse(src->log_level);
		if (level < 0)
			return cfg_fail(err, "command line",
					"log_level: expected one of error, warn, info, debug, got \"%s\"",
					src->log_level);
		cfg->log_level = (enum crix_log_level)level;
	}
	if (cfg_validate(cfg, err) < 0)
		return -1;
	*out = steal_ptr(cfg);
	return 0;
}
