/*
 * wd_cert: the node certificate (DESIGN.md §5; docs/PROTOCOL.md "Node
 * certificate").
 *
 * A certificate binds a node's three public keys — Ed25519 identity
 * (sign_pk), ECVRF (vrf_pk, a separate key: RFC 9381 must not reuse the
 * signing key) and X25519 (curve_pk, ZeroMQ CURVE) — to its name and key
 * protection. It is a signed envelope of type "node-cert" whose signer
 * (`from`) must be its own sign_pk. Certificates exist before any chain
 * (genesis lists them), so their envelope's chain is 32 zero bytes; the
 * domain tag keeps the signature from being replayed as anything else.
 */
#ifndef WD_CERT_H
#define WD_CERT_H

#include <stdint.h>

#include "wd_envelope.h"
#include "wd_err.h"

#define WD_CERT_TYPE           "node-cert"
#define WD_CERT_NAME_MAX       64 /* [A-Za-z0-9._-] */
#define WD_CERT_PROTECTION_MAX 16 /* [a-z0-9-] */
#define WD_CERT_MAX_BYTES      512

typedef struct {
    char name[WD_CERT_NAME_MAX + 1];
    char key_protection[WD_CERT_PROTECTION_MAX + 1];
    uint64_t created; /* Unix time, seconds */
    uint8_t sign_pk[WD_PUBKEY_LEN];
    uint8_t vrf_pk[WD_PUBKEY_LEN];
    uint8_t curve_pk[WD_PUBKEY_LEN];
} wd_cert_t;

/* The chain id used for certificates: 32 zero bytes. */
extern const uint8_t wd_cert_no_chain[WD_CHAIN_ID_LEN];

/* True when name is 1..WD_CERT_NAME_MAX bytes of [A-Za-z0-9._-]. */
bool
wd_cert_name_valid (const char *name);

/* True when key_protection says the identity key lives in software:
   "software" (a key file) or a name ending in "-software" (a software
   PKCS#11 token: "pkcs11-software"). Reputation gives such a node the
   software tier. */
bool
wd_cert_protection_is_software (const char *key_protection);

/* Signs cert with sign (which must sign for cert->sign_pk) and returns the
   certificate's canonical bytes in *out (caller frees). WD_ERR_BAD_VALUE for
   an invalid name or key protection. */
wd_err_t __attribute__ ((warn_unused_result))
wd_cert_seal (const wd_cert_t *cert, wd_sign_fn sign, void *sign_ctx, uint8_t **out,
              size_t *out_len);

/* Decodes and verifies a certificate: every wd_envelope_open reason, body
   schema reasons, WD_ERR_BAD_VERSION, WD_ERR_BAD_VALUE (name or key
   protection syntax, created of zero), WD_ERR_NOT_SELF_SIGNED. */
wd_err_t __attribute__ ((warn_unused_result))
wd_cert_open (const uint8_t *buf, size_t len, wd_cert_t *cert);

#endif
