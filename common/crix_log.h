/* One line per event on stderr (or a sink): RFC 3339 UTC time, level, message. */
#ifndef CRIX_LOG_H
#define CRIX_LOG_H

enum crix_log_level { CRIX_LOG_ERROR, CRIX_LOG_WARN, CRIX_LOG_INFO, CRIX_LOG_DEBUG };

void crix_log_set_level(enum crix_log_level level);
enum crix_log_level crix_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int crix_log_level_parse(const char *name);
const char *crix_log_level_name(enum crix_log_level level);

void crix_log(enum crix_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where lines go instead of stderr (crix-runtime's --log file): called with the level, the
 * RFC 3339 time and the message. NULL: stderr again. */
typedef void crix_log_sink(enum crix_log_level level, const char *when, const char *text);
void crix_log_set_sink(crix_log_sink *sink);

#define crix_error(...) crix_log(CRIX_LOG_ERROR, __VA_ARGS__)
#define crix_warn(...) crix_log(CRIX_LOG_WARN, __VA_ARGS__)
#define crix_info(...) crix_log(CRIX_LOG_INFO, __VA_ARGS__)
#define crix_debug(...)                                                                            \
	do {                                                                                       \
		if (crix_log_get_level() >= CRIX_LOG_DEBUG)                                        \
			crix_log(CRIX_LOG_DEBUG, __VA_ARGS__);                                     \
	} while (0)

/* Formats the current UTC time as RFC 3339 with nanoseconds into buf (>= 40 bytes). */
void crix_rfc3339_now(char *buf, unsigned long size);

#endif
