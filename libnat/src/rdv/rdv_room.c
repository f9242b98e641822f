/* The rendezvous server's room logic, sans I/O: peers (connections) and
 * rooms of two slots keyed by room ID, pairing, expiry at a caller-given
 * `now`, caps, and the actions (send, close, log) for the driver. The
 * protocol is in docs/rendezvous.md. Linear lists: a HELLO costs a scan of
 * the rooms, an expiry check a scan of rooms and peers; both stay small
 * under the caps (the server's default is 1024 rooms). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/rdv_codec.h"

typedef struct room room;

typedef enum pstate {
  P_NEW,    /* connected, no HELLO yet */
  P_JOINED, /* in a room, SEEN sent, no BLOB yet */
  P_BLOB,   /* its blob is stored */
  P_DONE,   /* the other's blob was forwarded; lingering */
  P_CLOSING /* told the driver to close; ignores everything */
} pstate;

struct nat_rdv_peer {
  nat_rdv_peer *prev, *next;
  void *arg;
  nat_addr addr;
  pstate state;
  room *room;
  nat_tstamp deadline;
  uint8_t *blob;
  size_t blob_len;
};

struct room {
  room *prev, *next;
  uint8_t id[NAT_RDV_ROOM_ID_LEN];
  nat_rdv_peer *slot[2];
  nat_tstamp expiry;
};

struct nat_rdv_rooms {
  nat_rdv_rooms_config cfg;
  nat_rdv_action_fn act;
  void *ctx;
  nat_rdv_peer *peers;
  room *rooms;
  nat_rdv_rooms_stats st;
};

/* ---------------------------------------------------------------- lists */

#define LIST_PUSH(head, x)                                                     \
  do {                                                                         \
    (x)->prev = NULL;                                                          \
    (x)->next = (head);                                                        \
    if ((head) != NULL)                                                        \
      (head)->prev = (x);                                                      \
    (head) = (x);                                                              \
  } while (0)

#define LIST_DROP(head, x)                                                     \
  do {                                                                         \
    if ((x)->prev != NULL)                                                     \
      (x)->prev->next = (x)->next;                                             \
    else                                                                       \
      (head) = (x)->next;                                                      \
    if ((x)->next != NULL)                                                     \
      (x)->next->prev = (x)->prev;                                             \
  } while (0)

static unsigned room_count(const room *r) {
  return (r->slot[0] != NULL ? 1u : 0u) + (r->slot[1] != NULL ? 1u : 0u);
}

/* -------------------------------------------------------------- actions */

static void emit(nat_rdv_rooms *rs, nat_rdv_action *a, nat_rdv_peer *p) {
  if (p != NULL) {
    a->peer = p;
    a->peer_arg = p->arg;
    a->addr = p->addr;
  }
  rs->act(rs->ctx, a);
}

static void log_ev(nat_rdv_rooms *rs, nat_rdv_event ev, nat_rdv_peer *p,
                   const room *r, uint16_t code, const char *text) {
  nat_rdv_action a;
  memset(&a, 0, sizeof a);
  a.kind = NAT_RDV_ACT_LOG;
  a.event = ev;
  a.code = code;
  a.text = text;
  if (r != NULL) {
    a.has_room = true;
    memcpy(a.room_id, r->id, NAT_RDV_ROOM_ID_LEN);
    a.count = room_count(r);
  }
  emit(rs, &a, p);
}

static void send_msg(nat_rdv_rooms *rs, nat_rdv_peer *p, const nat_rdv_msg *m) {
  nat_rdv_action a;
  memset(&a, 0, sizeof a);
  a.kind = NAT_RDV_ACT_SEND;
  a.msg = m;
  emit(rs, &a, p);
}

static void room_free(nat_rdv_rooms *rs, room *r) {
  LIST_DROP(rs->rooms, r);
  log_ev(rs, NAT_RDV_EV_ROOM_CLOSED, NULL, r, 0, NULL);
  free(r);
  rs->st.rooms--;
}

static void drop_blob(nat_rdv_peer *p) {
  free(p->blob);
  p->blob = NULL;
  p->blob_len = 0;
}

/* Take @p p out of its room; the room goes when empty. */
static void detach(nat_rdv_rooms *rs, nat_rdv_peer *p) {
  room *r = p->room;
  if (r == NULL)
    return;
  for (int i = 0; i < 2; i++)
    if (r->slot[i] == p)
      r->slot[i] = NULL;
  p->room = NULL;
  if (room_count(r) == 0)
    room_free(rs, r);
}

/* ERROR (when @p code is not 0) and CLOSE to @p p; it leaves its room. */
static void close_peer(nat_rdv_rooms *rs, nat_rdv_peer *p, uint16_t code,
                       const char *text) {
  nat_rdv_action a;
  if (p->state == P_CLOSING)
    return;
  if (code != 0) {
    nat_rdv_msg m;
    memset(&m, 0, sizeof m);
    m.type = NAT_RDV_ERROR;
    m.code = code;
    m.text = text;
    m.text_len = strlen(text);
    send_msg(rs, p, &m);
  }
  memset(&a, 0, sizeof a);
  a.kind = NAT_RDV_ACT_CLOSE;
  a.code = code;
  a.text = text;
  emit(rs, &a, p);
  p->state = P_CLOSING;
  p->deadline = NAT_TSTAMP_MAX;
  drop_blob(p);
  detach(rs, p);
}

/* Refuse @p p: log why, count, ERROR + CLOSE. */
static void refuse(nat_rdv_rooms *rs, nat_rdv_peer *p, const room *r,
                   nat_rdv_event ev, uint16_t code, const char *text) {
  log_ev(rs, ev, p, r, code, text);
  close_peer(rs, p, code, text);
}

/* ------------------------------------------------------------ lifecycle */

int nat_rdv_rooms_new(nat_rdv_rooms **out, const nat_rdv_rooms_config *cfg,
                      nat_rdv_action_fn act, void *ctx) {
  nat_rdv_rooms *rs;
  if (out == NULL || act == NULL)
    return NAT_EINVAL;
  rs = calloc(1, sizeof *rs);
  if (rs == NULL)
    return NAT_ENOMEM;
  if (cfg != NULL)
    rs->cfg = *cfg;
  if (rs->cfg.max_rooms == 0)
    rs->cfg.max_rooms = 1024;
  if (rs->cfg.max_peers == 0)
    rs->cfg.max_peers = 2 * rs->cfg.max_rooms;
  if (rs->cfg.room_ttl == 0)
    rs->cfg.room_ttl = 60 * NAT_SECONDS;
  if (rs->cfg.hello_timeout == 0)
    rs->cfg.hello_timeout = 10 * NAT_SECONDS;
  if (rs->cfg.linger == 0)
    rs->cfg.linger = 5 * NAT_SECONDS;
  rs->act = act;
  rs->ctx = ctx;
  *out = rs;
  return 0;
}

void nat_rdv_rooms_free(nat_rdv_rooms *rs) {
  if (rs == NULL)
    return;
  while (rs->peers != NULL) {
    nat_rdv_peer *p = rs->peers;
    LIST_DROP(rs->peers, p);
    drop_blob(p);
    free(p);
  }
  while (rs->rooms != NULL) {
    room *r = rs->rooms;
    LIST_DROP(rs->rooms, r);
    free(r);
  }
  free(rs);
}

int nat_rdv_rooms_peer_add(nat_rdv_rooms *rs, nat_rdv_peer **out,
                           const nat_addr *addr, void *arg, nat_tstamp now) {
  nat_rdv_peer *p;
  if (rs == NULL || out == NULL || addr == NULL)
    return NAT_EINVAL;
  if (rs->st.peers >= rs->cfg.max_peers) {
    nat_rdv_action a;
    memset(&a, 0, sizeof a);
    a.kind = NAT_RDV_ACT_LOG;
    a.event = NAT_RDV_EV_REFUSED;
    a.code = NAT_RDV_ERR_TOO_MANY;
    a.text = "too many connections";
    a.addr = *addr;
    a.peer_arg = arg;
    rs->act(rs->ctx, &a);
    rs->st.refused_caps++;
    return NAT_EBUSY;
  }
  p = calloc(1, sizeof *p);
  if (p == NULL)
    return NAT_ENOMEM;
  p->arg = arg;
  p->addr = *addr;
  p->state = P_NEW;
  p->deadline = now + rs->cfg.hello_timeout;
  LIST_PUSH(rs->peers, p);
  rs->st.peers++;
  *out = p;
  log_ev(rs, NAT_RDV_EV_CONNECT, p, NULL, 0, NULL);
  return 0;
}

void nat_rdv_rooms_peer_remove(nat_rdv_rooms *rs, nat_rdv_peer *p,
                               nat_tstamp now) {
  room *r;
  (void)now;
  if (rs == NULL || p == NULL)
    return;
  r = p->room;
  if (r != NULL) {
    for (int i = 0; i < 2; i++)
      if (r->slot[i] == p)
        r->slot[i] = NULL;
    log_ev(rs, NAT_RDV_EV_LEFT, p, r, 0, NULL);
    p->room = NULL;
    if (room_count(r) == 0)
      room_free(rs, r);
  } else {
    log_ev(rs, NAT_RDV_EV_LEFT, p, NULL, 0, NULL);
  }
  LIST_DROP(rs->peers, p);
  drop_blob(p);
  free(p);
  rs->st.peers--;
}

/* ------------------------------------------------------------- messages */

static room *room_find(nat_rdv_rooms *rs, const uint8_t *id) {
  for (room *r = rs->rooms; r != NULL; r = r->next)
    if (memcmp(r->id, id, NAT_RDV_ROOM_ID_LEN) == 0)
      return r;
  return NULL;
}

static room *room_new(nat_rdv_rooms *rs, const uint8_t *id, nat_tstamp now) {
  room *r = calloc(1, sizeof *r);
  if (r == NULL)
    return NULL;
  memcpy(r->id, id, NAT_RDV_ROOM_ID_LEN);
  r->expiry = now + rs->cfg.room_ttl;
  LIST_PUSH(rs->rooms, r);
  rs->st.rooms++;
  return r;
}

static void on_hello(nat_rdv_rooms *rs, nat_rdv_peer *p, const nat_rdv_msg *m,
                     nat_tstamp now) {
  room *r;
  nat_rdv_msg seen;
  if (!nat_rdv_join_check(m->room_id, m->join)) {
    rs->st.bad_join++;
    refuse(rs, p, NULL, NAT_RDV_EV_REFUSED, NAT_RDV_ERR_BAD_JOIN,
           "join secret does not match the room ID");
    return;
  }
  r = room_find(rs, m->room_id);
  if (r == NULL && rs->st.rooms >= rs->cfg.max_rooms) {
    rs->st.refused_caps++;
    refuse(rs, p, NULL, NAT_RDV_EV_REFUSED, NAT_RDV_ERR_TOO_MANY,
           "too many rooms");
    return;
  }
  if (r == NULL && (r = room_new(rs, m->room_id, now)) == NULL) {
    refuse(rs, p, NULL, NAT_RDV_EV_REFUSED, NAT_RDV_ERR_TOO_MANY,
           "out of memory");
    return;
  }
  if (room_count(r) == 2) {
    rs->st.refused_full++;
    refuse(rs, p, r, NAT_RDV_EV_REFUSED, NAT_RDV_ERR_ROOM_FULL,
           "room full (2 peers)");
    return;
  }
  r->slot[r->slot[0] == NULL ? 0 : 1] = p;
  p->room = r;
  p->state = P_JOINED;
  p->deadline = NAT_TSTAMP_MAX;
  rs->st.joined++;
  memset(&seen, 0, sizeof seen);
  seen.type = NAT_RDV_SEEN;
  seen.addr = p->addr;
  send_msg(rs, p, &seen);
  log_ev(rs, NAT_RDV_EV_JOINED, p, r, 0, NULL);
}

/* Both slots hold a blob: forward each to the other, BYE, close the room. */
static void try_pair(nat_rdv_rooms *rs, room *r, nat_tstamp now) {
  nat_rdv_peer *a = r->slot[0], *b = r->slot[1];
  nat_rdv_msg m;
  if (a == NULL || b == NULL || a->state != P_BLOB || b->state != P_BLOB)
    return;
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_PEER;
  m.data = b->blob;
  m.data_len = b->blob_len;
  send_msg(rs, a, &m);
  m.data = a->blob;
  m.data_len = a->blob_len;
  send_msg(rs, b, &m);
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_BYE;
  send_msg(rs, a, &m);
  send_msg(rs, b, &m);
  rs->st.paired++;
  log_ev(rs, NAT_RDV_EV_PAIRED, NULL, r, 0, NULL);
  for (int i = 0; i < 2; i++) {
    nat_rdv_peer *p = r->slot[i];
    p->state = P_DONE;
    p->deadline = now + rs->cfg.linger;
    drop_blob(p);
    p->room = NULL;
    r->slot[i] = NULL;
  }
  room_free(rs, r);
}

static void on_blob(nat_rdv_rooms *rs, nat_rdv_peer *p, const nat_rdv_msg *m,
                    nat_tstamp now) {
  p->blob = malloc(m->data_len);
  if (p->blob == NULL) {
    close_peer(rs, p, NAT_RDV_ERR_TOO_MANY, "out of memory");
    return;
  }
  memcpy(p->blob, m->data, m->data_len);
  p->blob_len = m->data_len;
  p->state = P_BLOB;
  try_pair(rs, p->room, now);
}

static void unexpected(nat_rdv_rooms *rs, nat_rdv_peer *p,
                       const nat_rdv_msg *m) {
  static const char *const what[] = {"unexpected ?",    "unexpected HELLO",
                                     "unexpected SEEN", "unexpected BLOB",
                                     "unexpected PEER", "unexpected ERROR",
                                     "unexpected BYE"};
  unsigned t = m->type <= NAT_RDV_BYE ? m->type : 0;
  rs->st.unexpected++;
  refuse(rs, p, p->room, NAT_RDV_EV_MALFORMED, NAT_RDV_ERR_UNEXPECTED, what[t]);
}

void nat_rdv_rooms_on_msg(nat_rdv_rooms *rs, nat_rdv_peer *p,
                          const nat_rdv_msg *m, nat_tstamp now) {
  if (rs == NULL || p == NULL || m == NULL || p->state == P_CLOSING)
    return;
  if (m->type == NAT_RDV_BYE || m->type == NAT_RDV_ERROR) {
    close_peer(rs, p, 0, "bye");
  } else if (m->type == NAT_RDV_HELLO && p->state == P_NEW) {
    on_hello(rs, p, m, now);
  } else if (m->type == NAT_RDV_BLOB && p->state == P_JOINED) {
    on_blob(rs, p, m, now);
  } else {
    unexpected(rs, p, m);
  }
}

void nat_rdv_rooms_on_bad(nat_rdv_rooms *rs, nat_rdv_peer *p, int err,
                          nat_tstamp now) {
  (void)now;
  if (rs == NULL || p == NULL || p->state == P_CLOSING)
    return;
  rs->st.malformed++;
  refuse(rs, p, p->room, NAT_RDV_EV_MALFORMED, NAT_RDV_ERR_MALFORMED,
         nat_strerror(err));
}

/* --------------------------------------------------------------- timers */

void nat_rdv_rooms_handle_expiry(nat_rdv_rooms *rs, nat_tstamp now) {
  room *r, *rnext;
  nat_rdv_peer *p;
  if (rs == NULL)
    return;
  for (r = rs->rooms; r != NULL; r = rnext) {
    nat_rdv_peer *a = r->slot[0], *b = r->slot[1];
    rnext = r->next;
    if (r->expiry > now)
      continue;
    rs->st.expired++;
    log_ev(rs, NAT_RDV_EV_EXPIRED, NULL, r, 0, NULL);
    /* The room is freed when its last member detaches. */
    if (a != NULL)
      close_peer(rs, a, NAT_RDV_ERR_EXPIRED, "room expired");
    if (b != NULL)
      close_peer(rs, b, NAT_RDV_ERR_EXPIRED, "room expired");
  }
  for (p = rs->peers; p != NULL; p = p->next) {
    if (p->deadline > now)
      continue;
    if (p->state == P_NEW) {
      rs->st.timeouts++;
      refuse(rs, p, NULL, NAT_RDV_EV_TIMEOUT, NAT_RDV_ERR_TIMEOUT,
             "no HELLO in time");
    } else if (p->state == P_DONE) {
      close_peer(rs, p, 0, "done");
    }
  }
}

nat_tstamp nat_rdv_rooms_get_expiry(const nat_rdv_rooms *rs) {
  nat_tstamp t = NAT_TSTAMP_MAX;
  if (rs == NULL)
    return t;
  for (const room *r = rs->rooms; r != NULL; r = r->next)
    if (r->expiry < t)
      t = r->expiry;
  for (const nat_rdv_peer *p = rs->peers; p != NULL; p = p->next)
    if (p->deadline < t)
      t = p->deadline;
  return t;
}

void nat_rdv_rooms_stats_get(const nat_rdv_rooms *rs,
                             nat_rdv_rooms_stats *out) {
  if (rs != NULL && out != NULL)
    *out = rs->st;
}

const char *nat_rdv_event_name(int ev) {
  static const char *const names[] = {
      "?",       "connect", "refused",   "joined",  "paired",
      "expired", "left",    "malformed", "timeout", "room-closed"};
  if (ev < 1 || ev > NAT_RDV_EV_ROOM_CLOSED)
    return "?";
  return names[ev];
}

/* The body of a log line after its "room R: " prefix (@p where). */
static int format_event(const nat_rdv_action *a, const char *where,
                        const char *peer, char *buf, size_t len) {
  switch (a->event) {
  case NAT_RDV_EV_JOINED:
    return snprintf(buf, len, "%speer %s joined (%u/2)", where, peer, a->count);
  case NAT_RDV_EV_LEFT:
    if (a->has_room)
      return snprintf(buf, len, "%speer %s left (%u/2)", where, peer, a->count);
    return snprintf(buf, len, "peer %s left", peer);
  case NAT_RDV_EV_PAIRED:
    return snprintf(buf, len, "%spaired: blobs exchanged", where);
  case NAT_RDV_EV_EXPIRED:
    return snprintf(buf, len, "%sexpired", where);
  case NAT_RDV_EV_ROOM_CLOSED:
    return snprintf(buf, len, "%sclosed", where);
  case NAT_RDV_EV_CONNECT:
    return snprintf(buf, len, "peer %s connected", peer);
  default: /* refused, malformed, timeout */
    return snprintf(buf, len, "%speer %s %s: %s", where, peer,
                    nat_rdv_event_name((int)a->event),
                    a->text != NULL ? a->text : nat_rdv_strerror(a->code));
  }
}

ssize_t nat_rdv_action_format(const nat_rdv_action *a, char *buf, size_t len) {
  char where[32] = "", peer[NAT_ADDR_STRLEN];
  int n;
  if (a == NULL || buf == NULL || len == 0)
    return NAT_EINVAL;
  if (a->has_room)
    snprintf(where, sizeof where, "room %02x%02x%02x%02x: ", a->room_id[0],
             a->room_id[1], a->room_id[2], a->room_id[3]);
  nat_addr_format(&a->addr, peer, sizeof peer);
  n = format_event(a, where, peer, buf, len);
  if (n < 0)
    return NAT_EINVAL;
  return (size_t)n < len ? (ssize_t)n : NAT_ENOBUFS;
}
