/*
 * wd_genesis: the genesis map
 *   {created, name, nodes: [node-cert bytes], params: {name: uint},
 *    signers: [bin(32)], v: 1}
 * built in sorted order as entries are added, so encoding is a plain walk,
 * and checked entry by entry on the way back in.
 */
#include "wd_genesis.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wd_codec.h"
#include "wd_hash.h"

const wd_genesis_param_t wd_genesis_params[] = {
    { "agree_commit_ms", 100, 0, 60000, "wait after a decision before the next height", false },
    { "agree_filter_ms", 50, 0, 60000, "VRF proposer mode: window for collecting proposals",
      false },
    { "agree_idle_ms", 1000, 0, 600000,
      "wait for records before proposing an empty block (0: propose at once)", true },
    { "agree_precommit_delta_ms", 100, 0, 60000, "precommit timeout increase per round", false },
    { "agree_precommit_ms", 300, 1, 600000, "precommit timeout of round 0", false },
    { "agree_prevote_delta_ms", 100, 0, 60000, "prevote timeout increase per round", false },
    { "agree_prevote_ms", 300, 1, 600000, "prevote timeout of round 0", false },
    { "agree_propose_delta_ms", 200, 0, 60000, "propose timeout increase per round", false },
    { "agree_propose_ms", 500, 1, 600000, "propose timeout of round 0", false },
    { "agree_timeout_max_ms", 30000, 1, 3600000, "cap on every round timeout", false },
    { "block_max_bytes", 1048576, 4096, 16777216, "largest block", false },
    { "epoch_blocks", 100, 1, 1000000, "blocks per epoch (validator weights change per epoch)",
      false },
    { "proposer_vrf", 0, 0, 1, "0: weighted round-robin proposer; 1: VRF sortition", false },
    { "proposers", 5, 1, 64, "VRF proposer mode: expected proposers per round", true },
    { "seed_lookback", 2, 1, 1000, "blocks between a seed's block and its use", false },
    { "task_grace_ms", 300000, 1000, 86400000,
      "capsule task deadline beyond its wall-time limit, by block time", true },
    { "verifiers", 6, 1, 64, "expected size of an evidence record's verifier committee", false },
    { NULL, 0, 0, 0, NULL, false },
};

#define S_PARAM_COUNT (sizeof wd_genesis_params / sizeof wd_genesis_params[0] - 1)

typedef struct {
    wd_cert_t cert;
    uint8_t *bytes;
    size_t len;
} s_node_t;

struct wd_genesis {
    char name[WD_GENESIS_NAME_MAX + 1];
    uint64_t created;
    s_node_t nodes[WD_GENESIS_NODES_MAX];
    size_t node_count;
    uint8_t signers[WD_GENESIS_SIGNERS_MAX][WD_PUBKEY_LEN];
    size_t signer_count;
    uint64_t params[S_PARAM_COUNT];
};

wd_genesis_t *
wd_genesis_new (const char *name, uint64_t created)
{
    if (!wd_cert_name_valid (name) || created == 0)
        return NULL;
    wd_genesis_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    snprintf (self->name, sizeof self->name, "%s", name);
    self->created = created;
    for (size_t i = 0; i < S_PARAM_COUNT; i++)
        self->params[i] = wd_genesis_params[i].default_value;
    return self;
}

void
wd_genesis_destroy (wd_genesis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wd_genesis_t *self = *self_p;
    for (size_t i = 0; i < self->node_count; i++)
        free (self->nodes[i].bytes);
    free (self);
    *self_p = NULL;
}

static bool
s_shares_identity (const wd_cert_t *a, const wd_cert_t *b)
{
    return strcmp (a->name, b->name) == 0 || memcmp (a->sign_pk, b->sign_pk, WD_PUBKEY_LEN) == 0 ||
           memcmp (a->vrf_pk, b->vrf_pk, WD_PUBKEY_LEN) == 0 ||
           memcmp (a->curve_pk, b->curve_pk, WD_PUBKEY_LEN) == 0;
}

wd_err_t
wd_genesis_add_node (wd_genesis_t *self, const uint8_t *cert, size_t cert_len)
{
    s_node_t node = { .len = cert_len };
    wd_err_t err = wd_cert_open (cert, cert_len, &node.cert);
    if (err != WD_OK)
        return err;
    size_t at = 0;
    for (size_t i = 0; i < self->node_count; i++) {
        if (s_shares_identity (&self->nodes[i].cert, &node.cert))
            return WD_ERR_GENESIS_DUPLICATE;
        if (memcmp (self->nodes[i].cert.sign_pk, node.cert.sign_pk, WD_PUBKEY_LEN) < 0)
            at = i + 1;
    }
    if (self->node_count == WD_GENESIS_NODES_MAX)
        return WD_ERR_GENESIS_LIMIT;
    node.bytes = malloc (cert_len);
    if (!node.bytes)
        abort ();
    memcpy (node.bytes, cert, cert_len);
    memmove (&self->nodes[at + 1], &self->nodes[at], (self->node_count - at) * sizeof node);
    self->nodes[at] = node;
    self->node_count++;
    return WD_OK;
}

wd_err_t
wd_genesis_add_signer (wd_genesis_t *self, const uint8_t pk[WD_PUBKEY_LEN])
{
    size_t at = 0;
    for (size_t i = 0; i < self->signer_count; i++) {
        int cmp = memcmp (self->signers[i], pk, WD_PUBKEY_LEN);
        if (cmp == 0)
            return WD_ERR_GENESIS_DUPLICATE;
        if (cmp < 0)
            at = i + 1;
    }
    if (self->signer_count == WD_GENESIS_SIGNERS_MAX)
        return WD_ERR_GENESIS_LIMIT;
    memmove (self->signers[at + 1], self->signers[at], (self->signer_count - at) * WD_PUBKEY_LEN);
    memcpy (self->signers[at], pk, WD_PUBKEY_LEN);
    self->signer_count++;
    return WD_OK;
}

static int
s_param_index (const char *name)
{
    for (size_t i = 0; i < S_PARAM_COUNT; i++)
        if (strcmp (wd_genesis_params[i].name, name) == 0)
            return (int)i;
    return -1;
}

wd_err_t
wd_genesis_set_param (wd_genesis_t *self, const char *name, const char *value)
{
    int i = s_param_index (name);
    if (i < 0)
        return WD_ERR_GENESIS_PARAM;
    char *end;
    errno = 0;
    unsigned long long v = strtoull (value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end || errno || v < wd_genesis_params[i].min ||
        v > wd_genesis_params[i].max)
        return WD_ERR_OUT_OF_RANGE;
    self->params[i] = v;
    return WD_OK;
}

/* An optional parameter at its default is left out of the encoding. */
static bool
s_param_omitted (const wd_genesis_t *self, size_t i)
{
    return wd_genesis_params[i].optional && self->params[i] == wd_genesis_params[i].default_value;
}

wd_err_t
wd_genesis_encode (const wd_genesis_t *self, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (self->node_count == 0)
        return WD_ERR_GENESIS_EMPTY;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 6);
    wd_writer_key (w, "created");
    wd_writer_uint (w, self->created);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, self->name);
    wd_writer_key (w, "nodes");
    wd_writer_array (w, self->node_count);
    for (size_t i = 0; i < self->node_count; i++)
        wd_writer_bin (w, self->nodes[i].bytes, self->nodes[i].len);
    size_t params = 0;
    for (size_t i = 0; i < S_PARAM_COUNT; i++)
        params += !s_param_omitted (self, i);
    wd_writer_key (w, "params");
    wd_writer_map (w, params);
    for (size_t i = 0; i < S_PARAM_COUNT; i++) {
        if (s_param_omitted (self, i))
            continue;
        wd_writer_key (w, wd_genesis_params[i].name);
        wd_writer_uint (w, self->params[i]);
    }
    wd_writer_key (w, "signers");
    wd_writer_array (w, self->signer_count);
    for (size_t i = 0; i < self->signer_count; i++)
        wd_writer_bin (w, self->signers[i], WD_PUBKEY_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return WD_OK;
}

/* Reads the node list: each certificate must verify and come strictly
   after the previous one, so a genesis has one encoding. */
static wd_err_t
s_read_nodes (wd_reader_t *r, wd_genesis_t *g)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return WD_OK; /* the reader holds the error */
    if (count == 0)
        return WD_ERR_GENESIS_EMPTY;
    if (count > WD_GENESIS_NODES_MAX)
        return WD_ERR_GENESIS_LIMIT;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *cert;
        size_t cert_len;
        if (!wd_read_bin (r, &cert, &cert_len, WD_CERT_MAX_BYTES))
            return WD_OK;
        size_t before = g->node_count;
        wd_err_t err = wd_genesis_add_node (g, cert, cert_len);
        if (err != WD_OK)
            return err;
        const s_node_t *last = &g->nodes[before];
        if (last->len != cert_len || memcmp (last->bytes, cert, cert_len) != 0)
            return WD_ERR_GENESIS_ORDER; /* it was inserted before an earlier one */
    }
    wd_read_end (r);
    return WD_OK;
}

static wd_err_t
s_read_signers (wd_reader_t *r, wd_genesis_t *g)
{
    size_t count;
    if (!wd_read_array (r, &count))
        return WD_OK;
    if (count > WD_GENESIS_SIGNERS_MAX)
        return WD_ERR_GENESIS_LIMIT;
    for (size_t i = 0; i < count; i++) {
        uint8_t pk[WD_PUBKEY_LEN];
        if (!wd_read_bin_fixed (r, pk, WD_PUBKEY_LEN))
            return WD_OK;
        wd_err_t err = wd_genesis_add_signer (g, pk);
        if (err != WD_OK)
            return err;
        if (memcmp (g->signers[i], pk, WD_PUBKEY_LEN) != 0)
            return WD_ERR_GENESIS_ORDER;
    }
    wd_read_end (r);
    return WD_OK;
}

static wd_err_t
s_read_params (wd_reader_t *r, wd_genesis_t *g)
{
    size_t count;
    if (!wd_read_map (r, &count))
        return WD_OK;
    for (size_t i = 0; i < S_PARAM_COUNT; i++) {
        const wd_genesis_param_t *p = &wd_genesis_params[i];
        g->params[i] = p->default_value;
        if (p->optional && !wd_read_key_opt (r, p->name))
            continue; /* absent (or an error the reader holds) */
        if (!p->optional && !wd_read_key (r, p->name))
            return WD_OK;
        if (!wd_read_uint (r, &g->params[i], UINT64_MAX))
            return WD_OK;
        if (g->params[i] < p->min || g->params[i] > p->max)
            return WD_ERR_OUT_OF_RANGE;
        if (p->optional && g->params[i] == p->default_value)
            return WD_ERR_BAD_VALUE; /* not canonical: it is left out at its default */
    }
    wd_read_end (r);
    return WD_OK;
}

wd_err_t
wd_genesis_decode (const uint8_t *buf, size_t len, wd_genesis_t **out)
{
    *out = NULL;
    if (len > WD_GENESIS_MAX_BYTES)
        return WD_ERR_OVERSIZE;
    wd_err_t err = wd_codec_check (buf, len, WD_GENESIS_MAX_BYTES, NULL);
    if (err != WD_OK)
        return err;
    wd_genesis_t *g = calloc (1, sizeof *g);
    if (!g)
        abort ();
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "created");
    wd_read_uint (&r, &g->created, UINT64_MAX);
    wd_read_key (&r, "name");
    wd_read_cstr (&r, g->name, sizeof g->name);
    wd_read_key (&r, "nodes");
    err = s_read_nodes (&r, g);
    if (err == WD_OK) {
        wd_read_key (&r, "params");
        err = s_read_params (&r, g);
    }
    if (err == WD_OK) {
        wd_read_key (&r, "signers");
        err = s_read_signers (&r, g);
    }
    if (err == WD_OK) {
        wd_read_key (&r, "v");
        wd_read_uint (&r, &version, UINT64_MAX);
        wd_read_end (&r);
        err = wd_reader_finish (&r);
    }
    if (err == WD_OK && version != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && (!wd_cert_name_valid (g->name) || g->created == 0))
        err = WD_ERR_BAD_VALUE;
    if (err != WD_OK) {
        wd_genesis_destroy (&g);
        return err;
    }
    *out = g;
    return WD_OK;
}

wd_err_t
wd_genesis_load (const char *path, wd_genesis_t **out)
{
    *out = NULL;
    FILE *f = fopen (path, "rb");
    if (!f)
        return errno == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO;
    struct stat st;
    if (fstat (fileno (f), &st) != 0 || !S_ISREG (st.st_mode)) {
        fclose (f);
        return WD_ERR_NOT_REGULAR;
    }
    if (st.st_size > WD_GENESIS_MAX_BYTES) {
        fclose (f);
        return WD_ERR_OVERSIZE;
    }
    uint8_t *buf = malloc ((size_t)st.st_size + 1);
    if (!buf)
        abort ();
    size_t len = fread (buf, 1, (size_t)st.st_size + 1, f);
    bool failed = ferror (f) || len != (size_t)st.st_size;
    fclose (f);
    wd_err_t err = failed ? WD_ERR_IO : wd_genesis_decode (buf, len, out);
    free (buf);
    return err;
}

void
wd_genesis_chain_id (const wd_genesis_t *self, uint8_t id[WD_CHAIN_ID_LEN])
{
    uint8_t *bytes;
    size_t len;
    wd_err_t err = wd_genesis_encode (self, &bytes, &len);
    assert (err == WD_OK); /* a genesis without nodes has no chain */
    (void)err;
    wd_hash_sha256 (id, bytes, len);
    free (bytes);
}

const char *
wd_genesis_name (const wd_genesis_t *self)
{
    return self->name;
}

uint64_t
wd_genesis_created (const wd_genesis_t *self)
{
    return self->created;
}

size_t
wd_genesis_node_count (const wd_genesis_t *self)
{
    return self->node_count;
}

const wd_cert_t *
wd_genesis_node (const wd_genesis_t *self, size_t index)
{
    assert (index < self->node_count);
    return &self->nodes[index].cert;
}

const uint8_t *
wd_genesis_node_cert (const wd_genesis_t *self, size_t index, size_t *len)
{
    assert (index < self->node_count);
    *len = self->nodes[index].len;
    return self->nodes[index].bytes;
}

const wd_cert_t *
wd_genesis_find_node (const wd_genesis_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < self->node_count; i++)
        if (memcmp (self->nodes[i].cert.sign_pk, id, WD_PUBKEY_LEN) == 0)
            return &self->nodes[i].cert;
    return NULL;
}

size_t
wd_genesis_signer_count (const wd_genesis_t *self)
{
    return self->signer_count;
}

const uint8_t *
wd_genesis_signer (const wd_genesis_t *self, size_t index)
{
    assert (index < self->signer_count);
    return self->signers[index];
}

uint64_t
wd_genesis_param (const wd_genesis_t *self, const char *name)
{
    int i = s_param_index (name);
    assert (i >= 0);
    return self->params[i];
}
