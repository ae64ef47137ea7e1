/*
 * node_ctl_vrf: `wardenctl vrf prove|verify`, the operator's view of the
 * RFC 9381 VRF (wd_vrf) that picks proposers, verifiers and executors.
 *
 * `prove` reads a 32-byte secret seed as hex from standard input — never
 * from the command line, where other users could read it in /proc — and
 * prints the public key, proof (pi) and output (beta). `verify` checks a
 * proof against a public key and alpha and prints beta, or exits 1 with the
 * reason, so anyone can re-check a selection from published values.
 */
#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "node_ctl.h"
#include "wd_hash.h"
#include "wd_vrf.h"

#define S_HEX_MAX 4096 /* a generous bound for --alpha and --proof */

static const char s_help[] =
    "usage: wardenctl vrf prove --alpha HEX [--json] < SEED\n"
    "       wardenctl vrf verify --pk HEX --alpha HEX --proof HEX [--json]\n\n"
    "ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381). prove reads the 32-byte secret seed\n"
    "as 64 hex digits from standard input and prints pk, pi and beta; verify prints\n"
    "beta and exits 0 when the proof is valid, or exits 1 with the reason.\n"
    "Values are lowercase hex; --json prints {\"beta\", \"pi\", \"pk\"}.\n";

typedef struct {
    const char *alpha, *pk, *proof;
    bool json;
} s_args_t;

/* Decodes a hex string of any even length (at most max bytes) into a
   malloc'ed buffer; NULL on bad hex. */
static uint8_t *
s_hex_decode_any (const char *hex, size_t max, size_t *len)
{
    size_t digits = strlen (hex);
    if (digits % 2 != 0 || digits / 2 > max)
        return NULL;
    *len = digits / 2;
    uint8_t *bin = malloc (*len + 1);
    if (bin && !wd_hex_decode (bin, *len, hex)) {
        free (bin);
        return NULL;
    }
    return bin;
}

static void
s_print_result (bool json, const uint8_t pk[WD_VRF_PK_LEN], const uint8_t pi[WD_VRF_PROOF_LEN],
                const uint8_t beta[WD_VRF_BETA_LEN])
{
    char pk_hex[2 * WD_VRF_PK_LEN + 1], pi_hex[2 * WD_VRF_PROOF_LEN + 1];
    char beta_hex[2 * WD_VRF_BETA_LEN + 1];
    wd_hex_encode (pk_hex, pk, WD_VRF_PK_LEN);
    wd_hex_encode (pi_hex, pi, WD_VRF_PROOF_LEN);
    wd_hex_encode (beta_hex, beta, WD_VRF_BETA_LEN);
    if (json)
        node_ctl_print_json (
            json_pack ("{s:s, s:s, s:s}", "pk", pk_hex, "pi", pi_hex, "beta", beta_hex));
    else
        printf ("pk    %s\npi    %s\nbeta  %s\n", pk_hex, pi_hex, beta_hex);
}

/* Reads the seed: 64 hex digits, surrounding white space allowed. With a
   terminal, prompts and turns echo off. Returns 0 or an exit status. */
static int
s_read_seed (uint8_t seed[WD_VRF_SEED_LEN])
{
    char text[160];
    struct termios saved, quiet;
    bool tty = isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
    if (tty) {
        fputs ("VRF secret seed (64 hex digits): ", stderr);
        quiet = saved;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    size_t len = fread (text, 1, sizeof text - 1, stdin);
    if (tty) {
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
        fputc ('\n', stderr);
    }
    text[len] = '\0';
    char *start = text;
    while (isspace ((unsigned char)*start))
        start++;
    size_t end = strlen (start);
    while (end > 0 && isspace ((unsigned char)start[end - 1]))
        start[--end] = '\0';
    bool ok = wd_hex_decode (seed, WD_VRF_SEED_LEN, start);
    sodium_memzero (text, sizeof text);
    if (!ok)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "vrf prove: standard input must hold the 32-byte seed as 64 hex "
                              "digits");
    return 0;
}

static int
s_prove (const s_args_t *args)
{
    size_t alpha_len;
    uint8_t *alpha = s_hex_decode_any (args->alpha, S_HEX_MAX, &alpha_len);
    if (!alpha)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "vrf prove: --alpha is not hex (at most %d bytes)", S_HEX_MAX);
    uint8_t seed[WD_VRF_SEED_LEN];
    int status = s_read_seed (seed);
    if (status != 0) {
        free (alpha);
        return status;
    }
    wd_vrf_key_t *key = wd_vrf_key_new (seed);
    sodium_memzero (seed, sizeof seed);
    if (!key) {
        free (alpha);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "vrf prove: out of memory");
    }
    uint8_t pi[WD_VRF_PROOF_LEN], beta[WD_VRF_BETA_LEN];
    wd_err_t rc = wd_vrf_prove (key, alpha, alpha_len, pi);
    if (rc == WD_OK)
        rc = wd_vrf_proof_to_hash (pi, sizeof pi, beta);
    if (rc == WD_OK)
        s_print_result (args->json, wd_vrf_key_public (key), pi, beta);
    else
        status = node_ctl_fail (NODE_CTL_EXIT_NO, "vrf prove: %s (%s)", wd_strerror (rc),
                                wd_err_name (rc));
    wd_vrf_key_destroy (&key);
    free (alpha);
    return status;
}

static int
s_verify (const s_args_t *args)
{
    uint8_t pk[WD_VRF_PK_LEN];
    if (!wd_hex_decode (pk, sizeof pk, args->pk))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "vrf verify: --pk must be 64 hex digits");
    size_t alpha_len, pi_len;
    uint8_t *alpha = s_hex_decode_any (args->alpha, S_HEX_MAX, &alpha_len);
    uint8_t *pi = s_hex_decode_any (args->proof, S_HEX_MAX, &pi_len);
    int status = 0;
    if (!alpha || !pi) {
        status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "vrf verify: %s is not hex (at most %d bytes)",
                                alpha ? "--proof" : "--alpha", S_HEX_MAX);
        goto out_free;
    }
    uint8_t beta[WD_VRF_BETA_LEN];
    wd_err_t rc = wd_vrf_verify (pk, alpha, alpha_len, pi, pi_len, beta);
    if (rc == WD_OK) {
        s_print_result (args->json, pk, pi, beta);
    } else {
        if (args->json)
            node_ctl_print_json (json_pack ("{s:b, s:s, s:s}", "valid", 0, "error",
                                            wd_err_name (rc), "reason", wd_strerror (rc)));
        status = node_ctl_fail (NODE_CTL_EXIT_NO, "vrf verify: %s (%s)", wd_strerror (rc),
                                wd_err_name (rc));
    }
out_free:
    free (alpha);
    free (pi);
    return status;
}

int
node_ctl_vrf (int argc, char **argv)
{
    static const struct option options[] = {
        { "alpha", required_argument, NULL, 'a' }, { "pk", required_argument, NULL, 'p' },
        { "proof", required_argument, NULL, 'P' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    s_args_t args = { 0 };
    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case 'a':
                args.alpha = optarg;
                break;
            case 'p':
                args.pk = optarg;
                break;
            case 'P':
                args.proof = optarg;
                break;
            case 'j':
                args.json = true;
                break;
            case 'h':
                fputs (s_help, stdout);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    const char *action = optind == argc - 1 ? argv[optind] : "";
    if (strcmp (action, "prove") == 0 && args.alpha && !args.pk && !args.proof)
        return s_prove (&args);
    if (strcmp (action, "verify") == 0 && args.alpha && args.pk && args.proof)
        return s_verify (&args);
    fputs (s_help, stderr);
    return NODE_CTL_EXIT_USAGE;
}
