/* punch -- the command line tool's shared declarations: main.c calls
 * serve.c and connect.c, the front end of libnat's agent (nat/agent.h),
 * which calls pipe.c (--pipe) and report.c. See punch(1). */
#ifndef PUNCH_H
#define PUNCH_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include <nat/agent.h>

typedef struct punch_opts {
  bool ticket_mode;
  const char *rdv, *room, *rdv_pin, *stun;
  unsigned timeout_s;
  bool json, pipe, allow_loopback;
  uint8_t family; /* NAT_AF_NONE: from the server's address (IPv4 first) */
  uint16_t listen_port;
} punch_opts;

/* --pipe on one QUIC stream (pipe.c). It ends a run that failed with
 * on_end(arg, exit status, reason); its success is the connection's
 * close, which the front end sees. */
typedef struct punch_pipe {
  uv_loop_t *loop;
  nat_quic_conn *conn;
  bool controlling, finished;
  void (*on_end)(void *arg, int code, const char *reason);
  void *arg;
  bool started, have_sid, marker_seen;
  int64_t sid;
  uv_fs_t rreq;
  bool reading, eof_in, fin_sent, fin_rcvd;
  uint8_t rbuf[65536];
  size_t rlen, roff;
  uint64_t bytes_out, bytes_in;
  uv_timer_t ack_timer;
  bool ack_timer_init;
} punch_pipe;

void punch_pipe_start(punch_pipe *p);
void punch_pipe_on_data(punch_pipe *p, int64_t sid, const uint8_t *data,
                        size_t len, bool fin);
void punch_pipe_on_writable(punch_pipe *p, int64_t sid);
/* true when the pipe finished both ways (closing is then a success) */
bool punch_pipe_complete(const punch_pipe *p);
void punch_pipe_close(punch_pipe *p);

/* What a run ended with, for the report. */
typedef struct punch_outcome {
  const punch_opts *opt;
  const nat_agent *agent; /* its pairs; NULL: none */
  nat_agent_info info;
  int exit_code, hint;
  const char *phase, *reason;
  const punch_pipe *pipe;
} punch_outcome;

void punch_report(const punch_outcome *o, FILE *out);

/* Exit statuses (punch(1), EXIT STATUS). */
#define PUNCH_EXIT_OK    0
#define PUNCH_EXIT_FAIL  1
#define PUNCH_EXIT_USAGE 2
#define PUNCH_EXIT_ENV   3

/* `punch serve ARGS...`: argv[0] is "serve". */
int punch_serve(int argc, char **argv);

/* `punch connect ARGS...` and `punch ticket ARGS...`: argv[0] is the
 * command's name (connect.c). */
int punch_connect(int argc, char **argv);
int punch_ticket(int argc, char **argv);

#endif
