/* crix-image: a command-line front of the image library, for tests and debugging.
 *   crix-image --root DIR [options] pull REF | list [FILTER] | status REF | rm REF | fsinfo
 *                                   | mount CONTAINER-ID IMAGE TARGET | umount CONTAINER-ID
 * Records are printed as JSON (one object, or an array for list). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_json.h"
#include "crix_json_read.h"
#include "crix_log.h"
#include "img_config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: crix-image --root DIR [--config FILE] [--auth-file FILE] [--certs-dir DIR]\n"
		   "                  [--parallel N] [--two-pass] [--creds USER:PASSWORD] [--log-level L]\n"
		   "                  [--stall-timeout SECONDS] [--min-speed BYTES-PER-SECOND]\n"
		   "                  pull REF... | list [FILTER] | status REF | rm REF | fsinfo\n"
		   "                  | mount CONTAINER-ID IMAGE TARGET | umount CONTAINER-ID\n"
		   "--config reads the image section (registries, auth_file, max_parallel_downloads,\n"
		   "stall_timeout, min_speed) of a crix YAML file, which the other options override; --creds is sent as the pull's AuthConfig; several REFs are pulled\n"
		   "at the same time.\n");
}

/* NULL when out of memory. */
static json_object *image_json(const struct img_image *im)
{
	json_object *o = json_object_new_object();
	if (o == NULL || crix_json_add(o, "id", json_object_new_string(im->id), NULL) < 0 ||
	    crix_json_add(o, "repo_tags", crix_json_new_strv(im->repo_tags), NULL) < 0 ||
	    crix_json_add(o, "repo_digests", crix_json_new_strv(im->repo_digests), NULL) < 0 ||
	    crix_json_add(o, "size", json_object_new_int64((int64_t)im->size), NULL) < 0 ||
	    crix_json_add(o, "user", json_object_new_string(im->user), NULL) < 0 ||
	    crix_json_add(o, "layers", crix_json_new_strv(im->layers), NULL) < 0 ||
	    crix_json_add(o, "config", json_tokener_parse(im->config_json), NULL) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Prints o (taken); NULL is an allocation that failed. */
static int print_json(json_object *o, struct crix_err **err)
{
	const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY) : NULL;
	if (text != NULL)
		puts(text);
	json_object_put(o);
	return text != NULL ? 0 : crix_err_make(err, ENOMEM, "print");
}

static json_object *usage_json(const struct img_fs_usage *u)
{
	json_object *o = json_object_new_object();
	if (o == NULL || crix_json_add(o, "mountpoint", json_object_new_string(u->mountpoint), NULL) < 0 ||
	    crix_json_add(o, "used_bytes", json_object_new_int64((int64_t)u->used_bytes), NULL) < 0 ||
	    crix_json_add(o, "inodes_used", json_object_new_int64((int64_t)u->inodes_used), NULL) < 0 ||
	    crix_json_add(o, "timestamp", json_object_new_int64(u->timestamp_ns), NULL) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct pull_job {
	struct img_store *store;
	const char *ref;
	const struct img_auth *auth;
	char *id;
	struct crix_err *err;
	pthread_t thread;
	bool started;
};

static void *pull_thread(void *arg)
{
	struct pull_job *j = arg;
	img_pull(j->store, j->ref, j->auth, &j->id, &j->err);
	return NULL;
}

/* Pulls every ref at once (one thread each); prints the ids in order. */
static int pull_all(struct img_store *store, int n, char **refs, const struct img_auth *auth, struct crix_err **err)
{
	struct pull_job *jobs = calloc(n, sizeof(*jobs));
	if (jobs == NULL)
		return crix_err_make(err, ENOMEM, "pull");
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct pull_job){.store = store, .ref = refs[i], .auth = auth};
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, pull_thread, &jobs[i]) == 0;
		if (!jobs[i].started)
			pull_thread(&jobs[i]);
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		if (jobs[i].err != NULL) {
			if (rc == 0)
				*err = jobs[i].err;
			else {
				fprintf(stderr, "crix-image: %s\n", crix_err_msg(jobs[i].err));
				crix_err_free(&jobs[i].err);
			}
			rc = -1;
		} else {
			puts(jobs[i].id);
		}
		free(jobs[i].id);
	}
	free(jobs);
	return rc;
}

static int run(struct img_store *store, int argc, char **argv, const struct img_auth *auth, struct crix_err **err)
{
	const char *cmd = argv[0];
	if (!strcmp(cmd, "pull") && argc >= 2)
		return pull_all(store, argc - 1, argv + 1, auth, err);
	if (!strcmp(cmd, "list") && argc <= 2) {
		struct img_image **v;
		size_t n;
		if (img_list(store, argc == 2 ? argv[1] : NULL, &v, &n, err) < 0)
			return -1;
		json_object *a = json_object_new_array();
		for (size_t i = 0; a != NULL && i < n; i++) {
			json_object *im = image_json(v[i]);
			if (im == NULL || json_object_array_add(a, im) < 0) {
				json_object_put(im);
				json_object_put(steal_ptr(a));
			}
		}
		img_image_list_free(v, n);
		return print_json(a, err);
	}
	if (!strcmp(cmd, "status") && argc == 2) {
		struct img_image *im;
		if (img_status(store, argv[1], &im, err) < 0)
			return -1;
		if (im == NULL) {
			puts("null");
			return 0;
		}
		json_object *o = image_json(im);
		img_image_free(im);
		return print_json(o, err);
	}
	if (!strcmp(cmd, "rm") && argc == 2)
		return img_remove(store, argv[1], err);
	if (!strcmp(cmd, "fsinfo") && argc == 1) {
		struct img_fs_usage a, b;
		if (img_fs_info(store, &a, &b, err) < 0)
			return -1;
		json_object *o = json_object_new_object();
		if (o != NULL && (crix_json_add(o, "images", usage_json(&a), NULL) < 0 ||
				  crix_json_add(o, "containers", usage_json(&b), NULL) < 0))
			json_object_put(steal_ptr(o));
		img_fs_usage_clear(&a);
		img_fs_usage_clear(&b);
		return print_json(o, err);
	}
	if (!strcmp(cmd, "mount") && argc == 4)
		return img_rootfs_prepare(store, argv[1], argv[2], argv[3], err);
	if (!strcmp(cmd, "umount") && argc == 2)
		return img_rootfs_release(store, argv[1], err);
	usage(stderr);
	return crix_err_make(err, EINVAL, "unknown command or wrong arguments: %s", cmd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, 'r'},      {"config", required_argument, NULL, 'c'},
		{"auth-file", required_argument, NULL, 'a'}, {"certs-dir", required_argument, NULL, 'C'},
		{"parallel", required_argument, NULL, 'p'},  {"two-pass", no_argument, NULL, '2'},
		{"creds", required_argument, NULL, 'u'},     {"log-level", required_argument, NULL, 'l'},
		{"stall-timeout", required_argument, NULL, 's'}, {"min-speed", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct img_store_opts o = {0};
	struct img_config_opts from_config = {0};
	const char *config = NULL;
	char *creds = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.root = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'a':
			o.auth_file = optarg;
			break;
		case 'C':
			o.certs_dir = optarg;
			break;
		case 'p':
			o.max_parallel_downloads = (unsigned)atoi(optarg);
			break;
		case '2':
			o.unpack_after_download = true;
			break;
		case 's':
			o.stall_timeout = (unsigned)atoi(optarg);
			break;
		case 'm':
			o.min_speed = (unsigned)atoi(optarg);
			break;
		case 'u':
			creds = optarg;
			break;
		case 'l': {
			int level = crix_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "crix-image: unknown log level %s\n", optarg);
				return 2;
			}
			crix_log_set_level(level);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.root == NULL || optind >= argc) {
		usage(stderr);
		return 2;
	}
	struct crix_err *err = NULL;
	struct crix_config *cfg = NULL;
	if (config != NULL) {
		if (cfg_defaults(&cfg, &err) < 0 || cfg_merge_file(cfg, config, &err) < 0 || cfg_validate(cfg, &err) < 0 ||
		    img_config_opts(cfg, &from_config, &err) < 0) {
			fprintf(stderr, "crix-image: %s\n", crix_err_msg(err));
			crix_err_free(&err);
			cfg_free(cfg);
			return 1;
		}
		const struct img_store_opts *c = &from_config.opts;
		o.registries = c->registries;
		o.n_registries = c->n_registries;
		if (o.auth_file == NULL)
			o.auth_file = c->auth_file;
		if (o.max_parallel_downloads == 0)
			o.max_parallel_downloads = c->max_parallel_downloads;
		if (o.stall_timeout == 0)
			o.stall_timeout = c->stall_timeout;
		if (o.min_speed == 0)
			o.min_speed = c->min_speed;
	}
	struct img_auth auth = {0};
	if (creds != NULL) {
		char *colon = strchr(creds, ':');
		if (colon == NULL) {
			fprintf(stderr, "crix-image: --creds wants USER:PASSWORD\n");
			img_config_opts_clear(&from_config);
			cfg_free(cfg);
			return 2;
		}
		*colon = '\0';
		auth.username = creds;
		auth.password = colon + 1;
	}
	struct img_store *store = NULL;
	int rc = img_store_open(&o, &store, &err);
	if (rc == 0)
		rc = run(store, argc - optind, argv + optind, creds ? &auth : NULL, &err);
	if (rc < 0)
		fprintf(stderr, "crix-image: %s\n", crix_err_msg(err));
	crix_err_free(&err);
	img_store_close(store);
	img_config_opts_clear(&from_config);
	cfg_free(cfg);
	return rc < 0 ? 1 : 0;
}
