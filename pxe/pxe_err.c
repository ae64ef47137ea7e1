/*
 * pxe_err: messages and names for the pxe module's result codes.
 */
#include "pxe_err.h"

WD_ERR_DEFINE_MODULE (pxe_strerror, pxe_err_name, PXE_ERR_TABLE, PXE_ERR_FIRST_, PXE_ERR_LAST_)
