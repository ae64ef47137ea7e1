/*
 * capsule_format: the sealed capsule record (DESIGN.md §9, docs/PROTOCOL.md
 * "Capsules") — parsing and verifying it without decrypting, content keys,
 * and the per-recipient key wraps.
 *
 * A capsule is one canonical msgpack map
 *   {chain, ciphertext, enc, kind, owner, policy, sig, v, wraps}
 * (keys in this byte order). ciphertext is a crypto_secretstream
 * XChaCha20-Poly1305 stream of 64 KiB plaintext chunks under a random
 * 32-byte content key; each wrap is crypto_box_seal(content key) to one
 * recipient's X25519 key; sig is the signing rule (wd_envelope.h) with type
 * "capsule" over the same map without its sig entry; the id is SHA-256 of
 * the capsule's bytes. Because "ciphertext" sorts before the small fields,
 * a capsule is written in one streaming pass and read back with the
 * ciphertext skipped (capsule_seal.h streams both ways).
 *
 * Parsing checks everything except the payload's encryption: canonical
 * bytes, schema, version, kind, chain, sizes, the policy's form and the
 * owner's signature, with a named reason for each rejection. Opening needs a
 * content key, which a recipient gets with capsule_unwrap().
 */
#ifndef CAPSULE_FORMAT_H
#define CAPSULE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_policy.h"
#include "wd_envelope.h"

#define CAPSULE_VERSION           1
#define CAPSULE_SIG_TYPE          "capsule" /* signing rule type */
#define CAPSULE_ENC_ALG           "xchacha20poly1305-secretstream"
#define CAPSULE_CHUNK             65536 /* plaintext bytes per chunk (all but the last) */
#define CAPSULE_CHUNK_ABYTES      17    /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define CAPSULE_STREAM_HEADER_LEN 24    /* ..._HEADERBYTES */
#define CAPSULE_KEY_LEN           32    /* content key */
#define CAPSULE_CURVE_LEN         32    /* X25519 public or secret key */
#define CAPSULE_WRAP_LEN          80    /* crypto_box_SEALBYTES + CAPSULE_KEY_LEN */
#define CAPSULE_ID_LEN            32
#define CAPSULE_WRAPS_MAX         64
/* Plaintext size limit of the format, 3.9375 GiB: the ciphertext must fit
   msgpack's bin 32 (< 4 GiB). Callers pass their own, usually smaller,
   limit on the whole capsule to capsule_parse*. */
#define CAPSULE_PLAIN_MAX UINT64_C (0xFC000000)
/* Bytes of everything but the ciphertext: the map header and every other
   field. Larger → CAPSULE_ERR_CAPSULE_OVERSIZE. */
#define CAPSULE_META_MAX (32 * 1024)

typedef enum {
    CAPSULE_KIND_DATA = 0,
    CAPSULE_KIND_CODE,
    CAPSULE_KIND_ENV,
    CAPSULE_KIND_RESULT,
} capsule_kind_t;

/* "data", "code", "env", "result" and back; parse returns false for any
   other string. */
const char *
capsule_kind_name (capsule_kind_t kind);
bool __attribute__ ((warn_unused_result))
capsule_kind_parse (const char *str, size_t len, capsule_kind_t *kind);

/* ---- content keys ------------------------------------------------------ */

/* A 32-byte content key in sodium_malloc memory (guard pages, locked,
   wiped and freed by the destructor). Opaque. */
typedef struct capsule_key capsule_key_t;

/* A fresh random content key, or NULL when secure memory is exhausted. */
capsule_key_t *
capsule_key_new (void);

/* A content key holding a copy of bytes (tests, vectors). NULL on ENOMEM. */
capsule_key_t *
capsule_key_from_bytes (const uint8_t bytes[CAPSULE_KEY_LEN]);

/* Wipes and frees the key; sets *self_p to NULL. Safe on NULL. */
void
capsule_key_destroy (capsule_key_t **self_p);

/* The key bytes. Borrowed: valid until the key is destroyed. Never log. */
const uint8_t *
capsule_key_bytes (const capsule_key_t *self);

/* ---- wraps ------------------------------------------------------------- */

typedef struct {
    uint8_t to[CAPSULE_CURVE_LEN]; /* recipient's X25519 public key */
    uint8_t key[CAPSULE_WRAP_LEN]; /* crypto_box_seal(content key, to) */
} capsule_wrap_t;

/* Wraps key to the X25519 public key to: wrap = crypto_box_seal(key, to).
   This is also the re-wrap a holder node sends on key release ("capsule-
   release" wrap field). Returns 0, or CAPSULE_ERR_WRAP_KEY when to is not
   a usable X25519 key (small order). */
int __attribute__ ((warn_unused_result))
capsule_wrap_seal (const capsule_key_t *key, const uint8_t to[CAPSULE_CURVE_LEN],
                   uint8_t wrap[CAPSULE_WRAP_LEN]);

/* Opens one wrap with the recipient's X25519 key pair into a new content
   key (*key_p, caller destroys). Returns 0, CAPSULE_ERR_UNWRAP (the wrap is
   not for this key pair or was altered), or WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
capsule_wrap_open (const uint8_t wrap[CAPSULE_WRAP_LEN], const uint8_t curve_pk[CAPSULE_CURVE_LEN],
                   const uint8_t curve_sk[CAPSULE_CURVE_LEN], capsule_key_t **key_p);

/* ---- the parsed capsule -------------------------------------------------- */

/* Everything a capsule says except its payload. A plain value (about 15 KiB:
   prefer heap or static storage in deep call chains). */
typedef struct {
    uint8_t id[CAPSULE_ID_LEN]; /* SHA-256 of the capsule bytes */
    uint8_t chain[WD_CHAIN_ID_LEN];
    capsule_kind_t kind;
    uint8_t owner[WD_PUBKEY_LEN]; /* Ed25519 key that signed it */
    uint8_t sig[WD_SIG_LEN];
    capsule_policy_t policy;
    size_t n_wraps;
    capsule_wrap_t wraps[CAPSULE_WRAPS_MAX]; /* ascending by to, distinct */
    uint8_t stream_header[CAPSULE_STREAM_HEADER_LEN];
    uint64_t plain_len; /* plaintext bytes (enc.size) */
    uint64_t ct_offset; /* where the ciphertext bytes start in the capsule */
    uint64_t ct_len;    /* ciphertext bytes = capsule_ciphertext_len (plain_len) */
    uint64_t total_len; /* capsule bytes */
} capsule_header_t;

/* Ciphertext bytes for a plaintext of plain_len bytes: one chunk per
   started CAPSULE_CHUNK (at least one, so an empty plaintext is one empty
   final chunk), CAPSULE_CHUNK_ABYTES each. plain_len <= CAPSULE_PLAIN_MAX
   (asserted). */
uint64_t
capsule_ciphertext_len (uint64_t plain_len);

/* Parses and verifies a capsule held in memory: canonical msgpack and schema
   (CAPSULE_ERR_CAPSULE_NONCANONICAL), buffer shorter than the capsule
   (CAPSULE_ERR_CAPSULE_TRUNCATED), v (CAPSULE_ERR_CAPSULE_VERSION), kind
   (CAPSULE_ERR_CAPSULE_KIND), enc alg or chunk size
   (CAPSULE_ERR_CAPSULE_ENC), ciphertext length versus enc.size
   (CAPSULE_ERR_CAPSULE_LENGTH), len or the capsule above max_len or its
   other fields above CAPSULE_META_MAX (CAPSULE_ERR_CAPSULE_OVERSIZE), the
   policy (CAPSULE_ERR_POLICY), wraps empty, too many, unsorted or duplicate
   (CAPSULE_ERR_CAPSULE_WRAPS), chain other than chain
   (CAPSULE_ERR_CAPSULE_CHAIN), signature (CAPSULE_ERR_CAPSULE_SIGNATURE).
   max_len 0 means no limit beyond the format's. Bytes after the capsule are
   an error (CAPSULE_ERR_CAPSULE_NONCANONICAL). Fills *h on success. */
int __attribute__ ((warn_unused_result))
capsule_parse (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
               uint64_t max_len, capsule_header_t *h);

/* The same for a capsule in a regular file (read with pread from offset 0,
   the file position is left alone; one pass over the whole file, hashing the
   ciphertext without keeping it: constant memory). The file must hold
   exactly one capsule. Not a regular file → CAPSULE_ERR_NOT_FILE; read
   errors → WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
capsule_parse_fd (int fd, const uint8_t chain[WD_CHAIN_ID_LEN], uint64_t max_len,
                  capsule_header_t *h);

/* Finds the wrap addressed to curve_pk and opens it (capsule_wrap_open).
   Returns 0 with *key_p set, CAPSULE_ERR_NOT_RECIPIENT when no wrap is
   addressed to curve_pk, CAPSULE_ERR_UNWRAP, or WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
capsule_unwrap (const capsule_header_t *h, const uint8_t curve_pk[CAPSULE_CURVE_LEN],
                const uint8_t curve_sk[CAPSULE_CURVE_LEN], capsule_key_t **key_p);

/* True when curve_pk is one of the capsule's recipients. */
bool
capsule_is_recipient (const capsule_header_t *h, const uint8_t curve_pk[CAPSULE_CURVE_LEN]);

#endif
