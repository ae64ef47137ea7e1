/*
 * Unit tests for attest_verdict: the tier rule over every trust vector,
 * appraisals of evidence against policies built here (passing, failing
 * executables and configuration, challenge failures and a missed
 * challenge, tamper and key protection), unknown policy, the whole
 * verifier step with its register and continuity checks, and sealing,
 * opening and strict decoding with the exact code of each rejection.
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

#include "attest_log.h"
#include "attest_verdict.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define S_NOW 1767225600u

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_pk_a[32], s_sk_a[64]; /* attester */
static uint8_t s_pk_v[32], s_sk_v[64]; /* verifier */
static uint8_t s_pk_x[32], s_sk_x[64]; /* stranger */

static bool
s_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    (void)ctx;
    if (memcmp (id, s_pk_a, 32) != 0 && memcmp (id, s_pk_v, 32) != 0)
        return false;
    snprintf (prot, WD_CERT_PROTECTION_MAX + 1, "software");
    return true;
}

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    randombytes_buf (s_chain, sizeof s_chain);
    crypto_sign_keypair (s_pk_a, s_sk_a);
    crypto_sign_keypair (s_pk_v, s_sk_v);
    crypto_sign_keypair (s_pk_x, s_sk_x);
    return 0;
}

/* ---- the tier rule ------------------------------------------------------------ */

static void
test_tier (void **state)
{
    (void)state;
    /* Every one of the 4^5 vectors, against the rule written out again. */
    for (unsigned code = 0; code < 1024; code++) {
        attest_trust_t c[ATTEST_CLAIM_COUNT];
        bool contra = false, warn = false;
        for (unsigned i = 0; i < ATTEST_CLAIM_COUNT; i++) {
            c[i] = (attest_trust_t)((code >> (2 * i)) & 3);
            contra |= c[i] == ATTEST_TRUST_CONTRAINDICATED;
            warn |= c[i] == ATTEST_TRUST_WARNING;
        }
        attest_trust_t want;
        if (contra)
            want = ATTEST_TRUST_CONTRAINDICATED;
        else if (!warn && c[ATTEST_CLAIM_EXECUTABLES] == ATTEST_TRUST_AFFIRMING &&
                 c[ATTEST_CLAIM_FRESHNESS] == ATTEST_TRUST_AFFIRMING)
            want = ATTEST_TRUST_AFFIRMING;
        else
            want = ATTEST_TRUST_WARNING;
        assert_int_equal (attest_verdict_tier (c), want);
    }
    assert_string_equal (attest_trust_name (ATTEST_TRUST_CONTRAINDICATED), "contraindicated");
    assert_string_equal (attest_claim_name (ATTEST_CLAIM_KEY_PROTECTION), "key_protection");
}

/* ---- fixtures ------------------------------------------------------------------ */

/* The lowercase hex SHA-256 of a word (a measured buffer holds its name). */
static void
s_hex (const char *word, char hex[65])
{
    uint8_t d[32];
    wd_hash_sha256 (d, word, strlen (word));
    wd_hex_encode (hex, d, 32);
}

/* A policy allowing /usr/bin/a, /usr/bin/b, /etc/app.conf and warden:config
   with their own names as content, and excluding /tmp/. */
static attest_policy_t *
s_policy (void)
{
    static const char *paths[] = { "/usr/bin/a", "/usr/bin/b", "/etc/app.conf", "warden:config" };
    char digests[1024] = "{";
    for (size_t i = 0; i < 4; i++) {
        char hex[65], item[256];
        s_hex (paths[i], hex);
        snprintf (item, sizeof item, "%s\"%s\": [\"%s\"]", i ? ", " : "", paths[i], hex);
        strncat (digests, item, sizeof digests - strlen (digests) - 1);
    }
    strncat (digests, "}", sizeof digests - strlen (digests) - 1);
    char json[2048];
    snprintf (json, sizeof json,
              "{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 0, \"digests\": %s, "
              "\"excludes\": [\"/tmp/\"], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
              "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
              "\"verification-keys\": \"\"}",
              digests);
    attest_policy_t *p = NULL;
    char why[256];
    int rc =
        attest_policy_from_json (json, strlen (json), "verdict-test", S_NOW, &p, why, sizeof why);
    if (rc != WD_OK)
        fail_msg ("policy: %s: %s", attest_err_name (rc), why);
    return p;
}

/* Logs each name with the name itself as content, or `content` when not
   NULL. */
static void
s_measure (attest_log_t *log, const char *name, const char *content)
{
    const char *c = content ? content : name;
    assert_int_equal (attest_log_measure_buffer (log, name, c, strlen (c)), WD_OK);
}

/* Evidence from A about itself with the log's delta after entry `from`,
   challenge nonce `nonce`. */
static void
s_evidence (attest_evidence_t *ev, const attest_log_t *log, uint64_t from, const uint8_t *nonce)
{
    attest_evidence_init (ev, s_pk_a, "software", "clear", S_NOW);
    memcpy (ev->nonce, nonce, 32);
    size_t all, len;
    (void)attest_log_binary (log, 0, &all);
    const uint8_t *records = attest_log_binary (log, from, &len);
    attest_evidence_set_log (ev, records, len, from, all - len, attest_log_state (log));
}

static attest_evidence_expect_t
s_expect (const attest_subject_t *subject, const uint8_t *nonce, const attest_ima_state_t *saved)
{
    attest_evidence_expect_t x = { 0 };
    x.chain = s_chain;
    x.key_fn = s_key_fn;
    x.subject = subject;
    x.nonce = nonce;
    x.now = S_NOW + 1;
    x.max_age = 60;
    x.max_skew = 10;
    x.saved = saved;
    return x;
}

static const uint8_t s_zero_id[32];

/* Appraises ev from the start against policy. */
static int
s_appraise (const attest_evidence_t *ev, const attest_policy_t *policy, attest_verdict_body_t *v)
{
    const attest_policy_t *list[] = { policy };
    char why[256];
    return attest_verdict_appraise (ev, s_zero_id, NULL, list, 1, attest_policy_id (policy),
                                    S_NOW + 1, v, NULL, why, sizeof why);
}

/* ---- appraisal ------------------------------------------------------------------ */

static void
test_appraise_pass (void **state)
{
    (void)state;
    attest_policy_t *policy = s_policy ();
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    s_measure (log, "/usr/bin/a", NULL);
    s_measure (log, "/etc/app.conf", NULL);
    s_measure (log, "/tmp/scratch", "anything"); /* excluded */
    uint8_t nonce[32] = { 9 };
    attest_evidence_t ev;
    s_evidence (&ev, log, 0, nonce);
    attest_verdict_body_t v;
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.claims[ATTEST_CLAIM_CONFIGURATION], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.claims[ATTEST_CLAIM_BOOT], ATTEST_TRUST_NONE); /* no TPM quote */
    assert_int_equal (v.claims[ATTEST_CLAIM_FRESHNESS], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.claims[ATTEST_CLAIM_KEY_PROTECTION], ATTEST_TRUST_NONE); /* software */
    assert_int_equal (v.tier, ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.failure_count, 0);
    assert_int_equal (v.first_count, 0);
    assert_memory_equal (v.policy, attest_policy_id (policy), 32);
    assert_int_equal (v.time, S_NOW + 1);

    /* Hardware key: affirming; tampered: contraindicated. */
    snprintf (ev.key_protection, sizeof ev.key_protection, "tpm");
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_KEY_PROTECTION], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.tier, ATTEST_TRUST_AFFIRMING);
    snprintf (ev.tamper, sizeof ev.tamper, "tampered");
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_KEY_PROTECTION], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);

    /* No log and no challenge: nothing measured, so no claim. */
    attest_evidence_init (&ev, s_pk_a, "software", "clear", S_NOW);
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_NONE);
    assert_int_equal (v.tier, ATTEST_TRUST_WARNING);

    /* Unknown policy id. */
    uint8_t other[32];
    memcpy (other, attest_policy_id (policy), 32);
    other[0] ^= 1;
    const attest_policy_t *list[] = { policy };
    assert_int_equal (
        attest_verdict_appraise (&ev, s_zero_id, NULL, list, 1, other, S_NOW, &v, NULL, NULL, 0),
        ATTEST_ERR_VERDICT_UNKNOWN_POLICY);
    assert_int_equal (
        attest_verdict_appraise (&ev, s_zero_id, NULL, NULL, 0, other, S_NOW, &v, NULL, NULL, 0),
        ATTEST_ERR_VERDICT_UNKNOWN_POLICY);
    attest_log_destroy (&log);
    attest_policy_destroy (&policy);
}

static void
test_appraise_failures (void **state)
{
    (void)state;
    attest_policy_t *policy = s_policy ();
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    s_measure (log, "/usr/bin/a", NULL);
    s_measure (log, "/usr/bin/evil", NULL);     /* 1: unknown path */
    s_measure (log, "/etc/app.conf", "edited"); /* 2: digest not allowed */
    s_measure (log, "/usr/bin/b", NULL);
    s_measure (log,
               "/opt/\xff\xfe"
               "bin",
               NULL); /* 4: not UTF-8 */
    uint8_t nonce[32] = { 1 };
    attest_evidence_t ev;
    s_evidence (&ev, log, 0, nonce);
    attest_verdict_body_t v;
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_CONFIGURATION], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_BOOT], ATTEST_TRUST_NONE); /* no TPM quote */
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.failure_count, 3);
    assert_int_equal (v.first_count, 3);
    assert_int_equal (v.first[0].index, 1);
    assert_string_equal (v.first[0].path, "/usr/bin/evil");
    assert_string_equal (v.first[0].reason, "unknown-path");
    assert_int_equal (v.first[1].index, 2);
    assert_string_equal (v.first[1].reason, "digest-not-allowed");
    assert_int_equal (v.first[2].index, 4);
    assert_string_equal (v.first[2].path, "/opt/??bin");

    /* The verdict encodes (paths made UTF-8) and decodes to itself. */
    uint8_t *body;
    size_t len;
    assert_int_equal (attest_verdict_encode (&v, &body, &len), WD_OK);
    attest_verdict_body_t back;
    assert_int_equal (attest_verdict_decode (body, len, &back), WD_OK);
    assert_memory_equal (&back.claims, &v.claims, sizeof v.claims);
    assert_string_equal (back.first[2].path, "/opt/??bin");
    free (body);

    /* Only configuration fails: executables stay affirming. */
    attest_log_destroy (&log);
    log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    s_measure (log, "/usr/bin/a", NULL);
    s_measure (log, "warden:config", "changed");
    s_evidence (&ev, log, 0, nonce);
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.claims[ATTEST_CLAIM_CONFIGURATION], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);

    /* More failures than are listed, and a long path cut at 255 bytes. */
    attest_log_destroy (&log);
    log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    char name[400];
    memset (name, 'x', sizeof name);
    name[0] = '/';
    name[sizeof name - 1] = '\0';
    s_measure (log, name, NULL);
    for (int i = 0; i < 10; i++) {
        char n[32];
        snprintf (n, sizeof n, "/bin/u%d", i);
        s_measure (log, n, NULL);
    }
    s_evidence (&ev, log, 0, nonce);
    assert_int_equal (s_appraise (&ev, policy, &v), WD_OK);
    assert_int_equal (v.failure_count, 11);
    assert_int_equal (v.first_count, ATTEST_VERDICT_FIRST_MAX);
    assert_int_equal (strlen (v.first[0].path), ATTEST_VERDICT_PATH_MAX);
    assert_int_equal (attest_verdict_encode (&v, &body, &len), WD_OK);
    free (body);
    attest_log_destroy (&log);
    attest_policy_destroy (&policy);
}

static void
test_appraise_challenge (void **state)
{
    (void)state;
    attest_policy_t *policy = s_policy ();
    attest_evidence_t *ev = calloc (1, sizeof *ev);
    assert_non_null (ev);
    attest_evidence_init (ev, s_pk_a, "software", "clear", S_NOW);
    ev->subject.kind = ATTEST_SUBJECT_HOST;
    snprintf (ev->subject.host, sizeof ev->subject.host, "52:54:00:aa:bb:cc");
    ev->has_challenge = true;
    attest_evidence_challenge_t *c = &ev->challenge;
    c->outcome = ATTEST_OUTCOME_PASS;
    c->issued = S_NOW - 1;
    c->deadline = S_NOW + 1;
    c->item_count = 3;
    snprintf (c->items[0].item, sizeof c->items[0].item, "cmdline");
    snprintf (c->items[1].item, sizeof c->items[1].item, "file:/etc/fstab");
    snprintf (c->items[2].item, sizeof c->items[2].item, "proc");
    attest_verdict_body_t v;
    assert_int_equal (s_appraise (ev, policy, &v), WD_OK);
    assert_int_equal (v.tier, ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.subject.kind, ATTEST_SUBJECT_HOST);
    assert_string_equal (v.subject.host, "52:54:00:aa:bb:cc");

    /* A failed kernel command line counts against the boot image, a
       failed /etc file against configuration. */
    c->outcome = ATTEST_OUTCOME_FAIL;
    c->items[0].result = ATTEST_OUTCOME_FAIL;
    c->items[1].result = ATTEST_OUTCOME_FAIL;
    assert_int_equal (s_appraise (ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_BOOT], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_CONFIGURATION], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_AFFIRMING);
    assert_int_equal (v.failure_count, 2);
    assert_string_equal (v.first[0].path, "cmdline");
    assert_string_equal (v.first[0].reason, "challenge-fail");
    assert_int_equal (v.first[1].index, 1);

    /* A missed challenge: freshness contraindicated. */
    c->outcome = ATTEST_OUTCOME_MISSED;
    for (size_t i = 0; i < 3; i++)
        c->items[i].result = ATTEST_OUTCOME_MISSED;
    assert_int_equal (s_appraise (ev, policy, &v), WD_OK);
    assert_int_equal (v.claims[ATTEST_CLAIM_FRESHNESS], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_EXECUTABLES], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_string_equal (v.first[2].reason, "challenge-missed");
    free (ev);
    attest_policy_destroy (&policy);
}

/* ---- the whole verifier step ------------------------------------------------------ */

static void
test_open_appraise (void **state)
{
    (void)state;
    attest_policy_t *policy = s_policy ();
    const attest_policy_t *list[] = { policy };
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    s_measure (log, "/usr/bin/a", NULL);
    s_measure (log, "/usr/bin/b", NULL);
    uint8_t nonce[32];
    randombytes_buf (nonce, 32);
    attest_evidence_t ev;
    s_evidence (&ev, log, 0, nonce);
    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_pk_a, 32);
    attest_evidence_expect_t x = s_expect (&subject, nonce, NULL);

    uint8_t *env;
    size_t len;
    assert_int_equal (attest_evidence_seal (&ev, s_chain, test_sign_fn, s_sk_a, &env, &len), WD_OK);
    attest_verdict_body_t v;
    attest_evidence_t got;
    attest_ima_state_t after;
    char why[256];
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1,
                                                    attest_policy_id (policy), &v, &got, &after,
                                                    why, sizeof why),
                      WD_OK);
    assert_int_equal (v.tier, ATTEST_TRUST_AFFIRMING);
    uint8_t id[32];
    attest_evidence_id (id, env, len);
    assert_memory_equal (v.evidence, id, 32);
    assert_int_equal (after.entries, 2);
    assert_memory_equal (after.sha256, attest_log_state (log)->sha256, 32);
    free (env);

    /* The next delta continues from the saved state. */
    s_measure (log, "/usr/bin/rogue", NULL);
    randombytes_buf (nonce, 32);
    s_evidence (&ev, log, 2, nonce);
    attest_ima_state_t saved = after;
    x = s_expect (&subject, nonce, &saved);
    assert_int_equal (attest_evidence_seal (&ev, s_chain, test_sign_fn, s_sk_a, &env, &len), WD_OK);
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1,
                                                    attest_policy_id (policy), &v, NULL, &after,
                                                    why, sizeof why),
                      WD_OK);
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.first[0].index, 2);
    assert_int_equal (after.entries, 3);
    free (env);

    /* Claimed registers that the delta does not give. */
    ev.log.sha256[3] ^= 0x10;
    assert_int_equal (attest_evidence_seal (&ev, s_chain, test_sign_fn, s_sk_a, &env, &len), WD_OK);
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1,
                                                    attest_policy_id (policy), &v, NULL, NULL, why,
                                                    sizeof why),
                      ATTEST_ERR_EVIDENCE_REGISTERS);
    free (env);
    ev.log.sha256[3] ^= 0x10;
    /* A delta that skips the saved state's last entry. */
    s_evidence (&ev, log, 0, nonce);
    assert_int_equal (attest_evidence_seal (&ev, s_chain, test_sign_fn, s_sk_a, &env, &len), WD_OK);
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1,
                                                    attest_policy_id (policy), &v, NULL, NULL, why,
                                                    sizeof why),
                      ATTEST_ERR_EVIDENCE_DELTA_GAP);
    /* Unknown policy, after the evidence was accepted. */
    x.saved = NULL;
    uint8_t other[32] = { 0 };
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1, other, &v, NULL, NULL,
                                                    why, sizeof why),
                      ATTEST_ERR_VERDICT_UNKNOWN_POLICY);
    /* Replayed nonce. */
    uint8_t old[32] = { 0 };
    x.nonce = old;
    assert_int_equal (attest_verdict_open_appraise (env, len, &x, list, 1,
                                                    attest_policy_id (policy), &v, NULL, NULL, why,
                                                    sizeof why),
                      ATTEST_ERR_EVIDENCE_NONCE);
    free (env);
    attest_log_destroy (&log);
    attest_policy_destroy (&policy);
}

/* ---- sealing, opening, decoding ---------------------------------------------------- */

static void
s_sample (attest_verdict_body_t *v)
{
    memset (v, 0, sizeof *v);
    memset (v->evidence, 0xee, 32);
    v->subject.kind = ATTEST_SUBJECT_NODE;
    memcpy (v->subject.node, s_pk_a, 32);
    memset (v->policy, 0x77, 32);
    for (size_t i = 0; i < ATTEST_CLAIM_COUNT; i++)
        v->claims[i] = ATTEST_TRUST_AFFIRMING;
    v->claims[ATTEST_CLAIM_CONFIGURATION] = ATTEST_TRUST_CONTRAINDICATED;
    v->tier = ATTEST_TRUST_CONTRAINDICATED;
    v->failure_count = 5;
    v->first_count = 1;
    v->first[0].index = 17;
    snprintf (v->first[0].path, sizeof v->first[0].path, "/etc/shadow");
    snprintf (v->first[0].reason, sizeof v->first[0].reason, "digest-not-allowed");
    v->time = S_NOW;
}

/* A verdict body written by hand with the given tier string. */
static uint8_t *
s_body_with_tier (const char *tier, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8);
    wd_writer_key (w, "claims");
    wd_writer_map (w, 5);
    const char *names[] = { "boot", "configuration", "executables", "freshness", "key_protection" };
    for (size_t i = 0; i < 5; i++) {
        wd_writer_key (w, names[i]);
        wd_writer_cstr (w, "affirming");
    }
    uint8_t id[32] = { 0 };
    wd_writer_key (w, "evidence");
    wd_writer_bin (w, id, 32);
    wd_writer_key (w, "failures");
    wd_writer_map (w, 2);
    wd_writer_key (w, "count");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "first");
    wd_writer_array (w, 0);
    wd_writer_key (w, "policy");
    wd_writer_bin (w, id, 32);
    wd_writer_key (w, "subject");
    attest_subject_t s = { .kind = ATTEST_SUBJECT_NODE };
    attest_subject_write (w, &s);
    wd_writer_key (w, "tier");
    wd_writer_cstr (w, tier);
    wd_writer_key (w, "time");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    uint8_t *body = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return body;
}

static void
test_seal_open (void **state)
{
    (void)state;
    attest_verdict_body_t v, back;
    s_sample (&v);
    uint8_t *env;
    size_t len;
    assert_int_equal (attest_verdict_seal (&v, s_chain, s_pk_v, test_sign_fn, s_sk_v, &env, &len),
                      WD_OK);
    uint8_t who[32];
    assert_int_equal (attest_verdict_open (env, len, s_chain, s_key_fn, NULL, &back, who), WD_OK);
    assert_memory_equal (who, s_pk_v, 32);
    assert_int_equal (back.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (back.failure_count, 5);
    assert_string_equal (back.first[0].path, "/etc/shadow");
    uint8_t *b1, *b2;
    size_t l1, l2;
    assert_int_equal (attest_verdict_encode (&v, &b1, &l1), WD_OK);
    assert_int_equal (attest_verdict_encode (&back, &b2, &l2), WD_OK);
    assert_int_equal (l1, l2);
    assert_memory_equal (b1, b2, l1);
    free (b2);

    /* Bad signature, unknown verifier, wrong chain, wrong type. */
    env[len - 40] ^= 1;
    assert_int_equal (attest_verdict_open (env, len, s_chain, s_key_fn, NULL, &back, NULL),
                      WD_ERR_BAD_SIGNATURE);
    env[len - 40] ^= 1;
    uint8_t chain2[32];
    memcpy (chain2, s_chain, 32);
    chain2[31] ^= 1;
    assert_int_equal (attest_verdict_open (env, len, chain2, s_key_fn, NULL, &back, NULL),
                      WD_ERR_WRONG_CHAIN);
    assert_int_equal (attest_verdict_open (env, len - 1, s_chain, s_key_fn, NULL, &back, NULL),
                      WD_ERR_TRUNCATED);
    free (env);
    assert_int_equal (attest_verdict_seal (&v, s_chain, s_pk_x, test_sign_fn, s_sk_x, &env, &len),
                      WD_OK);
    assert_int_equal (attest_verdict_open (env, len, s_chain, s_key_fn, NULL, &back, NULL),
                      ATTEST_ERR_VERDICT_UNKNOWN_VERIFIER);
    assert_int_equal (attest_verdict_open (env, len, s_chain, NULL, NULL, &back, NULL), WD_OK);
    free (env);
    assert_int_equal (
        wd_envelope_seal ("evidence", s_chain, s_pk_v, b1, l1, test_sign_fn, s_sk_v, &env, &len),
        WD_OK);
    assert_int_equal (attest_verdict_open (env, len, s_chain, s_key_fn, NULL, &back, NULL),
                      WD_ERR_UNEXPECTED_TYPE);
    free (env);

    /* Body: truncated, trailing, non-canonical, version. */
    assert_int_equal (attest_verdict_decode (b1, l1 - 1, &back), WD_ERR_TRUNCATED);
    uint8_t *longer = malloc (l1 + 1);
    assert_non_null (longer);
    memcpy (longer, b1, l1);
    longer[l1] = 0xc0;
    assert_int_equal (attest_verdict_decode (longer, l1 + 1, &back), WD_ERR_TRAILING);
    memcpy (longer, b1, l1);
    longer[l1 - 1] = 0xcc; /* "v": uint8 1 */
    longer[l1] = 0x01;
    assert_int_equal (attest_verdict_decode (longer, l1 + 1, &back), WD_ERR_INT_NONCANONICAL);
    free (longer);
    b1[l1 - 1] = 2;
    assert_int_equal (attest_verdict_decode (b1, l1, &back), WD_ERR_BAD_VERSION);
    free (b1);

    /* A tier that is not the rule's, and one that is not a tier. */
    uint8_t *body = s_body_with_tier ("affirming", &len);
    assert_int_equal (attest_verdict_decode (body, len, &back), WD_OK);
    free (body);
    body = s_body_with_tier ("warning", &len);
    assert_int_equal (attest_verdict_decode (body, len, &back), ATTEST_ERR_VERDICT_TIER);
    free (body);
    body = s_body_with_tier ("great", &len);
    assert_int_equal (attest_verdict_decode (body, len, &back), ATTEST_ERR_VERDICT_FIELD);
    free (body);

    /* Encode refuses a tier off the rule, more listed than counted, a bad
       reason. */
    s_sample (&v);
    v.tier = ATTEST_TRUST_WARNING;
    assert_int_equal (attest_verdict_encode (&v, &b1, &l1), ATTEST_ERR_VERDICT_FIELD);
    s_sample (&v);
    v.failure_count = 0;
    assert_int_equal (attest_verdict_encode (&v, &b1, &l1), ATTEST_ERR_VERDICT_FIELD);
    s_sample (&v);
    snprintf (v.first[0].reason, sizeof v.first[0].reason, "Bad Reason");
    assert_int_equal (attest_verdict_encode (&v, &b1, &l1), ATTEST_ERR_VERDICT_FIELD);
}

/* ---- known answers (tests/vectors/evidence, from the Python implementation) --- */

static void
test_vectors (void **state)
{
    (void)state;
    const char *file = "evidence/evidence.txt";
    size_t len, blen, elen;
    uint8_t *chain = test_vector_hex (file, "chain", &len);
    uint8_t *pk = test_vector_hex (file, "verifier", &len);
    uint8_t *node = test_vector_hex (file, "attester", &len);
    uint8_t *id = test_vector_hex (file, "node_id", &len);
    uint8_t *body = test_vector_hex (file, "verdict_body", &blen);
    uint8_t *env = test_vector_hex (file, "verdict_envelope", &elen);

    attest_verdict_body_t v;
    assert_int_equal (attest_verdict_decode (body, blen, &v), WD_OK);
    assert_memory_equal (v.evidence, id, 32);
    assert_memory_equal (v.subject.node, node, 32);
    assert_int_equal (v.claims[ATTEST_CLAIM_CONFIGURATION], ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.claims[ATTEST_CLAIM_KEY_PROTECTION], ATTEST_TRUST_NONE);
    assert_int_equal (v.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_int_equal (v.failure_count, 1);
    assert_int_equal (v.first[0].index, 2);
    assert_string_equal (v.first[0].path, "/etc/app.conf");
    assert_string_equal (v.first[0].reason, "digest-not-allowed");
    assert_int_equal (v.time, S_NOW + 1);
    uint8_t *again;
    size_t again_len;
    assert_int_equal (attest_verdict_encode (&v, &again, &again_len), WD_OK);
    assert_int_equal (again_len, blen);
    assert_memory_equal (again, body, blen);
    free (again);

    /* The Python envelope opens; the C seal of the same body is the same
       bytes (Ed25519 is deterministic). */
    uint8_t who[32];
    attest_verdict_body_t opened;
    assert_int_equal (attest_verdict_open (env, elen, chain, NULL, NULL, &opened, who), WD_OK);
    assert_memory_equal (who, pk, 32);
    uint8_t *seed = test_vector_hex (file, "verifier_seed", &len);
    uint8_t vpk[32], vsk[64];
    crypto_sign_seed_keypair (vpk, vsk, seed);
    uint8_t *sealed;
    size_t sealed_len;
    assert_int_equal (attest_verdict_seal (&v, chain, vpk, test_sign_fn, vsk, &sealed, &sealed_len),
                      WD_OK);
    assert_int_equal (sealed_len, elen);
    assert_memory_equal (sealed, env, elen);
    free (sealed);
    free (seed);
    free (chain);
    free (pk);
    free (node);
    free (id);
    free (body);
    free (env);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_tier),
        cmocka_unit_test (test_appraise_pass),
        cmocka_unit_test (test_appraise_failures),
        cmocka_unit_test (test_appraise_challenge),
        cmocka_unit_test (test_open_appraise),
        cmocka_unit_test (test_seal_open),
        cmocka_unit_test (test_vectors),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
