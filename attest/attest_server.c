/*
 * attest_server: the node's attestation server for its compute hosts (see
 * the header). One record per boot token (host); a host's agent is found by
 * its ZeroMQ routing id, which the CURVE handshake ties to the connection
 * the hello came on.
 */
#include "attest_server.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "attest_challenge.h"
#include "attest_ima.h"
#include "wd_hash.h"
#include "wd_log.h"

#define S_HOOKS_MAX 16

typedef struct {
    attest_item_t item; /* path owned */
    bool has_expected;
    uint8_t expected[32];
} s_item_t;

typedef struct {
    char label[ATTEST_AGENT_HOST_MAX + 1];
    bool label_from_hello;
    char token[ATTEST_AGENT_TOKEN_MAX + 1]; /* wiped once used */
    bool token_live;
    attest_host_state_t state;
    bool admitted;
    zframe_t *routing_id;
    uint8_t session_pk[32];
    uint64_t admitted_ms;
    attest_challenge_t *sched;
    uint64_t open_ima_from; /* the IMA item's `from` of the open challenge */
    attest_ima_state_t ima;
    uint64_t passed, failed, missed, rejected;
    size_t hist_start, hist_count;
    attest_server_outcome_t history[ATTEST_SERVER_HISTORY];
} s_host_t;

struct attest_server {
    attest_server_config_t config;
    zsock_t *sock;
    s_item_t items[ATTEST_AGENT_ITEMS_MAX];
    size_t item_count;
    bool frozen; /* an agent was admitted: items are fixed */
    s_host_t *hosts[ATTEST_SERVER_HOSTS];
    size_t host_count;
    uint64_t rejected_unknown;
    pid_t hooks[S_HOOKS_MAX];
    size_t hook_count;
    zloop_t *loop;
    int timer_id;
};

static const char *const s_state_names[ATTEST_HOST_STATE_COUNT_] = {
    "waiting", "attesting", "trusted", "failing", "untrusted",
};

const char *
attest_host_state_name (attest_host_state_t state)
{
    assert (state < ATTEST_HOST_STATE_COUNT_);
    return s_state_names[state];
}

attest_server_t *
attest_server_new (const attest_server_config_t *config)
{
    assert (config && config->endpoint && config->curve_public && config->curve_secret);
    assert (config->mean_interval_ms >= 1);
    assert (config->deadline_ms >= 1 && config->deadline_ms <= ATTEST_AGENT_DEADLINE_MAX);
    assert (!(config->actions & ATTEST_ACTION_HOOK) || config->hook);
    attest_server_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->config = *config;
    self->timer_id = -1;
    self->sock = zsock_new (ZMQ_ROUTER);
    if (!self->sock)
        abort ();
    zsock_set_curve_server (self->sock, 1);
    zsock_set_curve_secretkey_bin (self->sock, config->curve_secret);
    zsock_set_curve_publickey_bin (self->sock, config->curve_public);
    zsock_set_zap_domain (self->sock, "warden-agent");
    zsock_set_maxmsgsize (self->sock, (int64_t)ATTEST_AGENT_MSG_MAX + 64);
    zsock_set_linger (self->sock, 0);
    /* An agent that reconnects keeps its routing id (attest_agent_routing_id):
       the newest connection takes the session over. Responses are still
       checked against the session key, so a stolen routing id only
       misroutes challenges (the host then misses them). */
    zsock_set_router_handover (self->sock, 1);
    if (zsock_bind (self->sock, "%s", config->endpoint) < 0) {
        int e = errno;
        zsock_destroy (&self->sock);
        free (self);
        errno = e;
        return NULL;
    }
    return self;
}

static void
s_host_destroy (s_host_t **host_p)
{
    s_host_t *host = *host_p;
    if (!host)
        return;
    zframe_destroy (&host->routing_id);
    attest_challenge_destroy (&host->sched);
    sodium_memzero (host, sizeof *host);
    free (host);
    *host_p = NULL;
}

void
attest_server_destroy (attest_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_server_t *self = *self_p;
        attest_server_detach (self);
        for (size_t i = 0; i < self->host_count; i++)
            s_host_destroy (&self->hosts[i]);
        for (size_t i = 0; i < self->item_count; i++)
            free (self->items[i].item.path);
        for (size_t i = 0; i < self->hook_count; i++)
            waitpid (self->hooks[i], NULL, WNOHANG);
        zsock_destroy (&self->sock);
        free (self);
        *self_p = NULL;
    }
}

void
attest_server_add_item (attest_server_t *self, const attest_item_t *item, const uint8_t *expected)
{
    assert (self && item && !self->frozen);
    assert (self->item_count < ATTEST_AGENT_ITEMS_MAX);
    assert (item->kind < ATTEST_ITEM_KIND_COUNT_);
    s_item_t *it = &self->items[self->item_count++];
    it->item = *item;
    if (item->path) {
        it->item.path = strdup (item->path);
        if (!it->item.path)
            abort ();
    }
    if (expected) {
        it->has_expected = true;
        memcpy (it->expected, expected, 32);
    }
}

static s_host_t *
s_host_by_label (attest_server_t *self, const char *label)
{
    for (size_t i = 0; i < self->host_count; i++)
        if (strcmp (self->hosts[i]->label, label) == 0)
            return self->hosts[i];
    return NULL;
}

int
attest_server_add_token (attest_server_t *self, const char *token, const char *host)
{
    assert (self && token);
    if (!attest_agent_token_valid (token))
        return ATTEST_ERR_AGENT_TOKEN;
    if (host && !attest_agent_host_valid (host))
        return ATTEST_ERR_AGENT_HOST;
    s_host_t *h = host ? s_host_by_label (self, host) : NULL;
    if (h) {
        /* A new boot of a known host: forget the old session. */
        zframe_destroy (&h->routing_id);
        attest_challenge_destroy (&h->sched);
        h->admitted = false;
        memset (h->session_pk, 0, sizeof h->session_pk);
    } else {
        if (self->host_count == ATTEST_SERVER_HOSTS)
            return WD_ERR_OVERSIZE;
        h = calloc (1, sizeof *h);
        if (!h)
            abort ();
        self->hosts[self->host_count++] = h;
        if (host)
            snprintf (h->label, sizeof h->label, "%s", host);
        else
            h->label_from_hello = true;
    }
    snprintf (h->token, sizeof h->token, "%s", token);
    h->token_live = true;
    h->state = ATTEST_HOST_WAITING;
    attest_ima_state_init (&h->ima, ATTEST_IMA_BINARY, ATTEST_IMA_PCR_DEFAULT, 0);
    return WD_OK;
}

size_t
attest_server_demand (attest_server_t *self, const char *host)
{
    assert (self);
    size_t n = 0;
    for (size_t i = 0; i < self->host_count; i++) {
        s_host_t *h = self->hosts[i];
        if (h->admitted && (!host || strcmp (h->label, host) == 0)) {
            attest_challenge_demand (h->sched);
            n++;
        }
    }
    return n;
}

zsock_t *
attest_server_socket (attest_server_t *self)
{
    assert (self);
    return self->sock;
}

/* ---- sending -------------------------------------------------------------------- */

static void
s_send (attest_server_t *self, zframe_t *routing_id, uint8_t *buf, size_t len)
{
    zmsg_t *msg = zmsg_new ();
    zframe_t *id = zframe_dup (routing_id);
    zmsg_append (msg, &id);
    zmsg_addmem (msg, buf, len);
    free (buf);
    /* A ROUTER drops messages for peers that are gone: nothing to handle. */
    zmsg_send (&msg, self->sock);
    zmsg_destroy (&msg);
}

static void
s_send_result (attest_server_t *self, zframe_t *routing_id, uint64_t seq,
               attest_agent_status_t status, int reason)
{
    attest_agent_result_t res = { .seq = seq, .status = status };
    if (reason != WD_OK)
        snprintf (res.reason, sizeof res.reason, "%s", attest_err_name (reason));
    size_t len;
    uint8_t *buf = attest_agent_result_encode (&res, &len);
    s_send (self, routing_id, buf, len);
}

static void
s_reject (attest_server_t *self, s_host_t *host, zframe_t *routing_id, uint64_t seq, int reason)
{
    if (host)
        host->rejected++;
    else
        self->rejected_unknown++;
    wd_log_debug ("attest: rejected a message from %s: %s", host ? host->label : "an unknown agent",
                  attest_err_name (reason));
    if (self->config.on_reject)
        self->config.on_reject (self->config.arg, host ? host->label : NULL, reason);
    s_send_result (self, routing_id, seq, ATTEST_AGENT_REJECTED, reason);
}

/* ---- outcomes ------------------------------------------------------------------- */

static uint64_t
s_unix_of (uint64_t mono_ms, uint64_t now_ms)
{
    time_t now = time (NULL);
    uint64_t back = now_ms > mono_ms ? (now_ms - mono_ms) / 1000 : 0;
    return (uint64_t)now > back ? (uint64_t)now - back : 0;
}

/* Copies at most max bytes of s into out (max+1 bytes), never cutting a
   UTF-8 sequence. */
static void
s_copy_utf8 (char *out, size_t max, const char *s)
{
    size_t len = strlen (s);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy (out, s, len);
    out[len] = 0;
}

static void
s_item_name (const attest_item_t *it, char *out)
{
    char buf[ATTEST_AGENT_PATH_MAX + 64];
    switch (it->kind) {
        case ATTEST_ITEM_FILE:
            snprintf (buf, sizeof buf, "file:%s", it->path);
            break;
        case ATTEST_ITEM_RANGE:
            snprintf (buf, sizeof buf, "disk:%s:%" PRIu64 "+%" PRIu64, it->path, it->off, it->len);
            break;
        case ATTEST_ITEM_PROCS:
            snprintf (buf, sizeof buf, "proc");
            break;
        default:
            snprintf (buf, sizeof buf, "%s", attest_item_kind_name (it->kind));
            break;
    }
    s_copy_utf8 (out, ATTEST_EVIDENCE_ITEM_MAX, buf);
}

static void
s_set_why (attest_evidence_item_t *ci, const char *fmt, ...) WD_PRINTF (2, 3);
static void
s_set_why (attest_evidence_item_t *ci, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    s_copy_utf8 (ci->why, ATTEST_EVIDENCE_WHY_MAX, buf);
}

/* Appraises one (path, sha256 digest) against the policy; true when it
   passes (allowed or excluded). */
static bool
s_policy_ok (const attest_policy_t *policy, const char *path, const char *alg,
             const uint8_t *digest, size_t digest_len, attest_verdict_t *verdict)
{
    attest_measurement_t m = {
        .path = path,
        .alg = alg,
        .digest = digest,
        .digest_len = digest_len,
        .kind = ATTEST_MEASUREMENT_FILE,
    };
    *verdict = attest_policy_appraise (policy, &m, NULL);
    return !attest_verdict_failed (*verdict);
}

typedef struct {
    const attest_policy_t *policy;
    uint64_t failed;
    char first[256];
    const char *first_verdict;
} s_ima_check_t;

static int
s_ima_entry (const attest_ima_entry_t *e, const attest_ima_state_t *state, void *arg)
{
    (void)state;
    s_ima_check_t *c = arg;
    if (!c->policy || e->violation || e->template_id == ATTEST_IMA_TEMPLATE_IMA_BUF)
        return 0;
    attest_verdict_t v;
    if (!s_policy_ok (c->policy, e->name, attest_ima_hash_name (e->digest_alg), e->digest,
                      e->digest_len, &v)) {
        if (c->failed++ == 0) {
            s_copy_utf8 (c->first, sizeof c->first - 1, e->name);
            c->first_verdict = attest_verdict_name (v);
        }
    }
    return 0;
}

/* Checks one answer; fills ci->result and ci->why. Updates the host's IMA
   state when the answer is an IMA delta that replays. */
static void
s_check (attest_server_t *self, s_host_t *host, const s_item_t *si, const attest_answer_t *a,
         attest_evidence_item_t *ci, attest_server_outcome_t *out)
{
    const attest_server_config_t *c = &self->config;
    ci->result = ATTEST_OUTCOME_FAIL;
    if (a->kind != si->item.kind) {
        s_set_why (ci, "answer is for %s", attest_item_kind_name (a->kind));
        return;
    }
    if (a->err != ATTEST_ANSWER_OK) {
        bool absent_ok = a->err == ATTEST_ANSWER_ABSENT &&
                         (a->kind == ATTEST_ITEM_IMA || a->kind == ATTEST_ITEM_MODULES);
        if (absent_ok)
            ci->result = ATTEST_OUTCOME_PASS;
        s_set_why (ci, "agent: %s", attest_answer_err_name (a->err));
        return;
    }
    ci->result = ATTEST_OUTCOME_PASS;
    switch (a->kind) {
        case ATTEST_ITEM_FILE:
        case ATTEST_ITEM_RANGE:
            if (si->has_expected) {
                if (sodium_memcmp (a->digest, si->expected, 32) != 0) {
                    ci->result = ATTEST_OUTCOME_FAIL;
                    char hex[65];
                    s_set_why (ci, "digest %s is not the reference",
                               wd_hex_encode (hex, a->digest, 32));
                }
            } else if (c->policy && a->kind == ATTEST_ITEM_FILE) {
                attest_verdict_t v;
                if (!s_policy_ok (c->policy, si->item.path, "sha256", a->digest, 32, &v)) {
                    ci->result = ATTEST_OUTCOME_FAIL;
                    s_set_why (ci, "policy: %s", attest_verdict_name (v));
                }
            } else
                s_set_why (ci, "recorded: no reference value");
            break;
        case ATTEST_ITEM_CMDLINE:
            if (c->cmdline) {
                if (a->data_len != c->cmdline_len ||
                    (a->data_len && sodium_memcmp (a->data, c->cmdline, a->data_len) != 0)) {
                    ci->result = ATTEST_OUTCOME_FAIL;
                    s_set_why (ci, "command line is not the expected one");
                }
            } else
                s_set_why (ci, "recorded: no reference value");
            break;
        case ATTEST_ITEM_MODULES:
            if (c->modules) {
                for (size_t i = 0; i < a->list_count; i++) {
                    bool allowed = false;
                    for (size_t k = 0; k < c->modules_count && !allowed; k++)
                        allowed = strcmp (a->list[i], c->modules[k]) == 0;
                    if (!allowed) {
                        ci->result = ATTEST_OUTCOME_FAIL;
                        s_set_why (ci, "module %s is not allowed", a->list[i]);
                        break;
                    }
                }
            } else
                s_set_why (ci, "recorded: %zu modules, no reference list", a->list_count);
            break;
        case ATTEST_ITEM_PROCS:
            if (c->policy) {
                size_t bad = 0;
                const char *first = NULL;
                attest_verdict_t first_v = ATTEST_VERDICT_PASS;
                for (size_t i = 0; i < a->entry_count; i++) {
                    attest_verdict_t v;
                    if (!s_policy_ok (c->policy, a->entries[i].path, "sha256", a->entries[i].digest,
                                      32, &v) &&
                        bad++ == 0) {
                        first = a->entries[i].path;
                        first_v = v;
                    }
                }
                if (bad) {
                    ci->result = ATTEST_OUTCOME_FAIL;
                    s_set_why (ci, "%zu executables fail, first %s (%s)", bad, first,
                               attest_verdict_name (first_v));
                }
            } else
                s_set_why (ci, "recorded: %zu executables, no policy", a->entry_count);
            break;
        case ATTEST_ITEM_IMA: {
            attest_ima_state_t st = host->ima;
            s_ima_check_t chk = { .policy = c->policy };
            int rc =
                attest_ima_replay_buffer (a->data, a->data_len, &st, s_ima_entry, &chk, NULL, 0);
            if (rc == WD_OK && st.entries - host->ima.entries != a->n)
                rc = ATTEST_ERR_IMA_STATE;
            if (rc != WD_OK) {
                ci->result = ATTEST_OUTCOME_FAIL;
                s_set_why (ci, "IMA delta: %s", attest_err_name (rc));
                break;
            }
            out->ima = a->data;
            out->ima_len = a->data_len;
            out->ima_start = host->ima.entries;
            out->ima_count = a->n;
            host->ima = st;
            if (chk.failed) {
                ci->result = ATTEST_OUTCOME_FAIL;
                s_set_why (ci, "%" PRIu64 " entries fail, first %s (%s)", chk.failed, chk.first,
                           chk.first_verdict);
            } else if (!c->policy)
                s_set_why (ci, "recorded: %" PRIu64 " entries, no policy", a->n);
            break;
        }
        default:
            abort ();
    }
}

static void
s_run_hook (attest_server_t *self, const s_host_t *host, const attest_server_outcome_t *o)
{
    char e_host[96], e_outcome[64], e_seq[64], e_nonce[128], e_failed[4200], e_state[64];
    char hex[65];
    snprintf (e_host, sizeof e_host, "WARDEN_HOST=%s", host->label);
    snprintf (e_outcome, sizeof e_outcome, "WARDEN_OUTCOME=%s",
              attest_outcome_name (o->challenge.outcome));
    snprintf (e_seq, sizeof e_seq, "WARDEN_SEQ=%" PRIu64, o->seq);
    snprintf (e_nonce, sizeof e_nonce, "WARDEN_NONCE=%s",
              wd_hex_encode (hex, o->challenge.nonce, 32));
    snprintf (e_state, sizeof e_state, "WARDEN_HOST_STATE=%s", s_state_names[host->state]);
    size_t n = (size_t)snprintf (e_failed, sizeof e_failed, "WARDEN_FAILED=");
    for (size_t i = 0; i < o->challenge.item_count && n < sizeof e_failed; i++)
        if (o->challenge.items[i].result != ATTEST_OUTCOME_PASS)
            n += (size_t)snprintf (e_failed + n, sizeof e_failed - n, "%s%s",
                                   n > strlen ("WARDEN_FAILED=") ? " " : "",
                                   o->challenge.items[i].item);
    char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    e_host,
                    e_outcome,
                    e_seq,
                    e_nonce,
                    e_failed,
                    e_state,
                    NULL };
    if (self->config.hook_fn) {
        self->config.hook_fn (self->config.hook_arg, self->config.hook, env);
        return;
    }
    if (self->hook_count == S_HOOKS_MAX) {
        wd_log_warnx ("attest: %d hooks still running, not starting another", S_HOOKS_MAX);
        return;
    }
    char *argv[] = { "sh", "-c", (char *)self->config.hook, NULL };
    pid_t pid;
    int rc = posix_spawn (&pid, "/bin/sh", NULL, NULL, argv, env);
    if (rc != 0) {
        errno = rc;
        wd_log_warn ("attest: cannot run the hook");
        return;
    }
    self->hooks[self->hook_count++] = pid;
}

static void
s_history_add (s_host_t *host, const attest_server_outcome_t *o)
{
    size_t slot = (host->hist_start + host->hist_count) % ATTEST_SERVER_HISTORY;
    if (host->hist_count == ATTEST_SERVER_HISTORY)
        host->hist_start = (host->hist_start + 1) % ATTEST_SERVER_HISTORY;
    else
        host->hist_count++;
    host->history[slot] = *o;
    host->history[slot].host = NULL;
    host->history[slot].response = NULL;
    host->history[slot].response_len = 0;
    host->history[slot].ima = NULL;
    host->history[slot].ima_len = 0;
}

/* Records an outcome: state, counters, history, actions, callback. */
static void
s_report (attest_server_t *self, s_host_t *host, attest_server_outcome_t *o)
{
    attest_outcome_t kind = o->challenge.outcome;
    if (kind == ATTEST_OUTCOME_PASS) {
        host->passed++;
        if (host->state != ATTEST_HOST_UNTRUSTED)
            host->state = ATTEST_HOST_TRUSTED;
    } else {
        if (kind == ATTEST_OUTCOME_FAIL)
            host->failed++;
        else
            host->missed++;
        if (self->config.actions & ATTEST_ACTION_UNTRUSTED)
            host->state = ATTEST_HOST_UNTRUSTED;
        else if (host->state != ATTEST_HOST_UNTRUSTED)
            host->state = ATTEST_HOST_FAILING;
    }
    s_history_add (host, o);
    o->host = host->label;
    if (kind != ATTEST_OUTCOME_PASS) {
        if (self->config.actions & ATTEST_ACTION_LOG) {
            const char *first = "";
            for (size_t i = 0; i < o->challenge.item_count; i++)
                if (o->challenge.items[i].result != ATTEST_OUTCOME_PASS) {
                    first = o->challenge.items[i].item;
                    break;
                }
            wd_log_warnx ("attest: host %s challenge %" PRIu64 " %s%s%s", host->label, o->seq,
                          attest_outcome_name (kind), *first ? ": " : "", first);
        }
        if (self->config.actions & ATTEST_ACTION_HOOK)
            s_run_hook (self, host, o);
    }
    if (self->config.on_outcome)
        self->config.on_outcome (self->config.arg, o);
}

static void
s_outcome_init (const attest_server_t *self, const s_host_t *host,
                const attest_challenge_event_t *ev, uint64_t now_ms, attest_server_outcome_t *o)
{
    memset (o, 0, sizeof *o);
    memcpy (o->session_pk, host->session_pk, 32);
    o->seq = ev->seq;
    o->on_demand = ev->on_demand;
    o->issued_ms = ev->issued_ms;
    o->deadline_ms = ev->deadline_ms;
    o->challenge.issued = s_unix_of (ev->issued_ms, now_ms);
    o->challenge.deadline = s_unix_of (ev->deadline_ms, now_ms);
    if (o->challenge.deadline < o->challenge.issued)
        o->challenge.deadline = o->challenge.issued;
    memcpy (o->challenge.nonce, ev->nonce, 32);
    o->challenge.item_count = ev->count;
    for (size_t i = 0; i < ev->count; i++)
        s_item_name (&self->items[ev->items[i]].item, o->challenge.items[i].item);
}

/* ---- incoming ---------------------------------------------------------------------- */

static s_host_t *
s_host_by_peer (attest_server_t *self, zframe_t *routing_id)
{
    for (size_t i = 0; i < self->host_count; i++) {
        s_host_t *h = self->hosts[i];
        if (h->admitted && h->routing_id && zframe_eq (h->routing_id, routing_id))
            return h;
    }
    return NULL;
}

static s_host_t *
s_host_by_token (attest_server_t *self, const char *token)
{
    size_t len = strlen (token);
    s_host_t *found = NULL;
    for (size_t i = 0; i < self->host_count; i++) {
        s_host_t *h = self->hosts[i];
        if (h->token_live && strlen (h->token) == len && sodium_memcmp (h->token, token, len) == 0)
            found = h;
    }
    return found;
}

static void
s_on_hello (attest_server_t *self, zframe_t *peer, const wd_envelope_t *env, uint64_t now_ms)
{
    attest_agent_hello_t hello;
    int err = wd_envelope_verify (env, self->config.curve_public, ATTEST_AGENT_HELLO_TYPE);
    if (err == WD_OK)
        err = attest_agent_hello_from_env (env, &hello);
    s_host_t *host = NULL;
    if (err == WD_OK && s_host_by_peer (self, peer))
        err = ATTEST_ERR_AGENT_TOKEN_REFUSED; /* one hello per connection */
    if (err == WD_OK && !(host = s_host_by_token (self, hello.token)))
        err = ATTEST_ERR_AGENT_TOKEN_REFUSED;
    if (err == WD_OK && host->label_from_hello && s_host_by_label (self, hello.host) &&
        s_host_by_label (self, hello.host) != host)
        err = ATTEST_ERR_AGENT_HOST; /* the label belongs to another host */
    if (err != WD_OK) {
        self->rejected_unknown++;
        wd_log_info ("attest: refused an agent: %s", attest_err_name (err));
        if (self->config.on_reject)
            self->config.on_reject (self->config.arg, NULL, err);
        s_send_result (self, peer, 0, ATTEST_AGENT_REFUSED, err);
        sodium_memzero (&hello, sizeof hello);
        return;
    }
    sodium_memzero (host->token, sizeof host->token);
    host->token_live = false;
    if (host->label_from_hello) {
        snprintf (host->label, sizeof host->label, "%s", hello.host);
        host->label_from_hello = false;
    }
    sodium_memzero (hello.token, sizeof hello.token);
    host->admitted = true;
    host->admitted_ms = now_ms;
    host->routing_id = zframe_dup (peer);
    memcpy (host->session_pk, hello.pk, 32);
    host->state = ATTEST_HOST_ATTESTING;
    attest_ima_state_init (&host->ima, ATTEST_IMA_BINARY, ATTEST_IMA_PCR_DEFAULT, 0);
    self->frozen = true;
    attest_challenge_config_t cc = {
        .mean_interval_ms = self->config.mean_interval_ms,
        .deadline_ms = self->config.deadline_ms,
        .item_count = self->item_count,
    };
    cc.max_items = self->config.max_items && self->config.max_items < self->item_count
                       ? self->config.max_items
                       : self->item_count;
    cc.min_items = self->config.min_items ? self->config.min_items : 1;
    if (cc.min_items > cc.max_items)
        cc.min_items = cc.max_items;
    uint8_t seed[ATTEST_CHALLENGE_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    host->sched = attest_challenge_new (&cc, seed);
    sodium_memzero (seed, sizeof seed);
    attest_challenge_start (host->sched, now_ms);
    wd_log_info ("attest: host %s admitted, session key %s", host->label,
                 wd_short_id (host->session_pk).s);
    s_send_result (self, peer, 0, ATTEST_AGENT_ACCEPTED, WD_OK);
}

static void
s_on_response (attest_server_t *self, zframe_t *peer, const wd_envelope_t *env,
               const uint8_t *frame, size_t frame_len, uint64_t now_ms)
{
    s_host_t *host = s_host_by_peer (self, peer);
    if (!host) {
        s_reject (self, NULL, peer, 0, ATTEST_ERR_AGENT_NO_SESSION);
        return;
    }
    attest_agent_response_t *resp = calloc (1, sizeof *resp);
    if (!resp)
        abort ();
    int err = WD_OK;
    if (sodium_memcmp (env->from, host->session_pk, 32) != 0)
        err = ATTEST_ERR_AGENT_SESSION_KEY;
    if (err == WD_OK)
        err = wd_envelope_verify (env, self->config.curve_public, ATTEST_AGENT_RESPONSE_TYPE);
    if (err == WD_OK)
        err = attest_agent_response_from_env (env, resp);
    const attest_challenge_event_t *open = attest_challenge_open (host->sched);
    attest_challenge_event_t ev;
    memset (&ev, 0, sizeof ev);
    if (open)
        ev = *open;
    if (err == WD_OK)
        err = attest_challenge_answer (host->sched, resp->seq, resp->nonce, now_ms);
    if (err != WD_OK) {
        s_reject (self, host, peer, resp->seq, err);
        goto out;
    }
    attest_server_outcome_t *o = calloc (1, sizeof *o);
    if (!o)
        abort ();
    s_outcome_init (self, host, &ev, now_ms, o);
    o->answered_ms = now_ms;
    o->response = frame;
    o->response_len = frame_len;
    bool failed = false;
    for (size_t i = 0; i < ev.count; i++) {
        attest_evidence_item_t *ci = &o->challenge.items[i];
        if (resp->count != ev.count) {
            ci->result = ATTEST_OUTCOME_FAIL;
            s_set_why (ci, "%s (%zu for %zu)", attest_strerror (ATTEST_ERR_AGENT_ANSWER_COUNT),
                       resp->count, ev.count);
        } else
            s_check (self, host, &self->items[ev.items[i]], &resp->answers[i], ci, o);
        failed |= ci->result != ATTEST_OUTCOME_PASS;
    }
    o->challenge.outcome = failed ? ATTEST_OUTCOME_FAIL : ATTEST_OUTCOME_PASS;
    s_report (self, host, o);
    s_send_result (self, peer, ev.seq, failed ? ATTEST_AGENT_FAIL : ATTEST_AGENT_PASS, WD_OK);
    free (o);
out:
    attest_agent_response_clear (resp);
    free (resp);
}

static void
s_on_frame (attest_server_t *self, zframe_t *peer, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    wd_envelope_t env;
    int err = len > ATTEST_AGENT_MSG_MAX ? WD_ERR_OVERSIZE : wd_envelope_decode (buf, len, &env);
    if (err == WD_OK) {
        if (strcmp (env.type, ATTEST_AGENT_HELLO_TYPE) == 0) {
            s_on_hello (self, peer, &env, now_ms);
            return;
        }
        if (strcmp (env.type, ATTEST_AGENT_RESPONSE_TYPE) == 0) {
            s_on_response (self, peer, &env, buf, len, now_ms);
            return;
        }
        err = ATTEST_ERR_AGENT_MSG_TYPE;
    }
    s_reject (self, s_host_by_peer (self, peer), peer, 0, err);
}

void
attest_server_handle (attest_server_t *self, uint64_t now_ms)
{
    assert (self);
    while (zsock_events (self->sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->sock);
        if (!msg)
            break;
        zframe_t *peer = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        if (peer && body && zmsg_size (msg) == 0)
            s_on_frame (self, peer, zframe_data (body), zframe_size (body), now_ms);
        else if (peer)
            s_reject (self, s_host_by_peer (self, peer), peer, 0, WD_ERR_FRAME);
        zframe_destroy (&peer);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    attest_server_tick (self, now_ms);
}

/* ---- time ----------------------------------------------------------------------------- */

static void
s_issue (attest_server_t *self, s_host_t *host, const attest_challenge_event_t *ev)
{
    attest_agent_challenge_t *ch = calloc (1, sizeof *ch);
    if (!ch)
        abort ();
    ch->seq = ev->seq;
    memcpy (ch->nonce, ev->nonce, 32);
    ch->deadline_ms = self->config.deadline_ms;
    ch->count = ev->count;
    for (size_t i = 0; i < ev->count; i++) {
        ch->items[i] = self->items[ev->items[i]].item; /* paths borrowed */
        if (ch->items[i].kind == ATTEST_ITEM_IMA)
            ch->items[i].from = host->ima.entries;
    }
    host->open_ima_from = host->ima.entries;
    size_t len;
    uint8_t *buf = attest_agent_challenge_encode (ch, &len);
    free (ch);
    wd_log_debug ("attest: challenge %" PRIu64 " to %s, %zu items", ev->seq, host->label,
                  ev->count);
    s_send (self, host->routing_id, buf, len);
}

void
attest_server_tick (attest_server_t *self, uint64_t now_ms)
{
    assert (self);
    for (size_t i = 0; i < self->host_count; i++) {
        s_host_t *host = self->hosts[i];
        if (!host->admitted)
            continue;
        attest_challenge_event_t ev;
        while (attest_challenge_poll (host->sched, now_ms, &ev) != ATTEST_CHALLENGE_NONE) {
            if (ev.kind == ATTEST_CHALLENGE_ISSUE) {
                s_issue (self, host, &ev);
                continue;
            }
            attest_server_outcome_t *o = calloc (1, sizeof *o);
            if (!o)
                abort ();
            s_outcome_init (self, host, &ev, now_ms, o);
            o->challenge.outcome = ATTEST_OUTCOME_MISSED;
            for (size_t k = 0; k < ev.count; k++) {
                o->challenge.items[k].result = ATTEST_OUTCOME_MISSED;
                s_set_why (&o->challenge.items[k], "no answer before the deadline");
            }
            s_report (self, host, o);
            free (o);
        }
    }
    for (size_t i = 0; i < self->hook_count;) {
        pid_t r = waitpid (self->hooks[i], NULL, WNOHANG);
        if (r == 0)
            i++;
        else
            self->hooks[i] = self->hooks[--self->hook_count];
    }
}

uint64_t
attest_server_next_ms (const attest_server_t *self)
{
    assert (self);
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < self->host_count; i++)
        if (self->hosts[i]->admitted) {
            uint64_t t = attest_challenge_next_ms (self->hosts[i]->sched);
            if (t < next)
                next = t;
        }
    if (self->hook_count && next > 0) {
        /* Reap hooks within a second even when nothing else is due. */
        uint64_t soon = (uint64_t)zclock_mono () + 1000;
        if (soon < next)
            next = soon;
    }
    return next;
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg);

static void
s_rearm (attest_server_t *self)
{
    if (!self->loop)
        return;
    if (self->timer_id >= 0) {
        zloop_timer_end (self->loop, self->timer_id);
        self->timer_id = -1;
    }
    uint64_t next = attest_server_next_ms (self);
    if (next == UINT64_MAX)
        return;
    uint64_t now = (uint64_t)zclock_mono ();
    uint64_t delay = next > now ? next - now : 1;
    if (delay > 60000)
        delay = 60000;
    self->timer_id = zloop_timer (self->loop, (size_t)delay, 1, s_on_timer, self);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    attest_server_t *self = arg;
    if (timer_id == self->timer_id)
        self->timer_id = -1; /* a one-shot timer is gone once it fired */
    attest_server_tick (self, (uint64_t)zclock_mono ());
    s_rearm (self);
    return 0;
}

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    attest_server_t *self = arg;
    attest_server_handle (self, (uint64_t)zclock_mono ());
    s_rearm (self);
    return 0;
}

int
attest_server_attach (attest_server_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    if (zloop_reader (loop, self->sock, s_on_readable, self) != 0)
        return -1;
    self->loop = loop;
    s_rearm (self);
    return 0;
}

void
attest_server_detach (attest_server_t *self)
{
    assert (self);
    if (!self->loop)
        return;
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    zloop_reader_end (self->loop, self->sock);
    self->timer_id = -1;
    self->loop = NULL;
}

/* ---- status ------------------------------------------------------------------------- */

size_t
attest_server_host_count (const attest_server_t *self)
{
    assert (self);
    return self->host_count;
}

uint64_t
attest_server_rejected_unknown (const attest_server_t *self)
{
    assert (self);
    return self->rejected_unknown;
}

void
attest_server_host_status (const attest_server_t *self, size_t i, attest_host_status_t *out)
{
    assert (self && out && i < self->host_count);
    const s_host_t *h = self->hosts[i];
    memset (out, 0, sizeof *out);
    snprintf (out->host, sizeof out->host, "%s", h->label);
    out->state = h->state;
    out->admitted = h->admitted;
    memcpy (out->session_pk, h->session_pk, 32);
    out->admitted_ms = h->admitted_ms;
    out->passed = h->passed;
    out->failed = h->failed;
    out->missed = h->missed;
    out->rejected = h->rejected;
    out->ima_entries = h->ima.entries;
    out->challenge_open = h->sched && attest_challenge_open (h->sched) != NULL;
    out->next_ms = h->sched ? attest_challenge_next_ms (h->sched) : UINT64_MAX;
    out->history_count = h->hist_count;
    for (size_t k = 0; k < h->hist_count; k++)
        out->history[k] = h->history[(h->hist_start + k) % ATTEST_SERVER_HISTORY];
}

static void
s_write_outcome (wd_writer_t *w, const attest_server_outcome_t *o, uint64_t now_ms)
{
    wd_writer_map (w, 6);
    wd_writer_key (w, "age_ms");
    wd_writer_uint (w, now_ms > o->issued_ms ? now_ms - o->issued_ms : 0);
    wd_writer_key (w, "items");
    wd_writer_array (w, o->challenge.item_count);
    for (size_t i = 0; i < o->challenge.item_count; i++) {
        const attest_evidence_item_t *ci = &o->challenge.items[i];
        wd_writer_map (w, 3);
        wd_writer_key (w, "item");
        wd_writer_cstr (w, ci->item);
        wd_writer_key (w, "result");
        wd_writer_cstr (w, attest_outcome_name (ci->result));
        wd_writer_key (w, "why");
        wd_writer_cstr (w, ci->why);
    }
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, o->challenge.nonce, 32);
    wd_writer_key (w, "on_demand");
    wd_writer_bool (w, o->on_demand);
    wd_writer_key (w, "outcome");
    wd_writer_cstr (w, attest_outcome_name (o->challenge.outcome));
    wd_writer_key (w, "seq");
    wd_writer_uint (w, o->seq);
}

void
attest_server_status_write (const attest_server_t *self, wd_writer_t *w, uint64_t now_ms)
{
    assert (self && w);
    wd_writer_map (w, 2);
    wd_writer_key (w, "hosts");
    wd_writer_array (w, self->host_count);
    for (size_t i = 0; i < self->host_count; i++) {
        const s_host_t *h = self->hosts[i];
        wd_writer_map (w, 10);
        wd_writer_key (w, "admitted");
        wd_writer_bool (w, h->admitted);
        wd_writer_key (w, "failed");
        wd_writer_uint (w, h->failed);
        wd_writer_key (w, "history");
        wd_writer_array (w, h->hist_count);
        for (size_t k = 0; k < h->hist_count; k++)
            s_write_outcome (w, &h->history[(h->hist_start + k) % ATTEST_SERVER_HISTORY], now_ms);
        wd_writer_key (w, "host");
        wd_writer_cstr (w, h->label);
        wd_writer_key (w, "ima_entries");
        wd_writer_uint (w, h->ima.entries);
        wd_writer_key (w, "missed");
        wd_writer_uint (w, h->missed);
        wd_writer_key (w, "passed");
        wd_writer_uint (w, h->passed);
        wd_writer_key (w, "rejected");
        wd_writer_uint (w, h->rejected);
        wd_writer_key (w, "session_pk");
        if (h->admitted)
            wd_writer_bin (w, h->session_pk, 32);
        else
            wd_writer_nil (w);
        wd_writer_key (w, "state");
        wd_writer_cstr (w, s_state_names[h->state]);
    }
    wd_writer_key (w, "rejected_unknown");
    wd_writer_uint (w, self->rejected_unknown);
}
