#include "crix_paths.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 255

int crix_path_check_name(const char *what, const char *name, struct crix_err **err)
{
	if (name == NULL || name[0] == '\0')
		return crix_err_make(err, EINVAL, "invalid %s \"\": empty", what);
	size_t n = strnlen(name, NAME_MAX_LEN + 1);
	if (n > NAME_MAX_LEN)
		return crix_err_make(err, EINVAL, "invalid %s: longer than %d bytes", what, NAME_MAX_LEN);
	if (!isalnum((unsigned char)name[0]))
		return crix_err_make(err, EINVAL, "invalid %s \"%s\": must start with a letter or digit", what,
				     name);
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("_.-", name[i]) == NULL)
			return crix_err_make(err, EINVAL, "invalid %s \"%s\": only [A-Za-z0-9_.-] allowed",
					     what, name);
	return 0;
}

static int base_check(const char *what, const char *base, struct crix_err **err)
{
	if (base == NULL || base[0] == '\0')
		return crix_err_make(err, EINVAL, "%s: no base directory", what);
	return 0;
}

static int build(char **out, struct crix_err **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int build(char **out, struct crix_err **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*out = NULL;
		return crix_err_make(err, ENOMEM, "build a path");
	}
	return 0;
}

/* <base>/<dir>/<name><suffix> for a checked base and name. */
static int named(const char *base, const char *dir, const char *what, const char *name, const char *suffix,
		 char **out, struct crix_err **err)
{
	if (base_check(dir, base, err) < 0 || crix_path_check_name(what, name, err) < 0)
		return -1;
	return build(out, err, "%s/%s/%s%s", base, dir, name, suffix);
}

int crix_path_bundle(const char *runroot, const char *id, char **out, struct crix_err **err)
{
	return named(runroot, "bundles", "container id", id, "", out, err);
}

int crix_path_exit(const char *runroot, const char *id, char **out, struct crix_err **err)
{
	return named(runroot, "exits", "container id", id, "", out, err);
}

int crix_path_pod_ns(const char *runroot, const char *pod_id, const char *ns, char **out,
		     struct crix_err **err)
{
	static const char *const kinds[] = {"net", "ipc", "uts", "pid", "user", "cgroup", "mnt", "time"};
	bool known = false;
	for (size_t i = 0; ns != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known = known || strcmp(ns, kinds[i]) == 0;
	if (!known)
		return crix_err_make(err, EINVAL, "invalid namespace \"%s\"", ns ? ns : "");
	if (base_check("ns", runroot, err) < 0 || crix_path_check_name("pod id", pod_id, err) < 0)
		return -1;
	return build(out, err, "%s/ns/%s/%s", runroot, pod_id, ns);
}

int crix_path_conmon(const char *runroot, const char *id, enum crix_conmon_file file, char **out,
		     struct crix_err **err)
{
	static const char *const files[] = {
		[CRIX_CONMON_DIR] = "", [CRIX_CONMON_ATTACH] = "/attach",
		[CRIX_CONMON_CTL] = "/ctl", [CRIX_CONMON_PID] = "/pid"};
	if ((unsigned)file >= sizeof(files) / sizeof(files[0]))
		return crix_err_make(err, EINVAL, "invalid monitor file %d", (int)file);
	return named(runroot, "conmon", "container id", id, files[file], out, err);
}

int crix_path_pod_record(const char *root, const char *pod_id, char **out, struct crix_err **err)
{
	return named(root, "pods", "pod id", pod_id, "/state.json", out, err);
}

int crix_path_container_dir(const char *root, const char *id, char **out, struct crix_err **err)
{
	return named(root, "containers", "container id", id, "", out, err);
}

int crix_path_container_record(const char *root, const char *id, char **out, struct crix_err **err)
{
	return named(root, "containers", "container id", id, "/state.json", out, err);
}
