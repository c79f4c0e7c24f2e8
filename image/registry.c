/* Registry client (OCI distribution API v2) over libcurl: one connection cache, DNS cache and
 * TLS session cache shared by every transfer of the store; anonymous, Basic and Bearer auth
 * with a token cache; bounded retries with backoff. Credentials are never logged. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_log.h"
#include "img_internal.h"

#define MAX_ATTEMPTS 4        /* per request to a registry */
#define MAX_MIRROR_ATTEMPTS 2 /* a mirror that fails is skipped soon */
#define ERROR_BODY_MAX (64u << 10)

struct img_http {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h;
	(void)access;
	struct img_http *http = arg;
	pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	struct img_http *http = arg;
	pthread_mutex_unlock(&http->share_locks[data]);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int img_http_new(struct img_http **out, struct crix_err **err)
{
	pthread_once(&curl_once, curl_init_once);
	struct img_http *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->share = curl_share_init()) == NULL) {
		free(h);
		return crix_err_make(err, ENOMEM, "curl share");
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = h;
	return 0;
}

void img_http_free(struct img_http *h)
{
	if (h == NULL)
		return;
	curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	free(h);
}

void img_creds_clear(struct img_creds *c)
{
	char *f[] = {c->username, c->password, c->identity_token, c->registry_token};
	for (size_t i = 0; i < 4; i++) {
		if (f[i] != NULL)
			OPENSSL_cleanse(f[i], strlen(f[i]));
		free(f[i]);
	}
	memset(c, 0, sizeof(*c));
}

void img_client_init(struct img_client *c, struct img_store *s, const struct img_endpoint *ep,
		     const struct img_creds *creds)
{
	memset(c, 0, sizeof(*c));
	c->store = s;
	c->ep = ep;
	c->creds = creds;
	pthread_mutex_init(&c->lock, NULL);
}

static bool cancelled(const struct img_pull_ctl *ctl)
{
	return ctl != NULL && ctl->cancelled != NULL && ctl->cancelled(ctl->arg);
}

int img_client_check_cancel(const struct img_client *c, struct crix_err **err)
{
	if (cancelled(c->ctl))
		return img_err(err, IMG_ERR_CANCELLED, ECANCELED, "cancelled");
	return 0;
}

void img_client_clear(struct img_client *c)
{
	if (c->authz != NULL) {
		OPENSSL_cleanse(c->authz, strlen(c->authz));
		free(c->authz);
	}
	pthread_mutex_destroy(&c->lock);
}

/* ---- one HTTP exchange ---- */

struct exchange {
	CURL *curl;
	long status;
	char *www_auth;
	char *content_type;
	/* body: to memory (max bytes) or to a sink */
	char *mem;
	size_t mem_len, mem_max;
	bool too_big;
	const struct img_blob_sink *sink;
	bool sink_failed;
	uint64_t delivered;
	/* body of an error response */
	char *err_body;
	size_t err_len;
	/* progress: cancellation, and the stall check (min_speed * stall_timeout bytes, at
	   least, in every stall_timeout seconds since the last such amount came) */
	const struct img_pull_ctl *ctl;
	unsigned stall_timeout, min_speed;
	int64_t mark_ns; /* 0: not started */
	curl_off_t mark_bytes;
	bool stalled;
};

static void exchange_reset(struct exchange *x)
{
	free(x->www_auth);
	free(x->content_type);
	free(x->mem);
	free(x->err_body);
	x->www_auth = x->content_type = x->mem = x->err_body = NULL;
	x->mem_len = x->err_len = 0;
	x->status = 0;
	x->too_big = x->sink_failed = x->stalled = false;
	x->mark_ns = 0;
}

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && isspace((unsigned char)*v))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	return strndup(v, end - v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct exchange *x = arg;
	size_t len = size * nmemb;
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after a redirect) */
		free(x->www_auth);
		free(x->content_type);
		x->www_auth = x->content_type = NULL;
	}
	char *v;
	if ((v = header_value(data, len, "WWW-Authenticate")) != NULL) {
		free(x->www_auth);
		x->www_auth = v;
	} else if ((v = header_value(data, len, "Content-Type")) != NULL) {
		free(x->content_type);
		x->content_type = v;
	}
	return len;
}

static int append(char **buf, size_t *len, size_t max, const void *data, size_t n)
{
	if (*len + n > max)
		return -1;
	char *b = realloc(*buf, *len + n + 1);
	if (b == NULL)
		return -1;
	memcpy(b + *len, data, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct exchange *x = arg;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		append(&x->err_body, &x->err_len, ERROR_BODY_MAX, data, len); /* truncation is fine */
		return len;
	}
	if (x->sink != NULL) {
		if (x->sink->write(x->sink->arg, data, len) < 0) {
			x->sink_failed = true;
			return 0;
		}
		x->delivered += len;
		return len;
	}
	if (append(&x->mem, &x->mem_len, x->mem_max, data, len) < 0) {
		x->too_big = true;
		return 0;
	}
	return len;
}

/* CA file for host: <certs_dir>/<host>/ca.crt, else the first .crt file there. */
static char *ca_file_for(struct img_store *s, const char *host)
{
	char *dir = NULL, *path = NULL;
	if (asprintf(&dir, "%s/%s", s->certs_dir, host) < 0)
		return NULL;
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n > 4 && strcmp(e->d_name + n - 4, ".crt") == 0) {
				free(path);
				if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
					path = NULL;
				if (strcmp(e->d_name, "ca.crt") == 0)
					break;
			}
		}
		closedir(d);
	}
	free(dir);
	return path;
}

static char *url_host(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	return strndup(p, n);
}

struct request {
	const char *method; /* NULL = GET */
	const char *url;
	const char *accept;
	const char *authz; /* full header value or NULL */
	const char *post_body;
	const char *basic_user, *basic_pass; /* for token servers */
	bool tls_noverify;                  /* insecure endpoints */
	const struct img_pull_ctl *ctl;     /* cancellation, may be NULL */
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Non-zero aborts the transfer: cancelled, or stalled (x->stalled). curl's own low-speed
 * limit would end it the same way as a connect timeout; this one can be told apart. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	(void)ulnow;
	struct exchange *x = arg;
	if (cancelled(x->ctl))
		return 1;
	int64_t now = monotonic_ns();
	/* dlnow starts again at 0 after a redirect */
	if (x->mark_ns == 0 || dlnow < x->mark_bytes ||
	    dlnow - x->mark_bytes >= (curl_off_t)x->min_speed * x->stall_timeout) {
		x->mark_ns = now;
		x->mark_bytes = dlnow;
	} else if (now - x->mark_ns >= (int64_t)x->stall_timeout * 1000000000) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

/* Performs one request; returns the curl result. */
static CURLcode perform(struct img_store *s, const struct request *rq, struct exchange *x)
{
	CURL *c = curl_easy_init();
	if (c == NULL)
		return CURLE_OUT_OF_MEMORY;
	x->curl = c;
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *accept = NULL, *authz = NULL;
	if (rq->accept && asprintf(&accept, "Accept: %s", rq->accept) > 0)
		hdrs = curl_slist_append(hdrs, accept);
	if (rq->authz && asprintf(&authz, "Authorization: %s", rq->authz) > 0)
		hdrs = curl_slist_append(hdrs, authz);
	_cleanup_free_ char *host = url_host(rq->url);
	_cleanup_free_ char *ca = host ? ca_file_for(s, host) : NULL;
	struct img_settings *set = img_settings_get(s);
	x->stall_timeout = set->stall_timeout;
	x->min_speed = set->min_speed;
	img_settings_put(s, set);
	x->ctl = rq->ctl;
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_SHARE, s->http->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "crix/" CRIX_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)x->stall_timeout);
	curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (rq->tls_noverify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (rq->post_body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->post_body);
	if (rq->basic_user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, rq->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, rq->basic_pass ? rq->basic_pass : "");
	}
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (rq->method && strcmp(rq->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	x->curl = NULL;
	if (authz)
		OPENSSL_cleanse(authz, strlen(authz));
	return rc;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return ECANCELED;
	default:
		return ECONNRESET;
	}
}

/* Transfer failures worth another attempt; TLS and protocol errors are final. */
static bool curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_COULDNT_RESOLVE_HOST:
		return true;
	default:
		return false;
	}
}

static enum img_err_kind curl_kind(CURLcode rc)
{
	return rc == CURLE_ABORTED_BY_CALLBACK ? IMG_ERR_CANCELLED : curl_retryable(rc) ? IMG_ERR_RETRYABLE : IMG_ERR_OTHER;
}

/* The error of a transfer that failed (cc != CURLE_OK), after "what: "; true when worth
 * another attempt. A stalled one is retried like a broken connection. */
static bool transfer_error(const struct exchange *x, CURLcode cc, const char *what, struct crix_err **err)
{
	if (x->stalled) { /* ETIMEDOUT without its "Connection timed out" */
		crix_err_make(err, 0, "%s: stalled: less than %u bytes/s for %u s", what, x->min_speed, x->stall_timeout);
		crix_err_classify(err, ETIMEDOUT, IMG_ERR_RETRYABLE);
		return true;
	}
	img_err(err, curl_kind(cc), curl_errno(cc), "%s: %s", what, curl_easy_strerror(cc));
	return curl_retryable(cc);
}

/* "manifest unknown (404)": the registry's own message when it sent one. */
static int status_error(struct exchange *x, struct crix_err **err)
{
	_cleanup_free_ char *msg = NULL;
	if (x->err_body != NULL) {
		json_object *o = json_tokener_parse(x->err_body), *errs, *m;
		if (o != NULL && json_object_object_get_ex(o, "errors", &errs) &&
		    json_object_is_type(errs, json_type_array) && json_object_array_length(errs) > 0 &&
		    json_object_object_get_ex(json_object_array_get_idx(errs, 0), "message", &m))
			msg = strdup(json_object_get_string(m));
		json_object_put(o);
	}
	int e = x->status == 404 ? ENOENT
		: (x->status == 401 || x->status == 403) ? EACCES
		: (x->status == 429 || x->status >= 500) ? EAGAIN
							   : EPROTO;
	enum img_err_kind kind = x->status == 404				 ? IMG_ERR_NOT_FOUND
				 : (x->status == 401 || x->status == 403) ? IMG_ERR_AUTH
				 : (x->status == 429 || x->status >= 500) ? IMG_ERR_RETRYABLE
									  : IMG_ERR_PROTOCOL;
	const char *fallback = x->status == 401   ? "unauthorized"
			       : x->status == 403 ? "denied"
			       : x->status == 404 ? "not found"
			       : x->status == 429 ? "too many requests"
						  : "unexpected HTTP status";
	return img_err(err, kind, e, "%s (%ld)", msg && *msg ? msg : fallback, x->status);
}

/* ---- auth ---- */

/* Parses `Bearer realm="...",service="...",scope="..."` into scheme and params. */
static void parse_challenge(const char *h, char **scheme, char **realm, char **service, char **scope)
{
	*scheme = *realm = *service = *scope = NULL;
	size_t n = strcspn(h, " ");
	*scheme = strndup(h, n);
	const char *p = h + n;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t kn = strcspn(p, "=");
		if (p[kn] != '=')
			break;
		char key[32];
		snprintf(key, sizeof(key), "%.*s", (int)(kn < 31 ? kn : 31), p);
		p += kn + 1;
		char *val;
		if (*p == '"') {
			p++;
			size_t vn = strcspn(p, "\"");
			val = strndup(p, vn);
			p += vn + (p[vn] == '"');
		} else {
			size_t vn = strcspn(p, ",");
			val = strndup(p, vn);
			p += vn;
		}
		char **dst = !strcasecmp(key, "realm")     ? realm
			     : !strcasecmp(key, "service") ? service
			     : !strcasecmp(key, "scope")   ? scope
							   : NULL;
		if (dst != NULL) {
			free(*dst);
			*dst = val;
		} else {
			free(val);
		}
	}
}

static char *basic_header(const struct img_creds *cr)
{
	_cleanup_free_ char *plain = NULL;
	if (asprintf(&plain, "%s:%s", cr->username, cr->password ? cr->password : "") < 0)
		return NULL;
	size_t n = strlen(plain);
	char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
	if (out != NULL) {
		memcpy(out, "Basic ", 6);
		EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain, (int)n);
	}
	OPENSSL_cleanse(plain, n);
	return out;
}

static int fetch_token(struct img_client *c, const char *realm, const char *service, const char *scope,
		       char **out, struct crix_err **err)
{
	struct img_store *s = c->store;
	const struct img_creds *cr = c->creds;
	_cleanup_free_ char *key = NULL;
	if (asprintf(&key, "%s\n%s\n%s", realm, scope ? scope : "", cr && cr->username ? cr->username : "") < 0)
		return crix_err_make(err, ENOMEM, "token");
	_cleanup_free_ char *what = NULL; /* for messages */
	if (asprintf(&what, "token from %s", realm) < 0)
		return crix_err_make(err, ENOMEM, "token");
	/* the store's owner keeps tokens across pulls */
	if ((*out = c->host->token_get(c->host->arg, key)) != NULL)
		return 0;
	CURL *esc = curl_easy_init();
	if (esc == NULL)
		return crix_err_make(err, ENOMEM, "token");
	char *svc = service ? curl_easy_escape(esc, service, 0) : NULL;
	char *scp = scope ? curl_easy_escape(esc, scope, 0) : NULL;
	char *rtok = cr && cr->identity_token ? curl_easy_escape(esc, cr->identity_token, 0) : NULL;
	_cleanup_free_ char *url = NULL, *post = NULL;
	int rc = 0;
	if (rtok != NULL) { /* OAuth2 refresh-token grant */
		rc = asprintf(&url, "%s", realm);
		if (rc >= 0)
			rc = asprintf(&post, "grant_type=refresh_token&client_id=crix&refresh_token=%s%s%s%s%s", rtok,
				      svc ? "&service=" : "", svc ? svc : "", scp ? "&scope=" : "", scp ? scp : "");
	} else {
		rc = asprintf(&url, "%s%s%s%s%s%s", realm, strchr(realm, '?') ? "&" : "?", svc ? "service=" : "",
			      svc ? svc : "", scp ? (svc ? "&scope=" : "scope=") : "", scp ? scp : "");
	}
	curl_free(svc);
	curl_free(scp);
	if (rtok) {
		OPENSSL_cleanse(rtok, strlen(rtok));
		curl_free(rtok);
	}
	curl_easy_cleanup(esc);
	if (rc < 0)
		return crix_err_make(err, ENOMEM, "token");
	struct request rq = {.url = url, .post_body = post, .ctl = c->ctl};
	if (post == NULL && cr && cr->username) {
		rq.basic_user = cr->username;
		rq.basic_pass = cr->password;
	}
	struct exchange x = {.mem_max = 1 << 20};
	CURLcode cc = CURLE_OK;
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		exchange_reset(&x);
		crix_err_free(err);
		cc = perform(s, &rq, &x);
		bool retry = cc != CURLE_OK ? transfer_error(&x, cc, what, err) : (x.status == 429 || x.status >= 500);
		if (!retry || attempt + 1 == MAX_ATTEMPTS)
			break;
		usleep((200u << attempt) * 1000);
	}
	if (post)
		OPENSSL_cleanse(post, strlen(post));
	if (cc != CURLE_OK) {
		rc = -1; /* transfer_error said why */
	} else if (x.status < 200 || x.status >= 300) {
		status_error(&x, err);
		rc = crix_err_wrap(err, "token from %s", realm);
	} else {
		json_object *o = x.mem ? json_tokener_parse(x.mem) : NULL, *v;
		const char *tok = NULL;
		if (o && json_object_object_get_ex(o, "token", &v))
			tok = json_object_get_string(v);
		if ((tok == NULL || !*tok) && o && json_object_object_get_ex(o, "access_token", &v))
			tok = json_object_get_string(v);
		long expires = o && json_object_object_get_ex(o, "expires_in", &v) ? (long)json_object_get_int64(v) : 60;
		if (tok == NULL || *tok == '\0') {
			rc = crix_err_make(err, EPROTO, "token from %s: no token in the response", realm);
		} else {
			c->host->token_put(c->host->arg, key, tok, expires > 0 ? expires : 60);
			*out = strdup(tok);
			rc = *out ? 0 : crix_err_make(err, ENOMEM, "token");
		}
		json_object_put(o);
	}
	if (x.mem)
		OPENSSL_cleanse(x.mem, x.mem_len);
	exchange_reset(&x);
	return rc;
}

/* Answers a 401 challenge: the Authorization value to retry with. */
static int authorize(struct img_client *c, const char *challenge, char **authz, struct crix_err **err)
{
	const struct img_creds *cr = c->creds;
	_cleanup_free_ char *scheme = NULL, *realm = NULL, *service = NULL, *scope = NULL;
	parse_challenge(challenge ? challenge : "", &scheme, &realm, &service, &scope);
	if (scheme && strcasecmp(scheme, "Basic") == 0) {
		if (cr == NULL || cr->username == NULL)
			return img_err(err, IMG_ERR_AUTH, EACCES, "unauthorized: the registry wants credentials (401)");
		*authz = basic_header(cr);
		return *authz ? 0 : crix_err_make(err, ENOMEM, "auth");
	}
	if (scheme == NULL || strcasecmp(scheme, "Bearer") != 0 || realm == NULL)
		return img_err(err, IMG_ERR_AUTH, EACCES, "unauthorized: unsupported challenge \"%s\" (401)",
			       scheme ? scheme : "");
	_cleanup_free_ char *token = NULL;
	if (cr && cr->registry_token) {
		token = strdup(cr->registry_token);
	} else {
		_cleanup_free_ char *want = NULL;
		if (scope == NULL && asprintf(&want, "repository:%s:pull", c->ep->repo) < 0)
			return crix_err_make(err, ENOMEM, "auth");
		if (fetch_token(c, realm, service, scope ? scope : want, &token, err) < 0)
			return -1;
	}
	if (token == NULL || asprintf(authz, "Bearer %s", token) < 0)
		return crix_err_make(err, ENOMEM, "auth");
	OPENSSL_cleanse(token, strlen(token));
	return 0;
}

/* GET path on the endpoint with auth and retries; the body goes to x (memory or sink). */
static int api_get(struct img_client *c, const char *path, const char *accept, struct exchange *x,
		   struct crix_err **err)
{
	const struct img_endpoint *ep = c->ep;
	bool reauthorized = false;
	for (int attempt = 0;;) {
		pthread_mutex_lock(&c->lock);
		_cleanup_free_ char *authz = c->authz ? strdup(c->authz) : NULL;
		bool plain = c->plain_http;
		pthread_mutex_unlock(&c->lock);
		_cleanup_free_ char *url = NULL;
		if (asprintf(&url, "%s://%s/v2/%s/%s", plain ? "http" : "https", ep->host, ep->repo, path) < 0)
			return crix_err_make(err, ENOMEM, "request");
		struct request rq = {
			.url = url, .accept = accept, .authz = authz, .tls_noverify = ep->insecure, .ctl = c->ctl};
		exchange_reset(x);
		x->delivered = 0;
		CURLcode cc = perform(c->store, &rq, x);
		if (authz)
			OPENSSL_cleanse(authz, strlen(authz));
		if (x->too_big)
			return crix_err_make(err, EFBIG, "%s: larger than %zu bytes", path, x->mem_max);
		if (x->sink_failed)
			return -1; /* the sink holds the error */
		bool retry = false;
		if (cc != CURLE_OK && ep->insecure && !plain && x->status == 0) {
			/* insecure: unverified TLS first, plain HTTP when the endpoint does not speak TLS */
			crix_debug("%s: %s; trying plain HTTP", url, curl_easy_strerror(cc));
			pthread_mutex_lock(&c->lock);
			c->plain_http = true;
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		if (cc != CURLE_OK) {
			retry = transfer_error(x, cc, url, err);
		} else if (x->status == 401 && !reauthorized) {
			_cleanup_free_ char *newauth = NULL;
			if (authorize(c, x->www_auth, &newauth, err) < 0)
				return -1;
			pthread_mutex_lock(&c->lock);
			free(c->authz);
			c->authz = steal_ptr(newauth);
			pthread_mutex_unlock(&c->lock);
			reauthorized = true;
			continue;
		} else if (x->status >= 200 && x->status < 300) {
			crix_err_free(err); /* from an earlier attempt */
			return 0;
		} else {
			status_error(x, err);
			retry = x->status == 429 || x->status >= 500;
		}
		if (!retry || ++attempt >= (ep->mirror ? MAX_MIRROR_ATTEMPTS : MAX_ATTEMPTS))
			return -1;
		if (x->sink && x->delivered > 0 && x->sink->restart(x->sink->arg) < 0)
			return -1;
		if (img_client_check_cancel(c, err) < 0)
			return -1;
		crix_debug("retrying %s (attempt %d): %s", url, attempt + 1, crix_err_msg(*err));
		usleep((200u << attempt) * 1000);
	}
}

#define MANIFEST_TYPES                                                                             \
	"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "     \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                               \
	"application/vnd.docker.distribution.manifest.v2+json, "                                    \
	"application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, "                         \
	"application/vnd.docker.distribution.manifest.v1+json;q=0.5"

int img_client_manifest(struct img_client *c, const char *reference, char **body, size_t *len, char **media_type,
			struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "manifests/%s", reference) < 0)
		return crix_err_make(err, ENOMEM, "manifest");
	struct exchange x = {.mem_max = IMG_MAX_MANIFEST};
	int rc = api_get(c, path, MANIFEST_TYPES, &x, err);
	if (rc == 0) {
		if (x.mem == NULL)
			x.mem = strdup("");
		*body = steal_ptr(x.mem);
		*len = x.mem_len;
		*media_type = x.content_type ? strndup(x.content_type, strcspn(x.content_type, ";")) : strdup("");
	} else if (err && *err && (*err)->errnum == EFBIG) {
		crix_err_make(err, EFBIG, "manifest %s is larger than 4 MiB: refused", reference);
	}
	exchange_reset(&x);
	return rc;
}

int img_client_blob_mem(struct img_client *c, const char *digest, size_t max, char **body, size_t *len,
			struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "blobs/%s", digest) < 0)
		return crix_err_make(err, ENOMEM, "blob");
	struct exchange x = {.mem_max = max};
	int rc = api_get(c, path, NULL, &x, err);
	if (rc == 0) {
		if (x.mem == NULL)
			x.mem = strdup("");
		*body = steal_ptr(x.mem);
		*len = x.mem_len;
	} else {
		crix_err_wrap(err, "blob %s", digest);
	}
	exchange_reset(&x);
	return rc;
}

int img_client_blob(struct img_client *c, const char *digest, const struct img_blob_sink *sink,
		    struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "blobs/%s", digest) < 0)
		return crix_err_make(err, ENOMEM, "blob");
	struct exchange x = {.sink = sink};
	int rc = api_get(c, path, NULL, &x, err);
	exchange_reset(&x);
	return rc;
}
