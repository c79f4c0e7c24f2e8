/* Container state kept under --root (default /run/crix-runtime), one directory per id:
 *   <root>/<id>/state.json   our record (written once the container is created)
 *   <root>/<id>/config.json  the spec as read at create (exec and delete use it)
 *   <root>/<id>/exec.fifo    exists from create until start: the init blocks reading it
 * The status is derived, not stored: init gone (or a zombie, or its pid reused) = stopped;
 * fifo present = created; frozen cgroup = paused; else running. */
#ifndef OCI_STATE_H
#define OCI_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "crix_err.h"

#define OCI_DEFAULT_ROOT "/run/crix-runtime"
#define OCI_VERSION "1.2.0"

enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };

struct oci_state {
	char *id;
	char *dir;          /* <root>/<id> */
	pid_t pid;          /* the container's init, 0 while creating */
	uint64_t pid_start; /* its start time (field 22 of /proc/pid/stat), against pid reuse */
	char *bundle;
	char *rootfs;
	char *created;      /* RFC 3339 */
	char *cgroups_path; /* as used for the cgroup */
	bool cgroup_ns;     /* the container has its own cgroup namespace (for exec) */
	struct json_object *annotations; /* object, may be NULL */
};

/* Fails unless id matches [A-Za-z0-9][A-Za-z0-9_.-]* and is at most 1024 bytes. */
int oci_state_validate_id(const char *id, struct crix_err **err);

/* "<root>/<id>" (malloc'd) for a valid id. */
int oci_state_dir(const char *root, const char *id, char **out, struct crix_err **err);

/* Creates the state directory of a new container; EEXIST is "container <id> already exists". */
int oci_state_reserve(const char *root, const char *id, char **dir, struct crix_err **err);

int oci_state_write(const struct oci_state *st, struct crix_err **err);
/* Loads <root>/<id>; ENOENT is "container <id> does not exist". A container still being
 * created has pid 0 and no bundle. */
int oci_state_load(const char *root, const char *id, struct oci_state **out, struct crix_err **err);
void oci_state_free(struct oci_state *st);

/* Start time of pid from /proc, 0 if it is gone; *zombie set when it has exited. */
uint64_t oci_pid_start_time(pid_t pid, bool *zombie);

/* The current status (consults /proc, the fifo and the freezer). */
enum oci_status oci_state_status(const struct oci_state *st);
const char *oci_status_name(enum oci_status s);
/* True while the init recorded in st is this very process (not exited, pid not reused). */
bool oci_state_init_alive(const struct oci_state *st);

/* The OCI state document (ociVersion, id, status, pid, bundle, rootfs, created, owner,
 * annotations) of `state` and `list --format json`; NULL when out of memory. */
struct json_object *oci_state_to_oci_json(const struct oci_state *st, enum oci_status status);
/* The state a hook reads on its stdin, with the fields runc gives it: ociVersion, id, status,
 * pid (as the hook's runner sees the init; left out once stopped), bundle, annotations (left
 * out when none). Malloc'd; NULL when out of memory. */
char *oci_state_hook_text(const struct oci_state *st, enum oci_status status, pid_t pid);

/* Path of a file in the state dir (malloc'd). */
char *oci_state_path(const struct oci_state *st, const char *name);

#endif
