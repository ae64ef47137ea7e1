/*
 * node_pxe_link: the engine side of the pxe channel (see node_pxe_link.h).
 * A malformed message from the pxe child is fatal for the engine, as for
 * the keys channel (DESIGN.md §4: wardend's processes trust each other's
 * framing, not each other's input, and a broken sibling is a bug).
 */
#include "node_pxe_link.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node_measure.h"
#include "node_pxe.h"
#include "wd_chan.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_log.h"
#include "wd_msg.h"

struct node_pxe_link {
    zloop_t *loop;
    attest_log_t *log;
    const wd_config_t *cfg;
    node_pxe_token_fn *token_fn;
    void *token_arg;
    wd_chan_t *chan;
    zmq_pollitem_t item;
    uint8_t *status; /* last PXE_STATUS body, or NULL */
    size_t status_len;
    struct {
        uint8_t *body;
        size_t len;
    } served[NODE_PXE_SERVED_KEEP];
    size_t served_next; /* ring position of the next record */
};

node_pxe_link_t *
node_pxe_link_new (zloop_t *loop, attest_log_t *log, const wd_config_t *cfg,
                   node_pxe_token_fn *token_fn, void *token_arg)
{
    node_pxe_link_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->log = log;
    self->cfg = cfg;
    self->token_fn = token_fn;
    self->token_arg = token_arg;
    return self;
}

static void
s_drop (node_pxe_link_t *self, const char *why)
{
    if (!self->chan)
        return;
    zloop_poller_end (self->loop, &self->item);
    wd_chan_destroy (&self->chan);
    free (self->status); /* a status from a child that is gone */
    self->status = NULL;
    wd_log_info ("pxe channel closed (%s)", why);
}

void
node_pxe_link_destroy (node_pxe_link_t **self_p)
{
    if (*self_p) {
        node_pxe_link_t *self = *self_p;
        s_drop (self, "stopping");
        for (size_t i = 0; i < NODE_PXE_SERVED_KEEP; i++)
            free (self->served[i].body);
        free (self);
        *self_p = NULL;
    }
}

static void
s_on_served (node_pxe_link_t *self, wd_chan_msg_t *msg)
{
    pxe_served_record_t rec;
    bool complete;
    wd_err_t err = node_pxe_decode_served (msg->body, msg->body_len, &rec, &complete);
    if (err != WD_OK)
        wd_fatalx ("pxe sent a bad served record: %s", wd_strerror (err));
    int rc = node_measure_pxe_served (self->log, self->cfg, &rec);
    if (rc != WD_OK)
        wd_log_warnx ("measuring served file %s: %s", rec.file, attest_strerror (rc));
    size_t at = self->served_next;
    free (self->served[at].body);
    self->served[at].body = msg->body; /* taken */
    self->served[at].len = msg->body_len;
    msg->body = NULL;
    self->served_next = (at + 1) % NODE_PXE_SERVED_KEEP;
}

static void
s_on_token (node_pxe_link_t *self, const wd_chan_msg_t *msg)
{
    uint8_t token[PXE_IMAGES_TOKEN_LEN];
    char host[64], hex[2 * PXE_IMAGES_TOKEN_LEN + 1];
    wd_err_t err = node_pxe_decode_token (msg->body, msg->body_len, token, host);
    if (err != WD_OK)
        wd_fatalx ("pxe sent a bad boot token message: %s", wd_strerror (err));
    wd_hex_encode (hex, token, sizeof token);
    if (self->token_fn)
        self->token_fn (self->token_arg, hex, host);
    sodium_memzero (token, sizeof token);
    sodium_memzero (hex, sizeof hex);
}

static int
s_on_message (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    node_pxe_link_t *self = arg;
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->chan, &msg);
    if (err == WD_ERR_AGAIN)
        return 0;
    if (err == WD_ERR_CLOSED) {
        s_drop (self, "end of file");
        return 0;
    }
    if (err != WD_OK)
        wd_fatalx ("pxe channel: %s", wd_strerror (err));
    if (msg.nfds != 0)
        wd_fatalx ("pxe sent descriptors with %s", wd_msg_name (msg.type));
    switch (msg.type) {
        case WD_MSG_PXE_SERVED:
            s_on_served (self, &msg);
            break;
        case WD_MSG_PXE_TOKEN:
            s_on_token (self, &msg);
            break;
        case WD_MSG_PXE_STATUS:
            free (self->status);
            self->status = msg.body; /* taken; wd_chan_recv checked it is canonical */
            self->status_len = msg.body_len;
            msg.body = NULL;
            break;
        default:
            wd_fatalx ("pxe sent an unexpected %s message", wd_msg_name (msg.type));
    }
    if (msg.body)
        sodium_memzero (msg.body, msg.body_len); /* a token body */
    wd_chan_msg_clear (&msg);
    return 0;
}

void
node_pxe_link_set_channel (node_pxe_link_t *self, int fd)
{
    s_drop (self, "replaced");
    self->chan = wd_chan_new (fd);
    if (!self->chan)
        wd_fatalx ("out of memory");
    self->item = (zmq_pollitem_t){ .fd = wd_chan_fd (self->chan), .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &self->item, s_on_message, self) != 0)
        wd_fatal ("zloop_poller");
    wd_log_debug ("pxe channel connected");
}

uint8_t *
node_pxe_link_reply (const node_pxe_link_t *self, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    size_t count = 0;
    for (size_t i = 0; i < NODE_PXE_SERVED_KEEP; i++)
        count += self->served[i].body != NULL;
    wd_writer_map (w, 2);
    wd_writer_key (w, "served");
    wd_writer_array (w, count);
    for (size_t k = 0; k < NODE_PXE_SERVED_KEEP; k++) {
        size_t i = (self->served_next + k) % NODE_PXE_SERVED_KEEP;
        if (self->served[i].body)
            wd_writer_bin (w, self->served[i].body, self->served[i].len);
    }
    wd_writer_key (w, "status");
    if (self->status)
        wd_writer_bin (w, self->status, self->status_len);
    else
        wd_writer_nil (w);
    uint8_t *body = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    if (!body)
        wd_fatalx ("out of memory");
    return body;
}
