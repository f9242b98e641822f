/* QUIC's ECN (RFC 9000 section 13.4) seen on the wire, on loopback: a
 * relay between a client and a server endpoint reads the TOS byte of each
 * datagram (IP_RECVTOS, on its own socket, not libnat's) and forwards the
 * datagram with the same codepoint (an IP_TOS control message), or with
 * the mark cleared, as a path that bleaches it would.
 *
 * ngtcp2 marks its first packets ECT(0) and keeps marking only if the
 * peer's ACK ECN counts show the marks arrived: that needs our sender to
 * put ngtcp2's marking on the datagram (nat_udp_send_ecn) and our
 * receiver to hand the received codepoint to ngtcp2_conn_read_pkt
 * (nat_udp_recv_ecn). With a clean path, the last datagrams of a 256 KB
 * transfer are still ECT(0) both ways; through a bleaching relay, marking
 * stops after the validation sample. QUIC runs on the fixture's fake
 * clock; no sleeps; a guard turns a hang into a failure.
 * Seen here (2026-12-08, ngtcp2 0.12.1): clean path, client to server 200
 * datagrams, 198 ECT(0), the last 182 in a row; server to client 103,
 * 101, 97. Bleached: one ECT(0) datagram each way, then none. Before the
 * fix (pkt_info's marking dropped, Not-ECT handed to read_pkt): no mark
 * at all; with marks sent but Not-ECT handed in: one each way. */
#include "quic_fixture.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/udp.h"

#define ECN_MASK 0x3
/* What the transfer sends, client to server. */
#define XFER_LEN (256 * 1024)
/* ngtcp2 0.12 marks at most this many packets before the peer's ACKs
 * have validated ECN (NGTCP2_ECN_MAX_NUM_VALIDATION_PKTS). */
#define VALIDATION_PKTS 10

enum { C2S, S2C };

typedef struct relay {
  int fd;
  uv_poll_t poll;
  struct sockaddr_in self, srv, cli;
  bool has_cli;
  bool bleach;               /* forward every datagram as Not-ECT */
  unsigned n[2], ect0[2];    /* datagrams seen, of which ECT(0) */
  unsigned other[2];         /* ECT(1) or CE: ngtcp2 never sets them */
  unsigned last_ect0_run[2]; /* ECT(0) datagrams in a row, last ones */
  unsigned stun[2];
} relay;

typedef struct fx {
  qfx q;
  relay r;
  nat_quic_conn *cli;
  int connected, closed;
  int64_t sid;
  uint8_t *tx;
  size_t tx_off, rx_len;
  bool rx_fin;
} fx;

/* ---------------------------------------------------------------- relay */

static void relay_forward(relay *r, int dir, const uint8_t *buf, size_t len,
                          unsigned ecn) {
  union {
    struct cmsghdr align;
    uint8_t b[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {(void *)(uintptr_t)buf, len};
  struct msghdr mh;
  struct cmsghdr *c;
  int tos = r->bleach ? 0 : (int)ecn;
  memset(&mh, 0, sizeof mh);
  memset(&ctl, 0, sizeof ctl);
  mh.msg_name = dir == C2S ? &r->srv : &r->cli;
  mh.msg_namelen = sizeof r->srv;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.b;
  mh.msg_controllen = sizeof ctl.b;
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_TOS;
  c->cmsg_len = CMSG_LEN(sizeof tos);
  memcpy(CMSG_DATA(c), &tos, sizeof tos);
  assert_int_equal(sendmsg(r->fd, &mh, 0), (ssize_t)len);
}

static void relay_on_readable(uv_poll_t *p, int status, int events) {
  relay *r = p->data;
  (void)events;
  assert_int_equal(status, 0);
  for (;;) {
    static uint8_t buf[65536];
    union {
      struct cmsghdr align;
      uint8_t b[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct sockaddr_in from;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh;
    struct cmsghdr *c;
    unsigned ecn = 0;
    bool tos_seen = false;
    ssize_t n;
    int dir;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    n = recvmsg(r->fd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
      return;
    }
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        ecn = CMSG_DATA(c)[0] & ECN_MASK;
        tos_seen = true;
      }
    assert_true(tos_seen); /* IP_RECVTOS always reports the byte */
    dir = from.sin_port == r->srv.sin_port ? S2C : C2S;
    if (dir == C2S) {
      r->cli = from;
      r->has_cli = true;
    } else if (!r->has_cli) {
      continue;
    }
    r->n[dir]++;
    if (ecn == NAT_ECN_ECT0) {
      r->ect0[dir]++;
      r->last_ect0_run[dir]++;
    } else {
      r->last_ect0_run[dir] = 0;
      if (ecn != NAT_ECN_NOT_ECT)
        r->other[dir]++;
    }
    relay_forward(r, dir, buf, (size_t)n, ecn);
  }
}

static void relay_open(fx *f, const nat_addr *srv) {
  relay *r = &f->r;
  socklen_t sl = sizeof r->self;
  int on = 1;
  r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_true(r->fd >= 0);
  assert_int_equal(setsockopt(r->fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on),
                   0);
  memset(&r->self, 0, sizeof r->self);
  r->self.sin_family = AF_INET;
  r->self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(r->fd, (struct sockaddr *)&r->self, sizeof r->self), 0);
  assert_int_equal(getsockname(r->fd, (struct sockaddr *)&r->self, &sl), 0);
  assert_int_equal(
      nat_addr_to_sockaddr(srv, (struct sockaddr *)&r->srv, sizeof r->srv),
      (int)sizeof r->srv);
  assert_int_equal(uv_poll_init_socket(&f->q.loop, &r->poll, r->fd), 0);
  r->poll.data = r;
  assert_int_equal(uv_poll_start(&r->poll, UV_READABLE, relay_on_readable), 0);
}

/* ------------------------------------------------------------ callbacks */

static void tx_pump(fx *f) {
  while (f->tx_off < XFER_LEN) {
    ssize_t n = nat_quic_stream_write(f->cli, f->sid, f->tx + f->tx_off,
                                      XFER_LEN - f->tx_off, true);
    assert_true(n >= 0);
    if (n == 0)
      return; /* on_writable resumes */
    f->tx_off += (size_t)n;
  }
}

static int on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  (void)ep;
  nat_quic_conn_set_arg(c, arg);
  return 0;
}

static void on_connected(nat_quic_conn *c, void *arg) {
  fx *f = arg;
  f->connected++;
  if (c == f->cli) {
    assert_int_equal(nat_quic_stream_open(c, &f->sid), 0);
    tx_pump(f);
  }
}

static void on_stream_data(nat_quic_conn *c, void *arg, int64_t sid,
                           const uint8_t *data, size_t len, bool fin) {
  fx *f = arg;
  (void)sid;
  if (c == f->cli)
    return;
  assert_true(f->rx_len + len <= XFER_LEN);
  assert_memory_equal(data, f->tx + f->rx_len, len);
  f->rx_len += len;
  f->rx_fin |= fin;
}

static void on_writable(nat_quic_conn *c, void *arg, int64_t sid) {
  fx *f = arg;
  (void)sid;
  if (c == f->cli)
    tx_pump(f);
}

static void on_closed(nat_quic_conn *c, void *arg,
                      const nat_quic_close_info *info) {
  fx *f = arg;
  (void)info;
  if (c == f->cli)
    f->cli = NULL;
  f->closed++;
}

static const nat_quic_callbacks callbacks = {
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_data = on_stream_data,
    .on_writable = on_writable,
    .on_closed = on_closed,
};

/* ---------------------------------------------------------------- tests */

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qfx_init(&f->q, 20000);
  qfx_identities(&f->q);
  f->r.fd = -1;
  f->tx = qfx_pattern(XFER_LEN, 14);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  qfx_close_eps(&f->q);
  if (f->r.fd >= 0) {
    uv_close((uv_handle_t *)&f->r.poll, NULL);
    close(f->r.fd);
  }
  qfx_fini(&f->q);
  free(f->tx);
  free(f);
  return 0;
}

/* Client -> relay -> server, XFER_LEN bytes client to server. */
static void transfer(fx *f) {
  nat_quic_endpoint *srv, *cli;
  nat_addr srv_addr, relay_addr;
  qfx_pair(&f->q, "127.0.0.1", &callbacks, f, &srv, &srv_addr, &cli);
  relay_open(f, &srv_addr);
  assert_int_equal(
      nat_addr_from_sockaddr(&relay_addr, (struct sockaddr *)&f->r.self), 0);
  assert_int_equal(nat_quic_connect(cli, &relay_addr, f->q.pinb, f, &f->cli),
                   0);
  run_until(f, &f->connected, 2);
  qfx_guard_start(&f->q);
  while (!(f->rx_fin && f->rx_len == XFER_LEN) && !f->q.expired)
    qfx_step(&f->q);
  qfx_guard_stop(&f->q, __LINE__, "the transfer", f->rx_len, XFER_LEN);
  fprintf(stderr,
          "# c2s %u datagrams, %u ECT(0), last %u ECT(0); s2c %u, %u, %u\n",
          f->r.n[C2S], f->r.ect0[C2S], f->r.last_ect0_run[C2S], f->r.n[S2C],
          f->r.ect0[S2C], f->r.last_ect0_run[S2C]);
  assert_int_equal(f->r.other[C2S] + f->r.other[S2C], 0);
}

/* A path that keeps the marks: ECN validates both ways, and marking goes
 * on past the validation sample to the end of the transfer. */
static void test_ecn_validated(void **state) {
  fx *f = *state;
  transfer(f);
  assert_true(f->r.n[C2S] > 4 * VALIDATION_PKTS);
  assert_true(f->r.ect0[C2S] > 3 * VALIDATION_PKTS);
  assert_true(f->r.last_ect0_run[C2S] > VALIDATION_PKTS);
  assert_true(f->r.ect0[S2C] > VALIDATION_PKTS);
  assert_true(f->r.last_ect0_run[S2C] > 0);
}

/* A path that clears the marks: the peer reports no ECT(0) arrivals, so
 * each side stops marking after its validation sample. */
static void test_ecn_bleached(void **state) {
  fx *f = *state;
  f->r.bleach = true;
  transfer(f);
  assert_true(f->r.n[C2S] > 4 * VALIDATION_PKTS);
  assert_true(f->r.ect0[C2S] > 0); /* ngtcp2 did try */
  assert_true(f->r.ect0[C2S] <= VALIDATION_PKTS);
  assert_int_equal(f->r.last_ect0_run[C2S], 0);
  assert_true(f->r.ect0[S2C] <= VALIDATION_PKTS);
  assert_int_equal(f->r.last_ect0_run[S2C], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ecn_validated, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_ecn_bleached, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
