#include "mon_proto.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Serialises obj as one line and releases it; NULL (out of memory) when obj is. */
static char *to_line(struct json_object *obj)
{
	if (obj == NULL)
		return NULL;
	char *line = NULL;
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	if (text == NULL || asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	json_object_put(obj);
	return line;
}

/* Adds key: value to obj; on failure (value NULL: out of memory) releases obj and returns
 * NULL, so a message is whole or not sent. */
static struct json_object *put(struct json_object *obj, const char *key, struct json_object *value)
{
	if (obj != NULL && value != NULL && json_object_object_add(obj, key, value) == 0)
		return obj;
	json_object_put(value);
	json_object_put(obj);
	return NULL;
}

char *mon_sync_pid_line(pid_t pid)
{
	return to_line(put(json_object_new_object(), "pid", json_object_new_int(pid)));
}

char *mon_sync_error_line(const char *message, size_t len)
{
	while (len > 0 && isspace((unsigned char)message[0])) {
		message++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)message[len - 1]))
		len--;
	if (len > MON_SYNC_MESSAGE_MAX) {
		message += len - MON_SYNC_MESSAGE_MAX;
		len = MON_SYNC_MESSAGE_MAX;
	}
	struct json_object *obj = put(json_object_new_object(), "pid", json_object_new_int(-1));
	return to_line(put(obj, "message", json_object_new_string_len(message, (int)len)));
}

char *mon_sync_exec_line(const struct mon_exec_result *r)
{
	struct json_object *obj = put(json_object_new_object(), "pid", json_object_new_int(r->pid));
	obj = put(obj, "exit_code", json_object_new_int(r->exit_code));
	obj = put(obj, "timed_out", json_object_new_boolean(r->timed_out));
	obj = put(obj, "stdout_bytes", json_object_new_int64((int64_t)r->stdout_bytes));
	obj = put(obj, "stderr_bytes", json_object_new_int64((int64_t)r->stderr_bytes));
	obj = put(obj, "stdout_truncated", json_object_new_boolean(r->stdout_truncated));
	obj = put(obj, "stderr_truncated", json_object_new_boolean(r->stderr_truncated));
	return to_line(obj);
}

int mon_ctl_parse(const char *line, struct mon_ctl_msg *msg, struct crix_err **err)
{
	int type, consumed = 0;
	unsigned a, b;
	if (sscanf(line, "%d %u %u%n", &type, &a, &b, &consumed) != 3 || line[consumed] != '\0')
		return crix_err_make(err, EINVAL, "control message: not \"TYPE A B\": %s", line);
	switch (type) {
	case MON_CTL_RESIZE:
		if (a > 0xffff || b > 0xffff)
			return crix_err_make(err, ERANGE, "control message: size too large: %s", line);
		break;
	case MON_CTL_REOPEN:
		break;
	default:
		return crix_err_make(err, EINVAL, "control message: unknown type %d", type);
	}
	msg->type = (enum mon_ctl_type)type;
	msg->rows = (unsigned short)a;
	msg->cols = (unsigned short)b;
	return 0;
}

int mon_exit_code(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 255;
}
