/*
 * attest_agent_proto: encoding and strict decoding of the host agent's
 * messages (hello, challenge, response, result). See the header and
 * docs/PROTOCOL.md "Host agent protocol".
 *
 * Node messages are checked for canonical msgpack (wd_codec_check) before
 * their schema is read; agent messages get that check from
 * wd_envelope_decode. What a schema cannot say (an item's fields fit its
 * kind, lists in canonical order) is checked as each value is read, and the
 * first error met is the one reported. The reader's sticky error (r->err)
 * is consulted directly so a kind check never runs on a half-read value.
 */
#include "attest_agent_proto.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"

static const char *const s_kind_names[ATTEST_ITEM_KIND_COUNT_] = {
    "file", "cmdline", "modules", "procs", "ima", "range",
};

static const char *const s_answer_err_names[ATTEST_ANSWER_ERR_COUNT_] = {
    "ok", "not-found", "not-regular", "io", "absent", "range", "too-large",
};

static const char *const s_status_names[ATTEST_AGENT_STATUS_COUNT_] = {
    "accepted", "refused", "pass", "fail", "rejected",
};

#define S_RANGE_LEN_MAX (1ull << 40)

const char *
attest_item_kind_name (attest_item_kind_t kind)
{
    assert (kind < ATTEST_ITEM_KIND_COUNT_);
    return s_kind_names[kind];
}

static bool
s_name_lookup (const char *const *names, size_t count, const char *name, size_t len, unsigned *out)
{
    for (unsigned i = 0; i < count; i++)
        if (strlen (names[i]) == len && memcmp (names[i], name, len) == 0) {
            *out = i;
            return true;
        }
    return false;
}

bool
attest_item_kind_parse (const char *name, size_t len, attest_item_kind_t *kind)
{
    unsigned i;
    if (!s_name_lookup (s_kind_names, ATTEST_ITEM_KIND_COUNT_, name, len, &i))
        return false;
    *kind = (attest_item_kind_t)i;
    return true;
}

const char *
attest_answer_err_name (attest_answer_err_t err)
{
    assert (err < ATTEST_ANSWER_ERR_COUNT_);
    return s_answer_err_names[err];
}

const char *
attest_agent_status_name (attest_agent_status_t status)
{
    assert (status < ATTEST_AGENT_STATUS_COUNT_);
    return s_status_names[status];
}

void
attest_answer_clear (attest_answer_t *self)
{
    assert (self);
    free (self->data);
    for (size_t i = 0; i < self->list_count; i++)
        free (self->list[i]);
    free (self->list);
    for (size_t i = 0; i < self->entry_count; i++)
        free (self->entries[i].path);
    free (self->entries);
    attest_item_kind_t kind = self->kind;
    attest_answer_err_t err = self->err;
    memset (self, 0, sizeof *self);
    self->kind = kind;
    self->err = err;
}

void
attest_agent_routing_id (const uint8_t session_pk[WD_PUBKEY_LEN],
                         uint8_t id[ATTEST_AGENT_ROUTING_ID_LEN])
{
    id[0] = 'w'; /* a routing id must not start with a zero byte */
    memcpy (id + 1, session_pk, WD_PUBKEY_LEN);
}

bool
attest_agent_token_valid (const char *token)
{
    size_t len = strlen (token);
    if (len < 1 || len > ATTEST_AGENT_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (token[i] < 0x21 || token[i] > 0x7e)
            return false;
    return true;
}

bool
attest_agent_host_valid (const char *host)
{
    size_t len = strlen (host);
    if (len < 1 || len > ATTEST_AGENT_HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A string of at most max bytes copied and NUL-terminated (caller frees);
   "" when it is empty or holds a NUL. NULL after a reader error. */
static char *
s_read_path (wd_reader_t *r, size_t max)
{
    const char *s;
    size_t len;
    if (!wd_read_str (r, &s, &len, max))
        return NULL;
    if (len == 0 || memchr (s, 0, len))
        len = 0; /* the caller rejects an empty path with its own reason */
    char *p = malloc (len + 1);
    if (!p)
        abort ();
    memcpy (p, s, len);
    p[len] = 0;
    return p;
}

/* ---- hello ----------------------------------------------------------------- */

/* Decodes an agent frame's envelope and, when server_pk is given, checks
   that it was made for that node and that its signature verifies. */
static wd_err_t
s_open_env (const uint8_t *buf, size_t len, const uint8_t *server_pk, wd_envelope_t *env)
{
    if (len > ATTEST_AGENT_MSG_MAX)
        return WD_ERR_OVERSIZE;
    return server_pk ? wd_envelope_open (buf, len, server_pk, NULL, env)
                     : wd_envelope_decode (buf, len, env);
}

wd_err_t
attest_agent_hello_seal (const attest_agent_hello_t *hello, const uint8_t server_pk[32],
                         wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len)
{
    assert (attest_agent_host_valid (hello->host));
    assert (attest_agent_token_valid (hello->token));
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "host");
    wd_writer_cstr (w, hello->host);
    wd_writer_key (w, "token");
    wd_writer_cstr (w, hello->token);
    size_t len;
    const uint8_t *body = wd_writer_data (w, &len);
    wd_err_t err = wd_envelope_seal (ATTEST_AGENT_HELLO_TYPE, server_pk, hello->pk, body, len, sign,
                                     sign_ctx, out, out_len);
    wd_writer_destroy (&w);
    return err;
}

int
attest_agent_hello_from_env (const wd_envelope_t *env, attest_agent_hello_t *hello)
{
    memset (hello, 0, sizeof *hello);
    if (strcmp (env->type, ATTEST_AGENT_HELLO_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, env->body, env->body_len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "host");
    wd_read_cstr (&r, hello->host, sizeof hello->host);
    wd_read_key (&r, "token");
    wd_read_cstr (&r, hello->token, sizeof hello->token);
    wd_read_end (&r);
    wd_err_t err = wd_reader_finish (&r);
    if (err != WD_OK)
        return err;
    if (!attest_agent_host_valid (hello->host))
        return ATTEST_ERR_AGENT_HOST;
    if (!attest_agent_token_valid (hello->token))
        return ATTEST_ERR_AGENT_TOKEN;
    memcpy (hello->pk, env->from, WD_PUBKEY_LEN);
    return WD_OK;
}

int
attest_agent_hello_open (const uint8_t *buf, size_t len, const uint8_t *server_pk,
                         attest_agent_hello_t *hello)
{
    memset (hello, 0, sizeof *hello);
    wd_envelope_t env;
    wd_err_t err = s_open_env (buf, len, server_pk, &env);
    return err != WD_OK ? err : attest_agent_hello_from_env (&env, hello);
}

/* ---- items ------------------------------------------------------------------- */

static void
s_write_item (wd_writer_t *w, const attest_item_t *it)
{
    switch (it->kind) {
        case ATTEST_ITEM_FILE:
            assert (it->path);
            wd_writer_map (w, 2);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "file");
            wd_writer_key (w, "path");
            wd_writer_cstr (w, it->path);
            break;
        case ATTEST_ITEM_IMA:
            wd_writer_map (w, 2);
            wd_writer_key (w, "from");
            wd_writer_uint (w, it->from);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "ima");
            break;
        case ATTEST_ITEM_RANGE:
            assert (it->path && it->len >= 1 && it->len <= S_RANGE_LEN_MAX);
            wd_writer_map (w, 4);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "range");
            wd_writer_key (w, "len");
            wd_writer_uint (w, it->len);
            wd_writer_key (w, "off");
            wd_writer_uint (w, it->off);
            wd_writer_key (w, "path");
            wd_writer_cstr (w, it->path);
            break;
        default:
            assert (it->kind < ATTEST_ITEM_KIND_COUNT_);
            wd_writer_map (w, 1);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, s_kind_names[it->kind]);
            break;
    }
}

/* Reads one item map. *bad gets ATTEST_ERR_AGENT_ITEM when the fields do not
   fit the kind (checked after the reader, so codec errors come first). */
static void
s_read_item (wd_reader_t *r, attest_item_t *it, int *bad)
{
    size_t n;
    const char *kind;
    size_t kind_len = 0;
    bool has_from, has_len, has_off, has_path;
    memset (it, 0, sizeof *it);
    wd_read_map (r, &n);
    if ((has_from = wd_read_key_opt (r, "from")))
        wd_read_uint (r, &it->from, UINT64_MAX);
    wd_read_key (r, "kind");
    if (!wd_read_str (r, &kind, &kind_len, 16))
        kind_len = 0;
    if ((has_len = wd_read_key_opt (r, "len")))
        wd_read_uint (r, &it->len, S_RANGE_LEN_MAX);
    if ((has_off = wd_read_key_opt (r, "off")))
        wd_read_uint (r, &it->off, UINT64_MAX);
    if ((has_path = wd_read_key_opt (r, "path")))
        it->path = s_read_path (r, ATTEST_AGENT_PATH_MAX);
    wd_read_end (r);
    if (r->err != WD_OK || *bad)
        return;
    bool ok = attest_item_kind_parse (kind, kind_len, &it->kind);
    if (ok) {
        bool want_path = it->kind == ATTEST_ITEM_FILE || it->kind == ATTEST_ITEM_RANGE;
        bool want_range = it->kind == ATTEST_ITEM_RANGE;
        ok = has_from == (it->kind == ATTEST_ITEM_IMA) && has_path == want_path &&
             has_len == want_range && has_off == want_range &&
             (!want_path || (it->path && it->path[0])) && (!want_range || it->len >= 1) &&
             (!want_range || it->off <= UINT64_MAX - it->len);
    }
    if (!ok)
        *bad = ATTEST_ERR_AGENT_ITEM;
}

/* ---- lists ------------------------------------------------------------------ */

typedef void (*s_read_one_fn) (wd_reader_t *r, void *base, size_t i, int *bad);

static void
s_read_item_at (wd_reader_t *r, void *base, size_t i, int *bad)
{
    s_read_item (r, (attest_item_t *)base + i, bad);
}

/* Reads an array of min..ATTEST_AGENT_ITEMS_MAX items or answers into
   base; *count counts those read (so a failure frees them). Too many is
   WD_ERR_OVERSIZE, too few too_few. The reader is left inside the array
   when *bad is set. */
static void
s_read_list (wd_reader_t *r, size_t min, int too_few, s_read_one_fn read_one, void *base,
             size_t *count, int *bad)
{
    size_t n;
    if (!wd_read_array (r, &n))
        return;
    if (n < min || n > ATTEST_AGENT_ITEMS_MAX) {
        *bad = n > ATTEST_AGENT_ITEMS_MAX ? WD_ERR_OVERSIZE : too_few;
        return;
    }
    for (size_t i = 0; i < n && r->err == WD_OK && !*bad; i++) {
        read_one (r, base, i, bad);
        *count = i + 1;
    }
    if (!*bad)
        wd_read_end (r);
}

static void
s_read_nonce_seq (wd_reader_t *r, uint8_t nonce[ATTEST_AGENT_NONCE_LEN], uint64_t *seq)
{
    wd_read_key (r, "nonce");
    wd_read_bin_fixed (r, nonce, ATTEST_AGENT_NONCE_LEN);
    wd_read_key (r, "seq");
    wd_read_uint (r, seq, UINT64_MAX);
}

/* ---- challenge --------------------------------------------------------------- */

uint8_t *
attest_agent_challenge_encode (const attest_agent_challenge_t *self, size_t *len)
{
    assert (self->count >= 1 && self->count <= ATTEST_AGENT_ITEMS_MAX);
    assert (self->deadline_ms >= 1 && self->deadline_ms <= ATTEST_AGENT_DEADLINE_MAX);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 6);
    wd_writer_key (w, "deadline_ms");
    wd_writer_uint (w, self->deadline_ms);
    wd_writer_key (w, "items");
    wd_writer_array (w, self->count);
    for (size_t i = 0; i < self->count; i++)
        s_write_item (w, &self->items[i]);
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, self->nonce, sizeof self->nonce);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, self->seq);
    wd_writer_key (w, "t");
    wd_writer_cstr (w, "challenge");
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_AGENT_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* Reads the "t" and "v" keys that end every node message. */
static void
s_read_tv (wd_reader_t *r, const char *want, bool *type_ok, uint64_t *version)
{
    const char *t;
    size_t tlen = 0;
    wd_read_key (r, "t");
    if (wd_read_str (r, &t, &tlen, 16))
        *type_ok = tlen == strlen (want) && memcmp (t, want, tlen) == 0;
    wd_read_key (r, "v");
    wd_read_uint (r, version, UINT64_MAX);
}

int
attest_agent_challenge_decode (const uint8_t *buf, size_t len, attest_agent_challenge_t *self)
{
    memset (self, 0, sizeof *self);
    if (len > ATTEST_AGENT_MSG_MAX)
        return WD_ERR_OVERSIZE;
    int err = wd_codec_check (buf, len, ATTEST_AGENT_MSG_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    int bad = 0;
    bool type_ok = false;
    uint64_t version = 0;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "deadline_ms");
    wd_read_uint (&r, &self->deadline_ms, ATTEST_AGENT_DEADLINE_MAX);
    wd_read_key (&r, "items");
    s_read_list (&r, 1, ATTEST_ERR_AGENT_ITEM, s_read_item_at, self->items, &self->count, &bad);
    if (!bad) {
        s_read_nonce_seq (&r, self->nonce, &self->seq);
        s_read_tv (&r, "challenge", &type_ok, &version);
        wd_read_end (&r);
    }
    if (bad) {
        /* The reader was left inside a container: report our reason. */
        err = bad;
    } else if ((err = wd_reader_finish (&r)) == WD_OK) {
        if (version != ATTEST_AGENT_VERSION)
            err = WD_ERR_BAD_VERSION;
        else if (!type_ok)
            err = ATTEST_ERR_AGENT_MSG_TYPE;
        else if (self->deadline_ms < 1)
            err = WD_ERR_OUT_OF_RANGE;
    }
    if (err != WD_OK)
        attest_agent_challenge_clear (self);
    return err;
}

void
attest_agent_challenge_clear (attest_agent_challenge_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->count; i++) {
        free (self->items[i].path);
        self->items[i].path = NULL;
    }
    self->count = 0;
}

/* ---- answers ----------------------------------------------------------------- */

static void
s_write_answer (wd_writer_t *w, const attest_answer_t *a)
{
    assert (a->kind < ATTEST_ITEM_KIND_COUNT_ && a->err < ATTEST_ANSWER_ERR_COUNT_);
    if (a->err != ATTEST_ANSWER_OK) {
        wd_writer_map (w, 2);
        wd_writer_key (w, "err");
        wd_writer_cstr (w, s_answer_err_names[a->err]);
        wd_writer_key (w, "kind");
        wd_writer_cstr (w, s_kind_names[a->kind]);
        return;
    }
    switch (a->kind) {
        case ATTEST_ITEM_FILE:
        case ATTEST_ITEM_RANGE:
            wd_writer_map (w, 2);
            wd_writer_key (w, "digest");
            wd_writer_bin (w, a->digest, 32);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, s_kind_names[a->kind]);
            break;
        case ATTEST_ITEM_CMDLINE:
            assert (a->data_len <= ATTEST_AGENT_DATA_MAX);
            wd_writer_map (w, 2);
            wd_writer_key (w, "data");
            wd_writer_bin (w, a->data, a->data_len);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "cmdline");
            break;
        case ATTEST_ITEM_IMA:
            assert (a->data_len <= ATTEST_AGENT_DATA_MAX);
            wd_writer_map (w, 3);
            wd_writer_key (w, "data");
            wd_writer_bin (w, a->data, a->data_len);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "ima");
            wd_writer_key (w, "n");
            wd_writer_uint (w, a->n);
            break;
        case ATTEST_ITEM_MODULES:
            assert (a->list_count <= ATTEST_AGENT_MODULES_MAX);
            wd_writer_map (w, 2);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "modules");
            wd_writer_key (w, "list");
            wd_writer_array (w, a->list_count);
            for (size_t i = 0; i < a->list_count; i++)
                wd_writer_cstr (w, a->list[i]);
            break;
        case ATTEST_ITEM_PROCS:
            assert (a->entry_count <= ATTEST_AGENT_PROCS_MAX);
            wd_writer_map (w, 2);
            wd_writer_key (w, "entries");
            wd_writer_array (w, a->entry_count);
            for (size_t i = 0; i < a->entry_count; i++) {
                wd_writer_array (w, 2);
                wd_writer_cstr (w, a->entries[i].path);
                wd_writer_bin (w, a->entries[i].digest, 32);
            }
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, "procs");
            break;
        default:
            abort ();
    }
}

static int
s_proc_cmp (const attest_proc_entry_t *a, const attest_proc_entry_t *b)
{
    int c = strcmp (a->path, b->path);
    return c ? c : memcmp (a->digest, b->digest, 32);
}

static void
s_read_answer (wd_reader_t *r, attest_answer_t *a, int *bad)
{
    size_t n, m;
    const char *s;
    size_t slen = 0, elen = 0;
    bool has_data, has_digest, has_entries, has_err, has_list, has_n;
    memset (a, 0, sizeof *a);
    wd_read_map (r, &n);
    if ((has_data = wd_read_key_opt (r, "data"))) {
        const uint8_t *d;
        if (wd_read_bin (r, &d, &a->data_len, ATTEST_AGENT_DATA_MAX)) {
            a->data = malloc (a->data_len ? a->data_len : 1);
            if (!a->data)
                abort ();
            memcpy (a->data, d, a->data_len);
        }
    }
    if ((has_digest = wd_read_key_opt (r, "digest")))
        wd_read_bin_fixed (r, a->digest, 32);
    if ((has_entries = wd_read_key_opt (r, "entries")) && wd_read_array (r, &m)) {
        if (m > ATTEST_AGENT_PROCS_MAX) {
            *bad = WD_ERR_OVERSIZE;
            return;
        }
        a->entries = calloc (m ? m : 1, sizeof *a->entries);
        if (!a->entries)
            abort ();
        for (size_t i = 0; i < m && r->err == WD_OK; i++) {
            size_t two;
            if (wd_read_array (r, &two) && two != 2) {
                *bad = ATTEST_ERR_AGENT_ANSWER;
                return;
            }
            a->entries[i].path = s_read_path (r, ATTEST_AGENT_PATH_MAX);
            a->entry_count = i + 1;
            wd_read_bin_fixed (r, a->entries[i].digest, 32);
            wd_read_end (r);
            if (r->err == WD_OK &&
                (!a->entries[i].path[0] ||
                 (i > 0 && s_proc_cmp (&a->entries[i - 1], &a->entries[i]) >= 0)))
                *bad = a->entries[i].path[0] ? ATTEST_ERR_AGENT_UNSORTED : ATTEST_ERR_AGENT_ANSWER;
            if (*bad)
                return;
        }
        wd_read_end (r);
    }
    if ((has_err = wd_read_key_opt (r, "err")) && !wd_read_str (r, &s, &elen, 16))
        elen = 0;
    const char *err_name = has_err ? s : NULL;
    wd_read_key (r, "kind");
    const char *kind = NULL;
    if (!wd_read_str (r, &kind, &slen, 16))
        slen = 0;
    if ((has_list = wd_read_key_opt (r, "list")) && wd_read_array (r, &m)) {
        if (m > ATTEST_AGENT_MODULES_MAX) {
            *bad = WD_ERR_OVERSIZE;
            return;
        }
        a->list = calloc (m ? m : 1, sizeof *a->list);
        if (!a->list)
            abort ();
        for (size_t i = 0; i < m && r->err == WD_OK; i++) {
            a->list[i] = s_read_path (r, ATTEST_AGENT_MODULE_MAX);
            a->list_count = i + 1;
            if (r->err == WD_OK &&
                (!a->list[i][0] || (i > 0 && strcmp (a->list[i - 1], a->list[i]) >= 0))) {
                *bad = a->list[i][0] ? ATTEST_ERR_AGENT_UNSORTED : ATTEST_ERR_AGENT_ANSWER;
                return;
            }
        }
        wd_read_end (r);
    }
    if ((has_n = wd_read_key_opt (r, "n")))
        wd_read_uint (r, &a->n, UINT64_MAX);
    wd_read_end (r);
    if (r->err != WD_OK)
        return;
    unsigned e = 0;
    if (!attest_item_kind_parse (kind, slen, &a->kind) ||
        (has_err &&
         (!s_name_lookup (s_answer_err_names, ATTEST_ANSWER_ERR_COUNT_, err_name, elen, &e) ||
          e == ATTEST_ANSWER_OK))) {
        *bad = ATTEST_ERR_AGENT_ANSWER;
        return;
    }
    a->err = (attest_answer_err_t)e;
    bool ok;
    if (has_err)
        ok = !has_data && !has_digest && !has_entries && !has_list && !has_n;
    else {
        attest_item_kind_t k = a->kind;
        bool want_digest = k == ATTEST_ITEM_FILE || k == ATTEST_ITEM_RANGE;
        bool want_data = k == ATTEST_ITEM_CMDLINE || k == ATTEST_ITEM_IMA;
        ok = has_digest == want_digest && has_data == want_data &&
             has_n == (k == ATTEST_ITEM_IMA) && has_list == (k == ATTEST_ITEM_MODULES) &&
             has_entries == (k == ATTEST_ITEM_PROCS);
    }
    if (!ok)
        *bad = ATTEST_ERR_AGENT_ANSWER;
}

static void
s_read_answer_at (wd_reader_t *r, void *base, size_t i, int *bad)
{
    s_read_answer (r, (attest_answer_t *)base + i, bad);
}

/* ---- response ---------------------------------------------------------------- */

wd_err_t
attest_agent_response_seal (const attest_agent_response_t *self, const uint8_t server_pk[32],
                            const uint8_t session_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                            void *sign_ctx, uint8_t **out, size_t *out_len)
{
    assert (self->count <= ATTEST_AGENT_ITEMS_MAX);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "answers");
    wd_writer_array (w, self->count);
    for (size_t i = 0; i < self->count; i++)
        s_write_answer (w, &self->answers[i]);
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, self->nonce, sizeof self->nonce);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, self->seq);
    size_t len;
    const uint8_t *body = wd_writer_data (w, &len);
    wd_err_t err = wd_envelope_seal (ATTEST_AGENT_RESPONSE_TYPE, server_pk, session_pk, body, len,
                                     sign, sign_ctx, out, out_len);
    wd_writer_destroy (&w);
    return err;
}

int
attest_agent_response_from_env (const wd_envelope_t *env, attest_agent_response_t *self)
{
    memset (self, 0, sizeof *self);
    if (strcmp (env->type, ATTEST_AGENT_RESPONSE_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    wd_reader_t r;
    size_t n;
    int bad = 0, err;
    wd_reader_init (&r, env->body, env->body_len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "answers");
    s_read_list (&r, 0, 0, s_read_answer_at, self->answers, &self->count, &bad);
    if (!bad) {
        s_read_nonce_seq (&r, self->nonce, &self->seq);
        wd_read_end (&r);
    }
    if (bad && r.err == WD_OK)
        err = bad;
    else
        err = wd_reader_finish (&r);
    if (err != WD_OK)
        attest_agent_response_clear (self);
    else
        memcpy (self->pk, env->from, WD_PUBKEY_LEN);
    return err;
}

int
attest_agent_response_open (const uint8_t *buf, size_t len, const uint8_t *server_pk,
                            attest_agent_response_t *self)
{
    memset (self, 0, sizeof *self);
    wd_envelope_t env;
    wd_err_t err = s_open_env (buf, len, server_pk, &env);
    return err != WD_OK ? err : attest_agent_response_from_env (&env, self);
}

void
attest_agent_response_clear (attest_agent_response_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->count; i++)
        attest_answer_clear (&self->answers[i]);
    self->count = 0;
}

/* ---- result ------------------------------------------------------------------- */

uint8_t *
attest_agent_result_encode (const attest_agent_result_t *self, size_t *len)
{
    assert (self->status < ATTEST_AGENT_STATUS_COUNT_);
    assert (strlen (self->reason) <= ATTEST_AGENT_REASON_MAX);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "reason");
    wd_writer_cstr (w, self->reason);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, self->seq);
    wd_writer_key (w, "status");
    wd_writer_cstr (w, s_status_names[self->status]);
    wd_writer_key (w, "t");
    wd_writer_cstr (w, "result");
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_AGENT_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

int
attest_agent_result_decode (const uint8_t *buf, size_t len, attest_agent_result_t *self)
{
    memset (self, 0, sizeof *self);
    if (len > ATTEST_AGENT_MSG_MAX)
        return WD_ERR_OVERSIZE;
    int err = wd_codec_check (buf, len, ATTEST_AGENT_MSG_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n, slen = 0;
    const char *s = NULL;
    bool type_ok = false;
    uint64_t version = 0;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "reason");
    wd_read_cstr (&r, self->reason, sizeof self->reason);
    wd_read_key (&r, "seq");
    wd_read_uint (&r, &self->seq, UINT64_MAX);
    wd_read_key (&r, "status");
    if (!wd_read_str (&r, &s, &slen, 16))
        slen = 0;
    s_read_tv (&r, "result", &type_ok, &version);
    wd_read_end (&r);
    if ((err = wd_reader_finish (&r)) != WD_OK)
        return err;
    if (version != ATTEST_AGENT_VERSION)
        return WD_ERR_BAD_VERSION;
    if (!type_ok)
        return ATTEST_ERR_AGENT_MSG_TYPE;
    unsigned st;
    if (!s_name_lookup (s_status_names, ATTEST_AGENT_STATUS_COUNT_, s, slen, &st))
        return ATTEST_ERR_AGENT_STATUS;
    self->status = (attest_agent_status_t)st;
    return WD_OK;
}
