/*
 * wardenctl: the operator's command. `init` creates a node's identity
 * (keys, certificate, configuration) in a state directory; `status` asks the
 * running wardend over its control socket and verifies the signed answer;
 * `keys show` prints the node's public keys. Every listing has --json.
 * Exit codes (STYLE.md): 0 ok, 1 the answer is "no", 2 usage or input
 * error, 3 internal error.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "node_config.h"
#include "node_ctl.h"
#include "node_status.h"
#include "wd_cert.h"
#include "wd_chan.h"
#include "wd_hash.h"
#include "wd_keyfile.h"
#include "wd_keystore.h"
#include "wd_msg.h"

#define STATUS_TIMEOUT_MS 5000

/* Global options, before the command. */
static const char *s_state = NODE_STATE_DEFAULT;
static const char *s_socket;

typedef struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} s_command_t;

static int
s_path (char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf (out, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static const char *
s_hex32 (char out[WD_HASH_HEX_LEN + 1], const uint8_t bin[32])
{
    return wd_hex_encode (out, bin, 32);
}

/* Reads and verifies <state>/node.cert. With quiet, returns 0 or -1 and
   says nothing; otherwise returns 0, or an exit status after reporting the
   problem. */
static int
s_load_cert (wd_cert_t *cert, uint8_t id[WD_HASH_LEN], bool quiet)
{
    char path[PATH_MAX];
    uint8_t buf[WD_CERT_MAX_BYTES + 1];
    if (s_path (path, sizeof path, s_state, "node.cert") != 0)
        return quiet ? -1 : node_ctl_fail (NODE_CTL_EXIT_USAGE, "state path is too long");
    ssize_t len = node_ctl_read_small (path, buf, sizeof buf);
    if (len < 0)
        return quiet ? -1
                     : node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s (run wardenctl init --state %s)",
                                      path, strerror (errno), s_state);
    wd_err_t err = wd_cert_open (buf, (size_t)len, cert);
    if (err != WD_OK)
        return quiet ? -1 : node_ctl_fail (NODE_CTL_EXIT_NO, "%s: %s", path, wd_strerror (err));
    wd_hash_sha256 (id, buf, (size_t)len);
    return 0;
}

static const char *
s_time_iso (char out[32], uint64_t unix_time)
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

/* ---- init ---------------------------------------------------------------- */

static void
s_default_name (char *out, size_t size)
{
    char host[256] = "";
    gethostname (host, sizeof host - 1);
    size_t n = 0;
    for (const char *p = host; *p && n + 1 < size && n < WD_CERT_NAME_MAX; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[n++] = ok ? c : '-';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf (out, size, "node");
}

static int
s_mkdir_private (const char *path)
{
    if (mkdir (path, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat (path, &st) != 0)
        return -1;
    if (!S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Creates path exclusively and writes data to it durably. */
static int
s_write_new (const char *path, mode_t mode, const void *data, size_t len)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    ssize_t n = write (fd, data, len);
    if (n != (ssize_t)len || fsync (fd) != 0) {
        int saved = n < 0 ? errno : EIO;
        close (fd);
        unlink (path);
        errno = saved;
        return -1;
    }
    return close (fd);
}

/* Generates a seed-based key file and returns its public key via derive. */
static int
s_new_keyfile (const char *path, const char *alg, uint8_t public_key[32])
{
    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    if (!seed)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "out of memory");
    randombytes_buf (seed, WD_SEED_LEN);
    wd_err_t err = wd_keyfile_write (path, alg, seed);
    if (err == WD_OK) {
        if (strcmp (alg, WD_KEYFILE_X25519) == 0)
            crypto_scalarmult_base (public_key, seed);
        else {
            /* An ECVRF-EDWARDS25519 key pair derives from its seed exactly
               as an Ed25519 key pair does (RFC 9381 §5.1, RFC 8032 §5.1.5). */
            uint8_t sk[crypto_sign_SECRETKEYBYTES];
            crypto_sign_seed_keypair (public_key, sk, seed);
            sodium_memzero (sk, sizeof sk);
        }
    }
    sodium_free (seed);
    if (err != WD_OK)
        return node_ctl_fail (err == WD_ERR_EXISTS ? NODE_CTL_EXIT_USAGE : NODE_CTL_EXIT_INTERNAL,
                              "%s: %s%s", path, wd_strerror (err),
                              err == WD_ERR_IO ? strerror (errno) : "");
    return 0;
}

static int
s_cmd_init (int argc, char **argv)
{
    static const struct option options[] = {
        { "state", required_argument, NULL, 's' },
        { "name", required_argument, NULL, 'n' },
        { "backend", required_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "module", required_argument, NULL, 'M' },
        { "token", required_argument, NULL, 'T' },
        { "key-label", required_argument, NULL, 'L' },
        { "pin-file", required_argument, NULL, 'P' },
        { "slot", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    char name[WD_CERT_NAME_MAX + 1];
    s_default_name (name, sizeof name);
    const char *backend = "file";
    const char *module = NULL, *pin_file = NULL, *slot = NULL;
    wd_keystore_params_t params = { 0 };
    bool json = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "s:n:b:jh", options, NULL)) != -1) {
        switch (opt) {
            case 'M':
                module = optarg;
                break;
            case 'T':
                params.token = optarg;
                break;
            case 'L':
                params.key_label = optarg;
                break;
            case 'P':
                pin_file = optarg;
                break;
            case 'S':
                slot = optarg;
                break;
            case 's':
                s_state = optarg;
                break;
            case 'n':
                snprintf (name, sizeof name, "%s", optarg);
                break;
            case 'b':
                backend = optarg;
                break;
            case 'j':
                json = true;
                break;
            case 'h':
                printf ("usage: wardenctl init [--state DIR] [--name NAME] [--backend file] "
                        "[--json]\n"
                        "       wardenctl init ... --backend pkcs11 --module PATH --token LABEL\n"
                        "                          --key-label LABEL --pin-file FILE\n"
                        "       wardenctl init ... --backend zymbit --slot N\n\n"
                        "Creates DIR (default %s) with this node's identity key, VRF key,\n"
                        "CURVE key, node certificate and a commented configuration file.\n"
                        "Refuses to touch a directory that already holds a node. With pkcs11\n"
                        "the identity key pair is generated inside the token and cannot be\n"
                        "exported; with zymbit it is the Ed25519 key already in slot N.\n",
                        NODE_STATE_DEFAULT);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: unexpected argument '%s'", argv[optind]);
    if (!wd_cert_name_valid (name))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "init: name '%s' must be 1 to %d of A-Z a-z 0-9 . _ -", name,
                              WD_CERT_NAME_MAX);
    const wd_keystore_backend_t *ks_backend = wd_keystore_backend (backend);
    if (!ks_backend)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "init: keystore backend '%s' is not built in (built in: %s)", backend,
                              wd_keystore_backend_names ());
    /* Paths go into the configuration, which wants them absolute. */
    char module_abs[PATH_MAX], pin_abs[PATH_MAX], slot_text[16] = "";
    bool pkcs11 = strcmp (backend, "pkcs11") == 0;
    if (pkcs11) {
        if (!module || !params.token || !params.key_label || !pin_file)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: --backend pkcs11 needs --module, "
                                                       "--token, --key-label and --pin-file");
        if (strlen (params.token) > 32 || strlen (params.key_label) > 64)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: a token label has at most 32 bytes, "
                                                       "a key label at most 64");
        if (!realpath (module, module_abs))
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: module %s: %s", module,
                                  strerror (errno));
        if (!realpath (pin_file, pin_abs))
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: PIN file %s: %s", pin_file,
                                  strerror (errno));
        params.module = module_abs;
        params.pin_file = pin_abs;
    }
    if (strcmp (backend, "zymbit") == 0) {
        char *end;
        long n = slot ? strtol (slot, &end, 10) : -1;
        if (!slot || *end || n < 0 || n > 1023)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: --backend zymbit needs --slot N");
        params.slot = (int)n;
        snprintf (slot_text, sizeof slot_text, "%ld", n);
    }
    if (s_state[0] != '/')
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "init: the state directory must be an absolute path");

    char keys_dir[PATH_MAX], identity[PATH_MAX], vrf[PATH_MAX], curve[PATH_MAX],
        cert_path[PATH_MAX], conf_path[PATH_MAX];
    if (s_path (keys_dir, sizeof keys_dir, s_state, "keys") ||
        s_path (identity, sizeof identity, s_state, "keys/identity.key") ||
        s_path (vrf, sizeof vrf, s_state, "keys/vrf.key") ||
        s_path (curve, sizeof curve, s_state, "keys/curve.key") ||
        s_path (cert_path, sizeof cert_path, s_state, "node.cert") ||
        s_path (conf_path, sizeof conf_path, s_state, "warden.conf"))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: state path is too long");
    if (access (cert_path, F_OK) == 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "init: %s already holds a node (%s exists)",
                              s_state, cert_path);
    if (s_mkdir_private (s_state) != 0 || s_mkdir_private (keys_dir) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: %s: %s", s_state, strerror (errno));

    params.path = identity;
    char where[PATH_MAX + 128];
    wd_keystore_describe (backend, &params, where, sizeof where);
    wd_err_t err = wd_keystore_generate (backend, &params);
    if (err != WD_OK)
        return node_ctl_fail (err == WD_ERR_EXISTS ? NODE_CTL_EXIT_USAGE : NODE_CTL_EXIT_INTERNAL,
                              "init: %s: %s (%s)", where, wd_strerror (err), wd_err_name (err));
    wd_cert_t cert = { .created = (uint64_t)time (NULL) };
    snprintf (cert.name, sizeof cert.name, "%s", name);
    int status = s_new_keyfile (vrf, WD_KEYFILE_ECVRF, cert.vrf_pk);
    if (status == 0)
        status = s_new_keyfile (curve, WD_KEYFILE_X25519, cert.curve_pk);
    if (status != 0)
        return status;

    wd_keystore_t *ks;
    err = wd_keystore_open (backend, &params, &ks);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: %s: %s (%s)", where, wd_strerror (err),
                              wd_err_name (err));
    memcpy (cert.sign_pk, wd_keystore_public_key (ks), WD_PUBKEY_LEN);
    wd_keystore_status_t ks_status;
    wd_keystore_status (ks, &ks_status);
    snprintf (cert.key_protection, sizeof cert.key_protection, "%s", ks_status.key_protection);
    uint8_t *cert_bytes;
    size_t cert_len;
    err = wd_cert_seal (&cert, wd_keystore_sign_fn, ks, &cert_bytes, &cert_len);
    wd_keystore_destroy (&ks);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: certificate: %s", wd_strerror (err));
    if (s_write_new (cert_path, 0644, cert_bytes, cert_len) != 0) {
        free (cert_bytes);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: %s: %s", cert_path, strerror (errno));
    }
    uint8_t cert_id[WD_HASH_LEN];
    wd_hash_sha256 (cert_id, cert_bytes, cert_len);
    free (cert_bytes);

    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = wd_config_new (node_config_table);
    if (!cfg || wd_config_set (cfg, "node/name", name, why, sizeof why) != WD_OK ||
        wd_config_set (cfg, "node/state", s_state, why, sizeof why) != WD_OK ||
        wd_config_set (cfg, "keystore/backend", backend, why, sizeof why) != WD_OK ||
        (pkcs11 &&
         (wd_config_set (cfg, "keystore/module", params.module, why, sizeof why) != WD_OK ||
          wd_config_set (cfg, "keystore/token", params.token, why, sizeof why) != WD_OK ||
          wd_config_set (cfg, "keystore/key_label", params.key_label, why, sizeof why) != WD_OK ||
          wd_config_set (cfg, "keystore/pin_file", params.pin_file, why, sizeof why) != WD_OK)) ||
        (*slot_text &&
         wd_config_set (cfg, "keystore/zymbit_slot", slot_text, why, sizeof why) != WD_OK))
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: configuration: %s",
                              cfg ? why : "out of memory");
    int fd = open (conf_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *conf = fd >= 0 ? fdopen (fd, "w") : NULL;
    int written = conf ? wd_config_write (cfg, conf) : -1;
    wd_config_destroy (&cfg);
    if (!conf || written != 0 || fflush (conf) != 0 || fsync (fileno (conf)) != 0 ||
        fclose (conf) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "init: %s: %s", conf_path, strerror (errno));

    char hex[WD_HASH_HEX_LEN + 1];
    if (json) {
        node_ctl_print_json (json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "id",
                                        s_hex32 (hex, cert.sign_pk), "state", s_state,
                                        "certificate", cert_path, "config", conf_path,
                                        "key_protection", cert.key_protection));
    } else {
        printf ("initialised node %s in %s\n", name, s_state);
        printf ("  id           %s\n", s_hex32 (hex, cert.sign_pk));
        printf ("  certificate  %s (%s)\n", cert_path, wd_short_id (cert_id).s);
        if (strcmp (backend, "file") == 0)
            printf ("  keys         %s/ (identity, vrf, curve; mode 0600)\n", keys_dir);
        else
            printf ("  keys         %s/ (vrf, curve; mode 0600); identity in %s: %s\n", keys_dir,
                    backend, where);
        printf ("  config       %s\n", conf_path);
        printf ("start it with: wardend -c %s\n", conf_path);
    }
    return 0;
}

/* ---- status ---------------------------------------------------------------- */

static json_t *
s_json_hex32 (const uint8_t bin[32])
{
    char hex[WD_HASH_HEX_LEN + 1];
    return json_string (wd_hex_encode (hex, bin, 32));
}

static json_t *
s_status_json (const node_status_t *st, bool is_signed, const char *reason, bool compared)
{
    json_t *procs = json_array ();
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        const wd_msg_proc_state_t *p = &st->procs.procs[i];
        if (!p->name[0])
            continue; /* not part of this node's configuration (pxe) */
        json_array_append_new (procs,
                               json_pack ("{s:s, s:s, s:I, s:I, s:I}", "name", p->name, "state",
                                          p->state, "pid", (json_int_t)p->pid, "restarts",
                                          (json_int_t)p->restarts, "since", (json_int_t)p->since));
    }
    json_t *node =
        json_pack ("{s:s, s:o, s:o, s:o, s:o, s:s}", "name", st->cert.name, "id",
                   s_json_hex32 (st->cert.sign_pk), "certificate", s_json_hex32 (st->cert_id),
                   "vrf_pk", s_json_hex32 (st->cert.vrf_pk), "curve_pk",
                   s_json_hex32 (st->cert.curve_pk), "key_protection", st->cert.key_protection);
    json_t *keystore =
        st->has_keys
            ? json_pack ("{s:s, s:s, s:s, s:b, s:I}", "backend", st->keys.backend, "key_protection",
                         st->keys.key_protection, "tamper", st->keys.tamper, "healthy",
                         st->keys.healthy, "signatures", (json_int_t)st->keys.signatures)
            : json_null ();
    char sha1[2 * sizeof st->measured.sha1 + 1];
    json_t *measurements =
        json_pack ("{s:I, s:s, s:o}", "entries", (json_int_t)st->measured.entries, "sha1",
                   wd_hex_encode (sha1, st->measured.sha1, sizeof st->measured.sha1), "sha256",
                   s_json_hex32 (st->measured.sha256));
    json_t *signature = json_pack ("{s:b, s:b, s:s*}", "verified", is_signed, "matches_state_dir",
                                   compared, "unsigned_reason", is_signed ? NULL : reason);
    return json_pack ("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "version", st->version,
                      "pid", (json_int_t)st->pid, "now", (json_int_t)st->now, "state_dir",
                      st->state_dir, "processes", procs, "node", node, "keystore", keystore,
                      "measurements", measurements, "signature", signature);
}

static void
s_status_print (const node_status_t *st, bool is_signed, const char *reason, bool compared)
{
    char hex[WD_HASH_HEX_LEN + 1], when[32];
    printf ("node        %s\n", st->cert.name);
    printf ("id          %s\n", s_hex32 (hex, st->cert.sign_pk));
    printf ("wardend     %s, pid %llu, state %s\n", st->version, (unsigned long long)st->pid,
            st->state_dir);
    if (st->has_keys)
        printf ("keystore    %s (%s), %s, signatures made %llu, tamper %s\n", st->keys.backend,
                st->keys.key_protection, st->keys.healthy ? "healthy" : "FAILING",
                (unsigned long long)st->keys.signatures, st->keys.tamper);
    else
        printf ("keystore    not answering\n");
    printf ("measured    %llu entries, sha256 register %s\n",
            (unsigned long long)st->measured.entries, s_hex32 (hex, st->measured.sha256));
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        const wd_msg_proc_state_t *p = &st->procs.procs[i];
        if (!p->name[0])
            continue;
        printf ("%-11s %-7s %-10s pid %-7llu restarts %llu, since %s\n", i == 0 ? "processes" : "",
                p->name, p->state, (unsigned long long)p->pid, (unsigned long long)p->restarts,
                s_time_iso (when, p->since));
    }
    if (is_signed)
        printf ("signature   verified: signed by %s through its keys process, fresh%s\n",
                wd_short_id (st->cert.sign_pk).s, compared ? ", matches node.cert" : "");
    else
        printf ("signature   none: %s\n", reason);
}

/* Sends CTL_STATUS with nonce and waits for the reply. Returns 0 and the
   reply, or an exit status after reporting the problem. */
static int
s_status_request (const char *path, const uint8_t nonce[WD_MSG_NONCE_LEN], wd_chan_msg_t *reply)
{
    wd_chan_t *chan = wd_chan_connect (path);
    if (!chan)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "cannot reach wardend at %s: %s (is it running?)",
                              path, strerror (errno));
    int status = 0;
    uint8_t body[WD_MSG_SMALL_MAX];
    size_t len = wd_msg_encode_nonce (body, nonce);
    struct pollfd pfd = { .fd = wd_chan_fd (chan), .events = POLLIN };
    wd_err_t err = wd_chan_send (chan, WD_MSG_CTL_STATUS, 1, body, len, NULL, 0);
    if (err == WD_OK) {
        if (poll (&pfd, 1, STATUS_TIMEOUT_MS) == 1)
            err = wd_chan_recv (chan, reply);
        else
            err = WD_ERR_TIMEOUT;
    }
    /* The engine hangs up on users it does not admit, before or after our
       request is through. */
    if (err == WD_ERR_CLOSED)
        status = node_ctl_fail (NODE_CTL_EXIT_NO,
                                "%s: wardend closed the connection (is this user allowed to use "
                                "the control socket?)",
                                path);
    else if (err == WD_ERR_TIMEOUT)
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: no answer within %d ms", path,
                                STATUS_TIMEOUT_MS);
    else if (err != WD_OK)
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: %s", path, wd_strerror (err));
    wd_chan_destroy (&chan);
    return status;
}

static int
s_cmd_status (int argc, char **argv)
{
    bool json = false;
    int status =
        node_ctl_parse_json_option (argc, argv, &json,
                                    "usage: wardenctl [--state DIR | --socket PATH] status "
                                    "[--json]\n\n"
                                    "Asks the running wardend for its status with a fresh "
                                    "nonce. The answer is\nsigned by the node's identity key "
                                    "through its keys process and verified here.\n");
    if (status >= 0)
        return status;
    if (optind != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "status: unexpected argument '%s'",
                              argv[optind]);
    char path[PATH_MAX];
    if (s_socket)
        snprintf (path, sizeof path, "%s", s_socket);
    else if (s_path (path, sizeof path, s_state, "control.sock") != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "state path is too long");

    uint8_t nonce[WD_MSG_NONCE_LEN];
    randombytes_buf (nonce, sizeof nonce);
    wd_chan_msg_t reply;
    status = s_status_request (path, nonce, &reply);
    if (status != 0)
        return status;
    if (reply.type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply.body, reply.body_len, &code, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        wd_chan_msg_clear (&reply);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "wardend refused: %s", message);
    }
    if (reply.type != WD_MSG_CTL_STATUS_REPLY || reply.peer != 1) {
        wd_chan_msg_clear (&reply);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "unexpected reply from wardend");
    }
    node_status_t *st = malloc (sizeof *st);
    if (!st)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "out of memory");
    bool is_signed;
    char reason[WD_MSG_ERROR_MAX + 1];
    wd_err_t err = node_status_reply_decode (reply.body, reply.body_len, st, &is_signed, reason);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK) {
        free (st);
        return node_ctl_fail (NODE_CTL_EXIT_NO, "status reply failed verification: %s",
                              wd_strerror (err));
    }
    /* The report must answer this request, not an earlier one... */
    if (sodium_memcmp (st->nonce, nonce, sizeof nonce) != 0) {
        free (st);
        return node_ctl_fail (NODE_CTL_EXIT_NO,
                              "status reply does not answer this request (nonce differs)");
    }
    /* ...and come from the node of this state directory, when it is here. */
    wd_cert_t local;
    uint8_t local_id[WD_HASH_LEN];
    bool compared = s_load_cert (&local, local_id, true) == 0;
    if (compared && sodium_memcmp (local_id, st->cert_id, WD_HASH_LEN) != 0) {
        free (st);
        return node_ctl_fail (NODE_CTL_EXIT_NO,
                              "the node answering on %s (%s) is not the node in %s/node.cert "
                              "(%s)",
                              path, wd_short_id (st->cert.sign_pk).s, s_state,
                              wd_short_id (local.sign_pk).s);
    }
    if (json)
        node_ctl_print_json (s_status_json (st, is_signed, reason, compared));
    else
        s_status_print (st, is_signed, reason, compared);
    free (st);
    return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static int
s_cmd_keys (int argc, char **argv)
{
    bool json = false;
    int status = node_ctl_parse_json_option (argc, argv, &json,
                                             "usage: wardenctl [--state DIR] keys show [--json]\n\n"
                                             "Shows this node's public keys from DIR/node.cert "
                                             "(verified first).\n");
    if (status >= 0)
        return status;
    if (optind != argc - 1 || strcmp (argv[optind], "show") != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "usage: wardenctl keys show [--json]");

    wd_cert_t cert;
    uint8_t cert_id[WD_HASH_LEN];
    status = s_load_cert (&cert, cert_id, false);
    if (status != 0)
        return status;
    char sign_hex[65], vrf_hex[65], curve_hex[65], id_hex[65], curve_z85[41], when[32];
    s_hex32 (sign_hex, cert.sign_pk);
    s_hex32 (vrf_hex, cert.vrf_pk);
    s_hex32 (curve_hex, cert.curve_pk);
    s_hex32 (id_hex, cert_id);
    zmq_z85_encode (curve_z85, cert.curve_pk, 32);
    s_time_iso (when, cert.created);
    if (json) {
        node_ctl_print_json (json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
                                        cert.name, "id", sign_hex, "sign_pk", sign_hex, "vrf_pk",
                                        vrf_hex, "curve_pk", curve_hex, "curve_pk_z85", curve_z85,
                                        "key_protection", cert.key_protection, "created", when));
        return 0;
    }
    printf ("node            %s\n", cert.name);
    printf ("identity (sign) %s  ed25519\n", sign_hex);
    printf ("vrf             %s  ecvrf-edwards25519-sha512-tai\n", vrf_hex);
    printf ("curve           %s  x25519 (z85 %s)\n", curve_hex, curve_z85);
    printf ("key protection  %s\n", cert.key_protection);
    printf ("created         %s\n", when);
    printf ("certificate     %s\n", id_hex);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

int
node_ctl_control_path (char *out, size_t size)
{
    if (s_socket) {
        int n = snprintf (out, size, "%s", s_socket);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    return s_path (out, size, s_state, "control.sock");
}

int
node_ctl_state_path (const char *name, char *out, size_t size)
{
    return s_path (out, size, s_state, name);
}

static const s_command_t s_commands[] = {
    { "init", s_cmd_init, "create this node's keys, certificate and configuration" },
    { "status", s_cmd_status, "show the running node's status, signed by the node" },
    { "keys", s_cmd_keys, "show this node's public keys (keys show)" },
    { "genesis", node_ctl_genesis, "create or show the genesis file that defines a cluster" },
    { "vrf", node_ctl_vrf, "prove or verify an RFC 9381 VRF output (audit a selection)" },
    { "attest", node_ctl_attest,
      "host attestation: host state, evidence, tokens; offline appraise" },
    { "peers", node_ctl_peers, "list the cluster's nodes as the mesh sees them" },
    { "mesh", node_ctl_mesh, "publish a notice record, list delivered records" },
    { "agree", node_ctl_agree, "show the agreement: height, round, step, last commit" },
    { "ledger", node_ctl_ledger, "ledger: show, verify, export blocks (read-only, offline)" },
    { "reputation", node_ctl_reputation, "the reputation table from the ledger (read-only)" },
    { "members", node_ctl_members, "the members the ledger lists and their state (read-only)" },
    { "member", node_ctl_member,
      "join request, admit a node, rotate keys, leave (through wardend)" },
    { "pxe", node_ctl_pxe, "show the boot server's counters, leases and served files" },
    { "results", node_ctl_results, "PCR result log: list, get, bundle, verify, consistency" },
};

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: wardenctl [--state DIR] [--socket PATH] COMMAND [ARGS]\n\n"
                  "Commands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf (out, "  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf (out,
             "\nOptions:\n"
             "  -s, --state DIR     node state directory (default %s)\n"
             "  -S, --socket PATH   control socket (default DIR/control.sock)\n"
             "  -h, --help          show this help; COMMAND --help for a command\n"
             "  -V, --version       show the version\n"
             "\nSee wardenctl(8).\n",
             NODE_STATE_DEFAULT);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "state", required_argument, NULL, 's' },
        { "socket", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    /* "+": stop at the command name; its options are its own. */
    while ((opt = getopt_long (argc, argv, "+s:S:hV", options, NULL)) != -1) {
        switch (opt) {
            case 's':
                s_state = optarg;
                break;
            case 'S':
                s_socket = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf ("wardenctl %s\n", WARDEN_VERSION);
                return 0;
            default:
                s_usage (stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage (stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    if (sodium_init () < 0)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "libsodium failed to initialise");
    const char *name = argv[optind];
    if (strcmp (name, "help") == 0) {
        s_usage (stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp (s_commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* 0 makes GNU getopt start over */
            return s_commands[i].run (sub_argc, sub_argv);
        }
    }
    fprintf (stderr, "wardenctl: unknown command '%s'\n\n", name);
    s_usage (stderr);
    return NODE_CTL_EXIT_USAGE;
}
