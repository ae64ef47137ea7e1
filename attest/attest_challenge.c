/*
 * attest_challenge: the challenge scheduler's state machine (see the
 * header). The PRNG is ChaCha20 (libsodium's crypto_stream_chacha20) keyed
 * by the seed, read 64 bytes at a time with a block counter as the nonce.
 */
#include "attest_challenge.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct attest_challenge {
    attest_challenge_config_t config;
    uint8_t *key; /* sodium_malloc: the PRNG key */
    uint64_t block;
    uint8_t pool[64];
    size_t pool_used;
    bool running;
    bool demanded;
    uint64_t due_ms; /* next challenge, when none is open */
    uint64_t seq;
    bool is_open;
    attest_challenge_event_t open;
};

static void
s_random (attest_challenge_t *self, void *out, size_t len)
{
    uint8_t *p = out;
    while (len > 0) {
        if (self->pool_used == sizeof self->pool) {
            uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
            memcpy (nonce, &self->block, sizeof nonce);
            memset (self->pool, 0, sizeof self->pool);
            crypto_stream_chacha20_xor (self->pool, self->pool, sizeof self->pool, nonce,
                                        self->key);
            self->block++;
            self->pool_used = 0;
        }
        size_t n = sizeof self->pool - self->pool_used;
        if (n > len)
            n = len;
        memcpy (p, self->pool + self->pool_used, n);
        sodium_memzero (self->pool + self->pool_used, n);
        self->pool_used += n;
        p += n;
        len -= n;
    }
}

static uint64_t
s_u64 (attest_challenge_t *self)
{
    uint64_t v;
    s_random (self, &v, sizeof v);
    return v;
}

/* Uniform in [0, bound) without modulo bias. */
static uint64_t
s_uniform (attest_challenge_t *self, uint64_t bound)
{
    assert (bound > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do
        v = s_u64 (self);
    while (v >= limit);
    return v % bound;
}

attest_challenge_t *
attest_challenge_new (const attest_challenge_config_t *config,
                      const uint8_t seed[ATTEST_CHALLENGE_SEED_LEN])
{
    assert (config && seed);
    assert (config->mean_interval_ms >= 1);
    assert (config->deadline_ms >= 1 && config->deadline_ms <= ATTEST_AGENT_DEADLINE_MAX);
    assert (config->item_count >= 1 && config->item_count <= ATTEST_AGENT_ITEMS_MAX);
    assert (config->min_items >= 1 && config->min_items <= config->max_items &&
            config->max_items <= config->item_count);
    if (sodium_init () < 0)
        abort ();
    attest_challenge_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->config = *config;
    self->key = sodium_malloc (crypto_stream_chacha20_KEYBYTES);
    if (!self->key)
        abort ();
    memcpy (self->key, seed, crypto_stream_chacha20_KEYBYTES);
    self->pool_used = sizeof self->pool;
    self->due_ms = UINT64_MAX;
    return self;
}

void
attest_challenge_destroy (attest_challenge_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_challenge_t *self = *self_p;
        sodium_free (self->key);
        sodium_memzero (self, sizeof *self);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
attest_challenge_draw_interval (attest_challenge_t *self)
{
    /* u in (0, 1] from 53 random bits; -mean * ln(u) is exponential. The
       tail is cut at 40 means (probability e^-40): an interval is never
       unbounded, and the cut moves the mean by less than 1e-15. */
    double u = (double)((s_u64 (self) >> 11) + 1) / 9007199254740992.0;
    double mean = (double)self->config.mean_interval_ms;
    double x = -mean * log (u);
    if (x > 40.0 * mean)
        x = 40.0 * mean;
    uint64_t ms = (uint64_t)llround (x);
    return ms ? ms : 1;
}

void
attest_challenge_start (attest_challenge_t *self, uint64_t now_ms)
{
    assert (self);
    self->running = true;
    self->is_open = false;
    self->demanded = false;
    self->due_ms = now_ms + attest_challenge_draw_interval (self);
}

void
attest_challenge_stop (attest_challenge_t *self)
{
    assert (self);
    self->running = false;
    self->is_open = false;
    self->demanded = false;
    self->due_ms = UINT64_MAX;
}

void
attest_challenge_demand (attest_challenge_t *self)
{
    assert (self);
    if (self->running)
        self->demanded = true;
}

uint64_t
attest_challenge_next_ms (const attest_challenge_t *self)
{
    assert (self);
    if (!self->running)
        return UINT64_MAX;
    if (self->is_open)
        return self->open.deadline_ms + 1;
    return self->demanded ? 0 : self->due_ms;
}

static void
s_close (attest_challenge_t *self, uint64_t now_ms)
{
    self->is_open = false;
    self->due_ms = now_ms + attest_challenge_draw_interval (self);
}

static void
s_issue (attest_challenge_t *self, uint64_t now_ms, attest_challenge_event_t *ev)
{
    const attest_challenge_config_t *c = &self->config;
    memset (ev, 0, sizeof *ev);
    ev->kind = ATTEST_CHALLENGE_ISSUE;
    ev->seq = ++self->seq;
    s_random (self, ev->nonce, sizeof ev->nonce);
    ev->issued_ms = now_ms;
    ev->deadline_ms = now_ms + c->deadline_ms;
    ev->on_demand = self->demanded;
    ev->count = c->min_items + (size_t)s_uniform (self, c->max_items - c->min_items + 1);
    /* Partial Fisher-Yates over the item indices, then ascending order. */
    uint16_t idx[ATTEST_AGENT_ITEMS_MAX];
    for (size_t i = 0; i < c->item_count; i++)
        idx[i] = (uint16_t)i;
    for (size_t i = 0; i < ev->count; i++) {
        size_t j = i + (size_t)s_uniform (self, c->item_count - i);
        uint16_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    bool chosen[ATTEST_AGENT_ITEMS_MAX] = { false };
    for (size_t i = 0; i < ev->count; i++)
        chosen[idx[i]] = true;
    size_t k = 0;
    for (size_t i = 0; i < c->item_count; i++)
        if (chosen[i])
            ev->items[k++] = (uint16_t)i;
    self->demanded = false;
    self->is_open = true;
    self->open = *ev;
}

attest_challenge_event_kind_t
attest_challenge_poll (attest_challenge_t *self, uint64_t now_ms, attest_challenge_event_t *ev)
{
    assert (self && ev);
    ev->kind = ATTEST_CHALLENGE_NONE;
    if (!self->running)
        return ev->kind;
    if (self->is_open) {
        if (now_ms <= self->open.deadline_ms)
            return ev->kind;
        *ev = self->open;
        ev->kind = ATTEST_CHALLENGE_MISSED;
        s_close (self, now_ms);
        return ev->kind;
    }
    if (self->demanded || now_ms >= self->due_ms)
        s_issue (self, now_ms, ev);
    return ev->kind;
}

int
attest_challenge_answer (attest_challenge_t *self, uint64_t seq, const uint8_t nonce[32],
                         uint64_t now_ms)
{
    assert (self && nonce);
    if (!self->running || !self->is_open || seq != self->open.seq ||
        sodium_memcmp (nonce, self->open.nonce, ATTEST_AGENT_NONCE_LEN) != 0)
        return ATTEST_ERR_AGENT_NONCE;
    if (now_ms > self->open.deadline_ms)
        return ATTEST_ERR_AGENT_LATE;
    s_close (self, now_ms);
    return WD_OK;
}

const attest_challenge_event_t *
attest_challenge_open (const attest_challenge_t *self)
{
    assert (self);
    return self->running && self->is_open ? &self->open : NULL;
}
