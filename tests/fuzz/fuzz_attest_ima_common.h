/*
 * Shared body of the two attest_ima fuzz harnesses (fuzz_attest_ima_ascii.c
 * and fuzz_attest_ima_binary.c), which differ only in the list form.
 *
 * Input: the first byte picks a chunk size (1..64), the rest is the list.
 * The parser must never crash and must:
 *   - return only its documented codes;
 *   - give the same code and state fed in chunks as in one piece;
 *   - for an accepted list, continue from the state saved at any entry to
 *     the same final state (incremental replay equals full replay);
 *   - write back records that replay to the same registers: the binary
 *     writer reproduces a binary list byte for byte, and the ASCII writer's
 *     lines replay to the same registers when names are ASCII-safe.
 */
#ifndef FUZZ_ATTEST_IMA_COMMON_H
#define FUZZ_ATTEST_IMA_COMMON_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_ima.h"

typedef struct {
    attest_ima_state_t *states; /* after each entry */
    size_t count;
    size_t cap;
    uint8_t *bin; /* records written back */
    size_t bin_len;
    char *ascii; /* lines written back */
    size_t ascii_len;
    bool ascii_safe;
} s_seen_t;

static void *
s_grow (void *p, size_t need, size_t *cap, size_t unit)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 *= 2;
    p = realloc (p, cap2 * unit);
    assert (p);
    *cap = cap2;
    return p;
}

static int
s_collect (const attest_ima_entry_t *e, const attest_ima_state_t *st, void *arg)
{
    s_seen_t *seen = arg;
    seen->states = s_grow (seen->states, seen->count + 1, &seen->cap, sizeof *seen->states);
    seen->states[seen->count++] = *st;
    assert (e->name && strlen (e->name) == e->name_len);
    assert (e->digest_len == attest_ima_hash_len (e->digest_alg));
    size_t size = attest_ima_entry_binary (e, NULL, 0);
    seen->bin = realloc (seen->bin, seen->bin_len + size);
    assert (seen->bin);
    assert (attest_ima_entry_binary (e, seen->bin + seen->bin_len, size) == size);
    seen->bin_len += size;
    if (memchr (e->name, ' ', e->name_len) || memchr (e->name, '\n', e->name_len))
        seen->ascii_safe = false;
    size_t line = attest_ima_entry_ascii (e, NULL, 0);
    seen->ascii = realloc (seen->ascii, seen->ascii_len + line);
    assert (seen->ascii);
    assert (attest_ima_entry_ascii (e, seen->ascii + seen->ascii_len, line) == line);
    seen->ascii_len += line;
    return 0;
}

static bool
s_known_code (int rc, attest_ima_format_t format)
{
    switch (rc) {
        case WD_OK:
        case ATTEST_ERR_IMA_TRUNCATED:
        case ATTEST_ERR_IMA_TEMPLATE_NAME:
        case ATTEST_ERR_IMA_OVERSIZE:
        case ATTEST_ERR_IMA_DIGEST_ALGO:
        case ATTEST_ERR_IMA_DIGEST_LENGTH:
        case ATTEST_ERR_IMA_PCR_RANGE:
        case ATTEST_ERR_TEMPLATE_HASH:
            return true;
        case ATTEST_ERR_IMA_SYNTAX:
            return format == ATTEST_IMA_ASCII;
        case ATTEST_ERR_IMA_FIELD:
            return format == ATTEST_IMA_BINARY;
        default:
            return false;
    }
}

static void
s_fuzz_list (attest_ima_format_t format, const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    size_t chunk = (size_t)(data[0] & 0x3f) + 1;
    const uint8_t *list = data + 1;
    size_t len = size - 1;

    /* one piece, recording every entry */
    s_seen_t seen = { 0 };
    seen.ascii_safe = true;
    attest_ima_state_t whole;
    attest_ima_state_init (&whole, format, 10, 0);
    char why[ATTEST_IMA_WHY_MAX];
    int rc = attest_ima_replay_buffer (list, len, &whole, s_collect, &seen, why, sizeof why);
    assert (s_known_code (rc, format));
    assert (rc == WD_OK || why[0]);
    assert (whole.entries == seen.count);

    /* in chunks */
    attest_ima_state_t start;
    attest_ima_state_init (&start, format, 10, 0);
    attest_ima_parser_t *p = attest_ima_parser_new (&start);
    assert (p);
    int rc2 = WD_OK;
    for (size_t off = 0; off < len && rc2 == WD_OK; off += chunk)
        rc2 = attest_ima_parser_feed (p, list + off, len - off < chunk ? len - off : chunk, NULL,
                                      NULL);
    if (rc2 == WD_OK)
        rc2 = attest_ima_parser_finish (p);
    assert (rc2 == rc);
    assert (memcmp (attest_ima_parser_state (p), &whole, sizeof whole) == 0);
    attest_ima_parser_destroy (&p);

    if (rc == WD_OK && seen.count > 0) {
        /* continue from a saved state in the middle */
        attest_ima_state_t mid = seen.states[(seen.count - 1) / 2];
        assert (attest_ima_replay_buffer (list + mid.offset, len - mid.offset, &mid, NULL, NULL,
                                          NULL, 0) == WD_OK);
        assert (memcmp (&mid, &whole, sizeof whole) == 0);

        /* the binary records written back */
        attest_ima_state_t again;
        attest_ima_state_init (&again, ATTEST_IMA_BINARY, 10, 0);
        assert (attest_ima_replay_buffer (seen.bin, seen.bin_len, &again, NULL, NULL, NULL, 0) ==
                WD_OK);
        assert (again.entries == whole.entries);
        assert (memcmp (again.sha1, whole.sha1, 20) == 0);
        assert (memcmp (again.sha256, whole.sha256, 32) == 0);
        if (format == ATTEST_IMA_BINARY)
            assert (seen.bin_len == len && memcmp (seen.bin, list, len) == 0);

        /* the ASCII lines written back */
        if (seen.ascii_safe) {
            attest_ima_state_init (&again, ATTEST_IMA_ASCII, 10, 0);
            assert (attest_ima_replay_buffer (seen.ascii, seen.ascii_len, &again, NULL, NULL, NULL,
                                              0) == WD_OK);
            assert (again.entries == whole.entries);
            assert (memcmp (again.sha1, whole.sha1, 20) == 0);
            assert (memcmp (again.sha256, whole.sha256, 32) == 0);
        }
    }
    free (seen.states);
    free (seen.bin);
    free (seen.ascii);
}

#endif
