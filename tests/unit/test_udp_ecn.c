/* The UDP driver's ECN codepoints (nat_udp_send_ecn, nat_udp_recv_ecn) on
 * real loopback sockets, IPv4 and IPv6, checked against plain sockets of
 * the test's own: one that reads each datagram's TOS / traffic class byte
 * (IP_RECVTOS, IPV6_RECVTCLASS) and one that sends with a chosen byte (an
 * IP_TOS / IPV6_TCLASS control message). No sleeps: the loop runs until
 * the callbacks fire; poll() waits for the plain socket, with a guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/error.h"
#include "nat/udp.h"

#define GUARD_MS 10000

typedef struct fx {
  uv_loop_t loop;
  uv_timer_t guard;
  bool expired;
  nat_udp *u;
  int closed;
  int fd; /* the plain socket */
  nat_addr fd_addr, u_addr;
  /* what the receive callback saw */
  int calls;
  unsigned ecn[8];
  uint8_t first[8];
} fx;

static void on_guard(uv_timer_t *t) {
  ((fx *)t->data)->expired = true;
}

static void on_recv(nat_udp *u, void *arg, const nat_addr *from,
                    const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  (void)from;
  (void)msg;
  assert_int_equal(len, 1);
  if (f->calls < 8) {
    f->ecn[f->calls] = nat_udp_recv_ecn(u);
    f->first[f->calls] = buf[0];
  }
  f->calls++;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
  f->guard.data = f;
  f->fd = -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->u)
    nat_udp_close(f->u, NULL, NULL);
  if (f->fd >= 0)
    close(f->fd);
  uv_close((uv_handle_t *)&f->guard, NULL);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

/* A nat_udp and a plain socket reporting TOS / traffic class, both on the
 * loopback address @p ip. */
static void open_pair(fx *f, const char *ip) {
  nat_udp_config cfg;
  struct sockaddr_storage ss;
  socklen_t sl;
  bool v6 = strchr(ip, ':') != NULL;
  int on = 1;
  memset(&cfg, 0, sizeof cfg);
  assert_int_equal(nat_addr_parse(&cfg.bind, ip, 0), 0);
  assert_int_equal(nat_udp_new(&f->u, &f->loop, &cfg), 0);
  assert_int_equal(nat_udp_local_addr(f->u, &f->u_addr), 0);
  nat_udp_set_recv_cb(f->u, on_recv, f);
  f->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(f->fd >= 0);
  if (v6)
    assert_int_equal(
        setsockopt(f->fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on), 0);
  else
    assert_int_equal(setsockopt(f->fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on),
                     0);
  sl = (socklen_t)nat_addr_to_sockaddr(&cfg.bind, (struct sockaddr *)&ss,
                                       sizeof ss);
  assert_int_equal(bind(f->fd, (struct sockaddr *)&ss, sl), 0);
  sl = sizeof ss;
  assert_int_equal(getsockname(f->fd, (struct sockaddr *)&ss, &sl), 0);
  assert_int_equal(nat_addr_from_sockaddr(&f->fd_addr, (struct sockaddr *)&ss),
                   0);
}

/* Read one datagram on the plain socket: @return its TOS / traffic
 * class's ECN bits; *byte gets its one byte. */
static unsigned plain_recv(fx *f, uint8_t *byte) {
  struct pollfd p = {.fd = f->fd, .events = POLLIN};
  union {
    struct cmsghdr align;
    uint8_t b[CMSG_SPACE(sizeof(int)) * 2];
  } ctl;
  uint8_t buf[16];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr mh;
  struct cmsghdr *c;
  int tos = -1;
  assert_int_equal(poll(&p, 1, GUARD_MS), 1);
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.b;
  mh.msg_controllen = sizeof ctl.b;
  assert_int_equal(recvmsg(f->fd, &mh, 0), 1);
  for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
      tos = CMSG_DATA(c)[0];
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)
      memcpy(&tos, CMSG_DATA(c), sizeof tos);
  }
  assert_true(tos >= 0);           /* the byte is always reported */
  assert_int_equal(tos & ~0x3, 0); /* DSCP stays 0 */
  *byte = buf[0];
  return (unsigned)tos & 0x3;
}

/* Send one byte from the plain socket to the nat_udp with TOS / traffic
 * class @p tos. */
static void plain_send(fx *f, uint8_t byte, int tos) {
  struct sockaddr_storage ss;
  union {
    struct cmsghdr align;
    uint8_t b[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {&byte, 1};
  struct msghdr mh;
  struct cmsghdr *c;
  bool v6 = f->u_addr.family == NAT_AF_INET6;
  memset(&mh, 0, sizeof mh);
  memset(&ctl, 0, sizeof ctl);
  mh.msg_name = &ss;
  mh.msg_namelen = (socklen_t)nat_addr_to_sockaddr(
      &f->u_addr, (struct sockaddr *)&ss, sizeof ss);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.b;
  mh.msg_controllen = sizeof ctl.b;
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
  c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
  c->cmsg_len = CMSG_LEN(sizeof tos);
  memcpy(CMSG_DATA(c), &tos, sizeof tos);
  assert_int_equal(sendmsg(f->fd, &mh, 0), 1);
}

static void run_until(fx *f, int n) {
  f->expired = false;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  while (f->calls < n && !f->expired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->calls < n)
    fail_msg("timed out: %d of %d datagrams", f->calls, n);
}

/* Each codepoint leaves on the datagram it was given to, and only there:
 * a plain send between marked ones stays Not-ECT. */
static void send_marks(fx *f, const char *ip) {
  static const unsigned order[] = {NAT_ECN_ECT0, NAT_ECN_NOT_ECT, NAT_ECN_CE,
                                   NAT_ECN_ECT1};
  nat_udp_stats st;
  uint8_t b;
  open_pair(f, ip);
  for (uint8_t i = 0; i < 4; i++) {
    assert_int_equal(nat_udp_send_ecn(f->u, &f->fd_addr, &i, 1, order[i]), 0);
    assert_int_equal(plain_recv(f, &b), order[i]);
    assert_int_equal(b, i);
    assert_int_equal(nat_udp_send(f->u, &f->fd_addr, &i, 1), 0);
    assert_int_equal(plain_recv(f, &b), NAT_ECN_NOT_ECT);
  }
  nat_udp_stats_get(f->u, &st);
  assert_int_equal(st.datagrams_out, 8);
  assert_int_equal(st.send_errors, 0);
}

static void test_send_marks_v4(void **state) {
  send_marks(*state, "127.0.0.1");
}

static void test_send_marks_v6(void **state) {
  send_marks(*state, "::1");
}

/* The codepoint a datagram arrived with is what nat_udp_recv_ecn() says
 * inside the receive callback; outside it, Not-ECT. */
static void recv_codepoints(fx *f, const char *ip) {
  static const int tos[] = {0x02, 0x00, 0x03, 0x01, 0xb8 | 0x02};
  nat_udp_stats st;
  open_pair(f, ip);
  for (int i = 0; i < 5; i++)
    plain_send(f, (uint8_t)i, tos[i]);
  run_until(f, 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(f->first[i], i);
    assert_int_equal(f->ecn[i], (unsigned)tos[i] & 0x3); /* DSCP ignored */
  }
  assert_int_equal(nat_udp_recv_ecn(f->u), NAT_ECN_NOT_ECT);
  nat_udp_stats_get(f->u, &st);
  assert_int_equal(st.datagrams_in, 5);
  assert_int_equal(st.recv_errors, 0);
}

static void test_recv_codepoints_v4(void **state) {
  recv_codepoints(*state, "127.0.0.1");
}

static void test_recv_codepoints_v6(void **state) {
  recv_codepoints(*state, "::1");
}

/* The descriptor of the socket bound to @p a (the test's own search:
 * the driver has no accessor), or -1. */
static int fd_bound_to(const nat_addr *a) {
  for (int fd = 3; fd < 1024; fd++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    nat_addr got;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
        type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        nat_addr_from_sockaddr(&got, (struct sockaddr *)&ss) != 0)
      continue;
    if (nat_addr_equal(&got, a))
      return fd;
  }
  return -1;
}

/* An ICMP error queued on the socket (IP_RECVERR, as a hop probe sets:
 * port unreachable from a closed loopback port) makes the poll report
 * POLLERR, on which libuv stops the handle: the driver takes the error
 * off and reads on, so the next datagram still arrives. */
static void test_reads_after_icmp_error(void **state) {
  fx *f = *state;
  nat_addr closed;
  nat_udp_stats st;
  int on = 1, ufd, tmp;
  uint8_t b = 7;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  open_pair(f, "127.0.0.1");
  ufd = fd_bound_to(&f->u_addr);
  assert_true(ufd >= 0);
  assert_int_equal(setsockopt(ufd, IPPROTO_IP, IP_RECVERR, &on, sizeof on), 0);
  /* a port that was bound and is closed again: nothing listens there */
  tmp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(tmp >= 0);
  assert_int_equal(nat_addr_parse(&closed, "127.0.0.1", 0), 0);
  sl = (socklen_t)nat_addr_to_sockaddr(&closed, (struct sockaddr *)&ss,
                                       sizeof ss);
  assert_int_equal(bind(tmp, (struct sockaddr *)&ss, sl), 0);
  sl = sizeof ss;
  assert_int_equal(getsockname(tmp, (struct sockaddr *)&ss, &sl), 0);
  assert_int_equal(nat_addr_from_sockaddr(&closed, (struct sockaddr *)&ss), 0);
  close(tmp);
  assert_int_equal(nat_udp_send(f->u, &closed, &b, 1), 0);
  /* the error is queued at once on loopback; then a datagram to read */
  plain_send(f, 1, 0);
  run_until(f, 1);
  assert_int_equal(f->first[0], 1);
  nat_udp_stats_get(f->u, &st);
  assert_int_equal(st.datagrams_in, 1);
  assert_true(st.recv_errors >= 1); /* the error, taken off and counted */
  /* and the socket keeps reading */
  plain_send(f, 2, 0);
  run_until(f, 2);
  assert_int_equal(f->first[1], 2);
}

static void test_errors(void **state) {
  fx *f = *state;
  nat_addr v6;
  uint8_t b = 0;
  open_pair(f, "127.0.0.1");
  assert_int_equal(nat_udp_send_ecn(f->u, &f->fd_addr, &b, 1, 4), NAT_EINVAL);
  assert_int_equal(nat_udp_send_ecn(NULL, &f->fd_addr, &b, 1, 2), NAT_EINVAL);
  assert_int_equal(nat_udp_send_ecn(f->u, NULL, &b, 1, 2), NAT_EINVAL);
  assert_int_equal(nat_udp_send_ecn(f->u, &f->fd_addr, NULL, 1, 2), NAT_EINVAL);
  assert_int_equal(nat_addr_parse(&v6, "::1", 9), 0);
  assert_int_equal(nat_udp_send_ecn(f->u, &v6, &b, 1, 2), NAT_EBADFAMILY);
  assert_int_equal(nat_udp_recv_ecn(NULL), NAT_ECN_NOT_ECT);
  nat_udp_close(f->u, NULL, NULL);
  assert_int_equal(nat_udp_send_ecn(f->u, &f->fd_addr, &b, 1, 2), NAT_ECLOSING);
  f->u = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_send_marks_v4, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_marks_v6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recv_codepoints_v4, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recv_codepoints_v6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reads_after_icmp_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
