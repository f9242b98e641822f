/* The default gateway (IPv4, from /proc/net/route) and our address towards
 * it. Plain sockets: nothing is sent (connect() on a UDP socket only
 * picks the route and the source address). IPv6 gateways are not looked
 * up: a default IPv6 route's next hop is link-local and needs a scope that
 * nat_addr does not carry; a caller names an IPv6 gateway in the config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/error.h"
#include "portmap/portmap_internal.h"

#define RTF_UP_BIT      0x1u
#define RTF_GATEWAY_BIT 0x2u

int nat__gateway_default(const char *path, nat_addr *gw) {
  char line[512];
  unsigned long best_metric = (unsigned long)-1;
  bool found = false;
  FILE *f = fopen(path ? path : "/proc/net/route", "r");
  if (!f)
    return -errno;
  while (fgets(line, sizeof line, f)) {
    char ifname[64];
    unsigned long dest, gwv, flags, refcnt, use, metric, mask;
    uint32_t v;
    if (sscanf(line, "%63s %lx %lx %lx %lu %lu %lu %lx", ifname, &dest, &gwv,
               &flags, &refcnt, &use, &metric, &mask) != 8)
      continue; /* the title line, or damage */
    if (dest != 0 || mask != 0 || gwv == 0 ||
        (flags & (RTF_UP_BIT | RTF_GATEWAY_BIT)) !=
            (RTF_UP_BIT | RTF_GATEWAY_BIT))
      continue;
    if (found && metric >= best_metric)
      continue;
    /* The kernel prints the address's bytes as one native-order word. */
    v = (uint32_t)gwv;
    memset(gw, 0, sizeof *gw);
    gw->family = NAT_AF_INET;
    memcpy(gw->ip, &v, 4);
    best_metric = metric;
    found = true;
  }
  fclose(f);
  return found ? 0 : NAT_ENOTFOUND;
}

int nat__gateway_local(const nat_addr *gw, nat_addr *local) {
  struct sockaddr_storage ss;
  socklen_t sl;
  nat_addr to = *gw;
  int fd, rc;
  if (to.port == 0)
    to.port = NAT_PCP_SERVER_PORT;
  rc = nat_addr_to_sockaddr(&to, (struct sockaddr *)&ss, sizeof ss);
  if (rc < 0)
    return rc;
  sl = (socklen_t)rc;
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  sl = sizeof ss;
  rc = getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ? -errno : 0;
  close(fd);
  if (rc == 0)
    rc = nat_addr_from_sockaddr(local, (struct sockaddr *)&ss);
  if (rc == 0)
    local->port = 0;
  return rc;
}

bool nat__gateway_is_private(const nat_addr *gw) {
  return nat_addr_is_private(gw) || nat_addr_is_shared(gw) ||
         nat_addr_is_link_local(gw);
}
