/* libnat -- the punch agent's libuv driver (agent_new.c: the values, the
 * names; agent.c: socket, gathering, the rendezvous, the end of a run;
 * agent_run.c: the checks on the socket and the QUIC endpoint;
 * agent_pipe.c: the pipe on the connection; agent_event.c: what the
 * caller is told). The decisions are the sans-I/O
 * core's (src/punch/agent_core.h); this folder owns the handles: like
 * io/, quic/ and rdv/, it may include <uv.h>. Data flows socket (io/) ->
 * rendezvous client (rdv/) or QUIC endpoint (quic/) -> the core's checks
 * (punch/) -> QUIC on the selected pair. */
#ifndef NAT_AGENT_INTERNAL_H
#define NAT_AGENT_INTERNAL_H

#include <uv.h>

#include "nat/agent.h"
#include "nat/rdv.h"
#include "nat/resolve.h"
#include "nat/udp.h"
#include "agent/agent_pipe.h"
#include "punch/agent_core.h"
#include "punch/spray.h"

/* One acceptor socket of the birthday spray (agent_spray.c). */
typedef struct nat__agent_bsock {
  nat_agent *a;
  uint32_t i;
  nat_udp *u; /* NULL once closed */
  bool closing;
} nat__agent_bsock;

/* A server name being resolved (rendezvous or stun). */
typedef struct nat__agent_name {
  nat_agent *a;
  const char *arg, *label;
  bool pending, literal;
  nat_resolve_result res;
} nat__agent_name;

struct nat_agent {
  uv_loop_t *loop;
  nat_agent_config cfg;
  char *rdv_name, *stun_name, *room;
  uint8_t rdv_pin[NAT_QUIC_PIN_LEN];
  nat_agent_cb cb;
  void *arg;
  nat__punch_core core;
  nat__agent_name names[2];
  nat_udp *udp;
  nat_udp *probe_udp[NAT_AGENT_PROBES];
  bool probe_closing[NAT_AGENT_PROBES];
  nat_addr rdv_addr, stun_addr;
  bool has_rdv, has_stun;
  nat_quic_identity *id;
  nat_rdv_client *rdv;
  nat_quic_endpoint *ep;
  nat_quic_conn *conn;
  nat_addr conn_remote;
  bool connecting, connected;
  nat__pipe *pipe; /* cfg.pipe, from CONNECTED until the teardown */
  uint64_t pipe_sent, pipe_received;
  uv_timer_t chk_timer, deadline, gather_timer;
  bool timers_init;
  int open_timers; /* closing: timers whose close callback is to come */
  nat_agent_phase phase;
  bool stun_pending, blob_sent, gather_expired, peer_set;
  /* ticket mode, an RFC 5780 STUN server: the Binding to its other
   * address (other_pending) and the probes there (other_look) */
  bool other_look, other_pending;
  /* rendezvous mode, an RFC 5780 STUN server: the Binding to its other
   * address from our socket (the third look, nat__punch_guess_mapping) */
  bool third_pending;
  bool finished, closing;
  nat_tstamp t0, t_seen, t_peer, t_blob, t_confirmed, end;
  /* the birthday spray (agent_spray.c) */
  nat_bday_side bd_peer; /* the peer's side, from its blob */
  nat_bday_plan bday;    /* both blobs in: bday_planned */
  bool bday_planned, bday_ran;
  nat__spray spray;        /* bday_ran */
  nat__agent_bsock *bsock; /* the acceptor's sockets [nbsock] */
  uint32_t nbsock, bsock_open;
  /* endpoints on the spray's winning sockets (borrowed): the acceptor's
   * one; both hard, the QUIC client's one or the server's on each hit */
  nat_quic_endpoint *bep[NAT__SPRAY_HITS];
  uint32_t bep_sock[NAT__SPRAY_HITS];
  bool bep_closing[NAT__SPRAY_HITS];
  unsigned nbep, bep_open;
  bool conn_on_bep;
  nat_quic_endpoint *conn_ep;        /* the endpoint a->conn runs on */
  bool bday_hit_told, bday_end_told; /* on_hit / on_exhausted ran */
  uv_timer_t spray_timer, progress_timer;
  uint32_t spray_send_errors; /* sends the kernel refused */
  bool checks_failed;         /* the checks failed while the spray ran */
  int checks_hint;
  int strategy; /* nat_agent_strategy once connected */
  /* the gateway's port mapping (agent_portmap.c) */
  nat_portmap *pm;
  uv_timer_t pm_timer;
  bool pm_asked, pm_pending, pm_closing, pm_offered, pm_deleted;
  bool pm_extended;   /* the wait was extended: the gateway had answered */
  bool blob_deferred; /* ticket mode: the blob waits for the mapping */
  nat_portmap_probe pm_probe;
  nat_portmap_mapping pm_mapping;
  int pm_status;
  char pm_reason[128];
};

/* The files call one way: agent_new.c (nat_agent_new, the names, the
 * getters) -> agent.c (gathering, the blob exchange, the end) ->
 * agent_run.c (checks, QUIC) -> agent_event.c (events, failure). */

/* agent_event.c */
void nat__agent_emit(nat_agent *a, nat_agent_event *ev);
/* A one-line diagnostic; the run goes on. */
void nat__agent_warn(nat_agent *a, const char *text);
/* The run failed: timers stop, FAILED goes out (@p error, @p local: our
 * side's fault) with a reason; the caller closes the agent. */
void nat__agent_fail(nat_agent *a, int error, bool local, int hint,
                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* agent.c: the mapping's wait ended: send the blob if it was waiting */
void nat__agent_gathered(nat_agent *a);

/* agent_portmap.c */
/* Probe the gateway and ask for a mapping of our socket (unless
 * cfg.no_portmap); the blob waits for it (pm_pending) at most
 * NAT_AGENT_PORTMAP_WAIT. */
void nat__agent_portmap_start(nat_agent *a);
/* Closing: delete the mapping and close the handle. @return true while
 * it is closing (nat__agent_teardown is called again at its end). */
bool nat__agent_portmap_teardown(nat_agent *a);
void nat__agent_portmap_info(const nat_agent *a, nat_agent_info *out);

/* agent_run.c */
int nat__agent_checks_start(nat_agent *a);
/* A STUN message for the checks (from the rendezvous client or QUIC), the
 * view the socket decoded (NULL if it did not decode). */
void nat__agent_checks_feed(nat_agent *a, const nat_addr *from,
                            const nat_stun_msg *msg);
int nat__agent_quic_start(nat_agent *a);

/* agent_spray.c */
/* Our side of the birthday plan, for our blob and the plan. */
void nat__agent_bday_side(const nat_agent *a, nat_bday_side *out);
/* Both blobs are in: make the plan, tell the caller; the checks' roles
 * follow it. @return 0, or -1 when the run failed (spray only and no
 * spray, or a refusal). */
int nat__agent_bday_plan(nat_agent *a);
/* Start the spray the plan calls for (the acceptor's sockets first).
 * @return 0, or -1 when the run failed. */
int nat__agent_spray_start(nat_agent *a);
/* A STUN message on the agent's socket: @return true when the spray
 * took it. */
bool nat__agent_spray_feed(nat_agent *a, const nat_addr *from,
                           const nat_stun_msg *msg);
/* The connection is confirmed, or the run ends: the spray stops, every
 * acceptor socket but the one @p keep_ep's connection runs on closes. */
void nat__agent_spray_stop(nat_agent *a);
/* What the plan adds to a failure of the checks (@p hint theirs): the
 * both-hard refusal with its estimate, or, when a verdict was missing and
 * no check was answered, how to get one. @return false when there is
 * nothing to add. */
bool nat__agent_bday_note(const nat_agent *a, int hint, char *buf, size_t len);
/* The connection runs on the spray's pair: the strategy is birthday and
 * the selected pair (for the report) is that pair, the connection's local
 * socket and the peer address the spray proved. */
void nat__agent_spray_selected(nat_agent *a);
/* The checks failed: @return true when the spray still runs (the failure
 * waits for it). */
bool nat__agent_spray_defers(nat_agent *a, int hint);
/* Closing: @return true while spray sockets or the endpoint still close
 * (their callbacks call nat__agent_teardown again). */
bool nat__agent_spray_teardown(nat_agent *a);

/* agent_run.c: an endpoint with the agent's callbacks (their argument
 * @p a) on @p u (borrowed), accepting the peer's pinned certificate.
 * @p on_stun takes its STUN. */
int nat__agent_endpoint_new(nat_agent *a, nat_udp *u,
                            void (*on_stun)(nat_quic_endpoint *, void *,
                                            const nat_addr *, const uint8_t *,
                                            size_t, const nat_stun_msg *),
                            nat_quic_endpoint **out);
/* QUIC follows the core's pair or the spray's hit. */
void nat__agent_follow(nat_agent *a);

/* agent.c */
void nat__agent_probes_close(nat_agent *a);
/* The run ends no earlier than @p end (the spray's window). */
void nat__agent_extend(nat_agent *a, nat_tstamp end);
/* The names are known: socket, candidates, blob exchange. */
void nat__agent_begin(nat_agent *a);
/* Close what is open, one owner after the other (closing). */
void nat__agent_teardown(nat_agent *a);

#endif
