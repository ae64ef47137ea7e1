/*
 * capsule_records_test: helpers shared by the unit tests of the capsule
 * task, key release and receipt records: the fixtures that match the
 * known-answer vectors (tests/vectors/capsule_records/records.txt), and
 * byte surgery on encoded bodies (patch a unique byte run, splice) so each
 * test can make exactly one rule fail in otherwise canonical bytes.
 */
#ifndef CAPSULE_RECORDS_TEST_H
#define CAPSULE_RECORDS_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "capsule_receipt.h"
#include "capsule_release.h"
#include "capsule_task.h"

#define CRT_VECTORS "capsule_records/records.txt"

/* The task of the vector file (task=...). */
void
crt_task (capsule_task_t *t);

/* The receipts of the vector file: receipt_killed (killed by the wall
   clock, signal 9, degraded rlimit-only) and receipt_ok (exit code 0). */
void
crt_receipt_killed (capsule_receipt_t *rc, const uint8_t task_id[32]);
void
crt_receipt_ok (capsule_receipt_t *rc, const uint8_t task_id[32]);

/* Replaces the only occurrence of old (n bytes) in buf with new (n bytes);
   aborts the test program when old occurs zero or several times. */
void
crt_patch (uint8_t *buf, size_t len, const void *old_bytes, const void *new_bytes, size_t n);

/* Returns a new buffer (caller frees): buf with del bytes at the only
   occurrence of the del_bytes run replaced by ins (ins_len bytes). Aborts
   like crt_patch. */
uint8_t *
crt_splice (const uint8_t *buf, size_t len, const void *del_bytes, size_t del, const void *ins,
            size_t ins_len, size_t *out_len);

/* The offset of the only occurrence of needle in buf; aborts otherwise. */
size_t
crt_find (const uint8_t *buf, size_t len, const void *needle, size_t n);

#endif
