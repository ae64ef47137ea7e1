/*
 * node_keys: the `keys` process (DESIGN.md §4). It holds the keystore and
 * nothing else: no network, no files after start (its double-sign guard's
 * state file is opened at start and kept open). It answers the engine's
 * WD_MSG_SIGN requests with signatures over 32-byte digests, WD_MSG_SIGN_STEP
 * (agreement votes) the same way once the guard allows it, and
 * WD_MSG_KEYS_INFO with the keystore's status; the secret never leaves it.
 */
#ifndef NODE_KEYS_H
#define NODE_KEYS_H

/* Runs the keys process until SIGTERM or until the parent goes away.
   Returns the exit status. */
int
node_keys_main (void);

#endif
