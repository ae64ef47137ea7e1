/*
 * node_ctl: what every wardenctl command shares: exit codes, error
 * reporting, JSON output and the --json/--help option parser. Each command
 * group lives in its own node_ctl_<group>.c and is listed in wardenctl's
 * command table (node_wardenctl.c).
 */
#ifndef NODE_CTL_H
#define NODE_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wd_chan.h"

/* Exit codes (STYLE.md): 0 ok, 1 the answer is "no", 2 usage or input
   error, 3 internal error. */
#define NODE_CTL_EXIT_NO       1
#define NODE_CTL_EXIT_USAGE    2
#define NODE_CTL_EXIT_INTERNAL 3

/* Prints "wardenctl: <message>" on standard error; returns status. */
int
node_ctl_fail (int status, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Prints root as indented JSON with sorted keys and a newline on standard
   output. Takes ownership of root. */
void
node_ctl_print_json (json_t *root);

/* Parses the options of a command that takes only --json and --help.
   Returns -1 to go on, or the exit status to return (after --help or a bad
   option). */
int
node_ctl_parse_json_option (int argc, char **argv, bool *json, const char *help);

/* Reads a small file whole into buf (size bytes; a file of size bytes or
   more is cut there, so pass one byte more than the largest valid file).
   Returns its length, or -1 with errno. */
ssize_t
node_ctl_read_small (const char *path, uint8_t *buf, size_t size);

/* The command `wardenctl genesis` (node_ctl_genesis.c). */
int
node_ctl_genesis (int argc, char **argv);

/* The command `wardenctl vrf` (node_ctl_vrf.c). */
int
node_ctl_vrf (int argc, char **argv);

/* The control socket wardenctl's global options name (--socket, or
   --state's control.sock), written to out. Returns 0, or -1 when it does
   not fit. */
int
node_ctl_control_path (char *out, size_t size);

/* <state>/name for wardenctl's --state directory, written to out. Returns
   0, or -1 when it does not fit. */
int
node_ctl_state_path (const char *name, char *out, size_t size);

/* Sends one request (type, body of len bytes, peer 1) on the control socket
   (node_ctl_control_path) and waits up to timeout_ms for the reply.
   Returns 0 and *reply (free with wd_chan_msg_clear; it may be a
   WD_MSG_ERROR, the caller decides), or an exit status after reporting
   the problem: NODE_CTL_EXIT_NO when wardend is not reachable or hung up
   on this user, NODE_CTL_EXIT_INTERNAL on a timeout or channel error. */
int
node_ctl_request (uint32_t type, const uint8_t *body, size_t len, int timeout_ms,
                  wd_chan_msg_t *reply);

/* The command `wardenctl agree` (node_ctl_agree.c). */
int
node_ctl_agree (int argc, char **argv);

/* The command `wardenctl pxe` (node_ctl_pxe.c). */
int
node_ctl_pxe (int argc, char **argv);

/* The commands `wardenctl peers` and `wardenctl mesh` (node_ctl_mesh.c). */
int
node_ctl_peers (int argc, char **argv);
int
node_ctl_mesh (int argc, char **argv);

/* The command `wardenctl attest` (node_ctl_attest.c). */
int
node_ctl_attest (int argc, char **argv);

/* `wardenctl attest node` (node_ctl_verify.c): a node's attestation status
   on the chain. */
int
node_ctl_attest_node (int argc, char **argv);

/* The commands `wardenctl ledger` and `wardenctl reputation`
   (node_ctl_ledger.c). */
int
node_ctl_ledger (int argc, char **argv);
int
node_ctl_reputation (int argc, char **argv);

/* Opens the genesis (genesis, or <state>/genesis when NULL) and the ledger
   (db, or <state>/ledger.db) read-only for command cmd. Returns -1 with *g
   and *l set (the caller destroys both), or an exit status after printing
   why. */
struct cons_ledger;
struct wd_genesis;
int
node_ctl_ledger_open (const char *genesis, const char *db, const char *cmd, struct wd_genesis **g,
                      struct cons_ledger **l);

/* The command `wardenctl members` (node_ctl_member.c): the members the
   ledger lists and their state. */
int
node_ctl_members (int argc, char **argv);
/* `wardenctl member request|admit|rotate|leave` (node_ctl_member.c): membership
   records sealed by the running wardend. */
int
node_ctl_member (int argc, char **argv);

/* The command `wardenctl results` (node_ctl_results.c). */
int
node_ctl_results (int argc, char **argv);

#endif
