/* The hop probe (nat/hops.h): Binding requests with rising TTL, matched
 * back to their TTL by transaction ID (or, for short ICMP quotes, by send
 * order). Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "nat/hops.h"
#include "nat/stun.h"

#define PREFIX_LEN NAT_HOPS_TID_TTL /* bytes 0..9 of the transaction ID */

struct nat_hops {
  nat_addr target;
  unsigned max_ttl, rounds;
  nat_tstamp interval, deadline; /* deadline absolute; 0: none */
  uint8_t prefix[PREFIX_LEN];
  unsigned round;    /* the round being sent or next to send */
  unsigned next_ttl; /* within a round being sent; 0: not sending */
  nat_tstamp next_round_at;
  nat_tstamp end_at; /* after the last round; 0 until then */
  bool done;
  uint8_t sent_mask[NAT_HOPS_MAX]; /* bit r: TTL sent in round r */
  nat_tstamp sent_at[NAT_HOPS_MAX][NAT_HOPS_ROUNDS_MAX];
  nat_hop_list list;
  uint8_t buf[NAT_STUN_HEADER_LEN + 8];
};

const char *nat_hop_kind_name(uint8_t kind) {
  static const char *const names[] = {"silent", "time-exceeded", "unreachable",
                                      "server"};
  return kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

int nat_hops_new(nat_hops **out, const nat_hops_config *cfg, nat_tstamp now) {
  nat_hops *h;
  unsigned t;
  if (out == NULL || cfg == NULL || cfg->rand == NULL ||
      nat__addr_ip_len(&cfg->target) == 0 || cfg->target.port == 0 ||
      cfg->max_ttl > NAT_HOPS_MAX || cfg->rounds > NAT_HOPS_ROUNDS_MAX)
    return NAT_EINVAL;
  h = calloc(1, sizeof *h);
  if (h == NULL)
    return NAT_ENOMEM;
  h->target = cfg->target;
  h->max_ttl = cfg->max_ttl != 0 ? cfg->max_ttl : NAT_HOPS_DEFAULT;
  h->rounds = cfg->rounds != 0 ? cfg->rounds : NAT_HOPS_ROUNDS;
  h->interval = cfg->interval != 0 ? cfg->interval : NAT_HOPS_INTERVAL;
  h->deadline = cfg->deadline != 0 ? now + cfg->deadline : 0;
  h->next_round_at = now;
  cfg->rand(cfg->rand_ctx, h->prefix, sizeof h->prefix);
  h->list.target = cfg->target;
  h->list.max_ttl = (uint8_t)h->max_ttl;
  for (t = 0; t < NAT_HOPS_MAX; t++)
    h->list.hop[t].ttl = (uint8_t)(t + 1);
  *out = h;
  return 0;
}

void nat_hops_free(nat_hops *h) {
  free(h);
}

/* TTL @p t (1-based) still needs a report: silent and below the TTL that
 * reached the server. */
static bool wanted(const nat_hops *h, unsigned t) {
  return h->list.hop[t - 1].kind == NAT_HOP_SILENT &&
         (h->list.reached_ttl == 0 || t < h->list.reached_ttl);
}

/* Every TTL that can have a report has one, and the server answered (or
 * every TTL tried has a report). */
static bool resolved(const nat_hops *h) {
  unsigned t,
      top = h->list.reached_ttl != 0 ? h->list.reached_ttl - 1u : h->max_ttl;
  for (t = 1; t <= top; t++)
    if (h->list.hop[t - 1].kind == NAT_HOP_SILENT)
      return false;
  return true;
}

static void check_done(nat_hops *h) {
  if (!h->done && resolved(h))
    h->done = true;
}

static size_t build(nat_hops *h, unsigned ttl, unsigned round) {
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_stun_builder b;
  ssize_t n;
  memcpy(tid, h->prefix, PREFIX_LEN);
  tid[NAT_HOPS_TID_TTL] = (uint8_t)ttl;
  tid[NAT_HOPS_TID_ROUND] = (uint8_t)round;
  nat_stun_builder_init(&b, h->buf, sizeof h->buf, NAT_STUN_BINDING,
                        NAT_STUN_REQUEST, tid);
  n = nat_stun_builder_finish(&b, true);
  return n > 0 ? (size_t)n : 0;
}

/* The round being sent is over: arm the next one, or the end. */
static void round_over(nat_hops *h, nat_tstamp now) {
  h->next_ttl = 0;
  h->round++;
  h->next_round_at = now + h->interval;
  if (h->round >= h->rounds)
    h->end_at = now + 2 * h->interval;
}

int nat_hops_next_send(nat_hops *h, nat_tstamp now, nat_hops_send *s) {
  if (h == NULL || s == NULL)
    return NAT_EINVAL;
  nat_hops_handle_expiry(h, now);
  if (h->done || h->round >= h->rounds)
    return 0;
  if (h->next_ttl == 0) {
    if (now < h->next_round_at)
      return 0;
    h->next_ttl = 1;
  }
  while (h->next_ttl <= h->max_ttl) {
    unsigned t = h->next_ttl++;
    size_t len;
    if (!wanted(h, t) || (len = build(h, t, h->round)) == 0)
      continue;
    h->sent_mask[t - 1] |= (uint8_t)(1u << h->round);
    h->sent_at[t - 1][h->round] = now;
    h->list.sent++;
    s->ttl = (uint8_t)t;
    s->dst = h->target;
    s->data = h->buf;
    s->len = len;
    return 1;
  }
  round_over(h, now);
  return 0;
}

/* TTL and round of transaction ID bytes @p tid if they are the probe's
 * and were sent: true. */
static bool our_tid(const nat_hops *h, const uint8_t *tid, unsigned *ttl,
                    unsigned *round) {
  if (memcmp(tid, h->prefix, PREFIX_LEN) != 0)
    return false;
  *ttl = tid[NAT_HOPS_TID_TTL];
  *round = tid[NAT_HOPS_TID_ROUND];
  return *ttl >= 1 && *ttl <= h->max_ttl && *round < NAT_HOPS_ROUNDS_MAX &&
         (h->sent_mask[*ttl - 1] & (1u << *round)) != 0;
}

static void set_hop(nat_hops *h, unsigned ttl, uint8_t kind,
                    const nat_addr *who, nat_tstamp rtt, bool by_order) {
  nat_hop *hp = &h->list.hop[ttl - 1];
  hp->kind = kind;
  hp->by_order = by_order;
  hp->addr = nat__addr_ip_only(who);
  hp->space = (uint8_t)nat_addr_space_of(&hp->addr);
  hp->rtt = rtt;
}

static nat_tstamp since(nat_tstamp then, nat_tstamp now) {
  return now > then ? now - then : 0;
}

int nat_hops_recv(nat_hops *h, nat_tstamp now, const nat_addr *from,
                  const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  unsigned ttl, round;
  if (h == NULL || from == NULL || (buf == NULL && len > 0))
    return NAT_EINVAL;
  if (!nat_stun_is_stun(buf, len) || memcmp(buf + 8, h->prefix, PREFIX_LEN))
    return NAT_ENOTFOUND;
  if (h->done || !our_tid(h, buf + 8, &ttl, &round) ||
      !nat_addr_equal(from, &h->target) || nat_stun_decode(&m, buf, len) < 0 ||
      m.method != NAT_STUN_BINDING || m.cls != NAT_STUN_SUCCESS) {
    h->list.refused++;
    return 0;
  }
  h->list.answers++;
  if (h->list.reached_ttl == 0 || ttl < h->list.reached_ttl)
    h->list.reached_ttl = (uint8_t)ttl;
  if (h->list.hop[ttl - 1].kind != NAT_HOP_SERVER)
    set_hop(h, ttl, NAT_HOP_SERVER, from,
            since(h->sent_at[ttl - 1][round], now), false);
  check_done(h);
  return 0;
}

/* A short quote: the TTL this router answered for before, else the
 * lowest TTL sent that is still wanted. 0: none. */
static unsigned by_order(const nat_hops *h, const nat_addr *who, bool *dup) {
  unsigned t;
  *dup = false;
  for (t = 1; t <= h->max_ttl; t++)
    if (h->list.hop[t - 1].kind == NAT_HOP_TIME_EXCEEDED &&
        nat_addr_equal_ip(&h->list.hop[t - 1].addr, who)) {
      *dup = true;
      return t;
    }
  for (t = 1; t <= h->max_ttl; t++)
    if (h->sent_mask[t - 1] != 0 && wanted(h, t))
      return t;
  return 0;
}

/* The latest transmission of TTL @p t. */
static nat_tstamp last_sent(const nat_hops *h, unsigned t) {
  unsigned r;
  nat_tstamp at = 0;
  for (r = 0; r < NAT_HOPS_ROUNDS_MAX; r++)
    if ((h->sent_mask[t - 1] & (1u << r)) && h->sent_at[t - 1][r] > at)
      at = h->sent_at[t - 1][r];
  return at;
}

static int report_short(nat_hops *h, nat_tstamp now, const nat_hops_report *r) {
  bool dup;
  unsigned t;
  if (r->kind != NAT_HOP_TIME_EXCEEDED || r->dst.family == NAT_AF_NONE)
    return NAT_ENOTFOUND;
  t = by_order(h, &r->offender, &dup);
  if (t == 0)
    return NAT_ENOTFOUND;
  h->list.reports++;
  if (!dup)
    set_hop(h, t, NAT_HOP_TIME_EXCEEDED, &r->offender,
            since(last_sent(h, t), now), true);
  check_done(h);
  return 0;
}

int nat_hops_report_icmp(nat_hops *h, nat_tstamp now,
                         const nat_hops_report *r) {
  unsigned ttl, round;
  nat_hop *hp;
  if (h == NULL || r == NULL || (r->quote == NULL && r->quote_len > 0))
    return NAT_EINVAL;
  if (h->done ||
      (r->kind != NAT_HOP_TIME_EXCEEDED && r->kind != NAT_HOP_UNREACHABLE) ||
      nat__addr_ip_len(&r->offender) == 0 ||
      (r->dst.family != NAT_AF_NONE && !nat_addr_equal(&r->dst, &h->target)))
    return NAT_ENOTFOUND;
  if (r->quote_len < NAT_STUN_HEADER_LEN)
    return report_short(h, now, r);
  if (!our_tid(h, r->quote + 8, &ttl, &round))
    return NAT_ENOTFOUND;
  h->list.reports++;
  hp = &h->list.hop[ttl - 1];
  if (hp->kind == NAT_HOP_SILENT || hp->by_order)
    set_hop(h, ttl, r->kind, &r->offender,
            since(h->sent_at[ttl - 1][round], now), false);
  check_done(h);
  return 0;
}

nat_tstamp nat_hops_get_expiry(const nat_hops *h) {
  nat_tstamp exp;
  if (h == NULL || h->done)
    return NAT_TSTAMP_MAX;
  exp = h->round < h->rounds ? h->next_round_at : h->end_at;
  if (h->next_ttl != 0)
    exp = 0; /* a round is being sent */
  if (h->deadline != 0 && h->deadline < exp)
    exp = h->deadline;
  return exp;
}

void nat_hops_handle_expiry(nat_hops *h, nat_tstamp now) {
  if (h == NULL || h->done)
    return;
  check_done(h);
  if (h->deadline != 0 && now >= h->deadline)
    h->done = true;
  if (h->round >= h->rounds && h->next_ttl == 0 && now >= h->end_at)
    h->done = true;
}

void nat_hops_cancel(nat_hops *h) {
  if (h != NULL)
    h->done = true;
}

bool nat_hops_done(const nat_hops *h) {
  return h == NULL || h->done;
}

void nat_hops_get(const nat_hops *h, nat_hop_list *out) {
  if (h == NULL || out == NULL)
    return;
  *out = h->list;
  out->n = h->list.reached_ttl != 0 ? h->list.reached_ttl : h->max_ttl;
}
