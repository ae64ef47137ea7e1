/*
 * capsule_task: encodes, checks, seals and opens the signed task record of
 * capsule execution (see capsule_task.h and docs/PROTOCOL.md "Capsule
 * tasks, key release and receipts").
 *
 * The decoder reads strings with a generous bound (the envelope already caps
 * the body) and then applies the task rules, so an input name that is a
 * little too long or holds a '/' is reported as CAPSULE_ERR_TASK_INPUT_NAME
 * rather than as a codec error.
 */
#include "capsule_task.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"

/* Strings longer than this are a codec error (WD_ERR_OVERSIZE); shorter
   ones that break a rule get the rule's reason. */
#define S_STR_READ_MAX 4096

static bool
s_has_control (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

bool
capsule_task_name_valid (const char *name)
{
    assert (name);
    size_t len = strnlen (name, CAPSULE_TASK_NAME_MAX + 1);
    if (len == 0 || len > CAPSULE_TASK_NAME_MAX)
        return false;
    if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        return false;
    return !strchr (name, '/') && !s_has_control (name, len);
}

bool
capsule_task_entry_valid (const char *entry)
{
    assert (entry);
    size_t len = strnlen (entry, CAPSULE_TASK_ENTRY_MAX + 1);
    if (len < 2 || len > CAPSULE_TASK_ENTRY_MAX || entry[0] != '/' || entry[len - 1] == '/')
        return false;
    if (s_has_control (entry, len))
        return false;
    /* Every component between slashes: non-empty, not "." or "..". */
    const char *p = entry + 1;
    while (*p) {
        const char *slash = strchr (p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen (p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

int
capsule_task_limits_check (const capsule_task_limits_t *l, char *why, size_t why_len)
{
    assert (l);
    const struct {
        const char *name;
        uint64_t value, min, max;
    } limits[] = {
        { "cpu_ms", l->cpu_ms, 1, CAPSULE_TASK_CPU_MS_MAX },
        { "mem_bytes", l->mem_bytes, CAPSULE_TASK_MEM_BYTES_MIN, CAPSULE_TASK_MEM_BYTES_MAX },
        { "output_bytes", l->output_bytes, 1, CAPSULE_TASK_OUTPUT_BYTES_MAX },
        { "pids", l->pids, 1, CAPSULE_TASK_PIDS_MAX },
        { "wall_ms", l->wall_ms, 1, CAPSULE_TASK_WALL_MS_MAX },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        if (limits[i].value < limits[i].min) {
            wd_err_why (why, why_len, "limit %s is %llu, below %llu", limits[i].name,
                        (unsigned long long)limits[i].value, (unsigned long long)limits[i].min);
            return CAPSULE_ERR_TASK_LIMIT_ZERO;
        }
        if (limits[i].value > limits[i].max) {
            wd_err_why (why, why_len, "limit %s is %llu, above %llu", limits[i].name,
                        (unsigned long long)limits[i].value, (unsigned long long)limits[i].max);
            return CAPSULE_ERR_TASK_LIMIT_HIGH;
        }
    }
    return WD_OK;
}

int
capsule_task_check (const capsule_task_t *t, char *why, size_t why_len)
{
    assert (t);
    if (why && why_len)
        why[0] = '\0';
    if (!capsule_task_entry_valid (t->entry)) {
        wd_err_why (why, why_len, "entry is not a clean absolute path");
        return CAPSULE_ERR_TASK_ENTRY;
    }
    if (t->input_count > CAPSULE_TASK_INPUTS_MAX ||
        t->recipient_count > CAPSULE_TASK_RECIPIENTS_MAX) {
        wd_err_why (why, why_len, "%zu inputs, %zu recipients (at most %d each)", t->input_count,
                    t->recipient_count, CAPSULE_TASK_INPUTS_MAX);
        return CAPSULE_ERR_TASK_TOO_MANY;
    }
    for (size_t i = 0; i < t->input_count; i++) {
        if (!capsule_task_name_valid (t->inputs[i].name)) {
            wd_err_why (why, why_len, "input %zu: name is not a plain file name", i);
            return CAPSULE_ERR_TASK_INPUT_NAME;
        }
    }
    for (size_t i = 0; i < t->input_count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp (t->inputs[i].name, t->inputs[j].name) == 0) {
                wd_err_why (why, why_len, "inputs %zu and %zu are both named \"%s\"", j, i,
                            t->inputs[i].name);
                return CAPSULE_ERR_TASK_INPUT_DUPLICATE;
            }
    int err = capsule_task_limits_check (&t->limits, why, why_len);
    if (err != WD_OK)
        return err;
    if (t->recipient_count == 0) {
        wd_err_why (why, why_len, "no recipient for the outputs");
        return CAPSULE_ERR_TASK_NO_RECIPIENT;
    }
    for (size_t i = 0; i < t->recipient_count; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp (t->recipients[i], t->recipients[j], WD_PUBKEY_LEN) == 0) {
                wd_err_why (why, why_len, "recipients %zu and %zu are the same key", j, i);
                return CAPSULE_ERR_TASK_RECIPIENT_DUPLICATE;
            }
    return WD_OK;
}

/* ---- encoding ---------------------------------------------------------------- */

int
capsule_task_encode (const capsule_task_t *t, uint8_t **out, size_t *out_len)
{
    assert (t && out && out_len);
    *out = NULL;
    *out_len = 0;
    int err = capsule_task_check (t, NULL, 0);
    if (err != WD_OK)
        return err;

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9);
    wd_writer_key (w, "code");
    wd_writer_bin (w, t->code, WD_DIGEST_LEN);
    wd_writer_key (w, "entry");
    wd_writer_cstr (w, t->entry);
    wd_writer_key (w, "env");
    wd_writer_bin (w, t->env, WD_DIGEST_LEN);
    wd_writer_key (w, "inputs");
    wd_writer_array (w, t->input_count);
    for (size_t i = 0; i < t->input_count; i++) {
        wd_writer_map (w, 3);
        wd_writer_key (w, "holder");
        wd_writer_bin (w, t->inputs[i].holder, WD_DIGEST_LEN);
        wd_writer_key (w, "id");
        wd_writer_bin (w, t->inputs[i].id, WD_DIGEST_LEN);
        wd_writer_key (w, "name");
        wd_writer_cstr (w, t->inputs[i].name);
    }
    wd_writer_key (w, "limits");
    wd_writer_map (w, 5);
    wd_writer_key (w, "cpu_ms");
    wd_writer_uint (w, t->limits.cpu_ms);
    wd_writer_key (w, "mem_bytes");
    wd_writer_uint (w, t->limits.mem_bytes);
    wd_writer_key (w, "output_bytes");
    wd_writer_uint (w, t->limits.output_bytes);
    wd_writer_key (w, "pids");
    wd_writer_uint (w, t->limits.pids);
    wd_writer_key (w, "wall_ms");
    wd_writer_uint (w, t->limits.wall_ms);
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, t->nonce, CAPSULE_TASK_NONCE_LEN);
    wd_writer_key (w, "recipients");
    wd_writer_array (w, t->recipient_count);
    for (size_t i = 0; i < t->recipient_count; i++)
        wd_writer_bin (w, t->recipients[i], WD_PUBKEY_LEN);
    wd_writer_key (w, "submitted");
    wd_writer_uint (w, t->submitted);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CAPSULE_TASK_VERSION);
    size_t len;
    uint8_t *body = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    /* Names and the entry are the caller's bytes: they must be UTF-8. */
    err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK) {
        free (body);
        return err;
    }
    *out = body;
    *out_len = len;
    return WD_OK;
}

/* Reads a string of at most S_STR_READ_MAX bytes into buf (size bytes):
   one that does not fit or holds a NUL leaves buf empty, which every rule
   that reads buf then rejects with its own reason. */
static void
s_read_text (wd_reader_t *r, char *buf, size_t size)
{
    const char *s = NULL;
    size_t len = 0;
    buf[0] = '\0';
    if (!wd_read_str (r, &s, &len, S_STR_READ_MAX))
        return;
    if (len >= size || memchr (s, '\0', len)) {
        /* Keep it invalid for the rule check: a lone '/' breaks both the
           name and the entry rules. */
        snprintf (buf, size, "/");
        return;
    }
    memcpy (buf, s, len);
    buf[len] = '\0';
}

int
capsule_task_decode (const uint8_t *body, size_t len, capsule_task_t *t)
{
    assert (body || len == 0);
    assert (t);
    memset (t, 0, sizeof *t);
    int err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        goto out;

    wd_reader_t r;
    size_t count, n;
    uint64_t version = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "code");
    wd_read_bin_fixed (&r, t->code, WD_DIGEST_LEN);
    wd_read_key (&r, "entry");
    s_read_text (&r, t->entry, sizeof t->entry);
    wd_read_key (&r, "env");
    wd_read_bin_fixed (&r, t->env, WD_DIGEST_LEN);
    wd_read_key (&r, "inputs");
    n = 0;
    if (wd_read_array (&r, &n) && n > CAPSULE_TASK_INPUTS_MAX) {
        err = CAPSULE_ERR_TASK_TOO_MANY; /* the count alone decides */
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        capsule_task_input_t *in = &t->inputs[t->input_count++];
        wd_read_map (&r, &count);
        wd_read_key (&r, "holder");
        wd_read_bin_fixed (&r, in->holder, WD_DIGEST_LEN);
        wd_read_key (&r, "id");
        wd_read_bin_fixed (&r, in->id, WD_DIGEST_LEN);
        wd_read_key (&r, "name");
        s_read_text (&r, in->name, sizeof in->name);
        wd_read_end (&r);
    }
    wd_read_end (&r);
    wd_read_key (&r, "limits");
    wd_read_map (&r, &count);
    wd_read_key (&r, "cpu_ms");
    wd_read_uint (&r, &t->limits.cpu_ms, UINT64_MAX);
    wd_read_key (&r, "mem_bytes");
    wd_read_uint (&r, &t->limits.mem_bytes, UINT64_MAX);
    wd_read_key (&r, "output_bytes");
    wd_read_uint (&r, &t->limits.output_bytes, UINT64_MAX);
    wd_read_key (&r, "pids");
    wd_read_uint (&r, &t->limits.pids, UINT64_MAX);
    wd_read_key (&r, "wall_ms");
    wd_read_uint (&r, &t->limits.wall_ms, UINT64_MAX);
    wd_read_end (&r);
    wd_read_key (&r, "nonce");
    wd_read_bin_fixed (&r, t->nonce, CAPSULE_TASK_NONCE_LEN);
    wd_read_key (&r, "recipients");
    n = 0;
    if (wd_read_array (&r, &n) && n > CAPSULE_TASK_RECIPIENTS_MAX) {
        err = CAPSULE_ERR_TASK_TOO_MANY;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        wd_read_bin_fixed (&r, t->recipients[t->recipient_count++], WD_PUBKEY_LEN);
    wd_read_end (&r);
    wd_read_key (&r, "submitted");
    wd_read_uint (&r, &t->submitted, UINT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        goto out;
    if (version != CAPSULE_TASK_VERSION) {
        err = WD_ERR_BAD_VERSION;
        goto out;
    }
    err = capsule_task_check (t, NULL, 0);
    if (err != WD_OK)
        goto out;
    return WD_OK;
out:
    memset (t, 0, sizeof *t);
    return err;
}

/* ---- envelopes --------------------------------------------------------------- */

int
capsule_sign_secret_key (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    assert (ctx && digest && sig);
    crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, ctx);
    return WD_OK;
}

int
capsule_task_seal (const capsule_task_t *t, const uint8_t chain[WD_CHAIN_ID_LEN],
                   const uint8_t submitter_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                   uint8_t **out, size_t *out_len, uint8_t id[WD_DIGEST_LEN])
{
    assert (t && chain && submitter_pk && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = capsule_task_encode (t, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (CAPSULE_TASK_TYPE, chain, submitter_pk, body, body_len, sign, sign_ctx,
                            out, out_len);
    free (body);
    if (err == WD_OK && id)
        wd_envelope_id (id, *out, *out_len);
    return err;
}

int
capsule_task_seal_secret (const capsule_task_t *t, const uint8_t chain[WD_CHAIN_ID_LEN],
                          const uint8_t sk[64], uint8_t **out, size_t *out_len,
                          uint8_t id[WD_DIGEST_LEN])
{
    assert (sk);
    uint8_t pk[WD_PUBKEY_LEN];
    crypto_sign_ed25519_sk_to_pk (pk, sk);
    return capsule_task_seal (t, chain, pk, capsule_sign_secret_key, (void *)sk, out, out_len, id);
}

int
capsule_task_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                   capsule_task_t *t, uint8_t submitter[WD_PUBKEY_LEN], uint8_t id[WD_DIGEST_LEN])
{
    assert ((buf || len == 0) && chain && t);
    memset (t, 0, sizeof *t);
    wd_envelope_t env;
    int err = wd_envelope_open (buf, len, chain, CAPSULE_TASK_TYPE, &env);
    if (err != WD_OK)
        return err;
    err = capsule_task_decode (env.body, env.body_len, t);
    if (err != WD_OK)
        return err;
    if (submitter)
        memcpy (submitter, env.from, WD_PUBKEY_LEN);
    if (id)
        wd_envelope_id (id, buf, len);
    return WD_OK;
}
