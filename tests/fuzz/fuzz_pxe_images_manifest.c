/*
 * fuzz_pxe_images_manifest: libFuzzer harness for the approved-image
 * manifest parser ("ROLE NAME SHA256" lines). It must never crash, must
 * hand only known roles and confined names (relative, no '..') to its
 * callback, and must reject with a named code and a line number within
 * the input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "pxe_images.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
s_check_entry (void *arg, pxe_image_role_t role, const char *name, const uint8_t sha256[32])
{
    size_t *count = arg;
    (*count)++;
    (void)sha256;
    assert ((unsigned)role <= PXE_IMAGE_FILE);
    size_t n = strlen (name);
    assert (n > 0 && n <= PXE_PATH_MAX && name[0] != '/');
    const char *p = name;
    for (;;) {
        const char *slash = strchr (p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen (p);
        assert (!(clen == 2 && p[0] == '.' && p[1] == '.'));
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t count = 0, line = 0, lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    int rc = pxe_images_manifest_parse ((const char *)data, size, s_check_entry, &count, &line);
    if (rc == 0)
        assert (line == 0);
    else {
        assert (rc > PXE_ERR_FIRST_ && rc < PXE_ERR_LAST_);
        assert (line >= 1 && line <= lines);
    }
    return 0;
}
