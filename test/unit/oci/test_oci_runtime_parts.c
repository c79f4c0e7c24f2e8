/* crix-runtime's parts that need no container: mount options, signal names, container ids,
 * the sync protocol over a real socketpair, the hooks' state document. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "oci_container.h"
#include "oci_mount.h"
#include "oci_state.h"
#include "oci_sync.h"

#include "check.h"


static void test_mount_options(void)
{
	char *opts[] = {"rbind", "ro", "nosuid", "nodev", "noexec", "rslave", "size=1m", "mode=700", NULL};
	unsigned long flags = 0, propagation = 0;
	char *data = NULL;
	struct crix_err *err = NULL;
	CHECK(oci_mount_options(opts, &flags, &propagation, &data, &err) == 0);
	CHECK(flags == (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
	CHECK(propagation == (MS_SLAVE | MS_REC));
	CHECK(data != NULL && strcmp(data, "size=1m,mode=700") == 0);
	free(data);

	/* a later option undoes an earlier one; "defaults" and "rw" set nothing */
	char *undo[] = {"ro", "rw", "suid", "nosuid", "dev", "defaults", NULL};
	data = NULL;
	CHECK(oci_mount_options(undo, &flags, &propagation, &data, &err) == 0);
	CHECK(flags == MS_NOSUID && propagation == 0);
	CHECK(data == NULL || data[0] == '\0');
	free(data);
	crix_err_free(&err);
}

static void test_signal_names(void)
{
	CHECK(oci_signal_parse("KILL") == SIGKILL);
	CHECK(oci_signal_parse("SIGKILL") == SIGKILL);
	CHECK(oci_signal_parse("9") == SIGKILL);
	CHECK(oci_signal_parse("TERM") == SIGTERM);
	CHECK(oci_signal_parse("SIGUSR1") == SIGUSR1);
	CHECK(oci_signal_parse("WINCH") == SIGWINCH);
	CHECK(oci_signal_parse("NOPE") == -1);
	CHECK(oci_signal_parse("") == -1);
	CHECK(oci_signal_parse("9x") == -1);
	CHECK(oci_signal_parse("99999") == -1);
}

static void test_ids(void)
{
	struct crix_err *err = NULL;
	CHECK(oci_state_validate_id("abc", &err) == 0);
	CHECK(oci_state_validate_id("a.b_c-D9", &err) == 0);
	const char *bad[] = {"", "..", ".hidden", "-dash", "a/b", "../x", "a b", "a\nb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(oci_state_validate_id(bad[i], &err) < 0);
		crix_err_free(&err);
	}
	char long_id[1030];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CHECK(oci_state_validate_id(long_id, &err) < 0);
	crix_err_free(&err);
	long_id[1024] = '\0';
	CHECK(oci_state_validate_id(long_id, &err) == 0);
}

/* A message's text is not bounded by a packet or the socket buffer (~200 KiB): a 1 MiB error
 * text arrives whole, followed by the next message. */
static void test_sync_long_text(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	size_t len = 1u << 20;
	char *text = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		text[i] = (char)('a' + i % 26);
	text[len] = '\0';
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		int r = oci_sync_send(sv[1], OCI_SYNC_ERROR, EPERM, text, NULL) == 0 &&
				oci_sync_send(sv[1], OCI_SYNC_PID, 4242, NULL, NULL) == 0 &&
				oci_sync_send(sv[1], OCI_SYNC_READY, 0, "", NULL) == 0
			? 0
			: 1;
		_exit(r);
	}
	close(sv[1]);
	struct crix_err *err = NULL;
	CHECK(oci_sync_expect(sv[0], OCI_SYNC_GO, NULL, &err) < 0);
	CHECK(err != NULL && err->errnum == EPERM);
	CHECK(err != NULL && strcmp(crix_err_msg(err), text) == 0);
	crix_err_free(&err);
	int value = 0;
	CHECK(oci_sync_expect(sv[0], OCI_SYNC_PID, &value, &err) == 0 && value == 4242);
	CHECK(oci_sync_expect(sv[0], OCI_SYNC_GO, NULL, &err) < 0 && err->errnum == EPROTO); /* READY */
	crix_err_free(&err);
	CHECK(oci_sync_expect_exec(sv[0], &err) == 0); /* EOF: the sender is gone */
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);

	/* A sender that dies halfway through a message (its text is larger than the socket buffer,
	 * so it blocks until killed) is an error, not a short text. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		oci_sync_send(sv[1], OCI_SYNC_ERROR, 0, text, NULL);
		_exit(0);
	}
	close(sv[1]);
	struct pollfd p = {.fd = sv[0], .events = POLLIN};
	CHECK(poll(&p, 1, -1) == 1); /* its header is there */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(oci_sync_expect(sv[0], OCI_SYNC_GO, NULL, &err) < 0 && err->errnum == EPROTO);
	crix_err_free(&err);
	close(sv[0]);
	free(text);
}

/* The state hooks get has runc's fields: no pid once stopped, no annotations when none. */
static void test_hook_state(void)
{
	char id[] = "c1", bundle[] = "/b", rootfs[] = "/b/rootfs";
	struct oci_state st = {.id = id, .bundle = bundle, .rootfs = rootfs, .pid = 77};
	char *text = oci_state_hook_text(&st, OCI_CREATING, 1);
	struct json_object *o = json_tokener_parse(text);
	CHECK(o != NULL && json_object_object_length(o) == 5);
	struct json_object *v = NULL;
	CHECK(json_object_object_get_ex(o, "pid", &v) && json_object_get_int(v) == 1);
	CHECK(json_object_object_get_ex(o, "status", &v) && strcmp(json_object_get_string(v), "creating") == 0);
	CHECK(!json_object_object_get_ex(o, "rootfs", NULL) && !json_object_object_get_ex(o, "annotations", NULL));
	json_object_put(o);
	free(text);
	st.annotations = json_tokener_parse("{\"k\": \"v\"}");
	text = oci_state_hook_text(&st, OCI_STOPPED, 77);
	o = json_tokener_parse(text);
	CHECK(o != NULL && !json_object_object_get_ex(o, "pid", NULL));
	CHECK(json_object_object_get_ex(o, "annotations", &v) && json_object_object_length(v) == 1);
	json_object_put(o);
	json_object_put(st.annotations);
	free(text);
}

int main(void)
{
	test_mount_options();
	test_signal_names();
	test_ids();
	test_sync_long_text();
	test_hook_state();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("oci runtime parts: ok\n");
	return 0;
}
