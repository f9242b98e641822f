/* Transport addresses: parsing, formatting, comparison, classification. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/addr_internal.h"
#include "nat/addr.h"
#include "nat/error.h"

/* Parse a decimal port "0".."65535" with nothing after it. */
static int parse_port(const char *s, uint16_t *port) {
  char *end;
  unsigned long v;
  if (*s < '0' || *s > '9')
    return NAT_EBADADDR;
  v = strtoul(s, &end, 10);
  if (*end != '\0' || v > 65535)
    return NAT_EBADADDR;
  *port = (uint16_t)v;
  return 0;
}

static int parse_ip(nat_addr *out, const char *s) {
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, s, out->ip) == 1) {
    out->family = NAT_AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, s, out->ip) == 1) {
    out->family = NAT_AF_INET6;
    return 0;
  }
  return NAT_EBADADDR;
}

int nat_addr_parse(nat_addr *out, const char *s, uint16_t default_port) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *port_s = NULL;
  size_t hlen;
  uint16_t port = default_port;
  nat_addr a;
  bool bracketed;
  int rv;

  if (!out || !s)
    return NAT_EINVAL;
  bracketed = s[0] == '[';
  if (bracketed) { /* [v6]:port or [v6] */
    const char *close = strchr(s, ']');
    if (!close)
      return NAT_EBADADDR;
    hlen = (size_t)(close - s - 1);
    if (close[1] == ':')
      port_s = close + 2;
    else if (close[1] != '\0')
      return NAT_EBADADDR;
    s++;
  } else {
    const char *colon = strchr(s, ':');
    hlen = strlen(s);
    if (colon && !strchr(colon + 1, ':')) { /* exactly one colon: v4:port */
      hlen = (size_t)(colon - s);
      port_s = colon + 1;
    }
  }
  if (hlen == 0 || hlen >= sizeof host)
    return NAT_EBADADDR;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  if ((rv = parse_ip(&a, host)) != 0)
    return rv;
  if (bracketed && a.family != NAT_AF_INET6)
    return NAT_EBADADDR;
  if (port_s && (rv = parse_port(port_s, &port)) != 0)
    return rv;
  a.port = port;
  *out = a;
  return 0;
}

void nat_addr_set_v4(nat_addr *out, uint32_t ip_host_order, uint16_t port) {
  memset(out, 0, sizeof *out);
  out->family = NAT_AF_INET;
  out->port = port;
  out->ip[0] = (uint8_t)(ip_host_order >> 24);
  out->ip[1] = (uint8_t)(ip_host_order >> 16);
  out->ip[2] = (uint8_t)(ip_host_order >> 8);
  out->ip[3] = (uint8_t)ip_host_order;
}

char *nat_addr_format_ip(const nat_addr *a, char *buf, size_t len) {
  int af = a->family == NAT_AF_INET ? AF_INET : AF_INET6;
  if (len == 0)
    return buf;
  if (nat__addr_ip_len(a) == 0 || !inet_ntop(af, a->ip, buf, (socklen_t)len))
    snprintf(buf, len, "-");
  return buf;
}

char *nat_addr_format(const nat_addr *a, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN];
  if (len == 0)
    return buf;
  if (nat__addr_ip_len(a) == 0) {
    snprintf(buf, len, "-");
    return buf;
  }
  nat_addr_format_ip(a, ip, sizeof ip);
  if (a->family == NAT_AF_INET6)
    snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
  else
    snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
  return buf;
}

bool nat_addr_equal_ip(const nat_addr *a, const nat_addr *b) {
  return a->family == b->family && nat__addr_ip_len(a) > 0 &&
         memcmp(a->ip, b->ip, nat__addr_ip_len(a)) == 0;
}

bool nat_addr_equal(const nat_addr *a, const nat_addr *b) {
  return a->port == b->port && nat_addr_equal_ip(a, b);
}

int nat_addr_from_sockaddr(nat_addr *out, const struct sockaddr *sa) {
  if (!out || !sa)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    out->family = NAT_AF_INET;
    out->port = ntohs(in->sin_port);
    memcpy(out->ip, &in->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 =
        (const struct sockaddr_in6 *)(const void *)sa;
    out->family = NAT_AF_INET6;
    out->port = ntohs(in6->sin6_port);
    memcpy(out->ip, &in6->sin6_addr, 16);
    return 0;
  }
  return NAT_EBADFAMILY;
}

int nat_addr_to_sockaddr(const nat_addr *a, struct sockaddr *ss, size_t sslen) {
  if (!a || !ss)
    return NAT_EINVAL;
  if (a->family == NAT_AF_INET) {
    struct sockaddr_in in;
    if (sslen < sizeof in)
      return NAT_ENOBUFS;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(a->port);
    memcpy(&in.sin_addr, a->ip, 4);
    memcpy(ss, &in, sizeof in);
    return (int)sizeof in;
  }
  if (a->family == NAT_AF_INET6) {
    struct sockaddr_in6 in6;
    if (sslen < sizeof in6)
      return NAT_ENOBUFS;
    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(a->port);
    memcpy(&in6.sin6_addr, a->ip, 16);
    memcpy(ss, &in6, sizeof in6);
    return (int)sizeof in6;
  }
  return NAT_EBADFAMILY;
}

/* True if the first @p bits of a's IP equal those of @p prefix. */
static bool in_prefix(const nat_addr *a, uint8_t family, const uint8_t *prefix,
                      unsigned bits) {
  unsigned full = bits / 8, rest = bits % 8;
  if (a->family != family)
    return false;
  if (memcmp(a->ip, prefix, full) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
  return (a->ip[full] & mask) == (prefix[full] & mask);
}

bool nat_addr_is_private(const nat_addr *a) {
  static const uint8_t p10[] = {10}, p172[] = {172, 16}, p192[] = {192, 168},
                       pfc[] = {0xfc};
  return in_prefix(a, NAT_AF_INET, p10, 8) ||
         in_prefix(a, NAT_AF_INET, p172, 12) ||
         in_prefix(a, NAT_AF_INET, p192, 16) ||
         in_prefix(a, NAT_AF_INET6, pfc, 7);
}

bool nat_addr_is_shared(const nat_addr *a) {
  static const uint8_t p[] = {100, 64};
  return in_prefix(a, NAT_AF_INET, p, 10);
}

bool nat_addr_is_loopback(const nat_addr *a) {
  static const uint8_t p127[] = {127};
  static const uint8_t v6[16] = {[15] = 1};
  return in_prefix(a, NAT_AF_INET, p127, 8) ||
         in_prefix(a, NAT_AF_INET6, v6, 128);
}

bool nat_addr_is_link_local(const nat_addr *a) {
  static const uint8_t p4[] = {169, 254}, p6[] = {0xfe, 0x80};
  return in_prefix(a, NAT_AF_INET, p4, 16) ||
         in_prefix(a, NAT_AF_INET6, p6, 10);
}

bool nat_addr_is_unspecified(const nat_addr *a) {
  static const uint8_t zero[16];
  return nat__addr_ip_len(a) > 0 &&
         memcmp(a->ip, zero, nat__addr_ip_len(a)) == 0;
}

bool nat_addr_is_multicast(const nat_addr *a) {
  static const uint8_t p4[] = {224}, p6[] = {0xff};
  return in_prefix(a, NAT_AF_INET, p4, 4) || in_prefix(a, NAT_AF_INET6, p6, 8);
}

nat_addr_space nat_addr_space_of(const nat_addr *a) {
  if (a == NULL || nat__addr_ip_len(a) == 0)
    return NAT_SPACE_NONE;
  if (nat_addr_is_private(a))
    return NAT_SPACE_PRIVATE;
  if (nat_addr_is_shared(a))
    return NAT_SPACE_SHARED;
  if (nat_addr_is_loopback(a))
    return NAT_SPACE_LOOPBACK;
  if (nat_addr_is_link_local(a))
    return NAT_SPACE_LINK_LOCAL;
  if (nat_addr_is_unspecified(a) || nat_addr_is_multicast(a))
    return NAT_SPACE_OTHER;
  return NAT_SPACE_PUBLIC;
}

const char *nat_addr_space_name(uint8_t space) {
  static const char *const names[] = {
      "none", "public", "private", "shared", "loopback", "link-local", "other"};
  return space < sizeof names / sizeof names[0] ? names[space] : "none";
}
