/*
 * cons_vcache: the verified-envelope-id cache (cons_vcache.h). Set
 * associative: the id's first bytes (uniform, it is a SHA-256) pick a
 * bucket of S_WAYS ids, replaced round robin, so lookups and inserts are
 * O(1) and the size is fixed.
 */
#include "cons_vcache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_WAYS    4
#define S_BUCKETS (CONS_VCACHE_IDS / S_WAYS)

typedef struct {
    uint8_t id[S_WAYS][32];
    uint8_t used;
    uint8_t next;
} s_bucket_t;

struct cons_vcache {
    uint8_t chain[WD_CHAIN_ID_LEN];
    s_bucket_t *buckets;
    uint64_t hits, misses;         /* envelopes */
    uint64_t sig_hits, sig_misses; /* agreement signatures */
};

cons_vcache_t *
cons_vcache_new (const uint8_t chain[WD_CHAIN_ID_LEN])
{
    cons_vcache_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->buckets = calloc (S_BUCKETS, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    memcpy (self->chain, chain, WD_CHAIN_ID_LEN);
    return self;
}

void
cons_vcache_destroy (cons_vcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->buckets);
    free (*self_p);
    *self_p = NULL;
}

static s_bucket_t *
s_bucket (const cons_vcache_t *self, const uint8_t id[32])
{
    uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16;
    return &self->buckets[h % S_BUCKETS];
}

bool
cons_vcache_has (const cons_vcache_t *self, const uint8_t id[32])
{
    if (!self)
        return false;
    const s_bucket_t *b = s_bucket (self, id);
    for (unsigned i = 0; i < b->used; i++)
        if (memcmp (b->id[i], id, 32) == 0)
            return true;
    return false;
}

static void
s_remember (cons_vcache_t *self, const uint8_t id[32])
{
    s_bucket_t *b = s_bucket (self, id);
    if (b->used < S_WAYS)
        memcpy (b->id[b->used++], id, 32);
    else {
        memcpy (b->id[b->next], id, 32);
        b->next = (uint8_t)((b->next + 1) % S_WAYS);
    }
}

void
cons_vcache_note (cons_vcache_t *self, const uint8_t id[32])
{
    if (self && !cons_vcache_has (self, id))
        s_remember (self, id);
}

int
cons_vcache_verify (cons_vcache_t *self, const uint8_t id[32], const wd_envelope_t *env,
                    const uint8_t chain[WD_CHAIN_ID_LEN])
{
    bool usable = self && memcmp (chain, self->chain, WD_CHAIN_ID_LEN) == 0;
    if (usable && cons_vcache_has (self, id)) {
        self->hits++;
        return WD_OK;
    }
    int err = wd_envelope_verify (env, chain, NULL);
    if (!usable)
        return err;
    self->misses++;
    if (err != WD_OK)
        return err;
    s_remember (self, id);
    return WD_OK;
}

bool
cons_vcache_verify_sig (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                        const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN])
{
    cons_vcache_t *self = ctx;
    /* a key of its own domain: never equal to an envelope id */
    static const char domain[] = "warden/vcache-sig";
    uint8_t key[32];
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, sizeof key);
    crypto_generichash_update (&h, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update (&h, pk, WD_PUBKEY_LEN);
    crypto_generichash_update (&h, digest, WD_DIGEST_LEN);
    crypto_generichash_update (&h, sig, WD_SIG_LEN);
    crypto_generichash_final (&h, key, sizeof key);
    if (self && cons_vcache_has (self, key)) {
        self->sig_hits++;
        return true;
    }
    bool ok = crypto_sign_verify_detached (sig, digest, WD_DIGEST_LEN, pk) == 0;
    if (self) {
        self->sig_misses++;
        if (ok)
            s_remember (self, key);
    }
    return ok;
}

void
cons_vcache_stats (const cons_vcache_t *self, uint64_t *hits, uint64_t *misses)
{
    *hits = self ? self->hits : 0;
    *misses = self ? self->misses : 0;
}

void
cons_vcache_sig_stats (const cons_vcache_t *self, uint64_t *hits, uint64_t *misses)
{
    *hits = self ? self->sig_hits : 0;
    *misses = self ? self->sig_misses : 0;
}
