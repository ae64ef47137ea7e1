/*
 * sbx_escape: escape attempts run inside capsule_sandbox by
 * tests/unit/test_capsule_sandbox.c (linked -static: the sandbox root holds
 * nothing else). argv[1] names the attempt; the program prints one line
 * saying what happened and exits 0 when the attempt SUCCEEDED (an escape),
 * 3 when the system refused it, 2 on a usage error. Attempts that the
 * sandbox answers by killing (seccomp SIGSYS, a limit) never print.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

static int
s_refused (const char *what)
{
    printf ("refused %s: %s\n", what, strerror (errno));
    return 3;
}

/* TCP connect to 127.0.0.1:port (a listener the test opened on the host). */
static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return s_refused ("socket");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return s_refused ("connect");
    printf ("connected\n");
    return 0;
}

/* Does the host's listener show in this network namespace's socket table?
   Also counts the interfaces in /proc/net/dev (only "lo" expected). */
static int
s_nettab (int port)
{
    char want[16];
    snprintf (want, sizeof want, ":%04X ", port);
    FILE *f = fopen ("/proc/net/tcp", "r");
    if (!f)
        return s_refused ("open /proc/net/tcp");
    char line[512];
    int seen = 0;
    while (fgets (line, sizeof line, f))
        if (strstr (line, want))
            seen = 1;
    fclose (f);
    int ifaces = 0, lo = 0;
    f = fopen ("/proc/net/dev", "r");
    if (f) {
        int n = 0;
        while (fgets (line, sizeof line, f))
            if (++n > 2) {
                ifaces++;
                if (strstr (line, "lo:"))
                    lo = 1;
            }
        fclose (f);
    }
    printf ("listener %s; interfaces %d%s\n", seen ? "visible" : "not visible", ifaces,
            lo ? " (lo)" : "");
    return seen ? 0 : 3;
}

static int
s_raw (void)
{
    int fd = socket (AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd >= 0) {
        printf ("raw socket opened\n");
        return 0;
    }
    int e1 = errno;
    fd = socket (AF_PACKET, SOCK_RAW, 0);
    if (fd >= 0) {
        printf ("packet socket opened\n");
        return 0;
    }
    printf ("refused raw: %s; packet: %s\n", strerror (e1), strerror (errno));
    return 3;
}

static int
s_write (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return s_refused ("open for writing");
    if (write (fd, "x", 1) != 1)
        return s_refused ("write");
    close (fd);
    printf ("wrote %s\n", path);
    return 0;
}

static int
s_read (const char *path)
{
    int fd = open (path, O_RDONLY);
    if (fd < 0)
        return s_refused ("open for reading");
    char buf[256];
    ssize_t n = read (fd, buf, sizeof buf - 1);
    if (n < 0)
        return s_refused ("read");
    buf[n] = '\0';
    printf ("read: %s\n", buf);
    return 0;
}

static int
s_ptrace (void)
{
    pid_t child = fork ();
    if (child < 0)
        return s_refused ("fork");
    if (child == 0) {
        pause ();
        _exit (0);
    }
    if (ptrace (PTRACE_ATTACH, child, NULL, NULL) < 0) {
        kill (child, SIGKILL);
        return s_refused ("ptrace");
    }
    printf ("attached\n");
    return 0;
}

static int
s_forkbomb (void)
{
    for (int i = 0; i < 100000; i++) {
        pid_t p = fork ();
        if (p == 0) {
            pause ();
            _exit (0);
        }
        if (p < 0) {
            printf ("fork refused after %d: %s\n", i, strerror (errno));
            fflush (stdout);
            for (;;)
                pause (); /* a bomb keeps its processes */
        }
    }
    printf ("forked 100000\n");
    return 0;
}

/* The chain of blocks stays reachable through a volatile pointer, so no
   compiler may drop the allocations as dead stores. */
static void *volatile s_hoard;

static int
s_memhog (void)
{
    for (size_t mib = 0;; mib++) {
        char *p = malloc (1 << 20);
        if (!p) {
            printf ("malloc refused after %zu MiB\n", mib);
            return 3;
        }
        memset (p, (int)mib | 1, 1 << 20);
        *(void **)p = s_hoard;
        s_hoard = p;
    }
}

static int
s_output (const char *path, long bytes)
{
    int fd = path ? open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 1;
    if (fd < 0)
        return s_refused ("open");
    char buf[4096];
    memset (buf, 'o', sizeof buf);
    for (long done = 0; done < bytes;) {
        size_t n = bytes - done < (long)sizeof buf ? (size_t)(bytes - done) : sizeof buf;
        ssize_t w = write (fd, buf, n);
        if (w < 0) {
            int e = errno;
            fprintf (stderr, "refused write after %ld bytes: %s\n", done, strerror (e));
            return 3;
        }
        done += w;
    }
    return 0;
}

/* Who am I inside: uid, gid, effective capabilities, no_new_privs, seccomp
   mode, hostname, pid. */
static int
s_whoami (void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { 0 } };
    if (syscall (SYS_capget, &hdr, data) < 0)
        return s_refused ("capget");
    char host[64] = "";
    gethostname (host, sizeof host);
    printf ("uid=%d gid=%d capeff=%x%08x capprm=%x%08x nnp=%d seccomp=%d host=%s pid=%d\n",
            (int)getuid (), (int)getgid (), data[1].effective, data[0].effective, data[1].permitted,
            data[0].permitted, prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
            prctl (PR_GET_SECCOMP, 0, 0, 0, 0), host, (int)getpid ());
    return 0;
}

int
main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    const char *arg = argc > 2 ? argv[2] : NULL;
    if (strcmp (mode, "connect") == 0 && arg)
        return s_connect (atoi (arg));
    if (strcmp (mode, "nettab") == 0 && arg)
        return s_nettab (atoi (arg));
    if (strcmp (mode, "raw") == 0)
        return s_raw ();
    if (strcmp (mode, "mount") == 0) {
        if (mount ("none", "/tmp", "tmpfs", 0, NULL) < 0)
            return s_refused ("mount");
        printf ("mounted\n");
        return 0;
    }
    if (strcmp (mode, "unshare") == 0) {
        if (unshare (CLONE_NEWUSER) < 0)
            return s_refused ("unshare");
        printf ("unshared\n");
        return 0;
    }
    if (strcmp (mode, "ptrace") == 0)
        return s_ptrace ();
    if (strcmp (mode, "write") == 0 && arg)
        return s_write (arg);
    if (strcmp (mode, "read") == 0 && arg)
        return s_read (arg);
    if (strcmp (mode, "forkbomb") == 0)
        return s_forkbomb ();
    if (strcmp (mode, "memhog") == 0)
        return s_memhog ();
    if (strcmp (mode, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp (mode, "sleep") == 0)
        for (;;)
            pause ();
    if (strcmp (mode, "output") == 0 && arg)
        return s_output (argc > 3 ? argv[3] : NULL, atol (arg));
    if (strcmp (mode, "whoami") == 0)
        return s_whoami ();
    return 2;
}
