/*
 * cons_vote: encoding, decoding and checking of the agreement's signed
 * messages, commit certificates and equivocation evidence. The decoders
 * read with wd_codec's strict pull reader and allocate nothing; a field the
 * reader cannot express directly (a block id that may be nil) is read as a
 * raw value and checked here, its reason reported when the reader itself
 * found nothing wrong.
 */
#include "cons_vote.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"
#include "wd_hash.h"

static const char *const s_types[] = { NULL, "proposal", "prevote", "precommit" };

bool
cons_verify_ed25519 (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                     const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN])
{
    (void)ctx;
    return crypto_sign_verify_detached (sig, digest, WD_DIGEST_LEN, pk) == 0;
}

/* ---- validator set ------------------------------------------------------ */

int
cons_validators_check (const cons_validator_t *validators, size_t count)
{
    if (count == 0 || count > CONS_VALIDATORS_MAX)
        return WD_ERR_OUT_OF_RANGE;
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (validators[i].weight == 0 || validators[i].weight > CONS_WEIGHT_TOTAL_MAX - total)
            return WD_ERR_OUT_OF_RANGE;
        total += validators[i].weight;
        for (size_t j = 0; j < i; j++)
            if (memcmp (validators[i].pk, validators[j].pk, WD_PUBKEY_LEN) == 0)
                return CONS_ERR_VALIDATOR_DUPLICATE;
    }
    return WD_OK;
}

uint64_t
cons_validators_total (const cons_validator_t *validators, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += validators[i].weight;
    return total;
}

bool
cons_weight_quorum (uint64_t weight, uint64_t total)
{
    assert (total <= CONS_WEIGHT_TOTAL_MAX && weight <= total);
    return 3 * weight > 2 * total;
}

bool
cons_weight_one_third (uint64_t weight, uint64_t total)
{
    assert (total <= CONS_WEIGHT_TOTAL_MAX && weight <= total);
    return 3 * weight > total;
}

/* ---- messages ------------------------------------------------------------ */

const char *
cons_kind_type (cons_kind_t kind)
{
    assert (kind >= CONS_PROPOSAL && kind <= CONS_PRECOMMIT);
    return s_types[kind];
}

void
cons_write_block_id (wd_writer_t *w, bool nil, const uint8_t id[CONS_BLOCK_ID_LEN])
{
    if (nil)
        wd_writer_nil (w);
    else
        wd_writer_bin (w, id, CONS_BLOCK_ID_LEN);
}

/* Writes the body of a vote for (height, round, block) into w. */
static void
s_write_vote (wd_writer_t *w, uint64_t height, uint32_t round, bool nil,
              const uint8_t id[CONS_BLOCK_ID_LEN])
{
    wd_writer_map (w, 4);
    wd_writer_key (w, "block");
    cons_write_block_id (w, nil, id);
    wd_writer_key (w, "height");
    wd_writer_uint (w, height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, round);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_VOTE_VERSION);
}

static void
s_write_body (wd_writer_t *w, const cons_msg_t *msg)
{
    assert (msg->height <= CONS_HEIGHT_MAX && msg->round <= CONS_ROUND_MAX);
    if (msg->kind != CONS_PROPOSAL) {
        assert (msg->kind == CONS_PREVOTE || msg->kind == CONS_PRECOMMIT);
        s_write_vote (w, msg->height, msg->round, msg->nil, msg->block_id);
        return;
    }
    assert (msg->pol_round >= -1 && msg->pol_round < (int64_t)msg->round);
    assert (msg->claim_len <= CONS_CLAIM_MAX);
    wd_writer_map (w, 6);
    wd_writer_key (w, "block");
    wd_writer_bin (w, msg->block, msg->block_len);
    wd_writer_key (w, "claim");
    wd_writer_bin (w, msg->claim, msg->claim_len);
    wd_writer_key (w, "height");
    wd_writer_uint (w, msg->height);
    wd_writer_key (w, "pol_round");
    wd_writer_int (w, msg->pol_round);
    wd_writer_key (w, "round");
    wd_writer_uint (w, msg->round);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_VOTE_VERSION);
}

uint8_t *
cons_msg_encode_body (const cons_msg_t *msg, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    s_write_body (w, msg);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* Appends v as a canonical msgpack uint. */
static size_t
s_put_uint (uint8_t *buf, uint64_t v)
{
    size_t n = 0;
    int bytes;
    if (v <= 0x7f) {
        buf[0] = (uint8_t)v;
        return 1;
    } else if (v <= 0xff) {
        buf[n++] = 0xcc, bytes = 1;
    } else if (v <= 0xffff) {
        buf[n++] = 0xcd, bytes = 2;
    } else if (v <= 0xffffffffu) {
        buf[n++] = 0xce, bytes = 4;
    } else {
        buf[n++] = 0xcf, bytes = 8;
    }
    for (int b = bytes - 1; b >= 0; b--)
        buf[n++] = (uint8_t)(v >> (8 * b));
    return n;
}

/* A vote body packed by hand into buf (CONS_VOTE_BODY_MAX bytes), so the
   state machine and the certificate checks rebuild vote bodies without
   allocating. The unit tests check it against the writer (s_write_vote). */
static size_t
s_vote_body (uint8_t *buf, uint64_t height, uint32_t round, bool nil,
             const uint8_t id[CONS_BLOCK_ID_LEN])
{
    size_t n = 0;
    buf[n++] = 0x84;
    buf[n++] = 0xa5;
    memcpy (buf + n, "block", 5);
    n += 5;
    if (nil) {
        buf[n++] = 0xc0;
    } else {
        buf[n++] = 0xc4;
        buf[n++] = CONS_BLOCK_ID_LEN;
        memcpy (buf + n, id, CONS_BLOCK_ID_LEN);
        n += CONS_BLOCK_ID_LEN;
    }
    buf[n++] = 0xa6;
    memcpy (buf + n, "height", 6);
    n += 6;
    n += s_put_uint (buf + n, height);
    buf[n++] = 0xa5;
    memcpy (buf + n, "round", 5);
    n += 5;
    n += s_put_uint (buf + n, round);
    buf[n++] = 0xa1;
    buf[n++] = 'v';
    buf[n++] = CONS_VOTE_VERSION;
    assert (n <= CONS_VOTE_BODY_MAX);
    return n;
}

static void
s_vote_digest (uint8_t digest[WD_DIGEST_LEN], const uint8_t chain[WD_CHAIN_ID_LEN],
               cons_kind_t kind, uint64_t height, uint32_t round, bool nil,
               const uint8_t id[CONS_BLOCK_ID_LEN])
{
    uint8_t body[CONS_VOTE_BODY_MAX];
    size_t len = s_vote_body (body, height, round, nil, id);
    wd_envelope_digest (digest, cons_kind_type (kind), chain, body, len);
}

void
cons_msg_digest (const cons_msg_t *msg, const uint8_t chain[WD_CHAIN_ID_LEN],
                 uint8_t digest[WD_DIGEST_LEN])
{
    if (msg->kind != CONS_PROPOSAL) {
        s_vote_digest (digest, chain, msg->kind, msg->height, msg->round, msg->nil, msg->block_id);
        return;
    }
    size_t len;
    uint8_t *body = cons_msg_encode_body (msg, &len);
    wd_envelope_digest (digest, cons_kind_type (msg->kind), chain, body, len);
    free (body);
}

void
cons_read_opt_bin (wd_reader_t *r, const uint8_t **data, size_t *len, size_t max, int *err)
{
    const uint8_t *raw;
    size_t raw_len;
    *data = NULL;
    *len = 0;
    if (!wd_read_raw (r, &raw, &raw_len) || (raw_len == 1 && raw[0] == 0xc0))
        return;
    /* Not nil: it must read as a bin on its own. */
    wd_reader_t sub;
    wd_reader_init (&sub, raw, raw_len);
    wd_read_bin (&sub, data, len, max);
    int sub_err = wd_reader_finish (&sub);
    if (sub_err != WD_OK) {
        *data = NULL;
        *len = 0;
        if (*err == WD_OK)
            *err = sub_err;
    }
}

void
cons_read_block_id (wd_reader_t *r, bool *nil, uint8_t id[CONS_BLOCK_ID_LEN], int *err)
{
    const uint8_t *data;
    size_t len;
    int local = WD_OK;
    *nil = true;
    memset (id, 0, CONS_BLOCK_ID_LEN);
    cons_read_opt_bin (r, &data, &len, SIZE_MAX, &local);
    if (local == WD_OK && data && len != CONS_BLOCK_ID_LEN)
        local = WD_ERR_BAD_LENGTH;
    if (local != WD_OK) {
        if (*err == WD_OK)
            *err = local;
        return;
    }
    if (data) {
        *nil = false;
        memcpy (id, data, CONS_BLOCK_ID_LEN);
    }
}

/* Finishes a decode: the reader's error first, then a locally found one,
   then the version. */
static int
s_finish (wd_reader_t *r, int local, uint64_t version)
{
    int err = wd_reader_finish (r);
    if (err == WD_OK)
        err = local;
    if (err == WD_OK && version != CONS_VOTE_VERSION)
        err = WD_ERR_BAD_VERSION;
    return err;
}

int
cons_msg_decode_body (cons_kind_t kind, const uint8_t *body, size_t len, size_t block_max,
                      cons_msg_t *msg)
{
    assert (kind >= CONS_PROPOSAL && kind <= CONS_PRECOMMIT);
    memset (msg, 0, sizeof *msg);
    msg->kind = kind;
    msg->pol_round = -1;
    size_t max_field = block_max > CONS_CLAIM_MAX ? block_max : CONS_CLAIM_MAX;
    int err = wd_codec_check (body, len, max_field, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count;
    uint64_t height = 0, round = 0, version = 0;
    int64_t pol = -1;
    int local = WD_OK;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "block");
    if (kind == CONS_PROPOSAL) {
        wd_read_bin (&r, &msg->block, &msg->block_len, block_max);
        wd_read_key (&r, "claim");
        wd_read_bin (&r, &msg->claim, &msg->claim_len, CONS_CLAIM_MAX);
    } else {
        cons_read_block_id (&r, &msg->nil, msg->block_id, &local);
    }
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, CONS_HEIGHT_MAX);
    if (kind == CONS_PROPOSAL) {
        wd_read_key (&r, "pol_round");
        wd_read_int (&r, &pol, -1, (int64_t)CONS_ROUND_MAX);
    }
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, CONS_ROUND_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = s_finish (&r, local, version);
    if (err == WD_OK && pol >= (int64_t)round)
        err = CONS_ERR_POL_ROUND;
    if (err != WD_OK) {
        memset (msg, 0, sizeof *msg);
        return err;
    }
    msg->height = height;
    msg->round = (uint32_t)round;
    if (kind == CONS_PROPOSAL) {
        msg->nil = false;
        msg->pol_round = (int32_t)pol;
        crypto_hash_sha256 (msg->block_id, msg->block, msg->block_len);
    }
    return WD_OK;
}

int
cons_msg_decode (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                 size_t block_max, wd_envelope_t *env, cons_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    int err = wd_envelope_decode (buf, len, env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env->chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    cons_kind_t kind = 0;
    for (int k = CONS_PROPOSAL; k <= CONS_PRECOMMIT; k++)
        if (strcmp (env->type, s_types[k]) == 0)
            kind = (cons_kind_t)k;
    if (kind == 0)
        return WD_ERR_UNEXPECTED_TYPE;
    return cons_msg_decode_body (kind, env->body, env->body_len, block_max, msg);
}

int
cons_msg_verify (const wd_envelope_t *env, cons_verify_fn verify, void *verify_ctx)
{
    uint8_t digest[WD_DIGEST_LEN];
    wd_envelope_digest (digest, env->type, env->chain, env->body, env->body_len);
    if (!verify)
        verify = cons_verify_ed25519;
    return verify (verify_ctx, env->from, digest, env->sig) ? WD_OK : WD_ERR_BAD_SIGNATURE;
}

/* ---- commit certificate ---------------------------------------------------- */

uint8_t *
cons_cert_encode (const cons_cert_t *cert, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "block");
    wd_writer_bin (w, cert->block_id, CONS_BLOCK_ID_LEN);
    wd_writer_key (w, "height");
    wd_writer_uint (w, cert->height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, cert->round);
    wd_writer_key (w, "sigs");
    wd_writer_array (w, cert->count);
    for (size_t i = 0; i < cert->count; i++) {
        assert (i == 0 || cert->sigs[i].index > cert->sigs[i - 1].index);
        wd_writer_array (w, 2);
        wd_writer_uint (w, cert->sigs[i].index);
        wd_writer_bin (w, cert->sigs[i].sig, WD_SIG_LEN);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_VOTE_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

int
cons_cert_decode (const uint8_t *buf, size_t len, cons_cert_t *cert, cons_cert_sig_t *sigs,
                  size_t sigs_max)
{
    memset (cert, 0, sizeof *cert);
    cert->sigs = sigs;
    int err = wd_codec_check (buf, len, CONS_VALIDATORS_MAX, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count, n = 0;
    uint64_t height = 0, round = 0, version = 0;
    int local = WD_OK;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "block");
    wd_read_bin_fixed (&r, cert->block_id, CONS_BLOCK_ID_LEN);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, CONS_HEIGHT_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, CONS_ROUND_MAX);
    wd_read_key (&r, "sigs");
    if (wd_read_array (&r, &n) && n > sigs_max) {
        /* Too many to keep: walk past them so the reader stays in step. */
        local = WD_ERR_OVERSIZE;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *raw;
            size_t raw_len;
            wd_read_raw (&r, &raw, &raw_len);
        }
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t index = 0;
        size_t pair;
        wd_read_array (&r, &pair);
        wd_read_uint (&r, &index, CONS_VALIDATORS_MAX - 1);
        wd_read_bin_fixed (&r, sigs[i].sig, WD_SIG_LEN);
        wd_read_end (&r);
        sigs[i].index = (uint32_t)index;
        if (i > 0 && sigs[i].index <= sigs[i - 1].index && local == WD_OK)
            local = CONS_ERR_CERT_ORDER;
    }
    wd_read_end (&r);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = s_finish (&r, local, version);
    if (err != WD_OK) {
        memset (cert, 0, sizeof *cert);
        cert->sigs = sigs;
        return err;
    }
    cert->height = height;
    cert->round = (uint32_t)round;
    cert->count = n;
    return WD_OK;
}

int
cons_cert_verify (const cons_cert_t *cert, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const cons_validator_t *validators, size_t count, cons_verify_fn verify,
                  void *verify_ctx)
{
    if (!verify)
        verify = cons_verify_ed25519;
    uint8_t digest[WD_DIGEST_LEN];
    s_vote_digest (digest, chain, CONS_PRECOMMIT, cert->height, cert->round, false, cert->block_id);
    uint64_t weight = 0;
    for (size_t i = 0; i < cert->count; i++) {
        const cons_cert_sig_t *s = &cert->sigs[i];
        if (s->index >= count)
            return CONS_ERR_UNKNOWN_VALIDATOR;
        if (i > 0 && s->index <= cert->sigs[i - 1].index)
            return CONS_ERR_CERT_ORDER;
        if (!verify (verify_ctx, validators[s->index].pk, digest, s->sig))
            return WD_ERR_BAD_SIGNATURE;
        weight += validators[s->index].weight;
    }
    if (!cons_weight_quorum (weight, cons_validators_total (validators, count)))
        return CONS_ERR_CERT_WEIGHT;
    return WD_OK;
}

/* ---- equivocation evidence ----------------------------------------------- */

/* Orders two vote values: nil first, then by block id. */
static int
s_id_cmp (bool nil_a, const uint8_t *a, bool nil_b, const uint8_t *b)
{
    if (nil_a || nil_b)
        return (int)nil_b - (int)nil_a;
    return memcmp (a, b, CONS_BLOCK_ID_LEN);
}

void
cons_evidence_normalise (cons_evidence_t *ev)
{
    if (s_id_cmp (ev->nil_a, ev->block_a, ev->nil_b, ev->block_b) <= 0)
        return;
    cons_evidence_t t = *ev;
    ev->nil_a = t.nil_b;
    ev->nil_b = t.nil_a;
    memcpy (ev->block_a, t.block_b, CONS_BLOCK_ID_LEN);
    memcpy (ev->block_b, t.block_a, CONS_BLOCK_ID_LEN);
    memcpy (ev->sig_a, t.sig_b, WD_SIG_LEN);
    memcpy (ev->sig_b, t.sig_a, WD_SIG_LEN);
}

uint8_t *
cons_evidence_encode (const cons_evidence_t *ev_in, size_t *len)
{
    cons_evidence_t ev = *ev_in;
    cons_evidence_normalise (&ev);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9);
    wd_writer_key (w, "block_a");
    cons_write_block_id (w, ev.nil_a, ev.block_a);
    wd_writer_key (w, "block_b");
    cons_write_block_id (w, ev.nil_b, ev.block_b);
    wd_writer_key (w, "height");
    wd_writer_uint (w, ev.height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, ev.round);
    wd_writer_key (w, "sig_a");
    wd_writer_bin (w, ev.sig_a, WD_SIG_LEN);
    wd_writer_key (w, "sig_b");
    wd_writer_bin (w, ev.sig_b, WD_SIG_LEN);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, cons_kind_type (ev.kind));
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_VOTE_VERSION);
    wd_writer_key (w, "validator");
    wd_writer_bin (w, ev.validator, WD_PUBKEY_LEN);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

int
cons_evidence_decode (const uint8_t *buf, size_t len, cons_evidence_t *ev)
{
    memset (ev, 0, sizeof *ev);
    int err = wd_codec_check (buf, len, 64, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count;
    uint64_t height = 0, round = 0, version = 0;
    char type[16] = "";
    int local = WD_OK;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "block_a");
    cons_read_block_id (&r, &ev->nil_a, ev->block_a, &local);
    wd_read_key (&r, "block_b");
    cons_read_block_id (&r, &ev->nil_b, ev->block_b, &local);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, CONS_HEIGHT_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, CONS_ROUND_MAX);
    wd_read_key (&r, "sig_a");
    wd_read_bin_fixed (&r, ev->sig_a, WD_SIG_LEN);
    wd_read_key (&r, "sig_b");
    wd_read_bin_fixed (&r, ev->sig_b, WD_SIG_LEN);
    wd_read_key (&r, "type");
    wd_read_cstr (&r, type, sizeof type);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_key (&r, "validator");
    wd_read_bin_fixed (&r, ev->validator, WD_PUBKEY_LEN);
    wd_read_end (&r);
    err = s_finish (&r, local, version);
    if (err == WD_OK) {
        if (strcmp (type, "prevote") == 0)
            ev->kind = CONS_PREVOTE;
        else if (strcmp (type, "precommit") == 0)
            ev->kind = CONS_PRECOMMIT;
        else
            err = WD_ERR_BAD_VALUE;
    }
    if (err == WD_OK && s_id_cmp (ev->nil_a, ev->block_a, ev->nil_b, ev->block_b) >= 0)
        err = CONS_ERR_EVIDENCE;
    if (err != WD_OK) {
        memset (ev, 0, sizeof *ev);
        return err;
    }
    ev->height = height;
    ev->round = (uint32_t)round;
    return WD_OK;
}

int
cons_evidence_verify (const cons_evidence_t *ev, const uint8_t chain[WD_CHAIN_ID_LEN],
                      cons_verify_fn verify, void *verify_ctx)
{
    if (ev->kind != CONS_PREVOTE && ev->kind != CONS_PRECOMMIT)
        return WD_ERR_BAD_VALUE;
    if (s_id_cmp (ev->nil_a, ev->block_a, ev->nil_b, ev->block_b) == 0)
        return CONS_ERR_EVIDENCE;
    if (!verify)
        verify = cons_verify_ed25519;
    uint8_t digest[WD_DIGEST_LEN];
    s_vote_digest (digest, chain, ev->kind, ev->height, ev->round, ev->nil_a, ev->block_a);
    if (!verify (verify_ctx, ev->validator, digest, ev->sig_a))
        return WD_ERR_BAD_SIGNATURE;
    s_vote_digest (digest, chain, ev->kind, ev->height, ev->round, ev->nil_b, ev->block_b);
    if (!verify (verify_ctx, ev->validator, digest, ev->sig_b))
        return WD_ERR_BAD_SIGNATURE;
    return WD_OK;
}
