/*
 * pxe_err: result codes of the pxe module (DHCP, TFTP, HTTP boot, approved
 * image sets), in the range below -3000. Functions here return either these
 * or a wd_err_t passed up from common; pxe_strerror and pxe_err_name name
 * both.
 */
#ifndef PXE_ERR_H
#define PXE_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define PXE_ERR_TABLE(X)                                                                           \
    X (PXE_ERR_TFTP_SHORT, "TFTP packet is shorter than its opcode")                               \
    X (PXE_ERR_TFTP_OPCODE, "TFTP opcode is unknown or not allowed here")                          \
    X (PXE_ERR_TFTP_UNTERMINATED, "TFTP request string is not NUL-terminated")                     \
    X (PXE_ERR_TFTP_FILENAME, "TFTP file name is empty, too long or holds a control character")    \
    X (PXE_ERR_TFTP_MODE, "TFTP transfer mode is not netascii, octet or mail")                     \
    X (PXE_ERR_TFTP_NETASCII, "TFTP netascii and mail modes are not served: use octet")            \
    X (PXE_ERR_TFTP_OPTION_VALUE, "TFTP option value is not a decimal number")                     \
    X (PXE_ERR_TFTP_OPTION_RANGE, "TFTP option value is out of its RFC range")                     \
    X (PXE_ERR_TFTP_OPTION_DUPLICATE, "TFTP option appears twice")                                 \
    X (PXE_ERR_TFTP_OPTION_PAIR, "TFTP option name has no value")                                  \
    X (PXE_ERR_TFTP_LENGTH, "TFTP packet has the wrong length for its opcode")                     \
    X (PXE_ERR_TFTP_WRITE, "TFTP write requests are refused")                                      \
    X (PXE_ERR_TFTP_PATH_ABSOLUTE, "TFTP path is absolute")                                        \
    X (PXE_ERR_TFTP_PATH_DOTDOT, "TFTP path has a '..' component")                                 \
    X (PXE_ERR_TFTP_PATH_ESCAPE, "TFTP path leaves the boot directory through a link")             \
    X (PXE_ERR_TFTP_NOT_REGULAR, "TFTP path is not a regular file")                                \
    X (PXE_ERR_TFTP_NOT_FOUND, "TFTP file does not exist in the boot directory")                   \
    X (PXE_ERR_TFTP_LIMIT, "too many TFTP transfers (global or per client)")                       \
    X (PXE_ERR_TFTP_ADDRESS, "TFTP socket is not an IPv4 UDP socket")

typedef enum {
    PXE_ERR_FIRST_ = -3000,
#define PXE_ERR_ENUM(name, msg) name,
    PXE_ERR_TABLE (PXE_ERR_ENUM)
#undef PXE_ERR_ENUM
        PXE_ERR_LAST_
} pxe_err_t;

/* A short sentence for a pxe_err_t or wd_err_t code. Static storage. */
const char *
pxe_strerror (int code);

/* The identifier of a pxe_err_t or wd_err_t code. Static storage. */
const char *
pxe_err_name (int code);

#endif
