/*
 * capsule_mp: the small strict msgpack reader and envelope decoder of
 * capsule_verify.c, shared with the ledger verifier (capsule_ledger.c).
 * Internal to warden_capsule_verify: libsodium and libc only, like the rest
 * of what warden-verify links. A buffer is checked once with
 * capsule_msgpack_canonical(); the accessors then walk it checking only
 * types and lengths.
 */
#ifndef CAPSULE_MP_H
#define CAPSULE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of one value inside an already-validated buffer. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} capsule_mp_t;

/* The value of key in the map v; false when v is no map or lacks key. */
bool
capsule_mp_get (capsule_mp_t v, const char *key, capsule_mp_t *out);

/* The entry count of a map (map true) or an array (map false). */
bool
capsule_mp_count (capsule_mp_t v, bool map, uint64_t *n);

/* The bytes of a bin value. */
bool
capsule_mp_bin (capsule_mp_t v, const uint8_t **data, size_t *len);

/* An unsigned integer. */
bool
capsule_mp_uint (capsule_mp_t v, uint64_t *out);

/* Array walking: capsule_mp_enter positions *items after an array's header
   (with its count in *n); each capsule_mp_next takes one element. */
bool
capsule_mp_enter (capsule_mp_t v, uint64_t *n, capsule_mp_t *items);
bool
capsule_mp_next (capsule_mp_t *items, capsule_mp_t *one);

/* A decoded signed envelope {body, chain, from, sig, type, v: 1}; body
   borrows from the input. */
typedef struct {
    char type[33];
    uint8_t chain[32];
    uint8_t from[32];
    uint8_t sig[64];
    const uint8_t *body;
    size_t body_len;
} capsule_envelope_t;

/* Decodes a canonical envelope whose body is canonical msgpack too. */
bool
capsule_envelope_decode (const uint8_t *buf, size_t len, capsule_envelope_t *env);

/* True when env's signature verifies under pk by the signing rule. */
bool
capsule_envelope_sig_ok (const capsule_envelope_t *env, const uint8_t pk[32]);

#endif
