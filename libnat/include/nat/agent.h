/* libnat -- the punch agent: two peers behind NATs exchange blobs (through
 * the rendezvous, nat/rdv.h, or any signalling of the caller's), punch a
 * UDP path with connectivity checks (RFC 8445, nat/check.h) and open an
 * authenticated QUIC connection (nat/quic.h) over the pair they select,
 * all on one UDP socket (nat/udp.h).
 *
 * A run: nat_agent_new() resolves the servers, binds the socket and
 * gathers our candidates (host, server-reflexive from the rendezvous and
 * the STUN server, predicted ones from allocation probes: nat/cand.h).
 * Our blob (our ticket, nat/ticket.h, then " map=N" and, when known,
 * " rtt=N") comes in NAT_AGENT_EV_BLOB. With a rendezvous the agent sends
 * it and takes the peer's; without one the caller carries it to the peer
 * and gives the peer's blob to nat_agent_set_peer_blob(). Then holes are
 * opened (short-TTL datagrams), checks run with aggressive nomination,
 * and the controlling peer connects QUIC, pinned both ways, to the pair it
 * commits to or selects. NAT_AGENT_EV_CONNECTED gives the connection.
 * With a pipe (nat_agent_config.pipe) the agent then carries bytes between
 * two fds and the peer on one QUIC stream, and NAT_AGENT_EV_PIPE_DONE
 * ends the run. Every outcome comes through the one event callback.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called.
 *
 * In the tree: libnat/src/agent/ (this header is its main one): the
 * agent's libuv driver (agent_new.c: values and names; agent.c: socket,
 * identity, gathering, the rendezvous or the caller's signalling, the end
 * of a run; agent_run.c: the punch/ core's checks on the socket, then
 * quic/; agent_event.c: the one callback). Data flows io/ -> punch/
 * (checks) -> quic/.
 */
#ifndef NAT_AGENT_H
#define NAT_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/birthday.h"
#include "nat/cand.h"
#include "nat/check.h"
#include "nat/common.h"
#include "nat/portmap.h"
#include "nat/quic.h"
#include "nat/ticket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_agent nat_agent;

/** Longest blob text (with its NUL): a ticket and its fields (map=,
 * rtt=, and the birthday spray's alloc=, seq=, range=, bd=). */
#define NAT_AGENT_BLOB_MAX (NAT_TICKET_TEXT_MAX + 128)
/** Most refused remote candidates remembered (nat_agent_info). */
#define NAT_AGENT_MAX_REFUSED 12
/** Allocation probes run beside the registration (punch(1), "Predicted
 * candidates"). */
#define NAT_AGENT_PROBES 4

/** Where a run is (and where a failure stopped it). */
typedef enum nat_agent_phase {
  NAT_AGENT_PH_SETUP = 0,  /**< names, socket, candidates */
  NAT_AGENT_PH_RENDEZVOUS, /**< waiting for the peer's blob */
  NAT_AGENT_PH_CHECKS,     /**< connectivity checks */
  NAT_AGENT_PH_QUIC,       /**< the QUIC handshake */
  NAT_AGENT_PH_CONNECTED,  /**< QUIC confirmed */
  NAT_AGENT_PH_PIPE        /**< the pipe runs (nat_agent_config.pipe) */
} nat_agent_phase;

typedef enum nat_agent_event_type {
  NAT_AGENT_EV_WARNING = 0,       /**< text: a one-line diagnostic; the run goes
                                       on */
  NAT_AGENT_EV_BLOB,              /**< our blob is ready (text, len) */
  NAT_AGENT_EV_PEER,              /**< the peer's blob was taken */
  NAT_AGENT_EV_CHECKS_STARTED,    /**< holes opened, checks held then paced */
  NAT_AGENT_EV_PAIR_SUCCEEDED,    /**< a pair works (pair) */
  NAT_AGENT_EV_SELECTED,          /**< a pair is selected (pair) */
  NAT_AGENT_EV_CONNECTED,         /**< QUIC confirmed (conn, controlling) */
  NAT_AGENT_EV_STREAM_DATA,       /**< conn, sid, data, len, fin */
  NAT_AGENT_EV_WRITABLE,          /**< conn, sid */
  NAT_AGENT_EV_CONN_CLOSED,       /**< the connection closed after CONNECTED
                                       (close); with a pipe: PIPE_DONE or
                                       FAILED instead */
  NAT_AGENT_EV_FAILED,            /**< the run failed (phase, hint, error,
                                       local, text): close the agent */
  NAT_AGENT_EV_CLOSED,            /**< nat_agent_close() is done */
  NAT_AGENT_EV_PIPE_DONE,         /**< the pipe finished both ways and the
                                       connection closed: close the agent
                                       (nat_agent_info: the byte counts) */
  NAT_AGENT_EV_BIRTHDAY_PLAN,     /**< both blobs are in: the birthday plan
                                       (nat_agent_info.bday), text: one line
                                       (the role and odds, or why none) */
  NAT_AGENT_EV_BIRTHDAY_PROGRESS, /**< every 250 ms while the spray runs
                                    (nat_agent_info.bstats) */
  NAT_AGENT_EV_BIRTHDAY_HIT,      /**< an authenticated hit (pair: our socket
                                       and the peer's address it proved) */
  NAT_AGENT_EV_PORTMAP            /**< the gateway's port mapping of our
                                       socket: portmap (probed, granted,
                                       refreshed, lost, refused, deleted);
                                       nat_agent_info.portmap */
} nat_agent_event_type;

/** One event. Pointers are valid during the callback only. */
typedef struct nat_agent_event {
  int type;                   /**< nat_agent_event_type */
  nat_tstamp at;              /**< nat_udp_now() */
  int phase;                  /**< nat_agent_phase at the event */
  const char *text;           /**< BLOB: our blob; WARNING, FAILED: a one-line
                                   reason (no trailing newline) */
  size_t len;                 /**< BLOB: strlen(text); STREAM_DATA: bytes */
  const nat_check_pair *pair; /**< PAIR_SUCCEEDED, SELECTED */
  nat_quic_conn *conn;        /**< CONNECTED .. CONN_CLOSED */
  bool controlling;           /**< our role (the QUIC client when true) */
  int64_t sid;                /**< STREAM_DATA, WRITABLE */
  const uint8_t *data;        /**< STREAM_DATA */
  bool fin;                   /**< STREAM_DATA */
  const nat_quic_close_info *close; /**< CONN_CLOSED */
  int error;  /**< FAILED: a NAT_E* or UV_E* code; NAT_ETICKET: the peer's
                   blob is malformed; NAT_ERESOLVE: a name did not resolve */
  bool local; /**< FAILED: our side's fault (socket, identity, memory) */
  int hint;   /**< FAILED in checks: nat_check_hint */
  const nat_portmap_event *portmap; /**< PORTMAP */
} nat_agent_event;

typedef void (*nat_agent_cb)(nat_agent *a, void *arg,
                             const nat_agent_event *ev);

/** Our side of the birthday spray (nat_agent_config.birthday). */
typedef struct nat_agent_bday {
  bool disabled;        /**< never spray (punch --no-birthday) */
  bool only;            /**< spray only: no plain checks (the birthday
                             tool); the run fails when the plan has no
                             spray */
  bool allow_both_hard; /**< spray even when both peers are hard (under
                             the same caps) */
  int role;             /**< nat_bday_role: NAT_BDAY_NONE from the
                             verdicts; ACCEPTOR or DIALER forced (ticket
                             mode has no verdicts) */
  uint32_t sockets;     /**< K as the acceptor; 0: 256 (at most 1,024) */
  uint32_t probes;      /**< m as the dialer; 0: 2,048 (at most 16,384) */
  uint32_t rate;        /**< probes/s as the dialer; 0: 250 (at most
                             1,000) */
  uint16_t lo, hi;      /**< the range our NAT draws ports from, when
                             known better than measured; 0, 0: measured */
  /** The acceptor's keepalives' IP TTL (1..64; 0: 2): they must pass our
   * own NAT but die before the dialer's (where an inbound packet from
   * one of our mapped ports would take the tuple the dialer's probe to it
   * needs). Raise it when the NAT that maps per destination is more than
   * one router away (a carrier NAT behind a home router). */
  uint8_t ttl;
} nat_agent_bday;

typedef struct nat_agent_config {
  /** The rendezvous, "HOST:PORT" (a name, IPv4 or [IPv6] literal). NULL:
   * no rendezvous; the caller exchanges the blobs (ticket mode). */
  const char *rendezvous;
  /** The room code both peers share (8..128 characters); with
   * rendezvous. Copied. */
  const char *room;
  /** The rendezvous certificate's pin (NAT_QUIC_PIN_LEN bytes, copied);
   * NULL accepts any (blobs are sealed end to end anyway). */
  const uint8_t *rendezvous_pin;
  /** A STUN server "HOST:PORT" for a server-reflexive candidate; with a
   * rendezvous it also enables the allocation probes and predicted
   * candidates. In ticket mode, when it is an RFC 5780 server (its answer
   * names an OTHER-ADDRESS of another IP), a second Binding there tells
   * our mapping and the allocation probes go there: the birthday plan
   * then has its verdicts. NULL: none. */
  const char *stun;
  /** How messages name rendezvous and stun (e.g. "--rendezvous"); NULL:
   * "the rendezvous", "the STUN server". Not copied: keep them alive. */
  const char *rendezvous_label, *stun_label;
  /** NAT_AF_NONE: the rendezvous' family (IPv4 first), else IPv4 */
  uint8_t family;
  uint16_t port;       /**< local UDP port; 0: any */
  bool allow_loopback; /**< accept loopback / link-local candidates */
  /** The whole run's limit (from the peer's blob in ticket mode);
   * 0: 10 s. */
  nat_tstamp timeout;
  /** Stream bytes are acknowledged only by nat_quic_stream_consume(). */
  bool manual_consume;
  /** After CONNECTED, pipe bytes read from @c pipe_in to the peer and the
   * peer's bytes to @c pipe_out (blocking writes), on one bidirectional
   * QUIC stream that the controlling side (the QUIC client) opens with
   * one marker byte, 0x50, not part of the data. @c pipe_in's EOF ends our
   * side of the stream (FIN); the controlled side closes the connection
   * with application code 0 once it has the peer's FIN and the peer
   * acknowledged all of its bytes. The run then ends with
   * NAT_AGENT_EV_PIPE_DONE, or NAT_AGENT_EV_FAILED in phase
   * NAT_AGENT_PH_PIPE (the peer closed before the end of the stream, or
   * local: an fd failed). The agent takes the stream events (no
   * STREAM_DATA, WRITABLE or CONN_CLOSED) and acknowledges what it wrote
   * out (manual_consume is implied). The fds stay the caller's; fd 0 and 1
   * are called stdin and stdout in reasons. A read of @c pipe_in still
   * blocked when the agent closes (a terminal, a pipe whose writer stays
   * open) is left on the loop's thread pool: the loop stays alive until
   * it returns, so a caller that exits then need not wait for it. */
  bool pipe;
  int pipe_in, pipe_out; /**< with pipe: fds, >= 0 */
  /** The birthday spray for a hard NAT (nat/birthday.h). Zero values:
   * on when the verdicts call for it, K = 256 sockets, m = 2,048 probes,
   * 250 probes/s, the range measured. */
  nat_agent_bday birthday;
  /** Do not ask the gateway for a port mapping (punch --no-portmap). By
   * default the agent probes PCP, NAT-PMP and UPnP IGD towards the default
   * gateway (nat/portmap.h) as it starts and asks for a mapping of its
   * socket; a granted one is offered as a "mapped" candidate (our blob
   * waits for it at most NAT_AGENT_PORTMAP_WAIT from the start, or as long
   * as the other gathering; NAT_AGENT_PORTMAP_GRANT_WAIT more when the
   * gateway answered the probe), refreshed while the run lasts, and
   * deleted when the agent closes. */
  bool no_portmap;
  /** The gateway to ask (nat_portmap_config.gateway); NAT_AF_NONE: the
   * default route's. */
  nat_addr portmap_gateway;
} nat_agent_config;

/** How long our blob waits for the gateway's mapping, from the start of
 * the run: a gateway on the LAN answers the probe and the request in a
 * few milliseconds; one that does not answer costs at most this, and
 * only when the rendezvous answered sooner. A gateway that answered the
 * probe with success by then gets NAT_AGENT_PORTMAP_GRANT_WAIT more for
 * its grant (once). */
#define NAT_AGENT_PORTMAP_WAIT       (100 * NAT_MILLISECONDS)
#define NAT_AGENT_PORTMAP_GRANT_WAIT (400 * NAT_MILLISECONDS)

/** How the connection was made (nat_agent_info.strategy). */
typedef enum nat_agent_strategy {
  NAT_AGENT_VIA_NONE = 0,  /**< not connected */
  NAT_AGENT_VIA_DIRECT,    /**< a checked pair of host or reflexive
                                candidates */
  NAT_AGENT_VIA_PREDICTED, /**< a predicted candidate (sequential NAT) */
  NAT_AGENT_VIA_BIRTHDAY,  /**< a birthday hit */
  NAT_AGENT_VIA_MAPPED     /**< a pair with a port-mapped candidate (ours
                                or the peer's) */
} nat_agent_strategy;

/** "none", "direct", "predicted", "birthday", "mapped"; never NULL. */
NAT_EXTERN const char *nat_agent_strategy_name(int s);

/** What the spray did (nat_agent_info.bstats). */
typedef struct nat_agent_bday_stats {
  uint32_t sockets_opened;   /**< acceptor sockets bound */
  uint32_t sockets_open;     /**< still open now */
  uint32_t probes_sent;      /**< dialer probes sent (each to a new port) */
  uint32_t keepalives;       /**< acceptor checks sent (first sends
                                  included) */
  uint32_t answers_sent;     /**< authenticated checks we answered */
  uint32_t hit_probe;        /**< dialer: the 1-based probe index that hit
                                  (0: none or unknown) */
  uint32_t ignored;          /**< datagrams on the spray's sockets that were
                                  not an authenticated check or answer
                                  (wrong key, unknown transaction, not STUN) */
  uint32_t replays;          /**< answers to transactions already answered,
                                  or checks seen again after the hit */
  uint32_t send_errors;      /**< probes, keepalives or answers the kernel
                                  refused to send (counted above all the
                                  same) */
  double p_now;              /**< the odds the probes sent so far had */
  nat_tstamp t_start, t_hit; /**< nat_udp_now(); 0: not reached */
  nat_addr hit_local, hit_remote; /**< the winning pair */
} nat_agent_bday_stats;

/** What the agent saw, for a report. A plain value. */
typedef struct nat_agent_info {
  nat_agent_phase phase;
  bool has_local, has_peer, checks, controlling, selected, connected;
  nat_addr local;        /**< the bound socket's address */
  int local_mapping;     /**< nat_beh (nat/common.h), -1: unknown */
  int remote_mapping;    /**< the peer's blob map=, -1: unknown */
  nat_ticket mine, peer; /**< our ticket (candidates), the peer's */
  size_t nrefused;       /**< remote candidates not checked */
  nat_cand refused[NAT_AGENT_MAX_REFUSED];
  int refused_why[NAT_AGENT_MAX_REFUSED]; /**< nat_cand_reject */
  bool predict_run; /**< pred is nat_cand_predict()'s outcome */
  nat_cand_predict_out pred;
  unsigned nprobes, probes_answered;
  size_t npredicted; /**< predicted candidates in mine */
  unsigned holes_opened;
  nat_check_pair sel; /**< the selected pair (selected) */
  /** nat_udp_now() times; 0: not reached. t0: the run's start (in ticket
   * mode the peer's blob). */
  nat_tstamp t0, t_seen, t_peer, t_blob, t_first_ok, t_selected, t_confirmed;
  /** With a pipe: stream bytes sent (taken by QUIC) and received (the
   * marker not counted). */
  uint64_t pipe_sent, pipe_received;
  /** The birthday plan (bday_planned: both blobs were in) and what the
   * spray did (bday_ran: it started). */
  bool bday_planned, bday_ran;
  nat_bday_plan bday;
  nat_agent_bday_stats bstats;
  int strategy; /**< nat_agent_strategy, once connected */
  /** The port mapping: asked (not no_portmap), the probe and the mapping
   * as nat_portmap_get() last gave them, whether a mapped candidate went
   * into our blob, and whether the mapping was deleted at close (the
   * gateway confirmed it). */
  bool pm_asked, pm_offered, pm_deleted;
  nat_portmap_probe pm_probe;
  nat_portmap_mapping pm_mapping;
  int pm_status;       /**< 0, or why no mapping (NAT_ENOGATEWAY,
                            NAT_EPMREFUSED, NAT_ETIMEDOUT, ...) */
  char pm_reason[128]; /**< one line when pm_status != 0 */
} nat_agent_info;

/** Start a run on @p loop. @p cfg is copied (see its fields for the
 * strings). Names resolve on the loop; everything after comes through
 * @p cb. A malformed value is refused at once.
 * @param diag  NULL, or room for a one-line message naming what was
 *              wrong (with the labels) when this fails.
 * @return 0, NAT_EINVAL (NULL, no room with a rendezvous, a room code
 *         out of 8..128 characters, or a pipe with a negative fd),
 *         NAT_EBADADDR (a value that is not HOST:PORT), NAT_EBADFAMILY (an
 *         address literal of another family than asked for), NAT_ENOMEM,
 *         or a resolver error (nat_resolve). On failure @p cb is never
 *         called. */
NAT_EXTERN int nat_agent_new(nat_agent **out, uv_loop_t *loop,
                             const nat_agent_config *cfg, nat_agent_cb cb,
                             void *arg, char *diag, size_t diaglen);

/** Give the peer's blob (ticket mode: the caller's signalling brought it).
 * Checks and QUIC start at once; the timeout counts from now.
 * @return 0, NAT_EINVAL (NULL), NAT_EBUSY (the agent has a rendezvous,
 *         our blob is not out yet, a peer was already taken, or the run
 *         ended), NAT_ETICKET (malformed: the run then fails with
 *         NAT_AGENT_EV_FAILED, emitted before this returns, whose text says
 *         what was wrong). */
NAT_EXTERN int nat_agent_set_peer_blob(nat_agent *a, const char *text,
                                       size_t len);

/** Copy what the agent saw so far to @p out. */
NAT_EXTERN void nat_agent_info_get(const nat_agent *a, nat_agent_info *out);

/** The checked pairs, as nat_check_pair_count() / nat_check_pair_get(). */
NAT_EXTERN size_t nat_agent_pair_count(const nat_agent *a);
/** @return 0, NAT_EINVAL (no such pair). */
NAT_EXTERN int nat_agent_pair_get(const nat_agent *a, size_t i,
                                  nat_check_pair *out);

/** Stop the run: the rendezvous session, the QUIC endpoint (closing its
 * connection) and the socket close in turn; then NAT_AGENT_EV_CLOSED, and
 * @p a is freed after that callback returns. A second call does nothing.
 */
NAT_EXTERN void nat_agent_close(nat_agent *a);

/** A short name for a nat_agent_phase: "setup", "rendezvous", "checks",
 * "quic", "connected", "pipe"; never NULL. */
NAT_EXTERN const char *nat_agent_phase_name(int phase);

#ifdef __cplusplus
}
#endif
#endif
