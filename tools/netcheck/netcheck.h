/* netcheck -- shared declarations of the tool's files (not installed).
 * The tool uses only libnat's public API. */
#ifndef NETCHECK_H
#define NETCHECK_H

#include <stdbool.h>
#include <stdio.h>

#include <nat/addr.h>
#include <nat/analyze.h>
#include <nat/capture.h>
#include <nat/hops.h>
#include <nat/netcheck.h>
#include <nat/obs.h>
#include <nat/probe.h>
#include <nat/replay.h>
#include <nat/verdict.h>

/* Exit codes (documented in netcheck(1)). */
#define NC_EXIT_OK    0 /* at least one server answered */
#define NC_EXIT_FAIL  1 /* the network check failed: no server answered */
#define NC_EXIT_USAGE 2 /* bad command line */
#define NC_EXIT_ENV   3 /* internal or environment error */

#define NC_DEFAULT_PORT       3478
#define NC_DEFAULT_TIMEOUT_MS 3000u
#define NC_MAX_TIMEOUT_MS     60000u
#define NC_MAX_SERVERS        64
#define NC_HOST_LEN           256

/** One --server argument. */
typedef struct nc_server {
  const char *name; /* as given on the command line */
  char host[NC_HOST_LEN];
  uint16_t port;
  bool resolve_late; /* the deadline passed before the lookup ended */
  int resolve_uv;    /* the UV_EAI_* code of a failed lookup, or 0 */
  uint8_t no_family; /* the name has no address of this family (-4/-6) */
  bool rfc5780;      /* given with --rfc5780-server */
} nc_server;

typedef struct nc_options {
  nc_server servers[NC_MAX_SERVERS];
  size_t nservers;
  bool want_v4, want_v6;
  bool json;
  unsigned timeout_ms;
  const char *software; /* SOFTWARE attribute; NULL for the default */
  bool has_bind;
  nat_addr bind;
  int verbose;
  unsigned tests;          /* NAT_PROBE_* bits */
  unsigned alloc_samples;  /* 0: the library's default */
  unsigned lifetime_max_s; /* with --lifetime */
  const char *record;      /* --record FILE: pcap of every STUN datagram */
  const char *replay;      /* --replay FILE ("-": stdin) */
  bool has_client;         /* --client ADDR (replay) */
  nat_addr client;
  uint8_t capture_point; /* --capture-point: nat_replay_point */
  bool no_hops;          /* --no-hops */
  bool no_portmap;       /* --no-portmap */
  bool portmap_test;     /* --portmap-test */
} nc_options;

/** What the receive paths refused (from nat_udp_stats). */
typedef struct nc_diag {
  uint64_t malformed, spoofed, unmatched, duplicates, not_response;
  uint64_t send_errors;
} nc_diag;

/* Verdicts a replay can mask, in report order (index into why[]). */
#define NC_REPLAY_NBITS 7

/** One client of a replay, with its own compact verdict (nat_replay_verdict
 * over that client's own log, nat_replay_finish_client). */
typedef struct nc_replay_client {
  nat_replay_diag diag; /* its client, capture point, measurable bits */
  uint64_t requests;    /* its Binding requests (first transmissions) */
  bool main;            /* the client the main report is about */
  size_t idx;           /* its index in diag.clients[] */
  bool udp;             /* some request answered */
  nat_tri nat_present;
  uint8_t mapping, filtering; /* nat_beh */
  nat_tri hairpinning;
  uint8_t alloc_kind; /* nat_pa_kind */
  nat_family_verdict v4, v6;
} nc_replay_client;

/** What a replay read and could tell (NULL in live runs). */
typedef struct nc_replay_info {
  const char *file;       /* as given ("-" for stdin) */
  uint32_t linktype;      /* LINKTYPE_ of the capture */
  nat_capture_stats cap;  /* the reader's counters */
  nat_replay_diag diag;   /* the replay's counters and measurable bits */
  nat_tstamp first, last; /* capture time of the first/last STUN datagram */
  uint32_t masked;        /* NAT_REPLAY_M_* bits withheld from the report */
  char skipped[6][200];   /* tests[].skipped texts, by nat_obs_test */
  size_t nclients;        /* clients[] filled: without --client, each
                             requesting IP that is a client */
  nc_replay_client clients[NAT_REPLAY_MAX_CLIENTS];
} nc_replay_info;

typedef struct nc_result {
  nat_obslog log;      /* every transaction, in the order they were sent */
  nat_verdict verdict; /* verdict.basic is the basic analysis */
  nc_diag diag;
  nat_tstamp duration;          /* ns, whole run */
  nat_probe_test_info tests[6]; /* by nat_obs_test */
  bool probed;                  /* the plan ran (some server resolved) */
  const nc_replay_info *replay; /* set by a replay, NULL live */
  nat_hop_list hops;            /* target family NONE: not run */
  uint64_t hop_send_errors;     /* hop requests the socket refused */
  nat_netcheck_portmap portmap; /* probed false: not run */
} nc_result;

/* run.c: probe every server (nat/netcheck.h), fill @p res (init'ed by the
 * caller) and the servers' lookup fields.
 * Returns 0, or a negative code for an environment error (no socket at
 * all, out of memory), after printing one line on stderr. */
int nc_run(nc_options *opt, nc_result *res);

/* replay.c: read the capture opt->replay, rebuild the log, compute the
 * verdict into @p res (init'ed by the caller), fill @p info. Returns 0,
 * or an NC_EXIT_* code after printing one line on stderr. */
int nc_replay(const nc_options *opt, nc_result *res, nc_replay_info *info);
/* The NAT_REPLAY_M_* bit of report row @p i (0..NC_REPLAY_NBITS-1) and its
 * JSON key ("basic", "nat_present", "mapping", ...). */
uint32_t nc_replay_bit(size_t i);
const char *nc_replay_key(size_t i);
/* "client", "outside" or "unknown". */
const char *nc_capture_point_name(const nc_replay_info *info);
/* The same for one client's diag. */
const char *nc_point_name(const nat_replay_diag *d);
/* Why the capture point of @p d is what it is, one line into @p buf. */
const char *nc_point_reason(const nat_replay_diag *d, char *buf, size_t len);
/* True when the report must show verdict @p bit as not measurable. */
bool nc_masked(const nc_result *res, uint32_t bit);

/* describe.c: shared wording of the two reports. */
const char *nc_obs_status_name(const nat_obs *o); /* ok, timeout, ... */
/* --verbose: one line per observation on stderr. */
void nc_obs_trace(const nat_obs *o);
/* The failure of @p o in words, or NULL when it succeeded. */
const char *nc_obs_strerror(const nat_obs *o, const nc_options *opt, char *buf,
                            size_t len);
const char *nc_family_name(uint8_t family); /* "ipv4", "ipv6" or NULL */
/* Room for an error of nc_obs_strerror() (it names the server). */
#define NC_ERRLEN 384
/* "resolution failed: no IPv4 address for NAME (-4 given)": @p s has no
 * address of the family -4/-6 asked for (s->no_family). */
const char *nc_no_family_strerror(const nc_server *s, char *buf, size_t len);
/* Milliseconds with two decimals, rounded, from nanoseconds. */
double nc_ms(nat_tstamp ns);
/* A replay whose capture cannot tell whether UDP passes
 * (nat_replay_udp_unknown): every request came as IP fragments and none
 * was answered. The reports then say unknown, not "UDP blocked". */
bool nc_udp_unknown(const nc_result *res);
/* The verdict line of the text report. */
const char *nc_verdict(const nc_result *res, char *buf, size_t len);
/* The basic observations, sorted by server then family (the servers[]
 * of the reports); @p n gets their number. NULL when out of memory. */
const nat_obs **nc_basic_obs(const nc_result *res, size_t *n);
/* The verdict's headline ("port-restricted cone NAT (...) -- easy"). */
const char *nc_headline(const nc_result *res, char *buf, size_t len);
/* The name of @p o's server: the command-line name, else (replays) its
 * address. */
const char *nc_server_name(const nc_options *opt, const nat_obs *o, char *buf,
                           size_t len);
/* The server verdict for observation @p o, or NULL. */
const nat_server_verdict *nc_verdict_of(const nc_result *res, const nat_obs *o);

/* report_text.c / report_json.c: write the report on @p out.
 * Return 0 or -1 (out of memory, write error). */
int nc_report_text(FILE *out, const nc_options *opt, const nc_result *res);
int nc_report_json(FILE *out, const nc_options *opt, const nc_result *res);

#endif
