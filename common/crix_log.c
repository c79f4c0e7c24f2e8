#include "crix_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int current_level = CRIX_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static crix_log_sink *_Atomic current_sink;

void crix_log_set_sink(crix_log_sink *sink) { atomic_store(&current_sink, sink); }

void crix_log_set_level(enum crix_log_level level) { atomic_store(&current_level, (int)level); }

enum crix_log_level crix_log_get_level(void) { return (enum crix_log_level)atomic_load(&current_level); }

int crix_log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *crix_log_level_name(enum crix_log_level level)
{
	if ((int)level < 0 || (int)level > CRIX_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void crix_rfc3339_now(char *buf, unsigned long size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%09ldZ", date, ts.tv_nsec);
}

void crix_log(enum crix_log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load(&current_level))
		return;
	char when[48];
	char text[4096];
	crix_rfc3339_now(when, sizeof(when));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	crix_log_sink *sink = atomic_load(&current_sink);
	if (sink != NULL) {
		sink(level, when, text);
		return;
	}
	/* One fprintf per line: stdio locks the stream, so lines from threads never interleave. */
	fprintf(stderr, "%s %s %s\n", when, crix_log_level_name(level), text);
}
