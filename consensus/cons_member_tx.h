/*
 * cons_member_tx: the membership transactions of the ledger, `join` and
 * `leave` records (docs/PROTOCOL.md "Membership transactions"; issue 8
 * item 1). This file holds their bodies' encoding and the checks that need
 * no chain state; cons_reputation applies them in block order (who is a
 * member, who may join) and cons_ledger refuses blocks that break them.
 *
 * A node joins with a `join` record sealed by a current member, the
 * sponsor, whose body carries the new node's own `join-request` envelope
 * (signed by the new node's identity key, for this chain) holding its
 * node certificate:
 *
 *   join-request body: {cert: bin (a node-cert envelope), v: 1}
 *   join body:         {request: bin (a join-request envelope), v: 1}
 *   leave body:        {node: bin(32) (the leaving node = the signer), v: 1}
 *
 * A member changes its keys with a `rotate` record sealed by its current
 * (old) identity key, whose body carries a `rotate-request` signed by the
 * new identity key, naming the member it rotates: both keys consent.
 *
 *   rotate-request body: {cert: bin (the new node-cert envelope),
 *                         node: bin(32) (the member's current key), v: 1}
 *   rotate body:         {request: bin (a rotate-request envelope), v: 1}
 */
#ifndef CONS_MEMBER_TX_H
#define CONS_MEMBER_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_cert.h"
#include "wd_envelope.h"

#define CONS_JOIN_TYPE           "join"
#define CONS_JOIN_REQUEST_TYPE   "join-request"
#define CONS_LEAVE_TYPE          "leave"
#define CONS_ROTATE_TYPE         "rotate"
#define CONS_ROTATE_REQUEST_TYPE "rotate-request"
#define CONS_MEMBER_TX_VERSION   1
#define CONS_JOIN_REQUEST_MAX    1024 /* a request envelope holding one certificate */

/* The body of a join-request for cert (a node-cert envelope's bytes).
   Caller frees. */
uint8_t *
cons_join_request_body (const uint8_t *cert, size_t cert_len, size_t *len);

/* The body of a join record around request (a join-request envelope's
   bytes). Caller frees. */
uint8_t *
cons_join_body (const uint8_t *request, size_t request_len, size_t *len);

/* The body of a leave record for node. Caller frees. */
uint8_t *
cons_leave_body (const uint8_t node[WD_PUBKEY_LEN], size_t *len);

/* Opens a join-request envelope (its bytes) for chain: wd_envelope_decode
   reasons; another chain WD_ERR_WRONG_CHAIN; another type
   WD_ERR_UNEXPECTED_TYPE; the body's codec and schema reasons
   (WD_ERR_BAD_VERSION for v != 1); wd_cert_open's reasons for the
   certificate; a request not signed by the certificate's sign_pk
   CONS_ERR_TX_SIGNER; then, with sigs, the request's signature
   (WD_ERR_BAD_SIGNATURE). *cert gets the new node's certificate. */
int __attribute__ ((warn_unused_result))
cons_join_request_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                        bool sigs, wd_cert_t *cert);

/* Opens a join record's body: codec and schema reasons (WD_ERR_BAD_VERSION),
   then cons_join_request_open's. */
int __attribute__ ((warn_unused_result))
cons_join_open (const uint8_t *body, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN], bool sigs,
                wd_cert_t *cert);

/* Decodes a leave record's body (codec and schema reasons,
   WD_ERR_BAD_VERSION). */
int __attribute__ ((warn_unused_result))
cons_leave_decode (const uint8_t *body, size_t len, uint8_t node[WD_PUBKEY_LEN]);

/* The body of a rotate-request: the new certificate cert (a node-cert
   envelope's bytes) for the member whose current key is node. Caller
   frees. */
uint8_t *
cons_rotate_request_body (const uint8_t *cert, size_t cert_len, const uint8_t node[WD_PUBKEY_LEN],
                          size_t *len);

/* The body of a rotate record around request (a rotate-request envelope's
   bytes). Caller frees. */
uint8_t *
cons_rotate_body (const uint8_t *request, size_t request_len, size_t *len);

/* Opens a rotate-request envelope (its bytes) for chain: wd_envelope_decode
   reasons; another chain WD_ERR_WRONG_CHAIN; another type
   WD_ERR_UNEXPECTED_TYPE; the body's codec and schema reasons
   (WD_ERR_BAD_LENGTH for a node not 32 bytes, WD_ERR_BAD_VERSION for
   v != 1); wd_cert_open's reasons for the certificate; a request not
   signed by the certificate's sign_pk CONS_ERR_TX_SIGNER; then, with sigs,
   the request's signature (WD_ERR_BAD_SIGNATURE). *cert gets the new
   certificate, node the member it rotates. */
int __attribute__ ((warn_unused_result))
cons_rotate_request_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                          bool sigs, wd_cert_t *cert, uint8_t node[WD_PUBKEY_LEN]);

/* Opens a rotate record's body signed by signer: codec and schema reasons
   (WD_ERR_BAD_VERSION), then cons_rotate_request_open's (with its
   signature check after the next one), then a request for another member
   than signer CONS_ERR_TX_SIGNER. */
int __attribute__ ((warn_unused_result))
cons_rotate_open (const uint8_t *body, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const uint8_t signer[WD_PUBKEY_LEN], bool sigs, wd_cert_t *cert);

#endif
