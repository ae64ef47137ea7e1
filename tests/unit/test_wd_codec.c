/*
 * Unit tests for wd_codec: writer output byte-exact, every canonical-form
 * rejection named, and the schema reader's errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wd_codec.h"

#define CHECK(expected, ...)                                                                       \
    do {                                                                                           \
        const uint8_t in_[] = { __VA_ARGS__ };                                                     \
        assert_int_equal (wd_codec_check (in_, sizeof in_, 1024, NULL), expected);                 \
    } while (0)

static void
test_writer_bytes (void **state)
{
    (void)state;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "a");
    wd_writer_uint (w, 200);
    wd_writer_key (w, "b");
    wd_writer_int (w, -33);
    wd_writer_key (w, "bb");
    wd_writer_array (w, 2);
    wd_writer_bin (w, "\x01\x02", 2);
    wd_writer_bool (w, true);
    wd_writer_key (w, "c");
    wd_writer_cstr (w, "hi");
    size_t len;
    const uint8_t *data = wd_writer_data (w, &len);
    const uint8_t expected[] = { 0x84, 0xa1, 'a', 0xcc, 200, 0xa1, 'b',  0xd0, 0xdf, 0xa2, 'b', 'b',
                                 0x92, 0xc4, 2,   1,    2,   0xc3, 0xa1, 'c',  0xa2, 'h',  'i' };
    assert_int_equal (len, sizeof expected);
    assert_memory_equal (data, expected, len);
    assert_int_equal (wd_codec_check (data, len, 1024, NULL), WD_OK);

    size_t taken_len;
    uint8_t *taken = wd_writer_take (w, &taken_len);
    assert_int_equal (taken_len, sizeof expected);
    assert_memory_equal (taken, expected, taken_len);
    free (taken);
    wd_writer_data (w, &len);
    assert_int_equal (len, 0);
    wd_writer_destroy (&w);
    assert_null (w);
    wd_writer_destroy (&w);
}

/* msgpack-c must emit the shortest form at every boundary: check the writer
   against the validator for values around each one. */
static void
test_writer_boundaries_are_canonical (void **state)
{
    (void)state;
    const uint64_t uints[] = {
        0, 127, 128, 255, 256, 65535, 65536, 0xffffffffu, 0x100000000ull, UINT64_MAX
    };
    const int64_t ints[] = {
        -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN
    };
    const size_t lens[] = { 0, 15, 16, 31, 32, 255, 256, 65535, 65536 };
    wd_writer_t *w = wd_writer_new ();
    size_t len;
    const uint8_t *data;
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        wd_writer_reset (w);
        wd_writer_uint (w, uints[i]);
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_codec_check (data, len, 1024, NULL), WD_OK);
        wd_writer_reset (w);
        wd_writer_int (w, ints[i]);
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_codec_check (data, len, 1024, NULL), WD_OK);
    }
    char *blob = calloc (1, 65536);
    memset (blob, 'x', 65536);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        wd_writer_reset (w);
        wd_writer_str (w, blob, lens[i]);
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_codec_check (data, len, 65536, NULL), WD_OK);
        wd_writer_reset (w);
        wd_writer_bin (w, blob, lens[i]);
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_codec_check (data, len, 65536, NULL), WD_OK);
        wd_writer_reset (w);
        wd_writer_array (w, lens[i]);
        for (size_t k = 0; k < lens[i]; k++)
            wd_writer_nil (w);
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_codec_check (data, len, 65536, NULL), WD_OK);
    }
    free (blob);
    wd_writer_destroy (&w);
}

static void
test_accepts_canonical (void **state)
{
    (void)state;
    CHECK (WD_OK, 0x00);
    CHECK (WD_OK, 0xc0);
    CHECK (WD_OK, 0xc2);
    CHECK (WD_OK, 0xcc, 0x80);
    CHECK (WD_OK, 0xd0, 0xdf);                                  /* -33 */
    CHECK (WD_OK, 0xd1, 0xff, 0x7f);                            /* -129 */
    CHECK (WD_OK, 0xc4, 0x00);                                  /* empty bin */
    CHECK (WD_OK, 0x80);                                        /* empty map */
    CHECK (WD_OK, 0x82, 0xa1, 'a', 0x01, 0xa2, 'a', 'a', 0x02); /* "a" < "aa" */
    CHECK (WD_OK, 0xa2, 0xc3, 0xa9);                            /* "é" */
}

static void
test_rejects_noncanonical_integers (void **state)
{
    (void)state;
    CHECK (WD_ERR_INT_NONCANONICAL, 0xcc, 0x7f);                   /* 127 as uint8 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xcd, 0x00, 0xff);             /* 255 as uint16 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xce, 0x00, 0x00, 0xff, 0xff); /* 65535 as uint32 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff);
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd0, 0x05);                   /* 5 as int8 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd0, 0xe0);                   /* -32 as int8 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd1, 0xff, 0x80);             /* -128 as int16 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd2, 0xff, 0xff, 0x80, 0x00); /* -32768 as int32 */
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0);
    CHECK (WD_ERR_INT_NONCANONICAL, 0xd3, 0, 0, 0, 0, 0, 0, 0, 1); /* 1 as int64 */
}

static void
test_rejects_noncanonical_lengths (void **state)
{
    (void)state;
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xd9, 0x01, 'a');        /* str8 for 1 byte */
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xda, 0x00, 0x01, 'a');  /* str16 */
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xc5, 0x00, 0x01, 0x00); /* bin16 for 1 byte */
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xdc, 0x00, 0x01, 0xc0); /* array16 of 1 */
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xde, 0x00, 0x00);       /* map16 of 0 */
    CHECK (WD_ERR_LEN_NONCANONICAL, 0xdd, 0, 0, 0, 0);       /* array32 of 0 */
}

static void
test_rejects_each_reason (void **state)
{
    (void)state;
    CHECK (WD_ERR_FLOAT, 0xca, 0, 0, 0, 0);
    CHECK (WD_ERR_FLOAT, 0x91, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0);
    CHECK (WD_ERR_EXT, 0xd4, 0x01, 0x00);
    CHECK (WD_ERR_EXT, 0xc7, 0x00, 0x01);
    CHECK (WD_ERR_BAD_TYPE, 0xc1);
    CHECK (WD_ERR_TRAILING, 0x01, 0x02);
    CHECK (WD_ERR_TRUNCATED);
    CHECK (WD_ERR_TRUNCATED, 0xcd, 0x01);
    CHECK (WD_ERR_TRUNCATED, 0xa3, 'a', 'b');
    CHECK (WD_ERR_TRUNCATED, 0x92, 0x01);
    /* a declared count the input cannot hold is refused before any work */
    CHECK (WD_ERR_TRUNCATED, 0xdc, 0x03, 0xe8, 0xc0);
    CHECK (WD_ERR_OVERSIZE, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0);
    CHECK (WD_ERR_KEY_TYPE, 0x81, 0x01, 0x02);
    CHECK (WD_ERR_KEYS_UNSORTED, 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02);
    CHECK (WD_ERR_KEYS_UNSORTED, 0x82, 0xa2, 'a', 'a', 0x01, 0xa1, 'a', 0x02);
    CHECK (WD_ERR_KEY_DUPLICATE, 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02);
    CHECK (WD_ERR_BAD_UTF8, 0xa1, 0xff);
    CHECK (WD_ERR_BAD_UTF8, 0xa2, 0xc0, 0xaf);       /* overlong '/' */
    CHECK (WD_ERR_BAD_UTF8, 0xa3, 0xed, 0xa0, 0x80); /* surrogate */
    CHECK (WD_ERR_BAD_UTF8, 0x81, 0xa1, 0x80, 0x00); /* in a key */
}

static void
test_depth_and_size_limits (void **state)
{
    (void)state;
    uint8_t deep[WD_CODEC_MAX_DEPTH + 2];
    memset (deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0xc0;
    /* MAX_DEPTH nested arrays around nil pass, one more fails */
    assert_int_equal (wd_codec_check (deep + 1, sizeof deep - 1, 16, NULL), WD_OK);
    size_t offset = 0;
    assert_int_equal (wd_codec_check (deep, sizeof deep, 16, &offset), WD_ERR_TOO_DEEP);
    assert_int_equal (offset, WD_CODEC_MAX_DEPTH);

    const uint8_t str[] = { 0xa4, 'a', 'b', 'c', 'd' };
    assert_int_equal (wd_codec_check (str, sizeof str, 4, NULL), WD_OK);
    assert_int_equal (wd_codec_check (str, sizeof str, 3, NULL), WD_ERR_OVERSIZE);
    const uint8_t arr[] = { 0x93, 1, 2, 3 };
    assert_int_equal (wd_codec_check (arr, sizeof arr, 2, NULL), WD_ERR_OVERSIZE);
}

/* A small schema: {"id": bin32, "n": uint <= 1000, "name"?: str, "tags": [str]} */
typedef struct {
    uint8_t id[32];
    uint64_t n;
    char name[16];
    bool has_name;
    size_t tags;
} sample_t;

static wd_err_t
s_decode_sample (const uint8_t *buf, size_t len, sample_t *out)
{
    wd_reader_t r;
    size_t count;
    memset (out, 0, sizeof *out);
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "id");
    wd_read_bin_fixed (&r, out->id, sizeof out->id);
    wd_read_key (&r, "n");
    wd_read_uint (&r, &out->n, 1000);
    if (wd_read_key_opt (&r, "name")) {
        out->has_name = true;
        wd_read_cstr (&r, out->name, sizeof out->name);
    }
    wd_read_key (&r, "tags");
    if (wd_read_array (&r, &out->tags)) {
        for (size_t i = 0; i < out->tags; i++) {
            const char *tag;
            size_t tag_len;
            wd_read_str (&r, &tag, &tag_len, 8);
        }
        wd_read_end (&r);
    }
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

static uint8_t *
s_encode_sample (size_t *len, const char *name, uint64_t n, size_t id_len, bool extra_key)
{
    uint8_t id[40] = { 7 };
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3 + (name != NULL) + extra_key);
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, id_len);
    wd_writer_key (w, "n");
    wd_writer_uint (w, n);
    if (name) {
        wd_writer_key (w, "name");
        wd_writer_cstr (w, name);
    }
    wd_writer_key (w, "tags");
    wd_writer_array (w, 2);
    wd_writer_cstr (w, "x");
    wd_writer_cstr (w, "y");
    if (extra_key) {
        wd_writer_key (w, "zz");
        wd_writer_nil (w);
    }
    uint8_t *data = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return data;
}

static void
test_reader_schema (void **state)
{
    (void)state;
    sample_t s;
    size_t len;
    uint8_t *buf = s_encode_sample (&len, "node", 5, 32, false);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_OK);
    assert_int_equal (s.n, 5);
    assert_true (s.has_name);
    assert_string_equal (s.name, "node");
    assert_int_equal (s.tags, 2);
    assert_int_equal (s.id[0], 7);
    free (buf);

    buf = s_encode_sample (&len, NULL, 5, 32, false);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_OK);
    assert_false (s.has_name);
    free (buf);

    buf = s_encode_sample (&len, NULL, 1001, 32, false);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (s.n, 0);
    free (buf);

    buf = s_encode_sample (&len, NULL, 5, 31, false);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_ERR_BAD_LENGTH);
    free (buf);

    buf = s_encode_sample (&len, "a-name-that-is-too-long", 5, 32, false);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_ERR_OVERSIZE);
    free (buf);

    buf = s_encode_sample (&len, NULL, 5, 32, true);
    assert_int_equal (s_decode_sample (buf, len, &s), WD_ERR_UNKNOWN_KEY);
    free (buf);
}

static void
test_reader_errors (void **state)
{
    (void)state;
    sample_t s;
    /* {"id": bin32...} missing "n": next key "tags" sorts after "n" */
    uint8_t missing[] = { 0x82, 0xa2, 'i', 'd', 0xc4, 32, [38] = 0xa4, 't', 'a', 'g', 's', 0x90 };
    assert_int_equal (s_decode_sample (missing, sizeof missing, &s), WD_ERR_MISSING_KEY);
    /* an unknown key that sorts before "id" */
    const uint8_t unknown[] = { 0x81, 0xa1, 'a', 0x01 };
    assert_int_equal (s_decode_sample (unknown, sizeof unknown, &s), WD_ERR_UNKNOWN_KEY);
    /* the error offset points at the unknown key */
    wd_reader_t kr;
    size_t kcount;
    wd_reader_init (&kr, unknown, sizeof unknown);
    assert_int_equal (wd_reader_error_offset (&kr), 0);
    wd_read_map (&kr, &kcount);
    wd_read_key (&kr, "id");
    assert_int_equal (wd_reader_error_offset (&kr), 1);
    const uint8_t not_map[] = { 0x90 };
    assert_int_equal (s_decode_sample (not_map, sizeof not_map, &s), WD_ERR_WRONG_TYPE);
    const uint8_t empty_map[] = { 0x80 };
    assert_int_equal (s_decode_sample (empty_map, sizeof empty_map, &s), WD_ERR_MISSING_KEY);

    /* trailing bytes after a complete value */
    size_t len;
    uint8_t *buf = s_encode_sample (&len, NULL, 5, 32, false);
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, buf, len);
    longer[len] = 0xc0;
    assert_int_equal (s_decode_sample (longer, len + 1, &s), WD_ERR_TRAILING);
    /* truncation anywhere is an error, never a crash */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal (s_decode_sample (buf, cut, &s), WD_OK);
    free (longer);
    free (buf);

    /* a string with a NUL cannot become a C string */
    const uint8_t nul[] = { 0xa3, 'a', 0, 'b' };
    wd_reader_t r;
    char out[8];
    wd_reader_init (&r, nul, sizeof nul);
    wd_read_cstr (&r, out, sizeof out);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_BAD_VALUE);
}

static void
test_reader_ints_and_raw (void **state)
{
    (void)state;
    const uint8_t in[] = { 0x94, 0xd0, 0xdf, 0x05, 0xc3, 0x81, 0xa1, 'k', 0x92, 0x01, 0x02 };
    wd_reader_t r;
    size_t count;
    int64_t a, b;
    bool flag;
    const uint8_t *raw;
    size_t raw_len;
    wd_reader_init (&r, in, sizeof in);
    wd_read_array (&r, &count);
    assert_int_equal (count, 4);
    wd_read_int (&r, &a, -100, 100);
    wd_read_int (&r, &b, -100, 100);
    wd_read_bool (&r, &flag);
    wd_read_raw (&r, &raw, &raw_len);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_int_equal (a, -33);
    assert_int_equal (b, 5);
    assert_true (flag);
    assert_int_equal (raw_len, 6);
    assert_ptr_equal (raw, in + 5);

    uint64_t u;
    wd_reader_init (&r, in + 1, 2); /* -33 where a uint is wanted */
    wd_read_uint (&r, &u, 10);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_OUT_OF_RANGE);
    wd_reader_init (&r, in + 1, 2);
    wd_read_int (&r, &a, -10, 10);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_OUT_OF_RANGE);

    /* an array with more values than the schema reads */
    wd_reader_init (&r, in, sizeof in);
    wd_read_array (&r, &count);
    wd_read_int (&r, &a, -100, 100);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_BAD_LENGTH);

    /* an array with fewer values than the schema reads (a peer's [[0]] where
       a [index, sig] pair is due): an input error, never an abort */
    const uint8_t short_pair[] = { 0x91, 0x91, 0x00 };
    wd_reader_init (&r, short_pair, sizeof short_pair);
    wd_read_array (&r, &count);
    wd_read_array (&r, &count);
    wd_read_uint (&r, &u, 10);
    wd_read_raw (&r, &raw, &raw_len);
    wd_read_end (&r);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_BAD_LENGTH);
    assert_int_equal (wd_reader_error_offset (&r), 3);
    const uint8_t empty[] = { 0x90 };
    wd_reader_init (&r, empty, sizeof empty);
    wd_read_array (&r, &count);
    wd_read_bool (&r, &flag);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_ERR_BAD_LENGTH);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_writer_bytes),
        cmocka_unit_test (test_writer_boundaries_are_canonical),
        cmocka_unit_test (test_accepts_canonical),
        cmocka_unit_test (test_rejects_noncanonical_integers),
        cmocka_unit_test (test_rejects_noncanonical_lengths),
        cmocka_unit_test (test_rejects_each_reason),
        cmocka_unit_test (test_depth_and_size_limits),
        cmocka_unit_test (test_reader_schema),
        cmocka_unit_test (test_reader_errors),
        cmocka_unit_test (test_reader_ints_and_raw),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
