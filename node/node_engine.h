/*
 * node_engine: the `engine` process (DESIGN.md §4). It owns the network and
 * the state directory; in this release it serves the control socket
 * (wardenctl) and asks the keys process to sign what the node says about
 * itself. Membership, gossip, agreement and the ledger join it in later
 * issues, on the same zloop reactor.
 */
#ifndef NODE_ENGINE_H
#define NODE_ENGINE_H

/* Runs the engine until SIGTERM or until the parent goes away. Returns the
   exit status. */
int
node_engine_main (void);

#endif
