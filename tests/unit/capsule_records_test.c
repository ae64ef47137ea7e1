/*
 * capsule_records_test: fixtures and byte surgery shared by the capsule
 * record unit tests (see capsule_records_test.h). The fixtures hold the same
 * values as tests/vectors/capsule_records/records_vectors.py.
 */
#include "capsule_records_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
crt_task (capsule_task_t *t)
{
    memset (t, 0, sizeof *t);
    memset (t->code, 0x01, 32);
    snprintf (t->entry, sizeof t->entry, "/code/intersect");
    memset (t->env, 0x02, 32);
    t->input_count = 2;
    memset (t->inputs[0].holder, 0x10, 32);
    memset (t->inputs[0].id, 0x11, 32);
    snprintf (t->inputs[0].name, sizeof t->inputs[0].name, "names-a.txt");
    memset (t->inputs[1].holder, 0x20, 32);
    memset (t->inputs[1].id, 0x21, 32);
    snprintf (t->inputs[1].name, sizeof t->inputs[1].name, "names-b.txt");
    t->limits.cpu_ms = 10000;
    t->limits.mem_bytes = 64 << 20;
    t->limits.output_bytes = 1 << 20;
    t->limits.pids = 64;
    t->limits.wall_ms = 10000;
    for (size_t i = 0; i < 16; i++)
        t->nonce[i] = (uint8_t)i;
    t->recipient_count = 2;
    memset (t->recipients[0], 0x30, 32);
    memset (t->recipients[1], 0x31, 32);
    t->submitted = 1767225600123ULL;
}

static void
s_receipt_common (capsule_receipt_t *rc, const uint8_t task_id[32])
{
    memset (rc, 0, sizeof *rc);
    memcpy (rc->task, task_id, 32);
    memset (rc->code, 0x01, 32);
    memset (rc->env, 0x02, 32);
    rc->input_count = 2;
    memset (rc->inputs[0], 0x11, 32);
    memset (rc->inputs[1], 0x21, 32);
    for (size_t i = 0; i < 80; i++)
        rc->proof[i] = (uint8_t)i;
    rc->started = 1767225601000ULL;
}

void
crt_receipt_killed (capsule_receipt_t *rc, const uint8_t task_id[32])
{
    s_receipt_common (rc, task_id);
    memset (rc->executor_evidence, 0x50, 32);
    rc->exit.has_signal = true;
    rc->exit.signal = 9;
    rc->exit.killed = CAPSULE_RECEIPT_KILL_WALL;
    rc->output_count = 1;
    memset (rc->outputs[0], 0x60, 32);
    rc->ended = 1767225611000ULL;
    rc->usage.cpu_sys_us = 1200;
    rc->usage.cpu_user_us = 9876543;
    rc->usage.peak_mem_bytes = 5 << 20;
    rc->usage.wall_us = 10000250;
    rc->degraded_count = 1;
    snprintf (rc->degraded[0], sizeof rc->degraded[0], "rlimit-only");
}

void
crt_receipt_ok (capsule_receipt_t *rc, const uint8_t task_id[32])
{
    s_receipt_common (rc, task_id);
    rc->exit.has_code = true;
    rc->exit.code = 0;
    rc->ended = rc->started;
}

size_t
crt_find (const uint8_t *buf, size_t len, const void *needle, size_t n)
{
    size_t found = SIZE_MAX, hits = 0;
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp (buf + i, needle, n) == 0) {
            found = i;
            hits++;
        }
    if (hits != 1) {
        fprintf (stderr, "crt_find: %zu occurrences, want 1, of", hits);
        for (size_t i = 0; i < n; i++)
            fprintf (stderr, " %02x", ((const uint8_t *)needle)[i]);
        fprintf (stderr, "\n");
        abort ();
    }
    return found;
}

void
crt_patch (uint8_t *buf, size_t len, const void *old_bytes, const void *new_bytes, size_t n)
{
    memcpy (buf + crt_find (buf, len, old_bytes, n), new_bytes, n);
}

uint8_t *
crt_splice (const uint8_t *buf, size_t len, const void *del_bytes, size_t del, const void *ins,
            size_t ins_len, size_t *out_len)
{
    size_t at = crt_find (buf, len, del_bytes, del);
    *out_len = len - del + ins_len;
    uint8_t *out = malloc (*out_len + 1);
    if (!out)
        abort ();
    memcpy (out, buf, at);
    memcpy (out + at, ins, ins_len);
    memcpy (out + at + ins_len, buf + at + del, len - at - del);
    return out;
}
