/*
 * Unit tests for the PCR signer's metadata parser (pcr_signer_meta) on the
 * sample exports in tests/vectors/pcr (Applied Biosystems 7500 and
 * QuantStudio text, RDML), on real QuantStudio exports from a public
 * repository (tests/vectors/pcr/public, source and licence in its README),
 * and the exact reasons for files that cannot be parsed (which are still
 * signed, with parsed false).
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

/* Real export (public/README.md): QuantStudio 7 Flex, one well, every
   section; the header's "Experiment Barcode = " has an empty value. */
static void
test_public_qs7_test05 (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_vector ("public/appbio_quantstudio_test05.txt", &len);
    capsule_pcr_meta_t m;
    assert_int_equal (capsule_pcr_meta_parse ("test05.txt", data, len, &m), 0);
    assert_true (m.parsed);
    assert_string_equal (m.format, "ab-text");
    assert_string_equal (m.instrument_type, "QuantStudio(TM) 7 Flex System");
    assert_string_equal (m.instrument_serial, "278880034");
    assert_string_equal (m.experiment_name, "QuantStudio96-Well Relative Standard Curve Example");
    assert_string_equal (m.experiment_file,
                         "C:\\Program Files (x86)\\Applied BioSystems\\QuantStudio Real-Time PCR "
                         "Software\\examples\\QS7Flex\\QS7_96-Well Relative Standard Curve "
                         "Example.eds");
    assert_string_equal (m.run_end, "2010-10-20 02:23:34 AM EDT");
    assert_int_equal (m.nsamples, 1);
    assert_string_equal (m.samples[0].well, "D1");
    assert_string_equal (m.samples[0].sample, "800");
    assert_string_equal (m.samples[0].target, "RNaseP");
    assert_string_equal (m.samples[0].ct, "30.155");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);
    free (data);
}

/* Real export: nine wells, two targets, no serial number line, and a
   header value in Cyrillic and Greek ("Cт (ΔΔCт)"). */
static void
test_public_qs7_test07 (void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = s_vector ("public/appbio_quantstudio_test07.txt", &len);
    capsule_pcr_meta_t m;
    assert_int_equal (capsule_pcr_meta_parse ("test07.txt", data, len, &m), 0);
    assert_true (m.parsed);
    assert_string_equal (m.instrument_type, "QuantStudio(TM) 7 Flex System");
    assert_string_equal (m.instrument_serial, "");
    assert_string_equal (m.experiment_name, "QuantStudio96-Well Comparative Ct Example");
    assert_non_null (strstr (m.experiment_file, "QS7_96-Well Comparative Ct Example.eds"));
    assert_string_equal (m.run_end, "2010-10-20 02:23:34 AM EDT");
    static const char *want[9][4] = {
        { "D1", "Lung", "TGF-B", "30.155" },   { "D2", "Lung", "TGF-B", "30.200" },
        { "D10", "Liver", "TGF-B", "29.799" }, { "E1", "Lung", "TGF-B", "30.093" },
        { "E10", "Liver", "TGF-B", "29.773" }, { "H1", "Lung", "GAPDH", "32.884" },
        { "H2", "Lung", "GAPDH", "32.937" },   { "H10", "Liver", "GAPDH", "32.546" },
        { "H11", "Liver", "GAPDH", "33.074" },
    };
    assert_int_equal (m.nsamples, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal (m.samples[i].well, want[i][0]);
        assert_string_equal (m.samples[i].sample, want[i][1]);
        assert_string_equal (m.samples[i].target, want[i][2]);
        assert_string_equal (m.samples[i].ct, want[i][3]);
    }
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);
    free (data);
}

/* [Sample Setup] names what a results row leaves empty, and is the sample
   list of a plate exported before it ran. */
static void
test_sample_setup (void **state)
{
    (void)state;
    static const char merged[] = "* Instrument Type = sds7500fast\r\n\r\n"
                                 "[Sample Setup]\r\nWell\tSample Name\tTarget Name\r\n"
                                 "A1\tNTC\tN1\r\nA2\tP-1\tN1\r\nA2\tP-1\tRP\r\n\r\n"
                                 "[Amplification Data]\r\nWell\tCycle\tTarget Name\tRn\r\n"
                                 "A1\t1\tN1\t0.9\r\n\r\n"
                                 "[Results]\r\nWell\tSample Name\tTarget Name\tC\xd1\x82\r\n"
                                 "A1\t\t\tUndetermined\r\nA2\t\tRP\t1,024.5\r\n";
    capsule_pcr_meta_t m;
    assert_int_equal (
        capsule_pcr_meta_parse ("m.txt", (const uint8_t *)merged, sizeof merged - 1, &m), 0);
    assert_int_equal (m.nsamples, 2);
    assert_string_equal (m.samples[0].sample, "NTC");
    assert_string_equal (m.samples[0].target, "N1");
    assert_string_equal (m.samples[0].ct, "Undetermined");
    assert_string_equal (m.samples[1].sample, "P-1");
    assert_string_equal (m.samples[1].target, "RP"); /* the setup row of that target */
    assert_string_equal (m.samples[1].ct, "1024.5");
    capsule_pcr_meta_clear (&m);

    static const char setup_only[] = "* Experiment Run End Time = Not Started\n\n"
                                     "[Sample Setup]\nWell\tSample Name\tTarget Name\n"
                                     "A1\tS1\tN1\nA2\tS2\tN1\n";
    assert_int_equal (
        capsule_pcr_meta_parse ("s.txt", (const uint8_t *)setup_only, sizeof setup_only - 1, &m),
        0);
    assert_true (m.parsed);
    assert_string_equal (m.run_end, "Not Started");
    assert_int_equal (m.nsamples, 2);
    assert_string_equal (m.samples[1].sample, "S2");
    assert_string_equal (m.samples[1].ct, "");
    s_check_canonical (&m);
    capsule_pcr_meta_clear (&m);

    static const char bad_setup[] = "* A = b\n[Sample Setup]\nSample Name\tTarget Name\nx\ty\n";
    assert_int_equal (
        capsule_pcr_meta_parse ("b.txt", (const uint8_t *)bad_setup, sizeof bad_setup - 1, &m),
        CAPSULE_ERR_META_SYNTAX);
    capsule_pcr_meta_clear (&m);
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
        cmocka_unit_test (test_public_qs7_test05),
        cmocka_unit_test (test_public_qs7_test07),
        cmocka_unit_test (test_sample_setup),
        cmocka_unit_test (test_unparsable),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
