/* Captured frames -> UDP datagrams (nat/capture.h). Pure: no I/O, no
 * clock. Link layers: Ethernet (+802.1Q/802.1ad tags), Linux cooked v1/v2,
 * raw IP, BSD loopback; IPv4 (options) and IPv6 (extension headers); UDP
 * with length checks. */
#include <string.h>

#include "base/bytes.h"
#include "capture/capture_frag.h"
#include "nat/capture.h"
#include "nat/error.h"

#define ETHERTYPE_IPV4  0x0800u
#define ETHERTYPE_IPV6  0x86DDu
#define ETHERTYPE_8021Q 0x8100u
#define ETHERTYPE_QINQ  0x88A8u
#define ETHERTYPE_9100  0x9100u
#define MAX_VLAN_TAGS   4
#define MAX_V6_EXTHDRS  8

#define IPPROTO_HOPOPTS_  0
#define IPPROTO_UDP_      17
#define IPPROTO_ROUTING_  43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_DSTOPTS_  60

/* Internal: which network layer follows the link header. */
enum { NET_NONE = 0, NET_V4 = 4, NET_V6 = 6, NET_ANY = 1 };

static int fail(nat_capture_frame *out, uint8_t reason) {
  out->reason = reason;
  return reason == NAT_CAPR_LINKTYPE ? NAT_EUNSUPPORTED : NAT_EFRAME;
}

bool nat_capture_linktype_supported(uint32_t linktype) {
  switch (linktype) {
  case NAT_LINK_NULL:
  case NAT_LINK_ETHERNET:
  case NAT_LINK_RAW_DLT:
  case NAT_LINK_RAW:
  case NAT_LINK_LOOP:
  case NAT_LINK_LINUX_SLL:
  case NAT_LINK_IPV4:
  case NAT_LINK_IPV6:
  case NAT_LINK_LINUX_SLL2:
    return true;
  default:
    return false;
  }
}

const char *nat_capture_reason_name(uint8_t reason) {
  static const char *const names[NAT_CAPR_COUNT] = {
      "ok",      "linktype",     "truncated-link", "not-ip",
      "bad-ip",  "truncated-ip", "fragment",       "bad-ipv6-exthdr",
      "not-udp", "bad-udp",      "truncated-udp"};
  return reason < NAT_CAPR_COUNT ? names[reason] : "unknown";
}

static int net_from_ethertype(uint16_t type) {
  if (type == ETHERTYPE_IPV4)
    return NET_V4;
  if (type == ETHERTYPE_IPV6)
    return NET_V6;
  return NET_NONE;
}

/* Ethernet II with up to MAX_VLAN_TAGS 802.1Q / 802.1ad tags. */
static int link_ethernet(const uint8_t *f, size_t caplen, size_t *off) {
  size_t o = 12;
  int tags = 0;
  uint16_t type;
  if (caplen < 14)
    return -1;
  type = nat__get16(f + o);
  while (type == ETHERTYPE_8021Q || type == ETHERTYPE_QINQ ||
         type == ETHERTYPE_9100) {
    if (++tags > MAX_VLAN_TAGS)
      return NET_NONE;
    o += 4;
    if (caplen < o + 2)
      return -1;
    type = nat__get16(f + o);
  }
  *off = o + 2;
  return net_from_ethertype(type);
}

/* BSD loopback: a 4-byte address family in the capturing host's byte
 * order (DLT_NULL) or big-endian (DLT_LOOP); both orders are accepted. */
static int link_loopback(const uint8_t *f, size_t caplen, size_t *off) {
  uint32_t fam;
  if (caplen < 4)
    return -1;
  fam = nat__get32(f);
  if ((fam & 0xFFFFu) == 0)
    fam = nat__get32le(f); /* little-endian family word */
  *off = 4;
  switch (fam) {
  case 2: /* AF_INET everywhere */
    return NET_V4;
  case 10: /* Linux */
  case 24: /* NetBSD, OpenBSD */
  case 28: /* FreeBSD, DragonFly */
  case 30: /* Darwin */
    return NET_V6;
  default:
    return NET_NONE;
  }
}

/* The direction a Linux cooked header's packet type gives: 4
 * (PACKET_OUTGOING) was sent by the capturing host; 0-3 (to us,
 * broadcast, multicast, to another host) came in. */
static uint8_t sll_dir(unsigned pkttype) {
  if (pkttype == 4)
    return NAT_CAPDIR_OUTGOING;
  return pkttype <= 3 ? NAT_CAPDIR_IN : NAT_CAPDIR_UNKNOWN;
}

/* Strip the link header: returns NET_* or -1 (truncated link header) or
 * -2 (unsupported link type); *off gets the network header's offset and
 * *dir the direction when the header tells it. */
static int strip_link(uint32_t linktype, const uint8_t *f, size_t caplen,
                      size_t *off, uint8_t *dir) {
  *off = 0;
  *dir = NAT_CAPDIR_UNKNOWN;
  switch (linktype) {
  case NAT_LINK_ETHERNET:
    return link_ethernet(f, caplen, off);
  case NAT_LINK_LINUX_SLL:
    if (caplen < 16)
      return -1;
    *off = 16;
    *dir = sll_dir(nat__get16(f));
    return net_from_ethertype(nat__get16(f + 14));
  case NAT_LINK_LINUX_SLL2:
    if (caplen < 20)
      return -1;
    *off = 20;
    *dir = sll_dir(f[10]);
    return net_from_ethertype(nat__get16(f));
  case NAT_LINK_NULL:
  case NAT_LINK_LOOP:
    return link_loopback(f, caplen, off);
  case NAT_LINK_RAW:
  case NAT_LINK_RAW_DLT:
    return NET_ANY;
  case NAT_LINK_IPV4:
    return NET_V4;
  case NAT_LINK_IPV6:
    return NET_V6;
  default:
    return -2;
  }
}

/* Where the transport header lies, once the IP layer is read. */
typedef struct l4_span {
  size_t off;     /* transport header offset in the frame */
  size_t claimed; /* end of the IP packet as its header claims */
  size_t avail;   /* end of what was captured of it */
} l4_span;

static void set_ip(nat_addr *a, uint8_t family, const uint8_t *ip, size_t len) {
  memset(a, 0, sizeof *a);
  a->family = family;
  memcpy(a->ip, ip, len);
}

/* Describe the IPv4 fragment at @p ip (header @p ihl, total @p total,
 * @p avail bytes captured) unless the snaplen cut it. */
static void frag_v4(const uint8_t *ip, size_t ihl, size_t total, size_t avail,
                    const nat_capture_frame *out, nat__frag_in *frag) {
  unsigned ff = nat__get16(ip + 6);
  if (frag == NULL || avail < total)
    return;
  frag->version = 4;
  frag->proto = ip[9];
  frag->ttl = out->ttl;
  frag->dir = out->dir;
  frag->id = nat__get16(ip + 4);
  frag->src = out->src;
  frag->dst = out->dst;
  frag->offset = (uint32_t)(ff & 0x1FFFu) * 8;
  frag->more = (ff & 0x2000u) != 0;
  frag->data = ip + ihl;
  frag->len = total - ihl;
}

static int parse_ipv4(const uint8_t *f, size_t caplen, size_t off,
                      nat_capture_frame *out, l4_span *s, nat__frag_in *frag) {
  const uint8_t *ip = f + off;
  size_t ihl, total;
  if (caplen - off < 20)
    return fail(out, NAT_CAPR_TRUNC_IP);
  if (ip[0] >> 4 != 4)
    return fail(out, NAT_CAPR_BAD_IP);
  out->ip_version = 4;
  out->ttl = ip[8];
  ihl = (size_t)(ip[0] & 0x0F) * 4;
  total = nat__get16(ip + 2);
  if (ihl < 20 || total < ihl)
    return fail(out, NAT_CAPR_BAD_IP);
  if (caplen - off < ihl)
    return fail(out, NAT_CAPR_TRUNC_IP);
  set_ip(&out->src, NAT_AF_INET, ip + 12, 4);
  set_ip(&out->dst, NAT_AF_INET, ip + 16, 4);
  if (ip[9] != IPPROTO_UDP_)
    return fail(out, NAT_CAPR_NOT_UDP);
  if ((nat__get16(ip + 6) & 0x3FFFu) != 0) { /* MF or a fragment offset */
    frag_v4(ip, ihl, total, caplen - off, out, frag);
    return fail(out, NAT_CAPR_FRAGMENT);
  }
  s->off = off + ihl;
  s->claimed = off + total;
  s->avail = caplen < s->claimed ? caplen : s->claimed;
  return 0;
}

/* Describe the IPv6 Fragment header at f[s->off] unless the snaplen cut
 * the packet. */
static int frag_v6(const uint8_t *f, nat_capture_frame *out, const l4_span *s,
                   nat__frag_in *frag) {
  if (s->off + 8 > s->claimed)
    return fail(out, NAT_CAPR_BAD_EXTHDR);
  if (frag == NULL || s->avail < s->claimed)
    return fail(out, NAT_CAPR_FRAGMENT);
  frag->version = 6;
  frag->proto = f[s->off];
  frag->ttl = out->ttl;
  frag->dir = out->dir;
  frag->id = nat__get32(f + s->off + 4);
  frag->src = out->src;
  frag->dst = out->dst;
  frag->offset = nat__get16(f + s->off + 2) & 0xFFF8u;
  frag->more = (f[s->off + 3] & 1u) != 0;
  frag->data = f + s->off + 8;
  frag->len = s->claimed - s->off - 8;
  return fail(out, NAT_CAPR_FRAGMENT);
}

/* Walk the IPv6 extension headers from @p nh at s->off up to UDP. */
static int walk_v6_exthdrs(const uint8_t *f, uint8_t nh, nat_capture_frame *out,
                           l4_span *s, nat__frag_in *frag) {
  int n;
  for (n = 0; n <= MAX_V6_EXTHDRS; n++) {
    size_t len;
    if (nh == IPPROTO_UDP_)
      return 0;
    if (nh == IPPROTO_FRAGMENT_)
      return frag_v6(f, out, s, frag);
    if (nh != IPPROTO_HOPOPTS_ && nh != IPPROTO_ROUTING_ &&
        nh != IPPROTO_DSTOPTS_)
      return fail(out, NAT_CAPR_NOT_UDP);
    if (s->off + 2 > s->claimed)
      return fail(out, NAT_CAPR_BAD_EXTHDR);
    if (s->off + 2 > s->avail)
      return fail(out, NAT_CAPR_TRUNC_IP);
    len = ((size_t)f[s->off + 1] + 1) * 8;
    if (s->off + len > s->claimed)
      return fail(out, NAT_CAPR_BAD_EXTHDR);
    if (s->off + len > s->avail)
      return fail(out, NAT_CAPR_TRUNC_IP);
    nh = f[s->off];
    s->off += len;
  }
  return fail(out, NAT_CAPR_BAD_EXTHDR); /* too long a chain */
}

static int parse_ipv6(const uint8_t *f, size_t caplen, size_t off,
                      nat_capture_frame *out, l4_span *s, nat__frag_in *frag) {
  const uint8_t *ip = f + off;
  size_t plen;
  if (caplen - off < 40)
    return fail(out, NAT_CAPR_TRUNC_IP);
  if (ip[0] >> 4 != 6)
    return fail(out, NAT_CAPR_BAD_IP);
  out->ip_version = 6;
  out->ttl = ip[7];
  set_ip(&out->src, NAT_AF_INET6, ip + 8, 16);
  set_ip(&out->dst, NAT_AF_INET6, ip + 24, 16);
  plen = nat__get16(ip + 4);
  if (plen == 0) /* a jumbogram (RFC 2675) or nonsense */
    return fail(out, NAT_CAPR_BAD_IP);
  s->off = off + 40;
  s->claimed = off + 40 + plen;
  s->avail = caplen < s->claimed ? caplen : s->claimed;
  return walk_v6_exthdrs(f, ip[6], out, s, frag);
}

static int parse_udp(const uint8_t *f, const l4_span *s,
                     nat_capture_frame *out) {
  size_t ulen;
  if (s->off + 8 > s->claimed)
    return fail(out, NAT_CAPR_BAD_UDP);
  if (s->off + 8 > s->avail)
    return fail(out, NAT_CAPR_TRUNC_IP);
  out->src.port = nat__get16(f + s->off);
  out->dst.port = nat__get16(f + s->off + 2);
  ulen = nat__get16(f + s->off + 4);
  if (ulen < 8 || s->off + ulen > s->claimed)
    return fail(out, NAT_CAPR_BAD_UDP);
  if (s->off + ulen > s->avail)
    return fail(out, NAT_CAPR_TRUNC_UDP);
  out->payload = f + s->off + 8;
  out->len = ulen - 8;
  out->reason = NAT_CAPR_OK;
  return 0;
}

int nat__capture_decode_frag(uint32_t linktype, const uint8_t *frame,
                             size_t caplen, nat_capture_frame *out,
                             nat__frag_in *frag) {
  size_t off;
  l4_span s;
  int net, rv;
  if (frag != NULL)
    frag->version = 0;
  if (out == NULL)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  if (frame == NULL && caplen != 0)
    return NAT_EINVAL;
  net = strip_link(linktype, frame, caplen, &off, &out->dir);
  if (net == -2)
    return fail(out, NAT_CAPR_LINKTYPE);
  if (net == -1)
    return fail(out, NAT_CAPR_TRUNC_LINK);
  if (net == NET_NONE)
    return fail(out, NAT_CAPR_NOT_IP);
  if (caplen <= off)
    return fail(out, NAT_CAPR_TRUNC_IP);
  if (net == NET_ANY) {
    unsigned v = frame[off] >> 4;
    net = v == 4 ? NET_V4 : v == 6 ? NET_V6 : NET_NONE;
    if (net == NET_NONE)
      return fail(out, NAT_CAPR_BAD_IP);
  }
  if (net == NET_V4)
    rv = parse_ipv4(frame, caplen, off, out, &s, frag);
  else
    rv = parse_ipv6(frame, caplen, off, out, &s, frag);
  if (rv != 0)
    return rv;
  return parse_udp(frame, &s, out);
}

int nat_capture_decode(uint32_t linktype, const uint8_t *frame, size_t caplen,
                       nat_capture_frame *out) {
  return nat__capture_decode_frag(linktype, frame, caplen, out, NULL);
}

int nat__capture_decode_l4(const nat__frag_out *d, nat_capture_frame *out) {
  l4_span s;
  int rv;
  if (d == NULL || out == NULL)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  out->ip_version = d->version;
  out->ttl = d->ttl;
  out->dir = d->dir;
  out->src = d->src;
  out->dst = d->dst;
  s.off = 0;
  s.claimed = s.avail = d->len;
  if (d->version == 6)
    rv = walk_v6_exthdrs(d->data, d->proto, out, &s, NULL);
  else
    rv = d->proto == IPPROTO_UDP_ ? 0 : fail(out, NAT_CAPR_NOT_UDP);
  if (rv != 0)
    return rv;
  return parse_udp(d->data, &s, out);
}
