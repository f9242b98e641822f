/* Helpers of the replay unit tests (test_replay.c, test_replay_clients.c):
 * feed synthetic STUN requests and responses to a nat_replay, as
 * datagrams (req, resp) or as the capture reader's records with TTL and
 * direction (pkt, in test_replay_clients.c). Include after cmocka.h. */
#ifndef NAT_TEST_REPLAY_UTIL_H
#define NAT_TEST_REPLAY_UTIL_H

#include <stdbool.h>
#include <string.h>

#include "nat/error.h"
#include "nat/replay.h"
#include "nat/stun.h"

#define MS NAT_MILLISECONDS
#define T0 ((nat_tstamp)1700000000 * NAT_SECONDS) /* capture epoch time */

static inline nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* Feed a Binding request with ID @p n (classic with a 128-bit ID when
 * @p classic). */
static inline void req(nat_replay *r, nat_tstamp ms, const char *src,
                       const char *dst, unsigned n, uint32_t change,
                       bool classic) {
  uint8_t buf[256], tid[16];
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst);
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  if (classic)
    assert_int_equal(nat_stun_builder_init_classic(&b, buf, sizeof buf,
                                                   NAT_STUN_BINDING,
                                                   NAT_STUN_REQUEST, tid),
                     0);
  else
    assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf,
                                           NAT_STUN_BINDING, NAT_STUN_REQUEST,
                                           tid),
                     0);
  if (change)
    nat_stun_add_change_request(&b, change);
  ssize_t len = nat_stun_builder_finish(&b, !classic);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

/* Feed a success response to ID @p n with mapped address @p mapped and,
 * if not NULL, OTHER-ADDRESS (or CHANGED-ADDRESS when classic). */
static inline void resp(nat_replay *r, nat_tstamp ms, const char *src,
                        const char *dst, unsigned n, const char *mapped,
                        const char *other, bool classic) {
  uint8_t buf[256], tid[16];
  nat_stun_builder b;
  nat_addr s = A(src), d = A(dst), m = A(mapped), o;
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0xA5;
  if (classic) {
    nat_stun_builder_init_classic(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                  NAT_STUN_SUCCESS, tid);
    nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &m);
    nat_stun_add_addr(&b, NAT_ATTR_SOURCE_ADDRESS, &s);
  } else {
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          NAT_STUN_SUCCESS, tid);
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &m);
    nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, &s);
  }
  if (other != NULL) {
    o = A(other);
    nat_stun_add_addr(
        &b, classic ? NAT_ATTR_CHANGED_ADDRESS : NAT_ATTR_OTHER_ADDRESS, &o);
  }
  ssize_t len = nat_stun_builder_finish(&b, !classic);
  assert_true(len > 0);
  assert_int_equal(nat_replay_feed(r, T0 + ms * MS, &s, &d, buf, (size_t)len),
                   0);
}

/* Feed a message of class @p cls with ID @p n, as the capture reader
 * gives it: with the record's TTL, direction and whether it came as IP
 * fragments (nat_replay_feed_pkt). A success response carries
 * XOR-MAPPED-ADDRESS @p resp_mapped, an error response ERROR-CODE 420. */
static inline void pkt_msg(nat_replay *r, nat_tstamp ms, const char *src,
                           const char *dst, unsigned n, uint8_t cls,
                           const char *resp_mapped, uint8_t ttl, uint8_t dir,
                           bool reassembled) {
  uint8_t buf[256], tid[12];
  nat_stun_builder b;
  nat_stun_msg m;
  nat_capture_pkt p;
  nat_addr map;
  ssize_t len;
  memset(tid, (int)n, sizeof tid);
  tid[0] = 0x5A;
  assert_int_equal(
      nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, cls, tid),
      0);
  if (cls == NAT_STUN_SUCCESS) {
    map = A(resp_mapped);
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &map);
  } else if (cls == NAT_STUN_ERROR) {
    nat_stun_add_error(&b, 420, "Unknown Attribute");
  }
  len = nat_stun_builder_finish(&b, true);
  assert_true(len > 0);
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)len), len);
  memset(&p, 0, sizeof p);
  p.ts = T0 + ms * MS;
  p.src = A(src);
  p.dst = A(dst);
  p.payload = buf;
  p.len = (size_t)len;
  p.msg = &m;
  p.linktype = dir != NAT_CAPDIR_UNKNOWN ? NAT_LINK_LINUX_SLL2 : NAT_LINK_RAW;
  p.ttl = ttl;
  p.dir = dir;
  p.reassembled = reassembled;
  assert_int_equal(nat_replay_feed_pkt(r, &p), 0);
}

/* A request (@p resp_mapped NULL) or a success response mapped to
 * @p resp_mapped (pkt_msg). */
static inline void pkt_ex(nat_replay *r, nat_tstamp ms, const char *src,
                          const char *dst, unsigned n, const char *resp_mapped,
                          uint8_t ttl, uint8_t dir, bool reassembled) {
  pkt_msg(r, ms, src, dst, n,
          resp_mapped != NULL ? NAT_STUN_SUCCESS : NAT_STUN_REQUEST,
          resp_mapped, ttl, dir, reassembled);
}

static inline nat_replay *mk(const nat_replay_config *cfg) {
  nat_replay *r = NULL;
  assert_int_equal(nat_replay_new(&r, cfg), 0);
  assert_non_null(r);
  return r;
}

static inline void finish(nat_replay *r, nat_obslog *log, nat_replay_diag *d) {
  nat_obslog_init(log);
  assert_int_equal(nat_replay_finish(r, log), 0);
  nat_replay_get_diag(r, d);
  assert_int_equal(nat_replay_finish(r, log), NAT_EINVAL);
}

#define P    "203.0.113.1:3478"
#define IP2  "203.0.113.2:3478"
#define ALT  "203.0.113.2:3479"
#define P1P2 "203.0.113.1:3479"
#define CIP  NAT_STUN_CHANGE_IP
#define CPT  NAT_STUN_CHANGE_PORT

#endif
