/*
 * pcr_signer_meta: the instrument metadata the PCR signer puts into each
 * statement's predicate (docs/PROTOCOL.md "PCR result statement"). Two
 * formats are understood:
 *
 * - Applied Biosystems text exports (7500 Software v2, QuantStudio):
 *   `* Key = Value` header lines, then `[Sample Setup]`,
 *   `[Amplification Data]`, `[Results]` blocks, tab-separated with a header
 *   row; numbers may carry thousands separators; some headers are not ASCII
 *   (`Cт`).
 * - RDML (rdml.org): a zip archive holding rdml_data.xml, read with libzip
 *   and expat.
 *
 * A file that cannot be parsed is still signed: the metadata then says
 * parsed false, with the reason. Every string is valid UTF-8 and cut to a
 * fixed size; Ct values stay strings (no floats in signed data), with
 * thousands separators removed.
 */
#ifndef PCR_SIGNER_META_H
#define PCR_SIGNER_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_codec.h"

#define CAPSULE_PCR_PARSER      "warden-pcr-meta/1"
#define CAPSULE_PCR_SAMPLES_MAX 6144
#define CAPSULE_PCR_RDML_MAX    (64u << 20) /* bytes of rdml_data.xml read at most */

typedef struct {
    char well[16];
    char sample[96];
    char target[64];
    char ct[24];
} capsule_pcr_sample_t;

typedef struct {
    bool parsed;
    char reason[160]; /* why not parsed; "" when parsed */
    char format[16];  /* "ab-text", "rdml", "unknown" */
    char instrument_type[64];
    char instrument_serial[64];
    char experiment_name[128];
    char experiment_file[256];
    char run_end[64];
    capsule_pcr_sample_t *samples;
    size_t nsamples;
} capsule_pcr_meta_t;

/* Parses data (a file named name) into *meta, which the caller clears with
   capsule_pcr_meta_clear. Returns 0 (meta->parsed true), or the capsule_err_t
   reason (meta->parsed false, meta->reason says more). */
int __attribute__ ((warn_unused_result))
capsule_pcr_meta_parse (const char *name, const uint8_t *data, size_t len,
                        capsule_pcr_meta_t *meta);

void
capsule_pcr_meta_clear (capsule_pcr_meta_t *meta);

/* Writes meta as one canonical map: {experiment_file, experiment_name,
   format, instrument_serial, instrument_type, parsed, reason, run_end,
   samples: [{ct, sample, target, well}]}. */
void
capsule_pcr_meta_write (wd_writer_t *w, const capsule_pcr_meta_t *meta);

#endif
