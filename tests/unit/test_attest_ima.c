/*
 * Unit tests for attest_ima: the real and generated lists in
 * tests/vectors/ima replay to the PCR values the independent Python
 * generator computed, in both forms, fed in any chunk size and continued
 * from any saved state; the entry writers reproduce the lists byte for
 * byte; and every rejection returns its exact code and says where.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest_ima.h"
#include "test_support.h"
#include "wd_hash.h"

static const char *const s_lists[] = {
    "gen-ng-sha256",
    "gen-mixed",
    "log-sample",
    "real-keylime-openpower",
    "real-keylime-policy-sha1",
    "real-keylime-policy-sha256",
    "real-keylime-policy-sha384",
    "real-keylime-policy-sha512",
};
#define S_LIST_COUNT (sizeof s_lists / sizeof s_lists[0])

static uint8_t *
s_read_vector (const char *name, const char *ext, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/ima/%s.%s", WARDEN_VECTORS_DIR, name, ext);
    return test_read_file (path, len);
}

static void
s_path (char *path, size_t size, const char *name, attest_ima_format_t format)
{
    snprintf (path, size, "%s/ima/%s.%s", WARDEN_VECTORS_DIR, name,
              format == ATTEST_IMA_ASCII ? "ascii" : "bin");
}

/* The expected value `<list>.<key>` from expected.txt. */
static uint8_t *
s_expected (const char *list, const char *key, size_t *len)
{
    char name[128];
    snprintf (name, sizeof name, "%s.%s", list, key);
    return test_vector_hex ("ima/expected.txt", name, len);
}

static uint64_t
s_expected_entries (const char *list)
{
    size_t len;
    uint8_t *be = s_expected (list, "entries", &len);
    assert_int_equal (len, 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n = n << 8 | be[i];
    free (be);
    return n;
}

static void
s_assert_registers (const char *list, uint32_t pcr, const attest_ima_state_t *st, bool padded)
{
    char key[64];
    size_t len;
    snprintf (key, sizeof key, "pcr%u.sha1", pcr);
    uint8_t *sha1 = s_expected (list, key, &len);
    assert_int_equal (len, 20);
    assert_memory_equal (st->sha1, sha1, 20);
    snprintf (key, sizeof key, padded ? "pcr%u.sha256_padded" : "pcr%u.sha256", pcr);
    uint8_t *sha256 = s_expected (list, key, &len);
    assert_int_equal (len, 32);
    assert_memory_equal (st->sha256, sha256, 32);
    free (sha1);
    free (sha256);
}

/* ---- known answers ---------------------------------------------------------- */

static void
test_hashes (void **state)
{
    (void)state;
    uint8_t out[64];
    char hex[129];
    attest_ima_digest (ATTEST_IMA_SHA1, "abc", 3, out);
    assert_string_equal (wd_hex_encode (hex, out, 20), "a9993e364706816aba3e25717850c26c9cd0d89d");
    attest_ima_digest (ATTEST_IMA_SHA384, "abc", 3, out);
    assert_string_equal (wd_hex_encode (hex, out, 48),
                         "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                         "8086072ba1e7cc2358baeca134c825a7");
    assert_int_equal (attest_ima_hash_len (ATTEST_IMA_SHA512), 64);
    assert_string_equal (attest_ima_hash_name (ATTEST_IMA_SHA256), "sha256");
}

/* ---- whole lists ------------------------------------------------------------ */

static void
test_vectors_replay (void **state)
{
    (void)state;
    for (size_t i = 0; i < S_LIST_COUNT; i++)
        for (int format = 0; format < 2; format++)
            for (int padded = 0; padded < 2; padded++) {
                char path[512], why[ATTEST_IMA_WHY_MAX];
                s_path (path, sizeof path, s_lists[i], (attest_ima_format_t)format);
                attest_ima_state_t st;
                attest_ima_state_init (&st, (attest_ima_format_t)format, 10,
                                       padded ? ATTEST_IMA_SHA256_PADDED_SHA1 : 0);
                int rc = attest_ima_replay_file (path, &st, NULL, NULL, why, sizeof why);
                if (rc != WD_OK)
                    fprintf (stderr, "%s: %s\n", path, why);
                assert_int_equal (rc, WD_OK);
                assert_int_equal (st.entries, s_expected_entries (s_lists[i]));
                s_assert_registers (s_lists[i], 10, &st, padded);
            }
}

static void
test_other_pcrs (void **state)
{
    (void)state;
    static const uint32_t pcrs[] = { 9, 11, 23 };
    for (int format = 0; format < 2; format++)
        for (size_t i = 0; i < 3; i++) {
            char path[512];
            s_path (path, sizeof path, "gen-mixed", (attest_ima_format_t)format);
            attest_ima_state_t st;
            attest_ima_state_init (&st, (attest_ima_format_t)format, pcrs[i], 0);
            assert_int_equal (attest_ima_replay_file (path, &st, NULL, NULL, NULL, 0), WD_OK);
            s_assert_registers ("gen-mixed", pcrs[i], &st, false);
        }
}

/* Folds what a callback sees into one digest, to compare two passes. */
typedef struct {
    uint8_t acc[32];
    uint64_t count;
    uint64_t violations;
    uint64_t sigs;
    uint64_t bufs;
} s_fold_t;

static int
s_fold (const attest_ima_entry_t *e, const attest_ima_state_t *st, void *arg)
{
    s_fold_t *f = arg;
    assert_int_equal (e->index, f->count);
    assert_int_equal (st->entries, f->count + 1);
    uint8_t buf[32 + 4 + 2 + 32 + 32 + 32 + 32 + 32];
    size_t n = 0;
    memcpy (buf + n, f->acc, 32), n += 32;
    buf[n++] = (uint8_t)e->pcr;
    buf[n++] = (uint8_t)e->template_id;
    buf[n++] = (uint8_t)e->digest_alg;
    buf[n++] = e->violation;
    wd_hash_sha256 (buf + n, e->digest, e->digest_len), n += 32;
    wd_hash_sha256 (buf + n, e->name, e->name_len), n += 32;
    wd_hash_sha256 (buf + n, e->sig ? e->sig : (const uint8_t *)"", e->sig_len), n += 32;
    wd_hash_sha256 (buf + n, e->buf ? e->buf : (const uint8_t *)"", e->buf_len), n += 32;
    wd_hash_sha256 (buf + n, e->data, e->data_len), n += 32;
    wd_hash_sha256 (f->acc, buf, n);
    assert_int_equal (strlen (e->name), e->name_len);
    f->count++;
    f->violations += e->violation;
    f->sigs += e->sig_len > 0;
    f->bufs += e->template_id == ATTEST_IMA_TEMPLATE_IMA_BUF;
    return 0;
}

static void
test_ascii_and_binary_agree (void **state)
{
    (void)state;
    for (size_t i = 0; i < S_LIST_COUNT; i++) {
        s_fold_t fold[2];
        memset (fold, 0, sizeof fold);
        for (int format = 0; format < 2; format++) {
            char path[512];
            s_path (path, sizeof path, s_lists[i], (attest_ima_format_t)format);
            attest_ima_state_t st;
            attest_ima_state_init (&st, (attest_ima_format_t)format, 10, 0);
            assert_int_equal (attest_ima_replay_file (path, &st, s_fold, &fold[format], NULL, 0),
                              WD_OK);
        }
        assert_int_equal (fold[0].count, fold[1].count);
        assert_memory_equal (fold[0].acc, fold[1].acc, 32);
        if (strcmp (s_lists[i], "gen-mixed") == 0) {
            assert_int_equal (fold[0].violations, 4);
            assert_int_equal (fold[0].sigs, 2);
            assert_int_equal (fold[0].bufs, 2);
        }
        if (strcmp (s_lists[i], "real-keylime-openpower") == 0) {
            assert_int_equal (fold[0].sigs, 2);
            assert_int_equal (fold[0].bufs, 1);
        }
    }
}

/* Feeding in any chunk size gives the same result as one feed. */
static void
test_chunked_feed (void **state)
{
    (void)state;
    static const size_t chunks[] = { 1, 2, 3, 7, 27, 29, 64, 1000 };
    for (size_t i = 0; i < S_LIST_COUNT; i++)
        for (int format = 0; format < 2; format++) {
            size_t len;
            uint8_t *data = s_read_vector (s_lists[i], format ? "bin" : "ascii", &len);
            attest_ima_state_t whole;
            attest_ima_state_init (&whole, (attest_ima_format_t)format, 10, 0);
            assert_int_equal (attest_ima_replay_buffer (data, len, &whole, NULL, NULL, NULL, 0),
                              WD_OK);
            assert_int_equal (whole.offset, len);
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                attest_ima_state_t start;
                attest_ima_state_init (&start, (attest_ima_format_t)format, 10, 0);
                attest_ima_parser_t *p = attest_ima_parser_new (&start);
                assert_non_null (p);
                for (size_t off = 0; off < len; off += chunks[c]) {
                    size_t n = len - off < chunks[c] ? len - off : chunks[c];
                    assert_int_equal (attest_ima_parser_feed (p, data + off, n, NULL, NULL), WD_OK);
                }
                assert_int_equal (attest_ima_parser_finish (p), WD_OK);
                assert_memory_equal (attest_ima_parser_state (p), &whole, sizeof whole);
                attest_ima_parser_destroy (&p);
                assert_null (p);
            }
            free (data);
        }
}

/* Records the state after every entry. */
typedef struct {
    attest_ima_state_t states[128];
    size_t count;
} s_trail_t;

static int
s_trail (const attest_ima_entry_t *e, const attest_ima_state_t *st, void *arg)
{
    (void)e;
    s_trail_t *t = arg;
    assert_true (t->count < 128);
    t->states[t->count++] = *st;
    return 0;
}

/* Continuing from a saved state (through its msgpack form) gives the full
   replay's result, from a file (seeking) and from the delta bytes alone. */
static void
test_incremental (void **state)
{
    (void)state;
    for (size_t i = 0; i < S_LIST_COUNT; i++)
        for (int format = 0; format < 2; format++) {
            size_t len;
            uint8_t *data = s_read_vector (s_lists[i], format ? "bin" : "ascii", &len);
            char path[512];
            s_path (path, sizeof path, s_lists[i], (attest_ima_format_t)format);
            s_trail_t *trail = calloc (1, sizeof *trail);
            assert_non_null (trail);
            attest_ima_state_t full;
            attest_ima_state_init (&full, (attest_ima_format_t)format, 10, 0);
            assert_int_equal (attest_ima_replay_buffer (data, len, &full, s_trail, trail, NULL, 0),
                              WD_OK);
            for (size_t k = 0; k < trail->count; k++) {
                /* save and restore through canonical msgpack */
                wd_writer_t *w = wd_writer_new ();
                attest_ima_state_write (w, &trail->states[k]);
                size_t packed_len;
                const uint8_t *packed = wd_writer_data (w, &packed_len);
                assert_int_equal (wd_codec_check (packed, packed_len, 64, NULL), WD_OK);
                wd_reader_t r;
                wd_reader_init (&r, packed, packed_len);
                attest_ima_state_t saved;
                assert_true (attest_ima_state_read (&r, &saved));
                assert_int_equal (wd_reader_finish (&r), WD_OK);
                assert_memory_equal (&saved, &trail->states[k], sizeof saved);
                wd_writer_destroy (&w);

                attest_ima_state_t from_file = saved;
                assert_int_equal (attest_ima_replay_file (path, &from_file, NULL, NULL, NULL, 0),
                                  WD_OK);
                assert_memory_equal (&from_file, &full, sizeof full);
                attest_ima_state_t from_delta = saved;
                assert_int_equal (attest_ima_replay_buffer (data + saved.offset, len - saved.offset,
                                                            &from_delta, NULL, NULL, NULL, 0),
                                  WD_OK);
                assert_memory_equal (&from_delta, &full, sizeof full);
            }
            free (trail);
            free (data);
        }
}

/* The writers give back the list's own bytes: the binary record and the
   ASCII line (which the Python generator or the kernel wrote). */
typedef struct {
    const uint8_t *bin;
    const uint8_t *ascii;
    size_t ascii_pos;
    size_t ascii_len;
} s_rewrite_t;

static int
s_rewrite (const attest_ima_entry_t *e, const attest_ima_state_t *st, void *arg)
{
    (void)st;
    s_rewrite_t *rw = arg;
    uint8_t record[4096];
    size_t size = attest_ima_entry_binary (e, record, sizeof record);
    assert_int_equal (size, e->size);
    assert_memory_equal (record, rw->bin + e->offset, size);
    char line[8192];
    size_t line_len = attest_ima_entry_ascii (e, line, sizeof line);
    assert_true (rw->ascii_pos + line_len <= rw->ascii_len);
    assert_memory_equal (line, rw->ascii + rw->ascii_pos, line_len);
    rw->ascii_pos += line_len;
    assert_int_equal (attest_ima_entry_ascii (e, NULL, 0), line_len);
    return 0;
}

static void
test_writers_reproduce_lists (void **state)
{
    (void)state;
    for (size_t i = 0; i < S_LIST_COUNT; i++) {
        size_t bin_len, ascii_len;
        uint8_t *bin = s_read_vector (s_lists[i], "bin", &bin_len);
        uint8_t *ascii = s_read_vector (s_lists[i], "ascii", &ascii_len);
        s_rewrite_t rw = { bin, ascii, 0, ascii_len };
        attest_ima_state_t st;
        attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
        assert_int_equal (attest_ima_replay_buffer (bin, bin_len, &st, s_rewrite, &rw, NULL, 0),
                          WD_OK);
        assert_int_equal (rw.ascii_pos, ascii_len);
        free (bin);
        free (ascii);
    }
}

static void
test_make_ng (void **state)
{
    (void)state;
    uint8_t digest[32], data[256];
    memset (digest, 0xab, sizeof digest);
    attest_ima_entry_t e;
    assert_int_equal (
        attest_ima_entry_make_ng (&e, data, 10, 10, ATTEST_IMA_SHA256, digest, "/bin/sh", 7), 0);
    size_t n = attest_ima_entry_make_ng (&e, data, sizeof data, 10, ATTEST_IMA_SHA256, digest,
                                         "/bin/sh", 7);
    assert_int_equal (n, 4 + 8 + 32 + 4 + 8);
    uint8_t record[512];
    size_t size = attest_ima_entry_binary (&e, record, sizeof record);
    assert_int_equal (size, e.size);
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    assert_int_equal (attest_ima_replay_buffer (record, size, &st, NULL, NULL, NULL, 0), WD_OK);
    assert_int_equal (st.entries, 1);
    /* r = H(0 || v) for each bank */
    uint8_t buf[64] = { 0 }, expect[32];
    memcpy (buf + 20, e.sha1, 20);
    attest_ima_digest (ATTEST_IMA_SHA1, buf, 40, expect);
    assert_memory_equal (st.sha1, expect, 20);
    memset (buf, 0, sizeof buf);
    memcpy (buf + 32, e.sha256, 32);
    attest_ima_digest (ATTEST_IMA_SHA256, buf, 64, expect);
    assert_memory_equal (st.sha256, expect, 32);
}

/* ---- rejections ------------------------------------------------------------- */

/* Replays text as an ASCII list; returns the code and leaves why. */
static int
s_ascii (const char *text, char *why)
{
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_ASCII, 10, 0);
    return attest_ima_replay_buffer (text, strlen (text), &st, NULL, NULL, why, ATTEST_IMA_WHY_MAX);
}

#define S_OK_LINE                                                                                  \
    "10 6309e2c83b7814367bb3912a55e5473454623535 ima-ng "                                          \
    "sha256:f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3 boot_aggregate\n"
#define S_HASH   "6309e2c83b7814367bb3912a55e5473454623535"
#define S_SHA256 "f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3"

static void
test_ascii_rejections (void **state)
{
    (void)state;
    char why[ATTEST_IMA_WHY_MAX];
    assert_int_equal (s_ascii (S_OK_LINE, why), WD_OK);
    assert_int_equal (s_ascii ("", why), WD_OK);

    /* truncated: the last line has no newline */
    assert_int_equal (s_ascii (S_OK_LINE "10 " S_HASH " ima-ng sha256:" S_SHA256 " x", why),
                      ATTEST_ERR_IMA_TRUNCATED);
    assert_non_null (strstr (why, "line 2"));

    /* template name */
    assert_int_equal (s_ascii (S_OK_LINE "10 " S_HASH " ima-foo sha256:" S_SHA256 " x\n", why),
                      ATTEST_ERR_IMA_TEMPLATE_NAME);
    assert_non_null (strstr (why, "line 2"));
    assert_non_null (strstr (why, "ima-foo"));
    assert_int_equal (s_ascii ("10 " S_HASH " ima-ngv2 sha256:" S_SHA256 " x\n", why),
                      ATTEST_ERR_IMA_TEMPLATE_NAME);

    /* digest algorithm and length */
    assert_int_equal (
        s_ascii ("10 " S_HASH " ima-ng md5:00112233445566778899aabbccddeeff x\n", why),
        ATTEST_ERR_IMA_DIGEST_ALGO);
    assert_non_null (strstr (why, "md5"));
    assert_int_equal (s_ascii ("10 " S_HASH " ima-ng sha256:" S_HASH " x\n", why),
                      ATTEST_ERR_IMA_DIGEST_LENGTH);
    assert_int_equal (s_ascii ("10 " S_HASH " ima " S_SHA256 " x\n", why),
                      ATTEST_ERR_IMA_DIGEST_LENGTH);

    /* template hash: one digit changed */
    assert_int_equal (s_ascii ("10 6309e2c83b7814367bb3912a55e5473454623536 ima-ng sha256:" S_SHA256
                               " boot_aggregate\n",
                               why),
                      ATTEST_ERR_TEMPLATE_HASH);
    assert_non_null (strstr (why, "line 1"));
    assert_non_null (strstr (why, "boot_aggregate"));
    /* ... or the name changed under it */
    assert_int_equal (s_ascii ("10 " S_HASH " ima-ng sha256:" S_SHA256 " boot_aggregatf\n", why),
                      ATTEST_ERR_TEMPLATE_HASH);

    /* PCR range */
    assert_int_equal (s_ascii ("24 " S_HASH " ima-ng sha256:" S_SHA256 " x\n", why),
                      ATTEST_ERR_IMA_PCR_RANGE);
    assert_int_equal (s_ascii ("4294967306 " S_HASH " ima-ng sha256:" S_SHA256 " x\n", why),
                      ATTEST_ERR_IMA_SYNTAX);

    /* syntax, naming the field */
    static const struct {
        const char *line;
        const char *field;
    } bad[] = {
        { "x0 " S_HASH " ima-ng sha256:" S_SHA256 " x\n", "field 1" },
        { "010 " S_HASH " ima-ng sha256:" S_SHA256 " x\n", "field 1" },
        { " 10 " S_HASH " ima-ng sha256:" S_SHA256 " x\n", "field 1" },
        { "10\n", "after field 1" },
        { "10 6309e2c83b7814367bb3912a55e547345462353 ima-ng sha256:" S_SHA256 " x\n", "field 2" },
        { "10 6309e2c83b7814367bb3912a55e54734546235zz ima-ng sha256:" S_SHA256 " x\n", "field 2" },
        { "10 " S_HASH "\n", "after field 2" },
        { "10 " S_HASH " ima-ng\n", "after field 3" },
        { "10 " S_HASH " ima-ng " S_SHA256 " x\n", "field 4" },
        { "10 " S_HASH
          " ima-ng sha256:f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9"
          "cez x\n",
          "field 4" },
        { "10 " S_HASH " ima-ng sha256:" S_SHA256 "\n", "after field 4" },
        { "10 " S_HASH " ima-ng sha256:" S_SHA256 " x y\n", "field 5 is followed" },
        { "10 " S_HASH " ima-ng sha256:" S_SHA256 " x \n", "field 5 is followed" },
        { "10 " S_HASH " ima-sig sha256:" S_SHA256 " x 0302q4\n", "field 6 (signature)" },
        { "10 " S_HASH " ima-sig sha256:" S_SHA256 " x 030\n", "field 6 (signature)" },
        { "10 " S_HASH " ima-buf sha256:" S_SHA256 " x 00 00\n", "field 6 is followed" },
        { "\n", "field 1" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = s_ascii (bad[i].line, why);
        if (rc != ATTEST_ERR_IMA_SYNTAX || !strstr (why, bad[i].field))
            fprintf (stderr, "case %zu: %s -> %s\n", i, attest_err_name (rc), why);
        assert_int_equal (rc, ATTEST_ERR_IMA_SYNTAX);
        assert_non_null (strstr (why, bad[i].field));
    }
    char with_nul[] = "10 " S_HASH " ima-ng sha256:" S_SHA256 " a\0b\n";
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_ASCII, 10, 0);
    assert_int_equal (
        attest_ima_replay_buffer (with_nul, sizeof with_nul - 1, &st, NULL, NULL, why, sizeof why),
        ATTEST_ERR_IMA_SYNTAX);

    /* oversize: an event name past the limit, a line past the limit */
    size_t big = ATTEST_IMA_NAME_MAX + 200;
    char *line = malloc (big);
    assert_non_null (line);
    int n = snprintf (line, big, "10 %s ima-ng sha256:%s /", S_HASH, S_SHA256);
    memset (line + n, 'a', big - (size_t)n - 2);
    line[big - 2] = '\n';
    line[big - 1] = '\0';
    assert_int_equal (s_ascii (line, why), ATTEST_ERR_IMA_OVERSIZE);
    free (line);
    big = ATTEST_IMA_LINE_MAX + 10;
    line = malloc (big);
    assert_non_null (line);
    memset (line, '1', big - 1);
    line[big - 1] = '\0';
    assert_int_equal (s_ascii (line, why), ATTEST_ERR_IMA_OVERSIZE);
    /* the same, fed a byte at a time, never buffers past the limit */
    attest_ima_state_init (&st, ATTEST_IMA_ASCII, 10, 0);
    attest_ima_parser_t *p = attest_ima_parser_new (&st);
    int rc = WD_OK;
    for (size_t i = 0; i < big - 1 && rc == WD_OK; i += 4096)
        rc = attest_ima_parser_feed (p, line + i, big - 1 - i < 4096 ? big - 1 - i : 4096, NULL,
                                     NULL);
    assert_int_equal (rc, ATTEST_ERR_IMA_OVERSIZE);
    attest_ima_parser_destroy (&p);
    free (line);

    /* an ima-sig line that lost its trailing space is read as unsigned; the
       kernel's own form with the space is the same entry */
    assert_int_equal (s_ascii ("10 0c8a706a75a5689c1e168f0a573a3cbec33061b5 ima-sig "
                               "sha256:e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb"
                               "31216 boot_aggregate\n",
                               why),
                      WD_OK);
    /* a violation checks the form but not the hash */
    assert_int_equal (s_ascii ("10 0000000000000000000000000000000000000000 ima-ng sha256:" S_SHA256
                               " anything\n",
                               why),
                      WD_OK);
    /* a SHA-256 template hash, as the unmerged kernel proposal prints it */
    uint8_t digest[32], data[128];
    char line2[512], th[65], dg[65];
    memset (digest, 0x42, sizeof digest);
    attest_ima_entry_t e;
    assert_true (attest_ima_entry_make_ng (&e, data, sizeof data, 10, ATTEST_IMA_SHA256, digest,
                                           "/bin/sh", 7) > 0);
    wd_hex_encode (th, e.sha256, 32);
    wd_hex_encode (dg, digest, 32);
    snprintf (line2, sizeof line2, "10 sha256:%s ima-ng sha256:%s /bin/sh\n", th, dg);
    attest_ima_state_t sha256_list;
    attest_ima_state_init (&sha256_list, ATTEST_IMA_ASCII, 10, 0);
    assert_int_equal (
        attest_ima_replay_buffer (line2, strlen (line2), &sha256_list, NULL, NULL, why, sizeof why),
        WD_OK);
    /* the same registers as the SHA-1 form of the entry */
    char sha1_line[512];
    assert_true (attest_ima_entry_ascii (&e, sha1_line, sizeof sha1_line) < sizeof sha1_line);
    sha1_line[attest_ima_entry_ascii (&e, NULL, 0)] = '\0';
    attest_ima_state_t sha1_list;
    attest_ima_state_init (&sha1_list, ATTEST_IMA_ASCII, 10, 0);
    assert_int_equal (attest_ima_replay_buffer (sha1_line, strlen (sha1_line), &sha1_list, NULL,
                                                NULL, why, sizeof why),
                      WD_OK);
    assert_memory_equal (sha256_list.sha1, sha1_list.sha1, 20);
    assert_memory_equal (sha256_list.sha256, sha1_list.sha256, 32);
    line2[11] = line2[11] == '0' ? '1' : '0'; /* a digit of the SHA-256 template hash */
    assert_int_equal (s_ascii (line2, why), ATTEST_ERR_TEMPLATE_HASH);
    snprintf (line2, sizeof line2, "10 sha256:%064d ima-ng sha256:%s /bin/sh\n", 0, dg);
    assert_int_equal (s_ascii (line2, why), WD_OK); /* a violation */
    snprintf (line2, sizeof line2, "10 sha256:%s ima-ng sha256:%s /bin/sh\n", dg + 2, dg);
    assert_int_equal (s_ascii (line2, why), ATTEST_ERR_IMA_SYNTAX);

    /* single-digit PCRs are printed "%2d" */
    assert_int_equal (s_ascii (" 9 " S_HASH " ima-ng sha256:" S_SHA256 " boot_aggregate\n", why),
                      WD_OK);
}

/* A binary record: header, template name, then body (data length included
   by the caller except for `ima`). */
static size_t
s_record (uint8_t *out, uint32_t pcr, const uint8_t hash[20], const char *tname,
          const uint8_t *body, size_t body_len)
{
    size_t tl = strlen (tname);
    uint32_t v = pcr;
    memcpy (out, &v, 4); /* the test host is little-endian, like the lists */
    memcpy (out + 4, hash, 20);
    v = (uint32_t)tl;
    memcpy (out + 24, &v, 4);
    memcpy (out + 28, tname, tl);
    memcpy (out + 28 + tl, body, body_len);
    return 28 + tl + body_len;
}

static size_t
s_put32 (uint8_t *p, uint32_t v)
{
    memcpy (p, &v, 4);
    return 4;
}

/* Template data "<alg>:\0 digest" + name, with its length prefix, in body. */
static size_t
s_ng_body (uint8_t *body, const char *alg, size_t digest_len, const char *name)
{
    size_t n = 4; /* data length, filled last */
    size_t al = strlen (alg);
    n += s_put32 (body + n, (uint32_t)(al + 2 + digest_len));
    memcpy (body + n, alg, al), n += al;
    body[n++] = ':';
    body[n++] = 0;
    memset (body + n, 0x5a, digest_len), n += digest_len;
    size_t nl = strlen (name) + 1;
    n += s_put32 (body + n, (uint32_t)nl);
    memcpy (body + n, name, nl), n += nl;
    s_put32 (body, (uint32_t)(n - 4));
    return n;
}

static int
s_binary (const uint8_t *data, size_t len, char *why)
{
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    return attest_ima_replay_buffer (data, len, &st, NULL, NULL, why, ATTEST_IMA_WHY_MAX);
}

/* The SHA-1 template hash of a body built by s_ng_body. */
static void
s_body_hash (const uint8_t *body, size_t body_len, uint8_t hash[20])
{
    attest_ima_digest (ATTEST_IMA_SHA1, body + 4, body_len - 4, hash);
}

static void
test_binary_rejections (void **state)
{
    (void)state;
    char why[ATTEST_IMA_WHY_MAX];
    uint8_t *rec = calloc (1, 2 * ATTEST_IMA_DATA_MAX);
    uint8_t *body = calloc (1, 2 * ATTEST_IMA_DATA_MAX);
    assert_non_null (rec);
    assert_non_null (body);
    uint8_t hash[20];

    /* a valid record to start from */
    size_t bl = s_ng_body (body, "sha256", 32, "/bin/true");
    s_body_hash (body, bl, hash);
    size_t len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), WD_OK);

    /* truncated anywhere */
    for (size_t cut = 1; cut < len; cut++)
        assert_int_equal (s_binary (rec, cut, why), ATTEST_ERR_IMA_TRUNCATED);
    /* a second record cut short names its position */
    memcpy (rec + len, rec, len);
    assert_int_equal (s_binary (rec, 2 * len - 1, why), ATTEST_ERR_IMA_TRUNCATED);
    char at[64];
    snprintf (at, sizeof at, "entry 1 at byte %zu", len);
    assert_non_null (strstr (why, at));

    /* template hash */
    rec[4] ^= 1;
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_TEMPLATE_HASH);
    rec[4] ^= 1;
    rec[len - 2] ^= 1; /* a byte of the name */
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_TEMPLATE_HASH);
    rec[len - 2] ^= 1;

    /* PCR range */
    len = s_record (rec, 24, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_PCR_RANGE);
    len = s_record (rec, 0x0a000000, hash, "ima-ng", body, bl); /* big-endian 10 */
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_PCR_RANGE);

    /* template names */
    len = s_record (rec, 10, hash, "ima-nx", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_TEMPLATE_NAME);
    len = s_record (rec, 10, hash, "ima-modsig", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_TEMPLATE_NAME);
    len = s_record (rec, 10, hash, "ima-ng-but-much-longer", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_TEMPLATE_NAME);
    len = s_record (rec, 10, hash, "", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_TEMPLATE_NAME);

    /* oversize: template data, `ima` name, n-ng name */
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    s_put32 (rec + 34, ATTEST_IMA_DATA_MAX + 1);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_OVERSIZE);
    s_put32 (rec + 34, 0xffffffffu);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_OVERSIZE);
    uint8_t old[24 + 300] = { 0 };
    s_put32 (old + 20, 256);
    len = s_record (rec, 10, hash, "ima", old, sizeof old);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_OVERSIZE);
    char *long_name = malloc (ATTEST_IMA_NAME_MAX + 2);
    memset (long_name, 'n', ATTEST_IMA_NAME_MAX + 1);
    long_name[ATTEST_IMA_NAME_MAX + 1] = '\0';
    bl = s_ng_body (body, "sha256", 32, long_name);
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_OVERSIZE);
    long_name[ATTEST_IMA_NAME_MAX] = '\0'; /* exactly the limit is fine */
    bl = s_ng_body (body, "sha256", 32, long_name);
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), WD_OK);
    free (long_name);

    /* digest algorithm and length */
    bl = s_ng_body (body, "md5", 16, "/x");
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_DIGEST_ALGO);
    bl = s_ng_body (body, "sm3", 32, "/x");
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_DIGEST_ALGO);
    bl = s_ng_body (body, "sha384", 32, "/x");
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-sig", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_DIGEST_LENGTH);

    /* fields that do not add up */
    bl = s_ng_body (body, "sha256", 32, "/x");
    body[bl++] = 0; /* a stray byte after n-ng */
    s_put32 (body, (uint32_t)(bl - 4));
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);
    assert_non_null (strstr (why, "follow the last template field"));
    bl = s_ng_body (body, "sha256", 32, "/x");
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-sig", body, bl); /* no sig field */
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);
    assert_non_null (strstr (why, "before field sig"));
    bl = s_ng_body (body, "sha256", 32, "/x");
    body[bl - 1] = 'y'; /* n-ng without its NUL */
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);
    bl = s_ng_body (body, "sha256", 32, "/x");
    body[8 + 6 + 1] = 'x'; /* "sha256:" not followed by NUL */
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);
    bl = s_ng_body (body, "sha256", 32, "/x");
    s_put32 (body + 4, 1000); /* d-ng runs past the data */
    s_body_hash (body, bl, hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);
    uint8_t named[24 + 4] = { 0 };
    s_put32 (named + 20, 4);
    memcpy (named + 24, "a\0bc", 4);
    len = s_record (rec, 10, hash, "ima", named, sizeof named);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_FIELD);

    /* a violation's data is not hashed but still parsed */
    bl = s_ng_body (body, "sha256", 32, "/x");
    memset (hash, 0, sizeof hash);
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), WD_OK);
    bl = s_ng_body (body, "md5", 16, "/x");
    len = s_record (rec, 10, hash, "ima-ng", body, bl);
    assert_int_equal (s_binary (rec, len, why), ATTEST_ERR_IMA_DIGEST_ALGO);

    free (rec);
    free (body);
}

static int
s_stop_at_three (const attest_ima_entry_t *e, const attest_ima_state_t *st, void *arg)
{
    (void)st;
    (void)arg;
    return e->index == 3 ? 42 : 0;
}

static void
test_callback_stop_and_states (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_read_vector ("gen-ng-sha256", "bin", &len);
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    attest_ima_parser_t *p = attest_ima_parser_new (&st);
    assert_int_equal (attest_ima_parser_feed (p, data, len, s_stop_at_three, NULL), 42);
    assert_int_equal (attest_ima_parser_state (p)->entries, 4);
    assert_int_equal (attest_ima_parser_feed (p, data, len, NULL, NULL), 42);
    assert_int_equal (attest_ima_parser_finish (p), 42);
    assert_string_equal (attest_ima_parser_why (p), "");
    attest_ima_parser_destroy (&p);
    attest_ima_parser_destroy (&p); /* safe on NULL */

    /* states that cannot be continued */
    attest_ima_state_t bad;
    attest_ima_state_init (&bad, ATTEST_IMA_BINARY, 10, 0);
    bad.offset = 10; /* bytes without entries */
    assert_null (attest_ima_parser_new (&bad));
    assert_int_equal (attest_ima_replay_buffer (data, len, &bad, NULL, NULL, NULL, 0),
                      ATTEST_ERR_IMA_STATE);
    bad.offset = 0;
    bad.pcr = 24;
    assert_null (attest_ima_parser_new (&bad));
    bad.pcr = 10;
    bad.format = 2;
    assert_null (attest_ima_parser_new (&bad));
    bad.format = ATTEST_IMA_BINARY;
    bad.flags = 2;
    assert_null (attest_ima_parser_new (&bad));

    /* a saved offset past the end of the file */
    char path[512], why[ATTEST_IMA_WHY_MAX];
    s_path (path, sizeof path, "gen-ng-sha256", ATTEST_IMA_BINARY);
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    st.entries = 100;
    st.offset = len + 1;
    assert_int_equal (attest_ima_replay_file (path, &st, NULL, NULL, why, sizeof why),
                      ATTEST_ERR_IMA_STATE);
    assert_non_null (strstr (why, "fewer than the saved offset"));
    /* an offset that is not an entry boundary */
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    st.entries = 1;
    st.offset = 5;
    assert_int_equal (attest_ima_replay_file (path, &st, NULL, NULL, why, sizeof why),
                      ATTEST_ERR_IMA_PCR_RANGE);
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    assert_int_equal (attest_ima_replay_file ("/nonexistent/ima", &st, NULL, NULL, why, sizeof why),
                      WD_ERR_NOT_FOUND);
    free (data);
}

static void
test_state_codec (void **state)
{
    (void)state;
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_ASCII, 10, ATTEST_IMA_SHA256_PADDED_SHA1);
    st.entries = 300;
    st.offset = 70000;
    memset (st.sha1, 0x11, 20);
    memset (st.sha256, 0x22, 32);
    wd_writer_t *w = wd_writer_new ();
    attest_ima_state_write (w, &st);
    size_t len;
    uint8_t *packed = wd_writer_take (w, &len);
    /* {entries: 300, flags: 1, format: 0, offset: 70000, pcr: 10, sha1, sha256} */
    static const uint8_t head[] = { 0x87, 0xa7, 'e',  'n', 't', 'r', 'i', 'e', 's', 0xcd,
                                    0x01, 0x2c, 0xa5, 'f', 'l', 'a', 'g', 's', 0x01 };
    assert_memory_equal (packed, head, sizeof head);
    wd_reader_t r;
    attest_ima_state_t back;
    wd_reader_init (&r, packed, len);
    assert_true (attest_ima_state_read (&r, &back));
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_memory_equal (&back, &st, sizeof st);
    /* pcr 24 is out of range */
    st.pcr = 23;
    wd_writer_reset (w);
    attest_ima_state_write (w, &st);
    uint8_t *p23 = wd_writer_take (w, &len);
    for (size_t i = 0; i + 4 < len; i++)
        if (memcmp (p23 + i, "\xa3pcr\x17", 5) == 0)
            p23[i + 4] = 24;
    wd_reader_init (&r, p23, len);
    assert_false (attest_ima_state_read (&r, &back));
    assert_int_equal (wd_reader_finish (&r), WD_ERR_OUT_OF_RANGE);
    /* a short register */
    wd_writer_reset (w);
    wd_writer_map (w, 7);
    wd_writer_key (w, "entries");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "flags");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "format");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "offset");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "pcr");
    wd_writer_uint (w, 10);
    wd_writer_key (w, "sha1");
    wd_writer_bin (w, st.sha1, 19);
    wd_writer_key (w, "sha256");
    wd_writer_bin (w, st.sha256, 32);
    const uint8_t *shortreg = wd_writer_data (w, &len);
    wd_reader_init (&r, shortreg, len);
    assert_false (attest_ima_state_read (&r, &back));
    assert_int_equal (wd_reader_finish (&r), WD_ERR_BAD_LENGTH);
    free (packed);
    free (p23);
    wd_writer_destroy (&w);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_hashes),
        cmocka_unit_test (test_vectors_replay),
        cmocka_unit_test (test_other_pcrs),
        cmocka_unit_test (test_ascii_and_binary_agree),
        cmocka_unit_test (test_chunked_feed),
        cmocka_unit_test (test_incremental),
        cmocka_unit_test (test_writers_reproduce_lists),
        cmocka_unit_test (test_make_ng),
        cmocka_unit_test (test_ascii_rejections),
        cmocka_unit_test (test_binary_rejections),
        cmocka_unit_test (test_callback_stop_and_states),
        cmocka_unit_test (test_state_codec),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
