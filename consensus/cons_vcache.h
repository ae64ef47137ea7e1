/*
 * cons_vcache: a bounded, process-local cache of envelope ids whose
 * signature already verified, so that a node checks each record's Ed25519
 * signature once although gossip, proposal validation and the append all
 * check it (node_mesh owns one; cons_gossip and a live cons_ledger consult
 * it). The id is the envelope id (SHA-256 of the envelope's bytes), so a
 * hit stands for exactly the bytes that verified: the answer is the one a
 * new verification would give. Only successes are stored. From-scratch
 * checks (cons_ledger_verify_all, warden-verify) never use it.
 *
 * It also memoises agreement signatures (cons_vcache_verify_sig: a
 * precommit the state machine verified is checked again in the next
 * block's last certificate and in the commit certificate the ledger
 * appends), keyed by a hash of public key, digest and signature, in the
 * same bounded table.
 */
#ifndef CONS_VCACHE_H
#define CONS_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_envelope.h"

typedef struct cons_vcache cons_vcache_t;

/* How many ids a cache holds at most. */
#define CONS_VCACHE_IDS 16384

/* A cache for envelopes of chain; NULL when out of memory. */
cons_vcache_t *
cons_vcache_new (const uint8_t chain[WD_CHAIN_ID_LEN]);

/* Safe on NULL. */
void
cons_vcache_destroy (cons_vcache_t **self_p);

/* wd_envelope_verify (env, chain, NULL), skipped when id verified before
   with this cache; on WD_OK id is remembered. id must be wd_envelope_id of
   the bytes env was decoded from (the caller's own computation). self
   NULL: always verifies. */
int __attribute__ ((warn_unused_result))
cons_vcache_verify (cons_vcache_t *self, const uint8_t id[32], const wd_envelope_t *env,
                    const uint8_t chain[WD_CHAIN_ID_LEN]);

/* cons_verify_fn over a cache (ctx is the cons_vcache_t, NULL: always
   verifies): crypto_sign_verify_detached of sig over digest by pk,
   skipped when this very triple verified before; only successes are
   remembered. */
bool
cons_vcache_verify_sig (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                        const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN]);

/* Remembers id as verified without verifying it here: for an envelope
   whose signature the caller has just checked itself over exactly the
   fields it encodes (node_mesh after node_sign verified the keys
   process's signature on a record it sealed), so that gossip and the
   ledger do not verify an own record a second time. Safe on NULL. */
void
cons_vcache_note (cons_vcache_t *self, const uint8_t id[32]);

/* True when id is remembered as verified. */
bool
cons_vcache_has (const cons_vcache_t *self, const uint8_t id[32]);

/* Envelope verifications skipped so far (hits) and done (misses). */
void
cons_vcache_stats (const cons_vcache_t *self, uint64_t *hits, uint64_t *misses);

/* The same for cons_vcache_verify_sig. */
void
cons_vcache_sig_stats (const cons_vcache_t *self, uint64_t *hits, uint64_t *misses);

#endif
