/*
 * node_verify: the committee driver (see node_verify.h).
 *
 * Everything runs on the engine's zloop. Asynchronous work — a sortition
 * proof, the keystore status for self-evidence, a seal — is a heap job
 * answered through node_sign exactly once; a job whose answer is a failure
 * is logged and dropped (the next epoch's evidence, or the tracker's
 * expiry, makes up for it). Tracker outputs are drained after every input;
 * "records ready" reaches node_agree from a zero-delay timer, never from
 * inside one of its hooks.
 *
 * Verifier state: self-evidence carries the node's whole measurement log
 * (entries from 0), so any verifier appraises it from scratch (no replay
 * state per subject: the committee changes with every record). The epoch
 * nonce's seed is the block named by the evidence (accepted while that
 * block is at most NODE_VERIFY_SEED_EPOCHS epochs behind the tip); its
 * `prev` must be zero or an evidence id this node knows (in the ledger or
 * seen in gossip).
 */
#include "node_verify.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest_evidence.h"
#include "attest_policy.h"
#include "attest_verdict.h"
#include "cons_block.h"
#include "cons_committee.h"
#include "cons_ledger.h"
#include "cons_sortition.h"
#include "node_tpm.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_log.h"

#define NODE_VERIFY_SEED_EPOCHS 3 /* how far behind the tip an evidence seed may be */

typedef enum {
    S_JOB_SORTITION = 1, /* VRF proof, then (selected) appraise and seal */
    S_JOB_ESCALATION,    /* appraise and seal without a claim */
    S_JOB_SELF_INFO,     /* keystore status for self-evidence */
    S_JOB_SELF_SEAL,     /* self-evidence sealed */
    S_JOB_BINDING,       /* the AK-binding record sealed (once, before the first quote) */
} s_job_kind_t;

typedef struct {
    node_verify_t *owner;
    s_job_kind_t kind;
    uint8_t evidence[ATTEST_EVIDENCE_ID_LEN];
    uint64_t epoch;
    cons_sortition_input_t in;
    /* self-evidence */
    uint64_t seed_height;
    uint8_t seed[CONS_BLOCK_HASH_LEN];
} s_job_t;

typedef struct {
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    uint8_t *env;
    size_t len;
} s_kept_t;

struct node_verify {
    zloop_t *loop;
    const wd_config_t *cfg;
    const wd_cert_t *cert;
    node_sign_t *signer;
    node_mesh_t *mesh;
    node_agree_t *agree;
    cons_ledger_t *ledger;
    const wd_genesis_t *genesis;
    const attest_log_t *measurements;
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t self_id[WD_PUBKEY_LEN];
    uint64_t epoch_blocks;
    uint64_t tau;
    size_t block_max;
    attest_policy_t *policy; /* NULL: appraise nothing */
    cons_committee_t *committee;
    node_tpm_t *tpm;          /* tpm/tcti: quoted self-evidence; NULL: none */
    attest_quote_ca_t *ek_ca; /* tpm/ek_ca: EK certificate issuers; NULL: TOFU */

    bool has_epoch;
    uint64_t epoch; /* the highest committee epoch given to the tracker */

    bool producing;         /* self-evidence on its way */
    bool produced;          /* at least one since start-up */
    uint64_t last_produced; /* seed height of the last one */
    bool has_own;
    uint8_t own[ATTEST_EVIDENCE_ID_LEN]; /* id of the last own evidence */

    s_kept_t kept[NODE_VERIFY_KEEP]; /* ring of recent evidence */
    size_t kept_next;

    int tick_timer, ready_timer;
    uint64_t started_ms;
    uint64_t produced_count, appraised, selected, not_selected, verdicts_out, certified, rejected;
};

static const char *
s_strerror (int rc)
{
    if (rc > ATTEST_ERR_FIRST_ && rc < ATTEST_ERR_LAST_)
        return attest_strerror (rc);
    return cons_strerror (rc);
}

static uint64_t
s_now_ms (void)
{
    return (uint64_t)zclock_mono ();
}

static s_job_t *
s_job_new (node_verify_t *self, s_job_kind_t kind)
{
    s_job_t *job = calloc (1, sizeof *job);
    if (!job)
        wd_fatalx ("out of memory");
    job->owner = self;
    job->kind = kind;
    return job;
}

/* ---- evidence kept for escalation ------------------------------------------ */

static const s_kept_t *
s_kept_find (const node_verify_t *self, const uint8_t id[ATTEST_EVIDENCE_ID_LEN])
{
    for (size_t i = 0; i < NODE_VERIFY_KEEP; i++)
        if (self->kept[i].env && memcmp (self->kept[i].id, id, ATTEST_EVIDENCE_ID_LEN) == 0)
            return &self->kept[i];
    return NULL;
}

static void
s_kept_add (node_verify_t *self, const uint8_t id[ATTEST_EVIDENCE_ID_LEN], const uint8_t *env,
            size_t len)
{
    s_kept_t *k = &self->kept[self->kept_next];
    self->kept_next = (self->kept_next + 1) % NODE_VERIFY_KEEP;
    free (k->env);
    k->env = malloc (len);
    if (!k->env)
        wd_fatalx ("out of memory");
    memcpy (k->env, env, len);
    k->len = len;
    memcpy (k->id, id, ATTEST_EVIDENCE_ID_LEN);
}

/* ---- epochs ------------------------------------------------------------------- */

/* The seed of the block at height (false when it is not stored). */
static bool
s_block_seed (node_verify_t *self, uint64_t height, uint8_t seed[CONS_BLOCK_HASH_LEN])
{
    uint8_t *block = NULL;
    size_t len = 0;
    if (cons_ledger_get (self->ledger, height, &block, &len, NULL, NULL) != WD_OK)
        return false;
    cons_block_t b;
    bool ok = cons_block_decode (block, len, self->block_max, &b) == WD_OK;
    if (ok) {
        memcpy (seed, b.seed, CONS_BLOCK_HASH_LEN);
        cons_block_release (&b);
    }
    free (block);
    return ok;
}

/* The committee epoch e (its first block must be stored): false when it
   cannot be built. Validators are borrowed until the next append. */
static bool
s_epoch (node_verify_t *self, uint64_t e, cons_committee_epoch_t *ep)
{
    memset (ep, 0, sizeof *ep);
    ep->epoch = e;
    ep->height = e * self->epoch_blocks + 1;
    if (!s_block_seed (self, ep->height, ep->seed))
        return false;
    return cons_ledger_validators (self->ledger, ep->height, &ep->validators, &ep->count) == WD_OK;
}

static void
s_set_epoch (node_verify_t *self, uint64_t e)
{
    cons_committee_epoch_t ep;
    if (!s_epoch (self, e, &ep)) {
        wd_log_warnx ("verify: committee epoch %" PRIu64 " cannot be built from the ledger", e);
        return;
    }
    int rc = cons_committee_set_epoch (self->committee, &ep);
    if (rc != WD_OK) {
        wd_log_debug ("verify: committee epoch %" PRIu64 ": %s", e, s_strerror (rc));
        return;
    }
    if (!self->has_epoch || e > self->epoch) {
        self->epoch = e;
        self->has_epoch = true;
    }
}

/* ---- appraisal -------------------------------------------------------------- */

/* The committee's member lookup: the mesh's admitted set (the ledger's). */
static const wd_cert_t *
s_find_node (void *ctx, const uint8_t id[WD_PUBKEY_LEN])
{
    return node_mesh_find_node (ctx, id);
}

static bool
s_key_fn (void *ctx, const uint8_t node_id[WD_PUBKEY_LEN],
          char key_protection[WD_CERT_PROTECTION_MAX + 1])
{
    node_verify_t *self = ctx;
    const wd_cert_t *c = node_mesh_find_node (self->mesh, node_id); /* follows the ledger */
    if (!c)
        return false;
    snprintf (key_protection, WD_CERT_PROTECTION_MAX + 1, "%s", c->key_protection);
    return true;
}

/* An epoch seed is accepted while its block is stored and recent. */
static bool
s_seed_fn (void *ctx, uint64_t epoch, uint8_t seed[32])
{
    node_verify_t *self = ctx;
    uint64_t tip = cons_ledger_height (self->ledger);
    if (epoch < 1 || epoch > tip || tip - epoch > NODE_VERIFY_SEED_EPOCHS * self->epoch_blocks)
        return false;
    return s_block_seed (self, epoch, seed);
}

/* prev of epoch evidence: zero (a first record, or a node that lost track)
   or evidence this node knows of. */
static bool
s_prev_known (node_verify_t *self, const uint8_t prev[ATTEST_EVIDENCE_ID_LEN])
{
    static const uint8_t zero[ATTEST_EVIDENCE_ID_LEN];
    return sodium_memcmp (prev, zero, sizeof zero) == 0 || cons_ledger_seen (self->ledger, prev) ||
           s_kept_find (self, prev) != NULL;
}

/* The node's last decided evidence in the ledger, when it carried a quote:
   its TPM clock and the EK its binding named. Looks in the deciding block
   and the few before it (the evidence precedes its verdicts). */
static bool
s_last_quote (node_verify_t *self, const uint8_t node[WD_PUBKEY_LEN], attest_quote_clock_t *clock,
              uint8_t ek_name[ATTEST_QUOTE_NAME_LEN])
{
    cons_node_status_t st;
    if (cons_ledger_node_status (self->ledger, node, &st) != WD_OK || st.tier == ATTEST_TRUST_NONE)
        return false;
    bool found = false, quoted = false;
    for (uint64_t h = st.height; !found && h >= 1 && st.height - h < 4; h--) {
        uint8_t *block = NULL;
        size_t len = 0;
        cons_block_t b;
        if (cons_ledger_get (self->ledger, h, &block, &len, NULL, NULL) != WD_OK)
            break;
        if (cons_block_decode (block, len, self->block_max, &b) != WD_OK) {
            free (block);
            break;
        }
        for (size_t i = 0; !found && i < b.record_count; i++) {
            uint8_t id[ATTEST_EVIDENCE_ID_LEN];
            wd_envelope_t e;
            attest_evidence_id (id, b.records[i].data, b.records[i].len);
            if (sodium_memcmp (id, st.evidence, sizeof id) != 0 ||
                wd_envelope_decode (b.records[i].data, b.records[i].len, &e) != WD_OK)
                continue;
            found = true;
            attest_evidence_t *ev = calloc (1, sizeof *ev);
            if (!ev)
                wd_fatalx ("out of memory");
            quoted =
                attest_evidence_decode (e.body, e.body_len, ev) == WD_OK && ev->has_quote &&
                attest_quote_clock_of (&ev->quote, clock) == WD_OK &&
                attest_quote_binding_open (ev->quote.binding, ev->quote.binding_len, self->chain,
                                           node, NULL, NULL, NULL, NULL, ek_name) == WD_OK;
            free (ev);
        }
        cons_block_release (&b);
        free (block);
    }
    return quoted;
}

/* Opens and appraises evidence against the node policy. WD_OK and *out, or
   the rejection with a line in why. */
static int
s_appraise (node_verify_t *self, const uint8_t *env, size_t len, attest_verdict_body_t *out,
            char *why, size_t why_len)
{
    wd_envelope_t e;
    wd_err_t err = wd_envelope_decode (env, len, &e);
    if (err != WD_OK) {
        snprintf (why, why_len, "envelope does not decode");
        return err;
    }
    attest_evidence_t *ev = calloc (1, sizeof *ev);
    if (!ev)
        wd_fatalx ("out of memory");
    int rc = attest_evidence_decode (e.body, e.body_len, ev);
    if (rc != WD_OK) {
        snprintf (why, why_len, "body does not decode");
        free (ev);
        return rc;
    }
    attest_evidence_expect_t expect = {
        .chain = self->chain,
        .key_fn = s_key_fn,
        .key_ctx = self,
        .subject = &ev->subject,
        .now = (uint64_t)time (NULL),
        .max_age = NODE_VERIFY_MAX_AGE_S,
        .max_skew = NODE_VERIFY_MAX_SKEW_S,
    };
    if (ev->fresh.kind == ATTEST_FRESH_EPOCH) {
        if (!s_prev_known (self, ev->fresh.prev)) {
            snprintf (why, why_len, "its previous evidence %s is unknown here",
                      wd_short_id (ev->fresh.prev).s);
            free (ev);
            return ATTEST_ERR_EVIDENCE_NONCE;
        }
        expect.seed_fn = s_seed_fn;
        expect.seed_ctx = self;
        expect.prev = ev->fresh.prev;
    } else
        /* A host challenge's nonce was chosen by the attesting node itself:
           a verifier cannot check it, only that the record is signed. */
        expect.nonce = ev->nonce;
    /* A quote: AK from its own binding record, the log PCR required and
       compared by the verdict; EK, clock and "has a TPM" pinned by the
       node's last decided quote in the ledger, where there is one. */
    attest_quote_expect_t qx = {
        .from_binding = true,
        .ca = self->ek_ca,
        .defer_pcr_log = true,
    };
    attest_quote_clock_t last;
    uint8_t ek_name[ATTEST_QUOTE_NAME_LEN];
    if (ev->has_quote && ev->has_log)
        qx.required = 1u << ev->log.pcr;
    if (ev->subject.kind == ATTEST_SUBJECT_NODE &&
        s_last_quote (self, ev->subject.node, &last, ek_name)) {
        qx.last = &last;
        qx.ek_name = ek_name;
        qx.require_quote = true;
    }
    expect.quote = &qx;
    const attest_policy_t *policies[1] = { self->policy };
    rc = attest_verdict_open_appraise (env, len, &expect, policies, 1,
                                       attest_policy_id (self->policy), out, NULL, NULL, why,
                                       why_len);
    free (ev);
    return rc;
}

/* ---- verdicts -------------------------------------------------------------- */

static void
s_drain (node_verify_t *self);

static void
s_verdict_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_job_t *job = arg;
    node_verify_t *self = job->owner;
    if (!envelope) {
        wd_log_warnx ("verify: verdict on %s not sealed: %s", wd_short_id (job->evidence).s,
                      reason);
        free (job);
        return;
    }
    int rc = node_mesh_publish_record (self->mesh, envelope, len);
    if (rc != WD_OK)
        wd_log_warnx ("verify: verdict on %s not published: %s", wd_short_id (job->evidence).s,
                      cons_strerror (rc));
    else
        self->verdicts_out++;
    free (job);
}

/* Appraises the job's evidence and seals a committee verdict (with claim
   when not NULL). Frees the job unless a seal takes it. */
static void
s_verdict (node_verify_t *self, s_job_t *job, const cons_sortition_claim_t *claim)
{
    const s_kept_t *k = s_kept_find (self, job->evidence);
    if (!k) {
        wd_log_debug ("verify: evidence %s is no longer kept", wd_short_id (job->evidence).s);
        free (job);
        return;
    }
    cons_committee_verdict_t cv = { .epoch = job->epoch, .has_claim = claim != NULL };
    if (claim)
        cv.claim = *claim;
    char why[256] = "";
    int rc = s_appraise (self, k->env, k->len, &cv.verdict, why, sizeof why);
    self->appraised++;
    if (rc != WD_OK) {
        wd_log_warnx ("verify: evidence %s not appraised: %s (%s)", wd_short_id (job->evidence).s,
                      s_strerror (rc), why);
        free (job);
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    rc = cons_committee_verdict_encode (&cv, &body, &len);
    if (rc != WD_OK) {
        wd_log_warnx ("verify: verdict on %s: %s", wd_short_id (job->evidence).s, s_strerror (rc));
        free (job);
        return;
    }
    wd_log_info ("verify: %s verdict on evidence %s about %s: %s (%" PRIu64 " failing entries)",
                 claim ? "committee" : "escalation", wd_short_id (job->evidence).s,
                 wd_short_id (cv.verdict.subject.node).s, attest_trust_name (cv.verdict.tier),
                 cv.verdict.failure_count);
    node_sign_seal (self->signer, CONS_COMMITTEE_VERDICT_TYPE, self->chain, body, len,
                    s_verdict_sealed, job);
    free (body);
}

/* The VRF proof of a sortition is back: selected or not. */
static void
s_sortition_proved (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN],
                    const uint8_t beta[WD_VRF_BETA_LEN], const char *reason)
{
    s_job_t *job = arg;
    node_verify_t *self = job->owner;
    if (!pi) {
        wd_log_warnx ("verify: sortition for %s: %s", wd_short_id (job->evidence).s, reason);
        free (job);
        return;
    }
    cons_sortition_claim_t claim;
    memset (&claim, 0, sizeof claim);
    int rc = cons_sortition_count (job->in.weight, job->in.total_weight, job->in.tau, beta,
                                   &claim.count);
    if (rc != WD_OK || claim.count == 0) {
        if (rc != WD_OK)
            wd_log_warnx ("verify: sortition for %s: %s", wd_short_id (job->evidence).s,
                          cons_strerror (rc));
        self->not_selected++;
        free (job);
        return;
    }
    self->selected++;
    cons_sortition_priority (beta, claim.count, claim.priority);
    memcpy (claim.proof, pi, WD_VRF_PROOF_LEN);
    s_verdict (self, job, &claim);
}

/* Runs this node's sortition for evidence in the highest epoch. */
static void
s_sortition (node_verify_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN])
{
    cons_committee_epoch_t ep;
    if (!self->policy || !self->has_epoch || !s_epoch (self, self->epoch, &ep))
        return;
    s_job_t *job = s_job_new (self, S_JOB_SORTITION);
    memcpy (job->evidence, evidence, ATTEST_EVIDENCE_ID_LEN);
    job->epoch = self->epoch;
    cons_committee_input (self->chain, &ep, evidence, self->self_id, self->tau, &job->in);
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    if (job->in.weight == 0 || cons_sortition_alpha (&job->in, alpha) != 0) {
        self->not_selected += job->in.weight == 0;
        free (job);
        return;
    }
    node_sign_vrf (self->signer, alpha, sizeof alpha, s_sortition_proved, job);
}

/* Every validator of the highest epoch appraises an escalated record
   (once the evidence is held; its arrival calls this again). */
static void
s_escalate (node_verify_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN])
{
    cons_committee_status_t st;
    cons_committee_epoch_t ep;
    cons_sortition_input_t in;
    if (!self->policy || !self->has_epoch ||
        cons_committee_status (self->committee, evidence, &st) != WD_OK || !st.has_evidence ||
        sodium_memcmp (st.subject.node, self->self_id, WD_PUBKEY_LEN) == 0 ||
        !s_epoch (self, self->epoch, &ep))
        return;
    /* the weight the sortition would give this node: 0 outside the set */
    cons_committee_input (self->chain, &ep, evidence, self->self_id, self->tau, &in);
    if (in.weight == 0)
        return;
    s_job_t *job = s_job_new (self, S_JOB_ESCALATION);
    memcpy (job->evidence, evidence, ATTEST_EVIDENCE_ID_LEN);
    job->epoch = self->epoch;
    s_verdict (self, job, NULL);
}

/* ---- the tracker's outputs ------------------------------------------------ */

static int
s_on_ready (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_verify_t *self = arg;
    self->ready_timer = -1;
    node_agree_records_ready (self->agree);
    return 0;
}

/* Tells node_agree from the loop, not from inside its hooks. */
static void
s_ready (node_verify_t *self)
{
    if (self->ready_timer >= 0)
        return;
    self->ready_timer = zloop_timer (self->loop, 1, 1, s_on_ready, self);
    if (self->ready_timer < 0)
        wd_fatalx ("zloop_timer");
}

static void
s_drain (node_verify_t *self)
{
    cons_committee_out_t out;
    bool ready = false;
    while (cons_committee_next (self->committee, &out)) {
        wd_short_id_t sid = wd_short_id (out.evidence);
        const char *id = sid.s;
        switch (out.kind) {
            case CONS_COMMITTEE_OUT_ESCALATED:
                wd_log_info ("verify: evidence %s escalated to the validators", id);
                s_escalate (self, out.evidence);
                ready = true;
                break;
            case CONS_COMMITTEE_OUT_CERTIFIED:
                self->certified++;
                wd_log_info ("verify: evidence %s certified", id);
                ready = true;
                break;
            case CONS_COMMITTEE_OUT_REJECTED:
                self->rejected++;
                wd_log_info ("verify: evidence %s rejected", id);
                ready = true;
                break;
            case CONS_COMMITTEE_OUT_EXPIRED:
                wd_log_info ("verify: evidence %s expired undecided", id);
                break;
        }
    }
    if (ready)
        s_ready (self);
}

/* ---- self-evidence ----------------------------------------------------------- */

static void
s_self_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_job_t *job = arg;
    node_verify_t *self = job->owner;
    self->producing = false;
    if (!envelope) {
        wd_log_warnx ("verify: self-evidence not sealed: %s", reason);
        free (job);
        return;
    }
    attest_evidence_id (self->own, envelope, len);
    self->has_own = true;
    self->produced = true;
    self->last_produced = job->seed_height;
    self->produced_count++;
    wd_log_info ("verify: self-evidence %s (seed of block %" PRIu64 ", %" PRIu64 " log entries)",
                 wd_short_id (self->own).s, job->seed_height,
                 attest_log_count (self->measurements));
    int rc = node_mesh_publish_record (self->mesh, envelope, len);
    if (rc != WD_OK)
        wd_log_warnx ("verify: self-evidence not published: %s", cons_strerror (rc));
    free (job);
}

/* The keystore's tamper state is in: build and seal the evidence. */
static void
s_self_info (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    s_job_t *job = arg;
    node_verify_t *self = job->owner;
    if (!keys) {
        wd_log_warnx ("verify: self-evidence: %s", reason);
        self->producing = false;
        free (job);
        return;
    }
    uint8_t prev[ATTEST_EVIDENCE_ID_LEN] = { 0 };
    cons_node_status_t st;
    if (self->has_own)
        memcpy (prev, self->own, sizeof prev);
    else if (cons_ledger_node_status (self->ledger, self->self_id, &st) == WD_OK &&
             st.tier != ATTEST_TRUST_NONE)
        memcpy (prev, st.evidence, sizeof prev);
    attest_evidence_t *ev = calloc (1, sizeof *ev);
    if (!ev)
        wd_fatalx ("out of memory");
    attest_evidence_init (ev, self->self_id, self->cert->key_protection, keys->tamper,
                          (uint64_t)time (NULL));
    ev->fresh.kind = ATTEST_FRESH_EPOCH;
    ev->fresh.epoch = job->seed_height;
    memcpy (ev->fresh.prev, prev, sizeof prev);
    attest_evidence_epoch_nonce (ev->nonce, job->seed, self->self_id, prev);
    size_t records_len;
    const uint8_t *records = attest_log_binary (self->measurements, 0, &records_len);
    attest_evidence_set_log (ev, records, records_len, 0, 0, attest_log_state (self->measurements));
    if (self->tpm) {
        char why[256] = "";
        int qrc = node_tpm_quote (self->tpm, ev->nonce, &ev->quote, why, sizeof why);
        if (qrc != WD_OK) {
            /* No evidence rather than evidence without its quote. */
            wd_log_warnx ("verify: self-evidence: TPM quote: %s", why);
            free (ev);
            self->producing = false;
            free (job);
            return;
        }
        ev->has_quote = true;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = attest_evidence_encode (ev, &body, &len);
    free (ev);
    if (rc != WD_OK) {
        wd_log_warnx ("verify: self-evidence: %s", attest_strerror (rc));
        self->producing = false;
        free (job);
        return;
    }
    job->kind = S_JOB_SELF_SEAL;
    node_sign_seal (self->signer, ATTEST_EVIDENCE_TYPE, self->chain, body, len, s_self_sealed, job);
    free (body);
}

/* The AK-binding record is sealed: keep it, then go on with the evidence. */
static void
s_binding_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_job_t *job = arg;
    node_verify_t *self = job->owner;
    if (!envelope || node_tpm_set_binding (self->tpm, envelope, len) != WD_OK) {
        wd_log_warnx ("verify: AK-binding record not sealed: %s", envelope ? "too long" : reason);
        self->producing = false;
        free (job);
        return;
    }
    uint8_t id[32];
    wd_envelope_id (id, envelope, len);
    wd_log_info ("verify: AK-binding record %s sealed", wd_short_id (id).s);
    job->kind = S_JOB_SELF_INFO;
    node_sign_info (self->signer, s_self_info, job);
}

/* Starts self-evidence whose nonce takes the seed of block seed_height. */
static void
s_produce (node_verify_t *self, uint64_t seed_height, const uint8_t seed[CONS_BLOCK_HASH_LEN])
{
    if (self->producing)
        return;
    self->producing = true;
    s_job_t *job = s_job_new (self, S_JOB_SELF_INFO);
    job->seed_height = seed_height;
    memcpy (job->seed, seed, CONS_BLOCK_HASH_LEN);
    if (self->tpm && !node_tpm_has_binding (self->tpm)) {
        size_t len;
        const uint8_t *body = node_tpm_binding_body (self->tpm, &len);
        job->kind = S_JOB_BINDING;
        node_sign_seal (self->signer, ATTEST_QUOTE_BINDING_TYPE, self->chain, body, len,
                        s_binding_sealed, job);
        return;
    }
    node_sign_info (self->signer, s_self_info, job);
}

/* ---- node_agree's hooks ------------------------------------------------------ */

static void
s_on_evidence (node_verify_t *self, const uint8_t *record, size_t len)
{
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    attest_evidence_id (id, record, len);
    if (cons_ledger_seen (self->ledger, id))
        return;
    int rc = cons_committee_add_evidence (self->committee, record, len, s_now_ms ());
    if (rc == CONS_ERR_DUPLICATE)
        return;
    if (rc != WD_OK) {
        wd_log_warnx ("verify: evidence %s refused: %s", wd_short_id (id).s, s_strerror (rc));
        return;
    }
    s_kept_add (self, id, record, len);
    cons_committee_status_t st;
    if (cons_committee_status (self->committee, id, &st) == WD_OK && st.has_evidence &&
        sodium_memcmp (st.subject.node, self->self_id, WD_PUBKEY_LEN) != 0) {
        if (st.state == CONS_COMMITTEE_ESCALATED)
            s_escalate (self, id);
        else if (st.state == CONS_COMMITTEE_OPEN)
            s_sortition (self, id);
    }
    s_drain (self);
}

static bool
s_on_record (void *arg, const uint8_t *record, size_t len)
{
    node_verify_t *self = arg;
    wd_envelope_t e;
    if (wd_envelope_decode (record, len, &e) != WD_OK)
        return false;
    if (strcmp (e.type, ATTEST_EVIDENCE_TYPE) == 0) {
        s_on_evidence (self, record, len);
        return true;
    }
    if (strcmp (e.type, CONS_COMMITTEE_VERDICT_TYPE) != 0)
        return false;
    uint8_t id[32];
    wd_envelope_id (id, record, len);
    if (cons_ledger_seen (self->ledger, id))
        return true;
    int rc = cons_committee_add_verdict (self->committee, record, len, s_now_ms ());
    if (rc != WD_OK && rc != CONS_ERR_DUPLICATE)
        wd_log_debug ("verify: verdict %s from %s refused: %s", wd_short_id (id).s,
                      wd_short_id (e.from).s, s_strerror (rc));
    s_drain (self);
    return true;
}

static void
s_on_commit (void *arg, uint64_t height, const uint8_t *block, size_t len)
{
    node_verify_t *self = arg;
    cons_block_t b;
    if (cons_block_decode (block, len, self->block_max, &b) != WD_OK) {
        wd_log_warnx ("verify: committed block %" PRIu64 " does not decode", height);
        return;
    }
    for (size_t i = 0; i < b.record_count; i++)
        cons_committee_committed (self->committee, height, b.records[i].data, b.records[i].len);
    uint8_t seed[CONS_BLOCK_HASH_LEN];
    memcpy (seed, b.seed, sizeof seed);
    cons_block_release (&b);
    if ((height - 1) % self->epoch_blocks == 0) {
        s_set_epoch (self, (height - 1) / self->epoch_blocks);
        s_produce (self, height, seed);
    }
    s_drain (self);
}

static size_t
s_propose (void *arg, cons_bytes_t *out, size_t max, size_t max_bytes)
{
    node_verify_t *self = arg;
    /* the block node_agree builds is the one after the ledger's tip */
    return cons_committee_propose (self->committee, cons_ledger_height (self->ledger) + 1, out, max,
                                   max_bytes);
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_verify_t *self = arg;
    uint64_t now = s_now_ms ();
    cons_committee_tick (self->committee, now);
    uint64_t tip = cons_ledger_height (self->ledger);
    if (!self->produced && !self->producing && tip >= 1 &&
        now - self->started_ms >= NODE_VERIFY_FIRST_MS) {
        /* after a (re)start: evidence now, on the current epoch's seed */
        uint64_t h = (tip - 1) / self->epoch_blocks * self->epoch_blocks + 1;
        uint8_t seed[CONS_BLOCK_HASH_LEN];
        if (s_block_seed (self, h, seed))
            s_produce (self, h, seed);
    }
    s_drain (self);
    return 0;
}

/* ---- the class ------------------------------------------------------------------ */

wd_err_t
node_verify_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                 node_sign_t *signer, node_mesh_t *mesh, node_agree_t *agree,
                 const attest_log_t *measurements, node_verify_t **out, char *why, size_t why_len)
{
    *out = NULL;
    /* tpm/tcti: the TPM must work whenever it is configured (no silent
       fallback), even when there is no agreement to quote for. */
    node_tpm_t *tpm = NULL;
    wd_err_t terr = node_tpm_new (cfg, self_cert->sign_pk, measurements, &tpm, why, why_len);
    if (terr != WD_OK)
        return terr;
    attest_quote_ca_t *ek_ca = NULL;
    const char *ca_path = wd_config_str (cfg, "tpm/ek_ca");
    if (ca_path) {
        char sub[256] = "";
        ek_ca = attest_quote_ca_new (ca_path, sub, sizeof sub);
        if (!ek_ca) {
            snprintf (why, why_len, "tpm/ek_ca %s", sub);
            node_tpm_destroy (&tpm);
            return WD_ERR_CONFIG_VALUE;
        }
    }
    if (!agree) {
        if (tpm)
            wd_log_info ("tpm: no agreement running: nothing to quote");
        node_tpm_destroy (&tpm);
        attest_quote_ca_destroy (&ek_ca);
        return WD_OK;
    }
    node_verify_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->tpm = tpm;
    self->ek_ca = ek_ca;
    self->loop = loop;
    self->cfg = cfg;
    self->cert = self_cert;
    self->signer = signer;
    self->mesh = mesh;
    self->agree = agree;
    self->ledger = node_agree_ledger (agree);
    self->genesis = node_mesh_genesis (mesh);
    self->measurements = measurements;
    self->tick_timer = self->ready_timer = -1;
    self->started_ms = s_now_ms ();
    wd_genesis_chain_id (self->genesis, self->chain);
    memcpy (self->self_id, self_cert->sign_pk, WD_PUBKEY_LEN);
    self->epoch_blocks = wd_genesis_param (self->genesis, "epoch_blocks");
    self->tau = wd_genesis_param (self->genesis, "verifiers");
    self->block_max = (size_t)wd_genesis_param (self->genesis, "block_max_bytes");

    const char *policy_path = wd_config_str (cfg, "attest/node_policy");
    if (policy_path) {
        char sub[256] = "";
        int rc = attest_policy_from_json_file (policy_path, NODE_VERIFY_POLICY_NAME, 0,
                                               &self->policy, sub, sizeof sub);
        if (rc != WD_OK) {
            snprintf (why, why_len, "attest/node_policy %s: %s (%s): %s", policy_path,
                      attest_strerror (rc), attest_err_name (rc), sub);
            node_tpm_destroy (&self->tpm);
            attest_quote_ca_destroy (&self->ek_ca);
            free (self);
            return WD_ERR_CONFIG_VALUE;
        }
        wd_log_info ("verify: node policy %s (id %s)", policy_path,
                     wd_short_id (attest_policy_id (self->policy)).s);
    } else
        wd_log_info ("verify: no attest/node_policy: this node appraises no evidence");

    cons_committee_config_t ccfg = {
        .genesis = self->genesis, .tau = self->tau, .find_node = s_find_node, .find_ctx = self->mesh
    };
    memcpy (ccfg.chain, self->chain, WD_CHAIN_ID_LEN);
    self->committee = cons_committee_new (&ccfg);
    if (!self->committee)
        wd_fatalx ("out of memory");
    uint64_t tip = cons_ledger_height (self->ledger);
    if (tip >= 1) {
        uint64_t e = (tip - 1) / self->epoch_blocks;
        if (e >= 1)
            s_set_epoch (self, e - 1);
        s_set_epoch (self, e);
    }
    self->tick_timer = zloop_timer (loop, NODE_VERIFY_TICK_MS, 0, s_on_tick, self);
    if (self->tick_timer < 0)
        wd_fatalx ("zloop_timer");
    node_agree_hooks_t hooks = {
        .on_record = s_on_record,
        .on_commit = s_on_commit,
        .propose = s_propose,
    };
    node_agree_set_hooks (agree, &hooks, self);
    *out = self;
    return WD_OK;
}

void
node_verify_destroy (node_verify_t **self_p)
{
    assert (self_p);
    node_verify_t *self = *self_p;
    if (!self)
        return;
    node_agree_set_hooks (self->agree, NULL, NULL);
    if (self->tick_timer >= 0)
        zloop_timer_end (self->loop, self->tick_timer);
    if (self->ready_timer >= 0)
        zloop_timer_end (self->loop, self->ready_timer);
    wd_log_debug ("verify: %" PRIu64 " self-evidence, %" PRIu64 " selected, %" PRIu64
                  " not selected, %" PRIu64 " appraised, %" PRIu64 " verdicts, %" PRIu64
                  " certified, %" PRIu64 " rejected",
                  self->produced_count, self->selected, self->not_selected, self->appraised,
                  self->verdicts_out, self->certified, self->rejected);
    cons_committee_destroy (&self->committee);
    attest_policy_destroy (&self->policy);
    node_tpm_destroy (&self->tpm);
    attest_quote_ca_destroy (&self->ek_ca);
    for (size_t i = 0; i < NODE_VERIFY_KEEP; i++)
        free (self->kept[i].env);
    free (self);
    *self_p = NULL;
}

void
node_verify_host_evidence (node_verify_t *self, const uint8_t *envelope, size_t len)
{
    if (!self)
        return;
    int rc = node_mesh_publish_record (self->mesh, envelope, len);
    if (rc != WD_OK)
        wd_log_warnx ("verify: host evidence not published: %s", cons_strerror (rc));
}

int
node_verify_measure_files (attest_log_t *log, const wd_config_t *cfg, const char *path, char *why,
                           size_t why_len)
{
    const char *list = wd_config_str (cfg, "attest/measure");
    if (!list)
        return WD_OK;
    int rc = WD_OK;
    const char *p = list;
    while (rc == WD_OK && *p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn (p, " ");
        if (n == 0)
            break;
        char file[PATH_MAX];
        if (p[0] != '/' || n >= sizeof file) {
            snprintf (why, why_len, "attest/measure: '%.*s' is not an absolute path", (int)n, p);
            return WD_ERR_CONFIG_VALUE;
        }
        memcpy (file, p, n);
        file[n] = '\0';
        p += n;
        rc = attest_log_measure_file (log, file, NULL);
        if (rc == WD_ERR_NOT_FOUND || rc == WD_ERR_NOT_REGULAR) {
            /* A file that went away is measured as empty: it must not
               escape the policy by disappearing. */
            wd_log_warnx ("attest/measure: %s: %s; measured as empty", file, attest_strerror (rc));
            rc = attest_log_measure_buffer (log, file, "", 0);
        }
        if (rc != WD_OK)
            snprintf (why, why_len, "measuring %s: %s", file, attest_strerror (rc));
    }
    if (rc == WD_OK) {
        rc = attest_log_save (log, path);
        if (rc != WD_OK)
            snprintf (why, why_len, "saving %s: %s", path, attest_strerror (rc));
    }
    return rc;
}
