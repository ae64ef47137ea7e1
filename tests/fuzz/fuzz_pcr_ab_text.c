/*
 * Fuzz harness for the Applied Biosystems text export parser
 * (pcr_signer_meta): any bytes, parsed or refused with a reason, and the
 * metadata written into the signed statement must always be canonical
 * msgpack with valid UTF-8 strings, whatever the file held.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capsule_verify.h"
#include "pcr_signer_meta.h"
#include "wd_codec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0)
        return 0; /* RDML: fuzz_pcr_rdml */
    capsule_pcr_meta_t meta;
    int rc = capsule_pcr_meta_parse ("export.txt", data, size, &meta);
    assert ((rc == 0) == meta.parsed);
    assert (rc == 0 || meta.reason[0]);
    wd_writer_t *w = wd_writer_new ();
    capsule_pcr_meta_write (w, &meta);
    size_t len;
    const uint8_t *buf = wd_writer_data (w, &len);
    assert (wd_codec_check (buf, len, 1 << 24, NULL) == WD_OK);
    assert (capsule_msgpack_canonical (buf, len));
    wd_writer_destroy (&w);
    capsule_pcr_meta_clear (&meta);
    return 0;
}
