/* netcheck's hop probe driver (nat/netcheck.h, nat/hops.h): on the plan's
 * first socket, IP_RECVERR, one TTL-limited send per request, and the
 * ICMP reports read from the socket's error queue (recvmsg MSG_ERRQUEUE,
 * struct sock_extended_err, SO_EE_OFFENDER: Linux ip(7), ipv6(7)). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h> /* before linux/errqueue.h: struct timespec */

#include <linux/errqueue.h>

#include "nat/error.h"
#include "nat/udp.h"
#include "netcheck_internal.h"
#include "udp_ttl.h"

#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_UNREACH       3
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_UNREACH       1
/* Reports read at one go; more wait for the next callback (POLLERR stays
 * raised while the queue holds any). */
#define DRAIN_MAX 64
/* Bytes of a quote kept: a STUN header is all the probe reads. */
#define QUOTE_MAX 576

/* The server the probe aims at: the family's rfc5780 server if one is
 * named, else the first that resolved (the plan's primary). */
static bool hop_target(const nat_netcheck *nc, uint8_t family, nat_addr *out) {
  int pass;
  size_t i, j;
  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < nc->cfg.nservers; i++) {
      const nat_netcheck_lookup *l = &nc->res.lookups[i];
      if (pass == 0 && !nc->cfg.servers[i].rfc5780)
        continue;
      for (j = 0; j < l->naddrs; j++)
        if (l->addrs[j].family == family) {
          *out = l->addrs[j];
          return true;
        }
    }
  return false;
}

static int set_recverr(nc_sock *k) {
  uv_os_fd_t fd;
  int on = 1, rv = uv_fileno((uv_handle_t *)&k->h, &fd);
  if (rv != 0)
    return rv;
  if (k->local.family == NAT_AF_INET6)
    rv = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
  else
    rv = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  return rv == 0 ? 0 : -errno;
}

void nat__nc_hops_start(nat_netcheck *nc, nc_sock *k, nat_tstamp now) {
  nat_hops_config c;
  if (nc->cfg.no_hops || nc->hops != NULL || k->idx != NC_HOP_SOCK)
    return;
  memset(&c, 0, sizeof c);
  if (!hop_target(nc, k->local.family, &c.target) || set_recverr(k) != 0)
    return;
  nc->hop_recverr = true;
  c.max_ttl = nc->cfg.hops_max_ttl;
  c.deadline = nc->plan_end > now ? nc->plan_end - now : 1;
  c.rand = nat_rand_system;
  if (nat_hops_new(&nc->hops, &c, now) < 0)
    nc->hops = NULL;
}

/* One ICMP report of the error queue, to the probe. */
static void report(nat_netcheck *nc, struct msghdr *msg, const uint8_t *data,
                   size_t len) {
  struct cmsghdr *c;
  for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    struct sock_extended_err ee;
    struct sockaddr_storage off;
    nat_hops_report r;
    size_t dl = c->cmsg_len - CMSG_LEN(0);
    bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
    bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if ((!v4 && !v6) || dl < sizeof ee)
      continue;
    memcpy(&ee, CMSG_DATA(c), sizeof ee);
    memset(&r, 0, sizeof r);
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP)
      r.kind = ee.ee_type == ICMP4_TIME_EXCEEDED ? NAT_HOP_TIME_EXCEEDED
               : ee.ee_type == ICMP4_UNREACH     ? NAT_HOP_UNREACHABLE
                                                 : 0;
    else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6)
      r.kind = ee.ee_type == ICMP6_TIME_EXCEEDED ? NAT_HOP_TIME_EXCEEDED
               : ee.ee_type == ICMP6_UNREACH     ? NAT_HOP_UNREACHABLE
                                                 : 0;
    if (r.kind == 0)
      continue;
    /* SO_EE_OFFENDER: the sockaddr right after the error */
    memset(&off, 0, sizeof off);
    memcpy(&off, CMSG_DATA(c) + sizeof ee,
           dl - sizeof ee < sizeof off ? dl - sizeof ee : sizeof off);
    if (nat_addr_from_sockaddr(&r.offender, (struct sockaddr *)&off) < 0)
      continue;
    if (msg->msg_namelen > 0)
      (void)nat_addr_from_sockaddr(&r.dst, (struct sockaddr *)msg->msg_name);
    r.quote = data;
    r.quote_len = len;
    (void)nat_hops_report_icmp(nc->hops, nat_udp_now(), &r);
  }
}

unsigned nat__nc_hops_drain(nat_netcheck *nc, nc_sock *k) {
  uv_os_fd_t fd;
  unsigned i;
  if (!nc->hop_recverr || k->idx != NC_HOP_SOCK || !k->open ||
      uv_fileno((uv_handle_t *)&k->h, &fd) != 0)
    return 0;
  for (i = 0; i < DRAIN_MAX; i++) {
    union {
      char buf[512];
      struct cmsghdr align;
    } ctl;
    uint8_t data[QUOTE_MAX];
    struct sockaddr_storage name;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    memset(&msg, 0, sizeof msg);
    memset(&name, 0, sizeof name);
    iov.iov_base = data;
    iov.iov_len = sizeof data;
    msg.msg_name = &name;
    msg.msg_namelen = sizeof name;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0)
      break; /* EAGAIN: empty */
    if (nc->hops != NULL)
      report(nc, &msg, data, (size_t)n);
  }
  return i;
}

/* One request with its TTL. A pending ICMP error fails a send once
 * (the socket's sk_err): drain and try again. */
static void send_ttl(nat_netcheck *nc, const nat_hops_send *s) {
  nc_sock *k = &nc->socks[NC_HOP_SOCK];
  struct sockaddr_storage ss;
  int rv, tries;
  if (!k->open ||
      nat_addr_to_sockaddr(&s->dst, (struct sockaddr *)&ss, sizeof ss) < 0) {
    nc->res.hop_send_errors++;
    return;
  }
  for (tries = 0; tries < 2; tries++) {
    nat__nc_hops_drain(nc, k);
    rv = nat__udp_try_send_ttl(&k->h, k->local.family,
                               (const struct sockaddr *)&ss, s->data, s->len,
                               s->ttl);
    if (rv == 0 || rv == UV_EAGAIN)
      break;
  }
  if (rv < 0)
    nc->res.hop_send_errors++;
}

nat_tstamp nat__nc_hops_pump(nat_netcheck *nc, nat_tstamp now) {
  nat_hops_send s;
  if (nc->hops == NULL)
    return NAT_TSTAMP_MAX;
  nat_hops_handle_expiry(nc->hops, now);
  while (nat_hops_next_send(nc->hops, now, &s) > 0)
    send_ttl(nc, &s);
  return nat_hops_get_expiry(nc->hops);
}

int nat__nc_hops_try_send(nat_netcheck *nc, nc_sock *k,
                          const struct sockaddr *sa, const uint8_t *buf,
                          size_t len) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);
  int rv = UV_EAGAIN, tries;
  if (!nc->hop_recverr || k->idx != NC_HOP_SOCK)
    return UV_EAGAIN;
  for (tries = 0; tries < 2; tries++) {
    nat__nc_hops_drain(nc, k);
    rv = uv_udp_try_send(&k->h, &b, 1, sa);
    if (rv >= 0 || rv == UV_EAGAIN)
      break;
  }
  return rv < 0 ? rv : 0;
}

bool nat__nc_hops_recv(nat_netcheck *nc, nc_sock *k, const nat_addr *from,
                       const uint8_t *buf, size_t len) {
  if (nc->hops == NULL || k->idx != NC_HOP_SOCK)
    return false;
  return nat_hops_recv(nc->hops, nat_udp_now(), from, buf, len) == 0;
}

void nat__nc_hops_end(nat_netcheck *nc) {
  if (nc->hops == NULL)
    return;
  nat_hops_cancel(nc->hops);
  nat_hops_get(nc->hops, &nc->res.hops);
  nat_hops_free(nc->hops);
  nc->hops = NULL;
}
