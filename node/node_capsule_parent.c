/*
 * node_capsule_parent: sandboxes run by the wardend parent (see
 * node_capsule_parent.h).
 */
#include "node_capsule_parent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule_err.h"
#include "capsule_receipt.h"
#include "capsule_sandbox.h"
#include "capsule_task.h"
#include "node_capsule.h"
#include "node_capsule_wire.h"
#include "wd_hash.h"
#include "wd_log.h"
#include "wd_msg.h"

#define TMP_MAX_BYTES (64u << 20) /* the private /tmp, at most */

typedef struct {
    bool busy;
    uint32_t peer;
    capsule_sandbox_t *sandbox;
    char work[PATH_MAX];
    uint64_t output_bytes;
} s_job_t;

struct node_capsule_parent {
    s_job_t jobs[NODE_CAPSULE_PARENT_JOBS];
};

node_capsule_parent_t *
node_capsule_parent_new (void)
{
    node_capsule_parent_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    return self;
}

static void
s_job_end (s_job_t *job)
{
    capsule_sandbox_destroy (&job->sandbox);
    memset (job, 0, sizeof *job);
}

void
node_capsule_parent_destroy (node_capsule_parent_t **self_p)
{
    node_capsule_parent_t *self = *self_p;
    if (!self)
        return;
    node_capsule_parent_engine_gone (self);
    free (self);
    *self_p = NULL;
}

bool
node_capsule_parent_handles (uint32_t type)
{
    return type == WD_MSG_SANDBOX_RUN || type == WD_MSG_SANDBOX_KILL;
}

static void
s_send_done (wd_chan_t *engine, uint32_t peer, const node_capsule_done_t *done)
{
    if (!engine)
        return;
    size_t len;
    uint8_t *body = node_capsule_encode_done (done, &len);
    wd_err_t err = wd_chan_send (engine, WD_MSG_SANDBOX_DONE, peer, body, len, NULL, 0);
    if (err != WD_OK)
        wd_log_warnx ("sandbox result not sent to the engine: %s", wd_strerror (err));
    free (body);
}

static void
s_send_error (wd_chan_t *engine, uint32_t peer, int code, const char *reason)
{
    node_capsule_done_t done = { .error = code < 0 ? code : CAPSULE_ERR_EXEC_SANDBOX,
                                 .exit_code = -1 };
    snprintf (done.reason, sizeof done.reason, "%s", reason);
    s_send_done (engine, peer, &done);
}

/* The work area must be <work_dir>/<64 hex> with root/, code/, in/ and out/
   directories in it, none of them a symlink. */
static bool
s_work_valid (const wd_config_t *cfg, const char *work, char *why, size_t why_len)
{
    char base[PATH_MAX], real[PATH_MAX];
    if (node_capsule_work_dir (cfg, base, sizeof base) != 0 || !realpath (base, real)) {
        snprintf (why, why_len, "the capsule work area does not exist");
        return false;
    }
    size_t n = strlen (real);
    const char *leaf = work + n + 1;
    if (strncmp (work, real, n) != 0 || work[n] != '/' || strlen (leaf) != WD_HASH_HEX_LEN) {
        snprintf (why, why_len, "work area outside the configured capsule/work_dir");
        return false;
    }
    for (const char *p = leaf; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            snprintf (why, why_len, "work area name is not a task id");
            return false;
        }
    static const char *const dirs[] = { "", "/root", "/code", "/in", "/out" };
    for (size_t i = 0; i < 5; i++) {
        char path[PATH_MAX + 8];
        struct stat st;
        snprintf (path, sizeof path, "%s%s", work, dirs[i]);
        if (lstat (path, &st) != 0 || !S_ISDIR (st.st_mode)) {
            snprintf (why, why_len, "work area lacks %s", dirs[i][0] ? dirs[i] + 1 : "itself");
            return false;
        }
    }
    return true;
}

/* Copies the regular files the program left at the top of its /out into
   work/out (names checked, no symlink followed). Returns how many. */
static uint64_t
s_copy_outputs (s_job_t *job, int from)
{
    uint64_t count = 0;
    int copy = from >= 0 ? dup (from) : -1;
    DIR *d = copy >= 0 ? fdopendir (copy) : NULL;
    if (!d) {
        if (copy >= 0)
            close (copy);
        return 0;
    }
    rewinddir (d);
    char to_dir[PATH_MAX + 8];
    snprintf (to_dir, sizeof to_dir, "%s/out", job->work);
    int src_dir = dirfd (d);
    int dst_dir = open (to_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct dirent *e;
    uint8_t buf[65536];
    while (dst_dir >= 0 && (e = readdir (d)) && count < CAPSULE_RECEIPT_OUTPUTS_MAX) {
        if (!capsule_task_name_valid (e->d_name))
            continue;
        int in = openat (src_dir, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (in < 0 || fstat (in, &st) != 0 || !S_ISREG (st.st_mode)) {
            if (in >= 0)
                close (in);
            continue;
        }
        int out =
            openat (dst_dir, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = out >= 0;
        uint64_t total = 0;
        ssize_t got;
        while (ok && (got = read (in, buf, sizeof buf)) > 0 && total <= job->output_bytes) {
            total += (uint64_t)got;
            ok = write (out, buf, (size_t)got) == got;
        }
        close (in);
        if (out >= 0 && close (out) != 0)
            ok = false;
        if (ok)
            count++;
        else
            unlinkat (dst_dir, e->d_name, 0);
    }
    if (dst_dir >= 0)
        close (dst_dir);
    closedir (d);
    return count;
}

static void
s_run (node_capsule_parent_t *self, const wd_config_t *cfg, wd_chan_t *engine, uint32_t peer,
       const uint8_t *body, size_t len)
{
    node_capsule_run_t run;
    wd_err_t err = node_capsule_decode_run (body, len, &run);
    if (err != WD_OK) {
        s_send_error (engine, peer, err, "malformed sandbox request");
        return;
    }
    char why[CAPSULE_SANDBOX_REASON_MAX + 64] = "";
    if (!s_work_valid (cfg, run.work, why, sizeof why)) {
        s_send_error (engine, peer, CAPSULE_ERR_EXEC_WORK, why);
        return;
    }
    s_job_t *job = NULL;
    for (size_t i = 0; i < NODE_CAPSULE_PARENT_JOBS && !job; i++)
        if (!self->jobs[i].busy)
            job = &self->jobs[i];
    if (!job) {
        s_send_error (engine, peer, WD_ERR_UNAVAILABLE, "too many sandboxes running");
        return;
    }
    char root[PATH_MAX + 8], code[PATH_MAX + 8], in[PATH_MAX + 8];
    snprintf (root, sizeof root, "%s/root", run.work);
    snprintf (code, sizeof code, "%s/code", run.work);
    snprintf (in, sizeof in, "%s/in", run.work);
    char *argv[NODE_CAPSULE_ARGV_MAX + 1] = { 0 };
    for (size_t i = 0; i < run.argc; i++) {
        argv[i] = strndup (run.argv[i], run.arg_lens[i]);
        if (!argv[i])
            wd_fatalx ("out of memory");
    }
    static char *const envp[] = { "PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/tmp", "TMPDIR=/tmp",
                                  "LC_ALL=C", NULL };
    const capsule_sandbox_bind_t binds[] = {
        { .src = code, .dst = "/code", .writable = false },
        { .src = in, .dst = "/in", .writable = false },
    };
    uint64_t tmp = run.limits.mem_bytes < TMP_MAX_BYTES ? run.limits.mem_bytes : TMP_MAX_BYTES;
    const capsule_sandbox_tmpfs_t tmpfs[] = {
        { .dst = "/out", .size_bytes = run.limits.output_bytes, .exported = true },
        { .dst = "/tmp", .size_bytes = tmp, .exported = false },
    };
    capsule_sandbox_spec_t spec = {
        .root = root,
        .binds = binds,
        .bind_count = 2,
        .tmpfs = tmpfs,
        .tmpfs_count = 2,
        .argv = argv,
        .envp = envp,
        .cwd = "/",
        .limits = { .wall_ms = run.limits.wall_ms,
                    .cpu_ms = run.limits.cpu_ms,
                    .mem_bytes = run.limits.mem_bytes,
                    .pids = run.limits.pids,
                    .output_bytes = run.limits.output_bytes },
        .out = { .mode = CAPSULE_SANDBOX_STREAM_NULL },
        .err = { .mode = CAPSULE_SANDBOX_STREAM_CAPTURE, .capture_max = NODE_CAPSULE_STDERR_MAX },
        .proc = true,
        .dev = true,
        .cgroup_parent = wd_config_str (cfg, "capsule/cgroup"),
    };
    int rc = capsule_sandbox_start (&spec, &job->sandbox, why, sizeof why);
    for (size_t i = 0; i < run.argc; i++)
        free (argv[i]);
    if (rc != 0) {
        s_send_error (engine, peer, rc, why[0] ? why : capsule_strerror (rc));
        job->sandbox = NULL;
        return;
    }
    job->busy = true;
    job->peer = peer;
    job->output_bytes = run.limits.output_bytes;
    snprintf (job->work, sizeof job->work, "%s", run.work);
    wd_log_info ("sandbox started for task work area %s (pid %d)", run.work,
                 (int)capsule_sandbox_pid (job->sandbox));
}

void
node_capsule_parent_request (node_capsule_parent_t *self, const wd_config_t *cfg, wd_chan_t *engine,
                             const wd_chan_msg_t *msg)
{
    if (msg->type == WD_MSG_SANDBOX_RUN) {
        s_run (self, cfg, engine, msg->peer, msg->body, msg->body_len);
        return;
    }
    for (size_t i = 0; i < NODE_CAPSULE_PARENT_JOBS; i++)
        if (self->jobs[i].busy && self->jobs[i].peer == msg->peer)
            capsule_sandbox_kill (self->jobs[i].sandbox);
}

size_t
node_capsule_parent_fds (node_capsule_parent_t *self, struct pollfd *fds)
{
    for (size_t i = 0; i < NODE_CAPSULE_PARENT_JOBS; i++)
        fds[i] = (struct pollfd){
            .fd = self->jobs[i].busy ? capsule_sandbox_fd (self->jobs[i].sandbox) : -1,
            .events = POLLIN,
        };
    return NODE_CAPSULE_PARENT_JOBS;
}

static void
s_finish (s_job_t *job, const capsule_sandbox_result_t *res, wd_chan_t *engine)
{
    node_capsule_done_t done = {
        .exit_code = res->exited ? res->exit_code : -1,
        .signal = res->exited ? 0 : res->signal,
        .cpu_user_us = res->cpu_user_us,
        .cpu_sys_us = res->cpu_sys_us,
        .wall_us = res->wall_us,
        .peak_mem_bytes = res->peak_mem_bytes,
    };
    const char *killed = capsule_sandbox_limit_name (res->killed);
    snprintf (done.killed, sizeof done.killed, "%s", killed ? killed : "");
    const char *names[NODE_CAPSULE_DEGRADED_MAX];
    done.degraded_count =
        capsule_sandbox_degraded_names (res->degraded, names, NODE_CAPSULE_DEGRADED_MAX);
    for (size_t i = 0; i < done.degraded_count; i++)
        snprintf (done.degraded[i], sizeof done.degraded[i], "%s", names[i]);
    snprintf (done.reason, sizeof done.reason, "%s", res->reason);
    done.outputs = s_copy_outputs (job, capsule_sandbox_export_fd (job->sandbox, 0));
    done.err_text = capsule_sandbox_captured (job->sandbox, 2, &done.err_len);
    if (done.err_len > NODE_CAPSULE_STDERR_MAX)
        done.err_len = NODE_CAPSULE_STDERR_MAX;
    wd_log_info ("sandbox for %s ended: %s", job->work, res->reason);
    s_send_done (engine, job->peer, &done);
    s_job_end (job);
}

void
node_capsule_parent_dispatch (node_capsule_parent_t *self, const struct pollfd *fds, size_t count,
                              wd_chan_t *engine)
{
    for (size_t i = 0; i < count && i < NODE_CAPSULE_PARENT_JOBS; i++) {
        s_job_t *job = &self->jobs[i];
        if (!job->busy || fds[i].fd < 0 || !fds[i].revents)
            continue;
        capsule_sandbox_result_t res;
        if (capsule_sandbox_collect (job->sandbox, &res) == 0)
            s_finish (job, &res, engine);
    }
}

void
node_capsule_parent_engine_gone (node_capsule_parent_t *self)
{
    for (size_t i = 0; i < NODE_CAPSULE_PARENT_JOBS; i++)
        if (self->jobs[i].busy) {
            capsule_sandbox_kill (self->jobs[i].sandbox);
            s_job_end (&self->jobs[i]);
        }
}
