/* Double NAT and carrier-grade NAT (nat/verdict.h, "Double NAT"): the
 * log's rules (nat_verdict_compute) and the whole evidence, with the hop
 * list (nat/hops.h) and the gateway's external addresses
 * (nat_verdict_double_nat). Pure: no I/O, no clock. */
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "verdict_internal.h"

static const char *fip(const nat_addr *a, nat__addrbuf b) {
  return nat_addr_format_ip(a, b, NAT_ADDR_STRLEN);
}

static bool is_public(const nat_addr *a) {
  return nat_addr_space_of(a) == NAT_SPACE_PUBLIC;
}

static bool non_public(const nat_addr *a) {
  return nat_addr_is_private(a) || nat_addr_is_shared(a);
}

/* ------------------------------------------------------- the log's rules
 */

nat_tri nat__double_nat(const nat_obslog *log, nat__why *why, nat__why *reason,
                        nat_tri *carrier) {
  const nat_obs *pub = NULL, *any = NULL;
  size_t i, n = nat_obslog_count(log);
  nat__addrbuf b0, b1, b2;
  *carrier = NAT_TRI_UNKNOWN;
  for (i = 0; i < n; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (nat_addr_is_shared(&o->local)) {
      nat__why_set(reason,
                   "local address %s is in 100.64.0.0/10 (carrier NAT shared "
                   "space)",
                   fip(&o->local, b0));
      nat__why_set(why, "double NAT: %s -> yes", reason->line);
      *carrier = NAT_TRI_YES;
      return NAT_TRI_YES;
    }
    if (!nat__answered_mapped(o))
      continue;
    if (non_public(&o->mapped) && !nat_addr_equal_ip(&o->mapped, &o->local)) {
      nat__why_set(reason,
                   "%s saw local %s as non-public %s, so a further NAT leads "
                   "out",
                   nat__addr_text(&o->server, b0), fip(&o->local, b1),
                   fip(&o->mapped, b2));
      nat__why_set(why, "double NAT: %s -> yes", reason->line);
      if (nat_addr_is_shared(&o->mapped))
        *carrier = NAT_TRI_YES;
      return NAT_TRI_YES;
    }
    if (any == NULL)
      any = o;
    if (pub == NULL && is_public(&o->local) &&
        nat_addr_equal_ip(&o->mapped, &o->local))
      pub = o;
  }
  if (pub != NULL) {
    nat__why_set(reason, "the host holds its public address %s",
                 fip(&pub->local, b0));
    nat__why_set(why, "double NAT: %s -> no", reason->line);
    *carrier = NAT_TRI_NO;
    return NAT_TRI_NO;
  }
  if (any != NULL) {
    nat__why_set(reason,
                 "cannot tell (local %s appears as public %s; a second NAT "
                 "behind a public address does not show in STUN)",
                 fip(&any->local, b0), fip(&any->mapped, b1));
    nat__why_set(why, "double NAT: %s", reason->line);
  } else {
    nat__why_set(reason, "no mapped address");
    nat__why_set(why, "double NAT: %s -> unknown", reason->line);
  }
  return NAT_TRI_UNKNOWN;
}

/* ------------------------------------------------------ all the evidence
 */

typedef struct dn_state {
  nat_tri verdict, carrier;
  nat__why reason;
} dn_state;

static const char *via(const nat_gateway_addr *g) {
  return g->via != NULL ? g->via : "the gateway";
}

/* A public IP of @p family that STUN saw (the first), and whether @p ip
 * is among them. */
static bool stun_saw(const nat_verdict *v, const nat_addr *ip,
                     const nat_addr **first) {
  size_t i;
  *first = NULL;
  for (i = 0; i < v->basic.nservers; i++) {
    const nat_server_verdict *s = &v->basic.servers[i];
    if (!s->has_mapped || s->mapped.family != ip->family)
      continue;
    if (*first == NULL)
      *first = &s->mapped;
    if (nat_addr_equal_ip(&s->mapped, ip))
      return true;
  }
  return false;
}

/* Rules 2, 3 and the match of rule 5 (the gateway that would prove NO
 * goes to *match). */
static bool gateway_rules(dn_state *st, const nat_verdict *v,
                          const nat_gateway_addr *gw, size_t ngw,
                          const nat_gateway_addr **match) {
  nat__addrbuf b0, b1;
  size_t i;
  *match = NULL;
  for (i = 0; i < ngw; i++) {
    const nat_addr *e = &gw[i].external, *seen;
    if (nat_addr_is_shared(e) || nat_addr_is_private(e)) {
      bool shared = nat_addr_is_shared(e);
      nat__why_set(&st->reason,
                   "the gateway's external address %s (by %s) is in %s: "
                   "%s",
                   fip(e, b0), via(&gw[i]),
                   shared ? "the shared address space of RFC 6598"
                          : "private space (RFC 1918)",
                   shared ? "carrier-grade NAT"
                          : "another NAT leads out of the gateway's network");
      st->verdict = NAT_TRI_YES;
      st->carrier = shared ? NAT_TRI_YES : NAT_TRI_UNKNOWN;
      return true;
    }
    if (!is_public(e))
      continue;
    if (stun_saw(v, e, &seen)) {
      if (*match == NULL)
        *match = &gw[i];
    } else if (seen != NULL) {
      nat__why_set(&st->reason,
                   "the gateway's external address %s (by %s) is not the "
                   "public address %s STUN saw: another NAT beyond the "
                   "gateway",
                   fip(e, b0), via(&gw[i]), fip(seen, b1));
      st->verdict = NAT_TRI_YES;
      return true;
    }
  }
  return false;
}

/* The first hop beyond the first (below the TTL that reached the server)
 * that answered from private or shared space, shared ones first. */
static const nat_hop *inner_hop(const nat_hop_list *h) {
  const nat_hop *priv = NULL;
  size_t i;
  for (i = 1; i < h->n && i < NAT_HOPS_MAX; i++) {
    const nat_hop *hp = &h->hop[i];
    if (hp->kind != NAT_HOP_TIME_EXCEEDED && hp->kind != NAT_HOP_UNREACHABLE)
      continue;
    if (hp->space == NAT_SPACE_SHARED)
      return hp;
    if (hp->space == NAT_SPACE_PRIVATE && priv == NULL)
      priv = hp;
  }
  return priv;
}

static bool ran(const nat_hop_list *h) {
  return h != NULL && h->target.family != NAT_AF_NONE;
}

/* Rules 4 and 7. */
static bool hop_rules(dn_state *st, const nat_hop_list *h) {
  const nat_hop *hp = ran(h) ? inner_hop(h) : NULL;
  nat__addrbuf b0;
  if (hp == NULL)
    return false;
  if (hp->space == NAT_SPACE_SHARED)
    nat__why_set(&st->reason,
                 "hop %u %s is in the shared address space of RFC 6598: "
                 "carrier-grade NAT",
                 hp->ttl, fip(&hp->addr, b0));
  else
    nat__why_set(&st->reason,
                 "hop %u %s is in private space (RFC 1918) beyond the first "
                 "hop: a second private network, so a second NAT",
                 hp->ttl, fip(&hp->addr, b0));
  st->verdict = NAT_TRI_YES;
  st->carrier = hp->space == NAT_SPACE_SHARED ? NAT_TRI_YES : NAT_TRI_UNKNOWN;
  return true;
}

/* Rule 5: its reason names a private-space hop the gateway explains. */
static void gateway_no(dn_state *st, const nat_gateway_addr *g,
                       const nat_hop_list *h) {
  const nat_hop *hp = ran(h) ? inner_hop(h) : NULL;
  nat__addrbuf b0, b1;
  char tail[NAT_EXPLAIN_LEN] = "";
  if (hp != NULL)
    snprintf(tail, sizeof tail,
             " (hop %u %s in %s space is a router so "
             "numbered, not a NAT)",
             hp->ttl, fip(&hp->addr, b1), nat_addr_space_name(hp->space));
  nat__why_set(&st->reason,
               "the gateway's external address %s (by %s) is the public "
               "address STUN saw: the gateway is the only NAT%s",
               fip(&g->external, b0), via(g), tail);
  st->verdict = NAT_TRI_NO;
}

/* The hop probe saw what lies beyond the first router: hop 2 answered,
 * or the server did at TTL 2. Rule 5 needs it: without it nothing shows
 * that no carrier NAT follows a gateway whose address came from STUN. */
static bool hop2_seen(const nat_hop_list *h) {
  if (!ran(h))
    return false;
  if (h->reached_ttl == 2)
    return true;
  return h->n >= 2 && (h->hop[1].kind == NAT_HOP_TIME_EXCEEDED ||
                       h->hop[1].kind == NAT_HOP_UNREACHABLE);
}

static void hops_text(const nat_hop_list *h, char *buf, size_t len);

/* Rule 6: the server answered at TTL 2: one router lies between the host
 * and the server, and the NAT the server saw is that router. */
static bool one_router(dn_state *st, const nat_hop_list *h) {
  nat__addrbuf b0;
  if (!ran(h) || h->reached_ttl != 2)
    return false;
  if (h->n >= 1 && h->hop[0].kind == NAT_HOP_TIME_EXCEEDED)
    nat__why_set(&st->reason,
                 "the server answered at TTL 2: hop 1 %s is the only router "
                 "between the host and the server, so the only NAT",
                 fip(&h->hop[0].addr, b0));
  else
    nat__why_set(&st->reason,
                 "the server answered at TTL 2: one router between the host "
                 "and the server, so the only NAT");
  st->verdict = NAT_TRI_NO;
  if (h->n >= 1 && h->hop[0].space == NAT_SPACE_SHARED)
    st->carrier = NAT_TRI_YES; /* that one NAT is a carrier's */
  return true;
}

/* Rule 5 without the hops to back it: unknown, and why. */
static void unconfirmed(dn_state *st, const nat_gateway_addr *g,
                        const nat_hop_list *h) {
  char hops[NAT_EXPLAIN_LEN];
  nat__addrbuf b0;
  hops_text(h, hops, sizeof hops);
  nat__why_set(&st->reason,
               "cannot tell: the gateway's external address %s (by %s) is "
               "the public address STUN saw, but a gateway behind a carrier "
               "NAT can report that address too (learned by STUN); %s",
               fip(&g->external, b0), via(g), hops);
  st->verdict = NAT_TRI_UNKNOWN;
}

/* What the hops showed, for an unknown verdict. */
static void hops_text(const nat_hop_list *h, char *buf, size_t len) {
  size_t i, answered = 0;
  nat__addrbuf b0;
  if (!ran(h)) {
    snprintf(buf, len, "no hop probe");
    return;
  }
  for (i = 0; i < h->n && i < NAT_HOPS_MAX; i++)
    answered += h->hop[i].kind != NAT_HOP_SILENT;
  if (h->reached_ttl == 1)
    snprintf(buf, len, "the server answered at TTL 1 (no router between)");
  else if (answered == 0)
    snprintf(buf, len, "no hop answered the hop probe (%u TTLs)", h->max_ttl);
  else if (h->hop[0].kind == NAT_HOP_SILENT)
    snprintf(buf, len,
             "no hop beyond the first is in private or shared "
             "space, hop 1 silent");
  else
    snprintf(buf, len,
             "no hop beyond hop 1 %s is in private or shared space%s (a NAT "
             "numbered in public space would look the same)",
             fip(&h->hop[0].addr, b0),
             h->reached_ttl != 0 ? "" : ", the server not reached");
}

static void unknown_reason(dn_state *st, const nat_hop_list *h,
                           const nat_gateway_addr *gw, size_t ngw) {
  char hops[NAT_EXPLAIN_LEN];
  hops_text(h, hops, sizeof hops);
  nat__why_set(&st->reason, "cannot tell: %s; %s", hops,
               gw == NULL ? "no port-mapping probe"
               : ngw > 0  ? "no gateway gave a usable external address"
                          : "no gateway answered port mapping");
}

/* Put the explanation line for the verdict in place of the log's. */
static void explain_line(nat_verdict *v) {
  const char *arrow = v->double_nat == NAT_TRI_YES  ? " -> yes"
                      : v->double_nat == NAT_TRI_NO ? " -> no"
                                                    : " -> unknown";
  size_t i;
  for (i = 0; i < v->nexplain; i++)
    if (strncmp(v->explain[i], "double NAT:", 11) == 0)
      break;
  if (i == v->nexplain) {
    if (v->nexplain >= NAT_EXPLAIN_MAX)
      return;
    v->nexplain++;
  }
  snprintf(v->explain[i], NAT_EXPLAIN_LEN, "double NAT: %.200s%s",
           v->double_nat_reason, arrow);
}

/* Carrier NAT seen anywhere (hop 1 included) when nothing else set it. */
static void carrier_from_hops(dn_state *st, const nat_hop_list *h) {
  size_t i;
  if (st->carrier != NAT_TRI_UNKNOWN || st->verdict == NAT_TRI_NO || !ran(h))
    return;
  for (i = 0; i < h->n && i < NAT_HOPS_MAX; i++)
    if ((h->hop[i].kind == NAT_HOP_TIME_EXCEEDED ||
         h->hop[i].kind == NAT_HOP_UNREACHABLE) &&
        h->hop[i].space == NAT_SPACE_SHARED)
      st->carrier = NAT_TRI_YES;
}

int nat_verdict_double_nat(nat_verdict *v, const nat_obslog *log,
                           const nat_hop_list *hops, const nat_gateway_addr *gw,
                           size_t ngw) {
  static const nat_obslog empty;
  const nat_gateway_addr *match = NULL;
  dn_state st;
  nat__why why;
  if (v == NULL || (gw == NULL && ngw > 0))
    return NAT_EINVAL;
  memset(&st, 0, sizeof st);
  st.verdict = nat__double_nat(log != NULL ? log : &empty, &why, &st.reason,
                               &st.carrier);
  if (st.verdict == NAT_TRI_UNKNOWN &&
      !gateway_rules(&st, v, gw, ngw, &match)) {
    const nat_hop *hp = ran(hops) ? inner_hop(hops) : NULL;
    /* a shared-space hop beyond the first outweighs a gateway whose
     * external address equals STUN's: a gateway may have learned that
     * address by STUN itself (miniupnpd behind a carrier NAT reports the
     * CGN's public address: natlab cgn-upnp) */
    if (hp != NULL && hp->space == NAT_SPACE_SHARED)
      (void)hop_rules(&st, hops);
    else if (match != NULL && hop2_seen(hops))
      gateway_no(&st, match, hops);
    else if (match != NULL)
      unconfirmed(&st, match, hops);
    else if (!hop_rules(&st, hops) && !one_router(&st, hops))
      unknown_reason(&st, hops, gw, ngw);
  }
  carrier_from_hops(&st, hops);
  v->double_nat = st.verdict;
  v->carrier_nat = st.carrier;
  memcpy(v->double_nat_reason, st.reason.line, sizeof v->double_nat_reason);
  explain_line(v);
  return 0;
}
