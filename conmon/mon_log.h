/* The container log in the CRI format that the kubelet and `crictl logs` parse:
 *   <RFC 3339 UTC time with nanoseconds and Z> <stdout|stderr> <F|P> <bytes>\n
 * One timestamp per chunk read from the container. Every newline-terminated line of a chunk
 * becomes an F record; bytes after the chunk's last newline become a P record, so a line
 * longer than a read, or output that pauses mid-line, arrives as P records ending with F. */
#ifndef MON_LOG_H
#define MON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crix_err.h"

enum mon_stream { MON_STDOUT = 2, MON_STDERR = 3 }; /* also the attach packet prefix */

/* "2026-11-22T10:59:10.788233427Z" is 30 bytes; the buffer takes the NUL too. */
#define MON_TS_LEN 30

struct mon_log {
	char *path;
	int fd;
	uint64_t size;     /* bytes in the current file */
	uint64_t max_size; /* 0: no cap; else rotate to <path>.1 before a record would pass it */
	char *buf;         /* records waiting for one write(); allocated on first output */
	size_t used;
	uint64_t dropped;  /* bytes lost because the file could not be written */
	uint64_t written_back; /* size up to which writeback to disk has been started */
	time_t ts_sec;     /* the cached date part below belongs to this second */
	char ts_date[24];  /* "YYYY-MM-DDTHH:MM:SS." */
};

/* Formats ts as RFC 3339 UTC with nanoseconds into out (MON_TS_LEN + 1 bytes); caches the
 * date part in log (may be NULL). Returns MON_TS_LEN. */
size_t mon_log_format_time(struct mon_log *log, const struct timespec *ts, char *out);

/* Opens (appending, creating 0640) path; a NULL path makes a log that discards everything. */
int mon_log_open(struct mon_log *log, const char *path, uint64_t max_size, struct crix_err **err);

/* Writes the chunk as records stamped ts. Fails (having counted the loss in dropped) when the
 * file cannot be written, e.g. a full disk; the log stays usable and, for chunks up to 64 KiB
 * less a record header, never ends in a torn record. */
int mon_log_write(struct mon_log *log, enum mon_stream stream, const char *data, size_t len,
		  const struct timespec *ts, struct crix_err **err);

/* Closes and opens the path again: after the kubelet renamed the file. */
int mon_log_reopen(struct mon_log *log, struct crix_err **err);

/* Writes what is buffered, fsyncs and closes; always releases the log. Fails when any of
 * them failed (the output may not all be on disk). */
int mon_log_close(struct mon_log *log, struct crix_err **err);

#endif
