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
    X (ATTEST_ERR_TEMPLATE_HASH, "template hash does not match the template data")

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
