/*
 * Fuzz harness for the capsule format (capsule_format.h, capsule_seal.h).
 * Every input goes two ways:
 *
 *  - as a whole capsule into capsule_parse, on the chain of the Python
 *    vectors (tests/vectors/capsule/keys.txt), with and without a size limit;
 *    whatever is accepted must have the id SHA-256(input) and must give the
 *    same header through capsule_parse_fd;
 *  - as a bare payload stream (24-byte secretstream header, then chunks)
 *    opened with a fixed content key (0x42 bytes) as if a parsed capsule
 *    described it, so the chunk loop meets mutated chunks, tags and
 *    lengths even though mutated capsules rarely pass the signature check.
 *
 * The seed corpus holds small capsules from the vectors and two streams
 * made with the fixed key (tests/fuzz/corpus/capsule/).
 */
#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule_format.h"
#include "capsule_seal.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint8_t s_chain[32];
static capsule_key_t *s_key;
static capsule_header_t *s_h, *s_h2;
static char s_file[64];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init () < 0)
        abort ();
    static const char chain_hex[] =
        "dbadadfb00cddbcfce7818b743617cd92eeec036f98c78535e2737725b2aa01b";
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf (chain_hex + 2 * i, "%2x", &v) != 1)
            abort ();
        s_chain[i] = (uint8_t)v;
    }
    uint8_t k[32];
    memset (k, 0x42, sizeof k);
    s_key = capsule_key_from_bytes (k);
    s_h = malloc (sizeof *s_h);
    s_h2 = malloc (sizeof *s_h2);
    snprintf (s_file, sizeof s_file, "/tmp/fuzz-capsule-%d", (int)getpid ());
    if (!s_key || !s_h || !s_h2)
        abort ();
    return 0;
}

static void
s_parse (const uint8_t *data, size_t size)
{
    if (capsule_parse (data, size, s_chain, 0, s_h) != 0)
        return;
    uint8_t id[32];
    crypto_hash_sha256 (id, data, size);
    assert (memcmp (id, s_h->id, 32) == 0);
    assert (s_h->total_len == size);
    assert (capsule_parse (data, size, s_chain, size - 1, s_h2) != 0);
    FILE *f = fopen (s_file, "w+");
    assert (f);
    assert (fwrite (data, 1, size, f) == size && fflush (f) == 0);
    assert (capsule_parse_fd (fileno (f), s_chain, 0, s_h2) == 0);
    assert (memcmp (s_h, s_h2, sizeof *s_h) == 0);
    fclose (f);
    unlink (s_file);
}

static void
s_open_stream (const uint8_t *data, size_t size)
{
    if (size < CAPSULE_STREAM_HEADER_LEN + CAPSULE_CHUNK_ABYTES)
        return;
    memset (s_h, 0, sizeof *s_h);
    memcpy (s_h->stream_header, data, CAPSULE_STREAM_HEADER_LEN);
    s_h->ct_offset = CAPSULE_STREAM_HEADER_LEN;
    s_h->ct_len = size - CAPSULE_STREAM_HEADER_LEN;
    /* The plaintext length the stream's size implies, if any. */
    uint64_t chunks = (s_h->ct_len + CAPSULE_CHUNK + CAPSULE_CHUNK_ABYTES - 1) /
                      (CAPSULE_CHUNK + CAPSULE_CHUNK_ABYTES);
    s_h->plain_len = s_h->ct_len - chunks * CAPSULE_CHUNK_ABYTES;
    s_h->total_len = size;
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (capsule_open_mem (s_h, data, size, s_key, &out, &out_len) == 0)
        assert (out_len == s_h->plain_len);
    free (out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_parse (data, size);
    s_open_stream (data, size);
    return 0;
}
