/*
 * attest_policy: loads Keylime runtime policies (jansson), encodes and
 * decodes the canonical policy object, seals and opens it, and appraises
 * measurements against the compiled tables (see attest_policy.h and
 * docs/PROTOCOL.md "Reference-value policies").
 *
 * Both loaders fill the same builder: paths with their digest runs (each run
 * contiguous in self->digests, sorted and without duplicates), then
 * s_finalize sorts the paths, builds the path hash index and the global
 * digest table and computes the id.
 *
 * Bytes live in one pool, referred to by offset: each path is stored as a
 * small header (its length, where its run starts, how many digests), its
 * bytes, a NUL, then its digests in order, each as a length byte and the
 * digest. A hash-index slot is 8 bytes (the record's offset and 32 more
 * bits of the hash), so a lookup touches one slot and then one stretch of
 * the pool that holds the path to compare and the digests to check: fewer
 * cache misses than a bare hash table of (path, digest) pairs.
 */
#include "attest_policy.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <pthread.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wd_codec.h"
#include "wd_hash.h"

/* ---- the compiled policy ------------------------------------------------ */

typedef struct {
    uint32_t off; /* the path at self->pool + off, NUL-terminated, then its run */
    uint32_t path_len;
    uint32_t first; /* its digest run: self->digests[first .. first + count) */
    uint32_t count; /* at least 1 once the path is complete */
} s_path_t;

typedef struct {
    uint32_t off; /* bytes at self->pool + off, after their length byte */
    uint32_t len;
} s_digest_t;

typedef struct {
    char *source;      /* the pattern as written */
    regex_t re;        /* "^(" source ")", REG_EXTENDED | REG_NOSUB */
    size_t prefix_off; /* a literal prefix every match starts with */
    size_t prefix_len;
    bool literal; /* the whole pattern is that prefix: no regexec needed */
} s_exclude_t;

typedef struct {
    char **items;
    size_t count;
    size_t alloc;
} s_names_t;

/* A path record's header in the pool, just before the path's bytes:
   count (4 bytes), first (4), path_len (2), native byte order, unaligned. */
#define S_HEADER 10
_Static_assert(ATTEST_POLICY_PATH_MAX <= UINT16_MAX, "path length fits the header");

typedef struct {
    uint32_t off; /* the header at self->pool + off; UINT32_MAX = empty */
    uint32_t tag; /* the hash's high 32 bits: most other paths never reach memcmp */
} s_slot_t;

struct attest_policy {
    char name[ATTEST_POLICY_NAME_MAX + 1];
    uint64_t created;
    uint64_t release;
    uint8_t source[32];
    uint8_t id[ATTEST_POLICY_ID_LEN];
    char log_hash_alg[8];

    s_path_t *paths;
    size_t path_count, path_alloc;
    s_digest_t *digests;
    size_t digest_count, digest_alloc;
    uint8_t *pool;
    size_t pool_len, pool_alloc;

    s_slot_t *slots; /* open addressing over the paths */
    size_t slot_mask;
    uint32_t *by_digest;   /* digest indices sorted by (len, bytes, path) */
    uint32_t *digest_path; /* the path index of each digest */

    s_exclude_t *excludes;
    size_t exclude_count, exclude_alloc;

    s_names_t keyrings;
    s_names_t ima_bufs;
    bool verification_keys;
};

/* ---- small helpers -------------------------------------------------------- */

static const struct {
    const char *name;
    size_t len;
} s_algs[] = { { "sha1", 20 }, { "sha256", 32 }, { "sha384", 48 }, { "sha512", 64 } };

size_t
attest_policy_alg_len (const char *alg)
{
    for (size_t i = 0; i < sizeof s_algs / sizeof s_algs[0]; i++)
        if (strcmp (alg, s_algs[i].name) == 0)
            return s_algs[i].len;
    return 0;
}

static bool
s_digest_len_valid (size_t len)
{
    return len == 20 || len == 32 || len == 48 || len == 64;
}

static bool
s_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > ATTEST_POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A NUL-terminated copy of len bytes that need not be terminated
   (strndup would look past them for a NUL). */
static char *
s_strcopy (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/* Grows *array (element size size) to hold at least need elements. */
static bool
s_grow (void **array, size_t *alloc, size_t need, size_t size)
{
    if (need <= *alloc)
        return true;
    size_t next = *alloc ? *alloc : 16;
    while (next < need)
        next *= 2;
    void *grown = reallocarray (*array, next, size);
    if (!grown)
        return false;
    *array = grown;
    *alloc = next;
    return true;
}

/* FNV-1a, 64-bit: the path index's hash. */
static uint64_t
s_hash (const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Digests order by length, then bytewise. */
static int
s_digest_cmp (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp (a, b, alen);
}

static const uint8_t *
s_digest_bytes (const attest_policy_t *self, uint32_t index)
{
    return self->pool + self->digests[index].off;
}

static const char *
s_path_str (const attest_policy_t *self, const s_path_t *path)
{
    return (const char *)self->pool + path->off;
}

/* Paths (and names) order bytewise, a prefix first: strcmp, since none
   holds a NUL. */
static int
s_path_order (const void *a, const void *b, void *ctx)
{
    return strcmp (s_path_str (ctx, a), s_path_str (ctx, b));
}

static int
s_name_order (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

/* ---- excludes ------------------------------------------------------------- */

/* Parses an interval "{m}", "{m,}", "{m,n}" or "{,n}" at p. Returns its
   length (0 when p does not start one; regcomp then decides what "{"
   means) and sets *bound to the most copies regcomp makes of the atom.
   Numbers saturate just above ATTEST_POLICY_REPEAT_MAX, so long ones
   cannot overflow and still count as too large. */
static size_t
s_interval (const char *p, uint64_t *bound)
{
    size_t j = 1;
    uint64_t m = 0, n = 0;
    bool comma = false, digits_m = false, digits_n = false;
    for (; p[j] >= '0' && p[j] <= '9'; j++, digits_m = true)
        if (m <= ATTEST_POLICY_REPEAT_MAX)
            m = m * 10 + (uint64_t)(p[j] - '0');
    if (p[j] == ',') {
        comma = true;
        for (j++; p[j] >= '0' && p[j] <= '9'; j++, digits_n = true)
            if (n <= ATTEST_POLICY_REPEAT_MAX)
                n = n * 10 + (uint64_t)(p[j] - '0');
    }
    if (p[j] != '}' || !(digits_m || digits_n))
        return 0;
    *bound = digits_n ? n : comma ? m + 1 : m;
    return j + 1;
}

/* Checks an exclude for what POSIX ERE and Python's re (Keylime's dialect)
   would read differently, and bounds what it costs glibc to compile,
   before regcomp sees it. docs/PROTOCOL.md "Excludes" lists the rules. */
static int
s_exclude_scan (const char *p, char *why, size_t why_len)
{
    size_t len = strlen (p);
    if (len == 0) {
        wd_err_why (why, why_len, "an empty exclude would match every path");
        return ATTEST_ERR_POLICY_BAD_REGEX;
    }
    if (len > ATTEST_POLICY_REGEX_MAX) {
        wd_err_why (why, why_len, "exclude is %zu bytes (limit %d)", len, ATTEST_POLICY_REGEX_MAX);
        return ATTEST_ERR_POLICY_TOO_LARGE;
    }
    unsigned depth = 0;
    uint64_t repeat = 1;
    /* glibc's compile time grows steeply with nested repetition
       ("a***...", "((a*)*)*..."): a quantifier may not follow a quantifier
       (Python refuses that too, but for its lazy "?" and, from 3.11, its
       possessive "+"), and groups nest at most ATTEST_POLICY_GROUPS_MAX
       deep. last is what the previous token was. */
    enum { S_ATOM, S_QUANTIFIER, S_LAZY } last = S_ATOM;
    for (size_t i = 0; i < len;) {
        char c = p[i];
        uint64_t bound = 1;
        size_t step = c == '{'                             ? s_interval (p + i, &bound)
                      : (c == '*' || c == '+' || c == '?') ? 1
                                                           : 0;
        if (step > 0) { /* a quantifier */
            if (last == S_QUANTIFIER && c == '?') {
                last = S_LAZY; /* lazy a*? matches the same prefixes */
                i++;
                continue;
            }
            if (last == S_QUANTIFIER && c == '+') {
                wd_err_why (why, why_len, "possessive quantifier at offset %zu is Python syntax",
                            i);
                return ATTEST_ERR_POLICY_REGEX_DIALECT;
            }
            if (last != S_ATOM) {
                wd_err_why (why, why_len, "a quantifier follows a quantifier at offset %zu", i);
                return ATTEST_ERR_POLICY_BAD_REGEX;
            }
            /* regcomp copies the atom up to the bound, so the product of
               all bounds bounds the compiled size */
            repeat *= bound > 1 ? bound : 1;
            if (bound > ATTEST_POLICY_REPEAT_MAX || repeat > ATTEST_POLICY_REPEAT_MAX) {
                wd_err_why (why, why_len, "interval repetitions multiply past %d",
                            ATTEST_POLICY_REPEAT_MAX);
                return ATTEST_ERR_POLICY_TOO_LARGE;
            }
            last = S_QUANTIFIER;
            i += step;
            continue;
        }
        last = S_ATOM;
        if (c == '\\') {
            char n = p[i + 1];
            if (n == '\0') {
                wd_err_why (why, why_len, "exclude ends with a backslash");
                return ATTEST_ERR_POLICY_BAD_REGEX;
            }
            bool alnum = (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9');
            if ((alnum && !strchr ("wWsSbB", n)) || strchr ("<>`'", n)) {
                wd_err_why (why, why_len,
                            "escape \\%c means one thing in Python and another in ERE", n);
                return ATTEST_ERR_POLICY_REGEX_DIALECT;
            }
            i += 2;
        } else if (c == '(') {
            if (p[i + 1] == '?') {
                wd_err_why (why, why_len, "(?...) groups are Python syntax");
                return ATTEST_ERR_POLICY_REGEX_DIALECT;
            }
            if (++depth > ATTEST_POLICY_GROUPS_MAX) {
                wd_err_why (why, why_len, "groups nest deeper than %d", ATTEST_POLICY_GROUPS_MAX);
                return ATTEST_ERR_POLICY_TOO_LARGE;
            }
            i++;
        } else if (c == ')') {
            if (depth == 0) {
                wd_err_why (why, why_len, "unbalanced ')' at offset %zu", i);
                return ATTEST_ERR_POLICY_BAD_REGEX;
            }
            depth--;
            i++;
        } else if (c == '[') {
            size_t j = i + 1;
            if (p[j] == '^')
                j++;
            if (p[j] == ']')
                j++;
            for (;; j++) {
                if (p[j] == '\0') {
                    wd_err_why (why, why_len, "unterminated '[' at offset %zu", i);
                    return ATTEST_ERR_POLICY_BAD_REGEX;
                }
                if (p[j] == '\\') {
                    wd_err_why (why, why_len, "a backslash inside [...] escapes in Python only");
                    return ATTEST_ERR_POLICY_REGEX_DIALECT;
                }
                if (p[j] == '[' && p[j + 1] && strchr (":.=", p[j + 1])) {
                    wd_err_why (why, why_len, "[[:class:]] and friends are not Python syntax");
                    return ATTEST_ERR_POLICY_REGEX_DIALECT;
                }
                if (p[j] == ']')
                    break;
            }
            i = j + 1;
        } else {
            i++;
        }
    }
    if (depth != 0) {
        wd_err_why (why, why_len, "unbalanced '('");
        return ATTEST_ERR_POLICY_BAD_REGEX;
    }
    return WD_OK;
}

/* The literal text every match must start with (matching is anchored at
   the start, like Python's re.match): the characters up to the first
   special one, less the last if a quantifier that allows zero follows.
   Nothing when the pattern has an alternative anywhere. */
static void
s_exclude_prefix (s_exclude_t *ex)
{
    const char *p = ex->source;
    size_t start = p[0] == '^' ? 1 : 0, i = start;
    ex->prefix_off = start;
    ex->prefix_len = 0;
    ex->literal = false;
    if (strchr (p, '|'))
        return;
    while (p[i] && !strchr (".[]()*+?{}|^$\\", p[i]))
        i++;
    size_t len = i - start;
    if (p[i] == '\0') {
        ex->literal = true;
    } else if (len > 0 && strchr ("*?{", p[i])) {
        /* the quantifier may repeat the last character zero times: drop
           all of it, continuation bytes included */
        do
            len--;
        while (len > 0 && ((uint8_t)p[start + len] & 0xc0) == 0x80);
    }
    ex->prefix_len = len;
}

/* Excludes are compiled and matched in the C.UTF-8 locale, so that "." and
   "[^/]" take one character, as Python's re does on Keylime's str paths,
   not one byte (a byte that is not valid UTF-8 matches neither). Where the
   locale is missing, the thread's own locale (normally "C": bytes) is used
   for both. */
static locale_t s_utf8;
static pthread_once_t s_utf8_once = PTHREAD_ONCE_INIT;

static void
s_utf8_init (void)
{
    s_utf8 = newlocale (LC_CTYPE_MASK | LC_COLLATE_MASK, "C.UTF-8", (locale_t)0);
}

static locale_t
s_utf8_enter (void)
{
    pthread_once (&s_utf8_once, s_utf8_init);
    return s_utf8 ? uselocale (s_utf8) : (locale_t)0;
}

static void
s_utf8_leave (locale_t previous)
{
    if (previous)
        uselocale (previous);
}

static int
s_exclude_add (attest_policy_t *self, const char *pattern, size_t index, char *why, size_t why_len)
{
    char scan_why[160] = "";
    int err = s_exclude_scan (pattern, scan_why, sizeof scan_why);
    if (err != WD_OK) {
        wd_err_why (why, why_len, "excludes[%zu] \"%.80s\": %s", index, pattern, scan_why);
        return err;
    }
    assert (self->exclude_count < ATTEST_POLICY_EXCLUDES);
    if (!s_grow ((void **)&self->excludes, &self->exclude_alloc, self->exclude_count + 1,
                 sizeof (s_exclude_t)))
        return WD_ERR_NOMEM;
    s_exclude_t *ex = &self->excludes[self->exclude_count];
    memset (ex, 0, sizeof *ex);
    size_t len = strlen (pattern);
    ex->source = strdup (pattern);
    char *wrapped = malloc (len + 4);
    if (!ex->source || !wrapped) {
        free (ex->source);
        free (wrapped);
        return WD_ERR_NOMEM;
    }
    memcpy (wrapped, "^(", 2);
    memcpy (wrapped + 2, pattern, len);
    memcpy (wrapped + 2 + len, ")", 2);
    locale_t previous = s_utf8_enter ();
    int rc = regcomp (&ex->re, wrapped, REG_EXTENDED | REG_NOSUB);
    s_utf8_leave (previous);
    free (wrapped);
    if (rc != 0) {
        char msg[96];
        regerror (rc, &ex->re, msg, sizeof msg);
        wd_err_why (why, why_len, "excludes[%zu] \"%.80s\": %s", index, pattern, msg);
        free (ex->source);
        return rc == REG_ESPACE ? ATTEST_ERR_POLICY_TOO_LARGE : ATTEST_ERR_POLICY_BAD_REGEX;
    }
    s_exclude_prefix (ex);
    self->exclude_count++;
    return WD_OK;
}

static bool
s_exclude_match (const s_exclude_t *ex, const char *path, size_t path_len)
{
    if (ex->prefix_len > path_len ||
        memcmp (path, ex->source + ex->prefix_off, ex->prefix_len) != 0)
        return false;
    if (ex->literal)
        return true;
    locale_t previous = s_utf8_enter ();
    bool match = regexec (&ex->re, path, 0, NULL, 0) == 0;
    s_utf8_leave (previous);
    return match;
}

/* ---- building ------------------------------------------------------------- */

static attest_policy_t *
s_policy_new (void)
{
    return calloc (1, sizeof (attest_policy_t));
}

static void
s_names_free (s_names_t *names)
{
    for (size_t i = 0; i < names->count; i++)
        free (names->items[i]);
    free (names->items);
    memset (names, 0, sizeof *names);
}

static int
s_names_add (s_names_t *names, const char *name, size_t len)
{
    if (!s_grow ((void **)&names->items, &names->alloc, names->count + 1, sizeof (char *)))
        return WD_ERR_NOMEM;
    char *copy = s_strcopy (name, len);
    if (!copy)
        return WD_ERR_NOMEM;
    names->items[names->count++] = copy;
    return WD_OK;
}

void
attest_policy_destroy (attest_policy_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_policy_t *self = *self_p;
        free (self->paths);
        free (self->digests);
        free (self->pool);
        free (self->slots);
        free (self->by_digest);
        free (self->digest_path);
        for (size_t i = 0; i < self->exclude_count; i++) {
            regfree (&self->excludes[i].re);
            free (self->excludes[i].source);
        }
        free (self->excludes);
        s_names_free (&self->keyrings);
        s_names_free (&self->ima_bufs);
        free (self);
        *self_p = NULL;
    }
}

/* Starts a new path; its digests follow with s_digest_add. The loaders'
   limits keep the pool far below 4 GiB (offsets are 32-bit). */
static int
s_path_add (attest_policy_t *self, const char *path, size_t len)
{
    assert (len <= ATTEST_POLICY_PATH_MAX);
    if (!s_grow ((void **)&self->paths, &self->path_alloc, self->path_count + 1,
                 sizeof (s_path_t)) ||
        !s_grow ((void **)&self->pool, &self->pool_alloc, self->pool_len + S_HEADER + len + 1, 1))
        return WD_ERR_NOMEM;
    assert (self->pool_len + S_HEADER + len + 1 < UINT32_MAX);
    memset (self->pool + self->pool_len, 0, S_HEADER); /* written by s_finalize */
    self->pool_len += S_HEADER;
    self->paths[self->path_count++] = (s_path_t){ .off = (uint32_t)self->pool_len,
                                                  .path_len = (uint32_t)len,
                                                  .first = (uint32_t)self->digest_count,
                                                  .count = 0 };
    memcpy (self->pool + self->pool_len, path, len);
    self->pool[self->pool_len + len] = '\0';
    self->pool_len += len + 1;
    return WD_OK;
}

/* Appends a digest to the last path's run. */
static int
s_digest_add (attest_policy_t *self, const uint8_t *digest, size_t len)
{
    assert (self->path_count > 0 && s_digest_len_valid (len));
    if (!s_grow ((void **)&self->digests, &self->digest_alloc, self->digest_count + 1,
                 sizeof (s_digest_t)) ||
        !s_grow ((void **)&self->pool, &self->pool_alloc, self->pool_len + 1 + len, 1))
        return WD_ERR_NOMEM;
    assert (self->pool_len + 1 + len < UINT32_MAX);
    self->pool[self->pool_len] = (uint8_t)len;
    memcpy (self->pool + self->pool_len + 1, digest, len);
    self->digests[self->digest_count++] =
        (s_digest_t){ .off = (uint32_t)self->pool_len + 1, .len = (uint32_t)len };
    self->pool_len += 1 + len;
    self->paths[self->path_count - 1].count++;
    return WD_OK;
}

static int
s_digest_order (const void *a, const void *b, void *ctx)
{
    const attest_policy_t *self = ctx;
    const s_digest_t *da = a, *db = b;
    return s_digest_cmp (self->pool + da->off, da->len, self->pool + db->off, db->len);
}

/* Sorts the last path's run and drops duplicates (a JSON list may repeat a
   digest; the object lists each once), in digests[] and in the pool, where
   the run is rewritten in the sorted order. The run is the tail of both. */
static int
s_path_finish (attest_policy_t *self)
{
    s_path_t *path = &self->paths[self->path_count - 1];
    if (path->count < 2)
        return WD_OK; /* already in place */
    s_digest_t *run = &self->digests[path->first];
    qsort_r (run, path->count, sizeof *run, s_digest_order, self);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < path->count; i++)
        if (kept == 0 || s_digest_order (&run[kept - 1], &run[i], self) != 0)
            run[kept++] = run[i];
    self->digest_count -= path->count - kept;
    path->count = kept;

    size_t start = path->off + path->path_len + 1, len = self->pool_len - start;
    uint8_t *copy = malloc (len);
    if (!copy)
        return WD_ERR_NOMEM;
    memcpy (copy, self->pool + start, len);
    size_t at = start;
    for (uint32_t i = 0; i < kept; i++) {
        self->pool[at] = (uint8_t)run[i].len;
        memcpy (self->pool + at + 1, copy + (run[i].off - start), run[i].len);
        run[i].off = (uint32_t)at + 1;
        at += 1 + run[i].len;
    }
    self->pool_len = at;
    free (copy);
    return WD_OK;
}

static int
s_by_digest_order (const void *a, const void *b, void *ctx)
{
    const attest_policy_t *self = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    int c = s_digest_order (&self->digests[ia], &self->digests[ib], ctx);
    if (c != 0)
        return c;
    uint32_t pa = self->digest_path[ia], pb = self->digest_path[ib];
    return pa < pb ? -1 : pa > pb;
}

/* Sorts the paths (unless the caller knows they are sorted), builds the
   path index and the digest table, and sets the id from the body. */
static int
s_finalize (attest_policy_t *self, bool sorted, const uint8_t *body, size_t body_len)
{
    if (!sorted && self->path_count > 0)
        qsort_r (self->paths, self->path_count, sizeof (s_path_t), s_path_order, self);
    if (!sorted && self->keyrings.count > 0)
        qsort (self->keyrings.items, self->keyrings.count, sizeof (char *), s_name_order);
    if (!sorted && self->ima_bufs.count > 0)
        qsort (self->ima_bufs.items, self->ima_bufs.count, sizeof (char *), s_name_order);
    size_t slots = 16;
    while (slots < 2 * self->path_count)
        slots *= 2;
    self->slots = malloc (slots * sizeof (s_slot_t));
    self->by_digest = calloc (self->digest_count + 1, sizeof (uint32_t));
    self->digest_path = calloc (self->digest_count + 1, sizeof (uint32_t));
    if (!self->slots || !self->by_digest || !self->digest_path)
        return WD_ERR_NOMEM;
    memset (self->slots, 0xff, slots * sizeof (s_slot_t));
    self->slot_mask = slots - 1;
    for (size_t i = 0; i < self->path_count; i++) {
        const s_path_t *path = &self->paths[i];
        assert (path->count > 0); /* the loaders refuse empty runs */
        uint8_t *header = self->pool + path->off - S_HEADER;
        uint16_t path_len = (uint16_t)path->path_len;
        memcpy (header, &path->count, 4);
        memcpy (header + 4, &path->first, 4);
        memcpy (header + 8, &path_len, 2);
        uint64_t hash = s_hash (s_path_str (self, path), path->path_len);
        size_t slot = (size_t)hash & self->slot_mask;
        while (self->slots[slot].off != UINT32_MAX)
            slot = (slot + 1) & self->slot_mask;
        self->slots[slot] =
            (s_slot_t){ .off = path->off - S_HEADER, .tag = (uint32_t)(hash >> 32) };
        for (uint32_t d = 0; d < path->count; d++)
            self->digest_path[path->first + d] = (uint32_t)i;
    }
    for (size_t i = 0; i < self->digest_count; i++)
        self->by_digest[i] = (uint32_t)i;
    if (self->digest_count > 0)
        qsort_r (self->by_digest, self->digest_count, sizeof (uint32_t), s_by_digest_order, self);

    if (body) {
        wd_hash_sha256 (self->id, body, body_len);
    } else {
        size_t len;
        uint8_t *encoded = attest_policy_encode (self, &len);
        wd_hash_sha256 (self->id, encoded, len);
        free (encoded);
    }
    return WD_OK;
}

/* ---- Keylime runtime-policy JSON -------------------------------------------- */

typedef struct {
    attest_policy_t *self;
    char *why;
    size_t why_len;
    size_t digests; /* all sections, against ATTEST_POLICY_DIGESTS_MAX */
} s_load_t;

static const char *
s_json_type (const json_t *v)
{
    switch (json_typeof (v)) {
        case JSON_OBJECT:
            return "an object";
        case JSON_ARRAY:
            return "an array";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
            return "an integer";
        case JSON_REAL:
            return "a real number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        case JSON_NULL:
            return "null";
    }
    return "a value";
}

static int
s_type_error (s_load_t *ld, const char *where, const json_t *v, const char *want)
{
    wd_err_why (ld->why, ld->why_len, "%s is %s, not %s", where, s_json_type (v), want);
    return ATTEST_ERR_POLICY_FIELD_TYPE;
}

/* Refuses keys of obj that are not in known (NULL-terminated). */
static int
s_known_keys (s_load_t *ld, json_t *obj, const char *const *known, const char *where)
{
    for (void *it = json_object_iter (obj); it; it = json_object_iter_next (obj, it)) {
        const char *key = json_object_iter_key (it);
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp (key, known[i]) == 0;
        if (!found) {
            wd_err_why (ld->why, ld->why_len, "%s: unknown field \"%.64s\"", where, key);
            return ATTEST_ERR_POLICY_UNKNOWN_FIELD;
        }
    }
    return WD_OK;
}

/* obj[key], which must exist and have the JSON type type. */
static int
s_field (s_load_t *ld, json_t *obj, const char *where, const char *key, json_type type,
         const char *want, json_t **out)
{
    *out = json_object_get (obj, key);
    char field[64];
    snprintf (field, sizeof field, "%s%s%s", where, *where ? "." : "", key);
    if (!*out) {
        wd_err_why (ld->why, ld->why_len, "%s is missing", field);
        return ATTEST_ERR_POLICY_MISSING_FIELD;
    }
    if (json_typeof (*out) != type)
        return s_type_error (ld, field, *out, want);
    return WD_OK;
}

/* Parses lowercase hex into out (ATTEST_POLICY_DIGEST_MAX bytes). */
static int
s_hex_digest (const char *hex, uint8_t *out, size_t *out_len)
{
    size_t len = strlen (hex);
    if (len == 0 || len % 2 != 0)
        return ATTEST_ERR_POLICY_BAD_HEX;
    for (size_t i = 0; i < len; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return ATTEST_ERR_POLICY_BAD_HEX;
    if (!s_digest_len_valid (len / 2))
        return ATTEST_ERR_POLICY_DIGEST_LENGTH;
    if (!wd_hex_decode (out, len / 2, hex))
        return ATTEST_ERR_POLICY_BAD_HEX;
    *out_len = len / 2;
    return WD_OK;
}

/* "section["name"]" or "section["name"][index]" (index >= 0), for a
   reason: written only when there is one, since most policies have none. */
static const char *
s_where (char *buf, size_t size, const char *section, const char *name, long index)
{
    int n = snprintf (buf, size, "%s[\"%.80s%s\"]", section, name, strlen (name) > 80 ? "..." : "");
    if (index >= 0 && n > 0 && (size_t)n < size)
        snprintf (buf + n, size - (size_t)n, "[%ld]", index);
    return buf;
}

/* A {name: [hex digest, ...]} section. Digests of "digests" go into the
   tables; for "keyrings" and "ima-buf" only the names are kept (names). */
static int
s_load_digest_map (s_load_t *ld, json_t *map, const char *section, s_names_t *names)
{
    char where[160];
    for (void *it = json_object_iter (map); it; it = json_object_iter_next (map, it)) {
        const char *name = json_object_iter_key (it);
        json_t *list = json_object_iter_value (it);
        size_t name_len = strlen (name);
        if (name_len == 0) {
            wd_err_why (ld->why, ld->why_len, "%s: empty path or name",
                        s_where (where, sizeof where, section, name, -1));
            return ATTEST_ERR_POLICY_BAD_PATH;
        }
        if (name_len > ATTEST_POLICY_PATH_MAX) {
            wd_err_why (ld->why, ld->why_len, "%s: %zu bytes (limit %d)",
                        s_where (where, sizeof where, section, name, -1), name_len,
                        ATTEST_POLICY_PATH_MAX);
            return ATTEST_ERR_POLICY_TOO_LARGE;
        }
        if (!json_is_array (list))
            return s_type_error (ld, s_where (where, sizeof where, section, name, -1), list,
                                 "an array of digests");
        size_t count = json_array_size (list);
        if (count == 0) {
            wd_err_why (ld->why, ld->why_len, "%s: empty digest list",
                        s_where (where, sizeof where, section, name, -1));
            return ATTEST_ERR_POLICY_EMPTY_LIST;
        }
        int err =
            names ? s_names_add (names, name, name_len) : s_path_add (ld->self, name, name_len);
        if (err != WD_OK)
            return err;
        for (size_t i = 0; i < count; i++) {
            json_t *item = json_array_get (list, i);
            if (!json_is_string (item))
                return s_type_error (ld, s_where (where, sizeof where, section, name, (long)i),
                                     item, "a hex string");
            if (++ld->digests > ATTEST_POLICY_DIGESTS_MAX) {
                wd_err_why (ld->why, ld->why_len, "%s: more than %d digests",
                            s_where (where, sizeof where, section, name, (long)i),
                            ATTEST_POLICY_DIGESTS_MAX);
                return ATTEST_ERR_POLICY_TOO_LARGE;
            }
            const char *hex = json_string_value (item);
            uint8_t digest[ATTEST_POLICY_DIGEST_MAX];
            size_t digest_len;
            err = s_hex_digest (hex, digest, &digest_len);
            if (err == ATTEST_ERR_POLICY_BAD_HEX) {
                wd_err_why (ld->why, ld->why_len, "%s: \"%.80s\" is not lowercase hex",
                            s_where (where, sizeof where, section, name, (long)i), hex);
                return err;
            }
            if (err == ATTEST_ERR_POLICY_DIGEST_LENGTH) {
                wd_err_why (
                    ld->why, ld->why_len, "%s: %zu bytes is not a sha1/256/384/512 digest length",
                    s_where (where, sizeof where, section, name, (long)i), strlen (hex) / 2);
                return err;
            }
            if (!names && (err = s_digest_add (ld->self, digest, digest_len)) != WD_OK)
                return err;
        }
        if (!names && (err = s_path_finish (ld->self)) != WD_OK)
            return err;
    }
    return WD_OK;
}

static int
s_load_meta (s_load_t *ld, json_t *meta)
{
    static const char *const known[] = { "version", "generator", "timestamp", NULL };
    json_t *v;
    int err = s_known_keys (ld, meta, known, "meta");
    if (err == WD_OK)
        err = s_field (ld, meta, "meta", "version", JSON_INTEGER, "an integer", &v);
    if (err != WD_OK)
        return err;
    if (json_integer_value (v) != 1) {
        wd_err_why (ld->why, ld->why_len, "meta.version is %lld; Warden reads version 1",
                    (long long)json_integer_value (v));
        return ATTEST_ERR_POLICY_VERSION;
    }
    if ((err = s_field (ld, meta, "meta", "generator", JSON_INTEGER, "an integer", &v)) != WD_OK)
        return err;
    if (json_integer_value (v) < 0) {
        wd_err_why (ld->why, ld->why_len, "meta.generator is negative");
        return ATTEST_ERR_POLICY_RANGE;
    }
    v = json_object_get (meta, "timestamp");
    if (v && !json_is_string (v))
        return s_type_error (ld, "meta.timestamp", v, "a string");
    return WD_OK;
}

static int
s_load_ima (s_load_t *ld, json_t *ima)
{
    static const char *const known[] = { "ignored_keyrings", "log_hash_alg", "dm_policy", NULL };
    json_t *v;
    int err = s_known_keys (ld, ima, known, "ima");
    if (err == WD_OK)
        err = s_field (ld, ima, "ima", "ignored_keyrings", JSON_ARRAY, "an array", &v);
    if (err != WD_OK)
        return err;
    for (size_t i = 0; i < json_array_size (v); i++) {
        json_t *item = json_array_get (v, i);
        if (!json_is_string (item)) {
            char at[48];
            snprintf (at, sizeof at, "ima.ignored_keyrings[%zu]", i);
            return s_type_error (ld, at, item, "a string");
        }
    }
    if ((err = s_field (ld, ima, "ima", "log_hash_alg", JSON_STRING, "a string", &v)) != WD_OK)
        return err;
    const char *alg = json_string_value (v);
    if (attest_policy_alg_len (alg) == 0) {
        wd_err_why (ld->why, ld->why_len, "ima.log_hash_alg is \"%.16s\"", alg);
        return ATTEST_ERR_POLICY_BAD_ALG;
    }
    snprintf (ld->self->log_hash_alg, sizeof ld->self->log_hash_alg, "%s", alg);
    /* Keylime's current schema allows only null here: a device-mapper policy
       is a different validator, which Warden does not have. */
    return s_field (ld, ima, "ima", "dm_policy", JSON_NULL, "null", &v);
}

static int
s_load_root (s_load_t *ld, json_t *root)
{
    static const char *const known[] = { "meta",     "release",           "digests",
                                         "excludes", "keyrings",          "ima",
                                         "ima-buf",  "verification-keys", NULL };
    if (!json_is_object (root)) {
        wd_err_why (ld->why, ld->why_len, "the top-level value is %s", s_json_type (root));
        return ATTEST_ERR_POLICY_NOT_OBJECT;
    }
    if (json_object_get (root, "payload") && json_object_get (root, "payloadType")) {
        wd_err_why (ld->why, ld->why_len, "keylime-policy sign output; decode its base64 payload");
        return ATTEST_ERR_POLICY_DSSE;
    }
    json_t *v;
    int err = s_known_keys (ld, root, known, "policy");
    if (err == WD_OK)
        err = s_field (ld, root, "", "meta", JSON_OBJECT, "an object", &v);
    if (err == WD_OK)
        err = s_load_meta (ld, v);
    if (err == WD_OK)
        err = s_field (ld, root, "", "release", JSON_INTEGER, "an integer", &v);
    if (err != WD_OK)
        return err;
    if (json_integer_value (v) < 0) {
        wd_err_why (ld->why, ld->why_len, "release is negative");
        return ATTEST_ERR_POLICY_RANGE;
    }
    ld->self->release = (uint64_t)json_integer_value (v);

    if ((err = s_field (ld, root, "", "digests", JSON_OBJECT, "an object", &v)) != WD_OK ||
        (err = s_load_digest_map (ld, v, "digests", NULL)) != WD_OK)
        return err;

    if ((err = s_field (ld, root, "", "excludes", JSON_ARRAY, "an array", &v)) != WD_OK)
        return err;
    if (json_array_size (v) > ATTEST_POLICY_EXCLUDES) {
        wd_err_why (ld->why, ld->why_len, "%zu excludes (limit %d)", json_array_size (v),
                    ATTEST_POLICY_EXCLUDES);
        return ATTEST_ERR_POLICY_TOO_LARGE;
    }
    for (size_t i = 0; i < json_array_size (v); i++) {
        json_t *item = json_array_get (v, i);
        if (!json_is_string (item)) {
            char at[32];
            snprintf (at, sizeof at, "excludes[%zu]", i);
            return s_type_error (ld, at, item, "a string");
        }
        if ((err = s_exclude_add (ld->self, json_string_value (item), i, ld->why, ld->why_len)) !=
            WD_OK)
            return err;
    }

    if ((err = s_field (ld, root, "", "keyrings", JSON_OBJECT, "an object", &v)) != WD_OK ||
        (err = s_load_digest_map (ld, v, "keyrings", &ld->self->keyrings)) != WD_OK ||
        (err = s_field (ld, root, "", "ima", JSON_OBJECT, "an object", &v)) != WD_OK ||
        (err = s_load_ima (ld, v)) != WD_OK ||
        (err = s_field (ld, root, "", "ima-buf", JSON_OBJECT, "an object", &v)) != WD_OK ||
        (err = s_load_digest_map (ld, v, "ima-buf", &ld->self->ima_bufs)) != WD_OK ||
        (err = s_field (ld, root, "", "verification-keys", JSON_STRING, "a string", &v)) != WD_OK)
        return err;
    ld->self->verification_keys = json_string_length (v) > 0;
    return WD_OK;
}

int
attest_policy_from_json (const void *json, size_t len, const char *name, uint64_t created,
                         attest_policy_t **out, char *why, size_t why_len)
{
    assert (out && name);
    *out = NULL;
    wd_err_why (why, why_len, "ok");
    if (!s_name_valid (name)) {
        wd_err_why (why, why_len, "policy name \"%.80s\"", name);
        return ATTEST_ERR_POLICY_BAD_NAME;
    }
    if (len > ATTEST_POLICY_JSON_MAX) {
        wd_err_why (why, why_len, "%zu bytes of JSON (limit %u)", len, ATTEST_POLICY_JSON_MAX);
        return ATTEST_ERR_POLICY_TOO_LARGE;
    }
    json_error_t jerr;
    json_t *root = json_loadb (json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        wd_err_why (why, why_len, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return json_error_code (&jerr) == json_error_duplicate_key ? ATTEST_ERR_POLICY_DUPLICATE_KEY
                                                                   : ATTEST_ERR_POLICY_JSON;
    }
    s_load_t ld = { .self = s_policy_new (), .why = why, .why_len = why_len };
    int err = ld.self ? WD_OK : WD_ERR_NOMEM;
    if (err == WD_OK) {
        snprintf (ld.self->name, sizeof ld.self->name, "%s", name);
        ld.self->created = created;
        wd_hash_sha256 (ld.self->source, json, len);
        err = s_load_root (&ld, root);
    }
    json_decref (root);
    if (err == WD_OK)
        err = s_finalize (ld.self, false, NULL, 0);
    if (err != WD_OK) {
        if (err == WD_ERR_NOMEM)
            wd_err_why (why, why_len, "out of memory");
        attest_policy_destroy (&ld.self);
        return err;
    }
    *out = ld.self;
    return WD_OK;
}

int
attest_policy_from_json_file (const char *path, const char *name, uint64_t created,
                              attest_policy_t **out, char *why, size_t why_len)
{
    *out = NULL;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
        return errno == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO;
    }
    int err = WD_OK;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat (fd, &st) != 0) {
        wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
        err = WD_ERR_IO;
    } else if (!S_ISREG (st.st_mode)) {
        wd_err_why (why, why_len, "%s is not a regular file", path);
        err = WD_ERR_NOT_REGULAR;
    } else if ((uint64_t)st.st_size > ATTEST_POLICY_JSON_MAX) {
        wd_err_why (why, why_len, "%s: %lld bytes (limit %u)", path, (long long)st.st_size,
                    ATTEST_POLICY_JSON_MAX);
        err = ATTEST_ERR_POLICY_TOO_LARGE;
    } else if (!(buf = malloc ((size_t)st.st_size + 1))) {
        err = WD_ERR_NOMEM;
    }
    size_t got = 0;
    while (err == WD_OK && got < (size_t)st.st_size) {
        ssize_t n = read (fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            wd_err_why (why, why_len, "%s: %s", path, n < 0 ? strerror (errno) : "file shrank");
            err = WD_ERR_IO;
        } else {
            got += (size_t)n;
        }
    }
    close (fd);
    if (err == WD_OK)
        err = attest_policy_from_json (buf, got, name, created, out, why, why_len);
    free (buf);
    return err;
}

/* ---- the policy object ------------------------------------------------------ */

static void
s_write_names (wd_writer_t *w, const s_names_t *names)
{
    wd_writer_array (w, names->count);
    for (size_t i = 0; i < names->count; i++)
        wd_writer_cstr (w, names->items[i]);
}

uint8_t *
attest_policy_encode (const attest_policy_t *self, size_t *len)
{
    assert (self && len);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9);
    wd_writer_key (w, "created");
    wd_writer_uint (w, self->created);
    wd_writer_key (w, "digests");
    wd_writer_array (w, self->path_count);
    for (size_t i = 0; i < self->path_count; i++) {
        const s_path_t *path = &self->paths[i];
        wd_writer_array (w, 2);
        wd_writer_str (w, s_path_str (self, path), path->path_len);
        wd_writer_array (w, path->count);
        for (uint32_t d = 0; d < path->count; d++)
            wd_writer_bin (w, s_digest_bytes (self, path->first + d),
                           self->digests[path->first + d].len);
    }
    wd_writer_key (w, "excludes");
    wd_writer_array (w, self->exclude_count);
    for (size_t i = 0; i < self->exclude_count; i++)
        wd_writer_cstr (w, self->excludes[i].source);
    wd_writer_key (w, "log_hash_alg");
    wd_writer_cstr (w, self->log_hash_alg);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, self->name);
    wd_writer_key (w, "not_appraised");
    wd_writer_map (w, 3);
    wd_writer_key (w, "ima-buf");
    s_write_names (w, &self->ima_bufs);
    wd_writer_key (w, "keyrings");
    s_write_names (w, &self->keyrings);
    wd_writer_key (w, "verification-keys");
    wd_writer_bool (w, self->verification_keys);
    wd_writer_key (w, "release");
    wd_writer_uint (w, self->release);
    wd_writer_key (w, "source");
    wd_writer_bin (w, self->source, sizeof self->source);
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_POLICY_VERSION);
    uint8_t *body = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return body;
}

/* The reader's sticky error, once a read has failed. */
static int
s_reader_error (wd_reader_t *r)
{
    wd_err_t err = wd_reader_finish (r);
    assert (err != WD_OK);
    return err;
}

/* Reads a list of names (not_appraised): strictly ascending, each 1 to
   ATTEST_POLICY_PATH_MAX bytes without NUL. */
static int
s_read_names (wd_reader_t *r, s_names_t *names, size_t *total)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return s_reader_error (r);
    if (count > ATTEST_POLICY_DIGESTS_MAX - *total)
        return WD_ERR_OVERSIZE;
    *total += count;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name;
        size_t len;
        if (!wd_read_str (r, &name, &len, ATTEST_POLICY_PATH_MAX))
            return s_reader_error (r);
        if (len == 0)
            return ATTEST_ERR_POLICY_BAD_PATH;
        if (memchr (name, 0, len))
            return WD_ERR_BAD_VALUE;
        if (prev) {
            int c = memcmp (prev, name, prev_len < len ? prev_len : len);
            if (c > 0 || (c == 0 && prev_len >= len))
                return ATTEST_ERR_POLICY_UNSORTED;
        }
        int err = s_names_add (names, name, len);
        if (err != WD_OK)
            return err;
        prev = name;
        prev_len = len;
    }
    return wd_read_end (r) ? WD_OK : s_reader_error (r);
}

/* Reads the "digests" list: [[path, [digest, ...]], ...], paths strictly
   ascending, each run strictly ascending by (length, bytes). */
static int
s_read_digests (wd_reader_t *r, attest_policy_t *self)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return s_reader_error (r);
    if (count > ATTEST_POLICY_DIGESTS_MAX)
        return WD_ERR_OVERSIZE;
    for (size_t i = 0; i < count; i++) {
        size_t pair, runs;
        const char *path;
        size_t path_len;
        if (!wd_read_array (r, &pair))
            return s_reader_error (r);
        if (pair < 2)
            return WD_ERR_BAD_LENGTH;
        if (!wd_read_str (r, &path, &path_len, ATTEST_POLICY_PATH_MAX))
            return s_reader_error (r);
        if (path_len == 0)
            return ATTEST_ERR_POLICY_BAD_PATH;
        if (memchr (path, 0, path_len))
            return WD_ERR_BAD_VALUE;
        if (self->path_count > 0) {
            const s_path_t *prev = &self->paths[self->path_count - 1];
            size_t n = prev->path_len < path_len ? prev->path_len : path_len;
            int c = memcmp (s_path_str (self, prev), path, n);
            if (c > 0 || (c == 0 && prev->path_len >= path_len))
                return ATTEST_ERR_POLICY_UNSORTED;
        }
        int err = s_path_add (self, path, path_len);
        if (err != WD_OK)
            return err;
        if (!wd_read_array (r, &runs))
            return s_reader_error (r);
        if (runs == 0)
            return ATTEST_ERR_POLICY_EMPTY_LIST;
        if (runs > ATTEST_POLICY_DIGESTS_MAX - self->digest_count)
            return WD_ERR_OVERSIZE;
        for (size_t d = 0; d < runs; d++) {
            const uint8_t *digest;
            size_t len;
            if (!wd_read_bin (r, &digest, &len, ATTEST_POLICY_DIGEST_MAX))
                return s_reader_error (r);
            if (!s_digest_len_valid (len))
                return ATTEST_ERR_POLICY_DIGEST_LENGTH;
            if (d > 0) {
                const s_digest_t *prev = &self->digests[self->digest_count - 1];
                if (s_digest_cmp (self->pool + prev->off, prev->len, digest, len) >= 0)
                    return ATTEST_ERR_POLICY_UNSORTED;
            }
            if ((err = s_digest_add (self, digest, len)) != WD_OK)
                return err;
        }
        if (!wd_read_end (r) || !wd_read_end (r))
            return s_reader_error (r);
    }
    return wd_read_end (r) ? WD_OK : s_reader_error (r);
}

static int
s_read_excludes (wd_reader_t *r, attest_policy_t *self)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return s_reader_error (r);
    if (count > ATTEST_POLICY_EXCLUDES)
        return WD_ERR_OVERSIZE;
    for (size_t i = 0; i < count; i++) {
        char pattern[ATTEST_POLICY_REGEX_MAX + 1];
        if (!wd_read_cstr (r, pattern, sizeof pattern))
            return s_reader_error (r);
        int err = s_exclude_add (self, pattern, i, NULL, 0);
        if (err != WD_OK)
            return err;
    }
    return wd_read_end (r) ? WD_OK : s_reader_error (r);
}

static int
s_read_body (wd_reader_t *r, attest_policy_t *self)
{
    size_t count, names_total = 0;
    int err;
    char alg[8];
    uint64_t version;
    if (!wd_read_map (r, &count) || !wd_read_key (r, "created") ||
        !wd_read_uint (r, &self->created, UINT64_MAX) || !wd_read_key (r, "digests"))
        return s_reader_error (r);
    if ((err = s_read_digests (r, self)) != WD_OK)
        return err;
    if (!wd_read_key (r, "excludes"))
        return s_reader_error (r);
    if ((err = s_read_excludes (r, self)) != WD_OK)
        return err;
    if (!wd_read_key (r, "log_hash_alg") || !wd_read_cstr (r, alg, sizeof alg))
        return s_reader_error (r);
    if (attest_policy_alg_len (alg) == 0)
        return ATTEST_ERR_POLICY_BAD_ALG;
    memcpy (self->log_hash_alg, alg, sizeof alg);
    if (!wd_read_key (r, "name") || !wd_read_cstr (r, self->name, sizeof self->name))
        return s_reader_error (r);
    if (!s_name_valid (self->name))
        return ATTEST_ERR_POLICY_BAD_NAME;
    if (!wd_read_key (r, "not_appraised") || !wd_read_map (r, &count) ||
        !wd_read_key (r, "ima-buf"))
        return s_reader_error (r);
    if ((err = s_read_names (r, &self->ima_bufs, &names_total)) != WD_OK)
        return err;
    if (!wd_read_key (r, "keyrings"))
        return s_reader_error (r);
    if ((err = s_read_names (r, &self->keyrings, &names_total)) != WD_OK)
        return err;
    if (!wd_read_key (r, "verification-keys") || !wd_read_bool (r, &self->verification_keys) ||
        !wd_read_end (r) || !wd_read_key (r, "release") ||
        !wd_read_uint (r, &self->release, UINT64_MAX) || !wd_read_key (r, "source") ||
        !wd_read_bin_fixed (r, self->source, sizeof self->source) || !wd_read_key (r, "v") ||
        !wd_read_uint (r, &version, UINT64_MAX) || !wd_read_end (r))
        return s_reader_error (r);
    if ((err = wd_reader_finish (r)) != WD_OK)
        return err;
    return version == ATTEST_POLICY_VERSION ? WD_OK : WD_ERR_BAD_VERSION;
}

int
attest_policy_decode (const uint8_t *body, size_t len, attest_policy_t **out)
{
    assert (out);
    *out = NULL;
    if (len > ATTEST_POLICY_OBJECT_MAX)
        return WD_ERR_OVERSIZE;
    int err = wd_codec_check (body, len, ATTEST_POLICY_OBJECT_MAX, NULL);
    if (err != WD_OK)
        return err;
    attest_policy_t *self = s_policy_new ();
    if (!self)
        return WD_ERR_NOMEM;
    wd_reader_t r;
    wd_reader_init (&r, body, len);
    err = s_read_body (&r, self);
    if (err == WD_OK)
        err = s_finalize (self, true, body, len);
    if (err != WD_OK) {
        attest_policy_destroy (&self);
        return err;
    }
    *out = self;
    return WD_OK;
}

const uint8_t *
attest_policy_id (const attest_policy_t *self)
{
    return self->id;
}

int
attest_policy_seal (const attest_policy_t *self, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const uint8_t signer_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                    uint8_t **out, size_t *out_len)
{
    size_t len;
    uint8_t *body = attest_policy_encode (self, &len);
    int err = wd_envelope_seal (ATTEST_POLICY_TYPE, chain, signer_pk, body, len, sign, sign_ctx,
                                out, out_len);
    free (body);
    return err;
}

int
attest_policy_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const uint8_t (*signers)[WD_PUBKEY_LEN], size_t signer_count,
                    attest_policy_t **out)
{
    *out = NULL;
    wd_envelope_t env;
    int err = wd_envelope_open (buf, len, chain, ATTEST_POLICY_TYPE, &env);
    if (err != WD_OK)
        return err;
    bool trusted = false;
    for (size_t i = 0; i < signer_count; i++)
        trusted |= sodium_memcmp (env.from, signers[i], WD_PUBKEY_LEN) == 0;
    if (!trusted)
        return ATTEST_ERR_POLICY_UNTRUSTED_SIGNER;
    return attest_policy_decode (env.body, env.body_len, out);
}

/* ---- accessors -------------------------------------------------------------- */

const char *
attest_policy_name (const attest_policy_t *self)
{
    return self->name;
}

uint64_t
attest_policy_created (const attest_policy_t *self)
{
    return self->created;
}

uint64_t
attest_policy_release (const attest_policy_t *self)
{
    return self->release;
}

const uint8_t *
attest_policy_source (const attest_policy_t *self)
{
    return self->source;
}

const char *
attest_policy_log_hash_alg (const attest_policy_t *self)
{
    return self->log_hash_alg;
}

size_t
attest_policy_path_count (const attest_policy_t *self)
{
    return self->path_count;
}

size_t
attest_policy_digest_count (const attest_policy_t *self)
{
    return self->digest_count;
}

size_t
attest_policy_exclude_count (const attest_policy_t *self)
{
    return self->exclude_count;
}

const char *
attest_policy_exclude (const attest_policy_t *self, size_t index)
{
    assert (index < self->exclude_count);
    return self->excludes[index].source;
}

size_t
attest_policy_keyring_count (const attest_policy_t *self)
{
    return self->keyrings.count;
}

const char *
attest_policy_keyring (const attest_policy_t *self, size_t index)
{
    assert (index < self->keyrings.count);
    return self->keyrings.items[index];
}

size_t
attest_policy_ima_buf_count (const attest_policy_t *self)
{
    return self->ima_bufs.count;
}

const char *
attest_policy_ima_buf (const attest_policy_t *self, size_t index)
{
    assert (index < self->ima_bufs.count);
    return self->ima_bufs.items[index];
}

bool
attest_policy_has_verification_keys (const attest_policy_t *self)
{
    return self->verification_keys;
}

/* ---- appraisal ---------------------------------------------------------------- */

static const char *const s_verdict_names[ATTEST_VERDICT_COUNT_] = {
    [ATTEST_VERDICT_PASS] = "pass",
    [ATTEST_VERDICT_EXCLUDED] = "excluded",
    [ATTEST_VERDICT_NOT_APPRAISED] = "not-appraised",
    [ATTEST_VERDICT_UNKNOWN_PATH] = "unknown-path",
    [ATTEST_VERDICT_DIGEST_NOT_ALLOWED] = "digest-not-allowed",
    [ATTEST_VERDICT_WRONG_ALG] = "wrong-alg",
    [ATTEST_VERDICT_BAD_MEASUREMENT] = "bad-measurement",
};

static const char *const s_verdict_strs[ATTEST_VERDICT_COUNT_] = {
    [ATTEST_VERDICT_PASS] = "the digest is allowed for the path",
    [ATTEST_VERDICT_EXCLUDED] = "the path matches an exclude",
    [ATTEST_VERDICT_NOT_APPRAISED] = "buffer measurements (ima-buf) are not appraised",
    [ATTEST_VERDICT_UNKNOWN_PATH] = "the policy does not list the path",
    [ATTEST_VERDICT_DIGEST_NOT_ALLOWED] = "the digest is not allowed for the path",
    [ATTEST_VERDICT_WRONG_ALG] = "the policy lists no digest of this algorithm for the path",
    [ATTEST_VERDICT_BAD_MEASUREMENT] =
        "the measurement's algorithm is unknown or its digest has the wrong length",
};

bool
attest_verdict_failed (attest_verdict_t verdict)
{
    return verdict == ATTEST_VERDICT_UNKNOWN_PATH || verdict == ATTEST_VERDICT_DIGEST_NOT_ALLOWED ||
           verdict == ATTEST_VERDICT_WRONG_ALG || verdict == ATTEST_VERDICT_BAD_MEASUREMENT;
}

const char *
attest_verdict_name (attest_verdict_t verdict)
{
    return (unsigned)verdict < ATTEST_VERDICT_COUNT_ ? s_verdict_names[verdict] : "unknown";
}

const char *
attest_verdict_str (attest_verdict_t verdict)
{
    return (unsigned)verdict < ATTEST_VERDICT_COUNT_ ? s_verdict_strs[verdict] : "unknown verdict";
}

/* Finds path through the index and fills *out with its record. */
static bool
s_path_find (const attest_policy_t *self, const char *path, size_t len, s_path_t *out)
{
    uint64_t hash = s_hash (path, len);
    uint32_t tag = (uint32_t)(hash >> 32);
    for (size_t slot = (size_t)hash & self->slot_mask; self->slots[slot].off != UINT32_MAX;
         slot = (slot + 1) & self->slot_mask) {
        if (self->slots[slot].tag != tag)
            continue;
        const uint8_t *header = self->pool + self->slots[slot].off;
        uint16_t path_len;
        memcpy (&path_len, header + 8, 2);
        if (path_len != len || memcmp (header + S_HEADER, path, len) != 0)
            continue;
        memcpy (&out->count, header, 4);
        memcpy (&out->first, header + 4, 4);
        out->off = self->slots[slot].off + S_HEADER;
        out->path_len = path_len;
        return true;
    }
    return false;
}

/* Whether the path's run holds the digest. *same_len tells whether it
   holds any digest of that length. Short runs are scanned where they lie,
   right after the path in the pool; long ones are searched. */
static bool
s_run_has (const attest_policy_t *self, const s_path_t *path, const uint8_t *digest, size_t len,
           bool *same_len)
{
    *same_len = false;
    if (path->count <= 8) {
        const uint8_t *at = self->pool + path->off + path->path_len + 1;
        for (uint32_t i = 0; i < path->count; i++, at += 1 + at[0]) {
            if (at[0] != len)
                continue;
            *same_len = true;
            if (memcmp (at + 1, digest, len) == 0)
                return true;
        }
        return false;
    }
    for (uint32_t d = 0; d < path->count; d++)
        *same_len |= self->digests[path->first + d].len == len;
    size_t lo = 0, hi = path->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const s_digest_t *d = &self->digests[path->first + mid];
        int c = s_digest_cmp (self->pool + d->off, d->len, digest, len);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The smallest path for which the policy allows the digest, or NULL. */
static const char *
s_other_path (const attest_policy_t *self, const uint8_t *digest, size_t len)
{
    size_t lo = 0, hi = self->digest_count;
    while (lo < hi) { /* the first entry not below the digest */
        size_t mid = lo + (hi - lo) / 2;
        const s_digest_t *d = &self->digests[self->by_digest[mid]];
        if (s_digest_cmp (self->pool + d->off, d->len, digest, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == self->digest_count)
        return NULL;
    uint32_t index = self->by_digest[lo];
    const s_digest_t *d = &self->digests[index];
    if (s_digest_cmp (self->pool + d->off, d->len, digest, len) != 0)
        return NULL;
    return s_path_str (self, &self->paths[self->digest_path[index]]);
}

attest_verdict_t
attest_policy_appraise (const attest_policy_t *self, const attest_measurement_t *m,
                        attest_appraisal_t *out)
{
    assert (self && m && m->path && m->alg);
    attest_appraisal_t a = { .verdict = ATTEST_VERDICT_PASS };
    size_t alg_len = attest_policy_alg_len (m->alg);
    size_t path_len = strlen (m->path);
    if (alg_len == 0 || m->digest_len != alg_len || !m->digest) {
        a.verdict = ATTEST_VERDICT_BAD_MEASUREMENT;
        goto out;
    }
    /* Python's "." and "$" treat a newline specially and ERE's do not, so a
       path holding one is never excluded: it is appraised instead. */
    bool excludable = memchr (m->path, '\n', path_len) == NULL;
    for (size_t i = 0; excludable && i < self->exclude_count; i++) {
        if (s_exclude_match (&self->excludes[i], m->path, path_len)) {
            a.verdict = ATTEST_VERDICT_EXCLUDED;
            a.exclude = i;
            goto out;
        }
    }
    if (m->kind == ATTEST_MEASUREMENT_BUFFER) {
        a.verdict = ATTEST_VERDICT_NOT_APPRAISED;
        goto out;
    }
    s_path_t path;
    if (!s_path_find (self, m->path, path_len, &path)) {
        a.verdict = ATTEST_VERDICT_UNKNOWN_PATH;
    } else {
        bool same_len;
        if (s_run_has (self, &path, m->digest, m->digest_len, &same_len))
            goto out;
        a.verdict = same_len ? ATTEST_VERDICT_DIGEST_NOT_ALLOWED : ATTEST_VERDICT_WRONG_ALG;
    }
    a.other_path = s_other_path (self, m->digest, m->digest_len);
out:
    if (out)
        *out = a;
    return a.verdict;
}

/* ---- appraisal report ---------------------------------------------------------- */

struct attest_policy_report {
    uint64_t counts[ATTEST_VERDICT_COUNT_];
    uint64_t total;
    uint64_t dropped;
    attest_policy_failure_t *failures;
    size_t failure_count;
    size_t failure_alloc;
};

attest_policy_report_t *
attest_policy_report_new (void)
{
    attest_policy_report_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    return self;
}

void
attest_policy_report_destroy (attest_policy_report_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_policy_report_t *self = *self_p;
        for (size_t i = 0; i < self->failure_count; i++) {
            free (self->failures[i].path);
            free (self->failures[i].other_path);
        }
        free (self->failures);
        free (self);
        *self_p = NULL;
    }
}

attest_verdict_t
attest_policy_report_add (attest_policy_report_t *self, const attest_policy_t *policy,
                          uint64_t index, const attest_measurement_t *m, attest_appraisal_t *out)
{
    assert (self);
    attest_appraisal_t a;
    attest_verdict_t verdict = attest_policy_appraise (policy, m, &a);
    self->counts[verdict]++;
    self->total++;
    if (attest_verdict_failed (verdict)) {
        if (self->failure_count >= ATTEST_POLICY_FAILURES) {
            self->dropped++;
        } else {
            if (!s_grow ((void **)&self->failures, &self->failure_alloc, self->failure_count + 1,
                         sizeof (attest_policy_failure_t)))
                abort ();
            attest_policy_failure_t *f = &self->failures[self->failure_count++];
            f->index = index;
            f->verdict = verdict;
            f->path = strdup (m->path);
            f->other_path = a.other_path ? strdup (a.other_path) : NULL;
            if (!f->path || (a.other_path && !f->other_path))
                abort ();
        }
    }
    if (out)
        *out = a;
    return verdict;
}

uint64_t
attest_policy_report_count (const attest_policy_report_t *self, attest_verdict_t verdict)
{
    assert ((unsigned)verdict < ATTEST_VERDICT_COUNT_);
    return self->counts[verdict];
}

uint64_t
attest_policy_report_total (const attest_policy_report_t *self)
{
    return self->total;
}

size_t
attest_policy_report_failure_count (const attest_policy_report_t *self)
{
    return self->failure_count;
}

const attest_policy_failure_t *
attest_policy_report_failure (const attest_policy_report_t *self, size_t i)
{
    assert (i < self->failure_count);
    return &self->failures[i];
}

uint64_t
attest_policy_report_dropped (const attest_policy_report_t *self)
{
    return self->dropped;
}

bool
attest_policy_report_passed (const attest_policy_report_t *self)
{
    return self->counts[ATTEST_VERDICT_UNKNOWN_PATH] == 0 &&
           self->counts[ATTEST_VERDICT_DIGEST_NOT_ALLOWED] == 0 &&
           self->counts[ATTEST_VERDICT_WRONG_ALG] == 0 &&
           self->counts[ATTEST_VERDICT_BAD_MEASUREMENT] == 0;
}
