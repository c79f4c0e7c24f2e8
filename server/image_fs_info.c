/* ImageFsInfo: bytes and inodes used by the image store and by containers' writable layers. */
#include <errno.h>

#include "img.h"
#include "srv.h"

static Runtime__V1__FilesystemUsage *usage_msg(struct srv_call *call, const struct img_fs_usage *u)
{
	Runtime__V1__FilesystemUsage *m =
		SRV_NEW(call, Runtime__V1__FilesystemUsage, runtime__v1__filesystem_usage__init);
	m->timestamp = u->timestamp_ns;
	m->fs_id = SRV_NEW(call, Runtime__V1__FilesystemIdentifier, runtime__v1__filesystem_identifier__init);
	m->fs_id->mountpoint = srv_strdup(call, u->mountpoint);
	m->used_bytes = SRV_NEW(call, Runtime__V1__UInt64Value, runtime__v1__uint64_value__init);
	m->used_bytes->value = u->used_bytes;
	m->inodes_used = SRV_NEW(call, Runtime__V1__UInt64Value, runtime__v1__uint64_value__init);
	m->inodes_used->value = u->inodes_used;
	return m;
}

int srv_rpc_ImageFsInfo(struct srv_call *call, const ProtobufCMessage *request, ProtobufCMessage **response,
			struct crix_err **err)
{
	(void)request;
	struct srv_daemon *d = srv_daemon(call);
	if (d->images == NULL)
		return crix_err_make(err, EAGAIN, "ImageFsInfo: the image store is not open");
	struct img_fs_usage images, containers;
	if (img_fs_info(d->images, &images, &containers, err) < 0)
		return -1;
	Runtime__V1__ImageFsInfoResponse *resp =
		SRV_NEW(call, Runtime__V1__ImageFsInfoResponse, runtime__v1__image_fs_info_response__init);
	resp->image_filesystems = srv_alloc(call, sizeof(*resp->image_filesystems));
	resp->image_filesystems[0] = usage_msg(call, &images);
	resp->n_image_filesystems = 1;
	resp->container_filesystems = srv_alloc(call, sizeof(*resp->container_filesystems));
	resp->container_filesystems[0] = usage_msg(call, &containers);
	resp->n_container_filesystems = 1;
	img_fs_usage_clear(&images);
	img_fs_usage_clear(&containers);
	*response = &resp->base;
	return 0;
}
