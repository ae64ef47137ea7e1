/*
 * wd_config: validated configuration in czmq's ZPL format (DESIGN.md §6).
 *
 * A program describes every key it accepts in a table (wd_config_key_t);
 * wd_config_load reads the main file and then every `*.conf` file in the
 * `conf.d` directory beside it, in lexical order, later files overriding
 * earlier ones. Every value is checked against the table: an unknown key or
 * a value of the wrong form is an error whose message names the file, the
 * key and the expected form. Secrets never live here (DESIGN.md §6).
 *
 * ZPL paths name keys: the value `name` inside section `node` is
 * "node/name". A validated configuration can travel to a child process as
 * canonical msgpack (wd_config_pack / wd_config_unpack) and can be written
 * back as a commented file (wd_config_write).
 */
#ifndef WD_CONFIG_H
#define WD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wd_err.h"

typedef enum {
    WD_CFG_STRING,   /* length within [min, max] bytes, printable, no NUL */
    WD_CFG_UINT,     /* decimal, within [min, max] */
    WD_CFG_BOOL,     /* "true" or "false" */
    WD_CFG_ENUM,     /* one of choices, "a|b|c" */
    WD_CFG_PATH,     /* absolute path, at most PATH_MAX bytes */
    WD_CFG_DURATION, /* integer with unit ms, s, m or h; stored as milliseconds
                        within [min, max] */
} wd_config_type_t;

typedef struct {
    const char *key; /* ZPL path, "section/name" */
    wd_config_type_t type;
    const char *default_value; /* in file syntax ("1s"), or NULL: unset by default */
    const char *choices;       /* WD_CFG_ENUM only */
    uint64_t min;
    uint64_t max;
    const char *help; /* one line, written as a comment by wd_config_write */
} wd_config_key_t;

/* Tables end with an entry whose key is NULL. */

#define WD_CONFIG_WHY_MAX 512

typedef struct wd_config wd_config_t;

/* A configuration holding the table's defaults. The table is borrowed and
   must outlive the configuration. Returns NULL on out-of-memory. */
wd_config_t *
wd_config_new (const wd_config_key_t *table);

void
wd_config_destroy (wd_config_t **self_p);

/* Loads path and then path's directory's conf.d/\*.conf over the defaults.
   A missing conf.d is fine; a missing main file is WD_ERR_NOT_FOUND. On
   failure returns WD_ERR_CONFIG_SYNTAX, WD_ERR_CONFIG_KEY,
   WD_ERR_CONFIG_VALUE, WD_ERR_NOT_FOUND or WD_ERR_IO, writes a one-line
   reason naming file and key to why (why_len bytes), and leaves *self_p
   NULL. */
wd_err_t __attribute__ ((warn_unused_result))
wd_config_load (const wd_config_key_t *table, const char *path, wd_config_t **self_p, char *why,
                size_t why_len);

/* Sets one key from its text form, validated as if it came from a file
   (used for command-line overrides). Same errors as wd_config_load. */
wd_err_t __attribute__ ((warn_unused_result))
wd_config_set (wd_config_t *self, const char *key, const char *value, char *why, size_t why_len);

/* Typed getters. The key must be in the table with a matching type
   (asserted). Strings are borrowed and valid until the key is set again or
   the configuration is destroyed; an unset key gives NULL. Durations are in
   milliseconds. */
const char *
wd_config_str (const wd_config_t *self, const char *key);
uint64_t
wd_config_uint (const wd_config_t *self, const char *key);
bool
wd_config_bool (const wd_config_t *self, const char *key);

/* Every set key as a canonical msgpack map {key: text value}. The caller
   owns the returned buffer (free). */
uint8_t *
wd_config_pack (const wd_config_t *self, size_t *len);

/* Rebuilds a configuration from wd_config_pack output, validating every key
   and value against the table again. */
wd_err_t __attribute__ ((warn_unused_result))
wd_config_unpack (const wd_config_key_t *table, const uint8_t *buf, size_t len,
                  wd_config_t **self_p, char *why, size_t why_len);

/* Writes the configuration as a ZPL file: every key of the table in order,
   under its section, preceded by its help line; keys still at their default
   are written commented out. Returns 0, or -1 on a write error. */
int
wd_config_write (const wd_config_t *self, FILE *out);

#endif
