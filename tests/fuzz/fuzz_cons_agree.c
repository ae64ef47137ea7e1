/*
 * Fuzz harness for the agreement state machine (cons_agree.h): the input is
 * a script of operations on one machine among four validators — raw
 * envelopes, votes and proposals built from a few bytes (any validator, any
 * round, one of a few blocks or nil), timer expiries, candidates, catch-up
 * commits, and restarts from the last persisted record. Signatures are
 * accepted without checking (a permissive verify callback), so the fuzzer
 * can play every validator, byzantine or not, and reach deep states.
 *
 * Checked after every step: no crash or assertion inside cons_agree; every
 * vote or proposal the machine asks for is preceded in the same step by a
 * PERSIST recording it; across the whole script, restarts included, the
 * machine never asks to sign two different messages for one (height, round,
 * step) — the property the persisted record exists for; every certificate
 * it outputs lists ascending signers holding more than 2/3 of the weight.
 *
 * Operation format: op (1 byte), then fields per op (see s_run_op); the
 * script ends when the input does.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_agree.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N           4
#define S_SELF      3
#define S_SIGNED    256 /* signed (height, round, step) remembered per input */
#define S_BLOCK_MAX 64

static cons_validator_t s_vals[N];
static uint8_t s_chain[32];
static const uint8_t s_blocks[3][4] = { "ok-A", "ok-B", "bad" };

typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t kind;
    bool nil;
    uint8_t id[32];
} s_signed_t;

typedef struct {
    const uint8_t *p, *end;
    cons_agree_t *agree;
    cons_agree_outputs_t out;
    uint8_t *saved; /* the last PERSIST record, encoded */
    size_t saved_len;
    uint64_t height; /* decided heights + 1 */
    s_signed_t sig[S_SIGNED];
    size_t nsig;
} s_state_t;

static bool
s_accept (void *ctx, const uint8_t pk[32], const uint8_t digest[32], const uint8_t sig[64])
{
    (void)ctx;
    (void)pk;
    (void)digest;
    (void)sig;
    return true;
}

static bool
s_valid (void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    (void)ctx;
    (void)height;
    return len >= 2 && block[0] == 'o' && block[1] == 'k';
}

static int
s_claim (void *ctx, uint64_t height, uint32_t round, uint32_t validator, const uint8_t *claim,
         size_t claim_len, uint8_t priority[CONS_PRIORITY_LEN])
{
    (void)ctx;
    (void)height;
    (void)round;
    (void)validator;
    if (claim_len == 0 || claim[0] == 0xff)
        return CONS_ERR_CLAIM;
    memset (priority, 0, CONS_PRIORITY_LEN);
    memcpy (priority, claim, claim_len < CONS_PRIORITY_LEN ? claim_len : CONS_PRIORITY_LEN);
    return 0;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    for (int i = 0; i < N; i++) {
        memset (s_vals[i].pk, 0x10 + i, 32);
        s_vals[i].weight = (uint64_t)i + 1; /* 1..4 of 10 */
    }
    memset (s_chain, 0x77, sizeof s_chain);
    return 0;
}

static uint8_t
s_byte (s_state_t *st)
{
    return st->p < st->end ? *st->p++ : 0;
}

static void
s_remember (s_state_t *st, const cons_msg_t *m)
{
    for (size_t i = 0; i < st->nsig; i++) {
        s_signed_t *s = &st->sig[i];
        if (s->height == m->height && s->round == m->round && s->kind == m->kind) {
            /* The same message again (after a restart) is fine; another is
               double signing. */
            assert (s->nil == m->nil && (m->nil || memcmp (s->id, m->block_id, 32) == 0));
            return;
        }
    }
    if (st->nsig < S_SIGNED) {
        s_signed_t *s = &st->sig[st->nsig++];
        s->height = m->height;
        s->round = m->round;
        s->kind = (uint8_t)m->kind;
        s->nil = m->nil;
        memcpy (s->id, m->block_id, 32);
    }
}

static void
s_check_outputs (s_state_t *st)
{
    bool persisted = false;
    cons_agree_saved_t last = { 0 };
    for (size_t i = 0; i < st->out.count; i++) {
        const cons_agree_output_t *o = &st->out.items[i];
        switch (o->kind) {
            case CONS_AGREE_OUT_PERSIST:
                persisted = true;
                last = o->saved;
                free (st->saved);
                st->saved = cons_agree_saved_encode (&o->saved, &st->saved_len);
                break;
            case CONS_AGREE_OUT_VOTE:
            case CONS_AGREE_OUT_PROPOSE:
                /* A re-sent vote after a restart has no new record; any new
                   one does, and it names this message. */
                if (persisted && last.signed_round == (int32_t)o->msg.round &&
                    last.signed_step == o->msg.kind && last.height == o->msg.height)
                    assert (last.signed_nil == o->msg.nil &&
                            memcmp (last.signed_block, o->msg.block_id, 32) == 0);
                s_remember (st, &o->msg);
                break;
            case CONS_AGREE_OUT_COMMIT: {
                const cons_cert_t *c = &o->commit.cert;
                uint64_t w = 0;
                for (size_t k = 0; k < c->count; k++) {
                    assert (c->sigs[k].index < N);
                    assert (k == 0 || c->sigs[k].index > c->sigs[k - 1].index);
                    w += s_vals[c->sigs[k].index].weight;
                }
                assert (cons_weight_quorum (w, 10));
                st->height = o->commit.height + 1;
                break;
            }
            default:
                break;
        }
    }
}

static void
s_step (s_state_t *st, const cons_agree_input_t *in)
{
    cons_agree_step (st->agree, in, &st->out);
    s_check_outputs (st);
}

static void
s_start (s_state_t *st, cons_proposer_mode_t mode)
{
    cons_agree_saved_t saved, *sp = NULL;
    if (st->saved && cons_agree_saved_decode (st->saved, st->saved_len, S_BLOCK_MAX, &saved) == 0)
        sp = &saved;
    cons_agree_config_t config = { .params = { .propose_ms = 100,
                                               .propose_delta_ms = 10,
                                               .prevote_ms = 100,
                                               .precommit_ms = 100,
                                               .commit_ms = 10,
                                               .timeout_max_ms = 1000,
                                               .filter_ms = 10,
                                               .proposer_mode = mode,
                                               .block_max = S_BLOCK_MAX },
                                   .validators = s_vals,
                                   .count = N,
                                   .self = S_SELF,
                                   .height = st->height,
                                   .saved = sp,
                                   .valid = s_valid,
                                   .claim = s_claim,
                                   .verify = s_accept,
                                   .rounds_kept = 3,
                                   .proposals_per_round = 2 };
    memcpy (config.chain, s_chain, 32);
    int rc = cons_agree_new (&config, &st->agree);
    assert (rc == 0);
    cons_agree_start (st->agree, &st->out);
    s_check_outputs (st);
}

/* Feeds a message built from a few bytes: kind, signer, height offset,
   round, value (block 0-2 or nil), pol_round, claim. */
static void
s_built (s_state_t *st, cons_kind_t kind)
{
    uint8_t who = s_byte (st) % N, dh = s_byte (st) % 3, round = s_byte (st) % 12;
    uint8_t value = s_byte (st) % 4, pol = s_byte (st), claim = s_byte (st);
    cons_msg_t m = { .kind = kind,
                     .height = st->height + dh - (dh == 2 && st->height > 1 ? 3 : 0),
                     .round = round };
    if (m.height == 0)
        m.height = 1;
    if (kind == CONS_PROPOSAL) {
        m.block = s_blocks[value % 3];
        m.block_len = sizeof s_blocks[0];
        m.pol_round = pol % (round + 1) == round ? -1 : (int32_t)(pol % (round + 1));
        m.claim = &claim;
        m.claim_len = claim & 1 ? 1 : 0;
    } else if (value == 3) {
        m.nil = true;
    } else {
        crypto_hash_sha256 (m.block_id, s_blocks[value], sizeof s_blocks[0]);
    }
    size_t body_len;
    uint8_t *body = cons_msg_encode_body (&m, &body_len);
    wd_envelope_t env = { .body = body, .body_len = body_len };
    memcpy (env.type, cons_kind_type (kind), strlen (cons_kind_type (kind)) + 1);
    memcpy (env.chain, s_chain, 32);
    memcpy (env.from, s_vals[who].pk, 32);
    uint8_t *buf;
    size_t len;
    wd_envelope_encode (&env, &buf, &len);
    cons_agree_input_t in = { .kind = CONS_AGREE_IN_MESSAGE, .data = buf, .len = len };
    s_step (st, &in);
    free (buf);
    free (body);
}

static void
s_run_op (s_state_t *st, cons_proposer_mode_t mode)
{
    uint8_t op = s_byte (st) % 8;
    switch (op) {
        case 0: { /* raw input bytes as an envelope: length, bytes */
            size_t len = s_byte (st);
            if (len > (size_t)(st->end - st->p))
                len = (size_t)(st->end - st->p);
            cons_agree_input_t in = { .kind = CONS_AGREE_IN_MESSAGE, .data = st->p, .len = len };
            st->p += len;
            s_step (st, &in);
            break;
        }
        case 1:
            s_built (st, CONS_PREVOTE);
            break;
        case 2:
            s_built (st, CONS_PRECOMMIT);
            break;
        case 3:
            s_built (st, CONS_PROPOSAL);
            break;
        case 4: { /* timer kind, round */
            cons_agree_status_t status;
            cons_agree_status (st->agree, &status);
            uint8_t t = s_byte (st) % 5, r = s_byte (st) % 4;
            cons_agree_input_t in = { .kind = CONS_AGREE_IN_TIMEOUT,
                                      .timer = (cons_timer_t)(t + 1),
                                      .height = status.height,
                                      .round = status.round + r - (r == 3 ? 4 : 0) };
            s_step (st, &in);
            break;
        }
        case 5: { /* candidate: which block, for this height or the next */
            uint8_t b = s_byte (st) % 3, next = s_byte (st) & 1;
            cons_agree_status_t status;
            cons_agree_status (st->agree, &status);
            cons_agree_input_t in = { .kind = CONS_AGREE_IN_CANDIDATE,
                                      .height = status.height + next,
                                      .data = s_blocks[b],
                                      .len = sizeof s_blocks[0] };
            s_step (st, &in);
            break;
        }
        case 6: { /* catch-up commit: block, signers bitmap, round */
            uint8_t b = s_byte (st) % 3, mask = s_byte (st), round = s_byte (st) % 4;
            cons_cert_sig_t sigs[N];
            cons_cert_t cert = { .height = st->height, .round = round, .sigs = sigs };
            crypto_hash_sha256 (cert.block_id, s_blocks[b], sizeof s_blocks[0]);
            for (uint32_t i = 0; i < N; i++)
                if (mask & (1u << i)) {
                    sigs[cert.count].index = i;
                    memset (sigs[cert.count].sig, 0, 64);
                    cert.count++;
                }
            size_t cert_len;
            uint8_t *bytes = cons_cert_encode (&cert, &cert_len);
            cons_agree_input_t in = { .kind = CONS_AGREE_IN_COMMIT,
                                      .data = s_blocks[(b + (mask >> 7)) % 3],
                                      .len = sizeof s_blocks[0],
                                      .cert = bytes,
                                      .cert_len = cert_len };
            s_step (st, &in);
            free (bytes);
            break;
        }
        case 7: /* crash and restart from the last record */
            cons_agree_destroy (&st->agree);
            s_start (st, mode);
            break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static s_state_t st;
    memset (&st, 0, sizeof st);
    st.p = data;
    st.end = data + size;
    st.height = 1;
    cons_proposer_mode_t mode = s_byte (&st) & 1 ? CONS_PROPOSER_VRF : CONS_PROPOSER_ROUND_ROBIN;
    s_start (&st, mode);
    while (st.p < st.end)
        s_run_op (&st, mode);
    cons_agree_destroy (&st.agree);
    free (st.saved);
    return 0;
}
