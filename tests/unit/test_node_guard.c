/*
 * Unit tests for node_guard, the keys process's double-sign guard, on real
 * files: the same step is signed once (the same digest again is allowed, a
 * different one refused), earlier steps are refused, the record survives a
 * reopen, a torn slot falls back to the other one and two damaged slots
 * refuse to open. The crash test forks a process that records a vote and
 * is killed with SIGKILL before it could reply (the keys process's window
 * between the fsync and the signature): a fresh guard on the same file
 * must refuse the conflicting vote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "node_guard.h"
#include "test_support.h"

static char s_path[4096];

static int
s_setup (void **state)
{
    (void)state;
    snprintf (s_path, sizeof s_path, "%s/sign.state", test_tmpdir ());
    unlink (s_path);
    return 0;
}

static wd_msg_sign_step_t
s_req (uint64_t height, uint32_t round, uint8_t step, uint8_t digest_byte)
{
    wd_msg_sign_step_t r = { .height = height, .round = round, .step = step };
    memset (r.chain, 0xc1, sizeof r.chain);
    memset (r.digest, digest_byte, sizeof r.digest);
    return r;
}

static node_guard_t *
s_open (void)
{
    node_guard_t *g = NULL;
    assert_int_equal (node_guard_open (s_path, &g), WD_OK);
    assert_non_null (g);
    return g;
}

static void
test_one_signature_per_step (void **state)
{
    (void)state;
    node_guard_t *g = s_open ();
    wd_msg_sign_step_t last, r = s_req (5, 0, 2, 0xaa);
    assert_false (node_guard_last (g, &last));
    assert_int_equal (node_guard_check (g, &r), WD_OK);
    /* the same vote again: a restarted engine re-asks */
    assert_int_equal (node_guard_check (g, &r), WD_OK);
    /* another value for the same prevote */
    wd_msg_sign_step_t other = s_req (5, 0, 2, 0xbb);
    assert_int_equal (node_guard_check (g, &other), WD_ERR_SIGN_CONFLICT);
    /* the precommit of the round, then the prevote is behind */
    wd_msg_sign_step_t pc = s_req (5, 0, 3, 0xcc);
    assert_int_equal (node_guard_check (g, &pc), WD_OK);
    assert_int_equal (node_guard_check (g, &r), WD_ERR_SIGN_REGRESS);
    /* earlier rounds and heights are refused, later ones allowed */
    wd_msg_sign_step_t next_round = s_req (5, 1, 1, 0x01);
    assert_int_equal (node_guard_check (g, &next_round), WD_OK);
    wd_msg_sign_step_t old_round = s_req (5, 0, 3, 0xcc);
    assert_int_equal (node_guard_check (g, &old_round), WD_ERR_SIGN_REGRESS);
    wd_msg_sign_step_t old_height = s_req (4, 9, 3, 0x02);
    assert_int_equal (node_guard_check (g, &old_height), WD_ERR_SIGN_REGRESS);
    wd_msg_sign_step_t next_height = s_req (6, 0, 2, 0x03);
    assert_int_equal (node_guard_check (g, &next_height), WD_OK);
    assert_true (node_guard_last (g, &last));
    assert_memory_equal (&last, &next_height, sizeof last);
    /* a refused request changes nothing */
    assert_int_equal (node_guard_check (g, &old_height), WD_ERR_SIGN_REGRESS);
    assert_true (node_guard_last (g, &last));
    assert_int_equal (last.height, 6);
    /* another chain starts afresh, at any height */
    wd_msg_sign_step_t fresh = s_req (1, 0, 2, 0x04);
    fresh.chain[0] ^= 1;
    assert_int_equal (node_guard_check (g, &fresh), WD_OK);
    assert_int_equal (node_guard_check (g, &next_height), WD_OK); /* and back */
    node_guard_destroy (&g);
    assert_null (g);
    node_guard_destroy (&g); /* safe on NULL */
}

static void
test_record_survives_reopen (void **state)
{
    (void)state;
    node_guard_t *g = s_open ();
    /* several writes, so both slots are used */
    for (uint32_t round = 0; round < 5; round++) {
        wd_msg_sign_step_t r = s_req (9, round, 2, (uint8_t)(0x10 + round));
        assert_int_equal (node_guard_check (g, &r), WD_OK);
    }
    node_guard_destroy (&g);
    struct stat st;
    assert_int_equal (stat (s_path, &st), 0);
    assert_int_equal (st.st_size, NODE_GUARD_FILE_SIZE);
    assert_int_equal (st.st_mode & 0777, 0600);

    g = s_open ();
    wd_msg_sign_step_t last, same = s_req (9, 4, 2, 0x14), other = s_req (9, 4, 2, 0x15);
    assert_true (node_guard_last (g, &last));
    assert_memory_equal (&last, &same, sizeof last);
    assert_int_equal (node_guard_check (g, &same), WD_OK);
    assert_int_equal (node_guard_check (g, &other), WD_ERR_SIGN_CONFLICT);
    wd_msg_sign_step_t older = s_req (9, 3, 3, 0x16);
    assert_int_equal (node_guard_check (g, &older), WD_ERR_SIGN_REGRESS);
    node_guard_destroy (&g);
}

/* Overwrites n bytes at offset of the state file with byte. */
static void
s_scribble (off_t offset, size_t n, uint8_t byte)
{
    int fd = open (s_path, O_WRONLY);
    assert_true (fd >= 0);
    uint8_t buf[NODE_GUARD_FILE_SIZE];
    memset (buf, byte, n);
    assert_int_equal (pwrite (fd, buf, n, offset), (ssize_t)n);
    close (fd);
}

static void
test_torn_and_damaged_slots (void **state)
{
    (void)state;
    node_guard_t *g = s_open ();
    wd_msg_sign_step_t a = s_req (3, 0, 2, 0xa1), b = s_req (3, 0, 3, 0xb2);
    assert_int_equal (node_guard_check (g, &a), WD_OK); /* slot 0 */
    assert_int_equal (node_guard_check (g, &b), WD_OK); /* slot 1 */
    node_guard_destroy (&g);

    /* the newest slot torn (a crash while writing it, before the reply):
       the other one is the record */
    s_scribble (NODE_GUARD_SLOT + 40, 8, 0x5a);
    g = s_open ();
    wd_msg_sign_step_t last;
    assert_true (node_guard_last (g, &last));
    assert_memory_equal (&last, &a, sizeof last);
    /* the next write goes to the torn slot, never over the record */
    wd_msg_sign_step_t c = s_req (3, 1, 1, 0xc3);
    assert_int_equal (node_guard_check (g, &c), WD_OK);
    node_guard_destroy (&g);
    g = s_open ();
    assert_true (node_guard_last (g, &last));
    assert_memory_equal (&last, &c, sizeof last);
    node_guard_destroy (&g);

    /* both slots damaged: the guard will not guess */
    s_scribble (10, 4, 0x77);
    s_scribble (NODE_GUARD_SLOT + 10, 4, 0x77);
    g = NULL;
    assert_int_equal (node_guard_open (s_path, &g), WD_ERR_SIGN_STATE);
    assert_null (g);

    /* a first write torn half-way (slot 1 never written): no record */
    assert_int_equal (truncate (s_path, 0), 0);
    s_scribble (0, 100, 0x33);
    g = s_open ();
    assert_false (node_guard_last (g, &last));
    node_guard_destroy (&g);

    /* larger than two slots: not a state file of ours */
    assert_int_equal (truncate (s_path, NODE_GUARD_FILE_SIZE + 1), 0);
    assert_int_equal (node_guard_open (s_path, &g), WD_ERR_SIGN_STATE);
    /* a directory, a symbolic link */
    unlink (s_path);
    assert_int_equal (mkdir (s_path, 0700), 0);
    assert_int_not_equal (node_guard_open (s_path, &g), WD_OK);
    rmdir (s_path);
    char target[4200];
    snprintf (target, sizeof target, "%s.target", s_path);
    assert_int_equal (symlink (target, s_path), 0);
    assert_int_equal (node_guard_open (s_path, &g), WD_ERR_NOT_REGULAR);
    unlink (s_path);
}

/* The crash test: the record is on disk before the signature could leave. */
static void
test_kill_between_write_and_reply (void **state)
{
    (void)state;
    wd_msg_sign_step_t first = s_req (12, 2, 3, 0xe1);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        node_guard_t *g = NULL;
        if (node_guard_open (s_path, &g) != WD_OK || node_guard_check (g, &first) != WD_OK)
            _exit (1);
        /* the keys process would sign and reply now */
        raise (SIGKILL);
        _exit (2);
    }
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGKILL);

    node_guard_t *g = s_open ();
    wd_msg_sign_step_t conflicting = s_req (12, 2, 3, 0xe2);
    assert_int_equal (node_guard_check (g, &conflicting), WD_ERR_SIGN_CONFLICT);
    wd_msg_sign_step_t earlier = s_req (12, 2, 2, 0xe1);
    assert_int_equal (node_guard_check (g, &earlier), WD_ERR_SIGN_REGRESS);
    /* the engine asking again for the very vote is answered */
    assert_int_equal (node_guard_check (g, &first), WD_OK);
    node_guard_destroy (&g);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_one_signature_per_step, s_setup),
        cmocka_unit_test_setup (test_record_survives_reopen, s_setup),
        cmocka_unit_test_setup (test_torn_and_damaged_slots, s_setup),
        cmocka_unit_test_setup (test_kill_between_write_and_reply, s_setup),
    };
    int failed = cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
    return failed;
}
