/*
 * node_config: the table of wardend's configuration keys.
 */
#include "node_config.h"

#include <stdio.h>

#include "wd_cert.h"
#include "wd_keystore.h"

const wd_config_key_t node_config_table[] = {
    { "node/name", WD_CFG_STRING, NULL, NULL, 1, WD_CERT_NAME_MAX,
      "this node's name in the cluster ([A-Za-z0-9._-], set by wardenctl init)" },
    { "node/state", WD_CFG_PATH, NODE_STATE_DEFAULT, NULL, 0, 0,
      "state directory: node certificate, keys, ledger, control socket" },
    { "keystore/backend", WD_CFG_STRING, "file", NULL, 1, 16,
      "where the identity key lives: file (0600 key file); no fallback if it fails" },
    { "keystore/key_file", WD_CFG_PATH, NULL, NULL, 0, 0,
      "file backend: the identity key file (default: <state>/keys/identity.key)" },
    { "log/level", WD_CFG_ENUM, "info", "debug|info|warning|error", 0, 0,
      "most verbose log level written to standard error" },
    { "control/socket", WD_CFG_PATH, NULL, NULL, 0, 0,
      "control socket for wardenctl (default: <state>/control.sock)" },
    { "control/group", WD_CFG_STRING, NULL, NULL, 1, 32,
      "group allowed to use the control socket besides root and wardend's user" },
    { "cluster/genesis", WD_CFG_PATH, NULL, NULL, 0, 0,
      "the cluster's genesis file (default: <state>/genesis; none: not in a cluster yet)" },
    { NULL, 0, NULL, NULL, 0, 0, NULL },
};

static int
s_path (char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf (out, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
node_path_state (const wd_config_t *cfg, const char *name, char *out, size_t size)
{
    return s_path (out, size, wd_config_str (cfg, "node/state"), name);
}

static int
s_explicit_or_state (const wd_config_t *cfg, const char *key, const char *name, char *out,
                     size_t size)
{
    const char *explicit_path = wd_config_str (cfg, key);
    if (explicit_path) {
        int n = snprintf (out, size, "%s", explicit_path);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    return node_path_state (cfg, name, out, size);
}

int
node_path_identity_key (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "keystore/key_file", "keys/identity.key", out, size);
}

int
node_path_control (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "control/socket", "control.sock", out, size);
}

int
node_path_genesis (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "cluster/genesis", "genesis", out, size);
}

wd_err_t
node_config_check (const wd_config_t *cfg, char *why, size_t why_len)
{
    const char *name = wd_config_str (cfg, "node/name");
    if (!name) {
        snprintf (why, why_len, "node/name is not set (wardenctl init writes it)");
        return WD_ERR_CONFIG_VALUE;
    }
    if (!wd_cert_name_valid (name)) {
        snprintf (why, why_len, "node/name '%s' must be 1 to %d of A-Z a-z 0-9 . _ -", name,
                  WD_CERT_NAME_MAX);
        return WD_ERR_CONFIG_VALUE;
    }
    const char *backend = wd_config_str (cfg, "keystore/backend");
    if (!wd_keystore_backend (backend)) {
        snprintf (why, why_len,
                  "keystore/backend '%s' is not built into this wardend (built in: file)", backend);
        return WD_ERR_CONFIG_VALUE;
    }
    return WD_OK;
}
