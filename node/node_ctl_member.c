/*
 * node_ctl_member: `wardenctl members` (docs/OPERATIONS.md "Add a node",
 * "Remove a node"). Lists the members the ledger knows — the genesis
 * nodes, then the nodes whose `join` record was committed, in commit
 * order (docs/PROTOCOL.md "Membership transactions") — with their state:
 * `validator` (in the validator set of the next height), `member` (a
 * member without weight: a joined node not yet certified, quarantined or
 * contraindicated) or `left`. Like `wardenctl ledger`, it reads
 * <state>/genesis and <state>/ledger.db directly (read-only), so wardend
 * need not run.
 *
 * And `wardenctl member request|admit|rotate|leave`, which go through the
 * running wardend (its keys process signs, its mesh gossips): `request
 * --output FILE` writes this node's `join-request` envelope (on a node made
 * with `wardenctl init` and the cluster's genesis); `admit FILE` on a
 * member seals the `join` record around such a request and publishes it;
 * `rotate --new-state DIR` signs a `rotate-request` here with the keystore
 * of DIR (new keys made by `wardenctl init --state DIR --name SAME-NAME`)
 * and has wardend seal the `rotate` record around it with the node's
 * current key and publish it (docs/OPERATIONS.md "Rotate a key"); `leave`
 * seals and publishes this node's `leave` record.
 */
#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_err.h"
#include "cons_ledger.h"
#include "cons_member_tx.h"
#include "node_config.h"
#include "node_ctl.h"
#include "node_mesh.h"
#include "wd_keystore.h"
#include "wd_genesis.h"
#include "wd_chan.h"
#include "wd_hash.h"
#include "wd_msg.h"

static const char s_help[] =
    "usage: wardenctl members [--json] [--genesis FILE] [--db FILE]\n\n"
    "lists the cluster's members from the ledger: the genesis nodes, then the\n"
    "nodes that joined (in commit order), each with its state: validator (in\n"
    "the validator set of the next height), member (no weight yet: a joined\n"
    "node whose evidence is not certified yet, or quarantined or\n"
    "contraindicated) or left, the heights of its join, leave and last key\n"
    "rotation (--json), and its\n"
    "CURVE key (what the peers' ZAP admits).\n";

static json_t *
s_hex (const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];
    return json_string (wd_hex_encode (hex, bin, len));
}

int
node_ctl_members (int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "genesis", required_argument, NULL, 'g' },
        { "db", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    const char *genesis = NULL, *db = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "jg:d:h", options, NULL)) != -1) {
        switch (opt) {
            case 'j':
                json = true;
                break;
            case 'g':
                genesis = optarg;
                break;
            case 'd':
                db = optarg;
                break;
            case 'h':
                fputs (s_help, stdout);
                return 0;
            default:
                fputs (s_help, stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs (s_help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    wd_genesis_t *g;
    cons_ledger_t *l;
    int status = node_ctl_ledger_open (genesis, db, "members", &g, &l);
    if (status >= 0)
        return status;
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    uint64_t height = cons_ledger_height (l);
    const cons_validator_t *set = NULL;
    size_t set_n = 0;
    if (cons_ledger_validators (l, height + 1, &set, &set_n) != WD_OK)
        set_n = 0;
    json_t *rows = json_array ();
    if (!json)
        printf ("%-16s  %-9s  %6s  %6s  %6s  %-10s  %s\n", "NODE", "STATE", "WEIGHT", "JOINED",
                "LEFT", "KEYS", "ID");
    for (size_t i = 0; i < cons_reputation_count (rep); i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        uint64_t weight = 0;
        for (size_t k = 0; k < set_n; k++)
            if (memcmp (set[k].pk, e->id, WD_PUBKEY_LEN) == 0)
                weight = set[k].weight;
        const char *state = e->left ? "left" : weight ? "validator" : "member";
        if (json)
            json_array_append_new (
                rows,
                json_pack ("{s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:o, s:o}", "name",
                           e->name, "id", s_hex (e->id, WD_PUBKEY_LEN), "state", state, "weight",
                           (json_int_t)weight, "joined", (json_int_t)e->joined, "left",
                           (json_int_t)e->left, "rotated", (json_int_t)e->rotated, "genesis",
                           e->joined == 0, "key_protection", e->cert.key_protection, "curve_pk",
                           s_hex (e->cert.curve_pk, WD_PUBKEY_LEN), "vrf_pk",
                           s_hex (e->cert.vrf_pk, WD_PUBKEY_LEN)));
        else {
            char joined[24], left[24];
            snprintf (joined, sizeof joined, e->joined ? "%" PRIu64 : "genesis", e->joined);
            snprintf (left, sizeof left, e->left ? "%" PRIu64 : "-", e->left);
            printf ("%-16s  %-9s  %6" PRIu64 "  %6s  %6s  %-10s  %s\n", e->name, state, weight,
                    joined, left, e->cert.key_protection, wd_short_id (e->id).s);
        }
    }
    if (json)
        node_ctl_print_json (
            json_pack ("{s:I, s:I, s:o}", "height", (json_int_t)height, "members_version",
                       (json_int_t)cons_reputation_members_version (rep), "members", rows));
    else {
        json_decref (rows);
        printf ("height %" PRIu64 "\n", height);
    }
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return 0;
}

/* ---- wardenctl member request|admit|rotate|leave ---------------------------- */

#define S_MEMBER_TIMEOUT_MS 10000

static const char s_member_help[] =
    "usage: wardenctl member request --output FILE\n"
    "       wardenctl member admit FILE\n"
    "       wardenctl member rotate --new-state DIR\n"
    "       wardenctl member leave\n\n"
    "request  (on a new node, wardend running with the cluster's genesis and\n"
    "         mesh/listen set) writes its join-request: its certificate, signed\n"
    "         by its identity key for this chain\n"
    "admit    (on a member) seals a join record around the request in FILE and\n"
    "         gossips it; once committed the members admit the new node\n"
    "rotate   (on a member, wardend running on its current keys) signs a\n"
    "         rotate-request with the keys in DIR (made by `wardenctl init\n"
    "         --state DIR --name THIS-NODE'S-NAME`); wardend seals the rotate\n"
    "         record with the current key and gossips it. Once committed,\n"
    "         restart the node on DIR (docs/OPERATIONS.md \"Rotate a key\")\n"
    "leave    seals and gossips this node's leave record\n"
    "prints the record's id; exit 1 when wardend refuses (with its reason)\n";

/* Sends the request and takes the sealed envelope from the reply. */
static int
s_member_call (const char *op, const uint8_t *request, size_t request_len, uint8_t **envelope,
               size_t *envelope_len, uint8_t id[32])
{
    size_t len;
    uint8_t *body = node_mesh_encode_member (op, request, request_len, &len);
    wd_chan_msg_t reply;
    int status = node_ctl_request (WD_MSG_CTL_MEMBER, body, len, S_MEMBER_TIMEOUT_MS, &reply);
    free (body);
    if (status != 0)
        return status;
    if (reply.type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply.body, reply.body_len, &code, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        wd_chan_msg_clear (&reply);
        return node_ctl_fail (NODE_CTL_EXIT_NO, "member %s: wardend: %s", op, message);
    }
    const uint8_t *env = NULL;
    size_t env_len = 0;
    wd_err_t err =
        reply.type == WD_MSG_CTL_MEMBER_REPLY
            ? node_mesh_decode_member_reply (reply.body, reply.body_len, &env, &env_len, id)
            : WD_ERR_UNEXPECTED_TYPE;
    if (err == WD_OK) {
        *envelope = malloc (env_len ? env_len : 1);
        if (!*envelope)
            err = WD_ERR_NOMEM;
        else {
            memcpy (*envelope, env, env_len);
            *envelope_len = env_len;
        }
    }
    wd_chan_msg_clear (&reply);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "member %s: malformed reply: %s", op,
                              wd_strerror (err));
    return 0;
}

/* Reads and opens a node certificate file into buf (size bytes) and
 *cert. Returns its length, or -1 with the reason printed. */
static ssize_t
s_read_cert (const char *path, uint8_t *buf, size_t size, wd_cert_t *cert)
{
    ssize_t n = node_ctl_read_small (path, buf, size);
    if (n < 0) {
        node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: %s: %s", path, strerror (errno));
        return -1;
    }
    wd_err_t err = (size_t)n >= size ? WD_ERR_OVERSIZE : wd_cert_open (buf, (size_t)n, cert);
    if (err != WD_OK) {
        node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: %s: %s", path, wd_strerror (err));
        return -1;
    }
    return n;
}

/* The rotate-request for this node (<state>/node.cert, <state>/genesis):
   the new certificate of new_state, naming this node's current key, signed
   for this chain by new_state's keystore (its warden.conf's keystore/
   keys: file or pkcs11). Writes it to request (size bytes). Returns -1, or
   an exit status with the reason printed. */
static int
s_rotate_request (const char *new_state, uint8_t *request, size_t size, size_t *request_len)
{
    char path[4096], why[512] = "";
    uint8_t old_buf[WD_CERT_MAX_BYTES + 1], new_buf[WD_CERT_MAX_BYTES + 1];
    wd_cert_t old_cert, new_cert;
    if (node_ctl_state_path ("node.cert", path, sizeof path) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: state path too long");
    if (s_read_cert (path, old_buf, sizeof old_buf, &old_cert) < 0)
        return NODE_CTL_EXIT_USAGE;
    if (node_ctl_state_path ("genesis", path, sizeof path) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: state path too long");
    wd_genesis_t *g = NULL;
    wd_err_t err = wd_genesis_load (path, &g);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: genesis %s: %s", path,
                              wd_strerror (err));
    uint8_t chain[WD_CHAIN_ID_LEN];
    wd_genesis_chain_id (g, chain);
    wd_genesis_destroy (&g);

    if ((size_t)snprintf (path, sizeof path, "%s/warden.conf", new_state) >= sizeof path)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: --new-state too long");
    wd_config_t *cfg = NULL;
    err = node_config_load (path, NULL, &cfg, why, sizeof why);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: %s: %s", path, why);
    int status = -1;
    char key_path[4096], where[4096 + 128];
    wd_keystore_params_t params;
    ssize_t n = -1;
    if (node_path_state (cfg, "node.cert", path, sizeof path) != 0 ||
        node_keystore_params (cfg, &params, key_path, sizeof key_path) != 0)
        status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: state path too long");
    else if ((n = s_read_cert (path, new_buf, sizeof new_buf, &new_cert)) < 0)
        status = NODE_CTL_EXIT_USAGE;
    else if (strcmp (new_cert.name, old_cert.name) != 0)
        status = node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                "member rotate: %s is for node '%s', this node is '%s' (make the "
                                "new keys with `wardenctl init --state DIR --name %s`)",
                                path, new_cert.name, old_cert.name, old_cert.name);
    else if (memcmp (new_cert.sign_pk, old_cert.sign_pk, WD_PUBKEY_LEN) == 0)
        status = node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                "member rotate: %s holds this node's current keys", new_state);
    if (status >= 0) {
        wd_config_destroy (&cfg);
        return status;
    }
    const char *backend = wd_config_str (cfg, "keystore/backend");
    params.expected_public_key = new_cert.sign_pk;
    wd_keystore_t *ks = NULL;
    err = wd_keystore_open (backend, &params, &ks);
    if (err != WD_OK) {
        wd_keystore_describe (backend, &params, where, sizeof where);
        status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "member rotate: keystore %s: %s (%s)", backend,
                                wd_strerror (err), where);
        wd_config_destroy (&cfg);
        return status;
    }
    size_t body_len, env_len = 0;
    uint8_t *body = cons_rotate_request_body (new_buf, (size_t)n, old_cert.sign_pk, &body_len);
    uint8_t *env = NULL;
    err = wd_envelope_seal (CONS_ROTATE_REQUEST_TYPE, chain, new_cert.sign_pk, body, body_len,
                            wd_keystore_sign_fn, ks, &env, &env_len);
    free (body);
    wd_keystore_destroy (&ks);
    wd_config_destroy (&cfg);
    if (err == WD_OK && env_len > size)
        err = WD_ERR_OVERSIZE;
    if (err != WD_OK) {
        free (env);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "member rotate: signing the request: %s",
                              wd_strerror (err));
    }
    memcpy (request, env, env_len);
    *request_len = env_len;
    free (env);
    return -1;
}

/* Writes data to path (via path.tmp, fsync'ed, renamed). */
static int
s_write_file (const char *path, const uint8_t *data, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf (tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return -1;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    bool ok = write (fd, data, len) == (ssize_t)len && fsync (fd) == 0;
    ok &= close (fd) == 0;
    if (!ok || rename (tmp, path) != 0) {
        unlink (tmp);
        return -1;
    }
    return 0;
}

int
node_ctl_member (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
        fputs (s_member_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_CTL_EXIT_USAGE : 0;
    }
    const char *op = argv[1];
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        { "new-state", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *output = NULL, *new_state = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long (argc - 1, argv + 1, "o:n:h", options, NULL)) != -1) {
        switch (opt) {
            case 'o':
                output = optarg;
                break;
            case 'n':
                new_state = optarg;
                break;
            case 'h':
                fputs (s_member_help, stdout);
                return 0;
            default:
                fputs (s_member_help, stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    uint8_t request[CONS_JOIN_REQUEST_MAX + 1];
    size_t request_len = 0;
    if (strcmp (op, "rotate") != 0 && new_state)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member %s: --new-state is for rotate", op);
    if (strcmp (op, "request") == 0) {
        if (!output || rest != 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member request: --output FILE is required");
    } else if (strcmp (op, "admit") == 0) {
        if (output || rest != 1)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member admit: one FILE is required");
        ssize_t n = node_ctl_read_small (args[0], request, sizeof request);
        if (n < 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member admit: %s: %s", args[0],
                                  strerror (errno));
        if ((size_t)n > CONS_JOIN_REQUEST_MAX)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "member admit: %s: larger than a join request (%d bytes)",
                                  args[0], CONS_JOIN_REQUEST_MAX);
        request_len = (size_t)n;
    } else if (strcmp (op, "rotate") == 0) {
        if (!new_state || output || rest != 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "member rotate: --new-state DIR is required");
        int status = s_rotate_request (new_state, request, sizeof request - 1, &request_len);
        if (status >= 0)
            return status;
    } else if (strcmp (op, "leave") == 0) {
        if (output || rest != 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "member leave: no arguments");
    } else
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "member: unknown subcommand '%s' (request, admit, rotate, leave)",
                              op);
    uint8_t *envelope = NULL, id[32];
    size_t envelope_len = 0;
    int status = s_member_call (op, request, request_len, &envelope, &envelope_len, id);
    if (status != 0)
        return status;
    if (output && s_write_file (output, envelope, envelope_len) != 0) {
        free (envelope);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "member request: %s: %s", output,
                              strerror (errno));
    }
    free (envelope);
    char hex[65];
    printf ("%s\n", wd_hex_encode (hex, id, sizeof id));
    if (new_state)
        fprintf (stderr,
                 "rotate record sealed with the current key and gossiped. Next:\n"
                 "  1. wait until it is committed: `wardenctl members --json` shows this node's\n"
                 "     the node with `rotated` > 0 and the new id\n"
                 "  2. stop wardend; copy ledger.db (and ledger.db-wal, -shm if present) into\n"
                 "     %s; never copy keys/, keys/sign.state, agree.state or node.cert\n"
                 "  3. start wardend on %s/warden.conf (with this node's mesh settings)\n",
                 new_state, new_state);
    return 0;
}
