/* Shared between the config sources; not part of the API. */
#ifndef CRIX_CFG_INTERNAL_H
#define CRIX_CFG_INTERNAL_H

#include "cfg.h"

/* Limits of the numeric keys (also stated in crix.yaml). */
#define CFG_GRPC_MSG_MIN (UINT64_C(1) << 20)
#define CFG_GRPC_MSG_MAX (UINT64_C(1) << 31)
#define CFG_WORKERS_MIN 2 /* one for the quick reads, one for the rest */
#define CFG_WORKERS_MAX 1024
#define CFG_WORKER_IDLE_MIN 1
#define CFG_WORKER_IDLE_MAX 3600
#define CFG_DOWNLOADS_MIN 1
#define CFG_DOWNLOADS_MAX 64
#define CFG_STALL_TIMEOUT_MIN 1
#define CFG_STALL_TIMEOUT_MAX 3600
#define CFG_MIN_SPEED_MIN 1
#define CFG_MIN_SPEED_MAX (UINT64_C(1) << 30)
#define CFG_PORT_MAX 65535

/* A config error: "<where>: <message>" (where may be NULL), errnum EINVAL. Returns -1. */
int cfg_fail(struct crix_err **err, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *cfg_cgroup_manager_name(enum cfg_cgroup_manager m);
/* "cgroupfs" / "systemd" -> value; -1 if unknown. */
int cfg_cgroup_manager_parse(const char *name);

/* Appends a handler (copies name and path). */
int cfg_add_handler(struct crix_config *cfg, const char *name, const char *path, struct crix_err **err);

void cfg_free_registries(struct cfg_registry *regs, size_t n);
void cfg_free_strings(char **v, size_t n);

/* Moves src's contents into dst (freeing dst's old contents) and frees the src shell. */
void cfg_replace(struct crix_config *dst, struct crix_config *src);

#endif
