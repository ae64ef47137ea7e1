/*
 * node_ctl_agree: `wardenctl agree status [--json]`. One
 * WD_MSG_CTL_AGREE_STATUS request over the control socket; the engine's
 * agreement driver (node_agree.h) answers where its machine stands (height,
 * round, step, lock), the ledger tip, the time of the last commit and the
 * commit latency it has measured. The stored chain itself is read with
 * `wardenctl ledger`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_agree.h"
#include "node_ctl.h"
#include "wd_chan.h"
#include "wd_msg.h"

#define S_TIMEOUT_MS 5000

static const char *const s_help =
    "usage: wardenctl agree status [--json]\n"
    "\n"
    "Shows the running wardend's agreement: the height being decided, its\n"
    "round and step, the ledger tip, the last commit and the commit latency\n"
    "(p50/p99 over the last 1024 heights of this run).\n";

static const char *
s_step_name (uint8_t step)
{
    switch (step) {
        case 1:
            return "propose";
        case 2:
            return "prevote";
        case 3:
            return "precommit";
        case 4:
            return "commit";
        default:
            return "-";
    }
}

int
node_ctl_agree (int argc, char **argv)
{
    bool json = false;
    int status = node_ctl_parse_json_option (argc, argv, &json, s_help);
    if (status >= 0)
        return status;
    if (optind + 1 != argc || strcmp (argv[optind], "status") != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "agree: expected status\n%s", s_help);
    wd_chan_msg_t reply = { 0 };
    status = node_ctl_request (WD_MSG_CTL_AGREE_STATUS, NULL, 0, S_TIMEOUT_MS, &reply);
    if (status)
        return status;
    node_agree_status_t st;
    if (reply.type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply.body, reply.body_len, &code, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        status = node_ctl_fail (NODE_CTL_EXIT_NO, "wardend: %s", message);
    } else if (reply.type != WD_MSG_CTL_AGREE_STATUS_REPLY)
        status =
            node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "unexpected %s reply", wd_msg_name (reply.type));
    else if (node_agree_decode_status (reply.body, reply.body_len, &st) != WD_OK)
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed agreement status");
    wd_chan_msg_clear (&reply);
    if (status)
        return status;
    if (json) {
        json_t *o = json_object ();
        json_object_set_new (o, "running", json_boolean (st.running));
        json_object_set_new (o, "validator", json_boolean (st.validator));
        json_object_set_new (o, "validators", json_integer ((json_int_t)st.validators));
        json_object_set_new (o, "tip", json_integer ((json_int_t)st.tip));
        json_object_set_new (o, "height", json_integer ((json_int_t)st.height));
        json_object_set_new (o, "round", json_integer ((json_int_t)st.round));
        json_object_set_new (o, "step", json_string (s_step_name (st.step)));
        json_object_set_new (o, "lock_round", json_integer ((json_int_t)st.lock_round));
        json_object_set_new (o, "last_commit_ms", json_integer ((json_int_t)st.last_commit));
        json_object_set_new (o, "commits", json_integer ((json_int_t)st.commits));
        json_object_set_new (o, "synced", json_integer ((json_int_t)st.synced));
        json_object_set_new (o, "pending", json_integer ((json_int_t)st.pending));
        json_object_set_new (o, "latency_p50_ms", json_integer ((json_int_t)st.latency_p50));
        json_object_set_new (o, "latency_p99_ms", json_integer ((json_int_t)st.latency_p99));
        node_ctl_print_json (o);
        return 0;
    }
    if (!st.running) {
        printf ("agreement waiting for the keys process; ledger tip %llu\n",
                (unsigned long long)st.tip);
        return 0;
    }
    printf ("%s of %llu, ledger tip %llu, deciding height %llu round %u (%s), lock round %lld\n",
            st.validator ? "validator" : "observer", (unsigned long long)st.validators,
            (unsigned long long)st.tip, (unsigned long long)st.height, st.round,
            s_step_name (st.step), (long long)st.lock_round);
    if (st.last_commit) {
        long long ago = (long long)((uint64_t)time (NULL) * 1000 - st.last_commit);
        printf ("last commit %lld ms ago; this run: %llu commits (%llu by catch-up), "
                "latency p50 %llu ms, p99 %llu ms\n",
                ago < 0 ? 0 : ago, (unsigned long long)st.commits, (unsigned long long)st.synced,
                (unsigned long long)st.latency_p50, (unsigned long long)st.latency_p99);
    } else
        printf ("no commit in this run yet\n");
    printf ("%llu records wait for a block\n", (unsigned long long)st.pending);
    return 0;
}
