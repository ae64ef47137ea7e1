/*
 * Unit tests for the membership transactions (cons_member_tx, applied by
 * cons_reputation and judged by cons_ledger; docs/PROTOCOL.md "Membership
 * transactions"): a sponsored join appends a row and makes the node a
 * member (not a validator); every rejection reason of join and leave,
 * exactly; records of a joined node count from the next block; a node that
 * left is out of the next sets and its records are refused; the chain
 * re-verifies and replays to the same table.
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

#include "cons_err.h"
#include "cons_ledger.h"
#include "cons_member_tx.h"
#include "cons_test_chain.h"
#include "test_support.h"
#include "wd_codec.h"

static tchain_t s_t;
static char s_path[512];
static int s_counter;

/* A node that is not in the genesis. */
typedef struct {
    uint8_t pk[32], sk[64];
    uint8_t *cert;
    size_t cert_len;
} s_newcomer_t;

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
}

static int
s_setup (void **state)
{
    (void)state;
    tchain_init (&s_t, 4, 0x1, 3, 1); /* epochs of 3 blocks, lookback 1 */
    return 0;
}

static int
s_teardown (void **state)
{
    tchain_fini (&s_t);
    return test_tmpdir_teardown (state);
}

static cons_ledger_t *
s_open (const char *path)
{
    if (!path) {
        snprintf (s_path, sizeof s_path, "%s/member-%d.db", test_tmpdir (), ++s_counter);
        path = s_path;
    }
    cons_ledger_t *l;
    char why[256];
    assert_int_equal (
        cons_ledger_open (path, s_t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why), WD_OK);
    return l;
}

/* A newcomer named name; a non-NULL vrf_pk is used as its VRF key (to make
   a duplicate). */
static void
s_newcomer (s_newcomer_t *n, const char *name, const uint8_t *vrf_pk)
{
    crypto_sign_keypair (n->pk, n->sk);
    wd_cert_t c = { .created = 1767225600 };
    snprintf (c.name, sizeof c.name, "%s", name);
    snprintf (c.key_protection, sizeof c.key_protection, "software");
    memcpy (c.sign_pk, n->pk, 32);
    if (vrf_pk)
        memcpy (c.vrf_pk, vrf_pk, 32);
    else
        randombytes_buf (c.vrf_pk, 32);
    randombytes_buf (c.curve_pk, 32);
    assert_int_equal (wd_cert_seal (&c, s_sign, n->sk, &n->cert, &n->cert_len), WD_OK);
}

/* type: the request's envelope type; signer_sk/pk: who signs it; chain. */
static uint8_t *
s_request (const s_newcomer_t *n, const char *type, const uint8_t *chain, const uint8_t *pk,
           const uint8_t *sk, size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_join_request_body (n->cert, n->cert_len, &body_len);
    uint8_t *out;
    assert_int_equal (
        wd_envelope_seal (type, chain, pk, body, body_len, s_sign, (void *)sk, &out, len), WD_OK);
    free (body);
    return out;
}

/* A join record around request, sealed by sponsor (pk, sk); version v. */
static uint8_t *
s_join_raw (const uint8_t *request, size_t request_len, const uint8_t *pk, const uint8_t *sk,
            uint64_t v, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "request");
    wd_writer_bin (w, request, request_len);
    wd_writer_key (w, "v");
    wd_writer_uint (w, v);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    uint8_t *out;
    assert_int_equal (wd_envelope_seal (CONS_JOIN_TYPE, s_t.chain, pk, body, body_len, s_sign,
                                        (void *)sk, &out, len),
                      WD_OK);
    wd_writer_destroy (&w);
    return out;
}

/* The usual join of n sponsored by genesis node sponsor. */
static uint8_t *
s_join (const s_newcomer_t *n, size_t sponsor, size_t *len)
{
    size_t rlen;
    uint8_t *req = s_request (n, CONS_JOIN_REQUEST_TYPE, s_t.chain, n->pk, n->sk, &rlen);
    uint8_t *out = s_join_raw (req, rlen, s_t.pk[sponsor], s_t.sk[sponsor], 1, len);
    free (req);
    return out;
}

static uint8_t *
s_leave (const uint8_t *node, const uint8_t *pk, const uint8_t *sk, size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_leave_body (node, &body_len);
    uint8_t *out;
    assert_int_equal (wd_envelope_seal (CONS_LEAVE_TYPE, s_t.chain, pk, body, body_len, s_sign,
                                        (void *)sk, &out, len),
                      WD_OK);
    free (body);
    return out;
}

/* What cons_ledger_check_block says of the next block holding records
   (taken: freed here). */
static int
s_check (cons_ledger_t *l, uint8_t **recs, const size_t *lens, size_t count)
{
    cons_bytes_t r[8];
    assert_true (count <= 8);
    for (size_t i = 0; i < count; i++)
        r[i] = (cons_bytes_t){ recs[i], lens[i] };
    uint8_t *block;
    size_t len;
    uint64_t t;
    cons_ledger_tip (l, NULL, NULL, &t);
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, cons_ledger_height (l) + 1, &set, &n), WD_OK);
    assert_int_equal (cons_ledger_propose (l, t + 1000, set[0].pk, r, count, &block, &len), WD_OK);
    int err = cons_ledger_check_block (l, block, len);
    free (block);
    for (size_t i = 0; i < count; i++)
        free (recs[i]);
    return err;
}

/* Commits records (taken) and asserts WD_OK. */
static void
s_commit (cons_ledger_t *l, uint8_t **recs, const size_t *lens, size_t count)
{
    cons_bytes_t r[8];
    for (size_t i = 0; i < count; i++)
        r[i] = (cons_bytes_t){ recs[i], lens[i] };
    uint64_t t;
    cons_ledger_tip (l, NULL, NULL, &t);
    assert_int_equal (tchain_commit (&s_t, l, r, count, 0, t + 1000), WD_OK);
    for (size_t i = 0; i < count; i++)
        free (recs[i]);
}

static bool
s_in_set (cons_ledger_t *l, uint64_t height, const uint8_t *pk)
{
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, height, &set, &n), WD_OK);
    for (size_t i = 0; i < n; i++)
        if (memcmp (set[i].pk, pk, 32) == 0)
            return true;
    return false;
}

static void
test_join (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open (NULL);
    char path[sizeof s_path];
    snprintf (path, sizeof path, "%s", s_path);
    s_newcomer_t a;
    s_newcomer (&a, "joiner-a", NULL);
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    uint64_t version = cons_reputation_members_version (rep);

    /* the joiner's own record is refused before its join is committed,
       and in the block that commits it */
    uint8_t *recs[8];
    size_t lens[8];
    recs[0] = s_join (&a, 1, &lens[0]);
    recs[1] = s_request (&a, "note", s_t.chain, a.pk, a.sk, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_BLOCK_SIGNER);

    recs[0] = s_join (&a, 1, &lens[0]);
    s_commit (l, recs, lens, 1); /* height 1 */
    rep = cons_ledger_reputation (l);
    assert_int_equal (cons_reputation_count (rep), 5);
    assert_true (cons_reputation_members_version (rep) != version);
    const cons_rep_entry_t *e = cons_reputation_entry (rep, 4);
    assert_memory_equal (e->id, a.pk, 32);
    assert_string_equal (e->name, "joiner-a");
    assert_int_equal (e->joined, 1);
    assert_int_equal (e->left, 0);
    assert_int_equal (e->tier_bp, CONS_REP_TIER_SOFTWARE_BP);
    assert_true (cons_reputation_is_member (rep, a.pk));

    /* from the next block on, its records count */
    recs[0] = s_request (&a, "note", s_t.chain, a.pk, a.sk, &lens[0]);
    s_commit (l, recs, lens, 1); /* 2 */
    /* a member, not a validator: no decided evidence about it */
    for (int i = 0; i < 6; i++)
        s_commit (l, recs, lens, 0); /* 3 .. 8 */
    assert_false (s_in_set (l, 9, a.pk));
    assert_true (s_in_set (l, 9, s_t.pk[1]));
    assert_true (cons_reputation_excluded (cons_ledger_reputation (l), 4, 3));

    /* joining twice: the same key again */
    recs[0] = s_join (&a, 2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);

    /* the chain re-verifies and a reopened ledger replays the same table */
    uint8_t h1[32], h2[32];
    cons_reputation_hash (cons_ledger_reputation (l), h1);
    uint64_t bad = 0;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    cons_ledger_destroy (&l);
    l = s_open (path);
    cons_reputation_hash (cons_ledger_reputation (l), h2);
    assert_memory_equal (h1, h2, 32);
    assert_int_equal (cons_reputation_count (cons_ledger_reputation (l)), 5);
    cons_ledger_destroy (&l);
    free (a.cert);
}

static void
test_join_rejections (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open (NULL);
    s_newcomer_t a, dup_name, dup_vrf;
    s_newcomer (&a, "joiner-a", NULL);
    s_newcomer (&dup_name, wd_genesis_node (s_t.genesis, 2)->name, NULL);
    s_newcomer (&dup_vrf, "joiner-v", wd_genesis_node (s_t.genesis, 3)->vrf_pk);
    uint8_t *recs[8];
    size_t lens[8], rlen;
    uint8_t *req;
    uint8_t other_chain[32];
    memset (other_chain, 0x5a, sizeof other_chain);

    /* request signed by another key than the certificate's */
    req = s_request (&a, CONS_JOIN_REQUEST_TYPE, s_t.chain, s_t.pk[1], s_t.sk[1], &rlen);
    recs[0] = s_join_raw (req, rlen, s_t.pk[1], s_t.sk[1], 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_SIGNER);
    /* request for another chain */
    req = s_request (&a, CONS_JOIN_REQUEST_TYPE, other_chain, a.pk, a.sk, &rlen);
    recs[0] = s_join_raw (req, rlen, s_t.pk[1], s_t.sk[1], 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_WRONG_CHAIN);
    /* request of another type */
    req = s_request (&a, "note", s_t.chain, a.pk, a.sk, &rlen);
    recs[0] = s_join_raw (req, rlen, s_t.pk[1], s_t.sk[1], 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_UNEXPECTED_TYPE);
    /* request whose signature does not verify */
    req = s_request (&a, CONS_JOIN_REQUEST_TYPE, s_t.chain, a.pk, a.sk, &rlen);
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (req, rlen, &env), WD_OK);
    size_t sig_at = 0;
    for (size_t i = 0; i + 64 <= rlen; i++)
        if (memcmp (req + i, env.sig, 64) == 0)
            sig_at = i;
    assert_true (sig_at > 0);
    req[sig_at] ^= 1;
    recs[0] = s_join_raw (req, rlen, s_t.pk[1], s_t.sk[1], 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_BAD_SIGNATURE);
    /* join body of another version */
    req = s_request (&a, CONS_JOIN_REQUEST_TYPE, s_t.chain, a.pk, a.sk, &rlen);
    recs[0] = s_join_raw (req, rlen, s_t.pk[1], s_t.sk[1], 2, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_BAD_VERSION);
    /* sponsored by a node that is not a member: the joiner itself */
    req = s_request (&a, CONS_JOIN_REQUEST_TYPE, s_t.chain, a.pk, a.sk, &rlen);
    recs[0] = s_join_raw (req, rlen, a.pk, a.sk, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    /* a genesis node joining again */
    s_newcomer_t g = { .cert = NULL };
    memcpy (g.pk, s_t.pk[2], 32);
    memcpy (g.sk, s_t.sk[2], 64);
    wd_cert_t gc = *wd_genesis_node (s_t.genesis, 2);
    randombytes_buf (gc.vrf_pk, 32);
    randombytes_buf (gc.curve_pk, 32);
    snprintf (gc.name, sizeof gc.name, "again");
    assert_int_equal (wd_cert_seal (&gc, s_sign, g.sk, &g.cert, &g.cert_len), WD_OK);
    recs[0] = s_join (&g, 1, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    /* a member's name, a member's VRF key */
    recs[0] = s_join (&dup_name, 1, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);
    recs[0] = s_join (&dup_vrf, 1, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);
    /* the same node twice in one block, by two sponsors */
    recs[0] = s_join (&a, 1, &lens[0]);
    recs[1] = s_join (&a, 2, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_TX_EXISTS);
    /* a sponsor that leaves earlier in the same block */
    recs[0] = s_leave (s_t.pk[1], s_t.pk[1], s_t.sk[1], &lens[0]);
    recs[1] = s_join (&a, 1, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_TX_NOT_MEMBER);
    /* nothing was appended: the table is the genesis */
    assert_int_equal (cons_reputation_count (cons_ledger_reputation (l)), 4);
    cons_ledger_destroy (&l);
    free (a.cert);
    free (dup_name.cert);
    free (dup_vrf.cert);
    free (g.cert);
}

static void
test_leave (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open (NULL);
    uint8_t *recs[8];
    size_t lens[8];
    /* a leave naming another node */
    recs[0] = s_leave (s_t.pk[3], s_t.pk[2], s_t.sk[2], &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_SIGNER);
    /* a body that is not a leave body ({n}: a key before "node") */
    recs[0] = tchain_note (&s_t, 2, CONS_LEAVE_TYPE, 1, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_UNKNOWN_KEY);
    /* twice in one block (Ed25519 is deterministic: the same record) */
    recs[0] = s_leave (s_t.pk[2], s_t.pk[2], s_t.sk[2], &lens[0]);
    recs[1] = s_leave (s_t.pk[2], s_t.pk[2], s_t.sk[2], &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_BLOCK_DUPLICATE);
    /* everyone leaving: the last one may not */
    for (size_t i = 0; i < 4; i++)
        recs[i] = s_leave (s_t.pk[i], s_t.pk[i], s_t.sk[i], &lens[i]);
    assert_int_equal (s_check (l, recs, lens, 4), CONS_ERR_TX_LAST);

    /* node 2 leaves in block 1: out of the sets whose reference table
       holds it (epoch 1 = heights 4..6, from the table after block 2) */
    recs[0] = s_leave (s_t.pk[2], s_t.pk[2], s_t.sk[2], &lens[0]);
    s_commit (l, recs, lens, 1);
    const cons_rep_entry_t *e = cons_reputation_entry (cons_ledger_reputation (l), 2);
    assert_int_equal (e->left, 1);
    assert_false (cons_reputation_is_member (cons_ledger_reputation (l), s_t.pk[2]));
    assert_true (s_in_set (l, 2, s_t.pk[2])); /* epoch 0: the genesis set */
    /* its records are refused from the next block on */
    recs[0] = tchain_note (&s_t, 2, "note", 7, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    /* and so is a second leave (not a member any more) */
    recs[0] = s_leave (s_t.pk[2], s_t.pk[2], s_t.sk[2], &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    for (int i = 0; i < 3; i++)
        s_commit (l, recs, lens, 0); /* 2 .. 4 */
    assert_false (s_in_set (l, 4, s_t.pk[2]));
    assert_true (s_in_set (l, 4, s_t.pk[3]));
    /* its key may never join again */
    s_newcomer_t back = { .cert = NULL };
    memcpy (back.pk, s_t.pk[2], 32);
    memcpy (back.sk, s_t.sk[2], 64);
    wd_cert_t bc = *wd_genesis_node (s_t.genesis, 2);
    assert_int_equal (wd_cert_seal (&bc, s_sign, back.sk, &back.cert, &back.cert_len), WD_OK);
    recs[0] = s_join (&back, 0, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    free (back.cert);
    uint64_t bad = 0;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    cons_ledger_destroy (&l);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_join),
        cmocka_unit_test (test_join_rejections),
        cmocka_unit_test (test_leave),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
