/*
 * node_measure: the engine's start-up and keystore measurements, saved
 * after every append so a crash never loses one (attest_log_save replaces
 * the file atomically).
 */
#include "node_measure.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attest_ima.h"
#include "node_config.h"
#include "node_pxe.h"
#include "node_tpm.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_log.h"

static int
s_save (const attest_log_t *log, const wd_config_t *cfg)
{
    char path[PATH_MAX];
    if (node_path_state (cfg, NODE_MEASURE_FILE, path, sizeof path) != 0)
        return WD_ERR_IO;
    return attest_log_save (log, path);
}

/* A saved log that does not load is kept beside it for the operator and
   replaced by a new log whose first entry is the digest of the old bytes. */
static attest_log_t *
s_reset (const char *path, const char *reason, uint32_t pcr)
{
    char aside[PATH_MAX + 32];
    snprintf (aside, sizeof aside, "%s.bad-%lld", path, (long long)time (NULL));
    attest_log_t *log = attest_log_new (pcr);
    if (!log)
        wd_fatalx ("out of memory");
    wd_log_warnx ("measurement log %s does not load (%s); moved to %s, starting a new log", path,
                  reason, aside);
    int rc = attest_log_measure_file (log, path, NODE_MEASURE_LOG_RESET);
    if (rc != WD_OK || rename (path, aside) != 0)
        wd_log_warnx ("measurement log %s: cannot set it aside: %s", path, strerror (errno));
    return log;
}

/* The log extends pcr: IMA's PCR 10 without a TPM, the resettable PCR
   it is anchored in with one (node_tpm_log_pcr). A log saved for the other
   PCR does not load and is set aside like any other. */
static attest_log_t *
s_open (const char *path, uint32_t pcr)
{
    char reason[256];
    attest_log_t *log = NULL;
    int rc = attest_log_load_file (path, pcr, &log, reason, sizeof reason);
    if (rc == WD_OK)
        return log;
    if (rc != WD_ERR_NOT_FOUND)
        return s_reset (path, reason, pcr);
    log = attest_log_new (pcr);
    if (!log)
        wd_fatalx ("out of memory");
    return log;
}

/* The genesis, when there is one, must be valid before it is measured:
   a node must not start on a cluster definition it cannot read. Returns
   WD_OK (*exists says whether there is a file) or the reason. */
static wd_err_t
s_check_genesis (const char *path, bool *exists)
{
    wd_genesis_t *genesis;
    wd_err_t err = wd_genesis_load (path, &genesis);
    *exists = err != WD_ERR_NOT_FOUND;
    wd_genesis_destroy (&genesis);
    return err == WD_ERR_NOT_FOUND ? WD_OK : err;
}

attest_log_t *
node_measure_start (const wd_config_t *cfg, char *why, size_t why_len)
{
    char path[PATH_MAX], exe[PATH_MAX], cert[PATH_MAX], genesis[PATH_MAX];
    if (node_path_state (cfg, NODE_MEASURE_FILE, path, sizeof path) != 0 ||
        node_path_state (cfg, "node.cert", cert, sizeof cert) != 0 ||
        node_path_genesis (cfg, genesis, sizeof genesis) != 0) {
        snprintf (why, why_len, "state path is too long");
        return NULL;
    }
    bool has_genesis;
    wd_err_t err = s_check_genesis (genesis, &has_genesis);
    if (err != WD_OK) {
        snprintf (why, why_len, "genesis %s: %s (%s)", genesis, wd_strerror (err),
                  wd_err_name (err));
        return NULL;
    }
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf (why, why_len, "cannot resolve /proc/self/exe: %s", strerror (errno));
        return NULL;
    }
    exe[n] = '\0';

    attest_log_t *log = s_open (path, node_tpm_log_pcr (cfg));
    size_t config_len;
    uint8_t *config = wd_config_pack (cfg, &config_len);
    int rc = attest_log_measure_file (log, "/proc/self/exe", exe);
    const char *what = exe;
    if (rc == WD_OK) {
        rc = attest_log_measure_buffer (log, NODE_MEASURE_CONFIG, config, config_len);
        what = NODE_MEASURE_CONFIG;
    }
    if (rc == WD_OK) {
        rc = attest_log_measure_file (log, cert, NULL);
        what = cert;
    }
    if (rc == WD_OK && has_genesis) {
        rc = attest_log_measure_file (log, genesis, NULL);
        what = genesis;
    }
    free (config);
    if (rc == WD_OK) {
        rc = s_save (log, cfg);
        what = path;
    }
    if (rc != WD_OK) {
        snprintf (why, why_len, "measuring %s: %s", what, attest_strerror (rc));
        attest_log_destroy (&log);
        return NULL;
    }
    wd_log_info ("measured start-up: %llu entries in %s",
                 (unsigned long long)attest_log_count (log), path);
    return log;
}

int
node_measure_keystore (attest_log_t *log, const wd_config_t *cfg, const wd_msg_keys_status_t *keys)
{
    wd_msg_keys_status_t measured = *keys;
    measured.signatures = 0; /* a counter, not a property of the keystore */
    size_t len;
    uint8_t *body = wd_msg_encode_keys_status (&measured, &len);
    char name[sizeof NODE_MEASURE_KEYSTORE + WD_MSG_NAME_MAX + 1];
    snprintf (name, sizeof name, "%s:%s", NODE_MEASURE_KEYSTORE, keys->backend);
    int rc = attest_log_measure_buffer (log, name, body, len);
    free (body);
    return rc == WD_OK ? s_save (log, cfg) : rc;
}

int
node_measure_pxe_served (attest_log_t *log, const wd_config_t *cfg, const pxe_served_record_t *rec)
{
    char name[PXE_PATH_MAX + 96];
    node_pxe_measure_name (rec, name, sizeof name);
    int rc = attest_log_append_digest (log, name, rec->sha256);
    return rc == WD_OK ? s_save (log, cfg) : rc;
}
