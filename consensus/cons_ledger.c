/*
 * cons_ledger: the SQLite ledger store, the block rules that need the chain,
 * and the from-scratch re-check (cons_ledger.h; docs/PROTOCOL.md "Blocks
 * and the ledger").
 *
 * The rules run against a replay state (tip, reputation table, validator
 * sets per epoch, the last seed_lookback + 1 seeds for the VRF proposer
 * sortition). The live ledger keeps one, advanced by every append;
 * cons_ledger_verify_all builds a fresh one from the stored blocks.
 */
#include "cons_ledger.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest_verdict.h"
#include "wd_codec.h"
#include "wd_db.h"
#include "wd_hash.h"

static const char *const s_schema[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE blocks (height INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,"
    " prev BLOB NOT NULL, time INTEGER NOT NULL, proposer BLOB NOT NULL, seed BLOB NOT NULL,"
    " records_root BLOB NOT NULL, validators_hash BLOB NOT NULL,"
    " reputation_hash BLOB NOT NULL, block BLOB NOT NULL, cert BLOB NOT NULL);"
    "CREATE TABLE records (height INTEGER NOT NULL REFERENCES blocks (height),"
    " idx INTEGER NOT NULL, id BLOB NOT NULL UNIQUE, type TEXT NOT NULL,"
    " signer BLOB NOT NULL, envelope BLOB NOT NULL, PRIMARY KEY (height, idx));",
};

/* The validator set of one epoch; n == 0: not fixed yet. */
typedef struct {
    cons_validator_t *v;
    size_t n;
} s_set_t;

/* What the rules need to judge the next block. */
typedef struct {
    uint64_t height;
    uint8_t id[CONS_BLOCK_ID_LEN];
    uint8_t seed[CONS_BLOCK_HASH_LEN];
    uint64_t time;
    uint8_t *cert; /* certificate of the tip, as stored */
    size_t cert_len;
    cons_reputation_t *rep;
    s_set_t *sets; /* by epoch */
    size_t set_count;
    uint8_t (*eseeds)[CONS_BLOCK_HASH_LEN]; /* by epoch: the seed of its first block */
    size_t eseed_count;
    /* the seed of block k at k % (lookback + 1), for k in (height -
       lookback - 1, height]: the proposer sortition's seed source */
    uint8_t (*seeds)[CONS_BLOCK_HASH_LEN];
} s_state_t;

struct cons_ledger {
    sqlite3 *db;
    const wd_genesis_t *genesis;
    cons_ledger_mode_t mode;
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint64_t block_max, epoch_blocks, lookback, tau;
    bool vrf;           /* proposer_vrf: blocks are v2 with a proposer claim */
    uint64_t proposers; /* the genesis `proposers`: tau of the proposer role */
    cons_validator_t *genesis_set;
    size_t genesis_count;
    s_state_t state;
    cons_cert_sig_t *sigs;    /* CONS_VALIDATORS_MAX, scratch for certificates */
    cons_vcache_t *vcache;    /* borrowed, NULL: none; live checks only */
    sqlite3_stmt *where_stmt; /* s_record_where, prepared once */
    bool checked;             /* checked_id passed the live check ... */
    uint64_t checked_tip;     /* ... against the state at this tip height */
    uint8_t checked_id[CONS_BLOCK_ID_LEN];
};

/* How records are checked for duplicates. */
typedef enum {
    S_LIVE,   /* a new block: no record may be in the database */
    S_STORED, /* a stored block: each record row must be this block's */
} s_where_t;

/* ---- replay state ---------------------------------------------------- */

static void
s_state_init (cons_ledger_t *self, s_state_t *st)
{
    memset (st, 0, sizeof *st);
    memcpy (st->seed, self->chain, sizeof st->seed);
    st->rep = cons_reputation_new (self->genesis);
    st->seeds = calloc ((size_t)self->lookback + 1, sizeof *st->seeds);
    if (!st->seeds)
        abort ();
}

static void
s_state_clear (s_state_t *st)
{
    free (st->cert);
    cons_reputation_destroy (&st->rep);
    for (size_t i = 0; i < st->set_count; i++)
        free (st->sets[i].v);
    free (st->sets);
    free (st->eseeds);
    free (st->seeds);
    memset (st, 0, sizeof *st);
}

/* The validator set of height, or NULL when not fixed yet. */
static const s_set_t *
s_set_for (const cons_ledger_t *self, const s_state_t *st, uint64_t height, s_set_t *genesis)
{
    if (height == 0)
        return NULL;
    uint64_t e = (height - 1) / self->epoch_blocks;
    if (e * self->epoch_blocks <= self->lookback) {
        genesis->v = self->genesis_set;
        genesis->n = self->genesis_count;
        return genesis;
    }
    if (e < st->set_count && st->sets[e].n > 0)
        return &st->sets[e];
    return NULL;
}

/* After block height h is folded in: fix the epoch whose reference height
   is h. */
static void
s_fix_epoch (cons_ledger_t *self, s_state_t *st, uint64_t h)
{
    uint64_t ref = h + self->lookback;
    if (ref % self->epoch_blocks != 0)
        return;
    uint64_t e = ref / self->epoch_blocks;
    if (e >= st->set_count) {
        size_t n = (size_t)e + 1;
        s_set_t *sets = realloc (st->sets, n * sizeof *sets);
        if (!sets)
            abort ();
        memset (sets + st->set_count, 0, (n - st->set_count) * sizeof *sets);
        st->sets = sets;
        st->set_count = n;
    }
    s_set_t *set = &st->sets[e];
    free (set->v);
    set->v = malloc (cons_reputation_count (st->rep) * sizeof *set->v);
    if (!set->v)
        abort ();
    set->n = cons_reputation_weights (st->rep, e, set->v);
}

static void
s_advance (cons_ledger_t *self, s_state_t *st, const cons_block_t *b,
           const uint8_t id[CONS_BLOCK_ID_LEN], const uint8_t *cert, size_t cert_len)
{
    s_set_t g;
    const s_set_t *prev = b->height > 1 ? s_set_for (self, st, b->height - 1, &g) : NULL;
    cons_reputation_apply (st->rep, b, prev ? prev->v : NULL, prev ? prev->n : 0);
    st->height = b->height;
    memcpy (st->id, id, CONS_BLOCK_ID_LEN);
    memcpy (st->seed, b->seed, CONS_BLOCK_HASH_LEN);
    memcpy (st->seeds[b->height % (self->lookback + 1)], b->seed, CONS_BLOCK_HASH_LEN);
    st->time = b->time;
    free (st->cert);
    st->cert = malloc (cert_len ? cert_len : 1);
    if (!st->cert)
        abort ();
    memcpy (st->cert, cert, cert_len);
    st->cert_len = cert_len;
    if ((b->height - 1) % self->epoch_blocks == 0) {
        uint64_t e = (b->height - 1) / self->epoch_blocks;
        if (e >= st->eseed_count) {
            size_t n = (size_t)e + 1;
            uint8_t (*seeds)[CONS_BLOCK_HASH_LEN] = realloc (st->eseeds, n * sizeof *seeds);
            if (!seeds)
                abort ();
            memset (seeds + st->eseed_count, 0, (n - st->eseed_count) * sizeof *seeds);
            st->eseeds = seeds;
            st->eseed_count = n;
        }
        memcpy (st->eseeds[e], b->seed, CONS_BLOCK_HASH_LEN);
    }
    s_fix_epoch (self, st, b->height);
}

/* ---- rules ------------------------------------------------------------- */

/* A current member (genesis or joined, not left) as of the tip of st, or a
   reference-value signer. Membership changes in a block count from the
   next block on. */
static bool
s_known_signer (const cons_ledger_t *self, const s_state_t *st, const uint8_t pk[WD_PUBKEY_LEN])
{
    if (cons_reputation_is_member (st->rep, pk))
        return true;
    for (size_t i = 0; i < wd_genesis_signer_count (self->genesis); i++)
        if (memcmp (wd_genesis_signer (self->genesis, i), pk, WD_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* Where a record id is stored: WD_OK and *height, *idx, or
   WD_ERR_NOT_FOUND, or WD_ERR_DB. */
static int
s_record_where (cons_ledger_t *self, const uint8_t id[32], uint64_t *height, uint64_t *idx)
{
    if (!self->where_stmt &&
        sqlite3_prepare_v3 (self->db, "SELECT height, idx FROM records WHERE id = ?", -1,
                            SQLITE_PREPARE_PERSISTENT, &self->where_stmt, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_stmt *stmt = self->where_stmt;
    sqlite3_bind_blob (stmt, 1, id, 32, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int err = WD_ERR_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        *height = (uint64_t)sqlite3_column_int64 (stmt, 0);
        *idx = (uint64_t)sqlite3_column_int64 (stmt, 1);
        err = WD_OK;
    } else if (rc != SQLITE_DONE)
        err = WD_ERR_DB;
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return err;
}

static int
s_check_record (cons_ledger_t *self, const s_state_t *st, const cons_block_t *b, size_t i,
                s_where_t where, bool sigs)
{
    wd_envelope_t env;
    int err = wd_envelope_decode (b->records[i].data, b->records[i].len, &env);
    if (err != WD_OK)
        return CONS_ERR_BLOCK_RECORD;
    if (sodium_memcmp (env.chain, self->chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (!s_known_signer (self, st, env.from))
        return CONS_ERR_BLOCK_SIGNER;
    uint8_t id[32];
    wd_envelope_id (id, b->records[i].data, b->records[i].len);
    /* A live check may skip a signature that verified before (the id is
       the hash of these very bytes); stored blocks are checked from
       scratch. */
    if (sigs && (err = cons_vcache_verify (where == S_LIVE ? self->vcache : NULL, id, &env,
                                           self->chain)) != WD_OK)
        return err;
    if (strcmp (env.type, ATTEST_VERDICT_TYPE) == 0) {
        attest_verdict_body_t *v = malloc (sizeof *v);
        if (!v)
            return WD_ERR_NOMEM;
        err = attest_verdict_decode (env.body, env.body_len, v);
        free (v);
        if (err != WD_OK)
            return CONS_ERR_BLOCK_RECORD;
    } else if (strcmp (env.type, CONS_REP_EQUIVOCATION_TYPE) == 0) {
        cons_evidence_t ev;
        if (cons_evidence_decode (env.body, env.body_len, &ev) != WD_OK)
            return CONS_ERR_BLOCK_RECORD;
        if (sigs && (err = cons_evidence_verify (&ev, self->chain, NULL, NULL)) != WD_OK)
            return err;
    }
    uint64_t height = 0, idx = 0;
    err = s_record_where (self, id, &height, &idx);
    if (where == S_LIVE) {
        if (err == WD_OK)
            return CONS_ERR_BLOCK_DUPLICATE;
        return err == WD_ERR_NOT_FOUND ? WD_OK : err;
    }
    if (err == WD_ERR_NOT_FOUND)
        return CONS_ERR_LEDGER_CORRUPT;
    if (err != WD_OK)
        return err;
    return height == b->height && idx == i ? WD_OK : CONS_ERR_BLOCK_DUPLICATE;
}

/* What the committee rules ask of the chain. */
typedef struct {
    cons_ledger_t *self;
    const s_state_t *st;
} s_rules_ctx_t;

/* Committee epoch e: its first block must be committed. */
static bool
s_rules_epoch (void *ctx, uint64_t e, cons_committee_epoch_t *out)
{
    s_rules_ctx_t *r = ctx;
    uint64_t first = e * r->self->epoch_blocks + 1;
    if (e >= r->st->eseed_count || first > r->st->height)
        return false;
    s_set_t g;
    const s_set_t *set = s_set_for (r->self, r->st, first, &g);
    if (!set)
        return false;
    out->epoch = e;
    out->height = first;
    memcpy (out->seed, r->st->eseeds[e], CONS_BLOCK_HASH_LEN);
    out->validators = set->v;
    out->count = set->n;
    return true;
}

/* An evidence record with this id in a block below height. */
static bool
s_rules_seen (void *ctx, const uint8_t id[32], uint64_t height)
{
    s_rules_ctx_t *r = ctx;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (r->self->db,
                            "SELECT height FROM records WHERE id = ? AND type = 'evidence'", -1,
                            &stmt, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_blob (stmt, 1, id, 32, SQLITE_STATIC);
    bool seen =
        sqlite3_step (stmt) == SQLITE_ROW && (uint64_t)sqlite3_column_int64 (stmt, 0) < height;
    sqlite3_finalize (stmt);
    return seen;
}

/* The seed the proposer sortition of height (tip of st + 1) uses: that of
   block max(height - lookback, 0), the chain id for block 0. */
static const uint8_t *
s_proposer_seed (const cons_ledger_t *self, const s_state_t *st, uint64_t height)
{
    assert (height == st->height + 1);
    if (height <= self->lookback)
        return self->chain;
    return st->seeds[(height - self->lookback) % (self->lookback + 1)];
}

/* The proposer sortition input of pk at (height, round) against st (height
   = st tip + 1). CONS_ERR_BLOCK_HEIGHT, or CONS_ERR_UNKNOWN_VALIDATOR with
   in->weight 0 when pk is not in the set. */
static int
s_proposer_input (const cons_ledger_t *self, const s_state_t *st, uint64_t height, uint32_t round,
                  const uint8_t pk[WD_PUBKEY_LEN], cons_sortition_input_t *in)
{
    memset (in, 0, sizeof *in);
    s_set_t g;
    const s_set_t *set = height == st->height + 1 ? s_set_for (self, st, height, &g) : NULL;
    if (!set)
        return CONS_ERR_BLOCK_HEIGHT;
    memcpy (in->chain_id, self->chain, CONS_SORTITION_ID_LEN);
    memcpy (in->seed, s_proposer_seed (self, st, height), CONS_SORTITION_ID_LEN);
    in->role = CONS_ROLE_PROPOSER;
    in->height = height;
    in->round = round;
    in->tau = self->proposers;
    bool found = false;
    for (size_t i = 0; i < set->n; i++) {
        in->total_weight += set->v[i].weight;
        if (memcmp (set->v[i].pk, pk, WD_PUBKEY_LEN) == 0) {
            in->weight = set->v[i].weight;
            found = true;
        }
    }
    return found ? WD_OK : CONS_ERR_UNKNOWN_VALIDATOR;
}

/* Checks pk's proposer claim for (height, round) against st: decodes it
   and verifies it under pk's vrf_pk in st's reputation table (the genesis
   certificate, or that of its join or latest rotate). On WD_OK *claim
   holds the decoded claim. */
static int
s_check_claim (const cons_ledger_t *self, const s_state_t *st, uint64_t height, uint32_t round,
               const uint8_t pk[WD_PUBKEY_LEN], const uint8_t *bytes, size_t len,
               cons_sortition_claim_t *claim)
{
    cons_sortition_input_t in;
    int err = s_proposer_input (self, st, height, round, pk, &in);
    if (err != WD_OK)
        return err;
    const cons_rep_entry_t *row = cons_reputation_find (st->rep, pk);
    if (!row || memcmp (row->cert.sign_pk, pk, WD_PUBKEY_LEN) != 0)
        return CONS_ERR_UNKNOWN_VALIDATOR;
    err = cons_sortition_claim_decode (bytes, len, claim);
    if (err != WD_OK)
        return err;
    return cons_sortition_verify (&in, row->cert.vrf_pk, claim);
}

/* Every rule of cons_ledger_check_block against st; on WD_OK *b holds the
   decoded block (release it). On a failure that one record causes,
   *bad_record (may be NULL) gets its index, else SIZE_MAX. */
static int
s_check (cons_ledger_t *self, const s_state_t *st, const uint8_t *buf, size_t len, s_where_t where,
         bool sigs, cons_block_t *b, size_t *bad_record)
{
    size_t bad_scratch;
    if (!bad_record)
        bad_record = &bad_scratch;
    *bad_record = SIZE_MAX;
    int err = cons_block_decode (buf, len, (size_t)self->block_max, b);
    if (err != WD_OK)
        return err;
    uint8_t hash[CONS_BLOCK_HASH_LEN];
    s_set_t g1, g2;
    const s_set_t *set = s_set_for (self, st, b->height, &g1);
    if (b->height != st->height + 1 || !set)
        err = CONS_ERR_BLOCK_HEIGHT;
    else if (memcmp (b->prev, st->id, CONS_BLOCK_ID_LEN) != 0)
        err = CONS_ERR_BLOCK_PREV;
    else if (b->time <= st->time)
        err = CONS_ERR_BLOCK_TIME;
    else if ((b->claim.bytes.len > 0) != self->vrf)
        err = WD_ERR_BAD_VERSION; /* v1 in round-robin mode, v2 in VRF mode */
    if (err == WD_OK && self->vrf) {
        /* The claim, then the seed from its VRF output. Stored blocks
           replayed without signatures skip the proof check, not the seed. */
        cons_sortition_claim_t claim;
        uint8_t beta[WD_VRF_BETA_LEN];
        if (sigs)
            err = s_check_claim (self, st, b->height, b->claim.round, b->proposer,
                                 b->claim.bytes.data, b->claim.bytes.len, &claim);
        else
            err = cons_sortition_claim_decode (b->claim.bytes.data, b->claim.bytes.len, &claim);
        if (err == WD_OK)
            err = wd_vrf_proof_to_hash (claim.proof, sizeof claim.proof, beta);
        if (err == WD_OK) {
            cons_block_seed_vrf (st->seed, b->height, beta, hash);
            if (memcmp (hash, b->seed, sizeof hash) != 0)
                err = CONS_ERR_BLOCK_SEED;
        }
    } else if (err == WD_OK) {
        cons_block_seed (st->seed, st->id, b->height, hash);
        if (memcmp (hash, b->seed, sizeof hash) != 0)
            err = CONS_ERR_BLOCK_SEED;
    }
    if (err == WD_OK) {
        cons_block_validators_hash (set->v, set->n, hash);
        if (memcmp (hash, b->validators_hash, sizeof hash) != 0)
            err = CONS_ERR_BLOCK_VALIDATORS;
    }
    if (err == WD_OK) {
        cons_reputation_hash (st->rep, hash);
        if (memcmp (hash, b->reputation_hash, sizeof hash) != 0)
            err = CONS_ERR_BLOCK_REPUTATION;
    }
    if (err == WD_OK) {
        err = CONS_ERR_UNKNOWN_VALIDATOR;
        for (size_t i = 0; i < set->n; i++)
            if (memcmp (set->v[i].pk, b->proposer, WD_PUBKEY_LEN) == 0)
                err = WD_OK;
    }
    if (err == WD_OK && b->height > 1) {
        cons_cert_t cert;
        const s_set_t *prev = s_set_for (self, st, b->height - 1, &g2);
        err = cons_cert_decode (b->last_cert.data, b->last_cert.len, &cert, self->sigs,
                                CONS_VALIDATORS_MAX);
        if (err == WD_OK &&
            (cert.height != b->height - 1 || memcmp (cert.block_id, st->id, 32) != 0))
            err = CONS_ERR_CERT_BLOCK;
        if (err == WD_OK && sigs)
            err = cons_cert_verify (&cert, self->chain, prev->v, prev->n, cons_vcache_verify_sig,
                                    where == S_LIVE ? self->vcache : NULL);
    }
    for (size_t i = 0; err == WD_OK && i < b->record_count; i++)
        if ((err = s_check_record (self, st, b, i, where, sigs)) != WD_OK)
            *bad_record = i;
    if (err == WD_OK) {
        const s_set_t *prev = b->height > 1 ? s_set_for (self, st, b->height - 1, &g2) : NULL;
        s_rules_ctx_t ctx = { self, st };
        cons_rep_rules_t rules = {
            self->chain, self->tau, sigs, s_rules_epoch, s_rules_seen, &ctx
        };
        size_t ri = SIZE_MAX;
        err = cons_reputation_check (st->rep, b, prev ? prev->v : NULL, prev ? prev->n : 0, &rules,
                                     &ri);
        if (err != WD_OK)
            *bad_record = ri;
    }
    if (err != WD_OK)
        cons_block_release (b);
    return err;
}

/* Checks a certificate for block id at height against the set (live: the
   precommits the machine verified are memoised in the vcache); a block's
   claim round (0 for v1) may not be above the certificate's round. */
static int
s_check_cert (cons_ledger_t *self, const s_state_t *st, s_where_t where, uint64_t height,
              uint32_t claim_round, const uint8_t id[CONS_BLOCK_ID_LEN], const uint8_t *buf,
              size_t len)
{
    cons_cert_t cert;
    s_set_t g;
    const s_set_t *set = s_set_for (self, st, height, &g);
    if (!set)
        return CONS_ERR_BLOCK_HEIGHT;
    int err = cons_cert_decode (buf, len, &cert, self->sigs, CONS_VALIDATORS_MAX);
    if (err != WD_OK)
        return err;
    if (cert.height != height || memcmp (cert.block_id, id, CONS_BLOCK_ID_LEN) != 0)
        return CONS_ERR_CERT_BLOCK;
    if (cert.round < claim_round)
        return CONS_ERR_BLOCK_ROUND;
    return cons_cert_verify (&cert, self->chain, set->v, set->n, cons_vcache_verify_sig,
                             where == S_LIVE ? self->vcache : NULL);
}

/* ---- open and close ---------------------------------------------------- */

static int
s_bind_chain (cons_ledger_t *self, char *why, size_t why_len)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "SELECT value FROM meta WHERE key = 'chain'", -1, &stmt,
                            NULL) != SQLITE_OK) {
        wd_err_why (why, why_len, "%s", sqlite3_errmsg (self->db));
        return WD_ERR_DB;
    }
    int rc = sqlite3_step (stmt);
    int err = WD_OK;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes (stmt, 0) != WD_CHAIN_ID_LEN ||
            memcmp (sqlite3_column_blob (stmt, 0), self->chain, WD_CHAIN_ID_LEN) != 0) {
            wd_err_why (why, why_len, "the ledger was made for another genesis");
            err = CONS_ERR_LEDGER_CHAIN;
        }
        sqlite3_finalize (stmt);
        return err;
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        wd_err_why (why, why_len, "%s", sqlite3_errmsg (self->db));
        return WD_ERR_DB;
    }
    if (self->mode == CONS_LEDGER_READ_ONLY)
        return WD_OK;
    if (sqlite3_prepare_v2 (self->db, "INSERT INTO meta (key, value) VALUES ('chain', ?)", -1,
                            &stmt, NULL) != SQLITE_OK) {
        wd_err_why (why, why_len, "%s", sqlite3_errmsg (self->db));
        return WD_ERR_DB;
    }
    sqlite3_bind_blob (stmt, 1, self->chain, WD_CHAIN_ID_LEN, SQLITE_STATIC);
    rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        wd_err_why (why, why_len, "%s", sqlite3_errmsg (self->db));
        return WD_ERR_DB;
    }
    return WD_OK;
}

typedef struct {
    cons_ledger_t *self;
    s_state_t *st;
    bool sigs;
    uint64_t bad_height;
    char *why;
    size_t why_len;
} s_replay_t;

/* Replays one stored block into r->st. */
static int
s_replay_visit (void *ctx, uint64_t height, const uint8_t *block, size_t block_len,
                const uint8_t *cert, size_t cert_len)
{
    s_replay_t *r = ctx;
    cons_block_t b;
    uint8_t id[CONS_BLOCK_ID_LEN];
    r->bad_height = height;
    int err = s_check (r->self, r->st, block, block_len, S_STORED, r->sigs, &b, NULL);
    if (err == WD_OK && b.height != height) {
        cons_block_release (&b);
        err = CONS_ERR_BLOCK_HEIGHT;
    }
    if (err != WD_OK) {
        wd_err_why (r->why, r->why_len, "block %llu: %s", (unsigned long long)height,
                    cons_strerror (err));
        return err;
    }
    cons_block_id (block, block_len, id);
    if (r->sigs) {
        err = s_check_cert (r->self, r->st, S_STORED, height, b.claim.round, id, cert, cert_len);
        if (err != WD_OK) {
            cons_block_release (&b);
            wd_err_why (r->why, r->why_len, "block %llu: certificate: %s",
                        (unsigned long long)height, cons_strerror (err));
            return err;
        }
    }
    s_advance (r->self, r->st, &b, id, cert, cert_len);
    cons_block_release (&b);
    r->bad_height = 0;
    return WD_OK;
}

int
cons_ledger_open (const char *path, const wd_genesis_t *genesis, cons_ledger_mode_t mode,
                  cons_ledger_t **out, char *why, size_t why_len)
{
    assert (path && genesis && out);
    *out = NULL;
    if (mode == CONS_LEDGER_READ_ONLY && access (path, F_OK) != 0) {
        wd_err_why (why, why_len, "%s: no ledger", path);
        return WD_ERR_NOT_FOUND;
    }
    cons_ledger_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->genesis = genesis;
    self->mode = mode;
    wd_genesis_chain_id (genesis, self->chain);
    self->block_max = wd_genesis_param (genesis, "block_max_bytes");
    self->epoch_blocks = wd_genesis_param (genesis, "epoch_blocks");
    self->lookback = wd_genesis_param (genesis, "seed_lookback");
    self->tau = wd_genesis_param (genesis, "verifiers");
    self->vrf = wd_genesis_param (genesis, "proposer_vrf") != 0;
    self->proposers = wd_genesis_param (genesis, "proposers");
    self->genesis_count = wd_genesis_node_count (genesis);
    self->genesis_set =
        calloc (self->genesis_count ? self->genesis_count : 1, sizeof *self->genesis_set);
    self->sigs = malloc (CONS_VALIDATORS_MAX * sizeof *self->sigs);
    if (!self->genesis_set || !self->sigs) {
        cons_ledger_destroy (&self);
        return WD_ERR_NOMEM;
    }
    for (size_t i = 0; i < self->genesis_count; i++) {
        memcpy (self->genesis_set[i].pk, wd_genesis_node (genesis, i)->sign_pk, WD_PUBKEY_LEN);
        self->genesis_set[i].weight = 1;
    }
    s_state_init (self, &self->state);

    int err = wd_db_open (path, WD_DB_SYNC_FULL, &self->db, why, why_len);
    if (err == WD_OK && mode == CONS_LEDGER_READ_WRITE) {
        err = wd_db_migrate (self->db, s_schema, sizeof s_schema / sizeof *s_schema, why, why_len);
        if (err == WD_OK)
            err = wd_db_append_only (self->db, "meta", why, why_len);
        if (err == WD_OK)
            err = wd_db_append_only (self->db, "blocks", why, why_len);
        if (err == WD_OK)
            err = wd_db_append_only (self->db, "records", why, why_len);
    }
    if (err == WD_OK)
        err = s_bind_chain (self, why, why_len);
    if (err == WD_OK) {
        s_replay_t r = { self, &self->state, false, 0, why, why_len };
        err = cons_ledger_iterate (self, 1, s_replay_visit, &r);
        if (err != WD_OK && err != WD_ERR_DB) {
            /* Read-only (wardenctl): keep the chain up to the last good
               block, so that verify_all can name the bad one. */
            err = mode == CONS_LEDGER_READ_ONLY ? WD_OK : CONS_ERR_LEDGER_CORRUPT;
        }
    }
    if (err != WD_OK) {
        cons_ledger_destroy (&self);
        return err;
    }
    *out = self;
    return WD_OK;
}

bool
cons_ledger_verify_cb (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                       const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN])
{
    cons_ledger_t *self = ctx;
    return cons_vcache_verify_sig (self->vcache, pk, digest, sig);
}

void
cons_ledger_set_vcache (cons_ledger_t *self, cons_vcache_t *cache)
{
    assert (self);
    self->vcache = cache;
}

void
cons_ledger_destroy (cons_ledger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cons_ledger_t *self = *self_p;
    sqlite3_finalize (self->where_stmt);
    wd_db_close (&self->db);
    s_state_clear (&self->state);
    free (self->genesis_set);
    free (self->sigs);
    free (self);
    *self_p = NULL;
}

/* ---- the tip ------------------------------------------------------------ */

uint64_t
cons_ledger_height (const cons_ledger_t *self)
{
    return self->state.height;
}

void
cons_ledger_tip (const cons_ledger_t *self, uint8_t id[CONS_BLOCK_ID_LEN],
                 uint8_t seed[CONS_BLOCK_HASH_LEN], uint64_t *time_ms)
{
    if (id)
        memcpy (id, self->state.id, CONS_BLOCK_ID_LEN);
    if (seed)
        memcpy (seed, self->state.seed, CONS_BLOCK_HASH_LEN);
    if (time_ms)
        *time_ms = self->state.time;
}

const uint8_t *
cons_ledger_chain (const cons_ledger_t *self)
{
    return self->chain;
}

int
cons_ledger_validators (const cons_ledger_t *self, uint64_t height,
                        const cons_validator_t **validators, size_t *count)
{
    s_set_t g;
    const s_set_t *set = s_set_for (self, &self->state, height, &g);
    if (!set)
        return WD_ERR_OUT_OF_RANGE;
    *validators = set->v;
    *count = set->n;
    return WD_OK;
}

const cons_reputation_t *
cons_ledger_reputation (const cons_ledger_t *self)
{
    return self->state.rep;
}

int
cons_ledger_node_status (const cons_ledger_t *self, const uint8_t node[WD_PUBKEY_LEN],
                         cons_node_status_t *out)
{
    assert (self && node && out);
    return cons_reputation_node_status (self->state.rep, node, out);
}

bool
cons_ledger_seen (cons_ledger_t *self, const uint8_t id[32])
{
    uint64_t h, i;
    return s_record_where (self, id, &h, &i) == WD_OK;
}

/* ---- building, checking, appending ------------------------------------ */

bool
cons_ledger_proposer_vrf (const cons_ledger_t *self)
{
    assert (self);
    return self->vrf;
}

int
cons_ledger_proposer_input (cons_ledger_t *self, uint64_t height, uint32_t round,
                            const uint8_t pk[WD_PUBKEY_LEN], cons_sortition_input_t *in)
{
    assert (self && pk && in);
    return s_proposer_input (self, &self->state, height, round, pk, in);
}

int
cons_ledger_check_claim (cons_ledger_t *self, uint64_t height, uint32_t round,
                         const uint8_t pk[WD_PUBKEY_LEN], const uint8_t *claim, size_t claim_len,
                         uint8_t priority[CONS_SORTITION_PRIORITY_LEN])
{
    assert (self && pk && (claim || claim_len == 0));
    cons_sortition_claim_t c;
    int err = s_check_claim (self, &self->state, height, round, pk, claim, claim_len, &c);
    if (err == WD_OK && priority)
        memcpy (priority, c.priority, CONS_SORTITION_PRIORITY_LEN);
    return err;
}

int
cons_ledger_propose (cons_ledger_t *self, uint64_t time_ms, const uint8_t proposer[WD_PUBKEY_LEN],
                     const cons_block_claim_t *claim, const cons_bytes_t *records, size_t count,
                     uint8_t **out, size_t *len)
{
    assert (out && len && proposer);
    *out = NULL;
    *len = 0;
    if (count > CONS_BLOCK_RECORDS_MAX)
        return WD_ERR_OUT_OF_RANGE;
    /* VRF mode: a claim whose proof decodes gives the seed */
    uint8_t beta[WD_VRF_BETA_LEN];
    if ((claim != NULL) != self->vrf)
        return WD_ERR_BAD_VALUE;
    if (claim) {
        cons_sortition_claim_t c;
        if (claim->bytes.len == 0 || claim->bytes.len > CONS_BLOCK_CLAIM_MAX ||
            claim->round > CONS_ROUND_MAX ||
            cons_sortition_claim_decode (claim->bytes.data, claim->bytes.len, &c) != WD_OK ||
            wd_vrf_proof_to_hash (c.proof, sizeof c.proof, beta) != WD_OK)
            return WD_ERR_BAD_VALUE;
    }
    const s_state_t *st = &self->state;
    cons_block_t b = { 0 };
    b.height = st->height + 1;
    s_set_t g;
    const s_set_t *set = s_set_for (self, st, b.height, &g);
    if (!set)
        return WD_ERR_OUT_OF_RANGE;
    if (b.height > 1) {
        b.last_cert.data = st->cert;
        b.last_cert.len = st->cert_len;
    }
    memcpy (b.prev, st->id, CONS_BLOCK_ID_LEN);
    memcpy (b.proposer, proposer, WD_PUBKEY_LEN);
    b.records = (cons_bytes_t *)records;
    b.record_count = count;
    cons_block_records_root (records, count, b.records_root);
    cons_reputation_hash (st->rep, b.reputation_hash);
    if (claim) {
        b.claim = *claim;
        cons_block_seed_vrf (st->seed, b.height, beta, b.seed);
    } else
        cons_block_seed (st->seed, st->id, b.height, b.seed);
    b.time = time_ms > st->time ? time_ms : st->time + 1;
    cons_block_validators_hash (set->v, set->n, b.validators_hash);
    *out = cons_block_encode (&b, len);
    return WD_OK;
}

int
cons_ledger_propose_valid (cons_ledger_t *self, uint64_t time_ms,
                           const uint8_t proposer[WD_PUBKEY_LEN], const cons_block_claim_t *claim,
                           const cons_bytes_t *records, size_t count, int *why, uint8_t **out,
                           size_t *len)
{
    assert (out && len && proposer && (why || count == 0));
    *out = NULL;
    *len = 0;
    if (count > CONS_BLOCK_RECORDS_MAX)
        return WD_ERR_OUT_OF_RANGE;
    /* kept[k] is the index in records of the k-th record still in */
    cons_bytes_t *recs = malloc ((count ? count : 1) * sizeof *recs);
    size_t *kept = malloc ((count ? count : 1) * sizeof *kept);
    uint8_t (*ids)[32] = malloc ((count ? count : 1) * sizeof *ids);
    if (!recs || !kept || !ids) {
        free (recs);
        free (kept);
        free (ids);
        return WD_ERR_NOMEM;
    }
    /* a record twice: the later copy goes (the block decoder refuses it
       without saying which one) */
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        why[i] = WD_OK;
        wd_envelope_id (ids[n], records[i].data, records[i].len);
        bool twice = false;
        for (size_t k = 0; k < n && !twice; k++)
            twice = memcmp (ids[k], ids[n], 32) == 0;
        if (twice) {
            why[i] = CONS_ERR_BLOCK_DUPLICATE;
            continue;
        }
        recs[n] = records[i];
        kept[n++] = i;
    }
    free (ids);
    int err;
    for (;;) {
        uint8_t *block = NULL;
        size_t block_len = 0;
        err = cons_ledger_propose (self, time_ms, proposer, claim, recs, n, &block, &block_len);
        if (err != WD_OK)
            break;
        cons_block_t b;
        size_t bad = SIZE_MAX;
        err = s_check (self, &self->state, block, block_len, S_LIVE, true, &b, &bad);
        if (err == WD_OK) {
            cons_block_release (&b);
            *out = block;
            *len = block_len;
            break;
        }
        free (block);
        if (bad >= n)
            break; /* not a record's fault */
        why[kept[bad]] = err;
        memmove (recs + bad, recs + bad + 1, (n - bad - 1) * sizeof *recs);
        memmove (kept + bad, kept + bad + 1, (n - bad - 1) * sizeof *kept);
        n--;
    }
    free (recs);
    free (kept);
    return err;
}

int
cons_ledger_check_block (cons_ledger_t *self, const uint8_t *block, size_t len)
{
    cons_block_t b;
    int err = s_check (self, &self->state, block, len, S_LIVE, true, &b, NULL);
    if (err == WD_OK) {
        cons_block_release (&b);
        cons_block_id (block, len, self->checked_id);
        self->checked_tip = self->state.height;
        self->checked = true;
    }
    return err;
}

bool
cons_ledger_valid_cb (void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    cons_ledger_t *self = ctx;
    return height == self->state.height + 1 && cons_ledger_check_block (self, block, len) == WD_OK;
}

static int
s_exec (sqlite3 *db, const char *sql)
{
    return sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK ? WD_OK : WD_ERR_DB;
}

static int
s_insert (cons_ledger_t *self, const cons_block_t *b, const uint8_t id[CONS_BLOCK_ID_LEN],
          const uint8_t *block, size_t len, const uint8_t *cert, size_t cert_len)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (
        self->db,
        "INSERT INTO blocks (height, id, prev, time, proposer, seed, records_root,"
        " validators_hash, reputation_hash, block, cert) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)b->height);
    sqlite3_bind_blob (stmt, 2, id, CONS_BLOCK_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 3, b->prev, CONS_BLOCK_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, (sqlite3_int64)b->time);
    sqlite3_bind_blob (stmt, 5, b->proposer, WD_PUBKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 6, b->seed, CONS_BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 7, b->records_root, CONS_BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 8, b->validators_hash, CONS_BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 9, b->reputation_hash, CONS_BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 10, block, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 11, cert, (int)cert_len, SQLITE_STATIC);
    rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        return WD_ERR_DB;
    if (b->record_count == 0)
        return WD_OK;
    rc = sqlite3_prepare_v2 (self->db,
                             "INSERT INTO records (height, idx, id, type, signer, envelope)"
                             " VALUES (?,?,?,?,?,?)",
                             -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return WD_ERR_DB;
    for (size_t i = 0; i < b->record_count && rc != SQLITE_ERROR; i++) {
        wd_envelope_t env;
        uint8_t rid[32];
        if (wd_envelope_decode (b->records[i].data, b->records[i].len, &env) != WD_OK) {
            rc = SQLITE_ERROR;
            break;
        }
        wd_envelope_id (rid, b->records[i].data, b->records[i].len);
        sqlite3_reset (stmt);
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)b->height);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)i);
        sqlite3_bind_blob (stmt, 3, rid, 32, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, env.type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob (stmt, 5, env.from, WD_PUBKEY_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_blob (stmt, 6, b->records[i].data, (int)b->records[i].len, SQLITE_STATIC);
        rc = sqlite3_step (stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize (stmt);
    return rc == SQLITE_OK ? WD_OK : WD_ERR_DB;
}

int
cons_ledger_append (cons_ledger_t *self, const uint8_t *block, size_t len, const uint8_t *cert,
                    size_t cert_len)
{
    assert (self && block && cert);
    if (self->mode == CONS_LEDGER_READ_ONLY)
        return WD_ERR_BAD_VALUE;
    cons_block_t b;
    uint8_t id[CONS_BLOCK_ID_LEN];
    cons_block_id (block, len, id);
    /* the very bytes passed the live check against this very state */
    bool done = self->checked && self->checked_tip == self->state.height &&
                memcmp (id, self->checked_id, sizeof id) == 0;
    int err = done ? cons_block_decode (block, len, (size_t)self->block_max, &b)
                   : s_check (self, &self->state, block, len, S_LIVE, true, &b, NULL);
    if (err != WD_OK)
        return err;
    err = s_check_cert (self, &self->state, S_LIVE, b.height, b.claim.round, id, cert, cert_len);
    if (err == WD_OK)
        err = s_exec (self->db, "BEGIN IMMEDIATE");
    if (err == WD_OK) {
        err = s_insert (self, &b, id, block, len, cert, cert_len);
        if (err == WD_OK)
            err = s_exec (self->db, "COMMIT");
        if (err != WD_OK)
            (void)s_exec (self->db, "ROLLBACK");
    }
    if (err == WD_OK) {
        s_advance (self, &self->state, &b, id, cert, cert_len);
        self->checked = false;
    }
    cons_block_release (&b);
    return err;
}

/* ---- reading ------------------------------------------------------------ */

static uint8_t *
s_copy_column (sqlite3_stmt *stmt, int col, size_t *len)
{
    size_t n = (size_t)sqlite3_column_bytes (stmt, col);
    const void *data = sqlite3_column_blob (stmt, col);
    uint8_t *out = malloc (n ? n : 1);
    if (!out)
        abort ();
    if (n)
        memcpy (out, data, n);
    *len = n;
    return out;
}

int
cons_ledger_get (cons_ledger_t *self, uint64_t height, uint8_t **block, size_t *block_len,
                 uint8_t **cert, size_t *cert_len)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "SELECT block, cert FROM blocks WHERE height = ?", -1, &stmt,
                            NULL) != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)height);
    int rc = sqlite3_step (stmt);
    int err = rc == SQLITE_ROW ? WD_OK : rc == SQLITE_DONE ? WD_ERR_NOT_FOUND : WD_ERR_DB;
    if (err == WD_OK) {
        if (block)
            *block = s_copy_column (stmt, 0, block_len);
        if (cert)
            *cert = s_copy_column (stmt, 1, cert_len);
    }
    sqlite3_finalize (stmt);
    return err;
}

int
cons_ledger_find (cons_ledger_t *self, const uint8_t id[CONS_BLOCK_ID_LEN], uint64_t *height)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "SELECT height FROM blocks WHERE id = ?", -1, &stmt, NULL) !=
        SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_blob (stmt, 1, id, CONS_BLOCK_ID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int err = rc == SQLITE_ROW ? WD_OK : rc == SQLITE_DONE ? WD_ERR_NOT_FOUND : WD_ERR_DB;
    if (err == WD_OK)
        *height = (uint64_t)sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return err;
}

int
cons_ledger_iterate (cons_ledger_t *self, uint64_t from, cons_ledger_visit_fn visit, void *ctx)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT height, block, cert FROM blocks WHERE height >= ?"
                            " ORDER BY height",
                            -1, &stmt, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)(from ? from : 1));
    int rc, err = WD_OK;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        err = visit (ctx, (uint64_t)sqlite3_column_int64 (stmt, 0), sqlite3_column_blob (stmt, 1),
                     (size_t)sqlite3_column_bytes (stmt, 1), sqlite3_column_blob (stmt, 2),
                     (size_t)sqlite3_column_bytes (stmt, 2));
        if (err != WD_OK)
            break;
    }
    if (err == WD_OK && rc != SQLITE_DONE)
        err = WD_ERR_DB;
    sqlite3_finalize (stmt);
    return err;
}

/* ---- verify_all ---------------------------------------------------------- */

static bool
s_blob_is (sqlite3_stmt *stmt, int col, const uint8_t *want, size_t len)
{
    return (size_t)sqlite3_column_bytes (stmt, col) == len &&
           memcmp (sqlite3_column_blob (stmt, col), want, len) == 0;
}

/* The stored columns of a block against its bytes. */
static int
s_check_columns (cons_ledger_t *self, uint64_t height)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT id, prev, time, proposer, seed, records_root, validators_hash,"
                            " reputation_hash, block FROM blocks WHERE height = ?",
                            -1, &stmt, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)height);
    int err = WD_ERR_DB;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        cons_block_t b;
        const uint8_t *buf = sqlite3_column_blob (stmt, 8);
        size_t len = (size_t)sqlite3_column_bytes (stmt, 8);
        uint8_t id[CONS_BLOCK_ID_LEN];
        err = cons_block_decode (buf, len, SIZE_MAX, &b);
        if (err == WD_OK) {
            cons_block_id (buf, len, id);
            bool ok = s_blob_is (stmt, 0, id, 32) && s_blob_is (stmt, 1, b.prev, 32) &&
                      (uint64_t)sqlite3_column_int64 (stmt, 2) == b.time &&
                      s_blob_is (stmt, 3, b.proposer, 32) && s_blob_is (stmt, 4, b.seed, 32) &&
                      s_blob_is (stmt, 5, b.records_root, 32) &&
                      s_blob_is (stmt, 6, b.validators_hash, 32) &&
                      s_blob_is (stmt, 7, b.reputation_hash, 32);
            err = ok ? WD_OK : CONS_ERR_LEDGER_CORRUPT;
            cons_block_release (&b);
        }
    }
    sqlite3_finalize (stmt);
    return err;
}

static int
s_count (sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    int err = sqlite3_step (stmt) == SQLITE_ROW ? WD_OK : WD_ERR_DB;
    if (err == WD_OK)
        *out = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return err;
}

typedef struct {
    s_replay_t replay;
    uint64_t expect;
    uint64_t records;
} s_verify_t;

static int
s_verify_visit (void *ctx, uint64_t height, const uint8_t *block, size_t block_len,
                const uint8_t *cert, size_t cert_len)
{
    s_verify_t *v = ctx;
    s_replay_t *r = &v->replay;
    if (height != v->expect) {
        r->bad_height = v->expect;
        wd_err_why (r->why, r->why_len, "block %llu is missing", (unsigned long long)v->expect);
        return CONS_ERR_BLOCK_HEIGHT;
    }
    int err = s_check_columns (r->self, height);
    if (err != WD_OK) {
        r->bad_height = height;
        wd_err_why (r->why, r->why_len, "block %llu: stored columns: %s",
                    (unsigned long long)height, cons_strerror (err));
        return err;
    }
    err = s_replay_visit (r, height, block, block_len, cert, cert_len);
    if (err != WD_OK)
        return err;
    v->expect++;
    return WD_OK;
}

/* Counts records per block by decoding again (cheap next to signatures). */
static int
s_count_records (void *ctx, uint64_t height, const uint8_t *block, size_t block_len,
                 const uint8_t *cert, size_t cert_len)
{
    (void)height, (void)cert, (void)cert_len;
    cons_block_t b;
    if (cons_block_decode (block, block_len, SIZE_MAX, &b) != WD_OK)
        return CONS_ERR_LEDGER_CORRUPT;
    *(uint64_t *)ctx += b.record_count;
    cons_block_release (&b);
    return WD_OK;
}

int
cons_ledger_verify_all (cons_ledger_t *self, uint64_t *bad_height, char *why, size_t why_len)
{
    assert (self && bad_height);
    *bad_height = 0;
    char result[64] = "";
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        snprintf (result, sizeof result, "%s", (const char *)sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (strcmp (result, "ok") != 0) {
        wd_err_why (why, why_len, "integrity_check: %s", result);
        return WD_ERR_DB;
    }

    /* One read transaction: the replay and the row count see the same
       snapshot while a running node appends (WAL readers are not blocked). */
    int err = s_exec (self->db, "BEGIN");
    if (err != WD_OK)
        return err;
    s_state_t st;
    s_state_init (self, &st);
    s_verify_t v = { { self, &st, true, 0, why, why_len }, 1, 0 };
    err = cons_ledger_iterate (self, 1, s_verify_visit, &v);
    if (err != WD_OK)
        *bad_height = v.replay.bad_height;
    if (err == WD_OK && st.height != self->state.height) {
        /* Another process appended since we opened: fine, the replay
           covered more. A shorter chain means rows went missing. */
        if (st.height < self->state.height) {
            *bad_height = st.height + 1;
            wd_err_why (why, why_len, "block %llu is missing", (unsigned long long)*bad_height);
            err = CONS_ERR_BLOCK_HEIGHT;
        }
    }
    if (err == WD_OK) {
        uint64_t want = 0;
        int64_t have = 0;
        err = cons_ledger_iterate (self, 1, s_count_records, &want);
        if (err == WD_OK)
            err = s_count (self->db, "SELECT COUNT(*) FROM records", &have);
        if (err == WD_OK && (uint64_t)have != want) {
            wd_err_why (why, why_len, "records table holds %lld rows, the blocks %llu",
                        (long long)have, (unsigned long long)want);
            err = CONS_ERR_LEDGER_CORRUPT;
        }
    }
    (void)s_exec (self->db, "COMMIT");
    s_state_clear (&st);
    return err;
}

/* ---- export --------------------------------------------------------------- */

static int
s_export_visit (void *ctx, uint64_t height, const uint8_t *block, size_t block_len,
                const uint8_t *cert, size_t cert_len)
{
    (void)height;
    wd_writer_t *w = ctx;
    wd_writer_array (w, 2);
    wd_writer_bin (w, block, block_len);
    wd_writer_bin (w, cert, cert_len);
    return WD_OK;
}

int
cons_ledger_export (cons_ledger_t *self, const char *path)
{
    int64_t count = 0;
    int err = s_count (self->db, "SELECT COUNT(*) FROM blocks", &count);
    if (err != WD_OK)
        return err;
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    err = wd_genesis_encode (self->genesis, &genesis, &genesis_len);
    if (err != WD_OK)
        return err;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "blocks");
    wd_writer_array (w, (size_t)count);
    err = s_exec (self->db, "BEGIN");
    int64_t count2 = 0;
    if (err == WD_OK)
        err = s_count (self->db, "SELECT COUNT(*) FROM blocks", &count2);
    if (err == WD_OK && count2 != count)
        err = WD_ERR_DB; /* appended in between: the caller may retry */
    if (err == WD_OK)
        err = cons_ledger_iterate (self, 1, s_export_visit, w);
    (void)s_exec (self->db, "COMMIT");
    if (err != WD_OK) {
        free (genesis);
        wd_writer_destroy (&w);
        return err;
    }
    wd_writer_key (w, "chain");
    wd_writer_bin (w, self->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "genesis");
    wd_writer_bin (w, genesis, genesis_len);
    wd_writer_key (w, "height");
    wd_writer_uint (w, (uint64_t)count);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    free (genesis);
    size_t len;
    const uint8_t *data = wd_writer_data (w, &len);

    char tmp[4096];
    if ((size_t)snprintf (tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        wd_writer_destroy (&w);
        return WD_ERR_IO;
    }
    err = WD_ERR_IO;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = write (fd, data + done, len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        if (done == len && fsync (fd) == 0)
            err = WD_OK;
        if (close (fd) != 0)
            err = WD_ERR_IO;
        if (err == WD_OK && rename (tmp, path) != 0)
            err = WD_ERR_IO;
        if (err != WD_OK)
            unlink (tmp);
    }
    wd_writer_destroy (&w);
    return err;
}
