/*
 * capsule_ledger: the offline re-check of an exported ledger (`wardenctl
 * ledger export`; docs/PROTOCOL.md "Export file") for `warden-verify
 * ledger`. Like capsule_verify, it depends on libsodium and libc only: it
 * decodes the genesis, blocks, records and commit certificates with the
 * small reader of capsule_mp.h and re-derives every hash and signature
 * itself, never linking the consensus library; for VRF chains it links
 * only the VRF and sortition math (warden_sortition: wd_vrf.c and
 * cons_sortition.c, libsodium only) to re-check proposer claims.
 *
 * What it checks, in this order (the first failure is the verdict):
 * the export's form; the given genesis decodes (node certificates
 * self-signed, nodes ascending) and is byte for byte the exported one;
 * the chain id is SHA-256 of the genesis; then per block, heights 1..n:
 * canonical form and size (v1, or v2 with a claim that decodes), the
 * version the genesis proposer mode asks for (v1 when proposer_vrf = 0,
 * v2 when 1), records are envelopes, no record twice in the block,
 * records_root; height, prev, time; seed (v1: SHA-256(prev_seed || prev
 * || height), v2: SHA-256(prev_seed || height || beta of the claim));
 * validators_hash and the proposer; v2: the claim (VRF proof under the
 * proposer's vrf_pk, count, priority); last_cert; every record for this
 * chain, signed by a genesis node or reference-value signer, no record
 * twice in the chain; and the block's own certificate (height and block
 * id, signers strictly ascending, every precommit signature, more than
 * 2/3 of the weight; v2: its round not below the claim's round).
 *
 * Limit: the validator set of an epoch past the first `seed_lookback`
 * blocks comes from the reputation function, which this file does not
 * replay. For those heights the verifier still checks every certificate
 * signature against the genesis node the index can name (the set is the
 * non-quarantined genesis nodes in genesis order), but not the weights,
 * the 2/3 threshold, validators_hash or reputation_hash, nor a v2 claim's
 * count (its proof and priority are checked); the summary counts those
 * blocks (weights_unchecked). `wardenctl ledger verify` does the full
 * replay.
 */
#ifndef CAPSULE_LEDGER_H
#define CAPSULE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSULE_LEDGER_VALIDATORS_MAX 1024 /* signatures in a certificate, at most */

/* Verdicts. Append only; never renumber. */
#define CAPSULE_LEDGER_TABLE(X)                                                                    \
    X (CAPSULE_LEDGER_OK, "ledger verifies")                                                       \
    X (CAPSULE_LEDGER_EXPORT_FORMAT, "export file is not a canonical Warden ledger export")        \
    X (CAPSULE_LEDGER_GENESIS_FORMAT, "genesis is not a well-formed Warden genesis")               \
    X (CAPSULE_LEDGER_GENESIS_MISMATCH, "export holds another genesis than the one given")         \
    X (CAPSULE_LEDGER_CHAIN_ID, "chain id is not the SHA-256 of the genesis")                      \
    X (CAPSULE_LEDGER_BLOCK_FORMAT, "block is not a canonical block")                              \
    X (CAPSULE_LEDGER_RECORD_FORMAT, "block record is not a signed envelope")                      \
    X (CAPSULE_LEDGER_RECORD_DUPLICATE, "block record is already in the block or the chain")       \
    X (CAPSULE_LEDGER_BLOCK_ROOT, "block records_root is not the Merkle root of its records")      \
    X (CAPSULE_LEDGER_BLOCK_HEIGHT, "block height is not the previous height plus one")            \
    X (CAPSULE_LEDGER_BLOCK_PREV, "block does not name the previous block")                        \
    X (CAPSULE_LEDGER_BLOCK_TIME, "block time is not after the previous block's time")             \
    X (CAPSULE_LEDGER_BLOCK_SEED, "block seed does not follow the seed rule")                      \
    X (CAPSULE_LEDGER_BLOCK_VALIDATORS, "block validators_hash is not the height's validator set") \
    X (CAPSULE_LEDGER_BLOCK_PROPOSER, "block proposer is not a validator")                         \
    X (CAPSULE_LEDGER_LAST_CERT, "block last_cert is not a certificate of the previous block")     \
    X (CAPSULE_LEDGER_RECORD_CHAIN, "block record is for another chain")                           \
    X (CAPSULE_LEDGER_RECORD_SIGNER, "block record is signed by an unknown key")                   \
    X (CAPSULE_LEDGER_RECORD_SIGNATURE, "block record signature does not verify")                  \
    X (CAPSULE_LEDGER_CERT_FORMAT, "commit certificate is malformed")                              \
    X (CAPSULE_LEDGER_CERT_BLOCK, "commit certificate is for another height or block")             \
    X (CAPSULE_LEDGER_CERT_INDEX, "commit certificate names a signer outside the validator set")   \
    X (CAPSULE_LEDGER_CERT_ORDER,                                                                  \
       "commit certificate signers are not in strictly ascending order")                           \
    X (CAPSULE_LEDGER_CERT_SIGNATURE, "commit certificate signature does not verify")              \
    X (CAPSULE_LEDGER_CERT_WEIGHT, "commit certificate signers hold 2/3 of the weight or less")    \
    X (CAPSULE_LEDGER_BLOCK_VERSION, "block version does not match the chain's proposer mode")     \
    X (CAPSULE_LEDGER_CLAIM_FORMAT, "block claim is not a canonical sortition claim")              \
    X (CAPSULE_LEDGER_CLAIM_PROOF, "block claim's VRF proof does not verify under the proposer's " \
                                   "vrf_pk")                                                       \
    X (CAPSULE_LEDGER_CLAIM_COUNT, "block claim count does not follow from the proposer's weight") \
    X (CAPSULE_LEDGER_CLAIM_PRIORITY,                                                              \
       "block claim priority does not follow from its VRF output and count")                       \
    X (CAPSULE_LEDGER_BLOCK_ROUND, "block claim is for a later round than its commit certificate")

typedef enum {
#define CAPSULE_LEDGER_ENUM(name, msg) name,
    CAPSULE_LEDGER_TABLE (CAPSULE_LEDGER_ENUM)
#undef CAPSULE_LEDGER_ENUM
        CAPSULE_LEDGER_LAST_
} capsule_ledger_verdict_t;

/* "ledger verifies" / "CAPSULE_LEDGER_OK". Static. */
const char *
capsule_ledger_strerror (int code);
const char *
capsule_ledger_name (int code);

/* What was checked, filled as far as the checks got. */
typedef struct {
    uint64_t blocks;            /* blocks that passed every check */
    uint64_t records;           /* records in those blocks */
    uint64_t bad_height;        /* height of the failure; 0: the export or genesis */
    uint64_t weights_unchecked; /* blocks whose validator weights were not re-derived */
    uint64_t epoch_blocks, seed_lookback;
    size_t nodes;      /* genesis nodes */
    uint8_t chain[32]; /* chain id */
    uint8_t tip[32];   /* id of the last good block; zero without one */
} capsule_ledger_info_t;

/* Verifies an export (buf, len) against the genesis file's bytes, offline.
   info (may be NULL) gets the summary; detail (may be NULL) one more line
   about a failure. */
capsule_ledger_verdict_t __attribute__ ((warn_unused_result))
capsule_ledger_verify (const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
                       capsule_ledger_info_t *info, char *detail, size_t detail_len);

/* As capsule_ledger_verify, and calls fn (may be NULL) with every record
   of each block once that block and its certificate have passed every
   check (record borrowed for the call), heights in order. */
typedef void (capsule_ledger_record_fn) (void *arg, uint64_t height, const uint8_t *record,
                                         size_t len);
capsule_ledger_verdict_t __attribute__ ((warn_unused_result))
capsule_ledger_verify_records (const uint8_t *buf, size_t len, const uint8_t *genesis,
                               size_t genesis_len, capsule_ledger_info_t *info, char *detail,
                               size_t detail_len, capsule_ledger_record_fn *fn, void *arg);

/* The genesis bytes an export carries (borrowed from buf), for a verifier
   given no genesis of its own: false when buf is not an export. Trusting
   them trusts whoever made the file; pinning a genesis does not. */
bool __attribute__ ((warn_unused_result))
capsule_ledger_export_genesis (const uint8_t *buf, size_t len, const uint8_t **genesis,
                               size_t *genesis_len);

struct capsule_anchor; /* capsule_verify.h */

/* Verifies an export like capsule_ledger_verify and collects the anchors
   of the PCR result log `origin` signed by pk (`pcr-checkpoint` records,
   capsule_verify.h) into *anchors (malloc'ed, caller frees; NULL when
   none) and *count, in ledger order. Anchors are collected only from
   blocks that passed; on a failure the verdict says why. */
capsule_ledger_verdict_t __attribute__ ((warn_unused_result))
capsule_ledger_anchors (const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
                        const uint8_t pk[32], const char *origin, struct capsule_anchor **anchors,
                        size_t *count, capsule_ledger_info_t *info, char *detail,
                        size_t detail_len);

#endif
