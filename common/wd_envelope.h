/*
 * wd_envelope: the signed envelope and Warden's signing rule (DESIGN.md §5,
 * §6; docs/PROTOCOL.md "Signed envelope").
 *
 * An envelope is the canonical msgpack map
 *   {body: bin, chain: bin(32), from: bin(32), sig: bin(64), type: str, v: 1}
 * where body holds one canonical msgpack value (the record), chain is the
 * chain id, from is the signer's Ed25519 public key, and
 *   sig = Ed25519(sk, SHA-256("warden/1" 0x00 type 0x00 chain body))
 * — a 32-byte digest signed as a plain Ed25519 message, so digest-only
 * hardware can sign it, with the type as a domain tag so no signature can be
 * replayed as another kind of record. The envelope id is SHA-256 of its
 * canonical bytes.
 */
#ifndef WD_ENVELOPE_H
#define WD_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_err.h"

#define WD_ENVELOPE_VERSION  1
#define WD_ENVELOPE_TYPE_MAX 32         /* bytes of [a-z0-9.-], first a letter */
#define WD_ENVELOPE_BODY_MAX (16 << 20) /* 16 MiB */
#define WD_CHAIN_ID_LEN      32
#define WD_PUBKEY_LEN        32
#define WD_SIG_LEN           64
#define WD_DIGEST_LEN        32

/* Signs a 32-byte digest: the keystore, the keys process through wd_chan,
   or a test key. Returns 0 or a negative wd_err_t. */
typedef int (*wd_sign_fn) (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN]);

/* A decoded envelope. body points into the buffer it was decoded from (or
   into the caller's memory when building one): borrowed. */
typedef struct {
    char type[WD_ENVELOPE_TYPE_MAX + 1];
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t from[WD_PUBKEY_LEN];
    const uint8_t *body;
    size_t body_len;
    uint8_t sig[WD_SIG_LEN];
} wd_envelope_t;

/* True when type is 1..WD_ENVELOPE_TYPE_MAX bytes of [a-z0-9.-] starting
   with a letter. */
bool
wd_envelope_type_valid (const char *type);

/* The digest every signature in Warden covers (the signing rule). type must
   be valid (asserted). */
void
wd_envelope_digest (uint8_t digest[WD_DIGEST_LEN], const char *type,
                    const uint8_t chain[WD_CHAIN_ID_LEN], const uint8_t *body, size_t body_len);

/* Builds and signs an envelope around body (which must be canonical
   msgpack; checked, WD_ERR_* reason on failure) and returns its canonical
   bytes in *out (caller frees) and *out_len. from is the signer's public
   key; sign produces the signature. Returns WD_OK, the body's codec
   reason, or the signer's error. */
wd_err_t __attribute__ ((warn_unused_result))
wd_envelope_seal (const char *type, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const uint8_t from[WD_PUBKEY_LEN], const uint8_t *body, size_t body_len,
                  wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len);

/* Encodes env (whose signature is already made) as canonical bytes in *out
   (caller frees). The type must be valid (asserted). */
void
wd_envelope_encode (const wd_envelope_t *env, uint8_t **out, size_t *out_len);

/* Decodes an envelope without checking its signature: canonical encoding
   (wd_codec_check reasons), schema (missing/unknown key, wrong type or
   length), version (WD_ERR_BAD_VERSION), type syntax (WD_ERR_BAD_VALUE),
   body canonical (its codec reason). env->body borrows from buf. */
wd_err_t __attribute__ ((warn_unused_result))
wd_envelope_decode (const uint8_t *buf, size_t len, wd_envelope_t *env);

/* Checks a decoded envelope: its chain must be chain (WD_ERR_WRONG_CHAIN),
   its type expected_type unless that is NULL (WD_ERR_UNEXPECTED_TYPE), and
   its signature must verify under env->from (WD_ERR_BAD_SIGNATURE). */
wd_err_t __attribute__ ((warn_unused_result))
wd_envelope_verify (const wd_envelope_t *env, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const char *expected_type);

/* Decode then verify, the usual entry point for input from outside. */
wd_err_t __attribute__ ((warn_unused_result))
wd_envelope_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const char *expected_type, wd_envelope_t *env);

/* The envelope id: SHA-256 of its canonical bytes. */
void
wd_envelope_id (uint8_t id[32], const uint8_t *buf, size_t len);

#endif
