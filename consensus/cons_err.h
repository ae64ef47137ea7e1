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
    X (CONS_ERR_SORTITION_TAU, "expected sortition count is zero or above the limit")

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
