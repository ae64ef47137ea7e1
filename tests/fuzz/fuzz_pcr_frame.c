/*
 * Fuzz harness for the PCR intake framing decoder (pcr_signer_frame): the
 * bytes a one-way serial line delivers, cut into chunks where the first
 * input byte says, with a small data limit so oversize paths run too. Every
 * accepted frame must carry a valid name and data whose SHA-256 is the one
 * reported, sequence numbers must only grow, and after a flush nothing may
 * remain buffered.
 */
#include <assert.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcr_signer_frame.h"

typedef struct {
    bool have;
    uint64_t last;
} s_state_t;

static void
s_event (void *arg, const capsule_pcr_frame_event_t *ev)
{
    s_state_t *st = arg;
    if (ev->code != 0)
        return;
    uint8_t h[32];
    crypto_hash_sha256 (h, ev->data, ev->data_len);
    assert (memcmp (h, ev->sha256, 32) == 0);
    assert (capsule_pcr_name_valid (ev->name, strlen (ev->name)));
    assert (!st->have || ev->seq > st->last);
    st->have = true;
    st->last = ev->seq;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sodium_init () < 0 || size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    s_state_t st = { 0 };
    capsule_pcr_frame_dec_t *dec = capsule_pcr_frame_dec_new (256, false, 0, s_event, &st);
    for (size_t off = 0; off < size; off += chunk)
        capsule_pcr_frame_dec_push (dec, data + off, size - off < chunk ? size - off : chunk);
    capsule_pcr_frame_dec_flush (dec);
    assert (capsule_pcr_frame_dec_pending (dec) == 0);
    capsule_pcr_frame_dec_destroy (&dec);
    return 0;
}
