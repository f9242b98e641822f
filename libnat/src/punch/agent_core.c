/* libnat -- the punch agent's sans-I/O core: our candidates from what the
 * servers and the allocation probes saw, the order of the peer's
 * candidates, the hold before our first check, the hole openers, and the
 * check run (nat_check, aggressive nomination) with the decisions on it:
 * which pair QUIC goes to. Pure: `now` and packets in; sends, deadlines
 * and nat_check events out.
 *
 * Timing (punch(1), "Timing"): checks use aggressive nomination; the
 * controlling peer starts QUIC on the first pair it commits to (the
 * peer's check came in on it: NAT_CHECK_EV_PAIR_NOMINATED) or selects
 * (its nominating check succeeded), whichever comes first. */
#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"
#include "punch/agent_core.h"

/* ------------------------------------------------------ our candidates */

void nat__punch_core_init(nat__punch_core *c, bool ticket_mode,
                          bool allow_loopback) {
  memset(c, 0, sizeof *c);
  c->ticket_mode = ticket_mode;
  c->allow_loopback = allow_loopback;
  c->local_mapping = c->remote_mapping = -1;
  c->force_controlling = -1;
}

void nat__punch_add_local(nat__punch_core *c, const nat_cand *cand) {
  for (size_t i = 0; i < c->mine.ncands; i++)
    if (nat_addr_equal(&c->mine.cands[i].addr, &cand->addr))
      return;
  (void)nat_ticket_add_cand(&c->mine, cand);
}

void nat__punch_add_srflx(nat__punch_core *c, const nat_addr *mapped,
                          const nat_addr *server) {
  nat_cand cand;
  if (nat_cand_make_srflx(&cand, mapped, &c->local, server) == 0)
    nat__punch_add_local(c, &cand);
}

void nat__punch_add_hosts(nat__punch_core *c, const nat_cand *hosts, size_t n) {
  /* room is left for two srflx, a mapped and the predicted candidates */
  for (size_t i = 0;
       i < n && c->mine.ncands < NAT_TICKET_MAX_CANDS - 3 - NAT__PUNCH_PREDICT;
       i++)
    if (hosts[i].addr.family == c->local.family)
      nat__punch_add_local(c, &hosts[i]);
}

void nat__punch_guess_mapping(nat__punch_core *c, const nat_addr *rdv,
                              const nat_addr *stun) {
  uint8_t beh, b2, b3;
  if (!c->has_seen || !c->has_stun_mapped)
    return;
  beh = nat_cand_mapping_of(rdv, &c->seen, stun, &c->stun_mapped);
  if (c->has_other_mapped && beh != NAT_BEH_APD) {
    b2 = nat_cand_mapping_of(rdv, &c->seen, &c->other_dst, &c->other_mapped);
    b3 = nat_cand_mapping_of(stun, &c->stun_mapped, &c->other_dst,
                             &c->other_mapped);
    if (b2 == NAT_BEH_APD || b3 == NAT_BEH_APD)
      beh = NAT_BEH_APD;
    else if (b2 == NAT_BEH_AD || b3 == NAT_BEH_AD)
      beh = NAT_BEH_AD;
  }
  if (beh != NAT_BEH_UNKNOWN)
    c->local_mapping = beh;
}

/* Predicted candidates (nat_cand_predict): from the answered probes whose
 * public IP is SEEN's, counted from the latest of their ports and our
 * socket's own mappings. */
void nat__punch_predict(nat__punch_core *c) {
  nat_port_sample smp[NAT__PUNCH_PROBES];
  nat_addr mapped[3];
  nat_cand pc[NAT__PUNCH_PREDICT];
  nat_cand_predict_in in;
  size_t n = 0, room = NAT_TICKET_MAX_CANDS - c->mine.ncands;
  if (c->nprobes == 0 || !c->has_seen || room == 0)
    return;
  memset(&in, 0, sizeof in);
  for (unsigned i = 0; i < c->nprobes; i++) {
    const nat__punch_probe *p = &c->probes[i];
    if (!p->answered || !nat_addr_equal_ip(&p->mapped, &c->seen))
      continue;
    smp[in.nsamples].local_port = p->local_port;
    smp[in.nsamples].mapped_port = p->mapped.port;
    smp[in.nsamples].at = p->sent_at;
    in.nsamples++;
  }
  mapped[in.nmapped++] = c->seen;
  if (c->has_stun_mapped)
    mapped[in.nmapped++] = c->stun_mapped;
  if (c->has_other_mapped)
    mapped[in.nmapped++] = c->other_mapped;
  in.samples = smp;
  in.mapped = mapped;
  in.mapping = c->local_mapping > 0 ? (uint8_t)c->local_mapping
                                    : (uint8_t)NAT_BEH_UNKNOWN;
  in.base = &c->local;
  in.count = (unsigned)(room < NAT__PUNCH_PREDICT ? room : NAT__PUNCH_PREDICT);
  if (nat_cand_predict(&in, &c->pred, pc, NAT__PUNCH_PREDICT, &n) != 0)
    return;
  c->predict_run = true;
  for (size_t i = 0; i < n; i++) {
    size_t before = c->mine.ncands;
    nat__punch_add_local(c, &pc[i]);
    c->npredicted += c->mine.ncands - before;
  }
}

/* In rendezvous mode the STUN Binding (from our socket) and the allocation
 * probes (fresh sockets, one Binding each to the rendezvous) start
 * together with the registration. The blob goes out when SEEN is in and
 * they have ended, but never later than this grace after SEEN: one HELLO
 * -> SEEN time (which covers their round trip), at least GATHER_GRACE_MIN
 * (a lost answer's first retransmission, the probes' 100 ms RTO, with
 * margin) and at most GATHER_GRACE_MAX. Unanswered probes are then
 * dropped and their sockets closed. */
#define GATHER_GRACE_MIN (150 * NAT_MILLISECONDS)
#define GATHER_GRACE_MAX (500 * NAT_MILLISECONDS)

nat_tstamp nat__punch_gather_grace(nat_tstamp seen_after) {
  nat_tstamp g = seen_after;
  if (g < GATHER_GRACE_MIN)
    g = GATHER_GRACE_MIN;
  if (g > GATHER_GRACE_MAX)
    g = GATHER_GRACE_MAX;
  return g;
}

/* ------------------------------------------------------ remote ordering */

bool nat__punch_on_subnet(const nat_iface *subnets, size_t n,
                          const nat_addr *a) {
  if (a->family != NAT_AF_INET)
    return false;
  for (size_t i = 0; i < n; i++) {
    const nat_iface *f = &subnets[i];
    uint32_t x = 0, y = 0, mask;
    if (f->addr.family != NAT_AF_INET || f->prefix == 0 || f->prefix > 32)
      continue;
    for (int k = 0; k < 4; k++) {
      x = x << 8 | a->ip[k];
      y = y << 8 | f->addr.ip[k];
    }
    mask = f->prefix == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> f->prefix);
    if ((x & mask) == (y & mask))
      return true;
  }
  return false;
}

/* true if the peer's public address (a server-reflexive candidate) is
 * ours: both peers behind one NAT, whose private addresses may reach
 * each other */
bool nat__punch_same_public_ip(const nat__punch_core *c) {
  for (size_t i = 0; i < c->peer.ncands; i++) {
    const nat_cand *p = &c->peer.cands[i];
    if (p->type != NAT_CAND_SRFLX)
      continue;
    if (c->has_seen && nat_addr_equal_ip(&c->seen, &p->addr))
      return true;
    for (size_t k = 0; k < c->mine.ncands; k++)
      if (c->mine.cands[k].type == NAT_CAND_SRFLX &&
          nat_addr_equal_ip(&c->mine.cands[k].addr, &p->addr))
        return true;
  }
  return false;
}

/* Aggressive nomination selects the first pair that works, so the order
 * of the checks is the preference. A peer's host (private) address is
 * usually unreachable from another network: its check would go first
 * (host type preference 126) and delay the srflx pair's by a pacing step.
 * So a remote host candidate gets type preference 0 (checked after every
 * other type) unless it may be reachable directly: it is on one of our
 * subnets, or the peer's public address is ours (one NAT in front of
 * both: the host pair beats a hairpinned srflx pair). Not in ticket mode:
 * there the peers start when people paste tickets, with no clock for the
 * hold, and the host check going first (to an unreachable address) gives
 * the peer's openers another pacing step before our srflx check reaches
 * its NAT (the lab's wrong-pin test failed every time without it). */
nat_cand nat__punch_remote_ordered(const nat__punch_core *c,
                                   const nat_cand *cand, bool same_nat) {
  nat_cand r = *cand;
  if (cand->type == NAT_CAND_HOST && !same_nat && !c->ticket_mode &&
      !nat__punch_on_subnet(c->subnets, c->nsubnets, &cand->addr))
    r.priority &= 0x00FFFFFFu; /* RFC 8445 5.1.2.1: type preference 0 */
  return r;
}

static void refuse(nat__punch_core *c, const nat_cand *cand, int why) {
  if (c->nrefused >= NAT__PUNCH_MAX_REFUSED)
    return;
  c->refused[c->nrefused] = *cand;
  c->refused_why[c->nrefused] = why;
  c->nrefused++;
}

static void add_remotes(nat__punch_core *c, nat_tstamp now) {
  bool same_nat = nat__punch_same_public_ip(c);
  nat_cand_policy pol;
  memset(&pol, 0, sizeof pol);
  pol.allow_loopback = c->allow_loopback;
  pol.subnets = c->subnets;
  pol.nsubnets = c->nsubnets;
  for (size_t i = 0; i < c->peer.ncands; i++) {
    const nat_cand *cand = &c->peer.cands[i];
    nat_cand ordered = nat__punch_remote_ordered(c, cand, same_nat);
    int why = nat_cand_validate_remote(&cand->addr, &pol);
    if (why == NAT_CAND_OK && cand->addr.family != c->local.family)
      why = NAT_CAND_REJECT_FAMILY;
    if (why != NAT_CAND_OK)
      refuse(c, cand, why);
    else
      (void)nat_check_add_remote(c->chk, now, &ordered); /* full: left out */
  }
}

/* ------------------------------------------------------------ the hold */

/* How long our checks wait after the openers. The rendezvous sends PEER
 * to both peers at once (docs/rendezvous.md), so the peer gets it about
 * (its one-way delay from the server) - (ours) after us, and sends its
 * openers then; our first check must reach its NAT at least CHECK_MARGIN
 * after that (scheduling on a loaded machine: with 20 ms, a lab run on a
 * loaded machine hit the NAT clash described at the hole openers below;
 * 50 ms is what every lab test has run with). Each peer sends its HELLO ->
 * SEEN time in its blob (" rtt=N", ms). With both, the skew is estimated
 * as 1.5 x (the peer's RTT - ours) / 2 (x 1.5 for asymmetric paths), and
 * our check's own flight to the peer's NAT as (our RTT + the peer's) / 2
 * (the way through the rendezvous, which a direct path can beat: hence the
 * floor): hold = CHECK_MARGIN + skew - flight, at least CHECK_HOLD_FLOOR.
 * Without the peer's figure (an older peer), one and a half of our own
 * RTT with the CHECK_MARGIN floor; ticket mode has no such clock (people
 * paste tickets, and each punch reads its peer's when it is scheduled):
 * CHECK_HOLD_TICKET, which covers that skew (with 50 ms, lab.punch.ticket
 * failed about 1 run in 8, both sides unanswered: the NAT clash). Capped
 * (a slow rendezvous must not delay the run much: the checks retransmit
 * anyway). A check that reaches the peer's NAT late costs nothing: the
 * peer's own check (sent after its hold) or its answer opens the path
 * anyway. */
#define CHECK_HOLD_FLOOR  (20 * NAT_MILLISECONDS)
#define CHECK_MARGIN      (50 * NAT_MILLISECONDS)
#define CHECK_HOLD_MAX    (500 * NAT_MILLISECONDS)
#define CHECK_HOLD_TICKET (250 * NAT_MILLISECONDS)

uint64_t nat__punch_check_hold_ms(bool ticket_mode, nat_tstamp rtt,
                                  nat_tstamp peer_rtt) {
  nat_tstamp h;
  if (ticket_mode)
    return CHECK_HOLD_TICKET / NAT_MILLISECONDS;
  if (rtt != 0 && peer_rtt != 0) {
    nat_tstamp d = peer_rtt > rtt ? (peer_rtt - rtt) / 2 : 0;
    nat_tstamp flight = (rtt + peer_rtt) / 2;
    h = CHECK_MARGIN + d + d / 2;
    h = h > flight + CHECK_HOLD_FLOOR ? h - flight : CHECK_HOLD_FLOOR;
  } else {
    h = rtt + rtt / 2;
    if (h < CHECK_MARGIN)
      h = CHECK_MARGIN;
  }
  if (h > CHECK_HOLD_MAX)
    h = CHECK_HOLD_MAX;
  return (h + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS;
}

/* -------------------------------------------------------- hole openers
 *
 * Opening our NAT's mapping towards the peer before the first check, with
 * datagrams that die before they reach the peer's NAT. Why: on Linux NATs
 * (nftables masquerade, port-restricted), a check that arrives at the
 * peer's NAT before the peer sent anything to us leaves an unreplied
 * conntrack entry there; the peer's own check then clashes with it and is
 * given another source port, which our NAT's filtering drops (measured in
 * natlab: both sides failed every time). So as soon as the peer's
 * candidates are known, both sides send one small datagram with TTL 2 to
 * each of the peer's public candidates: it passes our NAT (creating the
 * mapping the peer's checks will match) and expires at the next router.
 * Checks start after the hold, so the peer's openers are out before our
 * first check reaches its NAT.
 *
 * A host that is not behind a NAT (the rendezvous or the STUN server saw
 * one of its host addresses) sends none: it has no mapping to open, and
 * its opener would reach the peer's NAT with TTL 1 and be delivered there
 * (the NAT's own address), leaving exactly the entry we want to avoid. */

static bool is_host_ip(const nat__punch_core *c, const nat_addr *a) {
  for (size_t i = 0; i < c->mine.ncands; i++)
    if (c->mine.cands[i].type == NAT_CAND_HOST &&
        nat_addr_equal_ip(&c->mine.cands[i].addr, a))
      return true;
  return false;
}

size_t nat__punch_hole_targets(const nat__punch_core *c, nat_addr *out,
                               size_t max) {
  size_t n = 0;
  if ((c->has_seen && is_host_ip(c, &c->seen)) ||
      (c->has_stun_mapped && is_host_ip(c, &c->stun_mapped)))
    return 0;
  for (size_t i = 0; i < c->peer.ncands && n < max; i++) {
    const nat_cand *p = &c->peer.cands[i];
    if (p->type != NAT_CAND_HOST && p->addr.family == c->local.family)
      out[n++] = p->addr;
  }
  return n;
}

/* ----------------------------------------------------------- the checks */

static void core_fail(nat__punch_core *c, nat_tstamp now, int hint) {
  nat_check_event ev;
  if (c->failed)
    return;
  c->failed = true;
  memset(&ev, 0, sizeof ev);
  ev.type = NAT_CHECK_EV_FAILED;
  ev.at = now;
  ev.controlling = c->controlling;
  ev.hint = hint;
  if (c->cb != NULL)
    c->cb(c->cb_arg, &ev);
}

static void on_check(void *arg, const nat_check_event *ev) {
  nat__punch_core *c = arg;
  switch (ev->type) {
  case NAT_CHECK_EV_PAIR_SUCCEEDED:
    if (c->t_first_ok == 0)
      c->t_first_ok = ev->at;
    break;
  case NAT_CHECK_EV_PAIR_NOMINATED:
    /* the controlling peer's QUIC goes there once the nominating check it
     * queued has been sent: nat__punch_quic_target() */
    c->committed = true;
    c->commit = *ev->info;
    c->controlling = ev->controlling;
    break;
  case NAT_CHECK_EV_SELECTED:
    c->selected = true;
    c->sel = *ev->info;
    c->controlling = ev->controlling;
    c->t_selected = ev->at;
    break;
  default:
    break;
  }
  if (c->cb != NULL)
    c->cb(c->cb_arg, ev);
}

bool nat__punch_has_mapped(const nat_ticket *t) {
  for (size_t i = 0; i < t->ncands; i++)
    if (t->cands[i].type == NAT_CAND_MAPPED)
      return true;
  return false;
}

/* A side whose gateway forwards a mapped port to it while its NAT does
 * not map independently of the destination (or may not: unknown) waits
 * for the peer's checks (nat_check_config.passive) and opens no holes:
 * an outbound packet of its own towards the peer would make its NAT map
 * the socket afresh, and the peer's packets to the mapped port would
 * clash with that entry. When both sides are such, the controlling one
 * stays active (the other's mapped port takes its checks). */
static bool passive_side(const nat__punch_core *c, bool controlling) {
  bool peer_too;
  if (!c->has_mapped || c->local_mapping == NAT_BEH_EI)
    return false;
  peer_too = nat__punch_has_mapped(&c->peer) && c->remote_mapping != NAT_BEH_EI;
  return !(peer_too && controlling);
}

int nat__punch_checks_start(nat__punch_core *c, nat_tstamp now,
                            nat_tstamp deadline, nat_rand_fn rand,
                            nat_check_cb cb, void *arg) {
  nat_check_config cfg;
  int rc;
  memset(&cfg, 0, sizeof cfg);
  if ((rc = nat_check_config_from_tickets(&cfg, &c->mine, &c->peer)) != 0)
    return rc;
  cfg.timeout = deadline > now + 400 * NAT_MILLISECONDS
                    ? deadline - now - 300 * NAT_MILLISECONDS
                    : 100 * NAT_MILLISECONDS;
  cfg.local_mapping = c->local_mapping; /* nat_beh values, or -1 */
  cfg.remote_mapping = c->remote_mapping;
  cfg.policy.allow_loopback = c->allow_loopback;
  cfg.policy.subnets = c->subnets;
  cfg.policy.nsubnets = c->nsubnets;
  cfg.rand = rand;
  cfg.aggressive = true; /* the first pair that works: punch(1), Timing */
  if (c->force_controlling >= 0) /* the birthday plan's roles */
    cfg.controlling = c->force_controlling == 1;
  c->passive = cfg.passive = passive_side(c, cfg.controlling);
  if ((rc = nat_check_new(&c->chk, &cfg, on_check, c)) != 0) {
    c->chk = NULL;
    return rc;
  }
  c->cb = cb;
  c->cb_arg = arg;
  c->controlling = cfg.controlling;
  for (size_t i = 0; i < c->mine.ncands; i++)
    (void)nat_check_add_local(c->chk, &c->mine.cands[i]);
  add_remotes(c, now);
  c->nholes = c->passive
                  ? 0
                  : nat__punch_hole_targets(c, c->holes, NAT_TICKET_MAX_CANDS);
  /* Our own checks start after the hold, so that the peer (which got the
   * blobs at about the same time) has opened its NAT before our first
   * check reaches it. The peer's checks are answered meanwhile (and
   * learned as peer-reflexive pairs when they come from an unexpected
   * port: check.c). */
  c->start_at = now + nat__punch_check_hold_ms(c->ticket_mode, c->rdv_rtt,
                                               c->peer_rdv_rtt) *
                          NAT_MILLISECONDS;
  return 0;
}

ssize_t nat__punch_next_send(nat__punch_core *c, nat_tstamp now, uint8_t *buf,
                             size_t cap, nat_addr *dst, int *ttl) {
  ssize_t n;
  if (c->chk == NULL || cap == 0)
    return 0;
  if (c->hole_next < c->nholes) {
    *dst = c->holes[c->hole_next++];
    *ttl = NAT__PUNCH_HOLE_TTL;
    buf[0] = 0;
    return 1;
  }
  *ttl = 0;
  n = nat_check_next_send(c->chk, now, buf, cap, dst);
  /* a birthday acceptor's own checks (requests: class bits 0) die before
   * the dialer's NAT, as its keepalives do (spray.h): one that arrived
   * there first would make the dialer's Linux NAT map the dialer's later
   * packets to another port (it reuses the newest mapping of a source),
   * and every probe after it would miss (measured: 1 run in about 250) */
  if (n > 0 && c->short_ttl_checks && (buf[0] & 0x01) == 0 &&
      (buf[1] & 0x10) == 0)
    *ttl = NAT__PUNCH_HOLE_TTL;
  return n;
}

void nat__punch_hole_sent(nat__punch_core *c) {
  c->holes_opened++;
}

nat_tstamp nat__punch_get_expiry(const nat__punch_core *c) {
  nat_tstamp e;
  if (c->chk == NULL || c->failed)
    return NAT_TSTAMP_MAX;
  e = nat_check_get_expiry(c->chk);
  return !c->started && c->start_at < e ? c->start_at : e;
}

/* Our checks start when the hold is over; a run without a pair fails
 * then (NAT_CHECK_HINT_NO_PAIRS). */
void nat__punch_handle_expiry(nat__punch_core *c, nat_tstamp now) {
  if (c->chk == NULL || c->failed)
    return;
  if (!c->started && now >= c->start_at) {
    c->started = true;
    if (nat_check_start(c->chk, now) != 0) {
      core_fail(c, now, NAT_CHECK_HINT_NONE);
      return;
    }
    nat_check_handle_expiry(c->chk, now);
    if (nat_check_pair_count(c->chk) == 0)
      core_fail(c, now, NAT_CHECK_HINT_NO_PAIRS);
    return;
  }
  nat_check_handle_expiry(c->chk, now);
}

void nat__punch_recv(nat__punch_core *c, nat_tstamp now, const nat_addr *from,
                     const nat_stun_msg *msg) {
  if (c->chk != NULL && msg != NULL)
    (void)nat_check_recv_msg(c->chk, now, from, msg);
}

bool nat__punch_quic_target(const nat__punch_core *c, nat_addr *to) {
  if (c->selected)
    *to = c->sel.remote.addr;
  else if (c->committed)
    *to = c->commit.remote.addr;
  else
    return false;
  return true;
}

/* The controlled side may accept the handshake before its own check on the
 * nominated pair has succeeded (it selects only then), and the
 * controlling side may confirm it before its nominating check's answer
 * (QUIC starts on the committed pair): the handshake, pinned both ways,
 * proved that path. Report the pair whose remote address is the
 * connection's: the path QUIC runs on is the one reported, also in the
 * rare case where aggressive nomination let the controlled agent select
 * another nominated pair (check.h). */
void nat__punch_select_by_remote(nat__punch_core *c, const nat_addr *remote,
                                 nat_tstamp now) {
  size_t n = c->chk != NULL ? nat_check_pair_count(c->chk) : 0;
  if (c->selected && nat_addr_equal(&c->sel.remote.addr, remote))
    return;
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_check_pair_get(c->chk, i, &p) == 0 &&
        nat_addr_equal(&p.remote.addr, remote)) {
      c->sel = p;
      if (!c->selected)
        c->t_selected = now;
      c->selected = true;
      return;
    }
  }
}

void nat__punch_core_free(nat__punch_core *c) {
  if (c->chk != NULL)
    nat_check_free(c->chk);
  c->chk = NULL;
}
