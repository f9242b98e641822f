/* The rendezvous room logic (rdv_room.c) with a fake clock: pairing and
 * forwarding, SEEN, expiry of rooms, HELLO timeouts and lingering, caps on
 * rooms and peers, the third peer, duplicate and out-of-order messages,
 * bad join secrets, malformed input, peers that leave half-way. Every
 * action the logic takes is recorded and checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/rdv.h"

#define MAXACT 64

typedef struct act {
  nat_rdv_action_kind kind;
  void *peer_arg;
  uint8_t type; /* SEND: message type */
  uint8_t data[64];
  size_t data_len;
  uint16_t code;
  nat_addr addr;
  nat_rdv_event event;
  unsigned count;
} act;

typedef struct rec {
  act a[MAXACT];
  int n;
} rec;

static void on_act(void *ctx, const nat_rdv_action *a) {
  rec *r = ctx;
  act *x;
  assert_true(r->n < MAXACT);
  x = &r->a[r->n++];
  memset(x, 0, sizeof *x);
  x->kind = a->kind;
  x->peer_arg = a->peer_arg;
  x->addr = a->addr;
  x->event = a->event;
  x->count = a->count;
  x->code = a->code;
  if (a->kind == NAT_RDV_ACT_SEND) {
    x->type = a->msg->type;
    x->code = a->msg->code;
    if (a->msg->type == NAT_RDV_SEEN)
      x->addr = a->msg->addr;
    if (a->msg->data_len > 0) {
      assert_true(a->msg->data_len <= sizeof x->data);
      memcpy(x->data, a->msg->data, a->msg->data_len);
      x->data_len = a->msg->data_len;
    }
  }
}

/* Count actions of @p kind to @p arg (NULL: any) with @p sub (message type
 * for SEND, event for LOG, code for CLOSE; -1: any). */
static int count(const rec *r, nat_rdv_action_kind kind, void *arg, int sub) {
  int n = 0;
  for (int i = 0; i < r->n; i++) {
    const act *x = &r->a[i];
    int s = kind == NAT_RDV_ACT_SEND  ? x->type
            : kind == NAT_RDV_ACT_LOG ? (int)x->event
                                      : x->code;
    if (x->kind == kind && (arg == NULL || x->peer_arg == arg) &&
        (sub < 0 || s == sub))
      n++;
  }
  return n;
}

static const act *find(const rec *r, nat_rdv_action_kind kind, void *arg,
                       int sub) {
  for (int i = 0; i < r->n; i++) {
    const act *x = &r->a[i];
    int s = kind == NAT_RDV_ACT_SEND  ? x->type
            : kind == NAT_RDV_ACT_LOG ? (int)x->event
                                      : x->code;
    if (x->kind == kind && x->peer_arg == arg && (sub < 0 || s == sub))
      return x;
  }
  return NULL;
}

/* The ERROR code sent to @p arg, or -1. */
static int error_to(const rec *r, void *arg) {
  const act *x = find(r, NAT_RDV_ACT_SEND, arg, NAT_RDV_ERROR);
  return x ? x->code : -1;
}

static nat_rdv_msg hello(const char *code) {
  nat_rdv_keys k;
  nat_rdv_msg m;
  memset(&m, 0, sizeof m);
  assert_int_equal(nat_rdv_keys_derive(&k, code), 0);
  m.type = NAT_RDV_HELLO;
  memcpy(m.room_id, k.room_id, sizeof m.room_id);
  memcpy(m.join, k.join, sizeof m.join);
  return m;
}

static nat_rdv_msg blob(const char *s) {
  nat_rdv_msg m;
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_BLOB;
  m.data = (const uint8_t *)s;
  m.data_len = strlen(s);
  return m;
}

static nat_rdv_msg simple(int type) {
  nat_rdv_msg m;
  memset(&m, 0, sizeof m);
  m.type = (uint8_t)type;
  return m;
}

static nat_rdv_peer *add(nat_rdv_rooms *rs, void *arg, uint16_t port,
                         nat_tstamp now) {
  nat_rdv_peer *p = NULL;
  nat_addr a;
  nat_addr_set_v4(&a, 0xc6336402, port); /* 198.51.100.2 */
  assert_int_equal(nat_rdv_rooms_peer_add(rs, &p, &a, arg, now), 0);
  return p;
}

#define S NAT_SECONDS

static int A, B, C, D; /* peer arguments: their addresses */

static void test_pairing(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_rooms_stats st;
  nat_rdv_msg h = hello("pairing-code-1"), ba = blob("blob of A"),
              bb = blob("blob of B");
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, NULL, on_act, &r), 0);
  nat_rdv_peer *pa = add(rs, &A, 40000, 0), *pb = add(rs, &B, 40001, 0);
  assert_int_equal(count(&r, NAT_RDV_ACT_LOG, NULL, NAT_RDV_EV_CONNECT), 2);
  nat_rdv_rooms_on_msg(rs, pa, &h, 1 * S);
  const act *seen = find(&r, NAT_RDV_ACT_SEND, &A, NAT_RDV_SEEN);
  assert_non_null(seen);
  assert_int_equal(seen->addr.port, 40000);
  assert_int_equal(find(&r, NAT_RDV_ACT_LOG, &A, NAT_RDV_EV_JOINED)->count, 1);
  nat_rdv_rooms_on_msg(rs, pb, &h, 2 * S);
  assert_int_equal(find(&r, NAT_RDV_ACT_LOG, &B, NAT_RDV_EV_JOINED)->count, 2);
  assert_int_equal(find(&r, NAT_RDV_ACT_SEND, &B, NAT_RDV_SEEN)->addr.port,
                   40001);
  nat_rdv_rooms_on_msg(rs, pa, &ba, 3 * S);
  assert_int_equal(count(&r, NAT_RDV_ACT_SEND, NULL, NAT_RDV_PEER), 0);
  nat_rdv_rooms_on_msg(rs, pb, &bb, 3 * S);
  const act *to_a = find(&r, NAT_RDV_ACT_SEND, &A, NAT_RDV_PEER);
  const act *to_b = find(&r, NAT_RDV_ACT_SEND, &B, NAT_RDV_PEER);
  assert_non_null(to_a);
  assert_non_null(to_b);
  assert_int_equal(to_a->data_len, 9);
  assert_memory_equal(to_a->data, "blob of B", 9);
  assert_memory_equal(to_b->data, "blob of A", 9);
  assert_int_equal(count(&r, NAT_RDV_ACT_SEND, NULL, NAT_RDV_BYE), 2);
  assert_int_equal(count(&r, NAT_RDV_ACT_LOG, NULL, NAT_RDV_EV_PAIRED), 1);
  assert_int_equal(count(&r, NAT_RDV_ACT_LOG, NULL, NAT_RDV_EV_ROOM_CLOSED), 1);
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.rooms, 0);
  assert_int_equal(st.paired, 1);
  /* linger, then close both (code 0) */
  assert_int_equal(nat_rdv_rooms_get_expiry(rs), 8 * S);
  nat_rdv_rooms_handle_expiry(rs, 8 * S - 1);
  assert_int_equal(count(&r, NAT_RDV_ACT_CLOSE, NULL, -1), 0);
  nat_rdv_rooms_handle_expiry(rs, 8 * S);
  assert_int_equal(count(&r, NAT_RDV_ACT_CLOSE, NULL, 0), 2);
  assert_int_equal(count(&r, NAT_RDV_ACT_SEND, NULL, NAT_RDV_ERROR), 0);
  assert_int_equal(nat_rdv_rooms_get_expiry(rs), NAT_TSTAMP_MAX);
  nat_rdv_rooms_peer_remove(rs, pa, 9 * S);
  nat_rdv_rooms_peer_remove(rs, pb, 9 * S);
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.peers, 0);
  /* the same code later makes a fresh room */
  r.n = 0;
  pa = add(rs, &A, 1, 10 * S);
  nat_rdv_rooms_on_msg(rs, pa, &h, 10 * S);
  assert_int_equal(find(&r, NAT_RDV_ACT_LOG, &A, NAT_RDV_EV_JOINED)->count, 1);
  nat_rdv_rooms_free(rs);
}

static void test_expiry(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_rooms_config cfg = {.room_ttl = 30 * S, .hello_timeout = 2 * S};
  nat_rdv_msg h = hello("expiry-code-1");
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, &cfg, on_act, &r), 0);
  nat_rdv_peer *pa = add(rs, &A, 1, 0), *pb = add(rs, &B, 2, 0);
  assert_int_equal(nat_rdv_rooms_get_expiry(rs), 2 * S);
  nat_rdv_rooms_on_msg(rs, pa, &h, 1 * S);
  /* B never says HELLO: timed out at 2 s */
  nat_rdv_rooms_handle_expiry(rs, 2 * S);
  assert_int_equal(error_to(&r, &B), NAT_RDV_ERR_TIMEOUT);
  assert_non_null(find(&r, NAT_RDV_ACT_CLOSE, &B, NAT_RDV_ERR_TIMEOUT));
  assert_non_null(find(&r, NAT_RDV_ACT_LOG, &B, NAT_RDV_EV_TIMEOUT));
  assert_int_equal(error_to(&r, &A), -1);
  /* A's room expires 30 s after its HELLO */
  assert_int_equal(nat_rdv_rooms_get_expiry(rs), 31 * S);
  nat_rdv_rooms_handle_expiry(rs, 31 * S - 1);
  assert_int_equal(error_to(&r, &A), -1);
  nat_rdv_rooms_handle_expiry(rs, 31 * S);
  assert_int_equal(error_to(&r, &A), NAT_RDV_ERR_EXPIRED);
  assert_non_null(find(&r, NAT_RDV_ACT_CLOSE, &A, NAT_RDV_ERR_EXPIRED));
  assert_int_equal(count(&r, NAT_RDV_ACT_LOG, NULL, NAT_RDV_EV_EXPIRED), 1);
  nat_rdv_rooms_stats st;
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.rooms, 0);
  assert_int_equal(st.expired, 1);
  assert_int_equal(st.timeouts, 1);
  assert_int_equal(st.peers, 2); /* until the driver removes them */
  /* a closing peer is ignored */
  int before = r.n;
  nat_rdv_msg bb = blob("late");
  nat_rdv_rooms_on_msg(rs, pa, &bb, 40 * S);
  nat_rdv_rooms_on_bad(rs, pb, NAT_ERDVMSG, 40 * S);
  nat_rdv_rooms_handle_expiry(rs, 100 * S);
  assert_int_equal(r.n, before);
  nat_rdv_rooms_peer_remove(rs, pa, 41 * S);
  nat_rdv_rooms_peer_remove(rs, pb, 41 * S);
  nat_rdv_rooms_free(rs);
}

static void test_caps(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_rooms_config cfg = {.max_rooms = 2, .max_peers = 3};
  nat_rdv_msg h1 = hello("caps-room-1"), h2 = hello("caps-room-2"),
              h3 = hello("caps-room-3");
  nat_rdv_peer *p = NULL;
  nat_addr a;
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, &cfg, on_act, &r), 0);
  nat_rdv_peer *pa = add(rs, &A, 1, 0), *pb = add(rs, &B, 2, 0),
               *pc = add(rs, &C, 3, 0);
  nat_addr_set_v4(&a, 0x7f000001, 4);
  assert_int_equal(nat_rdv_rooms_peer_add(rs, &p, &a, &D, 0), NAT_EBUSY);
  assert_null(p);
  assert_non_null(find(&r, NAT_RDV_ACT_LOG, &D, NAT_RDV_EV_REFUSED));
  nat_rdv_rooms_on_msg(rs, pa, &h1, 0);
  nat_rdv_rooms_on_msg(rs, pb, &h2, 0);
  nat_rdv_rooms_on_msg(rs, pc, &h3, 0);
  assert_int_equal(error_to(&r, &C), NAT_RDV_ERR_TOO_MANY);
  assert_int_equal(error_to(&r, &A), -1);
  assert_int_equal(error_to(&r, &B), -1);
  /* C's connection ends: a new one fits again, and joins an existing room */
  nat_rdv_rooms_peer_remove(rs, pc, 0);
  assert_int_equal(nat_rdv_rooms_peer_add(rs, &p, &a, &D, 0), 0);
  nat_rdv_rooms_on_msg(rs, p, &h1, 0);
  assert_int_equal(find(&r, NAT_RDV_ACT_LOG, &D, NAT_RDV_EV_JOINED)->count, 2);
  nat_rdv_rooms_stats st;
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.refused_caps, 2);
  nat_rdv_rooms_free(rs); /* frees live peers and rooms too */
}

static void test_third_peer(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_msg h = hello("third-peer-code"), ba = blob("A"), bb = blob("B"),
              bc = blob("C");
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, NULL, on_act, &r), 0);
  nat_rdv_peer *pa = add(rs, &A, 1, 0), *pb = add(rs, &B, 2, 0),
               *pc = add(rs, &C, 3, 0);
  nat_rdv_rooms_on_msg(rs, pa, &h, 0);
  nat_rdv_rooms_on_msg(rs, pb, &h, 0);
  nat_rdv_rooms_on_msg(rs, pc, &h, 0);
  assert_int_equal(error_to(&r, &C), NAT_RDV_ERR_ROOM_FULL);
  assert_non_null(find(&r, NAT_RDV_ACT_CLOSE, &C, NAT_RDV_ERR_ROOM_FULL));
  assert_null(find(&r, NAT_RDV_ACT_SEND, &C, NAT_RDV_SEEN));
  nat_rdv_rooms_on_msg(rs, pc, &bc, 0); /* ignored: closing */
  nat_rdv_rooms_on_msg(rs, pa, &ba, 0);
  nat_rdv_rooms_on_msg(rs, pb, &bb, 0);
  assert_memory_equal(find(&r, NAT_RDV_ACT_SEND, &A, NAT_RDV_PEER)->data, "B",
                      1);
  assert_memory_equal(find(&r, NAT_RDV_ACT_SEND, &B, NAT_RDV_PEER)->data, "A",
                      1);
  assert_null(find(&r, NAT_RDV_ACT_SEND, &C, NAT_RDV_PEER));
  nat_rdv_rooms_stats st;
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.refused_full, 1);
  nat_rdv_rooms_free(rs);
}

static void test_hostile_sequences(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_msg h = hello("hostile-code-1"), ba = blob("A");
  nat_rdv_rooms_stats st;
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, NULL, on_act, &r), 0);
  /* BLOB before HELLO */
  nat_rdv_peer *pa = add(rs, &A, 1, 0);
  nat_rdv_rooms_on_msg(rs, pa, &ba, 0);
  assert_int_equal(error_to(&r, &A), NAT_RDV_ERR_UNEXPECTED);
  /* duplicate HELLO: the peer goes, its room with it */
  nat_rdv_peer *pb = add(rs, &B, 2, 0);
  nat_rdv_rooms_on_msg(rs, pb, &h, 0);
  nat_rdv_rooms_on_msg(rs, pb, &h, 0);
  assert_int_equal(error_to(&r, &B), NAT_RDV_ERR_UNEXPECTED);
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.rooms, 0);
  /* server-only messages from a client */
  int types[] = {NAT_RDV_SEEN, NAT_RDV_PEER};
  for (int i = 0; i < 2; i++) {
    r.n = 0;
    nat_rdv_peer *p = add(rs, &C, 3, 0);
    nat_rdv_msg m = simple(types[i]);
    nat_rdv_rooms_on_msg(rs, p, &m, 0);
    assert_int_equal(error_to(&r, &C), NAT_RDV_ERR_UNEXPECTED);
    nat_rdv_rooms_peer_remove(rs, p, 0);
  }
  /* two BLOBs */
  r.n = 0;
  nat_rdv_peer *pc = add(rs, &C, 3, 0);
  nat_rdv_rooms_on_msg(rs, pc, &h, 0);
  nat_rdv_rooms_on_msg(rs, pc, &ba, 0);
  nat_rdv_rooms_on_msg(rs, pc, &ba, 0);
  assert_int_equal(error_to(&r, &C), NAT_RDV_ERR_UNEXPECTED);
  /* a join secret that is not the room's */
  r.n = 0;
  nat_rdv_peer *pd = add(rs, &D, 4, 0);
  nat_rdv_msg forged = hello("hostile-code-2");
  forged.join[0] ^= 1;
  nat_rdv_rooms_on_msg(rs, pd, &forged, 0);
  assert_int_equal(error_to(&r, &D), NAT_RDV_ERR_BAD_JOIN);
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.bad_join, 1);
  assert_int_equal(st.rooms, 0);
  /* garbage */
  r.n = 0;
  nat_rdv_rooms_peer_remove(rs, pd, 0);
  pd = add(rs, &D, 4, 0);
  nat_rdv_rooms_on_bad(rs, pd, NAT_ERDVTYPE, 0);
  assert_int_equal(error_to(&r, &D), NAT_RDV_ERR_MALFORMED);
  assert_non_null(find(&r, NAT_RDV_ACT_LOG, &D, NAT_RDV_EV_MALFORMED));
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.malformed, 1);
  assert_int_equal(st.unexpected, 5);
  nat_rdv_rooms_peer_remove(rs, pa, 0);
  nat_rdv_rooms_peer_remove(rs, pb, 0);
  nat_rdv_rooms_peer_remove(rs, pc, 0);
  nat_rdv_rooms_peer_remove(rs, pd, 0);
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.rooms, 0);
  nat_rdv_rooms_free(rs);
}

/* A peer that sent its blob and left: its blob goes with it; the next two
 * pair with each other. BYE from a waiting peer is a clean leave. */
static void test_leave_halfway(void **state) {
  rec r = {0};
  nat_rdv_rooms *rs;
  nat_rdv_msg h = hello("leave-code-123"), ba = blob("A"), bb = blob("B"),
              bc = blob("C"), bye = simple(NAT_RDV_BYE);
  (void)state;
  assert_int_equal(nat_rdv_rooms_new(&rs, NULL, on_act, &r), 0);
  nat_rdv_peer *pa = add(rs, &A, 1, 0), *pb = add(rs, &B, 2, 0);
  nat_rdv_rooms_on_msg(rs, pa, &h, 0);
  nat_rdv_rooms_on_msg(rs, pa, &ba, 0);
  nat_rdv_rooms_peer_remove(rs, pa, 0);
  assert_non_null(find(&r, NAT_RDV_ACT_LOG, &A, NAT_RDV_EV_LEFT));
  nat_rdv_rooms_on_msg(rs, pb, &h, 0);
  assert_int_equal(find(&r, NAT_RDV_ACT_LOG, &B, NAT_RDV_EV_JOINED)->count, 1);
  nat_rdv_rooms_on_msg(rs, pb, &bb, 0);
  nat_rdv_peer *pc = add(rs, &C, 3, 0);
  nat_rdv_rooms_on_msg(rs, pc, &h, 0);
  nat_rdv_rooms_on_msg(rs, pc, &bc, 0);
  assert_memory_equal(find(&r, NAT_RDV_ACT_SEND, &B, NAT_RDV_PEER)->data, "C",
                      1);
  assert_memory_equal(find(&r, NAT_RDV_ACT_SEND, &C, NAT_RDV_PEER)->data, "B",
                      1);
  /* BYE while waiting */
  r.n = 0;
  nat_rdv_peer *pd = add(rs, &D, 4, 0);
  nat_rdv_rooms_on_msg(rs, pd, &h, 0);
  nat_rdv_rooms_on_msg(rs, pd, &bye, 0);
  assert_non_null(find(&r, NAT_RDV_ACT_CLOSE, &D, 0));
  assert_int_equal(error_to(&r, &D), -1);
  nat_rdv_rooms_stats st;
  nat_rdv_rooms_stats_get(rs, &st);
  assert_int_equal(st.rooms, 0);
  nat_rdv_rooms_free(rs);
  assert_string_equal(nat_rdv_event_name(NAT_RDV_EV_JOINED), "joined");
}

/* One action's text log line (punch serve's log) into @p buf. */
static const char *line_of(const nat_rdv_action *a, char *buf, size_t len) {
  ssize_t n = nat_rdv_action_format(a, buf, len);
  assert_true(n >= 0);
  assert_int_equal((size_t)n, strlen(buf));
  return buf;
}

static void test_action_format(void **state) {
  static const uint8_t room[NAT_RDV_ROOM_ID_LEN] = {0x1a, 0x2b, 0x3c, 0x4d,
                                                    0x5e};
  nat_rdv_action a;
  char buf[200];
  (void)state;
  memset(&a, 0, sizeof a);
  a.kind = NAT_RDV_ACT_LOG;
  nat_addr_set_v4(&a.addr, 0xc0000201, 4000); /* 192.0.2.1 */
  a.event = NAT_RDV_EV_CONNECT;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "peer 192.0.2.1:4000 connected");
  a.event = NAT_RDV_EV_LEFT;
  assert_string_equal(line_of(&a, buf, sizeof buf), "peer 192.0.2.1:4000 left");
  a.event = NAT_RDV_EV_REFUSED;
  a.code = NAT_RDV_ERR_TOO_MANY;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "peer 192.0.2.1:4000 refused: server full");
  a.has_room = true;
  memcpy(a.room_id, room, sizeof room);
  a.event = NAT_RDV_EV_MALFORMED;
  a.text = "HELLO twice";
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "room 1a2b3c4d: peer 192.0.2.1:4000 malformed: HELLO "
                      "twice");
  a.text = NULL;
  a.code = 0;
  a.event = NAT_RDV_EV_JOINED;
  a.count = 1;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "room 1a2b3c4d: peer 192.0.2.1:4000 joined (1/2)");
  a.event = NAT_RDV_EV_LEFT;
  a.count = 0;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "room 1a2b3c4d: peer 192.0.2.1:4000 left (0/2)");
  a.event = NAT_RDV_EV_PAIRED;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "room 1a2b3c4d: paired: blobs exchanged");
  a.event = NAT_RDV_EV_EXPIRED;
  assert_string_equal(line_of(&a, buf, sizeof buf), "room 1a2b3c4d: expired");
  a.event = NAT_RDV_EV_ROOM_CLOSED;
  assert_string_equal(line_of(&a, buf, sizeof buf), "room 1a2b3c4d: closed");
  a.event = NAT_RDV_EV_TIMEOUT;
  a.code = NAT_RDV_ERR_TIMEOUT;
  assert_string_equal(line_of(&a, buf, sizeof buf),
                      "room 1a2b3c4d: peer 192.0.2.1:4000 timeout: no HELLO "
                      "in time");
  /* too small: cut, NUL-terminated; bad arguments */
  assert_int_equal(nat_rdv_action_format(&a, buf, 8), NAT_ENOBUFS);
  assert_string_equal(buf, "room 1a");
  assert_int_equal(nat_rdv_action_format(NULL, buf, sizeof buf), NAT_EINVAL);
  assert_int_equal(nat_rdv_action_format(&a, NULL, 8), NAT_EINVAL);
  assert_int_equal(nat_rdv_action_format(&a, buf, 0), NAT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairing),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_third_peer),
      cmocka_unit_test(test_hostile_sequences),
      cmocka_unit_test(test_leave_halfway),
      cmocka_unit_test(test_action_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
