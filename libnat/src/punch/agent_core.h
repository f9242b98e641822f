/* libnat -- the punch agent's sans-I/O core (agent_core.c, agent_blob.c):
 * the blob codec, our candidates from what the servers and the allocation
 * probes saw, remote ordering, the check hold, the hole openers and the
 * check run itself. No I/O, no clock: the driver (src/agent/) gives it
 * `now` and packets and takes sends (with a TTL for hole openers),
 * deadlines and nat_check events. */
#ifndef NAT_PUNCH_AGENT_CORE_H
#define NAT_PUNCH_AGENT_CORE_H

#include "nat/birthday.h"
#include "nat/cand.h"
#include "nat/check.h"
#include "nat/ticket.h"

/* Equal to nat/agent.h's NAT_AGENT_PROBES, NAT_AGENT_MAX_REFUSED and
 * NAT_AGENT_BLOB_MAX (asserted equal in src/agent/agent.c: this folder
 * does not include the driver's header, which includes <uv.h>) */
#define NAT__PUNCH_PROBES      4
#define NAT__PUNCH_MAX_REFUSED 12
#define NAT__PUNCH_BLOB_MAX    (NAT_TICKET_TEXT_MAX + 128)
#define NAT__PUNCH_MAX_SUBNETS 16
#define NAT__PUNCH_PREDICT     NAT_CAND_PREDICT_DEFAULT
/* The hole openers' TTL: past our NAT, dead at the next router. */
#define NAT__PUNCH_HOLE_TTL 2

/* One allocation probe's outcome (a fresh socket, one Binding request). */
typedef struct nat__punch_probe {
  uint16_t local_port;
  nat_tstamp sent_at;
  bool done, answered;
  nat_addr mapped;
} nat__punch_probe;

typedef struct nat__punch_core {
  bool ticket_mode, allow_loopback;
  nat_addr local;
  nat_iface subnets[NAT__PUNCH_MAX_SUBNETS];
  size_t nsubnets;
  nat_ticket mine, peer;
  bool has_peer;
  nat_addr seen, stun_mapped; /* our mapping at the rendezvous, at STUN */
  bool has_seen, has_stun_mapped;
  /* rendezvous mode, an RFC 5780 STUN server: our mapping towards its
   * other address (other_dst), a third look at our mapping behaviour */
  nat_addr other_dst, other_mapped;
  bool has_other_mapped;
  int local_mapping, remote_mapping; /* nat_beh or -1 */
  nat_tstamp rdv_rtt, peer_rdv_rtt;  /* HELLO -> SEEN, ours / the peer's */
  nat__punch_probe probes[NAT__PUNCH_PROBES];
  unsigned nprobes;
  bool predict_run;
  nat_cand_predict_out pred;
  size_t npredicted;
  /* the check run */
  nat_check *chk;
  nat_check_cb cb;
  void *cb_arg;
  nat_tstamp start_at; /* when our own checks start (after the hold) */
  bool started, failed;
  nat_addr holes[NAT_TICKET_MAX_CANDS];
  size_t nholes, hole_next;
  unsigned holes_opened;
  nat_cand refused[NAT__PUNCH_MAX_REFUSED];
  int refused_why[NAT__PUNCH_MAX_REFUSED];
  size_t nrefused;
  bool committed, selected, controlling;
  /* the birthday plan's roles: 1 (the dialer) or 0 make the checks'
   * role; -1: the tie-breakers decide */
  int force_controlling;
  /* the birthday acceptor's (or a both-hard sprayer's) own checks go with
   * the hole openers' short TTL (nat__punch_next_send) */
  bool short_ttl_checks;
  /* a mapped candidate (the gateway's port mapping) is in our ticket;
   * passive: our checks wait for the peer's (nat__punch_checks_start) */
  bool has_mapped, passive;
  nat_check_pair commit, sel;
  nat_tstamp t_first_ok, t_selected;
} nat__punch_core;

/* ---- blob codec (agent_blob.c) */

/* Our blob: the ticket's text, " map=N" (@p mapping, nat_beh or -1), then
 * " rtt=N" (@p rtt rounded up to ms) when @p rtt is not 0, then, with
 * @p bd, our side of the birthday plan (alloc=, seq=, range=, bd=).
 * @return the length, NAT_ENOBUFS, or nat_ticket_encode()'s errors. */
ssize_t nat__punch_blob_encode(const nat_ticket *t, int mapping, nat_tstamp rtt,
                               const nat_bday_side *bd, char *buf, size_t cap);

/* Parse a peer's blob. Fields after the ticket are " KEY=VALUE"; map= is
 * -1..3, rtt= 1 to 6 digits (ms); unknown fields are skipped (later
 * versions may add some). @p mapping gets -1 and @p rtt 0 when absent;
 * @p bd (may be NULL) the peer's birthday side (enabled, the rest 0 when
 * absent; mapping left 0: the caller has it).
 * @return 0 or NAT_ETICKET with a one-line message in @p why. */
int nat__punch_blob_parse(const char *text, size_t len, nat_ticket *out,
                          int *mapping, nat_tstamp *rtt, nat_bday_side *bd,
                          char *why, size_t whylen);

/* ---- our candidates (agent_core.c) */

void nat__punch_core_init(nat__punch_core *c, bool ticket_mode,
                          bool allow_loopback);
/* Add @p cand to our ticket unless its address is there already. */
void nat__punch_add_local(nat__punch_core *c, const nat_cand *cand);
void nat__punch_add_srflx(nat__punch_core *c, const nat_addr *mapped,
                          const nat_addr *server);
/* Our host candidates of the socket's family, leaving room for two srflx
 * and the predicted ones. */
void nat__punch_add_hosts(nat__punch_core *c, const nat_cand *hosts, size_t n);
/* Our mapping behaviour from the mappings towards the rendezvous (seen),
 * the STUN server and, when it answered, the STUN server's other address.
 * Two looks that agree by chance on a NAT that maps per destination at
 * random ports of a range of N make "independent" wrong once in N (a
 * carrier NAT's block of 1,000: once in 1,000); a third look, once in N
 * squared. Any two that differ make it dependent: port-dependent when
 * they differ towards one IP, else address-dependent. */
void nat__punch_guess_mapping(nat__punch_core *c, const nat_addr *rdv,
                              const nat_addr *stun);
/* Whether @p t offers a mapped candidate (a gateway's port mapping). */
bool nat__punch_has_mapped(const nat_ticket *t);
/* Predicted candidates from the answered probes (nat_cand_predict). */
void nat__punch_predict(nat__punch_core *c);
/* How long the blob may wait for the STUN answer and the probes after
 * SEEN, from the HELLO -> SEEN time @p seen_after. */
nat_tstamp nat__punch_gather_grace(nat_tstamp seen_after);

/* ---- the checks (agent_core.c) */

/* true if @p a is on one of @p n IPv4 interface subnets */
bool nat__punch_on_subnet(const nat_iface *subnets, size_t n,
                          const nat_addr *a);
/* true if the peer's public address is ours (one NAT before both) */
bool nat__punch_same_public_ip(const nat__punch_core *c);
/* @p cand as we check it (a host candidate off our subnets demoted) */
nat_cand nat__punch_remote_ordered(const nat__punch_core *c,
                                   const nat_cand *cand, bool same_nat);
/* The hold before our first check, in ms (rounded up). */
uint64_t nat__punch_check_hold_ms(bool ticket_mode, nat_tstamp rtt,
                                  nat_tstamp peer_rtt);
/* Where hole openers go: none when a server saw one of our host
 * addresses; else the peer's non-host candidates of our family.
 * @return the count written (at most @p max). */
size_t nat__punch_hole_targets(const nat__punch_core *c, nat_addr *out,
                               size_t max);

/* Make the nat_check (aggressive nomination) from both tickets, add the
 * candidates (refused ones remembered), list the holes; our checks start
 * after the hold. @p deadline: the run's end. @p cb gets nat_check's
 * events (FAILED also for a run without pairs). @return 0 or an error. */
int nat__punch_checks_start(nat__punch_core *c, nat_tstamp now,
                            nat_tstamp deadline, nat_rand_fn rand,
                            nat_check_cb cb, void *arg);
/* The next datagram due: the hole openers first (@p ttl gets
 * NAT__PUNCH_HOLE_TTL; one byte, 0), then the checks (@p ttl 0: the
 * socket's; NAT__PUNCH_HOLE_TTL for our requests with short_ttl_checks).
 * @return its length, 0 when none is due, or an error. */
ssize_t nat__punch_next_send(nat__punch_core *c, nat_tstamp now, uint8_t *buf,
                             size_t cap, nat_addr *dst, int *ttl);
/* Count a hole opener that left. */
void nat__punch_hole_sent(nat__punch_core *c);
nat_tstamp nat__punch_get_expiry(const nat__punch_core *c);
void nat__punch_handle_expiry(nat__punch_core *c, nat_tstamp now);
/* A STUN message for the checks, as decoded on its way in (NULL: it did
 * not decode; ignored, as nat_check_recv() refuses it). */
void nat__punch_recv(nat__punch_core *c, nat_tstamp now, const nat_addr *from,
                     const nat_stun_msg *msg);
/* Where the controlling peer's QUIC goes: the selected pair, else the
 * committed one. @return false when there is none yet. */
bool nat__punch_quic_target(const nat__punch_core *c, nat_addr *to);
/* The pair whose remote address is @p remote becomes the selected one
 * (the handshake proved it). */
void nat__punch_select_by_remote(nat__punch_core *c, const nat_addr *remote,
                                 nat_tstamp now);
void nat__punch_core_free(nat__punch_core *c);

#endif
