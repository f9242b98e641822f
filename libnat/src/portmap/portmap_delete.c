/* nat_portmap_delete_now(): the blocking delete for a program's last step
 * after a signal, when the loop may never run again. PCP on a plain
 * socket with poll() and the same retransmission as the driver's; NAT-PMP
 * and UPnP in their own files (portmap_natpmp.c, portmap_upnp.c). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nat/error.h"
#include "portmap/portmap_internal.h"

static nat_tstamp mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec;
}

/* Send, wait, resend at 50 ms doubling until @p end; the first answer that
 * passes nat__pcp_check() decides. @return 0, NAT_EPMREFUSED or
 * NAT_ETIMEDOUT. */
static int pcp_exchange(int fd, const nat__pcp_sent *sent, const uint8_t *msg,
                        size_t len, nat_tstamp end) {
  int rto = 50;
  for (;;) {
    nat_tstamp now = mono_now(), next;
    if (now >= end)
      return NAT_ETIMEDOUT;
    (void)send(fd, msg, len, 0);
    next = now + (nat_tstamp)rto * NAT_MILLISECONDS;
    if (next > end)
      next = end;
    while ((now = mono_now()) < next) {
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      uint8_t buf[NAT_PCP_MAX_LEN + 4];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      nat_pcp_response rs;
      nat_addr from;
      ssize_t n;
      if (poll(&pfd, 1, (int)((next - now) / NAT_MILLISECONDS) + 1) <= 0)
        continue;
      n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
      if (n < 0 || nat_pcp_decode(buf, (size_t)n, &rs) < 0 ||
          nat_addr_from_sockaddr(&from, (struct sockaddr *)&ss) < 0 ||
          nat__pcp_check(sent, &from, &rs) != NAT__PCP_OK)
        continue;
      return rs.version == NAT_PCP_VERSION && rs.result == NAT_PCP_SUCCESS
                 ? 0
                 : NAT_EPMREFUSED;
    }
    rto = rto >= 800 ? 800 : rto * 2;
  }
}

static int pcp_delete_now(const nat_addr *gateway, const nat_addr *local,
                          uint16_t port, const uint8_t *nonce,
                          nat_tstamp wait) {
  nat_pcp_request rq;
  nat__pcp_sent sent;
  uint8_t msg[NAT_PCP_HEADER_LEN + NAT_PCP_MAP_LEN];
  struct sockaddr_storage ss;
  nat_addr src;
  ssize_t n;
  int fd, rc, sl;
  memset(&rq, 0, sizeof rq);
  memset(&sent, 0, sizeof sent);
  sent.server = *gateway;
  if (sent.server.port == 0)
    sent.server.port = NAT_PCP_SERVER_PORT;
  if (local && local->family != NAT_AF_NONE)
    src = *local;
  else if ((rc = nat__gateway_local(&sent.server, &src)) < 0)
    return rc;
  src.port = 0;
  rq.opcode = NAT_PCP_OP_MAP;
  rq.client = src;
  memcpy(rq.nonce, nonce, NAT_PCP_NONCE_LEN);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.internal_port = port;
  n = nat_pcp_encode(&rq, msg, sizeof msg);
  if (n < 0)
    return (int)n;
  sent.opcode = NAT_PCP_OP_MAP;
  memcpy(sent.nonce, nonce, NAT_PCP_NONCE_LEN);
  sent.protocol = NAT_PCP_PROTO_UDP;
  sent.internal_port = port;
  sl = nat_addr_to_sockaddr(&src, (struct sockaddr *)&ss, sizeof ss);
  if (sl < 0)
    return sl;
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 ||
      (sl = nat_addr_to_sockaddr(&sent.server, (struct sockaddr *)&ss,
                                 sizeof ss)) < 0 ||
      connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
    rc = sl < 0 ? sl : -errno;
    close(fd);
    return rc;
  }
  rc = pcp_exchange(fd, &sent, msg, (size_t)n, mono_now() + wait);
  close(fd);
  return rc;
}

int nat_portmap_delete_now(const nat_addr *gateway, const nat_addr *local,
                           nat_pm_proto proto, uint16_t internal_port,
                           const nat_addr *external, const uint8_t *nonce,
                           nat_tstamp wait) {
  if (!gateway || internal_port == 0 ||
      (gateway->family != NAT_AF_INET && gateway->family != NAT_AF_INET6))
    return NAT_EINVAL;
  switch (proto) {
  case NAT_PM_PCP:
    if (!nonce)
      return NAT_EINVAL;
    return pcp_delete_now(gateway, local, internal_port, nonce, wait);
  case NAT_PM_NATPMP:
    return nat__natpmp_delete_now(gateway, internal_port, wait);
  case NAT_PM_UPNP:
    return nat__upnp_delete_now(
        gateway, local,
        external && external->port ? external->port : internal_port, wait);
  }
  return NAT_EINVAL;
}
