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
  bool finished, closing;
  nat_tstamp t0, t_seen, t_peer, t_blob, t_confirmed, end;
};

/* The files call one way: agent_new.c (nat_agent_new, the names, the
 * getters) -> agent.c (gathering, the blob exchange, the end) ->
 * agent_run.c (checks, QUIC) -> agent_event.c (events, failure). */

/* agent_event.c */
void nat__agent_emit(nat_agent *a, nat_agent_event *ev);
/* The run failed: timers stop, FAILED goes out (@p error, @p local: our
 * side's fault) with a reason; the caller closes the agent. */
void nat__agent_fail(nat_agent *a, int error, bool local, int hint,
                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* agent_run.c */
int nat__agent_checks_start(nat_agent *a);
/* A STUN message for the checks (from the rendezvous client or QUIC), the
 * view the socket decoded (NULL if it did not decode). */
void nat__agent_checks_feed(nat_agent *a, const nat_addr *from,
                            const nat_stun_msg *msg);
int nat__agent_quic_start(nat_agent *a);

/* agent.c */
void nat__agent_probes_close(nat_agent *a);
/* The names are known: socket, candidates, blob exchange. */
void nat__agent_begin(nat_agent *a);
/* Close what is open, one owner after the other (closing). */
void nat__agent_teardown(nat_agent *a);

#endif
