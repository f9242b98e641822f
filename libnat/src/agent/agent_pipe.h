/* libnat -- the agent's pipe (nat_agent_config.pipe): bytes from an input
 * fd to the peer and the peer's bytes to an output fd, on one
 * bidirectional QUIC stream of a confirmed connection. A driver piece
 * (libuv: the reads, a timer); the agent (agent_run.c) feeds it the
 * connection's stream events and its close, and tests drive it on two
 * endpoints of their own.
 *
 * Wire behaviour (what punch --pipe peers of every release expect): the
 * QUIC client opens the stream and sends one marker byte (0x50) first, so
 * the server learns the stream even when the client has nothing to say;
 * the marker is not data. Input's EOF sends FIN. The server closes the
 * connection with application code 0 once it has the client's FIN and the
 * client acknowledged all of the server's bytes. */
#ifndef NAT_AGENT_PIPE_H
#define NAT_AGENT_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "nat/quic.h"

#define NAT__PIPE_MARKER 0x50 /* 'P' */

typedef struct nat__pipe nat__pipe;

/* The pipe failed (@p error: a NAT_E* or UV_E* code; @p local: our side's
 * fault, e.g. the input unreadable) with a one-line reason. Called at most
 * once; the pipe then does nothing more. */
typedef void (*nat__pipe_fail_cb)(void *arg, int error, bool local,
                                  const char *reason);

/* A pipe between the fds @p in and @p out (not closed by the pipe; fd 0
 * and 1 are called stdin and stdout in reasons). The connection's streams
 * must be acknowledged manually (nat_quic_config.manual_consume): the
 * peer's bytes get their credit back once written out.
 * @return 0, NAT_EINVAL (a negative fd), NAT_ENOMEM. */
int nat__pipe_new(nat__pipe **out, uv_loop_t *loop, int in, int out_fd,
                  nat__pipe_fail_cb fail, void *arg);
/* The connection is confirmed: the client opens the stream (marker
 * first) and starts reading; the server waits for the client's stream. */
void nat__pipe_start(nat__pipe *p, nat_quic_conn *c, bool controlling);
/* The connection's on_stream_data and on_writable. */
void nat__pipe_on_data(nat__pipe *p, int64_t sid, const uint8_t *data,
                       size_t len, bool fin);
void nat__pipe_on_writable(nat__pipe *p, int64_t sid);
/* The connection closed (it is not used again). @return 0 when that is
 * the pipe's success (both ways finished, or the server's close with code
 * 0 after our FIN), else NAT_ECANCELED with a reason in @p why. */
int nat__pipe_closed(nat__pipe *p, const nat_quic_close_info *info, char *why,
                     size_t whylen);
/* Stream bytes sent (taken by QUIC) and received (the marker not
 * counted). */
void nat__pipe_counts(const nat__pipe *p, uint64_t *sent, uint64_t *received);
/* The input side: a read under way on the thread pool, the bytes its
 * reads returned so far, and whether one returned EOF. (A read with
 * bytes or EOF waiting in the fd completes; one without blocks.) */
void nat__pipe_input(const nat__pipe *p, bool *reading, uint64_t *taken,
                     bool *eof);
/* Whether our FIN went out and the peer's came in. */
void nat__pipe_fins(const nat__pipe *p, bool *sent, bool *received);
/* Stop: the timer closes, then @p cb(@p arg); the pipe is freed then, or,
 * when a read of the input is blocked in the thread pool (a terminal, a
 * pipe whose writer stays open), once that read returns: the loop stays
 * alive until then. */
void nat__pipe_close(nat__pipe *p, void (*cb)(void *arg), void *arg);

#endif
