/*
 * attest_evidence: encodes, decodes, seals and verifies evidence records
 * (see attest_evidence.h and docs/PROTOCOL.md "Evidence and verdicts").
 *
 * The body is written and read field by field in canonical key order with
 * wd_codec's writer and strict reader; the schema's own rules (enumerated
 * strings, label syntax, which optional keys go with which kind) are checked
 * by one function, s_check, on both sides, so encode refuses exactly what
 * decode refuses. Verification replays the log delta with attest_ima from
 * the verifier's saved state: it never sees the log's old prefix.
 */
#include "attest_evidence.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"
#include "wd_hash.h"

static const char *const s_subject_names[] = { "node", "host" };
static const char *const s_fresh_names[] = { "challenge", "epoch" };
static const char *const s_outcome_names[] = { "pass", "fail", "missed" };
static const char *const s_tamper_names[] = { "clear", "tampered", "not-supported" };

#define S_COUNT(a) (sizeof (a) / sizeof (a)[0])

const char *
attest_subject_kind_name (attest_subject_kind_t kind)
{
    return (size_t)kind < S_COUNT (s_subject_names) ? s_subject_names[kind] : "?";
}

const char *
attest_fresh_kind_name (attest_fresh_kind_t kind)
{
    return (size_t)kind < S_COUNT (s_fresh_names) ? s_fresh_names[kind] : "?";
}

const char *
attest_outcome_name (attest_outcome_t outcome)
{
    return (size_t)outcome < S_COUNT (s_outcome_names) ? s_outcome_names[outcome] : "?";
}

bool
attest_subject_equal (const attest_subject_t *a, const attest_subject_t *b)
{
    return a->kind == b->kind && sodium_memcmp (a->node, b->node, WD_PUBKEY_LEN) == 0 &&
           strcmp (a->host, b->host) == 0;
}

/* ---- field rules ------------------------------------------------------------ */

/* Index of name in names, or -1. */
static int
s_lookup (const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (names[i], name) == 0)
            return (int)i;
    return -1;
}

static bool
s_protection_valid (const char *s)
{
    size_t len = strnlen (s, WD_CERT_PROTECTION_MAX + 1);
    if (len == 0 || len > WD_CERT_PROTECTION_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool
s_host_valid (const char *s)
{
    size_t len = strnlen (s, ATTEST_EVIDENCE_HOST_MAX + 1);
    if (len == 0 || len > ATTEST_EVIDENCE_HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

bool
attest_subject_valid (const attest_subject_t *s)
{
    if (s->kind == ATTEST_SUBJECT_NODE)
        return s->host[0] == '\0';
    return s->kind == ATTEST_SUBJECT_HOST && s_host_valid (s->host);
}

/* The schema's rules beyond types and lengths; the same on both sides. */
static bool
s_check (const attest_evidence_t *ev)
{
    if (!attest_subject_valid (&ev->subject) || !s_protection_valid (ev->key_protection) ||
        s_lookup (s_tamper_names, S_COUNT (s_tamper_names), ev->tamper) < 0)
        return false;
    if (ev->fresh.kind == ATTEST_FRESH_CHALLENGE) {
        static const uint8_t zero[ATTEST_EVIDENCE_ID_LEN];
        if (ev->fresh.epoch != 0 || memcmp (ev->fresh.prev, zero, sizeof zero) != 0)
            return false;
    } else if (ev->fresh.kind != ATTEST_FRESH_EPOCH)
        return false;
    if (ev->has_log) {
        if (ev->log.pcr >= ATTEST_IMA_PCR_COUNT ||
            ev->log.records_len > ATTEST_EVIDENCE_RECORDS_MAX ||
            (ev->log.records_len > 0 && !ev->log.records))
            return false;
    }
    if (ev->has_challenge) {
        const attest_evidence_challenge_t *c = &ev->challenge;
        if ((size_t)c->outcome >= S_COUNT (s_outcome_names) ||
            c->item_count > ATTEST_EVIDENCE_ITEMS_MAX || c->deadline < c->issued)
            return false;
        size_t other = 0; /* items that did not pass */
        for (size_t i = 0; i < c->item_count; i++) {
            const attest_evidence_item_t *it = &c->items[i];
            size_t len = strnlen (it->item, sizeof it->item);
            if (len == 0 || len > ATTEST_EVIDENCE_ITEM_MAX ||
                strnlen (it->why, sizeof it->why) > ATTEST_EVIDENCE_WHY_MAX ||
                (size_t)it->result >= S_COUNT (s_outcome_names))
                return false;
            other += it->result != ATTEST_OUTCOME_PASS;
        }
        if (c->outcome == ATTEST_OUTCOME_PASS && other > 0)
            return false;
        if (c->outcome == ATTEST_OUTCOME_FAIL && other == 0)
            return false;
    }
    if (ev->has_quote && !attest_quote_valid (&ev->quote))
        return false;
    return true;
}

/* ---- building --------------------------------------------------------------- */

void
attest_evidence_init (attest_evidence_t *ev, const uint8_t attester[WD_PUBKEY_LEN],
                      const char *key_protection, const char *tamper, uint64_t time)
{
    assert (ev && attester && key_protection && tamper);
    memset (ev, 0, sizeof *ev);
    ev->subject.kind = ATTEST_SUBJECT_NODE;
    memcpy (ev->subject.node, attester, WD_PUBKEY_LEN);
    memcpy (ev->attester, attester, WD_PUBKEY_LEN);
    /* A string that does not fit is left empty, so encode refuses it
       rather than sign a truncated claim. */
    if (strlen (key_protection) < sizeof ev->key_protection)
        memcpy (ev->key_protection, key_protection, strlen (key_protection) + 1);
    if (strlen (tamper) < sizeof ev->tamper)
        memcpy (ev->tamper, tamper, strlen (tamper) + 1);
    ev->fresh.kind = ATTEST_FRESH_CHALLENGE;
    ev->time = time;
}

void
attest_evidence_set_log (attest_evidence_t *ev, const uint8_t *records, size_t records_len,
                         uint64_t start, uint64_t offset, const attest_ima_state_t *after)
{
    assert (ev && after && (records || records_len == 0));
    ev->has_log = true;
    ev->log.pcr = after->pcr;
    ev->log.start = start;
    ev->log.offset = offset;
    ev->log.records = records;
    ev->log.records_len = records_len;
    ev->log.has_sha1 = true;
    memcpy (ev->log.sha1, after->sha1, sizeof ev->log.sha1);
    memcpy (ev->log.sha256, after->sha256, sizeof ev->log.sha256);
}

void
attest_evidence_epoch_nonce (uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN], const uint8_t seed[32],
                             const uint8_t node_id[WD_PUBKEY_LEN],
                             const uint8_t prev[ATTEST_EVIDENCE_ID_LEN])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, seed, 32);
    crypto_hash_sha256_update (&st, node_id, WD_PUBKEY_LEN);
    crypto_hash_sha256_update (&st, prev, ATTEST_EVIDENCE_ID_LEN);
    crypto_hash_sha256_final (&st, nonce);
}

/* ---- encoding --------------------------------------------------------------- */

void
attest_subject_write (wd_writer_t *w, const attest_subject_t *s)
{
    bool host = s->kind == ATTEST_SUBJECT_HOST;
    wd_writer_map (w, host ? 3 : 2);
    if (host) {
        wd_writer_key (w, "host");
        wd_writer_cstr (w, s->host);
    }
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, s_subject_names[s->kind]);
    wd_writer_key (w, "node");
    wd_writer_bin (w, s->node, WD_PUBKEY_LEN);
}

static void
s_write_challenge (wd_writer_t *w, const attest_evidence_challenge_t *c)
{
    wd_writer_map (w, 5);
    wd_writer_key (w, "deadline");
    wd_writer_uint (w, c->deadline);
    wd_writer_key (w, "issued");
    wd_writer_uint (w, c->issued);
    wd_writer_key (w, "items");
    wd_writer_array (w, c->item_count);
    for (size_t i = 0; i < c->item_count; i++) {
        const attest_evidence_item_t *it = &c->items[i];
        bool why = it->why[0] != '\0';
        wd_writer_map (w, why ? 3 : 2);
        wd_writer_key (w, "item");
        wd_writer_cstr (w, it->item);
        wd_writer_key (w, "result");
        wd_writer_cstr (w, s_outcome_names[it->result]);
        if (why) {
            wd_writer_key (w, "why");
            wd_writer_cstr (w, it->why);
        }
    }
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, c->nonce, ATTEST_EVIDENCE_NONCE_LEN);
    wd_writer_key (w, "outcome");
    wd_writer_cstr (w, s_outcome_names[c->outcome]);
}

static void
s_write_log (wd_writer_t *w, const attest_evidence_log_t *l)
{
    wd_writer_map (w, l->has_sha1 ? 6 : 5);
    wd_writer_key (w, "offset");
    wd_writer_uint (w, l->offset);
    wd_writer_key (w, "pcr");
    wd_writer_uint (w, l->pcr);
    wd_writer_key (w, "records");
    wd_writer_bin (w, l->records_len ? l->records : (const uint8_t *)"", l->records_len);
    if (l->has_sha1) {
        wd_writer_key (w, "sha1");
        wd_writer_bin (w, l->sha1, sizeof l->sha1);
    }
    wd_writer_key (w, "sha256");
    wd_writer_bin (w, l->sha256, sizeof l->sha256);
    wd_writer_key (w, "start");
    wd_writer_uint (w, l->start);
}

int
attest_evidence_encode (const attest_evidence_t *ev, uint8_t **out, size_t *out_len)
{
    assert (ev && out && out_len);
    *out = NULL;
    *out_len = 0;
    if (!s_check (ev))
        return ATTEST_ERR_EVIDENCE_FIELD;

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8 + ev->has_challenge + ev->has_log + ev->has_quote);
    wd_writer_key (w, "attester");
    wd_writer_bin (w, ev->attester, WD_PUBKEY_LEN);
    if (ev->has_challenge) {
        wd_writer_key (w, "challenge");
        s_write_challenge (w, &ev->challenge);
    }
    wd_writer_key (w, "fresh");
    if (ev->fresh.kind == ATTEST_FRESH_EPOCH) {
        wd_writer_map (w, 3);
        wd_writer_key (w, "epoch");
        wd_writer_uint (w, ev->fresh.epoch);
        wd_writer_key (w, "kind");
        wd_writer_cstr (w, s_fresh_names[ev->fresh.kind]);
        wd_writer_key (w, "prev");
        wd_writer_bin (w, ev->fresh.prev, ATTEST_EVIDENCE_ID_LEN);
    } else {
        wd_writer_map (w, 1);
        wd_writer_key (w, "kind");
        wd_writer_cstr (w, s_fresh_names[ev->fresh.kind]);
    }
    wd_writer_key (w, "key_protection");
    wd_writer_cstr (w, ev->key_protection);
    if (ev->has_log) {
        wd_writer_key (w, "log");
        s_write_log (w, &ev->log);
    }
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, ev->nonce, ATTEST_EVIDENCE_NONCE_LEN);
    if (ev->has_quote) {
        wd_writer_key (w, "quote");
        attest_quote_write (w, &ev->quote);
    }
    wd_writer_key (w, "subject");
    attest_subject_write (w, &ev->subject);
    wd_writer_key (w, "tamper");
    wd_writer_cstr (w, ev->tamper);
    wd_writer_key (w, "time");
    wd_writer_uint (w, ev->time);
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_EVIDENCE_VERSION);

    size_t len;
    uint8_t *body = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    /* Item names and notes are the caller's bytes: make sure they are UTF-8
       (the only rule s_check cannot see) by checking the whole body. */
    if (wd_codec_check (body, len, ATTEST_EVIDENCE_RECORDS_MAX, NULL) != WD_OK) {
        free (body);
        return ATTEST_ERR_EVIDENCE_FIELD;
    }
    *out = body;
    *out_len = len;
    return WD_OK;
}

/* ---- decoding --------------------------------------------------------------- */

int
attest_read_name (wd_reader_t *r, const char *const *names, size_t count)
{
    const char *str;
    size_t len;
    if (!wd_read_str (r, &str, &len, 64))
        return -1;
    for (size_t i = 0; i < count; i++)
        if (strlen (names[i]) == len && memcmp (names[i], str, len) == 0)
            return (int)i;
    return -1;
}

/* The readers below never stop early: reader errors are sticky and win at
   wd_reader_finish; *ok turns false for a well-typed value the schema does
   not allow, reported as ATTEST_ERR_EVIDENCE_FIELD once the whole body has
   read cleanly. */
void
attest_subject_read (wd_reader_t *r, attest_subject_t *s, bool *ok)
{
    size_t count;
    int kind;
    wd_read_map (r, &count);
    if (wd_read_key_opt (r, "host"))
        wd_read_cstr (r, s->host, sizeof s->host);
    wd_read_key (r, "kind");
    kind = attest_read_name (r, s_subject_names, S_COUNT (s_subject_names));
    wd_read_key (r, "node");
    wd_read_bin_fixed (r, s->node, WD_PUBKEY_LEN);
    wd_read_end (r);
    if (kind < 0)
        *ok = false;
    else
        s->kind = (attest_subject_kind_t)kind;
    if (!attest_subject_valid (s))
        *ok = false;
}

static void
s_read_challenge (wd_reader_t *r, attest_evidence_challenge_t *c, bool *ok)
{
    size_t count, items = 0;
    int outcome;
    wd_read_map (r, &count);
    wd_read_key (r, "deadline");
    wd_read_uint (r, &c->deadline, UINT64_MAX);
    wd_read_key (r, "issued");
    wd_read_uint (r, &c->issued, UINT64_MAX);
    wd_read_key (r, "items");
    wd_read_array (r, &items);
    if (items > ATTEST_EVIDENCE_ITEMS_MAX)
        *ok = false;
    for (size_t i = 0; i < items; i++) {
        attest_evidence_item_t scratch, *it = &scratch;
        if (i < ATTEST_EVIDENCE_ITEMS_MAX)
            it = &c->items[c->item_count++];
        memset (it, 0, sizeof *it);
        int result;
        wd_read_map (r, &count);
        wd_read_key (r, "item");
        wd_read_cstr (r, it->item, sizeof it->item);
        wd_read_key (r, "result");
        result = attest_read_name (r, s_outcome_names, S_COUNT (s_outcome_names));
        /* An empty note is written by leaving the key out. */
        if (wd_read_key_opt (r, "why") && wd_read_cstr (r, it->why, sizeof it->why) &&
            it->why[0] == '\0')
            *ok = false;
        wd_read_end (r);
        if (result < 0)
            *ok = false;
        else
            it->result = (attest_outcome_t)result;
    }
    wd_read_end (r);
    wd_read_key (r, "nonce");
    wd_read_bin_fixed (r, c->nonce, ATTEST_EVIDENCE_NONCE_LEN);
    wd_read_key (r, "outcome");
    outcome = attest_read_name (r, s_outcome_names, S_COUNT (s_outcome_names));
    wd_read_end (r);
    if (outcome < 0)
        *ok = false;
    else
        c->outcome = (attest_outcome_t)outcome;
}

static void
s_read_fresh (wd_reader_t *r, attest_fresh_t *f, bool *ok)
{
    size_t count;
    int kind;
    wd_read_map (r, &count);
    bool has_epoch = wd_read_key_opt (r, "epoch");
    if (has_epoch)
        wd_read_uint (r, &f->epoch, UINT64_MAX);
    wd_read_key (r, "kind");
    kind = attest_read_name (r, s_fresh_names, S_COUNT (s_fresh_names));
    bool has_prev = wd_read_key_opt (r, "prev");
    if (has_prev)
        wd_read_bin_fixed (r, f->prev, ATTEST_EVIDENCE_ID_LEN);
    wd_read_end (r);
    if (kind < 0) {
        *ok = false;
        return;
    }
    f->kind = (attest_fresh_kind_t)kind;
    /* Epoch freshness carries both epoch and prev, challenge neither. */
    bool epoch = kind == ATTEST_FRESH_EPOCH;
    if (has_epoch != epoch || has_prev != epoch)
        *ok = false;
}

static void
s_read_log (wd_reader_t *r, attest_evidence_log_t *l)
{
    size_t count;
    uint64_t pcr = 0;
    wd_read_map (r, &count);
    wd_read_key (r, "offset");
    wd_read_uint (r, &l->offset, UINT64_MAX);
    wd_read_key (r, "pcr");
    wd_read_uint (r, &pcr, ATTEST_IMA_PCR_COUNT - 1);
    l->pcr = (uint32_t)pcr;
    wd_read_key (r, "records");
    wd_read_bin (r, &l->records, &l->records_len, ATTEST_EVIDENCE_RECORDS_MAX);
    l->has_sha1 = wd_read_key_opt (r, "sha1");
    if (l->has_sha1)
        wd_read_bin_fixed (r, l->sha1, sizeof l->sha1);
    wd_read_key (r, "sha256");
    wd_read_bin_fixed (r, l->sha256, sizeof l->sha256);
    wd_read_key (r, "start");
    wd_read_uint (r, &l->start, UINT64_MAX);
    wd_read_end (r);
}

/* Decodes a body; `checked` when wd_envelope_decode has already run
   wd_codec_check over it (the envelope's limit is larger than any field
   here, and the reader's own limits still apply), so the verifier's path
   does not scan a large delta twice. */
static int
s_decode (const uint8_t *body, size_t len, attest_evidence_t *ev, bool checked)
{
    assert (body || len == 0);
    assert (ev);
    memset (ev, 0, sizeof *ev);
    int err = checked ? WD_OK : wd_codec_check (body, len, ATTEST_EVIDENCE_RECORDS_MAX, NULL);
    if (err != WD_OK)
        goto out;

    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    bool ok = true;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "attester");
    wd_read_bin_fixed (&r, ev->attester, WD_PUBKEY_LEN);
    ev->has_challenge = wd_read_key_opt (&r, "challenge");
    if (ev->has_challenge)
        s_read_challenge (&r, &ev->challenge, &ok);
    wd_read_key (&r, "fresh");
    s_read_fresh (&r, &ev->fresh, &ok);
    wd_read_key (&r, "key_protection");
    wd_read_cstr (&r, ev->key_protection, sizeof ev->key_protection);
    ev->has_log = wd_read_key_opt (&r, "log");
    if (ev->has_log)
        s_read_log (&r, &ev->log);
    wd_read_key (&r, "nonce");
    wd_read_bin_fixed (&r, ev->nonce, ATTEST_EVIDENCE_NONCE_LEN);
    ev->has_quote = wd_read_key_opt (&r, "quote");
    if (ev->has_quote)
        attest_quote_read (&r, &ev->quote, &ok);
    wd_read_key (&r, "subject");
    attest_subject_read (&r, &ev->subject, &ok);
    wd_read_key (&r, "tamper");
    wd_read_cstr (&r, ev->tamper, sizeof ev->tamper);
    wd_read_key (&r, "time");
    wd_read_uint (&r, &ev->time, UINT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        goto out;
    if (version != ATTEST_EVIDENCE_VERSION) {
        err = WD_ERR_BAD_VERSION;
        goto out;
    }
    if (ok && s_check (ev))
        return WD_OK;
    err = ATTEST_ERR_EVIDENCE_FIELD;
out:
    memset (ev, 0, sizeof *ev);
    return err;
}

int
attest_evidence_decode (const uint8_t *body, size_t len, attest_evidence_t *ev)
{
    return s_decode (body, len, ev, false);
}

/* ---- sealing ---------------------------------------------------------------- */

int
attest_evidence_seal (const attest_evidence_t *ev, const uint8_t chain[WD_CHAIN_ID_LEN],
                      wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len)
{
    assert (ev && chain && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = attest_evidence_encode (ev, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (ATTEST_EVIDENCE_TYPE, chain, ev->attester, body, body_len, sign,
                            sign_ctx, out, out_len);
    free (body);
    return err;
}

void
attest_evidence_id (uint8_t id[ATTEST_EVIDENCE_ID_LEN], const uint8_t *buf, size_t len)
{
    wd_envelope_id (id, buf, len);
}

/* ---- verification ----------------------------------------------------------- */

void
attest_evidence_start_state (const attest_evidence_t *ev, const attest_ima_state_t *saved,
                             attest_ima_state_t *start)
{
    if (saved)
        *start = *saved;
    else
        attest_ima_state_init (start, ATTEST_IMA_BINARY,
                               ev->has_log ? ev->log.pcr : ATTEST_IMA_PCR_DEFAULT, 0);
}

/* The delta must start exactly where the saved state stopped. */
static int
s_check_continuity (const attest_evidence_t *ev, const attest_ima_state_t *saved)
{
    if (!ev->has_log)
        return saved ? ATTEST_ERR_EVIDENCE_DELTA_GAP : WD_OK;
    attest_ima_state_t start;
    attest_evidence_start_state (ev, saved, &start);
    if (start.format != ATTEST_IMA_BINARY || start.pcr != ev->log.pcr ||
        start.entries != ev->log.start || start.offset != ev->log.offset)
        return ATTEST_ERR_EVIDENCE_DELTA_GAP;
    return WD_OK;
}

int
attest_evidence_check_registers (const attest_evidence_t *ev, const attest_ima_state_t *replayed)
{
    assert (ev && replayed);
    if (!ev->has_log)
        return WD_OK;
    if (replayed->pcr != ev->log.pcr || replayed->offset < ev->log.offset ||
        replayed->offset - ev->log.offset != ev->log.records_len)
        return ATTEST_ERR_EVIDENCE_DELTA_GAP;
    if (sodium_memcmp (replayed->sha256, ev->log.sha256, sizeof ev->log.sha256) != 0 ||
        (ev->log.has_sha1 &&
         sodium_memcmp (replayed->sha1, ev->log.sha1, sizeof ev->log.sha1) != 0))
        return ATTEST_ERR_EVIDENCE_REGISTERS;
    return WD_OK;
}

static int
s_check_freshness (const attest_evidence_t *ev, const attest_evidence_expect_t *x)
{
    if (x->nonce) {
        if (ev->fresh.kind != ATTEST_FRESH_CHALLENGE)
            return ATTEST_ERR_EVIDENCE_FRESHNESS;
        if (sodium_memcmp (ev->nonce, x->nonce, ATTEST_EVIDENCE_NONCE_LEN) != 0)
            return ATTEST_ERR_EVIDENCE_NONCE;
        return WD_OK;
    }
    if (ev->fresh.kind != ATTEST_FRESH_EPOCH)
        return ATTEST_ERR_EVIDENCE_FRESHNESS;
    uint8_t seed[32];
    if (!x->seed_fn (x->seed_ctx, ev->fresh.epoch, seed))
        return ATTEST_ERR_EVIDENCE_EPOCH;
    if (sodium_memcmp (ev->fresh.prev, x->prev, ATTEST_EVIDENCE_ID_LEN) != 0)
        return ATTEST_ERR_EVIDENCE_NONCE;
    uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN];
    attest_evidence_epoch_nonce (nonce, seed, ev->attester, ev->fresh.prev);
    if (crypto_verify_32 (nonce, ev->nonce) != 0)
        return ATTEST_ERR_EVIDENCE_NONCE;
    return WD_OK;
}

int
attest_evidence_open (const uint8_t *buf, size_t len, const attest_evidence_expect_t *expect,
                      attest_evidence_t *ev, uint8_t id[ATTEST_EVIDENCE_ID_LEN],
                      attest_ima_state_t *after)
{
    assert (buf || len == 0);
    assert (expect && ev && expect->chain && expect->key_fn && expect->subject);
    /* Exactly one kind of freshness is expected. */
    assert ((expect->nonce != NULL) != (expect->seed_fn != NULL));
    assert (!expect->seed_fn || expect->prev);
    memset (ev, 0, sizeof *ev);

    wd_envelope_t env;
    int err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env.chain, expect->chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env.type, ATTEST_EVIDENCE_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    char protection[WD_CERT_PROTECTION_MAX + 1] = "";
    if (!expect->key_fn (expect->key_ctx, env.from, protection))
        return ATTEST_ERR_EVIDENCE_UNKNOWN_ATTESTER;
    protection[WD_CERT_PROTECTION_MAX] = '\0';
    err = wd_envelope_verify (&env, expect->chain, ATTEST_EVIDENCE_TYPE);
    if (err != WD_OK)
        return err;
    err = s_decode (env.body, env.body_len, ev, true);
    if (err != WD_OK)
        return err;

    if (sodium_memcmp (ev->attester, env.from, WD_PUBKEY_LEN) != 0)
        err = ATTEST_ERR_EVIDENCE_ATTESTER;
    else if (strcmp (ev->key_protection, protection) != 0)
        err = ATTEST_ERR_EVIDENCE_KEY_PROTECTION;
    else if (!attest_subject_equal (&ev->subject, expect->subject) ||
             sodium_memcmp (ev->subject.node, ev->attester, WD_PUBKEY_LEN) != 0)
        err = ATTEST_ERR_EVIDENCE_SUBJECT;
    else if ((err = s_check_freshness (ev, expect)) != WD_OK)
        ;
    else if (ev->time > expect->now && ev->time - expect->now > expect->max_skew)
        err = ATTEST_ERR_EVIDENCE_FUTURE;
    else if (ev->time < expect->now && expect->now - ev->time > expect->max_age)
        err = ATTEST_ERR_EVIDENCE_STALE;
    else
        err = s_check_continuity (ev, expect->saved);
    if (err != WD_OK)
        goto out;

    attest_ima_state_t state;
    attest_evidence_start_state (ev, expect->saved, &state);
    if (ev->has_log && !expect->defer_replay) {
        char why[ATTEST_IMA_WHY_MAX];
        err = attest_ima_replay_buffer (ev->log.records, ev->log.records_len, &state, NULL, NULL,
                                        why, sizeof why);
        if (err == WD_OK)
            err = attest_evidence_check_registers (ev, &state);
        if (err != WD_OK)
            goto out;
    }
    if (expect->quote && expect->quote->require_quote && !ev->has_quote)
        err = ATTEST_ERR_QUOTE_MISSING;
    else if (ev->has_quote) {
        /* The quote's own AK-binding record is opened under this record's
           chain and attester (attest_quote_expect_t.from_binding). */
        attest_quote_expect_t qx = { 0 };
        if (expect->quote)
            qx = *expect->quote;
        qx.chain = expect->chain;
        qx.node = ev->attester;
        err = attest_quote_verify (&ev->quote, ev->nonce, ev->has_log ? ev->log.sha256 : NULL,
                                   ev->has_log ? ev->log.pcr : 0, &qx, NULL);
    }
    if (err != WD_OK)
        goto out;
    if (id)
        wd_envelope_id (id, buf, len);
    if (after)
        *after = state;
    return WD_OK;
out:
    memset (ev, 0, sizeof *ev);
    return err;
}
