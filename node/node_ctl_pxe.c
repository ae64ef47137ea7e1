/*
 * node_ctl_pxe: `wardenctl pxe status|leases|served [--json]`. One
 * WD_MSG_CTL_PXE request over the control socket; the engine answers from
 * what the pxe child last reported (node_pxe_link.h): the child's status
 * (counters of the DHCP, TFTP and HTTP servers and the leases) and the
 * last served files with their digests. Bodies are canonical msgpack,
 * turned into JSON here by a small converter (byte strings become hex).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_ctl.h"
#include "wd_chan.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_msg.h"

#define S_TIMEOUT_MS 5000
#define S_DEPTH_MAX  8

static const char *const s_help =
    "usage: wardenctl pxe status|leases|served [--json]\n"
    "\n"
    "Shows what the running wardend's pxe process last reported:\n"
    "  status   counters of the DHCP, TFTP and HTTP boot servers\n"
    "  leases   DHCP leases: MAC, address, expiry, boot file\n"
    "  served   the last files served, with their SHA-256 and client\n"
    "Exit status 1 when the pxe process is not running (pxe/enable unset, or\n"
    "restarting).\n";

/* ---- msgpack to JSON ------------------------------------------------------------------------ */

static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Converts the value at *p (canonical msgpack, already checked) and
   advances *p. Returns NULL on anything unexpected. */
static json_t *
s_to_json (const uint8_t **p, const uint8_t *end, int depth)
{
    if (*p >= end || depth > S_DEPTH_MAX)
        return NULL;
    uint8_t b = *(*p)++;
    size_t n = 0, hdr = 0;
    enum { T_STR, T_BIN, T_ARRAY, T_MAP } kind;
    if (b <= 0x7f)
        return json_integer (b);
    if (b >= 0xe0)
        return json_integer ((int8_t)b);
    if (b == 0xc0)
        return json_null ();
    if (b == 0xc2 || b == 0xc3)
        return json_boolean (b == 0xc3);
    if (b >= 0xcc && b <= 0xcf) {
        hdr = (size_t)1 << (b - 0xcc);
        if ((size_t)(end - *p) < hdr)
            return NULL;
        uint64_t v = s_be (*p, hdr);
        *p += hdr;
        return v > (uint64_t)INT64_MAX ? json_real ((double)v) : json_integer ((json_int_t)v);
    }
    if (b >= 0xd0 && b <= 0xd3) {
        hdr = (size_t)1 << (b - 0xd0);
        if ((size_t)(end - *p) < hdr)
            return NULL;
        uint64_t v = s_be (*p, hdr);
        *p += hdr;
        int64_t sv = hdr == 8 ? (int64_t)v : (int64_t)(v | (~(uint64_t)0 << (hdr * 8)));
        return json_integer (sv);
    }
    if (b >= 0xa0 && b <= 0xbf) {
        kind = T_STR;
        n = b & 0x1f;
    } else if (b >= 0x90 && b <= 0x9f) {
        kind = T_ARRAY;
        n = b & 0x0f;
    } else if (b >= 0x80 && b <= 0x8f) {
        kind = T_MAP;
        n = b & 0x0f;
    } else {
        switch (b) {
            case 0xd9:
                kind = T_STR, hdr = 1;
                break;
            case 0xda:
                kind = T_STR, hdr = 2;
                break;
            case 0xdb:
                kind = T_STR, hdr = 4;
                break;
            case 0xc4:
                kind = T_BIN, hdr = 1;
                break;
            case 0xc5:
                kind = T_BIN, hdr = 2;
                break;
            case 0xc6:
                kind = T_BIN, hdr = 4;
                break;
            case 0xdc:
                kind = T_ARRAY, hdr = 2;
                break;
            case 0xdd:
                kind = T_ARRAY, hdr = 4;
                break;
            case 0xde:
                kind = T_MAP, hdr = 2;
                break;
            case 0xdf:
                kind = T_MAP, hdr = 4;
                break;
            default:
                return NULL;
        }
        if ((size_t)(end - *p) < hdr)
            return NULL;
        n = (size_t)s_be (*p, hdr);
        *p += hdr;
    }
    if (kind == T_STR || kind == T_BIN) {
        if ((size_t)(end - *p) < n)
            return NULL;
        json_t *out;
        if (kind == T_STR)
            out = json_stringn ((const char *)*p, n);
        else {
            char *hex = malloc (2 * n + 1);
            if (!hex)
                return NULL;
            wd_hex_encode (hex, *p, n);
            out = json_string (hex);
            free (hex);
        }
        *p += n;
        return out;
    }
    json_t *out = kind == T_MAP ? json_object () : json_array ();
    for (size_t i = 0; out && i < n; i++) {
        json_t *key = kind == T_MAP ? s_to_json (p, end, depth + 1) : NULL;
        json_t *value =
            (kind != T_MAP || json_is_string (key)) ? s_to_json (p, end, depth + 1) : NULL;
        if (!value ||
            (kind == T_MAP && json_object_set_new (out, json_string_value (key), value)) ||
            (kind == T_ARRAY && json_array_append_new (out, value))) {
            json_decref (out);
            out = NULL;
        }
        json_decref (key);
    }
    return out;
}

/* The JSON of one complete canonical msgpack value, or NULL. */
static json_t *
s_decode (const uint8_t *buf, size_t len)
{
    if (wd_codec_check (buf, len, WD_CHAN_MAX_BODY, NULL) != WD_OK)
        return NULL;
    const uint8_t *p = buf;
    json_t *out = s_to_json (&p, buf + len, 0);
    if (out && p != buf + len) {
        json_decref (out);
        out = NULL;
    }
    return out;
}

/* ---- request --------------------------------------------------------------------------------- */

/* Asks the engine; returns 0 and the reply as JSON {served: [...], status:
   {...} or null} (served records and status decoded), or an exit status. */
static int
s_request (json_t **out)
{
    wd_chan_msg_t reply = { 0 };
    int status = node_ctl_request (WD_MSG_CTL_PXE, NULL, 0, S_TIMEOUT_MS, &reply);
    if (status)
        return status;
    if (reply.type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply.body, reply.body_len, &code, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "wardend: %s", message);
    } else if (reply.type != WD_MSG_CTL_PXE_REPLY)
        status =
            node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "unexpected %s reply", wd_msg_name (reply.type));
    json_t *root = status ? NULL : s_decode (reply.body, reply.body_len);
    json_t *served = root ? json_object_get (root, "served") : NULL;
    json_t *st = root ? json_object_get (root, "status") : NULL;
    bool ok = json_is_array (served) && (json_is_null (st) || json_is_string (st));
    /* The byte strings came out as hex: decode them again, as msgpack. */
    json_t *result = ok ? json_pack ("{s:[], s:n}", "served", "status") : NULL;
    size_t i;
    json_t *item;
    json_array_foreach (served, i, item)
    {
        const char *hex = json_string_value (item);
        size_t blen = hex ? strlen (hex) / 2 : 0;
        uint8_t *bin = blen ? malloc (blen) : NULL;
        json_t *rec = bin && wd_hex_decode (bin, blen, hex) ? s_decode (bin, blen) : NULL;
        free (bin);
        if (!rec || !result)
            ok = false;
        else
            json_array_append_new (json_object_get (result, "served"), rec);
    }
    if (ok && json_is_string (st)) {
        const char *hex = json_string_value (st);
        size_t blen = strlen (hex) / 2;
        uint8_t *bin = blen ? malloc (blen) : NULL;
        json_t *s = bin && wd_hex_decode (bin, blen, hex) ? s_decode (bin, blen) : NULL;
        free (bin);
        if (s)
            json_object_set_new (result, "status", s);
        else
            ok = false;
    }
    json_decref (root);
    wd_chan_msg_clear (&reply);
    if (status)
        return status;
    if (!ok) {
        json_decref (result);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed pxe reply");
    }
    *out = result;
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static long long
s_int (json_t *obj, const char *key)
{
    return (long long)json_integer_value (json_object_get (obj, key));
}

static void
s_print_counters (const char *name, json_t *obj)
{
    if (!json_is_object (obj)) {
        printf ("%-5s off\n", name);
        return;
    }
    printf ("%-5s", name);
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value)
        printf (" %s=%lld", key, (long long)json_integer_value (value));
    printf ("\n");
}

static void
s_when (long long t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r (&tt, &tm) || strftime (out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf (out, size, "-");
}

int
node_ctl_pxe (int argc, char **argv)
{
    bool json = false;
    int status = node_ctl_parse_json_option (argc, argv, &json, s_help);
    if (status >= 0)
        return status;
    if (optind + 1 != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "pxe: expected status, leases or served\n%s",
                              s_help);
    const char *what = argv[optind];
    if (strcmp (what, "status") != 0 && strcmp (what, "leases") != 0 &&
        strcmp (what, "served") != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "pxe: unknown subcommand '%s'", what);
    json_t *reply = NULL;
    status = s_request (&reply);
    if (status)
        return status;
    json_t *st = json_object_get (reply, "status");
    bool running = json_is_object (st);
    if (!running && strcmp (what, "served") != 0) {
        json_decref (reply);
        return node_ctl_fail (NODE_CTL_EXIT_NO, "the pxe process is not running");
    }
    if (strcmp (what, "status") == 0) {
        if (json) {
            json_object_del (st, "leases");
            node_ctl_print_json (json_incref (st));
        } else {
            printf ("address %s (%s DHCP), %lld approved files\n",
                    json_string_value (json_object_get (st, "address")),
                    json_string_value (json_object_get (st, "mode")), s_int (st, "images"));
            s_print_counters ("dhcp", json_object_get (st, "dhcp"));
            s_print_counters ("tftp", json_object_get (st, "tftp"));
            s_print_counters ("http", json_object_get (st, "http"));
        }
    } else if (strcmp (what, "leases") == 0) {
        json_t *leases = json_object_get (st, "leases");
        if (json)
            node_ctl_print_json (json_incref (leases));
        else {
            size_t i;
            json_t *l;
            json_array_foreach (leases, i, l)
            {
                char when[32];
                s_when (s_int (l, "expires"), when, sizeof when);
                printf ("%s %-15s %s %s%s%s %s\n", json_string_value (json_object_get (l, "mac")),
                        json_string_value (json_object_get (l, "address")), when,
                        json_is_true (json_object_get (l, "bound")) ? "bound" : "offered",
                        json_is_true (json_object_get (l, "reserved")) ? " reserved" : "",
                        json_is_true (json_object_get (l, "ipxe")) ? " ipxe" : "",
                        json_string_value (json_object_get (l, "boot_file")));
            }
        }
    } else {
        json_t *served = json_object_get (reply, "served");
        if (json)
            node_ctl_print_json (json_incref (served));
        else {
            size_t i;
            json_t *r;
            json_array_foreach (served, i, r)
            {
                char when[32];
                s_when (s_int (r, "time"), when, sizeof when);
                printf ("%s %-4s %-15s %s %lld bytes%s%s sha256 %s\n", when,
                        json_string_value (json_object_get (r, "protocol")),
                        json_string_value (json_object_get (r, "client")),
                        json_string_value (json_object_get (r, "file")), s_int (r, "bytes"),
                        json_is_true (json_object_get (r, "complete")) ? "" : " (unconfirmed)",
                        json_is_true (json_object_get (r, "approved")) ? "" : " (unapproved)",
                        json_string_value (json_object_get (r, "sha256")));
            }
        }
    }
    json_decref (reply);
    return 0;
}
