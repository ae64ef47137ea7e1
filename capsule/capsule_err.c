/*
 * capsule_err: messages and names for the capsule module's result codes.
 */
#include "capsule_err.h"

WD_ERR_DEFINE_MODULE (capsule_strerror, capsule_err_name, CAPSULE_ERR_TABLE, CAPSULE_ERR_FIRST_,
                      CAPSULE_ERR_LAST_)
