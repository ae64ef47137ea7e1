/*
 * Unit tests for node_pxe: the pxe/... settings, the served-record and
 * boot-token message bodies, the measurement name, and the seccomp filter
 * (applied in a forked process: what it allows still works, a forbidden
 * system call kills the process with SIGSYS — or, in sanitizer builds,
 * fails with EPERM).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "node_config.h"
#include "node_pxe.h"
#include "test_support.h"
#include "wd_codec.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif

static wd_config_t *
s_config (const char *const *pairs)
{
    wd_config_t *cfg = wd_config_new (node_config_table);
    assert_non_null (cfg);
    char why[WD_CONFIG_WHY_MAX];
    assert_int_equal (wd_config_set (cfg, "node/state", "/var/lib/w", why, sizeof why), WD_OK);
    for (size_t i = 0; pairs[i]; i += 2)
        assert_int_equal (wd_config_set (cfg, pairs[i], pairs[i + 1], why, sizeof why), WD_OK);
    return cfg;
}

static void
test_settings (void **state)
{
    (void)state;
    char why[WD_CONFIG_WHY_MAX];
    node_pxe_settings_t s;

    /* Disabled: nothing required, paths from the state directory. */
    wd_config_t *cfg = s_config ((const char *const[]){ NULL });
    assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_OK);
    assert_false (s.enable);
    assert_string_equal (s.boot_dir, "/var/lib/w/boot");
    assert_string_equal (s.manifest, "/var/lib/w/boot.manifest");
    assert_string_equal (s.lease_file, "/var/lib/w/dhcp.leases");
    wd_config_destroy (&cfg);

    /* Enabled without an address. */
    cfg = s_config ((const char *const[]){ "pxe/enable", "true", NULL });
    assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_ERR_CONFIG_VALUE);
    assert_non_null (strstr (why, "pxe/address"));
    wd_config_destroy (&cfg);

    /* Full mode needs a pool or reservations. */
    cfg = s_config ((const char *const[]){ "pxe/enable", "true", "pxe/address", "10.0.0.1", NULL });
    assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_ERR_CONFIG_VALUE);
    wd_config_destroy (&cfg);

    /* A complete full-mode link. */
    cfg = s_config ((const char *const[]){
        "pxe/enable", "true", "pxe/address", "10.0.0.1", "pxe/pool", "10.0.0.100-10.0.0.150",
        "pxe/hosts", "52:54:00:aa:00:01=10.0.0.50=compute1, 52:54:00:aa:00:02=10.0.0.51",
        "pxe/http_port", "8080", NULL });
    assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_OK);
    assert_true (s.enable);
    assert_false (s.proxy);
    assert_int_equal (s.host_count, 2);
    assert_int_equal (s.hosts[0].mac[5], 1);
    assert_string_equal (s.hosts[0].hostname, "compute1");
    assert_string_equal (s.hosts[1].hostname, "");
    assert_int_equal (ntohl (s.pool_last.s_addr) & 0xff, 150);
    assert_int_equal (s.http_port, 8080);
    assert_int_equal (s.lease_seconds, 3600);
    assert_string_equal (s.attest_endpoint, "tcp://10.0.0.1:7420");
    wd_config_destroy (&cfg);

    /* The attestation server's listening endpoint, wildcard replaced. */
    cfg = s_config ((const char *const[]){ "pxe/enable", "true", "pxe/address", "10.0.0.1",
                                           "pxe/mode", "proxy", "attest/listen",
                                           "tcp://0.0.0.0:7555", NULL });
    assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_OK);
    assert_true (s.proxy);
    assert_string_equal (s.attest_endpoint, "tcp://10.0.0.1:7555");
    wd_config_destroy (&cfg);

    /* Malformed values, each named. */
    static const char *const bad[][2] = {
        { "pxe/hosts", "52:54:00:aa:00=10.0.0.5" },
        { "pxe/hosts", "52:54:00:aa:00:01" },
        { "pxe/pool", "10.0.0.100.10.0.0.150" },
        { "pxe/router", "10.0.0.256" },
        { "pxe/attest_key", "zz00000000000000000000000000000000000000000000000000000000000000" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = s_config ((const char *const[]){ "pxe/enable", "true", "pxe/address", "10.0.0.1",
                                               "pxe/mode", "proxy", bad[i][0], bad[i][1], NULL });
        assert_int_equal (node_pxe_settings (cfg, &s, why, sizeof why), WD_ERR_CONFIG_VALUE);
        assert_non_null (strstr (why, bad[i][0]));
        wd_config_destroy (&cfg);
    }
}

static void
test_served_body (void **state)
{
    (void)state;
    pxe_served_record_t rec = {
        .bytes = 300000, .whole = true, .approved = true, .time = 1700000000
    };
    snprintf (rec.protocol, sizeof rec.protocol, "tftp");
    snprintf (rec.file, sizeof rec.file, "vmlinuz");
    snprintf (rec.client, sizeof rec.client, "10.0.0.50");
    memset (rec.sha256, 0xab, 32);
    memset (rec.approved_sha256, 0xab, 32);
    for (int with_mac = 0; with_mac < 2; with_mac++) {
        rec.has_mac = with_mac;
        memcpy (rec.mac, "\x52\x54\x00\xaa\x00\x01", 6);
        size_t len;
        uint8_t *body = node_pxe_encode_served (&rec, with_mac, &len);
        assert_int_equal (wd_codec_check (body, len, 4096, NULL), WD_OK);
        pxe_served_record_t back;
        bool complete;
        assert_int_equal (node_pxe_decode_served (body, len, &back, &complete), WD_OK);
        assert_int_equal (complete, with_mac);
        assert_int_equal (back.has_mac, with_mac);
        assert_string_equal (back.file, "vmlinuz");
        assert_string_equal (back.client, "10.0.0.50");
        assert_int_equal (back.bytes, 300000);
        assert_int_equal (back.time, 1700000000);
        assert_memory_equal (back.sha256, rec.sha256, 32);
        char name[512];
        node_pxe_measure_name (&back, name, sizeof name);
        assert_string_equal (name,
                             with_mac ? "pxe:52-54-00-aa-00-01:vmlinuz" : "pxe:10.0.0.50:vmlinuz");
        /* Every truncation is refused with a reason. */
        for (size_t cut = 0; cut < len; cut++) {
            pxe_served_record_t junk;
            assert_int_not_equal (node_pxe_decode_served (body, cut, &junk, &complete), WD_OK);
        }
        free (body);
    }
}

static void
test_token_body (void **state)
{
    (void)state;
    uint8_t token[PXE_IMAGES_TOKEN_LEN], back[PXE_IMAGES_TOKEN_LEN];
    for (size_t i = 0; i < sizeof token; i++)
        token[i] = (uint8_t)i;
    size_t len;
    uint8_t *body = node_pxe_encode_token (token, "compute1", &len);
    char host[64];
    assert_int_equal (node_pxe_decode_token (body, len, back, host), WD_OK);
    assert_memory_equal (back, token, sizeof token);
    assert_string_equal (host, "compute1");
    assert_int_equal (node_pxe_decode_token (body, len - 1, back, host), WD_ERR_TRUNCATED);
    free (body);
}

/* In a forked child: apply the filter, check an allowed call, then make a
   forbidden one. Exit codes: 10 the filter failed to load, 11 an allowed
   call failed, 12 the forbidden call failed with EPERM, 13 it succeeded. */
static int
s_filtered_child (void)
{
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || node_pxe_seccomp () != 0)
        return 10;
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || close (fd) != 0 || getpid () <= 0)
        return 11;
    char *const argv[] = { "true", NULL };
    execv ("/bin/true", argv);
    return errno == EPERM ? 12 : 13;
}

static void
test_seccomp (void **state)
{
    (void)state;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0)
        _exit (s_filtered_child ());
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
#ifdef SANITIZED
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 12);
#else
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGSYS);
#endif
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_settings),
        cmocka_unit_test (test_served_body),
        cmocka_unit_test (test_token_body),
        cmocka_unit_test (test_seccomp),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
