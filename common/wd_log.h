/*
 * wd_log: OpenBSD-style daemon logging to stderr.
 *
 * Every line carries the process name ("[engine]") and, unless stderr is a
 * terminal, a "<N>" syslog priority prefix that journald understands. The
 * *_warn and wd_fatal variants append strerror(errno); the *x variants do
 * not. Never pass secrets to these functions.
 */
#ifndef WD_LOG_H
#define WD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum {
    WD_LOG_ERR = 3,
    WD_LOG_WARNING = 4,
    WD_LOG_INFO = 6,
    WD_LOG_DEBUG = 7,
} wd_log_level_t;

#define WD_PRINTF(f, a) __attribute__ ((format (printf, f, a)))

/* Sets the process name shown on every line (copied, at most 31 bytes) and
   the most verbose level that is printed. May be called again, e.g. after a
   fork. */
void
wd_log_init (const char *procname, wd_log_level_t level);

/* Parses "debug", "info", "warning" or "error". Returns false for anything
   else and leaves *level unchanged. */
bool
wd_log_level_parse (const char *name, wd_log_level_t *level);

/* Forces (true) or suppresses (false) the "<N>" prefix, which by default is
   on when stderr is not a terminal. */
void
wd_log_set_prefix (bool prefix);

void
wd_log_warn (const char *fmt, ...) WD_PRINTF (1, 2);
void
wd_log_warnx (const char *fmt, ...) WD_PRINTF (1, 2);
void
wd_log_info (const char *fmt, ...) WD_PRINTF (1, 2);
void
wd_log_debug (const char *fmt, ...) WD_PRINTF (1, 2);
/* Logs at error level and exits with status 1. */
void
wd_fatal (const char *fmt, ...) WD_PRINTF (1, 2) __attribute__ ((noreturn));
void
wd_fatalx (const char *fmt, ...) WD_PRINTF (1, 2) __attribute__ ((noreturn));

#endif
