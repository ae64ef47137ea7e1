/*
 * Fuzz harness for committee verdict bodies as they arrive from peers and
 * in blocks (docs/PROTOCOL.md "Committee verdict record"): the decoder
 * (cons_committee_verdict_decode, which reads the sortition claim and the
 * wrapped verdict body), then, on whatever decodes, the claim check against
 * a fixed committee epoch of the four-node test chain
 * (cons_committee_check_claim), and the whole tracker path: the body sealed
 * by node 2 and given to a fresh cons_committee_t that holds that epoch.
 *
 * Nothing may crash or read out of bounds; whatever decodes must be
 * canonical (encoding the decoded value gives back the input bytes); a
 * failed decode must leave the value zeroed; and the one genuinely valid
 * body (node 2's real claim for evidence 32 x 0xe1 about node 1, made at
 * start with the real VRF; also the seed corpus file `valid`) must pass the
 * claim check and be kept by the tracker, so a checker that refuses
 * everything cannot pass unnoticed.
 *
 * Run with FUZZ_COMMITTEE_WRITE=DIR to write the seed corpus (valid and
 * invalid bodies) into DIR and exit.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_committee.h"
#include "cons_test_chain.h"
#include "wd_vrf.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_SIGNER  2 /* the verifier that seals fuzzed bodies */
#define S_SUBJECT 1
#define S_TAU     6

static tchain_t s_t;
static cons_validator_t s_set[4];
static cons_committee_epoch_t s_ep;
static uint8_t s_evidence[32];
static uint8_t *s_valid;
static size_t s_valid_len;

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
}

/* The committee verdict body of node S_SIGNER about S_SUBJECT's evidence,
   with claim (NULL: an escalation verdict). Caller frees. */
static uint8_t *
s_body (const cons_sortition_claim_t *claim, bool pass, size_t *len)
{
    cons_committee_verdict_t cv;
    memset (&cv, 0, sizeof cv);
    cv.epoch = s_ep.epoch;
    if (claim) {
        cv.has_claim = true;
        cv.claim = *claim;
    }
    memcpy (cv.verdict.evidence, s_evidence, 32);
    cv.verdict.subject.kind = ATTEST_SUBJECT_NODE;
    memcpy (cv.verdict.subject.node, s_t.pk[S_SUBJECT], 32);
    for (int c = 0; c < ATTEST_CLAIM_COUNT; c++)
        cv.verdict.claims[c] = pass ? ATTEST_TRUST_AFFIRMING : ATTEST_TRUST_CONTRAINDICATED;
    cv.verdict.tier = attest_verdict_tier (cv.verdict.claims);
    cv.verdict.failure_count = pass ? 0 : 1;
    cv.verdict.time = 1700000000;
    uint8_t *out;
    if (cons_committee_verdict_encode (&cv, &out, len) != WD_OK)
        abort ();
    return out;
}

static void
s_write (const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (data, 1, len, f) != len || fclose (f) != 0)
        abort ();
}

/* The seed corpus: the valid body, an escalation verdict, and invalid
   variants (wrong version, truncated, a forged count, a claim that is not
   a map, an unknown key). */
static void
s_write_corpus (const char *dir, const cons_sortition_claim_t *claim)
{
    s_write (dir, "valid", s_valid, s_valid_len);
    size_t len;
    uint8_t *b = s_body (NULL, false, &len);
    s_write (dir, "escalation_reject", b, len);
    free (b);
    cons_sortition_claim_t forged = *claim;
    forged.count++;
    b = s_body (&forged, true, &len);
    s_write (dir, "count_forged", b, len);
    free (b);
    s_write (dir, "truncated", s_valid, s_valid_len - 7);
    b = malloc (s_valid_len);
    if (!b)
        abort ();
    memcpy (b, s_valid, s_valid_len);
    for (size_t i = 0; i + 2 < s_valid_len; i++)
        if (b[i] == 0xa1 && b[i + 1] == 'v' && b[i + 2] == 0x01)
            b[i + 2] = 0x02;
    s_write (dir, "version_2", b, s_valid_len);
    /* {claim: 1, epoch: 3, v: 1, verdict: ""} */
    static const uint8_t not_map[] = { 0x84, 0xa5, 'c', 'l', 'a',  'i',  'm',  0x01, 0xa5, 'e',
                                       'p',  'o',  'c', 'h', 0x03, 0xa1, 'v',  0x01, 0xa7, 'v',
                                       'e',  'r',  'd', 'i', 'c',  't',  0xc4, 0x00 };
    s_write (dir, "claim_not_map", not_map, sizeof not_map);
    /* {epoch: 3, v: 1, verdict: "", zzz: 0} */
    static const uint8_t extra[] = { 0x84, 0xa5, 'e',  'p',  'o', 'c', 'h', 0x03, 0xa1,
                                     'v',  0x01, 0xa7, 'v',  'e', 'r', 'd', 'i',  'c',
                                     't',  0xc4, 0x00, 0xa3, 'z', 'z', 'z', 0x00 };
    s_write (dir, "extra_key", extra, sizeof extra);
    free (b);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tchain_init (&s_t, 4, 0, 4, 1);
    for (size_t i = 0; i < 4; i++) {
        memcpy (s_set[i].pk, s_t.pk[i], 32);
        s_set[i].weight = 1;
    }
    s_ep.epoch = 3;
    s_ep.height = 13;
    memset (s_ep.seed, 0x5e, sizeof s_ep.seed);
    s_ep.validators = s_set;
    s_ep.count = 4;
    memset (s_evidence, 0xe1, sizeof s_evidence);

    wd_vrf_key_t *key = wd_vrf_key_new (s_t.vrf_seed[S_SIGNER]);
    if (!key)
        abort ();
    cons_sortition_input_t in;
    cons_sortition_claim_t claim;
    cons_committee_input (s_t.chain, &s_ep, s_evidence, s_t.pk[S_SIGNER], S_TAU, &in);
    if (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, &claim) != WD_OK || claim.count == 0)
        abort ();
    wd_vrf_key_destroy (&key);
    s_valid = s_body (&claim, true, &s_valid_len);

    const char *dir = getenv ("FUZZ_COMMITTEE_WRITE");
    if (dir) {
        s_write_corpus (dir, &claim);
        exit (0);
    }
    /* the valid body must pass, or the harness proves nothing */
    if (LLVMFuzzerTestOneInput (s_valid, s_valid_len) != 0)
        abort ();
    return 0;
}

static bool
s_all_zero (const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cons_committee_verdict_t cv;
    if (cons_committee_verdict_decode (data, size, &cv) != WD_OK) {
        if (!s_all_zero (&cv, sizeof cv))
            abort ();
        return 0;
    }
    uint8_t *again;
    size_t len;
    if (cons_committee_verdict_encode (&cv, &again, &len) != WD_OK || len != size ||
        memcmp (again, data, size) != 0)
        abort ();
    free (again);
    bool is_valid = size == s_valid_len && memcmp (data, s_valid, size) == 0;

    int claim_rc = WD_OK;
    if (cv.has_claim) {
        /* the epoch is not part of the VRF input: check against the fixed
           epoch's seed and set whatever epoch the body names */
        cons_committee_epoch_t ep = s_ep;
        ep.epoch = cv.epoch;
        claim_rc =
            cons_committee_check_claim (s_t.chain, s_t.genesis, &ep, S_TAU, s_t.pk[S_SIGNER], &cv);
    }
    if (is_valid && claim_rc != WD_OK)
        abort ();

    /* the tracker: sealed by the signer, for the fixed epoch */
    uint8_t *env;
    if (cons_committee_verdict_seal (&cv, s_t.chain, s_t.pk[S_SIGNER], s_sign,
                                     (void *)s_t.sk[S_SIGNER], &env, &len) != WD_OK)
        abort ();
    cons_committee_config_t cfg = { .genesis = s_t.genesis, .tau = S_TAU };
    memcpy (cfg.chain, s_t.chain, 32);
    cons_committee_t *c = cons_committee_new (&cfg);
    if (!c || cons_committee_set_epoch (c, &s_ep) != WD_OK)
        abort ();
    int rc = cons_committee_add_verdict (c, env, len, 1);
    if (is_valid && rc != WD_OK)
        abort ();
    if (rc == WD_OK) {
        cons_committee_status_t st;
        if (cons_committee_status (c, cv.verdict.evidence, &st) != WD_OK || st.has_evidence)
            abort ();
        cons_bytes_t out[4];
        (void)cons_committee_propose (c, s_ep.height + 1, out, 4, 1 << 20);
    }
    cons_committee_destroy (&c);
    free (env);
    return 0;
}
