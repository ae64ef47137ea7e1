/*
 * Unit tests for attest_server, in one process: the test plays the agent on
 * a real CURVE DEALER socket over loopback TCP and drives the server's
 * clock by hand (attest_server_handle / attest_server_tick with chosen
 * now_ms), so deadlines are exact without sleeping. Covered: token
 * admission and refusal, every reference check (table digest, policy
 * digest, command line, module list, process list, IMA delta replayed and
 * appraised across two challenges), replayed, late, foreign-key and
 * forged responses with their reasons, missed deadlines, the failure
 * actions (untrusted state, the hook's environment), a new boot token, and
 * the status snapshot and its canonical encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <sodium.h>

#include "attest_ima.h"
#include "attest_server.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define S_DEADLINE 1000

typedef struct {
    attest_server_t *server;
    zsock_t *client;
    uint8_t server_pk[32];
    uint8_t pk[32], sk[64];
    attest_policy_t *policy;
    attest_server_outcome_t last; /* copied without its pointers */
    size_t outcomes;
    int last_reject;
    size_t rejects;
    char hook_env[1024];
    size_t hooks;
    uint8_t ima[4096];
    size_t ima_len, ima_offsets[5];
} s_ctx_t;

static uint8_t s_ref_a[32], s_ref_range[32];
static const char *s_modules[] = { "ext4", "xfs" };

static void
s_on_outcome (void *arg, const attest_server_outcome_t *o)
{
    s_ctx_t *c = arg;
    c->last = *o;
    c->last.response = NULL;
    c->last.ima = NULL;
    c->last.host = NULL;
    c->outcomes++;
}

static void
s_on_reject (void *arg, const char *host, int reason)
{
    (void)host;
    s_ctx_t *c = arg;
    c->last_reject = reason;
    c->rejects++;
}

static void
s_hook (void *arg, const char *hook, char *const env[])
{
    s_ctx_t *c = arg;
    assert_string_equal (hook, "power-cycle");
    size_t n = 0;
    c->hook_env[0] = 0;
    for (size_t i = 0; env[i]; i++)
        n += (size_t)snprintf (c->hook_env + n, sizeof c->hook_env - n, "%s\n", env[i]);
    c->hooks++;
}

/* Two IMA entries for /usr/bin/tool0 (allowed by the policy) and
   /usr/bin/tool1 (not listed), written as the kernel's binary records. */
static void
s_make_ima (s_ctx_t *c)
{
    c->ima_len = 0;
    for (int i = 0; i < 2; i++) {
        char name[32];
        uint8_t digest[32], tdata[256];
        int nlen = snprintf (name, sizeof name, "/usr/bin/tool%d", i);
        memset (digest, i + 1, sizeof digest);
        attest_ima_entry_t e;
        assert_true (attest_ima_entry_make_ng (&e, tdata, sizeof tdata, 10, ATTEST_IMA_SHA256,
                                               digest, name, (size_t)nlen) > 0);
        c->ima_offsets[i] = c->ima_len;
        c->ima_len += attest_ima_entry_binary (&e, c->ima + c->ima_len, sizeof c->ima - c->ima_len);
    }
    c->ima_offsets[2] = c->ima_len;
}

static int
s_setup (void **state)
{
    assert_true (sodium_init () >= 0);
    s_ctx_t *c = calloc (1, sizeof *c);
    assert_non_null (c);
    s_make_ima (c);
    /* Policy: /usr/bin/tool0 -> 0x01*32, /usr/bin/b -> 0x0b*32. */
    const char *json =
        "{\"meta\": {\"version\": 1, \"generator\": 1}, \"release\": 0, \"digests\": {"
        "\"/usr/bin/tool0\": [\"0101010101010101010101010101010101010101010101010101"
        "010101010101\"], \"/usr/bin/b\": [\"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
        "0b0b0b0b0b0b0b0b0b0b0b0b0b\"]}, \"excludes\": [], \"keyrings\": {}, \"ima\": "
        "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": "
        "null}, \"ima-buf\": {}, \"verification-keys\": \"\"}";
    char why[256];
    assert_int_equal (
        attest_policy_from_json (json, strlen (json), "t", 0, &c->policy, why, sizeof why), WD_OK);
    uint8_t ssk[32];
    crypto_box_keypair (c->server_pk, ssk);
    attest_server_config_t cfg = {
        .endpoint = "tcp://127.0.0.1:*",
        .curve_public = c->server_pk,
        .curve_secret = ssk,
        .mean_interval_ms = 200,
        .deadline_ms = S_DEADLINE,
        .min_items = 7,
        .policy = c->policy,
        .cmdline = (const uint8_t *)"ro quiet",
        .cmdline_len = 8,
        .modules = s_modules,
        .modules_count = 2,
        .actions = ATTEST_ACTION_UNTRUSTED | ATTEST_ACTION_HOOK,
        .hook = "power-cycle",
        .hook_fn = s_hook,
        .hook_arg = c,
        .on_outcome = s_on_outcome,
        .on_reject = s_on_reject,
        .arg = c,
    };
    c->server = attest_server_new (&cfg);
    assert_non_null (c->server);
    sodium_memzero (ssk, sizeof ssk);
    /* Items: every kind, all asked every time (min = max = all). */
    memset (s_ref_a, 0xaa, 32);
    memset (s_ref_range, 0xcc, 32);
    attest_item_t items[] = {
        { .kind = ATTEST_ITEM_FILE, .path = "/a" },
        { .kind = ATTEST_ITEM_FILE, .path = "/usr/bin/b" },
        { .kind = ATTEST_ITEM_CMDLINE },
        { .kind = ATTEST_ITEM_MODULES },
        { .kind = ATTEST_ITEM_PROCS },
        { .kind = ATTEST_ITEM_IMA },
        { .kind = ATTEST_ITEM_RANGE, .path = "/dev/x", .off = 0, .len = 10 },
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        attest_server_add_item (c->server, &items[i],
                                i == 0   ? s_ref_a
                                : i == 6 ? s_ref_range
                                         : NULL);
    assert_int_equal (attest_server_add_token (c->server, "tok-1", "hostA"), WD_OK);
    assert_int_equal (attest_server_add_token (c->server, "bad token", NULL),
                      ATTEST_ERR_AGENT_TOKEN);
    assert_int_equal (attest_server_add_token (c->server, "t", "bad host"), ATTEST_ERR_AGENT_HOST);
    uint8_t seed[32] = { 7 };
    crypto_sign_seed_keypair (c->pk, c->sk, seed);
    *state = c;
    return 0;
}

static int
s_teardown (void **state)
{
    s_ctx_t *c = *state;
    zsock_destroy (&c->client);
    attest_server_destroy (&c->server);
    assert_null (c->server);
    attest_policy_destroy (&c->policy);
    free (c);
    return 0;
}

/* A DEALER client whose routing id is derived from session_pk. */
static zsock_t *
s_client (s_ctx_t *c, const uint8_t *session_pk)
{
    zsock_t *s = zsock_new (ZMQ_DEALER);
    assert_non_null (s);
    zcert_t *cert = zcert_new ();
    zcert_apply (cert, s);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey_bin (s, c->server_pk);
    uint8_t rid[ATTEST_AGENT_ROUTING_ID_LEN];
    attest_agent_routing_id (session_pk, rid); /* as warden-agent does */
    assert_int_equal (zmq_setsockopt (zsock_resolve (s), ZMQ_ROUTING_ID, rid, sizeof rid), 0);
    zsock_set_rcvtimeo (s, 5000);
    zsock_set_linger (s, 0);
    assert_int_equal (zsock_connect (s, "%s", zsock_endpoint (attest_server_socket (c->server))),
                      0);
    return s;
}

/* Waits for the server socket, then lets the server handle it at now. */
static void
s_pump (s_ctx_t *c, uint64_t now)
{
    zpoller_t *p = zpoller_new (attest_server_socket (c->server), NULL);
    assert_non_null (zpoller_wait (p, 5000));
    zpoller_destroy (&p);
    attest_server_handle (c->server, now);
}

static zframe_t *
s_recv (zsock_t *s)
{
    zframe_t *f = zframe_recv (s);
    assert_non_null (f);
    return f;
}

static void
s_expect_result (zsock_t *s, attest_agent_status_t status, int reason)
{
    zframe_t *f = s_recv (s);
    attest_agent_result_t r;
    assert_int_equal (attest_agent_result_decode (zframe_data (f), zframe_size (f), &r), WD_OK);
    zframe_destroy (&f);
    if (r.status != status)
        fail_msg ("status %s, want %s (%s)", attest_agent_status_name (r.status),
                  attest_agent_status_name (status), r.reason);
    assert_string_equal (r.reason, reason == WD_OK ? "" : attest_err_name (reason));
}

static void
s_send_frame (zsock_t *s, uint8_t *buf, size_t len)
{
    zframe_t *f = zframe_new (buf, len);
    free (buf);
    assert_int_equal (zframe_send (&f, s, 0), 0);
}

static void
s_hello (s_ctx_t *c, zsock_t *s, const char *token, const uint8_t *pk, const uint8_t *sk)
{
    attest_agent_hello_t h = { .host = "agent-says" };
    snprintf (h.token, sizeof h.token, "%s", token);
    memcpy (h.pk, pk, 32);
    uint8_t *buf;
    size_t len;
    assert_int_equal (
        attest_agent_hello_seal (&h, c->server_pk, test_sign_fn, (void *)sk, &buf, &len), WD_OK);
    s_send_frame (s, buf, len);
}

/* Fires the next challenge and returns it decoded (caller clears). */
static attest_agent_challenge_t *
s_next_challenge (s_ctx_t *c, uint64_t *now)
{
    uint64_t due = attest_server_next_ms (c->server);
    assert_true (due != UINT64_MAX);
    if (due > *now)
        *now = due;
    attest_server_tick (c->server, *now);
    zframe_t *f = s_recv (c->client);
    attest_agent_challenge_t *ch = calloc (1, sizeof *ch);
    assert_non_null (ch);
    assert_int_equal (attest_agent_challenge_decode (zframe_data (f), zframe_size (f), ch), WD_OK);
    zframe_destroy (&f);
    assert_int_equal (ch->deadline_ms, S_DEADLINE);
    assert_int_equal (ch->count, 7); /* all items, configured order */
    return ch;
}

/* Answers every item; good selects the reference values or wrong ones. */
static uint8_t *
s_answer (s_ctx_t *c, const attest_agent_challenge_t *ch, bool good, const uint8_t *sk,
          const uint8_t *from, size_t *len)
{
    attest_agent_response_t *r = calloc (1, sizeof *r);
    assert_non_null (r);
    r->seq = ch->seq;
    memcpy (r->nonce, ch->nonce, 32);
    r->count = ch->count;
    static char *mods_good[] = { "ext4" };
    static char *mods_bad[] = { "ext4", "rootkit" };
    static attest_proc_entry_t procs[] = { { "/usr/bin/b", { 0 } } };
    memset (procs[0].digest, good ? 0x0b : 0x0c, 32);
    for (size_t i = 0; i < ch->count; i++) {
        attest_answer_t *a = &r->answers[i];
        a->kind = ch->items[i].kind;
        switch (a->kind) {
            case ATTEST_ITEM_FILE:
                memset (a->digest, strcmp (ch->items[i].path, "/a") == 0 ? 0xaa : 0x0b, 32);
                break;
            case ATTEST_ITEM_RANGE:
                memcpy (a->digest, s_ref_range, 32);
                break;
            case ATTEST_ITEM_CMDLINE:
                a->data = (uint8_t *)(good ? "ro quiet" : "ro quiet init=/bin/sh");
                a->data_len = strlen ((char *)a->data);
                break;
            case ATTEST_ITEM_MODULES:
                a->list = good ? mods_good : mods_bad;
                a->list_count = good ? 1 : 2;
                break;
            case ATTEST_ITEM_PROCS:
                a->entries = procs;
                a->entry_count = 1;
                break;
            case ATTEST_ITEM_IMA: {
                /* Entries from `from` on: the first challenge gets tool0, the
                   second tool1 (not in the policy). */
                uint64_t start = ch->items[i].from;
                uint64_t n = start < 2 ? 1 : 0;
                a->data = c->ima + c->ima_offsets[start];
                a->data_len = c->ima_offsets[start + n] - c->ima_offsets[start];
                a->n = n;
                break;
            }
            default:
                fail ();
        }
    }
    uint8_t *buf;
    assert_int_equal (
        attest_agent_response_seal (r, c->server_pk, from, test_sign_fn, (void *)sk, &buf, len),
        WD_OK);
    free (r); /* the answers borrow static and context memory */
    return buf;
}

static const attest_evidence_item_t *
s_item (const attest_server_outcome_t *o, const char *name)
{
    for (size_t i = 0; i < o->challenge.item_count; i++)
        if (strcmp (o->challenge.items[i].item, name) == 0)
            return &o->challenge.items[i];
    fail_msg ("no item %s", name);
    return NULL;
}

static void
test_session (void **state)
{
    s_ctx_t *c = *state;
    uint64_t now = 1000;
    attest_host_status_t *st = malloc (sizeof *st);
    assert_non_null (st);
    assert_int_equal (attest_server_host_count (c->server), 1);
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->state, ATTEST_HOST_WAITING);
    assert_int_equal (attest_server_next_ms (c->server), UINT64_MAX);

    /* A response before any hello. */
    c->client = s_client (c, c->pk);
    attest_agent_challenge_t fake = { .seq = 1, .count = 1 };
    fake.items[0].kind = ATTEST_ITEM_CMDLINE;
    size_t len;
    uint8_t *buf = s_answer (c, &fake, true, c->sk, c->pk, &len);
    s_send_frame (c->client, buf, len);
    s_pump (c, now);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, ATTEST_ERR_AGENT_NO_SESSION);

    /* Unknown token, then the right one; a second hello is refused. */
    s_hello (c, c->client, "tok-2", c->pk, c->sk);
    s_pump (c, now);
    s_expect_result (c->client, ATTEST_AGENT_REFUSED, ATTEST_ERR_AGENT_TOKEN_REFUSED);
    s_hello (c, c->client, "tok-1", c->pk, c->sk);
    s_pump (c, now);
    s_expect_result (c->client, ATTEST_AGENT_ACCEPTED, WD_OK);
    s_hello (c, c->client, "tok-1", c->pk, c->sk);
    s_pump (c, now);
    s_expect_result (c->client, ATTEST_AGENT_REFUSED, ATTEST_ERR_AGENT_TOKEN_REFUSED);
    /* The used token admits nobody else either. */
    uint8_t opk[32], osk[64];
    crypto_sign_keypair (opk, osk);
    zsock_t *other = s_client (c, opk);
    s_hello (c, other, "tok-1", opk, osk);
    s_pump (c, now);
    s_expect_result (other, ATTEST_AGENT_REFUSED, ATTEST_ERR_AGENT_TOKEN_REFUSED);
    zsock_destroy (&other);
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->state, ATTEST_HOST_ATTESTING);
    assert_string_equal (st->host, "hostA"); /* the node's label, not the agent's */
    assert_memory_equal (st->session_pk, c->pk, 32);

    /* Challenge 1: everything matches. */
    attest_agent_challenge_t *ch1 = s_next_challenge (c, &now);
    assert_int_equal (ch1->seq, 1);
    assert_int_equal (ch1->items[5].from, 0);
    uint8_t *resp1 = s_answer (c, ch1, true, c->sk, c->pk, &len);
    size_t resp1_len = len;
    uint8_t *copy = malloc (len);
    assert_non_null (copy);
    memcpy (copy, resp1, len);
    s_send_frame (c->client, copy, len);
    s_pump (c, now + 10);
    s_expect_result (c->client, ATTEST_AGENT_PASS, WD_OK);
    assert_int_equal (c->outcomes, 1);
    assert_int_equal (c->last.challenge.outcome, ATTEST_OUTCOME_PASS);
    assert_memory_equal (c->last.challenge.nonce, ch1->nonce, 32);
    assert_int_equal (c->last.answered_ms, now + 10);
    assert_int_equal (c->last.ima_count, 1);
    assert_int_equal (s_item (&c->last, "disk:/dev/x:0+10")->result, ATTEST_OUTCOME_PASS);
    assert_int_equal (s_item (&c->last, "file:/usr/bin/b")->result, ATTEST_OUTCOME_PASS);
    assert_int_equal (c->hooks, 0);
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->state, ATTEST_HOST_TRUSTED);
    assert_int_equal (st->ima_entries, 1);
    now += 10;

    /* The agent reconnects (same routing id): the session follows it. A
       replay on the new connection is the session's rejection, not an
       unknown peer's. */
    uint64_t unknown = attest_server_rejected_unknown (c->server);
    zsock_destroy (&c->client);
    c->client = s_client (c, c->pk);
    copy = malloc (resp1_len);
    assert_non_null (copy);
    memcpy (copy, resp1, resp1_len);
    s_send_frame (c->client, copy, resp1_len);
    s_pump (c, now);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, ATTEST_ERR_AGENT_NONCE);
    assert_int_equal (attest_server_rejected_unknown (c->server), unknown);

    /* Challenge 2: a replay of response 1, a response signed by another
       key, one naming the session key with another key's signature, and a
       late one are all rejected; the challenge is then missed. */
    attest_agent_challenge_t *ch2 = s_next_challenge (c, &now);
    assert_int_equal (ch2->seq, 2);
    s_send_frame (c->client, resp1, resp1_len); /* takes resp1 */
    s_pump (c, now + 1);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, ATTEST_ERR_AGENT_NONCE);
    assert_int_equal (c->last_reject, ATTEST_ERR_AGENT_NONCE);
    buf = s_answer (c, ch2, true, osk, opk, &len);
    s_send_frame (c->client, buf, len);
    s_pump (c, now + 2);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, ATTEST_ERR_AGENT_SESSION_KEY);
    buf = s_answer (c, ch2, true, osk, c->pk, &len);
    s_send_frame (c->client, buf, len);
    s_pump (c, now + 3);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, WD_ERR_BAD_SIGNATURE);
    buf = s_answer (c, ch2, true, c->sk, c->pk, &len);
    s_send_frame (c->client, buf, len);
    s_pump (c, now + S_DEADLINE + 1);
    s_expect_result (c->client, ATTEST_AGENT_REJECTED, ATTEST_ERR_AGENT_LATE);
    assert_int_equal (c->outcomes, 2); /* handle() ticked: missed */
    assert_int_equal (c->last.challenge.outcome, ATTEST_OUTCOME_MISSED);
    assert_int_equal (c->last.seq, 2);
    assert_null (c->last.response);
    assert_int_equal (c->hooks, 1);
    assert_non_null (strstr (c->hook_env, "WARDEN_OUTCOME=missed\n"));
    assert_non_null (strstr (c->hook_env, "WARDEN_HOST=hostA\n"));
    assert_non_null (strstr (c->hook_env, "WARDEN_HOST_STATE=untrusted\n"));
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->state, ATTEST_HOST_UNTRUSTED);
    assert_int_equal (st->rejected, 5);
    now += S_DEADLINE + 1;

    /* Challenge 3, on demand: wrong command line, a module not allowed, a
       process and an IMA entry the policy does not allow. */
    assert_int_equal (attest_server_demand (c->server, "hostA"), 1);
    assert_int_equal (attest_server_next_ms (c->server), 0);
    attest_agent_challenge_t *ch3 = s_next_challenge (c, &now);
    assert_int_equal (ch3->seq, 3);
    assert_int_equal (ch3->items[5].from, 1); /* the IMA delta continues */
    buf = s_answer (c, ch3, false, c->sk, c->pk, &len);
    s_send_frame (c->client, buf, len);
    s_pump (c, now + 5);
    s_expect_result (c->client, ATTEST_AGENT_FAIL, WD_OK);
    const attest_server_outcome_t *o = &c->last;
    assert_int_equal (o->challenge.outcome, ATTEST_OUTCOME_FAIL);
    assert_true (o->on_demand);
    assert_int_equal (s_item (o, "file:/a")->result, ATTEST_OUTCOME_PASS);
    assert_int_equal (s_item (o, "cmdline")->result, ATTEST_OUTCOME_FAIL);
    assert_string_equal (s_item (o, "modules")->why, "module rootkit is not allowed");
    assert_string_equal (s_item (o, "proc")->why,
                         "1 executables fail, first /usr/bin/b (digest-not-allowed)");
    assert_string_equal (s_item (o, "ima")->why,
                         "1 entries fail, first /usr/bin/tool1 (unknown-path)");
    assert_int_equal (o->ima_start, 1);
    assert_int_equal (c->hooks, 2);
    assert_non_null (strstr (c->hook_env, "WARDEN_FAILED=cmdline modules proc ima\n"));
    char hex[65];
    char want[100];
    snprintf (want, sizeof want, "WARDEN_NONCE=%s\n", wd_hex_encode (hex, ch3->nonce, 32));
    assert_non_null (strstr (c->hook_env, want));

    /* Status: the history and a canonical encoding. */
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->passed, 1);
    assert_int_equal (st->missed, 1);
    assert_int_equal (st->failed, 1);
    assert_int_equal (st->history_count, 3);
    assert_int_equal (st->history[0].seq, 1);
    assert_int_equal (st->history[2].challenge.outcome, ATTEST_OUTCOME_FAIL);
    assert_int_equal (st->ima_entries, 2);
    wd_writer_t *w = wd_writer_new ();
    attest_server_status_write (c->server, w, now + 100);
    size_t slen;
    const uint8_t *sdata = wd_writer_data (w, &slen);
    assert_int_equal (wd_codec_check (sdata, slen, 1 << 20, NULL), WD_OK);
    wd_writer_destroy (&w);

    /* A new boot: a new token for the label resets the host. */
    assert_int_equal (attest_server_add_token (c->server, "tok-3", "hostA"), WD_OK);
    attest_server_host_status (c->server, 0, st);
    assert_int_equal (st->state, ATTEST_HOST_WAITING);
    assert_false (st->admitted);
    assert_int_equal (attest_server_next_ms (c->server), UINT64_MAX);

    for (attest_agent_challenge_t **p = (attest_agent_challenge_t *[]){ ch1, ch2, ch3, NULL }; *p;
         p++) {
        attest_agent_challenge_clear (*p);
        free (*p);
    }
    free (st);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_session, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
