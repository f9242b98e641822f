/* libnat -- the birthday spray's sans-I/O engine (spray.c): the
 * acceptor's K sockets and their keepalive checks toward the dialer, the
 * dialer's probes to distinct ports of the acceptor's public IP, the
 * answers, and the first authenticated hit. No I/O, no clock: the driver
 * (src/agent/agent_spray.c) owns the sockets, gives `now` and the
 * decoded messages with the index of the socket they came in on, and
 * sends what nat__spray_next_send() gives.
 *
 * Probes and keepalives are the keyed checks of punch (check_msg.h):
 * USERNAME peer:us, MESSAGE-INTEGRITY with the peer's password. Only an
 * authenticated check from the peer's public address, or an authenticated
 * answer to one of our own transactions from the address it went to,
 * counts; everything else is counted (ignored, replays) and dropped. */
#ifndef NAT_PUNCH_SPRAY_H
#define NAT_PUNCH_SPRAY_H

#include "nat/birthday.h"
#include "nat/check.h"
#include "nat/stun.h"
#include "nat/ticket.h"

/* The dialer's one socket (the agent's), as a socket index. */
#define NAT__SPRAY_MAIN    UINT32_MAX
#define NAT__SPRAY_OUTQ    16
#define NAT__SPRAY_MSG_MAX 256
/* The acceptor's keepalive period per socket (mappings live 30 s and
 * more in every NAT we tried) */
#define NAT__SPRAY_KEEPALIVE (10 * NAT_SECONDS)
/* After the last probe: how long answers may still come */
#define NAT__SPRAY_GRACE (1 * NAT_SECONDS)
/* The acceptor's keepalives' default TTL: past a NAT one hop away */
#define NAT__SPRAY_TTL 2
/* Sockets a both-hard spray keeps for QUIC (its hits) */
#define NAT__SPRAY_HITS 4
/* Checks remembered against replays (acceptor) */
#define NAT__SPRAY_SEEN 64

typedef struct nat__spray_out {
  uint32_t sock;
  nat_addr dst;
  size_t len;
  uint8_t buf[NAT__SPRAY_MSG_MAX];
} nat__spray_out;

typedef struct nat__spray_stats {
  uint32_t probes_sent, keepalives, answers_sent, hit_probe, ignored, replays;
} nat__spray_stats;

typedef struct nat__spray {
  int role; /* nat_bday_role */
  nat_bday_plan plan;
  char lufrag[NAT_TICKET_UFRAG_MAX + 1], lpwd[NAT_TICKET_PWD_MAX + 1];
  char rufrag[NAT_TICKET_UFRAG_MAX + 1], rpwd[NAT_TICKET_PWD_MAX + 1];
  uint64_t tie_breaker;
  bool controlling;
  int ttl; /* the acceptor's keepalives' TTL (NAT__SPRAY_TTL) */
  /* the peer's public addresses (its server-reflexive candidates) */
  nat_addr peer_pub[4];
  size_t npeer;
  uint8_t salt[8];       /* our transaction IDs: salt || index */
  nat_tstamp start, end; /* probes / keepalives begin; the window ends */
  /* dialer */
  nat_bday_targets *targets;
  uint16_t *probe_port; /* [plan.probes] */
  uint8_t *answered;    /* bitmap [plan.probes] */
  nat_tstamp interval, next_probe;
  /* acceptor */
  uint32_t nsock;
  nat_tstamp *ka_next; /* [nsock]; NAT_TSTAMP_MAX: stopped */
  uint8_t seen[NAT__SPRAY_SEEN][NAT_STUN_TID_LEN];
  unsigned nseen, seen_next;
  /* answers waiting to go */
  nat__spray_out outq[NAT__SPRAY_OUTQ];
  unsigned outhead, nout;
  /* the outcome */
  bool hit, exhausted;
  uint32_t hit_sock; /* acceptor: the winning socket; dialer: MAIN */
  nat_addr hit_remote;
  nat_tstamp t_hit;
  /* both hard: every socket a keyed check got through on (the first is
   * hit_sock); the QUIC client may pick another pair than our first */
  uint32_t hits[NAT__SPRAY_HITS];
  unsigned nhits;
  /* addresses of the peer whose spray sockets answered the agent's own
   * checks (their answers carry NAT__SPRAY_SOFTWARE), or (acceptor) that
   * sent a probe our main socket took (keyed, no USE-CANDIDATE): a path
   * through one of those is the spray's too */
  nat_addr via[NAT__SPRAY_HITS];
  nat_tstamp via_at[NAT__SPRAY_HITS]; /* when each was learned */
  unsigned nvia;
  nat__spray_stats st;
} nat__spray;

/* Start a spray in @p role with @p plan. @p mine and @p peer give the
 * credentials and the peer's public addresses (its srflx candidates of
 * @p family; without any, its public or loopback host ones: a peer with
 * no NAT); @p acc describes the acceptor (for a sequential one the
 * predicted window is sprayed first). The acceptor (and both sides of a
 * NAT_BDAY_BOTH spray, whose probes leave from its sockets in turn) has
 * @p nsock sockets open (the driver opened them; at most plan->sockets);
 * the dialer's
 * first probe leaves at @p now + @p hold (the acceptor's first checks
 * must have made its mappings). @return 0, NAT_EINVAL (no role, no peer
 * public address, no credentials), NAT_ENOMEM. */
int nat__spray_start(nat__spray *s, int role, const nat_bday_plan *plan,
                     const nat_bday_side *acc, const nat_ticket *mine,
                     const nat_ticket *peer, uint8_t family, bool controlling,
                     uint32_t nsock, nat_tstamp now, nat_tstamp hold,
                     nat_rand_fn rand, void *rand_ctx);

/* The next datagram due on socket *@p sock (NAT__SPRAY_MAIN: the agent's
 * one socket): answers first, then keepalives or probes. *@p ttl gets the
 * IP TTL to send it with, 0 for the socket's: the acceptor's keepalives
 * carry s->ttl, so that they make and refresh its NAT's mappings but die
 * before the dialer's NAT (an inbound packet there from one of those
 * ports would take the very tuple the dialer's probe to it needs: Linux
 * conntrack then gives the probe another source port, and the mapping,
 * which admits only the dialer's address, drops it).
 * @return its length, 0 when none is due, or an error. */
ssize_t nat__spray_next_send(nat__spray *s, nat_tstamp now, uint8_t *buf,
                             size_t cap, uint32_t *sock, nat_addr *dst,
                             int *ttl);

/* When something is next due (NAT_TSTAMP_MAX: nothing). */
nat_tstamp nat__spray_get_expiry(const nat__spray *s);
/* Marks the spray exhausted once its window passed without a hit. */
void nat__spray_handle_expiry(nat__spray *s, nat_tstamp now);

/* A datagram on socket @p sock from @p from, decoded (@p msg NULL: it
 * was not STUN). @return true when it was the spray's (a check or an
 * answer for it, or counted as ignored on an acceptor socket); false:
 * not ours (the agent's checks may take it). */
bool nat__spray_recv(nat__spray *s, nat_tstamp now, uint32_t sock,
                     const nat_addr *from, const nat_stun_msg *msg);

/* true when @p remote is a spray socket of the peer: it answered one of
 * our probes (the hit) or one of the agent's own checks. */
bool nat__spray_via(const nat__spray *s, const nat_addr *remote);
/* When the spray proved the path to @p remote (its hit, or the first
 * keyed datagram that showed it: nat__spray_via); 0 if it did not. */
nat_tstamp nat__spray_via_at(const nat__spray *s, const nat_addr *remote);

/* The odds the probes sent so far had (dialer), or the dialer's expected
 * progress by @p now (acceptor). */
double nat__spray_p_now(const nat__spray *s, nat_tstamp now);

void nat__spray_free(nat__spray *s);

#endif
