/*
 * cons_test_chain: the test cluster of cons_test_chain.h.
 */
#include "cons_test_chain.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_verdict.h"
#include "cons_member_tx.h"
#include "cons_reputation.h"
#include "wd_codec.h"

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
}

static void
s_check (int err, const char *what)
{
    if (err != 0) {
        fprintf (stderr, "tchain: %s: %d\n", what, err);
        abort ();
    }
}

void
tchain_init (tchain_t *t, size_t n, uint32_t software_mask, uint64_t epoch_blocks,
             uint64_t lookback)
{
    assert (n >= 1 && n <= TCHAIN_NODES_MAX);
    s_check (sodium_init () < 0, "sodium_init");
    memset (t, 0, sizeof *t);
    wd_genesis_t *g = wd_genesis_new ("test-ledger", 1700000000);
    uint8_t pk[TCHAIN_NODES_MAX][32], sk[TCHAIN_NODES_MAX][64];
    uint8_t seeds[TCHAIN_NODES_MAX];
    for (size_t i = 0; i < n; i++) {
        uint8_t seed[32] = { (uint8_t)(i + 1) };
        seeds[i] = (uint8_t)(i + 1);
        crypto_sign_seed_keypair (pk[i], sk[i], seed);
    }
    /* genesis order (ascending key), so that node i is genesis node i */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && memcmp (pk[j - 1], pk[j], 32) > 0; j--) {
            uint8_t tp[32], ts[64], tseed = seeds[j];
            memcpy (tp, pk[j], 32);
            memcpy (ts, sk[j], 64);
            memcpy (pk[j], pk[j - 1], 32);
            memcpy (sk[j], sk[j - 1], 64);
            memcpy (pk[j - 1], tp, 32);
            memcpy (sk[j - 1], ts, 64);
            seeds[j] = seeds[j - 1];
            seeds[j - 1] = tseed;
        }
    for (size_t i = 0; i < n; i++) {
        uint8_t seed[32] = { seeds[i] }, vpk[32], vsk[64], cpk[32], csk[32];
        seed[1] = 1;
        crypto_sign_seed_keypair (vpk, vsk, seed);
        memcpy (t->vrf_seed[i], seed, 32);
        seed[1] = 2;
        crypto_box_seed_keypair (cpk, csk, seed);
        wd_cert_t cert = { .created = 1700000000 };
        snprintf (cert.name, sizeof cert.name, "node%zu", i);
        snprintf (cert.key_protection, sizeof cert.key_protection, "%s",
                  (software_mask >> i) & 1 ? "software" : "tpm");
        memcpy (cert.sign_pk, pk[i], 32);
        memcpy (cert.vrf_pk, vpk, 32);
        memcpy (cert.curve_pk, cpk, 32);
        uint8_t *bytes;
        size_t len;
        s_check (wd_cert_seal (&cert, s_sign, sk[i], &bytes, &len), "cert");
        s_check (wd_genesis_add_node (g, bytes, len), "add node");
        free (bytes);
    }
    char value[32];
    if (epoch_blocks) {
        snprintf (value, sizeof value, "%llu", (unsigned long long)epoch_blocks);
        s_check (wd_genesis_set_param (g, "epoch_blocks", value), "epoch_blocks");
    }
    if (lookback) {
        snprintf (value, sizeof value, "%llu", (unsigned long long)lookback);
        s_check (wd_genesis_set_param (g, "seed_lookback", value), "seed_lookback");
    }
    uint8_t *bytes;
    size_t len;
    s_check (wd_genesis_encode (g, &bytes, &len), "encode");
    wd_genesis_destroy (&g);
    s_check (wd_genesis_decode (bytes, len, &t->genesis), "decode");
    free (bytes);
    t->n = n;
    wd_genesis_chain_id (t->genesis, t->chain);
    for (size_t i = 0; i < n; i++) {
        const wd_cert_t *c = wd_genesis_node (t->genesis, i);
        for (size_t j = 0; j < n; j++)
            if (memcmp (pk[j], c->sign_pk, 32) == 0) {
                memcpy (t->pk[i], pk[j], 32);
                memcpy (t->sk[i], sk[j], 64);
            }
    }
}

void
tchain_fini (tchain_t *t)
{
    wd_genesis_destroy (&t->genesis);
    sodium_memzero (t->sk, sizeof t->sk);
}

int
tchain_index (const tchain_t *t, const uint8_t pk[32])
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp (t->pk[i], pk, 32) == 0)
            return (int)i;
    return -1;
}

static void
s_vote_sig (const tchain_t *t, size_t node, uint64_t height, const uint8_t id[32], uint8_t sig[64])
{
    cons_msg_t msg = { .kind = CONS_PRECOMMIT, .height = height, .round = 0 };
    memcpy (msg.block_id, id, 32);
    uint8_t digest[32];
    cons_msg_digest (&msg, t->chain, digest);
    crypto_sign_detached (sig, NULL, digest, 32, t->sk[node]);
}

uint8_t *
tchain_cert (const tchain_t *t, const cons_validator_t *set, size_t count, uint64_t height,
             const uint8_t *block, size_t len, uint32_t skip_mask, size_t *cert_len)
{
    cons_cert_sig_t sigs[TCHAIN_NODES_MAX];
    cons_cert_t cert = { .height = height, .round = 0, .sigs = sigs };
    cons_block_id (block, len, cert.block_id);
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        if ((skip_mask >> i) & 1)
            continue;
        int node = tchain_index (t, set[i].pk);
        assert (node >= 0);
        sigs[k].index = (uint32_t)i;
        s_vote_sig (t, (size_t)node, height, cert.block_id, sigs[k].sig);
        k++;
    }
    cert.count = k;
    return cons_cert_encode (&cert, cert_len);
}

uint8_t *
tchain_verdict (const tchain_t *t, size_t signer, size_t subject, bool pass, uint64_t nonce,
                size_t *len)
{
    attest_verdict_body_t v;
    memset (&v, 0, sizeof v);
    memcpy (v.evidence, &nonce, sizeof nonce);
    v.evidence[31] = (uint8_t)subject;
    v.subject.kind = ATTEST_SUBJECT_NODE;
    memcpy (v.subject.node, t->pk[subject], 32);
    for (int c = 0; c < ATTEST_CLAIM_COUNT; c++)
        v.claims[c] = ATTEST_TRUST_AFFIRMING;
    if (!pass) {
        v.claims[ATTEST_CLAIM_EXECUTABLES] = ATTEST_TRUST_CONTRAINDICATED;
        v.failure_count = 1;
    }
    v.tier = attest_verdict_tier (v.claims);
    v.time = 1700000000 + nonce;
    uint8_t *out;
    s_check (
        attest_verdict_seal (&v, t->chain, t->pk[signer], s_sign, (void *)t->sk[signer], &out, len),
        "verdict");
    return out;
}

uint8_t *
tchain_equivocation (const tchain_t *t, size_t signer, size_t culprit, uint64_t height, size_t *len)
{
    cons_evidence_t ev = { .kind = CONS_PRECOMMIT, .height = height, .round = 0 };
    memcpy (ev.validator, t->pk[culprit], 32);
    memset (ev.block_a, 0xaa, 32);
    memset (ev.block_b, 0xbb, 32);
    s_vote_sig (t, culprit, height, ev.block_a, ev.sig_a);
    s_vote_sig (t, culprit, height, ev.block_b, ev.sig_b);
    size_t body_len;
    uint8_t *body = cons_evidence_encode (&ev, &body_len);
    uint8_t *out;
    s_check (wd_envelope_seal (CONS_REP_EQUIVOCATION_TYPE, t->chain, t->pk[signer], body, body_len,
                               s_sign, (void *)t->sk[signer], &out, len),
             "equivocation");
    free (body);
    return out;
}

uint8_t *
tchain_note (const tchain_t *t, size_t signer, const char *type, uint64_t nonce, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "n");
    wd_writer_uint (w, nonce);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    uint8_t *out;
    s_check (wd_envelope_seal (type, t->chain, t->pk[signer], body, body_len, s_sign,
                               (void *)t->sk[signer], &out, len),
             "note");
    wd_writer_destroy (&w);
    return out;
}

int
tchain_commit (const tchain_t *t, cons_ledger_t *ledger, const cons_bytes_t *records, size_t count,
               uint32_t skip_mask, uint64_t time_ms)
{
    uint64_t height = cons_ledger_height (ledger) + 1;
    const cons_validator_t *set;
    size_t n;
    s_check (cons_ledger_validators (ledger, height, &set, &n), "validators");
    const uint8_t *proposer = set[0].pk;
    for (size_t i = 0; i < n; i++)
        if (memcmp (set[i].pk, t->pk[0], 32) == 0)
            proposer = t->pk[0];
    uint8_t *block;
    size_t len;
    s_check (cons_ledger_propose (ledger, time_ms, proposer, NULL, records, count, &block, &len),
             "propose");
    size_t cert_len;
    uint8_t *cert = tchain_cert (t, set, n, height, block, len, skip_mask, &cert_len);
    int err = cons_ledger_append (ledger, block, len, cert, cert_len);
    free (block);
    free (cert);
    return err;
}

uint8_t *
tchain_evidence (const tchain_t *t, size_t attester, uint64_t nonce, size_t *len)
{
    attest_evidence_t *ev = calloc (1, sizeof *ev);
    s_check (ev ? WD_OK : WD_ERR_NOMEM, "evidence");
    attest_evidence_init (ev, t->pk[attester], "tpm", "clear", 1700000000 + nonce);
    ev->fresh.kind = ATTEST_FRESH_EPOCH;
    ev->fresh.epoch = 1;
    memcpy (ev->nonce, &nonce, sizeof nonce);
    ev->has_log = true;
    ev->log.pcr = 10;
    memset (ev->log.sha256, (int)(nonce & 0xff), 32);
    uint8_t *body, *out;
    size_t body_len;
    s_check (attest_evidence_encode (ev, &body, &body_len), "evidence encode");
    s_check (wd_envelope_seal (ATTEST_EVIDENCE_TYPE, t->chain, t->pk[attester], body, body_len,
                               s_sign, (void *)t->sk[attester], &out, len),
             "evidence seal");
    free (body);
    free (ev);
    return out;
}

uint8_t *
tchain_cverdict (const tchain_t *t, size_t signer, const uint8_t evidence[32], size_t subject,
                 bool pass, uint64_t epoch, const cons_sortition_claim_t *claim, size_t *len)
{
    attest_subject_t about = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (about.node, t->pk[subject], 32);
    return tchain_cverdict_about (t, signer, evidence, &about, pass, epoch, claim, len);
}

uint8_t *
tchain_cverdict_about (const tchain_t *t, size_t signer, const uint8_t evidence[32],
                       const attest_subject_t *subject, bool pass, uint64_t epoch,
                       const cons_sortition_claim_t *claim, size_t *len)
{
    cons_committee_verdict_t *cv = calloc (1, sizeof *cv);
    s_check (cv ? WD_OK : WD_ERR_NOMEM, "cverdict");
    cv->epoch = epoch;
    if (claim) {
        cv->has_claim = true;
        cv->claim = *claim;
    }
    attest_verdict_body_t *v = &cv->verdict;
    memcpy (v->evidence, evidence, 32);
    v->subject = *subject;
    for (int c = 0; c < ATTEST_CLAIM_COUNT; c++)
        v->claims[c] = pass ? ATTEST_TRUST_AFFIRMING : ATTEST_TRUST_CONTRAINDICATED;
    v->tier = attest_verdict_tier (v->claims);
    v->failure_count = pass ? 0 : 1;
    v->time = 1700000000;
    uint8_t *out;
    s_check (cons_committee_verdict_seal (cv, t->chain, t->pk[signer], s_sign,
                                          (void *)t->sk[signer], &out, len),
             "cverdict seal");
    free (cv);
    return out;
}

void
tchain_newcomer (tchain_newcomer_t *n, const char *name, uint8_t seed)
{
    uint8_t bytes[32];
    memset (n, 0, sizeof *n);
    memset (bytes, seed, sizeof bytes);
    crypto_sign_seed_keypair (n->pk, n->sk, bytes);
    wd_cert_t c = { .created = 1700000000 + seed };
    snprintf (c.name, sizeof c.name, "%s", name);
    snprintf (c.key_protection, sizeof c.key_protection, "software");
    memcpy (c.sign_pk, n->pk, 32);
    memset (c.vrf_pk, seed + 1, 32);
    memset (c.curve_pk, seed + 2, 32);
    s_check (wd_cert_seal (&c, s_sign, n->sk, &n->cert, &n->cert_len), "newcomer cert");
}

void
tchain_newcomer_fini (tchain_newcomer_t *n)
{
    free (n->cert);
    sodium_memzero (n, sizeof *n);
}

uint8_t *
tchain_join (const tchain_t *t, const tchain_newcomer_t *n, const uint8_t *pk, const uint8_t *sk,
             const uint8_t *request_chain, size_t *len)
{
    size_t body_len, req_len, join_len;
    uint8_t *body = cons_join_request_body (n->cert, n->cert_len, &body_len), *req, *out;
    s_check (wd_envelope_seal (CONS_JOIN_REQUEST_TYPE, request_chain ? request_chain : t->chain,
                               n->pk, body, body_len, s_sign, (void *)n->sk, &req, &req_len),
             "join-request seal");
    uint8_t *join = cons_join_body (req, req_len, &join_len);
    s_check (wd_envelope_seal (CONS_JOIN_TYPE, t->chain, pk, join, join_len, s_sign, (void *)sk,
                               &out, len),
             "join seal");
    free (body);
    free (req);
    free (join);
    return out;
}

uint8_t *
tchain_leave (const tchain_t *t, const uint8_t *pk, const uint8_t *sk, const uint8_t node[32],
              size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_leave_body (node, &body_len), *out;
    s_check (wd_envelope_seal (CONS_LEAVE_TYPE, t->chain, pk, body, body_len, s_sign, (void *)sk,
                               &out, len),
             "leave seal");
    free (body);
    return out;
}
