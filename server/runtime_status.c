/* Status, RuntimeConfig and UpdateRuntimeConfig: the runtime's view of itself. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crix_alloc.h"
#include "crix_cleanup.h"
#include "crix_log.h"
#include "srv.h"

/* kubelet's network readiness: a CNI network config is present (as CRI-O and containerd
 * judge it, by the files ocicni would load). */
static bool cni_config_present(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		const char *dot = strrchr(e->d_name, '.');
		if (e->d_name[0] != '.' && dot != NULL &&
		    (strcmp(dot, ".conf") == 0 || strcmp(dot, ".conflist") == 0 || strcmp(dot, ".json") == 0))
			return true;
	}
	return false;
}

static Runtime__V1__RuntimeCondition *condition(struct srv_call *call, const char *type, bool ok,
						const char *reason, const char *message)
{
	Runtime__V1__RuntimeCondition *c =
		SRV_NEW(call, Runtime__V1__RuntimeCondition, runtime__v1__runtime_condition__init);
	c->type = (char *)type;
	c->status = ok;
	c->reason = (char *)(ok ? "" : reason);
	c->message = ok ? "" : (char *)message;
	return c;
}

static Runtime__V1__RuntimeHandler *handler_entry(struct srv_call *call, const char *name)
{
	Runtime__V1__RuntimeHandler *h =
		SRV_NEW(call, Runtime__V1__RuntimeHandler, runtime__v1__runtime_handler__init);
	h->name = srv_strdup(call, name);
	/* Neither is offered yet: recursive read-only mounts and user namespaces need support in
	 * the container create path, which does not exist yet. */
	h->features = SRV_NEW(call, Runtime__V1__RuntimeHandlerFeatures,
			      runtime__v1__runtime_handler_features__init);
	return h;
}

int srv_rpc_Status(struct srv_call *call, const ProtobufCMessage *request,
		   ProtobufCMessage **response, struct crix_err **err)
{
	const Runtime__V1__StatusRequest *req = (const Runtime__V1__StatusRequest *)request;
	_cleanup_config_ struct srv_config *config = srv_config_get(srv_daemon(call));
	const struct crix_config *cfg = config->cfg;

	Runtime__V1__StatusResponse *resp =
		SRV_NEW(call, Runtime__V1__StatusResponse, runtime__v1__status_response__init);
	resp->status = SRV_NEW(call, Runtime__V1__RuntimeStatus, runtime__v1__runtime_status__init);
	resp->status->n_conditions = 2;
	resp->status->conditions = srv_alloc(call, 2 * sizeof(*resp->status->conditions));
	resp->status->conditions[0] = condition(call, "RuntimeReady", true, NULL, NULL);
	resp->status->conditions[1] = condition(
		call, "NetworkReady", cni_config_present(cfg->network.cni_config_dir),
		"NetworkPluginNotReady",
		srv_printf(call, "Network plugin returns error: no CNI configuration file in %s",
			   cfg->network.cni_config_dir));

	/* The default handler is named "" (see RuntimeHandler.name), then every configured one. */
	resp->n_runtime_handlers = cfg->runtime.n_handlers + 1;
	resp->runtime_handlers = srv_alloc(call, resp->n_runtime_handlers * sizeof(*resp->runtime_handlers));
	resp->runtime_handlers[0] = handler_entry(call, "");
	for (size_t i = 0; i < cfg->runtime.n_handlers; i++)
		resp->runtime_handlers[i + 1] = handler_entry(call, cfg->runtime.handlers[i].name);
	resp->features = SRV_NEW(call, Runtime__V1__RuntimeFeatures, runtime__v1__runtime_features__init);

	if (req->verbose) {
		_cleanup_free_ char *json = NULL;
		if (cfg_to_json(cfg, &json, err) < 0)
			return crix_err_wrap(err, "status");
		Runtime__V1__StatusResponse__InfoEntry *entry = SRV_NEW(
			call, Runtime__V1__StatusResponse__InfoEntry, runtime__v1__status_response__info_entry__init);
		entry->key = "config";
		entry->value = srv_strdup(call, json);
		resp->n_info = 1;
		resp->info = srv_alloc(call, sizeof(*resp->info));
		resp->info[0] = entry;
	}
	*response = &resp->base;
	return 0;
}

int srv_rpc_RuntimeConfig(struct srv_call *call, const ProtobufCMessage *request,
			  ProtobufCMessage **response, struct crix_err **err)
{
	(void)request;
	(void)err;
	_cleanup_config_ struct srv_config *config = srv_config_get(srv_daemon(call));
	Runtime__V1__RuntimeConfigResponse *resp = SRV_NEW(
		call, Runtime__V1__RuntimeConfigResponse, runtime__v1__runtime_config_response__init);
	resp->linux = SRV_NEW(call, Runtime__V1__LinuxRuntimeConfiguration,
			      runtime__v1__linux_runtime_configuration__init);
	resp->linux->cgroup_driver = config->cfg->cgroup_manager == CFG_CGROUP_SYSTEMD
					     ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
					     : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
	*response = &resp->base;
	return 0;
}

int srv_rpc_UpdateRuntimeConfig(struct srv_call *call, const ProtobufCMessage *request,
				ProtobufCMessage **response, struct crix_err **err)
{
	const Runtime__V1__UpdateRuntimeConfigRequest *req =
		(const Runtime__V1__UpdateRuntimeConfigRequest *)request;
	(void)err;
	const char *cidr = "";
	if (req->runtime_config && req->runtime_config->network_config &&
	    req->runtime_config->network_config->pod_cidr)
		cidr = req->runtime_config->network_config->pod_cidr;
	/* kubelet sends an empty CIDR when it has none; keep the last one it gave. */
	if (*cidr != '\0') {
		char *copy = crix_xstrdup(cidr);
		struct srv_daemon *d = srv_daemon(call);
		pthread_mutex_lock(&d->lock);
		bool changed = d->pod_cidr == NULL || strcmp(d->pod_cidr, copy) != 0;
		free(d->pod_cidr);
		d->pod_cidr = copy;
		pthread_mutex_unlock(&d->lock);
		if (changed)
			crix_info("pod CIDR is now %s", copy);
	}
	*response = &SRV_NEW(call, Runtime__V1__UpdateRuntimeConfigResponse,
			     runtime__v1__update_runtime_config_response__init)
			     ->base;
	return 0;
}
