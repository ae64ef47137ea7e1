/*
 * capsule_merkle: RFC 9162 tree heads and proofs. The proof generators walk
 * the recursive definitions of RFC 9162 §2.1.3.1 and §2.1.4.1 over an
 * array of leaf hashes (O(n) hashes per proof, which is what a log of a few
 * million results can afford on request); the verifiers are the iterative
 * algorithms of §2.1.3.2 and §2.1.4.2.
 */
#include "capsule_merkle.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

void
capsule_merkle_leaf (capsule_merkle_hash_t out, const void *data, size_t len)
{
    crypto_hash_sha256_state st;
    const uint8_t prefix = 0x00;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, &prefix, 1);
    crypto_hash_sha256_update (&st, data, len);
    crypto_hash_sha256_final (&st, out);
}

void
capsule_merkle_node (capsule_merkle_hash_t out, const capsule_merkle_hash_t left,
                     const capsule_merkle_hash_t right)
{
    uint8_t buf[1 + 2 * CAPSULE_MERKLE_HASH_LEN];
    buf[0] = 0x01;
    memcpy (buf + 1, left, CAPSULE_MERKLE_HASH_LEN);
    memcpy (buf + 1 + CAPSULE_MERKLE_HASH_LEN, right, CAPSULE_MERKLE_HASH_LEN);
    crypto_hash_sha256 (out, buf, sizeof buf);
}

/* The largest power of two below n (n >= 2). */
static size_t
s_split (size_t n)
{
    size_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

void
capsule_merkle_root (capsule_merkle_hash_t out, const capsule_merkle_hash_t *leaves, size_t n)
{
    if (n == 0) {
        crypto_hash_sha256 (out, (const uint8_t *)"", 0);
        return;
    }
    capsule_merkle_range_t range;
    capsule_merkle_range_init (&range);
    for (size_t i = 0; i < n; i++)
        capsule_merkle_range_append (&range, leaves[i]);
    capsule_merkle_range_root (&range, out);
}

static size_t
s_path (const capsule_merkle_hash_t *leaves, size_t n, size_t m, capsule_merkle_hash_t *proof)
{
    if (n == 1)
        return 0;
    size_t k = s_split (n);
    size_t count;
    if (m < k) {
        count = s_path (leaves, k, m, proof);
        capsule_merkle_root (proof[count], leaves + k, n - k);
    } else {
        count = s_path (leaves + k, n - k, m - k, proof);
        capsule_merkle_root (proof[count], leaves, k);
    }
    return count + 1;
}

size_t
capsule_merkle_inclusion_proof (const capsule_merkle_hash_t *leaves, size_t size, size_t index,
                                capsule_merkle_hash_t *proof)
{
    assert (index < size);
    return s_path (leaves, size, index, proof);
}

bool
capsule_merkle_inclusion_verify (const capsule_merkle_hash_t leaf, uint64_t index, uint64_t size,
                                 const capsule_merkle_hash_t *proof, size_t count,
                                 const capsule_merkle_hash_t root)
{
    if (index >= size)
        return false;
    uint64_t fn = index, sn = size - 1;
    capsule_merkle_hash_t r;
    memcpy (r, leaf, sizeof r);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            capsule_merkle_node (r, proof[i], r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else
            capsule_merkle_node (r, r, proof[i]);
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp (r, root, sizeof r) == 0;
}

static size_t
s_subproof (const capsule_merkle_hash_t *leaves, size_t n, size_t m, bool complete,
            capsule_merkle_hash_t *proof)
{
    if (m == n) {
        if (complete)
            return 0;
        capsule_merkle_root (proof[0], leaves, n);
        return 1;
    }
    size_t k = s_split (n);
    size_t count;
    if (m <= k) {
        count = s_subproof (leaves, k, m, complete, proof);
        capsule_merkle_root (proof[count], leaves + k, n - k);
    } else {
        count = s_subproof (leaves + k, n - k, m - k, false, proof);
        capsule_merkle_root (proof[count], leaves, k);
    }
    return count + 1;
}

size_t
capsule_merkle_consistency_proof (const capsule_merkle_hash_t *leaves, size_t old_size,
                                  size_t new_size, capsule_merkle_hash_t *proof)
{
    assert (old_size > 0 && old_size <= new_size);
    return s_subproof (leaves, new_size, old_size, true, proof);
}

bool
capsule_merkle_consistency_verify (uint64_t old_size, uint64_t new_size,
                                   const capsule_merkle_hash_t old_root,
                                   const capsule_merkle_hash_t new_root,
                                   const capsule_merkle_hash_t *proof, size_t count)
{
    if (old_size == 0 || old_size > new_size || count > CAPSULE_MERKLE_PROOF_MAX)
        return false;
    if (old_size == new_size)
        return count == 0 && sodium_memcmp (old_root, new_root, CAPSULE_MERKLE_HASH_LEN) == 0;
    capsule_merkle_hash_t path[CAPSULE_MERKLE_PROOF_MAX + 1];
    size_t n = 0;
    if ((old_size & (old_size - 1)) == 0)
        memcpy (path[n++], old_root, CAPSULE_MERKLE_HASH_LEN);
    memcpy (path + n, proof, count * sizeof path[0]);
    n += count;
    if (n == 0)
        return false;
    uint64_t fn = old_size - 1, sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    capsule_merkle_hash_t fr, sr;
    memcpy (fr, path[0], sizeof fr);
    memcpy (sr, path[0], sizeof sr);
    for (size_t i = 1; i < n; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            capsule_merkle_node (fr, path[i], fr);
            capsule_merkle_node (sr, path[i], sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else
            capsule_merkle_node (sr, sr, path[i]);
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp (fr, old_root, sizeof fr) == 0 &&
           sodium_memcmp (sr, new_root, sizeof sr) == 0;
}

void
capsule_merkle_range_init (capsule_merkle_range_t *range)
{
    memset (range, 0, sizeof *range);
}

void
capsule_merkle_range_append (capsule_merkle_range_t *range, const capsule_merkle_hash_t leaf)
{
    assert (range->count < 64);
    memcpy (range->stack[range->count++], leaf, CAPSULE_MERKLE_HASH_LEN);
    /* merge equal-sized perfect subtrees: one merge per trailing 1 bit */
    for (uint64_t s = range->size; s & 1; s >>= 1) {
        range->count--;
        capsule_merkle_node (range->stack[range->count - 1], range->stack[range->count - 1],
                             range->stack[range->count]);
    }
    range->size++;
}

void
capsule_merkle_range_root (const capsule_merkle_range_t *range, capsule_merkle_hash_t out)
{
    if (range->count == 0) {
        crypto_hash_sha256 (out, (const uint8_t *)"", 0);
        return;
    }
    capsule_merkle_hash_t r;
    memcpy (r, range->stack[range->count - 1], sizeof r);
    for (size_t i = range->count - 1; i-- > 0;)
        capsule_merkle_node (r, range->stack[i], r);
    memcpy (out, r, sizeof r);
}
