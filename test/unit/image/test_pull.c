/* crixd's side of the crix-pull conversation (img_pull) fed hostile messages: this program
 * stands in for crix-pull (img_store_opts.pull_helper is itself; the scenario travels in the
 * environment), makes the layers and blobs a pull would, then says what the scenario says.
 * Every hostile scenario must fail its pull with an error naming what was wrong and leave
 * the store's records and pins as they were; the honest one must succeed. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crix_file.h"
#include "img_internal.h"
#include "img_check.h"

/* crix_strv_add made to fail (as when out of memory) on this list once it holds one key */
static struct crix_strv *strv_add_fails_on;
int __real_crix_strv_add(struct crix_strv *l, const char *s);
int __wrap_crix_strv_add(struct crix_strv *l, const char *s);
int __wrap_crix_strv_add(struct crix_strv *l, const char *s)
{
	if (l == strv_add_fails_on && l->n >= 1)
		return -1;
	return __real_crix_strv_add(l, s);
}

#define OWNER_FD 3
#define REF "127.0.0.1:5000/crix/fake:v1"
#define NAME "127.0.0.1:5000/crix/fake"
#define SCENARIO_ENV "CRIX_TEST_PULL_SCENARIO"

/* ---- the stand-in for crix-pull ---- */

struct pull_msgs {
	json_object *pin;  /* {"pin": [...]} */
	json_object *done; /* {"done": id, "record": {...}} */
	json_object *record;
	char config_id[IMG_DIGEST_LEN + 1], manifest[IMG_DIGEST_LEN + 1];
	char chain[2][IMG_DIGEST_LEN + 1];
	bool second_layer; /* made in the store */
};

static void put(json_object *o, const char *key, json_object *v) { json_object_object_add(o, key, v); }

static json_object *strings(const char *a, const char *b)
{
	json_object *v = json_object_new_array();
	if (a)
		json_object_array_add(v, json_object_new_string(a));
	if (b)
		json_object_array_add(v, json_object_new_string(b));
	return v;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0 ||
	    crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_VOLATILE, NULL) < 0)
		_exit(99);
	free(path);
}

/* What a pull of REF with two layers makes in the store, and the messages saying so. */
static void honest_pull(const char *root, const char *config_text, bool second_layer, struct pull_msgs *m)
{
	char dir[4096], diff[2][IMG_DIGEST_LEN + 1];
	img_digest_buf("layer one", 9, diff[0]);
	img_digest_buf("layer two", 9, diff[1]);
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), config_text, diff[0], diff[1]);
	img_digest_buf(cfg, strlen(cfg), m->config_id);
	const char *manifest_text = "{\"schemaVersion\":2}";
	img_digest_buf(manifest_text, strlen(manifest_text), m->manifest);
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", root);
	write_file(dir, m->config_id + 7, cfg);
	write_file(dir, m->manifest + 7, manifest_text);
	for (int i = 0; i < 2; i++) {
		img_chain_id(i ? m->chain[0] : NULL, diff[i], m->chain[i]);
		snprintf(dir, sizeof(dir), "%s/layers/%s", root, m->chain[i] + 7);
		if (i == 1 && !second_layer) { /* an earlier scenario made it */
			crix_remove_tree(dir, NULL);
			break;
		}
		char meta[512];
		snprintf(meta, sizeof(meta), "{\"chain_id\":\"%s\",\"diff_id\":\"%s\",\"digest\":\"%s\",\"size\":0}",
			 m->chain[i], diff[i], diff[i]);
		if (crix_mkdir_p(dir, 0755, NULL) < 0)
			_exit(99);
		write_file(dir, "meta.json", meta);
	}
	m->pin = json_object_new_object();
	json_object *keys = strings(m->manifest, m->config_id);
	json_object_array_add(keys, json_object_new_string(m->chain[0]));
	json_object_array_add(keys, json_object_new_string(m->chain[1]));
	put(m->pin, "pin", keys);
	m->record = json_object_new_object();
	char rd[256];
	snprintf(rd, sizeof(rd), NAME "@%s", m->manifest);
	put(m->record, "id", json_object_new_string(m->config_id));
	put(m->record, "repo_tags", strings(REF, NULL));
	put(m->record, "repo_digests", strings(rd, NULL));
	put(m->record, "size", json_object_new_int64((int64_t)strlen(cfg) + 1000));
	put(m->record, "user", json_object_new_string("app"));
	put(m->record, "config", json_object_new_string(cfg));
	put(m->record, "layers", strings(m->chain[0], m->chain[1]));
	put(m->record, "blobs", strings(m->manifest, m->config_id));
	m->done = json_object_new_object();
	put(m->done, "done", json_object_new_string(m->config_id));
	put(m->done, "record", json_object_get(m->record));
}

#define CONFIG "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"app\"}," \
	       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}"

static void send_raw(const void *data, size_t len)
{
	if (crix_write_all(OWNER_FD, data, len) < 0)
		_exit(98);
}

static void send_text(const char *text)
{
	uint32_t head = htonl((uint32_t)strlen(text));
	send_raw(&head, sizeof(head));
	send_raw(text, strlen(text));
}

static void send_msg(json_object *msg)
{
	if (img_msg_send(OWNER_FD, msg, NULL) < 0)
		_exit(97);
}

/* An error answer ends the pull, as it does crix-pull's. */
static void ask(json_object *msg)
{
	send_msg(msg);
	json_object *reply;
	if (img_msg_recv(OWNER_FD, &reply, NULL) < 0)
		_exit(96); /* crixd refused the conversation */
	if (json_object_object_get_ex(reply, "error", NULL)) { /* as img_fetch wraps it */
		char text[8192];
		snprintf(text, sizeof(text), "pull " REF ": %s", img_json_str(reply, "error"));
		put(reply, "error", json_object_new_string(text));
		send_msg(reply);
		_exit(1);
	}
	json_object_put(reply);
}

/* A layer being unpacked, and {"opaque": its diff/, "rel": rel}. */
static json_object *opaque(const char *root, const char *rel)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tmp/layer-Opaq01/diff/sub", root);
	if (crix_mkdir_p(dir, 0755, NULL) < 0)
		_exit(99);
	*strrchr(dir, '/') = '\0';
	json_object *o = json_object_new_object();
	put(o, "opaque", json_object_new_string(dir));
	put(o, "rel", json_object_new_string(rel));
	return o;
}

static json_object *nested(int depth)
{
	json_object *v = json_object_new_array();
	for (int i = 0; i < depth; i++) {
		json_object *outer = json_object_new_array();
		json_object_array_add(outer, v);
		v = outer;
	}
	return v;
}

/* The scenarios: what the stand-in changes in an honest pull's messages. */
static void play(const char *scenario, const char *root)
{
	struct pull_msgs m = {0};
	const bool second = strcmp(scenario, "layer-not-in-store") != 0;
	honest_pull(root, CONFIG, second, &m);
	json_object *rec = m.record, *pin_keys = json_object_object_get(m.pin, "pin");
	char other[IMG_DIGEST_LEN + 1];
	img_digest_buf("other", 5, other);
#define IS(name) (strcmp(scenario, name) == 0)
	if (IS("pin-dotdot"))
		json_object_array_put_idx(pin_keys, 0, json_object_new_string("../../etc"));
	else if (IS("pin-not-string"))
		json_object_array_put_idx(pin_keys, 0, json_object_new_int(5));
	else if (IS("pin-not-list"))
		put(m.pin, "pin", json_object_new_string(m.manifest));
	else if (IS("pin-too-many"))
		for (int i = 0; i < 70000; i++)
			json_object_array_add(pin_keys, json_object_new_string(m.manifest));
	else if (IS("pin-extra-member"))
		put(m.pin, "path", json_object_new_string("/etc"));
	else if (IS("chain-not-hex"))
		put(rec, "layers", strings(m.chain[0], "sha256:../../../etc"));
	else if (IS("chain-not-the-configs"))
		put(rec, "layers", strings(m.chain[1], m.chain[0]));
	else if (IS("layers-not-strings"))
		put(rec, "layers", nested(1));
	else if (IS("tags-not-strings")) {
		json_object *tags = json_object_new_array();
		json_object_array_add(tags, json_object_new_int(5));
		put(rec, "repo_tags", tags);
	} else if (IS("tags-of-another-image"))
		put(rec, "repo_tags", strings("docker.io/library/nginx:latest", NULL));
	else if (IS("tags-two"))
		put(rec, "repo_tags", strings(REF, "docker.io/library/nginx:latest"));
	else if (IS("digests-of-another-repo")) {
		char rd[256];
		snprintf(rd, sizeof(rd), "docker.io/library/nginx@%s", m.manifest);
		put(rec, "repo_digests", strings(rd, NULL));
	} else if (IS("digests-manifest-not-in-store")) {
		char rd[256];
		snprintf(rd, sizeof(rd), NAME "@%s", other);
		put(rec, "repo_digests", strings(rd, NULL));
	} else if (IS("id-path"))
		put(rec, "id", json_object_new_string("../../etc/passwd"));
	else if (IS("id-not-the-configs"))
		put(rec, "id", json_object_new_string(other));
	else if (IS("config-not-object")) {
		char id[IMG_DIGEST_LEN + 1];
		img_digest_buf("[1]", 3, id);
		put(rec, "config", json_object_new_string("[1]"));
		put(rec, "id", json_object_new_string(id));
		put(m.done, "done", json_object_new_string(id));
	} else if (IS("config-not-string"))
		put(rec, "config", json_object_new_object());
	else if (IS("user-not-config"))
		put(rec, "user", json_object_new_string("root"));
	else if (IS("size-negative"))
		put(rec, "size", json_object_new_int(-1));
	else if (IS("size-string"))
		put(rec, "size", json_object_new_string("1000"));
	else if (IS("blobs-path"))
		put(rec, "blobs", strings(m.manifest, "../../x"));
	else if (IS("blobs-without-config"))
		put(rec, "blobs", strings(m.manifest, NULL));
	else if (IS("record-unknown-member"))
		put(rec, "path", json_object_new_string("/etc"));
	else if (IS("done-other-id"))
		put(m.done, "done", json_object_new_string(other));
	else if (IS("done-without-record"))
		json_object_object_del(m.done, "record");
	else if (IS("done-not-string"))
		put(m.done, "done", json_object_new_int(1));
	if (IS("huge")) {
		uint32_t head = htonl(0xffffffffu);
		send_raw(&head, sizeof(head));
		_exit(0);
	}
	if (IS("cut-short")) {
		uint32_t head = htonl(100);
		send_raw(&head, sizeof(head));
		send_raw("{\"pin\":", 7);
		_exit(0);
	}
	if (IS("nested")) {
		json_object *o = json_object_new_object();
		put(o, "pin", nested(200));
		send_text(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		_exit(0);
	}
	if (IS("not-an-object")) {
		send_text("[\"pin\"]");
		_exit(0);
	}
	if (IS("trailing-garbage")) {
		send_text("{\"pin\":[]} {}");
		_exit(0);
	}
	if (IS("nul-inside")) {
		static const char text[] = "{\"pin\":\0[]}";
		uint32_t head = htonl(sizeof(text) - 1);
		send_raw(&head, sizeof(head));
		send_raw(text, sizeof(text) - 1);
		_exit(0);
	}
	if (IS("unknown-message")) { /* the commit of the old conversation */
		json_object *o = json_object_new_object();
		put(o, "commit", json_object_get(rec));
		send_msg(o);
		_exit(0);
	}
	if (IS("token-not-string") || IS("token-life-not-integer")) {
		json_object *o = json_object_new_object();
		put(o, "token_put", json_object_new_string("realm\nscope\n"));
		put(o, "token", IS("token-not-string") ? json_object_new_int(5) : json_object_new_string("t"));
		put(o, "expires_in", IS("token-not-string") ? json_object_new_int(60) : json_object_new_string("forever"));
		send_msg(o);
		_exit(0);
	}
	if (IS("error-malformed")) { /* a failure all the same, with what can be told of it */
		json_object *o = json_object_new_object();
		put(o, "error", json_object_new_int(5));
		put(o, "errno", json_object_new_int(-3));
		send_msg(o);
		_exit(1);
	}
	if (IS("error-not-found")) {
		json_object *o = json_object_new_object();
		put(o, "error", json_object_new_string("pull " REF ": manifest unknown (404)"));
		put(o, "errno", json_object_new_int(ENOENT));
		put(o, "kind", json_object_new_string("not_found"));
		send_msg(o);
		_exit(1);
	}
	ask(m.pin);
	if (IS("opaque-outside-tmp")) {
		json_object *o = opaque(root, "");
		put(o, "opaque", json_object_new_string("/etc"));
		ask(o);
	}
	ask(opaque(root, IS("opaque-escaping") ? "../../.." : "sub"));
	send_msg(m.done);
	if (IS("message-after-done"))
		send_msg(m.pin);
	_exit(IS("exit-status-after-done") ? 3 : 0);
}

static int fake_crix_pull(void)
{
	json_object *req;
	const char *scenario = getenv(SCENARIO_ENV);
	if (scenario == NULL || img_msg_recv(OWNER_FD, &req, NULL) < 0)
		return 95;
	play(scenario, img_json_str(req, "root"));
	return 0;
}

/* ---- crixd's side ---- */

struct hostile {
	const char *scenario;
	const char *error; /* in the pull's error */
};

static const struct hostile hostile[] = {
	{"pin-dotdot", "crix-pull pinned \"../../etc\", which is not a sha256 digest"},
	{"pin-not-string", "crix-pull pinned \"5\", which is not a sha256 digest"},
	{"pin-not-list", "crix-pull sent a pin that is not a list"},
	{"pin-too-many", "crix-pull pinned more than 65536 keys"},
	{"pin-extra-member", "crix-pull sent an unknown message"},
	{"chain-not-hex", "bad record: layers[1]: \"sha256:../../../etc\" is not the chain id of the config's layers"},
	{"chain-not-the-configs", "bad record: layers[0]: "},
	{"layers-not-strings", "bad record: layers[0]: not a string"},
	{"layer-not-in-store", "is not in the store"},
	{"tags-not-strings", "bad record: repo_tags[0]: not a string"},
	{"tags-of-another-image", "bad record: repo_tags: not [\"" REF "\"] as pulled"},
	{"tags-two", "bad record: repo_tags: 2 entries, more than 1"},
	{"digests-of-another-repo", "bad record: repo_digests: not one " NAME "@<digest>"},
	{"digests-manifest-not-in-store", "is not in the store"},
	{"id-path", "bad record: id: not a sha256 digest"},
	{"id-not-the-configs", "bad record: config: its digest sha256:"},
	{"config-not-object", "bad record: config: not a JSON object"},
	{"config-not-string", "bad record: config: not a string"},
	{"user-not-config", "bad record: user: not the config's User"},
	{"size-negative", "bad record: size: not an integer of at least the config's size"},
	{"size-string", "bad record: size: not an integer"},
	{"blobs-path", "bad record: blobs[1]: \"../../x\" is not a sha256 digest"},
	{"blobs-without-config", "bad record: blobs: without the config or the manifest"},
	{"record-unknown-member", "bad record: unknown member \"path\""},
	{"done-other-id", "crix-pull said done with sha256:"},
	{"done-without-record", "crix-pull said done without an image id and a record"},
	{"done-not-string", "crix-pull said done without an image id and a record"},
	{"message-after-done", "crix-pull sent a message after its last"},
	{"exit-status-after-done", "crix-pull ended with wait status 0x300 after done"},
	{"huge", "receive message: 4294967295 bytes"},
	{"cut-short", "receive message: cut short"},
	{"nested", "receive message: not a JSON object: not JSON: nesting too deep"},
	{"not-an-object", "receive message: not a JSON object"},
	{"trailing-garbage", "receive message: not a JSON object: not JSON: trailing data at byte 11"},
	{"nul-inside", "receive message: not a JSON object: not JSON: holds a NUL byte"},
	{"unknown-message", "crix-pull sent an unknown message"},
	{"token-not-string", "crix-pull sent a malformed token"},
	{"token-life-not-integer", "crix-pull sent a malformed token"},
	{"opaque-outside-tmp", "crix-pull asked to mark /etc opaque, which is not in a layer being unpacked"},
	{"opaque-escaping", "/tmp/layer-Opaq01/diff/../../.. opaque: Invalid cross-device link"},
};

static size_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static size_t n_images(struct img_store *s)
{
	struct img_image **v = NULL;
	size_t n = 0;
	if (img_list(s, NULL, &v, &n, NULL) < 0)
		return (size_t)-1;
	img_image_list_free(v, n);
	return n;
}

static int pull(struct img_store *s, const char *scenario, char **id, struct crix_err **err)
{
	setenv(SCENARIO_ENV, scenario, 1);
	return img_pull(s, REF, NULL, id, err);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--log-level") == 0) /* started by img_pull */
		return fake_crix_pull();
	char root[] = "/tmp/crix-test-pull-XXXXXX", self[4096], images[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (mkdtemp(root) == NULL || n < 0)
		return 1;
	self[n] = '\0';
	snprintf(images, sizeof(images), "%s/images", root);
	struct img_store_opts o = {.root = root, .pull_helper = self};
	struct img_store *s = NULL;
	struct crix_err *err = NULL;
	if (img_store_open(&o, &s, &err) < 0) {
		fprintf(stderr, "open: %s\n", crix_err_msg(err));
		return 1;
	}
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		char *id = NULL;
		int rc = pull(s, h->scenario, &id, &err);
		CHECK(rc < 0, "%s: the pull succeeded", h->scenario);
		CHECK(rc < 0 && strstr(crix_err_msg(err), h->error) != NULL, "%s: error \"%s\", want \"%s\"", h->scenario,
		      crix_err_msg(err), h->error);
		CHECK(rc < 0 && strncmp(crix_err_msg(err), "pull " REF ": ", strlen("pull " REF ": ")) == 0,
		      "%s: error \"%s\" does not name the pull", h->scenario, crix_err_msg(err));
		CHECK(n_images(s) == 0 && count_dir(images) == 0, "%s: the store has a record", h->scenario);
		CHECK(s->pull_pins.n == 0, "%s: %zu pins left", h->scenario, s->pull_pins.n);
		free(id);
		crix_err_free(&err);
	}
	/* its error, with its kind, is the pull's */
	char *id = NULL;
	CHECK(pull(s, "error-not-found", &id, &err) < 0 && err->errnum == ENOENT &&
		      img_err_kind(err) == IMG_ERR_NOT_FOUND &&
		      strcmp(crix_err_msg(err), "pull " REF ": manifest unknown (404)") == 0,
	      "error-not-found: %s (errno %d, kind %d)", crix_err_msg(err), err ? err->errnum : 0, img_err_kind(err));
	crix_err_free(&err);
	CHECK(pull(s, "error-malformed", &id, &err) < 0 && err->errnum == EIO && img_err_kind(err) == IMG_ERR_OTHER &&
		      strcmp(crix_err_msg(err), "failed") == 0,
	      "error-malformed: %s (errno %d)", crix_err_msg(err), err ? err->errnum : 0);
	crix_err_free(&err);
	/* a pin the store cannot hold fails the pull (crix-pull must not go on unpinned), all or none */
	strv_add_fails_on = &s->pull_pins;
	CHECK(pull(s, "honest", &id, &err) < 0 && err->errnum == ENOMEM && strstr(crix_err_msg(err), "pin sha256:"),
	      "honest, pins failing: %s (errno %d)", crix_err_msg(err), err ? err->errnum : 0);
	strv_add_fails_on = NULL;
	CHECK(s->pull_pins.n == 0, "honest, pins failing: %zu pins left", s->pull_pins.n);
	CHECK(n_images(s) == 0, "honest, pins failing: recorded");
	crix_err_free(&err);
	free(id);
	id = NULL;
	/* the honest pull is committed: the failures above were the scenarios' */
	CHECK(pull(s, "honest", &id, &err) == 0, "honest: %s", crix_err_msg(err));
	struct img_image *im = NULL;
	CHECK(id && img_status(s, REF, &im, NULL) == 0 && im && strcmp(im->id, id) == 0 && im->n_layers == 2 &&
		      strcmp(im->user, "app") == 0,
	      "honest: not recorded");
	CHECK(s->pull_pins.n == 0, "honest: %zu pins left", s->pull_pins.n);
	char opq[4200], v[2] = "";
	snprintf(opq, sizeof(opq), "%s/tmp/layer-Opaq01/diff/sub", root);
	CHECK(getxattr(opq, "trusted.overlay.opaque", v, 1) == 1 && v[0] == 'y', "honest: %s not marked opaque", opq);
	CHECK(getxattr(root, "trusted.overlay.opaque", v, 1) < 0, "opaque-escaping: %s marked opaque", root);
	img_image_free(im);
	free(id);
	crix_err_free(&err);
	img_store_close(s);
	crix_remove_tree(root, NULL);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
