/*
 * fuzz_pxe_http: libFuzzer harness for what pxe_http decides from outside
 * input itself (MHD parses the HTTP): the Range header value and the
 * request path. The first 8 bytes are the file size (little-endian, for
 * the range), the rest is the text. An accepted range must lie inside the
 * file and be non-empty; an ignored one must be the whole file; every
 * refusal must be a named code. An accepted path must be relative, without
 * a '..' component or a control character.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pxe_http.h"
#include "pxe_path.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t fsize = 0;
    for (int i = 7; i >= 0; i--)
        fsize = (fsize << 8) | data[i];
    fsize >>= 1; /* keep offset + length from overflowing in the checks below */
    char *text = malloc (size - 8 + 1);
    if (!text)
        return 0;
    memcpy (text, data + 8, size - 8);
    text[size - 8] = '\0';

    uint64_t off = 0, len = 0;
    bool partial = false;
    int rc = pxe_http_range_parse (text, fsize, &off, &len, &partial);
    if (rc == 0 && partial) {
        assert (len >= 1);
        assert (off < fsize && len <= fsize - off);
    } else if (rc == 0) {
        assert (off == 0 && len == fsize);
    } else {
        assert (rc == PXE_ERR_HTTP_RANGE_SYNTAX || rc == PXE_ERR_HTTP_RANGE_UNSATISFIABLE ||
                rc == PXE_ERR_HTTP_RANGE_MULTIPLE);
        assert (!partial);
        int status = pxe_http_status_for (rc);
        assert (status == 416 || rc == PXE_ERR_HTTP_RANGE_MULTIPLE);
    }

    char path[PXE_PATH_MAX + 1];
    rc = pxe_path_check (text, path, sizeof path);
    if (rc == 0) {
        size_t n = strlen (path);
        assert (n > 0 && n <= PXE_PATH_MAX && path[0] != '/');
        for (size_t i = 0; i < n; i++)
            assert ((unsigned char)path[i] >= 0x20 && path[i] != 0x7f);
        const char *p = path;
        for (;;) {
            const char *slash = strchr (p, '/');
            size_t clen = slash ? (size_t)(slash - p) : strlen (p);
            assert (!(clen == 2 && p[0] == '.' && p[1] == '.'));
            if (!slash)
                break;
            p = slash + 1;
        }
    } else
        assert (rc == PXE_ERR_PATH_NAME || rc == PXE_ERR_PATH_ABSOLUTE ||
                rc == PXE_ERR_PATH_DOTDOT);
    free (text);
    return 0;
}
