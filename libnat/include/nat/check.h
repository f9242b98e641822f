/* libnat -- connectivity checks, sans I/O: ICE-like, simple, one socket.
 *
 * RFC 8445 sections 6.1.2 (pairs and their priority), 7.2 (sending checks,
 * role conflicts 7.2.5.1, valid pairs 7.2.5.3), 7.3 (answering checks,
 * peer-reflexive candidates 7.3.1.3, triggered checks 7.3.1.4,
 * nomination 7.3.1.5, role conflict resolution 7.3.1.1), 8.1.1
 * (regular nomination); RFC 8489 section 9.1 (short-term credentials).
 *
 * What is simplified, and why:
 *  - Every local candidate shares ONE UDP socket. Its local address per
 *    family is the base; there is one pair per remote candidate (RFC 8445
 *    6.1.2.4's pruning: a srflx/predicted local candidate's pair is the
 *    pair of its base). After a check succeeds, the pair's local
 *    candidate is the one whose address equals the XOR-MAPPED-ADDRESS
 *    (host, srflx, predicted), or a new peer-reflexive one.
 *  - One component, no frozen state, no foundations in scheduling.
 *  - Regular nomination by the controlling agent (the default): once a
 *    pair succeeded, it waits until every higher-priority pair has
 *    finished or nominate_delay has passed, then re-checks the best
 *    succeeded pair with USE-CANDIDATE; that check's success selects it.
 *  - Aggressive nomination (RFC 5245 8.1.1.2; config `aggressive`): the
 *    controlling agent puts USE-CANDIDATE on every check it sends, and
 *    selects a pair the moment one of those checks succeeds: the
 *    controlled agent answered a nominating request on that pair, which is
 *    the agreement. The first pair to work wins, not the best one: the
 *    caller orders the candidates (priorities) so that the pair it prefers
 *    is checked first. When a check from the peer arrives on a pair before
 *    any of ours succeeded, the controlling agent COMMITS to that pair:
 *    its nominating check on it goes out at once (ahead of the pacing) and
 *    NAT_CHECK_EV_PAIR_NOMINATED reports it; from then on only that pair
 *    can be selected, unless its check fails (then the first other pair
 *    whose nominating check succeeds is). A caller may start its own
 *    handshake on the committed pair right away: its first packet follows
 *    the nominating check on the same path, so the controlled agent has
 *    the nomination before it (see NAT_CHECK_EV_PAIR_NOMINATED).
 *  - Either way the controlled agent selects a pair once it received a
 *    USE-CANDIDATE check on it AND its own check on it succeeded (in
 *    either order). So each side's selection means packets went both ways
 *    on that pair, and both sides select the same pair: the controlled
 *    side selects only a pair the controlling side nominated, and the
 *    controlling side selects the pair of the first nominating check the
 *    controlled side answered (aggressive) or the one pair it nominated
 *    (regular). With aggressive nomination the controlled side can see
 *    several pairs nominated; it selects the first on which its own check
 *    succeeds, which is the controlling side's pair in the usual case
 *    (the nominating check that succeeded first is the one the controlled
 *    side answered first, and its own triggered check follows on it);
 *    callers that must be certain compare the path QUIC (or their own
 *    handshake) actually ran on, as punch does.
 *
 * Messages: requests carry USERNAME "remote_ufrag:local_ufrag", PRIORITY
 * (a peer-reflexive priority), ICE-CONTROLLING or ICE-CONTROLLED with our
 * tie-breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY keyed with
 * the REMOTE password, FINGERPRINT. Requests we accept must carry
 * USERNAME "local_ufrag:..." and MESSAGE-INTEGRITY keyed with OUR
 * password; we answer with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (our
 * password), FINGERPRINT; a request failing that gets 401 (400 when
 * USERNAME or MESSAGE-INTEGRITY is missing) without integrity. Responses
 * to our checks must pass integrity with the remote password, except 400
 * and 401 which are taken unauthenticated (the peer refused our
 * credentials). A response whose integrity fails is counted on its pair
 * and dropped: the check keeps retransmitting.
 *
 * Roles and QUIC: the agent starts controlling or controlled
 * (nat_check_role_for() derives it from both tie-breakers, as in the
 * tickets) and a role conflict is resolved per RFC 8445 7.3.1.1 (the
 * larger tie-breaker controls; the loser switches, or answers 487).
 * After selection, THE CONTROLLING AGENT IS THE QUIC CLIENT and the
 * controlled one the QUIC server, over the selected pair.
 *
 * Timing: new checks (ordinary and triggered) start at most one per Ta;
 * each check is a STUN transaction (nat/txn.h rules) with its own RTO and
 * Rc; the whole run fails at `timeout`, or earlier once every pair has
 * failed. Driving it is the txn.h pattern: next_send / get_expiry /
 * handle_expiry / recv, all with a caller-supplied `now`. Results come
 * through the callback (synchronously from recv / handle_expiry) and the
 * getters. The agent never owns a socket.
 *
 * In the tree: libnat/src/punch/ (this header is its main one, with cand.h
 * and ticket.h): connecting two peers, sans I/O: candidates (cand.c,
 * cand_predict.c), tickets (ticket.c), connectivity checks (check_msg.c
 * builds and reads the messages, check.c runs the pairs; check_explain.c,
 * check_config.c) and the agent's core (agent_core.c, agent_blob.c: the
 * blob, remote order, check hold, hole openers). Uses stun/, txn/,
 * analyze/'s allocation classifier; agent/ drives it.
 */
#ifndef NAT_CHECK_H
#define NAT_CHECK_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/cand.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_check nat_check;

#define NAT_CHECK_MAX_LOCAL 16
#define NAT_CHECK_MAX_PAIRS 64
#define NAT_CHECK_CRED_MAX  64

/** Configuration, copied by nat_check_new(). Zero fields take defaults. */
typedef struct nat_check_config {
  bool controlling;     /**< initial role (see nat_check_role_for) */
  uint64_t tie_breaker; /**< our tie-breaker */
  /** Short-term credentials (RFC 8445 5.3), NUL-terminated, at most
   * NAT_CHECK_CRED_MAX characters; copied. All four required. */
  const char *local_ufrag, *local_pwd, *remote_ufrag, *remote_pwd;
  nat_tstamp ta;             /**< pacing of new checks; default 10 ms */
  nat_tstamp rto;            /**< a check's initial RTO; default 100 ms */
  unsigned rc;               /**< transmissions per check; default 7 */
  unsigned rm;               /**< final wait in RTOs; default 16 (so a check
                                  gives up 7.9 s after it starts by default) */
  nat_tstamp timeout;        /**< overall; default 10 s after nat_check_start */
  nat_tstamp nominate_delay; /**< controlling, regular nomination: wait
                                  at most this long after the first
                                  success for better pairs; default 100 ms */
  /** Aggressive nomination (RFC 5245 8.1.1.2, see the top of this file):
   * the controlling agent nominates with every check and selects the
   * first pair whose check succeeds, committing early to a pair the
   * peer's check came in on. Default false (regular nomination). It only
   * changes what a controlling agent does; a controlled agent behaves the
   * same either way. */
  bool aggressive;
  /** Hints for the failure explanation (see nat_check_hint): what the
   * caller knows about each side's NAT mapping, as nat_beh values
   * (nat/common.h); NAT_BEH_UNKNOWN (or -1) when unknown. */
  int local_mapping, remote_mapping;
  /** Refuse remote candidates nat_cand_validate_remote() refuses with
   * this policy (prflx ones learned from checks included). */
  nat_cand_policy policy;
  /** Start no ordinary check towards a remote candidate that is not a
   * host one: only answers and triggered checks go there (after the
   * peer's check came in from that address). For a side whose gateway
   * forwards a mapped port to it while its NAT maps per destination: a
   * check of its own would make its NAT map the socket towards the peer
   * at another port, and the peer's checks to the mapped port would then
   * clash with that entry (Linux conntrack drops them). */
  bool passive;
  nat_rand_fn rand; /**< transaction IDs; required */
  void *rand_ctx;
} nat_check_config;

/** State of a pair. */
typedef enum nat_pair_state {
  NAT_PAIR_WAITING = 0,
  NAT_PAIR_IN_PROGRESS = 1,
  NAT_PAIR_SUCCEEDED = 2,
  NAT_PAIR_FAILED = 3
} nat_pair_state;

/** Why a pair failed (or, for a pair still waiting when the run ended,
 * NAT_PAIR_FAIL_NOT_TRIED). */
typedef enum nat_pair_fail {
  NAT_PAIR_FAIL_NONE = 0,
  NAT_PAIR_FAIL_NO_RESPONSE = 1,   /**< every transmission unanswered */
  NAT_PAIR_FAIL_INTEGRITY = 2,     /**< the peer answered 401/400, or its
                                        answers failed our integrity check,
                                        or its checks failed ours */
  NAT_PAIR_FAIL_ROLE_CONFLICT = 3, /**< 487 answers kept coming */
  NAT_PAIR_FAIL_ERROR = 4,         /**< another STUN error response */
  NAT_PAIR_FAIL_NOT_TRIED = 5,     /**< the run ended before its check */
  NAT_PAIR_FAIL_NOT_NOMINATED = 6  /**< succeeded, never nominated */
} nat_pair_fail;

/** A pair as the getters report it. */
typedef struct nat_check_pair {
  nat_cand local;  /**< the valid local candidate once succeeded (host,
                        srflx, predicted or prflx), else the base */
  nat_cand remote; /**< the peer's candidate (signalled, or prflx) */
  uint64_t priority;
  uint8_t state;     /**< nat_pair_state */
  uint8_t fail;      /**< nat_pair_fail */
  int error_code;    /**< last STUN error code received (401, 487...) */
  unsigned sent;     /**< requests transmitted (retransmissions too) */
  unsigned answered; /**< the peer's checks on this pair we answered */
  unsigned integrity_failures; /**< bad MI in either direction, 400/401 */
  unsigned role_conflicts;     /**< 487 sent or received */
  bool nominated;              /**< USE-CANDIDATE sent or received */
  nat_addr mapped;             /**< our address as the peer saw it */
  nat_tstamp rtt;              /**< of the first successful check */
  nat_tstamp succeeded_at;     /**< 0 unless succeeded */
} nat_check_pair;

/** Overall outcome. */
typedef enum nat_check_status {
  NAT_CHECK_RUNNING = 0,
  NAT_CHECK_SELECTED = 1,
  NAT_CHECK_FAILED = 2
} nat_check_status;

/** An actionable summary of a failure, for the tool to print. */
typedef enum nat_check_hint {
  NAT_CHECK_HINT_NONE = 0,
  /** Every pair went unanswered and a side maps per destination (AD or
   * APD mapping): the ports seen by STUN are not the ones the peer must
   * reach. Use port prediction or the birthday spray. */
  NAT_CHECK_HINT_BIRTHDAY = 1,
  /** Every pair went unanswered, mapping kinds unknown or EI: filtering
   * drops the checks, or a side is offline / UDP is blocked. */
  NAT_CHECK_HINT_NO_RESPONSE = 2,
  /** Integrity failures: the tickets' ufrag/password do not match (stale
   * or mistyped ticket). */
  NAT_CHECK_HINT_CREDENTIALS = 3,
  /** Checks succeeded but the controlling peer never nominated (it gave up
   * or has another role idea). */
  NAT_CHECK_HINT_NOT_NOMINATED = 4,
  /** No pairs at all: no usable remote candidate of our family. */
  NAT_CHECK_HINT_NO_PAIRS = 5
} nat_check_hint;

typedef enum nat_check_event_type {
  NAT_CHECK_EV_PAIR_SUCCEEDED = 1, /**< a pair became valid */
  NAT_CHECK_EV_ROLE_CHANGED = 2,   /**< a role conflict switched our role */
  NAT_CHECK_EV_SELECTED = 3,       /**< final: a pair is selected */
  NAT_CHECK_EV_FAILED = 4,         /**< final: no pair; see hint, pairs */
  /** Controlling with aggressive nomination: an authenticated check from
   * the peer arrived on this pair before any of ours succeeded, and our
   * nominating check on it has been queued ahead of the pacing (it is
   * returned by the next nat_check_next_send()). The agent is now
   * committed to this pair: it is selected when that check succeeds
   * (SELECTED follows), or, if it fails, another pair is. At most once
   * per run. A caller may start its own handshake on the pair now, after
   * sending what nat_check_next_send() has: the controlled agent then
   * receives the nomination before the handshake's first packet (on the
   * same path; a reordering costs that packet a retransmission at most),
   * and the peer's check having arrived from this address shows that the
   * path works in that direction; the handshake (and SELECTED) shows the
   * other. */
  NAT_CHECK_EV_PAIR_NOMINATED = 5
} nat_check_event_type;

typedef struct nat_check_event {
  int type;                   /**< nat_check_event_type */
  nat_tstamp at;              /**< now */
  size_t pair;                /**< index for PAIR_SUCCEEDED / SELECTED */
  const nat_check_pair *info; /**< that pair; valid during the callback */
  bool controlling;           /**< role after the event */
  int hint;                   /**< FAILED: nat_check_hint */
} nat_check_event;

typedef void (*nat_check_cb)(void *arg, const nat_check_event *ev);

/** Create an agent. @p cfg is copied; @p cb may be NULL (use the getters).
 * @return 0, NAT_EINVAL (NULL, missing or too long credentials, no
 *         rand), NAT_ENOMEM. */
NAT_EXTERN int nat_check_new(nat_check **out, const nat_check_config *cfg,
                             nat_check_cb cb, void *cb_arg);

/** Free the agent (no callbacks). */
NAT_EXTERN void nat_check_free(nat_check *c);

/** Add a local candidate. The first host candidate of a family is that
 * family's base (the socket's address); add it before srflx/predicted
 * ones of that family (which then just name the mapped addresses).
 * @return 0, NAT_EINVAL (prflx/relay type, bad family), NAT_ENOBUFS. */
NAT_EXTERN int nat_check_add_local(nat_check *c, const nat_cand *cand);

/** Add a remote candidate (from the ticket or trickled by rendezvous, at
 * any time). A pair is formed with the base of its family (none if we
 * have no base of that family). A duplicate address is ignored (0).
 * @return 0, NAT_EBADADDR (refused by the policy), NAT_ENOBUFS. */
NAT_EXTERN int nat_check_add_remote(nat_check *c, nat_tstamp now,
                                    const nat_cand *cand);

/** Start: arms the overall timeout at @p now + timeout; checks begin at
 * @p now. Incoming checks are answered before start too.
 * @return 0, NAT_EINVAL (already started). */
NAT_EXTERN int nat_check_start(nat_check *c, nat_tstamp now);

/** Copy the next datagram to send (a check, a retransmission or an answer)
 * into @p buf, its destination into @p dst.
 * @return its length, 0 if nothing is due, NAT_ENOBUFS (@p cap too small;
 *         nothing consumed). */
NAT_EXTERN ssize_t nat_check_next_send(nat_check *c, nat_tstamp now,
                                       uint8_t *buf, size_t cap, nat_addr *dst);

/** Earliest time handle_expiry or next_send has work; NAT_TSTAMP_MAX if
 * none. */
NAT_EXTERN nat_tstamp nat_check_get_expiry(const nat_check *c);

/** Run due work: pacing, retransmissions, timeouts, nomination. */
NAT_EXTERN void nat_check_handle_expiry(nat_check *c, nat_tstamp now);

/** Feed a datagram received from @p from on the socket.
 * @return 0 if it was a STUN message for the checks (consumed, even if
 *         refused: see the pair counters); NAT_ENOTSTUN if it is not STUN
 *         (give it to QUIC: the demux rule of nat_stun_is_stun());
 *         NAT_ENOTFOUND for a STUN response to none of our checks (give
 *         it to the caller's own STUN client, e.g. its srflx discovery);
 *         or a decode error for a broken STUN message. */
NAT_EXTERN int nat_check_recv(nat_check *c, nat_tstamp now,
                              const nat_addr *from, const uint8_t *buf,
                              size_t len);

/** Feed a STUN message already decoded (the view a nat_udp receive
 * callback, the QUIC endpoint's on_stun or the rendezvous client's on_stun
 * got): nat_check_recv() without decoding again. @p msg is read during the
 * call only.
 * @return 0 if it was a STUN message for the checks (consumed, even if
 *         refused); NAT_ENOTSTUN for a classic RFC 3489 message (no magic
 *         cookie: not one of ours); NAT_ENOTFOUND for a STUN response to
 *         none of our checks; NAT_EINVAL for a NULL argument. */
NAT_EXTERN int nat_check_recv_msg(nat_check *c, nat_tstamp now,
                                  const nat_addr *from,
                                  const nat_stun_msg *msg);

/** Current outcome (nat_check_status). */
NAT_EXTERN int nat_check_status_get(const nat_check *c);

/** Current role: true if controlling (= the QUIC client). */
NAT_EXTERN bool nat_check_is_controlling(const nat_check *c);

/** The selected pair. @return 0, NAT_EAGAIN (none selected yet). */
NAT_EXTERN int nat_check_selected(const nat_check *c, nat_check_pair *out);

/** Number of pairs formed so far (signalled and peer-reflexive). */
NAT_EXTERN size_t nat_check_pair_count(const nat_check *c);

/** Copy pair @p i (0 .. count-1, in the order the pairs were formed; the
 * priority field orders them) into @p out.
 * @return 0, NAT_EINVAL (NULL, index out of range). */
NAT_EXTERN int nat_check_pair_get(const nat_check *c, size_t i,
                                  nat_check_pair *out);

/** The failure hint (NAT_CHECK_HINT_NONE unless failed). */
NAT_EXTERN int nat_check_hint_get(const nat_check *c);

/** Explain the outcome in lines: the verdict, then one line per pair
 * ("srflx 198.51.100.2:40000: no response (7 requests)"), then the hint's
 * advice. @return the length written (truncated to @p len - 1). */
NAT_EXTERN size_t nat_check_explain(const nat_check *c, char *buf, size_t len);

/** A pair failure reason as text: "no response", "integrity failure",
 * "role conflict", ... Never NULL. */
NAT_EXTERN const char *nat_pair_fail_strerror(int fail);

/** A pair state's name: "waiting", "in-progress", "succeeded", "failed".
 * Never NULL. */
NAT_EXTERN const char *nat_pair_state_name(int state);

/** The advice line of a nat_check_hint ("" for NONE). Never NULL. */
NAT_EXTERN const char *nat_check_hint_strerror(int hint);

/** A short key for a nat_check_hint, as reports show it: "none",
 * "birthday", "no-response", "credentials", "not-nominated", "no-pairs",
 * or "unknown". Never NULL. */
NAT_EXTERN const char *nat_check_hint_name(int hint);

struct nat_ticket;

/** Fill the credential, tie-breaker and role fields of @p cfg from our
 * ticket and the peer's (nat/ticket.h). The string pointers point into
 * the tickets, which must live until nat_check_new() has copied them.
 * Other fields are left as they are.
 * @return 0, NAT_EINVAL (NULL argument). */
NAT_EXTERN int nat_check_config_from_tickets(nat_check_config *cfg,
                                             const struct nat_ticket *local,
                                             const struct nat_ticket *remote);

/** The initial role from both tie-breakers (as carried in the tickets):
 * true (controlling, QUIC client) when @p local > @p remote. */
NAT_EXTERN bool nat_check_role_for(uint64_t local, uint64_t remote);

#ifdef __cplusplus
}
#endif
#endif
