/* The daemon's log. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "log.h"

static atomic_int log_level = OMB_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void omb_log_set_level(enum omb_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum omb_log_level omb_log_get_level(void)
{
    return (enum omb_log_level)atomic_load(&log_level);
}

int omb_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *omb_log_level_name(enum omb_log_level level)
{
    return (level >= 0 && level <= OMB_LOG_DEBUG) ? level_names[level] : "?";
}

void omb_log_write(enum omb_log_level level, const char *scope, const char *msg)
{
    static const char *const tags[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };
    if ((int)level < OMB_LOG_ERROR || level > OMB_LOG_DEBUG) {
        level = OMB_LOG_ERROR; /* a bad level is a bug of the caller's: keep the record */
    }
    char ts[OMB_TIME_LEN + 1];
    omb_time_format(omb_now_ms(), ts);
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n') {
        len--;
    }
    /* One fprintf per record: stdio locks the stream, so records never interleave. */
    fprintf(stderr, "%s %s %s%s%s%.*s\n", ts, tags[level], scope ? "[" : "", scope ? scope : "",
            scope ? "] " : "", (int)len, msg);
}

void omb_logv(enum omb_log_level level, const char *scope, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load(&log_level)) {
        return;
    }
    char buf[2048];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    omb_log_write(level, scope, buf);
}

void omb_log(enum omb_log_level level, const char *scope, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    omb_logv(level, scope, fmt, ap);
    va_end(ap);
}
