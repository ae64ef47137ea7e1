/*
 * capsule_err: result codes of the capsule module (the PCR signer workload:
 * intake framing, metadata parsing, the result log), in the range below
 * -5000. Functions here return either these or a wd_err_t passed up from
 * common; capsule_strerror and capsule_err_name name both. The offline
 * verifier (capsule_verify.h) keeps its own verdict codes because it links
 * only libsodium.
 */
#ifndef CAPSULE_ERR_H
#define CAPSULE_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define CAPSULE_ERR_TABLE(X)                                                                       \
    X (CAPSULE_ERR_FRAME_NOISE, "bytes outside a frame were skipped")                              \
    X (CAPSULE_ERR_FRAME_HEADER, "frame header check or version does not match")                   \
    X (CAPSULE_ERR_FRAME_NAME, "frame file name is empty, too long or not allowed")                \
    X (CAPSULE_ERR_FRAME_OVERSIZE, "frame data is larger than the limit")                          \
    X (CAPSULE_ERR_FRAME_DIGEST, "frame data does not match its SHA-256")                          \
    X (CAPSULE_ERR_FRAME_TRUNCATED, "frame ends before its declared length")                       \
    X (CAPSULE_ERR_FRAME_GAP, "frame sequence skips numbers (frames missing)")                     \
    X (CAPSULE_ERR_FRAME_DUPLICATE, "frame sequence number was already received")                  \
    X (CAPSULE_ERR_META_FORMAT, "file is neither an Applied Biosystems text export nor RDML")      \
    X (CAPSULE_ERR_META_SYNTAX, "export file is malformed")                                        \
    X (CAPSULE_ERR_META_ENCODING, "export file is not valid UTF-8 text")                           \
    X (CAPSULE_ERR_META_ZIP, "RDML file is not a readable zip archive with rdml_data.xml")         \
    X (CAPSULE_ERR_META_XML, "rdml_data.xml is not well-formed XML")                               \
    X (CAPSULE_ERR_LOG_MISSING, "result log entry is missing (index gap)")                         \
    X (CAPSULE_ERR_LOG_LEAF, "stored leaf hash does not match the entry's envelope")               \
    X (CAPSULE_ERR_LOG_SIGNATURE, "entry's statement signature does not verify")                   \
    X (CAPSULE_ERR_LOG_DIGEST, "entry's raw bytes do not match the statement's subject digest")    \
    X (CAPSULE_ERR_LOG_ROOT, "checkpoint root does not match the entries (edited or reordered)")   \
    X (CAPSULE_ERR_LOG_CHECKPOINT,                                                                 \
       "checkpoint note is malformed or its signature does not verify")                            \
    X (CAPSULE_ERR_LOG_SHORT, "checkpoint covers more entries than the log holds (deleted)")       \
    X (CAPSULE_ERR_LOG_NO_ENTRY, "no such result log entry")                                       \
    X (CAPSULE_ERR_LOG_NO_CHECKPOINT, "no checkpoint covers this entry yet")                       \
    X (CAPSULE_ERR_SERIAL, "cannot open or configure the serial device")                           \
    X (CAPSULE_ERR_LOG_COLUMN, "a stored column disagrees with the signed statement")              \
    X (CAPSULE_ERR_STORE_NOT_FOUND, "no capsule with this id in the store")                        \
    X (CAPSULE_ERR_STORE_CORRUPT,                                                                  \
       "stored capsule does not match its id (moved to the store's quarantine/)")                  \
    X (CAPSULE_ERR_STORE_MISMATCH, "capsule bytes do not hash to the requested id")                \
    X (CAPSULE_ERR_STORE_FULL, "capsule store quota reached: remove capsules or raise the quota")  \
    X (CAPSULE_ERR_ENV_FORMAT, "environment is not a tar archive (plain or gzip-compressed)")      \
    X (CAPSULE_ERR_ENV_CORRUPT, "environment archive is truncated or damaged")                     \
    X (CAPSULE_ERR_ENV_ABSOLUTE, "environment entry has an absolute path")                         \
    X (CAPSULE_ERR_ENV_DOTDOT, "environment entry path has a '..' component")                      \
    X (CAPSULE_ERR_ENV_NAME, "environment entry path is empty or longer than the limit")           \
    X (CAPSULE_ERR_ENV_THROUGH_LINK, "environment entry path passes through a symlink or a file")  \
    X (CAPSULE_ERR_ENV_SYMLINK, "environment symlink points outside the root")                     \
    X (CAPSULE_ERR_ENV_HARDLINK, "environment hard link does not name an earlier regular file")    \
    X (CAPSULE_ERR_ENV_DEVICE, "environment holds a device node")                                  \
    X (CAPSULE_ERR_ENV_FIFO, "environment holds a fifo")                                           \
    X (CAPSULE_ERR_ENV_TYPE, "environment holds a socket or an entry of unknown type")             \
    X (CAPSULE_ERR_ENV_SETID, "environment holds a setuid or setgid file (refused by the limits)") \
    X (CAPSULE_ERR_ENV_ENTRIES, "environment has more entries than the limit")                     \
    X (CAPSULE_ERR_ENV_TOO_BIG, "environment unpacks to more bytes than the limit")                \
    X (CAPSULE_ERR_ENV_DUPLICATE, "environment lists the same path twice")                         \
    X (CAPSULE_ERR_ENV_DEST, "unpack destination exists and is not an empty directory")            \
    X (CAPSULE_ERR_TASK_LIMIT_ZERO, "a task limit is zero or below its minimum")                   \
    X (CAPSULE_ERR_TASK_LIMIT_HIGH, "a task limit is above its maximum")                           \
    X (CAPSULE_ERR_TASK_ENTRY, "task entry is not a clean absolute path")                          \
    X (CAPSULE_ERR_TASK_INPUT_NAME,                                                                \
       "task input name is empty, too long, '.' or '..', or holds '/' or a control character")     \
    X (CAPSULE_ERR_TASK_INPUT_DUPLICATE, "two task inputs have the same file name")                \
    X (CAPSULE_ERR_TASK_TOO_MANY, "task lists more than 16 inputs or recipients")                  \
    X (CAPSULE_ERR_TASK_NO_RECIPIENT, "task names no output recipient")                            \
    X (CAPSULE_ERR_TASK_RECIPIENT_DUPLICATE, "task names the same recipient twice")                \
    X (CAPSULE_ERR_RELEASE_REFUSAL,                                                                \
       "key release refusal has no negative code or no printable reason")                          \
    X (CAPSULE_ERR_RELEASE_MISMATCH,                                                               \
       "key release answer is for another capsule or task than asked")                             \
    X (CAPSULE_ERR_RECEIPT_TASK, "receipt is for another task")                                    \
    X (CAPSULE_ERR_RECEIPT_CODE, "receipt's code digest differs from the task's")                  \
    X (CAPSULE_ERR_RECEIPT_ENV, "receipt's environment digest differs from the task's")            \
    X (CAPSULE_ERR_RECEIPT_INPUTS, "receipt's input ids differ from the task's")                   \
    X (CAPSULE_ERR_RECEIPT_TIME, "receipt ends before it starts")                                  \
    X (CAPSULE_ERR_RECEIPT_EXIT,                                                                   \
       "receipt exit status is malformed (both or neither of code and signal, or out of range)")   \
    X (CAPSULE_ERR_RECEIPT_KILLED, "receipt names an unknown kill reason")                         \
    X (CAPSULE_ERR_RECEIPT_DEGRADED, "receipt degraded flag is malformed or repeated")             \
    X (CAPSULE_ERR_RECEIPT_TOO_MANY,                                                               \
       "receipt lists more inputs, outputs or degraded flags than allowed")                        \
    X (CAPSULE_ERR_CAPSULE_NONCANONICAL,                                                           \
       "capsule is not canonical msgpack or does not follow the capsule schema")                   \
    X (CAPSULE_ERR_CAPSULE_TRUNCATED, "capsule ends before its declared length (incomplete copy)") \
    X (CAPSULE_ERR_CAPSULE_VERSION, "capsule format version is not supported by this program")     \
    X (CAPSULE_ERR_CAPSULE_KIND, "capsule kind is not data, code, env or result")                  \
    X (CAPSULE_ERR_CAPSULE_ENC, "capsule encryption scheme, chunk size or stream header unknown")  \
    X (CAPSULE_ERR_CAPSULE_LENGTH, "capsule ciphertext length does not match its plaintext size")  \
    X (CAPSULE_ERR_CAPSULE_OVERSIZE, "capsule is larger than the accepted limit")                  \
    X (CAPSULE_ERR_CAPSULE_WRAPS,                                                                  \
       "capsule has no recipients, too many, or recipients not strictly ascending")                \
    X (CAPSULE_ERR_CAPSULE_CHAIN, "capsule was sealed for another chain")                          \
    X (CAPSULE_ERR_CAPSULE_SIGNATURE, "capsule signature does not verify (tampered or re-signed)") \
    X (CAPSULE_ERR_POLICY,                                                                         \
       "capsule release policy is malformed (unsorted list, bad name or tier)")                    \
    X (CAPSULE_ERR_NOT_RECIPIENT, "this key is not among the capsule's recipients")                \
    X (CAPSULE_ERR_UNWRAP, "wrapped content key does not open with this key pair (altered?)")      \
    X (CAPSULE_ERR_WRAP_KEY, "recipient public key is not a usable X25519 key")                    \
    X (CAPSULE_ERR_CHUNK_AUTH,                                                                     \
       "capsule chunk fails authentication (tampered, reordered, or wrong content key)")           \
    X (CAPSULE_ERR_STREAM_FINAL,                                                                   \
       "capsule stream's final chunk is missing or early (truncated or spliced stream)")           \
    X (CAPSULE_ERR_NOT_FILE, "capsule must be read from a regular file")                           \
    X (CAPSULE_ERR_INPUT_CHANGED, "input file changed size while it was being sealed; retry")      \
    X (CAPSULE_ERR_SEAL_PARAMS,                                                                    \
       "seal needs 1 to 64 recipients and a policy with valid names and at most 64 per list")      \
    X (CAPSULE_ERR_POLICY_EXPIRED, "capsule release policy has expired")                           \
    X (CAPSULE_ERR_POLICY_TIER, "executor's attestation tier is below the policy's minimum")       \
    X (CAPSULE_ERR_POLICY_KEY_PROTECTION,                                                          \
       "executor's key protection is not allowed by the policy")                                   \
    X (CAPSULE_ERR_POLICY_MEASUREMENT, "executor's measurement is not allowed by the policy")      \
    X (CAPSULE_ERR_POLICY_NODE, "executor node is not allowed by the policy")                      \
    X (CAPSULE_ERR_POLICY_CODE, "task code is not allowed by the policy")                          \
    X (CAPSULE_ERR_SANDBOX_SPEC, "sandbox spec is invalid (paths, mounts, limits or argv)")        \
    X (CAPSULE_ERR_SANDBOX_SYSTEM, "sandbox could not be created (namespaces, pipes or process)")  \
    X (CAPSULE_ERR_SANDBOX_MOUNT, "sandbox file system could not be set up (root, binds, tmpfs)")  \
    X (CAPSULE_ERR_SANDBOX_CREDS, "sandbox could not drop to its unprivileged uid and no caps")    \
    X (CAPSULE_ERR_SANDBOX_SECCOMP, "sandbox seccomp filter could not be built or installed")      \
    X (CAPSULE_ERR_SANDBOX_EXEC, "program could not be executed inside the sandbox")               \
    X (CAPSULE_ERR_EXEC_NO_EXECUTOR,                                                               \
       "no node satisfies every capsule's release policy, or none claimed the task in time")       \
    X (CAPSULE_ERR_EXEC_PENDING, "the task's executor is not decided on this node's ledger yet")   \
    X (CAPSULE_ERR_EXEC_NOT_SELECTED, "the requesting node is not the task's selected executor")   \
    X (CAPSULE_ERR_EXEC_NOT_NAMED, "the task does not name this capsule with this holder")         \
    X (CAPSULE_ERR_EXEC_CURVE, "the key release request's X25519 key is not the executor's")       \
    X (CAPSULE_ERR_EXEC_QUARANTINED, "the executor is quarantined by the ledger's reputation")     \
    X (CAPSULE_ERR_EXEC_UNTRUSTED, "the executor's latest attestation is contraindicated")         \
    X (CAPSULE_ERR_EXEC_WORK, "the node's capsule work area is missing or not a tmpfs")            \
    X (CAPSULE_ERR_EXEC_FETCH, "a capsule could not be fetched from its holder")                   \
    X (CAPSULE_ERR_EXEC_RELEASE, "a holder did not answer the key release request in time")        \
    X (CAPSULE_ERR_EXEC_SANDBOX, "the sandbox could not run the task")                             \
    X (CAPSULE_ERR_EXEC_OUTPUT, "the task's outputs could not be sealed or stored")                \
    X (CAPSULE_ERR_EXEC_UNKNOWN_TASK, "no task with this id is known to this node")                \
    X (CAPSULE_ERR_LOG_ANCHOR, "the ledger anchors another root for a size of this log")           \
    X (CAPSULE_ERR_LOG_ANCHOR_AHEAD,                                                               \
       "the ledger anchors a checkpoint over more entries than the log holds (deleted)")           \
    X (CAPSULE_ERR_EXEC_TIMEOUT,                                                                   \
       "the task's executor did not end it by its deadline and no other executor took it over")

typedef enum {
    CAPSULE_ERR_FIRST_ = -5000,
#define CAPSULE_ERR_ENUM(name, msg) name,
    CAPSULE_ERR_TABLE (CAPSULE_ERR_ENUM)
#undef CAPSULE_ERR_ENUM
        CAPSULE_ERR_LAST_
} capsule_err_t;

/* A short sentence for a capsule_err_t or wd_err_t code. Static storage. */
const char *
capsule_strerror (int code);

/* The identifier of a capsule_err_t or wd_err_t code. Static storage. */
const char *
capsule_err_name (int code);

#endif
