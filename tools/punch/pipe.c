/* punch --pipe -- stdin to the peer, the peer's bytes to stdout, on one
 * bidirectional QUIC stream.
 *
 * The QUIC client opens the stream and sends one marker byte first, so
 * the server learns the stream even when the client has nothing to say;
 * the marker is not part of the data. Backpressure: stdin is read one
 * chunk at a time (uv_fs_read, so files, pipes and terminals all work) and
 * the next read starts only when the stream took the whole chunk; received
 * bytes are written to stdout before their flow-control credit goes back
 * (manual_consume). End: stdin's EOF sends FIN. The server closes the
 * connection once it has the client's FIN and the client acknowledged all
 * of its data; the client succeeds when that close comes after the
 * server's FIN. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nat/error.h>

#include "punch.h"

#define PIPE_MARKER 0x50 /* 'P' */

static void read_more(punch_pipe *p);

static void end(punch_pipe *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The run ends with @p code and a reason (for the front end). */
static void end(punch_pipe *p, int code, const char *fmt, ...) {
  char reason[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  p->on_end(p->arg, code, reason);
}

static void flush_chunk(punch_pipe *p) {
  while (p->roff < p->rlen && p->conn != NULL) {
    ssize_t n = nat_quic_stream_write(p->conn, p->sid, p->rbuf + p->roff,
                                      p->rlen - p->roff, false);
    if (n < 0) {
      end(p, PUNCH_EXIT_FAIL, "cannot write to the peer: %s",
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
 * is in and our bytes are acknowledged. Acknowledgements have no event,
 * so the server polls nat_quic_stream_unacked() every 2 ms meanwhile. */
static void check_done(punch_pipe *p) {
  if (p->controlling || !p->fin_rcvd || !p->fin_sent || p->conn == NULL ||
      p->finished)
    return;
  if (nat_quic_stream_unacked(p->conn, p->sid) > 0) {
    if (!p->ack_timer_init) {
      uv_timer_init(p->loop, &p->ack_timer);
      p->ack_timer.data = p;
      p->ack_timer_init = true;
    }
    uv_timer_start(&p->ack_timer, ack_poll, 2, 0);
    return;
  }
  (void)nat_quic_conn_close(p->conn, 0, "done");
}

static void ack_poll(uv_timer_t *t) {
  check_done(t->data);
}

static void send_fin(punch_pipe *p) {
  ssize_t n;
  if (p->conn == NULL || p->fin_sent)
    return;
  n = nat_quic_stream_write(p->conn, p->sid, NULL, 0, true);
  if (n < 0) {
    end(p, PUNCH_EXIT_FAIL, "cannot end the stream: %s", nat_strerror((int)n));
    return;
  }
  p->fin_sent = true;
  check_done(p);
}

static void on_read(uv_fs_t *req) {
  punch_pipe *p = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  p->reading = false;
  if (p->finished)
    return;
  if (r < 0) {
    end(p, PUNCH_EXIT_ENV, "cannot read stdin: %s", uv_strerror((int)r));
    return;
  }
  if (r == 0) {
    p->eof_in = true;
    send_fin(p);
    return;
  }
  p->rlen = (size_t)r;
  p->roff = 0;
  flush_chunk(p);
}

static void read_more(punch_pipe *p) {
  uv_buf_t b = uv_buf_init((char *)p->rbuf, sizeof p->rbuf);
  if (p->reading || p->eof_in || p->finished)
    return;
  p->rreq.data = p;
  if (uv_fs_read(p->loop, &p->rreq, STDIN_FILENO, &b, 1, -1, on_read) != 0) {
    p->eof_in = true;
    send_fin(p);
    return;
  }
  p->reading = true;
}

void punch_pipe_start(punch_pipe *p) {
  static const uint8_t marker = PIPE_MARKER;
  p->started = true;
  if (!p->controlling)
    return; /* the server waits for the client's stream */
  if (nat_quic_stream_open(p->conn, &p->sid) != 0 ||
      nat_quic_stream_write(p->conn, p->sid, &marker, 1, false) != 1) {
    end(p, PUNCH_EXIT_FAIL, "cannot open the stream to the peer");
    return;
  }
  p->have_sid = true;
  read_more(p);
}

static int write_all(const uint8_t *d, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, d, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    d += n;
    len -= (size_t)n;
  }
  return 0;
}

void punch_pipe_on_data(punch_pipe *p, int64_t sid, const uint8_t *data,
                        size_t len, bool fin) {
  size_t skip = 0;
  if (p->finished || p->conn == NULL)
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
  if (len > skip && write_all(data + skip, len - skip) != 0) {
    end(p, PUNCH_EXIT_ENV, "cannot write to stdout: %s", strerror(errno));
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

void punch_pipe_on_writable(punch_pipe *p, int64_t sid) {
  if (p->finished || sid != p->sid)
    return;
  flush_chunk(p);
}

bool punch_pipe_complete(const punch_pipe *p) {
  return p->fin_rcvd && p->fin_sent;
}

void punch_pipe_close(punch_pipe *p) {
  if (p->ack_timer_init) {
    p->ack_timer_init = false;
    uv_close((uv_handle_t *)&p->ack_timer, NULL);
  }
  if (p->reading)
    (void)uv_cancel((uv_req_t *)&p->rreq);
}
