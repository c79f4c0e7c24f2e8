/* The store's reloadable settings (registries and mirrors, auth file, parallel downloads, stall
 * limits): one immutable copy, swapped as a whole by img_store_reload and held by each running
 * pull; sent to crix-pull as JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_json_read.h"
#include "img_internal.h"

#define DEFAULT_MAX_PARALLEL 3
#define DEFAULT_STALL_TIMEOUT 60      /* seconds */
#define DEFAULT_MIN_SPEED (16u << 10) /* bytes/s */

void img_settings_free(struct img_settings *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].prefix);
		for (size_t j = 0; j < set->v[i].n_mirrors; j++)
			free(set->v[i].mirrors[j].location);
		free(set->v[i].mirrors);
	}
	free(set->v);
	free(set->auth_file);
	free(set);
}

struct img_settings *img_settings_new(const struct img_store_opts *opts)
{
	struct img_settings *set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	set->refs = 1;
	set->max_parallel = opts->max_parallel_downloads ? opts->max_parallel_downloads : DEFAULT_MAX_PARALLEL;
	set->stall_timeout = opts->stall_timeout ? opts->stall_timeout : DEFAULT_STALL_TIMEOUT;
	set->min_speed = opts->min_speed ? opts->min_speed : DEFAULT_MIN_SPEED;
	set->auth_file = strdup(opts->auth_file ? opts->auth_file : "");
	const struct img_registry *src = opts->registries;
	size_t n = opts->n_registries;
	set->v = calloc(n ? n : 1, sizeof(*set->v));
	if (set->auth_file == NULL || set->v == NULL) {
		img_settings_free(set);
		return NULL;
	}
	set->n = n;
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		set->v[i].prefix = strdup(src[i].prefix ? src[i].prefix : "");
		set->v[i].insecure = src[i].insecure;
		set->v[i].mirrors = calloc(src[i].n_mirrors ? src[i].n_mirrors : 1, sizeof(struct img_mirror));
		ok = ok && set->v[i].prefix && set->v[i].mirrors;
		if (set->v[i].mirrors == NULL)
			continue;
		set->v[i].n_mirrors = src[i].n_mirrors;
		for (size_t j = 0; j < src[i].n_mirrors; j++) {
			set->v[i].mirrors[j].location =
				strdup(src[i].mirrors[j].location ? src[i].mirrors[j].location : "");
			set->v[i].mirrors[j].insecure = src[i].mirrors[j].insecure;
			ok = ok && set->v[i].mirrors[j].location;
		}
	}
	if (!ok) {
		img_settings_free(set);
		return NULL;
	}
	return set;
}

struct img_settings *img_settings_get(struct img_store *s)
{
	pthread_mutex_lock(&s->lock);
	struct img_settings *set = s->settings;
	set->refs++;
	pthread_mutex_unlock(&s->lock);
	return set;
}

void img_settings_put(struct img_store *s, struct img_settings *set)
{
	pthread_mutex_lock(&s->lock);
	bool last = --set->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last)
		img_settings_free(set);
}

/* Makes set the settings of later pulls (taking it). */
static void use_settings(struct img_store *s, struct img_settings *set)
{
	pthread_mutex_lock(&s->lock);
	struct img_settings *old = s->settings;
	s->settings = set;
	pthread_mutex_unlock(&s->lock);
	img_settings_put(s, old);
}

int img_store_reload(struct img_store *s, const struct img_store_opts *opts, struct crix_err **err)
{
	struct img_settings *set = img_settings_new(opts);
	if (set == NULL)
		return crix_err_make(err, ENOMEM, "reload image settings");
	use_settings(s, set);
	return 0;
}

/* Adds v (NULL: allocation failed) to array a; false when it could not be. */
static bool append(json_object *a, json_object *v)
{
	if (v != NULL && json_object_array_add(a, v) == 0)
		return true;
	json_object_put(v);
	return false;
}

static json_object *registry_json(const struct img_registry *r)
{
	json_object *o = json_object_new_object(), *mirrors = json_object_new_array();
	bool ok = o != NULL && mirrors != NULL;
	for (size_t j = 0; ok && j < r->n_mirrors; j++) {
		json_object *m = json_object_new_object();
		ok = append(mirrors, m) &&
		     crix_json_add(m, "location", json_object_new_string(r->mirrors[j].location), NULL) == 0 &&
		     crix_json_add(m, "insecure", json_object_new_boolean(r->mirrors[j].insecure), NULL) == 0;
	}
	ok = ok && crix_json_add(o, "prefix", json_object_new_string(r->prefix), NULL) == 0 &&
	     crix_json_add(o, "insecure", json_object_new_boolean(r->insecure), NULL) == 0 &&
	     crix_json_add(o, "mirrors", steal_ptr(mirrors), NULL) == 0;
	json_object_put(mirrors);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *img_settings_to_json(const struct img_settings *set)
{
	json_object *o = json_object_new_object(), *regs = json_object_new_array();
	bool ok = o != NULL && regs != NULL;
	for (size_t i = 0; ok && i < set->n; i++)
		ok = append(regs, registry_json(&set->v[i]));
	ok = ok && crix_json_add(o, "max_parallel", json_object_new_int64(set->max_parallel), NULL) == 0 &&
	     crix_json_add(o, "stall_timeout", json_object_new_int64(set->stall_timeout), NULL) == 0 &&
	     crix_json_add(o, "min_speed", json_object_new_int64(set->min_speed), NULL) == 0 &&
	     crix_json_add(o, "auth_file", json_object_new_string(set->auth_file), NULL) == 0 &&
	     crix_json_add(o, "registries", steal_ptr(regs), NULL) == 0;
	json_object_put(regs);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *member_string(json_object *o, const char *key)
{
	const char *v = img_json_str(o, key);
	return v ? v : "";
}

static bool member_bool(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* 0 (the default) when missing or out of range. */
static unsigned member_uint(json_object *o, const char *key)
{
	json_object *v;
	int64_t n = json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
	return n > 0 && n <= UINT32_MAX ? (unsigned)n : 0;
}

int img_store_use_settings_json(struct img_store *s, json_object *o, struct crix_err **err)
{
	json_object *regs = NULL;
	json_object_object_get_ex(o, "registries", &regs);
	size_t n = json_object_is_type(regs, json_type_array) ? json_object_array_length(regs) : 0;
	struct img_registry *v_regs = calloc(n ? n : 1, sizeof(*v_regs));
	if (v_regs == NULL)
		return crix_err_make(err, ENOMEM, "image settings");
	/* img_settings_new copies: the registries may point into o meanwhile */
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(regs, i), *mirrors = NULL;
		v_regs[i].prefix = (char *)member_string(r, "prefix");
		v_regs[i].insecure = member_bool(r, "insecure");
		json_object_object_get_ex(r, "mirrors", &mirrors);
		size_t m = json_object_is_type(mirrors, json_type_array) ? json_object_array_length(mirrors) : 0;
		v_regs[i].mirrors = calloc(m ? m : 1, sizeof(struct img_mirror));
		if (v_regs[i].mirrors == NULL) {
			rc = crix_err_make(err, ENOMEM, "image settings");
			break;
		}
		v_regs[i].n_mirrors = m;
		for (size_t j = 0; j < m; j++) {
			json_object *mj = json_object_array_get_idx(mirrors, j);
			v_regs[i].mirrors[j].location = (char *)member_string(mj, "location");
			v_regs[i].mirrors[j].insecure = member_bool(mj, "insecure");
		}
	}
	struct img_store_opts opts = {
		.max_parallel_downloads = member_uint(o, "max_parallel"),
		.stall_timeout = member_uint(o, "stall_timeout"),
		.min_speed = member_uint(o, "min_speed"),
		.auth_file = member_string(o, "auth_file"),
		.registries = v_regs,
		.n_registries = n,
	};
	struct img_settings *set = rc == 0 ? img_settings_new(&opts) : NULL;
	for (size_t i = 0; i < n; i++)
		free(v_regs[i].mirrors);
	free(v_regs);
	if (set == NULL)
		return rc < 0 ? rc : crix_err_make(err, ENOMEM, "image settings");
	use_settings(s, set);
	return 0;
}
