/*
 * Fuzz harness for wd_config, in two modes chosen by the first byte.
 *
 * 0x01: the rest is a packed configuration for wd_config_unpack; whatever
 * it accepts must pack and unpack again to the same bytes.
 *
 * Anything else: the whole input is a config file (so plain seed files work)
 * for wd_config_load. It must return one of its documented codes with a
 * reason; its ZPL check must agree with zconfig itself (a file wd_config
 * passes is never refused by zconfig, and one refused for a czmq-worded
 * syntax error is refused by zconfig too); and an accepted configuration
 * must survive pack -> unpack and write -> load unchanged.
 *
 * zconfig reports its refusals on stdout, which this harness sends to
 * /dev/null. The temporary directory is made once and removed at exit.
 */
#include <assert.h>
#include <czmq.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wd_config.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const wd_config_key_t s_table[] = {
    { "node/name", WD_CFG_STRING, NULL, NULL, 1, 16, "name" },
    { "node/port", WD_CFG_UINT, "7400", NULL, 1, 65535, "port" },
    { "node/state", WD_CFG_PATH, "/var/lib/warden", NULL, 0, 0, "state" },
    { "log/level", WD_CFG_ENUM, "info", "debug|info|warning|error", 0, 0, "level" },
    { "verbose", WD_CFG_BOOL, "false", NULL, 0, 0, "a key outside any section" },
    { "a/b/every", WD_CFG_DURATION, "1s", NULL, 100, 3600000, "a nested section" },
    { "log/file", WD_CFG_PATH, NULL, NULL, 0, 0, "log file" },
    { NULL, 0, NULL, NULL, 0, 0, NULL },
};

static char s_dir[64];
static char s_conf[96];
static char s_written[96];

static void
s_cleanup (void)
{
    unlink (s_conf);
    unlink (s_written);
    rmdir (s_dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf (s_dir, sizeof s_dir, "/tmp/warden-fuzz-config-XXXXXX");
    if (!mkdtemp (s_dir))
        abort ();
    snprintf (s_conf, sizeof s_conf, "%s/warden.conf", s_dir);
    snprintf (s_written, sizeof s_written, "%s/written.conf", s_dir);
    atexit (s_cleanup);
    int null_fd = open ("/dev/null", O_WRONLY);
    if (null_fd < 0 || dup2 (null_fd, STDOUT_FILENO) < 0)
        abort ();
    close (null_fd);
    return 0;
}

static void
s_write_file (const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen (path, "w");
    assert (f);
    assert (fwrite (data, 1, size, f) == size);
    assert (fclose (f) == 0);
}

/* pack -> unpack -> pack gives the same bytes; returns the first packing */
static uint8_t *
s_check_pack (const wd_config_t *cfg, size_t *len)
{
    char why[WD_CONFIG_WHY_MAX];
    uint8_t *packed = wd_config_pack (cfg, len);
    assert (packed);
    wd_config_t *copy = NULL;
    wd_err_t err = wd_config_unpack (s_table, packed, *len, &copy, why, sizeof why);
    assert (err == WD_OK && copy);
    size_t len2;
    uint8_t *again = wd_config_pack (copy, &len2);
    assert (len2 == *len && memcmp (again, packed, *len) == 0);
    free (again);
    wd_config_destroy (&copy);
    return packed;
}

static void
s_fuzz_unpack (const uint8_t *data, size_t size)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = (wd_config_t *)1;
    wd_err_t err = wd_config_unpack (s_table, data, size, &cfg, why, sizeof why);
    if (err != WD_OK) {
        assert (cfg == NULL && why[0] && err < 0);
        return;
    }
    size_t len;
    free (s_check_pack (cfg, &len));
    wd_config_destroy (&cfg);
}

static bool
s_czmq_worded (const char *why)
{
    return strstr (why, ": indent 4 spaces at once") || strstr (why, ": indentation error") ||
           strstr (why, ": missing ") || strstr (why, ": invalid syntax '") ||
           strstr (why, ": '/' not valid at name start or end");
}

static void
s_fuzz_load (const uint8_t *data, size_t size)
{
    char why[WD_CONFIG_WHY_MAX];
    s_write_file (s_conf, data, size);
    wd_config_t *cfg = (wd_config_t *)1;
    wd_err_t err = wd_config_load (s_table, s_conf, &cfg, why, sizeof why);
    assert (err == WD_OK || err == WD_ERR_CONFIG_SYNTAX || err == WD_ERR_CONFIG_KEY ||
            err == WD_ERR_CONFIG_VALUE);
    char refused[sizeof s_conf + 64];
    snprintf (refused, sizeof refused, "%s: not valid ZPL (refused by zconfig)", s_conf);
    assert (strcmp (why, refused) != 0);
    if (err != WD_OK) {
        assert (cfg == NULL && strncmp (why, s_conf, strlen (s_conf)) == 0);
        if (err == WD_ERR_CONFIG_SYNTAX && s_czmq_worded (why) && !memchr (data, 0, size)) {
            /* Not strndup: fuzz input has no terminating NUL to look for. */
            char *text = malloc (size + 1);
            assert (text);
            memcpy (text, data, size);
            text[size] = '\0';
            zconfig_t *z = zconfig_str_load (text);
            assert (z == NULL);
            free (text);
        }
        return;
    }
    assert (cfg);

    size_t len;
    uint8_t *packed = s_check_pack (cfg, &len);

    /* write -> load gives the same configuration */
    FILE *f = fopen (s_written, "w");
    assert (f);
    assert (wd_config_write (cfg, f) == 0);
    assert (fclose (f) == 0);
    wd_config_t *back = NULL;
    err = wd_config_load (s_table, s_written, &back, why, sizeof why);
    assert (err == WD_OK);
    size_t len2;
    uint8_t *packed2 = wd_config_pack (back, &len2);
    assert (len2 == len && memcmp (packed, packed2, len) == 0);
    free (packed2);
    free (packed);
    wd_config_destroy (&back);
    wd_config_destroy (&cfg);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0x01)
        s_fuzz_unpack (data + 1, size - 1);
    else {
        s_fuzz_load (data, size);
        /* so that a run killed before atexit leaves only an empty directory */
        unlink (s_conf);
        unlink (s_written);
    }
    return 0;
}
