/* Version: what kubelet logs and checks (runtime_api_version must be "v1"). */
#include "srv.h"

int srv_rpc_Version(struct srv_call *call, const ProtobufCMessage *request,
		    ProtobufCMessage **response, struct crix_err **err)
{
	(void)request;
	(void)err;
	Runtime__V1__VersionResponse *resp =
		SRV_NEW(call, Runtime__V1__VersionResponse, runtime__v1__version_response__init);
	resp->version = "0.1.0";
	resp->runtime_name = "crix";
	resp->runtime_version = CRIX_VERSION;
	resp->runtime_api_version = "v1";
	*response = &resp->base;
	return 0;
}
