/*
 * Fuzz harness for cons_gossip: the message decoder and the state machine.
 *
 * 1. cons_gossip_msg_decode on the whole input: no crash, no read out of
 *    bounds, and whatever it accepts is canonical — encoding the decoded
 *    message again gives back the input bytes exactly.
 * 2. The input as a script played against one instance with four peers:
 *    frames of [peer: 1 byte][time step: 1 byte][length: 2 bytes BE][body],
 *    fed from peer (byte mod 6: 0-3 the peers, 4 a stranger, 5 a tick or
 *    peer-set change). Signatures are decided by a stub (a signature whose
 *    first byte is odd is bad) so that the fuzzer reaches the paths of valid
 *    records; senders whose first key byte is below 0x80 are known. Checked:
 *    every delivered record decodes as an envelope of the chain, with a good
 *    stub signature and a known sender, and is delivered once; every body
 *    sent decodes; nothing is sent to a stranger or to a banned peer.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_gossip.h"
#include "wd_hash.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_RECORD_MAX 4096
#define S_PEERS      4

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_nodes[S_PEERS + 2][32]; /* 0: self, 1..4: peers, 5: stranger */

static int
s_verify (void *ctx, const wd_envelope_t *env)
{
    (void)ctx;
    return env->sig[0] & 1 ? WD_ERR_BAD_SIGNATURE : WD_OK;
}

static int
s_accept (void *ctx, const wd_envelope_t *env, const uint8_t *record, size_t len)
{
    (void)ctx;
    (void)record;
    (void)len;
    if (env->from[0] == 0x7f)
        return CONS_ERR_GOSSIP_IGNORE;
    return env->from[0] < 0x80 ? WD_OK : CONS_ERR_GOSSIP_UNKNOWN_SENDER;
}

#define S_DELIVERED_MAX 256
static uint8_t s_delivered[S_DELIVERED_MAX][32];
static size_t s_delivered_n;
static uint64_t s_banned_until[S_PEERS + 2];

static void
s_drain (cons_gossip_t *g, uint64_t now)
{
    cons_gossip_output_t o;
    while (cons_gossip_output (g, &o)) {
        int who = -1;
        for (int i = 0; i < S_PEERS + 2; i++)
            if (memcmp (o.peer, s_nodes[i], 32) == 0)
                who = i;
        assert (who >= 1 && who <= S_PEERS); /* never self, never a stranger */
        if (o.kind == CONS_GOSSIP_OUT_SEND) {
            assert (now >= s_banned_until[who]);
            cons_gossip_msg_t msg;
            assert (cons_gossip_msg_decode (o.data, o.len, S_RECORD_MAX, &msg) == WD_OK);
        } else if (o.kind == CONS_GOSSIP_OUT_DELIVER) {
            wd_envelope_t env;
            assert (wd_envelope_decode (o.data, o.len, &env) == WD_OK);
            assert (memcmp (env.chain, s_chain, 32) == 0);
            assert (s_verify (NULL, &env) == WD_OK && s_accept (NULL, &env, NULL, 0) == WD_OK);
            uint8_t id[32];
            wd_envelope_id (id, o.data, o.len);
            assert (memcmp (id, o.id, 32) == 0);
            for (size_t i = 0; i < s_delivered_n; i++)
                assert (memcmp (s_delivered[i], id, 32) != 0);
            if (s_delivered_n < S_DELIVERED_MAX)
                memcpy (s_delivered[s_delivered_n++], id, 32);
        } else if (o.kind == CONS_GOSSIP_OUT_BAN) {
            s_banned_until[who] = o.until_ms;
        }
    }
}

static void
s_script (const uint8_t *data, size_t size)
{
    cons_gossip_config_t c;
    memset (&c, 0, sizeof c);
    memcpy (c.chain, s_chain, 32);
    memcpy (c.self, s_nodes[0], 32);
    c.seed = 1;
    c.accept = s_accept;
    c.verify = s_verify;
    c.record_max = S_RECORD_MAX;
    c.records_max = 1024;
    c.peers_max = 8;
    c.rate_per_s = 50;
    c.rate_burst = 20;
    cons_gossip_t *g;
    if (cons_gossip_new (&c, &g) != WD_OK)
        abort ();
    s_delivered_n = 0;
    memset (s_banned_until, 0, sizeof s_banned_until);
    if (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_nodes[0], S_PEERS + 1, 0) != WD_OK)
        abort ();
    uint64_t now = 0;
    /* The whole input as one body from peer 1 first. */
    (void)cons_gossip_input (g, s_nodes[1], data, size, now);
    s_drain (g, now);
    size_t at = 0;
    while (at + 4 <= size) {
        int who = data[at] % 6;
        now += (uint64_t)data[at + 1] * 50;
        size_t len = (size_t)data[at + 2] << 8 | data[at + 3];
        at += 4;
        if (len > size - at)
            len = size - at;
        if (who == 5) {
            if (len && data[at] & 1)
                (void)cons_gossip_set_peers (g, (const uint8_t (*)[32])s_nodes[1],
                                             (size_t)(data[at] >> 1) % (S_PEERS + 1), now);
            cons_gossip_tick (g, now);
        } else {
            /* 0-3: peers 1-4; 4: the stranger. */
            int rc = cons_gossip_input (g, s_nodes[who + 1], data + at, len, now);
            (void)rc;
        }
        s_drain (g, now);
        at += len;
    }
    now += 10000;
    cons_gossip_tick (g, now);
    s_drain (g, now);
    cons_gossip_destroy (&g);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        memset (s_chain, 0x5a, sizeof s_chain);
        for (int i = 0; i < S_PEERS + 2; i++)
            memset (s_nodes[i], 0x10 + i, 32);
        s_nodes[S_PEERS + 1][0] = 0xee;
        init = true;
    }
    cons_gossip_msg_t msg;
    if (cons_gossip_msg_decode (data, size, S_RECORD_MAX, &msg) == WD_OK) {
        size_t len;
        uint8_t *out = cons_gossip_msg_encode (&msg, &len);
        assert (len == size && memcmp (out, data, size) == 0);
        free (out);
    }
    s_script (data, size);
    return 0;
}
