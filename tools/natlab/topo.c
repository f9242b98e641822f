/* natlab -- topology files: parser, presets, address layout.
 * The format is documented in docs/topology-format.md. */
#include "natlab.h"

#include "../common/cli.h"
#include "../natbox/natbox_prog.h"

#include <getopt.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOT_GIVEN (-2)

struct parser {
  struct nl_topo *t;
  const char *file;
  int line;
  const struct nl_params *set; /* --set values */
  struct nl_params decl;       /* param lines: defaults */
  char *err;                   /* the one-line error */
  size_t errlen;
};

/* Copy @p in to @p out (@p len > 4) as printable ASCII: other bytes become
 * \xHH; a text that does not fit ends in "...". */
static void printable(const char *in, char *out, size_t len) {
  size_t o = 0;
  for (; *in; in++) {
    unsigned char c = (unsigned char)*in;
    size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;
    if (o + need + 4 > len) {
      memcpy(out + o, "...", 4);
      return;
    }
    if (need == 1)
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
  }
  out[o] = '\0';
}

/* A word of the file in an error: at most 40 bytes of it (printable()
 * escapes the rest when the whole line is made). */
static const char *shown(const char *s, char buf[48]) {
  snprintf(buf, 48, "%.40s%s", s, strlen(s) > 40 ? "..." : "");
  return buf;
}

static int perr(const struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The error: "FILE:LINE: what", one line of printable ASCII, bounded
 * (NL_ERR_LINE), in p->err. */
static int perr(const struct parser *p, const char *fmt, ...) {
  char raw[2048];
  va_list ap;
  int n = snprintf(raw, sizeof raw, "%s:%d: ", p->file, p->line);
  va_start(ap, fmt);
  vsnprintf(raw + n, sizeof raw - (size_t)n, fmt, ap);
  va_end(ap);
  printable(raw, p->err, p->errlen);
  return NL_ERR_USAGE;
}

const char *nl_beh_name(int beh) {
  if (beh == NL_NO_NAT)
    return "none";
  if ((beh >= NAT_BEH_EI && beh <= NAT_BEH_APD) || beh == NAT_BEH_DEPENDENT)
    return nat_beh_short_name((uint8_t)beh);
  return "any";
}

const char *nl_beh_seen_name(int beh) {
  return beh == -2 ? "null" : beh == -1 ? "unknown" : nl_beh_name(beh);
}

const char *nl_alloc_name(int alloc) {
  switch (alloc) {
  case NL_ALLOC_PRESERVE:
    return "preserve";
  case NL_ALLOC_SEQ:
    return "sequential";
  case NL_ALLOC_RANDOM:
    return "random";
  default:
    return "any";
  }
}

void nl_ip_str(uint32_t ip, char *buf, size_t len) {
  snprintf(buf, len, "%u.%u.%u.%u", (ip >> 24) & 255u, (ip >> 16) & 255u,
           (ip >> 8) & 255u, ip & 255u);
}

bool nl_node_natbox_nat(const struct nl_node *n) {
  return n->kind == NL_NAT && n->engine == NL_ENGINE_NATBOX;
}

bool nl_node_has_natbox(const struct nl_node *n) {
  return n->n_link_opts > 0 || nl_node_natbox_nat(n);
}

static bool name_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= NL_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
        s[i] != '-')
      return false;
  return true;
}

int nl_topo_node(const struct nl_topo *t, const char *name) {
  for (int i = 0; i < t->nnodes; i++)
    if (strcmp(t->nodes[i].name, name) == 0)
      return i;
  return -1;
}

int nl_topo_hosts(const struct nl_topo *t) {
  int n = 0;
  for (int i = 0; i < t->nnodes; i++)
    n += t->nodes[i].kind == NL_HOST;
  return n;
}

static int parse_beh(const char *v) {
  nat_beh b = nat_beh_parse(v);
  if (b != NAT_BEH_UNKNOWN)
    return (int)b;
  if (strcmp(v, "none") == 0)
    return NL_NO_NAT;
  if (strcmp(v, "any") == 0)
    return -1;
  return NOT_GIVEN;
}

static int parse_alloc(const char *v) {
  if (strcmp(v, "preserve") == 0)
    return NL_ALLOC_PRESERVE;
  if (strcmp(v, "sequential") == 0)
    return NL_ALLOC_SEQ;
  if (strcmp(v, "random") == 0)
    return NL_ALLOC_RANDOM;
  if (strcmp(v, "any") == 0)
    return -1;
  return NOT_GIVEN;
}

static int parse_bool(const char *v) {
  if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
    return 1;
  if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
    return 0;
  if (strcmp(v, "any") == 0)
    return -1;
  return NOT_GIVEN;
}

/* A preset NAT kind: mapping, filtering, allocation. */
struct preset {
  const char *name;
  int mapping, filtering, alloc;
  unsigned lo, hi;
};

static const struct preset presets[] = {
    {"full-cone", NAT_BEH_EI, NAT_BEH_EI, NL_ALLOC_PRESERVE, 0, 0},
    {"restricted-cone", NAT_BEH_EI, NAT_BEH_AD, NL_ALLOC_PRESERVE, 0, 0},
    {"port-restricted", NAT_BEH_EI, NAT_BEH_APD, NL_ALLOC_PRESERVE, 0, 0},
    {"symmetric", NAT_BEH_APD, NAT_BEH_APD, NL_ALLOC_RANDOM, 0, 0},
    {"symmetric-sequential", NAT_BEH_APD, NAT_BEH_APD, NL_ALLOC_SEQ, 20000,
     20999},
    /* random-range keeps its ports out of every client's local ports: a
     * `snat to PUB:LO-HI` NAT keeps a source port that falls inside its
     * range, so a range that overlapped Debian's stun client (binds
     * 16384-32767) or the kernel's ephemeral ports (32768-60999) would
     * make "random" a coin toss. */
    {"random-range", NAT_BEH_EI, NAT_BEH_APD, NL_ALLOC_RANDOM, 10000, 10999},
};

static int apply_preset(struct nl_node *n, const char *v) {
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
    if (strcmp(presets[i].name, v) != 0)
      continue;
    n->mapping = presets[i].mapping;
    n->filtering = presets[i].filtering;
    n->alloc = presets[i].alloc;
    n->port_min = presets[i].lo;
    n->port_max = presets[i].hi;
    return 0;
  }
  return -1;
}

static bool is_link_key(const char *k) {
  static const char *const base[] = {"delay",   "jitter",      "loss",
                                     "reorder", "reorder-gap", "duplicate",
                                     "rate",    "queue"};
  if (strcmp(k, "seed") == 0)
    return true;
  if (strncmp(k, "up-", 3) == 0)
    k += 3;
  else if (strncmp(k, "down-", 5) == 0)
    k += 5;
  for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
    if (strcmp(k, base[i]) == 0)
      return true;
  return false;
}

static bool number_like(const char *v) {
  double d;
  return nat_cli_double(v, 0, HUGE_VAL, &d) == 0;
}

static int add_opt(const struct parser *p, struct nl_opt *opts, int *n,
                   const char *k, const char *v) {
  if (*n >= NL_MAX_OPTS)
    return perr(p, "too many options (at most %d)", NL_MAX_OPTS);
  if (strlen(k) >= sizeof opts[0].key || strlen(v) >= sizeof opts[0].val)
    return perr(p, "option '%s' is too long", k);
  snprintf(opts[*n].key, sizeof opts[0].key, "%s", k);
  snprintf(opts[*n].val, sizeof opts[0].val, "%s", v);
  (*n)++;
  return 0;
}

/* portmap=LIST (upnp, natpmp, pcp, all, none) or upnp=on|off (all|none). */
static int portmap_key(const struct parser *p, struct nl_node *n, const char *k,
                       const char *v) {
  static const struct {
    const char *name;
    unsigned bits;
  } names[] = {{"upnp", NL_PORTMAP_UPNP},
               {"natpmp", NL_PORTMAP_NATPMP},
               {"pcp", NL_PORTMAP_PCP},
               {"all", NL_PORTMAP_UPNP | NL_PORTMAP_NATPMP | NL_PORTMAP_PCP},
               {"none", 0}};
  char buf[64], *save = NULL;
  if (strcmp(k, "upnp") == 0) {
    int b = parse_bool(v);
    if (b < 0)
      return perr(p, "upnp must be on or off, not '%s'", v);
    n->portmap = b ? NL_PORTMAP_UPNP | NL_PORTMAP_NATPMP | NL_PORTMAP_PCP : 0;
    return 0;
  }
  snprintf(buf, sizeof buf, "%s", v);
  n->portmap = 0;
  int words = 0;
  bool alone = false; /* all or none: a whole value, not a list member */
  for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strcmp(names[i].name, w) == 0)
        break;
    if (i == sizeof names / sizeof names[0])
      return perr(p,
                  "portmap takes a comma list of upnp, natpmp, pcp (or all, "
                  "none), not '%s'",
                  w);
    n->portmap |= names[i].bits;
    words++;
    alone |= i >= 3;
  }
  if (words == 0 || (alone && words > 1))
    return perr(p,
                "portmap '%s' contradicts itself: all and none stand "
                "alone, not in a list",
                v);
  return 0;
}

/* natbox's own option parser on the command line natlab would give it
 * (--KEY VALUE after the devices, and --nat box for a NAT option): NULL,
 * or natbox's reason in @p msg. */
static const char *natbox_says(const char *k, const char *v, bool nat,
                               char *msg, size_t len) {
  char flag[40], val[sizeof((struct nl_opt *)0)->val], err[160], kb[48];
  char *argv[] = {"natbox", "--lan", "a:lan", "--wan",    "b:wan",     flag,
                  val,      "--nat", "box",   "--public", "192.0.2.1", NULL};
  static nb_opts o;
  int saved_optind = optind, saved_opterr = opterr, r;
  snprintf(flag, sizeof flag, "--%s", k);
  snprintf(val, sizeof val, "%s", v);
  r = nb_parse_args(nat ? 11 : 7, argv, &o, err, sizeof err);
  optind = saved_optind;
  opterr = saved_opterr;
  if (r == 0)
    return NULL;
  snprintf(msg, len, "%s%s=%s: natbox says: %s", nat ? "natbox." : "", k,
           shown(v, kb), r < 0 ? err : "not an option value");
  return msg;
}

/* natbox options a topology may pass as natbox.KEY=VALUE: the ones natlab
 * sets from no key of its own (flags take on/off). */
static const struct {
  const char *key;
  bool flag;
} natbox_keys[] = {{"pooling", false},        {"per-host", true},
                   {"interleave", false},     {"overload", true},
                   {"inbound-refresh", true}, {"seed", false},
                   {"tun-queue", false}};

/* natbox options natlab sets from a key of its own, and that key. */
static const struct {
  const char *key, *use;
} natbox_owned[] = {{"mapping", "mapping="},
                    {"filtering", "filtering="},
                    {"alloc", "alloc="},
                    {"delta", "delta="},
                    {"port-range", "range="},
                    {"port-block", "port-block="},
                    {"hairpin", "hairpin="},
                    {"timeout", "timeout="},
                    {"public", "nothing (natlab lays out the addresses)"},
                    {"lan", "nothing (natlab makes the devices)"},
                    {"wan", "nothing (natlab makes the devices)"},
                    {"nat", "engine="},
                    {"stats", "nothing (natlab keeps it in its state)"},
                    {"ready-file", "nothing (natlab keeps it in its state)"}};

/* natbox.KEY=VALUE: a natbox option natlab passes as --KEY [VALUE] (on:
 * the flag alone, off: omitted). The value is checked by natbox's own
 * option parser, so `natlab show` refuses what `natlab up` would. */
static const char *natbox_opt_error(const char *k, const char *v, char *msg,
                                    size_t len) {
  size_t i;
  char kb[48];
  for (i = 0; i < sizeof natbox_owned / sizeof natbox_owned[0]; i++)
    if (strcmp(k, natbox_owned[i].key) == 0) {
      snprintf(msg, len, "natbox.%s is set by natlab: use %s", k,
               natbox_owned[i].use);
      return msg;
    }
  if (is_link_key(k) && strcmp(k, "seed") != 0) {
    snprintf(msg, len, "natbox.%s is a link option: use a link line", k);
    return msg;
  }
  for (i = 0; i < sizeof natbox_keys / sizeof natbox_keys[0]; i++)
    if (strcmp(k, natbox_keys[i].key) == 0)
      break;
  if (i == sizeof natbox_keys / sizeof natbox_keys[0]) {
    snprintf(msg, len,
             "unknown natbox option 'natbox.%s' (natbox.pooling, "
             "natbox.per-host, natbox.interleave, natbox.overload, "
             "natbox.inbound-refresh, natbox.seed, natbox.tun-queue)",
             shown(k, kb));
    return msg;
  }
  bool on = strcmp(v, "on") == 0 || strcmp(v, "yes") == 0;
  bool off = strcmp(v, "off") == 0 || strcmp(v, "no") == 0;
  if (natbox_keys[i].flag) {
    if (!on && !off) {
      snprintf(msg, len, "natbox.%s must be on or off, not '%s'", k,
               shown(v, kb));
      return msg;
    }
    return NULL;
  }
  if (on) {
    snprintf(msg, len, "natbox.%s wants a value, not '%s'", k, v);
    return msg;
  }
  if (off)
    return NULL;
  return natbox_says(k, v, true, msg, len);
}

/* One key=value of a `nat` line. */
static int nat_key(const struct parser *p, struct nl_node *n, const char *k,
                   const char *v) {
  unsigned x;
  int r;
  if (strcmp(k, "kind") == 0) {
    if (apply_preset(n, v))
      return perr(p,
                  "unknown NAT kind '%s' (full-cone, restricted-cone, "
                  "port-restricted, symmetric, symmetric-sequential, "
                  "random-range)",
                  v);
  } else if (strcmp(k, "engine") == 0) {
    if (strcmp(v, "kernel") == 0)
      n->engine = NL_ENGINE_KERNEL;
    else if (strcmp(v, "natbox") == 0)
      n->engine = NL_ENGINE_NATBOX;
    else
      return perr(p, "engine must be kernel or natbox, not '%s'", v);
  } else if (strcmp(k, "mapping") == 0 || strcmp(k, "filtering") == 0) {
    r = parse_beh(v);
    if (r < 0 || r == NL_NO_NAT)
      return perr(p, "%s must be ei, ad or apd, not '%s'", k, v);
    *(k[0] == 'm' ? &n->mapping : &n->filtering) = r;
  } else if (strcmp(k, "alloc") == 0) {
    if ((r = parse_alloc(v)) < 0)
      return perr(p, "alloc must be preserve, sequential or random, not '%s'",
                  v);
    n->alloc = r;
  } else if (strcmp(k, "delta") == 0) {
    if (nat_cli_uint(v, 1, 1000, &x))
      return perr(p, "delta must be 1..1000, not '%s'", v);
    n->delta = (int)x;
  } else if (strcmp(k, "range") == 0) {
    if (nat_cli_range(v, 1024, &n->port_min, &n->port_max))
      return perr(p, "range must be LO-HI within 1024-65535, not '%s'", v);
  } else if (strcmp(k, "port-block") == 0) {
    if (nat_cli_uint(v, 1, 64512, &x))
      return perr(p, "port-block must be 1..64512 ports, not '%s'", v);
    n->port_block = x;
  } else if (strcmp(k, "hairpin") == 0) {
    if ((r = parse_bool(v)) < 0)
      return perr(p, "hairpin must be on or off, not '%s'", v);
    n->hairpin = r == 1;
  } else if (strcmp(k, "input") == 0) {
    if (strcmp(v, "drop") != 0 && strcmp(v, "accept") != 0)
      return perr(p, "input must be drop or accept, not '%s'", v);
    n->input_drop = strcmp(v, "drop") == 0;
  } else if (strcmp(k, "timeout") == 0) {
    if (nat_cli_uint(v, 1, 86400, &x))
      return perr(p, "timeout must be 1..86400 seconds, not '%s'", v);
    n->timeout = (unsigned)x;
  } else if (strcmp(k, "portmap") == 0 || strcmp(k, "upnp") == 0) {
    return portmap_key(p, n, k, v);
  } else if (strcmp(k, "portmap-stun") == 0) {
    if ((r = parse_bool(v)) < 0)
      return perr(p, "portmap-stun must be on or off, not '%s'", v);
    n->portmap_stun = r;
  } else if (strncmp(k, "natbox.", 7) == 0) {
    char msg[320];
    if (natbox_opt_error(k + 7, v, msg, sizeof msg))
      return perr(p, "%s", msg);
    return add_opt(p, n->nat_opts, &n->n_nat_opts, k + 7, v);
  } else {
    return perr(p, "unknown nat option '%s'", k);
  }
  return 0;
}

static int expect_key(const struct parser *p, struct nl_expect *e,
                      const char *k, const char *v) {
  int r;
  if (strcmp(k, "mapping") == 0 || strcmp(k, "filtering") == 0) {
    if ((r = parse_beh(v)) == NOT_GIVEN)
      return perr(p, "%s must be ei, ad, apd, none or any, not '%s'", k, v);
    *(k[0] == 'm' ? &e->mapping : &e->filtering) = r;
  } else if (strcmp(k, "alloc") == 0) {
    if ((r = parse_alloc(v)) == NOT_GIVEN)
      return perr(p, "alloc must be preserve, sequential, random or any");
    e->alloc = r;
  } else if (strcmp(k, "hairpin") == 0) {
    if ((r = parse_bool(v)) == NOT_GIVEN)
      return perr(p, "hairpin must be on, off or any, not '%s'", v);
    e->hairpin = r;
  } else if (strcmp(k, "delta") == 0) {
    unsigned x;
    if (strcmp(v, "any") == 0)
      e->delta = 0;
    else if (nat_cli_uint(v, 1, 1000, &x))
      return perr(p, "delta must be 1..1000 or any, not '%s'", v);
    else
      e->delta = (int)x;
  } else {
    return perr(p,
                "unknown expect key '%s' (mapping, filtering, alloc, "
                "hairpin, delta)",
                k);
  }
  e->set = true;
  return 0;
}

/* Which NAT behaviours the kernel (nftables) engine can build: NULL, or
 * why not. */
static const char *kernel_error(const struct nl_node *n) {
  int m = n->mapping, f = n->filtering, a = n->alloc;
  bool ranged = n->port_max != 0;
  if (m == NAT_BEH_AD)
    return "the kernel engine cannot do mapping=ad; use engine=natbox";
  if (m == NAT_BEH_APD && f != NAT_BEH_APD)
    return "the kernel engine does mapping=apd only with filtering=apd; use "
           "engine=natbox";
  if (a == NL_ALLOC_PRESERVE && (m != NAT_BEH_EI || ranged))
    return "the kernel engine preserves ports only with mapping=ei and no "
           "range";
  if (a == NL_ALLOC_SEQ && (m != NAT_BEH_APD || !ranged))
    return "kernel sequential allocation needs mapping=apd and a range=LO-HI";
  if (a == NL_ALLOC_SEQ && n->port_max - n->port_min > 4095)
    return "kernel sequential range is at most 4096 ports";
  if (a == NL_ALLOC_RANDOM && m == NAT_BEH_EI && (!ranged || f != NAT_BEH_APD))
    return "kernel random allocation with mapping=ei needs a range=LO-HI and "
           "filtering=apd";
  if (n->hairpin && m != NAT_BEH_EI)
    return "kernel hairpinning needs mapping=ei";
  if (a != NL_ALLOC_SEQ && n->delta != 1)
    return "delta needs alloc=sequential";
  if (n->n_nat_opts)
    return "natbox.* options need engine=natbox";
  if (n->port_block)
    return "port-block (a carrier NAT's port blocks) needs engine=natbox";
  return NULL;
}

/* What a NAT node must satisfy once its line is read, whatever its
 * engine: NULL, or why not (in @p buf). */
static const char *nat_error(const struct nl_node *n, char *buf, size_t len) {
  if (n->engine == NL_ENGINE_KERNEL)
    return kernel_error(n);
  /* natbox: a port block must fit in the NAT's range */
  unsigned lo = n->port_max ? n->port_min : 1024;
  unsigned hi = n->port_max ? n->port_max : 65535;
  if (n->port_block > hi - lo + 1) {
    snprintf(buf, len, "port-block %u is larger than the range %u-%u",
             n->port_block, lo, hi);
    return buf;
  }
  if (n->input_drop)
    return "input=drop is for engine=kernel: natbox drops every inbound "
           "packet no mapping admits already";
  if (n->portmap)
    return "portmap (miniupnpd) needs engine=kernel: miniupnpd programs "
           "nftables";
  return NULL;
}

static int split_kv(const struct parser *p, char *tok, char **v) {
  char *eq = strchr(tok, '=');
  if (!eq || eq == tok)
    return perr(p, "expected key=value, got '%s'", tok);
  *eq = '\0';
  *v = eq + 1;
  return 0;
}

static int find_parent(const struct parser *p, char **tok, int ntok,
                       int *parent) {
  *parent = 0;
  for (int i = 0; i < ntok; i++) {
    if (strncmp(tok[i], "behind=", 7) != 0)
      continue;
    *parent = nl_topo_node(p->t, tok[i] + 7);
    if (*parent < 0)
      return perr(p, "unknown node '%s' (declare it before use)", tok[i] + 7);
    if (p->t->nodes[*parent].kind == NL_HOST)
      return perr(
          p, "'%s' is a host; only wan or a nat can be behind=", tok[i] + 7);
    tok[i][0] = '\0';
  }
  return 0;
}

static int new_node(struct parser *p, char **tok, int ntok, int kind) {
  struct nl_topo *t = p->t;
  if (ntok < 2)
    return perr(p, "%s needs a name", tok[0]);
  if (!name_valid(tok[1]))
    return perr(p, "bad node name '%s' (want [a-z0-9-]{1,12})", tok[1]);
  if (strcmp(tok[1], "wan") == 0)
    return perr(p, "the node name 'wan' is reserved (the root every lab has; "
                   "nodes hang below it with behind=wan)");
  if (nl_topo_node(t, tok[1]) >= 0)
    return perr(p, "node '%s' is declared twice", tok[1]);
  if (t->nnodes >= NL_MAX_NODES)
    return perr(p, "too many nodes (at most %d)", NL_MAX_NODES);
  struct nl_node *n = &t->nodes[t->nnodes];
  memset(n, 0, sizeof *n);
  snprintf(n->name, sizeof n->name, "%s", tok[1]);
  n->kind = kind;
  n->line = p->line;
  n->delta = 1;
  n->portmap_stun = -1;
  n->expect = (struct nl_expect){.mapping = NOT_GIVEN,
                                 .filtering = NOT_GIVEN,
                                 .alloc = NOT_GIVEN,
                                 .hairpin = NOT_GIVEN,
                                 .delta = NOT_GIVEN};
  apply_preset(n, NL_DEFAULT_TOPO);
  int r = find_parent(p, tok + 2, ntok - 2, &n->parent);
  if (r)
    return r;
  for (int i = 2; i < ntok; i++) {
    char *v = NULL;
    if (!tok[i][0])
      continue;
    if (kind == NL_HOST)
      return perr(p, "unknown host option '%s' (only behind=)", tok[i]);
    if ((r = split_kv(p, tok[i], &v)) || (r = nat_key(p, n, tok[i], v)))
      return r;
  }
  char msg[96];
  const char *why = kind == NL_NAT ? nat_error(n, msg, sizeof msg) : NULL;
  if (why)
    return perr(p, "%s", why);
  if (kind == NL_NAT && n->portmap_stun >= 0 && !n->portmap)
    return perr(p,
                "portmap-stun=%s needs portmap= (it configures "
                "miniupnpd)",
                n->portmap_stun ? "on" : "off");
  if (n->portmap_stun < 0)
    n->portmap_stun = 1;
  t->nnodes++;
  return 0;
}

static int node_stmt(struct parser *p, char **tok, int ntok, bool link) {
  if (ntok < 2)
    return perr(p, "%s needs a node name", tok[0]);
  int i = nl_topo_node(p->t, tok[1]);
  if (i < 0)
    return perr(p, "unknown node '%s'", tok[1]);
  struct nl_node *n = &p->t->nodes[i];
  if (i == 0)
    return perr(p, "wan has no uplink and observes nothing");
  for (int k = 2; k < ntok; k++) {
    char *v = NULL;
    int r = split_kv(p, tok[k], &v);
    if (r)
      return r;
    if (!link) {
      if ((r = expect_key(p, &n->expect, tok[k], v)))
        return r;
      continue;
    }
    if (!is_link_key(tok[k]))
      return perr(p,
                  "unknown link option '%s' (delay, jitter, loss, "
                  "reorder, reorder-gap, duplicate, rate, queue, up-*/down-*, "
                  "seed)",
                  tok[k]);
    if (!number_like(v))
      return perr(p, "link option %s wants a number, not '%s'", tok[k], v);
    char msg[320];
    if (natbox_says(tok[k], v, false, msg, sizeof msg))
      return perr(p, "link %s", msg);
    if ((r = add_opt(p, n->link_opts, &n->n_link_opts, tok[k], v)))
      return r;
  }
  return 0;
}

static int param_stmt(struct parser *p, char **tok, int ntok) {
  char *v = NULL;
  int r;
  if (ntok != 2)
    return perr(p, "param wants exactly NAME=DEFAULT");
  if ((r = split_kv(p, tok[1], &v)))
    return r;
  if (p->decl.n >= NL_MAX_PARAMS || strlen(tok[1]) >= 24 || strlen(v) >= 40)
    return perr(p, "too many or too long params");
  snprintf(p->decl.name[p->decl.n], 24, "%s", tok[1]);
  snprintf(p->decl.value[p->decl.n], 40, "%s", v);
  for (int i = 0; i < p->set->n; i++)
    if (strcmp(p->set->name[i], tok[1]) == 0)
      snprintf(p->decl.value[p->decl.n], 40, "%s", p->set->value[i]);
  p->decl.n++;
  return 0;
}

/* Replace ${NAME} by the param's value. */
static int expand(const struct parser *p, const char *in, char *out,
                  size_t len) {
  size_t o = 0;
  while (*in) {
    if (in[0] == '$' && in[1] == '{') {
      const char *end = strchr(in, '}');
      int k;
      if (!end)
        return perr(p, "unterminated ${");
      for (k = 0; k < p->decl.n; k++)
        if (strlen(p->decl.name[k]) == (size_t)(end - in - 2) &&
            strncmp(p->decl.name[k], in + 2, (size_t)(end - in - 2)) == 0)
          break;
      if (k == p->decl.n)
        return perr(p, "unknown param '%.*s'", (int)(end - in - 2), in + 2);
      size_t vl = strlen(p->decl.value[k]);
      if (o + vl >= len)
        return perr(p, "line too long");
      memcpy(out + o, p->decl.value[k], vl);
      o += vl;
      in = end + 1;
      continue;
    }
    if (o + 1 >= len)
      return perr(p, "line too long");
    out[o++] = *in++;
  }
  out[o] = '\0';
  return 0;
}

static int parse_line(struct parser *p, char *raw) {
  char line[1024], *tok[40], *save = NULL;
  int ntok = 0, r;
  char *hash = strchr(raw, '#');
  if (hash)
    *hash = '\0';
  if ((r = expand(p, raw, line, sizeof line)))
    return r;
  for (char *s = strtok_r(line, " \t\r\n", &save); s;
       s = strtok_r(NULL, " \t\r\n", &save)) {
    if (ntok == 40)
      return perr(p, "too many words");
    tok[ntok++] = s;
  }
  if (ntok == 0)
    return 0;
  if (strcmp(tok[0], "description") == 0) {
    const char *d = strstr(raw, "description") + 11;
    d += strspn(d, " \t");
    snprintf(p->t->description, sizeof p->t->description, "%.*s",
             (int)strcspn(d, "\r\n"), d);
    return 0;
  }
  if (strcmp(tok[0], "param") == 0)
    return param_stmt(p, tok, ntok);
  if (strcmp(tok[0], "nat") == 0)
    return new_node(p, tok, ntok, NL_NAT);
  if (strcmp(tok[0], "host") == 0)
    return new_node(p, tok, ntok, NL_HOST);
  if (strcmp(tok[0], "link") == 0)
    return node_stmt(p, tok, ntok, true);
  if (strcmp(tok[0], "expect") == 0)
    return node_stmt(p, tok, ntok, false);
  char w[48];
  return perr(p,
              "unknown statement '%s' (description, param, nat, host, "
              "link, expect)",
              shown(tok[0], w));
}

/* Addresses: children of wan get 198.51.100.4k+2/30-style point-to-point
 * links; NAT number m gives its children 192.168.m.j (100.64.m.j when one
 * of them is itself a NAT: carrier-grade NAT). */
static int layout(struct nl_topo *t) {
  int wan_children = 0, nat_seq = 0;
  for (int i = 1; i < t->nnodes; i++) {
    struct nl_node *n = &t->nodes[i];
    n->index = i;
    if (n->parent == 0) {
      uint32_t base = (198u << 24) | (51u << 16) | (100u << 8);
      n->up_peer = base + (uint32_t)(4 * wan_children + 1);
      n->up_addr = base + (uint32_t)(4 * wan_children + 2);
      wan_children++;
    }
    if (n->kind != NL_NAT)
      continue;
    nat_seq++;
    bool cgn = false;
    for (int c = i + 1; c < t->nnodes; c++)
      cgn |= t->nodes[c].parent == i && t->nodes[c].kind == NL_NAT;
    uint32_t base =
        cgn ? (100u << 24) | (64u << 16) | ((uint32_t)nat_seq << 8)
            : (192u << 24) | (168u << 16) | ((uint32_t)nat_seq << 8);
    n->lan_addr = base + 1;
    int j = 0;
    for (int c = i + 1; c < t->nnodes; c++) {
      if (t->nodes[c].parent != i)
        continue;
      t->nodes[c].up_peer = base + 1;
      t->nodes[c].up_addr = base + (uint32_t)(j++ + 2);
    }
  }
  for (int i = 1; i < t->nnodes; i++)
    t->nodes[i].public_ip = t->nodes[i].up_addr;
  return wan_children > 63 ? -1 : 0;
}

static void init_topo(struct nl_topo *t, const char *path) {
  memset(t, 0, sizeof *t);
  snprintf(t->path, sizeof t->path, "%s", path);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(t->name, sizeof t->name, "%.*s", (int)strcspn(base, "."), base);
  t->nnodes = 1;
  snprintf(t->nodes[0].name, sizeof t->nodes[0].name, "wan");
  t->nodes[0].kind = NL_WAN;
  t->nodes[0].parent = -1;
}

/* The next line of @p f into @p buf (its newline dropped). @return 1, 0 at
 * the end of the file, or NL_ERR_USAGE (p->err says why). A topology is
 * text: a NUL or another control byte (but tab and CR) is refused. */
static int read_line(struct parser *p, FILE *f, char *buf, size_t cap) {
  size_t n = 0;
  int c;
  while ((c = getc_unlocked(f)) != EOF && c != '\n') {
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
      return perr(p,
                  "%s byte 0x%02x in column %zu: a topology is text, "
                  "not binary",
                  c == 0 ? "NUL" : "control", (unsigned)c, n + 1);
    if (n + 1 >= cap)
      return perr(p, "line too long (at most %zu bytes)", cap - 1);
    buf[n++] = (char)c;
  }
  if (ferror(f))
    return perr(p, "cannot read: %s", strerror(errno));
  buf[n] = '\0';
  return c == EOF && n == 0 ? 0 : 1;
}

int nl_topo_parse(struct nl_topo *t, const char *path, FILE *f,
                  const struct nl_params *params, char *err, size_t errlen) {
  static const struct nl_params none;
  struct parser p = {t, path, 0, params ? params : &none, {0}, err, errlen};
  char buf[1024];
  int r;
  err[0] = '\0';
  init_topo(t, path);
  do {
    p.line++;
    r = read_line(&p, f, buf, sizeof buf);
  } while (r == 1 && (r = parse_line(&p, buf)) == 0);
  if (r)
    return r;
  p.line--; /* the end of the file is no line */
  for (int i = 0; i < p.set->n; i++) {
    int k;
    for (k = 0; k < p.decl.n; k++)
      if (strcmp(p.decl.name[k], p.set->name[i]) == 0)
        break;
    if (k == p.decl.n) {
      char tmp[700];
      snprintf(tmp, sizeof tmp, "natlab: %s has no param '%s'", path,
               p.set->name[i]);
      printable(tmp, err, errlen);
      return NL_ERR_USAGE;
    }
  }
  if (nl_topo_hosts(t) == 0) {
    p.line = p.line ? p.line : 1;
    return perr(&p, "the topology has no host");
  }
  if (layout(t)) {
    p.line = p.line ? p.line : 1;
    return perr(&p, "too many nodes behind wan (at most 63)");
  }
  return 0;
}

int nl_topo_load(struct nl_topo *t, const char *path,
                 const struct nl_params *params) {
  char err[NL_ERR_LINE];
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "natlab: cannot open topology %s: %s\n", path,
            strerror(errno));
    return NL_ERR_USAGE;
  }
  int r = nl_topo_parse(t, path, f, params, err, sizeof err);
  fclose(f);
  if (r)
    fprintf(stderr, "%s\n", err);
  return r;
}

/* Does a parsed topology hold what the parser promises? The same rules as
 * the parser's, applied to the whole tree (the fuzz target's invariant). */
int nl_topo_check(const struct nl_topo *t, char *err, size_t len) {
  char msg[320];
  const char *why = NULL;
  int i = 0;
  if (t->nnodes < 2 || t->nnodes > NL_MAX_NODES)
    why = "the number of nodes is out of range";
  else if (t->nodes[0].kind != NL_WAN || t->nodes[0].parent != -1 ||
           strcmp(t->nodes[0].name, "wan") != 0)
    why = "node 0 is not wan";
  else if (nl_topo_hosts(t) == 0)
    why = "no host";
  for (i = 1; !why && i < t->nnodes; i++) {
    const struct nl_node *n = &t->nodes[i];
    if (!name_valid(n->name) || nl_topo_node(t, n->name) != i)
      why = "a bad or repeated node name";
    else if (n->kind != NL_NAT && n->kind != NL_HOST)
      why = "a bad kind";
    else if (n->parent < 0 || n->parent >= i ||
             t->nodes[n->parent].kind == NL_HOST)
      why = "a bad parent";
    else if (n->up_addr == 0 || n->up_peer == 0 || n->index != i)
      why = "no address";
    else if (n->n_nat_opts < 0 || n->n_nat_opts > NL_MAX_OPTS ||
             n->n_link_opts < 0 || n->n_link_opts > NL_MAX_OPTS)
      why = "too many options";
    else if (n->kind == NL_HOST && n->n_nat_opts)
      why = "a host with NAT options";
    for (int k = 0; !why && k < n->n_link_opts; k++)
      if (!is_link_key(n->link_opts[k].key) ||
          !number_like(n->link_opts[k].val) ||
          natbox_says(n->link_opts[k].key, n->link_opts[k].val, false, msg,
                      sizeof msg))
        why = "a bad link option";
    for (int k = i + 1; !why && k < t->nnodes; k++)
      if (t->nodes[k].up_addr == n->up_addr)
        why = "two nodes share an address";
    if (why || n->kind != NL_NAT)
      continue;
    if (n->mapping < NAT_BEH_EI || n->mapping > NAT_BEH_APD ||
        n->filtering < NAT_BEH_EI || n->filtering > NAT_BEH_APD ||
        n->alloc < NL_ALLOC_PRESERVE || n->alloc > NL_ALLOC_RANDOM ||
        n->delta < 1 || n->delta > 1000)
      why = "a bad NAT behaviour";
    else if (n->port_max && (n->port_min < 1024 || n->port_max > 65535 ||
                             n->port_min > n->port_max))
      why = "a bad port range";
    else if (n->lan_addr == 0)
      why = "a NAT without a LAN address";
    else if (n->portmap_stun != 0 && n->portmap_stun != 1)
      why = "portmap-stun unresolved";
    else
      why = nat_error(n, msg, sizeof msg);
    for (int k = 0; !why && k < n->n_nat_opts; k++)
      why = natbox_opt_error(n->nat_opts[k].key, n->nat_opts[k].val, msg,
                             sizeof msg);
  }
  if (!why)
    return 0;
  char tmp[900];
  snprintf(tmp, sizeof tmp, "%s: node %d: %s", t->path, i > 0 ? i - 1 : 0, why);
  printable(tmp, err, len);
  return -1;
}

/** Add --set NAME=VALUE to @p p. 0, or NL_ERR_USAGE after one line on
 * stderr. */
int nl_params_add(struct nl_params *p, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv || p->n >= NL_MAX_PARAMS || (size_t)(eq - kv) >= 24 ||
      strlen(eq + 1) >= 40) {
    fprintf(stderr, "natlab: --set wants NAME=VALUE (at most %d), got '%s'\n",
            NL_MAX_PARAMS, kv);
    return NL_ERR_USAGE;
  }
  snprintf(p->name[p->n], 24, "%.*s", (int)(eq - kv), kv);
  snprintf(p->value[p->n], 40, "%s", eq + 1);
  p->n++;
  return 0;
}

/* What a host should observe: the NAT right above it when that NAT sits on
 * the WAN (or "no NAT" for a host on the WAN), then its expect lines. */
void nl_topo_effective(const struct nl_topo *t, int host, struct nl_expect *e) {
  const struct nl_node *h = &t->nodes[host];
  *e = (struct nl_expect){-1, -1, -1, -1, 0, false};
  if (h->parent == 0) {
    *e = (struct nl_expect){NL_NO_NAT, NL_NO_NAT, NL_ALLOC_PRESERVE,
                            -1,        0,         true};
  } else if (t->nodes[h->parent].parent == 0) {
    const struct nl_node *n = &t->nodes[h->parent];
    *e = (struct nl_expect){n->mapping,
                            n->filtering,
                            n->alloc,
                            n->hairpin,
                            n->alloc == NL_ALLOC_SEQ ? n->delta : 0,
                            true};
  }
  if (h->expect.mapping != NOT_GIVEN)
    e->mapping = h->expect.mapping;
  if (h->expect.filtering != NOT_GIVEN)
    e->filtering = h->expect.filtering;
  if (h->expect.alloc != NOT_GIVEN)
    e->alloc = h->expect.alloc;
  if (h->expect.hairpin != NOT_GIVEN)
    e->hairpin = h->expect.hairpin;
  if (h->expect.delta != NOT_GIVEN)
    e->delta = h->expect.delta;
  e->set |= h->expect.set;
}

const char *nl_topo_dir(void) {
  static char dir[PATH_MAX];
  const char *env = getenv("NATLAB_TOPOLOGIES");
  char exe[PATH_MAX];
  ssize_t n;
  if (env && *env)
    return env;
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  if (strcmp(exe, NATLAB_INSTALLED_BIN) != 0 &&
      access(NATLAB_SOURCE_TOPODIR, R_OK) == 0)
    snprintf(dir, sizeof dir, "%s", NATLAB_SOURCE_TOPODIR);
  else
    snprintf(dir, sizeof dir, "%s", NATLAB_INSTALLED_TOPODIR);
  return dir;
}

int nl_topo_find(const char *arg, char *path, size_t len) {
  if (strchr(arg, '/') || access(arg, R_OK) == 0) {
    snprintf(path, len, "%s", arg);
    return 0;
  }
  if (!name_valid(arg) && strlen(arg) > 40) {
    fprintf(stderr, "natlab: no topology '%s'\n", arg);
    return NL_ERR_USAGE;
  }
  snprintf(path, len, "%s/%s.topo", nl_topo_dir(), arg);
  if (access(path, R_OK) != 0) {
    fprintf(stderr,
            "natlab: no topology '%s' (not a file, not in %s; see "
            "'natlab list')\n",
            arg, nl_topo_dir());
    return NL_ERR_USAGE;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int nl_topo_list(void) {
  const char *dir = nl_topo_dir();
  DIR *d = opendir(dir);
  char *names[128];
  int n = 0;
  struct dirent *e;
  if (!d) {
    fprintf(stderr, "natlab: cannot read %s: %s\n", dir, strerror(errno));
    return NL_ERR_ENV;
  }
  while ((e = readdir(d)) && n < 128) {
    size_t l = strlen(e->d_name);
    if (l > 5 && strcmp(e->d_name + l - 5, ".topo") == 0)
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  for (int i = 0; i < n; i++) {
    static struct nl_topo t;
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (nl_topo_load(&t, path, NULL) == 0)
      printf("%-24s %s\n", t.name, t.description);
    free(names[i]);
  }
  return 0;
}
