/*
 * node_config: wardend's configuration keys and the paths derived from
 * them. The table here is the single source of truth: it validates files
 * (wd_config), writes the commented default file (wardenctl init) and is
 * listed in docs/OPERATIONS.md and wardend(8).
 */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stddef.h>

#include "wd_config.h"

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
/* <state>/<name>, for node.cert, keys/vrf.key, keys/curve.key, keys/. */
int
node_path_state (const wd_config_t *cfg, const char *name, char *out, size_t size);

/* Checks what the table cannot: node/name is set and valid, the keystore
   backend is built in. Returns WD_OK or WD_ERR_CONFIG_VALUE with a reason. */
wd_err_t __attribute__ ((warn_unused_result))
node_config_check (const wd_config_t *cfg, char *why, size_t why_len);

#endif
