#include "mon_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crix_cleanup.h"

/* Records are gathered here and written with one write(): far fewer syscalls than one
 * writev per line for chatty containers. */
#define MON_LOG_BUF_SIZE (64 * 1024)

size_t mon_log_format_time(struct mon_log *log, const struct timespec *ts, char *out)
{
	char date[24];
	const char *cached = NULL;
	if (log != NULL && log->ts_date[0] != '\0' && log->ts_sec == ts->tv_sec)
		cached = log->ts_date;
	if (cached == NULL) {
		struct tm tm;
		gmtime_r(&ts->tv_sec, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S.", &tm);
		if (log != NULL) {
			memcpy(log->ts_date, date, sizeof(date));
			log->ts_sec = ts->tv_sec;
		}
		cached = date;
	}
	memcpy(out, cached, 20);
	long ns = ts->tv_nsec;
	for (int i = 28; i >= 20; i--) {
		out[i] = (char)('0' + ns % 10);
		ns /= 10;
	}
	out[29] = 'Z';
	out[30] = '\0';
	return MON_TS_LEN;
}

static int open_log_file(const char *path, int *fd, uint64_t *size, struct crix_err **err)
{
	_cleanup_close_ int nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (nfd < 0)
		return crix_err_make(err, errno, "open log %s", path);
	struct stat st;
	if (fstat(nfd, &st) < 0)
		return crix_err_make(err, errno, "stat log %s", path);
	*fd = steal_fd(nfd);
	*size = (uint64_t)st.st_size;
	return 0;
}

int mon_log_open(struct mon_log *log, const char *path, uint64_t max_size, struct crix_err **err)
{
	memset(log, 0, sizeof(*log));
	log->fd = -1;
	log->max_size = max_size;
	if (path == NULL)
		return 0;
	log->path = strdup(path);
	if (log->path == NULL)
		return crix_err_make(err, ENOMEM, "open log %s", path);
	if (open_log_file(path, &log->fd, &log->size, err) < 0)
		return -1;
	log->written_back = log->size;
	return 0;
}

/* Every MON_LOG_WRITEBACK bytes, the disk starts writing them out without our waiting: the
 * fsync at exit then has only the tail left, and a chatty container does not leave a long
 * flush to the end. */
#define MON_LOG_WRITEBACK (8u << 20)

static void start_writeback(struct mon_log *log)
{
	if (log->size - log->written_back < MON_LOG_WRITEBACK)
		return;
	sync_file_range(log->fd, (off_t)log->written_back, (off_t)(log->size - log->written_back),
			SYNC_FILE_RANGE_WRITE);
	log->written_back = log->size;
}

/* Writes the buffered records; on failure they are counted as dropped. */
static int flush(struct mon_log *log, struct crix_err **err)
{
	size_t done = 0;
	int rc = 0;
	while (done < log->used && log->fd >= 0) {
		ssize_t n = write(log->fd, log->buf + done, log->used - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = crix_err_make(err, errno, "write log %s", log->path);
			break;
		}
		done += (size_t)n;
	}
	/* The buffer holds whole records: cut a partial write off, so the file never ends in a
	 * broken record that the next one would be glued to. */
	if (done < log->used && done > 0 && ftruncate(log->fd, (off_t)log->size) == 0)
		done = 0;
	log->size += done;
	log->dropped += log->used - done;
	log->used = 0;
	start_writeback(log);
	return rc;
}

/* At the cap the file moves to <path>.1 (replacing an older one) and a new file starts, so
 * the newest output is kept and at most twice the cap is on disk. */
static int rotate(struct mon_log *log, struct crix_err **err)
{
	_cleanup_free_ char *old = NULL;
	if (asprintf(&old, "%s.1", log->path) < 0)
		return crix_err_make(err, ENOMEM, "rotate log %s", log->path);
	if (rename(log->path, old) < 0)
		return crix_err_make(err, errno, "rotate log %s to %s", log->path, old);
	return mon_log_reopen(log, err);
}

static int append(struct mon_log *log, const char *data, size_t len, struct crix_err **err)
{
	int rc = 0;
	while (len > 0) {
		if (log->used == MON_LOG_BUF_SIZE && flush(log, err) < 0)
			rc = -1;
		size_t n = MON_LOG_BUF_SIZE - log->used;
		if (n > len)
			n = len;
		memcpy(log->buf + log->used, data, n);
		log->used += n;
		data += n;
		len -= n;
	}
	return rc;
}

static int write_record(struct mon_log *log, const char *header, size_t header_len, const char *data,
			size_t len, struct crix_err **err)
{
	int rc = 0;
	size_t record_len = header_len + len + 1;
	if (log->max_size != 0 && log->size + log->used > 0 &&
	    log->size + log->used + record_len > log->max_size) {
		if (flush(log, err) < 0)
			rc = -1;
		/* A failed rotation keeps writing past the cap rather than lose output. */
		if (rotate(log, err) < 0)
			rc = -1;
	}
	/* Keep records whole within one write when they fit (a read's worth always does). */
	if (log->used + record_len > MON_LOG_BUF_SIZE && flush(log, err) < 0)
		rc = -1;
	if (append(log, header, header_len, err) < 0)
		rc = -1;
	if (append(log, data, len, err) < 0)
		rc = -1;
	if (append(log, "\n", 1, err) < 0)
		rc = -1;
	return rc;
}

int mon_log_write(struct mon_log *log, enum mon_stream stream, const char *data, size_t len,
		  const struct timespec *ts, struct crix_err **err)
{
	if (log->fd < 0 || len == 0)
		return 0;
	if (log->buf == NULL) {
		log->buf = malloc(MON_LOG_BUF_SIZE);
		if (log->buf == NULL) {
			log->dropped += len;
			return crix_err_make(err, ENOMEM, "log buffer");
		}
	}
	/* "<ts> stdout F " */
	char header[MON_TS_LEN + 1 + 6 + 3 + 1];
	mon_log_format_time(log, ts, header);
	memcpy(header + MON_TS_LEN, stream == MON_STDOUT ? " stdout F " : " stderr F ", 10);
	const size_t header_len = MON_TS_LEN + 10;
	char *tag = header + MON_TS_LEN + 8;

	int rc = 0;
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t line = nl ? (size_t)(nl - data) : len;
		*tag = nl ? 'F' : 'P';
		if (write_record(log, header, header_len, data, line, err) < 0)
			rc = -1;
		if (nl == NULL)
			break;
		data += line + 1;
		len -= line + 1;
	}
	if (flush(log, err) < 0)
		rc = -1;
	return rc;
}

int mon_log_reopen(struct mon_log *log, struct crix_err **err)
{
	if (log->path == NULL)
		return 0;
	int rc = flush(log, err);
	int fd = -1;
	uint64_t size = 0;
	if (open_log_file(log->path, &fd, &size, err) < 0)
		return -1; /* keep writing to the old file rather than nowhere */
	/* A failed close (a write-back error on some filesystems) is reported; the new file is
	 * used either way. */
	if (log->fd >= 0 && close(log->fd) < 0 && rc == 0)
		rc = crix_err_make(err, errno, "close log %s", log->path);
	log->fd = fd;
	log->size = log->written_back = size;
	return rc;
}

int mon_log_close(struct mon_log *log, struct crix_err **err)
{
	int rc = flush(log, err);
	if (log->fd >= 0) {
		if (fsync(log->fd) < 0 && rc == 0)
			rc = crix_err_make(err, errno, "fsync log %s", log->path);
		if (close(log->fd) < 0 && rc == 0)
			rc = crix_err_make(err, errno, "close log %s", log->path);
	}
	log->fd = -1;
	free(log->buf);
	free(log->path);
	log->buf = NULL;
	log->path = NULL;
	return rc;
}
