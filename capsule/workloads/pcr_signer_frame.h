/*
 * pcr_signer_frame: the one-way intake framing of the PCR signer
 * (docs/PROTOCOL.md "PCR intake framing"). The instrument side writes
 * frames down a serial line or a pipe; the node never writes back, so the
 * decoder must find, check and report everything by itself:
 *
 *   off  len   field (integers big-endian)
 *   0    4     magic "WPCR"
 *   4    1     version, 1
 *   5    8     seq: channel sequence number, +1 per file
 *   13   2     name_len, 1..255
 *   15   4     data_len, 0..limit
 *   19   32    SHA-256 of the data
 *   51   4     header check: SHA-256(bytes 0..50)[0..4)
 *   55   name  file name (UTF-8, no '/', no control characters, not . or ..)
 *   ...  data  the file's bytes, exactly as exported
 *
 * Reports (capsule_err.h): NOISE (bytes skipped before a magic), HEADER
 * (check or version wrong: resynchronise one byte on), NAME, OVERSIZE,
 * DIGEST (data does not match), TRUNCATED (a new valid header starts
 * inside the declared data, or the stream ended or went idle mid-frame),
 * GAP (the frame is accepted; seq skipped numbers) and DUPLICATE (seq not
 * above the last accepted one: refused).
 */
#ifndef PCR_SIGNER_FRAME_H
#define PCR_SIGNER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSULE_PCR_FRAME_MAGIC    "WPCR"
#define CAPSULE_PCR_FRAME_VERSION  1
#define CAPSULE_PCR_FRAME_HEADER   55
#define CAPSULE_PCR_FRAME_NAME_MAX 255
#define CAPSULE_PCR_DATA_MAX       (64u << 20) /* hard ceiling for the configured limit */

/* One decoder event. code 0: a frame (name, data borrowed for the call);
   else a capsule_err_t with seq (when the header was readable) and a
   one-line detail. */
typedef struct {
    int code;
    bool has_seq;
    uint64_t seq;
    const char *name; /* NUL-terminated */
    const uint8_t *data;
    size_t data_len;
    uint8_t sha256[32];
    uint64_t gap_first, gap_last; /* CAPSULE_ERR_FRAME_GAP: the missing numbers */
    const char *detail;
} capsule_pcr_frame_event_t;

typedef void (capsule_pcr_frame_fn) (void *arg, const capsule_pcr_frame_event_t *event);

typedef struct capsule_pcr_frame_dec capsule_pcr_frame_dec_t;

/* A decoder accepting data up to max_data bytes per frame (at most
   CAPSULE_PCR_DATA_MAX). last_seq: the last sequence number accepted
   before (from the log), or has_last false for a fresh channel. Aborts on
   out-of-memory. */
capsule_pcr_frame_dec_t *
capsule_pcr_frame_dec_new (size_t max_data, bool has_last, uint64_t last_seq,
                           capsule_pcr_frame_fn *fn, void *arg);

void
capsule_pcr_frame_dec_destroy (capsule_pcr_frame_dec_t **self_p);

/* Feeds bytes as they arrive; events run from inside the call. */
void
capsule_pcr_frame_dec_push (capsule_pcr_frame_dec_t *self, const uint8_t *buf, size_t len);

/* The stream ended or went idle: whatever is buffered is decoded as far as
   it goes and the rest is reported TRUNCATED (or NOISE). */
void
capsule_pcr_frame_dec_flush (capsule_pcr_frame_dec_t *self);

/* Bytes buffered (a partial frame). */
size_t
capsule_pcr_frame_dec_pending (const capsule_pcr_frame_dec_t *self);

/* Encodes one frame (the sender's side, used by tests, tools and the
   documentation's example). Returns a malloc'ed buffer (caller frees) and
   its length, or NULL when name is not 1..255 bytes. */
uint8_t *
capsule_pcr_frame_encode (uint64_t seq, const char *name, const uint8_t *data, size_t data_len,
                          size_t *out_len);

/* True when name is an acceptable file name (see above). */
bool
capsule_pcr_name_valid (const char *name, size_t len);

#endif
