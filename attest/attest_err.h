/*
 * attest_err: result codes of the attest module (measurement logs, IMA,
 * policies, evidence, the host agent), in the range below -2000. Functions here
 * return either these or a wd_err_t passed up from common; attest_strerror
 * and attest_err_name name both.
 */
#ifndef ATTEST_ERR_H
#define ATTEST_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define ATTEST_ERR_TABLE(X)                                                                        \
    X (ATTEST_ERR_TEMPLATE_HASH, "template hash does not match the template data")                 \
    X (ATTEST_ERR_IMA_TRUNCATED, "IMA list ends inside an entry")                                  \
    X (ATTEST_ERR_IMA_TEMPLATE_NAME, "IMA template is not ima, ima-ng, ima-sig or ima-buf")        \
    X (ATTEST_ERR_IMA_OVERSIZE, "IMA entry field is larger than its limit")                        \
    X (ATTEST_ERR_IMA_DIGEST_ALGO, "IMA file digest algorithm is not sha1/256/384/512")            \
    X (ATTEST_ERR_IMA_DIGEST_LENGTH, "IMA file digest length does not match its algorithm")        \
    X (ATTEST_ERR_IMA_SYNTAX, "IMA ASCII line is malformed")                                       \
    X (ATTEST_ERR_IMA_PCR_RANGE, "IMA entry PCR index is out of range")                            \
    X (ATTEST_ERR_IMA_FIELD, "IMA template data does not hold the template's fields")              \
    X (ATTEST_ERR_IMA_STATE, "saved replay state does not fit this list")                          \
    X (ATTEST_ERR_LOG_NAME, "event name is empty, too long or holds a control character")          \
    X (ATTEST_ERR_LOG_ENTRY, "measurement log entry is not an ima-ng SHA-256 entry for its PCR")

typedef enum {
    ATTEST_ERR_FIRST_ = -2000,
#define ATTEST_ERR_ENUM(name, msg) name,
    ATTEST_ERR_TABLE (ATTEST_ERR_ENUM)
#undef ATTEST_ERR_ENUM
        ATTEST_ERR_LAST_
} attest_err_t;

/* A short sentence for a attest_err_t or wd_err_t code. Static storage. */
const char *
attest_strerror (int code);

/* The identifier of a attest_err_t or wd_err_t code. Static storage. */
const char *
attest_err_name (int code);

#endif
