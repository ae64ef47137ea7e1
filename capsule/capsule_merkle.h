/*
 * capsule_merkle: the RFC 9162 (Certificate Transparency v2) Merkle tree
 * over the PCR result log: leaf and node hashes, the tree head over a list
 * of leaf hashes, inclusion and consistency proofs and their verification,
 * and an append-only compact range that gives the head of a growing log
 * without re-hashing it.
 *
 *   leaf hash  = SHA-256(0x00 || leaf input)
 *   node hash  = SHA-256(0x01 || left || right)
 *   head of {} = SHA-256("")
 *
 * Depends on libsodium only: the offline verifier (warden-verify) links it.
 */
#ifndef CAPSULE_MERKLE_H
#define CAPSULE_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSULE_MERKLE_HASH_LEN  32
#define CAPSULE_MERKLE_PROOF_MAX 64 /* hashes in a proof: enough for 2^63 leaves */

typedef uint8_t capsule_merkle_hash_t[CAPSULE_MERKLE_HASH_LEN];

/* out = SHA-256(0x00 || data). */
void
capsule_merkle_leaf (capsule_merkle_hash_t out, const void *data, size_t len);

/* out = SHA-256(0x01 || left || right). out may alias either input. */
void
capsule_merkle_node (capsule_merkle_hash_t out, const capsule_merkle_hash_t left,
                     const capsule_merkle_hash_t right);

/* The tree head over n leaf hashes (n may be 0). */
void
capsule_merkle_root (capsule_merkle_hash_t out, const capsule_merkle_hash_t *leaves, size_t n);

/* The inclusion proof of leaf index in the tree of the first size leaves
   (index < size, asserted): writes the hashes to proof (room for
   CAPSULE_MERKLE_PROOF_MAX) and returns how many. */
size_t
capsule_merkle_inclusion_proof (const capsule_merkle_hash_t *leaves, size_t size, size_t index,
                                capsule_merkle_hash_t *proof);

/* True when proof (count hashes) shows that leaf is entry index of the
   tree of size leaves whose head is root (RFC 9162 §2.1.3.2). */
bool
capsule_merkle_inclusion_verify (const capsule_merkle_hash_t leaf, uint64_t index, uint64_t size,
                                 const capsule_merkle_hash_t *proof, size_t count,
                                 const capsule_merkle_hash_t root);

/* The consistency proof between the trees of the first old_size and
   new_size leaves (0 < old_size <= new_size, asserted); returns its
   length. */
size_t
capsule_merkle_consistency_proof (const capsule_merkle_hash_t *leaves, size_t old_size,
                                  size_t new_size, capsule_merkle_hash_t *proof);

/* True when proof shows that the tree (new_size, new_root) extends the tree
   (old_size, old_root) (RFC 9162 §2.1.4.2). */
bool
capsule_merkle_consistency_verify (uint64_t old_size, uint64_t new_size,
                                   const capsule_merkle_hash_t old_root,
                                   const capsule_merkle_hash_t new_root,
                                   const capsule_merkle_hash_t *proof, size_t count);

/* An append-only compact range: the heads of the perfect subtrees that make
   up the tree so far (at most 64), so the head after each append costs
   O(log n) hashes. Lives on the caller's stack or inside another object. */
typedef struct {
    uint64_t size;
    size_t count;
    capsule_merkle_hash_t stack[64];
} capsule_merkle_range_t;

void
capsule_merkle_range_init (capsule_merkle_range_t *range);
void
capsule_merkle_range_append (capsule_merkle_range_t *range, const capsule_merkle_hash_t leaf);
void
capsule_merkle_range_root (const capsule_merkle_range_t *range, capsule_merkle_hash_t out);

#endif
