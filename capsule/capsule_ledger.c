/*
 * capsule_ledger: `warden-verify ledger`, the offline re-check of an
 * exported chain (capsule_ledger.h has the checks and their order). The
 * rules are those of docs/PROTOCOL.md "Blocks and the ledger" and "Commit
 * certificate", rebuilt here from the bytes with libsodium alone; a VRF
 * chain's proposer claims are re-checked with the project's VRF and
 * sortition math (wd_vrf.c, cons_sortition.c: libsodium only as well).
 */
#include "capsule_ledger.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_merkle.h"
#include "capsule_mp.h"
#include "capsule_verify.h"
#include "cons_sortition.h" /* warden_sortition: libsodium and wd_vrf only */
#include "wd_bytes.h"       /* header only: no link dependency */
#include "wd_vrf.h"

#define S_NODES_MAX     256
#define S_ROWS_MAX      1024 /* member rows: genesis nodes and joined nodes (cons_reputation) */
#define S_SIGNERS_MAX   16
#define S_ROUND_MAX     0x7fffffffu /* CONS_ROUND_MAX */
#define S_CLAIM_MAX     256         /* bytes of a block's claim (CONS_BLOCK_CLAIM_MAX) */
#define S_PROPOSERS_DEF 5           /* genesis `proposers` when left out */
#define S_GENESIS_BYTES (S_NODES_MAX * (512 + 3) + 4096)

static const char *const s_messages[] = {
#define S_MSG(name, msg) msg,
    CAPSULE_LEDGER_TABLE (S_MSG)
#undef S_MSG
};
static const char *const s_names[] = {
#define S_NAME(name, msg) #name,
    CAPSULE_LEDGER_TABLE (S_NAME)
#undef S_NAME
};

const char *
capsule_ledger_strerror (int code)
{
    return code >= 0 && code < CAPSULE_LEDGER_LAST_ ? s_messages[code] : "unknown verdict";
}

const char *
capsule_ledger_name (int code)
{
    return code >= 0 && code < CAPSULE_LEDGER_LAST_ ? s_names[code] : "CAPSULE_LEDGER_UNKNOWN";
}

/* The state of one verification. */
typedef struct {
    uint8_t chain[32];
    uint8_t nodes[S_NODES_MAX][32]; /* genesis sign_pks, genesis order */
    size_t nnodes;
    uint8_t signers[S_SIGNERS_MAX][32];
    size_t nsigners;
    /* member rows (docs/PROTOCOL.md "Membership transactions"): the genesis
       nodes, then every node whose join was committed, in commit order;
       left: the height that committed its leave, 0 while a member */
    uint8_t (*rows)[32];
    uint64_t *left;
    size_t nrows;
    /* keys rows held before a `rotate`: sets fixed before a rotation still
       name them (certificate signers, proposers); never a member again */
    uint8_t (*retired)[32];
    size_t *retired_row;
    size_t nretired;
    /* each row's vrf_pk (rows' order): its genesis certificate, join or
       latest rotate record */
    uint8_t (*vrf)[32];
    /* seeds[h]: block h's seed, seeds[0] the chain id (sortition inputs) */
    uint8_t (*seeds)[32];
    uint64_t epoch_blocks, seed_lookback, block_max;
    bool proposer_vrf; /* genesis proposer_vrf = 1: blocks are v2 */
    uint64_t proposers;
    uint8_t genesis_set_hash[32];
    /* every record id of the chain so far: open addressing, zero = empty */
    uint8_t (*ids)[32];
    size_t ids_cap, ids_count;
    char *detail;
    size_t detail_len;
} s_state_t;

/* A decoded block; pointers borrow from the export. */
typedef struct {
    uint64_t height, time;
    const uint8_t *last_cert;
    size_t last_cert_len;
    uint8_t prev[32], proposer[32], records_root[32], reputation_hash[32], seed[32],
        validators_hash[32];
    capsule_mp_t records; /* the array value */
    uint64_t record_count;
    uint64_t v;                   /* 1, or 2 with claim and round */
    uint64_t round;               /* v2: the round the claim is for */
    cons_sortition_claim_t claim; /* v2 */
} s_block_t;

static void
s_detail (s_state_t *s, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_detail (s_state_t *s, const char *fmt, ...)
{
    if (!s->detail || s->detail_len == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (s->detail, s->detail_len, fmt, ap);
    va_end (ap);
}

static bool
s_fixed (capsule_mp_t map, const char *key, uint8_t *out, size_t want)
{
    capsule_mp_t v;
    const uint8_t *data;
    size_t len;
    if (!capsule_mp_get (map, key, &v) || !capsule_mp_bin (v, &data, &len) || len != want)
        return false;
    memcpy (out, data, want);
    return true;
}

static bool
s_uint (capsule_mp_t map, const char *key, uint64_t *out)
{
    capsule_mp_t v;
    return capsule_mp_get (map, key, &v) && capsule_mp_uint (v, out);
}

static bool
s_bin (capsule_mp_t map, const char *key, const uint8_t **data, size_t *len)
{
    capsule_mp_t v;
    return capsule_mp_get (map, key, &v) && capsule_mp_bin (v, data, len);
}

/* Appends a msgpack uint in its shortest form; returns the bytes written. */
static size_t
s_put_uint (uint8_t *out, uint64_t v)
{
    if (v <= 0x7f) {
        out[0] = (uint8_t)v;
        return 1;
    }
    size_t n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    out[0] = (uint8_t)(n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf);
    wd_put_be (out + 1, v, n);
    return n + 1;
}

/* ---- genesis ------------------------------------------------------------------------------- */

static capsule_ledger_verdict_t
s_genesis (s_state_t *s, const uint8_t *buf, size_t len)
{
    if (len > S_GENESIS_BYTES || !capsule_msgpack_canonical (buf, len)) {
        s_detail (s, "not canonical msgpack of at most %u bytes", (unsigned)S_GENESIS_BYTES);
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    capsule_mp_t g = { buf, buf + len }, nodes, signers, params, items, one;
    uint64_t n, v, created, nn, ns;
    if (!capsule_mp_count (g, true, &n) || n != 6 || !s_uint (g, "v", &v) || v != 1 ||
        !s_uint (g, "created", &created) || created == 0 || !capsule_mp_get (g, "name", &one) ||
        !capsule_mp_get (g, "nodes", &nodes) || !capsule_mp_enter (nodes, &nn, &items) ||
        !capsule_mp_get (g, "signers", &signers) || !capsule_mp_get (g, "params", &params) ||
        !s_uint (params, "epoch_blocks", &s->epoch_blocks) ||
        !s_uint (params, "seed_lookback", &s->seed_lookback) ||
        !s_uint (params, "block_max_bytes", &s->block_max)) {
        s_detail (s, "keys must be created, name, nodes, params, signers, v (1)");
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    /* the proposer mode; `proposers` is left out at its default */
    uint64_t vrf_mode = 0;
    s->proposers = S_PROPOSERS_DEF;
    if (!s_uint (params, "proposer_vrf", &vrf_mode) || vrf_mode > 1 ||
        (capsule_mp_get (params, "proposers", &one) &&
         (!capsule_mp_uint (one, &s->proposers) || s->proposers == S_PROPOSERS_DEF ||
          s->proposers < 1 || s->proposers > 64))) {
        s_detail (s, "proposer_vrf must be 0 or 1, proposers 1 to 64 (left out at 5)");
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    s->proposer_vrf = vrf_mode == 1;
    if (s->epoch_blocks < 1 || s->epoch_blocks > 1000000 || s->seed_lookback < 1 ||
        s->seed_lookback > 1000 || s->block_max < 4096 || s->block_max > 16777216) {
        s_detail (s, "epoch_blocks, seed_lookback or block_max_bytes out of range");
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    if (nn < 1 || nn > S_NODES_MAX) {
        s_detail (s, "%llu nodes (1 to %u)", (unsigned long long)nn, S_NODES_MAX);
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    static const uint8_t zero[32];
    s->vrf = calloc (S_ROWS_MAX, sizeof *s->vrf);
    if (!s->vrf)
        abort ();
    for (uint64_t i = 0; i < nn; i++) {
        const uint8_t *cert;
        size_t cert_len;
        capsule_envelope_t env;
        uint8_t pk[32];
        if (!capsule_mp_next (&items, &one) || !capsule_mp_bin (one, &cert, &cert_len) ||
            !capsule_envelope_decode (cert, cert_len, &env) ||
            strcmp (env.type, "node-cert") != 0 || sodium_memcmp (env.chain, zero, 32) != 0 ||
            !s_fixed ((capsule_mp_t){ env.body, env.body + env.body_len }, "sign_pk", pk, 32) ||
            !s_fixed ((capsule_mp_t){ env.body, env.body + env.body_len }, "vrf_pk", s->vrf[i],
                      32) ||
            sodium_memcmp (pk, env.from, 32) != 0 || !capsule_envelope_sig_ok (&env, pk)) {
            s_detail (s, "node %llu is not a self-signed node-cert envelope",
                      (unsigned long long)i);
            return CAPSULE_LEDGER_GENESIS_FORMAT;
        }
        if (i > 0 && memcmp (s->nodes[i - 1], pk, 32) >= 0) {
            s_detail (s, "nodes are not in strictly ascending order of sign_pk");
            return CAPSULE_LEDGER_GENESIS_FORMAT;
        }
        memcpy (s->nodes[i], pk, 32);
    }
    s->nnodes = (size_t)nn;
    s->rows = calloc (S_ROWS_MAX, sizeof *s->rows);
    s->left = calloc (S_ROWS_MAX, sizeof *s->left);
    s->retired = calloc (S_ROWS_MAX, sizeof *s->retired);
    s->retired_row = calloc (S_ROWS_MAX, sizeof *s->retired_row);
    if (!s->rows || !s->left || !s->retired || !s->retired_row)
        abort ();
    memcpy (s->rows, s->nodes, s->nnodes * sizeof *s->rows);
    s->nrows = s->nnodes;
    if (!capsule_mp_enter (signers, &ns, &items) || ns > S_SIGNERS_MAX) {
        s_detail (s, "signers is not an array of at most %u keys", S_SIGNERS_MAX);
        return CAPSULE_LEDGER_GENESIS_FORMAT;
    }
    for (uint64_t i = 0; i < ns; i++) {
        const uint8_t *pk;
        size_t pk_len;
        if (!capsule_mp_next (&items, &one) || !capsule_mp_bin (one, &pk, &pk_len) ||
            pk_len != 32 || (i > 0 && memcmp (s->signers[i - 1], pk, 32) >= 0)) {
            s_detail (s, "signer %llu is not a key above the previous one", (unsigned long long)i);
            return CAPSULE_LEDGER_GENESIS_FORMAT;
        }
        memcpy (s->signers[i], pk, 32);
    }
    s->nsigners = (size_t)ns;
    /* the set of the first epochs: every genesis node with weight 1 */
    crypto_hash_sha256_state st;
    uint8_t hdr[3];
    size_t hn = 1;
    if (s->nnodes < 16)
        hdr[0] = (uint8_t)(0x90 | s->nnodes);
    else
        hdr[0] = 0xdc, wd_put_be (hdr + 1, s->nnodes, 2), hn = 3;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, hdr, hn);
    for (size_t i = 0; i < s->nnodes; i++) {
        static const uint8_t pre[3] = { 0x92, 0xc4, 0x20 }, one_w = 0x01;
        crypto_hash_sha256_update (&st, pre, 3);
        crypto_hash_sha256_update (&st, s->nodes[i], 32);
        crypto_hash_sha256_update (&st, &one_w, 1);
    }
    crypto_hash_sha256_final (&st, s->genesis_set_hash);
    return CAPSULE_LEDGER_OK;
}

/* ---- certificates --------------------------------------------------------------------------- */

/* True when the set of height h is every genesis node with weight 1. */
static bool
s_genesis_set (const s_state_t *s, uint64_t h)
{
    uint64_t e = (h - 1) / s->epoch_blocks;
    return e <= s->seed_lookback / s->epoch_blocks; /* e * epoch_blocks <= seed_lookback */
}

/* Appends a map key (a fixstr); returns the bytes written. */
static size_t
s_put_key (uint8_t *out, const char *key)
{
    size_t n = strlen (key);
    out[0] = (uint8_t)(0xa0 | n);
    memcpy (out + 1, key, n);
    return n + 1;
}

/* The digest a validator signs for a precommit of (height, round, block):
   the body {block: bin(32), height, round, v: 1} by the signing rule. */
static void
s_precommit_digest (const s_state_t *s, uint8_t out[32], uint64_t height, uint64_t round,
                    const uint8_t block[32])
{
    uint8_t body[96];
    size_t n = 0;
    body[n++] = 0x84;
    n += s_put_key (body + n, "block");
    body[n++] = 0xc4;
    body[n++] = 32;
    memcpy (body + n, block, 32);
    n += 32;
    n += s_put_key (body + n, "height");
    n += s_put_uint (body + n, height);
    n += s_put_key (body + n, "round");
    n += s_put_uint (body + n, round);
    n += s_put_key (body + n, "v");
    body[n++] = 1;
    capsule_signing_digest (out, "precommit", s->chain, body, n);
}

/* Checks a certificate of height h for block id against h's set.
 *unchecked is set when the set's weights could not be re-derived; *round
 gets the certificate's round. */
static capsule_ledger_verdict_t
s_cert (s_state_t *s, const uint8_t *buf, size_t len, uint64_t h, const uint8_t id[32],
        bool *unchecked, uint64_t *cert_round)
{
    capsule_mp_t c = { buf, buf + len }, sigs, items;
    uint64_t n, v, height, round, count;
    uint8_t block[32];
    if (!capsule_msgpack_canonical (buf, len) || !capsule_mp_count (c, true, &n) || n != 5 ||
        !s_uint (c, "v", &v) || v != 1 || !s_uint (c, "height", &height) ||
        !s_uint (c, "round", &round) || round > S_ROUND_MAX || !s_fixed (c, "block", block, 32) ||
        !capsule_mp_get (c, "sigs", &sigs) || !capsule_mp_enter (sigs, &count, &items) ||
        count > CAPSULE_LEDGER_VALIDATORS_MAX) {
        s_detail (s, "not a canonical {block, height, round, sigs, v: 1}");
        return CAPSULE_LEDGER_CERT_FORMAT;
    }
    if (height != h || sodium_memcmp (block, id, 32) != 0) {
        s_detail (s, "certificate of height %llu for another block or height",
                  (unsigned long long)height);
        return CAPSULE_LEDGER_CERT_BLOCK;
    }
    bool known = s_genesis_set (s, h);
    *unchecked = !known;
    *cert_round = round;
    uint8_t digest[32];
    s_precommit_digest (s, digest, height, round, block);
    int64_t last = -1, last_node = -1;
    for (uint64_t i = 0; i < count; i++) {
        capsule_mp_t pair, pitems, e;
        uint64_t pn, index;
        const uint8_t *sig;
        size_t sig_len;
        if (!capsule_mp_next (&items, &pair) || !capsule_mp_enter (pair, &pn, &pitems) || pn != 2 ||
            !capsule_mp_next (&pitems, &e) || !capsule_mp_uint (e, &index) ||
            !capsule_mp_next (&pitems, &e) || !capsule_mp_bin (e, &sig, &sig_len) ||
            sig_len != 64) {
            s_detail (s, "signature %llu is not [index, sig(64)]", (unsigned long long)i);
            return CAPSULE_LEDGER_CERT_FORMAT;
        }
        size_t set_n = known ? s->nnodes : s->nrows;
        if (index >= set_n) {
            s_detail (s, "index %llu, set of %zu", (unsigned long long)index, set_n);
            return CAPSULE_LEDGER_CERT_INDEX;
        }
        if ((int64_t)index <= last) {
            s_detail (s, "index %llu after %lld", (unsigned long long)index, (long long)last);
            return CAPSULE_LEDGER_CERT_ORDER;
        }
        /* The set is an ordered subset of the member rows (the genesis
           nodes in the first epochs): index maps to node index itself in
           the genesis set, and otherwise to a later row, skipping no fewer
           rows than the previous signer did. */
        int64_t node = -1;
        int64_t lo = (int64_t)index;
        if (!known && last_node >= 0 && last_node - last + (int64_t)index > lo)
            lo = last_node - last + (int64_t)index;
        int64_t hi = known ? (int64_t)index : (int64_t)s->nrows - 1;
        for (int64_t j = lo; j <= hi && node < 0; j++) {
            if (crypto_sign_verify_detached (sig, digest, 32, known ? s->nodes[j] : s->rows[j]) ==
                0)
                node = j;
            /* a set fixed before the row rotated names an older key */
            for (size_t k = 0; !known && node < 0 && k < s->nretired; k++)
                if (s->retired_row[k] == (size_t)j &&
                    crypto_sign_verify_detached (sig, digest, 32, s->retired[k]) == 0)
                    node = j;
        }
        if (node < 0) {
            s_detail (s, "signer index %llu", (unsigned long long)index);
            return CAPSULE_LEDGER_CERT_SIGNATURE;
        }
        last = (int64_t)index;
        last_node = node;
    }
    if (known && !(3 * count > 2 * (uint64_t)s->nnodes)) {
        s_detail (s, "%llu of weight %zu", (unsigned long long)count, s->nnodes);
        return CAPSULE_LEDGER_CERT_WEIGHT;
    }
    return CAPSULE_LEDGER_OK;
}

/* ---- record ids ------------------------------------------------------------------------------ */

/* Adds id to the chain's set; false when it is already there. */
static bool
s_id_add (s_state_t *s, const uint8_t id[32])
{
    if (2 * (s->ids_count + 1) > s->ids_cap) {
        size_t cap = s->ids_cap ? 2 * s->ids_cap : 1024;
        uint8_t (*ids)[32] = calloc (cap, 32);
        if (!ids)
            abort ();
        for (size_t i = 0; i < s->ids_cap; i++) {
            if (sodium_is_zero (s->ids[i], 32))
                continue;
            size_t k = (size_t)wd_get_be (s->ids[i], 8) & (cap - 1);
            while (!sodium_is_zero (ids[k], 32))
                k = (k + 1) & (cap - 1);
            memcpy (ids[k], s->ids[i], 32);
        }
        free (s->ids);
        s->ids = ids;
        s->ids_cap = cap;
    }
    size_t k = (size_t)wd_get_be (id, 8) & (s->ids_cap - 1);
    while (!sodium_is_zero (s->ids[k], 32)) {
        if (memcmp (s->ids[k], id, 32) == 0)
            return false;
        k = (k + 1) & (s->ids_cap - 1);
    }
    memcpy (s->ids[k], id, 32);
    s->ids_count++;
    return true;
}

/* ---- blocks ---------------------------------------------------------------------------------- */

/* A claim's wire form (docs/PROTOCOL.md "The claim and its wire form"):
   exactly {count: 1..COUNT_MAX, priority: bin(32), proof: bin(80)},
   canonical, 1..S_CLAIM_MAX bytes. */
static bool
s_claim_decode (const uint8_t *buf, size_t len, cons_sortition_claim_t *c)
{
    capsule_mp_t m = { buf, buf + len };
    uint64_t n;
    return len >= 1 && len <= S_CLAIM_MAX && capsule_msgpack_canonical (buf, len) &&
           capsule_mp_count (m, true, &n) && n == 3 && s_uint (m, "count", &c->count) &&
           c->count >= 1 && c->count <= CONS_SORTITION_COUNT_MAX &&
           s_fixed (m, "priority", c->priority, sizeof c->priority) &&
           s_fixed (m, "proof", c->proof, sizeof c->proof);
}

/* Decodes a v1 block (11 keys, v 1) or a v2 block (13 keys: also claim
   and round, v 2): CAPSULE_LEDGER_BLOCK_FORMAT, or
   CAPSULE_LEDGER_CLAIM_FORMAT when only the claim does not decode. */
static capsule_ledger_verdict_t
s_block_decode (const uint8_t *buf, size_t len, s_block_t *b)
{
    capsule_mp_t m = { buf, buf + len }, items;
    uint64_t n;
    const uint8_t *claim = NULL;
    size_t claim_len = 0;
    b->round = 0;
    bool ok = capsule_msgpack_canonical (buf, len) && capsule_mp_count (m, true, &n) &&
              s_uint (m, "v", &b->v) &&
              ((b->v == 1 && n == 11) ||
               (b->v == 2 && n == 13 && s_bin (m, "claim", &claim, &claim_len) &&
                s_uint (m, "round", &b->round) && b->round <= S_ROUND_MAX)) &&
              s_uint (m, "height", &b->height) && b->height >= 1 && s_uint (m, "time", &b->time) &&
              s_bin (m, "last_cert", &b->last_cert, &b->last_cert_len) &&
              s_fixed (m, "prev", b->prev, 32) && s_fixed (m, "proposer", b->proposer, 32) &&
              s_fixed (m, "records_root", b->records_root, 32) &&
              s_fixed (m, "reputation_hash", b->reputation_hash, 32) &&
              s_fixed (m, "seed", b->seed, 32) &&
              s_fixed (m, "validators_hash", b->validators_hash, 32) &&
              capsule_mp_get (m, "records", &b->records) &&
              capsule_mp_enter (b->records, &b->record_count, &items);
    if (!ok)
        return CAPSULE_LEDGER_BLOCK_FORMAT;
    memset (&b->claim, 0, sizeof b->claim);
    if (b->v == 2 && !s_claim_decode (claim, claim_len, &b->claim))
        return CAPSULE_LEDGER_CLAIM_FORMAT;
    return CAPSULE_LEDGER_OK;
}

/* True when pk is one of the n keys. */
static bool
s_listed (uint8_t (*keys)[32], size_t n, const uint8_t pk[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp (keys[i], pk, 32) == 0)
            return true;
    return false;
}

/* Checks block h (buf) after the tip (prev_id, prev_time, prev_seed, the
   tip's id being prev_id). */
/* Index of pk among the member rows, or SIZE_MAX. */
static size_t
s_row (const s_state_t *s, const uint8_t pk[32])
{
    for (size_t i = 0; i < s->nrows; i++)
        if (memcmp (s->rows[i], pk, 32) == 0)
            return i;
    return SIZE_MAX;
}

/* A current member: a row that has not left. */
static bool
s_member (const s_state_t *s, const uint8_t pk[32])
{
    size_t i = s_row (s, pk);
    return i != SIZE_MAX && s->left[i] == 0;
}

/* The new key's certificate inside a join-request or rotate-request renv
   (body rbody): its "cert" is a self-signed node-cert (zero chain) whose
   sign_pk also signed the request; writes that sign_pk and its vrf_pk. */
static bool
s_request_cert (const capsule_envelope_t *renv, capsule_mp_t rbody, uint8_t pk[32], uint8_t vrf[32])
{
    static const uint8_t zero[32];
    const uint8_t *cert;
    size_t cert_len;
    capsule_envelope_t cenv;
    if (!s_bin (rbody, "cert", &cert, &cert_len) ||
        !capsule_envelope_decode (cert, cert_len, &cenv) || strcmp (cenv.type, "node-cert") != 0 ||
        sodium_memcmp (cenv.chain, zero, 32) != 0)
        return false;
    capsule_mp_t cbody = { cenv.body, cenv.body + cenv.body_len };
    return s_fixed (cbody, "sign_pk", pk, 32) && s_fixed (cbody, "vrf_pk", vrf, 32) &&
           sodium_memcmp (pk, cenv.from, 32) == 0 && capsule_envelope_sig_ok (&cenv, pk) &&
           sodium_memcmp (renv->from, pk, 32) == 0 && capsule_envelope_sig_ok (renv, pk);
}

/* A rotate record (docs/PROTOCOL.md "Membership transactions"): body
   {request: bin, v: 1}, the request a rotate-request envelope of this chain
   signed by the new key, its body {cert: bin, node: bin(32), v: 1} with
   node = the record's signer (a member by rule 5, not rotated earlier in
   the block) and cert the self-signed new node-cert; the new sign_pk has
   no row and was never rotated away. The row takes the new key and the new
   certificate's vrf_pk. Name, VRF and CURVE key uniqueness rules are left
   to `wardenctl ledger verify`. */
static capsule_ledger_verdict_t
s_rotate_tx (s_state_t *s, uint64_t i, const capsule_envelope_t *e)
{
    capsule_mp_t body = { e->body, e->body + e->body_len };
    uint64_t n, v;
    const uint8_t *req;
    size_t req_len;
    capsule_envelope_t renv;
    uint8_t pk[32], node[32], vrf[32];
    bool ok =
        capsule_mp_count (body, true, &n) && n == 2 && s_uint (body, "v", &v) && v == 1 &&
        s_bin (body, "request", &req, &req_len) && capsule_envelope_decode (req, req_len, &renv) &&
        strcmp (renv.type, "rotate-request") == 0 && sodium_memcmp (renv.chain, s->chain, 32) == 0;
    capsule_mp_t rbody =
        ok ? (capsule_mp_t){ renv.body, renv.body + renv.body_len } : (capsule_mp_t){ NULL, NULL };
    ok = ok && capsule_mp_count (rbody, true, &n) && n == 3 && s_uint (rbody, "v", &v) && v == 1 &&
         s_fixed (rbody, "node", node, 32) && sodium_memcmp (node, e->from, 32) == 0 &&
         s_request_cert (&renv, rbody, pk, vrf);
    size_t row = ok ? s_row (s, e->from) : SIZE_MAX;
    if (!ok || row == SIZE_MAX || s->left[row] != 0) {
        s_detail (s,
                  "record %llu: a rotate by a member around a rotate-request of this chain "
                  "naming it, signed by the self-signed certificate it holds",
                  (unsigned long long)i);
        return CAPSULE_LEDGER_RECORD_FORMAT;
    }
    if (s_row (s, pk) != SIZE_MAX || s_listed (s->retired, s->nretired, pk) ||
        s->nretired >= S_ROWS_MAX) {
        s_detail (s, "record %llu: the new key has or had a row, or too many rotations",
                  (unsigned long long)i);
        return CAPSULE_LEDGER_RECORD_FORMAT;
    }
    memcpy (s->retired[s->nretired], s->rows[row], 32);
    s->retired_row[s->nretired++] = row;
    memcpy (s->rows[row], pk, 32);
    memcpy (s->vrf[row], vrf, 32);
    return CAPSULE_LEDGER_OK;
}

/* Applies record i of block h when it is a join or a leave
   (docs/PROTOCOL.md "Membership transactions"): a join's body is {request:
   bin, v: 1}, the request a join-request envelope of this chain signed by
   the new node, its body {cert: bin, v: 1} the new node's self-signed
   node-cert; the new sign_pk must have no row. A leave's body is {node:
   bin(32), v: 1}, node = the signer, a member. The sponsor or leaver is a
   member by rule 5. Name, CURVE and VRF key uniqueness and the row limit
   are left to `wardenctl ledger verify`. */
static capsule_ledger_verdict_t
s_member_tx (s_state_t *s, uint64_t h, uint64_t i, const capsule_envelope_t *e)
{
    capsule_mp_t body = { e->body, e->body + e->body_len };
    uint64_t n, v;
    if (strcmp (e->type, "leave") == 0) {
        uint8_t node[32];
        size_t row;
        if (!capsule_mp_count (body, true, &n) || n != 2 || !s_uint (body, "v", &v) || v != 1 ||
            !s_fixed (body, "node", node, 32) || sodium_memcmp (node, e->from, 32) != 0 ||
            (row = s_row (s, node)) == SIZE_MAX || s->left[row] != 0) {
            s_detail (s, "record %llu: a leave of {node: the signer, a member, v: 1}",
                      (unsigned long long)i);
            return CAPSULE_LEDGER_RECORD_FORMAT;
        }
        s->left[row] = h;
        return CAPSULE_LEDGER_OK;
    }
    if (strcmp (e->type, "rotate") == 0)
        return s_rotate_tx (s, i, e);
    if (strcmp (e->type, "join") != 0)
        return CAPSULE_LEDGER_OK;
    const uint8_t *req;
    size_t req_len;
    capsule_envelope_t renv;
    uint8_t pk[32], vrf[32];
    bool ok =
        capsule_mp_count (body, true, &n) && n == 2 && s_uint (body, "v", &v) && v == 1 &&
        s_bin (body, "request", &req, &req_len) && capsule_envelope_decode (req, req_len, &renv) &&
        strcmp (renv.type, "join-request") == 0 && sodium_memcmp (renv.chain, s->chain, 32) == 0;
    capsule_mp_t rbody =
        ok ? (capsule_mp_t){ renv.body, renv.body + renv.body_len } : (capsule_mp_t){ NULL, NULL };
    ok = ok && capsule_mp_count (rbody, true, &n) && n == 2 && s_uint (rbody, "v", &v) && v == 1 &&
         s_request_cert (&renv, rbody, pk, vrf);
    if (!ok) {
        s_detail (s,
                  "record %llu: a join around a join-request of this chain signed by the "
                  "self-signed certificate it holds",
                  (unsigned long long)i);
        return CAPSULE_LEDGER_RECORD_FORMAT;
    }
    if (s_row (s, pk) != SIZE_MAX || s_listed (s->retired, s->nretired, pk) ||
        s->nrows >= S_ROWS_MAX) {
        s_detail (s, "record %llu: the joining node has a row already, or the table is full",
                  (unsigned long long)i);
        return CAPSULE_LEDGER_RECORD_FORMAT;
    }
    memcpy (s->rows[s->nrows], pk, 32);
    memcpy (s->vrf[s->nrows], vrf, 32);
    s->left[s->nrows++] = 0;
    return CAPSULE_LEDGER_OK;
}

/* The proposer's claim of v2 block h (docs/PROTOCOL.md "Sortition", role
   1): its VRF proof under the vrf_pk of the row holding the proposer's key
   as of block h - 1, on the alpha of (chain, seed of block max(h - seed_lookback, 0),
   h, the block's round, zero subject); its priority from beta and its
   count; and, where the set is the genesis set (weight 1 each, total the
   genesis node count, tau = `proposers`), the count from beta. Elsewhere
   the weights come from reputation and the count is not re-derived (the
   block counts as weights_unchecked). The proposer is known to be in the
   set or a member row (rule 3). */
static capsule_ledger_verdict_t
s_claim (s_state_t *s, uint64_t h, const s_block_t *b)
{
    bool genesis = s_genesis_set (s, h);
    /* the row that holds the proposer's key now: a key rotated away (still
       named by a set fixed before) has no vrf_pk the ledger checks under */
    size_t row = s_row (s, b->proposer);
    if (row == SIZE_MAX) {
        s_detail (s, "the proposer's key is no member row's current key");
        return CAPSULE_LEDGER_BLOCK_PROPOSER;
    }
    cons_sortition_input_t in = {
        .role = CONS_ROLE_PROPOSER,
        .height = h,
        .round = (uint32_t)b->round,
        .weight = 1,
        .total_weight = genesis ? s->nnodes : 1,
        .tau = s->proposers,
    };
    memcpy (in.chain_id, s->chain, 32);
    memcpy (in.seed, s->seeds[h > s->seed_lookback ? h - s->seed_lookback : 0], 32);
    int rc;
    if (genesis)
        rc = cons_sortition_verify (&in, s->vrf[row], &b->claim);
    else {
        uint8_t alpha[CONS_SORTITION_ALPHA_LEN], beta[WD_VRF_BETA_LEN],
            priority[CONS_SORTITION_PRIORITY_LEN];
        rc = cons_sortition_alpha (&in, alpha);
        if (rc == 0)
            rc = wd_vrf_verify (s->vrf[row], alpha, sizeof alpha, b->claim.proof,
                                sizeof b->claim.proof, beta);
        if (rc == 0) {
            cons_sortition_priority (beta, b->claim.count, priority);
            if (sodium_memcmp (priority, b->claim.priority, sizeof priority) != 0)
                rc = CONS_ERR_SORTITION_PRIORITY;
        }
    }
    if (rc == CONS_ERR_SORTITION_COUNT) {
        s_detail (s, "count %llu for weight 1 of %zu, tau %llu", (unsigned long long)b->claim.count,
                  s->nnodes, (unsigned long long)s->proposers);
        return CAPSULE_LEDGER_CLAIM_COUNT;
    }
    if (rc == CONS_ERR_SORTITION_PRIORITY) {
        s_detail (s, "over count %llu", (unsigned long long)b->claim.count);
        return CAPSULE_LEDGER_CLAIM_PRIORITY;
    }
    if (rc != 0) {
        s_detail (s, "round %llu, reason %d", (unsigned long long)b->round, rc);
        return CAPSULE_LEDGER_CLAIM_PROOF;
    }
    return CAPSULE_LEDGER_OK;
}

static capsule_ledger_verdict_t
s_block (s_state_t *s, uint64_t h, const uint8_t *buf, size_t len, const uint8_t prev_id[32],
         uint64_t prev_time, const uint8_t prev_seed[32], uint64_t *records, bool *unchecked)
{
    s_block_t b;
    static const uint8_t zero[32];
    /* 1. form, version, records, root */
    capsule_ledger_verdict_t form =
        len > s->block_max ? CAPSULE_LEDGER_BLOCK_FORMAT : s_block_decode (buf, len, &b);
    if (form == CAPSULE_LEDGER_BLOCK_FORMAT) {
        s_detail (s, "not a canonical v1 or v2 block of at most %llu bytes",
                  (unsigned long long)s->block_max);
        return form;
    }
    if (form != CAPSULE_LEDGER_OK) {
        s_detail (s, "claim: {count: 1 to %u, priority: bin(32), proof: bin(80)}, 1 to %u bytes",
                  (unsigned)CONS_SORTITION_COUNT_MAX, (unsigned)S_CLAIM_MAX);
        return form;
    }
    if (b.v != (s->proposer_vrf ? 2u : 1u)) {
        s_detail (s, "v %llu in a chain with proposer_vrf = %d", (unsigned long long)b.v,
                  (int)s->proposer_vrf);
        return CAPSULE_LEDGER_BLOCK_VERSION;
    }
    if (b.height == 1 && (!sodium_is_zero (b.prev, 32) || b.last_cert_len != 0)) {
        s_detail (s, "height 1 must have a zero prev and an empty last_cert");
        return CAPSULE_LEDGER_BLOCK_PREV;
    }
    capsule_merkle_hash_t *leaves = calloc (b.record_count ? b.record_count : 1, 32);
    capsule_envelope_t *envs = calloc (b.record_count ? b.record_count : 1, sizeof *envs);
    uint8_t (*ids)[32] = calloc (b.record_count ? b.record_count : 1, 32);
    if (!leaves || !envs || !ids)
        abort ();
    capsule_ledger_verdict_t r = CAPSULE_LEDGER_OK;
    capsule_mp_t items, one;
    uint64_t count;
    (void)capsule_mp_enter (b.records, &count, &items);
    for (uint64_t i = 0; i < count && r == CAPSULE_LEDGER_OK; i++) {
        const uint8_t *rec;
        size_t rec_len;
        if (!capsule_mp_next (&items, &one) || !capsule_mp_bin (one, &rec, &rec_len) ||
            !capsule_envelope_decode (rec, rec_len, &envs[i])) {
            s_detail (s, "record %llu", (unsigned long long)i);
            r = CAPSULE_LEDGER_RECORD_FORMAT;
            break;
        }
        crypto_hash_sha256 (ids[i], rec, rec_len);
        capsule_merkle_leaf (leaves[i], ids[i], 32);
        for (uint64_t k = 0; k < i && r == CAPSULE_LEDGER_OK; k++)
            if (memcmp (ids[k], ids[i], 32) == 0) {
                s_detail (s, "records %llu and %llu", (unsigned long long)k, (unsigned long long)i);
                r = CAPSULE_LEDGER_RECORD_DUPLICATE;
            }
    }
    if (r == CAPSULE_LEDGER_OK) {
        capsule_merkle_hash_t root;
        capsule_merkle_root (root, (const capsule_merkle_hash_t *)leaves, (size_t)count);
        if (sodium_memcmp (root, b.records_root, 32) != 0) {
            s_detail (s, "over %llu records", (unsigned long long)count);
            r = CAPSULE_LEDGER_BLOCK_ROOT;
        }
    }
    /* 2. height, prev, time */
    if (r == CAPSULE_LEDGER_OK && b.height != h) {
        s_detail (s, "block says height %llu", (unsigned long long)b.height);
        r = CAPSULE_LEDGER_BLOCK_HEIGHT;
    }
    if (r == CAPSULE_LEDGER_OK && sodium_memcmp (b.prev, h == 1 ? zero : prev_id, 32) != 0) {
        s_detail (s, "prev is not the id of block %llu", (unsigned long long)(h - 1));
        r = CAPSULE_LEDGER_BLOCK_PREV;
    }
    if (r == CAPSULE_LEDGER_OK && h > 1 && b.time <= prev_time) {
        s_detail (s, "time %llu after %llu", (unsigned long long)b.time,
                  (unsigned long long)prev_time);
        r = CAPSULE_LEDGER_BLOCK_TIME;
    }
    /* 3. seed, validators, proposer, the proposer's claim (v2) */
    uint8_t beta[WD_VRF_BETA_LEN];
    if (r == CAPSULE_LEDGER_OK && b.v == 2 &&
        wd_vrf_proof_to_hash (b.claim.proof, sizeof b.claim.proof, beta) != 0) {
        s_detail (s, "the claim's proof does not decode");
        r = CAPSULE_LEDGER_CLAIM_PROOF;
    }
    if (r == CAPSULE_LEDGER_OK) {
        uint8_t seed[32], hb[8];
        crypto_hash_sha256_state st;
        wd_put_be (hb, h, 8);
        crypto_hash_sha256_init (&st);
        crypto_hash_sha256_update (&st, prev_seed, 32);
        if (b.v == 1)
            crypto_hash_sha256_update (&st, b.prev, 32);
        crypto_hash_sha256_update (&st, hb, 8);
        if (b.v == 2)
            crypto_hash_sha256_update (&st, beta, sizeof beta);
        crypto_hash_sha256_final (&st, seed);
        if (sodium_memcmp (seed, b.seed, 32) != 0) {
            s_detail (s, b.v == 1 ? "seed is not SHA-256(prev_seed || prev || height)"
                                  : "seed is not SHA-256(prev_seed || height || beta)");
            r = CAPSULE_LEDGER_BLOCK_SEED;
        }
    }
    if (r == CAPSULE_LEDGER_OK && s_genesis_set (s, h) &&
        sodium_memcmp (b.validators_hash, s->genesis_set_hash, 32) != 0) {
        s_detail (s, "the set of this height is the %zu genesis nodes with weight 1", s->nnodes);
        r = CAPSULE_LEDGER_BLOCK_VALIDATORS;
    }
    if (r == CAPSULE_LEDGER_OK &&
        !(s_genesis_set (s, h) ? s_listed (s->nodes, s->nnodes, b.proposer)
                               : s_listed (s->rows, s->nrows, b.proposer) ||
                                     s_listed (s->retired, s->nretired, b.proposer))) {
        s_detail (s, "proposer is no %s", s_genesis_set (s, h) ? "genesis node" : "member row");
        r = CAPSULE_LEDGER_BLOCK_PROPOSER;
    }
    if (r == CAPSULE_LEDGER_OK && b.v == 2)
        r = s_claim (s, h, &b);
    /* 4. last_cert */
    if (r == CAPSULE_LEDGER_OK && h > 1) {
        bool ignored;
        uint64_t last_round;
        capsule_ledger_verdict_t c =
            s_cert (s, b.last_cert, b.last_cert_len, h - 1, prev_id, &ignored, &last_round);
        if (c != CAPSULE_LEDGER_OK) {
            char inner[160];
            snprintf (inner, sizeof inner, "%s", s->detail ? s->detail : "");
            s_detail (s, "%s: %s", capsule_ledger_name (c), inner);
            r = CAPSULE_LEDGER_LAST_CERT;
        }
    }
    /* 5. records: chain, signer, signature, not already in the chain */
    for (uint64_t i = 0; i < count && r == CAPSULE_LEDGER_OK; i++) {
        const capsule_envelope_t *e = &envs[i];
        if (sodium_memcmp (e->chain, s->chain, 32) != 0) {
            s_detail (s, "record %llu", (unsigned long long)i);
            r = CAPSULE_LEDGER_RECORD_CHAIN;
        } else if (!s_member (s, e->from) && !s_listed (s->signers, s->nsigners, e->from)) {
            s_detail (s, "record %llu", (unsigned long long)i);
            r = CAPSULE_LEDGER_RECORD_SIGNER;
        } else if (!capsule_envelope_sig_ok (e, e->from)) {
            s_detail (s, "record %llu (%s)", (unsigned long long)i, e->type);
            r = CAPSULE_LEDGER_RECORD_SIGNATURE;
        } else if (!s_id_add (s, ids[i])) {
            s_detail (s, "record %llu is already in an earlier block", (unsigned long long)i);
            r = CAPSULE_LEDGER_RECORD_DUPLICATE;
        }
    }
    /* 6. membership: join and leave records change the rows, in block
       order, for the next block's checks */
    for (uint64_t i = 0; i < count && r == CAPSULE_LEDGER_OK; i++)
        r = s_member_tx (s, h, i, &envs[i]);
    free (leaves);
    free (envs);
    free (ids);
    *records = count;
    *unchecked = !s_genesis_set (s, h);
    return r;
}

/* ---- the export ------------------------------------------------------------------------------ */

capsule_ledger_verdict_t
capsule_ledger_verify (const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
                       capsule_ledger_info_t *info, char *detail, size_t detail_len)
{
    return capsule_ledger_verify_records (buf, len, genesis, genesis_len, info, detail, detail_len,
                                          NULL, NULL);
}

bool
capsule_ledger_export_genesis (const uint8_t *buf, size_t len, const uint8_t **genesis,
                               size_t *genesis_len)
{
    capsule_mp_t x = { buf, buf + len };
    return capsule_msgpack_canonical (buf, len) && s_bin (x, "genesis", genesis, genesis_len);
}

capsule_ledger_verdict_t
capsule_ledger_verify_records (const uint8_t *buf, size_t len, const uint8_t *genesis,
                               size_t genesis_len, capsule_ledger_info_t *info, char *detail,
                               size_t detail_len, capsule_ledger_record_fn *fn, void *arg)
{
    capsule_ledger_info_t scratch;
    if (!info)
        info = &scratch;
    memset (info, 0, sizeof *info);
    if (detail && detail_len)
        detail[0] = '\0';
    s_state_t *s = calloc (1, sizeof *s);
    if (!s)
        abort ();
    s->detail = detail;
    s->detail_len = detail_len;
    capsule_ledger_verdict_t r = CAPSULE_LEDGER_OK;

    /* the export's form */
    capsule_mp_t x = { buf, buf + len }, blocks, items, one;
    uint64_t n, v, height, count;
    const uint8_t *gbytes, *chain;
    size_t gbytes_len, chain_len;
    if (!capsule_msgpack_canonical (buf, len) || !capsule_mp_count (x, true, &n) || n != 5 ||
        !s_uint (x, "v", &v) || v != 1 || !s_uint (x, "height", &height) ||
        !s_bin (x, "genesis", &gbytes, &gbytes_len) || !s_bin (x, "chain", &chain, &chain_len) ||
        chain_len != 32 || !capsule_mp_get (x, "blocks", &blocks) ||
        !capsule_mp_enter (blocks, &count, &items)) {
        s_detail (s, "keys must be blocks, chain (32 bytes), genesis, height, v (1)");
        r = CAPSULE_LEDGER_EXPORT_FORMAT;
        goto done;
    }
    if (count != height) {
        s_detail (s, "height %llu but %llu blocks", (unsigned long long)height,
                  (unsigned long long)count);
        r = CAPSULE_LEDGER_EXPORT_FORMAT;
        goto done;
    }
    /* the genesis and the chain id */
    r = s_genesis (s, genesis, genesis_len);
    if (r != CAPSULE_LEDGER_OK)
        goto done;
    info->nodes = s->nnodes;
    info->epoch_blocks = s->epoch_blocks;
    info->seed_lookback = s->seed_lookback;
    if (gbytes_len != genesis_len || sodium_memcmp (gbytes, genesis, genesis_len) != 0) {
        s_detail (s, "the genesis given is not the one in the export");
        r = CAPSULE_LEDGER_GENESIS_MISMATCH;
        goto done;
    }
    crypto_hash_sha256 (s->chain, genesis, genesis_len);
    memcpy (info->chain, s->chain, 32);
    if (sodium_memcmp (chain, s->chain, 32) != 0) {
        s_detail (s, "the export's chain field differs");
        r = CAPSULE_LEDGER_CHAIN_ID;
        goto done;
    }
    /* the blocks */
    uint8_t prev_id[32] = { 0 }, prev_seed[32];
    uint64_t prev_time = 0;
    memcpy (prev_seed, s->chain, 32);
    s->seeds = calloc ((size_t)count + 1, sizeof *s->seeds); /* count < len: it fits */
    if (!s->seeds)
        abort ();
    memcpy (s->seeds[0], s->chain, 32);
    for (uint64_t h = 1; h <= count; h++) {
        capsule_mp_t pitems, e;
        uint64_t pn;
        const uint8_t *block, *cert;
        size_t block_len, cert_len;
        info->bad_height = h;
        if (!capsule_mp_next (&items, &one) || !capsule_mp_enter (one, &pn, &pitems) || pn != 2 ||
            !capsule_mp_next (&pitems, &e) || !capsule_mp_bin (e, &block, &block_len) ||
            !capsule_mp_next (&pitems, &e) || !capsule_mp_bin (e, &cert, &cert_len)) {
            s_detail (s, "entry %llu is not [block: bin, cert: bin]", (unsigned long long)h);
            r = CAPSULE_LEDGER_EXPORT_FORMAT;
            goto done;
        }
        uint64_t records = 0;
        bool unchecked = false, cert_unchecked = false;
        r = s_block (s, h, block, block_len, prev_id, prev_time, prev_seed, &records, &unchecked);
        if (r != CAPSULE_LEDGER_OK)
            goto done;
        uint8_t id[32];
        uint64_t cert_round;
        crypto_hash_sha256 (id, block, block_len);
        r = s_cert (s, cert, cert_len, h, id, &cert_unchecked, &cert_round);
        if (r != CAPSULE_LEDGER_OK)
            goto done;
        s_block_t b;
        (void)s_block_decode (block, block_len, &b);
        if (b.v == 2 && cert_round < b.round) {
            s_detail (s, "claim for round %llu, committed in round %llu",
                      (unsigned long long)b.round, (unsigned long long)cert_round);
            r = CAPSULE_LEDGER_BLOCK_ROUND;
            goto done;
        }
        if (fn) {
            capsule_mp_t ritems, rone;
            uint64_t rn;
            const uint8_t *rec;
            size_t rec_len;
            (void)capsule_mp_enter (b.records, &rn, &ritems);
            for (uint64_t i = 0; i < rn; i++)
                if (capsule_mp_next (&ritems, &rone) && capsule_mp_bin (rone, &rec, &rec_len))
                    fn (arg, h, rec, rec_len);
        }
        memcpy (prev_id, id, 32);
        memcpy (prev_seed, b.seed, 32);
        memcpy (s->seeds[h], b.seed, 32);
        prev_time = b.time;
        info->blocks++;
        info->records += records;
        if (unchecked || cert_unchecked)
            info->weights_unchecked++;
        memcpy (info->tip, id, 32);
    }
    info->bad_height = 0;
done:
    free (s->ids);
    free (s->rows);
    free (s->left);
    free (s->retired);
    free (s->retired_row);
    free (s->vrf);
    free (s->seeds);
    free (s);
    return r;
}

/* ---- anchors of a PCR result log ------------------------------------------------------------- */

typedef struct {
    const uint8_t *pk;
    const char *origin;
    capsule_anchor_t *v;
    size_t n, cap;
} s_anchors_t;

static void
s_anchor_one (void *arg, uint64_t height, const uint8_t *record, size_t len)
{
    s_anchors_t *a = arg;
    capsule_checkpoint_t cp;
    if (!capsule_anchor_open (record, len, a->pk, a->origin, &cp))
        return;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        capsule_anchor_t *nv = realloc (a->v, a->cap * sizeof *nv);
        if (!nv)
            abort ();
        a->v = nv;
    }
    a->v[a->n++] = (capsule_anchor_t){ .height = height, .cp = cp };
}

capsule_ledger_verdict_t
capsule_ledger_anchors (const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
                        const uint8_t pk[32], const char *origin, capsule_anchor_t **anchors,
                        size_t *count, capsule_ledger_info_t *info, char *detail, size_t detail_len)
{
    s_anchors_t a = { .pk = pk, .origin = origin };
    capsule_ledger_verdict_t v = capsule_ledger_verify_records (
        buf, len, genesis, genesis_len, info, detail, detail_len, s_anchor_one, &a);
    *anchors = a.v;
    *count = a.n;
    return v;
}
