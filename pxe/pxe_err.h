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
    X (PXE_ERR_TFTP_ADDRESS, "TFTP socket is not an IPv4 UDP socket")                              \
    X (PXE_ERR_DHCP_SHORT, "DHCP packet is shorter than its fixed header and magic cookie")        \
    X (PXE_ERR_DHCP_LONG, "DHCP packet is longer than the largest accepted")                       \
    X (PXE_ERR_DHCP_OP, "DHCP op is not BOOTREQUEST or BOOTREPLY (or not a request here)")         \
    X (PXE_ERR_DHCP_HTYPE, "DHCP hardware type or length is not Ethernet (1, 6)")                  \
    X (PXE_ERR_DHCP_COOKIE, "DHCP magic cookie is wrong")                                          \
    X (PXE_ERR_DHCP_OPTION_TRUNCATED, "DHCP option runs past the end of its field")                \
    X (PXE_ERR_DHCP_NO_END, "DHCP options have no END (255)")                                      \
    X (PXE_ERR_DHCP_OVERLOAD, "DHCP option overload (52) is malformed or misplaced")               \
    X (PXE_ERR_DHCP_OPTION_LENGTH, "DHCP option has the wrong length for its code")                \
    X (PXE_ERR_DHCP_MESSAGE_TYPE, "DHCP message type (53) is missing or not allowed here")         \
    X (PXE_ERR_DHCP_ADDRESS, "DHCP socket is not an IPv4 UDP socket")                              \
    X (PXE_ERR_DHCP_CONFIG, "DHCP configuration is inconsistent")                                  \
    X (PXE_ERR_DHCP_NO_SPACE, "DHCP reply does not fit the client's maximum message size")         \
    X (PXE_ERR_DHCP_LEASE_FILE, "DHCP lease file is malformed")                                    \
    X (PXE_ERR_PATH_NAME, "boot file name is empty, too long or holds a control character")        \
    X (PXE_ERR_PATH_ABSOLUTE, "boot file path is absolute")                                        \
    X (PXE_ERR_PATH_DOTDOT, "boot file path has a '..' component")                                 \
    X (PXE_ERR_PATH_ESCAPE, "boot file path leaves the boot directory through a link")             \
    X (PXE_ERR_PATH_NOT_REGULAR, "boot file path is not a regular file")                           \
    X (PXE_ERR_PATH_NOT_FOUND, "boot file does not exist in the boot directory")                   \
    X (PXE_ERR_HTTP_METHOD, "HTTP method is not GET or HEAD")                                      \
    X (PXE_ERR_HTTP_RANGE_SYNTAX, "HTTP Range header is malformed")                                \
    X (PXE_ERR_HTTP_RANGE_UNSATISFIABLE, "HTTP byte range starts past the end of the file")        \
    X (PXE_ERR_HTTP_RANGE_MULTIPLE, "HTTP Range asks for several ranges: the whole file is sent")  \
    X (PXE_ERR_HTTP_SOCKET, "HTTP socket is not a bound, listening TCP socket")                    \
    X (PXE_ERR_HTTP_DAEMON, "libmicrohttpd could not start or run the server")                     \
    X (PXE_ERR_IMAGE_MANIFEST_SYNTAX, "image manifest line is not 'ROLE NAME SHA256'")             \
    X (PXE_ERR_IMAGE_ROLE, "image manifest role is not script, kernel, initrd, ipxe or file")      \
    X (PXE_ERR_IMAGE_DUPLICATE, "image manifest names a file, or a single-file role, twice")       \
    X (PXE_ERR_IMAGE_INCOMPLETE, "image set lacks its boot script, kernel or initrd")              \
    X (PXE_ERR_IMAGE_UNAPPROVED, "file is not in the approved boot set")                           \
    X (PXE_ERR_IMAGE_DIGEST, "file does not match its approved SHA-256")                           \
    X (PXE_ERR_IMAGE_MISSING, "approved file is missing from the boot directory")                  \
    X (PXE_ERR_IMAGE_TOO_LARGE, "approved file is larger than the image size limit")               \
    X (PXE_ERR_IMAGE_TEMPLATE, "boot script template is not text or uses an unknown {{variable}}") \
    X (PXE_ERR_IMAGE_ENDPOINT, "attestation server endpoint is not tcp://HOST:PORT")               \
    X (PXE_ERR_IMAGE_NO_ATTEST, "attestation server endpoint and key are not set")                 \
    X (PXE_ERR_IMAGE_TOKEN, "boot token is unknown, already used or expired")                      \
    X (PXE_ERR_IMAGE_SEAL, "could not make a sealed in-memory copy of an approved file")

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
