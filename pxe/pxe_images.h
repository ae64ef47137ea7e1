/*
 * pxe_images: the approved boot set a node serves to its compute host (an
 * iPXE boot script template, a kernel, an initrd, iPXE binaries and any
 * other named file), each pinned to an approved SHA-256. Approvals come
 * from a small manifest file today ("ROLE NAME SHA256" lines, see
 * pxe_images_manifest_parse) and from the ledger later
 * (pxe_images_approve is the one entry point both use).
 *
 * Each file is read once from the boot directory (beneath it, as
 * pxe_path confines it) into a sealed memfd (memfd_create, then
 * F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) while its
 * SHA-256 is computed over exactly the bytes copied; the copy is kept only
 * when that digest is the approved one. Only the sealed copy is ever
 * served, so a file changed on disk after verification is never served.
 * Change detection is a stat check at request time (pxe_images_open):
 * the file is opened beneath the boot directory again and its device,
 * inode, size, mtime and ctime compared with those at verification; any
 * difference re-verifies it (a copy whose digest matches replaces the old
 * one; a mismatch is refused with PXE_ERR_IMAGE_DIGEST, logged, and stays
 * refused until the file changes again). No inotify: it needs no extra
 * descriptor in the seccomp-filtered `pxe` child and sees replacements by
 * rename too; the cost is one openat2 + fstat per request.
 *
 * The boot script is generated per request from the approved template
 * with the node's attestation server endpoint and key and a fresh
 * one-time boot token (32 bytes from randombytes) on the kernel command
 * line; tokens are remembered (sodium_malloc'ed, bounded, expiring) so the
 * attestation server can redeem each once, and handed to a token
 * callback so the node can forward them to the process that runs it.
 *
 * Every completed transfer becomes a served-file record
 * (pxe_images_record) that the node writes into its measurement log; this
 * module does not include attest/ (DESIGN.md: modules depend downward
 * only). Used from one thread. See "HTTP boot and approved images" in
 * docs/PROTOCOL.md.
 */
#ifndef PXE_IMAGES_H
#define PXE_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pxe_err.h"
#include "pxe_path.h"

#define PXE_IMAGES_MAX          32  /* files in one set */
#define PXE_IMAGES_TOKEN_LEN    32  /* bytes; 64 hex digits on the command line */
#define PXE_IMAGES_ENDPOINT_MAX 128 /* tcp://HOST:PORT */
#define PXE_IMAGES_TEMPLATE_MAX 65536
#define PXE_IMAGES_LINE_MAX     1024 /* manifest line */

typedef enum {
    PXE_IMAGE_SCRIPT, /* iPXE script template: exactly one */
    PXE_IMAGE_KERNEL, /* exactly one */
    PXE_IMAGE_INITRD, /* exactly one */
    PXE_IMAGE_IPXE,   /* iPXE binaries (undionly.kpxe, ipxe.efi): any number */
    PXE_IMAGE_FILE,   /* anything else the script fetches: any number */
} pxe_image_role_t;

/* "script", "kernel", ... Static storage. */
const char *
pxe_image_role_name (pxe_image_role_t role);

/* One manifest entry, handed to the callback of pxe_images_manifest_parse.
   name is borrowed for the duration of the call. */
typedef int (pxe_images_entry_fn) (void *arg, pxe_image_role_t role, const char *name,
                                   const uint8_t sha256[32]);

/* Parses a manifest: lines "ROLE NAME SHA256HEX" separated by blanks or
   tabs, '#' comments and blank lines ignored, roles as in
   pxe_image_role_name, NAME through pxe_path_check, SHA256HEX 64 hex
   digits (either case). Calls fn (which may be NULL to only check) per
   entry in order; a non-zero return from fn stops the parse and is
   returned. Returns 0 or the reason (PXE_ERR_IMAGE_MANIFEST_SYNTAX,
   PXE_ERR_IMAGE_ROLE, PXE_ERR_PATH_*); *line_no (when not NULL) gets the
   1-based line of the failure. Pure: touches no file. */
int __attribute__ ((warn_unused_result))
pxe_images_manifest_parse (const char *text, size_t len, pxe_images_entry_fn *fn, void *arg,
                           size_t *line_no);

typedef struct {
    uint64_t size_max;    /* largest approved file; default 1 GiB */
    unsigned token_ttl_s; /* a boot token's lifetime; default 600 */
    unsigned tokens_max;  /* outstanding tokens kept; default 64 (oldest dropped) */
} pxe_images_config_t;

typedef struct pxe_images pxe_images_t;

/* An empty set serving from the boot directory root_fd. Takes ownership of
   root_fd (closed by the destructor, and on failure). config may be NULL.
   Returns NULL on failure (out of memory). */
pxe_images_t *
pxe_images_new (int root_fd, const pxe_images_config_t *config);

void
pxe_images_destroy (pxe_images_t **self_p);

/* Adds an approved file. name goes through pxe_path_check. Script, kernel
   and initrd may be given once each, any name once (else
   PXE_ERR_IMAGE_DUPLICATE); at most PXE_IMAGES_MAX files (WD_ERR_OVERSIZE).
   The file is verified later (pxe_images_verify or on first request). */
int __attribute__ ((warn_unused_result))
pxe_images_approve (pxe_images_t *self, pxe_image_role_t role, const char *name,
                    const uint8_t sha256[32]);

/* Reads a manifest file and approves every entry (all or nothing: on a
   failure nothing is added). Returns 0 or the parse/approve reason,
   WD_ERR_NOT_FOUND / WD_ERR_IO / WD_ERR_OVERSIZE for the file itself;
   *line_no as in pxe_images_manifest_parse. */
int __attribute__ ((warn_unused_result))
pxe_images_load_manifest (pxe_images_t *self, const char *path, size_t *line_no);

/* Sets the attestation server the boot script names: endpoint
   "tcp://HOST:PORT" (HOST a name or IPv4 address of letters, digits, '.'
   and '-', or an IPv6 address in brackets) and its 32-byte CURVE public
   key. Returns 0 or PXE_ERR_IMAGE_ENDPOINT. */
int __attribute__ ((warn_unused_result))
pxe_images_set_attest (pxe_images_t *self, const char *endpoint, const uint8_t server_key[32]);

/* Verifies every approved file now (each failure is logged). Returns 0
   when the set is complete (PXE_ERR_IMAGE_INCOMPLETE otherwise) and every
   file matched, else the first failure. Files that failed are retried at
   request time if they change. */
int __attribute__ ((warn_unused_result)) pxe_images_verify (pxe_images_t *self);

/* Number of approved files; whether a set is configured at all. */
size_t
pxe_images_count (const pxe_images_t *self);

/* What pxe_images_open hands out for one request. */
typedef struct {
    pxe_image_role_t role;
    char name[PXE_PATH_MAX + 1];
    int fd;        /* sealed copy (owned: closed by pxe_images_file_release), or -1 */
    uint8_t *data; /* the generated boot script (owned), or NULL */
    uint64_t size;
    uint8_t sha256[32];          /* digest of the whole content handed out */
    uint8_t approved_sha256[32]; /* approved digest (of the template for the script) */
} pxe_image_file_t;

/* Looks up a requested name (through pxe_path_check), re-verifies the
   file when it changed on disk, and hands out its sealed copy (a dup of
   the memfd, readable with pread and sendfile), or for the boot script a
   freshly generated script with a new boot token. client (text, for logs
   and the token callback) and base_url (for {{base_url}}, e.g.
   "http://10.0.0.1:8080") may be NULL. Returns 0, or
   PXE_ERR_IMAGE_UNAPPROVED (not in the set), PXE_ERR_IMAGE_MISSING,
   PXE_ERR_IMAGE_DIGEST, PXE_ERR_IMAGE_TOO_LARGE, PXE_ERR_PATH_*,
   PXE_ERR_IMAGE_NO_ATTEST (script without endpoint and key), WD_ERR_*.
   On success release *out with pxe_images_file_release. */
int __attribute__ ((warn_unused_result))
pxe_images_open (pxe_images_t *self, const char *name, const char *client, const char *base_url,
                 pxe_image_file_t *out);

void
pxe_images_file_release (pxe_image_file_t *file);

/* Called for every boot token issued (token borrowed for the call; client
   as passed to pxe_images_open, or ""). */
typedef void (pxe_images_token_fn) (void *arg, const uint8_t token[PXE_IMAGES_TOKEN_LEN],
                                    const char *client);

void
pxe_images_set_token_fn (pxe_images_t *self, pxe_images_token_fn *fn, void *arg);

/* Redeems a boot token: 0 the first time for a token issued within its
   lifetime, PXE_ERR_IMAGE_TOKEN otherwise (unknown, used, expired).
   Constant-time comparison. */
int __attribute__ ((warn_unused_result))
pxe_images_token_redeem (pxe_images_t *self, const uint8_t token[PXE_IMAGES_TOKEN_LEN]);

/* A served-file measurement: what the node appends to its measurement log
   for every completed transfer. */
typedef struct {
    char protocol[8]; /* "http" or "tftp" */
    char file[PXE_PATH_MAX + 1];
    char client[64]; /* client address as text */
    bool has_mac;    /* filled in by the node from its DHCP leases */
    uint8_t mac[6];
    uint8_t sha256[32]; /* of the bytes actually sent */
    uint64_t bytes;
    uint64_t offset;             /* first byte sent (non-zero for a range) */
    bool whole;                  /* the whole file was sent */
    bool approved;               /* from the approved set: a sealed copy or the generated script */
    uint8_t approved_sha256[32]; /* its approved digest (the template's for the script) */
    int64_t time;                /* Unix seconds */
} pxe_served_record_t;

/* Fills *rec for a completed transfer of file (as requested). self may be
   NULL (no image set: approved stays false). */
void
pxe_images_record (pxe_images_t *self, const char *protocol, const char *file, const char *client,
                   const uint8_t sha256[32], uint64_t offset, uint64_t bytes, bool whole,
                   pxe_served_record_t *rec);

/* The record as one measurement-log event name (no control characters,
   fields separated by spaces): "pxe-served proto=http file=vmlinuz
   client=10.0.0.2 mac=- offset=0 bytes=N whole=1 approved=1 time=T".
   Writes at most len bytes including the NUL; returns the length it needs
   (like snprintf). The record's digest is the event's file digest. */
size_t
pxe_served_record_event (const pxe_served_record_t *rec, char *buf, size_t len);

#endif
