/*
 * capsule_policy: encoding, decoding and the pure release decision of a
 * capsule's release policy (capsule_policy.h; docs/PROTOCOL.md "Capsules").
 */
#include "capsule_policy.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_err.h"

static const char *const s_tier_names[] = { "none", "warning", "affirming" };

void
capsule_policy_init (capsule_policy_t *policy)
{
    assert (policy);
    memset (policy, 0, sizeof *policy);
    policy->min_tier = CAPSULE_TIER_NONE;
}

const char *
capsule_tier_name (capsule_tier_t tier)
{
    assert ((unsigned)tier <= CAPSULE_TIER_AFFIRMING);
    return s_tier_names[tier];
}

bool
capsule_tier_parse (const char *str, size_t len, capsule_tier_t *tier)
{
    for (size_t i = 0; i < sizeof s_tier_names / sizeof s_tier_names[0]; i++)
        if (strlen (s_tier_names[i]) == len && memcmp (str, s_tier_names[i], len) == 0) {
            *tier = (capsule_tier_t)i;
            return true;
        }
    return false;
}

bool
capsule_keyprot_valid (const char *name, size_t len)
{
    if (len < 1 || len > CAPSULE_KEYPROT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static int
s_cmp_digest (const void *a, const void *b)
{
    return memcmp (a, b, CAPSULE_DIGEST_LEN);
}

/* Key protection names are ordered by plain byte order (a name sorts
   before any longer name it is a prefix of). */
static int
s_cmp_name (const void *a, const void *b)
{
    return strcmp (a, b);
}

/* Sorts n items of size bytes and drops adjacent duplicates; returns the
   new count. */
static size_t
s_sort_unique (void *base, size_t n, size_t size, int (*cmp) (const void *, const void *))
{
    if (n < 2)
        return n;
    qsort (base, n, size, cmp);
    uint8_t *b = base;
    size_t out = 1;
    for (size_t i = 1; i < n; i++)
        if (cmp (b + (out - 1) * size, b + i * size) != 0) {
            if (out != i)
                memmove (b + out * size, b + i * size, size);
            out++;
        }
    /* Dropped slots are zeroed so equal sets compare equal byte for byte. */
    memset (b + out * size, 0, (n - out) * size);
    return out;
}

void
capsule_policy_normalize (capsule_policy_t *p)
{
    assert (p);
    assert (p->n_code <= CAPSULE_POLICY_LIST_MAX && p->n_nodes <= CAPSULE_POLICY_LIST_MAX);
    assert (p->n_measurements <= CAPSULE_POLICY_LIST_MAX);
    assert (p->n_key_protection <= CAPSULE_POLICY_LIST_MAX);
    p->n_code = s_sort_unique (p->code, p->n_code, CAPSULE_DIGEST_LEN, s_cmp_digest);
    p->n_nodes = s_sort_unique (p->nodes, p->n_nodes, CAPSULE_DIGEST_LEN, s_cmp_digest);
    p->n_measurements =
        s_sort_unique (p->measurements, p->n_measurements, CAPSULE_DIGEST_LEN, s_cmp_digest);
    p->n_key_protection =
        s_sort_unique (p->key_protection, p->n_key_protection, CAPSULE_KEYPROT_MAX + 1, s_cmp_name);
}

static void
s_write_digests (wd_writer_t *w, const uint8_t (*list)[CAPSULE_DIGEST_LEN], size_t n)
{
    wd_writer_array (w, n);
    for (size_t i = 0; i < n; i++) {
        assert (i == 0 || memcmp (list[i - 1], list[i], CAPSULE_DIGEST_LEN) < 0);
        wd_writer_bin (w, list[i], CAPSULE_DIGEST_LEN);
    }
}

void
capsule_policy_write (wd_writer_t *w, const capsule_policy_t *p)
{
    assert (w && p);
    wd_writer_map (w, 6);
    wd_writer_key (w, "code");
    s_write_digests (w, (const uint8_t (*)[CAPSULE_DIGEST_LEN])p->code, p->n_code);
    wd_writer_key (w, "expires");
    wd_writer_uint (w, p->expires_ms);
    wd_writer_key (w, "key_protection");
    wd_writer_array (w, p->n_key_protection);
    for (size_t i = 0; i < p->n_key_protection; i++) {
        const char *name = p->key_protection[i];
        assert (capsule_keyprot_valid (name, strlen (name)));
        assert (i == 0 || strcmp (p->key_protection[i - 1], name) < 0);
        wd_writer_cstr (w, name);
    }
    wd_writer_key (w, "measurements");
    s_write_digests (w, (const uint8_t (*)[CAPSULE_DIGEST_LEN])p->measurements, p->n_measurements);
    wd_writer_key (w, "min_tier");
    wd_writer_cstr (w, capsule_tier_name (p->min_tier));
    wd_writer_key (w, "nodes");
    s_write_digests (w, (const uint8_t (*)[CAPSULE_DIGEST_LEN])p->nodes, p->n_nodes);
}

/* Reads a strictly ascending list of 32-byte digests. Returns false with
 *bad set for a policy violation, false without it for a reader error. */
static bool
s_read_digests (wd_reader_t *r, uint8_t (*list)[CAPSULE_DIGEST_LEN], size_t *n, bool *bad)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return false;
    if (count > CAPSULE_POLICY_LIST_MAX) {
        *bad = true;
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!wd_read_bin_fixed (r, list[i], CAPSULE_DIGEST_LEN))
            return false;
        if (i > 0 && memcmp (list[i - 1], list[i], CAPSULE_DIGEST_LEN) >= 0) {
            *bad = true;
            return false;
        }
    }
    *n = count;
    return wd_read_end (r);
}

int
capsule_policy_read (wd_reader_t *r, capsule_policy_t *p)
{
    assert (r && p);
    capsule_policy_init (p);
    bool bad = false;
    size_t count;
    if (!wd_read_map (r, &count))
        goto out;
    if (!wd_read_key (r, "code") || !s_read_digests (r, p->code, &p->n_code, &bad))
        goto out;
    if (!wd_read_key (r, "expires") || !wd_read_uint (r, &p->expires_ms, UINT64_MAX))
        goto out;
    if (!wd_read_key (r, "key_protection") || !wd_read_array (r, &count))
        goto out;
    if (count > CAPSULE_POLICY_LIST_MAX) {
        bad = true;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const char *s;
        size_t len;
        if (!wd_read_str (r, &s, &len, 255))
            goto out;
        if (!capsule_keyprot_valid (s, len)) {
            bad = true;
            goto out;
        }
        memcpy (p->key_protection[i], s, len);
        p->key_protection[i][len] = '\0';
        if (i > 0 && strcmp (p->key_protection[i - 1], p->key_protection[i]) >= 0) {
            bad = true;
            goto out;
        }
    }
    p->n_key_protection = count;
    if (!wd_read_end (r))
        goto out;
    if (!wd_read_key (r, "measurements") ||
        !s_read_digests (r, p->measurements, &p->n_measurements, &bad))
        goto out;
    const char *tier;
    size_t tier_len;
    if (!wd_read_key (r, "min_tier") || !wd_read_str (r, &tier, &tier_len, 16))
        goto out;
    if (!capsule_tier_parse (tier, tier_len, &p->min_tier)) {
        bad = true;
        goto out;
    }
    if (!wd_read_key (r, "nodes") || !s_read_digests (r, p->nodes, &p->n_nodes, &bad))
        goto out;
    wd_read_end (r);
out:
    if (bad)
        return CAPSULE_ERR_POLICY;
    return r->err;
}

static bool
s_digest_in (const uint8_t (*list)[CAPSULE_DIGEST_LEN], size_t n, const uint8_t *digest)
{
    for (size_t i = 0; i < n; i++)
        if (sodium_memcmp (list[i], digest, CAPSULE_DIGEST_LEN) == 0)
            return true;
    return false;
}

int
capsule_policy_check (const capsule_policy_t *p, const capsule_executor_t *ex,
                      const uint8_t *code_digest, uint64_t now_ms)
{
    assert (p && ex);
    if (p->expires_ms != 0 && now_ms >= p->expires_ms)
        return CAPSULE_ERR_POLICY_EXPIRED;
    if (ex->tier < p->min_tier)
        return CAPSULE_ERR_POLICY_TIER;
    if (p->n_key_protection > 0) {
        bool found = false;
        for (size_t i = 0; ex->key_protection && i < p->n_key_protection; i++)
            if (strcmp (p->key_protection[i], ex->key_protection) == 0)
                found = true;
        if (!found)
            return CAPSULE_ERR_POLICY_KEY_PROTECTION;
    }
    if (p->n_measurements > 0 &&
        (!ex->has_measurement ||
         !s_digest_in ((const uint8_t (*)[CAPSULE_DIGEST_LEN])p->measurements, p->n_measurements,
                       ex->measurement)))
        return CAPSULE_ERR_POLICY_MEASUREMENT;
    if (p->n_nodes > 0 &&
        !s_digest_in ((const uint8_t (*)[CAPSULE_DIGEST_LEN])p->nodes, p->n_nodes, ex->node_id))
        return CAPSULE_ERR_POLICY_NODE;
    if (code_digest && p->n_code > 0 &&
        !s_digest_in ((const uint8_t (*)[CAPSULE_DIGEST_LEN])p->code, p->n_code, code_digest))
        return CAPSULE_ERR_POLICY_CODE;
    return 0;
}
