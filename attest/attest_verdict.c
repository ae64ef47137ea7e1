/*
 * attest_verdict: appraises accepted evidence into a trust vector and a
 * tier, and encodes, seals and opens the signed verdict (see
 * attest_verdict.h and docs/PROTOCOL.md "Evidence and verdicts").
 *
 * The log delta is replayed and appraised in one pass by attest_appraise
 * continuing from the verifier's saved state; the registers it ends with are
 * then compared with the evidence's claim, so a verifier that calls
 * attest_verdict_open_appraise hashes each entry once.
 */
#include "attest_verdict.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_appraise.h"
#include "wd_cert.h"
#include "wd_codec.h"
#include "wd_hash.h"

static const char *const s_trust_names[] = { "none", "affirming", "warning", "contraindicated" };
static const char *const s_claim_names[] = { "boot", "configuration", "executables", "freshness",
                                             "key_protection" };

#define S_COUNT(a) (sizeof (a) / sizeof (a)[0])

const char *
attest_trust_name (attest_trust_t trust)
{
    return (size_t)trust < S_COUNT (s_trust_names) ? s_trust_names[trust] : "?";
}

const char *
attest_claim_name (attest_claim_t claim)
{
    return (size_t)claim < S_COUNT (s_claim_names) ? s_claim_names[claim] : "?";
}

attest_trust_t
attest_verdict_tier (const attest_trust_t claims[ATTEST_CLAIM_COUNT])
{
    bool warning = false;
    for (size_t i = 0; i < ATTEST_CLAIM_COUNT; i++) {
        if (claims[i] == ATTEST_TRUST_CONTRAINDICATED)
            return ATTEST_TRUST_CONTRAINDICATED;
        warning |= claims[i] == ATTEST_TRUST_WARNING;
    }
    if (warning || claims[ATTEST_CLAIM_EXECUTABLES] != ATTEST_TRUST_AFFIRMING ||
        claims[ATTEST_CLAIM_FRESHNESS] != ATTEST_TRUST_AFFIRMING)
        return ATTEST_TRUST_WARNING;
    return ATTEST_TRUST_AFFIRMING;
}

/* ---- classification ------------------------------------------------------------ */

static bool
s_starts (const char *s, const char *prefix)
{
    return strncmp (s, prefix, strlen (prefix)) == 0;
}

static bool
s_ends (const char *s, const char *suffix)
{
    size_t len = strlen (s), n = strlen (suffix);
    return len >= n && memcmp (s + len - n, suffix, n) == 0;
}

/* The claim a failing log entry counts against. */
static attest_claim_t
s_entry_claim (const char *path)
{
    if (strcmp (path, ATTEST_APPRAISE_BOOT_AGGREGATE) == 0 || s_starts (path, "boot:"))
        return ATTEST_CLAIM_BOOT;
    if (s_starts (path, "/etc/") || s_starts (path, "warden:config") || s_ends (path, ".conf"))
        return ATTEST_CLAIM_CONFIGURATION;
    return ATTEST_CLAIM_EXECUTABLES;
}

/* The claim a failed or missed challenge item counts against. */
static attest_claim_t
s_item_claim (const char *item)
{
    if (strcmp (item, "cmdline") == 0 || s_starts (item, "cmdline:") ||
        strcmp (item, "disk") == 0 || s_starts (item, "disk:"))
        return ATTEST_CLAIM_BOOT;
    if (s_starts (item, "file:/etc/"))
        return ATTEST_CLAIM_CONFIGURATION;
    return ATTEST_CLAIM_EXECUTABLES;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
s_utf8_seq (const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Copies src into dst (cap bytes with the NUL) as valid UTF-8: a byte that
   starts no valid sequence becomes '?', and the copy stops before a
   sequence that does not fit. IMA event names are bytes, a verdict's paths
   are strings. */
static void
s_copy_utf8 (char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen (src), i = 0, o = 0;
    while (i < n) {
        size_t len = s_utf8_seq (s + i, n - i);
        size_t out = len ? len : 1;
        if (o + out >= cap)
            break;
        if (len)
            memcpy (dst + o, s + i, len);
        else
            dst[o] = '?';
        o += out;
        i += len ? len : 1;
    }
    dst[o] = '\0';
}

static void
s_add_failure (attest_verdict_body_t *out, uint64_t index, const char *path, const char *reason)
{
    out->failure_count++;
    if (out->first_count >= ATTEST_VERDICT_FIRST_MAX)
        return;
    attest_verdict_failure_t *f = &out->first[out->first_count++];
    f->index = index;
    s_copy_utf8 (f->path, sizeof f->path, path);
    if (f->path[0] == '\0')
        snprintf (f->path, sizeof f->path, "?");
    snprintf (f->reason, sizeof f->reason, "%s", reason);
}

/* ---- appraisal -------------------------------------------------------------- */

static const attest_policy_t *
s_find_policy (const attest_policy_t *const *policies, size_t count, const uint8_t id[32])
{
    for (size_t i = 0; i < count; i++)
        if (policies[i] && memcmp (attest_policy_id (policies[i]), id, ATTEST_POLICY_ID_LEN) == 0)
            return policies[i];
    return NULL;
}

int
attest_verdict_appraise (const attest_evidence_t *ev,
                         const uint8_t evidence_id[ATTEST_EVIDENCE_ID_LEN],
                         const attest_ima_state_t *saved, const attest_policy_t *const *policies,
                         size_t policy_count, const uint8_t policy_id[ATTEST_POLICY_ID_LEN],
                         uint64_t now, attest_verdict_body_t *out, attest_ima_state_t *after,
                         char *why, size_t why_len)
{
    assert (ev && evidence_id && (policies || policy_count == 0) && policy_id && out);
    memset (out, 0, sizeof *out);
    if (why && why_len)
        why[0] = '\0';
    const attest_policy_t *policy = s_find_policy (policies, policy_count, policy_id);
    if (!policy) {
        wd_err_why (why, why_len, "policy %s is not loaded", wd_short_id (policy_id).s);
        return ATTEST_ERR_VERDICT_UNKNOWN_POLICY;
    }

    bool failed[ATTEST_CLAIM_COUNT] = { false };
    bool exec_warning = false;
    attest_ima_state_t state;
    attest_evidence_start_state (ev, saved, &state);
    if (ev->has_log) {
        if (state.format != ATTEST_IMA_BINARY || state.pcr != ev->log.pcr ||
            state.entries != ev->log.start || state.offset != ev->log.offset) {
            wd_err_why (why, why_len, "delta starts at entry %llu, saved state at %llu",
                        (unsigned long long)ev->log.start, (unsigned long long)state.entries);
            return ATTEST_ERR_EVIDENCE_DELTA_GAP;
        }
        attest_appraise_t *a = attest_appraise_continue (policy, &state);
        if (!a)
            return WD_ERR_NOMEM;
        int rc = attest_appraise_buffer (a, ev->log.records, ev->log.records_len, why, why_len);
        if (rc == WD_OK)
            rc = attest_evidence_check_registers (ev, attest_appraise_state (a));
        if (rc != WD_OK) {
            attest_appraise_destroy (&a);
            memset (out, 0, sizeof *out);
            return rc;
        }
        state = *attest_appraise_state (a);
        const attest_policy_report_t *report = attest_appraise_report (a);
        for (size_t i = 0; i < attest_policy_report_failure_count (report); i++) {
            const attest_policy_failure_t *f = attest_policy_report_failure (report, i);
            failed[s_entry_claim (f->path)] = true;
            s_add_failure (out, f->index, f->path, attest_verdict_name (f->verdict));
        }
        /* Failures the report counted but did not keep: their class is
           unknown, so they count against executables. */
        uint64_t dropped = attest_policy_report_dropped (report);
        if (dropped) {
            failed[ATTEST_CLAIM_EXECUTABLES] = true;
            out->failure_count += dropped;
        }
        if (attest_appraise_counts (a)->violations > 0 || !attest_appraise_alg_matches (a))
            exec_warning = true;
        attest_appraise_destroy (&a);
    }

    out->claims[ATTEST_CLAIM_FRESHNESS] = ATTEST_TRUST_AFFIRMING;
    if (ev->has_challenge) {
        const attest_evidence_challenge_t *c = &ev->challenge;
        for (size_t i = 0; i < c->item_count; i++) {
            const attest_evidence_item_t *it = &c->items[i];
            if (it->result == ATTEST_OUTCOME_PASS)
                continue;
            failed[s_item_claim (it->item)] = true;
            s_add_failure (out, i, it->item,
                           it->result == ATTEST_OUTCOME_FAIL ? "challenge-fail"
                                                             : "challenge-missed");
        }
        if (c->outcome == ATTEST_OUTCOME_MISSED)
            out->claims[ATTEST_CLAIM_FRESHNESS] = ATTEST_TRUST_CONTRAINDICATED;
    }

    /* A TPM quote anchors the log: its log PCR must be the register the
       log replays to (attest_evidence_open leaves this comparison to the
       verdict when asked: attest_quote_expect_t.defer_pcr_log). */
    if (ev->has_quote && ev->has_log) {
        const uint8_t *pcr = attest_quote_pcr (&ev->quote, ev->log.pcr);
        if (pcr && sodium_memcmp (pcr, ev->log.sha256, ATTEST_QUOTE_PCR_LEN) != 0) {
            char name[16];
            snprintf (name, sizeof name, "tpm:pcr%u", (unsigned)ev->log.pcr);
            failed[ATTEST_CLAIM_BOOT] = true;
            s_add_failure (out, ev->log.pcr, name, "quote-pcr-log");
        }
    }
    static const attest_claim_t measured[] = { ATTEST_CLAIM_BOOT, ATTEST_CLAIM_CONFIGURATION,
                                               ATTEST_CLAIM_EXECUTABLES };
    for (size_t i = 0; i < S_COUNT (measured); i++) {
        attest_claim_t c = measured[i];
        if (failed[c])
            out->claims[c] = ATTEST_TRUST_CONTRAINDICATED;
        else if (c == ATTEST_CLAIM_EXECUTABLES && exec_warning)
            out->claims[c] = ATTEST_TRUST_WARNING;
        else if (c == ATTEST_CLAIM_BOOT)
            /* Boot rests on hardware: a verified TPM quote, or a host
               challenge's boot items. Without either there is no boot
               claim (lower assurance: "no TPM"). */
            out->claims[c] =
                ev->has_quote || ev->has_challenge ? ATTEST_TRUST_AFFIRMING : ATTEST_TRUST_NONE;
        else if (ev->has_log || ev->has_challenge)
            out->claims[c] = ATTEST_TRUST_AFFIRMING;
        else
            out->claims[c] = ATTEST_TRUST_NONE;
    }
    if (strcmp (ev->tamper, "tampered") == 0)
        out->claims[ATTEST_CLAIM_KEY_PROTECTION] = ATTEST_TRUST_CONTRAINDICATED;
    else if (wd_cert_protection_is_software (ev->key_protection))
        out->claims[ATTEST_CLAIM_KEY_PROTECTION] = ATTEST_TRUST_NONE;
    else
        out->claims[ATTEST_CLAIM_KEY_PROTECTION] = ATTEST_TRUST_AFFIRMING;
    out->tier = attest_verdict_tier (out->claims);

    memcpy (out->evidence, evidence_id, ATTEST_EVIDENCE_ID_LEN);
    out->subject = ev->subject;
    memcpy (out->policy, policy_id, ATTEST_POLICY_ID_LEN);
    out->time = now;
    if (after)
        *after = state;
    return WD_OK;
}

int
attest_verdict_open_appraise (const uint8_t *buf, size_t len,
                              const attest_evidence_expect_t *expect,
                              const attest_policy_t *const *policies, size_t policy_count,
                              const uint8_t policy_id[ATTEST_POLICY_ID_LEN],
                              attest_verdict_body_t *out, attest_evidence_t *ev,
                              attest_ima_state_t *after, char *why, size_t why_len)
{
    assert (expect && out);
    memset (out, 0, sizeof *out);
    attest_evidence_expect_t x = *expect;
    x.defer_replay = true;
    attest_evidence_t local;
    attest_evidence_t *e = ev ? ev : &local;
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    int err = attest_evidence_open (buf, len, &x, e, id, NULL);
    if (err != WD_OK) {
        wd_err_why (why, why_len, "evidence: %s", attest_strerror (err));
        return err;
    }
    err = attest_verdict_appraise (e, id, expect->saved, policies, policy_count, policy_id,
                                   expect->now, out, after, why, why_len);
    if (err != WD_OK)
        memset (e, 0, sizeof *e);
    return err;
}

/* ---- encoding --------------------------------------------------------------- */

static bool
s_reason_valid (const char *s)
{
    size_t len = strnlen (s, ATTEST_VERDICT_REASON_MAX + 1);
    if (len == 0 || len > ATTEST_VERDICT_REASON_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
            return false;
    return true;
}

static bool
s_check (const attest_verdict_body_t *v)
{
    if (!attest_subject_valid (&v->subject))
        return false;
    for (size_t i = 0; i < ATTEST_CLAIM_COUNT; i++)
        if ((size_t)v->claims[i] >= S_COUNT (s_trust_names))
            return false;
    if (v->first_count > ATTEST_VERDICT_FIRST_MAX || v->first_count > v->failure_count)
        return false;
    for (size_t i = 0; i < v->first_count; i++) {
        const attest_verdict_failure_t *f = &v->first[i];
        size_t plen = strnlen (f->path, sizeof f->path);
        if (plen == 0 || plen > ATTEST_VERDICT_PATH_MAX || !s_reason_valid (f->reason))
            return false;
    }
    return true;
}

int
attest_verdict_encode (const attest_verdict_body_t *v, uint8_t **out, size_t *out_len)
{
    assert (v && out && out_len);
    *out = NULL;
    *out_len = 0;
    if (!s_check (v) || v->tier != attest_verdict_tier (v->claims))
        return ATTEST_ERR_VERDICT_FIELD;

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8);
    wd_writer_key (w, "claims");
    wd_writer_map (w, ATTEST_CLAIM_COUNT);
    for (size_t i = 0; i < ATTEST_CLAIM_COUNT; i++) {
        wd_writer_key (w, s_claim_names[i]);
        wd_writer_cstr (w, s_trust_names[v->claims[i]]);
    }
    wd_writer_key (w, "evidence");
    wd_writer_bin (w, v->evidence, ATTEST_EVIDENCE_ID_LEN);
    wd_writer_key (w, "failures");
    wd_writer_map (w, 2);
    wd_writer_key (w, "count");
    wd_writer_uint (w, v->failure_count);
    wd_writer_key (w, "first");
    wd_writer_array (w, v->first_count);
    for (size_t i = 0; i < v->first_count; i++) {
        wd_writer_map (w, 3);
        wd_writer_key (w, "index");
        wd_writer_uint (w, v->first[i].index);
        wd_writer_key (w, "path");
        wd_writer_cstr (w, v->first[i].path);
        wd_writer_key (w, "reason");
        wd_writer_cstr (w, v->first[i].reason);
    }
    wd_writer_key (w, "policy");
    wd_writer_bin (w, v->policy, ATTEST_POLICY_ID_LEN);
    wd_writer_key (w, "subject");
    attest_subject_write (w, &v->subject);
    wd_writer_key (w, "tier");
    wd_writer_cstr (w, s_trust_names[v->tier]);
    wd_writer_key (w, "time");
    wd_writer_uint (w, v->time);
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_VERDICT_VERSION);
    size_t len;
    uint8_t *body = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    /* Paths are the caller's bytes: they must be UTF-8. */
    if (wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL) != WD_OK) {
        free (body);
        return ATTEST_ERR_VERDICT_FIELD;
    }
    *out = body;
    *out_len = len;
    return WD_OK;
}

int
attest_verdict_decode (const uint8_t *body, size_t len, attest_verdict_body_t *v)
{
    assert (body || len == 0);
    assert (v);
    memset (v, 0, sizeof *v);
    int err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        goto out;

    wd_reader_t r;
    size_t count, first = 0;
    uint64_t version = 0;
    bool ok = true;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "claims");
    wd_read_map (&r, &count);
    for (size_t i = 0; i < ATTEST_CLAIM_COUNT; i++) {
        wd_read_key (&r, s_claim_names[i]);
        int t = attest_read_name (&r, s_trust_names, S_COUNT (s_trust_names));
        if (t < 0)
            ok = false;
        else
            v->claims[i] = (attest_trust_t)t;
    }
    wd_read_end (&r);
    wd_read_key (&r, "evidence");
    wd_read_bin_fixed (&r, v->evidence, ATTEST_EVIDENCE_ID_LEN);
    wd_read_key (&r, "failures");
    wd_read_map (&r, &count);
    wd_read_key (&r, "count");
    wd_read_uint (&r, &v->failure_count, UINT64_MAX);
    wd_read_key (&r, "first");
    wd_read_array (&r, &first);
    if (first > ATTEST_VERDICT_FIRST_MAX)
        ok = false;
    for (size_t i = 0; i < first; i++) {
        attest_verdict_failure_t scratch, *f = &scratch;
        if (i < ATTEST_VERDICT_FIRST_MAX)
            f = &v->first[v->first_count++];
        wd_read_map (&r, &count);
        wd_read_key (&r, "index");
        wd_read_uint (&r, &f->index, UINT64_MAX);
        wd_read_key (&r, "path");
        wd_read_cstr (&r, f->path, sizeof f->path);
        wd_read_key (&r, "reason");
        wd_read_cstr (&r, f->reason, sizeof f->reason);
        wd_read_end (&r);
    }
    wd_read_end (&r);
    wd_read_end (&r);
    wd_read_key (&r, "policy");
    wd_read_bin_fixed (&r, v->policy, ATTEST_POLICY_ID_LEN);
    wd_read_key (&r, "subject");
    attest_subject_read (&r, &v->subject, &ok);
    wd_read_key (&r, "tier");
    int tier = attest_read_name (&r, s_trust_names, S_COUNT (s_trust_names));
    wd_read_key (&r, "time");
    wd_read_uint (&r, &v->time, UINT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        goto out;
    if (version != ATTEST_VERDICT_VERSION) {
        err = WD_ERR_BAD_VERSION;
        goto out;
    }
    if (!ok || tier < 0 || !s_check (v)) {
        err = ATTEST_ERR_VERDICT_FIELD;
        goto out;
    }
    v->tier = (attest_trust_t)tier;
    if (v->tier != attest_verdict_tier (v->claims)) {
        err = ATTEST_ERR_VERDICT_TIER;
        goto out;
    }
    return WD_OK;
out:
    memset (v, 0, sizeof *v);
    return err;
}

int
attest_verdict_seal (const attest_verdict_body_t *v, const uint8_t chain[WD_CHAIN_ID_LEN],
                     const uint8_t verifier_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                     uint8_t **out, size_t *out_len)
{
    assert (v && chain && verifier_pk && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = attest_verdict_encode (v, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (ATTEST_VERDICT_TYPE, chain, verifier_pk, body, body_len, sign, sign_ctx,
                            out, out_len);
    free (body);
    return err;
}

int
attest_verdict_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                     attest_evidence_key_fn key_fn, void *key_ctx, attest_verdict_body_t *v,
                     uint8_t verifier[WD_PUBKEY_LEN])
{
    assert ((buf || len == 0) && chain && v);
    memset (v, 0, sizeof *v);
    wd_envelope_t env;
    int err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env.chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env.type, ATTEST_VERDICT_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    char protection[WD_CERT_PROTECTION_MAX + 1];
    if (key_fn && !key_fn (key_ctx, env.from, protection))
        return ATTEST_ERR_VERDICT_UNKNOWN_VERIFIER;
    err = wd_envelope_verify (&env, chain, ATTEST_VERDICT_TYPE);
    if (err != WD_OK)
        return err;
    err = attest_verdict_decode (env.body, env.body_len, v);
    if (err == WD_OK && verifier)
        memcpy (verifier, env.from, WD_PUBKEY_LEN);
    return err;
}
