/*
 * fuzz_pxe_tftp: libFuzzer harness for the TFTP packet parsers (requests on
 * the server port, ACK/ERROR replies on a transfer's port) and the path
 * check that runs on every accepted file name. Parsers must never crash,
 * must fill their output only on success, and an accepted request's name
 * must come out of the path check either refused or confined (relative, no
 * '..' component).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "pxe_tftp.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    pxe_tftp_request_t req;
    memset (&req, 0xa5, sizeof req);
    int rc = pxe_tftp_request_parse (data, size, &req);
    if (rc == 0) {
        assert (req.opcode == PXE_TFTP_RRQ || req.opcode == PXE_TFTP_WRQ);
        size_t n = strlen (req.filename);
        assert (n > 0 && n <= PXE_TFTP_NAME_MAX);
        assert (!req.has_blksize ||
                (req.blksize >= PXE_TFTP_BLKSIZE_MIN && req.blksize <= PXE_TFTP_BLKSIZE_MAX));
        assert (!req.has_timeout || (req.timeout >= 1 && req.timeout <= PXE_TFTP_TIMEOUT_MAX));
        assert (!req.has_windowsize ||
                (req.windowsize >= 1 && req.windowsize <= PXE_TFTP_WINDOW_MAX));
        char path[PXE_PATH_MAX + 1];
        if (pxe_path_check (req.filename, path, sizeof path) == 0) {
            assert (path[0] != '/');
            const char *p = path;
            for (;;) {
                const char *slash = strchr (p, '/');
                size_t clen = slash ? (size_t)(slash - p) : strlen (p);
                assert (!(clen == 2 && p[0] == '.' && p[1] == '.'));
                if (!slash)
                    break;
                p = slash + 1;
            }
        }
    } else
        assert (rc > PXE_ERR_FIRST_ && rc < PXE_ERR_LAST_);

    pxe_tftp_reply_t reply;
    rc = pxe_tftp_reply_parse (data, size, &reply);
    if (rc == 0 && reply.opcode == PXE_TFTP_ERROR)
        assert (reply.message + reply.message_len <= (const char *)data + size);
    return 0;
}
