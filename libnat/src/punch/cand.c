/* libnat -- candidates (nat/cand.h): priority, foundation, validation of
 * remote candidates, host candidate selection. Pure. */
#include <stdio.h>
#include <string.h>

#include "nat/cand.h"
#include "nat/error.h"
#include "nat/stun.h"

uint32_t nat_cand_priority(unsigned type_pref, uint16_t local_pref,
                           unsigned component) {
  if (type_pref > 126)
    type_pref = 126;
  if (component < 1)
    component = 1;
  if (component > 256)
    component = 256;
  return ((uint32_t)type_pref << 24) + ((uint32_t)local_pref << 8) +
         (uint32_t)(256u - component);
}

unsigned nat_cand_type_pref(uint8_t type) {
  switch (type) {
  case NAT_CAND_HOST:
    return NAT_CAND_PREF_HOST;
  case NAT_CAND_SRFLX:
    return NAT_CAND_PREF_SRFLX;
  case NAT_CAND_PRFLX:
    return NAT_CAND_PREF_PRFLX;
  case NAT_CAND_PREDICTED:
    return NAT_CAND_PREF_PREDICTED;
  case NAT_CAND_MAPPED:
    return NAT_CAND_PREF_MAPPED;
  default:
    return NAT_CAND_PREF_RELAY;
  }
}

const char *nat_cand_type_name(uint8_t type) {
  static const char *const names[NAT_CAND_TYPES] = {
      "host", "srflx", "prflx", "predicted", "relay", "mapped"};
  return type < NAT_CAND_TYPES ? names[type] : "unknown";
}

static uint32_t crc_addr_ip(uint32_t crc, const nat_addr *a) {
  uint8_t fam;
  if (a == NULL)
    return nat_crc32(crc, (const uint8_t *)"-", 1);
  fam = a->family;
  crc = nat_crc32(crc, &fam, 1);
  return nat_crc32(crc, a->ip, fam == NAT_AF_INET6 ? 16 : 4);
}

int nat_cand_make(nat_cand *c, uint8_t type, const nat_addr *addr,
                  const nat_addr *base, const nat_addr *server,
                  uint16_t local_pref) {
  uint32_t crc;
  if (c == NULL || addr == NULL || type >= NAT_CAND_TYPES)
    return NAT_EINVAL;
  memset(c, 0, sizeof *c);
  c->type = type;
  c->addr = *addr;
  if (base != NULL)
    c->base = *base;
  else
    c->base.family = addr->family;
  c->priority = nat_cand_priority(nat_cand_type_pref(type), local_pref, 1);
  crc = nat_crc32(0, &type, 1);
  crc = crc_addr_ip(crc, base != NULL ? base : addr);
  crc = crc_addr_ip(crc, server);
  snprintf(c->foundation, sizeof c->foundation, "%08x", (unsigned)crc);
  return 0;
}

char *nat_cand_format(const nat_cand *c, char *buf, size_t len) {
  char a[NAT_ADDR_STRLEN];
  if (buf == NULL || len == 0)
    return buf;
  if (c == NULL) {
    snprintf(buf, len, "-");
    return buf;
  }
  snprintf(buf, len, "%s %s", nat_cand_type_name(c->type),
           nat_addr_format(&c->addr, a, sizeof a));
  return buf;
}

/* ------------------------------------------------------- validation */

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4; others as given. */
static nat_addr unmap(const nat_addr *a) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  nat_addr v = *a;
  if (a->family == NAT_AF_INET6 && memcmp(a->ip, mapped, 12) == 0) {
    memset(&v, 0, sizeof v);
    v.family = NAT_AF_INET;
    v.port = a->port;
    memcpy(v.ip, a->ip + 12, 4);
  }
  return v;
}

static uint32_t v4(const nat_addr *a) {
  return (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 |
         (uint32_t)a->ip[2] << 8 | (uint32_t)a->ip[3];
}

static bool is_subnet_broadcast(const nat_addr *a, const nat_cand_policy *p) {
  size_t i;
  if (p == NULL || p->subnets == NULL || a->family != NAT_AF_INET)
    return false;
  for (i = 0; i < p->nsubnets; i++) {
    const nat_iface *s = &p->subnets[i];
    uint32_t mask;
    if (s->addr.family != NAT_AF_INET || s->prefix == 0 || s->prefix >= 31)
      continue;
    mask = 0xffffffffu << (32 - s->prefix);
    if ((v4(a) & mask) == (v4(&s->addr) & mask) &&
        (v4(a) | mask) == 0xffffffffu)
      return true;
  }
  return false;
}

int nat_cand_validate_remote(const nat_addr *addr, const nat_cand_policy *pol) {
  nat_addr a;
  bool allow = pol != NULL && pol->allow_loopback;
  if (addr == NULL ||
      (addr->family != NAT_AF_INET && addr->family != NAT_AF_INET6))
    return NAT_CAND_REJECT_FAMILY;
  a = unmap(addr);
  if (nat_addr_is_unspecified(&a) || (a.family == NAT_AF_INET && a.ip[0] == 0))
    return NAT_CAND_REJECT_UNSPECIFIED;
  if (a.port == 0)
    return NAT_CAND_REJECT_PORT_ZERO;
  if (nat_addr_is_multicast(&a))
    return NAT_CAND_REJECT_MULTICAST;
  if (a.family == NAT_AF_INET && v4(&a) == 0xffffffffu)
    return NAT_CAND_REJECT_BROADCAST;
  if (is_subnet_broadcast(&a, pol))
    return NAT_CAND_REJECT_SUBNET_BROADCAST;
  if (!allow && nat_addr_is_loopback(&a))
    return NAT_CAND_REJECT_LOOPBACK;
  if (!allow && nat_addr_is_link_local(&a))
    return NAT_CAND_REJECT_LINK_LOCAL;
  return NAT_CAND_OK;
}

const char *nat_cand_reject_strerror(int reason) {
  switch (reason) {
  case NAT_CAND_OK:
    return "accepted";
  case NAT_CAND_REJECT_FAMILY:
    return "not an IPv4 or IPv6 address";
  case NAT_CAND_REJECT_UNSPECIFIED:
    return "unspecified address (0.0.0.0/8 or ::)";
  case NAT_CAND_REJECT_PORT_ZERO:
    return "port 0";
  case NAT_CAND_REJECT_LOOPBACK:
    return "loopback address (allowed only for tests)";
  case NAT_CAND_REJECT_LINK_LOCAL:
    return "link-local address (allowed only for tests)";
  case NAT_CAND_REJECT_MULTICAST:
    return "multicast address";
  case NAT_CAND_REJECT_BROADCAST:
    return "broadcast address 255.255.255.255";
  case NAT_CAND_REJECT_SUBNET_BROADCAST:
    return "broadcast address of a local subnet";
  case NAT_CAND_REJECT_TYPE:
    return "candidate type not allowed here";
  default:
    return "unknown reason";
  }
}

/* --------------------------------------------------- host selection */

/* Rank of an interface address: 0 public/global, 1 private, 2 loopback or
 * link-local (only with @p allow), -1 refused. IPv6 ranks before IPv4 of
 * the same class (the caller sorts by rank * 2 + (IPv4 ? 1 : 0)). */
static int host_rank(const nat_addr *a, bool allow) {
  if (a->family != NAT_AF_INET && a->family != NAT_AF_INET6)
    return -1;
  if (nat_addr_is_unspecified(a) || nat_addr_is_multicast(a))
    return -1;
  if (nat_addr_is_loopback(a) || nat_addr_is_link_local(a))
    return allow ? 2 : -1;
  if (a->family == NAT_AF_INET) {
    if (a->ip[0] == 0 || v4(a) == 0xffffffffu || a->ip[0] >= 240)
      return -1;
    if (nat_addr_is_private(a) || nat_addr_is_shared(a))
      return 1;
    return 0;
  }
  if (nat_addr_is_private(a)) /* fc00::/7 */
    return 1;
  if ((a->ip[0] & 0xe0) == 0x20) /* 2000::/3 */
    return 0;
  return -1;
}

static bool seen(const nat_cand *out, size_t n, const nat_addr *a) {
  size_t i;
  for (i = 0; i < n; i++)
    if (nat_addr_equal_ip(&out[i].addr, a))
      return true;
  return false;
}

int nat_cand_select_host(const nat_iface *ifs, size_t n, uint16_t port,
                         bool allow_loopback, nat_cand *out, size_t max,
                         size_t *nout) {
  size_t cnt = 0, i;
  int key;
  if (out == NULL || nout == NULL || (ifs == NULL && n > 0))
    return NAT_EINVAL;
  for (key = 0; key < 6 && cnt < max; key++) {
    for (i = 0; i < n && cnt < max; i++) {
      nat_addr a = ifs[i].addr;
      int r = host_rank(&a, allow_loopback);
      if (r < 0 || r * 2 + (a.family == NAT_AF_INET ? 1 : 0) != key)
        continue;
      a.port = port;
      if (seen(out, cnt, &a))
        continue;
      nat_cand_make(&out[cnt], NAT_CAND_HOST, &a, &a, NULL,
                    (uint16_t)(65535u - cnt));
      cnt++;
    }
  }
  *nout = cnt;
  return 0;
}

int nat_cand_make_srflx(nat_cand *out, const nat_addr *mapped,
                        const nat_addr *base, const nat_addr *server) {
  if (out == NULL || mapped == NULL || mapped->family == NAT_AF_NONE)
    return NAT_EINVAL;
  return nat_cand_make(out, NAT_CAND_SRFLX, mapped, base, server, 65535);
}

int nat_cand_make_predicted(const nat_prediction *pred, const nat_addr *mapped,
                            const nat_addr *base, nat_cand *out, size_t max,
                            size_t *nout) {
  size_t i, cnt = 0;
  if (pred == NULL || mapped == NULL || out == NULL || nout == NULL)
    return NAT_EINVAL;
  for (i = 0; i < pred->n && i < NAT_PREDICT_MAX && cnt < max; i++) {
    nat_addr a = *mapped;
    if (pred->port[i] == 0)
      continue;
    a.port = pred->port[i];
    nat_cand_make(&out[cnt], NAT_CAND_PREDICTED, &a, base, NULL,
                  (uint16_t)(65535u - i));
    cnt++;
  }
  *nout = cnt;
  return 0;
}
