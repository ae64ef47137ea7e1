/*
 * Fuzz harness for the RDML reader (pcr_signer_meta with libzip and
 * expat). The first byte chooses what the rest is: 0, a whole archive as
 * it arrives; otherwise the text of rdml_data.xml, which the harness puts
 * into a stored (uncompressed) zip made in memory with libzip, so the
 * fuzzer works on the XML rather than on zip checksums. Whatever happens,
 * the statement's metadata stays canonical msgpack.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "capsule_verify.h"
#include "pcr_signer_meta.h"
#include "wd_codec.h"

/* A zip holding xml as rdml_data.xml, stored; malloc'ed, or NULL. */
static uint8_t *
s_zip (const uint8_t *xml, size_t len, size_t *out_len)
{
    zip_error_t err;
    zip_error_init (&err);
    zip_source_t *src = zip_source_buffer_create (NULL, 0, 0, &err);
    zip_t *za = src ? zip_open_from_source (src, ZIP_TRUNCATE, &err) : NULL;
    uint8_t *out = NULL;
    zip_error_fini (&err);
    if (!za) {
        zip_source_free (src);
        return NULL;
    }
    zip_source_keep (src);
    zip_source_t *file = zip_source_buffer (za, xml, len, 0);
    zip_int64_t idx = file ? zip_file_add (za, "rdml_data.xml", file, 0) : -1;
    if (idx < 0)
        zip_source_free (file);
    else
        zip_set_file_compression (za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    if (idx < 0 || zip_close (za) != 0) {
        zip_discard (za);
        zip_source_free (src);
        return NULL;
    }
    zip_stat_t st;
    if (zip_source_stat (src, &st) == 0 && zip_source_open (src) == 0) {
        out = malloc (st.size ? st.size : 1);
        zip_int64_t n = out ? zip_source_read (src, out, st.size) : -1;
        if (n != (zip_int64_t)st.size) {
            free (out);
            out = NULL;
        }
        *out_len = (size_t)st.size;
        zip_source_close (src);
    }
    zip_source_free (src);
    return out;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *owned = NULL;
    const uint8_t *file = data + 1;
    size_t len = size - 1;
    if (data[0] != 0) {
        owned = s_zip (data + 1, size - 1, &len);
        if (!owned)
            return 0;
        file = owned;
    }
    capsule_pcr_meta_t meta;
    int rc = capsule_pcr_meta_parse ("sample.rdml", file, len, &meta);
    assert ((rc == 0) == meta.parsed);
    wd_writer_t *w = wd_writer_new ();
    capsule_pcr_meta_write (w, &meta);
    size_t blen;
    const uint8_t *buf = wd_writer_data (w, &blen);
    assert (wd_codec_check (buf, blen, 1 << 24, NULL) == WD_OK);
    wd_writer_destroy (&w);
    capsule_pcr_meta_clear (&meta);
    free (owned);
    return 0;
}
