/*
 * wd_log: formats one line per call and writes it with a single write(2), so
 * lines from the parent and its children never interleave mid-line.
 */
#include "wd_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static char s_procname[32] = "warden";
static wd_log_level_t s_level = WD_LOG_INFO;
static int s_prefix = -1; /* -1: decide from isatty at first use */

void
wd_log_init (const char *procname, wd_log_level_t level)
{
    if (procname)
        snprintf (s_procname, sizeof s_procname, "%s", procname);
    s_level = level;
}

bool
wd_log_level_parse (const char *name, wd_log_level_t *level)
{
    static const struct {
        const char *name;
        wd_log_level_t level;
    } names[] = {
        { "debug", WD_LOG_DEBUG },
        { "info", WD_LOG_INFO },
        { "warning", WD_LOG_WARNING },
        { "error", WD_LOG_ERR },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp (name, names[i].name) == 0) {
            *level = names[i].level;
            return true;
        }
    }
    return false;
}

void
wd_log_set_prefix (bool prefix)
{
    s_prefix = prefix;
}

static void __attribute__ ((format (printf, 3, 0)))
s_vlog (wd_log_level_t level, int errnum, const char *fmt, va_list ap)
{
    if (level > s_level)
        return;
    if (s_prefix < 0)
        s_prefix = !isatty (STDERR_FILENO);

    char line[LOG_LINE_MAX];
    size_t len = 0;
    int n;
    if (s_prefix)
        n = snprintf (line, sizeof line, "<%d>[%s] ", (int)level, s_procname);
    else
        n = snprintf (line, sizeof line, "[%s] ", s_procname);
    if (n > 0)
        len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;

    n = vsnprintf (line + len, sizeof line - len, fmt, ap);
    if (n > 0)
        len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;
    if (errnum && len < sizeof line - 1) {
        n = snprintf (line + len, sizeof line - len, ": %s", strerror (errnum));
        if (n > 0)
            len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;
    }
    /* Room for the newline is kept by the "- 1" bounds above. */
    line[len++] = '\n';

    const char *p = line;
    while (len > 0) {
        ssize_t w = write (STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
}

#define WD_LOG_BODY(level, errnum)                                                                 \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start (ap, fmt);                                                                        \
        s_vlog (level, errnum, fmt, ap);                                                           \
        va_end (ap);                                                                               \
    } while (0)

void
wd_log_warn (const char *fmt, ...)
{
    int saved = errno;
    WD_LOG_BODY (WD_LOG_WARNING, saved);
    errno = saved;
}

void
wd_log_warnx (const char *fmt, ...)
{
    WD_LOG_BODY (WD_LOG_WARNING, 0);
}

void
wd_log_info (const char *fmt, ...)
{
    WD_LOG_BODY (WD_LOG_INFO, 0);
}

void
wd_log_debug (const char *fmt, ...)
{
    WD_LOG_BODY (WD_LOG_DEBUG, 0);
}

void
wd_fatal (const char *fmt, ...)
{
    int saved = errno;
    WD_LOG_BODY (WD_LOG_ERR, saved);
    exit (1);
}

void
wd_fatalx (const char *fmt, ...)
{
    WD_LOG_BODY (WD_LOG_ERR, 0);
    exit (1);
}
