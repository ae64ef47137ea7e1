/*
 * cons_test_chain: a small test cluster for the ledger tests, the crash
 * test writer and the ledger bench: n founding nodes with keys derived from
 * fixed seeds, their genesis, and helpers that make the records (verdicts,
 * equivocation evidence) and commit certificates a real cluster would.
 */
#ifndef CONS_TEST_CHAIN_H
#define CONS_TEST_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_committee.h"
#include "cons_ledger.h"

#define TCHAIN_NODES_MAX 16

typedef struct {
    size_t n;
    uint8_t pk[TCHAIN_NODES_MAX][32]; /* in genesis order (ascending) */
    uint8_t sk[TCHAIN_NODES_MAX][64];
    uint8_t vrf_seed[TCHAIN_NODES_MAX][32]; /* the nodes' VRF key seeds */
    wd_genesis_t *genesis;
    uint8_t chain[32];
} tchain_t;

/* n nodes (1..TCHAIN_NODES_MAX); node i's key protection is "software"
   when bit i of software_mask is set, else "tpm". epoch_blocks and
   seed_lookback as given (0: the defaults). Aborts on failure. */
void
tchain_init (tchain_t *t, size_t n, uint32_t software_mask, uint64_t epoch_blocks,
             uint64_t lookback);
void
tchain_fini (tchain_t *t);

/* The index of pk among the nodes, or -1. */
int
tchain_index (const tchain_t *t, const uint8_t pk[32]);

/* A commit certificate for block at height (round 0) signed by every
   validator of the set except those whose set index has its bit in
   skip_mask. Caller frees. */
uint8_t *
tchain_cert (const tchain_t *t, const cons_validator_t *set, size_t count, uint64_t height,
             const uint8_t *block, size_t len, uint32_t skip_mask, size_t *cert_len);

/* A "verdict" envelope signed by node signer about node subject: tier
   affirming when pass, contraindicated otherwise; nonce makes it unique. */
uint8_t *
tchain_verdict (const tchain_t *t, size_t signer, size_t subject, bool pass, uint64_t nonce,
                size_t *len);

/* An "evidence" envelope of node attester about itself (epoch freshness,
   a log register of 32 bytes of nonce & 0xff), unique per nonce. */
uint8_t *
tchain_evidence (const tchain_t *t, size_t attester, uint64_t nonce, size_t *len);

/* A "committee-verdict" envelope signed by node signer about the evidence
   (id and subject node), tier affirming when pass else contraindicated,
   committee epoch epoch. With claim NULL it is an escalation verdict. */
uint8_t *
tchain_cverdict (const tchain_t *t, size_t signer, const uint8_t evidence[32], size_t subject,
                 bool pass, uint64_t epoch, const cons_sortition_claim_t *claim, size_t *len);

/* tchain_cverdict about any subject (a host's too). */
uint8_t *
tchain_cverdict_about (const tchain_t *t, size_t signer, const uint8_t evidence[32],
                       const attest_subject_t *subject, bool pass, uint64_t epoch,
                       const cons_sortition_claim_t *claim, size_t *len);

/* An "equivocation" envelope signed by node signer: node culprit's two
   different precommits at height. */
uint8_t *
tchain_equivocation (const tchain_t *t, size_t signer, size_t culprit, uint64_t height,
                     size_t *len);

/* Any envelope of type with a body {n: nonce} signed by node signer. */
uint8_t *
tchain_note (const tchain_t *t, size_t signer, const char *type, uint64_t nonce, size_t *len);

/* A node outside the genesis that may join (docs/PROTOCOL.md "Membership
   transactions"): keys from a seed of 32 bytes `seed`, a self-signed
   "software" certificate named name with VRF and CURVE keys of seed + 1
   and seed + 2 repeated. */
typedef struct {
    uint8_t pk[32], sk[64];
    uint8_t *cert;
    size_t cert_len;
} tchain_newcomer_t;

void
tchain_newcomer (tchain_newcomer_t *n, const char *name, uint8_t seed);
void
tchain_newcomer_fini (tchain_newcomer_t *n);

/* A "join" envelope of t's chain sealed by the sponsor (pk, sk: need not
   be a member) around n's "join-request" for request_chain (NULL: t's
   chain). Caller frees. */
uint8_t *
tchain_join (const tchain_t *t, const tchain_newcomer_t *n, const uint8_t *pk, const uint8_t *sk,
             const uint8_t *request_chain, size_t *len);

/* A "leave" envelope of t's chain signed by (pk, sk) naming node. Caller
   frees. */
uint8_t *
tchain_leave (const tchain_t *t, const uint8_t *pk, const uint8_t *sk, const uint8_t node[32],
              size_t *len);

/* Proposes the next block on ledger with records (proposer: node 0 if it
   is a validator, else the set's first), certifies it with skip_mask and
   appends it. Returns cons_ledger_append's result. */
int
tchain_commit (const tchain_t *t, cons_ledger_t *ledger, const cons_bytes_t *records, size_t count,
               uint32_t skip_mask, uint64_t time_ms);

#endif
