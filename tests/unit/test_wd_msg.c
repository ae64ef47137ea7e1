/*
 * Unit tests for wd_msg: every process-message body round-trips and every
 * decoder names its rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wd_codec.h"
#include "wd_msg.h"

static void
test_digest_and_signature (void **state)
{
    (void)state;
    uint8_t digest[32], sig[64], back[64], body[WD_MSG_SMALL_MAX];
    memset (digest, 0xab, sizeof digest);
    memset (sig, 0xcd, sizeof sig);
    size_t len = wd_msg_encode_digest (body, digest);
    assert_int_equal (len, 1 + 7 + 2 + 32); /* fixmap, "digest", bin8 header, bytes */
    assert_int_equal (wd_msg_decode_digest (body, len, back), WD_OK);
    assert_memory_equal (back, digest, 32);
    /* a digest body is not a signature body */
    assert_int_equal (wd_msg_decode_signature (body, len, back), WD_ERR_UNKNOWN_KEY);
    len = wd_msg_encode_signature (body, sig);
    assert_int_equal (wd_msg_decode_signature (body, len, back), WD_OK);
    assert_memory_equal (back, sig, 64);
    assert_int_equal (wd_msg_decode_digest (body, len, back), WD_ERR_MISSING_KEY);
    assert_int_equal (wd_msg_decode_signature (body, len - 1, back), WD_ERR_TRUNCATED);
    assert_int_equal (wd_msg_decode_digest (NULL, 0, back), WD_ERR_TRUNCATED);
}

static void
test_error (void **state)
{
    (void)state;
    char message[WD_MSG_ERROR_MAX + 1];
    int code;
    size_t len;
    uint8_t *body = wd_msg_encode_error (WD_ERR_TIMEOUT, "keys did not answer", &len);
    assert_int_equal (wd_msg_decode_error (body, len, &code, message), WD_OK);
    assert_int_equal (code, WD_ERR_TIMEOUT);
    assert_string_equal (message, "keys did not answer");
    free (body);

    /* a long message is cut at a character boundary, never inside one */
    char long_message[WD_MSG_ERROR_MAX + 8];
    memset (long_message, 'a', sizeof long_message);
    memcpy (long_message + WD_MSG_ERROR_MAX - 1, "\xc3\xa9", 2); /* 'é' across the cut */
    long_message[sizeof long_message - 1] = '\0';
    body = wd_msg_encode_error (1, long_message, &len);
    assert_int_equal (wd_msg_decode_error (body, len, &code, message), WD_OK);
    assert_int_equal (strlen (message), WD_MSG_ERROR_MAX - 1);
    free (body);
}

static void
test_keys_status_and_proc_state (void **state)
{
    (void)state;
    wd_msg_keys_status_t ks = { .backend = "file",
                                .key_protection = "software",
                                .tamper = "not-supported",
                                .healthy = true,
                                .signatures = 70000 };
    memset (ks.public_key, 7, 32);
    size_t len;
    uint8_t *body = wd_msg_encode_keys_status (&ks, &len);
    wd_msg_keys_status_t ks_back;
    assert_int_equal (wd_msg_decode_keys_status (body, len, &ks_back), WD_OK);
    assert_string_equal (ks_back.backend, "file");
    assert_string_equal (ks_back.key_protection, "software");
    assert_string_equal (ks_back.tamper, "not-supported");
    assert_true (ks_back.healthy);
    assert_int_equal (ks_back.signatures, 70000);
    assert_memory_equal (ks_back.public_key, ks.public_key, 32);
    free (body);

    wd_msg_proc_state_t ps = {
        .name = "keys", .state = "running", .pid = 4242, .restarts = 3, .since = 1795000000
    };
    body = wd_msg_encode_proc_state (&ps, &len);
    wd_msg_proc_state_t ps_back;
    assert_int_equal (wd_msg_decode_proc_state (body, len, &ps_back), WD_OK);
    assert_string_equal (ps_back.name, "keys");
    assert_string_equal (ps_back.state, "running");
    assert_int_equal (ps_back.pid, 4242);
    assert_int_equal (ps_back.restarts, 3);
    assert_int_equal (ps_back.since, 1795000000);
    free (body);
    /* a pid that no kernel hands out */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, "keys");
    wd_writer_key (w, "pid");
    wd_writer_uint (w, 1ull << 40);
    wd_writer_key (w, "restarts");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "since");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "state");
    wd_writer_cstr (w, "running");
    const uint8_t *data = wd_writer_data (w, &len);
    assert_int_equal (wd_msg_decode_proc_state (data, len, &ps_back), WD_ERR_OUT_OF_RANGE);
    wd_writer_destroy (&w);
}

/* Writes {key: bin(n)} with n bytes of 0x5a into a fresh writer. */
static wd_writer_t *
s_one_bin (const char *key, size_t n)
{
    uint8_t data[512];
    memset (data, 0x5a, sizeof data);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, key);
    wd_writer_bin (w, data, n);
    return w;
}

static void
test_vrf_prove_and_proof (void **state)
{
    (void)state;
    uint8_t alpha[WD_MSG_VRF_ALPHA_MAX], body[WD_MSG_VRF_PROVE_MAX];
    for (size_t i = 0; i < sizeof alpha; i++)
        alpha[i] = (uint8_t)i;
    const uint8_t *back;
    size_t back_len;
    /* a sortition alpha, one byte and the largest allowed */
    const size_t sizes[] = { 128, 1, WD_MSG_VRF_ALPHA_MAX };
    for (size_t i = 0; i < 3; i++) {
        size_t len = wd_msg_encode_vrf_prove (body, alpha, sizes[i]);
        assert_true (len <= WD_MSG_VRF_PROVE_MAX);
        assert_int_equal (wd_msg_decode_vrf_prove (body, len, &back, &back_len), WD_OK);
        assert_int_equal (back_len, sizes[i]);
        assert_memory_equal (back, alpha, sizes[i]);
        assert_ptr_equal (back, body + len - sizes[i]); /* borrowed from the body */
        assert_int_equal (wd_msg_decode_vrf_prove (body, len - 1, &back, &back_len),
                          WD_ERR_TRUNCATED);
        assert_null (back);
    }
    /* an empty alpha, one over the bound, another key */
    size_t len;
    wd_writer_t *w = s_one_bin ("alpha", 0);
    const uint8_t *data = wd_writer_data (w, &len);
    assert_int_equal (wd_msg_decode_vrf_prove (data, len, &back, &back_len), WD_ERR_BAD_LENGTH);
    wd_writer_destroy (&w);
    w = s_one_bin ("alpha", WD_MSG_VRF_ALPHA_MAX + 1);
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_msg_decode_vrf_prove (data, len, &back, &back_len), WD_ERR_OVERSIZE);
    wd_writer_destroy (&w);
    w = s_one_bin ("alfa", 32);
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_msg_decode_vrf_prove (data, len, &back, &back_len), WD_ERR_UNKNOWN_KEY);
    wd_writer_destroy (&w);

    uint8_t pi[WD_MSG_VRF_PI_LEN], pi_back[WD_MSG_VRF_PI_LEN], small[WD_MSG_SMALL_MAX];
    memset (pi, 0x3c, sizeof pi);
    len = wd_msg_encode_vrf_proof (small, pi);
    assert_int_equal (len, 1 + 3 + 2 + 80); /* fixmap, "pi", bin8 header, bytes */
    assert_int_equal (wd_msg_decode_vrf_proof (small, len, pi_back), WD_OK);
    assert_memory_equal (pi_back, pi, sizeof pi);
    /* a proof is exactly 80 bytes; a signature body is not a proof */
    w = s_one_bin ("pi", 79);
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_msg_decode_vrf_proof (data, len, pi_back), WD_ERR_BAD_LENGTH);
    wd_writer_destroy (&w);
    uint8_t sig[WD_SIG_LEN] = { 0 };
    len = wd_msg_encode_signature (small, sig);
    assert_int_equal (wd_msg_decode_vrf_proof (small, len, pi_back), WD_ERR_MISSING_KEY);
}

static void
test_sign_step (void **state)
{
    (void)state;
    wd_msg_sign_step_t req = { .height = 7, .round = 1, .step = 2 }, back;
    memset (req.chain, 0x11, sizeof req.chain);
    memset (req.digest, 0x22, sizeof req.digest);
    uint8_t body[WD_MSG_SIGN_STEP_MAX];
    size_t len = wd_msg_encode_sign_step (body, &req);
    assert_int_equal (wd_msg_decode_sign_step (body, len, &back), WD_OK);
    assert_memory_equal (&back, &req, sizeof req);
    /* the largest height and round fit */
    req.height = WD_MSG_SIGN_HEIGHT_MAX;
    req.round = (uint32_t)WD_MSG_SIGN_ROUND_MAX;
    req.step = 3;
    len = wd_msg_encode_sign_step (body, &req);
    assert_true (len <= WD_MSG_SIGN_STEP_MAX);
    assert_int_equal (wd_msg_decode_sign_step (body, len, &back), WD_OK);
    assert_memory_equal (&back, &req, sizeof req);
    assert_int_equal (wd_msg_decode_sign_step (body, len - 1, &back), WD_ERR_TRUNCATED);
    /* height 0, step 0 and step 4 are out of range; a plain sign body is
       not a sign-step body */
    const struct {
        uint64_t height, step;
    } bad[] = { { 0, 2 }, { 5, 0 }, { 5, 4 } };
    for (size_t i = 0; i < 3; i++) {
        wd_writer_t *w = wd_writer_new ();
        wd_writer_map (w, 5);
        wd_writer_key (w, "chain");
        wd_writer_bin (w, req.chain, 32);
        wd_writer_key (w, "digest");
        wd_writer_bin (w, req.digest, 32);
        wd_writer_key (w, "height");
        wd_writer_uint (w, bad[i].height);
        wd_writer_key (w, "round");
        wd_writer_uint (w, 0);
        wd_writer_key (w, "step");
        wd_writer_uint (w, bad[i].step);
        const uint8_t *data = wd_writer_data (w, &len);
        assert_int_equal (wd_msg_decode_sign_step (data, len, &back), WD_ERR_OUT_OF_RANGE);
        wd_writer_destroy (&w);
    }
    uint8_t small[WD_MSG_SMALL_MAX];
    len = wd_msg_encode_digest (small, req.digest);
    assert_int_equal (wd_msg_decode_sign_step (small, len, &back), WD_ERR_MISSING_KEY);
    assert_string_equal (wd_msg_name (WD_MSG_SIGN_STEP), "sign-step");
}

static void
test_names (void **state)
{
    (void)state;
    assert_string_equal (wd_msg_name (WD_MSG_SIGN), "sign");
    assert_string_equal (wd_msg_name (WD_MSG_CTL_STATUS), "ctl-status");
    assert_string_equal (wd_msg_name (WD_MSG_VRF_PROVE), "vrf-prove");
    assert_string_equal (wd_msg_name (WD_MSG_VRF_PROOF), "vrf-proof");
    assert_string_equal (wd_msg_name (9999), "unknown");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_digest_and_signature),
        cmocka_unit_test (test_error),
        cmocka_unit_test (test_keys_status_and_proc_state),
        cmocka_unit_test (test_vrf_prove_and_proof),
        cmocka_unit_test (test_sign_step),
        cmocka_unit_test (test_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
