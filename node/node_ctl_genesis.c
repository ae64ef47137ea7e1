/*
 * node_ctl_genesis: `wardenctl genesis create|show|params`, the operator's
 * tools for the file that defines a cluster (wd_genesis).
 *
 * `create` collects the founding nodes' certificates (each node's
 * node.cert, as `wardenctl init` made it), the reference-value signer keys
 * and any chain parameters that differ from the defaults, writes the
 * canonical genesis file and prints its chain id — the value every operator
 * compares out of band before starting a node on it. `show` re-checks a
 * genesis file from scratch and prints what it defines; `params` lists the
 * chain parameters with their defaults and ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node_ctl.h"
#include "wd_genesis.h"
#include "wd_hash.h"

static const char s_help[] =
    "usage: wardenctl genesis create --name NAME --node CERT [--node CERT ...]\n"
    "                                [--signer HEX ...] [--param NAME=VALUE ...]\n"
    "                                [--created UNIX_TIME] --out FILE [--force] [--json]\n"
    "       wardenctl genesis show FILE [--json]\n"
    "       wardenctl genesis params [--json]\n\n"
    "create writes the genesis file of a new cluster from the founding nodes'\n"
    "certificates (each node's node.cert), the reference-value signer public keys\n"
    "(64 hex digits) and chain parameters (see `genesis params`), and prints its\n"
    "chain id. show verifies a genesis file and prints what it defines; it exits 1\n"
    "with the reason when the file is not a valid genesis.\n";

#define S_MAX_ARGS 512

typedef struct {
    const char *name, *out, *created;
    const char *nodes[S_MAX_ARGS], *signers[S_MAX_ARGS], *params[S_MAX_ARGS];
    size_t node_count, signer_count, param_count;
    bool force, json;
} s_args_t;

static json_t *
s_hex_json (const uint8_t *bin, size_t len)
{
    char hex[2 * WD_PUBKEY_LEN + 1];
    return json_string (wd_hex_encode (hex, bin, len));
}

static void
s_print (const wd_genesis_t *g, bool json)
{
    uint8_t chain[WD_CHAIN_ID_LEN];
    wd_genesis_chain_id (g, chain);
    char hex[2 * WD_CHAIN_ID_LEN + 1];
    wd_hex_encode (hex, chain, sizeof chain);
    if (json) {
        json_t *nodes = json_array (), *signers = json_array (), *params = json_object ();
        for (size_t i = 0; i < wd_genesis_node_count (g); i++) {
            const wd_cert_t *c = wd_genesis_node (g, i);
            json_array_append_new (
                nodes, json_pack ("{s:s, s:o, s:o, s:o, s:s, s:I}", "name", c->name, "id",
                                  s_hex_json (c->sign_pk, WD_PUBKEY_LEN), "vrf_pk",
                                  s_hex_json (c->vrf_pk, WD_PUBKEY_LEN), "curve_pk",
                                  s_hex_json (c->curve_pk, WD_PUBKEY_LEN), "key_protection",
                                  c->key_protection, "created", (json_int_t)c->created));
        }
        for (size_t i = 0; i < wd_genesis_signer_count (g); i++)
            json_array_append_new (signers, s_hex_json (wd_genesis_signer (g, i), WD_PUBKEY_LEN));
        for (const wd_genesis_param_t *p = wd_genesis_params; p->name; p++)
            json_object_set_new (params, p->name,
                                 json_integer ((json_int_t)wd_genesis_param (g, p->name)));
        node_ctl_print_json (json_pack ("{s:s, s:s, s:I, s:o, s:o, s:o}", "chain_id", hex, "name",
                                        wd_genesis_name (g), "created",
                                        (json_int_t)wd_genesis_created (g), "nodes", nodes,
                                        "signers", signers, "params", params));
        return;
    }
    char when[32];
    time_t t = (time_t)wd_genesis_created (g);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf ("cluster     %s, created %s\n", wd_genesis_name (g), when);
    printf ("chain id    %s\n", hex);
    printf ("nodes       %zu\n", wd_genesis_node_count (g));
    for (size_t i = 0; i < wd_genesis_node_count (g); i++) {
        const wd_cert_t *c = wd_genesis_node (g, i);
        printf ("  %-20s %s  %s\n", c->name, wd_hex_encode (hex, c->sign_pk, WD_PUBKEY_LEN),
                c->key_protection);
    }
    printf ("signers     %zu\n", wd_genesis_signer_count (g));
    for (size_t i = 0; i < wd_genesis_signer_count (g); i++)
        printf ("  %s\n", wd_hex_encode (hex, wd_genesis_signer (g, i), WD_PUBKEY_LEN));
    printf ("parameters\n");
    for (const wd_genesis_param_t *p = wd_genesis_params; p->name; p++) {
        uint64_t v = wd_genesis_param (g, p->name);
        printf ("  %-26s %" PRIu64 "%s\n", p->name, v, v == p->default_value ? "" : "  (changed)");
    }
}

/* Writes bytes to path through a temporary file and a rename, so a reader
   never sees half a genesis; refuses an existing file unless force. */
static int
s_write_file (const char *path, const uint8_t *bytes, size_t len, bool force)
{
    if (!force && access (path, F_OK) == 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: %s exists (use --force)", path);
    char tmp[PATH_MAX];
    if (snprintf (tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid ()) >= (int)sizeof tmp)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: path is too long");
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: %s: %s", tmp, strerror (errno));
    bool ok = write (fd, bytes, len) == (ssize_t)len && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (!ok || rename (tmp, path) != 0) {
        int saved = errno;
        unlink (tmp);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "genesis create: writing %s: %s", path,
                              strerror (saved));
    }
    return 0;
}

static int
s_add_nodes (wd_genesis_t *g, const s_args_t *args)
{
    for (size_t i = 0; i < args->node_count; i++) {
        uint8_t buf[WD_CERT_MAX_BYTES + 1];
        ssize_t len = node_ctl_read_small (args->nodes[i], buf, sizeof buf);
        if (len < 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: %s: %s", args->nodes[i],
                                  strerror (errno));
        wd_err_t err = wd_genesis_add_node (g, buf, (size_t)len);
        if (err != WD_OK)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: node %s: %s (%s)",
                                  args->nodes[i], wd_strerror (err), wd_err_name (err));
    }
    for (size_t i = 0; i < args->signer_count; i++) {
        uint8_t pk[WD_PUBKEY_LEN];
        if (!wd_hex_decode (pk, sizeof pk, args->signers[i]))
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "genesis create: --signer %s is not 64 hex digits",
                                  args->signers[i]);
        wd_err_t err = wd_genesis_add_signer (g, pk);
        if (err != WD_OK)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis create: signer %s: %s (%s)",
                                  args->signers[i], wd_strerror (err), wd_err_name (err));
    }
    return 0;
}

static int
s_set_params (wd_genesis_t *g, const s_args_t *args)
{
    for (size_t i = 0; i < args->param_count; i++) {
        char name[64];
        const char *eq = strchr (args->params[i], '=');
        size_t name_len = eq ? (size_t)(eq - args->params[i]) : 0;
        if (!eq || name_len == 0 || name_len >= sizeof name)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "genesis create: --param takes NAME=VALUE, not '%s'",
                                  args->params[i]);
        memcpy (name, args->params[i], name_len);
        name[name_len] = '\0';
        wd_err_t err = wd_genesis_set_param (g, name, eq + 1);
        if (err == WD_ERR_GENESIS_PARAM)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "genesis create: no chain parameter '%s' (see wardenctl "
                                  "genesis params)",
                                  name);
        if (err != WD_OK) {
            for (const wd_genesis_param_t *p = wd_genesis_params; p->name; p++)
                if (strcmp (p->name, name) == 0)
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                          "genesis create: %s must be an integer in [%" PRIu64
                                          ", %" PRIu64 "], not '%s'",
                                          name, p->min, p->max, eq + 1);
        }
    }
    return 0;
}

static int
s_create (const s_args_t *args)
{
    if (!args->name || !args->out || args->node_count == 0) {
        fputs (s_help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    uint64_t created = (uint64_t)time (NULL);
    if (args->created) {
        char *end;
        errno = 0;
        created = strtoull (args->created, &end, 10);
        if (*end || errno || created == 0)
            return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                  "genesis create: --created takes a positive Unix time");
    }
    wd_genesis_t *g = wd_genesis_new (args->name, created);
    if (!g)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "genesis create: --name must be 1-%d characters of "
                              "[A-Za-z0-9._-]",
                              WD_GENESIS_NAME_MAX);
    int status = s_add_nodes (g, args);
    if (status == 0)
        status = s_set_params (g, args);
    if (status == 0) {
        uint8_t *bytes;
        size_t len;
        wd_err_t err = wd_genesis_encode (g, &bytes, &len);
        if (err != WD_OK)
            status =
                node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "genesis create: %s", wd_strerror (err));
        else {
            status = s_write_file (args->out, bytes, len, args->force);
            free (bytes);
        }
    }
    if (status == 0)
        s_print (g, args->json);
    wd_genesis_destroy (&g);
    return status;
}

static int
s_show (const char *path, bool json)
{
    wd_genesis_t *g;
    wd_err_t err = wd_genesis_load (path, &g);
    if (err == WD_ERR_NOT_FOUND || err == WD_ERR_IO || err == WD_ERR_NOT_REGULAR)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "genesis show: %s: %s", path, wd_strerror (err));
    if (err != WD_OK) {
        if (json)
            node_ctl_print_json (json_pack ("{s:b, s:s, s:s}", "valid", 0, "error",
                                            wd_err_name (err), "reason", wd_strerror (err)));
        return node_ctl_fail (NODE_CTL_EXIT_NO, "genesis show: %s is not a valid genesis: %s (%s)",
                              path, wd_strerror (err), wd_err_name (err));
    }
    s_print (g, json);
    wd_genesis_destroy (&g);
    return 0;
}

static int
s_params (bool json)
{
    if (json) {
        json_t *list = json_array ();
        for (const wd_genesis_param_t *p = wd_genesis_params; p->name; p++)
            json_array_append_new (list, json_pack ("{s:s, s:I, s:I, s:I, s:s}", "name", p->name,
                                                    "default", (json_int_t)p->default_value, "min",
                                                    (json_int_t)p->min, "max", (json_int_t)p->max,
                                                    "help", p->help));
        node_ctl_print_json (list);
        return 0;
    }
    for (const wd_genesis_param_t *p = wd_genesis_params; p->name; p++)
        printf ("%-26s %10" PRIu64 "  [%" PRIu64 ", %" PRIu64 "]  %s\n", p->name, p->default_value,
                p->min, p->max, p->help);
    return 0;
}

/* Appends optarg to one of the repeatable options' lists. */
static bool
s_push (const char **list, size_t *count)
{
    if (*count == S_MAX_ARGS)
        return false;
    list[(*count)++] = optarg;
    return true;
}

int
node_ctl_genesis (int argc, char **argv)
{
    static const struct option options[] = {
        { "name", required_argument, NULL, 'n' },    { "node", required_argument, NULL, 'N' },
        { "signer", required_argument, NULL, 's' },  { "param", required_argument, NULL, 'p' },
        { "created", required_argument, NULL, 'c' }, { "out", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'f' },         { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    s_args_t *args = calloc (1, sizeof *args);
    if (!args)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "out of memory");
    int opt, status = -1;
    while (status < 0 && (opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
            case 'n':
                args->name = optarg;
                break;
            case 'N':
                ok = s_push (args->nodes, &args->node_count);
                break;
            case 's':
                ok = s_push (args->signers, &args->signer_count);
                break;
            case 'p':
                ok = s_push (args->params, &args->param_count);
                break;
            case 'c':
                args->created = optarg;
                break;
            case 'o':
                args->out = optarg;
                break;
            case 'f':
                args->force = true;
                break;
            case 'j':
                args->json = true;
                break;
            case 'h':
                fputs (s_help, stdout);
                status = 0;
                break;
            default:
                status = NODE_CTL_EXIT_USAGE;
        }
        if (!ok)
            status = node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                    "genesis: at most %d of each of --node, --signer, --param",
                                    S_MAX_ARGS);
    }
    if (status < 0) {
        const char *action = optind < argc ? argv[optind] : "";
        int rest = argc - optind - 1;
        if (strcmp (action, "create") == 0 && rest == 0)
            status = s_create (args);
        else if (strcmp (action, "show") == 0 && rest == 1)
            status = s_show (argv[optind + 1], args->json);
        else if (strcmp (action, "params") == 0 && rest == 0)
            status = s_params (args->json);
        else {
            fputs (s_help, stderr);
            status = NODE_CTL_EXIT_USAGE;
        }
    }
    free (args);
    return status;
}
