/*
 * cons_block: the block format of the ledger (DESIGN.md §6, §8;
 * docs/PROTOCOL.md "Blocks and the ledger").
 *
 * A block is one canonical msgpack map (keys in this byte order):
 *
 *   {height: uint,            1 for the first block after genesis
 *    last_cert: bin,          commit certificate of block height-1 as the
 *                             proposer stored it (empty at height 1); it makes
 *                             precommit participation part of the chain
 *    prev: bin(32),           id of block height-1 (32 zero bytes at height 1)
 *    proposer: bin(32),       the proposer's node id (sign_pk)
 *    records: [bin, ...],     signed envelopes (wd_envelope.h), canonical bytes
 *    records_root: bin(32),   RFC 6962 Merkle root of the record ids
 *    reputation_hash: bin(32) hash of the reputation table after block height-1
 *    seed: bin(32),           SHA-256(prev_seed || prev || height as 8 bytes BE)
 *    time: uint,              milliseconds since the Unix epoch, proposer's clock
 *    v: 1,
 *    validators_hash: bin(32) hash of the validator set of this height}
 *
 * The block id is SHA-256 of these bytes (the id cons_agree votes for). A
 * block is final together with its commit certificate (cons_vote.h): the
 * ledger stores both. prev_seed at height 1 is the chain id. The v1 seed
 * takes no input from the proposer, so no one can grind it.
 *
 * Version 2 (chains whose genesis has proposer_vrf = 1) adds two keys and
 * changes the seed rule; everything else is as in v1:
 *
 *   {claim: bin,              1..CONS_BLOCK_CLAIM_MAX bytes: the proposer's
 *                             sortition claim {count, priority, proof} for
 *                             role 1 (cons_sortition_claim_write), count >= 1
 *    height .. reputation_hash as v1,
 *    round: uint,             <= CONS_ROUND_MAX: the round the claim is for
 *    seed: bin(32),           SHA-256(prev_seed || height as 8 bytes BE ||
 *                             beta), beta = ECVRF_proof_to_hash(claim.proof)
 *    time, v: 2, validators_hash as v1}
 *
 * The v2 seed takes no input from the block's contents (no prev): the
 * proposer cannot grind it, only withhold its block.
 *
 * Record ids are SHA-256 of the envelope bytes (wd_envelope_id). The Merkle
 * root follows RFC 6962 §2.1: leaf = SHA-256(0x00 || id), node =
 * SHA-256(0x01 || left || right), split at the largest power of two below
 * n, and SHA-256 of nothing for an empty list.
 *
 * This file holds the format only: encoding, strict decoding and the
 * context-free checks. The rules that need the chain (prev, height, time,
 * seed, hashes, signers, duplicates) are cons_ledger_check_block.
 */
#ifndef CONS_BLOCK_H
#define CONS_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_err.h"
#include "cons_vote.h"
#include "wd_envelope.h"
#include "wd_vrf.h"

#define CONS_BLOCK_VERSION     1
#define CONS_BLOCK_VERSION_VRF 2   /* v2: with the proposer's claim */
#define CONS_BLOCK_CLAIM_MAX   256 /* bytes of an encoded claim, at most */
#define CONS_BLOCK_HASH_LEN    32
#define CONS_BLOCK_RECORDS_MAX 65536 /* records in one block */
/* Bytes of an encoded commit certificate over the largest validator set, at most. */
#define CONS_BLOCK_CERT_MAX (64 + CONS_VALIDATORS_MAX * (WD_SIG_LEN + 8))

/* A byte string borrowed from somewhere else. */
typedef struct {
    const uint8_t *data;
    size_t len;
} cons_bytes_t;

/* The proposer's sortition claim in a v2 block. bytes.len 0: none (v1). */
typedef struct {
    uint32_t round;     /* the round the claim is proven for */
    cons_bytes_t bytes; /* canonical claim bytes (cons_sortition_claim_write) */
} cons_block_claim_t;

/* A block. When decoded, last_cert and every record borrow from the
   decoded buffer and records is an array that cons_block_decode allocated
   (free it with cons_block_release); so does claim.bytes (v2). When
   encoding, everything is the caller's; claim.bytes.len > 0 makes it v2. */
typedef struct {
    cons_block_claim_t claim; /* v2 only */
    uint64_t height;
    cons_bytes_t last_cert;
    uint8_t prev[CONS_BLOCK_HASH_LEN];
    uint8_t proposer[WD_PUBKEY_LEN];
    cons_bytes_t *records;
    size_t record_count;
    uint8_t records_root[CONS_BLOCK_HASH_LEN];
    uint8_t reputation_hash[CONS_BLOCK_HASH_LEN];
    uint8_t seed[CONS_BLOCK_HASH_LEN];
    uint64_t time; /* ms */
    uint8_t validators_hash[CONS_BLOCK_HASH_LEN];
} cons_block_t;

/* The block in canonical msgpack; the caller frees it. The fields are
   written as given (nothing is recomputed); height must be at least 1,
   record_count at most CONS_BLOCK_RECORDS_MAX and claim.bytes.len at most
   CONS_BLOCK_CLAIM_MAX (asserted). v2 when claim.bytes.len > 0, else v1. */
uint8_t *
cons_block_encode (const cons_block_t *block, size_t *len);

/* Decodes a block of at most block_max bytes (WD_ERR_OVERSIZE) strictly:
   the codec's canonical and schema reasons (a map of 13 keys must be v2
   with claim and round, one of 11 keys v1 without them),
   WD_ERR_BAD_VERSION (v is not the version the keys make), for v2: a
   claim that is empty (WD_ERR_BAD_LENGTH), longer than
   CONS_BLOCK_CLAIM_MAX (WD_ERR_OVERSIZE), does not decode
   (cons_sortition_claim_decode's reasons) or has count 0
   (CONS_ERR_SORTITION_NOT_SELECTED), a round above CONS_ROUND_MAX
   (WD_ERR_OUT_OF_RANGE); WD_ERR_OUT_OF_RANGE (height 0 or above CONS_HEIGHT_MAX, more than
   CONS_BLOCK_RECORDS_MAX records), CONS_ERR_BLOCK_PREV (height 1 with a
   non-zero prev or a last_cert), CONS_ERR_BLOCK_ROOT (records_root is not
   the records' Merkle root), CONS_ERR_BLOCK_RECORD (a record that is not an
   envelope: wd_envelope_decode fails), CONS_ERR_BLOCK_DUPLICATE (one record
   twice). On WD_OK the caller must call cons_block_release; on failure
   nothing is left to free. */
int __attribute__ ((warn_unused_result))
cons_block_decode (const uint8_t *buf, size_t len, size_t block_max, cons_block_t *block);

/* Frees what cons_block_decode allocated and zeroes the block. Safe on a
   zeroed block. */
void
cons_block_release (cons_block_t *block);

/* The block id: SHA-256 of the encoded block. */
void
cons_block_id (const uint8_t *buf, size_t len, uint8_t id[CONS_BLOCK_ID_LEN]);

/* RFC 6962 Merkle root over count 32-byte ids. */
void
cons_block_merkle_root (const uint8_t (*ids)[32], size_t count, uint8_t root[CONS_BLOCK_HASH_LEN]);

/* The records_root of a list of records (hashes each record to its id). */
void
cons_block_records_root (const cons_bytes_t *records, size_t count,
                         uint8_t root[CONS_BLOCK_HASH_LEN]);

/* seed = SHA-256(prev_seed || prev || height as 8 bytes big-endian); at
   height 1 prev_seed is the chain id and prev is 32 zero bytes. */
void
cons_block_seed (const uint8_t prev_seed[32], const uint8_t prev[CONS_BLOCK_ID_LEN],
                 uint64_t height, uint8_t seed[CONS_BLOCK_HASH_LEN]);

/* The v2 seed: SHA-256(prev_seed || height as 8 bytes big-endian || beta),
   beta = ECVRF_proof_to_hash of the claim's proof; at height 1 prev_seed
   is the chain id. */
void
cons_block_seed_vrf (const uint8_t prev_seed[32], uint64_t height,
                     const uint8_t beta[WD_VRF_BETA_LEN], uint8_t seed[CONS_BLOCK_HASH_LEN]);

/* validators_hash = SHA-256 of the canonical msgpack array
   [[pk: bin(32), weight: uint], ...] in the set's order. */
void
cons_block_validators_hash (const cons_validator_t *validators, size_t count,
                            uint8_t hash[CONS_BLOCK_HASH_LEN]);

#endif
