/*
 * Unit tests for attest_evidence: encode/decode round trips for node and
 * host evidence, sealing and opening with challenge and epoch freshness,
 * incremental deltas from a saved state, and one test per rejection with
 * its exact code (bad signature, unknown attester, attester and key
 * protection mismatch, wrong subject, replayed nonce, stale and future
 * time, delta gap, register mismatch, tampered records, malformed bodies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "attest_evidence.h"
#include "attest_log.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define S_NOW 1767225600u

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_pk_a[32], s_sk_a[64]; /* the attesting node */
static uint8_t s_pk_b[32], s_sk_b[64]; /* another known node */
static uint8_t s_pk_x[32], s_sk_x[64]; /* a stranger */
static uint8_t s_seed[32];             /* the seed of epoch 7 */

/* Trusted keys: A ("software") and B ("tpm"). */
static bool
s_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    (void)ctx;
    if (memcmp (id, s_pk_a, 32) == 0) {
        snprintf (prot, WD_CERT_PROTECTION_MAX + 1, "software");
        return true;
    }
    if (memcmp (id, s_pk_b, 32) == 0) {
        snprintf (prot, WD_CERT_PROTECTION_MAX + 1, "tpm");
        return true;
    }
    return false;
}

/* Only epoch 7 is accepted. */
static bool
s_seed_fn (void *ctx, uint64_t epoch, uint8_t seed[32])
{
    (void)ctx;
    if (epoch != 7)
        return false;
    memcpy (seed, s_seed, 32);
    return true;
}

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    randombytes_buf (s_chain, sizeof s_chain);
    randombytes_buf (s_seed, sizeof s_seed);
    crypto_sign_keypair (s_pk_a, s_sk_a);
    crypto_sign_keypair (s_pk_b, s_sk_b);
    crypto_sign_keypair (s_pk_x, s_sk_x);
    return 0;
}

/* A log of n measurements named /usr/bin/t<i>. */
static attest_log_t *
s_log (size_t n)
{
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    assert_non_null (log);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf (name, sizeof name, "/usr/bin/t%zu", i);
        assert_int_equal (attest_log_measure_buffer (log, name, name, strlen (name)), WD_OK);
    }
    return log;
}

/* Node evidence from A with challenge nonce `nonce` and the log's delta
   after entry `from`. */
static void
s_node_evidence (attest_evidence_t *ev, const attest_log_t *log, uint64_t from,
                 const uint8_t nonce[32])
{
    attest_evidence_init (ev, s_pk_a, "software", "clear", S_NOW);
    memcpy (ev->nonce, nonce, 32);
    size_t len;
    const uint8_t *records = attest_log_binary (log, from, &len);
    uint64_t offset = 0;
    if (from > 0) {
        size_t before;
        (void)attest_log_binary (log, 0, &before);
        offset = before - len;
    }
    attest_evidence_set_log (ev, records, len, from, offset, attest_log_state (log));
}

static attest_evidence_expect_t
s_expect (const attest_subject_t *subject, const uint8_t *nonce, const attest_ima_state_t *saved)
{
    attest_evidence_expect_t x = { 0 };
    x.chain = s_chain;
    x.key_fn = s_key_fn;
    x.subject = subject;
    x.nonce = nonce;
    x.now = S_NOW + 5;
    x.max_age = 60;
    x.max_skew = 10;
    x.saved = saved;
    return x;
}

static uint8_t *
s_seal (const attest_evidence_t *ev, const uint8_t *sk, size_t *len)
{
    uint8_t *env = NULL;
    assert_int_equal (attest_evidence_seal (ev, s_chain, test_sign_fn, (void *)sk, &env, len),
                      WD_OK);
    return env;
}

/* Seals ev as A and opens it with x; returns the code. */
static int
s_open (const attest_evidence_t *ev, const attest_evidence_expect_t *x)
{
    size_t len;
    uint8_t *env = s_seal (ev, s_sk_a, &len);
    attest_evidence_t out;
    attest_ima_state_t after;
    int rc = attest_evidence_open (env, len, x, &out, NULL, &after);
    free (env);
    return rc;
}

/* ---- round trips ------------------------------------------------------------ */

static void
s_assert_round_trip (const attest_evidence_t *ev)
{
    uint8_t *body;
    size_t len;
    assert_int_equal (attest_evidence_encode (ev, &body, &len), WD_OK);
    attest_evidence_t back;
    assert_int_equal (attest_evidence_decode (body, len, &back), WD_OK);
    uint8_t *again;
    size_t again_len;
    assert_int_equal (attest_evidence_encode (&back, &again, &again_len), WD_OK);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, body, len);
    assert_true (attest_subject_equal (&back.subject, &ev->subject));
    assert_int_equal (back.time, ev->time);
    assert_int_equal (back.has_log, ev->has_log);
    assert_int_equal (back.has_challenge, ev->has_challenge);
    free (again);
    free (body);
}

static void
test_round_trip (void **state)
{
    (void)state;
    attest_log_t *log = s_log (3);
    uint8_t nonce[32] = { 1 };
    attest_evidence_t ev;
    s_node_evidence (&ev, log, 0, nonce);
    s_assert_round_trip (&ev);

    /* Epoch freshness, no SHA-1 bank. */
    ev.fresh.kind = ATTEST_FRESH_EPOCH;
    ev.fresh.epoch = 7;
    memset (ev.fresh.prev, 0xab, 32);
    ev.log.has_sha1 = false;
    s_assert_round_trip (&ev);

    /* Host evidence with a challenge and no log. */
    attest_evidence_t *h = calloc (1, sizeof *h);
    assert_non_null (h);
    attest_evidence_init (h, s_pk_a, "software", "not-supported", S_NOW);
    h->subject.kind = ATTEST_SUBJECT_HOST;
    snprintf (h->subject.host, sizeof h->subject.host, "52:54:00:12:34:56");
    h->has_challenge = true;
    h->challenge.outcome = ATTEST_OUTCOME_FAIL;
    h->challenge.issued = S_NOW - 2;
    h->challenge.deadline = S_NOW + 1;
    h->challenge.item_count = 3;
    snprintf (h->challenge.items[0].item, sizeof h->challenge.items[0].item, "cmdline");
    snprintf (h->challenge.items[1].item, sizeof h->challenge.items[1].item, "file:/usr/bin/ls");
    h->challenge.items[1].result = ATTEST_OUTCOME_FAIL;
    snprintf (h->challenge.items[1].why, sizeof h->challenge.items[1].why, "digest differs");
    snprintf (h->challenge.items[2].item, sizeof h->challenge.items[2].item, "modules");
    h->challenge.items[2].result = ATTEST_OUTCOME_MISSED;
    s_assert_round_trip (h);

    /* Encode refuses what decode would refuse. */
    h->challenge.outcome = ATTEST_OUTCOME_PASS; /* with a failed item */
    uint8_t *body;
    size_t len;
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    h->challenge.outcome = ATTEST_OUTCOME_FAIL; /* with every item passed */
    h->challenge.items[1].result = ATTEST_OUTCOME_PASS;
    h->challenge.items[2].result = ATTEST_OUTCOME_PASS;
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    h->challenge.items[2].result = ATTEST_OUTCOME_MISSED; /* a partial answer fails */
    assert_int_equal (attest_evidence_encode (h, &body, &len), WD_OK);
    free (body);
    h->challenge.deadline = h->challenge.issued - 1;
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    h->challenge.deadline = h->challenge.issued;
    memcpy (h->challenge.items[0].item, "\xff\xfe", 3); /* not UTF-8 */
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    snprintf (h->challenge.items[0].item, sizeof h->challenge.items[0].item, "cmdline");
    snprintf (h->subject.host, sizeof h->subject.host, "has space");
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    snprintf (h->subject.host, sizeof h->subject.host, "h1");
    snprintf (h->tamper, sizeof h->tamper, "none");
    assert_int_equal (attest_evidence_encode (h, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    free (h);
    attest_log_destroy (&log);
}

static void
test_epoch_nonce (void **state)
{
    (void)state;
    uint8_t seed[32], id[32], prev[32], in[96], want[32], got[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
        id[i] = (uint8_t)(0x40 + i);
        prev[i] = (uint8_t)(0x80 + i);
    }
    memcpy (in, seed, 32);
    memcpy (in + 32, id, 32);
    memcpy (in + 64, prev, 32);
    wd_hash_sha256 (want, in, sizeof in);
    attest_evidence_epoch_nonce (got, seed, id, prev);
    assert_memory_equal (got, want, 32);
    /* Known answer, from python3 -c "import hashlib; print(hashlib.sha256(
       bytes(range(32)) + bytes(range(0x40, 0x60)) + bytes(range(0x80, 0xa0))).hexdigest())" */
    uint8_t kat[32];
    assert_true (wd_hex_decode (
        kat, 32, "1a98b24aa535b5385ef78d09743f0a5258fa941b9125b242d4b4e02b38de24c2"));
    assert_memory_equal (got, kat, 32);
}

/* ---- opening ---------------------------------------------------------------- */

static void
test_open_challenge (void **state)
{
    (void)state;
    attest_log_t *log = s_log (4);
    uint8_t nonce[32];
    randombytes_buf (nonce, 32);
    attest_evidence_t ev;
    s_node_evidence (&ev, log, 0, nonce);
    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_pk_a, 32);
    attest_evidence_expect_t x = s_expect (&subject, nonce, NULL);

    size_t len;
    uint8_t *env = s_seal (&ev, s_sk_a, &len);
    attest_evidence_t out;
    attest_ima_state_t after;
    uint8_t id[32], want_id[32];
    assert_int_equal (attest_evidence_open (env, len, &x, &out, id, &after), WD_OK);
    wd_hash_sha256 (want_id, env, len);
    assert_memory_equal (id, want_id, 32);
    const attest_ima_state_t *st = attest_log_state (log);
    assert_int_equal (after.entries, 4);
    assert_int_equal (after.offset, st->offset);
    assert_memory_equal (after.sha256, st->sha256, 32);
    assert_memory_equal (after.sha1, st->sha1, 20);
    assert_int_equal (out.log.records_len, ev.log.records_len);

    /* Incremental: two more entries, delta from the saved state. */
    assert_int_equal (attest_log_measure_buffer (log, "/usr/bin/new", "x", 1), WD_OK);
    assert_int_equal (attest_log_measure_buffer (log, "warden:config", "y", 1), WD_OK);
    uint8_t nonce2[32];
    randombytes_buf (nonce2, 32);
    s_node_evidence (&ev, log, 4, nonce2);
    attest_ima_state_t saved = after;
    x = s_expect (&subject, nonce2, &saved);
    free (env);
    env = s_seal (&ev, s_sk_a, &len);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, &after), WD_OK);
    assert_int_equal (after.entries, 6);
    assert_memory_equal (after.sha256, attest_log_state (log)->sha256, 32);
    assert_int_equal (out.log.start, 4);

    /* An empty delta continues too. */
    s_node_evidence (&ev, log, 6, nonce2);
    assert_int_equal (ev.log.records_len, 0);
    saved = after;
    assert_int_equal (s_open (&ev, &x), WD_OK);

    /* Deferred replay: continuity checked, registers left to the caller. */
    s_node_evidence (&ev, log, 4, nonce2);
    saved = (attest_ima_state_t){ 0 };
    x.saved = NULL;
    s_node_evidence (&ev, log, 0, nonce2);
    memset (ev.log.sha256, 0, 32); /* wrong, but not replayed */
    x.defer_replay = true;
    free (env);
    env = s_seal (&ev, s_sk_a, &len);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, &after), WD_OK);
    assert_int_equal (after.entries, 0); /* unchanged start state */
    attest_ima_state_t replayed = after;
    assert_int_equal (attest_ima_replay_buffer (out.log.records, out.log.records_len, &replayed,
                                                NULL, NULL, NULL, 0),
                      WD_OK);
    assert_int_equal (attest_evidence_check_registers (&out, &replayed),
                      ATTEST_ERR_EVIDENCE_REGISTERS);
    free (env);
    attest_log_destroy (&log);
}

static void
test_open_epoch (void **state)
{
    (void)state;
    attest_log_t *log = s_log (2);
    uint8_t prev[32];
    randombytes_buf (prev, 32);
    attest_evidence_t ev;
    uint8_t nonce[32];
    attest_evidence_epoch_nonce (nonce, s_seed, s_pk_a, prev);
    s_node_evidence (&ev, log, 0, nonce);
    ev.fresh.kind = ATTEST_FRESH_EPOCH;
    ev.fresh.epoch = 7;
    memcpy (ev.fresh.prev, prev, 32);

    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_pk_a, 32);
    attest_evidence_expect_t x = s_expect (&subject, NULL, NULL);
    x.seed_fn = s_seed_fn;
    x.prev = prev;
    assert_int_equal (s_open (&ev, &x), WD_OK);

    /* The verifier's last evidence is another one: a replay. */
    uint8_t other[32];
    memcpy (other, prev, 32);
    other[0] ^= 1;
    x.prev = other;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_NONCE);
    x.prev = prev;
    /* A nonce that is not the epoch nonce. */
    ev.nonce[5] ^= 1;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_NONCE);
    ev.nonce[5] ^= 1;
    /* An epoch the verifier does not accept. */
    ev.fresh.epoch = 6;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_EPOCH);
    ev.fresh.epoch = 7;
    /* Challenge freshness where an epoch is expected, and the reverse. */
    ev.fresh.kind = ATTEST_FRESH_CHALLENGE;
    ev.fresh.epoch = 0;
    memset (ev.fresh.prev, 0, 32);
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_FRESHNESS);
    ev.fresh.kind = ATTEST_FRESH_EPOCH;
    ev.fresh.epoch = 7;
    memcpy (ev.fresh.prev, prev, 32);
    x.seed_fn = NULL;
    x.nonce = nonce;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_FRESHNESS);
    attest_log_destroy (&log);
}

static void
test_rejections (void **state)
{
    (void)state;
    attest_log_t *log = s_log (3);
    uint8_t nonce[32], old[32];
    randombytes_buf (nonce, 32);
    randombytes_buf (old, 32);
    attest_evidence_t ev;
    s_node_evidence (&ev, log, 0, nonce);
    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_pk_a, 32);
    attest_evidence_expect_t x = s_expect (&subject, nonce, NULL);
    assert_int_equal (s_open (&ev, &x), WD_OK);

    /* Replayed nonce: the verifier now expects a new one. */
    attest_evidence_expect_t y = s_expect (&subject, old, NULL);
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_NONCE);

    /* Stale and future time. */
    ev.time = S_NOW + 5 - 61;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_STALE);
    ev.time = S_NOW + 5 - 60;
    assert_int_equal (s_open (&ev, &x), WD_OK);
    ev.time = S_NOW + 5 + 11;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_FUTURE);
    ev.time = S_NOW + 5 + 10;
    assert_int_equal (s_open (&ev, &x), WD_OK);
    ev.time = S_NOW;

    /* Wrong subject: another node, the node's host, another host. */
    attest_subject_t other = subject;
    memcpy (other.node, s_pk_b, 32);
    y = s_expect (&other, nonce, NULL);
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_SUBJECT);
    other = subject;
    other.kind = ATTEST_SUBJECT_HOST;
    snprintf (other.host, sizeof other.host, "host-1");
    y = s_expect (&other, nonce, NULL);
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_SUBJECT);
    ev.subject = other;
    assert_int_equal (s_open (&ev, &y), WD_OK);
    snprintf (ev.subject.host, sizeof ev.subject.host, "host-2");
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_SUBJECT);
    /* A node may not attest another node's subject, even when expected. */
    ev.subject = subject;
    memcpy (ev.subject.node, s_pk_b, 32);
    attest_subject_t b = ev.subject;
    y = s_expect (&b, nonce, NULL);
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_SUBJECT);
    ev.subject = subject;

    /* Key protection other than the certificate's. */
    snprintf (ev.key_protection, sizeof ev.key_protection, "tpm");
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_KEY_PROTECTION);
    snprintf (ev.key_protection, sizeof ev.key_protection, "software");

    /* Register mismatch in either bank. */
    ev.log.sha256[0] ^= 1;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_REGISTERS);
    ev.log.sha256[0] ^= 1;
    ev.log.sha1[19] ^= 1;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_EVIDENCE_REGISTERS);
    ev.log.sha1[19] ^= 1;

    /* Records that do not hold what their template hash says. */
    size_t rlen = ev.log.records_len;
    uint8_t *copy = malloc (rlen);
    assert_non_null (copy);
    memcpy (copy, ev.log.records, rlen);
    copy[rlen - 3] ^= 1; /* inside the last entry's name */
    const uint8_t *orig = ev.log.records;
    ev.log.records = copy;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_TEMPLATE_HASH);
    /* A delta cut inside an entry. */
    ev.log.records_len = rlen - 1;
    assert_int_equal (s_open (&ev, &x), ATTEST_ERR_IMA_TRUNCATED);
    ev.log.records = orig;
    ev.log.records_len = rlen;
    free (copy);

    /* Delta gap: a delta from entry 1 where the verifier has nothing, the
       full log where it saved entry 3, no log where it saved one, another
       PCR. */
    attest_ima_state_t saved;
    attest_ima_state_init (&saved, ATTEST_IMA_BINARY, ATTEST_IMA_PCR_DEFAULT, 0);
    attest_evidence_t gap;
    s_node_evidence (&gap, log, 1, nonce);
    assert_int_equal (s_open (&gap, &x), ATTEST_ERR_EVIDENCE_DELTA_GAP);
    saved = *attest_log_state (log);
    y = s_expect (&subject, nonce, &saved);
    assert_int_equal (s_open (&ev, &y), ATTEST_ERR_EVIDENCE_DELTA_GAP);
    gap = ev;
    gap.has_log = false;
    memset (&gap.log, 0, sizeof gap.log);
    assert_int_equal (s_open (&gap, &y), ATTEST_ERR_EVIDENCE_DELTA_GAP);
    assert_int_equal (s_open (&gap, &x), WD_OK); /* nothing saved, nothing sent */
    gap = ev;
    gap.log.pcr = 11; /* nothing saved: a fresh PCR 11 the records do not extend */
    assert_int_equal (s_open (&gap, &x), ATTEST_ERR_EVIDENCE_REGISTERS);
    s_node_evidence (&gap, log, 3, nonce); /* empty, continues y's saved state ... */
    assert_int_equal (s_open (&gap, &y), WD_OK);
    gap.log.pcr = 11; /* ... but not for another PCR */
    assert_int_equal (s_open (&gap, &y), ATTEST_ERR_EVIDENCE_DELTA_GAP);

    /* Bad signature. */
    size_t len;
    uint8_t *env = s_seal (&ev, s_sk_a, &len);
    attest_evidence_t out;
    env[len - 40] ^= 1; /* inside sig, the last field before type and v */
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL), WD_ERR_BAD_SIGNATURE);
    free (env);
    /* Signed by B with A's key as "from": the signature does not verify. */
    env = s_seal (&ev, s_sk_b, &len);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL), WD_ERR_BAD_SIGNATURE);
    free (env);

    /* Unknown attester. */
    attest_evidence_t stranger = ev;
    memcpy (stranger.attester, s_pk_x, 32);
    memcpy (stranger.subject.node, s_pk_x, 32);
    env = s_seal (&stranger, s_sk_x, &len);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL),
                      ATTEST_ERR_EVIDENCE_UNKNOWN_ATTESTER);
    free (env);

    /* Attester field other than the signer: B signs a body naming A. */
    uint8_t *body;
    size_t body_len;
    assert_int_equal (attest_evidence_encode (&ev, &body, &body_len), WD_OK);
    assert_int_equal (wd_envelope_seal (ATTEST_EVIDENCE_TYPE, s_chain, s_pk_b, body, body_len,
                                        test_sign_fn, s_sk_b, &env, &len),
                      WD_OK);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL),
                      ATTEST_ERR_EVIDENCE_ATTESTER);
    free (env);
    /* Another type, another chain. */
    assert_int_equal (wd_envelope_seal ("verdict", s_chain, s_pk_a, body, body_len, test_sign_fn,
                                        s_sk_a, &env, &len),
                      WD_OK);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL),
                      WD_ERR_UNEXPECTED_TYPE);
    free (env);
    uint8_t chain2[32];
    memcpy (chain2, s_chain, 32);
    chain2[0] ^= 1;
    assert_int_equal (wd_envelope_seal (ATTEST_EVIDENCE_TYPE, chain2, s_pk_a, body, body_len,
                                        test_sign_fn, s_sk_a, &env, &len),
                      WD_OK);
    assert_int_equal (attest_evidence_open (env, len, &x, &out, NULL, NULL), WD_ERR_WRONG_CHAIN);
    free (env);
    free (body);

    /* Truncated and trailing envelopes. */
    env = s_seal (&ev, s_sk_a, &len);
    assert_int_equal (attest_evidence_open (env, len - 1, &x, &out, NULL, NULL), WD_ERR_TRUNCATED);
    uint8_t *longer = malloc (len + 1);
    assert_non_null (longer);
    memcpy (longer, env, len);
    longer[len] = 0xc0;
    assert_int_equal (attest_evidence_open (longer, len + 1, &x, &out, NULL, NULL),
                      WD_ERR_TRAILING);
    free (longer);
    free (env);
    attest_log_destroy (&log);
}

/* ---- malformed bodies -------------------------------------------------------- */

/* Replaces the first occurrence of `from` (n bytes) in buf with `to`. */
static void
s_patch (uint8_t *buf, size_t len, const void *from, const void *to, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp (buf + i, from, n) == 0) {
            memcpy (buf + i, to, n);
            return;
        }
    fail_msg ("pattern not found");
}

static int
s_decode_patched (const uint8_t *body, size_t len, const char *from, const char *to)
{
    uint8_t *copy = malloc (len);
    assert_non_null (copy);
    memcpy (copy, body, len);
    s_patch (copy, len, from, to, strlen (from));
    attest_evidence_t ev;
    int rc = attest_evidence_decode (copy, len, &ev);
    free (copy);
    return rc;
}

static void
test_malformed (void **state)
{
    (void)state;
    attest_log_t *log = s_log (1);
    uint8_t nonce[32] = { 0 };
    attest_evidence_t ev;
    s_node_evidence (&ev, log, 0, nonce);
    uint8_t *body;
    size_t len;
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), WD_OK);
    attest_evidence_t out;
    assert_int_equal (attest_evidence_decode (body, len, &out), WD_OK);

    /* Truncated, trailing, empty. */
    assert_int_equal (attest_evidence_decode (body, len - 1, &out), WD_ERR_TRUNCATED);
    uint8_t *longer = malloc (len + 1);
    assert_non_null (longer);
    memcpy (longer, body, len);
    longer[len] = 0x00;
    assert_int_equal (attest_evidence_decode (longer, len + 1, &out), WD_ERR_TRAILING);
    free (longer);
    assert_int_equal (attest_evidence_decode (body, 0, &out), WD_ERR_TRUNCATED);

    /* The body ends with "v": 1 (a1 76 01). */
    assert_int_equal (body[len - 3], 0xa1);
    assert_int_equal (body[len - 1], 0x01);
    body[len - 1] = 0x02;
    assert_int_equal (attest_evidence_decode (body, len, &out), WD_ERR_BAD_VERSION);
    body[len - 1] = 0x01;
    /* Non-canonical: "v" as uint8 (cc 01) instead of a fixint. */
    uint8_t *nc = malloc (len + 1);
    assert_non_null (nc);
    memcpy (nc, body, len - 1);
    nc[len - 1] = 0xcc;
    nc[len] = 0x01;
    assert_int_equal (attest_evidence_decode (nc, len + 1, &out), WD_ERR_INT_NONCANONICAL);
    free (nc);

    /* Unknown and missing keys, values outside their sets. */
    assert_int_equal (s_decode_patched (body, len, "\xa6tamper", "\xa6tamped"), WD_ERR_UNKNOWN_KEY);
    assert_int_equal (s_decode_patched (body, len, "\xa6tamper", "\xa6tampes"), WD_ERR_MISSING_KEY);
    assert_int_equal (s_decode_patched (body, len,
                                        "\xa5"
                                        "clear",
                                        "\xa5"
                                        "clean"),
                      ATTEST_ERR_EVIDENCE_FIELD);
    assert_int_equal (s_decode_patched (body, len, "kind\xa4node", "kind\xa4nodf"),
                      ATTEST_ERR_EVIDENCE_FIELD); /* "kind": "nodf" */
    assert_int_equal (s_decode_patched (body, len, "software", "Software"),
                      ATTEST_ERR_EVIDENCE_FIELD);
    assert_int_equal (s_decode_patched (body, len, "\xa3pcr\x0a", "\xa3pcr\x18"),
                      WD_ERR_OUT_OF_RANGE);
    free (body);

    /* Epoch fields on challenge freshness, a host label on a node. */
    attest_evidence_t bad = ev;
    bad.fresh.epoch = 3;
    assert_int_equal (attest_evidence_encode (&bad, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    bad = ev;
    snprintf (bad.subject.host, sizeof bad.subject.host, "h");
    assert_int_equal (attest_evidence_encode (&bad, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    /* The same written by hand: a body whose subject is a node with a host. */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "host");
    wd_writer_cstr (w, "h");
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "node");
    wd_writer_key (w, "node");
    wd_writer_bin (w, s_pk_a, 32);
    size_t slen;
    const uint8_t *sbytes = wd_writer_data (w, &slen);
    wd_reader_t r;
    attest_subject_t subj;
    bool ok = true;
    wd_reader_init (&r, sbytes, slen);
    attest_subject_read (&r, &subj, &ok);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_false (ok);
    wd_writer_destroy (&w);
    attest_log_destroy (&log);
}

/* ---- known answers (tests/vectors/evidence, from the Python implementation) --- */

#define S_VEC "evidence/evidence.txt"

static uint8_t s_vec_seed[32];

static bool
s_vec_seed_fn (void *ctx, uint64_t epoch, uint8_t seed[32])
{
    (void)ctx;
    if (epoch != 7)
        return false;
    memcpy (seed, s_vec_seed, 32);
    return true;
}

static bool
s_vec_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    if (memcmp (id, ctx, 32) != 0)
        return false;
    snprintf (prot, WD_CERT_PROTECTION_MAX + 1, "software");
    return true;
}

static void
s_assert_vector (const char *name, const uint8_t *got, size_t got_len)
{
    size_t len;
    uint8_t *want = test_vector_hex (S_VEC, name, &len);
    assert_int_equal (got_len, len);
    assert_memory_equal (got, want, len);
    free (want);
}

static void
test_vectors (void **state)
{
    (void)state;
    size_t len;
    uint8_t *seed = test_vector_hex (S_VEC, "attester_seed", &len);
    assert_int_equal (len, 32);
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair (pk, sk, seed);
    free (seed);
    s_assert_vector ("attester", pk, 32);
    uint8_t *chain = test_vector_hex (S_VEC, "chain", &len);
    uint8_t *bseed = test_vector_hex (S_VEC, "block_seed", &len);
    memcpy (s_vec_seed, bseed, 32);
    free (bseed);

    /* Node evidence: the same log in C gives the same records and
       registers, and the same envelope, byte for byte. */
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    const char *names[] = { "/usr/bin/a", "warden:config", "/etc/app.conf" };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal (attest_log_measure_buffer (log, names[i], names[i], strlen (names[i])),
                          WD_OK);
    size_t rlen;
    const uint8_t *records = attest_log_binary (log, 0, &rlen);
    s_assert_vector ("node_records", records, rlen);
    s_assert_vector ("node_sha1", attest_log_state (log)->sha1, 20);
    s_assert_vector ("node_sha256", attest_log_state (log)->sha256, 32);
    attest_evidence_t ev;
    attest_evidence_init (&ev, pk, "software", "clear", S_NOW);
    ev.fresh.kind = ATTEST_FRESH_EPOCH;
    ev.fresh.epoch = 7;
    attest_evidence_epoch_nonce (ev.nonce, s_vec_seed, pk, ev.fresh.prev);
    s_assert_vector ("epoch_nonce", ev.nonce, 32);
    attest_evidence_set_log (&ev, records, rlen, 0, 0, attest_log_state (log));
    uint8_t *body;
    size_t body_len;
    assert_int_equal (attest_evidence_encode (&ev, &body, &body_len), WD_OK);
    s_assert_vector ("node_body", body, body_len);
    free (body);
    uint8_t *env;
    size_t env_len;
    assert_int_equal (attest_evidence_seal (&ev, chain, test_sign_fn, sk, &env, &env_len), WD_OK);
    s_assert_vector ("node_envelope", env, env_len);

    /* It opens with the epoch inputs, and its id is the vector's. */
    static const uint8_t zero[32];
    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, pk, 32);
    attest_evidence_expect_t x = { .chain = chain,
                                   .key_fn = s_vec_key_fn,
                                   .key_ctx = pk,
                                   .subject = &subject,
                                   .seed_fn = s_vec_seed_fn,
                                   .prev = zero,
                                   .now = S_NOW,
                                   .max_age = 0,
                                   .max_skew = 0 };
    attest_evidence_t out;
    uint8_t id[32];
    attest_ima_state_t after;
    assert_int_equal (attest_evidence_open (env, env_len, &x, &out, id, &after), WD_OK);
    s_assert_vector ("node_id", id, 32);
    assert_int_equal (after.entries, 3);
    free (env);
    attest_log_destroy (&log);

    /* Host evidence: the C struct encodes to the Python body, and the
       Python envelope opens. */
    attest_evidence_t *h = calloc (1, sizeof *h);
    assert_non_null (h);
    attest_evidence_init (h, pk, "software", "not-supported", S_NOW);
    h->subject.kind = ATTEST_SUBJECT_HOST;
    snprintf (h->subject.host, sizeof h->subject.host, "52:54:00:12:34:56");
    memset (h->nonce, 0x44, 32);
    h->has_challenge = true;
    h->challenge.outcome = ATTEST_OUTCOME_FAIL;
    h->challenge.issued = S_NOW - 5;
    h->challenge.deadline = S_NOW + 5;
    memset (h->challenge.nonce, 0x33, 32);
    h->challenge.item_count = 3;
    snprintf (h->challenge.items[0].item, sizeof h->challenge.items[0].item, "cmdline");
    snprintf (h->challenge.items[1].item, sizeof h->challenge.items[1].item, "file:/usr/bin/ls");
    h->challenge.items[1].result = ATTEST_OUTCOME_FAIL;
    snprintf (h->challenge.items[1].why, sizeof h->challenge.items[1].why, "digest differs");
    snprintf (h->challenge.items[2].item, sizeof h->challenge.items[2].item, "modules");
    h->challenge.items[2].result = ATTEST_OUTCOME_MISSED;
    assert_int_equal (attest_evidence_encode (h, &body, &body_len), WD_OK);
    s_assert_vector ("host_body", body, body_len);
    free (body);
    env = test_vector_hex (S_VEC, "host_envelope", &env_len);
    uint8_t nonce[32];
    memset (nonce, 0x44, 32);
    attest_evidence_expect_t hx = { .chain = chain,
                                    .key_fn = s_vec_key_fn,
                                    .key_ctx = pk,
                                    .subject = &h->subject,
                                    .nonce = nonce,
                                    .now = S_NOW,
                                    .max_age = 0,
                                    .max_skew = 0 };
    attest_evidence_t *hout = calloc (1, sizeof *hout);
    assert_non_null (hout);
    assert_int_equal (attest_evidence_open (env, env_len, &hx, hout, NULL, NULL), WD_OK);
    assert_string_equal (hout->challenge.items[1].why, "digest differs");
    assert_int_equal (hout->challenge.items[2].result, ATTEST_OUTCOME_MISSED);
    free (hout);
    free (env);
    free (h);
    free (chain);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),     cmocka_unit_test (test_epoch_nonce),
        cmocka_unit_test (test_open_challenge), cmocka_unit_test (test_open_epoch),
        cmocka_unit_test (test_rejections),     cmocka_unit_test (test_malformed),
        cmocka_unit_test (test_vectors),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
