/*
 * node_config: the table of wardend's configuration keys.
 */
#include "node_config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "node_pxe.h"
#include "wd_cert.h"
#include "wd_keystore.h"

const wd_config_key_t node_config_table[] = {
    { "node/name", WD_CFG_STRING, NULL, NULL, 1, WD_CERT_NAME_MAX,
      "this node's name in the cluster ([A-Za-z0-9._-], set by wardenctl init)" },
    { "node/state", WD_CFG_PATH, NODE_STATE_DEFAULT, NULL, 0, 0,
      "state directory: node certificate, keys, ledger, control socket" },
    { "keystore/backend", WD_CFG_STRING, "file", NULL, 1, 16,
      "where the identity key lives: file (0600 key file), pkcs11 (token), zymbit; "
      "no fallback if it fails" },
    { "keystore/key_file", WD_CFG_PATH, NULL, NULL, 0, 0,
      "file backend: the identity key file (default: <state>/keys/identity.key)" },
    { "keystore/module", WD_CFG_PATH, NULL, NULL, 0, 0,
      "pkcs11 backend: the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so" },
    { "keystore/token", WD_CFG_STRING, NULL, NULL, 1, 32,
      "pkcs11 backend: the token's label (not its slot number)" },
    { "keystore/key_label", WD_CFG_STRING, NULL, NULL, 1, 64,
      "pkcs11 backend: CKA_LABEL of the Ed25519 key pair on the token" },
    { "keystore/pin_file", WD_CFG_PATH, NULL, NULL, 0, 0,
      "pkcs11 backend: file holding the user PIN (mode 0600, owned by wardend's user)" },
    { "keystore/pin_credential", WD_CFG_STRING, NULL, NULL, 1, 64,
      "pkcs11 backend: systemd credential holding the PIN (instead of pin_file)" },
    { "keystore/zymbit_slot", WD_CFG_UINT, "0", NULL, 0, 1023,
      "zymbit backend: the key slot holding the node's Ed25519 key" },
    { "log/level", WD_CFG_ENUM, "info", "debug|info|warning|error", 0, 0,
      "most verbose log level written to standard error" },
    { "control/socket", WD_CFG_PATH, NULL, NULL, 0, 0,
      "control socket for wardenctl (default: <state>/control.sock)" },
    { "control/group", WD_CFG_STRING, NULL, NULL, 1, 32,
      "group allowed to use the control socket besides root and wardend's user" },
    { "cluster/genesis", WD_CFG_PATH, NULL, NULL, 0, 0,
      "the cluster's genesis file (default: <state>/genesis; none: not in a cluster yet)" },
    { "pxe/enable", WD_CFG_BOOL, "false", NULL, 0, 0,
      "run the pxe process: DHCP, TFTP and HTTP boot of the approved image set" },
    { "pxe/interface", WD_CFG_STRING, NULL, NULL, 1, 15,
      "the boot link's interface (DHCP answers only there)" },
    { "pxe/address", WD_CFG_STRING, NULL, NULL, 7, 15,
      "this node's IPv4 address on the boot link (required with pxe/enable)" },
    { "pxe/mode", WD_CFG_ENUM, "full", "full|proxy", 0, 0,
      "full: hand out addresses; proxy: ProxyDHCP beside another DHCP server" },
    { "pxe/netmask", WD_CFG_STRING, "255.255.255.0", NULL, 7, 15, "boot link netmask" },
    { "pxe/router", WD_CFG_STRING, NULL, NULL, 7, 15, "router offered to the host (none)" },
    { "pxe/dns", WD_CFG_STRING, NULL, NULL, 7, 15, "DNS server offered to the host (none)" },
    { "pxe/pool", WD_CFG_STRING, NULL, NULL, 15, 31, "address pool FIRST-LAST (full mode)" },
    { "pxe/hosts", WD_CFG_STRING, NULL, NULL, 1, 4000,
      "reservations: MAC=IPV4[=NAME] separated by blanks or commas" },
    { "pxe/lease_time", WD_CFG_DURATION, "1h", NULL, 60000, 604800000, "DHCP lease time" },
    { "pxe/boot_dir", WD_CFG_PATH, NULL, NULL, 0, 0,
      "boot directory, opened read-only (default: <state>/boot)" },
    { "pxe/manifest", WD_CFG_PATH, NULL, NULL, 0, 0,
      "approved image set, 'ROLE NAME SHA256' lines (default: <state>/boot.manifest)" },
    { "pxe/tftp", WD_CFG_BOOL, "true", NULL, 0, 0, "serve TFTP on port 69" },
    { "pxe/http_port", WD_CFG_UINT, "80", NULL, 0, 65535, "HTTP boot port (0: no HTTP)" },
    { "pxe/bios_file", WD_CFG_STRING, "undionly.kpxe", NULL, 1, 127,
      "iPXE binary for legacy BIOS PXE ROMs (over TFTP)" },
    { "pxe/efi_file", WD_CFG_STRING, "ipxe.efi", NULL, 1, 127,
      "iPXE binary for x64 UEFI PXE (over TFTP)" },
    { "pxe/script", WD_CFG_STRING, "boot.ipxe", NULL, 1, 127,
      "the boot script's name in the image set (iPXE fetches it over HTTP)" },
    { "pxe/attest_endpoint", WD_CFG_STRING, NULL, NULL, 1, 128,
      "attestation endpoint in the boot script (default: attest/advertise, attest/listen)" },
    { "pxe/attest_key", WD_CFG_STRING, NULL, NULL, 64, 64,
      "attestation server key in hex (default: the node certificate's curve key)" },
    { "mesh/listen", WD_CFG_STRING, NULL, NULL, 6, 255,
      "peer transport endpoint, e.g. tcp://0.0.0.0:7400 (unset: no mesh; needs a genesis)" },
    { "mesh/peers", WD_CFG_STRING, NULL, NULL, 0, 4095,
      "static peers: space-separated NAME=ENDPOINT (genesis node names), e.g. "
      "b=tcp://10.0.0.2:7400" },
    { "mesh/bootstrap", WD_CFG_STRING, NULL, NULL, 0, 4095,
      "NAME=ENDPOINT pairs naming members that may not be in the genesis (a node that joins "
      "through the ledger); names not known yet are used once the ledger admits them" },
    { "mesh/advertise", WD_CFG_STRING, NULL, NULL, 6, 255,
      "the endpoint peers should dial, told to them in hello messages (default: mesh/listen "
      "unless it binds a wildcard address)" },
    { "mesh/discovery", WD_CFG_BOOL, "false", NULL, 0, 0,
      "find peers on the LAN with UDP broadcast announcements (zbeacon)" },
    { "mesh/discovery_port", WD_CFG_UINT, "7401", NULL, 1, 65535,
      "UDP port of the LAN announcements" },
    { "mesh/discovery_interval", WD_CFG_DURATION, "1s", NULL, 100, 60000,
      "time between two LAN announcements" },
    { "mesh/probe", WD_CFG_DURATION, "1s", NULL, 50, 60000,
      "membership protocol period: one peer probed per period" },
    { "mesh/probe_timeout", WD_CFG_DURATION, "500ms", NULL, 10, 59999,
      "membership: wait this long for an ack before probing indirectly (below mesh/probe)" },
    { "mesh/indirect", WD_CFG_UINT, "3", NULL, 1, 16,
      "membership: relays asked to probe a silent peer" },
    { "mesh/heartbeat", WD_CFG_DURATION, "1s", NULL, 50, 60000,
      "gossip heartbeat: mesh upkeep, IHAVE/IWANT repair, score decay" },
    { "mesh/records_keep", WD_CFG_UINT, "1024", NULL, 1, 16384,
      "delivered records kept in memory for wardenctl mesh records" },
    { "mesh/observers", WD_CFG_STRING, NULL, NULL, 64, 4095,
      "read-only observers admitted by X25519 public key (64 hex digits each, blank- or "
      "comma-separated): they subscribe on channel 6 and get records and blocks" },
    { "attest/listen", WD_CFG_STRING, NULL, NULL, 6, 255,
      "host attestation server endpoint, e.g. tcp://0.0.0.0:7420 (unset: no server)" },
    { "attest/advertise", WD_CFG_STRING, NULL, NULL, 6, 255,
      "endpoint agents are told to connect to (default: attest/listen)" },
    { "attest/items", WD_CFG_PATH, NULL, NULL, 0, 0,
      "challenge items, one a line: file, range, cmdline, modules, procs, ima" },
    { "attest/policy", WD_CFG_PATH, NULL, NULL, 0, 0,
      "Keylime runtime policy (JSON): reference digests of files, executables, IMA" },
    { "attest/cmdline", WD_CFG_STRING, NULL, NULL, 1, 4000,
      "the host's expected /proc/cmdline without its newline (adds a cmdline item)" },
    { "attest/interval", WD_CFG_DURATION, "60s", NULL, 1, 86400000,
      "mean time between challenges (exponentially distributed)" },
    { "attest/deadline", WD_CFG_DURATION, "10s", NULL, 1, 3600000,
      "time a host has to answer a challenge" },
    { "attest/min_items", WD_CFG_UINT, "1", NULL, 1, 64, "fewest items in one challenge" },
    { "attest/max_items", WD_CFG_UINT, "0", NULL, 0, 64, "most items in one challenge (0: all)" },
    { "attest/untrusted", WD_CFG_BOOL, "true", NULL, 0, 0,
      "mark a host untrusted (until its next boot token) when a challenge fails or is missed" },
    { "attest/node_policy", WD_CFG_PATH, NULL, NULL, 0, 0,
      "Keylime runtime policy (JSON) for nodes' self-evidence, the same file on every node "
      "(unset: this node does not appraise node evidence)" },
    { "attest/measure", WD_CFG_STRING, NULL, NULL, 1, 4095,
      "space-separated absolute paths of files the engine measures at every start and reload" },
    { "attest/hook", WD_CFG_STRING, NULL, NULL, 1, 1024,
      "command run by /bin/sh on a failed or missed challenge (WARDEN_* environment)" },
    { "tpm/tcti", WD_CFG_STRING, NULL, NULL, 1, 255,
      "TPM 2.0 for quoted self-evidence, e.g. device:/dev/tpmrm0 or swtpm:path=SOCK "
      "(unset: no TPM, lower assurance; set: failure to use it stops the engine)" },
    { "tpm/pcr", WD_CFG_UINT, "23", NULL, 0, 23,
      "resettable PCR the engine anchors its measurement log in (16 or 23; never 10)" },
    { "tpm/pcrs", WD_CFG_STRING, "0,1,2,3,4,5,6,7", NULL, 0, 255,
      "PCRs quoted besides tpm/pcr (comma-separated SHA-256 PCR indices, may be empty)" },
    { "tpm/ek_ca", WD_CFG_PATH, NULL, NULL, 0, 0,
      "PEM file of the EK certificate issuers: this node's EK certificate must chain to "
      "them, and so must every quoting node's (unset: EKs are trusted on first use)" },
    { "pcr/enable", WD_CFG_BOOL, "false", NULL, 0, 0,
      "run the PCR signer: sign instrument results into the result log" },
    { "pcr/device", WD_CFG_PATH, NULL, NULL, 0, 0,
      "serial device or pseudo-terminal carrying framed results (read only, raw mode)" },
    { "pcr/baud", WD_CFG_UINT, "115200", NULL, 1200, 4000000, "speed of pcr/device in bits/s" },
    { "pcr/stdin", WD_CFG_BOOL, "false", NULL, 0, 0,
      "also read framed results from wardend's standard input" },
    { "pcr/drop_dir", WD_CFG_PATH, NULL, NULL, 0, 0,
      "directory whose files are signed as they appear (then moved to pcr/done_dir)" },
    { "pcr/done_dir", WD_CFG_PATH, NULL, NULL, 0, 0,
      "where signed drop-directory files go (default: <pcr/drop_dir>/done)" },
    { "pcr/log", WD_CFG_PATH, NULL, NULL, 0, 0, "the result log (default: <state>/results.db)" },
    { "pcr/keep_raw", WD_CFG_BOOL, "true", NULL, 0, 0,
      "keep the raw bytes in the result log (false: digests only)" },
    { "pcr/max_size", WD_CFG_UINT, "16777216", NULL, 1, 67108864,
      "largest result file accepted, in bytes" },
    { "pcr/batch", WD_CFG_UINT, "64", NULL, 1, 4096,
      "group commit: results written with one fsync" },
    { "pcr/batch_delay", WD_CFG_DURATION, "5ms", NULL, 1, 1000,
      "group commit: longest wait for a group to fill" },
    { "pcr/idle", WD_CFG_DURATION, "2s", NULL, 50, 600000,
      "a frame left unfinished this long is reported truncated" },
    { "pcr/scan", WD_CFG_DURATION, "1s", NULL, 50, 600000,
      "drop directory scan interval; files must be unchanged this long" },
    { "capsule/enable", WD_CFG_BOOL, "true", NULL, 0, 0,
      "accept capsule tasks, hold capsules and execute tasks when selected (needs the mesh)" },
    { "capsule/work_dir", WD_CFG_PATH, NULL, NULL, 0, 0,
      "tmpfs directory for task work areas (default: /dev/shm/warden-<node/name>)" },
    { "capsule/store_quota", WD_CFG_UINT, "0", NULL, 0, UINT64_C (1) << 50,
      "bytes the capsule store <state>/capsules may hold (0: no quota)" },
    { "capsule/max_capsule", WD_CFG_UINT, "1073741824", NULL, 1024, UINT64_C (1) << 40,
      "largest capsule accepted from a client or fetched from a peer, in bytes" },
    { "capsule/cgroup", WD_CFG_PATH, NULL, NULL, 0, 0,
      "a delegated cgroup v2 directory for sandbox cgroups (default: found by the sandbox)" },
    { NULL, 0, NULL, NULL, 0, 0, NULL },
};

static int
s_path (char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf (out, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
node_path_state (const wd_config_t *cfg, const char *name, char *out, size_t size)
{
    return s_path (out, size, wd_config_str (cfg, "node/state"), name);
}

static int
s_explicit_or_state (const wd_config_t *cfg, const char *key, const char *name, char *out,
                     size_t size)
{
    const char *explicit_path = wd_config_str (cfg, key);
    if (explicit_path) {
        int n = snprintf (out, size, "%s", explicit_path);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    return node_path_state (cfg, name, out, size);
}

int
node_path_identity_key (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "keystore/key_file", "keys/identity.key", out, size);
}

bool
node_config_read_cert (const wd_config_t *cfg, wd_cert_t *cert)
{
    char path[PATH_MAX];
    if (node_path_state (cfg, "node.cert", path, sizeof path) != 0)
        return false;
    FILE *f = fopen (path, "rbe");
    if (!f)
        return false;
    uint8_t buf[WD_CERT_MAX_BYTES + 1];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    return wd_cert_open (buf, len, cert) == WD_OK;
}

int
node_keystore_params (const wd_config_t *cfg, wd_keystore_params_t *params, char *key_path,
                      size_t size)
{
    *params = (wd_keystore_params_t){
        .path = key_path,
        .module = wd_config_str (cfg, "keystore/module"),
        .token = wd_config_str (cfg, "keystore/token"),
        .key_label = wd_config_str (cfg, "keystore/key_label"),
        .pin_file = wd_config_str (cfg, "keystore/pin_file"),
        .pin_credential = wd_config_str (cfg, "keystore/pin_credential"),
        .slot = (int)wd_config_uint (cfg, "keystore/zymbit_slot"),
    };
    return node_path_identity_key (cfg, key_path, size);
}

int
node_path_control (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "control/socket", "control.sock", out, size);
}

int
node_path_genesis (const wd_config_t *cfg, char *out, size_t size)
{
    return s_explicit_or_state (cfg, "cluster/genesis", "genesis", out, size);
}

wd_err_t
node_config_load (const char *path, const char *log_level, wd_config_t **cfg, char *why,
                  size_t why_len)
{
    *cfg = NULL;
    wd_err_t err = wd_config_load (node_config_table, path, cfg, why, why_len);
    if (err == WD_OK && log_level)
        err = wd_config_set (*cfg, "log/level", log_level, why, why_len);
    if (err == WD_OK)
        err = node_config_check (*cfg, why, why_len);
    if (err != WD_OK)
        wd_config_destroy (cfg);
    return err;
}

wd_err_t
node_config_check (const wd_config_t *cfg, char *why, size_t why_len)
{
    const char *name = wd_config_str (cfg, "node/name");
    if (!name) {
        snprintf (why, why_len, "node/name is not set (wardenctl init writes it)");
        return WD_ERR_CONFIG_VALUE;
    }
    if (!wd_cert_name_valid (name)) {
        snprintf (why, why_len, "node/name '%s' must be 1 to %d of A-Z a-z 0-9 . _ -", name,
                  WD_CERT_NAME_MAX);
        return WD_ERR_CONFIG_VALUE;
    }
    const char *backend = wd_config_str (cfg, "keystore/backend");
    if (!wd_keystore_backend (backend)) {
        snprintf (why, why_len,
                  "keystore/backend '%s' is not built into this wardend (built in: %s)", backend,
                  wd_keystore_backend_names ());
        return WD_ERR_CONFIG_VALUE;
    }
    if (strcmp (backend, "pkcs11") == 0) {
        static const char *const needed[] = { "keystore/module", "keystore/token",
                                              "keystore/key_label" };
        for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
            if (!wd_config_str (cfg, needed[i])) {
                snprintf (why, why_len, "keystore/backend pkcs11 needs %s", needed[i]);
                return WD_ERR_CONFIG_VALUE;
            }
        if (!wd_config_str (cfg, "keystore/pin_file") ==
            !wd_config_str (cfg, "keystore/pin_credential")) {
            snprintf (why, why_len,
                      "keystore/backend pkcs11 needs exactly one of keystore/pin_file and "
                      "keystore/pin_credential");
            return WD_ERR_CONFIG_VALUE;
        }
    }
    node_pxe_settings_t pxe;
    return node_pxe_settings (cfg, &pxe, why, why_len);
}
