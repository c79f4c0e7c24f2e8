/* YAML -> config: libyaml loads the document, then a walk that follows the schema checks every
 * key and value and merges it into a copy of the config, which replaces the original only when
 * the whole file is good. Every error names file:line:column (1-based) of its node. */
#include "cfg.h"
#include "cfg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "crix_cleanup.h"
#include "crix_file.h"

/* A config file is small; anything larger is a mistake (or /dev/zero). */
#define CFG_MAX_FILE_SIZE (1u << 20)
#define PATH_LEN 512

struct parser {
	const char *name; /* file name for messages */
	yaml_document_t *doc;
	struct crix_config *cfg; /* the copy being merged into */
	struct crix_err **err;
};

static int fail_at(struct parser *p, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct parser *p, const yaml_node_t *node, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	return cfg_fail(p->err, NULL, "%s:%zu:%zu: %s", p->name, node->start_mark.line + 1,
			node->start_mark.column + 1, text ? text : "invalid configuration");
}

/* Key paths for messages ("image.registries[0].prefix"); a long one is cut, never overflows. */
static void path_printf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_printf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, PATH_LEN, fmt, ap);
	va_end(ap);
}

static const char *scalar(const yaml_node_t *node) { return (const char *)node->data.scalar.value; }

/* YAML 1.2 core schema nulls: "", "~", "null" in a plain (unquoted) scalar. */
static bool is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = scalar(node);
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	default:
		return is_null(node) ? "null" : "a scalar";
	}
}

static yaml_node_t *node_at(struct parser *p, int index) { return yaml_document_get_node(p->doc, index); }

static size_t edit_distance(const char *a, const char *b)
{
	size_t lb = strlen(b);
	size_t row[lb + 1];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; a[i - 1] != '\0'; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Checks that node is a mapping of unique scalar keys, each one of keys (NULL-terminated;
 * NULL = free names such as handler names). what names the keys in messages. A null node is
 * accepted as an empty mapping. */
static int check_mapping(struct parser *p, const yaml_node_t *node, const char *path,
			 const char *const *keys, const char *what)
{
	if (is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE)
		return fail_at(p, node, "%s%sexpected a mapping, got %s", path, path[0] ? ": " : "",
			       kind(node));
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
	     pair++) {
		const yaml_node_t *key = node_at(p, pair->key);
		const char *prefix = path, *sep = path[0] ? ": " : "";
		if (key->type != YAML_SCALAR_NODE)
			return fail_at(p, key, "%s%s%s must be a scalar, got %s", prefix, sep, what, kind(key));
		const char *name = scalar(key);
		if (strlen(name) != key->data.scalar.length)
			return fail_at(p, key, "%s%s%s contains a NUL byte", prefix, sep, what);
		for (yaml_node_pair_t *prev = node->data.mapping.pairs.start; prev < pair; prev++) {
			const yaml_node_t *pk = node_at(p, prev->key);
			if (pk->type == YAML_SCALAR_NODE && strcmp(scalar(pk), name) == 0)
				return fail_at(p, key, "%s%sduplicate %s \"%s\" (first at line %zu)", prefix,
					       sep, what, name, pk->start_mark.line + 1);
		}
		if (keys == NULL)
			continue;
		const char *const *k = keys;
		while (*k != NULL && strcmp(*k, name) != 0)
			k++;
		if (*k != NULL)
			continue;
		const char *nearest = keys[0];
		size_t nearest_dist = SIZE_MAX;
		for (k = keys; *k != NULL; k++) {
			size_t d = edit_distance(name, *k);
			if (d < nearest_dist) {
				nearest = *k;
				nearest_dist = d;
			}
		}
		return fail_at(p, key, "%s%sunknown key \"%s\" (did you mean \"%s\"?)", prefix, sep, name,
			       nearest);
	}
	return 0;
}

/* Iterates a mapping checked by check_mapping (a null node has no pairs); pair_ is the pair. */
#define for_each_pair(p, node, key_var, value_var)                                                 \
	for (yaml_node_pair_t *pair_ = (node)->type == YAML_MAPPING_NODE                           \
					       ? (node)->data.mapping.pairs.start                  \
					       : NULL;                                             \
	     pair_ != NULL && pair_ < (node)->data.mapping.pairs.top &&                            \
	     ((key_var) = scalar(node_at(p, pair_->key)), (value_var) = node_at(p, pair_->value));  \
	     pair_++)

static int get_string(struct parser *p, const yaml_node_t *node, const char *path, char **out)
{
	if (node->type != YAML_SCALAR_NODE || is_null(node))
		return fail_at(p, node, "%s: expected a string, got %s%s", path, kind(node),
			       is_null(node) ? " (write \"\" for an empty string)" : "");
	if (strlen(scalar(node)) != node->data.scalar.length)
		return fail_at(p, node, "%s: contains a NUL byte", path);
	char *copy = strdup(scalar(node));
	if (copy == NULL)
		return crix_err_make(p->err, ENOMEM, "%s", p->name);
	free(*out);
	*out = copy;
	return 0;
}

static int get_nonempty(struct parser *p, const yaml_node_t *node, const char *path, char **out)
{
	if (get_string(p, node, path, out) < 0)
		return -1;
	if ((*out)[0] == '\0')
		return fail_at(p, node, "%s: must not be empty", path);
	return 0;
}

static int get_absolute(struct parser *p, const yaml_node_t *node, const char *path, char **out)
{
	if (get_string(p, node, path, out) < 0)
		return -1;
	if ((*out)[0] != '/')
		return fail_at(p, node, "%s: must be an absolute path, got \"%s\"", path, *out);
	return 0;
}

static int get_uint(struct parser *p, const yaml_node_t *node, const char *path, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	if (node->type != YAML_SCALAR_NODE || is_null(node))
		return fail_at(p, node, "%s: expected an integer, got %s", path, kind(node));
	const char *v = scalar(node);
	const char *digits = v[0] == '+' || v[0] == '-' ? v + 1 : v;
	bool numeric = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && digits[0] != '\0' &&
		       strspn(digits, "0123456789") == strlen(digits);
	if (!numeric)
		return fail_at(p, node, "%s: expected an integer, got \"%s\"", path, v);
	errno = 0;
	unsigned long long n = strtoull(digits, NULL, 10);
	if (v[0] == '-' && n != 0)
		return fail_at(p, node, "%s: expected an integer between %" PRIu64 " and %" PRIu64 ", got %s",
			       path, min, max, v);
	if (errno == ERANGE || n < min || n > max)
		return fail_at(p, node, "%s: expected an integer between %" PRIu64 " and %" PRIu64 ", got %s",
			       path, min, max, v);
	*out = n;
	return 0;
}

static int get_bool(struct parser *p, const yaml_node_t *node, const char *path, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (size_t i = 0; i < 3; i++) {
			if (strcmp(scalar(node), yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(scalar(node), no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	if (node->type != YAML_SCALAR_NODE || is_null(node))
		return fail_at(p, node, "%s: expected true or false, got %s", path, kind(node));
	return fail_at(p, node, "%s: expected true or false, got \"%s\"", path, scalar(node));
}

/* parse returns the value or -1; names lists the choices for the message. */
static int get_enum(struct parser *p, const yaml_node_t *node, const char *path,
		    int (*parse)(const char *), const char *names, int *out)
{
	if (node->type != YAML_SCALAR_NODE || is_null(node))
		return fail_at(p, node, "%s: expected one of %s, got %s", path, names, kind(node));
	int v = parse(scalar(node));
	if (v < 0)
		return fail_at(p, node, "%s: expected one of %s, got \"%s\"", path, names, scalar(node));
	*out = v;
	return 0;
}

static int merge_handlers(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "path", NULL };
	if (check_mapping(p, node, "runtime.handlers", NULL, "handler") < 0)
		return -1;
	const char *name;
	yaml_node_t *value;
	for_each_pair(p, node, name, value)
	{
		char path[PATH_LEN];
		path_printf(path, "runtime.handlers.%s", name);
		if (name[0] == '\0')
			return fail_at(p, node_at(p, pair_->key), "runtime.handlers: handler name must not be empty");
		if (check_mapping(p, value, path, keys, "key") < 0)
			return -1;
		/* "path" is the only key, so the entry is empty or holds just it. */
		const yaml_node_t *path_node =
			value->type == YAML_MAPPING_NODE && value->data.mapping.pairs.top > value->data.mapping.pairs.start
				? node_at(p, value->data.mapping.pairs.start->value)
				: NULL;
		struct cfg_handler *h = (struct cfg_handler *)cfg_find_handler(p->cfg, name);
		if (h == NULL) {
			if (path_node == NULL)
				return fail_at(p, node_at(p, pair_->key),
					       "%s: a new handler needs a path (\"\" = the embedded crix-runtime)", path);
			if (cfg_add_handler(p->cfg, name, "", p->err) < 0)
				return -1;
			h = &p->cfg->runtime.handlers[p->cfg->runtime.n_handlers - 1];
		}
		if (path_node != NULL) {
			char key_path[PATH_LEN];
			path_printf(key_path, "%s.path", path);
			if (get_string(p, path_node, key_path, &h->path) < 0)
				return -1;
		}
	}
	return 0;
}

static int merge_runtime(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "default_handler", "handlers", NULL };
	if (check_mapping(p, node, "runtime", keys, "key") < 0)
		return -1;
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		if (strcmp(key, "handlers") == 0) {
			if (merge_handlers(p, value) < 0)
				return -1;
			continue;
		}
		if (get_nonempty(p, value, "runtime.default_handler", &p->cfg->runtime.default_handler) < 0)
			return -1;
		free(p->cfg->default_handler_origin);
		if (asprintf(&p->cfg->default_handler_origin, "%s:%zu:%zu", p->name,
			     value->start_mark.line + 1, value->start_mark.column + 1) < 0) {
			p->cfg->default_handler_origin = NULL;
			return crix_err_make(p->err, ENOMEM, "%s", p->name);
		}
	}
	return 0;
}

static int parse_mirror(struct parser *p, const yaml_node_t *node, const char *path, struct cfg_mirror *m)
{
	static const char *const keys[] = { "location", "insecure", NULL };
	if (node->type != YAML_MAPPING_NODE)
		return fail_at(p, node, "%s: expected a mapping, got %s", path, kind(node));
	if (check_mapping(p, node, path, keys, "key") < 0)
		return -1;
	char key_path[PATH_LEN];
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		path_printf(key_path, "%s.%s", path, key);
		if (strcmp(key, "location") == 0 ? get_nonempty(p, value, key_path, &m->location) < 0
						 : get_bool(p, value, key_path, &m->insecure) < 0)
			return -1;
	}
	if (m->location == NULL)
		return fail_at(p, node, "%s: missing key \"location\"", path);
	return 0;
}

static int parse_registry(struct parser *p, const yaml_node_t *node, const char *path, struct cfg_registry *r)
{
	static const char *const keys[] = { "prefix", "insecure", "mirrors", NULL };
	if (node->type != YAML_MAPPING_NODE)
		return fail_at(p, node, "%s: expected a mapping, got %s", path, kind(node));
	if (check_mapping(p, node, path, keys, "key") < 0)
		return -1;
	char key_path[PATH_LEN];
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		path_printf(key_path, "%s.%s", path, key);
		if (strcmp(key, "prefix") == 0) {
			if (get_nonempty(p, value, key_path, &r->prefix) < 0)
				return -1;
		} else if (strcmp(key, "insecure") == 0) {
			if (get_bool(p, value, key_path, &r->insecure) < 0)
				return -1;
		} else if (!is_null(value)) {
			if (value->type != YAML_SEQUENCE_NODE)
				return fail_at(p, value, "%s: expected a sequence, got %s", key_path, kind(value));
			size_t n = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
			r->mirrors = calloc(n ? n : 1, sizeof(*r->mirrors));
			if (r->mirrors == NULL)
				return crix_err_make(p->err, ENOMEM, "%s", p->name);
			for (size_t i = 0; i < n; i++) {
				char item_path[PATH_LEN];
				path_printf(item_path, "%s[%zu]", key_path, i);
				r->n_mirrors++;
				if (parse_mirror(p, node_at(p, value->data.sequence.items.start[i]), item_path,
						 &r->mirrors[i]) < 0)
					return -1;
			}
		}
	}
	if (r->prefix == NULL)
		return fail_at(p, node, "%s: missing key \"prefix\"", path);
	return 0;
}

static int merge_registries(struct parser *p, const yaml_node_t *node)
{
	const char *path = "image.registries";
	size_t n = 0;
	if (!is_null(node)) {
		if (node->type != YAML_SEQUENCE_NODE)
			return fail_at(p, node, "%s: expected a sequence, got %s", path, kind(node));
		n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	}
	struct cfg_registry *regs = calloc(n ? n : 1, sizeof(*regs));
	if (regs == NULL)
		return crix_err_make(p->err, ENOMEM, "%s", p->name);
	for (size_t i = 0; i < n; i++) {
		char item_path[PATH_LEN];
		path_printf(item_path, "%s[%zu]", path, i);
		const yaml_node_t *item = node_at(p, node->data.sequence.items.start[i]);
		int ret = parse_registry(p, item, item_path, &regs[i]);
		for (size_t j = 0; ret == 0 && j < i; j++)
			if (strcmp(regs[j].prefix, regs[i].prefix) == 0)
				ret = fail_at(p, item, "%s.prefix: duplicate prefix \"%s\" (also %s[%zu])",
					      item_path, regs[i].prefix, path, j);
		if (ret < 0) {
			cfg_free_registries(regs, i + 1);
			return -1;
		}
	}
	cfg_free_registries(p->cfg->image.registries, p->cfg->image.n_registries);
	p->cfg->image.registries = regs;
	p->cfg->image.n_registries = n;
	return 0;
}

static int merge_image(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "max_parallel_downloads", "auth_file", "stall_timeout", "min_speed",
					    "registries", NULL };
	if (check_mapping(p, node, "image", keys, "key") < 0)
		return -1;
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		int ret;
		if (strcmp(key, "max_parallel_downloads") == 0) {
			uint64_t n;
			ret = get_uint(p, value, "image.max_parallel_downloads", CFG_DOWNLOADS_MIN,
				       CFG_DOWNLOADS_MAX, &n);
			if (ret == 0)
				p->cfg->image.max_parallel_downloads = (unsigned)n;
		} else if (strcmp(key, "stall_timeout") == 0) {
			uint64_t n;
			ret = get_uint(p, value, "image.stall_timeout", CFG_STALL_TIMEOUT_MIN, CFG_STALL_TIMEOUT_MAX, &n);
			if (ret == 0)
				p->cfg->image.stall_timeout = (unsigned)n;
		} else if (strcmp(key, "min_speed") == 0) {
			uint64_t n;
			ret = get_uint(p, value, "image.min_speed", CFG_MIN_SPEED_MIN, CFG_MIN_SPEED_MAX, &n);
			if (ret == 0)
				p->cfg->image.min_speed = (unsigned)n;
		} else if (strcmp(key, "auth_file") == 0) {
			ret = get_string(p, value, "image.auth_file", &p->cfg->image.auth_file);
		} else {
			ret = merge_registries(p, value);
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int merge_plugin_dirs(struct parser *p, const yaml_node_t *node)
{
	const char *path = "network.cni_plugin_dirs";
	size_t n = 0;
	if (!is_null(node)) {
		if (node->type != YAML_SEQUENCE_NODE)
			return fail_at(p, node, "%s: expected a sequence, got %s", path, kind(node));
		n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	}
	char **dirs = calloc(n ? n : 1, sizeof(*dirs));
	if (dirs == NULL)
		return crix_err_make(p->err, ENOMEM, "%s", p->name);
	for (size_t i = 0; i < n; i++) {
		char item_path[PATH_LEN];
		path_printf(item_path, "%s[%zu]", path, i);
		if (get_nonempty(p, node_at(p, node->data.sequence.items.start[i]), item_path, &dirs[i]) < 0) {
			cfg_free_strings(dirs, i + 1);
			return -1;
		}
	}
	cfg_free_strings(p->cfg->network.cni_plugin_dirs, p->cfg->network.n_cni_plugin_dirs);
	p->cfg->network.cni_plugin_dirs = dirs;
	p->cfg->network.n_cni_plugin_dirs = n;
	return 0;
}

static int merge_network(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "cni_config_dir", "cni_plugin_dirs", NULL };
	if (check_mapping(p, node, "network", keys, "key") < 0)
		return -1;
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		if (strcmp(key, "cni_config_dir") == 0 ? get_nonempty(p, value, "network.cni_config_dir",
								      &p->cfg->network.cni_config_dir) < 0
						       : merge_plugin_dirs(p, value) < 0)
			return -1;
	}
	return 0;
}

static int merge_streaming(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "address", "port", NULL };
	if (check_mapping(p, node, "streaming", keys, "key") < 0)
		return -1;
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		if (strcmp(key, "address") == 0) {
			if (get_nonempty(p, value, "streaming.address", &p->cfg->streaming.address) < 0)
				return -1;
		} else {
			uint64_t port;
			if (get_uint(p, value, "streaming.port", 0, CFG_PORT_MAX, &port) < 0)
				return -1;
			p->cfg->streaming.port = (unsigned)port;
		}
	}
	return 0;
}

static int parse_log_level(const char *name) { return crix_log_level_parse(name); }

static int merge_root(struct parser *p, const yaml_node_t *node)
{
	static const char *const keys[] = { "listen",  "root",	  "runroot", "log_level", "cgroup_manager",
					    "grpc_max_msg_size", "grpc_max_workers", "grpc_worker_idle_timeout",
					    "runtime", "image", "network", "streaming", NULL };
	if (check_mapping(p, node, "", keys, "key") < 0)
		return -1;
	struct crix_config *cfg = p->cfg;
	const char *key;
	yaml_node_t *value;
	for_each_pair(p, node, key, value)
	{
		int ret, v = 0;
		uint64_t n = 0;
		if (strcmp(key, "listen") == 0) {
			ret = get_absolute(p, value, key, &cfg->listen);
		} else if (strcmp(key, "root") == 0) {
			ret = get_absolute(p, value, key, &cfg->root);
		} else if (strcmp(key, "runroot") == 0) {
			ret = get_absolute(p, value, key, &cfg->runroot);
		} else if (strcmp(key, "log_level") == 0) {
			ret = get_enum(p, value, key, parse_log_level, "error, warn, info, debug", &v);
			if (ret == 0)
				cfg->log_level = (enum crix_log_level)v;
		} else if (strcmp(key, "cgroup_manager") == 0) {
			ret = get_enum(p, value, key, cfg_cgroup_manager_parse, "cgroupfs, systemd", &v);
			if (ret == 0)
				cfg->cgroup_manager = (enum cfg_cgroup_manager)v;
		} else if (strcmp(key, "grpc_max_msg_size") == 0) {
			ret = get_uint(p, value, key, CFG_GRPC_MSG_MIN, CFG_GRPC_MSG_MAX, &n);
			if (ret == 0)
				cfg->grpc_max_msg_size = n;
		} else if (strcmp(key, "grpc_max_workers") == 0) {
			ret = get_uint(p, value, key, CFG_WORKERS_MIN, CFG_WORKERS_MAX, &n);
			if (ret == 0)
				cfg->grpc_max_workers = (unsigned)n;
		} else if (strcmp(key, "grpc_worker_idle_timeout") == 0) {
			ret = get_uint(p, value, key, CFG_WORKER_IDLE_MIN, CFG_WORKER_IDLE_MAX, &n);
			if (ret == 0)
				cfg->grpc_worker_idle_timeout = (unsigned)n;
		} else if (strcmp(key, "runtime") == 0) {
			ret = merge_runtime(p, value);
		} else if (strcmp(key, "image") == 0) {
			ret = merge_image(p, value);
		} else if (strcmp(key, "network") == 0) {
			ret = merge_network(p, value);
		} else {
			ret = merge_streaming(p, value);
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* libyaml's reader reports a byte offset only; turn it into line:column like the others. */
static void offset_to_mark(const char *yaml, size_t len, size_t offset, size_t *line, size_t *column)
{
	*line = 0;
	*column = 0;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (yaml[i] == '\n') {
			(*line)++;
			*column = 0;
		} else if (((unsigned char)yaml[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

static int syntax_error(const yaml_parser_t *parser, const char *name, const char *yaml, size_t len,
			struct crix_err **err)
{
	if (parser->error == YAML_MEMORY_ERROR)
		return crix_err_make(err, ENOMEM, "%s: parse YAML", name);
	const char *problem = parser->problem ? parser->problem : "invalid YAML";
	size_t line = parser->problem_mark.line, column = parser->problem_mark.column;
	if (parser->error == YAML_READER_ERROR) {
		offset_to_mark(yaml, len, parser->problem_offset, &line, &column);
		if (parser->problem_value != -1)
			return cfg_fail(err, NULL, "%s:%zu:%zu: %s (byte 0x%02x)", name, line + 1, column + 1,
					problem, (unsigned)parser->problem_value & 0xff);
	}
	if (parser->context != NULL)
		return cfg_fail(err, NULL, "%s:%zu:%zu: %s (%s at line %zu, column %zu)", name, line + 1,
				column + 1, problem, parser->context, parser->context_mark.line + 1,
				parser->context_mark.column + 1);
	return cfg_fail(err, NULL, "%s:%zu:%zu: %s", name, line + 1, column + 1, problem);
}

static void parser_cleanup(yaml_parser_t *parser) { yaml_parser_delete(parser); }
static void document_cleanup(yaml_document_t **doc)
{
	if (*doc != NULL)
		yaml_document_delete(*doc);
}

int cfg_merge_string(struct crix_config *cfg, const char *name, const char *yaml, size_t len,
		     struct crix_err **err)
{
	__attribute__((cleanup(parser_cleanup))) yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return crix_err_make(err, ENOMEM, "%s: parse YAML", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);

	yaml_document_t doc_storage, next_storage;
	if (!yaml_parser_load(&parser, &doc_storage))
		return syntax_error(&parser, name, yaml, len, err);
	__attribute__((cleanup(document_cleanup))) yaml_document_t *doc = &doc_storage;
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (root == NULL) /* empty stream: nothing but comments */
		return 0;
	if (!yaml_parser_load(&parser, &next_storage))
		return syntax_error(&parser, name, yaml, len, err);
	__attribute__((cleanup(document_cleanup))) yaml_document_t *next = &next_storage;
	yaml_node_t *next_root = yaml_document_get_root_node(next);
	if (next_root != NULL)
		return cfg_fail(err, NULL, "%s:%zu:%zu: a config file holds one YAML document, found another",
				name, next->start_mark.line + 1, next->start_mark.column + 1);

	struct crix_config *work = NULL;
	if (cfg_dup(cfg, &work, err) < 0)
		return crix_err_wrap(err, "%s", name);
	struct parser p = { .name = name, .doc = doc, .cfg = work, .err = err };
	if (merge_root(&p, root) < 0) {
		cfg_free(work);
		return -1;
	}
	cfg_replace(cfg, work);
	return 0;
}

int cfg_merge_file(struct crix_config *cfg, const char *path, struct crix_err **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (crix_read_file(path, CFG_MAX_FILE_SIZE, &data, &len, err) < 0)
		return crix_err_wrap(err, "config file");
	return cfg_merge_string(cfg, path, data, len, err);
}
