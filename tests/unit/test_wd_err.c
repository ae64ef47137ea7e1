/*
 * Unit tests for wd_err: every code has a distinct message and name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wd_err.h"

static void
test_names_and_messages (void **state)
{
    (void)state;
    assert_string_equal (wd_strerror (WD_OK), "success");
    assert_string_equal (wd_err_name (WD_OK), "WD_OK");
    assert_string_equal (wd_err_name (WD_ERR_KEY_DUPLICATE), "WD_ERR_KEY_DUPLICATE");
    assert_string_equal (wd_strerror (WD_ERR_KEY_DUPLICATE), "map key appears twice");
    assert_string_equal (wd_strerror (1), "unknown error");
    assert_string_equal (wd_err_name (WD_ERR_LAST_), "WD_ERR_UNKNOWN");
    for (int a = WD_ERR_FIRST_ + 1; a < WD_ERR_LAST_; a++) {
        assert_true (a < 0);
        assert_string_not_equal (wd_strerror (a), "unknown error");
        for (int b = a + 1; b < WD_ERR_LAST_; b++) {
            assert_string_not_equal (wd_strerror (a), wd_strerror (b));
            assert_string_not_equal (wd_err_name (a), wd_err_name (b));
        }
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_names_and_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
