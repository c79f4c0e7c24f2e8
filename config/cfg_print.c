/* config -> YAML (libyaml's emitter, so quoting is libyaml's own) and JSON (json-c). Both use
 * the schema's key names in the schema's order. */
#include "cfg.h"
#include "cfg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "crix_cleanup.h"

struct emitter {
	yaml_emitter_t e;
	bool failed;
};

static void emit(struct emitter *em, yaml_event_t *ev)
{
	if (!em->failed && !yaml_emitter_emit(&em->e, ev))
		em->failed = true;
}

static void emit_scalar(struct emitter *em, const char *value, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, (int)strlen(value), 1, 1,
					  style)) {
		em->failed = true;
		return;
	}
	emit(em, &ev);
}

/* Strings that a YAML reader could resolve to something else (null, a boolean under YAML 1.1,
 * a number) or that hold control characters (which read best as escapes) are double-quoted;
 * for the rest libyaml picks plain or quoted style itself. */
static bool needs_double_quotes(const char *s)
{
	static const char *const words[] = { "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n" };
	if (s[0] == '\0')
		return true;
	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	const char *d = s[0] == '+' || s[0] == '-' || s[0] == '.' ? s + 1 : s;
	return d[0] >= '0' && d[0] <= '9';
}

static void emit_string(struct emitter *em, const char *value)
{
	if (value == NULL) /* only in a config built by hand; print what cfg_validate would reject */
		value = "";
	emit_scalar(em, value, needs_double_quotes(value) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void emit_key(struct emitter *em, const char *key) { emit_string(em, key); }

static void emit_uint(struct emitter *em, uint64_t n)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, n);
	emit_scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void emit_bool(struct emitter *em, bool b) { emit_scalar(em, b ? "true" : "false", YAML_PLAIN_SCALAR_STYLE); }

static void begin_mapping_styled(struct emitter *em, yaml_mapping_style_t style)
{
	yaml_event_t ev;
	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, style);
	emit(em, &ev);
}

static void begin_mapping(struct emitter *em) { begin_mapping_styled(em, YAML_BLOCK_MAPPING_STYLE); }

static void end_mapping(struct emitter *em)
{
	yaml_event_t ev;
	yaml_mapping_end_event_initialize(&ev);
	emit(em, &ev);
}

static void begin_sequence(struct emitter *em)
{
	yaml_event_t ev;
	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	emit(em, &ev);
}

static void end_sequence(struct emitter *em)
{
	yaml_event_t ev;
	yaml_sequence_end_event_initialize(&ev);
	emit(em, &ev);
}

static void emit_config(struct emitter *em, const struct crix_config *cfg)
{
	begin_mapping(em);
	emit_key(em, "listen");
	emit_string(em, cfg->listen);
	emit_key(em, "root");
	emit_string(em, cfg->root);
	emit_key(em, "runroot");
	emit_string(em, cfg->runroot);
	emit_key(em, "log_level");
	emit_string(em, crix_log_level_name(cfg->log_level));
	emit_key(em, "cgroup_manager");
	emit_string(em, cfg_cgroup_manager_name(cfg->cgroup_manager));
	emit_key(em, "grpc_max_msg_size");
	emit_uint(em, cfg->grpc_max_msg_size);
	emit_key(em, "grpc_max_workers");
	emit_uint(em, cfg->grpc_max_workers);
	emit_key(em, "grpc_worker_idle_timeout");
	emit_uint(em, cfg->grpc_worker_idle_timeout);

	emit_key(em, "runtime");
	begin_mapping(em);
	emit_key(em, "default_handler");
	emit_string(em, cfg->runtime.default_handler);
	emit_key(em, "handlers");
	begin_mapping(em);
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++) {
		emit_key(em, cfg->runtime.handlers[i].name);
		begin_mapping_styled(em, YAML_FLOW_MAPPING_STYLE); /* "runc: {path: ...}" as documented */
		emit_key(em, "path");
		emit_string(em, cfg->runtime.handlers[i].path);
		end_mapping(em);
	}
	end_mapping(em);
	end_mapping(em);

	emit_key(em, "image");
	begin_mapping(em);
	emit_key(em, "max_parallel_downloads");
	emit_uint(em, cfg->image.max_parallel_downloads);
	emit_key(em, "auth_file");
	emit_string(em, cfg->image.auth_file);
	emit_key(em, "stall_timeout");
	emit_uint(em, cfg->image.stall_timeout);
	emit_key(em, "min_speed");
	emit_uint(em, cfg->image.min_speed);
	emit_key(em, "registries");
	begin_sequence(em);
	for (size_t i = 0; i < cfg->image.n_registries; i++) {
		const struct cfg_registry *r = &cfg->image.registries[i];
		begin_mapping(em);
		emit_key(em, "prefix");
		emit_string(em, r->prefix);
		emit_key(em, "insecure");
		emit_bool(em, r->insecure);
		emit_key(em, "mirrors");
		begin_sequence(em);
		for (size_t j = 0; j < r->n_mirrors; j++) {
			begin_mapping(em);
			emit_key(em, "location");
			emit_string(em, r->mirrors[j].location);
			emit_key(em, "insecure");
			emit_bool(em, r->mirrors[j].insecure);
			end_mapping(em);
		}
		end_sequence(em);
		end_mapping(em);
	}
	end_sequence(em);
	end_mapping(em);

	emit_key(em, "network");
	begin_mapping(em);
	emit_key(em, "cni_config_dir");
	emit_string(em, cfg->network.cni_config_dir);
	emit_key(em, "cni_plugin_dirs");
	begin_sequence(em);
	for (size_t i = 0; i < cfg->network.n_cni_plugin_dirs; i++)
		emit_string(em, cfg->network.cni_plugin_dirs[i]);
	end_sequence(em);
	end_mapping(em);

	emit_key(em, "streaming");
	begin_mapping(em);
	emit_key(em, "address");
	emit_string(em, cfg->streaming.address);
	emit_key(em, "port");
	emit_uint(em, cfg->streaming.port);
	end_mapping(em);
	end_mapping(em);
}

static int write_to_file(void *data, unsigned char *buffer, size_t size)
{
	return fwrite(buffer, 1, size, data) == size;
}

int cfg_to_yaml(const struct crix_config *cfg, char **out, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (f == NULL)
		return crix_err_make(err, errno, "print configuration");
	struct emitter em = { .failed = false };
	if (!yaml_emitter_initialize(&em.e)) {
		fclose(f);
		return crix_err_make(err, ENOMEM, "print configuration");
	}
	yaml_emitter_set_output(&em.e, write_to_file, f);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_width(&em.e, -1); /* never fold long paths */

	yaml_event_t ev;
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(&em, &ev);
	emit_config(&em, cfg);
	yaml_document_end_event_initialize(&ev, 1);
	emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(&em, &ev);

	const char *problem = em.e.problem;
	bool failed = em.failed;
	yaml_emitter_delete(&em.e);
	if (fclose(f) != 0 && !failed)
		return crix_err_make(err, ENOMEM, "print configuration");
	if (failed)
		return crix_err_make(err, 0, "print configuration: %s", problem ? problem : "emitter failed");
	*out = steal_ptr(text);
	return 0;
}

static void put(struct json_object *obj, const char *key, struct json_object *value)
{
	json_object_object_add(obj, key, value);
}

static struct json_object *jstr(const char *s) { return json_object_new_string(s ? s : ""); }

int cfg_to_json(const struct crix_config *cfg, char **out, struct crix_err **err)
{
	struct json_object *root = json_object_new_object();
	if (root == NULL)
		return crix_err_make(err, ENOMEM, "print configuration");
	put(root, "listen", jstr(cfg->listen));
	put(root, "root", jstr(cfg->root));
	put(root, "runroot", jstr(cfg->runroot));
	put(root, "log_level", jstr(crix_log_level_name(cfg->log_level)));
	put(root, "cgroup_manager", jstr(cfg_cgroup_manager_name(cfg->cgroup_manager)));
	put(root, "grpc_max_msg_size", json_object_new_int64((int64_t)cfg->grpc_max_msg_size));
	put(root, "grpc_max_workers", json_object_new_int64(cfg->grpc_max_workers));
	put(root, "grpc_worker_idle_timeout", json_object_new_int64(cfg->grpc_worker_idle_timeout));

	struct json_object *runtime = json_object_new_object(), *handlers = json_object_new_object();
	put(runtime, "default_handler", jstr(cfg->runtime.default_handler));
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++) {
		struct json_object *h = json_object_new_object();
		put(h, "path", jstr(cfg->runtime.handlers[i].path));
		put(handlers, cfg->runtime.handlers[i].name, h);
	}
	put(runtime, "handlers", handlers);
	put(root, "runtime", runtime);

	struct json_object *image = json_object_new_object(), *registries = json_object_new_array();
	put(image, "max_parallel_downloads", json_object_new_int64(cfg->image.max_parallel_downloads));
	put(image, "auth_file", jstr(cfg->image.auth_file));
	put(image, "stall_timeout", json_object_new_int64(cfg->image.stall_timeout));
	put(image, "min_speed", json_object_new_int64(cfg->image.min_speed));
	for (size_t i = 0; i < cfg->image.n_registries; i++) {
		const struct cfg_registry *r = &cfg->image.registries[i];
		struct json_object *reg = json_object_new_object(), *mirrors = json_object_new_array();
		put(reg, "prefix", jstr(r->prefix));
		put(reg, "insecure", json_object_new_boolean(r->insecure));
		for (size_t j = 0; j < r->n_mirrors; j++) {
			struct json_object *m = json_object_new_object();
			put(m, "location", jstr(r->mirrors[j].location));
			put(m, "insecure", json_object_new_boolean(r->mirrors[j].insecure));
			json_object_array_add(mirrors, m);
		}
		put(reg, "mirrors", mirrors);
		json_object_array_add(registries, reg);
	}
	put(image, "registries", registries);
	put(root, "image", image);

	struct json_object *network = json_object_new_object(), *dirs = json_object_new_array();
	put(network, "cni_config_dir", jstr(cfg->network.cni_config_dir));
	for (size_t i = 0; i < cfg->network.n_cni_plugin_dirs; i++)
		json_object_array_add(dirs, jstr(cfg->network.cni_plugin_dirs[i]));
	put(network, "cni_plugin_dirs", dirs);
	put(root, "network", network);

	struct json_object *streaming = json_object_new_object();
	put(streaming, "address", jstr(cfg->streaming.address));
	put(streaming, "port", json_object_new_int64(cfg->streaming.port));
	put(root, "streaming", streaming);

	const char *text =
		json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = text ? strdup(text) : NULL;
	json_object_put(root);
	if (copy == NULL)
		return crix_err_make(err, ENOMEM, "print configuration");
	*out = copy;
	return 0;
}
