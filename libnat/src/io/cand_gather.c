/* libnat -- DRIVER: host candidates from the system's interfaces
 * (uv_interface_addresses) fed to the pure selector in cand.c. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nat/cand.h"
#include "nat/error.h"

/* Prefix length of a netmask given as a sockaddr. */
static uint8_t mask_bits(const nat_addr *m) {
  unsigned bits = 0;
  size_t len = m->family == NAT_AF_INET6 ? 16 : 4, i;
  for (i = 0; i < len; i++) {
    uint8_t b = m->ip[i];
    while (b & 0x80) {
      bits++;
      b = (uint8_t)(b << 1);
    }
    if (m->ip[i] != 0xff)
      break;
  }
  return (uint8_t)bits;
}

static void to_iface(const uv_interface_address_t *u, nat_iface *f) {
  nat_addr mask;
  memset(f, 0, sizeof *f);
  if (u->name != NULL) {
    strncpy(f->name, u->name, sizeof f->name - 1);
  }
  nat_addr_from_sockaddr(&f->addr, (const struct sockaddr *)&u->address);
  f->addr.port = 0;
  memset(&mask, 0, sizeof mask);
  if (nat_addr_from_sockaddr(&mask, (const struct sockaddr *)&u->netmask) == 0)
    f->prefix = mask_bits(&mask);
  f->internal = u->is_internal != 0;
}

int nat_cand_gather_host(uint16_t port, bool allow_loopback, nat_cand *out,
                         size_t max, size_t *nout, nat_iface *subnets,
                         size_t max_subnets, size_t *nsubnets) {
  uv_interface_address_t *ua = NULL;
  nat_iface *ifs;
  int count = 0, rc, i;
  size_t ns = 0;
  if (out == NULL || nout == NULL)
    return NAT_EINVAL;
  rc = uv_interface_addresses(&ua, &count);
  if (rc != 0)
    return rc;
  ifs = calloc(count > 0 ? (size_t)count : 1, sizeof *ifs);
  if (ifs == NULL) {
    uv_free_interface_addresses(ua, count);
    return NAT_ENOMEM;
  }
  for (i = 0; i < count; i++) {
    to_iface(&ua[i], &ifs[i]);
    if (subnets != NULL && ns < max_subnets &&
        ifs[i].addr.family == NAT_AF_INET)
      subnets[ns++] = ifs[i];
  }
  uv_free_interface_addresses(ua, count);
  rc = nat_cand_select_host(ifs, (size_t)count, port, allow_loopback, out, max,
                            nout);
  free(ifs);
  if (nsubnets != NULL)
    *nsubnets = ns;
  return rc;
}
