/* libnat -- private state of the probe plan, shared by probe.c (sockets,
 * transactions, datagrams, timers) and probe_plan.c (what to test when). */
#ifndef NAT_PROBE_INTERNAL_H
#define NAT_PROBE_INTERNAL_H

#include "nat/probe.h"
#include "nat/stun.h"
#include "nat/txn.h"

#define PROBE_REQ_MAX   128 /* our Binding requests are at most ~100 bytes */
#define PROBE_REPLY_MAX 8   /* queued answers of the hairpin target */
#define PROBE_NONE      0xFFFFFFFFu
#define PROBE_FAMILIES  2

/* Socket states. */
enum { PS_UNUSED = 0, PS_WANT_OPEN, PS_OPENING, PS_OPEN, PS_FAILED };

typedef struct probe_sock {
  uint8_t state;
  uint8_t family;
  bool serve; /* answers Binding requests (hairpinning target) */
  int err;
  nat_addr local;
} probe_sock;

/* What to do when a transaction ends. */
enum {
  STEP_BASIC = 0,
  STEP_MAPPING,
  STEP_F_OPEN,
  STEP_F_CHANGE,
  STEP_HAIRPIN,
  STEP_ALLOC,
  STEP_ALLOC_LAST,
  STEP_ALLOC_MULTI,
  STEP_L_CONTROL_MAP,
  STEP_L_CONTROL,
  STEP_L_MAP,
  STEP_L_PROBE
};

/* Transaction states. */
enum { PT_PENDING = 0, PT_LIVE, PT_ENDED };

typedef struct probe_txn {
  uint8_t state;
  uint8_t step;
  uint8_t fam;         /* family index */
  unsigned sock;       /* sends from */
  unsigned arrive;     /* socket the response arrives at */
  unsigned aux;        /* step data: ladder index */
  int server;          /* index into the plan's server table, or -1 */
  nat_txn_mgr *mgr;    /* own manager while live */
  nat_txn_config tcfg; /* its schedule */
  bool any_source;
  bool quiet;          /* its silence is a result: copies, then quiet_end */
  bool quiet_due;      /* quiet_end reached: its cancel reads as a timeout */
  bool pre_rtt;        /* scheduled before the path's RTT was known */
  bool replanned;      /* its manager was replaced (same transaction ID) */
  unsigned ntx;        /* transmissions handed out (every manager) */
  unsigned ntx_replan; /* ntx when the manager was replaced */
  nat_tstamp tx_first; /* when the first and the last were (absolute) */
  nat_tstamp tx_last;
  uint8_t tid[NAT_STUN_TID_LEN];
  uint8_t req[PROBE_REQ_MAX];
  size_t reqlen;
  nat_obs o; /* request fields prefilled */
} probe_txn;

typedef struct probe_server {
  nat_probe_server s;
  uint8_t fam;
  nat_tstamp rtt;    /* smallest first-transmission RTT seen, 0 unknown */
  nat_tstamp rtt_ub; /* smallest upper bound: answer - first transmission,
                        over every answered exchange (Karn's ambiguity only
                        makes it larger), 0 unknown */
  bool answered;
} probe_server;

typedef struct probe_ladder {
  unsigned x;         /* socket X_k */
  nat_tstamp due;     /* when Y probes (0: not scheduled) */
  nat_tstamp idle;    /* T_k */
  nat_tstamp refresh; /* X_k's last outbound datagram (absolute) */
  uint16_t port;      /* X_k's mapped port */
} probe_ladder;

typedef struct probe_fam {
  bool active;
  uint8_t family;
  bool forced;         /* a server of this family has rfc5780 set */
  int primary;         /* server index */
  int rfc;             /* the RFC 5780 server in use, -1 */
  nat_addr other;      /* its OTHER-ADDRESS */
  unsigned s0, sf, sb; /* sockets: basic/mapping, filtering, hairpin B */
  int sf_server;       /* where SF's opening request went, -1 none */
  bool have_mapped;    /* S0's mapped address known */
  nat_addr mapped;
  bool b_have; /* B's mapped address known */
  nat_addr b_mapped;
  unsigned basic_live;
  bool mapping_started, hairpin_started, multi_started;
  /* lifetime */
  bool lt_started, lt_failed;
  unsigned ly;
  probe_ladder ladder[NAT_PROBE_LIFETIME_STEPS + 1]; /* [0]: control */
} probe_fam;

typedef struct probe_reply {
  unsigned sock;
  nat_addr dst;
  uint8_t buf[600];
  size_t len;
} probe_reply;

struct nat_probe {
  nat_probe_config cfg;
  char *software;
  nat_tstamp start;
  nat_tstamp now; /* of the call under way (for callbacks) */
  probe_server servers[NAT_PROBE_MAX_SERVERS];
  size_t nservers;
  probe_sock socks[NAT_PROBE_MAX_SOCKETS];
  unsigned nsocks;
  unsigned open_cursor; /* next socket to hand out as OPEN */
  probe_txn *txns;
  size_t ntxns, captxns;
  size_t live;   /* pending + live transactions */
  size_t timers; /* lifetime probes scheduled */
  probe_fam fams[PROBE_FAMILIES];
  probe_reply replies[PROBE_REPLY_MAX];
  size_t nreplies;
  uint8_t sendbuf[600];
  nat_obslog log;
  size_t *logtxn; /* transaction index of each log entry */
  size_t logcap;
  nat_probe_stats stats;
  nat_txn_stats txstats; /* summed from ended managers */
  nat_probe_test_info info[6];
  bool canceled;
  bool deadline_hit;
  int fatal; /* out of memory while recording */
  bool in_callback;
};

/* probe.c */
unsigned nat__probe_sock_new(nat_probe *p, uint8_t fam);
/* Start (or queue until the socket opens) a Binding request from @p sock
 * to @p dst for @p step. Returns the transaction index or PROBE_NONE. */
size_t nat__probe_txn_new(nat_probe *p, nat_tstamp now, uint8_t fam,
                          unsigned sock, int server, const nat_addr *dst,
                          uint8_t test, uint8_t step);
/* Finish setting a transaction up (after nat__probe_txn_new and any edits
 * of its o/any_source/arrive/tcfg) and build its request. */
void nat__probe_txn_go(nat_probe *p, nat_tstamp now, size_t ti);
nat_txn_config nat__probe_schedule(const nat_probe *p, int server, uint8_t fam);
void nat__probe_skip(nat_probe *p, uint8_t test, const char *why);
/* Queue a Binding indication from @p sock to @p dst (a hole punch). */
void nat__probe_punch(nat_probe *p, unsigned sock, const nat_addr *dst);

/* probe_plan.c */
void nat__probe_plan_start(nat_probe *p, nat_tstamp now);
void nat__probe_plan_result(nat_probe *p, nat_tstamp now, size_t ti,
                            const nat_obs *o);
void nat__probe_plan_timers(nat_probe *p, nat_tstamp now);
nat_tstamp nat__probe_plan_expiry(const nat_probe *p);
/* The idle time ended transaction @p t really measured (lifetime probes),
 * else its planned o.idle. */
nat_tstamp nat__probe_plan_idle(const nat_probe *p, const probe_txn *t);

#endif
