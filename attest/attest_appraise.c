/*
 * attest_appraise: one-pass replay and appraisal of an IMA list against a
 * policy (see attest_appraise.h for how each kind of entry is treated).
 *
 * The run is attest_ima_replay_* with s_on_entry as the entry callback:
 * the parser has already checked the template hash and extended the
 * replayed PCR when the callback sees an entry, so this class only extends
 * the registers of any other PCR, classifies the entry and hands file and
 * buffer measurements to the policy report.
 */
#include "attest_appraise.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct attest_appraise {
    const attest_policy_t *policy;
    attest_ima_state_t state;
    bool detect;     /* format still to be detected from the first byte */
    bool from_start; /* the other PCRs' registers cover the whole list */
    bool ran;
    int result; /* the run's result code */
    attest_appraise_counts_t counts;
    attest_policy_report_t *report;
    uint32_t pcr_used; /* bit per PCR other than state.pcr that an entry extended */
    uint8_t sha1[ATTEST_IMA_PCR_COUNT][20];
    uint8_t sha256[ATTEST_IMA_PCR_COUNT][32];
    int log_alg; /* -1 none yet, -2 mixed, else attest_ima_hash_t */
    bool have_boot_aggregate;
    attest_ima_hash_t boot_alg;
    uint8_t boot_digest[ATTEST_IMA_DIGEST_MAX];
    size_t boot_len;
};

static attest_appraise_t *
s_new (const attest_policy_t *policy, const attest_ima_state_t *start, bool detect)
{
    assert (policy);
    attest_appraise_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->policy = policy;
    self->state = *start;
    self->detect = detect;
    self->from_start = start->entries == 0 && start->offset == 0;
    self->log_alg = -1;
    self->report = attest_policy_report_new ();
    return self;
}

attest_appraise_t *
attest_appraise_new (const attest_policy_t *policy, int format)
{
    assert (format == ATTEST_IMA_ASCII || format == ATTEST_IMA_BINARY ||
            format == ATTEST_APPRAISE_AUTO);
    attest_ima_state_t start;
    attest_ima_state_init (&start,
                           format == ATTEST_IMA_BINARY ? ATTEST_IMA_BINARY : ATTEST_IMA_ASCII,
                           ATTEST_IMA_PCR_DEFAULT, 0);
    return s_new (policy, &start, format == ATTEST_APPRAISE_AUTO);
}

attest_appraise_t *
attest_appraise_continue (const attest_policy_t *policy, const attest_ima_state_t *start)
{
    assert (start);
    return s_new (policy, start, false);
}

void
attest_appraise_destroy (attest_appraise_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_appraise_t *self = *self_p;
        attest_policy_report_destroy (&self->report);
        free (self);
        *self_p = NULL;
    }
}

/* ---- the entry callback ---------------------------------------------------- */

/* Extends a PCR other than the replayed one, exactly as the parser extends
   the replayed one (attest_ima.c s_accept). */
static void
s_extend_other (attest_appraise_t *self, const attest_ima_entry_t *e)
{
    uint8_t v1[20], v256[32], buf[64];
    attest_ima_extend_values (e, self->state.flags, v1, v256);
    memcpy (buf, self->sha1[e->pcr], 20);
    memcpy (buf + 20, v1, 20);
    attest_ima_digest (ATTEST_IMA_SHA1, buf, 40, self->sha1[e->pcr]);
    memcpy (buf, self->sha256[e->pcr], 32);
    memcpy (buf + 32, v256, 32);
    attest_ima_digest (ATTEST_IMA_SHA256, buf, 64, self->sha256[e->pcr]);
    self->pcr_used |= 1u << e->pcr;
}

static int
s_on_entry (const attest_ima_entry_t *e, const attest_ima_state_t *state, void *arg)
{
    attest_appraise_t *self = arg;
    (void)state;
    self->counts.entries++;
    if (e->pcr != self->state.pcr) {
        self->counts.other_pcr++;
        s_extend_other (self, e);
    }
    if (e->violation) {
        self->counts.violations++;
        return 0;
    }
    int alg = (int)e->template_hash_alg;
    if (self->log_alg == -1)
        self->log_alg = alg;
    else if (self->log_alg != alg)
        self->log_alg = -2;
    if (strcmp (e->name, ATTEST_APPRAISE_BOOT_AGGREGATE) == 0) {
        self->counts.boot_aggregate++;
        self->have_boot_aggregate = true;
        self->boot_alg = e->digest_alg;
        self->boot_len = e->digest_len;
        memcpy (self->boot_digest, e->digest, e->digest_len);
        return 0;
    }
    bool buffer = e->template_id == ATTEST_IMA_TEMPLATE_IMA_BUF;
    if (buffer)
        self->counts.buffers++;
    attest_measurement_t m = {
        .path = e->name,
        .alg = attest_ima_hash_name (e->digest_alg),
        .digest = e->digest,
        /* a name the policy would read shorter than the list holds it is
           not a measurement of that path: length 0 makes it bad-measurement */
        .digest_len = strlen (e->name) == e->name_len ? e->digest_len : 0,
        .kind = buffer ? ATTEST_MEASUREMENT_BUFFER : ATTEST_MEASUREMENT_FILE,
    };
    attest_policy_report_add (self->report, self->policy, e->index, &m, NULL);
    return 0;
}

/* ---- runs ------------------------------------------------------------------- */

static attest_ima_format_t
s_detect (const uint8_t *first, size_t len)
{
    if (len == 0 || *first == ' ' || (*first >= '0' && *first <= '9'))
        return ATTEST_IMA_ASCII;
    return ATTEST_IMA_BINARY;
}

/* Keeps the state after the run (the last valid entry) and its result. */
static int
s_finish_run (attest_appraise_t *self, int rc, const attest_ima_state_t *after)
{
    self->state = *after;
    self->result = rc;
    return rc;
}

int
attest_appraise_fd (attest_appraise_t *self, int fd, char *why, size_t why_len)
{
    assert (self);
    assert (!self->ran);
    self->ran = true;
    if (self->detect) {
        off_t at = lseek (fd, 0, SEEK_CUR);
        uint8_t first = 0;
        ssize_t n = at < 0 ? -1 : pread (fd, &first, 1, at);
        if (n < 0) {
            wd_err_why (why, why_len,
                        "cannot detect the list's format on input that cannot seek (%s): "
                        "give the format",
                        strerror (errno));
            return s_finish_run (self, WD_ERR_BAD_VALUE, &self->state);
        }
        self->state.format = (uint8_t)s_detect (&first, (size_t)n);
    }
    attest_ima_state_t after = self->state;
    int rc = attest_ima_replay_fd (fd, &after, s_on_entry, self, why, why_len);
    return s_finish_run (self, rc, &after);
}

int
attest_appraise_file (attest_appraise_t *self, const char *path, char *why, size_t why_len)
{
    assert (self);
    assert (path);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        self->ran = true;
        wd_err_why (why, why_len, "%s: %s", path, strerror (saved));
        return s_finish_run (self, saved == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO, &self->state);
    }
    int rc = attest_appraise_fd (self, fd, why, why_len);
    close (fd);
    return rc;
}

int
attest_appraise_buffer (attest_appraise_t *self, const void *data, size_t len, char *why,
                        size_t why_len)
{
    assert (self);
    assert (data || len == 0);
    assert (!self->ran);
    self->ran = true;
    if (self->detect)
        self->state.format = (uint8_t)s_detect (data, len);
    attest_ima_state_t after = self->state;
    int rc = attest_ima_replay_buffer (data, len, &after, s_on_entry, self, why, why_len);
    return s_finish_run (self, rc, &after);
}

/* ---- results ------------------------------------------------------------------ */

const attest_ima_state_t *
attest_appraise_state (const attest_appraise_t *self)
{
    assert (self);
    return &self->state;
}

attest_ima_format_t
attest_appraise_format (const attest_appraise_t *self)
{
    assert (self);
    return (attest_ima_format_t)self->state.format;
}

bool
attest_appraise_pcr (const attest_appraise_t *self, uint32_t pcr, uint8_t sha1[20],
                     uint8_t sha256[32])
{
    assert (self);
    if (pcr == self->state.pcr) {
        memcpy (sha1, self->state.sha1, 20);
        memcpy (sha256, self->state.sha256, 32);
        return true;
    }
    if (pcr >= ATTEST_IMA_PCR_COUNT || !self->from_start || !(self->pcr_used & (1u << pcr)))
        return false;
    memcpy (sha1, self->sha1[pcr], 20);
    memcpy (sha256, self->sha256[pcr], 32);
    return true;
}

const attest_appraise_counts_t *
attest_appraise_counts (const attest_appraise_t *self)
{
    assert (self);
    return &self->counts;
}

const attest_policy_report_t *
attest_appraise_report (const attest_appraise_t *self)
{
    assert (self);
    return self->report;
}

const char *
attest_appraise_log_hash_alg (const attest_appraise_t *self)
{
    assert (self);
    if (self->log_alg == -1)
        return NULL;
    if (self->log_alg == -2)
        return "mixed";
    return attest_ima_hash_name ((attest_ima_hash_t)self->log_alg);
}

bool
attest_appraise_alg_matches (const attest_appraise_t *self)
{
    const char *alg = attest_appraise_log_hash_alg (self);
    return !alg || strcmp (alg, attest_policy_log_hash_alg (self->policy)) == 0;
}

bool
attest_appraise_boot_aggregate (const attest_appraise_t *self, attest_ima_hash_t *alg,
                                uint8_t digest[ATTEST_IMA_DIGEST_MAX], size_t *digest_len)
{
    assert (self);
    if (!self->have_boot_aggregate)
        return false;
    *alg = self->boot_alg;
    memcpy (digest, self->boot_digest, self->boot_len);
    *digest_len = self->boot_len;
    return true;
}

bool
attest_appraise_passed (const attest_appraise_t *self)
{
    assert (self);
    return self->ran && self->result == WD_OK && attest_policy_report_passed (self->report) &&
           attest_appraise_alg_matches (self);
}
