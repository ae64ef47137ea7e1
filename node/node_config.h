/*
 * node_config: wardend's configuration keys and the paths derived from
 * them. The table here is the single source of truth: it validates files
 * (wd_config), writes the commented default file (wardenctl init) and is
 * listed in docs/OPERATIONS.md and wardend(8).
 */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "wd_cert.h"
#include "wd_config.h"
#include "wd_keystore.h"

#define NODE_CONFIG_DEFAULT_PATH "/etc/warden/warden.conf"
#define NODE_STATE_DEFAULT       "/var/lib/warden"

extern const wd_config_key_t node_config_table[];

/* Paths inside the state directory, from the configuration (explicit keys
   win over the defaults). Each writes a NUL-terminated path into out (size
   bytes) and returns 0, or -1 if it does not fit. */
int
node_path_identity_key (const wd_config_t *cfg, char *out, size_t size);
int
node_path_control (const wd_config_t *cfg, char *out, size_t size);
int
node_path_genesis (const wd_config_t *cfg, char *out, size_t size);
/* Fills params from the keystore/ keys; the file backend's key path is
   written into key_path (size bytes), which params then points to. Returns 0,
   or -1 if the path does not fit. */
int
node_keystore_params (const wd_config_t *cfg, wd_keystore_params_t *params, char *key_path,
                      size_t size);
/* Reads and opens (verifies) <state>/node.cert into *cert. Returns false
   when it is missing, too long or does not verify; callers that must say
   why read it themselves. */
bool
node_config_read_cert (const wd_config_t *cfg, wd_cert_t *cert);
/* <state>/<name>, for node.cert, keys/vrf.key, keys/curve.key, keys/. */
int
node_path_state (const wd_config_t *cfg, const char *name, char *out, size_t size);

/* Loads path (and its conf.d), applies log_level over log/level when not
   NULL, and runs node_config_check: what wardend, its SIGHUP reload and
   `wardend pxe` all do. Returns WD_OK and *cfg, or the reason in why. */
wd_err_t __attribute__ ((warn_unused_result))
node_config_load (const char *path, const char *log_level, wd_config_t **cfg, char *why,
                  size_t why_len);

/* Checks what the table cannot: node/name is set and valid, the keystore
   backend is built in. Returns WD_OK or WD_ERR_CONFIG_VALUE with a reason. */
wd_err_t __attribute__ ((warn_unused_result))
node_config_check (const wd_config_t *cfg, char *why, size_t why_len);

#endif
