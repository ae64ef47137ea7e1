/*
 * wd_err: the result codes of the common library.
 *
 * Every parser, verifier and command in common/ returns a wd_err_t: WD_OK
 * (zero) or a negative code that names the reason, so a rejection can always
 * say why (wd_strerror) and tests can assert the exact reason. Codes are
 * stable: wd_err_name() gives the identifier, for logs and for scripts.
 */
#ifndef WD_ERR_H
#define WD_ERR_H

#include <stddef.h>

/* X-macro table: identifier, message. Append only; never renumber. */
#define WD_ERR_TABLE(X)                                                                            \
    X (WD_ERR_TRUNCATED, "input ends inside a value")                                              \
    X (WD_ERR_TRAILING, "bytes follow the top-level value")                                        \
    X (WD_ERR_FLOAT, "floating-point values are not allowed")                                      \
    X (WD_ERR_EXT, "msgpack extension types are not allowed")                                      \
    X (WD_ERR_BAD_TYPE, "byte 0xc1 is not a msgpack type")                                         \
    X (WD_ERR_INT_NONCANONICAL, "integer is not in its shortest encoding")                         \
    X (WD_ERR_LEN_NONCANONICAL, "length header is not in its shortest form")                       \
    X (WD_ERR_KEY_TYPE, "map key is not a string")                                                 \
    X (WD_ERR_KEYS_UNSORTED, "map keys are not in ascending byte order")                           \
    X (WD_ERR_KEY_DUPLICATE, "map key appears twice")                                              \
    X (WD_ERR_TOO_DEEP, "values are nested too deeply")                                            \
    X (WD_ERR_OVERSIZE, "field is larger than its limit")                                          \
    X (WD_ERR_BAD_UTF8, "string is not valid UTF-8")                                               \
    X (WD_ERR_WRONG_TYPE, "value has the wrong msgpack type")                                      \
    X (WD_ERR_MISSING_KEY, "a required map key is missing")                                        \
    X (WD_ERR_UNKNOWN_KEY, "map holds a key this version does not know")                           \
    X (WD_ERR_BAD_LENGTH, "byte string has the wrong length")                                      \
    X (WD_ERR_OUT_OF_RANGE, "integer is out of range")                                             \
    X (WD_ERR_BAD_VERSION, "unsupported format version")                                           \
    X (WD_ERR_BAD_VALUE, "value is not allowed here")                                              \
    X (WD_ERR_BAD_SIGNATURE, "signature does not verify")                                          \
    X (WD_ERR_WRONG_CHAIN, "record belongs to another chain")                                      \
    X (WD_ERR_UNEXPECTED_TYPE, "record has another type than expected")                            \
    X (WD_ERR_NOT_SELF_SIGNED, "certificate is not signed by its own identity key")                \
    X (WD_ERR_KEY_PERMISSIONS, "key file is readable or writable by group or others")              \
    X (WD_ERR_KEY_OWNER, "key file is owned by another user")                                      \
    X (WD_ERR_NOT_REGULAR, "path is not a regular file")                                           \
    X (WD_ERR_NO_BACKEND, "no such keystore backend")                                              \
    X (WD_ERR_NOT_FOUND, "no such file")                                                           \
    X (WD_ERR_EXISTS, "file already exists")                                                       \
    X (WD_ERR_IO, "input/output error")                                                            \
    X (WD_ERR_NOMEM, "out of memory")                                                              \
    X (WD_ERR_CLOSED, "the other end closed the channel")                                          \
    X (WD_ERR_FRAME, "malformed channel frame")                                                    \
    X (WD_ERR_FRAME_SIZE, "channel frame is larger than the limit")                                \
    X (WD_ERR_FDS, "channel frame carries too many file descriptors")                              \
    X (WD_ERR_CONFIG_SYNTAX, "configuration file is not valid ZPL")                                \
    X (WD_ERR_CONFIG_KEY, "unknown configuration key")                                             \
    X (WD_ERR_CONFIG_VALUE, "configuration value is not of the expected form")                     \
    X (WD_ERR_DB, "SQLite error")                                                                  \
    X (WD_ERR_DB_VERSION, "database schema is newer than this program")                            \
    X (WD_ERR_TIMEOUT, "timed out")                                                                \
    X (WD_ERR_UNAVAILABLE, "service is not available")                                             \
    X (WD_ERR_KEY_MISMATCH, "key does not match the certificate")                                  \
    X (WD_ERR_AGAIN, "no frame is waiting")                                                        \
    X (WD_ERR_VRF_PROOF_LENGTH, "VRF proof is not 80 bytes long")                                  \
    X (WD_ERR_VRF_BAD_KEY, "VRF public key is not a canonical curve point")                        \
    X (WD_ERR_VRF_SMALL_ORDER_KEY, "VRF public key is a point of small order")                     \
    X (WD_ERR_VRF_BAD_GAMMA, "VRF proof's Gamma is not a canonical curve point")                   \
    X (WD_ERR_VRF_SCALAR_RANGE, "VRF proof's s is not below the group order")                      \
    X (WD_ERR_VRF_NO_POINT, "VRF input does not hash to a curve point")                            \
    X (WD_ERR_VRF_INVALID, "VRF proof does not verify")                                            \
    X (WD_ERR_GENESIS_EMPTY, "genesis lists no founding node")                                     \
    X (WD_ERR_GENESIS_ORDER, "genesis nodes or signers are not in ascending order")                \
    X (WD_ERR_GENESIS_DUPLICATE, "genesis lists a node name or key twice")                         \
    X (WD_ERR_GENESIS_LIMIT, "genesis lists too many nodes or signers")                            \
    X (WD_ERR_GENESIS_PARAM, "no such chain parameter")                                            \
    X (WD_ERR_PKCS11_MODULE, "PKCS#11 module cannot be loaded")                                    \
    X (WD_ERR_PKCS11_TOKEN, "no PKCS#11 token with that label")                                    \
    X (WD_ERR_PKCS11_PIN, "PKCS#11 PIN is incorrect, locked or missing")                           \
    X (WD_ERR_PKCS11_KEY, "no single Ed25519 key pair with that label on the token")               \
    X (WD_ERR_PKCS11_EXPORTABLE, "the token key is extractable or not sensitive")                  \
    X (WD_ERR_PKCS11, "PKCS#11 call failed")                                                       \
    X (WD_ERR_KEYSTORE_LOST, "key store session lost (device removed?); reopened on next request") \
    X (WD_ERR_ZYMBIT, "Zymbit call failed")                                                        \
    X (WD_ERR_SIGN_CONFLICT,                                                                       \
       "refused: another message was signed for this height, round and step")                      \
    X (WD_ERR_SIGN_REGRESS, "refused: an earlier height, round or step than the last one signed")  \
    X (WD_ERR_SIGN_STATE, "the double-sign guard's state file is damaged")

typedef enum {
    WD_OK = 0,
#define WD_ERR_ENUM(name, msg) name,
    WD_ERR_FIRST_ = -1000,
    WD_ERR_TABLE (WD_ERR_ENUM)
#undef WD_ERR_ENUM
        WD_ERR_LAST_
} wd_err_t;

/* A short sentence for the code ("map key appears twice"). Never NULL;
   unknown codes give "unknown error". Static storage. */
const char *
wd_strerror (int code);

/* Writes a one-line reason into why (why_len bytes; nothing when why is
   NULL or why_len is 0), for functions that return a code plus a reason
   naming the file, key or step. */
void
wd_err_why (char *why, size_t why_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* The code's identifier ("WD_ERR_KEY_DUPLICATE", "WD_OK"). Static storage. */
const char *
wd_err_name (int code);

/* Modules above common keep their own tables in the same X-macro form, each
   in its own range (attest -2000, pxe -3000, cons -4000, capsule -5000), and
   define their strerror and name functions with this macro. Codes outside
   the module's range (a wd_err_t passed up unchanged) fall through to
   wd_strerror and wd_err_name, so one call names any code. */
#define WD_ERR_MODULE_MSG_(name, msg)  [name - (WD_ERR_MODULE_FIRST_)] = msg,
#define WD_ERR_MODULE_NAME_(name, msg) [name - (WD_ERR_MODULE_FIRST_)] = #name,
#define WD_ERR_DEFINE_MODULE(strerror_fn, name_fn, TABLE, first, last)                             \
    enum { WD_ERR_MODULE_FIRST_ = (first) };                                                       \
    static const char *const s_module_messages[] = { TABLE (WD_ERR_MODULE_MSG_) };                 \
    static const char *const s_module_names[] = { TABLE (WD_ERR_MODULE_NAME_) };                   \
    const char *strerror_fn (int code)                                                             \
    {                                                                                              \
        return code > (first) && code < (last) ? s_module_messages[code - (first)]                 \
                                               : wd_strerror (code);                               \
    }                                                                                              \
    const char *name_fn (int code)                                                                 \
    {                                                                                              \
        return code > (first) && code < (last) ? s_module_names[code - (first)]                    \
                                               : wd_err_name (code);                               \
    }

#endif
