/*
 * Unit tests for node_sign over a real socketpair, with the test playing
 * the keys process from the other end in the same loop: a signature is
 * verified before it is handed on, a wrong one is refused, silence times
 * out, a closed or missing channel fails every request with its reason,
 * answers never come from inside the asking call, a sealed envelope opens
 * under the node's key, a VRF proof is handed on only when it verifies
 * under the node's VRF key, and a guarded vote signature (sign-step,
 * answered here through a real node_guard as the keys process does)
 * reports the guard's refusal code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node_guard.h"
#include "node_sign.h"
#include "test_support.h"

typedef enum { KEYS_SIGN, KEYS_WRONG_KEY, KEYS_SILENT } s_behaviour_t;

typedef struct {
    zloop_t *loop;
    node_sign_t *signer;
    wd_chan_t *keys_end; /* the test's side, playing the keys process */
    zmq_pollitem_t keys_item;
    s_behaviour_t behaviour;
    uint8_t pk[32], sk[64], other_sk[64];
    wd_vrf_key_t *vrf, *other_vrf;
    bool have_pi;
    uint8_t pi[WD_VRF_PROOF_LEN], beta[WD_VRF_BETA_LEN];
    int answers;
    bool have_sig;
    uint8_t sig[WD_SIG_LEN];
    char reason[128];
    uint8_t *envelope;
    size_t envelope_len;
    node_guard_t *guard; /* for sign-step requests */
    int refused;
} s_ctx_t;

static int
s_on_keys_end (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_ctx_t *ctx = arg;
    wd_chan_msg_t msg;
    if (wd_chan_recv (ctx->keys_end, &msg) != WD_OK)
        return 0;
    if (ctx->behaviour != KEYS_SILENT && msg.type == WD_MSG_SIGN) {
        uint8_t digest[WD_DIGEST_LEN], sig[WD_SIG_LEN], body[WD_MSG_SMALL_MAX];
        assert_int_equal (wd_msg_decode_digest (msg.body, msg.body_len, digest), WD_OK);
        crypto_sign_detached (sig, NULL, digest, sizeof digest,
                              ctx->behaviour == KEYS_SIGN ? ctx->sk : ctx->other_sk);
        size_t len = wd_msg_encode_signature (body, sig);
        assert_int_equal (
            wd_chan_send (ctx->keys_end, WD_MSG_SIGNATURE, msg.peer, body, len, NULL, 0), WD_OK);
    } else if (ctx->behaviour != KEYS_SILENT && msg.type == WD_MSG_SIGN_STEP) {
        wd_msg_sign_step_t req;
        uint8_t sig[WD_SIG_LEN], body[WD_MSG_SMALL_MAX];
        assert_int_equal (wd_msg_decode_sign_step (msg.body, msg.body_len, &req), WD_OK);
        wd_err_t err = node_guard_check (ctx->guard, &req);
        if (err == WD_OK) {
            crypto_sign_detached (sig, NULL, req.digest, sizeof req.digest,
                                  ctx->behaviour == KEYS_SIGN ? ctx->sk : ctx->other_sk);
            size_t len = wd_msg_encode_signature (body, sig);
            assert_int_equal (
                wd_chan_send (ctx->keys_end, WD_MSG_SIGNATURE, msg.peer, body, len, NULL, 0),
                WD_OK);
        } else {
            size_t len;
            uint8_t *error = wd_msg_encode_error (err, wd_strerror (err), &len);
            assert_int_equal (
                wd_chan_send (ctx->keys_end, WD_MSG_ERROR, msg.peer, error, len, NULL, 0), WD_OK);
            free (error);
        }
    } else if (ctx->behaviour != KEYS_SILENT && msg.type == WD_MSG_VRF_PROVE) {
        const uint8_t *alpha;
        size_t alpha_len;
        uint8_t pi[WD_VRF_PROOF_LEN], body[WD_MSG_SMALL_MAX];
        assert_int_equal (wd_msg_decode_vrf_prove (msg.body, msg.body_len, &alpha, &alpha_len),
                          WD_OK);
        assert_int_equal (wd_vrf_prove (ctx->behaviour == KEYS_SIGN ? ctx->vrf : ctx->other_vrf,
                                        alpha, alpha_len, pi),
                          WD_OK);
        size_t len = wd_msg_encode_vrf_proof (body, pi);
        assert_int_equal (
            wd_chan_send (ctx->keys_end, WD_MSG_VRF_PROOF, msg.peer, body, len, NULL, 0), WD_OK);
    } else if (ctx->behaviour != KEYS_SILENT && msg.type == WD_MSG_KEYS_INFO) {
        wd_msg_keys_status_t st = { .backend = "file",
                                    .key_protection = "software",
                                    .tamper = "not-supported",
                                    .healthy = true };
        memcpy (st.public_key, ctx->pk, 32);
        size_t len;
        uint8_t *body = wd_msg_encode_keys_status (&st, &len);
        assert_int_equal (
            wd_chan_send (ctx->keys_end, WD_MSG_KEYS_STATUS, msg.peer, body, len, NULL, 0), WD_OK);
        free (body);
    }
    wd_chan_msg_clear (&msg);
    return 0;
}

static void
s_done (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason)
{
    s_ctx_t *ctx = arg;
    ctx->answers++;
    ctx->have_sig = sig != NULL;
    if (sig)
        memcpy (ctx->sig, sig, WD_SIG_LEN);
    snprintf (ctx->reason, sizeof ctx->reason, "%s", reason ? reason : "");
}

static void
s_info (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    s_ctx_t *ctx = arg;
    ctx->answers++;
    ctx->have_sig = keys && memcmp (keys->public_key, ctx->pk, 32) == 0;
    snprintf (ctx->reason, sizeof ctx->reason, "%s", reason ? reason : "");
}

static void
s_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_ctx_t *ctx = arg;
    ctx->answers++;
    if (envelope) {
        ctx->envelope = malloc (len);
        memcpy (ctx->envelope, envelope, len);
        ctx->envelope_len = len;
    }
    snprintf (ctx->reason, sizeof ctx->reason, "%s", reason ? reason : "");
}

static void
s_vrf_done (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN], const uint8_t beta[WD_VRF_BETA_LEN],
            const char *reason)
{
    s_ctx_t *ctx = arg;
    ctx->answers++;
    ctx->have_pi = pi != NULL;
    assert_true ((pi == NULL) == (beta == NULL));
    if (pi) {
        memcpy (ctx->pi, pi, WD_VRF_PROOF_LEN);
        memcpy (ctx->beta, beta, WD_VRF_BETA_LEN);
    }
    snprintf (ctx->reason, sizeof ctx->reason, "%s", reason ? reason : "");
}

static void
s_step_done (void *arg, const uint8_t sig[WD_SIG_LEN], int refused, const char *reason)
{
    s_ctx_t *ctx = arg;
    ctx->refused = refused;
    s_done (arg, sig, reason);
}

static int
s_stop (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

/* Runs the loop until answers reach want or 5 s pass. */
static void
s_run_until (s_ctx_t *ctx, int want)
{
    for (int i = 0; i < 500 && ctx->answers < want; i++) {
        zloop_timer (ctx->loop, 10, 1, s_stop, NULL);
        zloop_start (ctx->loop);
    }
    assert_int_equal (ctx->answers, want);
}

static s_ctx_t *
s_setup_ctx (bool connect)
{
    s_ctx_t *ctx = calloc (1, sizeof *ctx);
    crypto_sign_keypair (ctx->pk, ctx->sk);
    uint8_t other_pk[32];
    crypto_sign_keypair (other_pk, ctx->other_sk);
    uint8_t seed[WD_VRF_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    ctx->vrf = wd_vrf_key_new (seed);
    randombytes_buf (seed, sizeof seed);
    ctx->other_vrf = wd_vrf_key_new (seed);
    ctx->loop = zloop_new ();
    ctx->signer = node_sign_new (ctx->loop, ctx->pk);
    if (connect) {
        int fds[2];
        assert_int_equal (wd_chan_socketpair (fds), 0);
        ctx->keys_end = wd_chan_new (fds[1]);
        ctx->keys_item = (zmq_pollitem_t){ .fd = fds[1], .events = ZMQ_POLLIN };
        assert_int_equal (zloop_poller (ctx->loop, &ctx->keys_item, s_on_keys_end, ctx), 0);
        node_sign_connect (ctx->signer, wd_chan_new (fds[0]));
    }
    return ctx;
}

static void
s_free_ctx (s_ctx_t *ctx)
{
    node_sign_destroy (&ctx->signer);
    if (ctx->keys_end) {
        zloop_poller_end (ctx->loop, &ctx->keys_item);
        wd_chan_destroy (&ctx->keys_end);
    }
    zloop_destroy (&ctx->loop);
    wd_vrf_key_destroy (&ctx->vrf);
    wd_vrf_key_destroy (&ctx->other_vrf);
    node_guard_destroy (&ctx->guard);
    free (ctx->envelope);
    free (ctx);
}

static void
test_signs_and_verifies (void **state)
{
    (void)state;
    s_ctx_t *ctx = s_setup_ctx (true);
    uint8_t digest[32] = { 7 };
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    assert_int_equal (ctx->answers, 0); /* never from inside the call */
    s_run_until (ctx, 1);
    assert_true (ctx->have_sig);
    assert_int_equal (crypto_sign_verify_detached (ctx->sig, digest, 32, ctx->pk), 0);

    node_sign_info (ctx->signer, s_info, ctx);
    s_run_until (ctx, 2);
    assert_true (ctx->have_sig);

    /* a signature by another key is never handed on */
    ctx->behaviour = KEYS_WRONG_KEY;
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    s_run_until (ctx, 3);
    assert_false (ctx->have_sig);
    assert_string_equal (ctx->reason, "the keys process returned a bad signature");
    s_free_ctx (ctx);
}

static void
test_seal_opens (void **state)
{
    (void)state;
    s_ctx_t *ctx = s_setup_ctx (true);
    const uint8_t body[] = { 0x81, 0xa1, 'a', 0x01 }; /* {a: 1} */
    uint8_t chain[WD_CHAIN_ID_LEN] = { 0xc4 };
    node_sign_seal (ctx->signer, "test-record", chain, body, sizeof body, s_sealed, ctx);
    s_run_until (ctx, 1);
    assert_non_null (ctx->envelope);
    wd_envelope_t env;
    assert_int_equal (
        wd_envelope_open (ctx->envelope, ctx->envelope_len, chain, "test-record", &env), WD_OK);
    assert_memory_equal (env.from, ctx->pk, 32);
    assert_memory_equal (env.body, body, sizeof body);
    s_free_ctx (ctx);
}

static void
test_failures_name_their_reason (void **state)
{
    (void)state;
    /* no keys channel yet: failed from the loop, not from the call */
    s_ctx_t *ctx = s_setup_ctx (false);
    uint8_t digest[32] = { 1 };
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    assert_int_equal (ctx->answers, 0);
    s_run_until (ctx, 1);
    assert_string_equal (ctx->reason, "keys process is not running");
    s_free_ctx (ctx);

    /* silence times out */
    ctx = s_setup_ctx (true);
    ctx->behaviour = KEYS_SILENT;
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    s_run_until (ctx, 1);
    assert_string_equal (ctx->reason, "keys process did not answer in time");

    /* the keys process goes away with requests in flight */
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    node_sign_info (ctx->signer, s_info, ctx);
    zloop_poller_end (ctx->loop, &ctx->keys_item);
    wd_chan_destroy (&ctx->keys_end);
    s_run_until (ctx, 3);
    assert_string_equal (ctx->reason, "keys process exited");

    s_free_ctx (ctx);

    /* stopping answers what is still in flight */
    ctx = s_setup_ctx (true);
    ctx->behaviour = KEYS_SILENT;
    node_sign_digest (ctx->signer, digest, s_done, ctx);
    node_sign_destroy (&ctx->signer);
    assert_int_equal (ctx->answers, 1);
    assert_string_equal (ctx->reason, "engine stopping");
    s_free_ctx (ctx);
}

static void
test_vrf_proofs_are_checked (void **state)
{
    (void)state;
    s_ctx_t *ctx = s_setup_ctx (true);
    uint8_t alpha[128];
    memset (alpha, 0x42, sizeof alpha);

    /* without the node's VRF public key nothing can be checked: refused */
    node_sign_vrf (ctx->signer, alpha, sizeof alpha, s_vrf_done, ctx);
    assert_int_equal (ctx->answers, 0);
    s_run_until (ctx, 1);
    assert_false (ctx->have_pi);
    assert_string_equal (ctx->reason, "no VRF key");

    node_sign_set_vrf_key (ctx->signer, wd_vrf_key_public (ctx->vrf));
    node_sign_vrf (ctx->signer, alpha, sizeof alpha, s_vrf_done, ctx);
    assert_int_equal (ctx->answers, 1); /* never from inside the call */
    s_run_until (ctx, 2);
    assert_true (ctx->have_pi);
    uint8_t beta[WD_VRF_BETA_LEN];
    assert_int_equal (wd_vrf_verify (wd_vrf_key_public (ctx->vrf), alpha, sizeof alpha, ctx->pi,
                                     WD_VRF_PROOF_LEN, beta),
                      WD_OK);
    assert_memory_equal (beta, ctx->beta, sizeof beta);

    /* a proof under another VRF key is never handed on */
    ctx->behaviour = KEYS_WRONG_KEY;
    node_sign_vrf (ctx->signer, alpha, 1, s_vrf_done, ctx);
    s_run_until (ctx, 3);
    assert_false (ctx->have_pi);
    assert_string_equal (ctx->reason, "the keys process returned a bad VRF proof");

    /* silence times out; a lost channel fails what is in flight */
    ctx->behaviour = KEYS_SILENT;
    node_sign_vrf (ctx->signer, alpha, sizeof alpha, s_vrf_done, ctx);
    s_run_until (ctx, 4);
    assert_string_equal (ctx->reason, "keys process did not answer in time");
    node_sign_vrf (ctx->signer, alpha, sizeof alpha, s_vrf_done, ctx);
    zloop_poller_end (ctx->loop, &ctx->keys_item);
    wd_chan_destroy (&ctx->keys_end);
    s_run_until (ctx, 5);
    assert_false (ctx->have_pi);
    assert_string_equal (ctx->reason, "keys process exited");
    s_free_ctx (ctx);
}

static void
test_step_is_guarded (void **state)
{
    (void)state;
    s_ctx_t *ctx = s_setup_ctx (true);
    char path[4096];
    snprintf (path, sizeof path, "%s/sign.state", test_tmpdir ());
    unlink (path);
    assert_int_equal (node_guard_open (path, &ctx->guard), WD_OK);
    wd_msg_sign_step_t step = { .height = 3, .round = 0, .step = 2 };
    memset (step.chain, 0xc4, sizeof step.chain);
    memset (step.digest, 0x01, sizeof step.digest);
    node_sign_step (ctx->signer, &step, s_step_done, ctx);
    assert_int_equal (ctx->answers, 0);
    s_run_until (ctx, 1);
    assert_true (ctx->have_sig);
    assert_int_equal (ctx->refused, 0);
    assert_int_equal (crypto_sign_verify_detached (ctx->sig, step.digest, 32, ctx->pk), 0);
    /* the same vote again is signed again */
    node_sign_step (ctx->signer, &step, s_step_done, ctx);
    s_run_until (ctx, 2);
    assert_true (ctx->have_sig);
    /* another value at the same step, an earlier step: the guard's codes */
    step.digest[0] = 0x02;
    node_sign_step (ctx->signer, &step, s_step_done, ctx);
    s_run_until (ctx, 3);
    assert_false (ctx->have_sig);
    assert_int_equal (ctx->refused, WD_ERR_SIGN_CONFLICT);
    assert_string_equal (ctx->reason, wd_strerror (WD_ERR_SIGN_CONFLICT));
    step.step = 1;
    node_sign_step (ctx->signer, &step, s_step_done, ctx);
    s_run_until (ctx, 4);
    assert_int_equal (ctx->refused, WD_ERR_SIGN_REGRESS);
    /* a failure that is not the guard's: refused 0 */
    ctx->behaviour = KEYS_WRONG_KEY;
    step.height = 4;
    node_sign_step (ctx->signer, &step, s_step_done, ctx);
    s_run_until (ctx, 5);
    assert_false (ctx->have_sig);
    assert_int_equal (ctx->refused, 0);
    assert_string_equal (ctx->reason, "the keys process returned a bad signature");
    s_free_ctx (ctx);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_signs_and_verifies),
        cmocka_unit_test (test_seal_opens),
        cmocka_unit_test (test_failures_name_their_reason),
        cmocka_unit_test (test_vrf_proofs_are_checked),
        cmocka_unit_test (test_step_is_guarded),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
