/*
 * node_parent: a poll loop over a signalfd and the children's channels,
 * with the next restart or watchdog ping as its only timeout.
 */
#include "node_parent.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node_capsule_parent.h"
#include "node_config.h"
#include "node_notify.h"
#include "node_proc.h"
#include "node_pxe.h"
#include "wd_chan.h"
#include "wd_log.h"
#include "wd_msg.h"

#define SELF_EXE "/proc/self/exe"

typedef enum {
    CHILD_STOPPED,
    CHILD_STARTING,
    CHILD_RUNNING,
    CHILD_RESTARTING,
} s_child_state_t;

static const char *const s_state_names[] = { "stopped", "starting", "running", "restarting" };

typedef struct {
    node_proc_role_t role;
    s_child_state_t state;
    pid_t pid;
    wd_chan_t *chan;
    uint64_t restarts;
    unsigned failures; /* consecutive quick exits, for the backoff */
    bool reloading;    /* stopped on purpose by SIGHUP: restart at once */
    uint64_t started_ms;
    uint64_t restart_at_ms;
    time_t since;
} s_child_t;

typedef struct {
    const char *config_path;
    const char *log_level; /* -l, applied over every configuration */
    bool started;          /* the first start-up succeeded */
    wd_config_t *cfg;
    uint8_t *init;
    size_t init_len;
    s_child_t children[NODE_PROC_COUNT];
    node_pxe_settings_t pxe; /* the pxe child runs only when pxe.enable */
    int sigfd;
    bool stopping;
    uint64_t stop_deadline_ms;
    uint64_t watchdog_ms;
    uint64_t next_ping_ms;
    node_capsule_parent_t *sandboxes; /* capsule sandboxes the engine asked for */
} s_parent_t;

static void
s_set_state (s_parent_t *self, s_child_t *child, s_child_state_t state);

/* ---- children ------------------------------------------------------------ */

/* Binds the boot servers' privileged sockets and hands them to a new pxe
   child; they are bound again for every start, so a restarted child (or a
   reload that moved them) gets fresh ones. A socket that cannot be bound
   stops the child, and its exit schedules the next try. */
static void
s_send_pxe_sockets (s_parent_t *self, s_child_t *child)
{
    int fds[NODE_PXE_SOCKETS_MAX];
    const char *names[NODE_PXE_SOCKETS_MAX];
    size_t count;
    char why[256];
    if (node_pxe_bind (&self->pxe, fds, names, &count, why, sizeof why) != 0) {
        wd_log_warnx ("%s", why);
        kill (child->pid, SIGKILL);
        return;
    }
    int err = node_pxe_send_sockets (child->chan, fds, names, count);
    if (err != WD_OK)
        wd_log_warnx ("pxe: sockets not sent: %s", wd_strerror (err));
    for (size_t i = 0; i < count; i++)
        close (fds[i]);
}

static void
s_spawn (s_parent_t *self, s_child_t *child)
{
    int pair[2];
    if (wd_chan_socketpair (pair) != 0)
        wd_fatal ("socketpair");
    pid_t pid = node_proc_spawn (SELF_EXE, child->role, pair[1]);
    if (pid < 0)
        wd_fatal ("fork");
    close (pair[1]);
    child->pid = pid;
    child->chan = wd_chan_new (pair[0]);
    if (!child->chan)
        wd_fatalx ("out of memory");
    child->started_ms = node_proc_now_ms ();
    wd_err_t err = wd_chan_send (child->chan, WD_MSG_INIT, 0, self->init, self->init_len, NULL, 0);
    if (err != WD_OK)
        wd_log_warnx ("%s: init not sent: %s", node_proc_name (child->role), wd_strerror (err));
    if (child->role == NODE_PROC_PXE)
        s_send_pxe_sockets (self, child);
    wd_log_debug ("started %s, pid %d", node_proc_name (child->role), (int)pid);
    s_set_state (self, child, CHILD_STARTING);
}

/* Running and still connected: a child whose channel closed is exiting even
   if its SIGCHLD has not been reaped yet. */
static bool
s_serving (const s_child_t *child)
{
    return child->state == CHILD_RUNNING && child->chan;
}

/* Whether a child is meant to run with this configuration. */
static bool
s_wanted (const s_parent_t *self, node_proc_role_t role)
{
    return role != NODE_PROC_PXE || self->pxe.enable;
}

static void
s_send_proc_state (s_parent_t *self, const s_child_t *child)
{
    s_child_t *engine = &self->children[NODE_PROC_ENGINE];
    if (!engine->chan || (child->role == NODE_PROC_PXE && !self->pxe.enable && !child->since))
        return; /* a pxe process never started is not part of the node */
    wd_msg_proc_state_t state = {
        .pid = (uint64_t)(child->pid > 0 ? child->pid : 0),
        .restarts = child->restarts,
        .since = (uint64_t)child->since,
    };
    snprintf (state.name, sizeof state.name, "%s", node_proc_name (child->role));
    snprintf (state.state, sizeof state.state, "%s", s_state_names[child->state]);
    size_t len;
    uint8_t *body = wd_msg_encode_proc_state (&state, &len);
    (void)wd_chan_send (engine->chan, WD_MSG_PROC_STATE, 0, body, len, NULL, 0);
    free (body);
}

static void
s_set_state (s_parent_t *self, s_child_t *child, s_child_state_t state)
{
    child->state = state;
    child->since = time (NULL);
    s_send_proc_state (self, child);
}

/* Gives two children (keys and engine, or engine and pxe) a new
   socketpair to talk over, in a message of the given type. */
static void
s_pair_children (s_parent_t *self, node_proc_role_t a, node_proc_role_t b, uint32_t type)
{
    int pair[2];
    if (wd_chan_socketpair (pair) != 0)
        wd_fatal ("socketpair");
    node_proc_role_t roles[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        wd_err_t err = wd_chan_send (self->children[roles[i]].chan, type, 0, NULL, 0, &pair[i], 1);
        if (err != WD_OK)
            wd_log_warnx ("%s: %s not sent: %s", node_proc_name (roles[i]), wd_msg_name (type),
                          wd_strerror (err));
    }
    close (pair[0]);
    close (pair[1]);
}

static void
s_child_ready (s_parent_t *self, s_child_t *child)
{
    s_set_state (self, child, CHILD_RUNNING);
    wd_log_info ("%s ready (pid %d)", node_proc_name (child->role), (int)child->pid);
    if (child->role == NODE_PROC_ENGINE)
        for (int i = 0; i < NODE_PROC_COUNT; i++)
            if (i != NODE_PROC_ENGINE)
                s_send_proc_state (self, &self->children[i]);
    const s_child_t *c = self->children;
    if (child->role != NODE_PROC_PXE && s_serving (&c[NODE_PROC_KEYS]) &&
        s_serving (&c[NODE_PROC_ENGINE]))
        s_pair_children (self, NODE_PROC_KEYS, NODE_PROC_ENGINE, WD_MSG_KEYS_CHANNEL);
    if (child->role != NODE_PROC_KEYS && s_serving (&c[NODE_PROC_ENGINE]) &&
        s_serving (&c[NODE_PROC_PXE]))
        s_pair_children (self, NODE_PROC_ENGINE, NODE_PROC_PXE, WD_MSG_PXE_CHANNEL);
}

/* Reads one message from a child. Returns false when the channel closed. */
static bool
s_child_message (s_parent_t *self, s_child_t *child)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (child->chan, &msg);
    if (err == WD_ERR_AGAIN)
        return true;
    if (err != WD_OK) {
        if (err != WD_ERR_CLOSED)
            wd_log_warnx ("%s channel: %s", node_proc_name (child->role), wd_strerror (err));
        return false;
    }
    switch (msg.type) {
        case WD_MSG_READY:
            if (child->state == CHILD_STARTING)
                s_child_ready (self, child);
            break;
        case WD_MSG_ERROR: {
            int code;
            char message[WD_MSG_ERROR_MAX + 1];
            if (wd_msg_decode_error (msg.body, msg.body_len, &code, message) == WD_OK)
                wd_log_warnx ("%s failed: %s", node_proc_name (child->role), message);
            break;
        }
        case WD_MSG_PONG:
            if (self->watchdog_ms)
                node_notify ("WATCHDOG=1");
            break;
        case WD_MSG_SANDBOX_RUN:
        case WD_MSG_SANDBOX_KILL:
            if (child->role != NODE_PROC_ENGINE) {
                wd_log_warnx ("%s sent an unexpected %s message", node_proc_name (child->role),
                              wd_msg_name (msg.type));
                wd_chan_msg_clear (&msg);
                return false;
            }
            node_capsule_parent_request (self->sandboxes, self->cfg, child->chan, &msg);
            break;
        default:
            wd_log_warnx ("%s sent an unexpected %s message", node_proc_name (child->role),
                          wd_msg_name (msg.type));
            wd_chan_msg_clear (&msg);
            return false;
    }
    wd_chan_msg_clear (&msg);
    return true;
}

static void
s_child_exited (s_parent_t *self, s_child_t *child, int status)
{
    const char *name = node_proc_name (child->role);
    if (WIFSIGNALED (status))
        wd_log_warnx ("%s (pid %d) killed by signal %d", name, (int)child->pid, WTERMSIG (status));
    else if (WEXITSTATUS (status) != 0 || !(self->stopping || child->reloading))
        wd_log_warnx ("%s (pid %d) exited with status %d", name, (int)child->pid,
                      WEXITSTATUS (status));
    wd_chan_destroy (&child->chan);
    child->pid = 0;
    if (child->role == NODE_PROC_ENGINE)
        node_capsule_parent_engine_gone (self->sandboxes); /* nobody to report to */
    uint64_t now = node_proc_now_ms ();
    if (self->stopping || !self->started || !s_wanted (self, child->role)) {
        child->reloading = false;
        s_set_state (self, child, CHILD_STOPPED);
        return;
    }
    if (child->reloading) {
        child->reloading = false;
        child->restart_at_ms = now;
    } else {
        if (now - child->started_ms >= NODE_PARENT_STABLE_MS)
            child->failures = 0;
        uint64_t delay = NODE_PARENT_BACKOFF_MS << (child->failures < 7 ? child->failures : 7);
        if (delay > NODE_PARENT_BACKOFF_MAX)
            delay = NODE_PARENT_BACKOFF_MAX;
        child->failures++;
        child->restart_at_ms = now + delay;
        wd_log_info ("restarting %s in %llu ms", name, (unsigned long long)delay);
    }
    s_set_state (self, child, CHILD_RESTARTING);
}

/* Reaps the supervised children by pid only: the capsule sandboxes are
   children of this process too, and capsule_sandbox must collect their
   exit status itself (a waitpid (-1) here took it first, and the receipt
   then had neither exit code nor signal). */
static void
s_reap (s_parent_t *self)
{
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        s_child_t *child = &self->children[i];
        int status;
        if (child->pid > 0 && waitpid (child->pid, &status, WNOHANG) == child->pid)
            s_child_exited (self, child, status);
    }
}

static void
s_signal_children (s_parent_t *self, int sig)
{
    for (int i = 0; i < NODE_PROC_COUNT; i++)
        if (self->children[i].pid > 0)
            kill (self->children[i].pid, sig);
}

/* ---- configuration ------------------------------------------------------- */

static void
s_set_config (s_parent_t *self, wd_config_t *cfg)
{
    wd_config_destroy (&self->cfg);
    free (self->init);
    self->cfg = cfg;
    self->init = wd_config_pack (cfg, &self->init_len);
    char why[WD_CONFIG_WHY_MAX];
    if (node_pxe_settings (cfg, &self->pxe, why, sizeof why) != WD_OK)
        wd_fatalx ("%s", why); /* node_config_check has passed: not reached */
    wd_log_level_t level = WD_LOG_INFO;
    wd_log_level_parse (wd_config_str (cfg, "log/level"), &level);
    wd_log_init ("wardend", level);
}

static void
s_reload (s_parent_t *self)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    if (node_config_load (self->config_path, self->log_level, &cfg, why, sizeof why) != WD_OK) {
        wd_log_warnx ("reload refused, keeping the running configuration: %s", why);
        return;
    }
    wd_log_info ("reloading %s: restarting children", self->config_path);
    s_set_config (self, cfg);
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        if (self->children[i].pid > 0) {
            self->children[i].reloading = true;
            kill (self->children[i].pid, SIGTERM);
        } else if (s_wanted (self, i) && self->children[i].state == CHILD_STOPPED) {
            self->children[i].restart_at_ms = node_proc_now_ms (); /* newly enabled */
            s_set_state (self, &self->children[i], CHILD_RESTARTING);
        }
    }
}

/* ---- loop ---------------------------------------------------------------- */

/* Handles pending signals. */
static void
s_on_signal (s_parent_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
        switch (info.ssi_signo) {
            case SIGCHLD:
                s_reap (self);
                break;
            case SIGHUP:
                if (!self->stopping)
                    s_reload (self);
                break;
            case SIGTERM:
            case SIGINT:
                if (!self->stopping) {
                    wd_log_info ("stopping on signal %u", info.ssi_signo);
                    node_notify ("STOPPING=1");
                    self->stopping = true;
                    self->stop_deadline_ms = node_proc_now_ms () + NODE_PARENT_STOP_MS;
                    s_signal_children (self, SIGTERM);
                }
                break;
        }
    }
}

static bool
s_any_alive (const s_parent_t *self)
{
    for (int i = 0; i < NODE_PROC_COUNT; i++)
        if (self->children[i].pid > 0)
            return true;
    return false;
}

/* Milliseconds until the next timed event, or -1 for none. */
static int
s_next_timeout (const s_parent_t *self, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (self->stopping)
        next = self->stop_deadline_ms;
    else {
        for (int i = 0; i < NODE_PROC_COUNT; i++) {
            const s_child_t *child = &self->children[i];
            uint64_t at = UINT64_MAX;
            if (child->state == CHILD_RESTARTING)
                at = child->restart_at_ms;
            else if (child->state == CHILD_STARTING && self->started)
                at = child->started_ms + NODE_PARENT_START_MS;
            if (at < next)
                next = at;
        }
        if (self->watchdog_ms && self->next_ping_ms < next)
            next = self->next_ping_ms;
    }
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void
s_on_timers (s_parent_t *self, uint64_t now)
{
    if (self->stopping) {
        if (now >= self->stop_deadline_ms && s_any_alive (self)) {
            wd_log_warnx ("children did not stop in time; killing them");
            s_signal_children (self, SIGKILL);
            self->stop_deadline_ms = UINT64_MAX;
        }
        return;
    }
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        s_child_t *child = &self->children[i];
        if (child->state == CHILD_RESTARTING && now >= child->restart_at_ms) {
            child->restarts++;
            s_spawn (self, child);
        } else if (child->state == CHILD_STARTING && self->started && child->pid > 0 &&
                   now >= child->started_ms + NODE_PARENT_START_MS) {
            /* A restarted child that never becomes ready is killed; its exit
               schedules the next try. (The first start has its own wait.) */
            wd_log_warnx ("%s (pid %d) not ready after %d ms; killing it", node_proc_name (i),
                          (int)child->pid, NODE_PARENT_START_MS);
            kill (child->pid, SIGKILL);
            child->started_ms = UINT64_MAX - NODE_PARENT_START_MS; /* kill it once */
        }
    }
    s_child_t *engine = &self->children[NODE_PROC_ENGINE];
    if (self->watchdog_ms && now >= self->next_ping_ms) {
        if (s_serving (engine))
            (void)wd_chan_send (engine->chan, WD_MSG_PING, 0, NULL, 0, NULL, 0);
        self->next_ping_ms = now + self->watchdog_ms / 2;
    }
}

static void
s_poll_once (s_parent_t *self)
{
    struct pollfd fds[1 + NODE_PROC_COUNT + NODE_CAPSULE_PARENT_JOBS];
    fds[0] = (struct pollfd){ .fd = self->sigfd, .events = POLLIN };
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        wd_chan_t *chan = self->children[i].chan;
        fds[1 + i] = (struct pollfd){ .fd = chan ? wd_chan_fd (chan) : -1, .events = POLLIN };
    }
    size_t nsand = node_capsule_parent_fds (self->sandboxes, fds + 1 + NODE_PROC_COUNT);
    int rc = poll (fds, 1 + NODE_PROC_COUNT + nsand, s_next_timeout (self, node_proc_now_ms ()));
    if (rc < 0 && errno != EINTR)
        wd_fatal ("poll");
    if (rc > 0) {
        for (int i = 0; i < NODE_PROC_COUNT; i++) {
            s_child_t *child = &self->children[i];
            if (fds[1 + i].revents && child->chan && !s_child_message (self, child))
                wd_chan_destroy (&child->chan); /* the exit arrives as SIGCHLD */
        }
        node_capsule_parent_dispatch (self->sandboxes, fds + 1 + NODE_PROC_COUNT, nsand,
                                      self->children[NODE_PROC_ENGINE].chan);
        if (fds[0].revents)
            s_on_signal (self);
    }
    s_on_timers (self, node_proc_now_ms ());
}

/* Starts one child and waits until it is ready. Returns false if it failed
   or stopped instead (the reason has been logged). */
static bool
s_start_child (s_parent_t *self, node_proc_role_t role)
{
    s_child_t *child = &self->children[role];
    s_spawn (self, child);
    uint64_t deadline = node_proc_now_ms () + NODE_PARENT_START_MS;
    while (child->state == CHILD_STARTING && !self->stopping) {
        if (node_proc_now_ms () >= deadline) {
            wd_log_warnx ("%s did not become ready within %d ms", node_proc_name (role),
                          NODE_PARENT_START_MS);
            return false;
        }
        s_poll_once (self);
    }
    return child->state == CHILD_RUNNING;
}

int
node_parent_main (const char *config_path, const char *log_level, wd_config_t **cfg_p)
{
    s_parent_t self = { .config_path = config_path,
                        .log_level = log_level,
                        .sandboxes = node_capsule_parent_new () };
    s_set_config (&self, *cfg_p);
    *cfg_p = NULL;
    for (int i = 0; i < NODE_PROC_COUNT; i++)
        self.children[i].role = (node_proc_role_t)i;
    static const int signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
    self.sigfd = node_proc_signalfd (signals, sizeof signals / sizeof signals[0]);
    /* Writing to a channel whose child just died must not kill the parent. */
    signal (SIGPIPE, SIG_IGN);

    int status = 0;
    /* keys first: an unusable keystore stops start-up before the engine
       opens the control socket. */
    if (!s_start_child (&self, NODE_PROC_KEYS) || !s_start_child (&self, NODE_PROC_ENGINE) ||
        (self.pxe.enable && !s_start_child (&self, NODE_PROC_PXE))) {
        if (!self.stopping) {
            status = 1;
            self.stopping = true;
            self.stop_deadline_ms = node_proc_now_ms () + NODE_PARENT_STOP_MS;
            s_signal_children (&self, SIGTERM);
        }
    } else {
        self.started = true;
        self.watchdog_ms = node_notify_watchdog_ms ();
        self.next_ping_ms = node_proc_now_ms ();
        node_notify ("READY=1\nSTATUS=serving");
        wd_log_info ("node %s ready", wd_config_str (self.cfg, "node/name"));
    }

    while (!self.stopping || s_any_alive (&self))
        s_poll_once (&self);

    node_capsule_parent_destroy (&self.sandboxes);
    for (int i = 0; i < NODE_PROC_COUNT; i++)
        wd_chan_destroy (&self.children[i].chan);
    close (self.sigfd);
    wd_config_destroy (&self.cfg);
    free (self.init);
    if (status == 0)
        wd_log_info ("stopped");
    return status;
}
