/* QUIC streams: per-stream send buffers made of fixed chunks (bytes never
 * move, because ngtcp2 keeps pointers to unacknowledged data and
 * retransmits from them), freed as the peer acknowledges; the ngtcp2 stream
 * callbacks; the stream API (open, write with backpressure, consume). */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "quic_internal.h"

/* Inherent cycle with quic_conn.c: its writer drains us, writes wake it. */

static nat__quic_stream *stream_find(const nat_quic_conn *c, int64_t sid) {
  for (nat__quic_stream *s = c->streams; s; s = s->next)
    if (s->id == sid)
      return s;
  return NULL;
}

static nat__quic_stream *stream_new(nat_quic_conn *c, int64_t sid) {
  nat__quic_stream *s = calloc(1, sizeof *s);
  nat__quic_stream **tail = &c->streams;
  if (!s)
    return NULL;
  s->id = sid;
  while (*tail) /* append: the oldest stream is served first */
    tail = &(*tail)->next;
  *tail = s;
  return s;
}

static void stream_free(nat__quic_stream *s) {
  while (s->head) {
    nat__quic_chunk *n = s->head->next;
    free(s->head);
    s->head = n;
  }
  free(s);
}

static void stream_remove(nat_quic_conn *c, nat__quic_stream *s) {
  for (nat__quic_stream **p = &c->streams; *p; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      break;
    }
  }
  stream_free(s);
}

void nat__quic_stream_free_all(nat_quic_conn *c) {
  while (c->streams) {
    nat__quic_stream *n = c->streams->next;
    stream_free(c->streams);
    c->streams = n;
  }
}

static size_t stream_room(const nat_quic_conn *c, const nat__quic_stream *s) {
  uint64_t held = s->total - s->acked;
  size_t cap = c->ep->cfg.send_buffer;
  return held >= cap ? 0 : cap - (size_t)held;
}

/* ------------------------------------------------------------ sending */

nat__quic_stream *nat__quic_stream_next_to_send(nat_quic_conn *c) {
  for (nat__quic_stream *s = c->streams; s; s = s->next) {
    if (s->blocked || s->shut_wr)
      continue;
    if (s->sent < s->total || (s->fin_queued && !s->fin_sent))
      return s;
  }
  return NULL;
}

/* The next contiguous unsent bytes of @p s in @p v (one chunk at most);
 * *fin: they end the stream. @return 1 if @p v holds data, else 0. */
size_t nat__quic_stream_peek(const nat__quic_stream *s, ngtcp2_vec *v,
                             bool *fin) {
  nat__quic_stream *m = (nat__quic_stream *)(uintptr_t)s;
  v->base = NULL;
  v->len = 0;
  if (s->sent < s->total) {
    while (m->sent - m->cur_off >= m->cur->len && m->cur->next) {
      m->cur_off += m->cur->len;
      m->cur = m->cur->next;
    }
    v->base = m->cur->data + (m->sent - m->cur_off);
    v->len = (size_t)(m->cur_off + m->cur->len - m->sent);
  }
  *fin = s->fin_queued && !s->fin_sent && s->sent + v->len == s->total;
  return v->len > 0 ? 1 : 0;
}

void nat__quic_stream_sent(nat__quic_stream *s, size_t n, bool fin) {
  s->sent += n;
  if (fin)
    s->fin_sent = true;
}

static int cb_acked(ngtcp2_conn *conn, int64_t sid, uint64_t offset,
                    uint64_t datalen, void *user_data, void *stream_user_data) {
  nat_quic_conn *c = user_data;
  nat__quic_stream *s = stream_find(c, sid);
  (void)conn;
  (void)stream_user_data;
  if (!s)
    return 0;
  if (offset + datalen > s->acked)
    s->acked = offset + datalen;
  /* Free full chunks wholly acknowledged (the tail keeps filling). */
  while (s->head && s->head->len == NAT__QUIC_CHUNK &&
         s->head_off + NAT__QUIC_CHUNK <= s->acked) {
    nat__quic_chunk *h = s->head;
    if (s->cur == h) {
      s->cur = h->next;
      s->cur_off += NAT__QUIC_CHUNK;
    }
    s->head = h->next;
    s->head_off += NAT__QUIC_CHUNK;
    if (!s->head)
      s->tail = NULL;
    free(h);
  }
  if (s->want_writable && stream_room(c, s) > 0) {
    s->want_writable = false;
    s->writable_due = true;
  }
  return 0;
}

static int cb_extend_max_stream_data(ngtcp2_conn *conn, int64_t sid,
                                     uint64_t max_data, void *user_data,
                                     void *stream_user_data) {
  nat__quic_stream *s = stream_find(user_data, sid);
  (void)conn;
  (void)max_data;
  (void)stream_user_data;
  if (s)
    s->blocked = false;
  return 0;
}

static int cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid,
                           uint64_t app_error_code, void *user_data,
                           void *stream_user_data) {
  nat_quic_conn *c = user_data;
  nat__quic_stream *s = stream_find(c, sid);
  (void)conn;
  (void)flags;
  (void)app_error_code;
  (void)stream_user_data;
  if (s) /* ngtcp2 no longer points into its buffers */
    stream_remove(c, s);
  return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t sid,
                               uint64_t offset, const uint8_t *data,
                               size_t datalen, void *user_data,
                               void *stream_user_data) {
  nat_quic_conn *c = user_data;
  const nat_quic_endpoint *ep = c->ep;
  bool fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
  (void)offset;
  (void)stream_user_data;
  if (!stream_find(c, sid) && !stream_new(c, sid))
    return NGTCP2_ERR_CALLBACK_FAILURE;
  if (!ep->cfg.manual_consume) {
    ngtcp2_conn_extend_max_stream_offset(conn, sid, datalen);
    ngtcp2_conn_extend_max_offset(conn, datalen);
  }
  if (ep->cfg.cb.on_stream_data && !c->close_due && !NAT__QUIC_ENDED(c))
    ep->cfg.cb.on_stream_data(c, c->arg, sid, data, datalen, fin);
  return 0;
}

void nat__quic_stream_callbacks(ngtcp2_callbacks *cb) {
  cb->recv_stream_data = cb_recv_stream_data;
  cb->acked_stream_data_offset = cb_acked;
  cb->extend_max_stream_data = cb_extend_max_stream_data;
  cb->stream_close = cb_stream_close;
}

/* on_writable for every stream that got room after a short write. The list
 * is searched again after each call: the callback may open streams. */
void nat__quic_stream_deliver_writable(nat_quic_conn *c) {
  void (*cb)(nat_quic_conn *, void *, int64_t) = c->ep->cfg.cb.on_writable;
  for (;;) {
    nat__quic_stream *s = c->streams;
    while (s && !s->writable_due)
      s = s->next;
    if (!s)
      return;
    s->writable_due = false;
    if (cb)
      cb(c, c->arg, s->id);
    if (NAT__QUIC_ENDED(c))
      return;
  }
}

/* ---------------------------------------------------------------- API */

/** Open a bidirectional stream; see quic.h. */
int nat_quic_stream_open(nat_quic_conn *c, int64_t *sid) {
  int64_t id;
  int rv;
  if (!c || !sid)
    return NAT_EINVAL;
  if (NAT__QUIC_ENDED(c) || c->close_due)
    return NAT_ECLOSING;
  if (c->state != NAT__QUIC_OPEN)
    return NAT_EAGAIN;
  rv = ngtcp2_conn_open_bidi_stream(c->conn, &id, NULL);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
    return NAT_EAGAIN;
  if (rv != 0)
    return rv == NGTCP2_ERR_NOMEM ? NAT_ENOMEM : NAT_EQUIC;
  if (!stream_new(c, id)) {
    ngtcp2_conn_shutdown_stream(c->conn, id, 0);
    return NAT_ENOMEM;
  }
  *sid = id;
  return 0;
}

/* Copy up to @p len bytes to the end of the stream's chunks.
 * @return the bytes copied (fewer only when out of memory). */
static size_t stream_append(nat__quic_stream *s, const uint8_t *data,
                            size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t n;
    if (!s->tail || s->tail->len == NAT__QUIC_CHUNK) {
      nat__quic_chunk *k = malloc(sizeof *k);
      if (!k)
        break;
      k->next = NULL;
      k->len = 0;
      if (s->tail) {
        s->tail->next = k;
      } else {
        s->head = k;
        s->head_off = s->total;
      }
      s->tail = k;
      if (!s->cur) {
        s->cur = k;
        s->cur_off = s->total;
      }
    }
    n = NAT__QUIC_CHUNK - s->tail->len;
    if (n > len - done)
      n = len - done;
    memcpy(s->tail->data + s->tail->len, data + done, n);
    s->tail->len += n;
    s->total += n;
    done += n;
  }
  return done;
}

/** Queue stream data with backpressure; see quic.h. */
ssize_t nat_quic_stream_write(nat_quic_conn *c, int64_t sid,
                              const uint8_t *data, size_t len, bool fin) {
  nat__quic_stream *s;
  size_t room, n;
  if (!c || (!data && len > 0))
    return NAT_EINVAL;
  if (NAT__QUIC_ENDED(c) || c->close_due)
    return NAT_ECLOSING;
  if (!(s = stream_find(c, sid)))
    return NAT_EINVAL;
  if (s->fin_queued || s->shut_wr)
    return NAT_ECLOSING;
  room = stream_room(c, s);
  n = stream_append(s, data, len < room ? len : room);
  if (n == 0 && len > 0 && room > 0)
    return NAT_ENOMEM;
  if (n < len)
    s->want_writable = true;
  else if (fin)
    s->fin_queued = true;
  nat__quic_conn_write(c);
  return (ssize_t)n;
}

/** Give flow-control credit back; see quic.h. */
int nat_quic_stream_consume(nat_quic_conn *c, int64_t sid, size_t n) {
  if (!c)
    return NAT_EINVAL;
  if (NAT__QUIC_ENDED(c))
    return NAT_ECLOSING;
  ngtcp2_conn_extend_max_stream_offset(c->conn, sid, n);
  ngtcp2_conn_extend_max_offset(c->conn, n);
  nat__quic_conn_write(c);
  return 0;
}

/** Bytes written to a stream and not yet acknowledged; see quic.h. */
size_t nat_quic_stream_unacked(const nat_quic_conn *c, int64_t sid) {
  const nat__quic_stream *s = c ? stream_find(c, sid) : NULL;
  return s ? (size_t)(s->total - s->acked) : 0;
}
