/*
 * ledger_crash_writer: the test-only writer behind ledger_crash.sh. It
 * appends certified blocks of the cons_test_chain cluster to DIR/ledger.db
 * in a loop and writes "H\n" to standard output (unbuffered) after each
 * append returned WD_OK, so that a script that kills it with kill -9 knows
 * which heights were committed. `verify DIR` reopens the ledger, runs
 * cons_ledger_verify_all (integrity_check included) and prints the height.
 * Both also write the cluster's genesis to DIR/genesis, so that wardenctl
 * can read the ledger (`wardenctl --state DIR ledger ...`).
 *
 * Usage: ledger_crash_writer write DIR [MAX]   (MAX blocks, default forever)
 *        ledger_crash_writer verify DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_ledger.h"
#include "cons_test_chain.h"

static int
s_write (cons_ledger_t *l, const tchain_t *t, uint64_t max)
{
    for (uint64_t n = 0; max == 0 || n < max; n++) {
        uint64_t h = cons_ledger_height (l) + 1;
        uint8_t *data[6];
        size_t len[6];
        cons_bytes_t recs[6];
        size_t count = 1 + h % 6;
        for (size_t i = 0; i < count; i++) {
            if (i % 2 == 0)
                data[i] = tchain_verdict (t, i % t->n, (h + i) % t->n, (h + i) % 7 != 0, h * 8 + i,
                                          &len[i]);
            else
                data[i] = tchain_note (t, i % t->n, "note", h * 8 + i, &len[i]);
            recs[i] = (cons_bytes_t){ data[i], len[i] };
        }
        int err = tchain_commit (t, l, recs, count, 0, h * 1000);
        for (size_t i = 0; i < count; i++)
            free (data[i]);
        if (err != WD_OK) {
            fprintf (stderr, "append %llu: %s\n", (unsigned long long)h, cons_err_name (err));
            return 1;
        }
        char line[32];
        int k = snprintf (line, sizeof line, "%llu\n", (unsigned long long)h);
        if (write (STDOUT_FILENO, line, (size_t)k) != k)
            return 1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc < 3 || (strcmp (argv[1], "write") != 0 && strcmp (argv[1], "verify") != 0)) {
        fprintf (stderr, "usage: ledger_crash_writer write|verify DIR [MAX]\n");
        return 2;
    }
    tchain_t t;
    tchain_init (&t, 4, 0x1, 8, 2);
    char path[4096];
    snprintf (path, sizeof path, "%s/genesis", argv[2]);
    uint8_t *gbytes;
    size_t glen;
    if (wd_genesis_encode (t.genesis, &gbytes, &glen) != WD_OK)
        return 1;
    FILE *gf = fopen (path, "wb");
    if (!gf || fwrite (gbytes, 1, glen, gf) != glen || fclose (gf) != 0)
        return 1;
    free (gbytes);
    snprintf (path, sizeof path, "%s/ledger.db", argv[2]);
    bool verify = strcmp (argv[1], "verify") == 0;
    cons_ledger_t *l;
    char why[256] = "";
    int err =
        cons_ledger_open (path, t.genesis, verify ? CONS_LEDGER_READ_ONLY : CONS_LEDGER_READ_WRITE,
                          &l, why, sizeof why);
    if (err != WD_OK) {
        fprintf (stderr, "open: %s: %s\n", cons_err_name (err), why);
        return 1;
    }
    int rc = 0;
    if (verify) {
        uint64_t bad = 0;
        err = cons_ledger_verify_all (l, &bad, why, sizeof why);
        if (err != WD_OK) {
            fprintf (stderr, "verify: %s at %llu: %s\n", cons_err_name (err),
                     (unsigned long long)bad, why);
            rc = 1;
        } else
            printf ("%llu\n", (unsigned long long)cons_ledger_height (l));
    } else
        rc = s_write (l, &t, argc > 3 ? strtoull (argv[3], NULL, 10) : 0);
    cons_ledger_destroy (&l);
    tchain_fini (&t);
    return rc;
}
