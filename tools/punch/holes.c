/* punch -- opening our NAT's mapping towards the peer before the first
 * check, with datagrams that die before they reach the peer's NAT.
 *
 * Why: on Linux NATs (nftables masquerade, port-restricted), a check that
 * arrives at the peer's NAT before the peer sent anything to us leaves an
 * unreplied conntrack entry there; the peer's own check then clashes with
 * it and is given another source port, which our NAT's filtering drops
 * (measured in natlab: both sides failed every time). So as soon as the
 * peer's candidates are known, both sides send one small datagram with
 * TTL 2 to each of the peer's public candidates: it passes our NAT
 * (creating the mapping the peer's checks will match) and expires at the
 * next router. Checks start later (session.c, punch_check_hold()), so
 * the peer's openers are out before our first check reaches its NAT.
 *
 * A host that is not behind a NAT (the rendezvous or the STUN server saw
 * one of its host addresses) sends none: it has no mapping to open, and its
 * opener would reach the peer's NAT with TTL 1 and be delivered there
 * (the NAT's own address), leaving exactly the entry we want to avoid.
 *
 * nat_udp does not expose its socket, so the descriptor is found by its
 * bound address. */
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

static bool is_host_ip(const punch_sess *s, const nat_addr *a) {
  for (size_t i = 0; i < s->mine.ncands; i++)
    if (s->mine.cands[i].type == NAT_CAND_HOST &&
        nat_addr_equal_ip(&s->mine.cands[i].addr, a))
      return true;
  return false;
}

/* true if a server saw us at one of our host addresses. (Such a
 * server-reflexive address is not in our candidates: it equals a host
 * one.) */
static bool not_behind_nat(const punch_sess *s) {
  return (s->has_seen && is_host_ip(s, &s->seen)) ||
         (s->has_stun_mapped && is_host_ip(s, &s->stun_mapped));
}

void punch_open_holes(punch_sess *s) {
  int fd, old = 64, ttl = HOLE_TTL;
  bool v6 = s->local.family == NAT_AF_INET6;
  int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
  int name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
  socklen_t ol = sizeof old;
  static const uint8_t junk[1] = {0};
  if (not_behind_nat(s) || (fd = find_fd(&s->local)) < 0 ||
      getsockopt(fd, level, name, &old, &ol) != 0 ||
      setsockopt(fd, level, name, &ttl, sizeof ttl) != 0)
    return;
  for (size_t i = 0; i < s->peer.ncands; i++) {
    const nat_cand *c = &s->peer.cands[i];
    struct sockaddr_storage ss;
    int sl;
    if (c->type == NAT_CAND_HOST || c->addr.family != s->local.family)
      continue;
    /* nat_addr_to_sockaddr() returns the sockaddr's length */
    sl = nat_addr_to_sockaddr(&c->addr, (struct sockaddr *)&ss, sizeof ss);
    if (sl <= 0)
      continue;
    if (sendto(fd, junk, sizeof junk, 0, (struct sockaddr *)&ss,
               (socklen_t)sl) == (ssize_t)sizeof junk)
      s->holes_opened++;
  }
  (void)setsockopt(fd, level, name, &old, sizeof old);
}
