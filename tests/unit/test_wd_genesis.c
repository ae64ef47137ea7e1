/*
 * Unit tests for wd_genesis: the genesis made by an independent Python
 * implementation (tests/vectors/genesis.txt) decodes, re-encodes to the same
 * bytes and gives the same chain id; building the same genesis in C, in any
 * order of additions, gives the same bytes; every invalid variant is refused
 * with its exact code; and the builder refuses what the decoder would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_genesis.h"

#define VEC "genesis.txt"

static void
test_vector_round_trip (void **state)
{
    (void)state;
    size_t len, id_len;
    uint8_t *bytes = test_vector_hex (VEC, "genesis", &len);
    uint8_t *want_id = test_vector_hex (VEC, "chain_id", &id_len);
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (bytes, len, &g), WD_OK);
    assert_string_equal (wd_genesis_name (g), "lab-cluster");
    assert_int_equal (wd_genesis_created (g), 1767225600);
    assert_int_equal (wd_genesis_node_count (g), 3);
    assert_int_equal (wd_genesis_signer_count (g), 2);
    assert_int_equal (wd_genesis_param (g, "verifiers"), 6);
    for (size_t i = 0; i < 3; i++) {
        char name[16];
        snprintf (name, sizeof name, "node%zu_id", i);
        size_t pk_len;
        uint8_t *pk = test_vector_hex (VEC, name, &pk_len);
        assert_memory_equal (wd_genesis_node (g, i)->sign_pk, pk, 32);
        assert_ptr_equal (wd_genesis_find_node (g, pk), wd_genesis_node (g, i));
        free (pk);
    }
    uint8_t id[32];
    wd_genesis_chain_id (g, id);
    assert_memory_equal (id, want_id, 32);
    uint8_t *again;
    size_t again_len;
    assert_int_equal (wd_genesis_encode (g, &again, &again_len), WD_OK);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, bytes, len);

    /* the same genesis built in C, nodes and signers added in reverse */
    wd_genesis_t *built = wd_genesis_new ("lab-cluster", 1767225600);
    assert_non_null (built);
    for (size_t i = 3; i-- > 0;) {
        size_t cert_len;
        const uint8_t *cert = wd_genesis_node_cert (g, i, &cert_len);
        assert_int_equal (wd_genesis_add_node (built, cert, cert_len), WD_OK);
    }
    for (size_t i = 2; i-- > 0;)
        assert_int_equal (wd_genesis_add_signer (built, wd_genesis_signer (g, i)), WD_OK);
    uint8_t built_id[32];
    wd_genesis_chain_id (built, built_id);
    assert_memory_equal (built_id, want_id, 32);

    /* the builder refuses repeats and bad parameters */
    size_t cert_len;
    const uint8_t *cert = wd_genesis_node_cert (g, 1, &cert_len);
    assert_int_equal (wd_genesis_add_node (built, cert, cert_len), WD_ERR_GENESIS_DUPLICATE);
    assert_int_equal (wd_genesis_add_signer (built, wd_genesis_signer (g, 0)),
                      WD_ERR_GENESIS_DUPLICATE);
    assert_int_equal (wd_genesis_set_param (built, "verifiers", "65"), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (wd_genesis_set_param (built, "verifiers", "-1"), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (wd_genesis_set_param (built, "verifiers", "5x"), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (wd_genesis_set_param (built, "no_such", "5"), WD_ERR_GENESIS_PARAM);
    assert_int_equal (wd_genesis_set_param (built, "verifiers", "7"), WD_OK);
    assert_int_equal (wd_genesis_param (built, "verifiers"), 7);
    wd_genesis_chain_id (built, built_id);
    assert_memory_not_equal (built_id, want_id, 32);

    wd_genesis_destroy (&built);
    wd_genesis_destroy (&g);
    free (again);
    free (bytes);
    free (want_id);
}

static void
test_vector_rejections (void **state)
{
    (void)state;
    static const struct {
        const char *name;
        wd_err_t code;
    } cases[] = {
        { "bad_WD_ERR_GENESIS_ORDER", WD_ERR_GENESIS_ORDER },
        { "bad_WD_ERR_GENESIS_ORDER_SIGNERS", WD_ERR_GENESIS_ORDER },
        { "bad_WD_ERR_GENESIS_DUPLICATE", WD_ERR_GENESIS_DUPLICATE },
        { "bad_WD_ERR_GENESIS_EMPTY", WD_ERR_GENESIS_EMPTY },
        { "bad_WD_ERR_OUT_OF_RANGE", WD_ERR_OUT_OF_RANGE },
        { "bad_WD_ERR_MISSING_KEY", WD_ERR_MISSING_KEY },
        { "bad_WD_ERR_UNKNOWN_KEY", WD_ERR_UNKNOWN_KEY },
        { "bad_WD_ERR_BAD_VERSION", WD_ERR_BAD_VERSION },
        { "bad_WD_ERR_BAD_VALUE", WD_ERR_BAD_VALUE },
        { "bad_WD_ERR_BAD_SIGNATURE", WD_ERR_BAD_SIGNATURE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *bytes = test_vector_hex (VEC, cases[i].name, &len);
        wd_genesis_t *g = (wd_genesis_t *)1;
        wd_err_t err = wd_genesis_decode (bytes, len, &g);
        if (err != cases[i].code)
            fail_msg ("%s: got %s", cases[i].name, wd_err_name (err));
        assert_null (g);
        free (bytes);
    }

    /* trailing bytes and truncation of the valid genesis */
    size_t len;
    uint8_t *bytes = test_vector_hex (VEC, "genesis", &len);
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, bytes, len);
    longer[len] = 0xc0;
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (longer, len + 1, &g), WD_ERR_TRAILING);
    assert_int_equal (wd_genesis_decode (bytes, len - 1, &g), WD_ERR_TRUNCATED);
    free (longer);
    free (bytes);
}

static void
test_builder_limits (void **state)
{
    (void)state;
    assert_null (wd_genesis_new ("has space", 1));
    assert_null (wd_genesis_new ("ok", 0));
    wd_genesis_t *g = wd_genesis_new ("ok", 1);
    uint8_t *out;
    size_t len;
    assert_int_equal (wd_genesis_encode (g, &out, &len), WD_ERR_GENESIS_EMPTY);
    assert_null (out);
    uint8_t pk[32] = { 0 };
    for (unsigned i = 0; i < WD_GENESIS_SIGNERS_MAX; i++) {
        pk[0] = (uint8_t)i;
        assert_int_equal (wd_genesis_add_signer (g, pk), WD_OK);
    }
    pk[0] = 0xff;
    assert_int_equal (wd_genesis_add_signer (g, pk), WD_ERR_GENESIS_LIMIT);
    uint8_t not_a_cert[8] = { 0x80 };
    assert_int_not_equal (wd_genesis_add_node (g, not_a_cert, sizeof not_a_cert), WD_OK);
    wd_genesis_destroy (&g);
    assert_null (g);

    /* the parameter table is in byte order: its order is the encoding's */
    for (const wd_genesis_param_t *p = wd_genesis_params; p[1].name; p++)
        assert_true (strcmp (p[0].name, p[1].name) < 0);
}

/* agree_idle_ms came after the first genesis files: absent means its
   default, the encoding leaves it out at its default (the vector keeps its
   bytes) and a file that names it with its default value is refused. */
static void
test_optional_param (void **state)
{
    (void)state;
    size_t len;
    uint8_t *bytes = test_vector_hex (VEC, "genesis", &len);
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (bytes, len, &g), WD_OK);
    assert_int_equal (wd_genesis_param (g, "agree_idle_ms"), 1000);
    assert_null (memmem (bytes, len, "agree_idle_ms", 13));

    assert_int_equal (wd_genesis_set_param (g, "agree_idle_ms", "1001"), WD_OK);
    uint8_t *set;
    size_t set_len;
    assert_int_equal (wd_genesis_encode (g, &set, &set_len), WD_OK);
    uint8_t *at = memmem (set, set_len, "agree_idle_ms", 13);
    assert_non_null (at);
    assert_memory_equal (at + 13, "\xcd\x03\xe9", 3);
    wd_genesis_t *back;
    assert_int_equal (wd_genesis_decode (set, set_len, &back), WD_OK);
    assert_int_equal (wd_genesis_param (back, "agree_idle_ms"), 1001);
    wd_genesis_destroy (&back);

    at[15] = 0xe8; /* 1000, the default: not canonical */
    assert_int_equal (wd_genesis_decode (set, set_len, &back), WD_ERR_BAD_VALUE);
    assert_null (back);

    /* back at its default, the parameter leaves the encoding again */
    assert_int_equal (wd_genesis_set_param (g, "agree_idle_ms", "1000"), WD_OK);
    uint8_t *again;
    size_t again_len;
    assert_int_equal (wd_genesis_encode (g, &again, &again_len), WD_OK);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, bytes, len);
    wd_genesis_destroy (&g);
    free (again);
    free (set);
    free (bytes);
}

/* proposers (VRF proposer mode) is optional too: 5 when absent, left out
   at 5, written and read back otherwise, 1..64. */
static void
test_proposers_param (void **state)
{
    (void)state;
    size_t len;
    uint8_t *bytes = test_vector_hex (VEC, "genesis", &len);
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (bytes, len, &g), WD_OK);
    assert_int_equal (wd_genesis_param (g, "proposers"), 5);
    assert_null (memmem (bytes, len, "proposers", 9));
    assert_int_equal (wd_genesis_set_param (g, "proposers", "0"), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (wd_genesis_set_param (g, "proposers", "65"), WD_ERR_OUT_OF_RANGE);
    assert_int_equal (wd_genesis_set_param (g, "proposers", "3"), WD_OK);
    uint8_t *set;
    size_t set_len;
    assert_int_equal (wd_genesis_encode (g, &set, &set_len), WD_OK);
    uint8_t *at = memmem (set, set_len, "proposers", 9);
    assert_non_null (at);
    assert_int_equal (at[9], 0x03);
    wd_genesis_t *back;
    assert_int_equal (wd_genesis_decode (set, set_len, &back), WD_OK);
    assert_int_equal (wd_genesis_param (back, "proposers"), 3);
    wd_genesis_destroy (&back);
    at[9] = 0x05; /* the default, written out: not canonical */
    assert_int_equal (wd_genesis_decode (set, set_len, &back), WD_ERR_BAD_VALUE);
    wd_genesis_destroy (&g);
    free (set);
    free (bytes);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vector_round_trip), cmocka_unit_test (test_vector_rejections),
        cmocka_unit_test (test_builder_limits),    cmocka_unit_test (test_optional_param),
        cmocka_unit_test (test_proposers_param),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
