/* natlab -- NAT labs in network namespaces: shared private declarations.
 *
 * A lab is a tree of nodes. The root is the `wan` node (the internet
 * router, which also runs coturn as the RFC 5780 STUN server on two
 * addresses). NAT routers and hosts hang below it; every node has its own
 * network namespace "<prefix>-<node>" and one uplink to its parent: a veth
 * pair, or a natbox process (userspace NAT and/or link impairments) whose
 * two TUN devices sit in the node's and the parent's namespace. */
#ifndef NATLAB_H
#define NATLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nat/common.h"
#include <stdio.h>

/* Exit codes (documented in natlab(1)). */
#define NL_EXIT_OK    0
#define NL_EXIT_FAIL  1
#define NL_EXIT_USAGE 2
#define NL_EXIT_ENV   3

/* Internal return codes: 0 ok, negative failure. */
#define NL_ERR_USAGE (-2)
#define NL_ERR_ENV   (-3)
#define NL_ERR_INTR  (-4)

#define NL_MAX_NODES    32
#define NL_MAX_OPTS     16
#define NL_MAX_PARAMS   8
#define NL_NAME_MAX     13            /* node name: [a-z0-9-]{1,12} */
#define NL_PREFIX_MAX   7             /* prefix: [a-z0-9]{1,6} */
#define NL_STATE_DIR    "/run/natlab" /* NATLAB_STATE_DIR overrides */
#define NL_STUN_IP1     "203.0.113.1"
#define NL_STUN_IP2     "203.0.113.2"
#define NL_DEFAULT_TOPO "port-restricted"

enum nl_kind { NL_WAN = 0, NL_NAT = 1, NL_HOST = 2 };
enum nl_engine { NL_ENGINE_KERNEL = 0, NL_ENGINE_NATBOX = 1 };
/* A mapping / filtering field holds a nat_beh (NAT_BEH_EI, NAT_BEH_AD,
 * NAT_BEH_APD; a netcheck verdict also NAT_BEH_DEPENDENT; nat/common.h),
 * NL_NO_NAT ("none": the host sees no NAT), or -1 (any, unknown).
 * NL_NO_NAT lies outside every nat_beh value. */
#define NL_NO_NAT 16
enum nl_alloc { NL_ALLOC_PRESERVE = 0, NL_ALLOC_SEQ = 1, NL_ALLOC_RANDOM = 2 };
/* Port-mapping protocols a kernel NAT serves with miniupnpd (bit set). */
enum nl_portmap {
  NL_PORTMAP_UPNP = 1,   /* UPnP IGD (SSDP + SOAP over HTTP) */
  NL_PORTMAP_NATPMP = 2, /* NAT-PMP (RFC 6886), UDP 5351 */
  NL_PORTMAP_PCP = 4     /* PCP (RFC 6887), the same socket as NAT-PMP */
};

/** A key=value option passed through (link impairments, natbox extras). */
struct nl_opt {
  char key[24];
  char val[40];
};

/** The behaviour a host should observe (or a NAT provides). -1: unknown. */
struct nl_expect {
  int mapping;   /* nat_beh, NL_NO_NAT or -1 */
  int filtering; /* nat_beh, NL_NO_NAT or -1 */
  int alloc;     /* enum nl_alloc or -1 */
  int hairpin;   /* 0, 1 or -1 */
  int delta;     /* step of sequential allocation, 0: any */
  bool set;      /* an expect line was given */
};

struct nl_node {
  char name[NL_NAME_MAX];
  int kind;   /* enum nl_kind */
  int parent; /* index into nodes, -1 for wan */
  int line;   /* where it was declared */
  /* NAT routers */
  int engine;
  int mapping, filtering, alloc;
  int delta;
  unsigned port_min, port_max; /* 0,0: whole ephemeral range */
  unsigned port_block; /* natbox: one aligned block of this many ports per
                          internal IP (carrier NAT), 0: none */
  bool hairpin;
  /* kernel NAT: drop new inbound flows to the NAT itself on its uplink (as
   * routers do); natbox always drops what no mapping admits */
  bool input_drop;
  unsigned timeout; /* mapping timeout in seconds, 0: kernel default */
  unsigned portmap; /* enum nl_portmap bits: miniupnpd runs on the NAT */
  int portmap_stun; /* miniupnpd learns its public address by STUN: 1 (the
                       default), 0 (portmap-stun=off), -1 not given */
  struct nl_opt nat_opts[NL_MAX_OPTS]; /* extra natbox options */
  int n_nat_opts;
  /* uplink impairments (realised by natbox --nat none) */
  struct nl_opt link_opts[NL_MAX_OPTS];
  int n_link_opts;
  struct nl_expect expect;
  /* computed by nl_topo_layout() (host order IPv4) */
  uint32_t up_addr;   /* this node's address on its uplink */
  uint32_t up_peer;   /* the parent's address on that link */
  uint32_t lan_addr;  /* NAT router: its address towards its children */
  uint32_t public_ip; /* NAT router: the address it translates to */
  int index;          /* uplink number, names the interfaces */
};

struct nl_topo {
  char name[64];
  char description[160];
  char path[512];
  int nnodes;
  struct nl_node nodes[NL_MAX_NODES];
};

/** A --set NAME=VALUE list. */
struct nl_params {
  int n;
  char name[NL_MAX_PARAMS][24];
  char value[NL_MAX_PARAMS][40];
};

/* ---- topo.c */
int nl_topo_find(const char *arg, char *path, size_t len);
int nl_topo_load(struct nl_topo *t, const char *path,
                 const struct nl_params *params);
/* A parse error: one line of printable ASCII, without newline, at most
 * NL_ERR_LINE - 1 bytes ("FILE:LINE: what"). */
#define NL_ERR_LINE 256
/** Read a topology from @p f (@p path names it in errors and gives the
 * topology its name). nl_topo_load() is fopen() and this. @return 0, or
 * NL_ERR_USAGE with the error in @p err (nothing is printed). */
int nl_topo_parse(struct nl_topo *t, const char *path, FILE *f,
                  const struct nl_params *params, char *err, size_t errlen);
/** Check a parsed topology against the parser's rules (the fuzz target's
 * invariant). @return 0, or -1 with one line in @p err. */
int nl_topo_check(const struct nl_topo *t, char *err, size_t len);
int nl_params_add(struct nl_params *p, const char *kv);
int nl_topo_node(const struct nl_topo *t, const char *name);
int nl_topo_hosts(const struct nl_topo *t);
void nl_topo_effective(const struct nl_topo *t, int host, struct nl_expect *e);
int nl_topo_list(void);
const char *nl_beh_name(int beh); /* "ei", "ad", "apd", "none", "any" */
/* An observed mapping/filtering (nl_netcheck_mf): "null" for -2 (absent),
 * "unknown" for -1, else nl_beh_name(). */
const char *nl_beh_seen_name(int beh);
const char *nl_alloc_name(int alloc);
const char *nl_topo_dir(void);
void nl_ip_str(uint32_t ip, char *buf, size_t len);
bool nl_node_has_natbox(const struct nl_node *n);
bool nl_node_natbox_nat(const struct nl_node *n);

/* ---- nft.c */
int nl_nft_ruleset(const struct nl_topo *t, int node, const char *prefix,
                   char **out);

int nl_nft_portmap(const struct nl_node *n, FILE *f);

/* ---- upnp.c */
int nl_portmap_start(const struct nl_topo *t, int node, const char *prefix,
                     const char *log);
const char *nl_portmap_names(unsigned portmap, char *buf, size_t len);

/* ---- proc.c */
extern volatile int nl_interrupted;
void nl_signals_install(void);
int nl_run(const char *ns, char *const argv[], const char *log);
int nl_runf(const char *ns, const char *log, const char *arg0, ...);
int nl_spawn_daemon(const char *ns, char *const argv[], const char *log,
                    int *pid);
int nl_capture(const char *ns, char *const argv[], int timeout_ms, char **out,
               int *status, double *ms);
int nl_exec_in(const char *ns, char *const argv[]);
int nl_netns_exists(const char *ns);
bool nl_pid_alive(int pid, const char *comm);
double nl_now_ms(void);
int nl_stun_ping(const char *ns, const char *ip, unsigned short port,
                 int timeout_ms);

/* ---- state.c */
const char *nl_state_dir(void);
int nl_prefix_valid(const char *p);
void nl_prefix_default(char *buf, size_t len);
void nl_state_path(const char *prefix, const char *file, char *buf, size_t len);
int nl_state_add(const char *prefix, const char *key, const char *value);
int nl_state_get(const char *prefix, const char *key, int nth, char *value,
                 size_t len);
int nl_state_prefixes(char list[][NL_PREFIX_MAX], int max);
int nl_state_single(char *prefix, size_t len);

/* ---- lab_up.c / lab_down.c */
int nl_lab_up(const struct nl_topo *t, const char *prefix,
              const struct nl_params *params, bool quiet);
int nl_lab_down(const char *prefix, bool quiet);
bool nl_natbox_available(void);
int nl_lab_down_all(void);
int nl_lab_status(const char *prefix);

/* ---- run.c */
int nl_run_experiment(int argc, char **argv);

/* ---- run_netcheck.c: the `netcheck` experiment's checks */
const char *nl_netcheck_path(void);
bool nl_check_netcheck(const char *json, const struct nl_expect *e, char *obs,
                       size_t len);
int nl_netcheck_mf(const char *json, int *mapping, int *filtering);

/* ---- peers.c: programs in the lab, the rendezvous, two peers at once */
#define NL_RDV_ADDR      NL_STUN_IP1 ":4000"
#define NL_STUN_ADDR     NL_STUN_IP1 ":3478"
#define NL_PEER_ARGS_MAX 32
/** A program started in a namespace, its stdout and stderr on pipes. */
struct nl_proc {
  pid_t pid;
  int fd[2];     /* stdout, stderr (read ends); -1 once at EOF */
  char *buf[2];  /* what was read, NUL-terminated */
  size_t len[2]; /* bytes in buf */
  int status;    /* exit code, 128+signal, -1 killed at the deadline */
  bool killed;
  double spawned_ms; /* nl_now_ms() when it was started */
};
/** A peer's command line (the same for ha and hb). */
struct nl_peer_cmd {
  char *argv[NL_PEER_ARGS_MAX];
  int argc;
  char room[48], secs[12];
};
struct json_t;
int nl_proc_spawn(const char *ns, char *const argv[], struct nl_proc *p);
bool nl_proc_open(const struct nl_proc *p);
void nl_proc_pump(struct nl_proc *ps[], int n, double ms);
void nl_proc_reap(struct nl_proc *p);
void nl_proc_free(struct nl_proc *p);
int nl_serve_start(const char *prefix, struct nl_proc *srv);
void nl_serve_stop(struct nl_proc *srv);
void nl_peer_cmd_init(struct nl_peer_cmd *c, const char *prog, const char *verb,
                      const char *room, int timeout_s);
void nl_peer_cmd_add(struct nl_peer_cmd *c, const char *arg);
void nl_peers_run(const char *prefix, const struct nl_peer_cmd *cmd,
                  double wait_ms, struct nl_proc *srv, struct nl_proc peer[2]);
struct json_t *nl_text_json(const char *text, size_t n);
const char *nl_tool_path(const char *env, const char *build, const char *name,
                         char *buf, size_t len);
struct json_t *nl_last_line(const char *text);

/* ---- run_punch.c: the `punch` experiment (punch(1) across NAT pairs) */
#define NL_PUNCH_MAX_KINDS 8
/** The pairs of NAT kinds to run: every unordered pair of @c kinds, each
 * kind with itself too; pair i is kinds[pa[i]] x kinds[pb[i]]. */
struct nl_punch_plan {
  int nkinds;
  const char *kinds[NL_PUNCH_MAX_KINDS]; /* "public" or a NAT kind */
  int npairs;
  unsigned char pa[NL_PUNCH_MAX_KINDS * (NL_PUNCH_MAX_KINDS + 1) / 2];
  unsigned char pb[NL_PUNCH_MAX_KINDS * (NL_PUNCH_MAX_KINDS + 1) / 2];
  int timeout_s; /* punch connect --timeout */
};
const char *nl_punch_path(void);
int nl_punch_plan(const char *kinds, struct nl_punch_plan *p);
int nl_punch_worker(const struct nl_punch_plan *p, int i, const char *file);
void nl_punch_markdown(FILE *f, struct json_t *cases, int pass, int fail);

/* ---- run_birthday.c: the `birthday` experiment (the spray over NAT
 * pairs, repeated trials) */
#define NL_BDAY_PAIRS_MAX  8
#define NL_BDAY_TRIALS_MAX 1000
struct nl_bday_plan {
  int npairs;
  int pair[NL_BDAY_PAIRS_MAX]; /* indexes into run_birthday.c's pairs */
  int trials;                  /* per pair */
  int timeout_s;               /* the peers' --timeout */
  const char *tool;            /* "punch" or "birthday" */
  int sockets, probes;         /* the peers' --sockets/--probes, 0: theirs */
  const char *topology;        /* --topology: one pair of your own (-1) */
  struct nl_params set;        /* its --set NAME=VALUE */
};
const char *nl_birthday_path(void);
void nl_bday_plan_defaults(struct nl_bday_plan *p);
int nl_bday_plan(const char *list, struct nl_bday_plan *p);
int nl_bday_worker(const struct nl_bday_plan *p, int i, const char *file);
void nl_bday_markdown(FILE *f, struct json_t *cases, int pass, int fail);

#endif
