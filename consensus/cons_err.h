/*
 * cons_err: result codes of the consensus module (membership, gossip,
 * sortition, agreement, ledger), in the range below -4000. Functions here
 * return either these or a wd_err_t passed up from common; cons_strerror
 * and cons_err_name name both.
 */
#ifndef CONS_ERR_H
#define CONS_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define CONS_ERR_TABLE(X)                                                                          \
    X (CONS_ERR_SORTITION_COUNT, "claimed selection count does not follow from the VRF output")    \
    X (CONS_ERR_SORTITION_PRIORITY, "claimed priority does not follow from the VRF output")        \
    X (CONS_ERR_SORTITION_NOT_SELECTED, "sortition claim has a zero count")                        \
    X (CONS_ERR_SORTITION_ROLE, "unknown sortition role")                                          \
    X (CONS_ERR_SORTITION_SUBJECT, "proposer sortition takes an all-zero subject")                 \
    X (CONS_ERR_SORTITION_WEIGHT, "total weight is zero or below the node's weight")               \
    X (CONS_ERR_SORTITION_TAU, "expected sortition count is zero or above the limit")              \
    X (CONS_ERR_VALIDATOR_DUPLICATE, "a key appears twice in the validator set")                   \
    X (CONS_ERR_UNKNOWN_VALIDATOR, "signer is not in the validator set")                           \
    X (CONS_ERR_POL_ROUND, "proposal's pol_round is neither -1 nor an earlier round")              \
    X (CONS_ERR_CERT_ORDER, "certificate signers are not in strictly ascending order")             \
    X (CONS_ERR_CERT_WEIGHT, "certificate signers hold no more than 2/3 of the weight")            \
    X (CONS_ERR_CERT_BLOCK, "block does not match the certificate's block id")                     \
    X (CONS_ERR_EVIDENCE, "the two votes do not form an equivocation")                             \
    X (CONS_ERR_OLD_HEIGHT, "message is for a height already decided")                             \
    X (CONS_ERR_FUTURE_HEIGHT, "message is for a later height")                                    \
    X (CONS_ERR_OLD_ROUND, "message is for a round no longer kept")                                \
    X (CONS_ERR_FUTURE_ROUND, "message is for a round too far ahead to keep")                      \
    X (CONS_ERR_DUPLICATE, "message was already received")                                         \
    X (CONS_ERR_EQUIVOCATION, "validator signed two different votes for one step")                 \
    X (CONS_ERR_NOT_PROPOSER, "proposal from a validator that is not its round's proposer")        \
    X (CONS_ERR_CLAIM, "sortition claim is missing, or present in round-robin mode")               \
    X (CONS_ERR_INVALID_BLOCK, "proposed block is not valid")                                      \
    X (CONS_ERR_NO_SPACE, "no room left to keep the message")                                      \
    X (CONS_ERR_STALE, "input no longer applies")

typedef enum {
    CONS_ERR_FIRST_ = -4000,
#define CONS_ERR_ENUM(name, msg) name,
    CONS_ERR_TABLE (CONS_ERR_ENUM)
#undef CONS_ERR_ENUM
        CONS_ERR_LAST_
} cons_err_t;

/* A short sentence for a cons_err_t or wd_err_t code. Static storage. */
const char *
cons_strerror (int code);

/* The identifier of a cons_err_t or wd_err_t code. Static storage. */
const char *
cons_err_name (int code);

#endif
