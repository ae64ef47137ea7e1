/*
 * node_measure: the node's measurements of itself (DESIGN.md §7; issue 4
 * item 1), kept in Warden's own IMA-compatible log (attest_log) at
 * <state>/measurements.bin.
 *
 * The engine measures at every start — and the parent restarts its children
 * on SIGHUP, so every reload too — the wardend binary it runs, the
 * effective configuration, the node certificate, the cluster's genesis
 * file when there is one (verified first) and, once the keys process
 * answers, the keystore's backend and status. The log persists across
 * restarts, so a verifier that keeps a replay state at entry N continues
 * from the delta after N instead of seeing registers start over. A saved
 * log that no longer loads is moved aside and a new log starts with a
 * "warden:log-reset" entry holding the digest of the bytes set aside.
 */
#ifndef NODE_MEASURE_H
#define NODE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "attest_log.h"
#include "pxe_images.h"
#include "wd_config.h"
#include "wd_msg.h"

#define NODE_MEASURE_FILE      "measurements.bin"
#define NODE_MEASURE_CONFIG    "warden:config"
#define NODE_MEASURE_KEYSTORE  "warden:keystore"
#define NODE_MEASURE_LOG_RESET "warden:log-reset"

/* Loads (or creates) the log, appends the start-up measurements (the
   running binary under its resolved path, the effective configuration as
   wd_config_pack bytes under NODE_MEASURE_CONFIG, the node certificate and
   the genesis file, when it exists, under their paths) and saves it. On
   failure — including a genesis file that does not verify — returns NULL
   and writes a reason to why. */
attest_log_t *
node_measure_start (const wd_config_t *cfg, char *why, size_t why_len);

/* Appends the keystore measurement — the keys-status body with its
   signature count set to zero, under NODE_MEASURE_KEYSTORE ":" backend —
   and saves the log. Returns WD_OK, ATTEST_ERR_LOG_NAME or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
node_measure_keystore (attest_log_t *log, const wd_config_t *cfg, const wd_msg_keys_status_t *keys);

/* Appends a file the pxe child served — the digest of the bytes sent,
   under node_pxe_measure_name's "pxe:<client>:<file>" — and saves the log.
   Returns WD_OK, ATTEST_ERR_LOG_NAME or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
node_measure_pxe_served (attest_log_t *log, const wd_config_t *cfg, const pxe_served_record_t *rec);

#endif
