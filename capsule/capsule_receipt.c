/*
 * capsule_receipt: encodes, checks, seals and strictly opens the
 * executor's signed receipt of a task run, and checks a receipt against its
 * task (see capsule_receipt.h and docs/PROTOCOL.md "Capsule tasks, key
 * release and receipts").
 */
#include "capsule_receipt.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"
#include "wd_hash.h"

static const char *const s_kill_names[CAPSULE_RECEIPT_KILL_COUNT_] = {
    [CAPSULE_RECEIPT_KILL_WALL] = "wall",     [CAPSULE_RECEIPT_KILL_CPU] = "cpu",
    [CAPSULE_RECEIPT_KILL_MEMORY] = "memory", [CAPSULE_RECEIPT_KILL_PIDS] = "pids",
    [CAPSULE_RECEIPT_KILL_OUTPUT] = "output",
};

const char *
capsule_receipt_kill_name (capsule_receipt_kill_t kill)
{
    return (size_t)kill < CAPSULE_RECEIPT_KILL_COUNT_ ? s_kill_names[kill] : NULL;
}

capsule_receipt_kill_t
capsule_receipt_kill_parse (const char *name, size_t len)
{
    assert (name || len == 0);
    for (size_t k = 1; k < CAPSULE_RECEIPT_KILL_COUNT_; k++)
        if (strlen (s_kill_names[k]) == len && memcmp (s_kill_names[k], name, len) == 0)
            return (capsule_receipt_kill_t)k;
    return CAPSULE_RECEIPT_KILL_NONE;
}

/* A degraded flag: 1..DEGRADED_LEN bytes of [a-z0-9-]. */
static bool
s_flag_valid (const char *s, size_t len)
{
    if (len == 0 || len > CAPSULE_RECEIPT_DEGRADED_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

int
capsule_receipt_check (const capsule_receipt_t *rc, char *why, size_t why_len)
{
    assert (rc);
    if (why && why_len)
        why[0] = '\0';
    if (rc->input_count > CAPSULE_RECEIPT_INPUTS_MAX ||
        rc->output_count > CAPSULE_RECEIPT_OUTPUTS_MAX ||
        rc->degraded_count > CAPSULE_RECEIPT_DEGRADED_MAX) {
        wd_err_why (why, why_len, "%zu inputs, %zu outputs, %zu degraded flags", rc->input_count,
                    rc->output_count, rc->degraded_count);
        return CAPSULE_ERR_RECEIPT_TOO_MANY;
    }
    const capsule_receipt_exit_t *x = &rc->exit;
    if ((x->has_code && x->has_signal) ||
        (!x->has_code && !x->has_signal && x->killed == CAPSULE_RECEIPT_KILL_NONE) ||
        (x->has_code && (x->code < 0 || x->code > 255)) ||
        (x->has_signal && (x->signal < 1 || x->signal > CAPSULE_RECEIPT_SIGNAL_MAX))) {
        wd_err_why (why, why_len, "exit status: code %s, signal %s", x->has_code ? "set" : "nil",
                    x->has_signal ? "set" : "nil");
        return CAPSULE_ERR_RECEIPT_EXIT;
    }
    if ((size_t)x->killed >= CAPSULE_RECEIPT_KILL_COUNT_) {
        wd_err_why (why, why_len, "kill reason %d is not a limit", (int)x->killed);
        return CAPSULE_ERR_RECEIPT_KILLED;
    }
    for (size_t i = 0; i < rc->degraded_count; i++) {
        size_t len = strnlen (rc->degraded[i], sizeof rc->degraded[i]);
        if (!s_flag_valid (rc->degraded[i], len)) {
            wd_err_why (why, why_len, "degraded flag %zu is not [a-z0-9-]{1,%d}", i,
                        CAPSULE_RECEIPT_DEGRADED_LEN);
            return CAPSULE_ERR_RECEIPT_DEGRADED;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (rc->degraded[i], rc->degraded[j]) == 0) {
                wd_err_why (why, why_len, "degraded flag \"%s\" is listed twice", rc->degraded[i]);
                return CAPSULE_ERR_RECEIPT_DEGRADED;
            }
    }
    if (rc->ended < rc->started) {
        wd_err_why (why, why_len, "ended %llu is before started %llu",
                    (unsigned long long)rc->ended, (unsigned long long)rc->started);
        return CAPSULE_ERR_RECEIPT_TIME;
    }
    return WD_OK;
}

int
capsule_receipt_check_task (const capsule_receipt_t *rc, const capsule_task_t *task,
                            const uint8_t task_id[WD_DIGEST_LEN], char *why, size_t why_len)
{
    assert (rc && task && task_id);
    int err = capsule_receipt_check (rc, why, why_len);
    if (err != WD_OK)
        return err;
    if (memcmp (rc->task, task_id, WD_DIGEST_LEN) != 0) {
        wd_err_why (why, why_len, "receipt names task %s", wd_short_id (rc->task).s);
        return CAPSULE_ERR_RECEIPT_TASK;
    }
    if (memcmp (rc->code, task->code, WD_DIGEST_LEN) != 0) {
        wd_err_why (why, why_len, "receipt ran code %s", wd_short_id (rc->code).s);
        return CAPSULE_ERR_RECEIPT_CODE;
    }
    if (memcmp (rc->env, task->env, WD_DIGEST_LEN) != 0) {
        wd_err_why (why, why_len, "receipt ran environment %s", wd_short_id (rc->env).s);
        return CAPSULE_ERR_RECEIPT_ENV;
    }
    if (rc->input_count != task->input_count) {
        wd_err_why (why, why_len, "receipt lists %zu inputs, the task %zu", rc->input_count,
                    task->input_count);
        return CAPSULE_ERR_RECEIPT_INPUTS;
    }
    for (size_t i = 0; i < rc->input_count; i++)
        if (memcmp (rc->inputs[i], task->inputs[i].id, WD_DIGEST_LEN) != 0) {
            wd_err_why (why, why_len, "input %zu is %s, the task's %s", i,
                        wd_short_id (rc->inputs[i]).s, wd_short_id (task->inputs[i].id).s);
            return CAPSULE_ERR_RECEIPT_INPUTS;
        }
    return WD_OK;
}

/* ---- encoding ---------------------------------------------------------------- */

int
capsule_receipt_encode (const capsule_receipt_t *rc, uint8_t **out, size_t *out_len)
{
    assert (rc && out && out_len);
    *out = NULL;
    *out_len = 0;
    int err = capsule_receipt_check (rc, NULL, 0);
    if (err != WD_OK)
        return err;

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 13);
    wd_writer_key (w, "code");
    wd_writer_bin (w, rc->code, WD_DIGEST_LEN);
    wd_writer_key (w, "degraded");
    wd_writer_array (w, rc->degraded_count);
    for (size_t i = 0; i < rc->degraded_count; i++)
        wd_writer_cstr (w, rc->degraded[i]);
    wd_writer_key (w, "ended");
    wd_writer_uint (w, rc->ended);
    wd_writer_key (w, "env");
    wd_writer_bin (w, rc->env, WD_DIGEST_LEN);
    wd_writer_key (w, "executor_evidence");
    wd_writer_bin (w, rc->executor_evidence, WD_DIGEST_LEN);
    wd_writer_key (w, "exit");
    wd_writer_map (w, 3);
    wd_writer_key (w, "code");
    if (rc->exit.has_code)
        wd_writer_int (w, rc->exit.code);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "killed");
    if (rc->exit.killed != CAPSULE_RECEIPT_KILL_NONE)
        wd_writer_cstr (w, s_kill_names[rc->exit.killed]);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "signal");
    if (rc->exit.has_signal)
        wd_writer_int (w, rc->exit.signal);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "inputs");
    wd_writer_array (w, rc->input_count);
    for (size_t i = 0; i < rc->input_count; i++)
        wd_writer_bin (w, rc->inputs[i], WD_DIGEST_LEN);
    wd_writer_key (w, "outputs");
    wd_writer_array (w, rc->output_count);
    for (size_t i = 0; i < rc->output_count; i++)
        wd_writer_bin (w, rc->outputs[i], WD_DIGEST_LEN);
    wd_writer_key (w, "proof");
    wd_writer_bin (w, rc->proof, CAPSULE_RECEIPT_PROOF_LEN);
    wd_writer_key (w, "started");
    wd_writer_uint (w, rc->started);
    wd_writer_key (w, "task");
    wd_writer_bin (w, rc->task, WD_DIGEST_LEN);
    wd_writer_key (w, "usage");
    wd_writer_map (w, 4);
    wd_writer_key (w, "cpu_sys_us");
    wd_writer_uint (w, rc->usage.cpu_sys_us);
    wd_writer_key (w, "cpu_user_us");
    wd_writer_uint (w, rc->usage.cpu_user_us);
    wd_writer_key (w, "peak_mem_bytes");
    wd_writer_uint (w, rc->usage.peak_mem_bytes);
    wd_writer_key (w, "wall_us");
    wd_writer_uint (w, rc->usage.wall_us);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CAPSULE_RECEIPT_VERSION);
    *out = wd_writer_take (w, out_len);
    wd_writer_destroy (&w);
    return WD_OK;
}

/* True when the next value is nil (consumed); false with the reader still
   before the value otherwise. */
static bool
s_peek_nil (wd_reader_t *r, const uint8_t **raw, size_t *raw_len)
{
    if (!wd_read_raw (r, raw, raw_len))
        return false;
    return *raw_len == 1 && (*raw)[0] == 0xc0;
}

/* An int in [min, max] or nil, from raw value bytes (already taken off the
   main reader). Returns WD_OK, or CAPSULE_ERR_RECEIPT_EXIT for another
   type or a value out of range. */
static int
s_int_or_nil (const uint8_t *raw, size_t raw_len, bool is_nil, int64_t min, int64_t max, bool *has,
              int32_t *value)
{
    *has = false;
    *value = 0;
    if (is_nil)
        return WD_OK;
    wd_reader_t sub;
    int64_t v;
    wd_reader_init (&sub, raw, raw_len);
    wd_read_int (&sub, &v, min, max);
    if (wd_reader_finish (&sub) != WD_OK)
        return CAPSULE_ERR_RECEIPT_EXIT;
    *has = true;
    *value = (int32_t)v;
    return WD_OK;
}

/* Reads an array's count; false (and *too_many) when above max, so the
   caller stops before reading the values. */
static bool
s_read_count (wd_reader_t *r, size_t *n, size_t max, bool *too_many)
{
    *n = 0;
    if (!wd_read_array (r, n))
        return false;
    if (*n > max) {
        *too_many = true;
        return false;
    }
    return true;
}

int
capsule_receipt_decode (const uint8_t *body, size_t len, capsule_receipt_t *rc)
{
    assert ((body || len == 0) && rc);
    memset (rc, 0, sizeof *rc);
    int err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        goto out;

    wd_reader_t r;
    size_t count, n;
    uint64_t version = 0;
    bool too_many = false;
    int field_err = WD_OK; /* exit and degraded problems, reported after the codec's */
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "code");
    wd_read_bin_fixed (&r, rc->code, WD_DIGEST_LEN);
    wd_read_key (&r, "degraded");
    if (!s_read_count (&r, &n, CAPSULE_RECEIPT_DEGRADED_MAX, &too_many))
        goto counted;
    for (size_t i = 0; i < n; i++) {
        const char *s = NULL;
        size_t slen = 0;
        if (wd_read_str (&r, &s, &slen, 4096) && !s_flag_valid (s, slen) && field_err == WD_OK)
            field_err = CAPSULE_ERR_RECEIPT_DEGRADED;
        if (s && s_flag_valid (s, slen))
            memcpy (rc->degraded[i], s, slen);
        rc->degraded_count++;
    }
    wd_read_end (&r);
    wd_read_key (&r, "ended");
    wd_read_uint (&r, &rc->ended, UINT64_MAX);
    wd_read_key (&r, "env");
    wd_read_bin_fixed (&r, rc->env, WD_DIGEST_LEN);
    wd_read_key (&r, "executor_evidence");
    wd_read_bin_fixed (&r, rc->executor_evidence, WD_DIGEST_LEN);
    wd_read_key (&r, "exit");
    wd_read_map (&r, &count);
    {
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        wd_read_key (&r, "code");
        bool nil = s_peek_nil (&r, &raw, &raw_len);
        if (raw) {
            int e = s_int_or_nil (raw, raw_len, nil, 0, 255, &rc->exit.has_code, &rc->exit.code);
            if (e != WD_OK && field_err == WD_OK)
                field_err = e;
        }
        raw = NULL;
        wd_read_key (&r, "killed");
        nil = s_peek_nil (&r, &raw, &raw_len);
        if (raw && !nil) {
            wd_reader_t sub;
            const char *s = NULL;
            size_t slen = 0;
            wd_reader_init (&sub, raw, raw_len);
            wd_read_str (&sub, &s, &slen, 4096);
            if (wd_reader_finish (&sub) != WD_OK) {
                if (field_err == WD_OK)
                    field_err = CAPSULE_ERR_RECEIPT_KILLED;
            } else {
                rc->exit.killed = capsule_receipt_kill_parse (s, slen);
                if (rc->exit.killed == CAPSULE_RECEIPT_KILL_NONE && field_err == WD_OK)
                    field_err = CAPSULE_ERR_RECEIPT_KILLED;
            }
        }
        raw = NULL;
        wd_read_key (&r, "signal");
        nil = s_peek_nil (&r, &raw, &raw_len);
        if (raw) {
            int e = s_int_or_nil (raw, raw_len, nil, 1, CAPSULE_RECEIPT_SIGNAL_MAX,
                                  &rc->exit.has_signal, &rc->exit.signal);
            if (e != WD_OK && field_err == WD_OK)
                field_err = e;
        }
    }
    wd_read_end (&r);
    wd_read_key (&r, "inputs");
    if (!s_read_count (&r, &n, CAPSULE_RECEIPT_INPUTS_MAX, &too_many))
        goto counted;
    for (size_t i = 0; i < n; i++)
        wd_read_bin_fixed (&r, rc->inputs[rc->input_count++], WD_DIGEST_LEN);
    wd_read_end (&r);
    wd_read_key (&r, "outputs");
    if (!s_read_count (&r, &n, CAPSULE_RECEIPT_OUTPUTS_MAX, &too_many))
        goto counted;
    for (size_t i = 0; i < n; i++)
        wd_read_bin_fixed (&r, rc->outputs[rc->output_count++], WD_DIGEST_LEN);
    wd_read_end (&r);
    wd_read_key (&r, "proof");
    wd_read_bin_fixed (&r, rc->proof, CAPSULE_RECEIPT_PROOF_LEN);
    wd_read_key (&r, "started");
    wd_read_uint (&r, &rc->started, UINT64_MAX);
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, rc->task, WD_DIGEST_LEN);
    wd_read_key (&r, "usage");
    wd_read_map (&r, &count);
    wd_read_key (&r, "cpu_sys_us");
    wd_read_uint (&r, &rc->usage.cpu_sys_us, UINT64_MAX);
    wd_read_key (&r, "cpu_user_us");
    wd_read_uint (&r, &rc->usage.cpu_user_us, UINT64_MAX);
    wd_read_key (&r, "peak_mem_bytes");
    wd_read_uint (&r, &rc->usage.peak_mem_bytes, UINT64_MAX);
    wd_read_key (&r, "wall_us");
    wd_read_uint (&r, &rc->usage.wall_us, UINT64_MAX);
    wd_read_end (&r);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);

counted:
    if (too_many) {
        /* The count alone decides; the reader is left mid-way. */
        err = CAPSULE_ERR_RECEIPT_TOO_MANY;
        goto out;
    }
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        goto out;
    if (version != CAPSULE_RECEIPT_VERSION) {
        err = WD_ERR_BAD_VERSION;
        goto out;
    }
    if (field_err != WD_OK) {
        err = field_err;
        goto out;
    }
    err = capsule_receipt_check (rc, NULL, 0);
    if (err != WD_OK)
        goto out;
    return WD_OK;
out:
    memset (rc, 0, sizeof *rc);
    return err;
}

/* ---- envelopes --------------------------------------------------------------- */

int
capsule_receipt_seal (const capsule_receipt_t *rc, const uint8_t chain[WD_CHAIN_ID_LEN],
                      const uint8_t executor_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                      uint8_t **out, size_t *out_len, uint8_t id[WD_DIGEST_LEN])
{
    assert (rc && chain && executor_pk && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = capsule_receipt_encode (rc, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (CAPSULE_RECEIPT_TYPE, chain, executor_pk, body, body_len, sign,
                            sign_ctx, out, out_len);
    free (body);
    if (err == WD_OK && id)
        wd_envelope_id (id, *out, *out_len);
    return err;
}

int
capsule_receipt_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                      capsule_receipt_t *rc, uint8_t executor[WD_PUBKEY_LEN])
{
    assert ((buf || len == 0) && chain && rc);
    memset (rc, 0, sizeof *rc);
    wd_envelope_t env;
    int err = wd_envelope_open (buf, len, chain, CAPSULE_RECEIPT_TYPE, &env);
    if (err != WD_OK)
        return err;
    err = capsule_receipt_decode (env.body, env.body_len, rc);
    if (err == WD_OK && executor)
        memcpy (executor, env.from, WD_PUBKEY_LEN);
    return err;
}
