/*
 * Unit tests for wd_config: defaults, every value type accepted and
 * rejected with its exact code and a reason naming file and key, unknown
 * keys, ZPL syntax errors (checked against zconfig itself), conf.d order,
 * msgpack round trip and rejection, and write -> load round trip. Every
 * file is real, under a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_codec.h"
#include "wd_config.h"

/* Deliberately not in byte order (node/group comes last), so packing must
   sort. */
static const wd_config_key_t s_table[] = {
    { "node/name", WD_CFG_STRING, NULL, NULL, 1, 64, "this node's name" },
    { "node/port", WD_CFG_UINT, "7400", NULL, 1, 65535, "listen port" },
    { "node/state", WD_CFG_PATH, "/var/lib/warden", NULL, 0, 0, "state directory" },
    { "log/level", WD_CFG_ENUM, "info", "debug|info|warning|error", 0, 0, "log level" },
    { "log/syslog", WD_CFG_BOOL, "false", NULL, 0, 0, "also log to syslog" },
    { "attest/interval", WD_CFG_DURATION, "5s", NULL, 100, 3600000, "challenge interval" },
    { "node/group", WD_CFG_STRING, NULL, NULL, 1, 32, "control socket group" },
    { NULL, 0, NULL, NULL, 0, 0, NULL },
};

/* Writes content (len bytes) to <tmpdir>/<name>, creating directories on
   the way; returns the path in static storage. */
static const char *
s_file (const char *name, const char *content, size_t len)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%s", test_tmpdir (), name);
    for (char *p = path + strlen (test_tmpdir ()) + 1; (p = strchr (p, '/')); p++) {
        *p = '\0';
        mkdir (path, 0700);
        *p = '/';
    }
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    assert_int_equal (fwrite (content, 1, len, f), len);
    assert_int_equal (fclose (f), 0);
    return path;
}

static const char *
s_text_file (const char *name, const char *content)
{
    return s_file (name, content, strlen (content));
}

/* Loads content as <tmpdir>/<name> and expects err; why must name the file
   and hold want (when not NULL). */
static void
s_expect (const char *name, const char *content, wd_err_t err, const char *want)
{
    const char *path = s_text_file (name, content);
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = (wd_config_t *)1;
    wd_err_t got = wd_config_load (s_table, path, &cfg, why, sizeof why);
    if (got != err || (want && !strstr (why, want)) || !strstr (why, path))
        fail_msg ("%s: got %s (%s), want %s with \"%s\"", content, wd_err_name (got), why,
                  wd_err_name (err), want ? want : "");
    assert_null (cfg);
}

static void
test_defaults (void **state)
{
    (void)state;
    wd_config_t *cfg = wd_config_new (s_table);
    assert_non_null (cfg);
    assert_null (wd_config_str (cfg, "node/name"));
    assert_int_equal (wd_config_uint (cfg, "node/port"), 7400);
    assert_string_equal (wd_config_str (cfg, "node/state"), "/var/lib/warden");
    assert_string_equal (wd_config_str (cfg, "log/level"), "info");
    assert_false (wd_config_bool (cfg, "log/syslog"));
    assert_int_equal (wd_config_uint (cfg, "attest/interval"), 5000);
    wd_config_destroy (&cfg);
    assert_null (cfg);
    wd_config_destroy (&cfg);

    /* an empty file (and no conf.d) gives the defaults */
    char why[WD_CONFIG_WHY_MAX];
    const char *path = s_text_file ("defaults/warden.conf", "# nothing set\n\n");
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
    assert_int_equal (wd_config_uint (cfg, "node/port"), 7400);
    assert_null (wd_config_str (cfg, "node/group"));
    wd_config_destroy (&cfg);

    /* loading went through czmq without zsys_init's signal handlers */
    struct sigaction sa;
    assert_int_equal (sigaction (SIGINT, NULL, &sa), 0);
    assert_true (sa.sa_handler == SIG_DFL);
    assert_int_equal (sigaction (SIGTERM, NULL, &sa), 0);
    assert_true (sa.sa_handler == SIG_DFL);
}

static void
test_valid_values (void **state)
{
    (void)state;
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    const char *path =
        s_text_file ("valid/warden.conf", "# a comment\n"
                                          "node\n"
                                          "    name = \"alpha one\"   # quoted keeps spaces\n"
                                          "    port = 65535\n"
                                          "    state = /srv/warden state\n"
                                          "    group='wheel\"s'\n"
                                          "log\n"
                                          "    level = debug\n"
                                          "    syslog = true\n"
                                          "attest\n"
                                          "    interval = 2m\r\n");
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
    assert_string_equal (wd_config_str (cfg, "node/name"), "alpha one");
    assert_int_equal (wd_config_uint (cfg, "node/port"), 65535);
    assert_string_equal (wd_config_str (cfg, "node/state"), "/srv/warden state");
    assert_string_equal (wd_config_str (cfg, "node/group"), "wheel\"s");
    assert_string_equal (wd_config_str (cfg, "log/level"), "debug");
    assert_true (wd_config_bool (cfg, "log/syslog"));
    assert_int_equal (wd_config_uint (cfg, "attest/interval"), 120000);
    wd_config_destroy (&cfg);

    /* bounds and units, and the "section/name" spelling at top level */
    static const struct {
        const char *text;
        uint64_t ms;
    } durations[] = {
        { "100ms", 100 }, { "500ms", 500 }, { "1s", 1000 }, { "60m", 3600000 }, { "1h", 3600000 }
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        char text[128];
        snprintf (text, sizeof text, "attest/interval = %s\nnode/port = 1\nlog/syslog = false\n",
                  durations[i].text);
        path = s_text_file ("valid/warden.conf", text);
        assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
        assert_int_equal (wd_config_uint (cfg, "attest/interval"), durations[i].ms);
        assert_int_equal (wd_config_uint (cfg, "node/port"), 1);
        assert_false (wd_config_bool (cfg, "log/syslog"));
        wd_config_destroy (&cfg);
    }

    /* an empty section is fine */
    path = s_text_file ("valid/warden.conf", "log\nnode\n    name = b\n");
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
    assert_string_equal (wd_config_str (cfg, "node/name"), "b");
    wd_config_destroy (&cfg);
}

static void
test_invalid_values (void **state)
{
    (void)state;
    static const struct {
        const char *content;
        const char *want;
    } cases[] = {
        { "node\n    port = 0\n", "key 'node/port' must be an integer from 1 to 65535, not '0'" },
        { "node\n    port = 70000\n", "key 'node/port' must be an integer from 1 to 65535, not "
                                      "'70000'" },
        { "node\n    port = 0080\n", "not '0080'" },
        { "node\n    port = -1\n", "not '-1'" },
        { "node\n    port = 12ab\n", "not '12ab'" },
        { "node\n    port = 99999999999999999999999\n", "key 'node/port'" },
        { "node\n    port\n", "key 'node/port' must be an integer from 1 to 65535, not ''" },
        { "node\n    name = \"\"\n",
          "key 'node/name' must be a string of 1 to 64 printable characters, not ''" },
        { "node\n    name = "
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
          "key 'node/name' must be a string of 1 to 64 printable characters" },
        { "node\n    name = \"tab\there\"\n", "not 'tab?here'" },
        { "node\n    name = caf\xc3\xa9\n", "key 'node/name'" },
        { "node\n    name = it's \"both\"\n", "key 'node/name' must not hold both ' and \"" },
        { "node\n    state = var/lib\n",
          "key 'node/state' must be an absolute path, not 'var/lib'" },
        { "node\n    state = \"\"\n", "key 'node/state' must be an absolute path" },
        { "node\n    state = /bad\x01path\n", "key 'node/state' must be an absolute path" },
        { "node\n    state = /bad\xff\n", "key 'node/state' must be an absolute path" },
        { "log\n    level = verbose\n",
          "key 'log/level' must be one of debug|info|warning|error, not 'verbose'" },
        { "log\n    level = Info\n", "not 'Info'" },
        { "log\n    level = \"\"\n", "key 'log/level' must be one of" },
        { "log\n    syslog = yes\n", "key 'log/syslog' must be true or false, not 'yes'" },
        { "log\n    syslog = TRUE\n", "not 'TRUE'" },
        { "log\n    syslog = 1\n", "not '1'" },
        { "attest\n    interval = 50ms\n",
          "key 'attest/interval' must be a duration such as 500ms, 5s, 2m or 1h between 100ms "
          "and 1h, not '50ms'" },
        { "attest\n    interval = 2h\n", "not '2h'" },
        { "attest\n    interval = 61m\n", "not '61m'" },
        { "attest\n    interval = 5\n", "not '5'" },
        { "attest\n    interval = 5x\n", "not '5x'" },
        { "attest\n    interval = 1.5s\n", "not '1.5s'" },
        { "attest\n    interval = 5 s\n", "not '5 s'" },
        { "attest\n    interval = 05s\n", "not '05s'" },
        { "attest\n    interval = 9999999999999999999h\n", "key 'attest/interval'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect ("invalid/warden.conf", cases[i].content, WD_ERR_CONFIG_VALUE, cases[i].want);

    /* the reason is exactly "<file>: <reason>" */
    const char *path = s_text_file ("invalid/warden.conf", "log\n    level = verbose\n");
    char want[600], why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_ERR_CONFIG_VALUE);
    snprintf (want, sizeof want,
              "%s: key 'log/level' must be one of debug|info|warning|error, not 'verbose'", path);
    assert_string_equal (why, want);
}

static void
test_unknown_keys (void **state)
{
    (void)state;
    const char *path = s_text_file ("unknown/warden.conf", "node\n    nmae = x\n");
    char want[600], why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_ERR_CONFIG_KEY);
    snprintf (want, sizeof want, "%s: unknown key 'node/nmae'", path);
    assert_string_equal (why, want);
    assert_null (cfg);

    s_expect ("unknown/warden.conf", "nod\n    name = x\n", WD_ERR_CONFIG_KEY,
              "unknown key 'nod/name'");
    s_expect ("unknown/warden.conf", "verbose = 1\n", WD_ERR_CONFIG_KEY, "unknown key 'verbose'");
    s_expect ("unknown/warden.conf", "node\n    name = a\n    extra\n", WD_ERR_CONFIG_KEY,
              "unknown key 'node/extra'");
    /* a value on a section, children under a key, a key given twice */
    s_expect ("unknown/warden.conf", "node = x\n    name = a\n", WD_ERR_CONFIG_KEY,
              "section 'node' cannot have a value");
    s_expect ("unknown/warden.conf", "node = x\n", WD_ERR_CONFIG_KEY,
              "'node' is a section, not a key");
    s_expect ("unknown/warden.conf", "node\n    name = a\n        sub = 1\n", WD_ERR_CONFIG_KEY,
              "key 'node/name' cannot hold other keys");
    s_expect ("unknown/warden.conf", "node\n    name = a\n    name = b\n", WD_ERR_CONFIG_KEY,
              "key 'node/name' is given twice");
    s_expect ("unknown/warden.conf", "node/name = a\nnode\n    name = b\n", WD_ERR_CONFIG_KEY,
              "key 'node/name' is given twice");

    /* a section may appear twice; its keys merge */
    path = s_text_file ("unknown/warden.conf", "node\n    name = a\nlog\nnode\n    port = 9\n");
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
    assert_string_equal (wd_config_str (cfg, "node/name"), "a");
    assert_int_equal (wd_config_uint (cfg, "node/port"), 9);
    wd_config_destroy (&cfg);
}

static void
test_syntax_errors (void **state)
{
    (void)state;
    static const struct {
        const char *content;
        const char *want;
    } cases[] = {
        { "node\n   name = x\n", ":2: indent 4 spaces at once" },
        { "  # an indented comment must also use 4 spaces\n", ":1: indent 4 spaces at once" },
        { "node\n        name = x\n", ":2: indentation error" },
        { "# c\n\nnode\n    name = \"abc\n", ":4: missing \"" },
        { "node\n    name = 'abc\n", ":2: missing '" },
        { "node\n    name = \"a\" junk\n", ":2: invalid syntax 'junk'" },
        { "node junk\n", ":1: invalid syntax 'junk'" },
        { "node : x\n", ":1: invalid syntax ': x'" },
        { "\tnode\n", ":1: invalid syntax 'node'" },
        { "/node = 1\n", ":1: '/' not valid at name start or end" },
        { "node/ = 1\n", ":1: '/' not valid at name start or end" },
    };
    /* zconfig prints its own complaints on stdout: nothing may reach it
       while wd_config loads, and each case must also be refused by zconfig
       itself (with stdout sent to /dev/null) */
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    char capture[512];
    snprintf (capture, sizeof capture, "%s", s_text_file ("syntax/stdout", ""));
    int fd = open (capture, O_WRONLY | O_TRUNC);
    assert_true (saved >= 0 && fd >= 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dup2 (fd, STDOUT_FILENO);
        s_expect ("syntax/warden.conf", cases[i].content, WD_ERR_CONFIG_SYNTAX, cases[i].want);
        fflush (stdout);
        int null_fd = open ("/dev/null", O_WRONLY);
        dup2 (null_fd, STDOUT_FILENO);
        close (null_fd);
        zconfig_t *z = zconfig_str_load (cases[i].content);
        fflush (stdout);
        dup2 (saved, STDOUT_FILENO);
        if (z)
            fail_msg ("zconfig accepts %s", cases[i].content);
    }
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    close (fd);
    struct stat st;
    assert_int_equal (stat (capture, &st), 0);
    assert_int_equal (st.st_size, 0);

    /* a NUL byte would make zconfig drop the rest of its line */
    const char *path = s_file ("syntax/warden.conf", "node\n    name = a\0b\n", 18);
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_ERR_CONFIG_SYNTAX);
    assert_non_null (strstr (why, ":2: line holds a NUL byte"));
    assert_non_null (strstr (why, path));
}

static void
test_confd_order (void **state)
{
    (void)state;
    const char *path =
        s_text_file ("confd/warden.conf", "node\n    name = main\n    port = 1000\n");
    char main_path[512];
    snprintf (main_path, sizeof main_path, "%s", path);
    s_text_file ("confd/conf.d/20-b.conf", "node\n    port = 3000\n");
    s_text_file ("confd/conf.d/10-a.conf", "node\n    port = 2000\nlog\n    level = debug\n");
    /* skipped: dotfiles, other suffixes, directories */
    s_text_file ("confd/conf.d/.99-hidden.conf", "this is :: not ZPL\n");
    s_text_file ("confd/conf.d/30-notes.txt", "this is :: not ZPL\n");
    s_text_file ("confd/conf.d/40-dir.conf/x", "x");
    /* a symlink to a regular file counts */
    s_text_file ("confd/shared.txt", "log\n    syslog = true\n");
    char link[600];
    snprintf (link, sizeof link, "%s/confd/conf.d/15-link.conf", test_tmpdir ());
    assert_int_equal (symlink ("../shared.txt", link), 0);

    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    assert_int_equal (wd_config_load (s_table, main_path, &cfg, why, sizeof why), WD_OK);
    assert_string_equal (wd_config_str (cfg, "node/name"), "main");
    assert_int_equal (wd_config_uint (cfg, "node/port"), 3000);
    assert_string_equal (wd_config_str (cfg, "log/level"), "debug");
    assert_true (wd_config_bool (cfg, "log/syslog"));
    wd_config_destroy (&cfg);

    /* an error in a conf.d file names that file */
    const char *bad = s_text_file ("confd/conf.d/50-bad.conf", "node\n    port = 0\n");
    char bad_path[512];
    snprintf (bad_path, sizeof bad_path, "%s", bad);
    assert_int_equal (wd_config_load (s_table, main_path, &cfg, why, sizeof why),
                      WD_ERR_CONFIG_VALUE);
    assert_null (cfg);
    assert_non_null (strstr (why, bad_path));
    assert_non_null (strstr (why, "node/port"));
}

static void
test_missing_file (void **state)
{
    (void)state;
    char path[512], want[600], why[WD_CONFIG_WHY_MAX];
    snprintf (path, sizeof path, "%s/missing/warden.conf", test_tmpdir ());
    wd_config_t *cfg = (wd_config_t *)1;
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_ERR_NOT_FOUND);
    assert_null (cfg);
    snprintf (want, sizeof want, "%s: no such file", path);
    assert_string_equal (why, want);

    /* a directory is not a configuration file (zconfig_load would take it
       as an empty one) */
    assert_int_equal (wd_config_load (s_table, test_tmpdir (), &cfg, why, sizeof why), WD_ERR_IO);
    assert_non_null (strstr (why, "not a regular file"));
}

static void
test_set (void **state)
{
    (void)state;
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = wd_config_new (s_table);
    assert_int_equal (wd_config_set (cfg, "node/port", "8080", why, sizeof why), WD_OK);
    assert_int_equal (wd_config_uint (cfg, "node/port"), 8080);
    assert_int_equal (wd_config_set (cfg, "node/port", "x", why, sizeof why), WD_ERR_CONFIG_VALUE);
    assert_string_equal (why, "key 'node/port' must be an integer from 1 to 65535, not 'x'");
    assert_int_equal (wd_config_uint (cfg, "node/port"), 8080);
    assert_int_equal (wd_config_set (cfg, "node/nmae", "x", why, sizeof why), WD_ERR_CONFIG_KEY);
    assert_string_equal (why, "unknown key 'node/nmae'");
    assert_int_equal (wd_config_set (cfg, "node/name", "b", why, sizeof why), WD_OK);
    assert_string_equal (wd_config_str (cfg, "node/name"), "b");
    wd_config_destroy (&cfg);
}

static wd_config_t *
s_sample (void)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    const char *path = s_text_file ("sample/warden.conf", "node\n"
                                                          "    name = alpha\n"
                                                          "    port = 7400\n"
                                                          "    group = 'it\"s'\n"
                                                          "log\n"
                                                          "    level = warning\n"
                                                          "attest\n"
                                                          "    interval = 250ms\n");
    assert_int_equal (wd_config_load (s_table, path, &cfg, why, sizeof why), WD_OK);
    return cfg;
}

/* Every key's text form: getters of the right type, as one string. */
static void
s_describe (const wd_config_t *cfg, char *out, size_t size)
{
    snprintf (out, size, "%s|%llu|%s|%s|%d|%llu|%s",
              wd_config_str (cfg, "node/name") ? wd_config_str (cfg, "node/name") : "(unset)",
              (unsigned long long)wd_config_uint (cfg, "node/port"),
              wd_config_str (cfg, "node/state"), wd_config_str (cfg, "log/level"),
              wd_config_bool (cfg, "log/syslog"),
              (unsigned long long)wd_config_uint (cfg, "attest/interval"),
              wd_config_str (cfg, "node/group") ? wd_config_str (cfg, "node/group") : "(unset)");
}

static void
test_pack_unpack (void **state)
{
    (void)state;
    wd_config_t *cfg = s_sample ();
    size_t len;
    uint8_t *buf = wd_config_pack (cfg, &len);
    assert_non_null (buf);
    assert_int_equal (wd_codec_check (buf, len, 4096, NULL), WD_OK);

    /* every set key, in byte order */
    wd_reader_t r;
    size_t count;
    char text[64];
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    assert_int_equal (count, 7);
    static const char *const keys[] = { "attest/interval", "log/level", "log/syslog", "node/group",
                                        "node/name",       "node/port", "node/state" };
    static const char *const values[] = { "250ms", "warning", "false",          "it\"s",
                                          "alpha", "7400",    "/var/lib/warden" };
    for (size_t i = 0; i < 7; i++) {
        wd_read_key (&r, keys[i]);
        wd_read_cstr (&r, text, sizeof text);
        assert_string_equal (text, values[i]);
    }
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_OK);

    char why[WD_CONFIG_WHY_MAX], a[512], b[512];
    wd_config_t *copy = NULL;
    assert_int_equal (wd_config_unpack (s_table, buf, len, &copy, why, sizeof why), WD_OK);
    s_describe (cfg, a, sizeof a);
    s_describe (copy, b, sizeof b);
    assert_string_equal (a, b);
    size_t len2;
    uint8_t *buf2 = wd_config_pack (copy, &len2);
    assert_int_equal (len2, len);
    assert_memory_equal (buf2, buf, len);
    free (buf2);
    wd_config_destroy (&copy);
    free (buf);

    /* an unset key is absent, not empty */
    wd_config_t *fresh = wd_config_new (s_table);
    buf = wd_config_pack (fresh, &len);
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    assert_int_equal (count, 5);
    free (buf);
    wd_config_destroy (&fresh);
    wd_config_destroy (&cfg);
}

static void
test_unpack_rejects (void **state)
{
    (void)state;
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = (wd_config_t *)1;
    size_t len;
    const uint8_t *data;
    wd_writer_t *w = wd_writer_new ();

    /* unknown keys: between, before and after the table's keys */
    static const char *const unknown[] = { "node/nmae", "aaa", "zzz" };
    for (size_t i = 0; i < 3; i++) {
        wd_writer_reset (w);
        const char *a = "node/name", *b = unknown[i];
        if (strcmp (a, b) > 0)
            a = unknown[i], b = "node/name";
        wd_writer_map (w, 2);
        wd_writer_key (w, a);
        wd_writer_cstr (w, "x");
        wd_writer_key (w, b);
        wd_writer_cstr (w, "y");
        data = wd_writer_data (w, &len);
        assert_int_equal (wd_config_unpack (s_table, data, len, &cfg, why, sizeof why),
                          WD_ERR_CONFIG_KEY);
        assert_null (cfg);
        char want[128];
        snprintf (want, sizeof want, "packed configuration: unknown key '%s'", unknown[i]);
        assert_string_equal (why, want);
    }

    /* a value of the wrong form, and of the wrong msgpack type */
    wd_writer_reset (w);
    wd_writer_map (w, 1);
    wd_writer_key (w, "node/port");
    wd_writer_cstr (w, "0");
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_config_unpack (s_table, data, len, &cfg, why, sizeof why),
                      WD_ERR_CONFIG_VALUE);
    assert_string_equal (why, "packed configuration: key 'node/port' must be an integer from 1 "
                              "to 65535, not '0'");
    wd_writer_reset (w);
    wd_writer_map (w, 1);
    wd_writer_key (w, "node/port");
    wd_writer_uint (w, 80);
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_config_unpack (s_table, data, len, &cfg, why, sizeof why),
                      WD_ERR_WRONG_TYPE);
    wd_writer_reset (w);
    wd_writer_array (w, 0);
    data = wd_writer_data (w, &len);
    assert_int_equal (wd_config_unpack (s_table, data, len, &cfg, why, sizeof why),
                      WD_ERR_WRONG_TYPE);
    wd_writer_destroy (&w);

    /* not canonical: keys out of order, a long length header for a short
       string, trailing bytes */
    const uint8_t unsorted[] = { 0x82, 0xa9, 'n',  'o', 'd',  'e',  '/', 'p', 'o',
                                 'r',  't',  0xa1, '1', 0xa9, 'n',  'o', 'd', 'e',
                                 '/',  'n',  'a',  'm', 'e',  0xa1, 'a' };
    assert_int_equal (wd_config_unpack (s_table, unsorted, sizeof unsorted, &cfg, why, sizeof why),
                      WD_ERR_KEYS_UNSORTED);
    assert_non_null (strstr (why, "packed configuration"));
    const uint8_t longlen[] = { 0x81, 0xd9, 9,   'n', 'o', 'd',  'e',
                                '/',  'p',  'o', 'r', 't', 0xa1, '1' };
    assert_int_equal (wd_config_unpack (s_table, longlen, sizeof longlen, &cfg, why, sizeof why),
                      WD_ERR_LEN_NONCANONICAL);
    const uint8_t trailing[] = { 0x80, 0x00 };
    assert_int_equal (wd_config_unpack (s_table, trailing, sizeof trailing, &cfg, why, sizeof why),
                      WD_ERR_TRAILING);
    assert_null (cfg);
}

static void
test_write_roundtrip (void **state)
{
    (void)state;
    wd_config_t *cfg = s_sample ();
    char path[512], why[WD_CONFIG_WHY_MAX];
    snprintf (path, sizeof path, "%s/write/warden.conf", test_tmpdir ());
    s_text_file ("write/warden.conf", "");
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    assert_int_equal (wd_config_write (cfg, f), 0);
    assert_int_equal (fclose (f), 0);

    /* the text: help lines, quoted values, defaults commented out */
    char text[4096];
    f = fopen (path, "r");
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text[n] = '\0';
    assert_int_equal (text[0], '#');
    assert_non_null (strstr (text, "\nnode\n    # this node's name\n    name = \"alpha\"\n"));
    assert_non_null (strstr (text, "    # listen port\n    # port = \"7400\"\n"));
    assert_non_null (strstr (text, "    group = 'it\"s'\n"));
    assert_non_null (strstr (text, "\nlog\n    # log level\n    level = \"warning\"\n"));
    assert_non_null (strstr (text, "    # syslog = \"false\"\n"));
    assert_non_null (
        strstr (text, "\nattest\n    # challenge interval\n    interval = \"250ms\"\n"));
    /* node/group comes after node/state although the table lists it last */
    assert_true (strstr (text, "group =") < strstr (text, "\nlog\n"));

    wd_config_t *back = NULL;
    assert_int_equal (wd_config_load (s_table, path, &back, why, sizeof why), WD_OK);
    char a[512], b[512];
    s_describe (cfg, a, sizeof a);
    s_describe (back, b, sizeof b);
    assert_string_equal (a, b);
    size_t len1, len2;
    uint8_t *p1 = wd_config_pack (cfg, &len1), *p2 = wd_config_pack (back, &len2);
    assert_int_equal (len1, len2);
    assert_memory_equal (p1, p2, len1);
    free (p1);
    free (p2);
    wd_config_destroy (&back);

    /* an all-default configuration writes every key commented out */
    wd_config_t *fresh = wd_config_new (s_table);
    f = fopen (path, "w");
    assert_int_equal (wd_config_write (fresh, f), 0);
    fclose (f);
    assert_int_equal (wd_config_load (s_table, path, &back, why, sizeof why), WD_OK);
    s_describe (fresh, a, sizeof a);
    s_describe (back, b, sizeof b);
    assert_string_equal (a, b);
    wd_config_destroy (&back);
    wd_config_destroy (&fresh);
    wd_config_destroy (&cfg);

    /* a write error is reported */
    f = fopen ("/dev/full", "w");
    if (f) {
        cfg = wd_config_new (s_table);
        assert_int_equal (wd_config_write (cfg, f), -1);
        fclose (f);
        wd_config_destroy (&cfg);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_defaults),        cmocka_unit_test (test_valid_values),
        cmocka_unit_test (test_invalid_values),  cmocka_unit_test (test_unknown_keys),
        cmocka_unit_test (test_syntax_errors),   cmocka_unit_test (test_confd_order),
        cmocka_unit_test (test_missing_file),    cmocka_unit_test (test_set),
        cmocka_unit_test (test_pack_unpack),     cmocka_unit_test (test_unpack_rejects),
        cmocka_unit_test (test_write_roundtrip),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
