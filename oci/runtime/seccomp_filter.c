#include "seccomp_filter.h"

#include <ctype.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"

static inline void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx != NULL)
		seccomp_release(*ctx);
}
#define _cleanup_seccomp_ __attribute__((cleanup(seccomp_releasep)))

static uint32_t to_scmp_action(enum oci_seccomp_action action, bool has_errno, uint32_t errno_ret)
{
	uint32_t ret = has_errno ? errno_ret : EPERM;
	switch (action) {
	case OCI_SECCOMP_ACT_KILL:
	case OCI_SECCOMP_ACT_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case OCI_SECCOMP_ACT_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case OCI_SECCOMP_ACT_TRAP:
		return SCMP_ACT_TRAP;
	case OCI_SECCOMP_ACT_ERRNO:
		return SCMP_ACT_ERRNO(ret);
	case OCI_SECCOMP_ACT_TRACE:
		return SCMP_ACT_TRACE(ret);
	case OCI_SECCOMP_ACT_LOG:
		return SCMP_ACT_LOG;
	case OCI_SECCOMP_ACT_NOTIFY:
		return SCMP_ACT_NOTIFY;
	case OCI_SECCOMP_ACT_ALLOW:
		break;
	}
	return SCMP_ACT_ALLOW;
}

static const enum scmp_compare scmp_ops[] = {
	[OCI_SECCOMP_OP_NE] = SCMP_CMP_NE, [OCI_SECCOMP_OP_LT] = SCMP_CMP_LT,
	[OCI_SECCOMP_OP_LE] = SCMP_CMP_LE, [OCI_SECCOMP_OP_EQ] = SCMP_CMP_EQ,
	[OCI_SECCOMP_OP_GE] = SCMP_CMP_GE, [OCI_SECCOMP_OP_GT] = SCMP_CMP_GT,
	[OCI_SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

/* "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64"; 0 when unknown. */
static uint32_t resolve_arch(const char *name)
{
	char lower[32];
	const char *prefix = "SCMP_ARCH_";
	size_t i;

	if (strncmp(name, prefix, strlen(prefix)) != 0)
		return 0;
	name += strlen(prefix);
	for (i = 0; name[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	return seccomp_arch_resolve_name(lower);
}

static int resolve_flag(const char *name, unsigned int *flag)
{
	static const struct {
		const char *name;
		unsigned int flag;
	} flags[] = {
		{"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
		{"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
		{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++)
		if (strcmp(flags[i].name, name) == 0) {
			*flag = flags[i].flag;
			return 0;
		}
	return -1;
}

/* Adds the rules of one syscall name. Conditions on distinct argument indexes are ANDed in one
 * rule; when an index repeats, libseccomp cannot express it in one rule, so each condition
 * becomes its own rule (ORed), as runc and crun do. */
static int add_rules(scmp_filter_ctx ctx, const struct oci_seccomp_syscall *sc, const char *name,
		     int nr, uint32_t action, struct crix_err **err)
{
	struct scmp_arg_cmp cmps[6];
	bool repeated = false;
	unsigned int seen = 0;
	int rc;

	if (sc->n_args > 6)
		return crix_err_make(err, EINVAL, "seccomp rule for %s: more than 6 argument conditions", name);
	for (size_t i = 0; i < sc->n_args; i++) {
		const struct oci_seccomp_arg *a = &sc->args[i];
		cmps[i] = (struct scmp_arg_cmp){
			.arg = a->index,
			.op = scmp_ops[a->op],
			.datum_a = a->value,
			.datum_b = a->value_two,
		};
		if (seen & (1u << a->index))
			repeated = true;
		seen |= 1u << a->index;
	}
	if (!repeated) {
		rc = seccomp_rule_add_array(ctx, action, nr, (unsigned int)sc->n_args, cmps);
		if (rc < 0)
			return crix_err_make(err, -rc, "seccomp rule for %s", name);
		return 0;
	}
	for (size_t i = 0; i < sc->n_args; i++) {
		rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[i]);
		if (rc < 0)
			return crix_err_make(err, -rc, "seccomp rule for %s (condition %zu)", name, i);
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct oci_seccomp_filter *f, struct crix_err **err)
{
	_cleanup_close_ int fd = memfd_create("crix-seccomp", MFD_CLOEXEC);
	struct stat st;
	int rc;

	if (fd < 0)
		return crix_err_make(err, errno, "seccomp: memfd_create");
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
		return crix_err_make(err, -rc, "seccomp: export BPF");
	if (fstat(fd, &st) < 0)
		return crix_err_make(err, errno, "seccomp: stat exported BPF");
	if (st.st_size == 0 || st.st_size % sizeof(struct sock_filter) != 0)
		return crix_err_make(err, EINVAL, "seccomp: exported BPF has odd size %lld",
				     (long long)st.st_size);
	f->bpf = malloc((size_t)st.st_size);
	if (f->bpf == NULL)
		return crix_err_make(err, ENOMEM, "seccomp: BPF buffer");
	if (pread(fd, f->bpf, (size_t)st.st_size, 0) != st.st_size)
		return crix_err_make(err, errno ? errno : EIO, "seccomp: read exported BPF");
	f->n_insns = (size_t)st.st_size / sizeof(struct sock_filter);
	return 0;
}

static int build(const struct oci_seccomp *spec, struct oci_seccomp_filter *f, struct crix_err **err)
{
	if (spec->default_action == OCI_SECCOMP_ACT_NOTIFY)
		return crix_err_make(err, EINVAL, "seccomp: SCMP_ACT_NOTIFY cannot be the default action");
	uint32_t default_action = to_scmp_action(spec->default_action, spec->has_default_errno_ret,
						 spec->default_errno_ret);
	_cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(default_action);
	if (ctx == NULL)
		return crix_err_make(err, EINVAL, "seccomp: init with %s",
				     oci_seccomp_action_name(spec->default_action));

	for (size_t i = 0; i < spec->n_architectures; i++) {
		uint32_t arch = resolve_arch(spec->architectures[i]);
		if (arch == 0)
			return crix_err_make(err, EINVAL, "seccomp: unknown architecture %s",
					     spec->architectures[i]);
		int rc = seccomp_arch_add(ctx, arch);
		if (rc < 0 && rc != -EEXIST)
			return crix_err_make(err, -rc, "seccomp: add architecture %s", spec->architectures[i]);
	}
	for (size_t i = 0; i < spec->n_flags; i++) {
		unsigned int flag;
		if (resolve_flag(spec->flags[i], &flag) < 0)
			return crix_err_make(err, EINVAL, "seccomp: unknown flag %s", spec->flags[i]);
		f->flags |= flag;
	}
	for (size_t i = 0; i < spec->n_syscalls; i++) {
		const struct oci_seccomp_syscall *sc = &spec->syscalls[i];
		uint32_t action = to_scmp_action(sc->action, sc->has_errno_ret, sc->errno_ret);
		if (action == default_action)
			continue;
		if (sc->action == OCI_SECCOMP_ACT_NOTIFY)
			f->wants_listener = true;
		for (size_t j = 0; j < sc->n_names; j++) {
			int nr = seccomp_syscall_resolve_name(sc->names[j]);
			if (nr == __NR_SCMP_ERROR) {
				crix_debug("seccomp: syscall %s unknown to libseccomp, skipped", sc->names[j]);
				continue;
			}
			if (add_rules(ctx, sc, sc->names[j], nr, action, err) < 0)
				return -1;
		}
	}
	if (f->wants_listener) {
		f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
		/* TSYNC and a listener are exclusive unless TSYNC reports ESRCH instead of a tid. */
		if (f->flags & SECCOMP_FILTER_FLAG_TSYNC)
			f->flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	}
	return export_bpf(ctx, f, err);
}

int oci_seccomp_filter_build(const struct oci_seccomp *spec, struct oci_seccomp_filter **out,
			     struct crix_err **err)
{
	struct oci_seccomp_filter *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL)
		return crix_err_make(err, ENOMEM, "seccomp filter");
	if (build(spec, f, err) < 0) {
		oci_seccomp_filter_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

/* --- cache --- */

#define CACHE_MAGIC 0x43535843u /* "CXSC" */
#define CACHE_MAX (1u << 20)

/* A cache file: this header, the key, then the instructions. */
struct cache_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t wants_listener;
	uint32_t key_len;
	uint32_t n_insns;
};

/* What the compiled program depends on: libseccomp, the native architecture, the spec. */
static int cache_key(const struct oci_seccomp *spec, char **key, struct crix_err **err)
{
	struct json_object *json = NULL;
	const struct scmp_version *v = seccomp_version();

	if (oci_seccomp_to_json(spec, &json, err) < 0)
		return -1;
	int rc = asprintf(key, "crix-seccomp 1 libseccomp %u.%u.%u arch %u\n%s", v->major, v->minor,
			  v->micro, seccomp_arch_native(),
			  json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN));
	json_object_put(json);
	if (rc < 0)
		return crix_err_make(err, ENOMEM, "seccomp cache key");
	return 0;
}

/* FNV-1a: only names the file; the stored key decides a hit. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* The filter stored at path for key, or NULL (absent, stale or damaged). */
static struct oci_seccomp_filter *cache_read(const char *path, const char *key)
{
	struct crix_err *err = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0, key_len = strlen(key);
	struct cache_header h;

	if (crix_read_file(path, CACHE_MAX, &data, &len, &err) < 0) {
		crix_err_free(&err);
		return NULL;
	}
	if (len < sizeof(h))
		return NULL;
	memcpy(&h, data, sizeof(h));
	if (h.magic != CACHE_MAGIC || h.key_len != key_len || h.n_insns == 0 ||
	    len != sizeof(h) + key_len + (size_t)h.n_insns * sizeof(struct sock_filter) ||
	    memcmp(data + sizeof(h), key, key_len) != 0)
		return NULL;
	struct oci_seccomp_filter *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->bpf = malloc(h.n_insns * sizeof(struct sock_filter))) == NULL) {
		free(f);
		return NULL;
	}
	memcpy(f->bpf, data + sizeof(h) + key_len, h.n_insns * sizeof(struct sock_filter));
	f->n_insns = h.n_insns;
	f->flags = h.flags;
	f->wants_listener = h.wants_listener != 0;
	return f;
}

static int cache_write(const char *path, const char *key, const struct oci_seccomp_filter *f,
		       struct crix_err **err)
{
	size_t key_len = strlen(key), code_len = f->n_insns * sizeof(struct sock_filter);
	struct cache_header h = {
		.magic = CACHE_MAGIC,
		.flags = f->flags,
		.wants_listener = f->wants_listener,
		.key_len = (uint32_t)key_len,
		.n_insns = (uint32_t)f->n_insns,
	};
	_cleanup_free_ char *data = malloc(sizeof(h) + key_len + code_len);

	if (data == NULL)
		return crix_err_make(err, ENOMEM, "seccomp cache entry");
	memcpy(data, &h, sizeof(h));
	memcpy(data + sizeof(h), key, key_len);
	memcpy(data + sizeof(h) + key_len, f->bpf, code_len);
	return crix_write_file_atomic(path, data, sizeof(h) + key_len + code_len, 0600, CRIX_WRITE_VOLATILE, err);
}

int oci_seccomp_filter_build_cached(const struct oci_seccomp *spec, const char *cache_dir,
				    struct oci_seccomp_filter **out, struct crix_err **err)
{
	_cleanup_free_ char *key = NULL;
	_cleanup_free_ char *path = NULL;
	struct crix_err *cache_err = NULL;

	if (cache_dir == NULL)
		return oci_seccomp_filter_build(spec, out, err);
	if (cache_key(spec, &key, err) < 0)
		return -1;
	if (asprintf(&path, "%s/%016llx.bpf", cache_dir, (unsigned long long)fnv1a(key)) < 0)
		return crix_err_make(err, ENOMEM, "seccomp cache path");
	if ((*out = cache_read(path, key)) != NULL)
		return 0;
	if (oci_seccomp_filter_build(spec, out, err) < 0)
		return -1;
	if (crix_mkdir_p(cache_dir, 0700, &cache_err) < 0 || cache_write(path, key, *out, &cache_err) < 0)
		crix_debug("seccomp cache: %s", crix_err_msg(cache_err));
	crix_err_free(&cache_err);
	return 0;
}

int oci_seccomp_filter_load(const struct oci_seccomp_filter *f, int *listener_fd,
			    struct crix_err **err)
{
	struct sock_fprog prog = {
		.len = (unsigned short)f->n_insns,
		.filter = f->bpf,
	};

	if (listener_fd != NULL)
		*listener_fd = -1;
	if (f->n_insns > BPF_MAXINSNS)
		return crix_err_make(err, E2BIG, "seccomp: filter of %zu instructions is too long",
				     f->n_insns);
	long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);
	if (rc < 0)
		return crix_err_make(err, errno, "seccomp: load filter");
	if (f->wants_listener) {
		if (listener_fd != NULL)
			*listener_fd = (int)rc;
		else
			close((int)rc);
	}
	return 0;
}

void oci_seccomp_filter_free(struct oci_seccomp_filter *f)
{
	if (f == NULL)
		return;
	free(f->bpf);
	free(f);
}
