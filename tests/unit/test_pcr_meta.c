/*
 * Unit tests for the PCR signer's metadata parser (pcr_signer_meta) on the
 * sample exports in tests/vectors/pcr (Applied Biosystems 7500 and
 * QuantStudio text, RDML), and the exact reasons for files that cannot be
 * parsed (which are still signed, with parsed false).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule_err.h"
#include "capsule_verify.h"
#include "pcr_signer.h"
#include "pcr_signer_meta.h"
#include "test_support.h"
#include "wd_codec.h"

static uint8_t *
s_vector (const char *name, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/pcr/%s", WARDEN_VECTORS_DIR, name);
    return test_read_file (path, len);
}

/* The written metadata is canonical msgpack (it goes into signed data). */
static void
s_check_canonical (const capsule_pcr_meta_t *meta)
{
    wd_writer_t *w = wd_writer_new ();
    capsule_pcr_meta_write (w, meta);
    size_t len;
    const uint8_t *buf = wd_writer_data (w, &len);
    assert_int_equal (wd_codec_check (buf, len, 1 << 20, NULL), WD_OK);
    assert_true (capsule_msgpack_canonical (buf, len));
    wd_writer_destroy (&w);
}

static void
test_ab7500 (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_vector ("ab7500_sample.txt", &len);
    capsule_pcr_meta_t m;
    assert_int_equal (capsule_pcr_meta_parse ("plate14.txt", data, len, &m), 0);
    assert_true (m.parsed);
    assert_string_equal (m.format, "ab-text");
    assert_string_equal (m.instrument_type, "sds7500fast");
    assert_string_equal (m.instrument_serial, "275012345");
    assert_string_equal (m.experiment_name, "2026-11-20 SARS-CoV-2 plate 14");
    assert_string_equal (m.run_end, "2026-11-20 16:42:07 PM CET");
    assert_non_null (strstr (m.experiment_file, "plate 14.eds"));
    assert_int_equal (m.nsamples, 4);
    assert_string_equal (m.samples[0].well, "A1");
    assert_string_equal (m.samples[0].ct, "Undetermined");
    assert_string_equal (m.samples[1].ct, "21.487");
    assert_string_equal (m.samples[3].sample, "Patient-0418 (M\xc3\xbcller)");
    assert_string_equal (m.samples[3].target, "RNase P");
    assert_string_equal (m.reason, "");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);
    free (data);
}

static void
test_quantstudio (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_vector ("quantstudio_sample.txt", &len);
    capsule_pcr_meta_t m;
    assert_int_equal (capsule_pcr_meta_parse ("run_0031.txt", data, len, &m), 0);
    assert_string_equal (m.instrument_type, "QuantStudio\xe2\x84\xa2 5 System");
    assert_int_equal (m.nsamples, 2);
    assert_string_equal (m.samples[1].ct, "1018.2"); /* thousands separator removed */
    assert_string_equal (m.samples[1].well, "A2");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);
    free (data);
}

static void
test_rdml (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_vector ("sample.rdml", &len);
    capsule_pcr_meta_t m;
    assert_int_equal (capsule_pcr_meta_parse ("sample.rdml", data, len, &m), 0);
    assert_string_equal (m.format, "rdml");
    assert_string_equal (m.experiment_name, "SARS-CoV-2 plate 14");
    assert_string_equal (m.instrument_type, "Applied Biosystems 7500 Fast (275012345)");
    assert_string_equal (m.run_end, "2026-11-20T16:42:07");
    assert_string_equal (m.experiment_file, "sample.rdml");
    assert_int_equal (m.nsamples, 2);
    assert_string_equal (m.samples[0].sample, "NTC");
    assert_string_equal (m.samples[0].ct, "");
    assert_string_equal (m.samples[1].well, "3");
    assert_string_equal (m.samples[1].target, "N1");
    assert_string_equal (m.samples[1].ct, "27.905");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);

    /* a damaged archive: cut short, and a flipped byte in the XML stream */
    assert_int_equal (capsule_pcr_meta_parse ("x.rdml", data, len / 2, &m), CAPSULE_ERR_META_ZIP);
    assert_false (m.parsed);
    assert_string_equal (m.format, "rdml");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);
    free (data);
}

static void
test_unparsable (void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        int code;
    } cases[] = {
        { "just some words\n", 16, CAPSULE_ERR_META_FORMAT },
        { "* Instrument Type = x\n", 22, CAPSULE_ERR_META_SYNTAX },               /* no [Results] */
        { "* Instrument Type\n[Results]\n", 28, CAPSULE_ERR_META_SYNTAX },        /* no '=' */
        { "* A = b\n[Results]\nSample Name\tCT\n", 33, CAPSULE_ERR_META_SYNTAX }, /* no Well */
        { "* A = \xff\n", 8, CAPSULE_ERR_META_ENCODING },
        { "* A = b\0c\n", 10, CAPSULE_ERR_META_ENCODING },
        { "PK\x03\x04garbage", 11, CAPSULE_ERR_META_ZIP },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capsule_pcr_meta_t m;
        int rc = capsule_pcr_meta_parse ("f.txt", (const uint8_t *)cases[i].text, cases[i].len, &m);
        if (rc != cases[i].code)
            fail_msg ("case %zu: %s, wanted %s", i, capsule_err_name (rc),
                      capsule_err_name (cases[i].code));
        assert_false (m.parsed);
        assert_true (m.reason[0] != '\0');
        s_check_canonical (&m);
        capsule_pcr_meta_clear (&m);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ab7500),
        cmocka_unit_test (test_quantstudio),
        cmocka_unit_test (test_rdml),
        cmocka_unit_test (test_unparsable),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
