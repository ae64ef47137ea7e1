/*
 * capsule_layout: private to capsule_format.c and capsule_seal.c — the byte
 * layout of a capsule around its ciphertext, and the two running SHA-256
 * states (the signing rule's digest and the capsule id) that sealing and
 * parsing feed as the bytes stream past.
 *
 * A capsule is head ‖ ciphertext ‖ mid ‖ sig entry ‖ tail where head is
 * the map header (9 entries), the chain entry and the ciphertext key and
 * bin header; mid holds the enc, kind, owner and policy entries; the sig
 * entry is "sig" and its 64 bytes; tail holds the v and wraps entries. The
 * signed body is the same with an 8-entry map header and no sig entry.
 */
#ifndef CAPSULE_LAYOUT_H
#define CAPSULE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "capsule_format.h"

#define CAPSULE_HEAD_MAX      64
#define CAPSULE_SIG_ENTRY_LEN 70 /* a3 "sig" c4 40 sig[64] */

/* Writes the head for a capsule of chain and ct_len ciphertext bytes into
   out; returns its length. */
size_t
capsule_layout_head (uint8_t out[CAPSULE_HEAD_MAX], const uint8_t chain[WD_CHAIN_ID_LEN],
                     uint64_t ct_len);

/* Encodes mid and tail from h's kind, owner, policy, stream_header,
   plain_len and wraps into one malloc'd buffer (caller frees): mid is
   [0, *mid_len), tail [*mid_len, *mid_len + *tail_len). */
uint8_t *
capsule_layout_meta (const capsule_header_t *h, size_t *mid_len, size_t *tail_len);

/* The sig entry for sig. */
void
capsule_layout_sig_entry (uint8_t out[CAPSULE_SIG_ENTRY_LEN], const uint8_t sig[WD_SIG_LEN]);

typedef struct capsule_hasher capsule_hasher_t;

enum { CAPSULE_HASH_DIGEST = 1, CAPSULE_HASH_ID = 2, CAPSULE_HASH_BOTH = 3 };

/* Both states started: the digest with the signing rule's prefix for type
   "capsule" and chain. NULL when out of memory. */
capsule_hasher_t *
capsule_hasher_new (const uint8_t chain[WD_CHAIN_ID_LEN]);

void
capsule_hasher_destroy (capsule_hasher_t **self_p);

/* Feeds the head: the id state gets it as is, the digest state with the
   map header byte of the 8-entry signed body. */
void
capsule_hasher_head (capsule_hasher_t *self, const uint8_t *head, size_t len);

/* Feeds bytes to the states in which (CAPSULE_HASH_*). */
void
capsule_hasher_update (capsule_hasher_t *self, int which, const void *data, size_t len);

/* Finishes one state (CAPSULE_HASH_DIGEST or CAPSULE_HASH_ID). */
void
capsule_hasher_final (capsule_hasher_t *self, int which, uint8_t out[32]);

#endif
