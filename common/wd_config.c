/*
 * wd_config: ZPL configuration files checked against a table of keys.
 *
 * czmq's zconfig builds the tree, but it reports syntax errors through
 * zclock_log(), which printf()s to stdout with a timestamp: zsys_set_logstream
 * does not capture it, and hijacking the process's stdout would race with
 * every other thread and corrupt `--json` output. So each file first goes
 * through s_zpl_check, a line scanner that mirrors zconfig_chunk_load's
 * grammar and reports the first error as "file:line: <czmq's wording>"; only
 * text it accepts reaches zconfig, which therefore never prints. The scanner
 * also refuses what zconfig would get silently wrong: a NUL byte (zconfig
 * drops the rest of that line), files over WD_CONFIG_FILE_MAX and more than
 * WD_CONFIG_NODES_MAX names (zconfig appends siblings in quadratic time and
 * frees them recursively). No czmq call made here runs zsys_init, so loading
 * a configuration never installs czmq's signal handlers.
 *
 * Values live in an array parallel to the table: the text as given plus its
 * parsed number. A key appearing twice in one file is an error; a key in a
 * later file (conf.d) overrides an earlier one.
 */
#include "wd_config.h"

#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wd_codec.h"

#define WD_CONFIG_FILE_MAX  (1024 * 1024)  /* bytes in one file */
#define WD_CONFIG_NODES_MAX 1024           /* named lines in one file */
#define WD_CONFIG_VALUE_MAX (PATH_MAX - 1) /* bytes in any value's text */
#define WD_CONFIG_SHOW_MAX  48             /* bytes of input quoted in a reason */

typedef struct {
    char *text;   /* as given, or NULL when unset */
    uint64_t num; /* UINT, DURATION (ms), BOOL (0/1) */
} s_value_t;

struct wd_config {
    const wd_config_key_t *table;
    size_t count;
    s_value_t *values;
};

/* ---- reasons ------------------------------------------------------------ */

/* Copies len bytes of untrusted text into out for a reason: non-printable
   bytes become '?', and long text is cut with "...". */
static const char *
s_show (char *out, size_t out_size, const char *text, size_t len)
{
    assert (out_size > WD_CONFIG_SHOW_MAX + 3);
    size_t n = len < WD_CONFIG_SHOW_MAX ? len : WD_CONFIG_SHOW_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n < len) {
        memcpy (out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* "file: " before a reason, or nothing when the value has no file. */
static const char *
s_sep (const char *origin)
{
    return origin ? ": " : "";
}

/* ---- value syntax --------------------------------------------------------- */

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits without sign or leading zeros ("0755" is not 755 or 493),
   at most UINT64_MAX. Returns the number of digits read, 0 on failure. */
static size_t
s_parse_decimal (const char *text, uint64_t *value)
{
    size_t n = 0;
    uint64_t v = 0;
    while (s_is_digit (text[n])) {
        if (n == 1 && text[0] == '0')
            return 0;
        if (__builtin_mul_overflow (v, 10, &v) ||
            __builtin_add_overflow (v, (uint64_t)(text[n] - '0'), &v))
            return 0;
        n++;
    }
    *value = v;
    return n;
}

static bool
s_parse_duration (const char *text, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
    uint64_t v;
    size_t n = s_parse_decimal (text, &v);
    if (n == 0)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp (text + n, units[i].unit) == 0)
            return !__builtin_mul_overflow (v, units[i].ms, ms);
    return false;
}

/* The largest unit that divides ms exactly ("1h", "1500ms"). */
static void
s_format_duration (char *out, size_t size, uint64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf (out, size, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf (out, size, "%llum", (unsigned long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf (out, size, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf (out, size, "%llums", (unsigned long long)ms);
}

static bool
s_enum_has (const char *choices, const char *text)
{
    size_t len = strlen (text);
    const char *p = choices;
    for (;;) {
        const char *bar = strchr (p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen (p);
        if (n == len && memcmp (p, text, n) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static bool
s_printable_ascii (const char *text)
{
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return false;
    return true;
}

/* Valid UTF-8 (shortest forms, no surrogates) without control characters:
   paths travel as msgpack strings and appear in log lines. */
static bool
s_path_chars_ok (const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned char c = *s;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            s++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        s += n + 1;
    }
    return true;
}

/* The expected-form phrase for a key: "an integer from 1 to 65535". */
static void
s_expected (const wd_config_key_t *k, char *out, size_t size)
{
    char lo[32], hi[32];
    switch (k->type) {
        case WD_CFG_STRING:
            snprintf (out, size, "a string of %llu to %llu printable characters",
                      (unsigned long long)k->min, (unsigned long long)k->max);
            break;
        case WD_CFG_UINT:
            snprintf (out, size, "an integer from %llu to %llu", (unsigned long long)k->min,
                      (unsigned long long)k->max);
            break;
        case WD_CFG_BOOL:
            snprintf (out, size, "true or false");
            break;
        case WD_CFG_ENUM:
            snprintf (out, size, "one of %s", k->choices);
            break;
        case WD_CFG_PATH:
            snprintf (out, size, "an absolute path");
            break;
        case WD_CFG_DURATION:
            s_format_duration (lo, sizeof lo, k->min);
            s_format_duration (hi, sizeof hi, k->max);
            snprintf (out, size, "a duration such as 500ms, 5s, 2m or 1h between %s and %s", lo,
                      hi);
            break;
    }
}

/* Checks text against key k and gives its number. Returns false when text
   is not of k's form. */
static bool
s_parse (const wd_config_key_t *k, const char *text, uint64_t *num)
{
    size_t len = strlen (text);
    *num = 0;
    if (len > WD_CONFIG_VALUE_MAX)
        return false;
    switch (k->type) {
        case WD_CFG_STRING:
            return len >= k->min && len <= k->max && s_printable_ascii (text);
        case WD_CFG_UINT:
            return s_parse_decimal (text, num) == len && len > 0 && *num >= k->min &&
                   *num <= k->max;
        case WD_CFG_BOOL:
            *num = strcmp (text, "true") == 0;
            return *num || strcmp (text, "false") == 0;
        case WD_CFG_ENUM:
            return len > 0 && s_enum_has (k->choices, text);
        case WD_CFG_PATH:
            return text[0] == '/' && s_path_chars_ok (text);
        case WD_CFG_DURATION:
            return s_parse_duration (text, num) && *num >= k->min && *num <= k->max;
    }
    return false;
}

/* ---- the table ------------------------------------------------------------ */

static ssize_t
s_find (const wd_config_t *self, const char *key)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->table[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

/* True when path names a section: some key starts with "path/". */
static bool
s_is_section (const wd_config_t *self, const char *path)
{
    size_t len = strlen (path);
    for (size_t i = 0; i < self->count; i++) {
        const char *key = self->table[i].key;
        if (strncmp (key, path, len) == 0 && key[len] == '/')
            return true;
    }
    return false;
}

static bool
s_zpl_namechar (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || s_is_digit (c) || c == '$' ||
           c == '-' || c == '_' || c == '@' || c == '.' || c == '&' || c == '+' || c == '/';
}

/* Our own tables: misuse is a programming error, so assert. */
static void
s_table_check (const wd_config_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        const wd_config_key_t *k = &self->table[i];
        size_t len = strlen (k->key);
        assert (len > 0 && k->key[0] != '/' && k->key[len - 1] != '/' && !strstr (k->key, "//"));
        for (const char *p = k->key; *p; p++)
            assert (s_zpl_namechar (*p));
        assert (s_find (self, k->key) == (ssize_t)i && "key listed twice");
        assert (!s_is_section (self, k->key) && "key is also a section");
        assert (k->min <= k->max);
        assert (k->type != WD_CFG_ENUM || (k->choices && *k->choices));
        assert (k->type != WD_CFG_STRING || k->max <= WD_CONFIG_VALUE_MAX);
        assert (!k->help || !strchr (k->help, '\n'));
        assert (!k->default_value ||
                !(strchr (k->default_value, '"') && strchr (k->default_value, '\'')));
        uint64_t num;
        assert (!k->default_value || s_parse (k, k->default_value, &num));
        (void)num;
    }
}

/* ---- setting values ------------------------------------------------------- */

/* Validates text for key i and stores it. origin names the file for the
   reason, or NULL. */
static wd_err_t
s_apply (wd_config_t *self, size_t i, const char *text, const char *origin, char *why,
         size_t why_len)
{
    const wd_config_key_t *k = &self->table[i];
    char shown[WD_CONFIG_SHOW_MAX + 4];
    uint64_t num;
    if (!s_parse (k, text, &num)) {
        char expected[160];
        s_expected (k, expected, sizeof expected);
        wd_err_why (why, why_len, "%s%skey '%s' must be %s, not '%s'", origin ? origin : "",
                    s_sep (origin), k->key, expected,
                    s_show (shown, sizeof shown, text, strlen (text)));
        return WD_ERR_CONFIG_VALUE;
    }
    /* wd_config_write quotes with " or '; ZPL has no escapes for both. */
    if (strchr (text, '"') && strchr (text, '\'')) {
        wd_err_why (why, why_len, "%s%skey '%s' must not hold both ' and \" (ZPL cannot quote it)",
                    origin ? origin : "", s_sep (origin), k->key);
        return WD_ERR_CONFIG_VALUE;
    }
    char *copy = strdup (text);
    if (!copy) {
        wd_err_why (why, why_len, "out of memory");
        return WD_ERR_NOMEM;
    }
    free (self->values[i].text);
    self->values[i].text = copy;
    self->values[i].num = num;
    return WD_OK;
}

wd_config_t *
wd_config_new (const wd_config_key_t *table)
{
    assert (table);
    wd_config_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->table = table;
    while (table[self->count].key)
        self->count++;
    self->values = calloc (self->count ? self->count : 1, sizeof *self->values);
    if (!self->values)
        goto out_free_self;
    s_table_check (self);
    for (size_t i = 0; i < self->count; i++)
        if (table[i].default_value &&
            s_apply (self, i, table[i].default_value, NULL, NULL, 0) != WD_OK)
            goto out_free_values;
    return self;

out_free_values:
    for (size_t i = 0; i < self->count; i++)
        free (self->values[i].text);
    free (self->values);
out_free_self:
    free (self);
    return NULL;
}

void
wd_config_destroy (wd_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wd_config_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++)
            free (self->values[i].text);
        free (self->values);
        free (self);
        *self_p = NULL;
    }
}

wd_err_t
wd_config_set (wd_config_t *self, const char *key, const char *value, char *why, size_t why_len)
{
    assert (self && key && value);
    ssize_t i = s_find (self, key);
    if (i < 0) {
        char shown[WD_CONFIG_SHOW_MAX + 4];
        wd_err_why (why, why_len, "unknown key '%s'",
                    s_show (shown, sizeof shown, key, strlen (key)));
        return WD_ERR_CONFIG_KEY;
    }
    return s_apply (self, (size_t)i, value, NULL, why, why_len);
}

/* ---- ZPL files ------------------------------------------------------------ */

static bool
s_isspace (char c)
{
    /* isspace() in the C locale, which is what zconfig sees in our programs */
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* zconfig's s_verify_eoln: only blanks or a comment may follow. */
static bool
s_eoln_ok (const char *p, const char *end, const char **junk)
{
    for (; p < end; p++) {
        if (*p == '#')
            break;
        if (!s_isspace (*p)) {
            *junk = p;
            return false;
        }
    }
    return true;
}

/* Accepts exactly what zconfig_chunk_load (czmq 4.2.1) accepts, minus the
   limits in the file comment, and names the first error with its line and
   czmq's own wording. */
static wd_err_t
s_zpl_check (const char *text, size_t len, const char *file, char *why, size_t why_len)
{
    char shown[WD_CONFIG_SHOW_MAX + 4];
    size_t lineno = 0;
    size_t depth = 0; /* depth of the newest node: how deep the next may go */
    size_t nodes = 0;
    const char *pos = text, *stop = text + len;
    while (pos < stop) {
        const char *eol = memchr (pos, '\n', (size_t)(stop - pos));
        const char *end = eol ? eol : stop;
        const char *line = pos;
        pos = eol ? eol + 1 : stop;
        lineno++;
        if (memchr (line, '\0', (size_t)(end - line))) {
            wd_err_why (why, why_len, "%s:%zu: line holds a NUL byte", file, lineno);
            return WD_ERR_CONFIG_SYNTAX;
        }
        while (end > line && s_isspace (end[-1]))
            end--;

        const char *p = line;
        while (p < end && *p == ' ')
            p++;
        size_t level = (size_t)(p - line) / 4;
        if ((size_t)(p - line) % 4 != 0) {
            wd_err_why (why, why_len, "%s:%zu: indent 4 spaces at once", file, lineno);
            return WD_ERR_CONFIG_SYNTAX;
        }
        const char *name = p;
        while (p < end && s_zpl_namechar (*p))
            p++;
        const char *junk = NULL;
        if (p == name) {
            if (!s_eoln_ok (p, end, &junk))
                goto out_junk;
            continue;
        }
        if (name[0] == '/' || p[-1] == '/') {
            wd_err_why (why, why_len, "%s:%zu: '/' not valid at name start or end", file, lineno);
            return WD_ERR_CONFIG_SYNTAX;
        }
        while (p < end && s_isspace (*p))
            p++;
        if (p < end && *p == '=') {
            p++;
            while (p < end && s_isspace (*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *close = memchr (p + 1, *p, (size_t)(end - p - 1));
                if (!close) {
                    wd_err_why (why, why_len, "%s:%zu: missing %c", file, lineno, *p);
                    return WD_ERR_CONFIG_SYNTAX;
                }
                if (!s_eoln_ok (close + 1, end, &junk))
                    goto out_junk;
            }
            /* an unquoted value runs to the first '#': no error possible */
        } else if (!s_eoln_ok (p, end, &junk))
            goto out_junk;
        if (level > depth) {
            wd_err_why (why, why_len, "%s:%zu: indentation error", file, lineno);
            return WD_ERR_CONFIG_SYNTAX;
        }
        depth = level + 1;
        if (++nodes > WD_CONFIG_NODES_MAX) {
            wd_err_why (why, why_len, "%s:%zu: more than %d names in one file", file, lineno,
                        WD_CONFIG_NODES_MAX);
            return WD_ERR_CONFIG_SYNTAX;
        }
        continue;

    out_junk:
        wd_err_why (why, why_len, "%s:%zu: invalid syntax '%s'", file, lineno,
                    s_show (shown, sizeof shown, junk, (size_t)(end - junk)));
        return WD_ERR_CONFIG_SYNTAX;
    }
    return WD_OK;
}

/* Reads a whole regular file (NUL-terminated) into *data. */
static wd_err_t
s_read_file (const char *path, char **data, size_t *len, char *why, size_t why_len)
{
    *data = NULL;
    *len = 0;
    wd_err_t err = WD_ERR_IO;
    /* O_NONBLOCK: a FIFO must not hang the loader; regular files ignore it */
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            wd_err_why (why, why_len, "%s: no such file", path);
            return WD_ERR_NOT_FOUND;
        }
        wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
        return WD_ERR_IO;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
        goto out_close;
    }
    if (!S_ISREG (st.st_mode)) {
        wd_err_why (why, why_len, "%s: not a regular file", path);
        goto out_close;
    }
    char *buf = malloc (WD_CONFIG_FILE_MAX + 1);
    if (!buf) {
        wd_err_why (why, why_len, "%s: out of memory", path);
        err = WD_ERR_NOMEM;
        goto out_close;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read (fd, buf + got, WD_CONFIG_FILE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
            goto out_free_buf;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > WD_CONFIG_FILE_MAX) {
            wd_err_why (why, why_len, "%s: larger than %d bytes", path, WD_CONFIG_FILE_MAX);
            err = WD_ERR_CONFIG_SYNTAX;
            goto out_free_buf;
        }
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    close (fd);
    return WD_OK;

out_free_buf:
    free (buf);
out_close:
    close (fd);
    return err;
}

/* Joins a parent path and a node name with '/'. Caller frees. */
static char *
s_path_join (const char *parent, const char *name)
{
    size_t plen = strlen (parent), nlen = strlen (name);
    char *path = malloc (plen + nlen + 2);
    if (!path)
        return NULL;
    memcpy (path, parent, plen);
    if (plen)
        path[plen++] = '/';
    memcpy (path + plen, name, nlen + 1);
    return path;
}

/* Checks and applies every node under parent (whose path is parent_path).
   seen marks the keys this file already set. */
static wd_err_t
s_walk (wd_config_t *self, zconfig_t *parent, const char *parent_path, const char *file, bool *seen,
        char *why, size_t why_len)
{
    char shown[WD_CONFIG_SHOW_MAX + 4];
    wd_err_t err = WD_OK;
    for (zconfig_t *node = zconfig_child (parent); node && err == WD_OK;
         node = zconfig_next (node)) {
        const char *value = zconfig_value (node) ? zconfig_value (node) : "";
        char *path = s_path_join (parent_path, zconfig_name (node));
        if (!path) {
            wd_err_why (why, why_len, "%s: out of memory", file);
            return WD_ERR_NOMEM;
        }
        const char *show = s_show (shown, sizeof shown, path, strlen (path));
        ssize_t i = s_find (self, path);
        bool section = s_is_section (self, path);
        if (zconfig_child (node)) {
            /* A node with children is a section. An unknown one is walked
               anyway so the reason names a whole key ("nod/name"). */
            if (i >= 0) {
                wd_err_why (why, why_len, "%s: key '%s' cannot hold other keys", file, show);
                err = WD_ERR_CONFIG_KEY;
            } else if (section && *value) {
                wd_err_why (why, why_len, "%s: section '%s' cannot have a value", file, show);
                err = WD_ERR_CONFIG_KEY;
            } else
                err = s_walk (self, node, path, file, seen, why, why_len);
        } else if (i >= 0) {
            if (seen[i]) {
                wd_err_why (why, why_len, "%s: key '%s' is given twice", file, show);
                err = WD_ERR_CONFIG_KEY;
            } else {
                seen[i] = true;
                err = s_apply (self, (size_t)i, value, file, why, why_len);
            }
        } else if (section) {
            /* an empty section is fine; a value on it is not */
            if (*value) {
                wd_err_why (why, why_len, "%s: '%s' is a section, not a key", file, show);
                err = WD_ERR_CONFIG_KEY;
            }
        } else {
            wd_err_why (why, why_len, "%s: unknown key '%s'", file, show);
            err = WD_ERR_CONFIG_KEY;
        }
        free (path);
    }
    return err;
}

static wd_err_t
s_load_file (wd_config_t *self, const char *path, char *why, size_t why_len)
{
    char *data;
    size_t len;
    wd_err_t err = s_read_file (path, &data, &len, why, why_len);
    if (err != WD_OK)
        return err;
    err = s_zpl_check (data, len, path, why, why_len);
    if (err != WD_OK)
        goto out_free_data;
    zconfig_t *root = zconfig_str_load (data);
    if (!root) {
        /* s_zpl_check let through something zconfig refuses (zconfig has
           printed its reason on stdout): a bug in s_zpl_check. */
        wd_err_why (why, why_len, "%s: not valid ZPL (refused by zconfig)", path);
        err = WD_ERR_CONFIG_SYNTAX;
        goto out_free_data;
    }
    bool *seen = calloc (self->count ? self->count : 1, sizeof *seen);
    if (!seen) {
        wd_err_why (why, why_len, "%s: out of memory", path);
        err = WD_ERR_NOMEM;
        goto out_destroy_root;
    }
    err = s_walk (self, root, "", path, seen, why, why_len);
    free (seen);
out_destroy_root:
    zconfig_destroy (&root);
out_free_data:
    free (data);
    return err;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Loads dir/\*.conf in byte order. A missing directory is fine. */
static wd_err_t
s_load_dir (wd_config_t *self, const char *dir, char *why, size_t why_len)
{
    DIR *d = opendir (dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return WD_OK;
        wd_err_why (why, why_len, "%s: %s", dir, strerror (errno));
        return WD_ERR_IO;
    }
    wd_err_t err = WD_OK;
    char **names = NULL;
    size_t count = 0, room = 0;
    struct dirent *e;
    for (errno = 0; (e = readdir (d)); errno = 0) {
        size_t len = strlen (e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp (e->d_name + len - 5, ".conf") != 0)
            continue;
        /* follows symlinks: a link to a regular file counts */
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, 0) != 0 || !S_ISREG (st.st_mode))
            continue;
        if (count == room) {
            size_t more = room ? room * 2 : 16;
            char **grown = realloc (names, more * sizeof *names);
            if (!grown)
                goto out_nomem;
            names = grown;
            room = more;
        }
        if (!(names[count] = s_path_join (dir, e->d_name)))
            goto out_nomem;
        count++;
    }
    if (errno != 0) {
        wd_err_why (why, why_len, "%s: %s", dir, strerror (errno));
        err = WD_ERR_IO;
        goto out_free_names;
    }
    if (count > 0)
        qsort (names, count, sizeof *names, s_name_cmp);
    for (size_t i = 0; i < count && err == WD_OK; i++)
        err = s_load_file (self, names[i], why, why_len);
    goto out_free_names;

out_nomem:
    wd_err_why (why, why_len, "%s: out of memory", dir);
    err = WD_ERR_NOMEM;
out_free_names:
    for (size_t i = 0; i < count; i++)
        free (names[i]);
    free (names);
    closedir (d);
    return err;
}

wd_err_t
wd_config_load (const wd_config_key_t *table, const char *path, wd_config_t **self_p, char *why,
                size_t why_len)
{
    assert (table && path && self_p);
    *self_p = NULL;
    wd_err_why (why, why_len, "%s", "");
    wd_config_t *self = wd_config_new (table);
    if (!self) {
        wd_err_why (why, why_len, "out of memory");
        return WD_ERR_NOMEM;
    }
    wd_err_t err = s_load_file (self, path, why, why_len);
    if (err != WD_OK)
        goto out_destroy;

    /* conf.d beside the main file: "<dirname>/conf.d" */
    const char *slash = strrchr (path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    char *dir = malloc (dir_len + sizeof "conf.d");
    if (!dir) {
        wd_err_why (why, why_len, "out of memory");
        err = WD_ERR_NOMEM;
        goto out_destroy;
    }
    memcpy (dir, path, dir_len);
    memcpy (dir + dir_len, "conf.d", sizeof "conf.d");
    err = s_load_dir (self, dir, why, why_len);
    free (dir);
    if (err != WD_OK)
        goto out_destroy;
    *self_p = self;
    return WD_OK;

out_destroy:
    wd_config_destroy (&self);
    return err;
}

/* ---- getters -------------------------------------------------------------- */

/* The index of key, which must be in the table with one of the two types. */
static size_t
s_get (const wd_config_t *self, const char *key, wd_config_type_t t1, wd_config_type_t t2)
{
    assert (self && key);
    ssize_t i = s_find (self, key);
    assert (i >= 0 && "key is not in the table");
    assert ((self->table[i].type == t1 || self->table[i].type == t2) && "getter of another type");
    return (size_t)i;
}

const char *
wd_config_str (const wd_config_t *self, const char *key)
{
    assert (self && key);
    ssize_t i = s_find (self, key);
    assert (i >= 0 && "key is not in the table");
    wd_config_type_t t = self->table[i].type;
    assert ((t == WD_CFG_STRING || t == WD_CFG_ENUM || t == WD_CFG_PATH) &&
            "getter of another type");
    (void)t;
    return self->values[i].text;
}

/* Unset keys read as 0 / false. */
uint64_t
wd_config_uint (const wd_config_t *self, const char *key)
{
    return self->values[s_get (self, key, WD_CFG_UINT, WD_CFG_DURATION)].num;
}

bool
wd_config_bool (const wd_config_t *self, const char *key)
{
    return self->values[s_get (self, key, WD_CFG_BOOL, WD_CFG_BOOL)].num != 0;
}

/* ---- msgpack -------------------------------------------------------------- */

/* Table indexes in byte order of their keys. Caller frees. */
static size_t *
s_sorted (const wd_config_t *self)
{
    size_t *order = malloc ((self->count ? self->count : 1) * sizeof *order);
    if (!order)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        order[i] = i;
    /* insertion sort: tables are small, and qsort has no context pointer */
    for (size_t i = 1; i < self->count; i++) {
        size_t v = order[i], j = i;
        for (; j > 0 && strcmp (self->table[order[j - 1]].key, self->table[v].key) > 0; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
    return order;
}

uint8_t *
wd_config_pack (const wd_config_t *self, size_t *len)
{
    assert (self && len);
    size_t *order = s_sorted (self);
    if (!order)
        return NULL;
    size_t set = 0;
    for (size_t i = 0; i < self->count; i++)
        set += self->values[i].text != NULL;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, set);
    for (size_t i = 0; i < self->count; i++) {
        const s_value_t *v = &self->values[order[i]];
        if (v->text) {
            wd_writer_key (w, self->table[order[i]].key);
            wd_writer_cstr (w, v->text);
        }
    }
    free (order);
    uint8_t *buf = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return buf;
}

wd_err_t
wd_config_unpack (const wd_config_key_t *table, const uint8_t *buf, size_t len,
                  wd_config_t **self_p, char *why, size_t why_len)
{
    assert (table && (buf || len == 0) && self_p);
    *self_p = NULL;
    wd_err_why (why, why_len, "%s", "");
    size_t offset = 0;
    wd_err_t err = wd_codec_check (buf, len, WD_CONFIG_VALUE_MAX + 1, &offset);
    if (err != WD_OK) {
        wd_err_why (why, why_len, "packed configuration, byte %zu: %s", offset, wd_strerror (err));
        return err;
    }
    wd_config_t *self = wd_config_new (table);
    if (!self) {
        wd_err_why (why, why_len, "out of memory");
        return WD_ERR_NOMEM;
    }
    size_t *order = s_sorted (self);
    char *text = malloc (WD_CONFIG_VALUE_MAX + 2);
    if (!order || !text) {
        wd_err_why (why, why_len, "out of memory");
        err = WD_ERR_NOMEM;
        goto out_free;
    }

    /* Walk the table in byte order; a key the table lacks makes the reader
       fail with WD_ERR_UNKNOWN_KEY at that key. */
    wd_reader_t r;
    size_t entries;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &entries);
    for (size_t i = 0; i < self->count; i++) {
        const wd_config_key_t *k = &table[order[i]];
        if (!wd_read_key_opt (&r, k->key))
            continue;
        /* one byte more than any valid value: s_apply names the overlong */
        if (!wd_read_cstr (&r, text, WD_CONFIG_VALUE_MAX + 2))
            break;
        err = s_apply (self, order[i], text, "packed configuration", why, why_len);
        if (err != WD_OK)
            goto out_free;
    }
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_ERR_UNKNOWN_KEY) {
        /* name the key: the reader's error offset points at it */
        size_t at = wd_reader_error_offset (&r);
        wd_reader_t kr;
        const char *key = "";
        size_t key_len = 0;
        char shown[WD_CONFIG_SHOW_MAX + 4];
        wd_reader_init (&kr, buf + at, len - at);
        wd_read_str (&kr, &key, &key_len, SIZE_MAX);
        wd_err_why (why, why_len, "packed configuration: unknown key '%s'",
                    s_show (shown, sizeof shown, key ? key : "", key ? key_len : 0));
        err = WD_ERR_CONFIG_KEY;
    } else if (err != WD_OK)
        wd_err_why (why, why_len, "packed configuration, byte %zu: %s", wd_reader_error_offset (&r),
                    wd_strerror (err));

out_free:
    free (text);
    free (order);
    if (err == WD_OK)
        *self_p = self;
    else
        wd_config_destroy (&self);
    return err;
}

/* ---- writing -------------------------------------------------------------- */

/* The section part of a key ("node" for "node/name"), as a length. */
static size_t
s_section_len (const char *key)
{
    const char *slash = strrchr (key, '/');
    return slash ? (size_t)(slash - key) : 0;
}

static bool
s_same_section (const char *a, const char *b)
{
    size_t n = s_section_len (a);
    return n == s_section_len (b) && strncmp (a, b, n) == 0;
}

static void
s_write_value (FILE *out, const char *text)
{
    char q = strchr (text, '"') ? '\'' : '"';
    fprintf (out, "%c%s%c", q, text, q);
}

int
wd_config_write (const wd_config_t *self, FILE *out)
{
    assert (self && out);
    bool *done = calloc (self->count ? self->count : 1, sizeof *done);
    if (!done)
        return -1;
    fprintf (out, "# Warden configuration (ZPL). Keys still at their default are "
                  "commented out.\n");
    /* Sections in order of first appearance, keys in table order within.
       A nested section is written as one name ("a/b"), which ZPL allows. */
    for (size_t s = 0; s < self->count; s++) {
        if (done[s])
            continue;
        const char *first = self->table[s].key;
        size_t sec_len = s_section_len (first);
        const char *indent = sec_len ? "    " : "";
        fprintf (out, "\n");
        if (sec_len)
            fprintf (out, "%.*s\n", (int)sec_len, first);
        for (size_t i = s; i < self->count; i++) {
            const wd_config_key_t *k = &self->table[i];
            if (done[i] || !s_same_section (first, k->key))
                continue;
            done[i] = true;
            const char *name = k->key + (sec_len ? sec_len + 1 : 0);
            const char *text = self->values[i].text;
            if (k->help)
                fprintf (out, "%s# %s\n", indent, k->help);
            if (text && !(k->default_value && strcmp (text, k->default_value) == 0)) {
                fprintf (out, "%s%s = ", indent, name);
                s_write_value (out, text);
                fprintf (out, "\n");
            } else if (k->default_value) {
                fprintf (out, "%s# %s = ", indent, name);
                s_write_value (out, k->default_value);
                fprintf (out, "\n");
            } else
                fprintf (out, "%s# %s =\n", indent, name);
        }
    }
    free (done);
    if (fflush (out) != 0 || ferror (out))
        return -1;
    return 0;
}
