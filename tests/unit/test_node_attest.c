/*
 * Unit tests for node_attest, the engine's host-attestation part, and the
 * body of its control requests (wd_msg_attest_req): the request codec and
 * its rejections; a component without attest/listen still opens
 * attest.db (append-only) and answers host and evidence requests, but
 * refuses tokens; the items file's mistakes stop start-up with the line
 * named; a serving component issues tokens and answers with the kernel
 * command line's pieces. wardend_agent.sh runs the whole thing with real
 * processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "attest_agent_proto.h"
#include "node_attest.h"
#include "node_config.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_keyfile.h"

/* ---- the request body ------------------------------------------------------ */

static void
test_request_codec (void **state)
{
    (void)state;
    wd_msg_attest_req_t req = { .has_host = true, .host = "hostA", .limit = 7 }, back;
    size_t len;
    uint8_t *body = wd_msg_encode_attest_req (&req, &len);
    assert_int_equal (wd_msg_decode_attest_req (body, len, &back), WD_OK);
    assert_true (back.has_host);
    assert_string_equal (back.host, "hostA");
    assert_int_equal (back.limit, 7);
    free (body);

    wd_msg_attest_req_t none = { 0 };
    body = wd_msg_encode_attest_req (&none, &len);
    assert_int_equal (len, 1); /* the empty map */
    assert_int_equal (wd_msg_decode_attest_req (body, len, &back), WD_OK);
    assert_false (back.has_host);
    assert_int_equal (back.limit, 0);
    free (body);
    assert_int_equal (wd_msg_decode_attest_req (NULL, 0, &back), WD_OK);
}

/* Encodes {key: value} maps by hand for the rejections. */
static uint8_t *
s_map1 (const char *key, const char *str, uint64_t num, bool is_str, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, key);
    if (is_str)
        wd_writer_cstr (w, str);
    else
        wd_writer_uint (w, num);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
test_request_rejections (void **state)
{
    (void)state;
    wd_msg_attest_req_t back;
    size_t len;
    uint8_t *b = s_map1 ("hosts", "x", 0, true, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_UNKNOWN_KEY);
    free (b);
    b = s_map1 ("host", "", 0, true, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_BAD_LENGTH);
    free (b);
    char long_host[80];
    memset (long_host, 'a', 65);
    long_host[65] = 0;
    b = s_map1 ("host", long_host, 0, true, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_OVERSIZE);
    free (b);
    b = s_map1 ("limit", NULL, 70000, false, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_OUT_OF_RANGE);
    free (b);
    b = s_map1 ("limit", NULL, 0, false, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_OUT_OF_RANGE);
    free (b);
    b = s_map1 ("host", NULL, 3, false, &len);
    assert_int_equal (wd_msg_decode_attest_req (b, len, &back), WD_ERR_WRONG_TYPE);
    free (b);
    const uint8_t trailing[] = { 0x80, 0x80 };
    assert_int_equal (wd_msg_decode_attest_req (trailing, sizeof trailing, &back), WD_ERR_TRAILING);
    const uint8_t not_map[] = { 0x90 };
    assert_int_equal (wd_msg_decode_attest_req (not_map, sizeof not_map, &back), WD_ERR_WRONG_TYPE);
}

/* ---- the component --------------------------------------------------------- */

typedef struct {
    const char *dir;
    zloop_t *loop;
    node_sign_t *signer;
    wd_config_t *cfg;
    wd_cert_t cert;
} s_ctx_t;

static int
s_setup (void **state)
{
    s_ctx_t *c = calloc (1, sizeof *c);
    assert_non_null (c);
    c->dir = test_tmpdir ();
    char path[512];
    snprintf (path, sizeof path, "%s/keys", c->dir);
    assert_int_equal (mkdir (path, 0700), 0);
    uint8_t seed[WD_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    snprintf (path, sizeof path, "%s/keys/curve.key", c->dir);
    assert_int_equal (wd_keyfile_write (path, WD_KEYFILE_X25519, seed), WD_OK);
    assert_int_equal (crypto_scalarmult_base (c->cert.curve_pk, seed), 0);
    randombytes_buf (c->cert.sign_pk, sizeof c->cert.sign_pk);
    snprintf (c->cert.key_protection, sizeof c->cert.key_protection, "software");
    snprintf (c->cert.name, sizeof c->cert.name, "unit");
    c->loop = zloop_new ();
    c->signer = node_sign_new (c->loop, c->cert.sign_pk);
    c->cfg = wd_config_new (node_config_table);
    char why[WD_CONFIG_WHY_MAX];
    assert_int_equal (wd_config_set (c->cfg, "node/state", c->dir, why, sizeof why), WD_OK);
    *state = c;
    return 0;
}

static int
s_teardown (void **state)
{
    s_ctx_t *c = *state;
    wd_config_destroy (&c->cfg);
    node_sign_destroy (&c->signer);
    zloop_destroy (&c->loop);
    free (c);
    return test_tmpdir_teardown (state);
}

static void
s_set (s_ctx_t *c, const char *key, const char *value)
{
    char why[WD_CONFIG_WHY_MAX];
    assert_int_equal (wd_config_set (c->cfg, key, value, why, sizeof why), WD_OK);
}

static void
s_write_items (s_ctx_t *c, const char *text)
{
    test_write_file (c->dir, "items", text, strlen (text));
    char path[512];
    snprintf (path, sizeof path, "%s/items", c->dir);
    s_set (c, "attest/items", path);
}

static void
test_without_listen (void **state)
{
    s_ctx_t *c = *state;
    char why[256] = "";
    node_attest_t *a = node_attest_new (c->loop, c->cfg, &c->cert, c->signer, why, sizeof why);
    assert_non_null (a);
    assert_false (node_attest_serving (a));
    assert_int_equal (node_attest_add_token (a, "00ff", "hostA"), WD_ERR_UNAVAILABLE);

    uint32_t type;
    uint8_t *reply = NULL;
    size_t len;
    char what[256];
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_TOKEN, NULL, 0, &type, &reply, &len,
                                           what, sizeof what),
                      WD_ERR_UNAVAILABLE);
    assert_non_null (strstr (what, "not configured"));
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_HOST, NULL, 0, &type, &reply, &len,
                                           what, sizeof what),
                      WD_OK);
    assert_int_equal (type, WD_MSG_CTL_ATTEST_HOST_REPLY);
    assert_int_equal (wd_codec_check (reply, len, WD_CHAN_MAX_BODY, NULL), WD_OK);
    free (reply);
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_EVIDENCE, NULL, 0, &type, &reply,
                                           &len, what, sizeof what),
                      WD_OK);
    assert_int_equal (type, WD_MSG_CTL_ATTEST_EVIDENCE_REPLY);
    /* {chain: 32 zero bytes (no genesis), more: false, records: []} */
    wd_reader_t r;
    size_t n;
    uint8_t chain[32];
    bool more = true;
    wd_reader_init (&r, reply, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, chain, 32);
    wd_read_key (&r, "more");
    wd_read_bool (&r, &more);
    wd_read_key (&r, "records");
    wd_read_array (&r, &n);
    assert_int_equal (n, 0);
    wd_read_end (&r);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_memory_equal (chain, wd_cert_no_chain, 32);
    assert_false (more);
    free (reply);
    /* A malformed request is a named rejection. */
    const uint8_t bad[] = { 0x81, 0xa1, 'x', 0x01 };
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_HOST, bad, sizeof bad, &type,
                                           &reply, &len, what, sizeof what),
                      WD_ERR_UNKNOWN_KEY);
    node_attest_destroy (&a);
    assert_null (a);

    /* attest.db: WAL, version 1, and the evidence table refuses changes. */
    char path[512];
    snprintf (path, sizeof path, "%s/" NODE_ATTEST_DB, c->dir);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    char *err = NULL;
    assert_int_equal (sqlite3_exec (db,
                                    "INSERT INTO evidence (id, host, outcome, seq, time, envelope) "
                                    "VALUES (zeroblob(32), 'h', 'pass', 1, 1, x'00')",
                                    NULL, NULL, &err),
                      SQLITE_OK);
    assert_int_not_equal (sqlite3_exec (db, "DELETE FROM evidence", NULL, NULL, &err), SQLITE_OK);
    assert_non_null (strstr (err, "append-only"));
    sqlite3_free (err);
    assert_int_not_equal (
        sqlite3_exec (db, "UPDATE evidence SET outcome = 'fail'", NULL, NULL, &err), SQLITE_OK);
    sqlite3_free (err);
    sqlite3_stmt *st;
    assert_int_equal (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (st), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (st, 0), NODE_ATTEST_DB_VERSION);
    sqlite3_finalize (st);
    sqlite3_close (db);
}

static void
s_expect_refusal (s_ctx_t *c, const char *items, const char *why_part)
{
    s_write_items (c, items);
    char why[512] = "";
    node_attest_t *a = node_attest_new (c->loop, c->cfg, &c->cert, c->signer, why, sizeof why);
    assert_null (a);
    if (!strstr (why, why_part))
        fail_msg ("'%s' does not contain '%s'", why, why_part);
}

static void
test_items_refused (void **state)
{
    s_ctx_t *c = *state;
    s_set (c, "attest/listen", "tcp://127.0.0.1:*");
    s_expect_refusal (c, "# nothing\n\n", "nothing to challenge");
    s_expect_refusal (c, "cmdline\nbogus /x\n", "items:2: unknown item kind 'bogus'");
    s_expect_refusal (c, "file /etc/hostname\n", "no digest for /etc/hostname");
    s_expect_refusal (c, "file /x 00ff\n", "not 64 hex digits");
    s_expect_refusal (c, "file relative\n", "expected 'file /PATH");
    s_expect_refusal (c, "range /x 0 0\n", "expected 'range /PATH");
    s_expect_refusal (c, "range /nonexistent/x 0 16\n", "cannot hash the reference copy");
    s_expect_refusal (c, "procs extra\n", "'procs' takes no arguments");
    s_expect_refusal (c, "ima 1 2\n", "expected 'ima [FROM]'");
    char many[4096] = "";
    for (int i = 0; i <= ATTEST_AGENT_ITEMS_MAX; i++)
        strcat (many, "procs\n");
    s_expect_refusal (c, many, "more than 64 items");
}

static void
test_serving_tokens (void **state)
{
    s_ctx_t *c = *state;
    s_set (c, "attest/listen", "tcp://127.0.0.1:*");
    s_set (c, "attest/advertise", "tcp://192.0.2.1:7420");
    s_set (c, "attest/cmdline", "quiet ro");
    char items[256];
    snprintf (items, sizeof items, "file /bin/sh %064d\nmodules ext4 xfs\nprocs\n", 0);
    s_write_items (c, items);
    char why[512] = "";
    node_attest_t *a = node_attest_new (c->loop, c->cfg, &c->cert, c->signer, why, sizeof why);
    if (!a)
        fail_msg ("%s", why);
    assert_true (node_attest_serving (a));
    assert_int_equal (node_attest_add_token (a, "abc", "bad host"), ATTEST_ERR_AGENT_HOST);
    assert_int_equal (node_attest_add_token (a, "bad token", "hostA"), ATTEST_ERR_AGENT_TOKEN);
    assert_int_equal (node_attest_add_token (a, "00ff00ff", "hostA"), WD_OK);

    wd_msg_attest_req_t req = { .has_host = true, .host = "hostB" };
    size_t blen;
    uint8_t *body = wd_msg_encode_attest_req (&req, &blen);
    uint32_t type;
    uint8_t *reply;
    size_t len;
    char what[256];
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_TOKEN, body, blen, &type, &reply,
                                           &len, what, sizeof what),
                      WD_OK);
    assert_int_equal (type, WD_MSG_CTL_ATTEST_TOKEN_REPLY);
    wd_reader_t r;
    size_t n;
    char endpoint[64], host[65], token[129];
    uint8_t key[32];
    wd_reader_init (&r, reply, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "endpoint");
    wd_read_cstr (&r, endpoint, sizeof endpoint);
    wd_read_key (&r, "host");
    wd_read_cstr (&r, host, sizeof host);
    wd_read_key (&r, "server_key");
    wd_read_bin_fixed (&r, key, 32);
    wd_read_key (&r, "token");
    wd_read_cstr (&r, token, sizeof token);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_string_equal (endpoint, "tcp://192.0.2.1:7420");
    assert_string_equal (host, "hostB");
    assert_memory_equal (key, c->cert.curve_pk, 32);
    assert_int_equal (strlen (token), 2 * NODE_ATTEST_TOKEN_BYTES);
    free (reply);
    free (body);

    /* Two hosts, both waiting; nobody admitted, so a challenge asks none. */
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_HOST, NULL, 0, &type, &reply, &len,
                                           what, sizeof what),
                      WD_OK);
    assert_non_null (memmem (reply, len, "waiting", 7));
    assert_non_null (memmem (reply, len, "hostB", 5));
    free (reply);
    assert_int_equal (node_attest_control (a, WD_MSG_CTL_ATTEST_CHALLENGE, NULL, 0, &type, &reply,
                                           &len, what, sizeof what),
                      WD_OK);
    const uint8_t asked0[] = { 0x81, 0xa5, 'a', 's', 'k', 'e', 'd', 0x00 };
    assert_int_equal (len, sizeof asked0);
    assert_memory_equal (reply, asked0, sizeof asked0);
    free (reply);
    node_attest_destroy (&a);
}

static void
test_wrong_curve_key (void **state)
{
    s_ctx_t *c = *state;
    s_set (c, "attest/listen", "tcp://127.0.0.1:*");
    s_set (c, "attest/cmdline", "quiet");
    c->cert.curve_pk[0] ^= 1;
    char why[512] = "";
    assert_null (node_attest_new (c->loop, c->cfg, &c->cert, c->signer, why, sizeof why));
    assert_non_null (strstr (why, "is not the curve key of node.cert"));
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_request_codec),
        cmocka_unit_test (test_request_rejections),
        cmocka_unit_test_setup_teardown (test_without_listen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_items_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_serving_tokens, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_curve_key, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
