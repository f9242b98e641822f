/* libnat -- a NAT's behaviour as a pure function (RFC 4787): configuration,
 * the outbound, inbound and hairpin packet paths, filtering, statistics.
 * Tables and expiry are in natbox_map.c, port allocation in
 * natbox_alloc.c. */
#include <stdlib.h>
#include <string.h>

#include "base/ipv4.h"
#include "natbox_internal.h"

#include "nat/error.h"
#include "nat/natbox.h"

#define NIL NAT__NB_NIL

/* What the packet path needs from a parsed IPv4/UDP datagram. */
typedef struct pkt_view {
  uint8_t *p;
  size_t ihl;
  uint32_t sip, dip;
  uint16_t sport, dport;
} pkt_view;

/* Validate an IPv4 datagram carrying a whole UDP datagram.
 * @return 0 or a drop verdict (malformed, fragment, protocol). */
static int parse(uint8_t *p, size_t len, pkt_view *k) {
  if (!p || len < NAT__IP_HDR_MIN || p[0] >> 4 != 4)
    return NAT_BOX_DROP_MALFORMED;
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  size_t tot = nat__ip_rd16(p + 2);
  if (ihl < NAT__IP_HDR_MIN || tot < ihl || tot > len ||
      nat__ip_checksum(p, ihl) != 0)
    return NAT_BOX_DROP_MALFORMED;
  if (nat__ip_rd16(p + 6) & NAT__IP_FRAG_MASK)
    return NAT_BOX_DROP_FRAGMENT;
  if (p[9] != NAT__IP_PROTO_UDP)
    return NAT_BOX_DROP_PROTOCOL;
  if (tot - ihl < NAT__UDP_HDR)
    return NAT_BOX_DROP_MALFORMED;
  size_t ulen = nat__ip_rd16(p + ihl + 4);
  if (ulen < NAT__UDP_HDR || ulen > tot - ihl)
    return NAT_BOX_DROP_MALFORMED;
  k->p = p;
  k->ihl = ihl;
  k->sip = nat__ip_rd32(p + NAT__IP_OFF_SRC);
  k->dip = nat__ip_rd32(p + NAT__IP_OFF_DST);
  k->sport = nat__ip_rd16(p + ihl);
  k->dport = nat__ip_rd16(p + ihl + 2);
  return 0;
}

/* Rewrite the source (dst false) or destination address and port, updating
 * the IP header checksum and, unless it is 0 ("none"), the UDP checksum. */
static void rewrite(pkt_view *k, bool dst, uint32_t ip, uint16_t port) {
  uint8_t *p = k->p;
  uint8_t *ipf = p + (dst ? NAT__IP_OFF_DST : NAT__IP_OFF_SRC);
  uint8_t *ptf = p + k->ihl + (dst ? 2 : 0);
  uint8_t *uck = p + k->ihl + 6;
  uint32_t oip = nat__ip_rd32(ipf);
  uint16_t oport = nat__ip_rd16(ptf);
  nat__ip_wr32(ipf, ip);
  nat__ip_wr16(ptf, port);
  nat__ip_wr16(p + NAT__IP_OFF_CSUM,
               nat__ip_csum_upd32(nat__ip_rd16(p + NAT__IP_OFF_CSUM), oip, ip));
  uint16_t uc = nat__ip_rd16(uck);
  if (uc != 0) {
    uc = nat__ip_csum_upd16(nat__ip_csum_upd32(uc, oip, ip), oport, port);
    nat__ip_wr16(uck, uc ? uc : 0xffff); /* RFC 768: 0 is sent as ~0 */
  }
  if (dst) {
    k->dip = ip;
    k->dport = port;
  } else {
    k->sip = ip;
    k->sport = port;
  }
}

static int public_index(const nat_box *b, uint32_t ip) {
  for (unsigned i = 0; i < b->cfg.npublic; i++)
    if (b->cfg.public_ip[i] == ip)
      return (int)i;
  return -1;
}

static int drop(nat_box *b, int verdict) {
  b->st.drops[-verdict - 1]++;
  return verdict;
}

static void advance(nat_box *b, nat_tstamp now) {
  if (now > b->now)
    b->now = now;
  nat__nb_expire(b);
}

/* Does mapping @p mi's filter admit a packet from rip:rport? (RFC 4787
 * section 5.) When filtering is no stricter than mapping, the mapping's
 * own key decides; otherwise its permits do (*pi: the permit used). */
static bool filter_pass(const nat_box *b, uint32_t mi, uint32_t rip,
                        uint16_t rport, uint32_t *pi) {
  const nat__nb_map *m = &b->maps[mi];
  switch (b->cfg.filtering) {
  case NAT_BEH_EI:
    return true;
  case NAT_BEH_AD:
    if (!b->need_permits)
      return m->key_dip == rip;
    *pi = nat__nb_permit_find(b, mi, rip, 0);
    return *pi != NIL;
  default:
    if (!b->need_permits)
      return m->key_dip == rip && m->key_dport == rport;
    *pi = nat__nb_permit_find(b, mi, rip, rport);
    return *pi != NIL;
  }
}

/* Hand a packet from rip:rport to public IP @p eidx, port k->dport, over
 * to the internal endpoint its mapping names (inbound and hairpin). With
 * overloading the full remote endpoint picks the mapping, so a remote that
 * matches none is filtered. @return NAT_BOX_TO_LAN or a drop verdict. */
static int deliver(nat_box *b, pkt_view *k, unsigned eidx, uint32_t rip,
                   uint16_t rport) {
  uint32_t mi, pi = NIL;
  if (b->overload) {
    mi = nat__nb_ext_find(b, eidx, k->dport, rip, rport);
    if (mi == NIL) {
      bool used = k->dport >= b->cfg.port_min && k->dport <= b->cfg.port_max &&
                  b->inuse[eidx][k->dport - b->cfg.port_min] != 0;
      return used ? NAT_BOX_DROP_FILTERED : NAT_BOX_DROP_NO_MAPPING;
    }
  } else {
    mi = nat__nb_ext_find(b, eidx, k->dport, 0, 0);
    if (mi == NIL)
      return NAT_BOX_DROP_NO_MAPPING;
    if (!filter_pass(b, mi, rip, rport, &pi))
      return NAT_BOX_DROP_FILTERED;
  }
  if (b->cfg.inbound_refresh) {
    nat__nb_map_touch(b, mi);
    if (pi != NIL)
      nat__nb_permit_touch(b, pi);
  }
  rewrite(k, true, b->maps[mi].int_ip, b->maps[mi].int_port);
  return NAT_BOX_TO_LAN;
}

/* Find or create the mapping for an outbound packet, refresh it and note
 * the destination for filtering. @return 0 (*out set) or a drop verdict. */
static int outbound_mapping(nat_box *b, const pkt_view *k, uint32_t *out) {
  uint32_t kdip = b->cfg.mapping != NAT_BEH_EI ? k->dip : 0;
  uint16_t kdport = b->cfg.mapping == NAT_BEH_APD ? k->dport : 0;
  uint32_t mi = nat__nb_map_find(b, k->sip, k->sport, kdip, kdport);
  if (mi == NIL) {
    int rv = nat__nb_map_create(b, k->sip, k->sport, kdip, kdport, &mi);
    if (rv != 0)
      return rv;
  } else {
    nat__nb_map_touch(b, mi);
  }
  if (b->need_permits)
    nat__nb_permit_note(b, mi, k->dip,
                        b->cfg.filtering == NAT_BEH_APD ? k->dport
                                                        : (uint16_t)0);
  *out = mi;
  return 0;
}

int nat_box_outbound(nat_box *b, nat_tstamp now, uint8_t *pkt, size_t len) {
  pkt_view k;
  uint32_t mi;
  if (!b)
    return NAT_BOX_DROP_MALFORMED;
  advance(b, now);
  int v = parse(pkt, len, &k);
  if (v != 0)
    return drop(b, v);
  int hp = public_index(b, k.dip);
  if (hp >= 0 && !b->cfg.hairpin)
    return drop(b, NAT_BOX_DROP_HAIRPIN);
  v = outbound_mapping(b, &k, &mi);
  if (v != 0)
    return drop(b, v);
  uint32_t eip = b->maps[mi].ext_ip;
  uint16_t eport = b->maps[mi].ext_port;
  rewrite(&k, false, eip, eport);
  if (hp < 0) {
    b->st.packets_out++;
    return NAT_BOX_TO_WAN;
  }
  /* RFC 4787 REQ-9: the target sees the sender's external endpoint. */
  v = deliver(b, &k, (unsigned)hp, eip, eport);
  if (v != NAT_BOX_TO_LAN)
    return drop(b, v);
  b->st.hairpinned++;
  return NAT_BOX_TO_LAN;
}

/* An inbound ICMP error (destination unreachable, time exceeded) about a
 * datagram a mapping sent (RFC 5508 section 7): the quoted datagram's
 * source is the mapping's external endpoint and its destination a remote
 * the filter admits. The outer destination and the quoted source go back
 * to the internal endpoint; the outer IP, quoted IP, quoted UDP (when not
 * 0) and ICMP checksums are updated. The error refreshes nothing. Other
 * ICMP is NAT_BOX_DROP_PROTOCOL. @return NAT_BOX_TO_LAN or a drop. */
static int icmp_error_in(nat_box *b, uint8_t *p) {
  size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot = nat__ip_rd16(p + 2);
  uint8_t *ic = p + ihl, *q = ic + 8;
  if (tot - ihl < 8 || (ic[0] != 3 && ic[0] != 11))
    return NAT_BOX_DROP_PROTOCOL;
  if (tot - ihl < 8 + NAT__IP_HDR_MIN)
    return NAT_BOX_DROP_MALFORMED;
  size_t qhl = (size_t)(q[0] & 0x0f) * 4;
  if (q[0] >> 4 != 4 || qhl < NAT__IP_HDR_MIN ||
      tot - ihl < 8 + qhl + NAT__UDP_HDR || q[9] != NAT__IP_PROTO_UDP ||
      nat__ip_checksum(ic, tot - ihl) != 0)
    return NAT_BOX_DROP_MALFORMED;
  int ei = public_index(b, nat__ip_rd32(p + NAT__IP_OFF_DST));
  uint32_t qsip = nat__ip_rd32(q + NAT__IP_OFF_SRC);
  if (ei < 0 || public_index(b, qsip) != ei)
    return NAT_BOX_DROP_NOT_OURS;
  pkt_view k = {q,
                qhl,
                qsip,
                nat__ip_rd32(q + NAT__IP_OFF_DST),
                nat__ip_rd16(q + qhl),
                nat__ip_rd16(q + qhl + 2)};
  uint32_t mi, pi = NIL;
  if (b->overload) {
    mi = nat__nb_ext_find(b, (unsigned)ei, k.sport, k.dip, k.dport);
  } else {
    mi = nat__nb_ext_find(b, (unsigned)ei, k.sport, 0, 0);
    if (mi != NIL && !filter_pass(b, mi, k.dip, k.dport, &pi))
      return NAT_BOX_DROP_FILTERED;
  }
  if (mi == NIL)
    return NAT_BOX_DROP_NO_MAPPING;
  const nat__nb_map *m = &b->maps[mi];
  rewrite(&k, false, m->int_ip, m->int_port); /* the quoted datagram */
  uint32_t odip = nat__ip_rd32(p + NAT__IP_OFF_DST);
  nat__ip_wr32(p + NAT__IP_OFF_DST, m->int_ip);
  nat__ip_wr16(
      p + NAT__IP_OFF_CSUM,
      nat__ip_csum_upd32(nat__ip_rd16(p + NAT__IP_OFF_CSUM), odip, m->int_ip));
  nat__ip_wr16(ic + 2, 0);
  nat__ip_wr16(ic + 2, nat__ip_checksum(ic, tot - ihl));
  return NAT_BOX_TO_LAN;
}

int nat_box_inbound(nat_box *b, nat_tstamp now, uint8_t *pkt, size_t len) {
  pkt_view k;
  if (!b)
    return NAT_BOX_DROP_MALFORMED;
  advance(b, now);
  int v = parse(pkt, len, &k);
  if (v == NAT_BOX_DROP_PROTOCOL && pkt[9] == 1) {
    v = icmp_error_in(b, pkt);
    if (v != NAT_BOX_TO_LAN)
      return drop(b, v);
    b->st.icmp_errors_in++;
    return NAT_BOX_TO_LAN;
  }
  if (v != 0)
    return drop(b, v);
  int ei = public_index(b, k.dip);
  if (ei < 0)
    return drop(b, NAT_BOX_DROP_NOT_OURS);
  v = deliver(b, &k, (unsigned)ei, k.sip, k.sport);
  if (v != NAT_BOX_TO_LAN)
    return drop(b, v);
  b->st.packets_in++;
  return NAT_BOX_TO_LAN;
}

void nat_box_expire(nat_box *b, nat_tstamp now) {
  if (b)
    advance(b, now);
}

void nat_box_stats_get(const nat_box *b, nat_box_stats *out) {
  if (!out)
    return;
  if (!b) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = b->st;
}

const char *nat_box_verdict_name(int verdict) {
  static const char *const drops[NAT_BOX_DROP_REASONS] = {
      "malformed",       "protocol",    "no-mapping", "filtered",
      "ports-exhausted", "hairpin-off", "not-ours",   "fragment"};
  if (verdict == NAT_BOX_TO_WAN)
    return "to-wan";
  if (verdict == NAT_BOX_TO_LAN)
    return "to-lan";
  if (verdict < 0 && verdict >= -NAT_BOX_DROP_REASONS)
    return drops[-verdict - 1];
  return "unknown";
}

/* Fill defaults for zero fields and check the rest. */
static int normalize(nat_box_config *c) {
  if (c->npublic == 0)
    c->npublic = 1;
  if (c->mapping == NAT_BEH_UNKNOWN)
    c->mapping = NAT_BEH_EI;
  if (c->filtering == NAT_BEH_UNKNOWN)
    c->filtering = NAT_BEH_EI;
  if (c->npublic > NAT_BOX_MAX_PUBLIC || c->mapping > NAT_BEH_APD ||
      c->filtering > NAT_BEH_APD || c->alloc > NAT_ALLOC_RANDOM)
    return NAT_EINVAL;
  for (unsigned i = 0; i < c->npublic; i++)
    if (c->public_ip[i] == 0)
      return NAT_EINVAL;
  if (c->delta == 0)
    c->delta = 1;
  if (c->interleave_max == 0)
    c->interleave_max = 3;
  if (c->port_min == 0)
    c->port_min = 1024;
  if (c->port_max == 0)
    c->port_max = 65535;
  if (c->port_min > c->port_max || !(c->interleave >= 0.0) ||
      !(c->interleave <= 1.0) ||
      c->block_size > (uint32_t)c->port_max - c->port_min + 1)
    return NAT_EINVAL;
  if (c->timeout == 0)
    c->timeout = 30 * NAT_SECONDS;
  if (c->max_mappings == 0)
    c->max_mappings = 65536;
  if (c->max_mappings > NAT__NB_MAX_ENTRIES / 4)
    c->max_mappings = NAT__NB_MAX_ENTRIES / 4;
  return 0;
}

int nat_box_new(nat_box **out, const nat_box_config *cfg) {
  if (!out)
    return NAT_EINVAL;
  *out = NULL;
  if (!cfg)
    return NAT_EINVAL;
  nat_box_config c = *cfg;
  int rv = normalize(&c);
  if (rv != 0)
    return rv;
  nat_box *b = calloc(1, sizeof *b);
  if (!b)
    return NAT_ENOMEM;
  b->cfg = c;
  b->range = (uint32_t)c.port_max - c.port_min + 1;
  b->overload = c.overload && c.mapping == NAT_BEH_APD;
  b->need_permits = c.filtering > c.mapping;
  b->rng = c.seed;
  b->salt = nat__nb_rand(b);
  for (unsigned i = 0; i < c.npublic; i++) {
    b->inuse[i] = calloc(b->range, sizeof *b->inuse[i]);
    if (!b->inuse[i])
      goto nomem;
  }
  if (c.block_size) {
    b->nblocks = b->range / c.block_size;
    b->block_used = calloc(b->nblocks, 1);
    if (!b->block_used)
      goto nomem;
  }
  if (nat__nb_tables_init(b) != 0)
    goto nomem;
  *out = b;
  return 0;
nomem:
  nat_box_free(b);
  return NAT_ENOMEM;
}

void nat_box_free(nat_box *b) {
  if (!b)
    return;
  nat__nb_tables_free(b);
  for (unsigned i = 0; i < NAT_BOX_MAX_PUBLIC; i++)
    free(b->inuse[i]);
  free(b->block_used);
  free(b);
}
