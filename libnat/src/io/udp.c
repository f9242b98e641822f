/* The UDP driver: one libuv UDP socket and one timer around a sans-I/O
 * nat_txn_mgr. Datagrams due from the manager are sent at once with
 * uv_udp_try_send() or queued (uv_udp_send) when the socket would block;
 * received datagrams are demultiplexed between the transaction layer and the
 * receive callback (see udp.h).
 *
 * ECN (RFC 3168, RFC 9000 section 13.4): libuv 1.44 neither sets nor
 * reports a datagram's IP TOS / traffic class byte, so the driver reads
 * with recvmsg() itself (IP_RECVTOS / IPV6_RECVTCLASS ancillary data),
 * through a uv_poll_t on a duplicate of the socket's descriptor (libuv
 * keeps one watcher per descriptor number: the uv_udp_t keeps the original
 * for its queued sends), and nat_udp_send_ecn() marks a datagram with a
 * sendmsg() IP_TOS / IPV6_TCLASS control message. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/error.h"
#include "nat/udp.h"
#include "udp_ttl.h"

/* Largest SOFTWARE value RFC 8489 section 14.14 allows. */
#define UDP_SOFTWARE_MAX 763
/* Room for a Binding request: header, CHANGE-REQUEST, SOFTWARE, FINGERPRINT */
#define UDP_BINDING_CAP (NAT_STUN_HEADER_LEN + 8 + 4 + UDP_SOFTWARE_MAX + 1 + 8)
#define UDP_SBUF_INIT   2048
#define UDP_RBUF_LEN    65536
/* Datagrams read in one readable callback (libuv reads 32 too). */
#define UDP_READS_MAX 32
#define UDP_ECN_MASK  0x3

/* What a transaction started through the driver calls back; given to the
 * manager as the transaction's `user` pointer. */
typedef struct udp_txn_rec {
  nat_udp_stun_cb cb;
  void *arg;
} udp_txn_rec;

/* A queued datagram: the libuv request and a copy of the bytes. */
typedef struct udp_send_req {
  uv_udp_send_t req;
  nat_udp *u;
  size_t len;
  uint8_t data[];
} udp_send_req;

struct nat_udp {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t timer;
  uv_poll_t poll; /* readable: on rfd, a duplicate of udp's descriptor */
  int rfd;        /* -1 until the poll handle is made */
  uint8_t rx_ecn; /* ECN of the datagram being delivered (nat_udp_recv_ecn) */
  nat_txn_mgr *mgr;
  uint8_t family;
  bool closing;
  int open_handles; /* handles whose close callback is still to come */
  nat_udp_close_cb close_cb;
  void *close_arg;
  nat_udp_recv_cb recv_cb;
  void *recv_arg;
  nat_rand_fn rand;
  void *rand_ctx;
  char *software;
  nat_udp_stats stats; /* .txn is filled in by nat_udp_stats_get() */
  uint64_t queued;     /* datagrams handed to uv_udp_send, not yet done */
  uint8_t *sbuf;       /* scratch for nat_txn_mgr_next_send() */
  size_t sbuf_cap;
  uint8_t rbuf[UDP_RBUF_LEN];
};

static void udp_flush(nat_udp *u);

/* ------------------------------------------------------------- lifetime */

static void udp_free(nat_udp *u) {
  nat_txn_mgr_free(u->mgr);
  free(u->software);
  free(u->sbuf);
  free(u);
}

static void udp_on_handle_closed(uv_handle_t *h) {
  nat_udp *u = h->data;
  if (--u->open_handles > 0)
    return;
  if (u->close_cb)
    u->close_cb(u, u->close_arg);
  udp_free(u);
}

/* Close whatever handles are open; the last close callback frees @p u. */
static void udp_close_handles(nat_udp *u) {
  if (u->rfd >= 0) { /* before udp: its close takes the original out of
                      * epoll while the duplicate is gone */
    uv_close((uv_handle_t *)&u->poll, udp_on_handle_closed);
    (void)close(u->rfd);
    u->rfd = -1;
  }
  if (!uv_is_closing((uv_handle_t *)&u->udp))
    uv_close((uv_handle_t *)&u->udp, udp_on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&u->timer))
    uv_close((uv_handle_t *)&u->timer, udp_on_handle_closed);
}

/* ------------------------------------------------------------- sending */

static void udp_on_sent(uv_udp_send_t *req, int status) {
  udp_send_req *sr = (udp_send_req *)req;
  nat_udp *u = sr->u;
  u->queued--;
  if (status < 0)
    u->stats.send_errors++;
  else
    u->stats.datagrams_out++;
  free(sr);
}

/* Queue a copy of the datagram behind the ones already waiting.
 * @return 0 or NAT_ENOMEM. */
static int udp_queue(nat_udp *u, const struct sockaddr *sa, const uint8_t *buf,
                     size_t len) {
  udp_send_req *sr = malloc(sizeof *sr + len);
  uv_buf_t b;
  int rc;
  if (!sr)
    return NAT_ENOMEM;
  sr->u = u;
  sr->len = len;
  if (len > 0)
    memcpy(sr->data, buf, len);
  b = uv_buf_init((char *)sr->data, (unsigned)len);
  rc = uv_udp_send(&sr->req, &u->udp, &b, 1, sa, udp_on_sent);
  if (rc < 0) {
    u->stats.send_errors++;
    free(sr);
    return 0;
  }
  if (++u->queued > u->stats.queued_max)
    u->stats.queued_max = u->queued;
  return 0;
}

/* Send now if nothing is queued and the socket takes it; else queue a copy.
 * Errors from the network (ENETUNREACH, EINVAL for port 0, ...) are counted
 * in send_errors, never fatal. @return 0 or NAT_ENOMEM. */
static int udp_send_raw(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                        size_t len) {
  struct sockaddr_storage ss;
  const struct sockaddr *sa = (const struct sockaddr *)&ss;
  int rc = nat_addr_to_sockaddr(dst, (struct sockaddr *)&ss, sizeof ss);
  if (rc < 0) {
    u->stats.send_errors++;
    return 0;
  }
  if (u->queued == 0) {
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);
    rc = uv_udp_try_send(&u->udp, &b, 1, sa);
    if (rc >= 0) {
      u->stats.datagrams_out++;
      return 0;
    }
    if (rc != UV_EAGAIN) {
      u->stats.send_errors++;
      return 0;
    }
  }
  return udp_queue(u, sa, buf, len);
}

/* ---------------------------------------------------------------- timer */

static void udp_on_timer(uv_timer_t *t) {
  nat_udp *u = t->data;
  if (u->closing)
    return;
  nat_txn_mgr_handle_expiry(u->mgr, nat_udp_now());
  udp_flush(u); /* checks closing: a callback may have closed u */
}

/* Arm the timer for the manager's next expiry, rounded up to whole
 * milliseconds (libuv timers have 1 ms resolution); an early wake-up only
 * re-arms. */
static void udp_arm_timer(nat_udp *u) {
  nat_tstamp exp = nat_txn_mgr_get_expiry(u->mgr);
  nat_tstamp now;
  uint64_t ms = 0;
  if (exp == NAT_TSTAMP_MAX) {
    uv_timer_stop(&u->timer);
    return;
  }
  now = nat_udp_now();
  if (exp > now)
    ms = (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS;
  uv_update_time(u->loop); /* the timer counts from the loop's "now" */
  uv_timer_start(&u->timer, udp_on_timer, ms, 0);
}

/* Send every datagram the manager has due, then re-arm the timer. */
static void udp_flush(nat_udp *u) {
  nat_tstamp now;
  if (u->closing)
    return;
  now = nat_udp_now();
  for (;;) {
    nat_addr dst;
    ssize_t n = nat_txn_mgr_next_send(u->mgr, now, u->sbuf, u->sbuf_cap, &dst);
    if (n == NAT_ENOBUFS && u->sbuf_cap < NAT_STUN_MAX_MSG) {
      uint8_t *nb = realloc(u->sbuf, NAT_STUN_MAX_MSG);
      if (!nb)
        break; /* still due: the timer fires at once and retries */
      u->sbuf = nb;
      u->sbuf_cap = NAT_STUN_MAX_MSG;
      continue;
    }
    if (n <= 0)
      break;
    if (udp_send_raw(u, &dst, u->sbuf, (size_t)n) < 0)
      u->stats.send_errors++; /* out of memory: the retransmission retries */
  }
  udp_arm_timer(u);
}

/* -------------------------------------------------------------- receive */

/* The class bits of a STUN header (RFC 8489 section 5). */
static uint8_t udp_stun_class(const uint8_t *p) {
  unsigned type = ((unsigned)p[0] << 8) | p[1];
  return (uint8_t)(((type >> 7) & 0x2u) | ((type >> 4) & 0x1u));
}

static bool udp_is_response_class(const uint8_t *p) {
  uint8_t cls = udp_stun_class(p);
  return cls == NAT_STUN_SUCCESS || cls == NAT_STUN_ERROR;
}

/* By its header, possibly a classic RFC 3489 success or error response (no
 * magic cookie): worth decoding. */
static bool udp_may_be_classic_response(const uint8_t *p, size_t len) {
  return len >= NAT_STUN_HEADER_LEN && (p[0] & 0xC0) == 0 &&
         udp_is_response_class(p);
}

/* Route one datagram: responses to the transaction layer, everything else
 * (requests, indications, non-STUN) to the receive callback. A response
 * the manager refused goes to the receive callback too when it is
 * "unmatched" (an ID the manager never had or has forgotten: someone
 * else's transaction on this socket, e.g. connectivity checks); the
 * manager's own duplicates, spoofed answers to its live transactions and
 * malformed messages are dropped (all counted by the manager). A datagram
 * is decoded once, here: the manager gets the view, and so does the
 * receive callback (NULL when the datagram is not STUN or did not
 * decode). */
static void udp_dispatch(nat_udp *u, const nat_addr *from, const uint8_t *p,
                         size_t len) {
  bool stun = nat_stun_is_stun(p, len);
  nat_stun_msg m;
  const nat_stun_msg *view = NULL;
  if (stun || udp_may_be_classic_response(p, len)) {
    ssize_t n = nat_stun_decode(&m, p, len);
    if (stun || (n >= 0 && m.classic)) {
      nat_txn_stats before, after;
      int rc;
      if (n >= 0)
        view = &m;
      nat_txn_mgr_stats(u->mgr, &before);
      rc = nat_txn_mgr_recv_msg(u->mgr, nat_udp_now(), from, &m, n);
      if (rc == 0) {
        udp_flush(u);
        return;
      }
      nat_txn_mgr_stats(u->mgr, &after);
      /* NAT_ENOTFOUND covers both unmatched and duplicate: the counters
       * tell them apart. */
      if ((!stun || udp_is_response_class(p)) &&
          !(rc == NAT_ENOTFOUND && after.unmatched > before.unmatched))
        return;
    }
  }
  if (u->recv_cb && !u->closing)
    u->recv_cb(u, u->recv_arg, from, p, len, view);
}

/* The ECN codepoint in @p mh's IP_TOS / IPV6_TCLASS control message
 * (NAT_ECN_NOT_ECT when there is none). */
static uint8_t udp_cmsg_ecn(struct msghdr *mh) {
  struct cmsghdr *c;
  for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
        c->cmsg_len >= CMSG_LEN(1))
      return (uint8_t)(CMSG_DATA(c)[0] & UDP_ECN_MASK);
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int tc;
      memcpy(&tc, CMSG_DATA(c), sizeof tc);
      return (uint8_t)(tc & UDP_ECN_MASK);
    }
  }
  return NAT_ECN_NOT_ECT;
}

/* Read one datagram into u->rbuf. @return its length, or -1 when nothing
 * more is to be read now (would block, or a failed read: counted). */
static ssize_t udp_read_one(nat_udp *u, nat_addr *from) {
  struct sockaddr_storage ss;
  union {
    struct cmsghdr align;
    uint8_t buf[CMSG_SPACE(sizeof(int)) * 2];
  } ctl;
  struct iovec iov = {u->rbuf, sizeof u->rbuf};
  struct msghdr mh;
  ssize_t n;
  for (;;) {
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &ss;
    mh.msg_namelen = sizeof ss;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof ctl.buf;
    n = recvmsg(u->rfd, &mh, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        u->stats.recv_errors++;
      return -1;
    }
    if ((mh.msg_flags & MSG_TRUNC) || mh.msg_namelen == 0 ||
        nat_addr_from_sockaddr(from, (const struct sockaddr *)&ss) != 0) {
      u->stats.recv_errors++; /* truncated, or no usable source: dropped */
      continue;
    }
    u->rx_ecn = udp_cmsg_ecn(&mh);
    return n;
  }
}

/* The socket is readable: deliver what is there (at most UDP_READS_MAX
 * datagrams, then back to the loop). */
static void udp_on_readable(uv_poll_t *p, int status, int events) {
  nat_udp *u = p->data;
  (void)events;
  if (status < 0) {
    /* libuv stops a poll handle on POLLERR: take the pending error (and
     * anything in the error queue) off the socket, count it, and read
     * on, or the socket would stay deaf for the rest of its life */
    uint8_t junk[64];
    int err = 0;
    socklen_t elen = sizeof err;
    u->stats.recv_errors++;
    (void)getsockopt(u->rfd, SOL_SOCKET, SO_ERROR, &err, &elen);
    for (int i = 0; i < UDP_READS_MAX; i++)
      if (recv(u->rfd, junk, sizeof junk, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        break;
    if (!u->closing)
      (void)uv_poll_start(&u->poll, UV_READABLE, udp_on_readable);
    return;
  }
  for (int i = 0; i < UDP_READS_MAX && !u->closing; i++) {
    nat_addr from;
    ssize_t n = udp_read_one(u, &from);
    if (n < 0)
      return;
    u->stats.datagrams_in++;
    udp_dispatch(u, &from, u->rbuf, (size_t)n);
    u->rx_ecn = NAT_ECN_NOT_ECT;
  }
}

/* Ask for each datagram's TOS / traffic class byte and start reading on a
 * duplicate of the socket's descriptor. On failure the caller closes the
 * handles (the poll handle too once made). */
static int udp_start_reading(nat_udp *u) {
  uv_os_fd_t fd;
  int on = 1, rc, rfd;
  if ((rc = uv_fileno((uv_handle_t *)&u->udp, &fd)) != 0)
    return rc;
  if (u->family == NAT_AF_INET6)
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
  else
    rc = setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
  if (rc != 0)
    return uv_translate_sys_error(errno);
  if ((rfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
    return uv_translate_sys_error(errno);
  if ((rc = uv_poll_init_socket(u->loop, &u->poll, rfd)) < 0) {
    (void)close(rfd);
    return rc;
  }
  u->rfd = rfd;
  u->poll.data = u;
  u->open_handles++;
  return uv_poll_start(&u->poll, UV_READABLE, udp_on_readable);
}

/* --------------------------------------------------------- transactions */

static void udp_on_txn_done(void *cb_arg, const nat_txn_result *r) {
  nat_udp *u = cb_arg;
  udp_txn_rec *rec = r->user;
  nat_txn_result res = *r;
  nat_udp_stun_cb cb = rec->cb;
  res.user = rec->arg;
  free(rec);
  if (cb)
    cb(u, res.user, &res);
}

/* ------------------------------------------------------------------ API */

static int udp_check_config(const nat_udp_config *cfg) {
  if (cfg->bind.family != NAT_AF_INET && cfg->bind.family != NAT_AF_INET6)
    return NAT_EINVAL;
  if (cfg->software && strlen(cfg->software) > UDP_SOFTWARE_MAX)
    return NAT_EINVAL;
  return 0;
}

/* Create the socket, bind it and start reading. On failure the handles are
 * closed (asynchronously) and @p u is freed by their close callbacks. */
static int udp_open_socket(nat_udp *u, const nat_addr *bind) {
  struct sockaddr_storage ss;
  unsigned af = bind->family == NAT_AF_INET6 ? AF_INET6 : AF_INET;
  unsigned flags = bind->family == NAT_AF_INET6 ? UV_UDP_IPV6ONLY : 0;
  int rc = nat_addr_to_sockaddr(bind, (struct sockaddr *)&ss, sizeof ss);
  if (rc < 0)
    return rc;
  rc = uv_udp_init_ex(u->loop, &u->udp, af);
  if (rc < 0)
    return rc;
  u->udp.data = u;
  u->timer.data = u;
  uv_timer_init(u->loop, &u->timer);
  u->open_handles = 2;
  rc = uv_udp_bind(&u->udp, (const struct sockaddr *)&ss, flags);
  if (rc == 0)
    rc = udp_start_reading(u);
  if (rc < 0) {
    u->closing = true;
    udp_close_handles(u);
  }
  return rc;
}

/** Open and bind a UDP socket on @p loop for STUN transactions and other
 * datagrams; see udp.h. */
int nat_udp_new(nat_udp **out, uv_loop_t *loop, const nat_udp_config *cfg) {
  nat_udp *u;
  int rc;
  if (!out || !loop || !cfg)
    return NAT_EINVAL;
  *out = NULL;
  if ((rc = udp_check_config(cfg)) < 0)
    return rc;
  u = calloc(1, sizeof *u);
  if (!u)
    return NAT_ENOMEM;
  u->loop = loop;
  u->rfd = -1;
  u->family = cfg->bind.family;
  u->rand = cfg->rand ? cfg->rand : nat_rand_system;
  u->rand_ctx = cfg->rand ? cfg->rand_ctx : NULL;
  u->sbuf = malloc(UDP_SBUF_INIT);
  u->sbuf_cap = UDP_SBUF_INIT;
  if (cfg->software)
    u->software = strdup(cfg->software);
  if (!u->sbuf || (cfg->software && !u->software)) {
    udp_free(u);
    return NAT_ENOMEM;
  }
  rc = nat_txn_mgr_new(&u->mgr, &cfg->txn, udp_on_txn_done, u);
  if (rc < 0) {
    u->mgr = NULL;
    udp_free(u);
    return rc;
  }
  rc = udp_open_socket(u, &cfg->bind);
  if (rc < 0) {
    if (u->open_handles == 0)
      udp_free(u);
    return rc;
  }
  *out = u;
  return 0;
}

/** The bound local address; see udp.h. */
int nat_udp_local_addr(const nat_udp *u, nat_addr *out) {
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  int rc;
  if (!u || !out)
    return NAT_EINVAL;
  rc = uv_udp_getsockname(&u->udp, (struct sockaddr *)&ss, &len);
  if (rc < 0)
    return rc;
  return nat_addr_from_sockaddr(out, (const struct sockaddr *)&ss);
}

static int udp_check_dst(const nat_udp *u, const nat_addr *dst) {
  if (u->closing)
    return NAT_ECLOSING;
  if (dst->family != u->family)
    return NAT_EBADFAMILY;
  return 0;
}

/** Start a transaction with a caller-encoded request; see udp.h. */
int nat_udp_request(nat_udp *u, const nat_addr *dst, const uint8_t *req,
                    size_t len, const nat_txn_opts *opts, nat_udp_stun_cb cb,
                    void *arg) {
  udp_txn_rec *rec;
  int rc;
  if (!u || !dst || !req)
    return NAT_EINVAL;
  if ((rc = udp_check_dst(u, dst)) < 0)
    return rc;
  rec = malloc(sizeof *rec);
  if (!rec)
    return NAT_ENOMEM;
  rec->cb = cb;
  rec->arg = arg;
  if (len > u->sbuf_cap && len <= NAT_STUN_MAX_MSG) {
    uint8_t *nb = realloc(u->sbuf, len);
    if (!nb) {
      free(rec);
      return NAT_ENOMEM;
    }
    u->sbuf = nb;
    u->sbuf_cap = len;
  }
  rc = nat_txn_start(u->mgr, nat_udp_now(), dst, req, len, opts, rec);
  if (rc < 0) {
    free(rec);
    return rc;
  }
  udp_flush(u);
  return 0;
}

/** Build and start a Binding request; see udp.h. */
int nat_udp_binding(nat_udp *u, const nat_addr *dst, uint32_t change_flags,
                    const nat_txn_opts *opts, nat_udp_stun_cb cb, void *arg,
                    uint8_t tid_out[NAT_STUN_TID_LEN]) {
  uint8_t buf[UDP_BINDING_CAP];
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_stun_builder b;
  ssize_t n;
  int rc;
  if (!u || !dst)
    return NAT_EINVAL;
  if ((rc = udp_check_dst(u, dst)) < 0)
    return rc;
  nat_udp_new_tid(u, tid);
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        tid);
  if (change_flags)
    nat_stun_add_change_request(&b, change_flags);
  if (u->software)
    nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, u->software);
  n = nat_stun_builder_finish(&b, true);
  if (n < 0)
    return (int)n;
  rc = nat_udp_request(u, dst, buf, (size_t)n, opts, cb, arg);
  if (rc == 0 && tid_out)
    memcpy(tid_out, tid, NAT_STUN_TID_LEN);
  return rc;
}

/** A fresh transaction ID from the socket's random source; see udp.h. */
void nat_udp_new_tid(nat_udp *u, uint8_t tid[NAT_STUN_TID_LEN]) {
  u->rand(u->rand_ctx, tid, NAT_STUN_TID_LEN);
}

/** Send a raw datagram, queued if the socket would block; see udp.h. */
int nat_udp_send(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                 size_t len) {
  int rc;
  if (!u || !dst || (!buf && len > 0))
    return NAT_EINVAL;
  if ((rc = udp_check_dst(u, dst)) < 0)
    return rc;
  return udp_send_raw(u, dst, buf, len);
}

/* Send @p buf to @p sa now with the ECN codepoint @p ecn in an IP_TOS /
 * IPV6_TCLASS control message (the other six bits, DSCP, stay 0).
 * @return bytes sent, or a negative UV code (UV_EAGAIN: would block). */
static ssize_t udp_sendmsg_ecn(nat_udp *u, const struct sockaddr *sa,
                               const uint8_t *buf, size_t len, unsigned ecn) {
  union {
    struct cmsghdr align;
    uint8_t buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov = {(void *)(uintptr_t)buf, len};
  struct msghdr mh;
  struct cmsghdr *c;
  int tos = (int)ecn;
  ssize_t n;
  memset(&mh, 0, sizeof mh);
  memset(&ctl, 0, sizeof ctl);
  mh.msg_name = (void *)(uintptr_t)sa;
  mh.msg_namelen = u->family == NAT_AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = u->family == NAT_AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  c->cmsg_type = u->family == NAT_AF_INET6 ? IPV6_TCLASS : IP_TOS;
  c->cmsg_len = CMSG_LEN(sizeof tos);
  memcpy(CMSG_DATA(c), &tos, sizeof tos);
  do
    n = sendmsg(u->rfd, &mh, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n < 0 ? uv_translate_sys_error(errno) : n;
}

/** Send a raw datagram with an ECN codepoint; see udp.h. */
int nat_udp_send_ecn(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                     size_t len, unsigned ecn) {
  struct sockaddr_storage ss;
  ssize_t n;
  int rc;
  if (!u || !dst || (!buf && len > 0) || ecn > UDP_ECN_MASK)
    return NAT_EINVAL;
  if ((rc = udp_check_dst(u, dst)) < 0)
    return rc;
  if (ecn == NAT_ECN_NOT_ECT || u->queued > 0)
    return udp_send_raw(u, dst, buf, len); /* behind the queue: unmarked */
  if (nat_addr_to_sockaddr(dst, (struct sockaddr *)&ss, sizeof ss) < 0) {
    u->stats.send_errors++;
    return 0;
  }
  /* sendmsg(), not uv_udp_try_send(): libuv 1.44 takes no control data */
  n = udp_sendmsg_ecn(u, (const struct sockaddr *)&ss, buf, len, ecn);
  if (n >= 0) {
    u->stats.datagrams_out++;
    return 0;
  }
  if (n != UV_EAGAIN) {
    u->stats.send_errors++;
    return 0;
  }
  return udp_queue(u, (const struct sockaddr *)&ss, buf, len);
}

/** The ECN codepoint of the datagram being delivered; see udp.h. */
unsigned nat_udp_recv_ecn(const nat_udp *u) {
  return u ? u->rx_ecn : NAT_ECN_NOT_ECT;
}

/** Set the callback for datagrams that are not transaction responses. */
void nat_udp_set_recv_cb(nat_udp *u, nat_udp_recv_cb cb, void *arg) {
  if (!u)
    return;
  u->recv_cb = cb;
  u->recv_arg = arg;
}

/** Feed an RTT measured elsewhere to the RTO estimator. */
void nat_udp_seed_rtt(nat_udp *u, nat_tstamp rtt) {
  if (!u)
    return;
  nat_txn_mgr_seed_rtt(u->mgr, rtt);
}

/** Copy the driver's counters, with the transaction layer's, to @p out. */
void nat_udp_stats_get(const nat_udp *u, nat_udp_stats *out) {
  if (!u || !out)
    return;
  *out = u->stats;
  nat_txn_mgr_stats(u->mgr, &out->txn);
}

/** The loop's clock in nanoseconds (uv_hrtime()). */
nat_tstamp nat_udp_now(void) {
  return uv_hrtime();
}

/** Cancel live transactions, close the socket and timer, call @p cb and
 * free @p u; see udp.h. A second call does nothing. */
void nat_udp_close(nat_udp *u, nat_udp_close_cb cb, void *arg) {
  if (!u || u->closing)
    return;
  u->closing = true;
  u->close_cb = cb;
  u->close_arg = arg;
  nat_txn_cancel_all(u->mgr);
  if (u->rfd >= 0)
    uv_poll_stop(&u->poll);
  uv_timer_stop(&u->timer);
  udp_close_handles(u);
}

/* ------------------------------------------------- short-TTL sends
 * nat_udp_send_ttl(): the hole openers' datagrams (the agent's). The
 * socket's unicast TTL (IPv4) or hop limit (IPv6) is set for one send and
 * put back at once; a send that would block is not queued (a queued copy
 * would leave with the restored TTL). */

int nat__udp_try_send_ttl(uv_udp_t *h, uint8_t family,
                          const struct sockaddr *sa, const uint8_t *buf,
                          size_t len, int ttl) {
  uv_os_fd_t fd;
  int rc, old = 64, level, name;
  socklen_t ol = sizeof old, sl;
  ssize_t n;
  level = family == NAT_AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  name = family == NAT_AF_INET6 ? IPV6_UNICAST_HOPS : IP_TTL;
  sl = family == NAT_AF_INET6 ? sizeof(struct sockaddr_in6)
                              : sizeof(struct sockaddr_in);
  if ((rc = uv_fileno((uv_handle_t *)h, &fd)) != 0)
    return rc;
  if (getsockopt(fd, level, name, &old, &ol) != 0 ||
      setsockopt(fd, level, name, &ttl, sizeof ttl) != 0)
    return uv_translate_sys_error(errno);
  /* sendto(), not uv_udp_try_send(): libuv refuses that while a request
   * of uv_udp_send() waits for its callback, even one already sent */
  n = sendto(fd, buf, len, MSG_DONTWAIT, sa, sl);
  rc = n < 0 ? uv_translate_sys_error(errno) : 0;
  (void)setsockopt(fd, level, name, &old, sizeof old);
  return rc;
}

/** Send one datagram with TTL / hop limit @p ttl; see udp.h. */
int nat_udp_send_ttl(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                     size_t len, int ttl) {
  struct sockaddr_storage ss;
  int rc;
  if (!u || !dst || (!buf && len > 0) || ttl < 1 || ttl > 255)
    return NAT_EINVAL;
  if ((rc = udp_check_dst(u, dst)) < 0)
    return rc;
  if (nat_addr_to_sockaddr(dst, (struct sockaddr *)&ss, sizeof ss) < 0)
    return NAT_EBADADDR;
  if (u->queued > 0)
    return NAT_EAGAIN;
  rc = nat__udp_try_send_ttl(&u->udp, u->family, (const struct sockaddr *)&ss,
                             buf, len, ttl);
  if (rc < 0) {
    u->stats.send_errors++;
    return rc == UV_EAGAIN ? NAT_EAGAIN : rc;
  }
  u->stats.datagrams_out++;
  return 0;
}
