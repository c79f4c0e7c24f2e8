/* crix-runtime's pure parts: mount options, signal names, container ids. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "oci_container.h"
#include "oci_mount.h"
#include "oci_state.h"

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

int main(void)
{
	test_mount_options();
	test_signal_names();
	test_ids();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("oci runtime parts: ok\n");
	return 0;
}
