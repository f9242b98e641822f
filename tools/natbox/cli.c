/* natbox: command-line parsing (the options of docs/man/natbox.1). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "nat/common.h"
#include "natbox_prog.h"

/* Impairment options: each comes as --X (both directions), --up-X and
 * --down-X; a direction-specific one wins over --X whatever the order. */
enum imp_field {
  IMP_DELAY,
  IMP_JITTER,
  IMP_LOSS,
  IMP_REORDER,
  IMP_REORDER_GAP,
  IMP_DUPLICATE,
  IMP_RATE,
  IMP_QUEUE,
  IMP_COUNT
};
static const char *const imp_names[IMP_COUNT] = {
    "delay",       "jitter",    "loss", "reorder",
    "reorder-gap", "duplicate", "rate", "queue",
};

enum {
  OPT_LAN = 256,
  OPT_WAN,
  OPT_NAT,
  OPT_PUBLIC,
  OPT_POOLING,
  OPT_MAPPING,
  OPT_FILTERING,
  OPT_ALLOC,
  OPT_DELTA,
  OPT_PER_HOST,
  OPT_INTERLEAVE,
  OPT_PORT_RANGE,
  OPT_PORT_BLOCK,
  OPT_OVERLOAD,
  OPT_HAIRPIN,
  OPT_TIMEOUT,
  OPT_INBOUND_REFRESH,
  OPT_SEED,
  OPT_STATS,
  OPT_READY,
  OPT_TUN_QUEUE,
  OPT_HELP,
  OPT_VERSION,
  OPT_IMP = 1000 /* + field * 3 + (0 both, 1 up, 2 down) */
};

static const struct option base_opts[] = {
    {"lan", required_argument, NULL, OPT_LAN},
    {"wan", required_argument, NULL, OPT_WAN},
    {"nat", required_argument, NULL, OPT_NAT},
    {"public", required_argument, NULL, OPT_PUBLIC},
    {"pooling", required_argument, NULL, OPT_POOLING},
    {"mapping", required_argument, NULL, OPT_MAPPING},
    {"filtering", required_argument, NULL, OPT_FILTERING},
    {"alloc", required_argument, NULL, OPT_ALLOC},
    {"delta", required_argument, NULL, OPT_DELTA},
    {"per-host", no_argument, NULL, OPT_PER_HOST},
    {"interleave", required_argument, NULL, OPT_INTERLEAVE},
    {"port-range", required_argument, NULL, OPT_PORT_RANGE},
    {"port-block", required_argument, NULL, OPT_PORT_BLOCK},
    {"overload", no_argument, NULL, OPT_OVERLOAD},
    {"hairpin", no_argument, NULL, OPT_HAIRPIN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"inbound-refresh", no_argument, NULL, OPT_INBOUND_REFRESH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"stats", required_argument, NULL, OPT_STATS},
    {"ready-file", required_argument, NULL, OPT_READY},
    {"tun-queue", required_argument, NULL, OPT_TUN_QUEUE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
};
#define N_BASE (sizeof base_opts / sizeof base_opts[0])

/* The impairment values given, before they are split by direction. */
typedef struct imp_set {
  double v[IMP_COUNT][3];
  bool set[IMP_COUNT][3];
} imp_set;

static int fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return -1;
}

/** Print the usage text to @p f. */
void nb_usage(FILE *f) {
  fputs("usage: natbox --lan NETNS:IFNAME --wan NETNS:IFNAME [--nat none|box]\n"
        "  NAT (--nat box): --public IP[,IP...] [--pooling paired|arbitrary]\n"
        "    [--mapping ei|ad|apd] [--filtering ei|ad|apd]\n"
        "    [--alloc preserve|sequential|random] [--delta N] [--per-host]\n"
        "    [--interleave P[:MAX]] [--port-range A-B] [--port-block N]\n"
        "    [--overload] [--hairpin]\n"
        "    [--timeout SEC] [--inbound-refresh]\n"
        "  link, both directions, or --up-X (LAN->WAN) / --down-X "
        "(WAN->LAN):\n"
        "    [--delay MS] [--jitter MS] [--loss P] [--reorder P]\n"
        "    [--reorder-gap MS] [--duplicate P] [--rate KBIT] [--queue N]\n"
        "  [--seed N] [--stats FILE] [--ready-file FILE] [--tun-queue N]\n"
        "see natbox(1)\n",
        f);
}

static int parse_side(const char *arg, nb_side *s, const char *opt, char *err,
                      size_t cap) {
  const char *colon = strchr(arg, ':');
  size_t nl;
  if (!colon || colon == arg || !colon[1])
    return fail(err, cap, "--%s wants NETNS:IFNAME, got '%s'", opt, arg);
  nl = (size_t)(colon - arg);
  if (nl >= sizeof s->netns || strchr(arg, '/'))
    return fail(err, cap, "--%s: bad network namespace name in '%s'", opt, arg);
  if (strlen(colon + 1) >= sizeof s->ifname)
    return fail(err, cap, "--%s: interface name '%s' longer than 15", opt,
                colon + 1);
  memcpy(s->netns, arg, nl);
  s->netns[nl] = '\0';
  strcpy(s->ifname, colon + 1);
  return 0;
}

static int parse_public(const char *arg, nat_box_config *b, char *err,
                        size_t cap) {
  char tmp[256];
  char *save = NULL, *tok;
  if (strlen(arg) >= sizeof tmp)
    return fail(err, cap, "--public: list too long");
  strcpy(tmp, arg);
  b->npublic = 0;
  for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    struct in_addr a;
    if (b->npublic >= NAT_BOX_MAX_PUBLIC)
      return fail(err, cap, "--public: at most %d addresses",
                  NAT_BOX_MAX_PUBLIC);
    if (inet_pton(AF_INET, tok, &a) != 1 || a.s_addr == 0)
      return fail(err, cap, "--public: '%s' is not an IPv4 address", tok);
    b->public_ip[b->npublic++] = ntohl(a.s_addr);
  }
  if (b->npublic == 0)
    return fail(err, cap, "--public wants IP[,IP...]");
  return 0;
}

static int parse_behaviour(const char *arg, uint8_t *out) {
  nat_beh b = nat_beh_parse(arg);
  if (b == NAT_BEH_UNKNOWN)
    return -1;
  *out = (uint8_t)b;
  return 0;
}

static int parse_alloc(const char *arg, uint8_t *out) {
  if (!strcmp(arg, "preserve"))
    *out = NAT_ALLOC_PRESERVE;
  else if (!strcmp(arg, "sequential"))
    *out = NAT_ALLOC_SEQUENTIAL;
  else if (!strcmp(arg, "random"))
    *out = NAT_ALLOC_RANDOM;
  else
    return -1;
  return 0;
}

static int parse_interleave(const char *arg, nat_box_config *b) {
  char tmp[64];
  char *colon;
  double p, max = 3;
  if (strlen(arg) >= sizeof tmp)
    return -1;
  strcpy(tmp, arg);
  colon = strchr(tmp, ':');
  if (colon) {
    *colon = '\0';
    if (nat_cli_double(colon + 1, 1, 65535, &max) || max != floor(max))
      return -1;
  }
  if (nat_cli_double(tmp, 0, 1, &p))
    return -1;
  b->interleave = p;
  b->interleave_max = (unsigned)max;
  return 0;
}

/* A-B, decimal digits only (nat_cli_range: no sign, no blanks). */
static int parse_range(const char *arg, nat_box_config *b) {
  unsigned a, z;
  if (nat_cli_range(arg, 1, &a, &z))
    return -1;
  b->port_min = (uint16_t)a;
  b->port_max = (uint16_t)z;
  return 0;
}

/* An impairment option: check its range and remember it. A value the link
 * would take for another (a queue of 0 or a fraction of a packet, a rate
 * that rounds to 0 bit/s, a reorder gap that rounds to 0 ns: the link's
 * defaults) is refused, not rounded. */
static int parse_imp(int code, const char *arg, imp_set *imp, char *err,
                     size_t cap) {
  int field = (code - OPT_IMP) / 3, dir = (code - OPT_IMP) % 3;
  static const double lo[IMP_COUNT] = {0, 0, 0, 0, 1e-6, 0, 1e-3, 1};
  static const double hi[IMP_COUNT] = {3600e3, 3600e3, 1,   1,
                                       3600e3, 1,      1e9, 1e6};
  static const char *const what[IMP_COUNT] = {
      "milliseconds 0..3600000",
      "milliseconds 0..3600000",
      "a probability 0..1",
      "a probability 0..1",
      "milliseconds 0.000001..3600000",
      "a probability 0..1",
      "kbit/s 0.001..1000000000; omit it for no limit",
      "a whole number of packets 1..1000000"};
  double v;
  if (nat_cli_double(arg, lo[field], hi[field], &v) ||
      (field == IMP_QUEUE && v != floor(v)))
    return fail(err, cap, "--%s%s: '%s' is not %s",
                dir == 0 ? "" : (dir == 1 ? "up-" : "down-"), imp_names[field],
                arg, what[field]);
  imp->v[field][dir] = v;
  imp->set[field][dir] = true;
  return 0;
}

/* Turn the impairment values into the two link configurations. */
static void apply_imp(const imp_set *imp, nat_link_config link[2]) {
  for (int d = 0; d < 2; d++) {
    double v[IMP_COUNT];
    for (int f = 0; f < IMP_COUNT; f++)
      v[f] = imp->set[f][d + 1] ? imp->v[f][d + 1] : imp->v[f][0];
    link[d].delay = (nat_tstamp)llround(v[IMP_DELAY] * 1e6);
    link[d].jitter = (nat_tstamp)llround(v[IMP_JITTER] * 1e6);
    link[d].loss = v[IMP_LOSS];
    link[d].reorder = v[IMP_REORDER];
    link[d].reorder_gap = (nat_tstamp)llround(v[IMP_REORDER_GAP] * 1e6);
    link[d].duplicate = v[IMP_DUPLICATE];
    link[d].rate_bps = (uint64_t)llround(v[IMP_RATE] * 1000.0);
    link[d].max_queue = (size_t)v[IMP_QUEUE];
  }
}

/* Options of the NAT itself (not --nat, --lan, ...). @return 0, -1 error,
 * 1 not a NAT option. */
static int parse_nat_opt(int c, const char *arg, nat_box_config *b, char *err,
                         size_t cap) {
  double v;
  unsigned n;
  switch (c) {
  case OPT_PUBLIC:
    return parse_public(arg, b, err, cap);
  case OPT_POOLING:
    if (strcmp(arg, "paired") && strcmp(arg, "arbitrary"))
      return fail(err, cap, "--pooling wants paired or arbitrary");
    b->pooling_arbitrary = !strcmp(arg, "arbitrary");
    return 0;
  case OPT_MAPPING:
  case OPT_FILTERING:
    if (parse_behaviour(arg, c == OPT_MAPPING ? &b->mapping : &b->filtering))
      return fail(err, cap, "--%s wants ei, ad or apd, got '%s'",
                  c == OPT_MAPPING ? "mapping" : "filtering", arg);
    return 0;
  case OPT_ALLOC:
    if (parse_alloc(arg, &b->alloc))
      return fail(err, cap, "--alloc wants preserve, sequential or random");
    return 0;
  case OPT_DELTA:
    if (nat_cli_double(arg, -65535, 65535, &v) || v != floor(v) || v == 0)
      return fail(err, cap, "--delta wants a non-zero integer, got '%s'", arg);
    b->delta = (int32_t)v;
    return 0;
  case OPT_INTERLEAVE:
    if (parse_interleave(arg, b))
      return fail(err, cap, "--interleave wants P[:MAX], P in 0..1");
    return 0;
  case OPT_PORT_RANGE:
    if (parse_range(arg, b))
      return fail(err, cap,
                  "--port-range wants A-B, 1 <= A <= B <= 65535, got '%s'",
                  arg);
    return 0;
  case OPT_PORT_BLOCK:
    if (nat_cli_uint(arg, 1, 65535, &n) != 0)
      return fail(err, cap, "--port-block wants ports 1..65535, got '%s'", arg);
    b->block_size = n;
    return 0;
  case OPT_TIMEOUT:
    if (nat_cli_double(arg, 0.001, 86400 * 365, &v))
      return fail(err, cap, "--timeout wants seconds > 0, got '%s'", arg);
    b->timeout = (nat_tstamp)llround(v * 1e9);
    return 0;
  case OPT_PER_HOST:
    b->per_host = true;
    return 0;
  case OPT_OVERLOAD:
    b->overload = true;
    return 0;
  case OPT_HAIRPIN:
    b->hairpin = true;
    return 0;
  case OPT_INBOUND_REFRESH:
    b->inbound_refresh = true;
    return 0;
  default:
    return 1;
  }
}

static struct option *build_options(void) {
  static struct option all[N_BASE + IMP_COUNT * 3 + 1];
  static char names[IMP_COUNT * 3][32];
  size_t k = 0;
  for (size_t i = 0; i < N_BASE; i++)
    all[k++] = base_opts[i];
  for (int f = 0; f < IMP_COUNT; f++) {
    for (int d = 0; d < 3; d++) {
      char *n = names[f * 3 + d];
      snprintf(n, sizeof names[0], "%s%s",
               d == 0 ? "" : (d == 1 ? "up-" : "down-"), imp_names[f]);
      all[k].name = n;
      all[k].has_arg = required_argument;
      all[k].flag = NULL;
      all[k].val = OPT_IMP + f * 3 + d;
      k++;
    }
  }
  memset(&all[k], 0, sizeof all[k]);
  return all;
}

/* Everything after the options have been read. */
static int check_opts(nb_opts *o, bool nat_opt_given, char *err, size_t cap) {
  if (!o->lan.netns[0] || !o->wan.netns[0])
    return fail(err, cap,
                "--lan NETNS:IFNAME and --wan NETNS:IFNAME are "
                "required");
  if (!strcmp(o->lan.netns, o->wan.netns) &&
      !strcmp(o->lan.ifname, o->wan.ifname))
    return fail(err, cap, "--lan and --wan name the same device");
  if (nat_opt_given && !o->nat)
    return fail(err, cap, "NAT options need --nat box");
  if (o->nat && o->box.npublic == 0)
    return fail(err, cap, "--nat box needs --public IP");
  if (o->box.block_size != 0) {
    uint32_t lo = o->box.port_min ? o->box.port_min : 1024;
    uint32_t hi = o->box.port_max ? o->box.port_max : 65535;
    if (o->box.block_size > hi - lo + 1)
      return fail(err, cap,
                  "--port-block %u is larger than the port range %u-%u",
                  (unsigned)o->box.block_size, (unsigned)lo, (unsigned)hi);
  }
  return 0;
}

static int parse_seed(const char *arg, uint64_t *out) {
  char *end;
  unsigned long long v;
  errno = 0;
  if (arg[0] == '-')
    return -1;
  v = strtoull(arg, &end, 0);
  if (errno || end == arg || *end)
    return -1;
  *out = v;
  return 0;
}

/** Parse the command line; see natbox_prog.h. */
int nb_parse_args(int argc, char **argv, nb_opts *o, char *err, size_t cap) {
  struct option *opts = build_options();
  imp_set imp;
  bool nat_opt = false;
  uint64_t seed = 1;
  double v;
  int c, rv;
  memset(o, 0, sizeof *o);
  o->tun_queue = NB_TUN_QUEUE;
  memset(&imp, 0, sizeof imp);
  o->lan.fd = o->wan.fd = -1;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    if (c == '?')
      return fail(err, cap, "unknown option '%s'", argv[optind - 1]);
    if (c == ':')
      return fail(err, cap, "option '%s' needs a value", argv[optind - 1]);
    if (c >= OPT_IMP) {
      if (parse_imp(c, optarg, &imp, err, cap))
        return -1;
      continue;
    }
    rv = parse_nat_opt(c, optarg, &o->box, err, cap);
    if (rv < 0)
      return -1;
    if (rv == 0) {
      nat_opt = true;
      continue;
    }
    switch (c) {
    case OPT_LAN:
    case OPT_WAN:
      if (parse_side(optarg, c == OPT_LAN ? &o->lan : &o->wan,
                     c == OPT_LAN ? "lan" : "wan", err, cap))
        return -1;
      break;
    case OPT_NAT:
      if (strcmp(optarg, "none") && strcmp(optarg, "box"))
        return fail(err, cap, "--nat wants none or box, got '%s'", optarg);
      o->nat = !strcmp(optarg, "box");
      break;
    case OPT_SEED:
      if (parse_seed(optarg, &seed))
        return fail(err, cap, "--seed wants an unsigned integer");
      break;
    case OPT_STATS:
      o->stats_file = optarg;
      break;
    case OPT_READY:
      o->ready_file = optarg;
      break;
    case OPT_TUN_QUEUE:
      if (nat_cli_double(optarg, 1, 1e6, &v) || v != floor(v))
        return fail(err, cap, "--tun-queue wants packets 1..1000000, got '%s'",
                    optarg);
      o->tun_queue = (unsigned)v;
      break;
    case OPT_HELP:
      nb_usage(stdout);
      return 1;
    case OPT_VERSION:
      printf("natbox (libnat) %s\n", nat_version_string());
      return 1;
    default:
      return fail(err, cap, "unhandled option");
    }
  }
  if (optind < argc)
    return fail(err, cap, "unexpected argument '%s'", argv[optind]);
  apply_imp(&imp, o->link);
  o->box.seed = seed;
  o->link[NB_UP].seed = seed ^ 0x5550000000000001ull;   /* "UP" */
  o->link[NB_DOWN].seed = seed ^ 0x444e000000000002ull; /* "DN" */
  return check_opts(o, nat_opt, err, cap);
}
