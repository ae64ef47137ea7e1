/*
 * Unit tests for attest_challenge: the intervals are exponential with the
 * configured mean (sample mean and the fraction below the mean within
 * statistical bounds, for a fixed seed), subsets vary and respect their
 * size bounds, deadlines produce missed events, answers must match the
 * open challenge's seq and nonce, on-demand challenges come at once, and
 * the same seed gives the same schedule.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest_challenge.h"

static const uint8_t s_seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static attest_challenge_t *
s_new (uint64_t mean, uint64_t deadline, size_t items, size_t lo, size_t hi)
{
    attest_challenge_config_t c = {
        .mean_interval_ms = mean,
        .deadline_ms = deadline,
        .item_count = items,
        .min_items = lo,
        .max_items = hi,
    };
    return attest_challenge_new (&c, s_seed);
}

static void
test_interval_distribution (void **state)
{
    (void)state;
    const uint64_t mean = 200;
    const size_t n = 40000;
    attest_challenge_t *s = s_new (mean, 100, 4, 1, 4);
    double sum = 0;
    size_t below = 0;
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = attest_challenge_draw_interval (s);
        assert_true (x >= 1 && x <= 40 * mean);
        sum += (double)x;
        below += x < mean;
        if (x > max)
            max = x;
    }
    /* Exponential: standard deviation = mean, so the sample mean has
       standard error mean/sqrt(n) = 1.0 ms here; allow 5 of them. */
    double m = sum / (double)n;
    assert_true (fabs (m - (double)mean) < 5.0 * (double)mean / sqrt ((double)n));
    /* P(X < mean) = 1 - 1/e = 0.632; binomial standard error 0.0024. */
    double frac = (double)below / (double)n;
    assert_true (fabs (frac - (1.0 - exp (-1.0))) < 5 * 0.0024);
    /* The tail is there: the largest of 40000 draws is near mean*ln(n) =
       2100 ms; a uniform or capped draw would not reach 5 means. */
    assert_true (max > 5 * mean);
    attest_challenge_destroy (&s);
    assert_null (s);
}

static void
test_subsets_and_deadlines (void **state)
{
    (void)state;
    attest_challenge_t *s = s_new (200, 1000, 10, 2, 5);
    assert_int_equal (attest_challenge_next_ms (s), UINT64_MAX); /* stopped */
    attest_challenge_event_t ev;
    assert_int_equal (attest_challenge_poll (s, 0, &ev), ATTEST_CHALLENGE_NONE);
    attest_challenge_start (s, 1000);
    uint64_t now = 1000;
    size_t seen[10] = { 0 };
    uint64_t first_mask = 0;
    bool varied = false;
    uint8_t last_nonce[32] = { 0 };
    for (uint64_t round = 1; round <= 200; round++) {
        uint64_t due = attest_challenge_next_ms (s);
        assert_true (due > now || round == 1);
        /* Nothing happens before the due time. */
        assert_int_equal (attest_challenge_poll (s, due - 1, &ev), ATTEST_CHALLENGE_NONE);
        now = due;
        assert_int_equal (attest_challenge_poll (s, now, &ev), ATTEST_CHALLENGE_ISSUE);
        assert_int_equal (ev.seq, round);
        assert_int_equal (ev.issued_ms, now);
        assert_int_equal (ev.deadline_ms, now + 1000);
        assert_true (ev.count >= 2 && ev.count <= 5);
        uint64_t mask = 0;
        for (size_t i = 0; i < ev.count; i++) {
            assert_true (ev.items[i] < 10);
            if (i > 0)
                assert_true (ev.items[i] > ev.items[i - 1]); /* ascending, no repeats */
            seen[ev.items[i]]++;
            mask |= 1ull << ev.items[i];
        }
        if (round == 1)
            first_mask = mask;
        else if (mask != first_mask)
            varied = true;
        assert_memory_not_equal (ev.nonce, last_nonce, 32);
        memcpy (last_nonce, ev.nonce, 32);
        /* Only one open: polling again gives nothing until the deadline. */
        assert_int_equal (attest_challenge_poll (s, now + 1000, &ev), ATTEST_CHALLENGE_NONE);
        assert_int_equal (attest_challenge_next_ms (s), now + 1001);
        if (round % 4 == 0) {
            /* Miss it. */
            assert_int_equal (attest_challenge_poll (s, now + 1001, &ev), ATTEST_CHALLENGE_MISSED);
            assert_int_equal (ev.seq, round);
            assert_null (attest_challenge_open (s));
            now += 1001;
        } else {
            const attest_challenge_event_t *open = attest_challenge_open (s);
            assert_non_null (open);
            uint8_t nonce[32];
            memcpy (nonce, open->nonce, 32);
            /* Wrong seq, wrong nonce: not this challenge's answer. */
            assert_int_equal (attest_challenge_answer (s, round + 1, nonce, now + 5),
                              ATTEST_ERR_AGENT_NONCE);
            nonce[31] ^= 1;
            assert_int_equal (attest_challenge_answer (s, round, nonce, now + 5),
                              ATTEST_ERR_AGENT_NONCE);
            nonce[31] ^= 1;
            if (round % 4 == 3) {
                /* Late: refused, and later reported missed. */
                assert_int_equal (attest_challenge_answer (s, round, nonce, now + 1001),
                                  ATTEST_ERR_AGENT_LATE);
                assert_int_equal (attest_challenge_poll (s, now + 1001, &ev),
                                  ATTEST_CHALLENGE_MISSED);
                now += 1001;
            } else {
                assert_int_equal (attest_challenge_answer (s, round, nonce, now + 1000), WD_OK);
                /* Replaying the same answer finds no open challenge. */
                assert_int_equal (attest_challenge_answer (s, round, nonce, now + 1000),
                                  ATTEST_ERR_AGENT_NONCE);
                now += 1000;
            }
        }
    }
    assert_true (varied);
    for (size_t i = 0; i < 10; i++)
        assert_true (seen[i] > 20); /* every item is asked for, about 70 times each */
    attest_challenge_destroy (&s);
}

static void
test_demand_and_stop (void **state)
{
    (void)state;
    attest_challenge_t *s = s_new (1000000, 50, 3, 3, 3);
    attest_challenge_event_t ev;
    attest_challenge_demand (s); /* ignored while stopped */
    attest_challenge_start (s, 0);
    assert_int_equal (attest_challenge_poll (s, 1, &ev), ATTEST_CHALLENGE_NONE);
    attest_challenge_demand (s);
    assert_int_equal (attest_challenge_next_ms (s), 0);
    assert_int_equal (attest_challenge_poll (s, 1, &ev), ATTEST_CHALLENGE_ISSUE);
    assert_true (ev.on_demand);
    assert_int_equal (ev.count, 3);
    /* A demand while one is open waits for it to close. */
    attest_challenge_demand (s);
    assert_int_equal (attest_challenge_poll (s, 2, &ev), ATTEST_CHALLENGE_NONE);
    assert_int_equal (attest_challenge_poll (s, 52, &ev), ATTEST_CHALLENGE_MISSED);
    assert_int_equal (attest_challenge_poll (s, 52, &ev), ATTEST_CHALLENGE_ISSUE);
    assert_true (ev.on_demand);
    assert_int_equal (ev.seq, 2);
    attest_challenge_stop (s);
    assert_null (attest_challenge_open (s));
    assert_int_equal (attest_challenge_poll (s, 1000, &ev), ATTEST_CHALLENGE_NONE);
    assert_int_equal (attest_challenge_answer (s, 2, ev.nonce, 60), ATTEST_ERR_AGENT_NONCE);
    attest_challenge_destroy (&s);
}

static void
test_seed_determines_schedule (void **state)
{
    (void)state;
    attest_challenge_t *a = s_new (200, 10, 8, 1, 8);
    attest_challenge_t *b = s_new (200, 10, 8, 1, 8);
    attest_challenge_config_t c = {
        .mean_interval_ms = 200, .deadline_ms = 10, .item_count = 8, .min_items = 1, .max_items = 8
    };
    uint8_t seed2[32] = { 9 };
    attest_challenge_t *other = attest_challenge_new (&c, seed2);
    attest_challenge_start (a, 0);
    attest_challenge_start (b, 0);
    attest_challenge_start (other, 0);
    bool differs = attest_challenge_next_ms (a) != attest_challenge_next_ms (other);
    for (int i = 0; i < 50; i++) {
        attest_challenge_event_t ea, eb, eo;
        uint64_t t = attest_challenge_next_ms (a);
        assert_int_equal (t, attest_challenge_next_ms (b));
        assert_int_equal (attest_challenge_poll (a, t, &ea), ATTEST_CHALLENGE_ISSUE);
        assert_int_equal (attest_challenge_poll (b, t, &eb), ATTEST_CHALLENGE_ISSUE);
        assert_memory_equal (&ea, &eb, sizeof ea);
        assert_int_equal (attest_challenge_answer (a, ea.seq, ea.nonce, t), WD_OK);
        assert_int_equal (attest_challenge_answer (b, eb.seq, eb.nonce, t), WD_OK);
        uint64_t to = attest_challenge_next_ms (other);
        assert_int_equal (attest_challenge_poll (other, to, &eo), ATTEST_CHALLENGE_ISSUE);
        differs |= memcmp (eo.nonce, ea.nonce, 32) != 0;
        assert_int_equal (attest_challenge_answer (other, eo.seq, eo.nonce, to), WD_OK);
    }
    assert_true (differs);
    attest_challenge_destroy (&a);
    attest_challenge_destroy (&b);
    attest_challenge_destroy (&other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_interval_distribution),
        cmocka_unit_test (test_subsets_and_deadlines),
        cmocka_unit_test (test_demand_and_stop),
        cmocka_unit_test (test_seed_determines_schedule),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
