/* What crix-conmon says to crixd and understands from it: sync-pipe JSON lines, control
 * fifo lines, exit statuses, attach packets. The contract is docs/conmon.md. */
#ifndef MON_PROTO_H
#define MON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crix_err.h"

/* The env variable naming the sync pipe fd. */
#define MON_SYNC_ENV "_CRIX_SYNCPIPE"

/* Largest attach packet either way: one stream byte + MON_ATTACH_DATA_MAX bytes. */
#define MON_ATTACH_DATA_MAX 32768

/* Error messages on the sync pipe keep at most this many bytes (the tail of the runtime's
 * stderr says what went wrong). */
#define MON_SYNC_MESSAGE_MAX 4096

struct mon_exec_result {
	pid_t pid;
	int exit_code; /* exit code, or 128+signal */
	bool timed_out;
	uint64_t stdout_bytes, stderr_bytes; /* kept in the output files */
	bool stdout_truncated, stderr_truncated;
};

/* Each returns a malloc'd JSON line ending in '\n', or NULL on allocation failure. */
char *mon_sync_pid_line(pid_t pid);
/* {"pid": -1, "message": M}: M with surrounding whitespace trimmed, at most the last
 * MON_SYNC_MESSAGE_MAX bytes. */
char *mon_sync_error_line(const char *message, size_t len);
char *mon_sync_exec_line(const struct mon_exec_result *result);

/* Control fifo lines: "1 ROWS COLS" resizes the terminal, "2 0 0" reopens the log. */
enum mon_ctl_type { MON_CTL_RESIZE = 1, MON_CTL_REOPEN = 2 };
struct mon_ctl_msg {
	enum mon_ctl_type type;
	unsigned short rows, cols;
};
/* Parses one line (without its newline). */
int mon_ctl_parse(const char *line, struct mon_ctl_msg *msg, struct crix_err **err);

/* The decimal status of a waitpid() status: the exit code, or 128 + the signal. */
int mon_exit_code(int wait_status);

#endif
