/*
 * Fuzz harness for the body of the control socket's attest requests
 * (wd_msg_decode_attest_req, common/wd_msg.h), which the engine decodes
 * from any admitted local client. No input may crash the decoder or read
 * out of bounds; an accepted body holds a NUL-terminated host of 1..64
 * bytes when it has one, and is canonical: encoding the result gives back
 * the input (the empty body excepted, which means the empty map).
 *
 * Seeds: the empty map, host only, limit only, both, and a few rejected
 * bodies (unknown key, empty host, limit 0, keys out of order).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wd_msg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    wd_msg_attest_req_t req;
    if (wd_msg_decode_attest_req (data, size, &req) != WD_OK)
        return 0;
    if (req.has_host) {
        size_t n = strnlen (req.host, sizeof req.host);
        assert (n >= 1 && n <= WD_MSG_HOST_MAX);
    }
    if (size == 0)
        return 0;
    size_t len;
    uint8_t *back = wd_msg_encode_attest_req (&req, &len);
    assert (len == size && memcmp (back, data, size) == 0);
    free (back);
    return 0;
}
