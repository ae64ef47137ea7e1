/*
 * Fuzz harness for the AK-binding record (attest_quote_binding_decode and
 * attest_quote_binding_open): neither may crash or read out of bounds on
 * any input; whatever the decoder accepts must encode back to the input
 * exactly (one encoding per record). The input is tried both as a body
 * and as an "ak-binding" envelope. Seeds (corpus/attest_binding/): bodies
 * with every key in place around the TCG default EK template and a P-256
 * AK (their exchange does not recompute), a truncated one, version 2.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_quote.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static attest_quote_binding_t b;
    static const uint8_t chain[32];
    if (attest_quote_binding_decode (data, size, &b) == WD_OK) {
        uint8_t *again = NULL;
        size_t len = 0;
        int rc = attest_quote_binding_encode (&b, &again, &len);
        assert (rc == WD_OK);
        assert (len == size && memcmp (again, data, size) == 0);
        free (again);
    }
    uint8_t node[32] = { 0 };
    if (size >= 32)
        memcpy (node, data + size - 32, 32);
    uint8_t ak[ATTEST_QUOTE_NAME_LEN];
    (void)attest_quote_binding_open (data, size, chain, node, NULL, NULL, NULL, ak, NULL);
    return 0;
}
