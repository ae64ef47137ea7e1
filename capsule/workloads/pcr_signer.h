/*
 * pcr_signer: the PCR signer workload's pieces that are not framing,
 * metadata or the log (DESIGN.md §1, §9): the in-toto-style statement
 * about one received file, and the intake channels' plumbing — a serial
 * device or pseudo-terminal opened read-only in raw mode at a configured
 * speed (the channel is one-way: nothing is ever written back), and a drop
 * directory whose files are read once settled and moved to a done
 * directory after their result is durable.
 *
 * The statement (docs/PROTOCOL.md "PCR result statement") is the body of a
 * signed envelope of type "pcr-result":
 *   {_type: "https://in-toto.io/Statement/v1",
 *    predicate: {channel, instrument: <pcr_signer_meta>, key_protection,
 *                node, node_id, parser, received, seq (uint or nil), size},
 *    predicateType: "https://warden.invalid/pcr-result/v1",
 *    subject: [{digest: {sha256: hex}, name}]}
 * The subject digest is SHA-256 of the bytes exactly as received.
 */
#ifndef PCR_SIGNER_H
#define PCR_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcr_signer_meta.h"

typedef struct {
    const char *name; /* file name, valid (capsule_pcr_name_valid) */
    size_t size;
    uint8_t sha256[32];
    const char *channel;
    bool has_seq;
    uint64_t seq;
    uint64_t received_ms;
    const char *node;           /* node name */
    uint8_t node_id[32];        /* the node's sign_pk */
    const char *key_protection; /* from the node certificate */
} capsule_pcr_result_t;

/* The statement's canonical bytes (malloc'ed, caller frees). */
uint8_t *
capsule_pcr_statement (const capsule_pcr_result_t *r, const capsule_pcr_meta_t *meta, size_t *len);

/* "2026-11-21T17:20:00.123Z" for a Unix time in milliseconds. */
void
capsule_pcr_time (char out[32], uint64_t ms);

/* The current time in Unix milliseconds. */
uint64_t
capsule_pcr_now_ms (void);

/* Opens a serial device or pseudo-terminal for reading only, non-blocking,
   without becoming its controlling terminal; a terminal is put in raw mode
   (no echo: nothing goes back) at baud bits/s. Returns the descriptor, or
   -1 with CAPSULE_ERR_SERIAL's reason in why (an unsupported speed, a path
   that cannot be opened or configured). */
int
capsule_pcr_serial_open (const char *path, unsigned baud, char *why, size_t why_len);

/* True when baud is a speed the terminal interface knows. */
bool
capsule_pcr_baud_valid (unsigned baud);

/* Reads dir/name whole if it is a regular file of at most max bytes whose
   last change is at least settle_ms old (a writer may still be at work on
   a younger one). Returns 1 and *data (malloc'ed) and *len, 0 when it is
   not ready or not a regular file, -1 with errno, or -2 when it is larger
   than max. */
int
capsule_pcr_dir_read (int dirfd, const char *name, size_t max, uint64_t settle_ms, uint8_t **data,
                      size_t *len);

#endif
