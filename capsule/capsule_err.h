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
    X (CAPSULE_ERR_LOG_COLUMN, "a stored column disagrees with the signed statement")

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
