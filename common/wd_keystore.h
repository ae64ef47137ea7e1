/*
 * wd_keystore: where a node's identity key lives, behind one interface
 * (DESIGN.md §5).
 *
 * A backend holds the Ed25519 identity key and signs 32-byte digests (the
 * signing rule in wd_envelope.h); the secret never leaves it. The `file`
 * backend keeps the key in a 0600 key file and in sodium_malloc memory;
 * hardware backends (pkcs11, zymbit) plug into the same table. Naming a
 * backend that is not built in, or one that cannot open its key, is an error:
 * there is never a silent fallback to another backend.
 */
#ifndef WD_KEYSTORE_H
#define WD_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_envelope.h"
#include "wd_err.h"

/* Where a backend finds its key. Fields a backend does not use are NULL. */
typedef struct {
    const char *path;      /* file: the key file */
    const char *module;    /* pkcs11: the module's shared object, loaded with dlopen */
    const char *token;     /* pkcs11: token label (at most 32 bytes) */
    const char *key_label; /* pkcs11: CKA_LABEL of the key pair on that token */
    const char *pin_file;  /* pkcs11: file holding the user PIN (owner only, like key files) */
    const char
        *pin_credential; /* pkcs11: systemd credential name ($CREDENTIALS_DIRECTORY/<name>) */
    int slot;            /* zymbit: key slot holding the Ed25519 key */
    /* When not NULL, open fails with WD_ERR_KEY_MISMATCH unless the backend's
       key is this one (the node certificate's), so a replaced or lost key in
       a device is caught at start. */
    const uint8_t *expected_public_key;
} wd_keystore_params_t;

typedef struct {
    const char *backend;        /* "file", "pkcs11", "zymbit" */
    const char *key_protection; /* recorded in the node certificate: "software", "pkcs11",
                                   "pkcs11-software", "zymbit" */
    const char *tamper;         /* "not-supported", "clear", or "tampered" */
    bool healthy;               /* the last operation succeeded */
    uint64_t signatures;        /* signatures made since open */
} wd_keystore_status_t;

/* A backend's operations; the state pointer is the backend's own. */
typedef struct {
    const char *name;
    /* What protects the open key, for the node certificate: a backend that
       can only tell once it has found its device (pkcs11: a hardware slot
       or a software token) answers from its state. */
    const char *(*key_protection) (void *state);
    /* Creates a new key where params point; must not replace one. */
    wd_err_t (*generate) (const wd_keystore_params_t *params);
    wd_err_t (*open) (const wd_keystore_params_t *params, void **state,
                      uint8_t public_key[WD_PUBKEY_LEN]);
    wd_err_t (*sign) (void *state, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN]);
    const char *(*tamper) (void *state);
    void (*close) (void **state);
} wd_keystore_backend_t;

extern const wd_keystore_backend_t wd_keystore_file_backend;
extern const wd_keystore_backend_t wd_keystore_pkcs11_backend;
#ifdef WARDEN_ZYMBIT
extern const wd_keystore_backend_t wd_keystore_zymbit_backend;
#endif

/* The built-in backends' names, comma separated ("file, pkcs11"), for
   messages. Static storage. */
const char *
wd_keystore_backend_names (void);

/* Writes where the backend finds its key into out (size bytes), for error
   messages: the key file, or the module, token and key label. Never the
   PIN. */
void
wd_keystore_describe (const char *backend, const wd_keystore_params_t *params, char *out,
                      size_t size);

typedef struct wd_keystore wd_keystore_t;

/* The backend called name, or NULL when it is not built in. */
const wd_keystore_backend_t *
wd_keystore_backend (const char *name);

/* Creates a new identity key with the named backend. WD_ERR_NO_BACKEND,
   WD_ERR_EXISTS, or the backend's reason (pkcs11: a key pair with that label
   exists already -> WD_ERR_EXISTS). */
wd_err_t __attribute__ ((warn_unused_result))
wd_keystore_generate (const char *backend, const wd_keystore_params_t *params);

/* Opens the identity key of the named backend. WD_ERR_NO_BACKEND or the
   backend's reason (for file: every wd_keyfile_read reason; for pkcs11:
   WD_ERR_PKCS11_MODULE, _TOKEN, _PIN, _KEY, _EXPORTABLE, WD_ERR_PKCS11, or a
   PIN file reason), or WD_ERR_KEY_MISMATCH (params->expected_public_key). */
wd_err_t __attribute__ ((warn_unused_result))
wd_keystore_open (const char *backend, const wd_keystore_params_t *params, wd_keystore_t **self_p);

/* Closes the backend, wiping any key material; sets *self_p to NULL. Safe on
   NULL. */
void
wd_keystore_destroy (wd_keystore_t **self_p);

/* The identity public key. Borrowed: valid while the keystore is open. */
const uint8_t *
wd_keystore_public_key (const wd_keystore_t *self);

/* Signs a 32-byte digest. Returns 0 or a negative wd_err_t. The signature
   is checked against the public key before it is returned, so a faulty
   backend cannot hand out a bad signature. */
int
wd_keystore_sign (wd_keystore_t *self, const uint8_t digest[WD_DIGEST_LEN],
                  uint8_t sig[WD_SIG_LEN]);

/* wd_keystore_sign with a void * context, for wd_envelope_seal. */
int
wd_keystore_sign_fn (void *keystore, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN]);

void
wd_keystore_status (const wd_keystore_t *self, wd_keystore_status_t *status);

#endif
