/*
 * cons_ledger: the node's copy of the chain in SQLite (DESIGN.md §6, §8;
 * docs/PROTOCOL.md "Blocks and the ledger"; docs/OPERATIONS.md "The
 * ledger").
 *
 * The database (<state>/ledger.db) has two append-only tables, blocks and
 * records (triggers refuse UPDATE and DELETE), runs in WAL mode with
 * synchronous=FULL and appends each block, its certificate and its records
 * in one transaction: after a crash a block is either wholly there or not
 * at all, and a block whose append returned WD_OK survives power loss.
 *
 * The ledger is bound to one genesis. Opening it replays every stored
 * block (without re-checking signatures) to rebuild what the rules need in
 * memory: the tip, the reputation table (cons_reputation.h) and the
 * validator set of every epoch. Appending checks the block with every rule
 * (cons_ledger_check_block) and its certificate against the validator set of
 * its height before writing. cons_ledger_verify_all re-checks the whole
 * stored chain from scratch, signatures included.
 *
 * Validator sets: the set of height h is the set of its epoch e = (h - 1) /
 * epoch_blocks; for e = 0, or while e * epoch_blocks - seed_lookback < 1,
 * it is the genesis nodes with weight 1 each; otherwise it is
 * cons_reputation_weights of the table after block e * epoch_blocks -
 * seed_lookback. Members are the rows of the reputation table: the genesis
 * nodes, then the nodes whose `join` record was committed, in commit order
 * (cons_member_tx.h); a `leave` marks a row as left. Records must be
 * signed by a member as of the previous block (or a reference-value
 * signer); a joined node is a validator only from the first epoch whose
 * reference table holds a certified evidence record about it, and a node
 * that left is out of every set whose reference table holds its leave
 * (cons_reputation_excluded). cons_reputation_members_version of
 * cons_ledger_reputation changes whenever the members do.
 *
 * Threads: one ledger object belongs to one thread. Several processes may
 * open one database (SQLite's locking); only one should append.
 */
#ifndef CONS_LEDGER_H
#define CONS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_block.h"
#include "cons_reputation.h"
#include "cons_sortition.h"
#include "cons_vcache.h"
#include "cons_vote.h"
#include "wd_genesis.h"

#define CONS_LEDGER_SCHEMA_VERSION 1
#define CONS_LEDGER_FILE           "ledger.db" /* under the node's state directory */

typedef struct cons_ledger cons_ledger_t;

typedef enum {
    CONS_LEDGER_READ_WRITE = 0,
    CONS_LEDGER_READ_ONLY = 1, /* no writes, no schema creation (wardenctl) */
} cons_ledger_mode_t;

/* Opens (creating in read-write mode) the ledger at path for genesis (which
   the caller keeps alive as long as the ledger). Replays the stored blocks
   to rebuild the in-memory state. Reasons: WD_ERR_NOT_FOUND (read-only and
   no file), WD_ERR_DB / WD_ERR_DB_VERSION (with SQLite's message in why),
   CONS_ERR_LEDGER_CHAIN (the database belongs to another genesis),
   CONS_ERR_LEDGER_CORRUPT (a stored block does not decode or does not
   follow its predecessor: run cons_ledger_verify_all), WD_ERR_NOMEM. In
   read-only mode a bad stored block is not an error: the replay stops
   before it (the tip is the last good block) so that
   cons_ledger_verify_all can name it. */
int __attribute__ ((warn_unused_result))
cons_ledger_open (const char *path, const wd_genesis_t *genesis, cons_ledger_mode_t mode,
                  cons_ledger_t **out, char *why, size_t why_len);

/* Closes the database and frees the ledger; sets *self_p to NULL. */
void
cons_ledger_destroy (cons_ledger_t **self_p);

/* ---- the tip and the state the rules need ---------------------------- */

/* Height of the last block (0: only genesis). */
uint64_t
cons_ledger_height (const cons_ledger_t *self);

/* Id, seed and time of the last block (at height 0: zero id, the chain id
   as seed, time 0). Any argument may be NULL. */
void
cons_ledger_tip (const cons_ledger_t *self, uint8_t id[CONS_BLOCK_ID_LEN],
                 uint8_t seed[CONS_BLOCK_HASH_LEN], uint64_t *time_ms);

/* The chain id of the ledger's genesis. */
const uint8_t *
cons_ledger_chain (const cons_ledger_t *self);

/* The validator set of height (1 .. tip + 1, and further while the epoch
   that height falls in is already fixed). Borrowed until the next append.
   WD_ERR_OUT_OF_RANGE for a height whose set is not known yet. */
int __attribute__ ((warn_unused_result))
cons_ledger_validators (const cons_ledger_t *self, uint64_t height,
                        const cons_validator_t **validators, size_t *count);

/* The reputation table after the tip (borrowed until the next append). */
const cons_reputation_t *
cons_ledger_reputation (const cons_ledger_t *self);

/* The latest decided attestation of node (after the tip): WD_OK with *out
   filled (tier ATTEST_TRUST_NONE when nothing is decided yet), or
   WD_ERR_NOT_FOUND when node is not a member (*out zeroed).
   cons_node_status_t is in cons_reputation.h, which folds it. */
int __attribute__ ((warn_unused_result))
cons_ledger_node_status (const cons_ledger_t *self, const uint8_t node[WD_PUBKEY_LEN],
                         cons_node_status_t *out);

/* True when a record with this id is in a committed block. */
bool
cons_ledger_seen (cons_ledger_t *self, const uint8_t id[32]);

/* ---- building, checking and appending blocks ------------------------- */

/* Lets cons_ledger_check_block, cons_ledger_valid_cb and cons_ledger_append
   skip the signature check of a record envelope whose id is in cache
   (borrowed; NULL: verify every time), and remember the ones they verify.
   The answers are unchanged: a cached id is the hash of bytes that
   verified. cons_ledger_verify_all and the replay at open never use it. */
void
cons_ledger_set_vcache (cons_ledger_t *self, cons_vcache_t *cache);

/* cons_verify_fn over a ledger (ctx is the cons_ledger_t), for the state
   machine whose valid callback is cons_ledger_valid_cb:
   cons_vcache_verify_sig with the ledger's cache, so that the precommits
   the machine verifies are not verified again in the certificates of
   cons_ledger_valid_cb and cons_ledger_append (the live checks also
   memoise through it). */
bool
cons_ledger_verify_cb (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                       const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN]);

/* ---- the proposer in VRF mode (genesis proposer_vrf = 1) ------------ */

/* True when the chain picks proposers by sortition (blocks are v2). */
bool
cons_ledger_proposer_vrf (const cons_ledger_t *self);

/* The proposer sortition input of pk at (height, round): chain id, role
   proposer, the seed of block max(height - seed_lookback, 0) (the chain id
   at 0), zero subject, pk's weight in the validator set of height, that
   set's total weight, tau = the genesis `proposers`. height must be tip + 1
   (CONS_ERR_BLOCK_HEIGHT); CONS_ERR_UNKNOWN_VALIDATOR when pk is not in the
   set of height (in->weight is then 0, the rest filled). */
int __attribute__ ((warn_unused_result))
cons_ledger_proposer_input (cons_ledger_t *self, uint64_t height, uint32_t round,
                            const uint8_t pk[WD_PUBKEY_LEN], cons_sortition_input_t *in);

/* Checks pk's proposer claim (its wire bytes) for (height, round), height =
   tip + 1, under pk's vrf_pk as of the tip (its genesis certificate, join
   or latest rotate record), and writes its priority (may be NULL).
   Reasons: CONS_ERR_BLOCK_HEIGHT, CONS_ERR_UNKNOWN_VALIDATOR, the claim
   decode reasons (cons_sortition_claim_decode), cons_sortition_verify's
   reasons (CONS_ERR_SORTITION_*, WD_ERR_VRF_*). Works in either mode. */
int __attribute__ ((warn_unused_result))
cons_ledger_check_claim (cons_ledger_t *self, uint64_t height, uint32_t round,
                         const uint8_t pk[WD_PUBKEY_LEN], const uint8_t *claim, size_t claim_len,
                         uint8_t priority[CONS_SORTITION_PRIORITY_LEN]);

/* Builds the block for height tip + 1 from records (signed envelopes, in
   the order given): fills prev, seed, last_cert (the stored certificate of
   the tip), validators_hash, reputation_hash and records_root, with time =
   max(time_ms, tip time + 1). claim is NULL in round-robin mode (a v1
   block) and required in VRF mode (a v2 block with this claim and round;
   the seed from its proof); WD_ERR_BAD_VALUE when it does not match the
   mode, or its proof does not decode. *out (caller frees) gets the bytes.
   The block is not checked: call cons_ledger_check_block if the records or
   the claim are not known to be good. */
int __attribute__ ((warn_unused_result))
cons_ledger_propose (cons_ledger_t *self, uint64_t time_ms, const uint8_t proposer[WD_PUBKEY_LEN],
                     const cons_block_claim_t *claim, const cons_bytes_t *records, size_t count,
                     uint8_t **out, size_t *len);

/* Like cons_ledger_propose, then checks the block by every rule
   (cons_ledger_check_block) and leaves out each record that makes it
   invalid, one at a time (the first one a check names, then the block is
   built again), so that a proposer never puts into a block a record its
   own ledger would refuse. why (count entries, caller's) gets WD_OK for
   each record in the block and the reason for each one left out (a record
   given twice: CONS_ERR_BLOCK_DUPLICATE for the later copy). WD_OK with
   *out (caller frees), or a failure no record causes (the block is too
   large, WD_ERR_OUT_OF_RANGE, WD_ERR_NOMEM, WD_ERR_BAD_VALUE as in
   cons_ledger_propose, or a reason of the block itself such as a bad
   claim), *out NULL. */
int __attribute__ ((warn_unused_result))
cons_ledger_propose_valid (cons_ledger_t *self, uint64_t time_ms,
                           const uint8_t proposer[WD_PUBKEY_LEN], const cons_block_claim_t *claim,
                           const cons_bytes_t *records, size_t count, int *why, uint8_t **out,
                           size_t *len);

/* Whether block may follow the tip, by every rule: cons_block_decode with
   the chain's block_max_bytes (its reasons); height = tip + 1
   (CONS_ERR_BLOCK_HEIGHT); prev = tip id (CONS_ERR_BLOCK_PREV); time >
   tip time (CONS_ERR_BLOCK_TIME); v1 in round-robin mode and v2 in VRF
   mode (WD_ERR_BAD_VERSION); v2: the claim verifies for (height, round,
   proposer) (cons_ledger_check_claim's reasons); seed, validators_hash, reputation_hash
   as the rules compute them (CONS_ERR_BLOCK_SEED, CONS_ERR_BLOCK_VALIDATORS,
   CONS_ERR_BLOCK_REPUTATION); the proposer a validator of the height
   (CONS_ERR_UNKNOWN_VALIDATOR); last_cert a valid certificate of the tip
   (CONS_ERR_CERT_BLOCK, cons_cert_decode / cons_cert_verify reasons);
   every record an envelope of this chain (WD_ERR_WRONG_CHAIN) from a known
   signer (CONS_ERR_BLOCK_SIGNER: a member as of the tip or a reference-value
   signer)
   with a good signature (WD_ERR_BAD_SIGNATURE), a "verdict" or
   "equivocation" record whose body decodes (CONS_ERR_BLOCK_RECORD) and
   whose equivocation verifies, and not already in the chain
   (CONS_ERR_BLOCK_DUPLICATE). A driver can call this from cons_agree's
   valid callback (the height argument must be tip + 1). It does not
   compare the time with the local clock: a driver that wants to refuse
   blocks from the future does that itself. */
int __attribute__ ((warn_unused_result))
cons_ledger_check_block (cons_ledger_t *self, const uint8_t *block, size_t len);

/* cons_agree_valid_fn over a ledger (ctx is the cons_ledger_t): true when
   height is tip + 1 and cons_ledger_check_block accepts the block. */
bool
cons_ledger_valid_cb (void *ctx, uint64_t height, const uint8_t *block, size_t len);

/* Appends a decided block with its commit certificate, in one transaction:
   cons_ledger_check_block's reasons; the certificate must decode, name
   this block (id and height: CONS_ERR_CERT_BLOCK) and verify against the
   validator set of the height (cons_cert_verify reasons); a v2 block's
   claim round must not be above the certificate's round
   (CONS_ERR_BLOCK_ROUND); WD_ERR_DB when
   the write fails (nothing is written, the ledger is unchanged). On WD_OK
   the block is durable. The block rules are not run again for the very
   bytes the last cons_ledger_check_block passed at the same tip (the
   agreement checks a block before it decides it); the certificate always
   is. */
int __attribute__ ((warn_unused_result))
cons_ledger_append (cons_ledger_t *self, const uint8_t *block, size_t len, const uint8_t *cert,
                    size_t cert_len);

/* ---- reading ------------------------------------------------------------ */

/* A stored block at height: *block and *cert (either may be NULL) get
   malloc'ed copies (caller frees). WD_ERR_NOT_FOUND above the tip or at
   0. */
int __attribute__ ((warn_unused_result))
cons_ledger_get (cons_ledger_t *self, uint64_t height, uint8_t **block, size_t *block_len,
                 uint8_t **cert, size_t *cert_len);

/* The height of the block with this id (WD_ERR_NOT_FOUND). */
int __attribute__ ((warn_unused_result))
cons_ledger_find (cons_ledger_t *self, const uint8_t id[CONS_BLOCK_ID_LEN], uint64_t *height);

/* Called by cons_ledger_iterate for each block; the bytes are borrowed for
   the call. A non-zero return stops the walk and is returned. */
typedef int (*cons_ledger_visit_fn) (void *ctx, uint64_t height, const uint8_t *block,
                                     size_t block_len, const uint8_t *cert, size_t cert_len);

/* Visits the blocks from height from (at least 1) to the tip in order.
   Returns WD_OK, WD_ERR_DB, or the visitor's non-zero value. */
int
cons_ledger_iterate (cons_ledger_t *self, uint64_t from, cons_ledger_visit_fn visit, void *ctx);

/* Re-checks the stored chain from scratch with a fresh state: every block
   by the rules of cons_ledger_check_block (signatures included), every
   certificate against its height's validator set, the stored columns
   (id, prev, time, proposer, seed, hashes) against the block bytes, the
   records table against the blocks' records, and the reputation replay
   (each block's reputation_hash). Also runs PRAGMA integrity_check.
   Returns WD_OK, or the first failure's reason with *bad_height (0 for the
   database as a whole) and a line in why. */
int __attribute__ ((warn_unused_result))
cons_ledger_verify_all (cons_ledger_t *self, uint64_t *bad_height, char *why, size_t why_len);

/* ---- export ------------------------------------------------------------- */

/* Writes the chain to a file for offline verification (warden-verify): one
   canonical msgpack map
     {blocks: [[block: bin, cert: bin], ...], chain: bin(32),
      genesis: bin, height: uint, v: 1}
   where genesis holds the genesis file's canonical bytes. The file is
   written to path.tmp, fsynced and renamed. WD_ERR_IO, WD_ERR_DB. */
int __attribute__ ((warn_unused_result)) cons_ledger_export (cons_ledger_t *self, const char *path);

#endif
