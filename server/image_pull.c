/* PullImage: the image library pulls (mirrors, auth, verification, unpack); this maps the
 * request's AuthConfig and merges identical pulls: a call for the normalised reference and the
 * credentials of a pull already running waits for that pull's result instead of downloading
 * again (as CRI-O does). A pull with other credentials never rides on another's auth. When the
 * call that runs a pull is cancelled, its waiters do not inherit that: one of them pulls.
 * The response's image_ref is the image id (config digest). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crix_alloc.h"
#include "crix_cleanup.h"
#include "crix_log.h"
#include "img.h"
#include "srv.h"
#include "srv_internal.h"

/* How often a waiting call looks whether it was cancelled itself. */
#define WAIT_POLL_MS 100

#define N_AUTH 6

/* A pull in progress, and its result once done. */
struct pull_job {
	struct pull_job *next;
	char *ref;           /* normalised */
	char *auth[N_AUTH];  /* the credentials as given; NULL for none or "" */
	unsigned refs;       /* the running call and the waiters */
	bool done;
	bool abandoned;      /* the running call was cancelled: no result for the waiters */
	char *image_id;
	struct crix_err *err;
};

/* One daemon per process: the jobs are the process's. */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_done = PTHREAD_COND_INITIALIZER;
static struct pull_job *jobs;

static bool call_cancelled(void *call) { return srv_call_cancelled(call); }

static void auth_fields(const struct img_auth *a, const char *out[N_AUTH])
{
	const char *v[N_AUTH] = {a->username, a->password, a->auth, a->server_address, a->identity_token,
				 a->registry_token};
	for (size_t i = 0; i < N_AUTH; i++)
		out[i] = v[i] != NULL && v[i][0] != '\0' ? v[i] : NULL;
}

static bool job_matches(const struct pull_job *j, const char *ref, const char *const auth[N_AUTH])
{
	if (j->done || strcmp(j->ref, ref) != 0)
		return false;
	for (size_t i = 0; i < N_AUTH; i++)
		if ((j->auth[i] == NULL) != (auth[i] == NULL) || (auth[i] != NULL && strcmp(j->auth[i], auth[i]) != 0))
			return false;
	return true;
}

static void job_free(struct pull_job *j)
{
	free(j->ref);
	for (size_t i = 0; i < N_AUTH; i++) {
		if (j->auth[i] != NULL)
			explicit_bzero(j->auth[i], strlen(j->auth[i]));
		free(j->auth[i]);
	}
	free(j->image_id);
	crix_err_free(&j->err);
	free(j);
}

/* Called with jobs_lock held. */
static void job_put(struct pull_job *j)
{
	if (--j->refs == 0)
		job_free(j);
}

static struct pull_job *job_new(const char *ref, const char *const auth[N_AUTH])
{
	struct pull_job *j = crix_xcalloc(1, sizeof(*j));
	j->ref = crix_xstrdup(ref);
	for (size_t i = 0; i < N_AUTH; i++)
		j->auth[i] = auth[i] != NULL ? crix_xstrdup(auth[i]) : NULL;
	j->refs = 1;
	return j;
}

/* The error of another call's pull, as this call's. */
static int copy_error(const struct crix_err *from, struct crix_err **err)
{
	crix_err_make(err, 0, "%s", crix_err_msg(from));
	return crix_err_classify(err, from != NULL ? from->errnum : EIO, from != NULL ? from->kind : 0);
}

/* Runs the pull of job j (listed in jobs) and hands its result to the waiters. */
static int lead(struct srv_call *call, struct img_store *images, struct pull_job *j, const struct img_auth *auth,
		char **image_id, struct crix_err **err)
{
	/* kubelet cancels a pull it gave up on: stop downloading then */
	struct img_pull_ctl ctl = {.cancelled = call_cancelled, .arg = call};
	int rc = img_pull_ex(images, j->ref, auth, &ctl, image_id, err);
	pthread_mutex_lock(&jobs_lock);
	for (struct pull_job **p = &jobs; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	j->done = true;
	if (rc == 0)
		j->image_id = crix_xstrdup(*image_id);
	else if (srv_call_cancelled(call))
		j->abandoned = true;
	else
		copy_error(*err, &j->err);
	pthread_cond_broadcast(&jobs_done);
	job_put(j);
	pthread_mutex_unlock(&jobs_lock);
	return rc;
}

/* Waits (jobs_lock held) for j's result; 1 when j was abandoned and the caller should look
 * again, else the result. */
static int wait_for_job(struct srv_call *call, struct pull_job *j, char **image_id, struct crix_err **err)
{
	while (!j->done && !srv_call_cancelled(call)) {
		struct timespec until = srv_time_after_ms(CLOCK_REALTIME, WAIT_POLL_MS);
		pthread_cond_timedwait(&jobs_done, &jobs_lock, &until);
	}
	int rc;
	if (!j->done)
		rc = crix_err_make(err, ECANCELED, "pull %s: cancelled", j->ref);
	else if (j->abandoned)
		rc = 1;
	else if (j->image_id != NULL) {
		*image_id = crix_xstrdup(j->image_id);
		rc = 0;
	} else
		rc = copy_error(j->err, err);
	job_put(j);
	return rc;
}

static int pull_merged(struct srv_call *call, struct img_store *images, const char *text, const struct img_auth *auth,
		       char **image_id, struct crix_err **err)
{
	_cleanup_free_ char *ref = NULL;
	if (img_ref_normalize(text, &ref, err) < 0)
		return -1;
	const char *fields[N_AUTH] = {0};
	if (auth != NULL)
		auth_fields(auth, fields);
	for (;;) {
		pthread_mutex_lock(&jobs_lock);
		struct pull_job *j = jobs;
		while (j != NULL && !job_matches(j, ref, fields))
			j = j->next;
		if (j == NULL) {
			j = job_new(ref, fields);
			j->next = jobs;
			jobs = j;
			pthread_mutex_unlock(&jobs_lock);
			return lead(call, images, j, auth, image_id, err);
		}
		j->refs++;
		crix_debug("PullImage %s: waits for the same pull already running", ref);
		int rc = wait_for_job(call, j, image_id, err);
		pthread_mutex_unlock(&jobs_lock);
		if (rc <= 0)
			return rc;
		crix_debug("PullImage %s: the pull it waited for was cancelled; pulling itself", ref);
	}
}

int srv_rpc_PullImage(struct srv_call *call, const ProtobufCMessage *request, ProtobufCMessage **response,
		      struct crix_err **err)
{
	const Runtime__V1__PullImageRequest *req = (const Runtime__V1__PullImageRequest *)request;
	struct srv_daemon *d = srv_daemon(call);
	if (req->image == NULL || req->image->image == NULL || req->image->image[0] == '\0')
		return crix_err_make(err, EINVAL, "PullImage: no image given");
	if (d->images == NULL)
		return crix_err_make(err, EAGAIN, "PullImage: the image store is not open");
	struct img_auth auth = {0};
	const Runtime__V1__AuthConfig *a = req->auth;
	if (a != NULL) {
		auth.username = a->username;
		auth.password = a->password;
		auth.auth = a->auth;
		auth.server_address = a->server_address;
		auth.identity_token = a->identity_token;
		auth.registry_token = a->registry_token;
	}
	char *id = NULL;
	if (pull_merged(call, d->images, req->image->image, a ? &auth : NULL, &id, err) < 0)
		return -1;
	Runtime__V1__PullImageResponse *resp =
		SRV_NEW(call, Runtime__V1__PullImageResponse, runtime__v1__pull_image_response__init);
	resp->image_ref = srv_strdup(call, id);
	free(id);
	*response = &resp->base;
	return 0;
}
