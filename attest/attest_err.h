/*
 * attest_err: result codes of the attest module (measurement logs, IMA,
 * policies, evidence, the host agent), in the range below -2000. Functions here
 * return either these or a wd_err_t passed up from common; attest_strerror
 * and attest_err_name name both.
 */
#ifndef ATTEST_ERR_H
#define ATTEST_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define ATTEST_ERR_TABLE(X)                                                                        \
    X (ATTEST_ERR_TEMPLATE_HASH, "template hash does not match the template data")                 \
    X (ATTEST_ERR_IMA_TRUNCATED, "IMA list ends inside an entry")                                  \
    X (ATTEST_ERR_IMA_TEMPLATE_NAME, "IMA template is not ima, ima-ng, ima-sig or ima-buf")        \
    X (ATTEST_ERR_IMA_OVERSIZE, "IMA entry field is larger than its limit")                        \
    X (ATTEST_ERR_IMA_DIGEST_ALGO, "IMA file digest algorithm is not sha1/256/384/512")            \
    X (ATTEST_ERR_IMA_DIGEST_LENGTH, "IMA file digest length does not match its algorithm")        \
    X (ATTEST_ERR_IMA_SYNTAX, "IMA ASCII line is malformed")                                       \
    X (ATTEST_ERR_IMA_PCR_RANGE, "IMA entry PCR index is out of range")                            \
    X (ATTEST_ERR_IMA_FIELD, "IMA template data does not hold the template's fields")              \
    X (ATTEST_ERR_IMA_STATE, "saved replay state does not fit this list")                          \
    X (ATTEST_ERR_LOG_NAME, "event name is empty, too long or holds a control character")          \
    X (ATTEST_ERR_LOG_ENTRY, "measurement log entry is not an ima-ng SHA-256 entry for its PCR")   \
    X (ATTEST_ERR_POLICY_JSON, "policy is not well-formed JSON")                                   \
    X (ATTEST_ERR_POLICY_DUPLICATE_KEY, "policy JSON holds the same object key twice")             \
    X (ATTEST_ERR_POLICY_NOT_OBJECT, "policy is not a JSON object")                                \
    X (ATTEST_ERR_POLICY_DSSE, "policy is a DSSE-signed envelope: extract its payload first")      \
    X (ATTEST_ERR_POLICY_UNKNOWN_FIELD, "policy holds a field Warden does not know")               \
    X (ATTEST_ERR_POLICY_MISSING_FIELD, "policy lacks a required field")                           \
    X (ATTEST_ERR_POLICY_FIELD_TYPE, "policy field has the wrong JSON type")                       \
    X (ATTEST_ERR_POLICY_VERSION, "runtime-policy format version is not 1")                        \
    X (ATTEST_ERR_POLICY_RANGE, "policy number is out of range")                                   \
    X (ATTEST_ERR_POLICY_BAD_HEX, "digest is not a string of lowercase hex digit pairs")           \
    X (ATTEST_ERR_POLICY_DIGEST_LENGTH,                                                            \
       "digest length is not that of sha1, sha256, sha384 or sha512")                              \
    X (ATTEST_ERR_POLICY_EMPTY_LIST, "path or name lists no digests")                              \
    X (ATTEST_ERR_POLICY_BAD_PATH, "path or name is empty")                                        \
    X (ATTEST_ERR_POLICY_BAD_REGEX, "exclude is not a valid POSIX extended regular expression")    \
    X (ATTEST_ERR_POLICY_REGEX_DIALECT,                                                            \
       "exclude uses Python regex syntax that POSIX ERE reads differently")                        \
    X (ATTEST_ERR_POLICY_BAD_ALG, "log_hash_alg is not sha1, sha256, sha384 or sha512")            \
    X (ATTEST_ERR_POLICY_TOO_LARGE, "policy exceeds a size limit")                                 \
    X (ATTEST_ERR_POLICY_BAD_NAME, "policy name is not 1-64 characters of [A-Za-z0-9._-]")         \
    X (ATTEST_ERR_POLICY_UNSORTED,                                                                 \
       "policy object list is out of canonical order or holds a duplicate")                        \
    X (ATTEST_ERR_POLICY_UNTRUSTED_SIGNER, "policy is not signed by a reference-value signer key") \
    X (ATTEST_ERR_AGENT_MSG_TYPE,                                                                  \
       "agent message type is not hello, challenge, response or result")                           \
    X (ATTEST_ERR_AGENT_TOKEN, "boot token is not 1-128 printable ASCII characters")               \
    X (ATTEST_ERR_AGENT_HOST, "agent host name is not 1-64 characters of [A-Za-z0-9._-]")          \
    X (ATTEST_ERR_AGENT_ITEM, "challenge item kind is unknown or its fields do not fit it")        \
    X (ATTEST_ERR_AGENT_ANSWER, "answer fields do not fit its kind")                               \
    X (ATTEST_ERR_AGENT_UNSORTED, "answer list is out of canonical order or holds a duplicate")    \
    X (ATTEST_ERR_AGENT_STATUS, "agent result status is unknown")                                  \
    X (ATTEST_ERR_AGENT_TOKEN_REFUSED, "boot token is unknown or already used")                    \
    X (ATTEST_ERR_AGENT_NO_SESSION, "message from an agent that has not been admitted")            \
    X (ATTEST_ERR_AGENT_SESSION_KEY, "response is not signed by the agent's boot-session key")     \
    X (ATTEST_ERR_AGENT_NONCE, "response nonce is not the open challenge's (replayed or stale)")   \
    X (ATTEST_ERR_AGENT_LATE, "response arrived after the challenge deadline")                     \
    X (ATTEST_ERR_AGENT_ANSWER_COUNT, "response answers do not match the challenge items")         \
    X (ATTEST_ERR_EVIDENCE_FIELD, "evidence field holds a value its schema does not allow")        \
    X (ATTEST_ERR_EVIDENCE_UNKNOWN_ATTESTER,                                                       \
       "evidence is signed by a key that is not a known node")                                     \
    X (ATTEST_ERR_EVIDENCE_ATTESTER, "evidence attester is not the envelope's signer")             \
    X (ATTEST_ERR_EVIDENCE_KEY_PROTECTION,                                                         \
       "evidence key protection differs from the attester's certificate")                          \
    X (ATTEST_ERR_EVIDENCE_SUBJECT, "evidence is about another subject than expected")             \
    X (ATTEST_ERR_EVIDENCE_FRESHNESS, "evidence uses another kind of freshness than expected")     \
    X (ATTEST_ERR_EVIDENCE_EPOCH,                                                                  \
       "evidence names an epoch whose seed the verifier does not accept")                          \
    X (ATTEST_ERR_EVIDENCE_NONCE, "evidence nonce is not the expected one (replayed or stale)")    \
    X (ATTEST_ERR_EVIDENCE_FUTURE, "evidence time is ahead of the verifier's clock")               \
    X (ATTEST_ERR_EVIDENCE_STALE, "evidence is older than the freshness window")                   \
    X (ATTEST_ERR_EVIDENCE_DELTA_GAP, "evidence log delta does not continue the saved state")      \
    X (ATTEST_ERR_EVIDENCE_REGISTERS,                                                              \
       "evidence log delta does not replay to the claimed registers")                              \
    X (ATTEST_ERR_VERDICT_FIELD, "verdict field holds a value its schema does not allow")          \
    X (ATTEST_ERR_VERDICT_TIER, "verdict tier is not the one its trust vector gives")              \
    X (ATTEST_ERR_VERDICT_UNKNOWN_POLICY, "no known policy has the requested policy id")           \
    X (ATTEST_ERR_VERDICT_UNKNOWN_VERIFIER,                                                        \
       "verdict is signed by a key that is not a known verifier")                                  \
    X (ATTEST_ERR_QUOTE_MALFORMED, "TPM quote's TPMS_ATTEST is truncated, oversized or malformed") \
    X (ATTEST_ERR_QUOTE_MAGIC, "TPM quote's TPMS_ATTEST does not start with TPM_GENERATED_VALUE")  \
    X (ATTEST_ERR_QUOTE_TYPE, "TPM attestation is not a quote")                                    \
    X (ATTEST_ERR_QUOTE_AK, "attestation key is not a restricted ECC P-256 ECDSA signing key")     \
    X (ATTEST_ERR_QUOTE_AK_UNBOUND, "attestation key is not the one bound to the node's EK")       \
    X (ATTEST_ERR_QUOTE_SIGNATURE, "TPM quote signature does not verify under the bound AK")       \
    X (ATTEST_ERR_QUOTE_SIGNER, "TPM quote's qualifiedSigner is not the AK's qualified name")      \
    X (ATTEST_ERR_QUOTE_NONCE, "TPM quote's qualifying data is not the evidence nonce")            \
    X (ATTEST_ERR_QUOTE_SELECTION, "TPM quote's PCR selection is not the claimed or required one") \
    X (ATTEST_ERR_QUOTE_PCR_DIGEST, "TPM quote's PCR digest is not the hash of the PCR values")    \
    X (ATTEST_ERR_QUOTE_UNSAFE, "TPM quote's clock is not marked safe")                            \
    X (ATTEST_ERR_QUOTE_RESET, "TPM reset count went back since the last quote")                   \
    X (ATTEST_ERR_QUOTE_RESTART, "TPM restart count went back since the last quote")               \
    X (ATTEST_ERR_QUOTE_CLOCK, "TPM clock did not advance since the last quote")                   \
    X (ATTEST_ERR_QUOTE_PCR_LOG, "quoted PCR differs from the evidence log's replayed register")   \
    X (ATTEST_ERR_QUOTE_MISSING, "evidence carries no TPM quote but the verifier requires one")    \
    X (ATTEST_ERR_QUOTE_EK,                                                                        \
       "endorsement key is not an RSA-2048 AES-128-CFB restricted decryption key")                 \
    X (ATTEST_ERR_QUOTE_CRYPTO, "libcrypto failed while handling a TPM structure")                 \
    X (ATTEST_ERR_TPM_COMMAND, "a TPM command failed")                                             \
    X (ATTEST_ERR_QUOTE_BINDING,                                                                   \
       "AK-binding record's exchange is not MakeCredential for its EK, AK and node")               \
    X (ATTEST_ERR_QUOTE_EK_CERT,                                                                   \
       "EK certificate is missing, does not chain to the configured CA or certifies another key")  \
    X (ATTEST_ERR_QUOTE_EK_CHANGED, "node's EK is not the one its last decided quote was bound "   \
                                    "to")

typedef enum {
    ATTEST_ERR_FIRST_ = -2000,
#define ATTEST_ERR_ENUM(name, msg) name,
    ATTEST_ERR_TABLE (ATTEST_ERR_ENUM)
#undef ATTEST_ERR_ENUM
        ATTEST_ERR_LAST_
} attest_err_t;

/* A short sentence for a attest_err_t or wd_err_t code. Static storage. */
const char *
attest_strerror (int code);

/* The identifier of a attest_err_t or wd_err_t code. Static storage. */
const char *
attest_err_name (int code);

#endif
