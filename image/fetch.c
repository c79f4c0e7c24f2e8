/* The pull as crix-pull runs it: endpoints (mirrors, then the registry), credentials, manifest
 * resolution (index -> this platform), config, parallel layer downloads streamed through
 * SHA-256 into temp files and into the unpacker at the same time, then the image record,
 * which the store's owner commits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "img_internal.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ---- endpoints and credentials ---- */

static void endpoint_clear(struct img_endpoint *ep)
{
	free(ep->name);
	free(ep->host);
	free(ep->repo);
	memset(ep, 0, sizeof(*ep));
}

static int endpoint_set(struct img_endpoint *ep, const char *name, bool insecure, bool mirror)
{
	size_t n = strcspn(name, "/");
	if (name[n] != '/')
		return -1;
	ep->name = strdup(name);
	ep->host = strcmp(name, "docker.io") == 0 || strncmp(name, "docker.io/", 10) == 0
			   ? strdup("registry-1.docker.io")
			   : strndup(name, n);
	ep->repo = strdup(name + n + 1);
	ep->insecure = insecure;
	ep->mirror = mirror;
	return ep->name && ep->host && ep->repo ? 0 : -1;
}

/* The mirrors of the longest matching registry prefix, in order, then the registry itself. */
static int endpoints_for(const struct img_settings *set, const char *name, struct img_endpoint **out, size_t *n,
			 struct crix_err **err)
{
	const struct img_registry *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < set->n; i++) {
		const char *p = set->v[i].prefix;
		size_t len = strlen(p);
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == 0 || strncmp(name, p, len) != 0 || (name[len] != '\0' && name[len] != '/'))
			continue;
		if (best == NULL || len > best_len) {
			best = &set->v[i];
			best_len = len;
		}
	}
	size_t count = (best ? best->n_mirrors : 0) + 1, k = 0;
	struct img_endpoint *v = calloc(count, sizeof(*v));
	int rc = v ? 0 : -1;
	for (size_t i = 0; rc == 0 && best && i < best->n_mirrors; i++) {
		_cleanup_free_ char *mname = NULL;
		const char *loc = best->mirrors[i].location;
		size_t ll = strlen(loc);
		while (ll > 0 && loc[ll - 1] == '/')
			ll--;
		if (asprintf(&mname, "%.*s%s", (int)ll, loc, name + best_len) < 0)
			rc = -1;
		else if (endpoint_set(&v[k], mname, best->mirrors[i].insecure, true) < 0)
			crix_warn("mirror %s of %s: cannot address %s, skipped", loc, best->prefix, mname);
		else
			k++;
	}
	if (rc == 0 && endpoint_set(&v[k++], name, best ? best->insecure : false, false) < 0)
		rc = -1;
	if (rc < 0) {
		for (size_t i = 0; v && i < count; i++)
			endpoint_clear(&v[i]);
		free(v);
		return crix_err_make(err, ENOMEM, "registry endpoints");
	}
	*out = v;
	*n = k;
	return 0;
}

static char *b64_decode(const char *in)
{
	size_t n = strlen(in);
	unsigned char *out = malloc(n / 4 * 3 + 4);
	if (out == NULL)
		return NULL;
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	while (n > 0 && in[n - 1] == '=') { /* DecodeBlock counts padding as zero bytes */
		n--;
		len--;
	}
	out[len] = '\0';
	return (char *)out;
}

static int creds_from_userpass(struct img_creds *c, const char *user, const char *pass, const char *auth)
{
	if (auth && *auth) {
		char *plain = b64_decode(auth);
		char *colon = plain ? strchr(plain, ':') : NULL;
		if (colon == NULL) {
			free(plain);
			return -1;
		}
		*colon = '\0';
		c->username = strdup(plain);
		c->password = strdup(colon + 1);
		OPENSSL_cleanse(colon + 1, strlen(colon + 1));
		free(plain);
	} else if (user && *user) {
		c->username = strdup(user);
		c->password = strdup(pass ? pass : "");
	}
	return 0;
}

/* "https://index.docker.io/v1/" -> "index.docker.io" */
static bool auth_key_matches(const char *key, const char *host)
{
	const char *k = strstr(key, "://");
	k = k ? k + 3 : key;
	size_t n = strcspn(k, "/");
	if (strlen(host) == n && strncmp(k, host, n) == 0)
		return true;
	bool key_hub = (n == 15 && !strncmp(k, "index.docker.io", n)) || (n == 9 && !strncmp(k, "docker.io", n)) ||
		       (n == 20 && !strncmp(k, "registry-1.docker.io", n));
	return key_hub && strcmp(host, "registry-1.docker.io") == 0;
}

static bool nonempty(const char *s) { return s != NULL && *s != '\0'; }

static void creds_from_auth_file(const char *auth_file, const char *host, struct img_creds *c)
{
	if (auth_file[0] == '\0')
		return;
	_cleanup_free_ char *text = NULL;
	_cleanup_err_ struct crix_err *rerr = NULL;
	if (crix_read_file(auth_file, 4 << 20, &text, NULL, &rerr) < 0) {
		crix_warn("auth file: %s", crix_err_msg(rerr));
		return;
	}
	json_object *o = json_tokener_parse(text), *auths;
	OPENSSL_cleanse(text, strlen(text));
	if (o == NULL || !json_object_object_get_ex(o, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
		if (o == NULL)
			crix_warn("auth file %s: not JSON", auth_file);
		json_object_put(o);
		return;
	}
	json_object_object_foreach(auths, key, entry)
	{
		if (!auth_key_matches(key, host) || !json_object_is_type(entry, json_type_object))
			continue;
		if (creds_from_userpass(c, img_json_str(entry, "username"), img_json_str(entry, "password"),
					img_json_str(entry, "auth")) < 0)
			crix_warn("auth file %s: entry for %s has an invalid \"auth\"", auth_file, key);
		const char *identity = img_json_str(entry, "identitytoken"), *registry = img_json_str(entry, "registrytoken");
		if (nonempty(identity))
			c->identity_token = strdup(identity);
		if (nonempty(registry))
			c->registry_token = strdup(registry);
		break;
	}
	json_object_put(o);
}

/* The request's AuthConfig goes to the registry the image is named after (and to a mirror
 * only when its server_address names that mirror); the auth file is looked up by the host
 * actually contacted. Credentials are never sent to a host they were not given for. */
static int creds_for(const struct img_settings *set, const struct img_endpoint *ep, const struct img_auth *a,
		     struct img_creds *c)
{
	memset(c, 0, sizeof(*c));
	bool use_request = false;
	if (a != NULL) {
		if (!ep->mirror)
			use_request = true;
		else if (nonempty(a->server_address))
			use_request = auth_key_matches(a->server_address, ep->host);
	}
	if (use_request && (nonempty(a->username) || nonempty(a->auth) || nonempty(a->identity_token) ||
			    nonempty(a->registry_token))) {
		if (creds_from_userpass(c, a->username, a->password, a->auth) < 0)
			return -1;
		if (nonempty(a->identity_token))
			c->identity_token = strdup(a->identity_token);
		if (nonempty(a->registry_token))
			c->registry_token = strdup(a->registry_token);
		return 0;
	}
	creds_from_auth_file(set->auth_file, ep->host, c);
	return 0;
}

/* ---- manifests ---- */

static void this_platform(const char **arch, const char **variant)
{
	static __thread struct utsname u;
	uname(&u);
	*variant = NULL;
	if (!strcmp(u.machine, "x86_64"))
		*arch = "amd64";
	else if (!strcmp(u.machine, "aarch64")) {
		*arch = "arm64";
		*variant = "v8";
	} else if (!strncmp(u.machine, "armv7", 5)) {
		*arch = "arm";
		*variant = "v7";
	} else if (!strncmp(u.machine, "armv6", 5)) {
		*arch = "arm";
		*variant = "v6";
	} else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
		*arch = "386";
	else
		*arch = u.machine; /* ppc64le, s390x, riscv64 match GOARCH */
}

/* From an index, the digest of the manifest for linux/<arch>[/variant]: an exact variant
 * beats an entry without one; never just the first entry. */
static int pick_platform(json_object *index, char *digest, struct crix_err **err)
{
	const char *arch, *variant;
	this_platform(&arch, &variant);
	json_object *list;
	if (!json_object_object_get_ex(index, "manifests", &list) || !json_object_is_type(list, json_type_array))
		return crix_err_make(err, EPROTO, "index without manifests");
	int best = -1, best_score = 0;
	char have[512] = "";
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *m = json_object_array_get_idx(list, i), *p;
		if (!json_object_object_get_ex(m, "platform", &p))
			continue;
		const char *os = img_json_str(p, "os"), *a = img_json_str(p, "architecture"), *v = img_json_str(p, "variant");
		size_t hl = strlen(have);
		snprintf(have + hl, sizeof(have) - hl, "%s%s/%s%s%s", hl ? ", " : "", os ? os : "?", a ? a : "?",
			 v ? "/" : "", v ? v : "");
		if (os == NULL || a == NULL || strcmp(os, "linux") != 0 || strcmp(a, arch) != 0)
			continue;
		int score = v == NULL ? 1 : (variant && !strcmp(v, variant)) ? 2 : 0;
		if (score > best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	if (best < 0)
		return crix_err_make(err, ENOENT, "no image for linux/%s%s%s in the index (it has %s)", arch,
				     variant ? "/" : "", variant ? variant : "", have[0] ? have : "no platforms");
	const char *d = img_json_str(json_object_array_get_idx(list, best), "digest");
	if (d == NULL || img_digest_check(d, err) < 0)
		return crix_err_make(err, EPROTO, "index entry for linux/%s has no valid digest", arch);
	snprintf(digest, IMG_DIGEST_LEN + 1, "%s", d);
	return 0;
}

/* Fetches a manifest, verifies the digest when one is expected, stores it as a blob. */
static int fetch_manifest(struct img_client *c, const char *reference, const char *want_digest, json_object **out,
			  char *digest, char **media_type, struct crix_err **err)
{
	_cleanup_free_ char *body = NULL, *ct = NULL;
	size_t len = 0;
	if (img_client_manifest(c, reference, &body, &len, &ct, err) < 0)
		return -1;
	img_digest_buf(body, len, digest);
	if (want_digest != NULL && strcmp(digest, want_digest) != 0)
		return crix_err_make(err, EIO, "manifest %s: content has digest %s", want_digest, digest);
	json_object *o = json_tokener_parse(body);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return crix_err_make(err, EPROTO, "manifest %s: not a JSON object", reference);
	}
	json_object *v;
	if (json_object_object_get_ex(o, "schemaVersion", &v) && json_object_get_int(v) == 1) {
		json_object_put(o);
		return crix_err_make(err, ENOTSUP,
				     "manifest %s is Docker schema 1, which is not supported (push it again as "
				     "schema 2 or OCI)",
				     reference);
	}
	/* mediaType is optional in OCI manifests; registries may say application/json */
	const char *mt = img_json_str(o, "mediaType");
	if (mt == NULL && strcmp(ct, MT_OCI_INDEX) && strcmp(ct, MT_OCI_MANIFEST) && strcmp(ct, MT_DOCKER_LIST) &&
	    strcmp(ct, MT_DOCKER_MANIFEST))
		mt = json_object_object_get_ex(o, "manifests", &v) ? MT_OCI_INDEX
		     : json_object_object_get_ex(o, "layers", &v)  ? MT_OCI_MANIFEST
								   : NULL;
	*media_type = strdup(mt ? mt : ct);
	if (img_blob_write(c->store, digest, body, len, err) < 0) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* ---- layers ---- */

struct layer {
	char digest[IMG_DIGEST_LEN + 1];
	char diff_id[IMG_DIGEST_LEN + 1];
	char chain_id[IMG_DIGEST_LEN + 1];
	int64_t size;
	int comp;
};

struct pull {
	struct img_store *store;
	struct img_client *client;
	struct layer *layers;
	size_t n_layers;
	pthread_mutex_t lock;
	size_t next;
	struct crix_err *err; /* first failure */
};

/* Download sink: SHA-256 and the unpacker's socket when streaming, else a temp file. */
struct download {
	const struct layer *layer;
	int file_fd; /* -1 when streaming */
	int sock;    /* -1 when not streaming */
	EVP_MD_CTX *md;
	uint64_t bytes;
	struct crix_err *err;
};

static int download_write(void *arg, const void *data, size_t len)
{
	struct download *d = arg;
	if ((int64_t)(d->bytes + len) > d->layer->size)
		return crix_err_make(&d->err, EIO, "blob %s: larger than the %lld bytes the manifest says",
				     d->layer->digest, (long long)d->layer->size);
	if (d->file_fd >= 0 && crix_write_all(d->file_fd, data, len) < 0)
		return crix_err_make(&d->err, errno, "blob %s: write temp file", d->layer->digest);
	EVP_DigestUpdate(d->md, data, len);
	d->bytes += len;
	for (const char *p = data; d->sock >= 0 && len > 0;) {
		ssize_t n = send(d->sock, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return crix_err_make(&d->err, EPIPE, "unpack stopped");
		p += n;
		len -= n;
	}
	return 0;
}

static int download_restart(void *arg)
{
	struct download *d = arg;
	if (d->sock >= 0) /* the unpacker already consumed the bytes */
		return -1;
	if (ftruncate(d->file_fd, 0) < 0 || lseek(d->file_fd, 0, SEEK_SET) < 0)
		return -1;
	EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
	d->bytes = 0;
	return 0;
}

struct unpack_job {
	int fd;
	int comp;
	const char *dir;
	char diff_id[IMG_DIGEST_LEN + 1];
	uint64_t size;
	int rc;
	struct crix_err *err;
};

static void *unpack_thread(void *arg)
{
	struct unpack_job *j = arg;
	j->rc = img_unpack(j->fd, j->comp, j->dir, j->diff_id, &j->size, &j->err);
	close(j->fd); /* a sender still writing gets EPIPE */
	return NULL;
}

static int write_layer_meta(const char *dir, const struct layer *l, uint64_t size, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	if (asprintf(&path, "%s/meta.json", dir) < 0 ||
	    asprintf(&text, "{\"chain_id\":\"%s\",\"diff_id\":\"%s\",\"digest\":\"%s\",\"size\":%llu}\n", l->chain_id,
		     l->diff_id, l->digest, (unsigned long long)size) < 0)
		return crix_err_make(err, ENOMEM, "layer meta");
	return crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err);
}

/* The unpacker's verdict: its own error, or a diff_id that differs from the config's. */
static int unpack_checked(const struct layer *l, struct unpack_job *job, struct crix_err **err)
{
	if (job->rc < 0) {
		*err = steal_ptr(job->err);
		return -1;
	}
	if (strcmp(job->diff_id, l->diff_id) != 0)
		return crix_err_make(err, EIO, "layer %s: uncompressed content has digest %s, the config says %s",
				     l->digest, job->diff_id, l->diff_id);
	return 0;
}

/* Downloads blob l and unpacks it into a temp dir renamed to layers/<chain> when both the
 * blob's digest and the diff_id matched. Streaming, the bytes go from the download straight
 * into the unpacker (another thread, through a socket pair); otherwise into a temp file that
 * is unpacked afterwards. The compressed blob is not kept: the unpacked layer is the data. */
static int fetch_layer_once(struct pull *p, const struct layer *l, bool stream, struct crix_err **err)
{
	struct img_store *s = p->store;
	_cleanup_free_ char *tmpdir = NULL, *diff = NULL, *final = NULL;
	_cleanup_free_ char *blob_tmp = NULL;
	if (img_path_layer(s, l->chain_id, IMG_LAYER_DIR, &final, err) < 0)
		return crix_err_wrap(err, "layer %s", l->digest);
	if (asprintf(&tmpdir, "%s/layer-XXXXXX", s->tmp_dir) < 0 || mkdtemp(tmpdir) == NULL ||
	    asprintf(&diff, "%s/diff", tmpdir) < 0 || mkdir(diff, 0755) < 0)
		return crix_err_make(err, errno ? errno : ENOMEM, "layer %s: temp dir", l->digest);
	int rc = -1, sv[2] = {-1, -1};
	pthread_t th;
	bool threaded = false;
	struct unpack_job job = {.fd = -1, .comp = l->comp, .dir = diff};
	struct download d = {.layer = l, .file_fd = -1, .sock = -1, .md = EVP_MD_CTX_new()};
	struct crix_err *dl_err = NULL;
	if (d.md == NULL) {
		crix_err_make(err, ENOMEM, "layer");
		goto out;
	}
	EVP_DigestInit_ex(d.md, EVP_sha256(), NULL);
	if (stream && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		int big = 1 << 20;
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		job.fd = sv[0];
		d.sock = sv[1];
		threaded = pthread_create(&th, NULL, unpack_thread, &job) == 0;
		if (!threaded) {
			close(sv[0]);
			close(sv[1]);
			d.sock = -1;
		}
	}
	if (!threaded && (d.file_fd = img_tmp_file(s, "blob", &blob_tmp, err)) < 0)
		goto out;
	struct img_blob_sink sink = {download_write, download_restart, &d};
	int dl_rc = img_client_blob(p->client, l->digest, &sink, &dl_err);
	if (threaded) {
		close(d.sock);
		pthread_join(th, NULL);
	}
	char got[IMG_DIGEST_LEN + 1];
	img_digest_final(d.md, got);
	if (dl_rc < 0) {
		if (d.err != NULL && d.err->errnum == EPIPE && threaded && job.rc < 0)
			*err = steal_ptr(job.err); /* the unpacker refused the layer */
		else
			*err = d.err != NULL ? steal_ptr(d.err) : steal_ptr(dl_err);
		if (strstr((*err)->msg, "layer entry") == NULL)
			crix_err_wrap(err, "blob %s", l->digest);
		goto out;
	}
	if ((int64_t)d.bytes != l->size || strcmp(got, l->digest) != 0) {
		crix_err_make(err, EIO, "blob %s: downloaded %llu bytes with digest %s (expected %lld bytes)", l->digest,
			      (unsigned long long)d.bytes, got, (long long)l->size);
		goto out;
	}
	if (!threaded) {
		if (lseek(d.file_fd, 0, SEEK_SET) < 0) {
			crix_err_make(err, errno, "blob %s: rewind", l->digest);
			goto out;
		}
		job.rc = img_unpack(d.file_fd, l->comp, diff, job.diff_id, &job.size, &job.err);
	}
	if (unpack_checked(l, &job, err) < 0 || write_layer_meta(tmpdir, l, job.size, err) < 0)
		goto out;
	if (rename(tmpdir, final) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
		crix_err_make(err, errno, "layer %s: rename into %s", l->digest, final);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0 && err && *err && strstr((*err)->msg, l->digest) == NULL)
		crix_err_wrap(err, "layer %s", l->digest);
	EVP_MD_CTX_free(d.md);
	crix_err_free(&d.err);
	crix_err_free(&dl_err);
	crix_err_free(&job.err);
	if (d.file_fd >= 0)
		close(d.file_fd);
	if (blob_tmp)
		unlink(blob_tmp);
	_cleanup_err_ struct crix_err *rmerr = NULL;
	if (access(tmpdir, F_OK) == 0 && crix_remove_tree(tmpdir, &rmerr) < 0)
		crix_warn("%s", crix_err_msg(rmerr));
	return rc;
}

static bool retryable(const struct crix_err *e)
{
	return e && (e->errnum == ECONNRESET || e->errnum == ETIMEDOUT || e->errnum == EAGAIN ||
		     e->errnum == ECONNREFUSED);
}

/* One layer, shared with identical concurrent pulls. A stream that broke mid-way is fetched
 * again into a file first (the unpacker cannot rewind). */
static int fetch_layer(struct pull *p, const struct layer *l, struct crix_err **err)
{
	if (img_layer_exists(p->store, l->chain_id))
		return 0;
	int lock = img_job_lock(p->store, l->chain_id, err);
	if (lock < 0)
		return -1;
	int rc = 0;
	if (!img_layer_exists(p->store, l->chain_id)) { /* else another pull did it meanwhile */
		rc = fetch_layer_once(p, l, !p->store->unpack_after_download, err);
		if (rc < 0 && retryable(*err) && !p->store->unpack_after_download &&
		    img_client_check_cancel(p->client, NULL) == 0) {
			crix_warn("%s; fetching it again", crix_err_msg(*err));
			crix_err_free(err);
			rc = fetch_layer_once(p, l, false, err);
		}
	}
	img_job_unlock(p->store, l->chain_id, lock);
	return rc;
}

static void *layer_worker(void *arg)
{
	struct pull *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next++;
		bool stop = i >= p->n_layers || p->err != NULL;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		struct crix_err *e = NULL;
		if (img_client_check_cancel(p->client, &e) < 0 || fetch_layer(p, &p->layers[i], &e) < 0) {
			pthread_mutex_lock(&p->lock);
			if (p->err == NULL)
				p->err = steal_ptr(e);
			pthread_mutex_unlock(&p->lock);
			crix_err_free(&e);
		}
	}
}

static int fetch_layers(struct img_store *s, unsigned max_parallel, struct img_client *c, struct layer *layers,
			size_t n, struct crix_err **err)
{
	struct pull p = {.store = s, .client = c, .layers = layers, .n_layers = n};
	pthread_mutex_init(&p.lock, NULL);
	size_t workers = max_parallel < n ? max_parallel : n;
	pthread_t th[64];
	size_t started = 0;
	for (; started + 1 < workers && started < 64; started++)
		if (pthread_create(&th[started], NULL, layer_worker, &p) != 0)
			break;
	layer_worker(&p); /* the calling thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.err != NULL) {
		crix_err_free(err);
		*err = p.err;
		return -1;
	}
	return 0;
}

/* ---- the pull ---- */

static int pull_from(struct img_store *s, const struct img_settings *set, const struct img_pull_host *host,
		     const struct img_ref *ref, const char *name, struct img_client *c, char **image_id,
		     struct crix_err **err)
{
	json_object *top = NULL, *man = NULL, *cfg = NULL;
	_cleanup_free_ char *top_mt = NULL, *man_mt = NULL, *cfg_text = NULL, *tag = NULL, *rd = NULL;
	char top_digest[IMG_DIGEST_LEN + 1], man_digest[IMG_DIGEST_LEN + 1];
	struct layer *layers = NULL;
	struct crix_strv pins = {0};
	struct img_record *rec = NULL;
	_cleanup_err_ struct crix_err *rerr = NULL;
	int rc = -1;
	if (fetch_manifest(c, ref->digest ? ref->digest : ref->tag, ref->digest, &top, top_digest, &top_mt, err) < 0)
		goto out;
	man = top;
	snprintf(man_digest, sizeof(man_digest), "%s", top_digest);
	if (!strcmp(top_mt, MT_OCI_INDEX) || !strcmp(top_mt, MT_DOCKER_LIST)) {
		char want[IMG_DIGEST_LEN + 1];
		if (pick_platform(top, want, err) < 0 ||
		    fetch_manifest(c, want, want, &man, man_digest, &man_mt, err) < 0)
			goto out;
		if (strcmp(man_mt, MT_OCI_MANIFEST) && strcmp(man_mt, MT_DOCKER_MANIFEST)) {
			crix_err_make(err, ENOTSUP, "manifest %s: unsupported media type \"%s\"", want, man_mt);
			goto out;
		}
	} else if (strcmp(top_mt, MT_OCI_MANIFEST) && strcmp(top_mt, MT_DOCKER_MANIFEST)) {
		crix_err_make(err, ENOTSUP, "manifest: unsupported media type \"%s\"", top_mt);
		goto out;
	}
	json_object *config, *jlayers, *v;
	const char *config_digest;
	if (!json_object_object_get_ex(man, "config", &config) || (config_digest = img_json_str(config, "digest")) == NULL ||
	    img_digest_check(config_digest, err) < 0 || !json_object_object_get_ex(man, "layers", &jlayers) ||
	    !json_object_is_type(jlayers, json_type_array)) {
		crix_err_make(err, EPROTO, "manifest %s: missing or invalid config or layers", man_digest);
		goto out;
	}
	/* Config: from the store if it verifies, else from the registry. */
	size_t cfg_len = 0;
	crix_err_free(&rerr);
	if (img_blob_read(s, config_digest, IMG_MAX_CONFIG, &cfg_text, &cfg_len, &rerr) < 0) {
		char got[IMG_DIGEST_LEN + 1];
		if (img_client_blob_mem(c, config_digest, IMG_MAX_CONFIG, &cfg_text, &cfg_len, err) < 0)
			goto out;
		img_digest_buf(cfg_text, cfg_len, got);
		if (strcmp(got, config_digest) != 0) {
			crix_err_make(err, EIO, "config blob %s: content has digest %s", config_digest, got);
			goto out;
		}
		if (img_blob_write(s, config_digest, cfg_text, cfg_len, err) < 0)
			goto out;
	}
	cfg = json_tokener_parse(cfg_text);
	json_object *rootfs, *diff_ids;
	if (cfg == NULL || !json_object_object_get_ex(cfg, "rootfs", &rootfs) ||
	    !json_object_object_get_ex(rootfs, "diff_ids", &diff_ids) || !json_object_is_type(diff_ids, json_type_array)) {
		crix_err_make(err, EPROTO, "config %s: no rootfs.diff_ids", config_digest);
		goto out;
	}
	size_t n = json_object_array_length(jlayers);
	if (json_object_array_length(diff_ids) != n) {
		crix_err_make(err, EPROTO, "config %s lists %zu layers, the manifest %zu", config_digest,
			      json_object_array_length(diff_ids), n);
		goto out;
	}
	layers = calloc(n ? n : 1, sizeof(*layers));
	if (layers == NULL) {
		crix_err_make(err, ENOMEM, "pull");
		goto out;
	}
	uint64_t total = cfg_len;
	for (size_t i = 0; i < n; i++) {
		json_object *jl = json_object_array_get_idx(jlayers, i);
		const char *d = img_json_str(jl, "digest"), *mt = img_json_str(jl, "mediaType");
		const char *diff = json_object_get_string(json_object_array_get_idx(diff_ids, i));
		if (d == NULL || img_digest_check(d, err) < 0 || diff == NULL || img_digest_check(diff, err) < 0 ||
		    !json_object_object_get_ex(jl, "size", &v)) {
			crix_err_make(err, EPROTO, "manifest %s: layer %zu has no valid digest, size or diff_id",
				      man_digest, i);
			goto out;
		}
		struct layer *l = &layers[i];
		snprintf(l->digest, sizeof(l->digest), "%s", d);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff);
		l->size = json_object_get_int64(v);
		l->comp = img_media_compression(mt);
		if (l->comp < 0 || l->size < 0) {
			crix_err_make(err, ENOTSUP, "layer %s: unsupported media type \"%s\"", d, mt ? mt : "");
			goto out;
		}
		if (i == 0) {
			memcpy(l->chain_id, l->diff_id, sizeof(l->chain_id));
		} else {
			char buf[2 * IMG_DIGEST_LEN + 2];
			snprintf(buf, sizeof(buf), "%s %s", layers[i - 1].chain_id, l->diff_id);
			img_digest_buf(buf, strlen(buf), l->chain_id);
		}
		total += l->size;
		if (crix_strv_add(&pins, l->digest) < 0 || crix_strv_add(&pins, l->chain_id) < 0) {
			crix_err_make(err, ENOMEM, "pull");
			goto out;
		}
	}
	if (crix_strv_add(&pins, top_digest) < 0 || crix_strv_add(&pins, man_digest) < 0 ||
	    crix_strv_add(&pins, config_digest) < 0) {
		crix_err_make(err, ENOMEM, "pull");
		goto out;
	}
	if (host->pin(host->arg, &pins, err) < 0 || fetch_layers(s, set->max_parallel, c, layers, n, err) < 0)
		goto out;

	rec = calloc(1, sizeof(*rec));
	struct crix_strv tags = {0}, digests = {0}, chain = {0};
	json_object *cc;
	const char *user = json_object_object_get_ex(cfg, "config", &cc) ? img_json_str(cc, "User") : NULL;
	bool ok = rec != NULL && asprintf(&rd, "%s@%s", name, top_digest) > 0 && crix_strv_add(&digests, rd) == 0;
	if (ok && ref->tag && !ref->digest)
		ok = asprintf(&tag, "%s:%s", name, ref->tag) > 0 && crix_strv_add(&tags, tag) == 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = crix_strv_add(&chain, layers[i].chain_id) == 0;
	for (size_t i = 0; ok && i < pins.n; i++)
		if (!strncmp(pins.v[i], "sha256:", 7) && !crix_strv_has(&chain, pins.v[i]) &&
		    !crix_strv_has(&rec->blobs, pins.v[i]))
			ok = crix_strv_add(&rec->blobs, pins.v[i]) == 0;
	if (ok) {
		rec->img.id = strdup(config_digest);
		rec->img.user = strdup(user ? user : "");
		rec->img.config_json = strdup(cfg_text);
	}
	/* an image with no tag still needs a NULL-terminated array */
	if (ok && tags.v == NULL)
		tags.v = calloc(1, sizeof(char *));
	if (ok && chain.v == NULL)
		chain.v = calloc(1, sizeof(char *));
	if (rec != NULL) {
		rec->img.repo_tags = tags.v;
		rec->img.n_repo_tags = tags.n;
		rec->img.repo_digests = digests.v;
		rec->img.n_repo_digests = digests.n;
		rec->img.layers = chain.v;
		rec->img.n_layers = chain.n;
		rec->img.size = total;
	} else {
		crix_strv_clear(&tags);
		crix_strv_clear(&digests);
		crix_strv_clear(&chain);
	}
	if (!ok || !rec->img.id || !rec->img.user || !rec->img.config_json || !rec->img.repo_tags || !rec->img.layers) {
		crix_err_make(err, ENOMEM, "pull");
		goto out;
	}
	*image_id = strdup(config_digest);
	struct img_record *commit = steal_ptr(rec);
	if (*image_id == NULL || host->commit(host->arg, commit, err) < 0) {
		free(*image_id);
		*image_id = NULL;
		if (err && *err == NULL)
			crix_err_make(err, ENOMEM, "pull");
		goto out;
	}
	rc = 0;
out:
	crix_strv_clear(&pins);
	img_record_free(rec); /* not committed */
	free(layers);
	if (man != top)
		json_object_put(man);
	json_object_put(top);
	json_object_put(cfg);
	return rc;
}

int img_fetch(struct img_store *s, const char *text, const struct img_auth *auth, const struct img_pull_ctl *ctl,
	      const struct img_pull_host *host, char **image_id, struct crix_err **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *full = img_ref_format(&ref), *name = NULL;
	struct img_endpoint *eps = NULL;
	size_t n = 0;
	int rc = -1;
	/* one snapshot for the whole pull: a reload meanwhile applies to later pulls */
	struct img_settings *set = img_settings_get(s);
	if (full == NULL || asprintf(&name, "%s/%s", ref.domain, ref.path) < 0) {
		crix_err_make(err, ENOMEM, "pull %s", text);
		goto out;
	}
	if (endpoints_for(set, name, &eps, &n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct img_creds creds;
		if (creds_for(set, &eps[i], auth, &creds) < 0) {
			crix_err_make(err, EINVAL, "pull %s: invalid \"auth\" in the credentials", full);
			goto out;
		}
		struct img_client c;
		img_client_init(&c, s, &eps[i], &creds);
		c.ctl = ctl;
		c.host = host;
		struct img_ref r = ref;
		crix_err_free(err);
		rc = pull_from(s, set, host, &r, name, &c, image_id, err);
		img_client_clear(&c);
		img_creds_clear(&creds);
		if (rc == 0) {
			crix_err_free(err); /* what a retry left */
			crix_info("pulled %s from %s: %s", full, eps[i].name, *image_id);
			break;
		}
		if (*err != NULL && (*err)->errnum == ECANCELED)
			break;
		if (eps[i].mirror)
			crix_warn("pull %s from mirror %s: %s", full, eps[i].name, crix_err_msg(*err));
	}
	if (rc < 0)
		crix_err_wrap(err, "pull %s", full);
out:
	for (size_t i = 0; i < n; i++)
		endpoint_clear(&eps[i]);
	free(eps);
	img_settings_put(s, set);
	img_ref_clear(&ref);
	return rc;
}
