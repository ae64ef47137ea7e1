/*
 * Unit tests for pxe_images: the manifest parser and its exact rejection
 * reasons, approvals, verification into sealed memfds (a file changed on
 * disk after verification is refused, never served, and a copy already
 * handed out keeps the verified bytes), path escapes, size limits, the
 * per-boot script with its one-time tokens, and served-file records.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pxe_images.h"
#include "test_support.h"
#include "wd_hash.h"

static const char *
s_hex (const uint8_t sha[32])
{
    static char hex[65];
    wd_hex_encode (hex, sha, 32);
    return hex;
}

static void
s_sha (const void *data, size_t len, uint8_t out[32])
{
    wd_hash_sha256 (out, data, len);
}

/* ---- manifest ---------------------------------------------------------------------------- */

static int
s_collect (void *arg, pxe_image_role_t role, const char *name, const uint8_t sha256[32])
{
    char *out = arg;
    size_t n = strlen (out);
    snprintf (out + n, 1024 - n, "%s:%s:%.8s;", pxe_image_role_name (role), name, s_hex (sha256));
    return 0;
}

static void
test_manifest_valid (void **state)
{
    (void)state;
    const char *text =
        "# boot set\n"
        "\n"
        "script\tboot.ipxe  0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
        "  kernel /vmlinuz 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n"
        "initrd sub/initrd.img aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "ipxe undionly.kpxe bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
        "file extra cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    char got[1024] = "";
    size_t line = 99;
    assert_int_equal (pxe_images_manifest_parse (text, strlen (text), s_collect, got, &line), 0);
    assert_int_equal (line, 0);
    assert_string_equal (got, "script:boot.ipxe:01234567;kernel:vmlinuz:01234567;"
                              "initrd:sub/initrd.img:aaaaaaaa;ipxe:undionly.kpxe:bbbbbbbb;"
                              "file:extra:cccccccc;");
    assert_int_equal (pxe_images_manifest_parse ("", 0, NULL, NULL, NULL), 0);
}

#define S_H63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define S_H   S_H63 "f"

static void
test_manifest_rejects (void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int want;
    } cases[] = {
        { "kernel vmlinuz", PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel", PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel vmlinuz " S_H " extra", PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel vmlinuz " S_H63, PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel vmlinuz " S_H "0", PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel vmlinuz g" S_H63, PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "kernel vm\001linuz " S_H, PXE_ERR_IMAGE_MANIFEST_SYNTAX },
        { "Kernel vmlinuz " S_H, PXE_ERR_IMAGE_ROLE },
        { "bios vmlinuz " S_H, PXE_ERR_IMAGE_ROLE },
        { "kernel ../vmlinuz " S_H, PXE_ERR_PATH_DOTDOT },
        { "kernel a/../../b " S_H, PXE_ERR_PATH_DOTDOT },
        { "kernel //etc/passwd " S_H, PXE_ERR_PATH_ABSOLUTE },
        { "kernel / " S_H, PXE_ERR_PATH_NAME },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[256];
        snprintf (text, sizeof text, "# ok\nfile ok %s\n%s", S_H, cases[i].line);
        size_t line = 0;
        int rc = pxe_images_manifest_parse (text, strlen (text), NULL, NULL, &line);
        if (rc != cases[i].want)
            fail_msg ("case %zu (%s): %s, want %s", i, cases[i].line, pxe_err_name (rc),
                      pxe_err_name (cases[i].want));
        assert_int_equal (line, 3);
    }
    char longline[PXE_IMAGES_LINE_MAX + 2];
    memset (longline, ' ', sizeof longline);
    assert_int_equal (pxe_images_manifest_parse (longline, sizeof longline, NULL, NULL, NULL),
                      PXE_ERR_IMAGE_MANIFEST_SYNTAX);
}

/* ---- a set on disk ----------------------------------------------------------------------- */

static char s_root[512];
static uint8_t s_kernel[100000], s_initrd[5000];
static const char s_template[] = "#!ipxe\n"
                                 "kernel {{base_url}}/{{kernel}} {{cmdline}} quiet\n"
                                 "initrd {{base_url}}/{{initrd}}\n"
                                 "echo {{server}} {{server_key}} {{token}} {{client}} {x} {\n"
                                 "boot\n";

static void
s_make_root (const char *name)
{
    snprintf (s_root, sizeof s_root, "%s/%s", test_tmpdir (), name);
    assert_int_equal (mkdir (s_root, 0755), 0);
    for (size_t i = 0; i < sizeof s_kernel; i++)
        s_kernel[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof s_initrd; i++)
        s_initrd[i] = (uint8_t)(i * 13 + 1);
    test_write_file (s_root, "vmlinuz", s_kernel, sizeof s_kernel);
    test_write_file (s_root, "initrd.img", s_initrd, sizeof s_initrd);
    test_write_file (s_root, "boot.ipxe", s_template, strlen (s_template));
    test_write_file (s_root, "other", "x", 1);
}

static pxe_images_t *
s_new_set (const pxe_images_config_t *config)
{
    int fd = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (fd >= 0);
    pxe_images_t *set = pxe_images_new (fd, config);
    assert_non_null (set);
    uint8_t sha[32];
    s_sha (s_template, strlen (s_template), sha);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_SCRIPT, "boot.ipxe", sha), 0);
    s_sha (s_kernel, sizeof s_kernel, sha);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_KERNEL, "/vmlinuz", sha), 0);
    s_sha (s_initrd, sizeof s_initrd, sha);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_INITRD, "initrd.img", sha), 0);
    return set;
}

static void
test_approve_rules (void **state)
{
    (void)state;
    s_make_root ("approve");
    pxe_images_t *set = s_new_set (NULL);
    uint8_t sha[32] = { 1 };
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_KERNEL, "other", sha),
                      PXE_ERR_IMAGE_DUPLICATE);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_FILE, "vmlinuz", sha),
                      PXE_ERR_IMAGE_DUPLICATE);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_FILE, "a/../b", sha), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_IPXE, "ipxe.efi", sha), 0);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_IPXE, "undionly.kpxe", sha), 0);
    size_t n = pxe_images_count (set);
    int rc = 0;
    for (size_t i = n; i <= PXE_IMAGES_MAX && rc == 0; i++) {
        char name[32];
        snprintf (name, sizeof name, "f%zu", i);
        rc = pxe_images_approve (set, PXE_IMAGE_FILE, name, sha);
    }
    assert_int_equal (rc, WD_ERR_OVERSIZE);
    assert_int_equal (pxe_images_count (set), PXE_IMAGES_MAX);
    pxe_images_destroy (&set);
    assert_null (set);
    pxe_images_destroy (&set);
}

static void
test_load_manifest (void **state)
{
    (void)state;
    s_make_root ("manifest");
    int fd = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    pxe_images_t *set = pxe_images_new (fd, NULL);
    char path[600], text[1024];
    uint8_t k[32], i[32], s[32];
    s_sha (s_kernel, sizeof s_kernel, k);
    s_sha (s_initrd, sizeof s_initrd, i);
    s_sha (s_template, strlen (s_template), s);
    size_t line = 0;
    snprintf (path, sizeof path, "%s/nothere", s_root);
    assert_int_equal (pxe_images_load_manifest (set, path, &line), WD_ERR_NOT_FOUND);

    /* All or nothing: the bad third line leaves the set empty. */
    int n = snprintf (text, sizeof text, "kernel vmlinuz %s\n", s_hex (k));
    n += snprintf (text + n, sizeof text - (size_t)n, "initrd initrd.img %s\n", s_hex (i));
    snprintf (text + n, sizeof text - (size_t)n, "kernel again %s\n", s_hex (i));
    test_write_file (s_root, "bad.manifest", text, strlen (text));
    snprintf (path, sizeof path, "%s/bad.manifest", s_root);
    assert_int_equal (pxe_images_load_manifest (set, path, &line), PXE_ERR_IMAGE_DUPLICATE);
    assert_int_equal (line, 3);
    assert_int_equal (pxe_images_count (set), 0);
    assert_int_equal (pxe_images_verify (set), PXE_ERR_IMAGE_INCOMPLETE);

    snprintf (text + n, sizeof text - (size_t)n, "script boot.ipxe %s\n", s_hex (s));
    test_write_file (s_root, "good.manifest", text, strlen (text));
    snprintf (path, sizeof path, "%s/good.manifest", s_root);
    assert_int_equal (pxe_images_load_manifest (set, path, &line), 0);
    assert_int_equal (pxe_images_count (set), 3);
    assert_int_equal (pxe_images_verify (set), 0);
    pxe_images_destroy (&set);
}

static void
s_read_all (int fd, uint8_t *buf, size_t len)
{
    assert_int_equal (pread (fd, buf, len, 0), (ssize_t)len);
    uint8_t extra;
    assert_int_equal (pread (fd, &extra, 1, (off_t)len), 0);
}

static void
test_sealed_copy_and_changes (void **state)
{
    (void)state;
    s_make_root ("sealed");
    pxe_images_t *set = s_new_set (NULL);
    assert_int_equal (pxe_images_verify (set), 0);

    pxe_image_file_t f;
    assert_int_equal (pxe_images_open (set, "other", NULL, NULL, &f), PXE_ERR_IMAGE_UNAPPROVED);
    assert_int_equal (pxe_images_open (set, "../vmlinuz", NULL, NULL, &f), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_images_open (set, "/vmlinuz", NULL, NULL, &f), 0);
    assert_int_equal (f.role, PXE_IMAGE_KERNEL);
    assert_string_equal (f.name, "vmlinuz");
    assert_int_equal (f.size, sizeof s_kernel);
    assert_null (f.data);
    uint8_t want[32];
    s_sha (s_kernel, sizeof s_kernel, want);
    assert_memory_equal (f.sha256, want, 32);
    assert_memory_equal (f.approved_sha256, want, 32);
    /* The copy is sealed: it can be neither written nor resized. */
    int seals = fcntl (f.fd, F_GET_SEALS);
    assert_int_equal (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                      F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    char path[600];
    snprintf (path, sizeof path, "/proc/self/fd/%d", f.fd);
    int wfd = open (path, O_RDWR);
    assert_true (wfd >= 0);
    assert_int_equal (pwrite (wfd, "x", 1, 0), -1);
    assert_int_equal (errno, EPERM);
    assert_int_equal (ftruncate (wfd, 10), -1);
    close (wfd);
    static uint8_t buf[sizeof s_kernel];
    s_read_all (f.fd, buf, sizeof buf);
    assert_memory_equal (buf, s_kernel, sizeof s_kernel);

    /* Changed in place after verification: refused with the named code;
       the copy already handed out still holds the verified bytes. */
    uint8_t bad[sizeof s_kernel];
    memcpy (bad, s_kernel, sizeof bad);
    bad[50000] ^= 1;
    test_write_file (s_root, "vmlinuz", bad, sizeof bad);
    pxe_image_file_t g;
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &g), PXE_ERR_IMAGE_DIGEST);
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &g), PXE_ERR_IMAGE_DIGEST);
    s_read_all (f.fd, buf, sizeof buf);
    assert_memory_equal (buf, s_kernel, sizeof s_kernel);
    pxe_images_file_release (&f);
    assert_int_equal (f.fd, -1);

    /* Replaced (rename) by the approved bytes: verified and served again. */
    test_write_file (s_root, "vmlinuz.new", s_kernel, sizeof s_kernel);
    char from[600], to[600];
    snprintf (from, sizeof from, "%s/vmlinuz.new", s_root);
    snprintf (to, sizeof to, "%s/vmlinuz", s_root);
    assert_int_equal (rename (from, to), 0);
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &g), 0);
    s_read_all (g.fd, buf, sizeof buf);
    assert_memory_equal (buf, s_kernel, sizeof s_kernel);
    pxe_images_file_release (&g);

    /* Gone: refused; a symlink out of the boot directory: refused. */
    assert_int_equal (unlink (to), 0);
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &g), PXE_ERR_IMAGE_MISSING);
    char outside[600];
    snprintf (outside, sizeof outside, "%s/outside-kernel", test_tmpdir ());
    test_write_file (test_tmpdir (), "outside-kernel", s_kernel, sizeof s_kernel);
    assert_int_equal (symlink (outside, to), 0);
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &g), PXE_ERR_PATH_ESCAPE);
    assert_int_equal (pxe_images_verify (set), PXE_ERR_PATH_ESCAPE);
    pxe_images_destroy (&set);
}

static void
test_limits_and_template (void **state)
{
    (void)state;
    s_make_root ("limits");
    pxe_images_config_t config = { .size_max = 50000 };
    pxe_images_t *set = s_new_set (&config);
    pxe_image_file_t f;
    assert_int_equal (pxe_images_verify (set), PXE_ERR_IMAGE_TOO_LARGE);
    assert_int_equal (pxe_images_open (set, "vmlinuz", NULL, NULL, &f), PXE_ERR_IMAGE_TOO_LARGE);
    assert_int_equal (pxe_images_open (set, "initrd.img", NULL, NULL, &f), 0);
    pxe_images_file_release (&f);
    pxe_images_destroy (&set);

    /* A template naming an unknown variable is refused at verification. */
    s_make_root ("template");
    static const char bad[] = "#!ipxe\nkernel {{kernel}} {{tokens}}\n";
    test_write_file (s_root, "boot.ipxe", bad, strlen (bad));
    int fd = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    set = pxe_images_new (fd, NULL);
    uint8_t sha[32];
    s_sha (bad, strlen (bad), sha);
    assert_int_equal (pxe_images_approve (set, PXE_IMAGE_SCRIPT, "boot.ipxe", sha), 0);
    assert_int_equal (pxe_images_open (set, "boot.ipxe", NULL, NULL, &f), PXE_ERR_IMAGE_TEMPLATE);
    pxe_images_destroy (&set);
}

static char s_token_seen[65];
static char s_token_client[64];

static void
s_on_token (void *arg, const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *client)
{
    int *count = arg;
    (*count)++;
    wd_hex_encode (s_token_seen, token, PXE_IMAGES_TOKEN_LEN);
    snprintf (s_token_client, sizeof s_token_client, "%s", client);
}

static void
test_boot_script_and_tokens (void **state)
{
    (void)state;
    s_make_root ("script");
    pxe_images_config_t config = { .tokens_max = 2 };
    pxe_images_t *set = s_new_set (&config);
    pxe_image_file_t f;
    assert_int_equal (pxe_images_open (set, "boot.ipxe", "10.0.0.2", NULL, &f),
                      PXE_ERR_IMAGE_NO_ATTEST);
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xa0 + i);
    static const char *const bad[] = {
        "tcp://",        "tcp://host",       "tcp://:80",
        "tcp://host:0",  "tcp://host:65536", "tcp://host:08",
        "udp://host:80", "tcp://ho st:80",   "tcp://host:80 warden.token=x",
        "tcp://[zz]:80", "tcp://[]:80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (pxe_images_set_attest (set, bad[i], key) != PXE_ERR_IMAGE_ENDPOINT)
            fail_msg ("endpoint %s accepted", bad[i]);
    assert_int_equal (pxe_images_set_attest (set, "tcp://[fd00::1]:7070", key), 0);
    assert_int_equal (pxe_images_set_attest (set, "tcp://node-1.lan:7070", key), 0);
    int issued = 0;
    pxe_images_set_token_fn (set, s_on_token, &issued);

    assert_int_equal (pxe_images_open (set, "boot.ipxe", "10.0.0.2", "http://10.0.0.1:8080", &f),
                      0);
    assert_int_equal (issued, 1);
    assert_string_equal (s_token_client, "10.0.0.2");
    assert_int_equal (f.fd, -1);
    assert_non_null (f.data);
    char key_hex[65];
    wd_hex_encode (key_hex, key, 32);
    char want[1024];
    snprintf (want, sizeof want,
              "#!ipxe\n"
              "kernel http://10.0.0.1:8080/vmlinuz warden.server=tcp://node-1.lan:7070 "
              "warden.server_key=%s warden.token=%s quiet\n"
              "initrd http://10.0.0.1:8080/initrd.img\n"
              "echo tcp://node-1.lan:7070 %s %s 10.0.0.2 {x} {\n"
              "boot\n",
              key_hex, s_token_seen, key_hex, s_token_seen);
    assert_int_equal (f.size, strlen (want));
    assert_memory_equal (f.data, want, f.size);
    uint8_t sha[32];
    s_sha (want, strlen (want), sha);
    assert_memory_equal (f.sha256, sha, 32);
    s_sha (s_template, strlen (s_template), sha);
    assert_memory_equal (f.approved_sha256, sha, 32);
    pxe_images_file_release (&f);
    assert_null (f.data);

    /* Each token redeems once; unknown ones never. */
    uint8_t tok1[32], tok2[32], tok3[32];
    assert_true (wd_hex_decode (tok1, sizeof tok1, s_token_seen));
    assert_int_equal (pxe_images_open (set, "boot.ipxe", NULL, NULL, &f), 0);
    pxe_images_file_release (&f);
    assert_true (wd_hex_decode (tok2, sizeof tok2, s_token_seen));
    assert_memory_not_equal (tok1, tok2, 32);
    assert_int_equal (pxe_images_token_redeem (set, tok2), 0);
    assert_int_equal (pxe_images_token_redeem (set, tok2), PXE_ERR_IMAGE_TOKEN);
    uint8_t zero[32] = { 0 };
    assert_int_equal (pxe_images_token_redeem (set, zero), PXE_ERR_IMAGE_TOKEN);
    /* Two slots: two more boots push tok1 out. */
    assert_int_equal (pxe_images_open (set, "boot.ipxe", NULL, NULL, &f), 0);
    pxe_images_file_release (&f);
    assert_true (wd_hex_decode (tok3, sizeof tok3, s_token_seen));
    assert_int_equal (pxe_images_open (set, "boot.ipxe", NULL, NULL, &f), 0);
    pxe_images_file_release (&f);
    assert_int_equal (issued, 4);
    assert_int_equal (pxe_images_token_redeem (set, tok1), PXE_ERR_IMAGE_TOKEN);
    assert_int_equal (pxe_images_token_redeem (set, tok3), 0);
    pxe_images_destroy (&set);
}

static void
test_records (void **state)
{
    (void)state;
    s_make_root ("records");
    pxe_images_t *set = s_new_set (NULL);
    uint8_t k[32], other[32] = { 9 };
    s_sha (s_kernel, sizeof s_kernel, k);
    pxe_served_record_t rec;
    pxe_images_record (set, "http", "/vmlinuz", "10.0.0.2", k, 0, sizeof s_kernel, true, &rec);
    assert_true (rec.approved);
    assert_memory_equal (rec.approved_sha256, k, 32);
    assert_string_equal (rec.file, "/vmlinuz");
    assert_true (rec.time > 0);
    rec.time = 1700000000;
    rec.has_mac = true;
    memcpy (rec.mac, "\x52\x54\x00\x12\x34\x56", 6);
    char ev[300];
    size_t n = pxe_served_record_event (&rec, ev, sizeof ev);
    assert_string_equal (ev, "pxe-served proto=http file=/vmlinuz client=10.0.0.2 "
                             "mac=52:54:00:12:34:56 offset=0 bytes=100000 whole=1 approved=1 "
                             "time=1700000000");
    assert_int_equal (n, strlen (ev));
    assert_int_equal (pxe_served_record_event (&rec, ev, 10), n);
    assert_int_equal (strlen (ev), 9);

    pxe_images_record (set, "tftp", "vmlinuz", "10.0.0.2", other, 0, 1, true, &rec);
    assert_false (rec.approved); /* whole file, wrong digest */
    pxe_images_record (set, "http", "vmlinuz", "10.0.0.2", other, 10, 1, false, &rec);
    assert_true (rec.approved); /* a range of the sealed copy */
    pxe_images_record (set, "http", "other", "a b\n", other, 0, 1, true, &rec);
    assert_false (rec.approved);
    rec.time = 5;
    pxe_served_record_event (&rec, ev, sizeof ev);
    assert_string_equal (ev, "pxe-served proto=http file=other client=a_b_ mac=- offset=0 "
                             "bytes=1 whole=1 approved=0 time=5");
    pxe_images_record (NULL, "http", "x", NULL, other, 0, 1, true, &rec);
    assert_false (rec.approved);
    pxe_images_destroy (&set);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_manifest_valid),
        cmocka_unit_test (test_manifest_rejects),
        cmocka_unit_test (test_approve_rules),
        cmocka_unit_test (test_load_manifest),
        cmocka_unit_test (test_sealed_copy_and_changes),
        cmocka_unit_test (test_limits_and_template),
        cmocka_unit_test (test_boot_script_and_tokens),
        cmocka_unit_test (test_records),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
