/*
 * cons_err: messages and names for the consensus module's result codes.
 */
#include "cons_err.h"

WD_ERR_DEFINE_MODULE (cons_strerror, cons_err_name, CONS_ERR_TABLE, CONS_ERR_FIRST_, CONS_ERR_LAST_)
