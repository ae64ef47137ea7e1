/*
 * node_pxe_link: the engine's end of the channel to the `pxe` child
 * (node_pxe.h). It appends every served-file record to the measurement
 * log (node_measure_pxe_served), hands every boot token to a callback
 * (the engine gives it to its attestation server), keeps the child's last
 * status and the last NODE_PXE_SERVED_KEEP served records, and answers
 * WD_MSG_CTL_PXE for `wardenctl pxe` from them — the child is never asked
 * on a control request, so `wardenctl pxe` answers at once even while the
 * child restarts. Runs on the engine's zloop.
 */
#ifndef NODE_PXE_LINK_H
#define NODE_PXE_LINK_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_log.h"
#include "wd_config.h"

typedef struct node_pxe_link node_pxe_link_t;

/* Called for every boot token the child issued: token_hex is 64 lowercase
   hex digits, host a label of [A-Za-z0-9.-]. Both borrowed. */
typedef void (node_pxe_token_fn) (void *arg, const char *token_hex, const char *host);

/* A link without a channel yet. loop, log and cfg are borrowed and must
   outlive it. Returns NULL on out-of-memory. */
node_pxe_link_t *
node_pxe_link_new (zloop_t *loop, attest_log_t *log, const wd_config_t *cfg,
                   node_pxe_token_fn *token_fn, void *token_arg);

void
node_pxe_link_destroy (node_pxe_link_t **self_p);

/* Takes fd, the engine's end of a new pair from WD_MSG_PXE_CHANNEL,
   replacing any previous channel. */
void
node_pxe_link_set_channel (node_pxe_link_t *self, int fd);

/* The WD_MSG_CTL_PXE_REPLY body {served: [bin], status: bin or nil}:
   served records oldest first, each a WD_MSG_PXE_SERVED body; status the
   child's last WD_MSG_PXE_STATUS body, nil when none arrived from the
   running child. Caller frees. */
uint8_t *
node_pxe_link_reply (const node_pxe_link_t *self, size_t *len);

#endif
