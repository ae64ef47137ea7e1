/*
 * cons_err: result codes of the consensus module (membership, gossip,
 * sortition, agreement, ledger), in the range below -4000. Functions here
 * return either these or a wd_err_t passed up from common; cons_strerror
 * and cons_err_name name both.
 */
#ifndef CONS_ERR_H
#define CONS_ERR_H

#include "wd_err.h"

/* X-macro table: identifier, message. Append only; never renumber. */
#define CONS_ERR_TABLE(X)                                                                          \
    X (CONS_ERR_SORTITION_COUNT, "claimed selection count does not follow from the VRF output")    \
    X (CONS_ERR_SORTITION_PRIORITY, "claimed priority does not follow from the VRF output")        \
    X (CONS_ERR_SORTITION_NOT_SELECTED, "sortition claim has a zero count")                        \
    X (CONS_ERR_SORTITION_ROLE, "unknown sortition role")                                          \
    X (CONS_ERR_SORTITION_SUBJECT, "proposer sortition takes an all-zero subject")                 \
    X (CONS_ERR_SORTITION_WEIGHT, "total weight is zero or below the node's weight")               \
    X (CONS_ERR_SORTITION_TAU, "expected sortition count is zero or above the limit")              \
    X (CONS_ERR_VALIDATOR_DUPLICATE, "a key appears twice in the validator set")                   \
    X (CONS_ERR_UNKNOWN_VALIDATOR, "signer is not in the validator set")                           \
    X (CONS_ERR_POL_ROUND, "proposal's pol_round is neither -1 nor an earlier round")              \
    X (CONS_ERR_CERT_ORDER, "certificate signers are not in strictly ascending order")             \
    X (CONS_ERR_CERT_WEIGHT, "certificate signers hold no more than 2/3 of the weight")            \
    X (CONS_ERR_CERT_BLOCK, "block does not match the certificate's block id")                     \
    X (CONS_ERR_EVIDENCE, "the two votes do not form an equivocation")                             \
    X (CONS_ERR_OLD_HEIGHT, "message is for a height already decided")                             \
    X (CONS_ERR_FUTURE_HEIGHT, "message is for a later height")                                    \
    X (CONS_ERR_OLD_ROUND, "message is for a round no longer kept")                                \
    X (CONS_ERR_FUTURE_ROUND, "message is for a round too far ahead to keep")                      \
    X (CONS_ERR_DUPLICATE, "message was already received")                                         \
    X (CONS_ERR_EQUIVOCATION, "validator signed two different votes for one step")                 \
    X (CONS_ERR_NOT_PROPOSER, "proposal from a validator that is not its round's proposer")        \
    X (CONS_ERR_CLAIM, "sortition claim is missing, or present in round-robin mode")               \
    X (CONS_ERR_INVALID_BLOCK, "proposed block is not valid")                                      \
    X (CONS_ERR_NO_SPACE, "no room left to keep the message")                                      \
    X (CONS_ERR_STALE, "input no longer applies")                                                  \
    X (CONS_ERR_FRAME_SIZE, "transport frame is larger than the size cap")                         \
    X (CONS_ERR_FRAME_SHORT, "transport frame is shorter than its two-byte header")                \
    X (CONS_ERR_FRAME_VERSION, "transport frame has an unknown version")                           \
    X (CONS_ERR_FRAME_CHANNEL, "transport frame names an unknown channel")                         \
    X (CONS_ERR_FRAME_PARTS, "transport message has more than one frame")                          \
    X (CONS_ERR_PEER_UNKNOWN, "no known node certificate binds this peer")                         \
    X (CONS_ERR_PEER_BANNED, "peer is banned")                                                     \
    X (CONS_ERR_PEER_NO_ENDPOINT, "no endpoint is known for this peer")                            \
    X (CONS_ERR_QUEUE_FULL, "the peer's send queue is full")                                       \
    X (CONS_ERR_MEMBER_TYPE, "membership message has an unknown type")                             \
    X (CONS_ERR_MEMBER_STATE, "membership update names an unknown state")                          \
    X (CONS_ERR_MEMBER_UPDATE, "membership update has the wrong fields for its state")             \
    X (CONS_ERR_MEMBER_DUPLICATE, "membership message holds two updates about one member")         \
    X (CONS_ERR_MEMBER_UNKNOWN, "membership message from or about an unknown member")              \
    X (CONS_ERR_MEMBER_SELF, "membership message claims to come from this node")                   \
    X (CONS_ERR_MEMBER_TARGET, "probe is for another member, or names itself or its sender")       \
    X (CONS_ERR_MEMBER_BUSY, "too many relayed probes in progress")                                \
    X (CONS_ERR_MEMBER_LEFT, "this node has left the group")                                       \
    X (CONS_ERR_GOSSIP_KIND, "gossip message has an unknown type")                                 \
    X (CONS_ERR_GOSSIP_EMPTY, "gossip message carries no records or ids")                          \
    X (CONS_ERR_GOSSIP_UNKNOWN_PEER, "gossip message from a peer outside the peer set")            \
    X (CONS_ERR_GOSSIP_UNKNOWN_SENDER, "record is signed by a node that is not known")             \
    X (CONS_ERR_GOSSIP_GRAYLISTED, "peer is graylisted: its message was ignored")                  \
    X (CONS_ERR_GOSSIP_BANNED, "peer is banned: its message was dropped")                          \
    X (CONS_ERR_GOSSIP_RATE, "peer sent records above its rate limit")                             \
    X (CONS_ERR_GOSSIP_BACKOFF, "peer asked to graft during its prune backoff")                    \
    X (CONS_ERR_GOSSIP_IGNORE, "record was dropped without blame")                                 \
    X (CONS_ERR_GOSSIP_PROMISE, "peer did not answer an IWANT in time")                            \
    X (CONS_ERR_BEACON, "LAN announcement is not a Warden announcement of this version")           \
    X (CONS_ERR_BLOCK_HEIGHT, "block height is not the ledger tip plus one")                       \
    X (CONS_ERR_BLOCK_PREV, "block does not name the previous block")                              \
    X (CONS_ERR_BLOCK_TIME, "block time is not after the previous block's time")                   \
    X (CONS_ERR_BLOCK_SEED, "block seed does not follow the seed rule")                            \
    X (CONS_ERR_BLOCK_VALIDATORS, "block validators_hash is not the height's validator set")       \
    X (CONS_ERR_BLOCK_REPUTATION, "block reputation_hash does not match the ledger replay")        \
    X (CONS_ERR_BLOCK_ROOT, "block records_root is not the Merkle root of its records")            \
    X (CONS_ERR_BLOCK_RECORD, "block record is not a well-formed record")                          \
    X (CONS_ERR_BLOCK_DUPLICATE, "block record is already in the block or the chain")              \
    X (CONS_ERR_BLOCK_SIGNER, "block record is signed by an unknown key")                          \
    X (CONS_ERR_LEDGER_CHAIN, "ledger database belongs to another genesis")                        \
    X (CONS_ERR_LEDGER_CORRUPT, "ledger database holds a block that does not follow the chain")    \
    X (CONS_ERR_COMMITTEE_EPOCH, "committee verdict names an epoch that is not usable here")       \
    X (CONS_ERR_COMMITTEE_WEIGHT, "verifier holds no weight in the committee epoch")               \
    X (CONS_ERR_COMMITTEE_EVIDENCE, "committee verdict names evidence that is not in the chain")   \
    X (CONS_ERR_COMMITTEE_EXPIRED, "committee verdict names evidence no longer open")              \
    X (CONS_ERR_COMMITTEE_DECIDED, "committee verdict names evidence already decided")             \
    X (CONS_ERR_COMMITTEE_NOT_ESCALATED, "verdict without a claim for evidence not escalated")     \
    X (CONS_ERR_COMMITTEE_SUBJECT, "committee verdict's subject is not the evidence's")            \
    X (CONS_ERR_COMMITTEE_SELF, "committee verdict signed by the evidence's own node")             \
    X (CONS_ERR_COMMITTEE_TWICE, "verifier already gave a verdict on this evidence")               \
    X (CONS_ERR_OBSERVER_SEND, "observer sent something other than a subscription")                \
    X (CONS_ERR_TX_SIGNER, "membership record is not signed by the node it names")                 \
    X (CONS_ERR_TX_EXISTS, "joining node is or was a member")                                      \
    X (CONS_ERR_TX_DUPLICATE, "joining node shares a name or key with a member")                   \
    X (CONS_ERR_TX_NOT_MEMBER, "signer or node is not a current member")                           \
    X (CONS_ERR_TX_LAST, "the last member may not leave")                                          \
    X (CONS_ERR_TX_LIMIT, "the member table is full")                                              \
    X (CONS_ERR_TX_NAME, "rotated certificate does not keep the member's name")                    \
    X (CONS_ERR_BLOCK_ROUND, "the block's claim is for a later round than its commit")

typedef enum {
    CONS_ERR_FIRST_ = -4000,
#define CONS_ERR_ENUM(name, msg) name,
    CONS_ERR_TABLE (CONS_ERR_ENUM)
#undef CONS_ERR_ENUM
        CONS_ERR_LAST_
} cons_err_t;

/* A short sentence for a cons_err_t or wd_err_t code. Static storage. */
const char *
cons_strerror (int code);

/* The identifier of a cons_err_t or wd_err_t code. Static storage. */
const char *
cons_err_name (int code);

#endif
