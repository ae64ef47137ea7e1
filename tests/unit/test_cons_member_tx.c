/*
 * Unit tests for the membership transactions (cons_member_tx, applied by
 * cons_reputation and judged by cons_ledger; docs/PROTOCOL.md "Membership
 * transactions"): a sponsored join appends a row and makes the node a
 * member (not a validator); every rejection reason of join and leave,
 * exactly; records of a joined node count from the next block; a node that
 * left is out of the next sets and its records are refused; the chain
 * re-verifies and replays to the same table. A rotate gives a member's row
 * new keys and keeps its counters; the old key is refused from the next
 * block on and can never return; every rejection reason of rotate.
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

/* A record of type ({request, v} body) around request, sealed by (pk,
   sk); version v. */
static uint8_t *
s_tx_raw (const char *type, const uint8_t *request, size_t request_len, const uint8_t *pk,
          const uint8_t *sk, uint64_t v, size_t *len)
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
    assert_int_equal (
        wd_envelope_seal (type, s_t.chain, pk, body, body_len, s_sign, (void *)sk, &out, len),
        WD_OK);
    wd_writer_destroy (&w);
    return out;
}

/* A join record around request, sealed by sponsor (pk, sk); version v. */
static uint8_t *
s_join_raw (const uint8_t *request, size_t request_len, const uint8_t *pk, const uint8_t *sk,
            uint64_t v, size_t *len)
{
    return s_tx_raw (CONS_JOIN_TYPE, request, request_len, pk, sk, v, len);
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

/* A new certificate for genesis node idx (its name, fresh keys; vrf_pk
   and curve_pk override them when not NULL). */
static void
s_rotated (s_newcomer_t *n, size_t idx, const char *name, const uint8_t *vrf_pk,
           const uint8_t *curve_pk)
{
    s_newcomer (n, name ? name : wd_genesis_node (s_t.genesis, idx)->name, vrf_pk);
    if (curve_pk) {
        wd_cert_t c;
        assert_int_equal (wd_cert_open (n->cert, n->cert_len, &c), WD_OK);
        memcpy (c.curve_pk, curve_pk, 32);
        free (n->cert);
        assert_int_equal (wd_cert_seal (&c, s_sign, n->sk, &n->cert, &n->cert_len), WD_OK);
    }
}

/* A rotate-request of n's certificate for member node, sealed as type by
   (pk, sk) for chain. */
static uint8_t *
s_rotate_request (const s_newcomer_t *n, const char *type, const uint8_t *chain,
                  const uint8_t *node, const uint8_t *pk, const uint8_t *sk, size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_rotate_request_body (n->cert, n->cert_len, node, &body_len);
    uint8_t *out;
    assert_int_equal (
        wd_envelope_seal (type, chain, pk, body, body_len, s_sign, (void *)sk, &out, len), WD_OK);
    free (body);
    return out;
}

/* A rotate record around request sealed by (pk, sk), version v: the same
   body as a join's. */
static uint8_t *
s_rotate_raw (const uint8_t *request, size_t request_len, const uint8_t *pk, const uint8_t *sk,
              uint64_t v, size_t *len)
{
    return s_tx_raw (CONS_ROTATE_TYPE, request, request_len, pk, sk, v, len);
}

/* The usual rotate of the member (pk, sk) to n's certificate. */
static uint8_t *
s_rotate (const s_newcomer_t *n, const uint8_t *pk, const uint8_t *sk, size_t *len)
{
    size_t rlen;
    uint8_t *req =
        s_rotate_request (n, CONS_ROTATE_REQUEST_TYPE, s_t.chain, pk, n->pk, n->sk, &rlen);
    uint8_t *out = s_rotate_raw (req, rlen, pk, sk, 1, len);
    free (req);
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
    assert_int_equal (cons_ledger_propose (l, t + 1000, set[0].pk, NULL, r, count, &block, &len),
                      WD_OK);
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

static void
test_rotate (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open (NULL);
    char path[sizeof s_path];
    snprintf (path, sizeof path, "%s", s_path);
    uint8_t *recs[8];
    size_t lens[8];
    for (int i = 0; i < 2; i++)
        s_commit (l, recs, lens, 0); /* 1, 2 */
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    cons_rep_entry_t before = *cons_reputation_entry (rep, 2);
    uint64_t version = cons_reputation_members_version (rep);
    s_newcomer_t r;
    s_rotated (&r, 2, NULL, NULL, NULL);

    /* the new key signs nothing before the rotate is committed, nor in
       its block */
    recs[0] = s_rotate (&r, s_t.pk[2], s_t.sk[2], &lens[0]);
    recs[1] = s_request (&r, "note", s_t.chain, r.pk, r.sk, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_BLOCK_SIGNER);
    recs[0] = s_rotate (&r, s_t.pk[2], s_t.sk[2], &lens[0]);
    s_commit (l, recs, lens, 1); /* 3: the certificate of 2 counts first */
    rep = cons_ledger_reputation (l);
    assert_int_equal (cons_reputation_count (rep), 4);
    assert_true (cons_reputation_members_version (rep) != version);
    const cons_rep_entry_t *e = cons_reputation_entry (rep, 2);
    assert_memory_equal (e->id, r.pk, 32);
    assert_memory_equal (e->cert.sign_pk, r.pk, 32);
    assert_string_equal (e->name, before.name);
    assert_int_equal (e->rotated, 3);
    assert_int_equal (e->joined, 0);
    assert_int_equal (e->left, 0);
    assert_int_equal (e->tier_bp, CONS_REP_TIER_SOFTWARE_BP); /* from the new certificate */
    assert_true (e->precommits_possible >= before.precommits_possible);
    assert_true (e->precommits_possible > 0); /* the counters carried over */
    assert_true (cons_reputation_is_member (rep, r.pk));
    assert_false (cons_reputation_is_member (rep, s_t.pk[2]));
    assert_null (cons_reputation_find (rep, s_t.pk[2]));
    assert_ptr_equal (cons_reputation_find (rep, r.pk), e);

    /* from the next block on: the old key is refused, the new one counts */
    recs[0] = tchain_note (&s_t, 2, "note", 7, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    recs[0] = s_request (&r, "note", s_t.chain, r.pk, r.sk, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), WD_OK);
    recs[0] = s_request (&r, "note", s_t.chain, r.pk, r.sk, &lens[0]);
    s_commit (l, recs, lens, 1); /* 4 */
    /* the old keys never return: not as a rotate back, not as a join */
    s_newcomer_t back = { .cert = NULL };
    memcpy (back.pk, s_t.pk[2], 32);
    memcpy (back.sk, s_t.sk[2], 64);
    wd_cert_t bc = *wd_genesis_node (s_t.genesis, 2);
    randombytes_buf (bc.vrf_pk, 32);
    randombytes_buf (bc.curve_pk, 32);
    assert_int_equal (wd_cert_seal (&bc, s_sign, back.sk, &back.cert, &back.cert_len), WD_OK);
    recs[0] = s_rotate (&back, r.pk, r.sk, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    snprintf (bc.name, sizeof bc.name, "back");
    free (back.cert);
    assert_int_equal (wd_cert_seal (&bc, s_sign, back.sk, &back.cert, &back.cert_len), WD_OK);
    recs[0] = s_join (&back, 0, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    s_newcomer_t old_vrf;
    s_rotated (&old_vrf, 2, NULL, wd_genesis_node (s_t.genesis, 2)->vrf_pk, NULL);
    recs[0] = s_rotate (&old_vrf, r.pk, r.sk, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);

    /* the weight is kept: the new key is in the first set fixed after the
       rotate (epoch 2 = heights 7..9, from the table after block 5), the
       old key in none; the set fixed before it (epoch 1, heights 4..6)
       still names the old key */
    assert_true (s_in_set (l, 5, s_t.pk[2]));
    for (int i = 0; i < 2; i++)
        s_commit (l, recs, lens, 0); /* 5, 6 */
    assert_true (s_in_set (l, 7, r.pk));
    assert_false (s_in_set (l, 7, s_t.pk[2]));
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, 7, &set, &n), WD_OK);
    assert_int_equal (n, 4);

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
    assert_int_equal (cons_reputation_entry (cons_ledger_reputation (l), 2)->rotated, 3);
    cons_ledger_destroy (&l);
    free (r.cert);
    free (back.cert);
    free (old_vrf.cert);
}

static void
test_rotate_rejections (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open (NULL);
    s_newcomer_t r, r2, renamed, dup_vrf, dup_curve, own_vrf;
    s_rotated (&r, 2, NULL, NULL, NULL);
    s_rotated (&r2, 2, NULL, NULL, NULL);
    s_rotated (&renamed, 2, "renamed", NULL, NULL);
    s_rotated (&dup_vrf, 2, NULL, wd_genesis_node (s_t.genesis, 3)->vrf_pk, NULL);
    s_rotated (&dup_curve, 2, NULL, NULL, wd_genesis_node (s_t.genesis, 1)->curve_pk);
    s_rotated (&own_vrf, 2, NULL, wd_genesis_node (s_t.genesis, 2)->vrf_pk, NULL);
    uint8_t *recs[8];
    size_t lens[8], rlen;
    uint8_t *req;
    uint8_t other_chain[32];
    memset (other_chain, 0x5a, sizeof other_chain);
    const uint8_t *pk2 = s_t.pk[2], *sk2 = s_t.sk[2];

    /* request signed by another key than the new certificate's (the new
       key did not consent) */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, pk2, pk2, sk2, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_SIGNER);
    /* a request for another member than the record's signer */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, s_t.pk[3], r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_SIGNER);
    /* another chain, another type */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, other_chain, pk2, r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_WRONG_CHAIN);
    req = s_rotate_request (&r, CONS_JOIN_REQUEST_TYPE, s_t.chain, pk2, r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_UNEXPECTED_TYPE);
    /* a join-request is no rotate-request (its body has no node) */
    req = s_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_MISSING_KEY);
    /* a request whose signature does not verify */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, pk2, r.pk, r.sk, &rlen);
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (req, rlen, &env), WD_OK);
    size_t sig_at = 0;
    for (size_t i = 0; i + 64 <= rlen; i++)
        if (memcmp (req + i, env.sig, 64) == 0)
            sig_at = i;
    assert_true (sig_at > 0);
    req[sig_at] ^= 1;
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_BAD_SIGNATURE);
    /* a rotate body of another version */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, pk2, r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, pk2, sk2, 2, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), WD_ERR_BAD_VERSION);
    /* sealed by a key that is not a member's: the new key itself */
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, r.pk, r.pk, r.sk, &rlen);
    recs[0] = s_rotate_raw (req, rlen, r.pk, r.sk, 1, &lens[0]);
    free (req);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    /* a new name */
    recs[0] = s_rotate (&renamed, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_NAME);
    /* a new identity key another row holds: node 3's */
    s_newcomer_t taken = { .cert = NULL };
    memcpy (taken.pk, s_t.pk[3], 32);
    memcpy (taken.sk, s_t.sk[3], 64);
    wd_cert_t tc = *wd_genesis_node (s_t.genesis, 2);
    memcpy (tc.sign_pk, s_t.pk[3], 32);
    randombytes_buf (tc.vrf_pk, 32);
    randombytes_buf (tc.curve_pk, 32);
    assert_int_equal (wd_cert_seal (&tc, s_sign, taken.sk, &taken.cert, &taken.cert_len), WD_OK);
    recs[0] = s_rotate (&taken, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    /* the same identity key (the certificate must change all three) */
    s_newcomer_t same = { .cert = NULL };
    memcpy (same.pk, pk2, 32);
    memcpy (same.sk, sk2, 64);
    wd_cert_t sc = *wd_genesis_node (s_t.genesis, 2);
    randombytes_buf (sc.vrf_pk, 32);
    randombytes_buf (sc.curve_pk, 32);
    assert_int_equal (wd_cert_seal (&sc, s_sign, same.sk, &same.cert, &same.cert_len), WD_OK);
    recs[0] = s_rotate (&same, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_EXISTS);
    /* a VRF or CURVE key another row holds, or its own VRF key kept */
    recs[0] = s_rotate (&dup_vrf, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);
    recs[0] = s_rotate (&dup_curve, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);
    recs[0] = s_rotate (&own_vrf, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_TX_DUPLICATE);
    /* two rotations by one member in one block: the second signer is no
       member any more */
    recs[0] = s_rotate (&r, pk2, sk2, &lens[0]);
    recs[1] = s_rotate (&r2, pk2, sk2, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_TX_NOT_MEMBER);
    /* a member that leaves earlier in the block */
    recs[0] = s_leave (pk2, pk2, sk2, &lens[0]);
    recs[1] = s_rotate (&r, pk2, sk2, &lens[1]);
    assert_int_equal (s_check (l, recs, lens, 2), CONS_ERR_TX_NOT_MEMBER);
    /* a member that left before */
    recs[0] = s_leave (pk2, pk2, sk2, &lens[0]);
    s_commit (l, recs, lens, 1);
    recs[0] = s_rotate (&r, pk2, sk2, &lens[0]);
    assert_int_equal (s_check (l, recs, lens, 1), CONS_ERR_BLOCK_SIGNER);
    /* the stateless opener alone: the same reasons */
    wd_cert_t cert;
    uint8_t node[32];
    req = s_rotate_request (&r, CONS_ROTATE_REQUEST_TYPE, s_t.chain, pk2, r.pk, r.sk, &rlen);
    assert_int_equal (cons_rotate_request_open (req, rlen, s_t.chain, true, &cert, node), WD_OK);
    assert_memory_equal (node, pk2, 32);
    assert_memory_equal (cert.sign_pk, r.pk, 32);
    assert_int_equal (cons_rotate_request_open (req, rlen, other_chain, true, &cert, node),
                      WD_ERR_WRONG_CHAIN);
    size_t blen;
    uint8_t *body = cons_rotate_body (req, rlen, &blen);
    assert_int_equal (cons_rotate_open (body, blen, s_t.chain, pk2, true, &cert), WD_OK);
    assert_int_equal (cons_rotate_open (body, blen, s_t.chain, s_t.pk[1], true, &cert),
                      CONS_ERR_TX_SIGNER);
    free (body);
    free (req);
    cons_ledger_destroy (&l);
    free (r.cert);
    free (r2.cert);
    free (renamed.cert);
    free (dup_vrf.cert);
    free (dup_curve.cert);
    free (own_vrf.cert);
    free (taken.cert);
    free (same.cert);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_join),
        cmocka_unit_test (test_join_rejections),
        cmocka_unit_test (test_leave),
        cmocka_unit_test (test_rotate),
        cmocka_unit_test (test_rotate_rejections),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
