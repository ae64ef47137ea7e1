/*
 * node_ctl: helpers shared by wardenctl's commands (see node_ctl.h).
 */
#include "node_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
node_ctl_fail (int status, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("wardenctl: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    return status;
}

void
node_ctl_print_json (json_t *root)
{
    json_dumpf (root, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
    fputc ('\n', stdout);
    json_decref (root);
}

int
node_ctl_parse_json_option (int argc, char **argv, bool *json, const char *help)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "jh", options, NULL)) != -1) {
        switch (opt) {
            case 'j':
                *json = true;
                break;
            case 'h':
                fputs (help, stdout);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    return -1;
}

ssize_t
node_ctl_read_small (const char *path, uint8_t *buf, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read (fd, buf + len, size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t)n) == size) {
            int saved = errno;
            close (fd);
            errno = saved;
            return n < 0 ? -1 : (ssize_t)len;
        }
    }
}

int
node_ctl_request (uint32_t type, const uint8_t *body, size_t len, int timeout_ms,
                  wd_chan_msg_t *reply)
{
    char path[PATH_MAX];
    if (node_ctl_control_path (path, sizeof path) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "control socket path is too long");
    wd_chan_t *chan = wd_chan_connect (path);
    if (!chan)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "cannot reach wardend at %s: %s (is it running?)",
                              path, strerror (errno));
    struct pollfd pfd = { .fd = wd_chan_fd (chan), .events = POLLIN };
    wd_err_t err = wd_chan_send (chan, type, 1, body, len, NULL, 0);
    if (err == WD_OK)
        err = poll (&pfd, 1, timeout_ms) == 1 ? wd_chan_recv (chan, reply) : WD_ERR_TIMEOUT;
    wd_chan_destroy (&chan);
    if (err == WD_ERR_CLOSED)
        return node_ctl_fail (NODE_CTL_EXIT_NO,
                              "%s: wardend closed the connection (is this user allowed to use "
                              "the control socket?)",
                              path);
    if (err == WD_ERR_TIMEOUT)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: no answer within %d ms", path,
                              timeout_ms);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: %s", path, wd_strerror (err));
    return 0;
}
