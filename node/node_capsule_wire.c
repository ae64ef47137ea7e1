/*
 * node_capsule_wire: encoders and strict decoders of node_capsule's bodies
 * (see node_capsule_wire.h and docs/PROTOCOL.md "Capsules on the mesh").
 */
#include "node_capsule_wire.h"

#include <stdlib.h>
#include <string.h>

#include "capsule_err.h"
#include "cons_err.h"
#include "wd_chan.h"
#include "wd_codec.h"

#define VERSION 1

static uint8_t *
s_take (wd_writer_t *w, size_t *len)
{
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
s_read_version (wd_reader_t *r)
{
    uint64_t v = 0;
    wd_read_key (r, "v");
    if (wd_read_uint (r, &v, UINT64_MAX) && v != VERSION && r->err == WD_OK)
        r->err = WD_ERR_BAD_VERSION;
}

/* A string copied into buf with no control character. */
static bool
s_read_text (wd_reader_t *r, char *buf, size_t size)
{
    if (!wd_read_cstr (r, buf, size))
        return false;
    for (const char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            if (r->err == WD_OK)
                r->err = WD_ERR_BAD_VALUE;
            return false;
        }
    return true;
}

static wd_err_t
s_finish (wd_reader_t *r)
{
    return wd_reader_finish (r);
}

/* ---- ledger records ------------------------------------------------------ */

uint8_t *
node_capsule_encode_post (const node_capsule_post_t *post, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "policies");
    wd_writer_array (w, post->policy_count);
    for (size_t i = 0; i < post->policy_count; i++)
        wd_writer_bin (w, post->policies[i], post->policy_lens[i]);
    wd_writer_key (w, "task");
    wd_writer_bin (w, post->task, post->task_len);
    wd_writer_key (w, "v");
    wd_writer_uint (w, VERSION);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_post (const uint8_t *body, size_t len, node_capsule_post_t *post)
{
    memset (post, 0, sizeof *post);
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_TASK_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "policies");
    if (wd_read_array (&r, &n)) {
        if (n < 2 || n > NODE_CAPSULE_POLICIES_MAX)
            r.err = WD_ERR_OUT_OF_RANGE;
        for (size_t i = 0; i < n && r.err == WD_OK; i++)
            wd_read_bin (&r, &post->policies[i], &post->policy_lens[i], NODE_CAPSULE_POLICY_MAX);
        post->policy_count = n;
        wd_read_end (&r);
    }
    wd_read_key (&r, "task");
    wd_read_bin (&r, &post->task, &post->task_len, NODE_CAPSULE_TASK_MAX);
    s_read_version (&r);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK)
        memset (post, 0, sizeof *post);
    return err;
}

uint8_t *
node_capsule_encode_claim (const node_capsule_claim_t *claim, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "claim");
    cons_sortition_claim_write (&claim->claim, w);
    wd_writer_key (w, "height");
    wd_writer_uint (w, claim->height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, claim->round);
    wd_writer_key (w, "task");
    wd_writer_bin (w, claim->task, WD_DIGEST_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, VERSION);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_claim (const uint8_t *body, size_t len, node_capsule_claim_t *claim)
{
    memset (claim, 0, sizeof *claim);
    wd_err_t err = wd_codec_check (body, len, 256, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    uint64_t round = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "claim");
    cons_sortition_claim_read (&r, &claim->claim);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &claim->height, UINT64_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, 1000);
    claim->round = (uint32_t)round;
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, claim->task, WD_DIGEST_LEN);
    s_read_version (&r);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK)
        memset (claim, 0, sizeof *claim);
    return err;
}

uint8_t *
node_capsule_encode_failed (const node_capsule_failed_t *failed, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "code");
    wd_writer_int (w, failed->code);
    wd_writer_key (w, "reason");
    wd_writer_cstr (w, failed->reason);
    wd_writer_key (w, "refusals");
    wd_writer_array (w, failed->refusal_count);
    for (size_t i = 0; i < failed->refusal_count; i++)
        wd_writer_bin (w, failed->refusals[i], failed->refusal_lens[i]);
    wd_writer_key (w, "task");
    wd_writer_bin (w, failed->task, WD_DIGEST_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, VERSION);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_failed (const uint8_t *body, size_t len, node_capsule_failed_t *failed)
{
    memset (failed, 0, sizeof *failed);
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_ANSWER_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    int64_t code = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "code");
    wd_read_int (&r, &code, INT32_MIN, -1);
    failed->code = (int32_t)code;
    wd_read_key (&r, "reason");
    s_read_text (&r, failed->reason, sizeof failed->reason);
    wd_read_key (&r, "refusals");
    if (wd_read_array (&r, &n)) {
        if (n > NODE_CAPSULE_REFUSALS_MAX)
            r.err = WD_ERR_OUT_OF_RANGE;
        for (size_t i = 0; i < n && r.err == WD_OK; i++)
            wd_read_bin (&r, &failed->refusals[i], &failed->refusal_lens[i],
                         NODE_CAPSULE_ANSWER_MAX);
        failed->refusal_count = n;
        wd_read_end (&r);
    }
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, failed->task, WD_DIGEST_LEN);
    s_read_version (&r);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK)
        memset (failed, 0, sizeof *failed);
    return err;
}

/* ---- channel 5 ----------------------------------------------------------- */

uint8_t *
node_capsule_encode_msg (const node_capsule_msg_t *m, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_raw (w, &m->type, 1);
    switch (m->type) {
        case NODE_CAPSULE_MSG_HEAD_REQ:
            wd_writer_map (w, 2);
            wd_writer_key (w, "id");
            wd_writer_bin (w, m->id, CAPSULE_ID_LEN);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            break;
        case NODE_CAPSULE_MSG_HEAD:
            wd_writer_map (w, 6);
            wd_writer_key (w, "id");
            wd_writer_bin (w, m->id, CAPSULE_ID_LEN);
            wd_writer_key (w, "kind");
            wd_writer_cstr (w, m->kind);
            wd_writer_key (w, "owner");
            wd_writer_bin (w, m->owner, WD_PUBKEY_LEN);
            wd_writer_key (w, "policy");
            wd_writer_bin (w, m->data, m->data_len);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            wd_writer_key (w, "size");
            wd_writer_uint (w, m->size);
            break;
        case NODE_CAPSULE_MSG_FETCH_REQ:
            wd_writer_map (w, 3);
            wd_writer_key (w, "id");
            wd_writer_bin (w, m->id, CAPSULE_ID_LEN);
            wd_writer_key (w, "offset");
            wd_writer_uint (w, m->offset);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            break;
        case NODE_CAPSULE_MSG_CHUNK:
            wd_writer_map (w, 5);
            wd_writer_key (w, "data");
            wd_writer_bin (w, m->data, m->data_len);
            wd_writer_key (w, "id");
            wd_writer_bin (w, m->id, CAPSULE_ID_LEN);
            wd_writer_key (w, "offset");
            wd_writer_uint (w, m->offset);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            wd_writer_key (w, "total");
            wd_writer_uint (w, m->total);
            break;
        case NODE_CAPSULE_MSG_RELEASE_REQ:
        case NODE_CAPSULE_MSG_RELEASE:
            wd_writer_map (w, 2);
            wd_writer_key (w, m->type == NODE_CAPSULE_MSG_RELEASE ? "answer" : "request");
            wd_writer_bin (w, m->data, m->data_len);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            break;
        default:
            wd_writer_map (w, 3);
            wd_writer_key (w, "code");
            wd_writer_int (w, m->code);
            wd_writer_key (w, "reason");
            wd_writer_cstr (w, m->reason);
            wd_writer_key (w, "rid");
            wd_writer_uint (w, m->rid);
            break;
    }
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_msg (const uint8_t *body, size_t len, node_capsule_msg_t *m)
{
    memset (m, 0, sizeof *m);
    if (len < 1)
        return WD_ERR_TRUNCATED;
    uint8_t type = body[0];
    if (type < NODE_CAPSULE_MSG_HEAD_REQ || type > NODE_CAPSULE_MSG_ERROR)
        return WD_ERR_BAD_VALUE;
    body++;
    len--;
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_CHUNK, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    int64_t code = 0;
    m->type = type;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    switch (type) {
        case NODE_CAPSULE_MSG_HEAD_REQ:
            wd_read_key (&r, "id");
            wd_read_bin_fixed (&r, m->id, CAPSULE_ID_LEN);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            break;
        case NODE_CAPSULE_MSG_HEAD:
            wd_read_key (&r, "id");
            wd_read_bin_fixed (&r, m->id, CAPSULE_ID_LEN);
            wd_read_key (&r, "kind");
            s_read_text (&r, m->kind, sizeof m->kind);
            wd_read_key (&r, "owner");
            wd_read_bin_fixed (&r, m->owner, WD_PUBKEY_LEN);
            wd_read_key (&r, "policy");
            wd_read_bin (&r, &m->data, &m->data_len, NODE_CAPSULE_POLICY_MAX);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            wd_read_key (&r, "size");
            wd_read_uint (&r, &m->size, UINT64_MAX);
            break;
        case NODE_CAPSULE_MSG_FETCH_REQ:
            wd_read_key (&r, "id");
            wd_read_bin_fixed (&r, m->id, CAPSULE_ID_LEN);
            wd_read_key (&r, "offset");
            wd_read_uint (&r, &m->offset, UINT64_MAX);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            break;
        case NODE_CAPSULE_MSG_CHUNK:
            wd_read_key (&r, "data");
            wd_read_bin (&r, &m->data, &m->data_len, NODE_CAPSULE_CHUNK);
            wd_read_key (&r, "id");
            wd_read_bin_fixed (&r, m->id, CAPSULE_ID_LEN);
            wd_read_key (&r, "offset");
            wd_read_uint (&r, &m->offset, UINT64_MAX);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            wd_read_key (&r, "total");
            wd_read_uint (&r, &m->total, UINT64_MAX);
            break;
        case NODE_CAPSULE_MSG_RELEASE_REQ:
        case NODE_CAPSULE_MSG_RELEASE:
            wd_read_key (&r, type == NODE_CAPSULE_MSG_RELEASE ? "answer" : "request");
            wd_read_bin (&r, &m->data, &m->data_len,
                         type == NODE_CAPSULE_MSG_RELEASE ? NODE_CAPSULE_ANSWER_MAX
                                                          : NODE_CAPSULE_REQUEST_MAX);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            break;
        default:
            wd_read_key (&r, "code");
            wd_read_int (&r, &code, INT32_MIN, -1);
            m->code = (int32_t)code;
            wd_read_key (&r, "reason");
            s_read_text (&r, m->reason, sizeof m->reason);
            wd_read_key (&r, "rid");
            wd_read_uint (&r, &m->rid, UINT64_MAX);
            break;
    }
    wd_read_end (&r);
    err = s_finish (&r);
    if (err == WD_OK && m->type == NODE_CAPSULE_MSG_CHUNK &&
        (m->offset > m->total || m->data_len > m->total - m->offset))
        err = WD_ERR_OUT_OF_RANGE;
    if (err != WD_OK)
        memset (m, 0, sizeof *m);
    return err;
}

/* ---- control socket ------------------------------------------------------ */

static void
s_write_node (wd_writer_t *w, const node_capsule_node_t *node)
{
    wd_writer_map (w, 3);
    wd_writer_key (w, "curve");
    wd_writer_bin (w, node->curve, WD_PUBKEY_LEN);
    wd_writer_key (w, "id");
    wd_writer_bin (w, node->id, WD_PUBKEY_LEN);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, node->name);
}

static void
s_read_node (wd_reader_t *r, node_capsule_node_t *node)
{
    size_t n;
    wd_read_map (r, &n);
    wd_read_key (r, "curve");
    wd_read_bin_fixed (r, node->curve, WD_PUBKEY_LEN);
    wd_read_key (r, "id");
    wd_read_bin_fixed (r, node->id, WD_PUBKEY_LEN);
    wd_read_key (r, "name");
    s_read_text (r, node->name, sizeof node->name);
    wd_read_end (r);
}

uint8_t *
node_capsule_encode_info (const node_capsule_info_t *info, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, info->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "curve");
    wd_writer_bin (w, info->self.curve, WD_PUBKEY_LEN);
    wd_writer_key (w, "id");
    wd_writer_bin (w, info->self.id, WD_PUBKEY_LEN);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, info->self.name);
    wd_writer_key (w, "nodes");
    wd_writer_array (w, info->node_count);
    for (size_t i = 0; i < info->node_count; i++)
        s_write_node (w, &info->nodes[i]);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_info (const uint8_t *body, size_t len, node_capsule_info_t *info)
{
    memset (info, 0, sizeof *info);
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_NODES_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, info->chain, WD_CHAIN_ID_LEN);
    wd_read_key (&r, "curve");
    wd_read_bin_fixed (&r, info->self.curve, WD_PUBKEY_LEN);
    wd_read_key (&r, "id");
    wd_read_bin_fixed (&r, info->self.id, WD_PUBKEY_LEN);
    wd_read_key (&r, "name");
    s_read_text (&r, info->self.name, sizeof info->self.name);
    wd_read_key (&r, "nodes");
    if (wd_read_array (&r, &n)) {
        info->nodes = calloc (n ? n : 1, sizeof *info->nodes);
        if (!info->nodes)
            r.err = WD_ERR_NOMEM;
        for (size_t i = 0; i < n && r.err == WD_OK; i++)
            s_read_node (&r, &info->nodes[i]);
        info->node_count = n;
        wd_read_end (&r);
    }
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK) {
        free (info->nodes);
        memset (info, 0, sizeof *info);
    }
    return err;
}

uint8_t *
node_capsule_encode_stored (const uint8_t id[CAPSULE_ID_LEN], const char *kind, uint64_t size,
                            size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, CAPSULE_ID_LEN);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, kind);
    wd_writer_key (w, "size");
    wd_writer_uint (w, size);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_stored (const uint8_t *body, size_t len, uint8_t id[CAPSULE_ID_LEN],
                            char kind[8], uint64_t *size)
{
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "id");
    wd_read_bin_fixed (&r, id, CAPSULE_ID_LEN);
    wd_read_key (&r, "kind");
    s_read_text (&r, kind, 8);
    wd_read_key (&r, "size");
    wd_read_uint (&r, size, UINT64_MAX);
    wd_read_end (&r);
    return s_finish (&r);
}

uint8_t *
node_capsule_encode_submit (const uint8_t *task, size_t task_len, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "task");
    wd_writer_bin (w, task, task_len);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_submit (const uint8_t *body, size_t len, const uint8_t **task, size_t *task_len)
{
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_TASK_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "task");
    wd_read_bin (&r, task, task_len, NODE_CAPSULE_TASK_MAX);
    wd_read_end (&r);
    return s_finish (&r);
}

uint8_t *
node_capsule_encode_id (const uint8_t id[WD_DIGEST_LEN], size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "task");
    wd_writer_bin (w, id, WD_DIGEST_LEN);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_id (const uint8_t *body, size_t len, uint8_t id[WD_DIGEST_LEN])
{
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, id, WD_DIGEST_LEN);
    wd_read_end (&r);
    return s_finish (&r);
}

uint8_t *
node_capsule_encode_get (const uint8_t id[CAPSULE_ID_LEN], const uint8_t *holder, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, holder ? 2 : 1);
    if (holder) {
        wd_writer_key (w, "holder");
        wd_writer_bin (w, holder, WD_PUBKEY_LEN);
    }
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, CAPSULE_ID_LEN);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_get (const uint8_t *body, size_t len, uint8_t id[CAPSULE_ID_LEN],
                         bool *has_holder, uint8_t holder[WD_PUBKEY_LEN])
{
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    *has_holder = wd_read_key_opt (&r, "holder");
    if (*has_holder)
        wd_read_bin_fixed (&r, holder, WD_PUBKEY_LEN);
    wd_read_key (&r, "id");
    wd_read_bin_fixed (&r, id, CAPSULE_ID_LEN);
    wd_read_end (&r);
    return s_finish (&r);
}

uint8_t *
node_capsule_encode_status (const node_capsule_status_t *st, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8);
    wd_writer_key (w, "code");
    wd_writer_int (w, st->code);
    wd_writer_key (w, "executor");
    wd_writer_bin (w, st->executor, WD_PUBKEY_LEN);
    wd_writer_key (w, "height");
    wd_writer_uint (w, st->height);
    wd_writer_key (w, "reason");
    wd_writer_cstr (w, st->reason);
    wd_writer_key (w, "receipt");
    wd_writer_bin (w, st->receipt, st->receipt_len);
    wd_writer_key (w, "refusals");
    wd_writer_array (w, st->refusal_count);
    for (size_t i = 0; i < st->refusal_count; i++) {
        const node_capsule_refusal_t *f = &st->refusals[i];
        wd_writer_map (w, 4);
        wd_writer_key (w, "capsule");
        wd_writer_bin (w, f->capsule, CAPSULE_ID_LEN);
        wd_writer_key (w, "code");
        wd_writer_int (w, f->code);
        wd_writer_key (w, "holder");
        wd_writer_bin (w, f->holder, WD_PUBKEY_LEN);
        wd_writer_key (w, "reason");
        wd_writer_cstr (w, f->reason);
    }
    wd_writer_key (w, "round");
    wd_writer_uint (w, st->round);
    wd_writer_key (w, "state");
    wd_writer_cstr (w, st->state);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_status (const uint8_t *body, size_t len, node_capsule_status_t *st)
{
    memset (st, 0, sizeof *st);
    wd_err_t err = wd_codec_check (body, len, WD_CHAN_MAX_BODY, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    int64_t code = 0;
    uint64_t round = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "code");
    wd_read_int (&r, &code, INT32_MIN, 0);
    st->code = (int32_t)code;
    wd_read_key (&r, "executor");
    wd_read_bin_fixed (&r, st->executor, WD_PUBKEY_LEN);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &st->height, UINT64_MAX);
    wd_read_key (&r, "reason");
    s_read_text (&r, st->reason, sizeof st->reason);
    wd_read_key (&r, "receipt");
    wd_read_bin (&r, &st->receipt, &st->receipt_len, NODE_CAPSULE_TASK_MAX);
    wd_read_key (&r, "refusals");
    if (wd_read_array (&r, &n)) {
        if (n > NODE_CAPSULE_REFUSALS_MAX)
            r.err = WD_ERR_OUT_OF_RANGE;
        for (size_t i = 0; i < n && r.err == WD_OK; i++) {
            node_capsule_refusal_t *f = &st->refusals[i];
            size_t m;
            wd_read_map (&r, &m);
            wd_read_key (&r, "capsule");
            wd_read_bin_fixed (&r, f->capsule, CAPSULE_ID_LEN);
            wd_read_key (&r, "code");
            wd_read_int (&r, &code, INT32_MIN, -1);
            f->code = (int32_t)code;
            wd_read_key (&r, "holder");
            wd_read_bin_fixed (&r, f->holder, WD_PUBKEY_LEN);
            wd_read_key (&r, "reason");
            s_read_text (&r, f->reason, sizeof f->reason);
            wd_read_end (&r);
        }
        st->refusal_count = n;
        wd_read_end (&r);
    }
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, 1000);
    st->round = (uint32_t)round;
    wd_read_key (&r, "state");
    s_read_text (&r, st->state, sizeof st->state);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK)
        memset (st, 0, sizeof *st);
    return err;
}

/* ---- parent <-> engine --------------------------------------------------- */

uint8_t *
node_capsule_encode_run (const node_capsule_run_t *run, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8);
    wd_writer_key (w, "argv");
    wd_writer_array (w, run->argc);
    for (size_t i = 0; i < run->argc; i++)
        wd_writer_str (w, run->argv[i], run->arg_lens[i]);
    wd_writer_key (w, "cpu_ms");
    wd_writer_uint (w, run->limits.cpu_ms);
    wd_writer_key (w, "mem_bytes");
    wd_writer_uint (w, run->limits.mem_bytes);
    wd_writer_key (w, "output_bytes");
    wd_writer_uint (w, run->limits.output_bytes);
    wd_writer_key (w, "pids");
    wd_writer_uint (w, run->limits.pids);
    wd_writer_key (w, "v");
    wd_writer_uint (w, VERSION);
    wd_writer_key (w, "wall_ms");
    wd_writer_uint (w, run->limits.wall_ms);
    wd_writer_key (w, "work");
    wd_writer_cstr (w, run->work);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_run (const uint8_t *body, size_t len, node_capsule_run_t *run)
{
    memset (run, 0, sizeof *run);
    wd_err_t err = wd_codec_check (body, len, sizeof run->work, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "argv");
    if (wd_read_array (&r, &n)) {
        if (n < 1 || n > NODE_CAPSULE_ARGV_MAX)
            r.err = WD_ERR_OUT_OF_RANGE;
        for (size_t i = 0; i < n && r.err == WD_OK; i++)
            wd_read_str (&r, &run->argv[i], &run->arg_lens[i], NODE_CAPSULE_ARG_MAX);
        run->argc = n;
        wd_read_end (&r);
    }
    wd_read_key (&r, "cpu_ms");
    wd_read_uint (&r, &run->limits.cpu_ms, CAPSULE_TASK_CPU_MS_MAX);
    wd_read_key (&r, "mem_bytes");
    wd_read_uint (&r, &run->limits.mem_bytes, CAPSULE_TASK_MEM_BYTES_MAX);
    wd_read_key (&r, "output_bytes");
    wd_read_uint (&r, &run->limits.output_bytes, CAPSULE_TASK_OUTPUT_BYTES_MAX);
    wd_read_key (&r, "pids");
    wd_read_uint (&r, &run->limits.pids, CAPSULE_TASK_PIDS_MAX);
    s_read_version (&r);
    wd_read_key (&r, "wall_ms");
    wd_read_uint (&r, &run->limits.wall_ms, CAPSULE_TASK_WALL_MS_MAX);
    wd_read_key (&r, "work");
    s_read_text (&r, run->work, sizeof run->work);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err == WD_OK && capsule_task_limits_check (&run->limits, NULL, 0) != 0)
        err = WD_ERR_OUT_OF_RANGE;
    if (err != WD_OK)
        memset (run, 0, sizeof *run);
    return err;
}

uint8_t *
node_capsule_encode_done (const node_capsule_done_t *d, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 13);
    wd_writer_key (w, "cpu_sys_us");
    wd_writer_uint (w, d->cpu_sys_us);
    wd_writer_key (w, "cpu_user_us");
    wd_writer_uint (w, d->cpu_user_us);
    wd_writer_key (w, "degraded");
    wd_writer_array (w, d->degraded_count);
    for (size_t i = 0; i < d->degraded_count; i++)
        wd_writer_cstr (w, d->degraded[i]);
    wd_writer_key (w, "error");
    wd_writer_int (w, d->error);
    wd_writer_key (w, "exit");
    wd_writer_int (w, d->exit_code);
    wd_writer_key (w, "killed");
    wd_writer_cstr (w, d->killed);
    wd_writer_key (w, "outputs");
    wd_writer_uint (w, d->outputs);
    wd_writer_key (w, "peak_mem_bytes");
    wd_writer_uint (w, d->peak_mem_bytes);
    wd_writer_key (w, "reason");
    wd_writer_cstr (w, d->reason);
    wd_writer_key (w, "signal");
    wd_writer_int (w, d->signal);
    wd_writer_key (w, "stderr");
    wd_writer_bin (w, d->err_text, d->err_len);
    wd_writer_key (w, "v");
    wd_writer_uint (w, VERSION);
    wd_writer_key (w, "wall_us");
    wd_writer_uint (w, d->wall_us);
    return s_take (w, len);
}

wd_err_t
node_capsule_decode_done (const uint8_t *body, size_t len, node_capsule_done_t *d)
{
    memset (d, 0, sizeof *d);
    wd_err_t err = wd_codec_check (body, len, NODE_CAPSULE_STDERR_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    int64_t v = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "cpu_sys_us");
    wd_read_uint (&r, &d->cpu_sys_us, UINT64_MAX);
    wd_read_key (&r, "cpu_user_us");
    wd_read_uint (&r, &d->cpu_user_us, UINT64_MAX);
    wd_read_key (&r, "degraded");
    if (wd_read_array (&r, &n)) {
        if (n > NODE_CAPSULE_DEGRADED_MAX)
            r.err = WD_ERR_OUT_OF_RANGE;
        for (size_t i = 0; i < n && r.err == WD_OK; i++)
            s_read_text (&r, d->degraded[i], sizeof d->degraded[i]);
        d->degraded_count = n;
        wd_read_end (&r);
    }
    wd_read_key (&r, "error");
    wd_read_int (&r, &v, INT32_MIN, 0);
    d->error = (int32_t)v;
    wd_read_key (&r, "exit");
    wd_read_int (&r, &v, -1, 255);
    d->exit_code = (int32_t)v;
    wd_read_key (&r, "killed");
    s_read_text (&r, d->killed, sizeof d->killed);
    wd_read_key (&r, "outputs");
    wd_read_uint (&r, &d->outputs, 1024);
    wd_read_key (&r, "peak_mem_bytes");
    wd_read_uint (&r, &d->peak_mem_bytes, UINT64_MAX);
    wd_read_key (&r, "reason");
    s_read_text (&r, d->reason, sizeof d->reason);
    wd_read_key (&r, "signal");
    wd_read_int (&r, &v, 0, 127);
    d->signal = (int32_t)v;
    wd_read_key (&r, "stderr");
    wd_read_bin (&r, &d->err_text, &d->err_len, NODE_CAPSULE_STDERR_MAX);
    s_read_version (&r);
    wd_read_key (&r, "wall_us");
    wd_read_uint (&r, &d->wall_us, UINT64_MAX);
    wd_read_end (&r);
    err = s_finish (&r);
    if (err != WD_OK)
        memset (d, 0, sizeof *d);
    return err;
}

const char *
node_capsule_strerror (int code)
{
    if (code > CONS_ERR_FIRST_ && code < CONS_ERR_LAST_)
        return cons_strerror (code);
    return capsule_strerror (code); /* capsule codes, else wd_strerror */
}
