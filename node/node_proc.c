/*
 * node_proc: fork + re-exec of children and their lockdown.
 */
#include "node_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "wd_log.h"

static const char *const s_names[NODE_PROC_COUNT] = { "keys", "engine", "pxe" };

const char *
node_proc_name (node_proc_role_t role)
{
    return role < NODE_PROC_COUNT ? s_names[role] : "unknown";
}

int
node_proc_role (const char *name)
{
    for (int i = 0; i < NODE_PROC_COUNT; i++)
        if (strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

pid_t
node_proc_spawn (const char *exe, node_proc_role_t role, int chan_fd)
{
    pid_t pid = fork ();
    if (pid != 0)
        return pid;

    /* Child: only async-signal-safe calls until exec. */
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    if (chan_fd == NODE_PROC_CHAN_FD) {
        if (fcntl (chan_fd, F_SETFD, 0) != 0)
            _exit (127);
    } else if (dup2 (chan_fd, NODE_PROC_CHAN_FD) < 0)
        _exit (127);
    char *const argv[] = { "wardend", "--child", (char *)s_names[role], NULL };
    execv (exe, argv);
    _exit (127);
}

void
node_proc_lockdown (node_proc_role_t role)
{
    (void)role;
    if (prctl (PR_SET_PDEATHSIG, SIGTERM) != 0)
        wd_fatal ("prctl(PR_SET_PDEATHSIG)");
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        wd_fatal ("prctl(PR_SET_NO_NEW_PRIVS)");
    if (prctl (PR_SET_DUMPABLE, 0) != 0)
        wd_fatal ("prctl(PR_SET_DUMPABLE)");
}

int
node_proc_signalfd (const int *signals, size_t count)
{
    sigset_t mask;
    sigemptyset (&mask);
    for (size_t i = 0; i < count; i++)
        sigaddset (&mask, signals[i]);
    if (sigprocmask (SIG_BLOCK, &mask, NULL) != 0)
        wd_fatal ("sigprocmask");
    int fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        wd_fatal ("signalfd");
    return fd;
}

uint64_t
node_proc_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
