/*
 * sbx_true: the trivial program the sandbox tests and bench/bench_sandbox run
 * (linked -static so it needs nothing from the sandbox root but itself).
 * Exits 0; with an argument, first writes it and a newline to stdout, so a
 * smoke test can check the answer came back through the sandbox.
 */
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
    if (argc > 1) {
        size_t len = strlen (argv[1]);
        if (write (1, argv[1], len) != (ssize_t)len || write (1, "\n", 1) != 1)
            return 1;
    }
    return 0;
}
