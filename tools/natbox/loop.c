/* natbox: the event loop. epoll waits on the two TUN fds, a timerfd armed
 * (absolute, CLOCK_MONOTONIC, ns precision) at the earliest release time of
 * the links, and a signalfd for SIGINT/SIGTERM. Packets read from a TUN go
 * through the NAT model (with --nat box), then into the link of their
 * direction; due packets are written to the TUN of the other side. A write
 * that fails with EAGAIN leaves the packet queued and waits for EPOLLOUT.
 *
 * Fast path: a link with no impairment at all (no delay, jitter, loss,
 * reorder, duplication or rate) releases every packet at once, so a packet
 * for it is written straight from the read buffer to the other TUN, with
 * no copy into the model, as long as that link has nothing queued and its
 * output is not blocked; otherwise it goes through the link queue behind
 * the packets already there, so the order of a direction never changes.
 * The clock is read once per wake-up (packets of one batch share `now`),
 * and each TUN is read until EAGAIN or a budget per wake-up. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "nat/error.h"
#include "natbox_prog.h"

#define NB_BATCH    256   /* packets read per TUN per wake-up, at most */
#define NB_PKTMAX   65536 /* a TUN read buffer */
#define NB_LATE_MAX 10000 /* lateness histogram: 1 us buckets up to 10 ms */

enum { L_UP = 0, L_DOWN = 1, L_HAIR = 2, L_COUNT = 3 };
enum { EV_LAN = 1, EV_WAN, EV_TIMER, EV_SIGNAL };

typedef struct nb_loop {
  const nb_opts *o;
  int ep, tfd, sfd;
  nat_box *box;
  nat_link *link[L_COUNT];
  bool fast[L_COUNT];        /* link has no impairment: fast path allowed */
  uint64_t fast_tx[L_COUNT]; /* packets that took the fast path */
  bool blocked[2];           /* [0] LAN fd, [1] WAN fd: waiting for EPOLLOUT */
  nat_tstamp armed;          /* timerfd deadline, 0 when disarmed */
  nb_io_stats io;
  uint64_t late[NB_LATE_MAX + 1]; /* [NB_LATE_MAX]: later than that */
  nat_tstamp late_max;
  bool stop;
  uint8_t buf[NB_PKTMAX];
} nb_loop;

static nat_tstamp now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec;
}

static int fail(char *err, size_t cap, const char *what, int rv) {
  snprintf(err, cap, "%s: %s", what,
           rv == -1 ? strerror(errno) : nat_strerror(rv));
  return -1;
}

/* The output fd of a link and the index of its blocked flag. */
static int link_out(const nb_loop *lp, int k, int *side) {
  *side = k == L_UP ? 1 : 0;
  return k == L_UP ? lp->o->wan.fd : lp->o->lan.fd;
}

static void set_pollout(nb_loop *lp, int side, bool on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u)};
  int fd = side ? lp->o->wan.fd : lp->o->lan.fd;
  ev.data.u32 = side ? EV_WAN : EV_LAN;
  lp->blocked[side] = on;
  epoll_ctl(lp->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Count a packet released @p late ns after its release time. */
static void note_late(nb_loop *lp, nat_tstamp late) {
  nat_tstamp us = late / NAT_MICROSECONDS;
  lp->late[us < NB_LATE_MAX ? us : NB_LATE_MAX]++;
  if (late > lp->late_max)
    lp->late_max = late;
}

/* Write every packet of link @p k due at @p now. */
static void flush_link(nb_loop *lp, int k, nat_tstamp now) {
  int side, fd = link_out(lp, k, &side);
  const uint8_t *p;
  ssize_t n;
  while (!lp->blocked[side] && (n = nat_link_peek(lp->link[k], now, &p)) > 0) {
    nat_tstamp due = nat_link_get_expiry(lp->link[k]);
    ssize_t w = write(fd, p, (size_t)n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      lp->io.eagain++;
      set_pollout(lp, side, true);
      return;
    }
    if (w < 0)
      lp->io.write_errors++; /* dropped: EIO when the link is down, ... */
    else if (side)
      lp->io.wan_tx++;
    else
      lp->io.lan_tx++;
    if (!lp->fast[k])
      note_late(lp, now - due);
    nat_link_pop(lp->link[k], now, NULL, 0);
  }
}

/* Write every due packet of every link. The clock is read again only when
 * something is queued (reads may have taken a while): the fast path alone
 * needs no second read. */
static void flush_all(nb_loop *lp) {
  nat_tstamp now;
  int k;
  for (k = 0; k < L_COUNT; k++)
    if (nat_link_get_expiry(lp->link[k]) != NAT_TSTAMP_MAX)
      break;
  if (k == L_COUNT)
    return;
  now = now_ns();
  for (k = 0; k < L_COUNT; k++)
    flush_link(lp, k, now);
}

/* Arm the timer at the earliest release time of a link that can write. */
static void arm_timer(nb_loop *lp) {
  nat_tstamp next = NAT_TSTAMP_MAX;
  struct itimerspec its;
  for (int k = 0; k < L_COUNT; k++) {
    int side;
    nat_tstamp t;
    link_out(lp, k, &side);
    t = nat_link_get_expiry(lp->link[k]);
    if (!lp->blocked[side] && t < next)
      next = t;
  }
  if (next == NAT_TSTAMP_MAX)
    next = 0;
  else if (next == 0)
    next = 1; /* 0 would disarm */
  if (next == lp->armed)
    return;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(next / NAT_SECONDS);
  its.it_value.tv_nsec = (long)(next % NAT_SECONDS);
  timerfd_settime(lp->tfd, TFD_TIMER_ABSTIME, &its, NULL);
  lp->armed = next;
}

/* Write the packet in the read buffer for link @p k straight to its output
 * when nothing of that link waits before it.
 * @return true when done with it (written or dropped on an error), false
 * when it must go through the link queue (blocked, queued, or EAGAIN). */
static bool try_fast(nb_loop *lp, int k, size_t len) {
  int side, fd = link_out(lp, k, &side);
  ssize_t w;
  if (lp->blocked[side] || nat_link_get_expiry(lp->link[k]) != NAT_TSTAMP_MAX)
    return false;
  do
    w = write(fd, lp->buf, len);
  while (w < 0 && errno == EINTR);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    lp->io.eagain++;
    set_pollout(lp, side, true);
    return false; /* queued, and written on EPOLLOUT */
  }
  if (w < 0)
    lp->io.write_errors++;
  else if (side)
    lp->io.wan_tx++;
  else
    lp->io.lan_tx++;
  lp->fast_tx[k]++;
  return true;
}

/* One packet read from the LAN (@p from_wan false) or the WAN. */
static void handle_packet(nb_loop *lp, bool from_wan, size_t len,
                          nat_tstamp now) {
  int k = from_wan ? L_DOWN : L_UP;
  if (lp->box) {
    int v = from_wan ? nat_box_inbound(lp->box, now, lp->buf, len)
                     : nat_box_outbound(lp->box, now, lp->buf, len);
    if (v == NAT_BOX_TO_WAN && !from_wan)
      k = L_UP;
    else if (v == NAT_BOX_TO_LAN)
      k = from_wan ? L_DOWN : L_HAIR;
    else
      return; /* dropped; counted by the NAT model */
  }
  if (lp->fast[k] && try_fast(lp, k, len))
    return;
  nat_link_submit(lp->link[k], now, lp->buf, len);
}

/* Read the TUN of one side until EAGAIN or NB_BATCH packets; every packet
 * of the batch is stamped with @p now, the time of the wake-up. */
static void read_side(nb_loop *lp, bool from_wan, nat_tstamp now) {
  int fd = from_wan ? lp->o->wan.fd : lp->o->lan.fd;
  for (int i = 0; i < NB_BATCH; i++) {
    ssize_t n = read(fd, lp->buf, sizeof lp->buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        lp->io.read_errors++;
      return;
    }
    if (n == 0)
      return;
    if (from_wan)
      lp->io.wan_rx++;
    else
      lp->io.lan_rx++;
    handle_packet(lp, from_wan, (size_t)n, now);
  }
}

static void on_event(nb_loop *lp, const struct epoll_event *ev,
                     nat_tstamp now) {
  switch (ev->data.u32) {
  case EV_SIGNAL: {
    struct signalfd_siginfo si;
    if (read(lp->sfd, &si, sizeof si) > 0)
      lp->stop = true;
    break;
  }
  case EV_TIMER: {
    uint64_t ticks;
    if (read(lp->tfd, &ticks, sizeof ticks) > 0)
      lp->armed = 0;
    break;
  }
  case EV_LAN:
  case EV_WAN: {
    int side = ev->data.u32 == EV_WAN;
    if ((ev->events & EPOLLOUT) && lp->blocked[side])
      set_pollout(lp, side, false);
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      read_side(lp, side == 1, now);
    break;
  }
  default:
    break;
  }
}

static int add_fd(nb_loop *lp, int fd, uint32_t tag) {
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u32 = tag;
  return epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* A link that releases every packet at once, unchanged and in order. */
static bool transparent(const nat_link_config *c) {
  return c->delay == 0 && c->jitter == 0 && c->loss == 0.0 &&
         c->reorder == 0.0 && c->duplicate == 0.0 && c->rate_bps == 0;
}

/* Create the links (the hairpin path combines both directions), the NAT,
 * and the fds of the loop. */
static int setup(nb_loop *lp, char *err, size_t cap) {
  const nb_opts *o = lp->o;
  nat_link_config hair = o->link[NB_UP];
  const nat_link_config *dn = &o->link[NB_DOWN];
  sigset_t sigs;
  int rv;
  hair.delay += dn->delay;
  hair.jitter += dn->jitter;
  hair.loss = 1.0 - (1.0 - hair.loss) * (1.0 - dn->loss);
  hair.duplicate = 1.0 - (1.0 - hair.duplicate) * (1.0 - dn->duplicate);
  hair.reorder = hair.reorder > dn->reorder ? hair.reorder : dn->reorder;
  hair.seed ^= 0x4841495200000003ull; /* "HAIR" */
  if ((rv = nat_link_new(&lp->link[L_UP], &o->link[NB_UP])) ||
      (rv = nat_link_new(&lp->link[L_DOWN], dn)) ||
      (rv = nat_link_new(&lp->link[L_HAIR], &hair)))
    return fail(err, cap, "cannot create the link model", rv);
  lp->fast[L_UP] = transparent(&o->link[NB_UP]);
  lp->fast[L_DOWN] = transparent(dn);
  lp->fast[L_HAIR] = lp->fast[L_UP] && lp->fast[L_DOWN];
  if (o->nat && (rv = nat_box_new(&lp->box, &o->box)))
    return fail(err, cap, "cannot create the NAT model", rv);
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  lp->ep = epoll_create1(EPOLL_CLOEXEC);
  lp->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  lp->sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  if (lp->ep < 0 || lp->tfd < 0 || lp->sfd < 0 ||
      add_fd(lp, o->lan.fd, EV_LAN) || add_fd(lp, o->wan.fd, EV_WAN) ||
      add_fd(lp, lp->tfd, EV_TIMER) || add_fd(lp, lp->sfd, EV_SIGNAL))
    return fail(err, cap, "cannot set up the event loop", -1);
  return 0;
}

/* The value (us, bucket midpoint) below which a fraction @p q of the
 * counted releases fall. */
static double late_quantile(const nb_loop *lp, uint64_t count, double q) {
  uint64_t want = (uint64_t)((double)count * q), seen = 0;
  for (int i = 0; i < NB_LATE_MAX; i++) {
    seen += lp->late[i];
    if (seen > want)
      return i + 0.5;
  }
  return (double)lp->late_max / 1e3;
}

static void late_summary(const nb_loop *lp, nb_late_stats *out) {
  uint64_t count = 0;
  for (int i = 0; i <= NB_LATE_MAX; i++)
    count += lp->late[i];
  out->count = count;
  if (count == 0)
    return;
  out->median_us = late_quantile(lp, count, 0.5);
  out->p99_us = late_quantile(lp, count, 0.99);
  out->max_us = (double)lp->late_max / 1e3;
}

static void teardown(nb_loop *lp, nb_report *r, nat_tstamp start) {
  nat_tstamp end = now_ns();
  memset(r, 0, sizeof *r);
  r->nat = lp->o->nat;
  if (lp->box) {
    nat_box_expire(lp->box, end);
    nat_box_stats_get(lp->box, &r->box);
  }
  for (int k = 0; k < L_COUNT; k++) {
    nat_link_stats_get(lp->link[k], &r->link[k]);
    r->link[k].submitted += lp->fast_tx[k]; /* fast path: through at once */
    r->link[k].delivered += lp->fast_tx[k];
  }
  r->io = lp->io;
  late_summary(lp, &r->late);
  r->uptime_s = (double)(end - start) / 1e9;
  for (int k = 0; k < L_COUNT; k++)
    nat_link_free(lp->link[k]);
  if (lp->box)
    nat_box_free(lp->box);
  if (lp->ep >= 0)
    close(lp->ep);
  if (lp->tfd >= 0)
    close(lp->tfd);
  if (lp->sfd >= 0)
    close(lp->sfd);
}

/** Run the forwarding loop; see natbox_prog.h. */
int nb_run(const nb_opts *o, nb_report *r, char *err, size_t cap) {
  static nb_loop loop; /* large buffer: not on the stack */
  nb_loop *lp = &loop;
  nat_tstamp start = now_ns();
  int rv = 0;
  memset(lp, 0, sizeof *lp);
  lp->o = o;
  lp->ep = lp->tfd = lp->sfd = -1;
  if (setup(lp, err, cap) == 0) {
    while (!lp->stop) {
      struct epoll_event evs[8];
      int n = epoll_wait(lp->ep, evs, 8, -1);
      nat_tstamp now;
      if (n < 0 && errno != EINTR) {
        rv = fail(err, cap, "epoll_wait", -1);
        break;
      }
      now = now_ns(); /* once per wake-up */
      for (int i = 0; i < n; i++)
        on_event(lp, &evs[i], now);
      flush_all(lp);
      arm_timer(lp);
    }
  } else {
    rv = -1;
  }
  teardown(lp, r, start);
  return rv;
}
