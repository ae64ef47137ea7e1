/*
 * attest_err: messages and names for the attest module's result codes.
 */
#include "attest_err.h"

WD_ERR_DEFINE_MODULE (attest_strerror, attest_err_name, ATTEST_ERR_TABLE, ATTEST_ERR_FIRST_,
                      ATTEST_ERR_LAST_)
