/* The spec model itself: names of namespace types and hook kinds, lookups, freeing. Reading
 * is in oci_spec_read.c, writing in oci_spec_write.c. */
#include "oci_spec.h"

#include <stdlib.h>
#include <string.h>

#include "oci_resources.h"
#include "oci_seccomp.h"

static const char *const ns_names[OCI_NS_TYPES] = {
	[OCI_NS_PID] = "pid",	   [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
	[OCI_NS_IPC] = "ipc",	   [OCI_NS_UTS] = "uts",	 [OCI_NS_USER] = "user",
	[OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

static const char *const hook_names[OCI_HOOK_KINDS] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

int oci_ns_type_from_name(const char *name)
{
	for (int i = 0; i < OCI_NS_TYPES; i++)
		if (strcmp(name, ns_names[i]) == 0)
			return i;
	return -1;
}

const char *oci_ns_type_name(enum oci_ns_type type)
{
	return (unsigned)type < OCI_NS_TYPES ? ns_names[type] : "unknown";
}

const char *oci_hook_kind_name(enum oci_hook_kind kind)
{
	return (unsigned)kind < OCI_HOOK_KINDS ? hook_names[kind] : "unknown";
}

const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, enum oci_ns_type type)
{
	if (spec->linux == NULL)
		return NULL;
	for (size_t i = 0; i < spec->linux->n_namespaces; i++)
		if (spec->linux->namespaces[i].type == type)
			return &spec->linux->namespaces[i];
	return NULL;
}

static void kv_free(struct oci_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void oci_process_free(struct oci_process *p)
{
	if (p == NULL)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	crix_strv_free(p->args);
	free(p->command_line);
	crix_strv_free(p->env);
	free(p->cwd);
	if (p->capabilities != NULL) {
		crix_strv_free(p->capabilities->bounding);
		crix_strv_free(p->capabilities->effective);
		crix_strv_free(p->capabilities->inheritable);
		crix_strv_free(p->capabilities->permitted);
		crix_strv_free(p->capabilities->ambient);
		free(p->capabilities);
	}
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	json_object_put(p->raw);
	free(p);
}

static void hook_list_free(struct oci_hook_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->hooks[i].path);
		crix_strv_free(l->hooks[i].args);
		crix_strv_free(l->hooks[i].env);
	}
	free(l->hooks);
	l->hooks = NULL;
	l->n = 0;
}

static void linux_free(struct oci_linux *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	oci_resources_free(l->resources);
	kv_free(l->sysctl, l->n_sysctl);
	oci_seccomp_free(l->seccomp);
	crix_strv_free(l->masked_paths);
	crix_strv_free(l->readonly_paths);
	free(l->rootfs_propagation);
	free(l->mount_label);
	free(l->personality_domain);
	free(l);
}

void oci_spec_free(struct oci_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->oci_version);
	oci_process_free(spec->process);
	if (spec->root != NULL) {
		free(spec->root->path);
		free(spec->root);
	}
	free(spec->hostname);
	free(spec->domainname);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		free(spec->mounts[i].destination);
		free(spec->mounts[i].type);
		free(spec->mounts[i].source);
		crix_strv_free(spec->mounts[i].options);
	}
	free(spec->mounts);
	for (int k = 0; k < OCI_HOOK_KINDS; k++)
		hook_list_free(&spec->hooks[k]);
	kv_free(spec->annotations, spec->n_annotations);
	linux_free(spec->linux);
	json_object_put(spec->raw);
	free(spec);
}
