/* libnat -- the agent's pipe (agent_pipe.h): an input fd to the peer, the
 * peer's bytes to an output fd, on one bidirectional QUIC stream.
 *
 * Backpressure: the input is read one chunk at a time (uv_fs_read, so
 * files, pipes and terminals all work) and the next read starts only when
 * the stream took the whole chunk; received bytes are written out before
 * their flow-control credit goes back (nat_quic_stream_consume). The
 * server's end needs its bytes acknowledged, which has no event: it polls
 * nat_quic_stream_unacked() every 2 ms meanwhile. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_pipe.h"
#include "nat/error.h"

#define ACK_POLL_MS 2

struct nat__pipe {
  uv_loop_t *loop;
  int in, out;
  nat_quic_conn *conn; /* NULL: not started, or closed */
  bool controlling;
  nat__pipe_fail_cb fail;
  void *arg;
  bool failed, closing, timer_closed;
  bool have_sid, marker_seen;
  int64_t sid;
  uv_fs_t rreq;
  bool reading, eof_in, fin_sent, fin_rcvd;
  size_t rlen, roff;
  uint64_t bytes_out, bytes_in, bytes_read;
  uv_timer_t ack_timer;
  void (*close_cb)(void *arg);
  void *close_arg;
  uint8_t rbuf[65536];
};

static void read_more(nat__pipe *p);

static const char *fd_name(int fd, bool in) {
  if (fd == (in ? STDIN_FILENO : STDOUT_FILENO))
    return in ? "stdin" : "stdout";
  return in ? "the pipe's input" : "the pipe's output";
}

static void end(nat__pipe *p, int error, bool local, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The pipe failed: say why, once. */
static void end(nat__pipe *p, int error, bool local, const char *fmt, ...) {
  char reason[320];
  va_list ap;
  if (p->failed)
    return;
  p->failed = true;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  p->fail(p->arg, error, local, reason);
}

static bool idle(const nat__pipe *p) {
  return p->failed || p->closing || p->conn == NULL;
}

static void flush_chunk(nat__pipe *p) {
  while (p->roff < p->rlen && !idle(p)) {
    ssize_t n = nat_quic_stream_write(p->conn, p->sid, p->rbuf + p->roff,
                                      p->rlen - p->roff, false);
    if (n < 0) {
      end(p, (int)n, false, "cannot write to the peer: %s",
          nat_strerror((int)n));
      return;
    }
    if (n == 0)
      return; /* on_writable resumes */
    p->roff += (size_t)n;
    p->bytes_out += (uint64_t)n;
  }
  if (p->roff == p->rlen)
    read_more(p);
}

static void ack_poll(uv_timer_t *t);

/* The server's end: everything both ways is done once the client's FIN
 * is in and our bytes are acknowledged. */
static void check_done(nat__pipe *p) {
  if (p->controlling || !p->fin_rcvd || !p->fin_sent || idle(p))
    return;
  if (nat_quic_stream_unacked(p->conn, p->sid) > 0) {
    uv_timer_start(&p->ack_timer, ack_poll, ACK_POLL_MS, 0);
    return;
  }
  (void)nat_quic_conn_close(p->conn, 0, "done");
}

static void ack_poll(uv_timer_t *t) {
  check_done(t->data);
}

static void send_fin(nat__pipe *p) {
  ssize_t n;
  if (idle(p) || p->fin_sent)
    return;
  n = nat_quic_stream_write(p->conn, p->sid, NULL, 0, true);
  if (n < 0) {
    end(p, (int)n, false, "cannot end the stream: %s", nat_strerror((int)n));
    return;
  }
  p->fin_sent = true;
  check_done(p);
}

static void maybe_free(nat__pipe *p) {
  if (p->closing && p->timer_closed && !p->reading)
    free(p);
}

static void on_read(uv_fs_t *req) {
  nat__pipe *p = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  p->reading = false;
  if (p->closing) {
    maybe_free(p);
    return;
  }
  if (p->failed)
    return;
  if (r < 0) {
    end(p, (int)r, true, "cannot read %s: %s", fd_name(p->in, true),
        uv_strerror((int)r));
    return;
  }
  if (r == 0) {
    p->eof_in = true;
    send_fin(p);
    return;
  }
  p->rlen = (size_t)r;
  p->roff = 0;
  p->bytes_read += (uint64_t)r;
  flush_chunk(p);
}

static void read_more(nat__pipe *p) {
  uv_buf_t b = uv_buf_init((char *)p->rbuf, sizeof p->rbuf);
  if (p->reading || p->eof_in || idle(p))
    return;
  p->rreq.data = p;
  if (uv_fs_read(p->loop, &p->rreq, p->in, &b, 1, -1, on_read) != 0) {
    p->eof_in = true;
    send_fin(p);
    return;
  }
  p->reading = true;
}

int nat__pipe_new(nat__pipe **out, uv_loop_t *loop, int in, int out_fd,
                  nat__pipe_fail_cb fail, void *arg) {
  nat__pipe *p;
  if (out == NULL || loop == NULL || in < 0 || out_fd < 0 || fail == NULL)
    return NAT_EINVAL;
  if ((p = calloc(1, sizeof *p)) == NULL)
    return NAT_ENOMEM;
  p->loop = loop;
  p->in = in;
  p->out = out_fd;
  p->fail = fail;
  p->arg = arg;
  uv_timer_init(loop, &p->ack_timer);
  p->ack_timer.data = p;
  *out = p;
  return 0;
}

void nat__pipe_start(nat__pipe *p, nat_quic_conn *c, bool controlling) {
  static const uint8_t marker = NAT__PIPE_MARKER;
  p->conn = c;
  p->controlling = controlling;
  if (!controlling)
    return; /* the server waits for the client's stream */
  if (nat_quic_stream_open(c, &p->sid) != 0 ||
      nat_quic_stream_write(c, p->sid, &marker, 1, false) != 1) {
    end(p, NAT_EQUIC, false, "%s", "cannot open the stream to the peer");
    return;
  }
  p->have_sid = true;
  read_more(p);
}

static int write_all(int fd, const uint8_t *d, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, d, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    d += n;
    len -= (size_t)n;
  }
  return 0;
}

void nat__pipe_on_data(nat__pipe *p, int64_t sid, const uint8_t *data,
                       size_t len, bool fin) {
  size_t skip = 0;
  if (idle(p))
    return;
  if (!p->have_sid) {
    if (p->controlling)
      return;
    p->sid = sid;
    p->have_sid = true;
    read_more(p);
  }
  if (sid != p->sid)
    return;
  if (!p->controlling && !p->marker_seen && len > 0) {
    p->marker_seen = true;
    skip = 1;
  }
  if (len > skip && write_all(p->out, data + skip, len - skip) != 0) {
    int e = errno;
    end(p, e > 0 ? -e : NAT_EINVAL, true, "cannot write to %s: %s",
        fd_name(p->out, false), strerror(e));
    return;
  }
  p->bytes_in += len - skip;
  if (len > 0)
    (void)nat_quic_stream_consume(p->conn, sid, len);
  if (fin) {
    p->fin_rcvd = true;
    check_done(p);
  }
}

void nat__pipe_on_writable(nat__pipe *p, int64_t sid) {
  if (idle(p) || !p->have_sid || sid != p->sid)
    return;
  flush_chunk(p);
}

int nat__pipe_closed(nat__pipe *p, const nat_quic_close_info *info, char *why,
                     size_t whylen) {
  p->conn = NULL;
  if ((p->fin_rcvd && p->fin_sent) ||
      (info->by_peer && info->app && info->code == 0 && p->fin_sent))
    return 0;
  snprintf(why, whylen,
           "the peer closed the connection before the end of the stream: %s",
           info->reason_len ? info->reason : nat_strerror(info->error));
  return NAT_ECANCELED;
}

void nat__pipe_counts(const nat__pipe *p, uint64_t *sent, uint64_t *received) {
  *sent = p->bytes_out;
  *received = p->bytes_in;
}

void nat__pipe_input(const nat__pipe *p, bool *reading, uint64_t *taken,
                     bool *eof) {
  *reading = p->reading;
  *taken = p->bytes_read;
  *eof = p->eof_in;
}

void nat__pipe_fins(const nat__pipe *p, bool *sent, bool *received) {
  *sent = p->fin_sent;
  *received = p->fin_rcvd;
}

static void on_timer_closed(uv_handle_t *h) {
  nat__pipe *p = h->data;
  void (*cb)(void *) = p->close_cb;
  void *arg = p->close_arg;
  p->timer_closed = true;
  maybe_free(p);
  if (cb != NULL)
    cb(arg);
}

void nat__pipe_close(nat__pipe *p, void (*cb)(void *arg), void *arg) {
  if (p == NULL || p->closing)
    return;
  p->closing = true;
  p->conn = NULL;
  p->close_cb = cb;
  p->close_arg = arg;
  if (p->reading)
    (void)uv_cancel((uv_req_t *)&p->rreq);
  uv_close((uv_handle_t *)&p->ack_timer, on_timer_closed);
}
