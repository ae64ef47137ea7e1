/*
 * wd_genesis: the genesis file that defines a cluster (DESIGN.md §6;
 * docs/PROTOCOL.md "Genesis").
 *
 * A genesis is a canonical msgpack map: the cluster's name and creation
 * time, the founding node certificates, the reference-value signer keys
 * (who may sign policies) and the chain parameters. It is not signed: its
 * SHA-256 is the chain id that every signature of the cluster commits to
 * (the signing rule's `chain`), so a node that holds a different genesis is
 * simply on another chain. Decoding is strict — lists in ascending order
 * without repeats, every certificate verified, every parameter of this
 * version present (an optional one only off its default) and in range — so
 * one genesis has exactly one encoding and one chain id.
 */
#ifndef WD_GENESIS_H
#define WD_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_cert.h"
#include "wd_err.h"

#define WD_GENESIS_NODES_MAX   256
#define WD_GENESIS_SIGNERS_MAX 16
#define WD_GENESIS_NAME_MAX    64 /* [A-Za-z0-9._-], like node names */
#define WD_GENESIS_MAX_BYTES   (WD_GENESIS_NODES_MAX * (WD_CERT_MAX_BYTES + 3) + 4096)

/* One chain parameter: every genesis carries all of them, except an
   optional one at its default. */
typedef struct {
    const char *name;
    uint64_t default_value;
    uint64_t min;
    uint64_t max;
    const char *help; /* one line */
    /* Added after the first release of version 1: omitted from the
       encoding while at its default (so genesis files written before it
       keep their bytes and chain id), and refused when present with its
       default value (so each genesis still has one encoding). */
    bool optional;
} wd_genesis_param_t;

/* The parameters of this version, in byte order of their names (their order
   in the encoding), ended by an entry whose name is NULL. */
extern const wd_genesis_param_t wd_genesis_params[];

typedef struct wd_genesis wd_genesis_t;

/* An empty genesis named name (see WD_GENESIS_NAME_MAX), created at
   `created` (Unix seconds, non-zero), with every parameter at its default.
   Returns NULL for an invalid name or time. Aborts on out-of-memory. */
wd_genesis_t *
wd_genesis_new (const char *name, uint64_t created);

void
wd_genesis_destroy (wd_genesis_t **self_p);

/* Adds a founding node from its certificate's bytes (verified with
   wd_cert_open; its reasons pass up). WD_ERR_GENESIS_DUPLICATE when a node
   with the same name or any of the same three keys is already listed,
   WD_ERR_GENESIS_LIMIT beyond WD_GENESIS_NODES_MAX. */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_add_node (wd_genesis_t *self, const uint8_t *cert, size_t cert_len);

/* Adds a reference-value signer key. WD_ERR_GENESIS_DUPLICATE,
   WD_ERR_GENESIS_LIMIT. */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_add_signer (wd_genesis_t *self, const uint8_t pk[WD_PUBKEY_LEN]);

/* Sets a parameter from its decimal text. WD_ERR_GENESIS_PARAM for an
   unknown name, WD_ERR_OUT_OF_RANGE for a value that is not a decimal
   integer within the parameter's range. */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_set_param (wd_genesis_t *self, const char *name, const char *value);

/* The canonical bytes (caller frees). WD_ERR_GENESIS_EMPTY without a
   node. */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_encode (const wd_genesis_t *self, uint8_t **out, size_t *len);

/* Decodes and checks a genesis: the codec's reasons, WD_ERR_BAD_VERSION,
   WD_ERR_BAD_VALUE (name or time), WD_ERR_GENESIS_EMPTY, WD_ERR_GENESIS_ORDER
   (nodes not in ascending order of sign_pk, or signers not ascending),
   WD_ERR_GENESIS_DUPLICATE, WD_ERR_GENESIS_LIMIT, WD_ERR_OUT_OF_RANGE (a
   parameter), WD_ERR_BAD_VALUE (an optional parameter present with its
   default value), every wd_cert_open reason for a node. *out gets the genesis
   (caller owns) and its chain id is SHA-256 of buf. */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_decode (const uint8_t *buf, size_t len, wd_genesis_t **out);

/* wd_genesis_decode on a file (WD_ERR_NOT_FOUND, WD_ERR_IO, WD_ERR_OVERSIZE
   beyond WD_GENESIS_MAX_BYTES). */
wd_err_t __attribute__ ((warn_unused_result))
wd_genesis_load (const char *path, wd_genesis_t **out);

/* The chain id: SHA-256 of the canonical bytes. */
void
wd_genesis_chain_id (const wd_genesis_t *self, uint8_t id[WD_CHAIN_ID_LEN]);

const char *
wd_genesis_name (const wd_genesis_t *self);
uint64_t
wd_genesis_created (const wd_genesis_t *self);

/* Founding nodes in ascending order of sign_pk. */
size_t
wd_genesis_node_count (const wd_genesis_t *self);
const wd_cert_t *
wd_genesis_node (const wd_genesis_t *self, size_t index);
/* The certificate's bytes, borrowed. */
const uint8_t *
wd_genesis_node_cert (const wd_genesis_t *self, size_t index, size_t *len);
/* The node whose sign_pk is id, or NULL. */
const wd_cert_t *
wd_genesis_find_node (const wd_genesis_t *self, const uint8_t id[WD_PUBKEY_LEN]);

/* Reference-value signer keys in ascending order. */
size_t
wd_genesis_signer_count (const wd_genesis_t *self);
const uint8_t *
wd_genesis_signer (const wd_genesis_t *self, size_t index);

/* A parameter's value; name must be in wd_genesis_params (asserted). */
uint64_t
wd_genesis_param (const wd_genesis_t *self, const char *name);

#endif
