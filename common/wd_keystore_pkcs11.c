/*
 * wd_keystore_pkcs11: the `pkcs11` keystore backend. The identity key is an
 * Ed25519 key pair generated inside a PKCS#11 token (CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false), so the secret never reaches this process; we only
 * ask the token to sign the 32-byte digest of the signing rule with
 * CKM_EDDSA (no parameters: PureEd25519, which libsodium verifies).
 *
 * The module is loaded at run time with dlopen, so wardend has no link-time
 * dependency on any vendor library; the header is p11-kit's. The token is
 * found by its label (slot ids change when tokens are added), the key by its
 * CKA_LABEL on that token, and the user PIN is read from an owner-only file
 * or a systemd credential, never from the configuration. The PIN stays in
 * sodium_malloc memory so a session lost with the device (token removed,
 * module restarted) can be re-opened on the next request: the request that
 * saw the loss fails with WD_ERR_KEYSTORE_LOST, and the re-opened key must
 * have the public key the keystore was opened with.
 *
 * One process, one thread: the keys process. The module is initialised with
 * CKF_OS_LOCKING_OK and finalised on close unless it was already initialised
 * by someone else in this process.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wd_keystore.h"

#if defined(__SANITIZE_ADDRESS__)
#define WD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WD_SANITIZED 1
#endif
#endif

#define PIN_MAX         256
#define TOKEN_LABEL_MAX 32

/* DER OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519, RFC 8410): CKA_EC_PARAMS. */
static const uint8_t s_ed25519_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

typedef struct {
    void *dl;
    CK_FUNCTION_LIST_PTR p11;
    bool finalize; /* we initialised the module, so we finalise it */
    char *token;
    char *key_label;
    char *pin; /* sodium_malloc, NUL-terminated */
    size_t pin_len;
    CK_SESSION_HANDLE session;
    bool have_session;
    CK_OBJECT_HANDLE key;
    uint8_t public_key[WD_PUBKEY_LEN];
    bool hardware_slot; /* the token's slot says CKF_HW_SLOT */
} s_p11_t;

/* ---- PIN ------------------------------------------------------------------------------------ */

/* Reads the PIN into sodium_malloc memory: from pin_file, else from the
   systemd credential. The file must be a regular file of ours that nobody
   else may read or write (a credential may also be root's: systemd owns
   the credentials directory). One trailing newline is dropped. */
static wd_err_t
s_read_pin (const wd_keystore_params_t *params, char **pin, size_t *pin_len)
{
    char path[4096];
    bool credential = false;
    if (params->pin_file)
        snprintf (path, sizeof path, "%s", params->pin_file);
    else if (params->pin_credential) {
        const char *dir = getenv ("CREDENTIALS_DIRECTORY");
        const char *name = params->pin_credential;
        if (!dir || !*dir || !*name || strchr (name, '/') || strcmp (name, ".") == 0 ||
            strcmp (name, "..") == 0)
            return WD_ERR_PKCS11_PIN;
        int n = snprintf (path, sizeof path, "%s/%s", dir, name);
        if (n < 0 || (size_t)n >= sizeof path)
            return WD_ERR_OVERSIZE;
        credential = true;
    } else
        return WD_ERR_PKCS11_PIN;

    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WD_ERR_NOT_FOUND : errno == ELOOP ? WD_ERR_NOT_REGULAR : WD_ERR_IO;
    wd_err_t err = WD_OK;
    char *buf = NULL;
    struct stat st;
    if (fstat (fd, &st) != 0)
        err = WD_ERR_IO;
    else if (!S_ISREG (st.st_mode))
        err = WD_ERR_NOT_REGULAR;
    else if (st.st_uid != geteuid () && !(credential && st.st_uid == 0))
        err = WD_ERR_KEY_OWNER;
    else if (st.st_mode & 077)
        err = WD_ERR_KEY_PERMISSIONS;
    else if (st.st_size > PIN_MAX)
        err = WD_ERR_OVERSIZE;
    else if (!(buf = sodium_malloc (PIN_MAX + 2)))
        err = WD_ERR_NOMEM;
    size_t len = 0;
    while (err == WD_OK) {
        ssize_t n = read (fd, buf + len, PIN_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = WD_ERR_IO;
        else if (n == 0)
            break;
        else if ((len += (size_t)n) > PIN_MAX)
            err = WD_ERR_OVERSIZE;
    }
    close (fd);
    if (err == WD_OK) {
        if (len > 0 && buf[len - 1] == '\n')
            len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
        if (len == 0 || memchr (buf, '\0', len))
            err = WD_ERR_PKCS11_PIN;
        buf[len] = '\0';
    }
    if (err != WD_OK) {
        sodium_free (buf); /* wipes */
        return err;
    }
    *pin = buf;
    *pin_len = len;
    return WD_OK;
}

/* ---- module, token, session ------------------------------------------------------------- */

/* What a failing call means for the caller. */
static wd_err_t
s_reason (CK_RV rv)
{
    switch (rv) {
        case CKR_PIN_INCORRECT:
        case CKR_PIN_INVALID:
        case CKR_PIN_LEN_RANGE:
        case CKR_PIN_EXPIRED:
        case CKR_PIN_LOCKED:
            return WD_ERR_PKCS11_PIN;
        case CKR_DEVICE_REMOVED:
        case CKR_DEVICE_ERROR:
        case CKR_TOKEN_NOT_PRESENT:
        case CKR_TOKEN_NOT_RECOGNIZED:
        case CKR_SESSION_CLOSED:
        case CKR_SESSION_HANDLE_INVALID:
        case CKR_USER_NOT_LOGGED_IN:
        case CKR_KEY_HANDLE_INVALID:
        case CKR_OBJECT_HANDLE_INVALID:
            return WD_ERR_KEYSTORE_LOST;
        case CKR_HOST_MEMORY:
            return WD_ERR_NOMEM;
        default:
            return WD_ERR_PKCS11;
    }
}

static void
s_unload (s_p11_t *self)
{
    if (self->p11 && self->finalize)
        self->p11->C_Finalize (NULL);
    self->p11 = NULL;
    /* Under LeakSanitizer the module stays mapped, so that leaks inside it
       (SoftHSM2 2.6.1 leaks OpenSSL objects) are reported with its frames
       and can be suppressed by name (tests/lsan-softhsm2.supp). */
#ifndef WD_SANITIZED
    if (self->dl)
        dlclose (self->dl);
#endif
    self->dl = NULL;
}

static wd_err_t
s_load (s_p11_t *self, const char *module)
{
    if (!module || !*module)
        return WD_ERR_PKCS11_MODULE;
    self->dl = dlopen (module, RTLD_NOW | RTLD_LOCAL);
    if (!self->dl)
        return WD_ERR_PKCS11_MODULE;
    CK_C_GetFunctionList get_list;
    /* dlsym returns an object pointer; POSIX allows this conversion. */
    *(void **)&get_list = dlsym (self->dl, "C_GetFunctionList");
    if (!get_list || get_list (&self->p11) != CKR_OK || !self->p11) {
        self->p11 = NULL;
        s_unload (self);
        return WD_ERR_PKCS11_MODULE;
    }
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    CK_RV rv = self->p11->C_Initialize (&args);
    if (rv == CKR_OK)
        self->finalize = true;
    else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        self->p11 = NULL;
        s_unload (self);
        return WD_ERR_PKCS11_MODULE;
    }
    return WD_OK;
}

/* The slot whose token's label is self->token; notes whether the module
   calls it a hardware slot. */
static wd_err_t
s_find_slot (s_p11_t *self, CK_SLOT_ID *slot)
{
    CK_ULONG count = 0;
    CK_RV rv = self->p11->C_GetSlotList (CK_TRUE, NULL, &count);
    if (rv != CKR_OK)
        return s_reason (rv);
    if (count == 0)
        return WD_ERR_PKCS11_TOKEN;
    CK_SLOT_ID *slots = calloc (count, sizeof *slots);
    if (!slots)
        return WD_ERR_NOMEM;
    wd_err_t err = WD_ERR_PKCS11_TOKEN;
    rv = self->p11->C_GetSlotList (CK_TRUE, slots, &count);
    if (rv != CKR_OK)
        err = s_reason (rv);
    size_t want = strlen (self->token);
    for (CK_ULONG i = 0; rv == CKR_OK && i < count && err == WD_ERR_PKCS11_TOKEN; i++) {
        CK_TOKEN_INFO info;
        if (self->p11->C_GetTokenInfo (slots[i], &info) != CKR_OK)
            continue;
        /* Labels are blank-padded to 32 bytes, not NUL-terminated. */
        size_t len = sizeof info.label;
        while (len > 0 && info.label[len - 1] == ' ')
            len--;
        if (len == want && memcmp (info.label, self->token, want) == 0) {
            *slot = slots[i];
            err = WD_OK;
            CK_SLOT_INFO slot_info;
            self->hardware_slot = self->p11->C_GetSlotInfo (slots[i], &slot_info) == CKR_OK &&
                                  (slot_info.flags & CKF_HW_SLOT) != 0;
        }
    }
    free (slots);
    return err;
}

/* The one object of class cls with our label and key type Ed25519. */
static wd_err_t
s_find_object (s_p11_t *self, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *object)
{
    CK_KEY_TYPE type = CKK_EC_EDWARDS;
    CK_ATTRIBUTE query[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &type, sizeof type },
        { CKA_LABEL, self->key_label, strlen (self->key_label) },
    };
    CK_RV rv = self->p11->C_FindObjectsInit (self->session, query, 3);
    if (rv != CKR_OK)
        return s_reason (rv);
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    rv = self->p11->C_FindObjects (self->session, found, 2, &count);
    self->p11->C_FindObjectsFinal (self->session);
    if (rv != CKR_OK)
        return s_reason (rv);
    if (count != 1)
        return WD_ERR_PKCS11_KEY;
    *object = found[0];
    return WD_OK;
}

/* The public key from CKA_EC_POINT: a DER OCTET STRING (04 20 || key), as
   SoftHSM2 and PKCS#11 3.0 write it, or the bare 32 bytes some tokens
   return. */
static wd_err_t
s_read_public_key (s_p11_t *self, CK_OBJECT_HANDLE pub, uint8_t public_key[WD_PUBKEY_LEN])
{
    uint8_t point[64];
    CK_ATTRIBUTE attr = { CKA_EC_POINT, point, sizeof point };
    CK_RV rv = self->p11->C_GetAttributeValue (self->session, pub, &attr, 1);
    if (rv != CKR_OK)
        return rv == CKR_BUFFER_TOO_SMALL ? WD_ERR_PKCS11_KEY : s_reason (rv);
    if (attr.ulValueLen == WD_PUBKEY_LEN + 2 && point[0] == 0x04 && point[1] == WD_PUBKEY_LEN)
        memcpy (public_key, point + 2, WD_PUBKEY_LEN);
    else if (attr.ulValueLen == WD_PUBKEY_LEN)
        memcpy (public_key, point, WD_PUBKEY_LEN);
    else
        return WD_ERR_PKCS11_KEY;
    return WD_OK;
}

/* Refuses a private key the token would let out: that is not "pkcs11"
   protection, whatever the certificate says. */
static wd_err_t
s_check_private (s_p11_t *self, CK_OBJECT_HANDLE key)
{
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, sign = CK_FALSE;
    CK_ATTRIBUTE attrs[] = {
        { CKA_SENSITIVE, &sensitive, sizeof sensitive },
        { CKA_EXTRACTABLE, &extractable, sizeof extractable },
        { CKA_SIGN, &sign, sizeof sign },
    };
    CK_RV rv = self->p11->C_GetAttributeValue (self->session, key, attrs, 3);
    if (rv != CKR_OK)
        return s_reason (rv);
    if (!sensitive || extractable)
        return WD_ERR_PKCS11_EXPORTABLE;
    return sign ? WD_OK : WD_ERR_PKCS11_KEY;
}

static void
s_close_session (s_p11_t *self)
{
    if (self->have_session)
        self->p11->C_CloseSession (self->session); /* may fail: the device is gone */
    self->have_session = false;
}

/* Opens a session on the token, logs in and finds the key pair; fills
   public_key. rw for key generation. */
static wd_err_t
s_open_session (s_p11_t *self, bool rw)
{
    CK_SLOT_ID slot = 0;
    wd_err_t err = s_find_slot (self, &slot);
    if (err != WD_OK)
        return err == WD_ERR_KEYSTORE_LOST ? WD_ERR_PKCS11_TOKEN : err;
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = self->p11->C_OpenSession (slot, flags, NULL, NULL, &self->session);
    if (rv != CKR_OK)
        return rv == CKR_TOKEN_NOT_PRESENT ? WD_ERR_PKCS11_TOKEN : s_reason (rv);
    self->have_session = true;
    rv = self->p11->C_Login (self->session, CKU_USER, (CK_UTF8CHAR_PTR)self->pin, self->pin_len);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        s_close_session (self);
        return s_reason (rv) == WD_ERR_PKCS11_PIN ? WD_ERR_PKCS11_PIN : WD_ERR_PKCS11;
    }
    return WD_OK;
}

/* Finds the key pair of an open session and reads its public key. */
static wd_err_t
s_find_key (s_p11_t *self, uint8_t public_key[WD_PUBKEY_LEN])
{
    CK_OBJECT_HANDLE pub;
    wd_err_t err = s_find_object (self, CKO_PRIVATE_KEY, &self->key);
    if (err == WD_OK)
        err = s_check_private (self, self->key);
    if (err == WD_OK)
        err = s_find_object (self, CKO_PUBLIC_KEY, &pub);
    if (err == WD_OK)
        err = s_read_public_key (self, pub, public_key);
    return err;
}

static void
s_free (s_p11_t *self)
{
    if (!self)
        return;
    if (self->p11)
        s_close_session (self);
    s_unload (self);
    sodium_free (self->pin);
    free (self->token);
    free (self->key_label);
    free (self);
}

/* Loads the module and reads the PIN; no session yet. */
static wd_err_t
s_new (const wd_keystore_params_t *params, s_p11_t **self_p)
{
    *self_p = NULL;
    if (!params->module)
        return WD_ERR_PKCS11_MODULE;
    if (!params->token || !*params->token || strlen (params->token) > TOKEN_LABEL_MAX)
        return WD_ERR_PKCS11_TOKEN;
    if (!params->key_label || !*params->key_label)
        return WD_ERR_PKCS11_KEY;
    s_p11_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->token = strdup (params->token);
    self->key_label = strdup (params->key_label);
    wd_err_t err = self->token && self->key_label ? WD_OK : WD_ERR_NOMEM;
    if (err == WD_OK)
        err = s_load (self, params->module);
    if (err == WD_OK)
        err = s_read_pin (params, &self->pin, &self->pin_len);
    if (err != WD_OK) {
        s_free (self);
        return err;
    }
    *self_p = self;
    return WD_OK;
}

/* ---- backend operations ----------------------------------------------------------------- */

static wd_err_t
s_generate (const wd_keystore_params_t *params)
{
    s_p11_t *self;
    wd_err_t err = s_new (params, &self);
    if (err != WD_OK)
        return err;
    err = s_open_session (self, true);
    if (err != WD_OK)
        goto out;
    CK_OBJECT_HANDLE existing;
    if (s_find_object (self, CKO_PRIVATE_KEY, &existing) != WD_ERR_PKCS11_KEY ||
        s_find_object (self, CKO_PUBLIC_KEY, &existing) != WD_ERR_PKCS11_KEY) {
        err = WD_ERR_EXISTS;
        goto out;
    }
    /* A random CKA_ID pairs the two halves for tools that list by id. */
    uint8_t id[16];
    randombytes_buf (id, sizeof id);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG label_len = strlen (self->key_label);
    CK_ATTRIBUTE pub_tmpl[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_ENCRYPT, &no, sizeof no },
        { CKA_WRAP, &no, sizeof no },
        { CKA_EC_PARAMS, (void *)s_ed25519_oid, sizeof s_ed25519_oid },
        { CKA_LABEL, self->key_label, label_len },
        { CKA_ID, id, sizeof id },
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, &yes, sizeof yes },
        { CKA_DECRYPT, &no, sizeof no },
        { CKA_UNWRAP, &no, sizeof no },
        { CKA_DERIVE, &no, sizeof no },
        { CKA_LABEL, self->key_label, label_len },
        { CKA_ID, id, sizeof id },
    };
    CK_MECHANISM mech = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    CK_RV rv = self->p11->C_GenerateKeyPair (self->session, &mech, pub_tmpl,
                                             sizeof pub_tmpl / sizeof pub_tmpl[0], priv_tmpl,
                                             sizeof priv_tmpl / sizeof priv_tmpl[0], &pub, &priv);
    err = rv == CKR_OK ? WD_OK : s_reason (rv);
out:
    s_free (self);
    return err;
}

static wd_err_t
s_open (const wd_keystore_params_t *params, void **state, uint8_t public_key[WD_PUBKEY_LEN])
{
    *state = NULL;
    s_p11_t *self;
    wd_err_t err = s_new (params, &self);
    if (err != WD_OK)
        return err;
    err = s_open_session (self, false);
    if (err == WD_OK)
        err = s_find_key (self, self->public_key);
    if (err == WD_ERR_KEYSTORE_LOST)
        err = WD_ERR_PKCS11; /* at start there was nothing to lose */
    if (err != WD_OK) {
        s_free (self);
        return err;
    }
    memcpy (public_key, self->public_key, WD_PUBKEY_LEN);
    *state = self;
    return WD_OK;
}

/* Re-opens a lost session; the key found must be the one we started with. */
static wd_err_t
s_reopen (s_p11_t *self)
{
    uint8_t public_key[WD_PUBKEY_LEN];
    wd_err_t err = s_open_session (self, false);
    if (err == WD_OK)
        err = s_find_key (self, public_key);
    if (err == WD_OK && sodium_memcmp (public_key, self->public_key, WD_PUBKEY_LEN) != 0)
        err = WD_ERR_KEY_MISMATCH;
    if (err != WD_OK)
        s_close_session (self);
    return err == WD_ERR_KEYSTORE_LOST ? WD_ERR_PKCS11_TOKEN : err;
}

static wd_err_t
s_sign (void *state, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    s_p11_t *self = state;
    if (!self->have_session) {
        wd_err_t err = s_reopen (self);
        if (err != WD_OK)
            return err;
    }
    CK_MECHANISM mech = { CKM_EDDSA, NULL, 0 };
    CK_RV rv = self->p11->C_SignInit (self->session, &mech, self->key);
    CK_ULONG len = WD_SIG_LEN;
    if (rv == CKR_OK)
        rv = self->p11->C_Sign (self->session, (CK_BYTE_PTR)digest, WD_DIGEST_LEN, sig, &len);
    if (rv == CKR_OK && len != WD_SIG_LEN)
        return WD_ERR_PKCS11;
    if (rv == CKR_OK)
        return WD_OK;
    wd_err_t err = s_reason (rv);
    if (err == WD_ERR_KEYSTORE_LOST)
        s_close_session (self); /* the next request opens a new one */
    return err;
}

static const char *
s_tamper (void *state)
{
    (void)state;
    return "not-supported";
}

/* "pkcs11" only for a token in a slot its module calls hardware
   (CKF_HW_SLOT); a software token such as SoftHSM2 keeps its keys in files,
   so its certificate says "pkcs11-software" and reputation counts it as
   software. */
static const char *
s_key_protection (void *state)
{
    const s_p11_t *self = state;
    return self->hardware_slot ? "pkcs11" : "pkcs11-software";
}

static void
s_close (void **state)
{
    s_free (*state);
    *state = NULL;
}

const wd_keystore_backend_t wd_keystore_pkcs11_backend = {
    .name = "pkcs11",
    .key_protection = s_key_protection,
    .generate = s_generate,
    .open = s_open,
    .sign = s_sign,
    .tamper = s_tamper,
    .close = s_close,
};
