/*
 * wardend: the Warden node daemon. The parent validates its configuration
 * and runs node_parent; the same binary re-executed with "--child ROLE"
 * becomes the keys or engine process (DESIGN.md §4).
 */
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_config.h"
#include "node_engine.h"
#include "node_keys.h"
#include "node_parent.h"
#include "node_proc.h"
#include "node_pxe.h"
#include "wd_cert.h"
#include "wd_hash.h"
#include "wd_keystore.h"
#include "wd_log.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: wardend [-c FILE] [-l LEVEL] [--check-config]\n"
             "       wardend pxe [-c FILE] [-l LEVEL]   (the boot server alone)\n"
             "\n"
             "Runs a Warden node: a root parent with a keys process (holds the identity\n"
             "key) and an engine process (network, state, control socket).\n"
             "\n"
             "  -c, --config FILE   configuration file (default %s);\n"
             "                      FILE's directory's conf.d/*.conf are read after it\n"
             "  -l, --log-level L   debug, info, warning or error (overrides log/level)\n"
             "      --check-config  validate the configuration, the node certificate and\n"
             "                      the identity key, then exit (0 ok, 2 not ok)\n"
             "  -h, --help          show this help\n"
             "  -V, --version       show the version\n"
             "\n"
             "See wardend(8).\n",
             NODE_CONFIG_DEFAULT_PATH);
}

/* Everything --check-config checks beyond the configuration itself: the
   certificate decodes and verifies, and the keystore opens with the key the
   certificate names. */
static int
s_check_identity (const wd_config_t *cfg)
{
    char cert_path[PATH_MAX], key_path[PATH_MAX], where[PATH_MAX + 128];
    wd_keystore_params_t params;
    if (node_path_state (cfg, "node.cert", cert_path, sizeof cert_path) != 0 ||
        node_keystore_params (cfg, &params, key_path, sizeof key_path) != 0) {
        fprintf (stderr, "wardend: state path is too long\n");
        return 2;
    }
    FILE *f = fopen (cert_path, "rb");
    if (!f) {
        fprintf (stderr, "wardend: %s: cannot open node certificate (run wardenctl init)\n",
                 cert_path);
        return 2;
    }
    uint8_t buf[WD_CERT_MAX_BYTES + 1];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    wd_cert_t cert;
    wd_err_t err = wd_cert_open (buf, len, &cert);
    if (err != WD_OK) {
        fprintf (stderr, "wardend: %s: %s\n", cert_path, wd_strerror (err));
        return 2;
    }
    if (strcmp (cert.name, wd_config_str (cfg, "node/name")) != 0) {
        fprintf (stderr, "wardend: %s is for node '%s', node/name says '%s'\n", cert_path,
                 cert.name, wd_config_str (cfg, "node/name"));
        return 2;
    }
    const char *backend = wd_config_str (cfg, "keystore/backend");
    wd_keystore_describe (backend, &params, where, sizeof where);
    wd_keystore_t *ks;
    err = wd_keystore_open (backend, &params, &ks);
    if (err != WD_OK) {
        fprintf (stderr, "wardend: keystore %s: %s (%s; %s)\n", backend, wd_strerror (err),
                 wd_err_name (err), where);
        return 2;
    }
    bool match = sodium_memcmp (wd_keystore_public_key (ks), cert.sign_pk, WD_PUBKEY_LEN) == 0;
    wd_keystore_destroy (&ks);
    if (!match) {
        fprintf (stderr, "wardend: %s: %s (%s)\n", cert_path, wd_strerror (WD_ERR_KEY_MISMATCH),
                 where);
        return 2;
    }
    uint8_t id[WD_HASH_LEN];
    wd_hash_sha256 (id, buf, len);
    printf ("node %s (%s), keystore %s, certificate %s matches the identity key\n", cert.name,
            wd_short_id (cert.sign_pk).s, backend, wd_short_id (id).s);
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' },
        { "check-config", no_argument, NULL, 'C' },
        { "child", required_argument, NULL, 'K' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    if (argc > 1 && strcmp (argv[1], "pxe") == 0) /* the boot server alone */
        return sodium_init () < 0 ? 3 : node_pxe_standalone (argc - 1, argv + 1);
    const char *config_path = NODE_CONFIG_DEFAULT_PATH;
    const char *log_level = NULL;
    const char *child = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:l:hV", options, NULL)) != -1) {
        switch (opt) {
            case 'c':
                config_path = optarg;
                break;
            case 'l':
                log_level = optarg;
                break;
            case 'C':
                check_only = true;
                break;
            case 'K':
                child = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf ("wardend %s\n", WARDEN_VERSION);
                return 0;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    if (optind != argc) {
        s_usage (stderr);
        return 2;
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "wardend: libsodium failed to initialise\n");
        return 3;
    }
    if (child) {
        /* Internal: re-executed by the parent with the channel on fd 3. */
        switch (node_proc_role (child)) {
            case NODE_PROC_KEYS:
                return node_keys_main ();
            case NODE_PROC_ENGINE:
                return node_engine_main ();
            case NODE_PROC_PXE:
                return node_pxe_main ();
            default:
                fprintf (stderr, "wardend: unknown child role '%s'\n", child);
                return 2;
        }
    }

    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    if (node_config_load (config_path, log_level, &cfg, why, sizeof why) != WD_OK) {
        fprintf (stderr, "wardend: %s\n", why);
        return 2;
    }
    if (check_only) {
        int status = s_check_identity (cfg);
        if (status == 0)
            printf ("%s: configuration ok\n", config_path);
        wd_config_destroy (&cfg);
        return status;
    }
    return node_parent_main (config_path, log_level, &cfg);
}
