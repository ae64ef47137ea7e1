/*
 * capsule-submit: the user's command for capsule tasks (DESIGN.md §2, §9;
 * docs/man/capsule-submit.1). It seals inputs, code and environment into
 * capsules with the user's key (wrapped to the local node, which holds
 * them, and to the user), uploads them to the local wardend over its
 * control socket (the sealed file's descriptor is passed, never its bytes),
 * signs and submits the task, and with --wait follows the task to its
 * receipt, fetches the result capsules and opens them with the user's key.
 *
 * It lives in node/ rather than capsule/ because it speaks the control
 * protocol whose bodies node_capsule_wire encodes (capsule/ must not depend
 * on node/).
 *
 * Exit codes: 0 done (the program exited 0), 1 the answer is "no" (the
 * program failed, or this key cannot open the capsule), 2 usage or input
 * error, 3 internal error, 4 no eligible executor, 5 a holder refused a key
 * (policy), 6 a limit killed the program, 7 timed out waiting, 8 the task
 * failed on the executor for another reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsule_env.h"
#include "capsule_err.h"
#include "capsule_format.h"
#include "capsule_receipt.h"
#include "capsule_seal.h"
#include "capsule_task.h"
#include "node_capsule_wire.h"
#include "node_config.h"
#include "wd_chan.h"
#include "wd_hash.h"
#include "wd_keyfile.h"
#include "wd_msg.h"

#define EXIT_NO          1
#define EXIT_USAGE       2
#define EXIT_INTERNAL    3
#define EXIT_NO_EXECUTOR 4
#define EXIT_REFUSED     5
#define EXIT_LIMIT       6
#define EXIT_TIMEOUT     7
#define EXIT_FAILED      8

#define REQUEST_MS 30000 /* a put hashes the whole capsule on the node */

static const char *s_socket;
static const char *s_state = NODE_STATE_DEFAULT;
static const char *s_key_path;
static bool s_json;

/* The user's keys: Ed25519 (signs capsules and tasks) and the X25519 key
   derived from it (receives content keys). */
typedef struct {
    uint8_t *sk; /* 64 bytes, sodium_malloc */
    uint8_t pk[32];
    uint8_t *curve_sk; /* 32 bytes, sodium_malloc */
    uint8_t curve_pk[32];
} s_user_t;

static bool s_json_done;       /* a JSON answer went to stdout */
static char s_last_error[512]; /* the last failure, for the JSON error object */
static int s_last_code;        /* the node's result code of the last failure, 0: none */

static int __attribute__ ((format (printf, 2, 3))) s_fail (int status, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (s_last_error, sizeof s_last_error, fmt, ap);
    va_end (ap);
    fprintf (stderr, "capsule-submit: %s\n", s_last_error);
    return status;
}

/* Prints a JSON answer on stdout (and frees it). */
static void
s_json_print (json_t *root)
{
    json_dumpf (root, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
    fputc ('\n', stdout);
    json_decref (root);
    s_json_done = true;
}

/* Progress on stderr while waiting (never on stdout, which carries the
   answer). */
static void __attribute__ ((format (printf, 1, 2))) s_progress (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("capsule-submit: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
}

static const char *
s_hex (char out[65], const uint8_t bin[32])
{
    return wd_hex_encode (out, bin, 32);
}

static bool
s_unhex32 (const char *text, uint8_t out[32])
{
    if (strlen (text) != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf (text + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    char back[65];
    return strcmp (s_hex (back, out), text) == 0; /* lowercase only */
}

/* "10s", "500ms", "2m", "1h"; a plain number is seconds. */
static bool
s_parse_ms (const char *text, uint64_t *ms)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text)
        return false;
    uint64_t mul = strcmp (end, "ms") == 0               ? 1
                   : strcmp (end, "s") == 0 || *end == 0 ? 1000
                   : strcmp (end, "m") == 0              ? 60000
                   : strcmp (end, "h") == 0              ? 3600000
                                                         : 0;
    if (!mul || v > UINT64_MAX / mul)
        return false;
    *ms = v * mul;
    return true;
}

/* "64M", "1G", "512K", plain bytes. */
static bool
s_parse_size (const char *text, uint64_t *bytes)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text)
        return false;
    int shift = *end == 0                ? 0
                : strcmp (end, "K") == 0 ? 10
                : strcmp (end, "M") == 0 ? 20
                : strcmp (end, "G") == 0 ? 30
                                         : -1;
    if (shift < 0 || v > (UINT64_MAX >> shift))
        return false;
    *bytes = (uint64_t)v << shift;
    return true;
}

/* ---- the control socket -------------------------------------------------------- */

static int
s_socket_path (char *out, size_t size)
{
    int n = s_socket ? snprintf (out, size, "%s", s_socket)
                     : snprintf (out, size, "%s/control.sock", s_state);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* One request and its reply; a WD_MSG_ERROR reply is reported and its code
   returned in *code with status EXIT_NO. Returns 0 with *reply, or an exit
   status. */
static int
s_request (uint32_t type, const uint8_t *body, size_t len, int fd, wd_chan_msg_t *reply, int *code)
{
    char path[PATH_MAX];
    if (s_socket_path (path, sizeof path) != 0)
        return s_fail (EXIT_USAGE, "control socket path is too long");
    wd_chan_t *chan = wd_chan_connect (path);
    if (!chan)
        return s_fail (EXIT_INTERNAL, "cannot reach wardend at %s: %s (is it running?)", path,
                       strerror (errno));
    struct pollfd pfd = { .fd = wd_chan_fd (chan), .events = POLLIN };
    wd_err_t err = wd_chan_send (chan, type, 1, body, len, fd >= 0 ? &fd : NULL, fd >= 0);
    if (err == WD_OK)
        err = poll (&pfd, 1, REQUEST_MS) == 1 ? wd_chan_recv (chan, reply) : WD_ERR_TIMEOUT;
    wd_chan_destroy (&chan);
    if (err != WD_OK)
        return s_fail (EXIT_INTERNAL, "%s: %s", path, wd_strerror (err));
    if (reply->type == WD_MSG_ERROR) {
        int c = 0;
        char message[WD_MSG_ERROR_MAX + 1] = "";
        if (wd_msg_decode_error (reply->body, reply->body_len, &c, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        wd_chan_msg_clear (reply);
        if (code)
            *code = c;
        s_fail (EXIT_NO, "%s", message);
        s_last_code = c;
        return c == CAPSULE_ERR_EXEC_NO_EXECUTOR ? EXIT_NO_EXECUTOR : EXIT_NO;
    }
    if (reply->type != type + 1) {
        wd_chan_msg_clear (reply);
        return s_fail (EXIT_INTERNAL, "unexpected reply from wardend");
    }
    return 0;
}

static int
s_info (node_capsule_info_t *info)
{
    wd_chan_msg_t reply;
    int rc = s_request (WD_MSG_CTL_CAPSULE_INFO, NULL, 0, -1, &reply, NULL);
    if (rc)
        return rc;
    wd_err_t err = node_capsule_decode_info (reply.body, reply.body_len, info);
    wd_chan_msg_clear (&reply);
    return err == WD_OK ? 0 : s_fail (EXIT_INTERNAL, "info reply: %s", wd_strerror (err));
}

/* A node by name or by 64-hex id. */
static const node_capsule_node_t *
s_find_node (const node_capsule_info_t *info, const char *name)
{
    uint8_t id[32];
    bool hex = s_unhex32 (name, id);
    for (size_t i = 0; i < info->node_count; i++)
        if (strcmp (info->nodes[i].name, name) == 0 ||
            (hex && memcmp (info->nodes[i].id, id, 32) == 0))
            return &info->nodes[i];
    return NULL;
}

/* ---- the user's key ------------------------------------------------------------- */

static const char *
s_key_file (char *buf, size_t size)
{
    if (s_key_path)
        return s_key_path;
    const char *env = getenv ("CAPSULE_SUBMIT_KEY");
    if (env && *env)
        return env;
    const char *home = getenv ("HOME");
    snprintf (buf, size, "%s/.config/warden/capsule.key", home ? home : ".");
    return buf;
}

static void
s_user_free (s_user_t *u)
{
    if (u->sk)
        sodium_free (u->sk);
    if (u->curve_sk)
        sodium_free (u->curve_sk);
    memset (u, 0, sizeof *u);
}

static int
s_user_load (s_user_t *u)
{
    char buf[PATH_MAX];
    const char *path = s_key_file (buf, sizeof buf);
    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    u->sk = sodium_malloc (crypto_sign_SECRETKEYBYTES);
    u->curve_sk = sodium_malloc (32);
    if (!seed || !u->sk || !u->curve_sk)
        return s_fail (EXIT_INTERNAL, "out of memory");
    wd_err_t err = wd_keyfile_read (path, WD_KEYFILE_ED25519, seed);
    if (err == WD_OK) {
        crypto_sign_seed_keypair (u->pk, u->sk, seed);
        if (crypto_sign_ed25519_sk_to_curve25519 (u->curve_sk, u->sk) != 0 ||
            crypto_sign_ed25519_pk_to_curve25519 (u->curve_pk, u->pk) != 0)
            err = WD_ERR_BAD_VALUE;
    }
    sodium_free (seed);
    if (err != WD_OK)
        return s_fail (EXIT_USAGE, "%s: %s%s%s (create one with capsule-submit keygen)", path,
                       wd_strerror (err), err == WD_ERR_IO ? ": " : "",
                       err == WD_ERR_IO ? strerror (errno) : "");
    return 0;
}

/* ---- sealing and uploading ----------------------------------------------------------- */

static int
s_tmpfile (void)
{
    const char *dir = getenv ("TMPDIR");
    int fd = open (dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd;
}

/* Seals in_fd for the local node and the user, uploads it; *id gets the
   capsule id. */
static int
s_seal_put (const node_capsule_info_t *info, const s_user_t *u, int in_fd, capsule_kind_t kind,
            const capsule_policy_t *policy, uint8_t id[32])
{
    uint8_t recipients[2][CAPSULE_CURVE_LEN];
    memcpy (recipients[0], info->self.curve, 32);
    memcpy (recipients[1], u->curve_pk, 32);
    capsule_seal_params_t params = {
        .kind = kind,
        .chain = info->chain,
        .owner_sk = u->sk,
        .recipients = (const uint8_t (*)[CAPSULE_CURVE_LEN])recipients,
        .n_recipients = 2,
        .policy = policy,
    };
    int out = s_tmpfile ();
    if (out < 0)
        return s_fail (EXIT_INTERNAL, "temporary file: %s", strerror (errno));
    int rc = capsule_seal_fd (&params, in_fd, out, id);
    if (rc != 0) {
        close (out);
        return s_fail (EXIT_INTERNAL, "sealing: %s", capsule_strerror (rc));
    }
    wd_chan_msg_t reply;
    rc = s_request (WD_MSG_CTL_CAPSULE_PUT, NULL, 0, out, &reply, NULL);
    close (out);
    if (rc)
        return rc;
    uint8_t stored[32];
    char kind_name[8];
    uint64_t size;
    wd_err_t err =
        node_capsule_decode_stored (reply.body, reply.body_len, stored, kind_name, &size);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK || memcmp (stored, id, 32) != 0)
        return s_fail (EXIT_INTERNAL, "the node stored another capsule than sent");
    return 0;
}

static int
s_seal_path (const node_capsule_info_t *info, const s_user_t *u, const char *path,
             capsule_kind_t kind, const capsule_policy_t *policy, uint8_t id[32])
{
    struct stat st;
    if (stat (path, &st) != 0)
        return s_fail (EXIT_USAGE, "%s: %s", path, strerror (errno));
    int fd;
    if (S_ISDIR (st.st_mode)) {
        if (kind != CAPSULE_KIND_ENV)
            return s_fail (EXIT_USAGE, "%s is a directory (only --env takes one)", path);
        fd = s_tmpfile ();
        char why[256] = "";
        int rc = fd < 0 ? WD_ERR_IO : capsule_env_pack (path, fd, NULL, NULL, why, sizeof why);
        if (rc != WD_OK) {
            if (fd >= 0)
                close (fd);
            return s_fail (EXIT_USAGE, "%s: %s%s%s", path, capsule_strerror (rc),
                           why[0] ? ": " : "", why);
        }
        lseek (fd, 0, SEEK_SET);
    } else {
        fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return s_fail (EXIT_USAGE, "%s: %s", path, strerror (errno));
    }
    int rc = s_seal_put (info, u, fd, kind, policy, id);
    close (fd);
    return rc;
}

/* ---- status and results --------------------------------------------------------------- */

static int
s_status (const uint8_t task[32], node_capsule_status_t *st, wd_chan_msg_t *keep)
{
    size_t len;
    uint8_t *body = node_capsule_encode_id (task, &len);
    int rc = s_request (WD_MSG_CTL_CAPSULE_STATUS, body, len, -1, keep, NULL);
    free (body);
    if (rc)
        return rc;
    wd_err_t err = node_capsule_decode_status (keep->body, keep->body_len, st);
    if (err != WD_OK) {
        wd_chan_msg_clear (keep);
        return s_fail (EXIT_INTERNAL, "status reply: %s", wd_strerror (err));
    }
    return 0;
}

static const char *
s_node_name (const node_capsule_info_t *info, const uint8_t id[32], char hex[65])
{
    for (size_t i = 0; i < info->node_count; i++)
        if (memcmp (info->nodes[i].id, id, 32) == 0)
            return info->nodes[i].name;
    return s_hex (hex, id);
}

/* Fetches capsule id (from holder when the local node lacks it) and opens
   it with the user's key into dir/<id hex>; path gets the file. */
static int
s_open_id (const node_capsule_info_t *info, const s_user_t *u, const uint8_t id[32],
           const uint8_t *holder, const char *dir, char *path, size_t path_size)
{
    size_t len;
    uint8_t *body = node_capsule_encode_get (id, holder, &len);
    wd_chan_msg_t reply;
    int rc = s_request (WD_MSG_CTL_CAPSULE_GET, body, len, -1, &reply, NULL);
    free (body);
    if (rc)
        return rc;
    if (reply.nfds != 1) {
        wd_chan_msg_clear (&reply);
        return s_fail (EXIT_INTERNAL, "get reply without the capsule");
    }
    int fd = reply.fds[0];
    reply.fds[0] = -1;
    wd_chan_msg_clear (&reply);
    capsule_header_t *h = malloc (sizeof *h);
    capsule_key_t *key = NULL;
    int out = -1;
    char hex[65];
    int status = 0;
    rc = h ? capsule_parse_fd (fd, info->chain, 0, h) : WD_ERR_NOMEM;
    if (rc == WD_OK && memcmp (h->id, id, 32) != 0)
        rc = CAPSULE_ERR_STORE_MISMATCH;
    if (rc == WD_OK)
        rc = capsule_unwrap (h, u->curve_pk, u->curve_sk, &key);
    if (rc == CAPSULE_ERR_NOT_RECIPIENT)
        status =
            s_fail (EXIT_NO, "capsule %s: this key is not one of its recipients", s_hex (hex, id));
    else if (rc != WD_OK)
        status = s_fail (EXIT_NO, "capsule %s: %s", s_hex (hex, id), capsule_strerror (rc));
    if (!status) {
        mkdir (dir, 0700);
        snprintf (path, path_size, "%s/%s", dir, s_hex (hex, id));
        out = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        rc = out < 0 ? WD_ERR_IO : capsule_open_fd (h, fd, key, out);
        if (out >= 0 && close (out) != 0 && rc == WD_OK)
            rc = WD_ERR_IO;
        if (rc != WD_OK) {
            unlink (path);
            status = s_fail (rc == WD_ERR_IO ? EXIT_USAGE : EXIT_NO, "%s: %s", path,
                             rc == WD_ERR_IO ? strerror (errno) : capsule_strerror (rc));
        }
    }
    capsule_key_destroy (&key);
    free (h);
    close (fd);
    return status;
}

/* Reports a finished or failed task; fetches and opens the outputs of a
   done one. Returns the exit status. */
static int
s_report (const node_capsule_info_t *info, const s_user_t *u, const uint8_t task[32],
          const node_capsule_status_t *st, const char *out_dir, bool fetch)
{
    char hex[65], hex2[65];
    json_t *root = json_object ();
    json_object_set_new (root, "task", json_string (s_hex (hex, task)));
    json_object_set_new (root, "state", json_string (st->state));
    int status = 0;
    if (strcmp (st->state, "unknown") != 0 && strcmp (st->state, "submitted") != 0 &&
        strcmp (st->state, "posted") != 0)
        json_object_set_new (root, "executor", json_string (s_node_name (info, st->executor, hex)));
    if (strcmp (st->state, "failed") == 0) {
        json_object_set_new (root, "code", json_string (capsule_err_name (st->code)));
        json_object_set_new (root, "reason", json_string (st->reason));
        json_t *refusals = json_array ();
        for (size_t i = 0; i < st->refusal_count; i++) {
            const node_capsule_refusal_t *f = &st->refusals[i];
            json_t *o = json_object ();
            json_object_set_new (o, "holder", json_string (s_node_name (info, f->holder, hex)));
            json_object_set_new (o, "capsule", json_string (s_hex (hex2, f->capsule)));
            json_object_set_new (o, "code", json_string (capsule_err_name (f->code)));
            json_object_set_new (o, "reason", json_string (f->reason));
            json_array_append_new (refusals, o);
            if (!s_json)
                fprintf (stderr, "refused by %s: %s (%s)\n", s_node_name (info, f->holder, hex),
                         f->reason, capsule_err_name (f->code));
        }
        json_object_set_new (root, "refusals", refusals);
        if (!s_json)
            fprintf (stderr, "task failed: %s (%s)\n", st->reason, capsule_err_name (st->code));
        status = st->code == CAPSULE_ERR_EXEC_NO_EXECUTOR ? EXIT_NO_EXECUTOR
                 : st->refusal_count > 0                  ? EXIT_REFUSED
                                                          : EXIT_FAILED;
    } else if (strcmp (st->state, "done") == 0) {
        capsule_receipt_t *r = malloc (sizeof *r);
        uint8_t executor[32];
        if (!r || capsule_receipt_open (st->receipt, st->receipt_len, info->chain, r, executor) !=
                      WD_OK) {
            free (r);
            json_decref (root);
            return s_fail (EXIT_INTERNAL, "the receipt does not verify");
        }
        json_t *rec = json_object ();
        if (r->exit.has_code)
            json_object_set_new (rec, "exit", json_integer (r->exit.code));
        if (r->exit.has_signal)
            json_object_set_new (rec, "signal", json_integer (r->exit.signal));
        const char *killed = capsule_receipt_kill_name (r->exit.killed);
        if (killed)
            json_object_set_new (rec, "killed", json_string (killed));
        json_object_set_new (rec, "wall_us", json_integer ((json_int_t)r->usage.wall_us));
        json_object_set_new (rec, "cpu_user_us", json_integer ((json_int_t)r->usage.cpu_user_us));
        json_object_set_new (rec, "cpu_sys_us", json_integer ((json_int_t)r->usage.cpu_sys_us));
        json_object_set_new (rec, "peak_mem_bytes",
                             json_integer ((json_int_t)r->usage.peak_mem_bytes));
        json_t *deg = json_array ();
        for (size_t i = 0; i < r->degraded_count; i++)
            json_array_append_new (deg, json_string (r->degraded[i]));
        json_object_set_new (rec, "degraded", deg);
        uint8_t rid[32];
        wd_hash_sha256 (rid, st->receipt, st->receipt_len);
        json_object_set_new (rec, "id", json_string (s_hex (hex, rid)));
        json_object_set_new (root, "receipt", rec);
        json_t *outs = json_array ();
        for (size_t i = 0; i < r->output_count && !status && fetch; i++) {
            char path[PATH_MAX];
            status = s_open_id (info, u, r->outputs[i], executor, out_dir, path, sizeof path);
            if (!status) {
                json_array_append_new (outs, json_string (path));
                if (!s_json)
                    printf ("%s\n", path);
            }
        }
        if (!fetch)
            for (size_t i = 0; i < r->output_count; i++)
                json_array_append_new (outs, json_string (s_hex (hex, r->outputs[i])));
        json_object_set_new (root, "outputs", outs);
        if (!s_json)
            fprintf (stderr, "receipt %s: %s%s%s, %llu ms wall, %llu KiB peak%s%s\n",
                     wd_short_id (rid).s, killed ? "killed: " : "",
                     killed             ? killed
                     : r->exit.has_code ? "exit "
                                        : "signal ",
                     killed ? ""
                     : r->exit.has_code
                         ? (snprintf (hex2, sizeof hex2, "%d", (int)r->exit.code), hex2)
                         : (snprintf (hex2, sizeof hex2, "%d", (int)r->exit.signal), hex2),
                     (unsigned long long)(r->usage.wall_us / 1000),
                     (unsigned long long)(r->usage.peak_mem_bytes >> 10),
                     r->degraded_count ? ", degraded: " : "",
                     r->degraded_count ? r->degraded[0] : "");
        if (!status)
            status = killed ? EXIT_LIMIT : (r->exit.has_code && r->exit.code == 0) ? 0 : EXIT_NO;
        free (r);
    } else if (!s_json)
        fprintf (stderr, "task %s: %s\n", s_hex (hex, task), st->state);
    if (s_json)
        s_json_print (root);
    else
        json_decref (root);
    return status;
}

/* One line of progress for a state the local node reports (the stages
   between "selected" and "done" are seen only when the local node is the
   executor; docs/man/capsule-submit.1). */
static void
s_progress_show (const node_capsule_info_t *info, const node_capsule_status_t *st,
                 const char *previous)
{
    char hex[65];
    const char *ex = s_node_name (info, st->executor, hex);
    const char *state = st->state;
    bool was_selected = previous[0] && strcmp (previous, "submitted") != 0;
    if (strcmp (state, "submitted") == 0)
        s_progress ("submitted; waiting for the ledger");
    else if (strcmp (state, "posted") == 0 && was_selected)
        s_progress ("the executor missed its deadline; electing another (round %u)",
                    (unsigned)st->round);
    else if (strcmp (state, "posted") == 0)
        s_progress ("posted at height %llu; electing the executor", (unsigned long long)st->height);
    else if (strcmp (state, "selected") == 0)
        s_progress ("executor selected: %s (round %u)", ex, (unsigned)st->round);
    else if (strcmp (state, "releasing") == 0)
        s_progress ("executor %s: asking the holders for the keys", ex);
    else if (strcmp (state, "released") == 0)
        s_progress ("inputs released to %s; preparing the work area", ex);
    else if (strcmp (state, "running") == 0)
        s_progress ("running on %s", ex);
    else if (strcmp (state, "sealing") == 0)
        s_progress ("program ended on %s; sealing the outputs", ex);
    else if (strcmp (state, "sealed") == 0)
        s_progress ("outputs sealed; receipt published, waiting for the ledger");
    else if (strcmp (state, "failing") == 0)
        s_progress ("executor %s gave the task up; waiting for the ledger", ex);
    else if (strcmp (state, "done") == 0)
        s_progress ("committed: the receipt is in the ledger");
    else if (strcmp (state, "failed") == 0)
        s_progress ("committed: the task failed");
}

/* Polls the task's status until it is done or failed, showing progress. */
static int
s_wait (const node_capsule_info_t *info, const s_user_t *u, const uint8_t task[32],
        uint64_t timeout_ms, const char *out_dir)
{
    struct timespec t0;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    char last[16] = "";
    char hex[65];
    for (;;) {
        node_capsule_status_t *st = calloc (1, sizeof *st);
        wd_chan_msg_t keep;
        int rc = st ? s_status (task, st, &keep) : EXIT_INTERNAL;
        if (rc) {
            free (st);
            return rc;
        }
        if (strcmp (st->state, last) != 0) {
            s_progress_show (info, st, last);
            snprintf (last, sizeof last, "%s", st->state);
        }
        bool over = strcmp (st->state, "done") == 0 || strcmp (st->state, "failed") == 0;
        if (over) {
            rc = s_report (info, u, task, st, out_dir, true);
            wd_chan_msg_clear (&keep);
            free (st);
            return rc;
        }
        wd_chan_msg_clear (&keep);
        free (st);
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        uint64_t spent = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000 +
                         (uint64_t)((now.tv_nsec - t0.tv_nsec) / 1000000);
        if (spent >= timeout_ms)
            return s_fail (EXIT_TIMEOUT,
                           "task %s: still %s after %llu ms (see capsule-submit "
                           "status)",
                           s_hex (hex, task), last, (unsigned long long)timeout_ms);
        usleep (200 * 1000);
    }
}

/* ---- commands ------------------------------------------------------------------------ */

static const char s_usage[] =
    "usage: capsule-submit [--socket PATH | --state DIR] [--key FILE] COMMAND ...\n"
    "\n"
    "  capsule-submit --code FILE|ID --env FILE|DIR|ID --input FILE|ID@NODE[:NAME]...\n"
    "                 --to me|NODE|KEY... [--entry PATH] [--time 10s] [--cpu 10s]\n"
    "                 [--mem 64M] [--pids 64] [--out-size 16M] [--wait] [--timeout 120s]\n"
    "                 [--out DIR] [--json]\n"
    "      seal and upload the code, environment and inputs, submit the task\n"
    "  capsule-submit put FILE [--kind data|code|env] [--allow-code ID]... [--min-tier T]\n"
    "                 [--allow-node NODE]... [--json]\n"
    "      seal one capsule for the local node and upload it; prints its id\n"
    "  capsule-submit status TASK [--json]    where a task stands\n"
    "  capsule-submit open CAPSULE|FILE [--from NODE] [--out DIR] [--json]\n"
    "      fetch a capsule and open it with your key\n"
    "  capsule-submit keygen [--json]          create your key file\n"
    "  capsule-submit pubkey [--json]          print your recipient key (for --to)\n"
    "\n"
    "Exit codes: 0 done, 1 no (program failed, not a recipient), 2 usage, 3 internal,\n"
    "4 no eligible executor, 5 key release refused, 6 limit exceeded, 7 timed out,\n"
    "8 task failed. With --json a failure also prints {\"error\", \"exit\", \"code\"}.\n";

/* Options of the commands that take none but --json and --help, then
   exactly `operands` operands from argv[optind]: 1 when --help was shown,
   0 to go on, or EXIT_USAGE. */
static int
s_plain_options (int argc, char **argv, int operands)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long (argc, argv, "jh", options, NULL)) != -1) {
        if (opt == 'j')
            s_json = true;
        else if (opt == 'h') {
            fputs (s_usage, stdout);
            return 1;
        } else
            return EXIT_USAGE;
    }
    if (argc - optind > operands)
        return s_fail (EXIT_USAGE, "unexpected argument '%s'", argv[optind + operands]);
    return argc - optind == operands ? 0 : s_fail (EXIT_USAGE, "missing operand (see --help)");
}

static int
s_cmd_keygen (int argc, char **argv)
{
    int opts = s_plain_options (argc, argv, 0);
    if (opts)
        return opts == 1 ? 0 : opts;
    char buf[PATH_MAX];
    const char *path = s_key_file (buf, sizeof buf);
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        char *p = dir;
        while ((p = strchr (p + 1, '/'))) {
            *p = 0;
            mkdir (dir, 0700);
            *p = '/';
        }
        mkdir (dir, 0700);
    }
    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    if (!seed)
        return s_fail (EXIT_INTERNAL, "out of memory");
    randombytes_buf (seed, WD_SEED_LEN);
    wd_err_t err = wd_keyfile_write (path, WD_KEYFILE_ED25519, seed);
    sodium_free (seed);
    if (err != WD_OK)
        return s_fail (err == WD_ERR_EXISTS ? EXIT_USAGE : EXIT_INTERNAL, "%s: %s", path,
                       wd_strerror (err));
    s_user_t u = { 0 };
    int rc = s_user_load (&u);
    if (!rc && s_json) {
        char hex[65];
        json_t *root = json_object ();
        json_object_set_new (root, "key", json_string (path));
        json_object_set_new (root, "recipient", json_string (s_hex (hex, u.curve_pk)));
        json_object_set_new (root, "signer", json_string (s_hex (hex, u.pk)));
        s_json_print (root);
    } else if (!rc) {
        char hex[65];
        printf ("%s\n", s_hex (hex, u.curve_pk));
        fprintf (stderr, "key written to %s; your recipient key is above\n", path);
    }
    s_user_free (&u);
    return rc;
}

static int
s_cmd_pubkey (int argc, char **argv)
{
    int opts = s_plain_options (argc, argv, 0);
    if (opts)
        return opts == 1 ? 0 : opts;
    s_user_t u = { 0 };
    int rc = s_user_load (&u);
    if (!rc) {
        char hex[65];
        if (s_json) {
            json_t *root = json_object ();
            json_object_set_new (root, "recipient", json_string (s_hex (hex, u.curve_pk)));
            json_object_set_new (root, "signer", json_string (s_hex (hex, u.pk)));
            s_json_print (root);
        } else
            printf ("%s\n", s_hex (hex, u.curve_pk));
    }
    s_user_free (&u);
    return rc;
}

static int
s_cmd_put (int argc, char **argv)
{
    static const struct option options[] = {
        { "kind", required_argument, NULL, 'k' },
        { "allow-code", required_argument, NULL, 'c' },
        { "min-tier", required_argument, NULL, 't' },
        { "allow-node", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *allow_nodes[CAPSULE_POLICY_LIST_MAX];
    size_t n_allow_nodes = 0;
    capsule_policy_t *policy = calloc (1, sizeof *policy);
    if (!policy)
        return s_fail (EXIT_INTERNAL, "out of memory");
    capsule_policy_init (policy);
    capsule_kind_t kind = CAPSULE_KIND_DATA;
    int opt, status = 0;
    optind = 1;
    while ((opt = getopt_long (argc, argv, "k:c:t:n:jh", options, NULL)) != -1 && !status) {
        switch (opt) {
            case 'k':
                if (!capsule_kind_parse (optarg, strlen (optarg), &kind) ||
                    kind == CAPSULE_KIND_RESULT)
                    status = s_fail (EXIT_USAGE, "--kind: data, code or env");
                break;
            case 'c':
                if (policy->n_code == CAPSULE_POLICY_LIST_MAX ||
                    !s_unhex32 (optarg, policy->code[policy->n_code++]))
                    status = s_fail (EXIT_USAGE, "--allow-code: a capsule id (64 hex digits)");
                break;
            case 't':
                if (!capsule_tier_parse (optarg, strlen (optarg), &policy->min_tier))
                    status = s_fail (EXIT_USAGE, "--min-tier: none, warning or affirming");
                break;
            case 'n':
                if (n_allow_nodes == CAPSULE_POLICY_LIST_MAX)
                    status = s_fail (EXIT_USAGE, "--allow-node: at most %d nodes",
                                     CAPSULE_POLICY_LIST_MAX);
                else
                    allow_nodes[n_allow_nodes++] = optarg;
                break;
            case 'j':
                s_json = true;
                break;
            case 'h':
                fputs (s_usage, stdout);
                free (policy);
                return 0;
            default:
                status = EXIT_USAGE;
        }
    }
    if (!status && optind + 1 != argc)
        status = s_fail (EXIT_USAGE, "put takes one FILE");
    node_capsule_info_t info = { 0 };
    s_user_t u = { 0 };
    uint8_t id[32];
    if (!status)
        status = s_user_load (&u);
    if (!status)
        status = s_info (&info);
    for (size_t i = 0; i < n_allow_nodes && !status; i++) {
        const node_capsule_node_t *n = s_find_node (&info, allow_nodes[i]);
        if (!n)
            status =
                s_fail (EXIT_USAGE, "--allow-node: no node '%s' in this cluster", allow_nodes[i]);
        else
            memcpy (policy->nodes[policy->n_nodes++], n->id, sizeof policy->nodes[0]);
    }
    if (!status) {
        capsule_policy_normalize (policy);
        status = s_seal_path (&info, &u, argv[optind], kind, policy, id);
    }
    if (!status) {
        char hex[65];
        if (s_json) {
            json_t *root = json_object ();
            json_object_set_new (root, "holder", json_string (info.self.name));
            json_object_set_new (root, "id", json_string (s_hex (hex, id)));
            s_json_print (root);
        } else
            printf ("%s\n", s_hex (hex, id));
    }
    free (info.nodes);
    s_user_free (&u);
    free (policy);
    return status;
}

static int
s_cmd_status (int argc, char **argv)
{
    int opts = s_plain_options (argc, argv, 1);
    if (opts)
        return opts == 1 ? 0 : opts;
    uint8_t task[32];
    if (!s_unhex32 (argv[optind], task))
        return s_fail (EXIT_USAGE, "status takes one TASK id (64 hex digits)");
    node_capsule_info_t info = { 0 };
    int status = s_info (&info);
    node_capsule_status_t *st = calloc (1, sizeof *st);
    wd_chan_msg_t keep = { 0 };
    if (!status)
        status = st ? s_status (task, st, &keep) : EXIT_INTERNAL;
    if (!status) {
        status = s_report (&info, NULL, task, st, NULL, false);
        wd_chan_msg_clear (&keep);
    }
    free (st);
    free (info.nodes);
    return status;
}

static void
s_print_opened (const uint8_t id[32], const char *path)
{
    if (s_json) {
        char hex[65];
        json_t *root = json_object ();
        json_object_set_new (root, "id", json_string (s_hex (hex, id)));
        json_object_set_new (root, "path", json_string (path));
        s_json_print (root);
    } else
        printf ("%s\n", path);
}

static int
s_cmd_open (int argc, char **argv)
{
    static const struct option options[] = {
        { "from", required_argument, NULL, 'f' },
        { "out", required_argument, NULL, 'o' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *from = NULL, *out = ".";
    int opt;
    optind = 1;
    while ((opt = getopt_long (argc, argv, "f:o:jh", options, NULL)) != -1) {
        if (opt == 'j')
            s_json = true;
        else if (opt == 'f')
            from = optarg;
        else if (opt == 'o')
            out = optarg;
        else if (opt == 'h') {
            fputs (s_usage, stdout);
            return 0;
        } else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc)
        return s_fail (EXIT_USAGE, "open takes one CAPSULE id or FILE");
    s_user_t u = { 0 };
    node_capsule_info_t info = { 0 };
    int status = s_user_load (&u);
    if (!status)
        status = s_info (&info);
    uint8_t id[32];
    char path[PATH_MAX];
    if (!status && s_unhex32 (argv[optind], id)) {
        const node_capsule_node_t *holder = from ? s_find_node (&info, from) : NULL;
        if (from && !holder)
            status = s_fail (EXIT_USAGE, "--from: no node %s", from);
        else
            status = s_open_id (&info, &u, id, holder ? holder->id : NULL, out, path, sizeof path);
        if (!status)
            s_print_opened (id, path);
    } else if (!status) {
        /* a capsule file: upload is not needed, open it here */
        int fd = open (argv[optind], O_RDONLY | O_CLOEXEC);
        capsule_header_t *h = malloc (sizeof *h);
        capsule_key_t *key = NULL;
        int rc = fd < 0 ? WD_ERR_IO : h ? capsule_parse_fd (fd, info.chain, 0, h) : WD_ERR_NOMEM;
        if (rc == WD_OK)
            rc = capsule_unwrap (h, u.curve_pk, u.curve_sk, &key);
        if (rc == WD_OK) {
            char hex[65];
            mkdir (out, 0700);
            snprintf (path, sizeof path, "%s/%s", out, s_hex (hex, h->id));
            int o = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            rc = o < 0 ? WD_ERR_IO : capsule_open_fd (h, fd, key, o);
            if (o >= 0)
                close (o);
        }
        if (rc != WD_OK)
            status = s_fail (
                rc == CAPSULE_ERR_NOT_RECIPIENT ? EXIT_NO : EXIT_USAGE, "%s: %s", argv[optind],
                rc == CAPSULE_ERR_NOT_RECIPIENT ? "this key is not one of its recipients"
                                                : capsule_strerror (rc));
        else
            s_print_opened (h->id, path);
        capsule_key_destroy (&key);
        free (h);
        if (fd >= 0)
            close (fd);
    }
    free (info.nodes);
    s_user_free (&u);
    return status;
}

static int
s_cmd_submit (int argc, char **argv)
{
    static const struct option options[] = {
        { "code", required_argument, NULL, 'c' },  { "env", required_argument, NULL, 'e' },
        { "input", required_argument, NULL, 'i' }, { "to", required_argument, NULL, 'T' },
        { "entry", required_argument, NULL, 'E' }, { "time", required_argument, NULL, 't' },
        { "cpu", required_argument, NULL, 'C' },   { "mem", required_argument, NULL, 'm' },
        { "pids", required_argument, NULL, 'p' },  { "out-size", required_argument, NULL, 'O' },
        { "wait", no_argument, NULL, 'w' },        { "timeout", required_argument, NULL, 'W' },
        { "out", required_argument, NULL, 'o' },   { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    const char *code = NULL, *env = NULL, *entry = NULL, *out_dir = NULL;
    const char *inputs[CAPSULE_TASK_INPUTS_MAX], *tos[CAPSULE_TASK_RECIPIENTS_MAX];
    size_t n_inputs = 0, n_tos = 0;
    bool wait = false;
    uint64_t timeout_ms = 120000;
    capsule_task_limits_t limits = { .cpu_ms = 0,
                                     .mem_bytes = 64ULL << 20,
                                     .output_bytes = 16ULL << 20,
                                     .pids = 64,
                                     .wall_ms = 10000 };
    int opt;
    optind = 1;
    while ((opt = getopt_long (argc, argv, "c:e:i:T:E:t:C:m:p:O:wW:o:jh", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
            case 'c':
                code = optarg;
                break;
            case 'e':
                env = optarg;
                break;
            case 'i':
                if (n_inputs == CAPSULE_TASK_INPUTS_MAX)
                    return s_fail (EXIT_USAGE, "at most %d inputs", CAPSULE_TASK_INPUTS_MAX);
                inputs[n_inputs++] = optarg;
                break;
            case 'T':
                if (n_tos == CAPSULE_TASK_RECIPIENTS_MAX)
                    return s_fail (EXIT_USAGE, "at most %d recipients",
                                   CAPSULE_TASK_RECIPIENTS_MAX);
                tos[n_tos++] = optarg;
                break;
            case 'E':
                entry = optarg;
                break;
            case 't':
                ok = s_parse_ms (optarg, &limits.wall_ms);
                break;
            case 'C':
                ok = s_parse_ms (optarg, &limits.cpu_ms);
                break;
            case 'm':
                ok = s_parse_size (optarg, &limits.mem_bytes);
                break;
            case 'p':
                ok = s_parse_size (optarg, &limits.pids);
                break;
            case 'O':
                ok = s_parse_size (optarg, &limits.output_bytes);
                break;
            case 'w':
                wait = true;
                break;
            case 'W':
                ok = s_parse_ms (optarg, &timeout_ms);
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'j':
                s_json = true;
                break;
            case 'h':
                fputs (s_usage, stdout);
                return 0;
            default:
                return EXIT_USAGE;
        }
        if (!ok)
            return s_fail (EXIT_USAGE, "cannot read '%s' (durations: 10s, 500ms, 2m; sizes: 64M)",
                           optarg);
    }
    if (optind != argc)
        return s_fail (EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
    if (!code || !env)
        return s_fail (EXIT_USAGE, "--code and --env are required (see --help)");
    if (!limits.cpu_ms)
        limits.cpu_ms = limits.wall_ms;
    char why[128];
    if (capsule_task_limits_check (&limits, why, sizeof why) != 0)
        return s_fail (EXIT_USAGE, "limits: %s", why);
    if (n_tos == 0)
        tos[n_tos++] = "me";

    s_user_t u = { 0 };
    node_capsule_info_t info = { 0 };
    capsule_task_t *task = calloc (1, sizeof *task);
    capsule_policy_t *policy = calloc (1, sizeof *policy);
    int status = task && policy ? 0 : s_fail (EXIT_INTERNAL, "out of memory");
    if (!status)
        status = s_user_load (&u);
    if (!status)
        status = s_info (&info);
    char hex[65];
    /* the code first: the inputs sealed here allow exactly this code */
    if (!status && !s_unhex32 (code, task->code)) {
        capsule_policy_init (policy);
        status = s_seal_path (&info, &u, code, CAPSULE_KIND_CODE, policy, task->code);
        if (!status && !s_json)
            fprintf (stderr, "code %s\n", s_hex (hex, task->code));
    }
    if (!status && !s_unhex32 (env, task->env)) {
        capsule_policy_init (policy);
        status = s_seal_path (&info, &u, env, CAPSULE_KIND_ENV, policy, task->env);
        if (!status && !s_json)
            fprintf (stderr, "environment %s\n", s_hex (hex, task->env));
    }
    if (!status) {
        const char *base = strrchr (code, '/');
        base = base ? base + 1 : code;
        if (entry)
            snprintf (task->entry, sizeof task->entry, "%s", entry);
        else if (strlen (code) == 64 && s_unhex32 (code, task->code))
            status = s_fail (EXIT_USAGE, "--entry is required with a code capsule id");
        else
            snprintf (task->entry, sizeof task->entry, "/code/%s", base);
    }
    for (size_t i = 0; i < n_inputs && !status; i++) {
        capsule_task_input_t *in = &task->inputs[task->input_count++];
        const char *arg = inputs[i];
        const char *at = strchr (arg, '@');
        struct stat st;
        if (at && at - arg == 64 && stat (arg, &st) != 0) {
            char idhex[65];
            memcpy (idhex, arg, 64);
            idhex[64] = 0;
            char node[WD_CERT_NAME_MAX + 65];
            snprintf (node, sizeof node, "%s", at + 1);
            char *colon = strchr (node, ':');
            if (colon)
                *colon = 0;
            const node_capsule_node_t *holder = s_find_node (&info, node);
            if (!s_unhex32 (idhex, in->id) || !holder)
                status =
                    s_fail (EXIT_USAGE, "--input %s: ID@NODE needs a capsule id and a node", arg);
            else {
                memcpy (in->holder, holder->id, 32);
                snprintf (in->name, sizeof in->name, "%s", colon ? colon + 1 : idhex);
                if (!colon)
                    in->name[12] = 0;
            }
        } else {
            capsule_policy_init (policy);
            policy->n_code = 1;
            memcpy (policy->code[0], task->code, 32);
            status = s_seal_path (&info, &u, arg, CAPSULE_KIND_DATA, policy, in->id);
            memcpy (in->holder, info.self.id, 32);
            const char *base = strrchr (arg, '/');
            snprintf (in->name, sizeof in->name, "%s", base ? base + 1 : arg);
            if (!status && !s_json)
                fprintf (stderr, "input %s %s\n", in->name, s_hex (hex, in->id));
        }
    }
    for (size_t i = 0; i < n_tos && !status; i++) {
        uint8_t *to = task->recipients[task->recipient_count++];
        const node_capsule_node_t *node = s_find_node (&info, tos[i]);
        if (strcmp (tos[i], "me") == 0)
            memcpy (to, u.curve_pk, 32);
        else if (node)
            memcpy (to, node->curve, 32);
        else if (!s_unhex32 (tos[i], to))
            status = s_fail (EXIT_USAGE,
                             "--to %s: 'me', a node name, or a recipient key (64 hex digits, "
                             "capsule-submit pubkey)",
                             tos[i]);
    }
    uint8_t *envelope = NULL;
    size_t envelope_len = 0;
    uint8_t id[32];
    if (!status) {
        task->limits = limits;
        randombytes_buf (task->nonce, sizeof task->nonce);
        task->submitted = (uint64_t)time (NULL) * 1000;
        int rc = capsule_task_check (task, why, sizeof why);
        if (rc == WD_OK)
            rc = capsule_task_seal_secret (task, info.chain, u.sk, &envelope, &envelope_len, id);
        if (rc != WD_OK)
            status =
                s_fail (EXIT_USAGE, "task: %s%s%s", capsule_strerror (rc), why[0] ? ": " : "", why);
    }
    if (!status) {
        size_t len;
        uint8_t *body = node_capsule_encode_submit (envelope, envelope_len, &len);
        wd_chan_msg_t reply;
        status = s_request (WD_MSG_CTL_CAPSULE_SUBMIT, body, len, -1, &reply, NULL);
        free (body);
        if (!status)
            wd_chan_msg_clear (&reply);
    }
    if (!status) {
        if (!wait) {
            if (s_json) {
                json_t *root = json_object ();
                json_object_set_new (root, "task", json_string (s_hex (hex, id)));
                s_json_print (root);
            } else
                printf ("%s\n", s_hex (hex, id));
        } else {
            if (!s_json)
                fprintf (stderr, "task %s\n", s_hex (hex, id));
            char dir[PATH_MAX];
            if (!out_dir) {
                snprintf (dir, sizeof dir, "capsule-%.12s", s_hex (hex, id));
                out_dir = dir;
            }
            status = s_wait (&info, &u, id, timeout_ms, out_dir);
        }
    }
    free (envelope);
    free (task);
    free (policy);
    free (info.nodes);
    s_user_free (&u);
    return status;
}

int
main (int argc, char **argv)
{
    if (sodium_init () < 0)
        return s_fail (EXIT_INTERNAL, "libsodium failed to initialise");
    /* global options come before the command */
    int i = 1;
    for (; i < argc; i++) {
        if ((strcmp (argv[i], "--socket") == 0 || strcmp (argv[i], "--state") == 0 ||
             strcmp (argv[i], "--key") == 0) &&
            i + 1 < argc) {
            const char **slot = argv[i][2] == 'k'   ? &s_key_path
                                : argv[i][3] == 'o' ? &s_socket
                                                    : &s_state;
            *slot = argv[++i];
        } else if (strcmp (argv[i], "--json") == 0)
            s_json = true;
        else
            break;
    }
    argc -= i - 1;
    argv += i - 1;
    if (argc < 2)
        return s_fail (EXIT_USAGE, "no command (see --help)");
    const char *cmd = argv[1];
    if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0) {
        fputs (s_usage, stdout);
        return 0;
    }
    int status;
    if (strcmp (cmd, "keygen") == 0)
        status = s_cmd_keygen (argc - 1, argv + 1);
    else if (strcmp (cmd, "pubkey") == 0)
        status = s_cmd_pubkey (argc - 1, argv + 1);
    else if (strcmp (cmd, "put") == 0)
        status = s_cmd_put (argc - 1, argv + 1);
    else if (strcmp (cmd, "status") == 0)
        status = s_cmd_status (argc - 1, argv + 1);
    else if (strcmp (cmd, "open") == 0)
        status = s_cmd_open (argc - 1, argv + 1);
    else if (cmd[0] == '-')
        status = s_cmd_submit (argc, argv);
    else
        status = s_fail (EXIT_USAGE, "unknown command '%s' (see --help)", cmd);
    if (status && s_json && !s_json_done) {
        /* every failure answers in JSON too: {"error": sentence, "exit": status} */
        json_t *root = json_object ();
        json_object_set_new (root, "error", json_string (s_last_error));
        json_object_set_new (root, "exit", json_integer (status));
        if (s_last_code)
            json_object_set_new (root, "code", json_string (capsule_err_name (s_last_code)));
        s_json_print (root);
    }
    return status;
}
