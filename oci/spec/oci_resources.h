/* linux.resources of the OCI runtime spec (1.2) as plain C, read from and written to json-c.
 *
 * Every scalar has a has_<name> flag: false means "absent in the JSON" (leave the kernel's
 * value alone), which is not the same as 0. Arrays are (pointer, count) pairs. Parsing keeps
 * the unknown top-level keys of linux.resources in `unknown` and writes them back on emit. */
#ifndef OCI_RESOURCES_H
#define OCI_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"

/* A device cgroup rule. type is 'a' (all), 'c' or 'b'; a missing major/minor is a wildcard. */
struct oci_device_rule {
	bool allow;
	char type;       /* 'a', 'c', 'b'; 'a' when absent in the JSON */
	bool has_major;  /* false: wildcard '*' */
	int64_t major;
	bool has_minor;
	int64_t minor;
	char *access;    /* subset of "rwm"; NULL when absent (means "rwm") */
};

struct oci_memory {
	bool has_limit;
	int64_t limit; /* bytes, -1 = unlimited */
	bool has_reservation;
	int64_t reservation;
	bool has_swap;
	int64_t swap; /* memory+swap, as in v1 memsw; -1 = unlimited */
	bool has_kernel;
	int64_t kernel;
	bool has_kernel_tcp;
	int64_t kernel_tcp;
	bool has_swappiness;
	uint64_t swappiness;
	bool has_disable_oom_killer;
	bool disable_oom_killer;
	bool has_use_hierarchy;
	bool use_hierarchy;
	bool has_check_before_update;
	bool check_before_update;
};

struct oci_cpu {
	bool has_shares;
	uint64_t shares;
	bool has_quota;
	int64_t quota; /* µs per period, -1 = unlimited */
	bool has_burst;
	uint64_t burst;
	bool has_period;
	uint64_t period;
	bool has_realtime_runtime;
	int64_t realtime_runtime;
	bool has_realtime_period;
	uint64_t realtime_period;
	char *cpus; /* NULL when absent */
	char *mems;
	bool has_idle;
	int64_t idle;
};

struct oci_weight_device {
	int64_t major;
	int64_t minor;
	bool has_weight;
	uint16_t weight;
	bool has_leaf_weight;
	uint16_t leaf_weight;
};

struct oci_throttle_device {
	int64_t major;
	int64_t minor;
	uint64_t rate;
};

struct oci_block_io {
	bool has_weight;
	uint16_t weight;
	bool has_leaf_weight;
	uint16_t leaf_weight;
	struct oci_weight_device *weight_device;
	size_t n_weight_device;
	/* read bps, write bps, read iops, write iops */
	struct oci_throttle_device *throttle_read_bps;
	size_t n_throttle_read_bps;
	struct oci_throttle_device *throttle_write_bps;
	size_t n_throttle_write_bps;
	struct oci_throttle_device *throttle_read_iops;
	size_t n_throttle_read_iops;
	struct oci_throttle_device *throttle_write_iops;
	size_t n_throttle_write_iops;
};

struct oci_hugepage_limit {
	char *page_size; /* "2MB", "1GB" */
	uint64_t limit;
};

/* Parsed and written back, never applied (runc and crun ignore it on cgroupfs too). */
struct oci_net_priority {
	char *name;
	uint32_t priority;
};
struct oci_network {
	bool has_class_id;
	uint32_t class_id;
	struct oci_net_priority *priorities;
	size_t n_priorities;
};

struct oci_rdma_limit {
	char *device;
	bool has_hca_handles;
	uint32_t hca_handles;
	bool has_hca_objects;
	uint32_t hca_objects;
};

/* linux.resources.unified: cgroup v2 file name -> content, written verbatim. */
struct oci_unified_entry {
	char *key;
	char *value;
};

struct oci_resources {
	struct oci_device_rule *devices;
	size_t n_devices;
	struct oci_memory *memory; /* NULL when absent */
	struct oci_cpu *cpu;
	bool has_pids_limit;       /* pids.limit */
	int64_t pids_limit;        /* <= 0 = unlimited ("max"), as runc */
	struct oci_block_io *block_io;
	struct oci_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	struct oci_network *network;
	struct oci_rdma_limit *rdma;
	size_t n_rdma;
	struct oci_unified_entry *unified;
	size_t n_unified;
	struct json_object *unknown; /* unknown keys, or NULL */
};

/* Parses obj (a JSON object). json_path names obj in error messages, e.g. "linux.resources";
 * a wrong type fails with "<json_path>.memory.limit: expected integer". */
int oci_resources_from_json(struct json_object *obj, const char *json_path,
			    struct oci_resources **out, struct crix_err **err);

/* Emits only the fields that are set. *out is a new reference. */
int oci_resources_to_json(const struct oci_resources *r, struct json_object **out,
			  struct crix_err **err);

void oci_resources_free(struct oci_resources *r);

#endif
