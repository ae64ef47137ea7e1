/*
 * cons_sortition_claim: the wire form of a sortition claim (cons_sortition.h,
 * docs/PROTOCOL.md "The claim and its wire form"), apart from the math in
 * cons_sortition.c so that the math links with libsodium alone: the
 * offline verifier (capsule_ledger, `warden-verify ledger`) re-derives
 * proposer claims with it and must not pull in the msgpack codec.
 */
#include "cons_sortition.h"

#include <assert.h>
#include <string.h>

void
cons_sortition_claim_write (const cons_sortition_claim_t *claim, wd_writer_t *w)
{
    assert (claim && w);
    wd_writer_map (w, 3);
    wd_writer_key (w, "count");
    wd_writer_uint (w, claim->count);
    wd_writer_key (w, "priority");
    wd_writer_bin (w, claim->priority, sizeof claim->priority);
    wd_writer_key (w, "proof");
    wd_writer_bin (w, claim->proof, sizeof claim->proof);
}

size_t
cons_sortition_claim_encode (const cons_sortition_claim_t *claim,
                             uint8_t out[CONS_SORTITION_CLAIM_MAX])
{
    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (claim, w);
    size_t len;
    const uint8_t *bytes = wd_writer_data (w, &len);
    assert (len <= CONS_SORTITION_CLAIM_MAX);
    memcpy (out, bytes, len);
    wd_writer_destroy (&w);
    return len;
}

bool
cons_sortition_claim_read (wd_reader_t *r, cons_sortition_claim_t *claim)
{
    assert (r && claim);
    size_t entries;
    wd_read_map (r, &entries);
    wd_read_key (r, "count");
    wd_read_uint (r, &claim->count, CONS_SORTITION_COUNT_MAX);
    wd_read_key (r, "priority");
    wd_read_bin_fixed (r, claim->priority, sizeof claim->priority);
    wd_read_key (r, "proof");
    wd_read_bin_fixed (r, claim->proof, sizeof claim->proof);
    return wd_read_end (r);
}

wd_err_t
cons_sortition_claim_decode (const uint8_t *buf, size_t len, cons_sortition_claim_t *claim)
{
    assert (claim);
    memset (claim, 0, sizeof *claim);
    /* No field is longer than the proof. */
    wd_err_t err = wd_codec_check (buf, len, WD_VRF_PROOF_LEN, NULL);
    if (err == WD_OK) {
        wd_reader_t r;
        wd_reader_init (&r, buf, len);
        (void)cons_sortition_claim_read (&r, claim);
        err = wd_reader_finish (&r);
    }
    if (err != WD_OK)
        memset (claim, 0, sizeof *claim);
    return err;
}
