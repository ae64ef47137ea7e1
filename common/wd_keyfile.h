/*
 * wd_keyfile: secret key files on disk (the `file` keystore backend, and
 * the VRF and CURVE keys of every node).
 *
 * A key file holds the canonical msgpack map {alg: str, seed: bin(32), v: 1}
 * (docs/PROTOCOL.md "Key files"). It is created with mode 0600 and never
 * replaced; reading refuses a file that is not regular, is owned by another
 * user, or is readable or writable by group or others, so a key whose
 * secrecy may be lost is never used silently. Seeds are read through
 * sodium_malloc memory and wiped from every intermediate buffer.
 */
#ifndef WD_KEYFILE_H
#define WD_KEYFILE_H

#include <stdint.h>

#include "wd_err.h"

#define WD_SEED_LEN 32

/* The algorithms a key file may name. */
#define WD_KEYFILE_ED25519 "ed25519"            /* identity signing key */
#define WD_KEYFILE_ECVRF   "ecvrf-edwards25519" /* RFC 9381 VRF key */
#define WD_KEYFILE_X25519  "x25519"             /* ZeroMQ CURVE key */

/* Creates path (it must not exist: WD_ERR_EXISTS) with mode 0600, writes the
   key and makes it durable (fsync of file and directory). WD_ERR_IO with
   errno on other failures. */
wd_err_t __attribute__ ((warn_unused_result))
wd_keyfile_write (const char *path, const char *alg, const uint8_t seed[WD_SEED_LEN]);

/* Reads path into seed, which should be sodium_malloc memory. Fails with
   WD_ERR_NOT_FOUND, WD_ERR_NOT_REGULAR (also for a symbolic link),
   WD_ERR_KEY_OWNER, WD_ERR_KEY_PERMISSIONS, WD_ERR_OVERSIZE, a codec or
   schema reason, WD_ERR_BAD_VERSION, WD_ERR_BAD_VALUE (another alg), or
   WD_ERR_IO with errno. */
wd_err_t __attribute__ ((warn_unused_result))
wd_keyfile_read (const char *path, const char *alg, uint8_t seed[WD_SEED_LEN]);

#endif
