/* libnat -- the punch agent's driver, the middle: the socket and our
 * identity, gathering (host candidates, the STUN Binding, the allocation
 * probes beside the rendezvous registration), the blob exchange (the
 * rendezvous client, or the caller's signalling: nat_agent_set_peer_blob),
 * the deadline and the end of a run (nat_agent_close: the handles closed
 * one owner after the other). The checks and QUIC are in agent_run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "nat/error.h"

/* The allocation probes' and the parallel STUN Binding's first RTO (the
 * gather grace, agent_core.c, covers one retransmission). */
#define PROBE_RTO       (100 * NAT_MILLISECONDS)
#define DEFAULT_TIMEOUT (10 * NAT_SECONDS)
#define AGENT_SOFTWARE  "libnat punch"

static void maybe_send_blob(nat_agent *a);

static void on_deadline(uv_timer_t *t) {
  nat_agent *a = t->data;
  unsigned to = (unsigned)(a->cfg.timeout / NAT_SECONDS);
  switch (a->phase) {
  case NAT_AGENT_PH_RENDEZVOUS:
    if (a->core.has_seen)
      nat__agent_fail(a, NAT_ETIMEDOUT, false, 0,
                      "no peer joined the room within %u s: check that both "
                      "sides use the same room code and rendezvous",
                      to);
    else
      nat__agent_fail(a, NAT_ETIMEDOUT, false, 0,
                      "the rendezvous did not answer within %u s: check its "
                      "address and that UDP reaches it",
                      to);
    break;
  case NAT_AGENT_PH_CHECKS:
    if (a->bday_ran)
      nat__agent_fail(a, NAT_ETIMEDOUT, false, NAT_CHECK_HINT_BIRTHDAY,
                      "no path within %u s: the birthday spray had no hit "
                      "(%u probes, %.1f %% predicted)",
                      (unsigned)((a->end - a->t0) / NAT_SECONDS),
                      a->spray.st.probes_sent, 100.0 * a->bday.p_success);
    else
      nat__agent_fail(a, NAT_ETIMEDOUT, false, 0,
                      "connectivity checks found no path within %u s", to);
    break;
  case NAT_AGENT_PH_QUIC:
    nat__agent_fail(a, NAT_ETIMEDOUT, false, 0,
                    "the QUIC handshake did not complete within %u s", to);
    break;
  default:
    nat__agent_fail(a, NAT_ETIMEDOUT, false, 0, "timed out after %u s", to);
  }
}

/* ------------------------------------------------------- the peer blob */

/* Take the peer's blob. @return 0 or NAT_ETICKET (the run failed). */
static int take_peer(nat_agent *a, const char *text, size_t len) {
  char why[200];
  nat_agent_event e;
  if (nat__punch_blob_parse(text, len, &a->core.peer, &a->core.remote_mapping,
                            &a->core.peer_rdv_rtt, &a->bd_peer, why,
                            sizeof why) != 0) {
    nat__agent_fail(a, NAT_ETICKET, false, 0, "%s", why);
    return NAT_ETICKET;
  }
  a->core.has_peer = true;
  a->peer_set = true;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_PEER;
  nat__agent_emit(a, &e);
  return 0;
}

/* Both blobs are in: the birthday plan, the spray it calls for, the
 * checks (unless spray only). @return 0, or -1 when the run failed. */
static int peer_in(nat_agent *a) {
  if (nat__agent_bday_plan(a) != 0 || nat__agent_spray_start(a) != 0)
    return -1;
  if (a->cfg.birthday.only) {
    nat_agent_event e;
    a->phase = NAT_AGENT_PH_CHECKS;
    memset(&e, 0, sizeof e);
    e.type = NAT_AGENT_EV_CHECKS_STARTED;
    e.controlling = a->core.controlling;
    nat__agent_emit(a, &e);
    return a->finished ? -1 : 0;
  }
  if (nat__agent_checks_start(a) != 0) {
    nat__agent_fail(a, NAT_ENOMEM, true, 0, "%s",
                    "cannot start connectivity checks");
    return -1;
  }
  return a->finished ? -1 : 0;
}

void nat__agent_extend(nat_agent *a, nat_tstamp end) {
  nat_tstamp now = nat_udp_now();
  if (end <= a->end || a->finished)
    return;
  a->end = end;
  uv_timer_start(&a->deadline, on_deadline,
                 (end - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS, 0);
}

/* Encode our blob and hand it to the caller. @return 0 or an error. */
static int blob_out(nat_agent *a, char *blob, size_t cap) {
  nat_agent_event e;
  nat_bday_side bd;
  ssize_t n;
  if (a->pm_pending && !a->has_rdv) { /* ticket mode: nat__agent_gathered */
    a->blob_deferred = true;
    return 0;
  }
  nat__agent_bday_side(a, &bd);
  n = nat__punch_blob_encode(&a->core.mine, a->core.local_mapping,
                             a->core.rdv_rtt, &bd, blob, cap);
  if (n < 0)
    return (int)n;
  a->blob_sent = true;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_BLOB;
  e.text = blob;
  e.len = (size_t)n;
  nat__agent_emit(a, &e);
  return 0;
}

int nat_agent_set_peer_blob(nat_agent *a, const char *text, size_t len) {
  int rc;
  if (a == NULL || text == NULL)
    return NAT_EINVAL;
  if (!a->blob_sent || a->peer_set || a->finished || a->has_rdv)
    return NAT_EBUSY;
  uv_update_time(a->loop); /* the caller may have blocked for the blob */
  a->t_peer = nat_udp_now();
  if ((rc = take_peer(a, text, len)) != 0)
    return rc;
  a->t0 = a->t_peer; /* the timeout counts from the peer's blob */
  a->end = a->t0 + a->cfg.timeout;
  uv_timer_start(&a->deadline, on_deadline,
                 (uint64_t)(a->cfg.timeout / NAT_MILLISECONDS), 0);
  if (peer_in(a) != 0)
    return 0;
  if (nat__agent_quic_start(a) != 0)
    nat__agent_fail(a, NAT_ENOMEM, true, 0, "%s", "cannot start QUIC");
  return 0;
}

/* ------------------------------------------------ gathering beside SEEN */

static bool gathering(const nat_agent *a) {
  if (a->stun_pending || a->third_pending || a->pm_pending)
    return true;
  for (unsigned i = 0; i < a->core.nprobes; i++)
    if (!a->core.probes[i].done)
      return true;
  return false;
}

static void send_blob(nat_agent *a) {
  char blob[NAT_AGENT_BLOB_MAX];
  nat_rdv_client_info info;
  nat__punch_core *c = &a->core;
  /* our rendezvous RTT (HELLO -> SEEN) travels in the blob (rtt=N): the
   * peer's hold before its first check depends on it */
  nat_rdv_client_info_get(a->rdv, &info);
  if (info.t_seen > info.t_hello && info.t_hello != 0)
    c->rdv_rtt = info.t_seen - info.t_hello;
  a->t_blob = nat_udp_now();
  uv_timer_stop(&a->gather_timer);
  if (a->stun_pending) {
    a->stun_pending = false;
    nat__agent_warn(
        a, "the STUN server did not answer: no server-reflexive candidate "
           "from it");
  }
  a->third_pending = false; /* a late answer is dropped */
  if (a->pm_pending) {
    a->pm_pending = false; /* a later grant is not offered */
    uv_timer_stop(&a->pm_timer);
  }
  nat__punch_guess_mapping(c, &a->rdv_addr, &a->stun_addr);
  nat__punch_add_srflx(c, &c->seen, &a->rdv_addr);
  if (c->has_stun_mapped)
    nat__punch_add_srflx(c, &c->stun_mapped, &a->stun_addr);
  nat__punch_predict(c);
  nat__agent_probes_close(a);
  if (blob_out(a, blob, sizeof blob) != 0 ||
      nat_rdv_client_send_blob(a->rdv, (const uint8_t *)blob, strlen(blob)) !=
          0)
    nat__agent_fail(a, NAT_ENOBUFS, true, 0, "%s",
                    "cannot send our blob to the rendezvous");
}

static void ticket_blob(nat_agent *a);
static bool other_start(nat_agent *a, const nat_addr *other);

static void maybe_send_blob(nat_agent *a) {
  if (!a->has_rdv && a->other_look) { /* ticket mode, RFC 5780 server */
    if (!a->blob_sent && !a->finished &&
        (!(gathering(a) || a->other_pending) || a->gather_expired))
      ticket_blob(a);
    return;
  }
  if (a->blob_sent || a->finished || !a->core.has_seen || a->rdv == NULL)
    return;
  /* the gather grace ends the wait for the probes and STUN, not the
   * wait for the gateway's mapping (its own timer bounds it) */
  if (gathering(a) && (!a->gather_expired || a->pm_pending))
    return;
  send_blob(a);
}

void nat__agent_gathered(nat_agent *a) {
  char blob[NAT_AGENT_BLOB_MAX];
  if (a->finished)
    return;
  if (a->blob_deferred) {
    a->blob_deferred = false;
    if (blob_out(a, blob, sizeof blob) != 0)
      nat__agent_fail(a, NAT_ENOBUFS, true, 0, "%s",
                      "cannot encode our ticket");
    return;
  }
  maybe_send_blob(a);
}

static void gather_timeout(uv_timer_t *t) {
  nat_agent *a = t->data;
  a->gather_expired = true;
  maybe_send_blob(a);
}

static void on_probe_done(nat_udp *u, void *arg, const nat_txn_result *r) {
  nat_agent *a = arg;
  for (unsigned i = 0; i < a->core.nprobes; i++) {
    nat__punch_probe *p = &a->core.probes[i];
    if (a->probe_udp[i] != u || p->done)
      continue;
    p->done = true;
    if (r->status == 0 && r->response != NULL &&
        nat_stun_msg_get_mapped(r->response, &p->mapped) == 0)
      p->answered = true;
  }
  maybe_send_blob(a);
}

static void on_probe_gone(nat_udp *u, void *arg) {
  nat_agent *a = arg;
  for (unsigned i = 0; i < a->core.nprobes; i++)
    if (a->probe_udp[i] == u)
      a->probe_udp[i] = NULL;
  if (a->closing)
    nat__agent_teardown(a);
}

void nat__agent_probes_close(nat_agent *a) {
  for (unsigned i = 0; i < a->core.nprobes; i++) {
    if (a->probe_udp[i] == NULL || a->probe_closing[i])
      continue;
    a->probe_closing[i] = true;
    a->core.probes[i].done = true;
    nat_udp_close(a->probe_udp[i], on_probe_gone, a);
  }
}

/* Sample our NAT's port allocation: only when a second destination (the
 * STUN server) can tell whether the mapping depends on the destination
 * (else predicted candidates are never made: nat_cand_predict()). */
static void probes_start(nat_agent *a) {
  nat_udp_config uc;
  nat_txn_opts o;
  if (!a->has_stun || nat_addr_equal(&a->stun_addr, &a->rdv_addr))
    return;
  memset(&uc, 0, sizeof uc);
  memset(&o, 0, sizeof o);
  uc.bind.family = a->core.local.family;
  uc.software = AGENT_SOFTWARE;
  o.rto = PROBE_RTO;
  for (unsigned i = 0; i < NAT_AGENT_PROBES; i++) {
    nat__punch_probe *p = &a->core.probes[i];
    nat_addr la;
    memset(p, 0, sizeof *p);
    if (nat_udp_new(&a->probe_udp[i], a->loop, &uc) != 0) {
      a->probe_udp[i] = NULL;
      return; /* fewer samples: the classifier says so */
    }
    a->core.nprobes++;
    if (nat_udp_local_addr(a->probe_udp[i], &la) == 0)
      p->local_port = la.port;
    p->sent_at = nat_udp_now();
    if (nat_udp_binding(a->probe_udp[i], &a->rdv_addr, 0, &o, on_probe_done, a,
                        NULL) != 0)
      p->done = true;
  }
}

/* Ticket mode: the STUN server's other address (RFC 5780) answered our
 * second Binding: our mapping towards it stands in for the rendezvous'
 * SEEN, so that the two tell whether our NAT maps per destination. */
static void on_other(nat_udp *u, void *arg, const nat_txn_result *r) {
  nat_agent *a = arg;
  (void)u;
  if (!a->other_pending || a->finished)
    return;
  a->other_pending = false;
  if (r->status == 0 && r->response != NULL &&
      nat_stun_msg_get_mapped(r->response, &a->core.seen) == 0)
    a->core.has_seen = true;
  maybe_send_blob(a);
}

/* Ticket mode with an RFC 5780 STUN server: both mappings, the mapping
 * behaviour, the allocation probes (to the other address) and the
 * predicted candidates, as the rendezvous gives them in connect mode;
 * then the blob. */
static void ticket_blob(nat_agent *a) {
  char blob[NAT_AGENT_BLOB_MAX];
  nat__punch_core *c = &a->core;
  uv_timer_stop(&a->gather_timer);
  if (c->has_stun_mapped)
    nat__punch_add_srflx(c, &c->stun_mapped, &a->stun_addr);
  else
    nat__agent_warn(
        a, "the STUN server did not answer: no server-reflexive candidate "
           "from it");
  if (c->has_seen && c->has_stun_mapped) {
    nat__punch_guess_mapping(c, &a->rdv_addr, &a->stun_addr);
    nat__punch_add_srflx(c, &c->seen, &a->rdv_addr);
    nat__punch_predict(c);
  }
  nat__agent_probes_close(a);
  if (blob_out(a, blob, sizeof blob) != 0)
    nat__agent_fail(a, NAT_ENOBUFS, true, 0, "%s", "cannot encode our ticket");
}

/* Rendezvous mode: the answer to our Binding to the STUN server's other
 * address, the third look at our mapping behaviour. */
static void on_third(nat_udp *u, void *arg, const nat_txn_result *r) {
  nat_agent *a = arg;
  (void)u;
  if (!a->third_pending || a->finished)
    return; /* the blob went without it */
  a->third_pending = false;
  if (r->status == 0 && r->response != NULL &&
      nat_stun_msg_get_mapped(r->response, &a->core.other_mapped) == 0 &&
      a->core.other_mapped.family == a->core.stun_mapped.family)
    a->core.has_other_mapped = true;
  maybe_send_blob(a);
}

/* Rendezvous mode: a Binding from our socket to the STUN server's other
 * address @p other (another IP), sent as soon as the server named it, so
 * it comes back about when the rendezvous' SEEN does; the blob waits for
 * it as for the probes (bounded by the gather grace). */
static void third_start(nat_agent *a, const nat_addr *other) {
  nat_txn_opts o;
  if (other->family != a->stun_addr.family ||
      nat_addr_equal_ip(other, &a->stun_addr) ||
      nat_addr_equal_ip(other, &a->rdv_addr))
    return;
  memset(&o, 0, sizeof o);
  o.rto = PROBE_RTO;
  a->core.other_dst = *other;
  if (nat_udp_binding(a->udp, other, 0, &o, on_third, a, NULL) == 0)
    a->third_pending = true;
}

static void on_stun(nat_udp *u, void *arg, const nat_txn_result *r) {
  nat_agent *a = arg;
  char blob[NAT_AGENT_BLOB_MAX];
  nat_addr other;
  (void)u;
  if (!a->stun_pending || a->finished)
    return; /* the blob went without it */
  a->stun_pending = false;
  if (r->status == 0 && r->response != NULL &&
      nat_stun_msg_get_mapped(r->response, &a->core.stun_mapped) == 0)
    a->core.has_stun_mapped = true;
  if (a->has_rdv) {
    if (a->core.has_stun_mapped &&
        nat_stun_msg_get_addr(r->response, NAT_ATTR_OTHER_ADDRESS, &other) == 0)
      third_start(a, &other);
    maybe_send_blob(a);
    return;
  }
  /* ticket mode: an RFC 5780 server names its other address (another IP
   * and port): a Binding there from our socket tells our mapping, and the
   * allocation probes go there too; the blob waits for both (bounded) */
  if (a->core.has_stun_mapped &&
      nat_stun_msg_get_addr(r->response, NAT_ATTR_OTHER_ADDRESS, &other) == 0 &&
      other.family == a->stun_addr.family &&
      !nat_addr_equal_ip(&other, &a->stun_addr) && other_start(a, &other)) {
    nat_tstamp g = nat__punch_gather_grace(r->rtt);
    uv_timer_start(&a->gather_timer, gather_timeout,
                   (g + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS, 0);
    return;
  }
  /* ticket mode: the blob waited for this answer */
  if (a->core.has_stun_mapped)
    nat__punch_add_srflx(&a->core, &a->core.stun_mapped, &a->stun_addr);
  else
    nat__agent_warn(
        a, "the STUN server did not answer: no server-reflexive candidate "
           "from it");
  if (blob_out(a, blob, sizeof blob) != 0)
    nat__agent_fail(a, NAT_ENOBUFS, true, 0, "%s", "cannot encode our ticket");
}

/* Ticket mode: a Binding to the STUN server's other address @p other
 * from our socket, and the allocation probes there. @return true when
 * the Binding went. */
static bool other_start(nat_agent *a, const nat_addr *other) {
  nat_txn_opts o;
  memset(&o, 0, sizeof o);
  o.rto = PROBE_RTO;
  a->rdv_addr = *other; /* where the probes go, and the second mapping's */
  if (nat_udp_binding(a->udp, other, 0, &o, on_other, a, NULL) != 0)
    return false;
  a->other_look = true;
  a->other_pending = true;
  probes_start(a);
  return true;
}

/* The STUN Binding from our socket: waited for in ticket mode (it is at
 * most a few RTOs), beside the registration with a rendezvous. */
static int stun_start(nat_agent *a) {
  nat_txn_opts o;
  memset(&o, 0, sizeof o);
  o.rto = PROBE_RTO;
  if (!a->has_stun)
    return -1;
  if (nat_udp_binding(a->udp, &a->stun_addr, 0, a->has_rdv ? &o : NULL, on_stun,
                      a, NULL) != 0)
    return -1;
  a->stun_pending = true;
  return 0;
}

/* -------------------------------------------------------- rendezvous */

static void rdv_seen(nat_rdv_client *c, void *arg, const nat_addr *seen) {
  nat_agent *a = arg;
  (void)c;
  a->core.seen = *seen;
  a->core.has_seen = true;
  a->t_seen = nat_udp_now();
  if (gathering(a)) {
    nat_tstamp g = nat__punch_gather_grace(a->t_seen - a->t0);
    uv_timer_start(&a->gather_timer, gather_timeout,
                   (g + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS, 0);
  }
  maybe_send_blob(a);
}

static void rdv_peer(nat_rdv_client *c, void *arg, const uint8_t *blob,
                     size_t len) {
  nat_agent *a = arg;
  nat_rdv_client_info info;
  a->t_peer = nat_udp_now();
  nat_rdv_client_info_get(c, &info);
  if (info.t_seen > info.t_hello && info.t_hello != 0)
    a->core.rdv_rtt = info.t_seen - info.t_hello;
  if (a->finished || take_peer(a, (const char *)blob, len) != 0)
    return;
  (void)peer_in(a);
}

static void on_rdv_gone(nat_rdv_client *c, void *arg) {
  nat_agent *a = arg;
  (void)c;
  a->rdv = NULL;
  if (a->closing)
    nat__agent_teardown(a);
  else if (!a->finished && nat__agent_quic_start(a) != 0)
    nat__agent_fail(a, NAT_EQUIC, true, 0, "%s",
                    "cannot start QUIC on the socket");
}

static void rdv_done(nat_rdv_client *c, void *arg, int status) {
  nat_agent *a = arg;
  nat_rdv_client_info info;
  if (a->finished)
    return;
  if (status == 0) {
    nat_rdv_client_close(c, on_rdv_gone, a);
    return;
  }
  nat_rdv_client_info_get(c, &info);
  if (status == NAT_EROOMSECRET)
    nat__agent_fail(a, status, false, 0, "%s",
                    "the peer's data failed authentication: the peers used "
                    "different room codes (or the blob was forged)");
  else if (status == NAT_ETIMEDOUT)
    on_deadline(&a->deadline);
  else if (status == NAT_ERDVREFUSED || status == NAT_EROOMFULL)
    nat__agent_fail(a, status, false, 0, "the rendezvous refused us: %s",
                    info.error_text[0] ? info.error_text
                                       : nat_rdv_strerror(info.error_code));
  else
    nat__agent_fail(a, status, false, 0, "rendezvous failed: %s",
                    nat_strerror(status));
}

static void rdv_stun(nat_rdv_client *c, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  (void)c;
  (void)buf;
  (void)len;
  nat__agent_checks_feed(arg, from, msg);
}

static int rdv_start(nat_agent *a) {
  nat_rdv_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.udp = a->udp;
  cfg.server = a->rdv_addr;
  cfg.server_pin = a->cfg.rendezvous_pin != NULL ? a->rdv_pin : NULL;
  cfg.any_server_pin = a->cfg.rendezvous_pin == NULL;
  cfg.code = a->room;
  cfg.timeout = a->cfg.timeout;
  cfg.cb.on_seen = rdv_seen;
  cfg.cb.on_peer = rdv_peer;
  cfg.cb.on_done = rdv_done;
  cfg.cb.on_stun = rdv_stun;
  cfg.arg = a;
  a->phase = NAT_AGENT_PH_RENDEZVOUS;
  return nat_rdv_client_new(&a->rdv, a->loop, &cfg);
}

/* ------------------------------------------------------------- setup */

static int gather_host(nat_agent *a) {
  nat_cand hosts[NAT_TICKET_MAX_CANDS];
  size_t n = 0;
  int rc = nat_cand_gather_host(
      a->core.local.port, a->cfg.allow_loopback, hosts, NAT_TICKET_MAX_CANDS,
      &n, a->core.subnets, NAT__PUNCH_MAX_SUBNETS, &a->core.nsubnets);
  if (rc == 0)
    nat__punch_add_hosts(&a->core, hosts, n);
  return rc;
}

/* The socket, our identity and host candidates. @return 0 or -1 (the
 * run failed). */
static int setup(nat_agent *a) {
  nat_udp_config uc;
  int rc;
  memset(&uc, 0, sizeof uc);
  uc.bind.family = a->cfg.family ? a->cfg.family : NAT_AF_INET;
  if (a->has_rdv)
    uc.bind.family = a->rdv_addr.family;
  uc.bind.port = a->cfg.port;
  uc.software = AGENT_SOFTWARE;
  if ((rc = nat_udp_new(&a->udp, a->loop, &uc)) != 0) {
    a->udp = NULL;
    nat__agent_fail(a, rc, true, 0, "cannot bind UDP port %u: %s",
                    (unsigned)uc.bind.port, nat_strerror(rc));
    return -1;
  }
  if (nat_udp_local_addr(a->udp, &a->core.local) != 0 ||
      nat_quic_identity_new(&a->id, "punch") != 0 ||
      nat_ticket_init_random(&a->core.mine, nat_rand_system, NULL) != 0) {
    nat__agent_fail(a, NAT_ECRYPTO, true, 0, "%s",
                    "cannot make this run's identity");
    return -1;
  }
  nat_quic_identity_pin(a->id, a->core.mine.pin);
  if (gather_host(a) != 0) {
    nat__agent_fail(a, NAT_ENOMEM, true, 0, "%s",
                    "cannot list network interfaces");
    return -1;
  }
  return 0;
}

/* The names are known: the socket, then the blob (ticket mode, after the
 * STUN answer) or the registration with the STUN Binding and the
 * allocation probes beside it (their blob waits for them: rdv_seen). */
void nat__agent_begin(nat_agent *a) {
  char blob[NAT_AGENT_BLOB_MAX];
  a->t0 = nat_udp_now();
  if (setup(a) != 0)
    return;
  a->t0 = nat_udp_now();
  a->end = a->t0 + a->cfg.timeout;
  nat__agent_portmap_start(a);
  if (!a->has_rdv) {
    if (stun_start(a) != 0 && blob_out(a, blob, sizeof blob) != 0)
      nat__agent_fail(a, NAT_ENOBUFS, true, 0, "%s",
                      "cannot encode our ticket");
    return;
  }
  (void)stun_start(a);
  if (rdv_start(a) != 0) {
    a->rdv = NULL;
    nat__agent_fail(a, NAT_ENOMEM, true, 0, "%s",
                    "cannot start the rendezvous session");
    return;
  }
  probes_start(a);
  uv_timer_start(&a->deadline, on_deadline,
                 (uint64_t)(a->cfg.timeout / NAT_MILLISECONDS), 0);
}

/* ----------------------------------------------------------- the end */

static void on_timer_closed(uv_handle_t *h) {
  nat_agent *a = h->data;
  nat_agent_event e;
  if (--a->open_timers > 0)
    return; /* the last of the six closes frees */
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_CLOSED;
  nat__agent_emit(a, &e);
  nat__punch_core_free(&a->core);
  nat_quic_identity_free(a->id);
  free(a->rdv_name);
  free(a->stun_name);
  free(a->room);
  free(a);
}

static void on_ep_gone(nat_quic_endpoint *ep, void *arg) {
  nat_agent *a = arg;
  (void)ep;
  a->ep = NULL;
  nat__agent_teardown(a);
}

static void on_udp_gone(nat_udp *u, void *arg) {
  nat_agent *a = arg;
  (void)u;
  a->udp = NULL;
  nat__agent_teardown(a);
}

static void on_pipe_gone(void *arg) {
  nat__agent_teardown(arg);
}

static void on_rdv_closed(nat_rdv_client *c, void *arg) {
  nat_agent *a = arg;
  (void)c;
  a->rdv = NULL;
  nat__agent_teardown(a);
}

/* Close what is open, one owner after the other: the rendezvous client
 * and the QUIC endpoint borrow the socket, so the socket goes last; the
 * probes and lookups under way (which cannot be cancelled) end first, the
 * pipe (its timer; a blocked read is left to return) before the
 * connection it writes on. */
void nat__agent_teardown(nat_agent *a) {
  for (unsigned i = 0; i < a->core.nprobes; i++)
    if (a->probe_udp[i] != NULL)
      return; /* closing: on_probe_gone() comes back */
  if (a->names[0].pending || a->names[1].pending)
    return;
  if (a->pipe != NULL) {
    nat__pipe *p = a->pipe;
    nat__pipe_counts(p, &a->pipe_sent, &a->pipe_received);
    a->pipe = NULL;
    nat__pipe_close(p, on_pipe_gone, a);
    return;
  }
  if (nat__agent_spray_teardown(a))
    return; /* its sockets and endpoint come back */
  if (nat__agent_portmap_teardown(a))
    return; /* the mapping is deleted, then NAT_PM_EV_CLOSED */
  if (a->rdv != NULL) {
    nat_rdv_client_close(a->rdv, on_rdv_closed, a);
    return;
  }
  if (a->ep != NULL) {
    nat_quic_endpoint_close(a->ep, on_ep_gone, a);
    return;
  }
  if (a->udp != NULL) {
    nat_udp_close(a->udp, on_udp_gone, a);
    return;
  }
  if (a->open_timers > 0)
    return; /* already closing */
  a->open_timers = 6;
  uv_close((uv_handle_t *)&a->pm_timer, on_timer_closed);
  uv_close((uv_handle_t *)&a->spray_timer, on_timer_closed);
  uv_close((uv_handle_t *)&a->progress_timer, on_timer_closed);
  uv_close((uv_handle_t *)&a->deadline, on_timer_closed);
  uv_close((uv_handle_t *)&a->gather_timer, on_timer_closed);
  uv_close((uv_handle_t *)&a->chk_timer, on_timer_closed);
}

void nat_agent_close(nat_agent *a) {
  if (a == NULL || a->closing)
    return;
  a->closing = true;
  a->finished = true;
  uv_timer_stop(&a->deadline);
  uv_timer_stop(&a->gather_timer);
  uv_timer_stop(&a->chk_timer);
  uv_timer_stop(&a->spray_timer);
  uv_timer_stop(&a->progress_timer);
  uv_timer_stop(&a->pm_timer);
  nat__agent_probes_close(a);
  nat__agent_teardown(a);
}
