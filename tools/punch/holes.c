/* punch -- opening our NAT's mapping towards the peer before the first
 * check, with datagrams that die before they reach the peer's NAT.
 *
 * Why: on Linux NATs (nftables masquerade, port-restricted), a check that
 * arrives at the peer's NAT before the peer sent anything to us leaves an
 * unreplied conntrack entry there; the peer's own check then clashes with
 * it and is given another source port, which our NAT's filtering drops
 * (measured in natlab: both sides failed every time). So both sides first
 * send one small datagram with TTL 2 to each of the peer's public
 * candidates: it passes our NAT (creating the mapping the peer's checks
 * will match) and expires at the next router. nat_udp does not expose its
 * socket, so the descriptor is found by its bound address. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "session.h"

#define HOLE_TTL 2

static int find_fd(const nat_addr *local) {
  for (int fd = 3; fd < 1024; fd++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int type = 0;
    socklen_t tl = sizeof type;
    nat_addr a;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
        type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        nat_addr_from_sockaddr(&a, (struct sockaddr *)&ss) != 0)
      continue;
    if (a.family == local->family && a.port == local->port)
      return fd;
  }
  return -1;
}

void punch_open_holes(punch_sess *s) {
  int fd = find_fd(&s->local), old = 64, ttl = HOLE_TTL;
  bool v6 = s->local.family == NAT_AF_INET6;
  int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
  int name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
  socklen_t ol = sizeof old;
  static const uint8_t junk[1] = {0};
  if (fd < 0 || getsockopt(fd, level, name, &old, &ol) != 0 ||
      setsockopt(fd, level, name, &ttl, sizeof ttl) != 0)
    return;
  for (size_t i = 0; i < s->peer.ncands; i++) {
    const nat_cand *c = &s->peer.cands[i];
    struct sockaddr_storage ss;
    if (c->type == NAT_CAND_HOST || c->addr.family != s->local.family ||
        nat_addr_to_sockaddr(&c->addr, (struct sockaddr *)&ss, sizeof ss) != 0)
      continue;
    (void)sendto(fd, junk, sizeof junk, 0, (struct sockaddr *)&ss,
                 v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    s->holes_opened++;
  }
  (void)setsockopt(fd, level, name, &old, sizeof old);
}
