/*
 * node_child: start-up and plumbing shared by wardend's children.
 */
#include "node_child.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "node_config.h"
#include "wd_log.h"
#include "wd_msg.h"

wd_config_t *
node_child_start (node_proc_role_t role, wd_chan_t **parent)
{
    wd_log_init (node_proc_name (role), WD_LOG_INFO);
    node_proc_lockdown (role);
    *parent = wd_chan_new (NODE_PROC_CHAN_FD);
    if (!*parent)
        wd_fatalx ("out of memory");

    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (*parent, &msg);
    if (err == WD_ERR_CLOSED)
        exit (0);
    if (err != WD_OK)
        wd_fatalx ("parent channel: %s", wd_strerror (err));
    if (msg.type != WD_MSG_INIT)
        wd_fatalx ("parent channel: expected init, got %s", wd_msg_name (msg.type));

    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    err = wd_config_unpack (node_config_table, msg.body, msg.body_len, &cfg, why, sizeof why);
    wd_chan_msg_clear (&msg);
    if (err != WD_OK)
        wd_fatalx ("init: %s", why);
    wd_log_level_t level = WD_LOG_INFO;
    wd_log_level_parse (wd_config_str (cfg, "log/level"), &level);
    wd_log_init (node_proc_name (role), level);
    return cfg;
}

int
node_child_signalfd (void)
{
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
    return node_proc_signalfd (signals, sizeof signals / sizeof signals[0]);
}

void
node_child_fail (wd_chan_t *parent, int code, const char *fmt, ...)
{
    char message[WD_MSG_ERROR_MAX + 1];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    wd_log_warnx ("%s", message);
    size_t len;
    uint8_t *body = wd_msg_encode_error (code, message, &len);
    (void)wd_chan_send (parent, WD_MSG_ERROR, 0, body, len, NULL, 0);
    free (body);
    exit (3);
}

bool
node_child_send (wd_chan_t *chan, uint32_t type, uint32_t peer, const void *body, size_t len,
                 const int *fds, size_t nfds)
{
    wd_err_t err = wd_chan_send (chan, type, peer, body, len, fds, nfds);
    if (err == WD_ERR_CLOSED)
        return false;
    if (err != WD_OK)
        wd_fatalx ("send %s: %s", wd_msg_name (type), wd_strerror (err));
    return true;
}
