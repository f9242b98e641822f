/* punch connect / punch ticket -- one run's state, shared by the files of
 * the client side: connect.c (options, setup, rendezvous), session.c
 * (connectivity checks and QUIC), pipe.c (--pipe), report.c (text and
 * JSON reports). Everything runs on one nat_udp socket. */
#ifndef PUNCH_SESSION_H
#define PUNCH_SESSION_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include <nat/addr.h>
#include <nat/cand.h>
#include <nat/check.h>
#include <nat/quic.h>
#include <nat/rdv.h>
#include <nat/ticket.h>
#include <nat/udp.h>

#define PUNCH_MAX_SUBNETS 16
#define PUNCH_MAX_REFUSED 12
#define PUNCH_BLOB_MAX    1024
/* Fresh sockets whose Binding requests to the rendezvous sample our NAT's
 * port allocation (each is one allocation), and the predicted candidates
 * made from them (punch(1), "Predicted candidates"). */
#define PUNCH_PROBES  4
#define PUNCH_PREDICT NAT_CAND_PREDICT_DEFAULT

typedef struct punch_opts {
  bool ticket_mode;
  const char *rdv, *room, *rdv_pin, *stun;
  unsigned timeout_s;
  bool json, pipe, allow_loopback;
  uint8_t family; /* NAT_AF_NONE: from the server's address (IPv4 first) */
  uint16_t listen_port;
} punch_opts;

/* Where a run stopped (for the failure report). */
typedef enum punch_phase {
  PUNCH_PH_SETUP = 0,
  PUNCH_PH_RENDEZVOUS,
  PUNCH_PH_CHECKS,
  PUNCH_PH_QUIC,
  PUNCH_PH_PIPE,
  PUNCH_PH_DONE
} punch_phase;

typedef struct punch_refused {
  nat_cand cand;
  int reason; /* nat_cand_reject */
} punch_refused;

/* One allocation probe: a fresh socket, one Binding request. */
typedef struct punch_probe {
  nat_udp *udp;
  uint16_t local_port;
  nat_tstamp sent_at;
  bool done, answered, closing;
  nat_addr mapped;
} punch_probe;

typedef struct punch_pipe {
  bool started, have_sid, marker_seen;
  int64_t sid;
  uv_fs_t rreq;
  bool reading, eof_in, fin_sent, fin_rcvd;
  uint8_t rbuf[65536];
  size_t rlen, roff;
  uint64_t bytes_out, bytes_in;
  uv_timer_t ack_timer;
  bool ack_timer_init, closing;
} punch_pipe;

typedef struct punch_sess {
  punch_opts opt;
  uv_loop_t *loop;
  nat_udp *udp;
  nat_addr local, rdv_addr, stun_addr;
  bool has_rdv, has_stun;
  nat_quic_identity *id;
  uint8_t rdv_pin[NAT_QUIC_PIN_LEN];
  bool has_rdv_pin;
  nat_ticket mine, peer;
  bool has_peer;
  nat_iface subnets[PUNCH_MAX_SUBNETS];
  size_t nsubnets;
  nat_addr seen, stun_mapped;
  bool has_seen, has_stun_mapped;
  int local_mapping, remote_mapping; /* nat_behaviour or -1 */
  punch_refused refused[PUNCH_MAX_REFUSED];
  size_t nrefused;
  nat_rdv_client *rdv;
  nat_check *chk;
  uv_timer_t chk_timer, deadline, start_timer;
  bool chk_started;
  bool timers_init;
  nat_quic_endpoint *ep;
  nat_quic_conn *conn;
  bool connecting, connected, controlling, selected;
  nat_check_pair sel;
  nat_addr conn_remote; /* where our QUIC client connects (connecting) */
  /* the pair the checks committed to (NAT_CHECK_EV_PAIR_NOMINATED), on
   * which the controlling peer starts QUIC before selection */
  bool committed;
  nat_check_pair commit;
  nat_tstamp t_committed;
  nat_tstamp peer_rdv_rtt; /* the peer's HELLO -> SEEN (blob rtt=); 0 */
  /* nat_udp_now() values; 0: not reached */
  nat_tstamp t0, t_seen, t_peer, t_check, t_first_ok, t_selected, t_confirmed;
  nat_tstamp end; /* the overall deadline */
  punch_phase phase;
  bool finished;
  int exit_code;
  int hint; /* nat_check_hint at failure */
  char reason[320];
  unsigned holes_opened;
  nat_tstamp rdv_rtt; /* HELLO -> SEEN at the rendezvous; 0: unknown */
  /* Rendezvous mode: the blob waits (boundedly) for the --stun answer and
   * the allocation probes, which run alongside the registration. */
  punch_probe probes[PUNCH_PROBES];
  unsigned nprobes; /* probes started */
  bool stun_pending, blob_sent, gather_expired;
  uv_timer_t gather_timer;
  bool predict_run; /* nat_cand_predict() ran: pred is the outcome */
  nat_cand_predict_out pred;
  size_t npredicted; /* predicted candidates in mine */
  nat_tstamp t_blob; /* our blob sent (rendezvous mode) */
  punch_pipe pipe;
} punch_sess;

/* connect.c */
void punch_finish(punch_sess *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *punch_mapping_name(int beh);

/* session.c: the check phase starts once both tickets are known. */
int punch_checks_start(punch_sess *s);
void punch_checks_feed(punch_sess *s, const nat_addr *from, const uint8_t *buf,
                       size_t len);
int punch_quic_start(punch_sess *s);

/* holes.c: TTL-limited datagrams to the peer's public candidates */
void punch_open_holes(punch_sess *s);

/* pipe.c */
void punch_pipe_start(punch_sess *s);
void punch_pipe_on_data(punch_sess *s, int64_t sid, const uint8_t *data,
                        size_t len, bool fin);
void punch_pipe_on_writable(punch_sess *s, int64_t sid);
/* true when the pipe finished both ways (closing is then a success) */
bool punch_pipe_complete(const punch_sess *s);
void punch_pipe_close(punch_sess *s);

/* report.c */
void punch_report(const punch_sess *s, FILE *out);

#endif
