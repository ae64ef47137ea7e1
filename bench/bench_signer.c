/*
 * bench_signer: durable ingest of PCR results (issue 10 item 7) against raw
 * crypto_sign_detached of the same payloads, measured in the same run.
 *
 * Ingest is what node_pcr does for each result, minus the keys process's
 * round trip (bench_sign measures that separately): SHA-256 of the raw
 * bytes, the metadata parser, the in-toto statement, the signed envelope
 * (signing-rule digest + Ed25519), the append to the SQLite result log
 * (WAL, synchronous=FULL) with the raw bytes, and per group of --batch
 * results one commit (fsync) plus a signed checkpoint. A result's latency
 * runs from the moment its bytes are taken in to the commit that makes it
 * durable; the added latency is that minus the raw signature's own time.
 *
 * The baseline signs the same payloads with crypto_sign_detached and
 * nothing else. Printed: both rates, the ratio (goal >= 0.5) and the
 * latency percentiles (goal: at most 10 ms added). Answers are checked,
 * never timings: the log is re-verified from its file afterwards
 * (capsule_pcr_log_verify: every signature, digest and checkpoint) and one
 * bundle is built and verified offline; any failure exits 1.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_support.h"
#include "capsule_verify.h"
#include "pcr_signer.h"
#include "pcr_signer_log.h"
#include "wd_cert.h"
#include "wd_envelope.h"

#define S_ORIGIN_NAME "bench-node"

static uint8_t s_pk[32], s_sk[64];
static const uint8_t s_zero_chain[32];

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    (void)ctx;
    crypto_sign_detached (sig, NULL, digest, 32, s_sk);
    return 0;
}

typedef struct {
    double arrived;
    size_t index;
    const uint8_t *data;
    size_t size;
    char name[32];
    uint64_t received_ms;
    uint8_t sha256[32];
    uint8_t *envelope;
    size_t envelope_len;
} s_item_t;

typedef struct {
    s_item_t *items;
    size_t count;
} s_group_t;

/* The committer thread: appends a group, commits it (one fsync), signs and
   stores the checkpoint. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    s_group_t *pending; /* the group handed over, NULL when idle */
    bool done;
    int status;
    capsule_pcr_log_t *log;
    char origin[CAPSULE_ORIGIN_MAX + 1];
    char why[256];
    size_t n;
    double *latency;
    double busy_s; /* time spent appending, committing, checkpointing */
} s_committer_t;

static int
s_commit_group (s_committer_t *cm, const s_group_t *grp)
{
    if (capsule_pcr_log_begin (cm->log, cm->why, sizeof cm->why) != WD_OK)
        return 3;
    for (size_t g = 0; g < grp->count; g++) {
        const s_item_t *it = &grp->items[g];
        capsule_pcr_entry_t e = { .received_ms = it->received_ms,
                                  .channel = "serial:/dev/ttyS0",
                                  .has_seq = true,
                                  .seq = it->index + 1,
                                  .name = it->name,
                                  .size = it->size,
                                  .envelope = it->envelope,
                                  .envelope_len = it->envelope_len,
                                  .raw = it->data,
                                  .raw_len = it->size };
        memcpy (e.sha256, it->sha256, 32);
        if (capsule_pcr_log_append (cm->log, &e, NULL, cm->why, sizeof cm->why) != WD_OK)
            return 3;
    }
    if (capsule_pcr_log_commit (cm->log, cm->why, sizeof cm->why) != WD_OK)
        return 3;
    double durable = bench_now ();
    for (size_t g = 0; g < grp->count; g++)
        cm->latency[grp->items[g].index] = durable - grp->items[g].arrived;
    char body[CAPSULE_CHECKPOINT_BODY_MAX + 1], note[CAPSULE_CHECKPOINT_MAX + 1];
    uint64_t tree_size;
    uint8_t root[32], digest[32], csig[64];
    size_t blen = capsule_pcr_log_checkpoint_body (cm->log, body, &tree_size, root);
    capsule_checkpoint_digest (digest, body, blen);
    s_sign (NULL, digest, csig);
    size_t nlen = capsule_checkpoint_note (note, sizeof note, body, blen, cm->origin, s_pk, csig);
    if (capsule_pcr_log_add_checkpoint (cm->log, tree_size, root, note, nlen, cm->why,
                                        sizeof cm->why) != WD_OK)
        return 3;
    return 0;
}

static void *
s_commit_main (void *arg)
{
    s_committer_t *cm = arg;
    pthread_mutex_lock (&cm->lock);
    for (;;) {
        while (!cm->pending && !cm->done)
            pthread_cond_wait (&cm->cond, &cm->lock);
        if (!cm->pending)
            break;
        s_group_t *grp = cm->pending;
        pthread_mutex_unlock (&cm->lock);
        double t = bench_now ();
        int rc = cm->status ? cm->status : s_commit_group (cm, grp);
        cm->busy_s += bench_now () - t;
        pthread_mutex_lock (&cm->lock);
        cm->status = rc;
        cm->pending = NULL;
        pthread_cond_broadcast (&cm->cond);
    }
    pthread_mutex_unlock (&cm->lock);
    return NULL;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "results", required_argument, NULL, 'n' }, { "size", required_argument, NULL, 's' },
        { "batch", required_argument, NULL, 'b' },   { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    size_t n = 100000, size = 1024, batch = 64;
    const char *dir = "/var/tmp";
    int c;
    while ((c = getopt_long (argc, argv, "n:s:b:d:h", opts, NULL)) != -1) {
        switch (c) {
            case 'n':
                n = strtoul (optarg, NULL, 10);
                break;
            case 's':
                size = strtoul (optarg, NULL, 10);
                break;
            case 'b':
                batch = strtoul (optarg, NULL, 10);
                break;
            case 'd':
                dir = optarg;
                break;
            default:
                fprintf (c == 'h' ? stdout : stderr,
                         "usage: bench_signer [--results N] [--size BYTES] [--batch N] [--dir "
                         "DIR]\n");
                return c == 'h' ? 0 : 2;
        }
    }
    if (n == 0 || size == 0 || batch == 0 || sodium_init () < 0)
        return 2;
    crypto_sign_keypair (s_pk, s_sk);
    wd_cert_t cert = { .name = S_ORIGIN_NAME, .key_protection = "software", .created = 1 };
    memcpy (cert.sign_pk, s_pk, 32);
    uint8_t *cert_bytes;
    size_t cert_len;
    if (wd_cert_seal (&cert, s_sign, NULL, &cert_bytes, &cert_len) != WD_OK)
        return 3;

    /* the payloads: n distinct 1 KiB results */
    uint8_t *payloads = bench_alloc (n * size);
    randombytes_buf (payloads, n * size);
    double *latency = bench_alloc (n * sizeof *latency);

    /* baseline: raw signatures over the same payloads */
    uint8_t sig[64];
    double t0 = bench_now ();
    for (size_t i = 0; i < n; i++)
        crypto_sign_detached (sig, NULL, payloads + i * size, size, s_sk);
    double raw_s = bench_now () - t0;
    double raw_each = raw_s / (double)n;

    /* durable ingest: two stages, as in wardend (where the keys process
       signs while the engine commits): this thread builds and signs group
       k+1 while the committer thread appends and fsyncs group k */
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/bench_signer.%d.db", dir, (int)getpid ());
    s_committer_t cm = { .n = n, .latency = latency };
    snprintf (cm.origin, sizeof cm.origin, "warden-pcr/%s/bench", S_ORIGIN_NAME);
    if (capsule_pcr_log_open (path, false, cm.origin, &cm.log, cm.why, sizeof cm.why) != WD_OK) {
        fprintf (stderr, "bench_signer: %s\n", cm.why);
        return 3;
    }
    pthread_mutex_init (&cm.lock, NULL);
    pthread_cond_init (&cm.cond, NULL);
    s_group_t groups[2];
    for (int k = 0; k < 2; k++) {
        groups[k].items = bench_alloc (batch * sizeof (s_item_t));
        groups[k].count = 0;
    }
    pthread_t thread;
    if (pthread_create (&thread, NULL, s_commit_main, &cm) != 0)
        return 3;
    int status = 0;
    double prepare_s = 0;
    t0 = bench_now ();
    for (size_t i = 0, k = 0; i < n && status == 0; k ^= 1) {
        s_group_t *grp = &groups[k];
        /* wait until the committer is done with this buffer */
        pthread_mutex_lock (&cm.lock);
        while (cm.pending == grp)
            pthread_cond_wait (&cm.cond, &cm.lock);
        status = cm.status;
        pthread_mutex_unlock (&cm.lock);
        for (size_t g = 0; g < grp->count; g++)
            free (grp->items[g].envelope);
        grp->count = 0;
        double prep_t = bench_now ();
        for (size_t g = 0; g < batch && i < n && status == 0; g++, i++) {
            s_item_t *it = &grp->items[grp->count++];
            it->arrived = bench_now ();
            it->index = i;
            it->data = payloads + i * size;
            it->size = size;
            snprintf (it->name, sizeof it->name, "result-%06zu.bin", i);
            capsule_pcr_result_t r = { .name = it->name,
                                       .size = size,
                                       .channel = "serial:/dev/ttyS0",
                                       .has_seq = true,
                                       .seq = i + 1,
                                       .received_ms = capsule_pcr_now_ms (),
                                       .node = S_ORIGIN_NAME,
                                       .key_protection = "software" };
            it->received_ms = r.received_ms;
            crypto_hash_sha256 (r.sha256, it->data, size);
            memcpy (it->sha256, r.sha256, 32);
            memcpy (r.node_id, s_pk, 32);
            capsule_pcr_meta_t meta;
            int parsed = capsule_pcr_meta_parse (it->name, it->data, size, &meta);
            (void)parsed; /* random payloads: parsed false, with the reason, as in the node */
            size_t body_len;
            uint8_t *body = capsule_pcr_statement (&r, &meta, &body_len);
            capsule_pcr_meta_clear (&meta);
            if (wd_envelope_seal (CAPSULE_PCR_TYPE, s_zero_chain, s_pk, body, body_len, s_sign,
                                  NULL, &it->envelope, &it->envelope_len) != WD_OK)
                status = 3;
            free (body);
        }
        prepare_s += bench_now () - prep_t;
        pthread_mutex_lock (&cm.lock);
        while (cm.pending) /* the other buffer is still being committed */
            pthread_cond_wait (&cm.cond, &cm.lock);
        cm.pending = grp;
        pthread_cond_broadcast (&cm.cond);
        pthread_mutex_unlock (&cm.lock);
    }
    pthread_mutex_lock (&cm.lock);
    while (cm.pending)
        pthread_cond_wait (&cm.cond, &cm.lock);
    cm.done = true;
    pthread_cond_broadcast (&cm.cond);
    pthread_mutex_unlock (&cm.lock);
    pthread_join (thread, NULL);
    double ingest_s = bench_now () - t0;
    for (int k = 0; k < 2; k++) {
        for (size_t g = 0; g < groups[k].count; g++)
            free (groups[k].items[g].envelope);
        free (groups[k].items);
    }
    if (!status)
        status = cm.status;
    capsule_pcr_log_t *log = cm.log;
    char why[256];
    if (status) {
        fprintf (stderr, "bench_signer: %s\n", cm.why);
        unlink (path);
        return status;
    }

    /* answers: the whole log re-verified from the file, one bundle offline */
    capsule_pcr_verify_report_t rep;
    int rc = capsule_pcr_log_verify (log, s_pk, &rep, why, sizeof why);
    if (rc != WD_OK || rep.entries != n) {
        fprintf (stderr, "bench_signer: log does not verify: %s\n", why);
        status = 1;
    }
    uint8_t *bundle;
    size_t bundle_len;
    if (status == 0 && (capsule_pcr_log_bundle (log, n / 2, true, cert_bytes, cert_len, &bundle,
                                                &bundle_len, why, sizeof why) != WD_OK ||
                        capsule_bundle_verify (bundle, bundle_len, payloads + (n / 2) * size, size,
                                               NULL, 0, NULL, NULL, 0) != CAPSULE_VERIFY_OK)) {
        fprintf (stderr, "bench_signer: bundle of entry %zu does not verify\n", n / 2);
        status = 1;
    } else if (status == 0)
        free (bundle);
    capsule_pcr_log_close (&log);
    char side[PATH_MAX + 8];
    unlink (path);
    snprintf (side, sizeof side, "%s-wal", path);
    unlink (side);
    snprintf (side, sizeof side, "%s-shm", path);
    unlink (side);

    qsort (latency, n, sizeof *latency, s_cmp);
    double p50 = latency[n / 2], p99 = latency[(size_t)((double)n * 0.99)], max = latency[n - 1];
    double raw_rate = (double)n / raw_s, ingest_rate = (double)n / ingest_s;
    printf ("bench_signer: %zu results of %zu bytes, groups of %zu (one fsync each), log in %s\n",
            n, size, batch, dir);
    printf ("  raw crypto_sign_detached   %10.0f results/s\n", raw_rate);
    printf ("  durable ingest             %10.0f results/s  (sign + log append + fsync per group "
            "+ signed checkpoint)\n",
            ingest_rate);
    printf ("  ratio ingest/raw           %10.2f  (goal >= 0.50)\n", ingest_rate / raw_rate);
    printf ("  stages                     build+sign %.2f s, append+commit+checkpoint %.2f s "
            "(run in parallel)\n",
            prepare_s, cm.busy_s);
    printf ("  latency to durable         p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50 * 1e3,
            p99 * 1e3, max * 1e3);
    printf ("  added over a raw signature p99 %.2f ms, max %.2f ms  (goal <= 10 ms)\n",
            (p99 - raw_each) * 1e3, (max - raw_each) * 1e3);
    printf ("  answers                    %s\n", status == 0 ? "log and bundle verified" : "WRONG");
    free (payloads);
    free (latency);
    free (cert_bytes);
    return status;
}
