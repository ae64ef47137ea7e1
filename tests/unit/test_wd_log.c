/*
 * Unit tests for wd_log: line format, priority prefixes, level filtering and
 * errno reporting, read back through a pipe on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wd_log.h"

static int s_pipe[2];
static int s_saved_stderr;

static int
s_setup (void **state)
{
    (void)state;
    if (pipe2 (s_pipe, O_NONBLOCK) != 0)
        return -1;
    s_saved_stderr = dup (STDERR_FILENO);
    dup2 (s_pipe[1], STDERR_FILENO);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    dup2 (s_saved_stderr, STDERR_FILENO);
    close (s_saved_stderr);
    close (s_pipe[0]);
    close (s_pipe[1]);
    return 0;
}

static const char *
s_captured (void)
{
    static char buf[4096];
    ssize_t n = read (s_pipe[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
test_format_and_levels (void **state)
{
    (void)state;
    wd_log_init ("engine", WD_LOG_INFO);
    wd_log_set_prefix (true);
    wd_log_info ("started %d children", 2);
    assert_string_equal (s_captured (), "<6>[engine] started 2 children\n");

    wd_log_debug ("hidden");
    wd_log_warnx ("peer %s is slow", "ab12cd34");
    assert_string_equal (s_captured (), "<4>[engine] peer ab12cd34 is slow\n");

    errno = ENOENT;
    wd_log_warn ("open %s", "/nope");
    assert_string_equal (s_captured (), "<4>[engine] open /nope: No such file or directory\n");
    assert_int_equal (errno, ENOENT);

    wd_log_set_prefix (false);
    wd_log_init ("keys", WD_LOG_DEBUG);
    wd_log_debug ("now visible");
    assert_string_equal (s_captured (), "[keys] now visible\n");
}

static void
test_long_lines_are_cut (void **state)
{
    (void)state;
    char big[5000];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    wd_log_init ("engine", WD_LOG_INFO);
    wd_log_set_prefix (true);
    wd_log_info ("%s", big);
    const char *line = s_captured ();
    size_t len = strlen (line);
    assert_true (len > 1000 && len <= 2048);
    assert_int_equal (line[len - 1], '\n');
}

static void
test_level_parse (void **state)
{
    (void)state;
    wd_log_level_t level = WD_LOG_INFO;
    assert_true (wd_log_level_parse ("debug", &level));
    assert_int_equal (level, WD_LOG_DEBUG);
    assert_false (wd_log_level_parse ("verbose", &level));
    assert_int_equal (level, WD_LOG_DEBUG);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_format_and_levels),
        cmocka_unit_test (test_long_lines_are_cut),
        cmocka_unit_test (test_level_parse),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
