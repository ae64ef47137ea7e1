/*
 * Fuzz harness for the control-socket status reply that wardenctl decodes
 * (node_status_reply_decode): a {envelope: bin} holding a "node-status"
 * envelope, or a {status: bin, unsigned_reason: str} when the node could not
 * sign. The reply comes from another process over a socket, so no input may
 * crash the decoder or read out of bounds; what it accepts must carry a
 * certificate that verified, a signed report must be signed by that
 * certificate's key, and the reply must be canonical (re-encoding it with
 * node_status_reply_signed / _unsigned gives back the input).
 *
 * Seeds are replies captured from a real wardend (signed, and unsigned while
 * the keys process was stopped) plus variants made from them.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_status.h"
#include "wd_codec.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    node_status_t status;
    bool is_signed;
    char reason[WD_MSG_ERROR_MAX + 1];
    memset (reason, 'x', sizeof reason);
    wd_err_t err = node_status_reply_decode (data, size, &status, &is_signed, reason);
    assert (memchr (reason, '\0', sizeof reason) != NULL);
    if (err != WD_OK)
        return 0;

    assert (wd_cert_name_valid (status.cert.name));
    assert (memchr (status.version, '\0', sizeof status.version) != NULL);
    assert (memchr (status.state_dir, '\0', sizeof status.state_dir) != NULL);
    assert (status.pid <= UINT32_MAX);
    if (is_signed)
        assert (reason[0] == '\0');

    /* The reply's outer map, read again to re-encode it. */
    wd_reader_t r;
    size_t count;
    const uint8_t *inner;
    size_t inner_len;
    wd_reader_init (&r, data, size);
    wd_read_map (&r, &count);
    bool has_envelope = wd_read_key_opt (&r, "envelope");
    assert (has_envelope == is_signed);
    if (has_envelope)
        wd_read_bin (&r, &inner, &inner_len, SIZE_MAX);
    else {
        wd_read_key (&r, "status");
        wd_read_bin (&r, &inner, &inner_len, SIZE_MAX);
        const char *text;
        size_t text_len;
        wd_read_key (&r, "unsigned_reason");
        wd_read_str (&r, &text, &text_len, SIZE_MAX);
        assert (text_len == strlen (reason) && memcmp (text, reason, text_len) == 0);
    }
    wd_read_end (&r);
    assert (wd_reader_finish (&r) == WD_OK);

    size_t out_len;
    uint8_t *out = is_signed ? node_status_reply_signed (inner, inner_len, &out_len)
                             : node_status_reply_unsigned (inner, inner_len, reason, &out_len);
    assert (out_len == size && memcmp (out, data, size) == 0);
    free (out);

    if (is_signed) {
        wd_envelope_t env;
        assert (wd_envelope_open (inner, inner_len, wd_cert_no_chain, NODE_STATUS_TYPE, &env) ==
                WD_OK);
        assert (sodium_memcmp (env.from, status.cert.sign_pk, WD_PUBKEY_LEN) == 0);
    }
    return 0;
}
