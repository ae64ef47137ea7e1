/*
 * capsule_seal: sealing a plaintext into a capsule and opening a capsule's
 * payload, both streaming in constant memory (DESIGN.md §9, docs/PROTOCOL.md
 * "Capsules"; the record itself is capsule_format.h).
 *
 * Sealing encrypts 64 KiB chunks with crypto_secretstream under a content
 * key, writes the capsule bytes to an output fd as they are produced, and
 * hashes them twice on the way (the signing rule's digest over the map
 * without sig, and the capsule id over all of it); the owner signs the
 * digest at the end. The capsule's length must be known before the first
 * ciphertext byte (msgpack's bin header), and it follows from the plaintext
 * length: a regular file's size or a buffer's length. A pipe or socket as
 * input is encrypted into an unlinked temporary file first (O_TMPFILE in
 * $TMPDIR or /tmp; it holds only ciphertext) and then copied out.
 *
 * Opening decrypts the ciphertext region of a parsed capsule
 * (capsule_parse*) with a content key (capsule_unwrap) to an output fd,
 * chunk by chunk. On any error the output already written is incomplete or
 * unauthenticated and must be discarded by the caller.
 */
#ifndef CAPSULE_SEAL_H
#define CAPSULE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "capsule_format.h"

typedef struct {
    capsule_kind_t kind;
    const uint8_t *chain; /* WD_CHAIN_ID_LEN bytes */
    /* The owner signs either with owner_sk (a libsodium Ed25519 secret key,
       64 bytes, public key in its last 32: user keys, tests), or, when
       owner_sk is NULL, through sign/sign_ctx (e.g. the keys process) with
       owner = its public key. */
    const uint8_t *owner_sk;
    const uint8_t *owner; /* WD_PUBKEY_LEN; ignored when owner_sk is set */
    wd_sign_fn sign;
    void *sign_ctx;
    /* 1..CAPSULE_WRAPS_MAX recipients' X25519 public keys (duplicates are
       dropped; order does not matter). */
    const uint8_t (*recipients)[CAPSULE_CURVE_LEN];
    size_t n_recipients;
    const capsule_policy_t *policy; /* NULL = anyone, forever */
    /* The content key to use; NULL = a fresh random key (the normal case).
       Tests and vectors pass one to open what they sealed without a wrap. */
    const capsule_key_t *key;
} capsule_seal_params_t;

/* Seals in_fd's bytes (from its current position to EOF) into a capsule
   written to out_fd; *id gets the capsule id. in_fd that is not a regular
   file is spooled as described above. Returns 0, CAPSULE_ERR_SEAL_PARAMS
   (no or too many recipients, bad policy names), CAPSULE_ERR_WRAP_KEY (a
   recipient key is unusable), CAPSULE_ERR_INPUT_CHANGED (the file's size
   changed while reading), CAPSULE_ERR_CAPSULE_OVERSIZE (above
   CAPSULE_PLAIN_MAX), WD_ERR_IO (read, write or spool failure; errno is
   kept), WD_ERR_NOMEM, or the signer's error. */
int __attribute__ ((warn_unused_result))
capsule_seal_fd (const capsule_seal_params_t *params, int in_fd, int out_fd,
                 uint8_t id[CAPSULE_ID_LEN]);

/* The same from a buffer. */
int __attribute__ ((warn_unused_result))
capsule_seal_buf (const capsule_seal_params_t *params, const void *plain, size_t len, int out_fd,
                  uint8_t id[CAPSULE_ID_LEN]);

/* The same from a buffer into memory: *out (caller frees) holds the
   capsule's *out_len bytes. For small payloads (results, tests). */
int __attribute__ ((warn_unused_result))
capsule_seal_mem (const capsule_seal_params_t *params, const void *plain, size_t len, uint8_t **out,
                  size_t *out_len, uint8_t id[CAPSULE_ID_LEN]);

/* Decrypts the payload of the capsule h (parsed from capsule_fd, a regular
   file read with pread; its position is left alone) with key, writing the
   plaintext to out_fd. Returns 0, CAPSULE_ERR_CHUNK_AUTH (a chunk fails
   authentication: tampered, reordered, or the wrong key),
   CAPSULE_ERR_STREAM_FINAL (the last chunk lacks TAG_FINAL, or an earlier
   chunk carries another tag than TAG_MESSAGE: truncated or spliced
   stream), CAPSULE_ERR_CAPSULE_TRUNCATED
   (the file is shorter than h says), or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
capsule_open_fd (const capsule_header_t *h, int capsule_fd, const capsule_key_t *key, int out_fd);

/* The same for a capsule held in memory (buf, len: the bytes h was parsed
   from). */
int __attribute__ ((warn_unused_result))
capsule_open_buf (const capsule_header_t *h, const uint8_t *buf, size_t len,
                  const capsule_key_t *key, int out_fd);

/* The same into memory: *out (caller frees, h->plain_len bytes; NULL when
   empty) gets the plaintext. For small payloads. */
int __attribute__ ((warn_unused_result))
capsule_open_mem (const capsule_header_t *h, const uint8_t *buf, size_t len,
                  const capsule_key_t *key, uint8_t **out, size_t *out_len);

#endif
