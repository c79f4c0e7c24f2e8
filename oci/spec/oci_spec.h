/* The OCI runtime spec (1.2) config.json as plain C types, read and written with json-c.
 *
 * Strings are NULL when absent; string lists are NULL-terminated arrays (NULL when absent);
 * scalars that may be absent carry a has_<name> flag. Parsing keeps the whole document in
 * `raw`, so fields this model does not know are written back unchanged by oci_spec_to_json.
 * A value of the wrong type is an error naming its JSON path:
 * "process.args[1]: expected string". */
#ifndef OCI_SPEC_H
#define OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"
#include "crix_strv.h"

struct oci_resources;
struct oci_seccomp;

struct oci_user {
	uint32_t uid;
	uint32_t gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username; /* Windows only; kept for round trips */
};

struct oci_rlimit {
	char *type; /* "RLIMIT_NOFILE" */
	uint64_t hard;
	uint64_t soft;
};

/* Each set NULL when absent (absent is not the same as empty). */
struct oci_capabilities {
	char **bounding;
	char **effective;
	char **inheritable;
	char **permitted;
	char **ambient;
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	uint32_t console_height;
	uint32_t console_width;
	struct oci_user user;
	char **args;
	char *command_line; /* Windows only */
	char **env;
	char *cwd;
	struct oci_capabilities *capabilities;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *apparmor_profile;
	char *selinux_label;
	struct json_object *raw; /* the parsed object, for unknown fields */
};

struct oci_root {
	char *path;
	bool readonly;
};

struct oci_mount {
	char *destination;
	char *type;
	char *source;
	char **options;
};

struct oci_hook {
	char *path;
	char **args;
	char **env;
	bool has_timeout;
	int timeout; /* seconds, > 0 */
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_KINDS
};

struct oci_hook_list {
	struct oci_hook *hooks;
	size_t n;
};

/* Insertion-ordered string map (annotations, sysctl). */
struct oci_kv {
	char *key;
	char *value;
};

enum oci_ns_type {
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_MOUNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS_TYPES
};

struct oci_namespace {
	enum oci_ns_type type;
	char *path; /* NULL: create a new one */
};

struct oci_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct oci_device {
	char *path;
	char type; /* 'c', 'b', 'u', 'p' */
	int64_t major;
	int64_t minor;
	bool has_file_mode;
	uint32_t file_mode;
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
};

struct oci_time_offset {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	struct oci_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct oci_id_mapping *gid_mappings;
	size_t n_gid_mappings;
	struct oci_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct oci_resources *resources; /* NULL when absent */
	struct oci_kv *sysctl;
	size_t n_sysctl;
	struct oci_seccomp *seccomp; /* NULL when absent */
	char **masked_paths;
	char **readonly_paths;
	char *rootfs_propagation;
	char *mount_label;
	bool has_personality;
	char *personality_domain; /* "LINUX" or "LINUX32" */
	struct oci_time_offset time_monotonic;
	struct oci_time_offset time_boottime;
};

struct oci_spec {
	char *oci_version;
	struct oci_process *process; /* NULL when absent */
	struct oci_root *root;
	char *hostname;
	char *domainname;
	struct oci_mount *mounts;
	size_t n_mounts;
	bool has_hooks;
	struct oci_hook_list hooks[OCI_HOOK_KINDS];
	struct oci_kv *annotations;
	size_t n_annotations;
	struct oci_linux *linux; /* NULL when absent */
	struct json_object *raw;   /* the parsed document, for unknown fields; NULL if built */
};

/* Parses a config.json document. */
int oci_spec_from_json(struct json_object *obj, struct oci_spec **out, struct crix_err **err);
int oci_spec_from_string(const char *text, struct oci_spec **out, struct crix_err **err);
int oci_spec_from_file(const char *path, struct oci_spec **out, struct crix_err **err);

/* Emits the document: the known fields from the structs over the unknown ones kept in raw.
 * *out is a new reference. */
int oci_spec_to_json(const struct oci_spec *spec, struct json_object **out, struct crix_err **err);
/* The document as pretty-printed text (malloc'd). */
int oci_spec_to_string(const struct oci_spec *spec, char **out, struct crix_err **err);

void oci_spec_free(struct oci_spec *spec);

/* A process object alone (exec --process FILE); json_path prefixes error paths. */
int oci_process_from_json(struct json_object *obj, const char *json_path, struct oci_process **out,
			  struct crix_err **err);
int oci_process_to_json(const struct oci_process *p, struct json_object **out, struct crix_err **err);
void oci_process_free(struct oci_process *p);

/* "pid" -> OCI_NS_PID; -1 when unknown. */
int oci_ns_type_from_name(const char *name);
const char *oci_ns_type_name(enum oci_ns_type type);
const char *oci_hook_kind_name(enum oci_hook_kind kind);

/* The namespace entry of a type, or NULL when the spec does not list it. */
const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, enum oci_ns_type type);

/* The default config.json of `crix-runtime spec` (as runc spec), as a spec. */
int oci_spec_default(struct oci_spec **out, struct crix_err **err);


#endif
