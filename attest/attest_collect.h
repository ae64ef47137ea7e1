/*
 * attest_collect: the host side of a challenge — measure what an item asks
 * for and fill in its answer (docs/PROTOCOL.md "Host agent protocol", item
 * kinds). warden-agent calls attest_collect_answer once per item; the node
 * uses attest_collect_file/range to compute reference digests from its
 * reference copies.
 *
 * Everything is read fresh on every call: a cached digest would answer for
 * the past. Where the files live (/proc, securityfs) is in a roots struct
 * so tests can point the collector at a temporary directory.
 */
#ifndef ATTEST_COLLECT_H
#define ATTEST_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "attest_agent_proto.h"

typedef struct {
    const char *cmdline; /* default "/proc/cmdline" */
    const char *modules; /* default "/proc/modules" */
    const char *proc;    /* default "/proc" */
    const char *ima;     /* default "/sys/kernel/security/ima" */
} attest_collect_roots_t;

/* SHA-256 of a regular file or block device. ATTEST_ANSWER_OK,
   _NOT_FOUND, _NOT_REGULAR or _IO. */
attest_answer_err_t
attest_collect_file (const char *path, uint8_t digest[32]);

/* SHA-256 of bytes [off, off+len) of a regular file or block device:
   as attest_collect_file, plus ATTEST_ANSWER_RANGE when the range ends past
   the end. */
attest_answer_err_t
attest_collect_range (const char *path, uint64_t off, uint64_t len, uint8_t digest[32]);

/* Fills *answer (kind set from item, owned buffers allocated; clear with
   attest_answer_clear) with the measurement item asks for. roots may be
   NULL for the defaults. Never fails as a call: a measurement that cannot be
   made is an answer with err set. */
void
attest_collect_answer (const attest_item_t *item, const attest_collect_roots_t *roots,
                       attest_answer_t *answer);

#endif
