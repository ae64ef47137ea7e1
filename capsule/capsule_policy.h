/*
 * capsule_policy: the release policy a capsule carries inside its signed
 * bytes (DESIGN.md §9, docs/PROTOCOL.md "Capsules"), and the pure decision
 * whether an executor may receive the capsule's content key.
 *
 * The policy is a plain value: capsule_format encodes and decodes it as part
 * of the capsule, the holder node checks it before it re-wraps a content key
 * (capsule_release), and the executor selection filters candidates with the
 * same check. Lists are sets: on the wire they are strictly ascending (the
 * encoder sorts and drops duplicates; the decoder rejects anything else), and
 * an empty list means "any".
 */
#ifndef CAPSULE_POLICY_H
#define CAPSULE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_codec.h"

#define CAPSULE_POLICY_LIST_MAX 64 /* entries per list */
#define CAPSULE_KEYPROT_MAX     16 /* bytes of one key_protection name, [a-z0-9-] */
#define CAPSULE_DIGEST_LEN      32

/* Attestation tiers, weakest first (the ledger's tier names). */
typedef enum {
    CAPSULE_TIER_NONE = 0,
    CAPSULE_TIER_WARNING = 1,
    CAPSULE_TIER_AFFIRMING = 2,
} capsule_tier_t;

typedef struct {
    /* Allowed task code digests (the task's code capsule id); empty = any. */
    size_t n_code;
    uint8_t code[CAPSULE_POLICY_LIST_MAX][CAPSULE_DIGEST_LEN];
    /* Milliseconds since the epoch after which the key is never released;
       0 = never expires. The policy holds while now_ms < expires_ms. */
    uint64_t expires_ms;
    /* Allowed executor key protection names (e.g. "pkcs11", "tpm",
       "zymbit"); empty = any. NUL-terminated. */
    size_t n_key_protection;
    char key_protection[CAPSULE_POLICY_LIST_MAX][CAPSULE_KEYPROT_MAX + 1];
    /* Allowed executor measurement digests; empty = any. */
    size_t n_measurements;
    uint8_t measurements[CAPSULE_POLICY_LIST_MAX][CAPSULE_DIGEST_LEN];
    /* The executor's latest attestation tier must be at least this. */
    capsule_tier_t min_tier;
    /* Allowed executor node ids; empty = any. */
    size_t n_nodes;
    uint8_t nodes[CAPSULE_POLICY_LIST_MAX][CAPSULE_DIGEST_LEN];
} capsule_policy_t;

/* What the deciding node knows about a candidate executor (from the
   ledger). key_protection may be NULL (unknown: fails any non-empty list);
   has_measurement false fails any non-empty measurements list. */
typedef struct {
    uint8_t node_id[CAPSULE_DIGEST_LEN];
    capsule_tier_t tier;
    const char *key_protection;
    bool has_measurement;
    uint8_t measurement[CAPSULE_DIGEST_LEN];
} capsule_executor_t;

/* Sets *policy to "anyone, forever": empty lists, no expiry, tier none. */
void
capsule_policy_init (capsule_policy_t *policy);

/* Sorts each list and drops duplicates, in place, so the policy encodes
   canonically. The seal path calls it on its own copy. */
void
capsule_policy_normalize (capsule_policy_t *policy);

/* The wire name of a tier ("none", "warning", "affirming") and back.
   capsule_tier_parse returns false for any other string. */
const char *
capsule_tier_name (capsule_tier_t tier);
bool __attribute__ ((warn_unused_result))
capsule_tier_parse (const char *str, size_t len, capsule_tier_t *tier);

/* True when name is 1..CAPSULE_KEYPROT_MAX bytes of [a-z0-9-]. */
bool
capsule_keyprot_valid (const char *name, size_t len);

/* Writes the policy map {code, expires, key_protection, measurements,
   min_tier, nodes} as one value. The policy must be normalized and its
   names valid (asserted). */
void
capsule_policy_write (wd_writer_t *w, const capsule_policy_t *policy);

/* Reads one policy map from r into *policy. Returns WD_OK, the reader's
   schema reason, or CAPSULE_ERR_POLICY (lists unsorted, duplicated or too
   long, a bad name, an unknown tier). */
int __attribute__ ((warn_unused_result))
capsule_policy_read (wd_reader_t *r, capsule_policy_t *policy);

/* The release decision. code_digest is the task's code capsule id (NULL
   when there is no task, e.g. when only filtering executors: then the code
   list is not checked). Checks in this order and returns the first failure:
   CAPSULE_ERR_POLICY_EXPIRED, CAPSULE_ERR_POLICY_TIER,
   CAPSULE_ERR_POLICY_KEY_PROTECTION, CAPSULE_ERR_POLICY_MEASUREMENT,
   CAPSULE_ERR_POLICY_NODE, CAPSULE_ERR_POLICY_CODE; or 0. Pure: no I/O,
   no clock. */
int __attribute__ ((warn_unused_result))
capsule_policy_check (const capsule_policy_t *policy, const capsule_executor_t *executor,
                      const uint8_t *code_digest, uint64_t now_ms);

#endif
