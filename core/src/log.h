/* The daemon's log: one line per record on stderr, "TIME LEVEL [scope] message". Thread-safe. */
#ifndef OMNIBUS_CORE_LOG_H
#define OMNIBUS_CORE_LOG_H

#include <stdarg.h>
#include <omnibus/log.h>

/* The daemon-wide level (records above it are dropped). */
void omb_log_set_level(enum omb_log_level level);
enum omb_log_level omb_log_get_level(void);

/* "error", "warn", "info", "debug" → level; -1 when unknown. */
int omb_log_level_parse(const char *name);
const char *omb_log_level_name(enum omb_log_level level);

/* Log a record for `scope` (e.g. "router", "connector:file:pos"; may be NULL). */
void omb_log(enum omb_log_level level, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void omb_logv(enum omb_log_level level, const char *scope, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Write an already formatted message without a level check. */
void omb_log_write(enum omb_log_level level, const char *scope, const char *msg);

#endif /* OMNIBUS_CORE_LOG_H */
