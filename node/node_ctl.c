/*
 * node_ctl: helpers shared by wardenctl's commands (see node_ctl.h).
 */
#include "node_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
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
