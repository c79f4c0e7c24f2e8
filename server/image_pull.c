/* PullImage: the image library pulls (mirrors, auth, verification, unpack); this only maps
 * the request's AuthConfig. The response's image_ref is the image id (config digest). */
#include <errno.h>
#include <stdlib.h>

#include "img.h"
#include "srv.h"

static bool call_cancelled(void *call) { return srv_call_cancelled(call); }

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
	/* kubelet cancels a pull it gave up on: stop downloading then */
	struct img_pull_ctl ctl = {.cancelled = call_cancelled, .arg = call};
	char *id = NULL;
	if (img_pull_ex(d->images, req->image->image, a ? &auth : NULL, &ctl, &id, err) < 0)
		return -1;
	Runtime__V1__PullImageResponse *resp =
		SRV_NEW(call, Runtime__V1__PullImageResponse, runtime__v1__pull_image_response__init);
	resp->image_ref = srv_strdup(call, id);
	free(id);
	*response = &resp->base;
	return 0;
}
