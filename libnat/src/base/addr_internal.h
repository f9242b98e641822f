/* libnat -- private address helpers shared by the codecs and analyzers. */
#ifndef NAT_ADDR_INTERNAL_H
#define NAT_ADDR_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "nat/addr.h"

/* Bytes of @p a's IP: 4 for IPv4, 16 for IPv6, 0 with no family. */
static inline size_t nat__addr_ip_len(const nat_addr *a) {
  return a->family == NAT_AF_INET ? 4 : a->family == NAT_AF_INET6 ? 16 : 0;
}

/* Orders addresses the way nat_addr_equal() compares them: the family,
 * the IP bytes of that family, the port. A total order for sorting and
 * binary search. */
static inline int nat__addr_cmp(const nat_addr *a, const nat_addr *b) {
  int c;
  if (a->family != b->family)
    return a->family < b->family ? -1 : 1;
  c = memcmp(a->ip, b->ip, nat__addr_ip_len(a));
  if (c != 0)
    return c;
  return a->port < b->port ? -1 : a->port > b->port;
}

/* @p a without its port, and zero past its IP (a canonical key). */
static inline nat_addr nat__addr_ip_only(const nat_addr *a) {
  nat_addr x;
  memset(&x, 0, sizeof x);
  x.family = a->family;
  memcpy(x.ip, a->ip, nat__addr_ip_len(a));
  return x;
}

#endif
