/*
 * Fuzz harness for the ledger's block decoder and rules (cons_block.h,
 * cons_ledger.h). cons_block_decode must never crash or read out of bounds,
 * and what it accepts must be canonical: encoding the decoded block again
 * gives back the input exactly. Every input is also judged by
 * cons_ledger_check_block against an empty ledger (in a temporary
 * directory removed at exit) of the
 * cons_test_chain cluster; the block that ledger proposes itself must pass,
 * so a rule that rejects everything cannot pass unnoticed. A second
 * ledger runs the same cluster in VRF proposer mode (v2 blocks, each with
 * its proposer's sortition claim), with the same self-check. Seeds: the
 * known-answer blocks of tests/vectors/ledger.txt and ledger_vrf.txt,
 * blocks of the test cluster, and a few broken ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_block.h"
#include "cons_ledger.h"
#include "cons_sortition.h"
#include "cons_test_chain.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static tchain_t s_t, s_v; /* round-robin and VRF proposer mode */
static cons_ledger_t *s_ledger, *s_vledger;
static char s_dir[] = "/tmp/fuzz-cons-block-XXXXXX";
static char s_db[sizeof s_dir + 16];

static void
s_cleanup (void)
{
    cons_ledger_destroy (&s_ledger);
    cons_ledger_destroy (&s_vledger);
    static const char *const files[] = { "ledger.db", "ledger.db-wal", "ledger.db-shm",
                                         "vrf.db",    "vrf.db-wal",    "vrf.db-shm" };
    for (size_t i = 0; i < 6; i++) {
        char path[sizeof s_dir + 16];
        snprintf (path, sizeof path, "%s/%s", s_dir, files[i]);
        unlink (path);
    }
    rmdir (s_dir);
    tchain_fini (&s_t);
    tchain_fini (&s_v);
}

/* The VRF ledger's own first block: by the first node selected in round 0
   (with the default proposers 5 of 4 nodes, every node is). */
static void
s_vrf_self_check (void)
{
    cons_sortition_input_t in;
    cons_sortition_claim_t c;
    if (cons_ledger_proposer_input (s_vledger, 1, 0, s_v.pk[0], &in) != WD_OK)
        abort ();
    wd_vrf_key_t *k = wd_vrf_key_new (s_v.vrf_seed[0]);
    if (!k || cons_sortition_prove (&in, wd_vrf_prove_fn_key, k, &c) != 0 || c.count == 0)
        abort ();
    wd_vrf_key_destroy (&k);
    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (&c, w);
    size_t claim_len;
    const uint8_t *claim = wd_writer_data (w, &claim_len);
    cons_block_claim_t bc = { 0, { claim, claim_len } };
    uint8_t *block;
    size_t block_len;
    if (cons_ledger_propose (s_vledger, 1000, s_v.pk[0], &bc, NULL, 0, &block, &block_len) !=
            WD_OK ||
        cons_ledger_check_block (s_vledger, block, block_len) != WD_OK)
        abort ();
    free (block);
    wd_writer_destroy (&w);
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
    if (cons_ledger_propose (s_ledger, 1000, s_t.pk[0], NULL, &r, 1, &block, &block_len) != WD_OK ||
        cons_ledger_check_block (s_ledger, block, block_len) != WD_OK)
        abort ();
    free (block);
    free (rec);

    tchain_init (&s_v, 4, 0x1, 0, 0);
    if (wd_genesis_set_param (s_v.genesis, "proposer_vrf", "1") != WD_OK)
        abort ();
    wd_genesis_chain_id (s_v.genesis, s_v.chain);
    snprintf (s_db, sizeof s_db, "%s/vrf.db", s_dir);
    if (cons_ledger_open (s_db, s_v.genesis, CONS_LEDGER_READ_WRITE, &s_vledger, why, sizeof why) !=
        WD_OK) {
        fprintf (stderr, "fuzz_cons_block: open: %s\n", why);
        abort ();
    }
    s_vrf_self_check ();
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
    (void)cons_ledger_check_block (s_vledger, data, size);
    return 0;
}
