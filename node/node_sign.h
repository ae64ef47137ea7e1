/*
 * node_sign: the engine's one way to the keys process (DESIGN.md §4). Every
 * signature the engine needs — status reports, evidence, gossip records,
 * votes —, every VRF proof (sortition) and every keystore status query goes
 * through here: requests are numbered, sent over the keys channel, matched
 * with their replies, and answered through a callback exactly once, with
 * the reply or with a reason (the keys process is down, slow, failing, or
 * returned a signature or proof that does not verify under the node's
 * key).
 *
 * The keys process restarts independently of the engine; node_sign_connect
 * takes each new channel, and requests in flight on the old one fail with
 * "keys process exited".
 */
#ifndef NODE_SIGN_H
#define NODE_SIGN_H

#include <czmq.h>
#include <stdint.h>

#include "wd_chan.h"
#include "wd_envelope.h"
#include "wd_msg.h"
#include "wd_vrf.h"

#define NODE_SIGN_TIMEOUT_MS 2000
#define NODE_SIGN_MAX        256 /* requests in flight */

typedef struct node_sign node_sign_t;

/* A signature over the digest asked for, already verified under the node's
   key; or sig NULL and reason. */
typedef void (node_sign_done_fn) (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason);

/* The keystore's status; or keys NULL and reason. */
typedef void (node_sign_info_fn) (void *arg, const wd_msg_keys_status_t *keys, const char *reason);

/* A service on loop for the node whose identity key is sign_pk. Aborts on
   out-of-memory. */
node_sign_t *
node_sign_new (zloop_t *loop, const uint8_t sign_pk[WD_PUBKEY_LEN]);

/* Fails every request in flight ("engine stopping") and frees the service. */
void
node_sign_destroy (node_sign_t **self_p);

/* Takes a new keys channel (ownership passes), replacing the old one. */
void
node_sign_connect (node_sign_t *self, wd_chan_t *keys);

/* Asks for a signature over digest. done runs later, never from inside
   this call — except when NODE_SIGN_MAX requests are already in flight:
   then it runs at once with "too many signing requests in flight". The same
   holds for node_sign_info and node_sign_seal. */
void
node_sign_digest (node_sign_t *self, const uint8_t digest[WD_DIGEST_LEN], node_sign_done_fn *done,
                  void *arg);

/* A signature over step->digest, verified like node_sign_digest's; or sig
   NULL, refused the keys process's double-sign guard's code
   (WD_ERR_SIGN_CONFLICT, WD_ERR_SIGN_REGRESS, or WD_ERR_IO when it could
   not record the step; 0 for every other failure) and the reason. */
typedef void (node_sign_step_fn) (void *arg, const uint8_t sig[WD_SIG_LEN], int refused,
                                  const char *reason);

/* Asks for the signature of an agreement message (WD_MSG_SIGN_STEP): the
   keys process signs step->digest only when it has not signed another
   message for the same chain, height, round and step, nor anything at a
   later one (node_guard.h). step is copied. Answered as node_sign_digest. */
void
node_sign_step (node_sign_t *self, const wd_msg_sign_step_t *step, node_sign_step_fn *done,
                void *arg);

/* Asks for the keystore's status. */
void
node_sign_info (node_sign_t *self, node_sign_info_fn *done, void *arg);

/* Seals an envelope of type and chain around body through the keys
   process: done gets the envelope's bytes (borrowed for the call), or
   NULL and the reason. */
typedef void (node_sign_sealed_fn) (void *arg, const uint8_t *envelope, size_t len,
                                    const char *reason);
void
node_sign_seal (node_sign_t *self, const char *type, const uint8_t chain[WD_CHAIN_ID_LEN],
                const uint8_t *body, size_t body_len, node_sign_sealed_fn *done, void *arg);

/* Gives the node's VRF public key (node.cert's vrf_pk): node_sign_vrf
   checks every proof under it. */
void
node_sign_set_vrf_key (node_sign_t *self, const uint8_t vrf_pk[WD_VRF_PK_LEN]);

/* A VRF proof pi over the alpha asked for and its output beta, both
   already checked under the node's VRF key (wd_vrf_verify); or pi and
   beta NULL and the reason. Borrowed for the call. */
typedef void (node_sign_vrf_fn) (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN],
                                 const uint8_t beta[WD_VRF_BETA_LEN], const char *reason);

/* Asks the keys process for ECVRF_prove(vrf_sk, alpha); alpha is 1 to
   WD_MSG_VRF_ALPHA_MAX bytes (asserted) and is copied. Fails with "no VRF
   key" before node_sign_set_vrf_key, and with "the keys process returned
   a bad VRF proof" when the proof does not verify; otherwise as
   node_sign_digest. */
void
node_sign_vrf (node_sign_t *self, const uint8_t *alpha, size_t alpha_len, node_sign_vrf_fn *done,
               void *arg);

#endif
