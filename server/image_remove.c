/* RemoveImage: by id, tag or digest; idempotent (an unknown image is success). */
#include <errno.h>

#include "img.h"
#include "srv.h"

int srv_rpc_RemoveImage(struct srv_call *call, const ProtobufCMessage *request, ProtobufCMessage **response,
			struct crix_err **err)
{
	const Runtime__V1__RemoveImageRequest *req = (const Runtime__V1__RemoveImageRequest *)request;
	struct srv_daemon *d = srv_daemon(call);
	if (req->image == NULL || req->image->image == NULL || req->image->image[0] == '\0')
		return crix_err_make(err, EINVAL, "RemoveImage: no image given");
	if (d->images == NULL)
		return crix_err_make(err, EAGAIN, "RemoveImage: the image store is not open");
	if (img_remove(d->images, req->image->image, err) < 0)
		return -1;
	*response = &SRV_NEW(call, Runtime__V1__RemoveImageResponse, runtime__v1__remove_image_response__init)->base;
	return 0;
}
