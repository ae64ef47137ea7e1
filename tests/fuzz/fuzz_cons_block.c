/*
 * Fuzz harness for the ledger's block decoder and rules (cons_block.h,
 * cons_ledger.h). cons_block_decode must never crash or read out of bounds,
 * and what it accepts must be canonical: encoding the decoded block again
 * gives back the input exactly. Every input is also judged by
 * cons_ledger_check_block against an empty ledger (in a temporary
 * directory removed at exit) of the
 * cons_test_chain cluster; the block that ledger proposes itself must pass,
 * so a rule that rejects everything cannot pass unnoticed. Seeds: the
 * known-answer blocks of tests/vectors/ledger.txt, blocks of the test
 * cluster, and a few broken ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_block.h"
#include "cons_ledger.h"
#include "cons_test_chain.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static tchain_t s_t;
static cons_ledger_t *s_ledger;
static char s_dir[] = "/tmp/fuzz-cons-block-XXXXXX";
static char s_db[sizeof s_dir + 16];

static void
s_cleanup (void)
{
    cons_ledger_destroy (&s_ledger);
    static const char *const files[] = { "ledger.db", "ledger.db-wal", "ledger.db-shm" };
    for (size_t i = 0; i < 3; i++) {
        char path[sizeof s_dir + 16];
        snprintf (path, sizeof path, "%s/%s", s_dir, files[i]);
        unlink (path);
    }
    rmdir (s_dir);
    tchain_fini (&s_t);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc, (void)argv;
    tchain_init (&s_t, 4, 0x1, 0, 0);
    char why[256];
    if (!mkdtemp (s_dir))
        abort ();
    snprintf (s_db, sizeof s_db, "%s/ledger.db", s_dir);
    atexit (s_cleanup);
    if (cons_ledger_open (s_db, s_t.genesis, CONS_LEDGER_READ_WRITE, &s_ledger, why, sizeof why) !=
        WD_OK) {
        fprintf (stderr, "fuzz_cons_block: open: %s\n", why);
        abort ();
    }
    size_t len;
    uint8_t *rec = tchain_note (&s_t, 1, "note", 1, &len);
    cons_bytes_t r = { rec, len };
    uint8_t *block;
    size_t block_len;
    if (cons_ledger_propose (s_ledger, 1000, s_t.pk[0], &r, 1, &block, &block_len) != WD_OK ||
        cons_ledger_check_block (s_ledger, block, block_len) != WD_OK)
        abort ();
    free (block);
    free (rec);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cons_block_t b;
    if (cons_block_decode (data, size, size, &b) == WD_OK) {
        size_t len;
        uint8_t *again = cons_block_encode (&b, &len);
        if (len != size || memcmp (again, data, size) != 0)
            abort ();
        free (again);
        cons_block_release (&b);
    }
    (void)cons_ledger_check_block (s_ledger, data, size);
    return 0;
}
