/*
 * wd_err: messages and names for the common library's result codes. The
 * table lives in wd_err.h so code, message and name cannot drift apart.
 */
#include "wd_err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define WD_ERR_MSG(name, msg) [name - WD_ERR_FIRST_] = msg,
#define WD_ERR_STR(name, msg) [name - WD_ERR_FIRST_] = #name,
static const char *const s_messages[] = { WD_ERR_TABLE (WD_ERR_MSG) };
static const char *const s_names[] = { WD_ERR_TABLE (WD_ERR_STR) };
#undef WD_ERR_MSG
#undef WD_ERR_STR

static const char *
s_lookup (const char *const *table, int code)
{
    if (code <= WD_ERR_FIRST_ || code >= WD_ERR_LAST_)
        return NULL;
    return table[code - WD_ERR_FIRST_];
}

const char *
wd_strerror (int code)
{
    if (code == WD_OK)
        return "success";
    const char *msg = s_lookup (s_messages, code);
    return msg ? msg : "unknown error";
}

const char *
wd_err_name (int code)
{
    if (code == WD_OK)
        return "WD_OK";
    const char *name = s_lookup (s_names, code);
    return name ? name : "WD_ERR_UNKNOWN";
}

void
wd_err_why (char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || why_len == 0)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (why, why_len, fmt, args);
    va_end (args);
}
