/* natlab -- `up`: namespaces, links (veth or natbox), addresses, routes,
 * NAT rulesets, coturn. Each resource is recorded in the state file before
 * it is made; any failure or SIGINT/SIGTERM tears the whole lab down. */
#include "natlab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct up {
  const struct nl_topo *t;
  const char *prefix;
  char log[256];
  bool owned; /* the state directory is ours: tear down on failure */
};

#define CHECK(expr)                                                            \
  do {                                                                         \
    int r_ = (expr);                                                           \
    if (r_)                                                                    \
      return r_;                                                               \
    if (nl_interrupted)                                                        \
      return NL_ERR_INTR;                                                      \
  } while (0)

static void ns_name(const struct up *u, int node, char *buf, size_t len) {
  snprintf(buf, len, "%s-%s", u->prefix, u->t->nodes[node].name);
}

static void if_names(const struct up *u, int node, char *mine, char *peer) {
  snprintf(mine, 16, "%sa%d", u->prefix, node);
  snprintf(peer, 16, "%sb%d", u->prefix, node);
}

static int copy_file(const char *from, const char *to) {
  char buf[4096];
  size_t n;
  int r = 0;
  FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
  if (!in || !out) {
    fprintf(stderr, "natlab: cannot copy %s to %s: %s\n", from, to,
            strerror(errno));
    r = NL_ERR_ENV;
  }
  while (r == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n)
      r = NL_ERR_ENV;
  if (in)
    fclose(in);
  if (out && fclose(out) != 0)
    r = NL_ERR_ENV;
  return r;
}

static int make_state(struct up *u, const struct nl_params *params) {
  char dir[256], path[300];
  mkdir(nl_state_dir(), 0755);
  nl_state_path(u->prefix, NULL, dir, sizeof dir);
  if (mkdir(dir, 0755) < 0) {
    fprintf(stderr,
            errno == EEXIST
                ? "natlab: a lab with prefix %s is already up (natlab down "
                  "--prefix %s)\n"
                : "natlab: cannot create %s\n",
            errno == EEXIST ? u->prefix : dir, u->prefix);
    return errno == EEXIST ? NL_ERR_USAGE : NL_ERR_ENV;
  }
  u->owned = true;
  nl_state_path(u->prefix, "up.log", u->log, sizeof u->log);
  snprintf(path, sizeof path, "%s/topology.topo", dir);
  CHECK(copy_file(u->t->path, path));
  CHECK(nl_state_add(u->prefix, "topology", u->t->name));
  CHECK(nl_state_add(u->prefix, "source", u->t->path));
  for (int i = 0; params && i < params->n; i++) {
    char kv[80];
    snprintf(kv, sizeof kv, "%s=%s", params->name[i], params->value[i]);
    CHECK(nl_state_add(u->prefix, "set", kv));
  }
  return 0;
}

static int make_namespaces(struct up *u) {
  char ns[64];
  for (int i = 0; i < u->t->nnodes; i++) {
    ns_name(u, i, ns, sizeof ns);
    CHECK(nl_state_add(u->prefix, "ns", ns));
    CHECK(nl_runf(NULL, u->log, "ip", "netns", "add", ns, NULL));
    CHECK(
        nl_runf(NULL, u->log, "ip", "-n", ns, "link", "set", "lo", "up", NULL));
    if (u->t->nodes[i].kind != NL_HOST)
      CHECK(
          nl_runf(ns, u->log, "sysctl", "-qw", "net.ipv4.ip_forward=1", NULL));
    unsigned to = u->t->nodes[i].timeout;
    if (u->t->nodes[i].kind == NL_NAT && to) {
      char a[80], b[80];
      snprintf(a, sizeof a, "net.netfilter.nf_conntrack_udp_timeout=%u", to);
      snprintf(b, sizeof b, "net.netfilter.nf_conntrack_udp_timeout_stream=%u",
               to);
      CHECK(nl_runf(ns, u->log, "sysctl", "-qw", a, b, NULL));
    }
  }
  return 0;
}

static const char *natbox_path(void) {
  static char path[PATH_MAX];
  const char *env = getenv("NATLAB_NATBOX");
  if (env && *env)
    return env;
  if (NATLAB_NATBOX_BUILD[0] && access(NATLAB_NATBOX_BUILD, X_OK) == 0)
    return NATLAB_NATBOX_BUILD;
  snprintf(path, sizeof path, "natbox");
  return path;
}

/** Can a natbox program be found (NATLAB_NATBOX, the build tree, PATH)? */
bool nl_natbox_available(void) {
  const char *p = natbox_path();
  if (strchr(p, '/'))
    return access(p, X_OK) == 0;
  const char *path = getenv("PATH");
  char buf[PATH_MAX];
  while (path && *path) {
    size_t l = strcspn(path, ":");
    snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, p);
    if (access(buf, X_OK) == 0)
      return true;
    path += l + (path[l] == ':');
  }
  return false;
}

static void push(char **argv, int *n, const char *a) {
  if (*n < 78)
    argv[(*n)++] = strdup(a);
}

static void push_opt(char **argv, int *n, const char *k, const char *v) {
  char flag[40];
  snprintf(flag, sizeof flag, "--%s", k);
  if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
    return;
  push(argv, n, flag);
  if (strcmp(v, "on") != 0 && strcmp(v, "yes") != 0)
    push(argv, n, v);
}

/* natbox's NAT options for a natbox-engine NAT node. */
static void natbox_nat_args(const struct nl_node *n, char **argv, int *k) {
  char buf[40];
  push(argv, k, "--nat");
  push(argv, k, "box");
  nl_ip_str(n->public_ip, buf, sizeof buf);
  push_opt(argv, k, "public", buf);
  push_opt(argv, k, "mapping", nl_beh_name(n->mapping));
  push_opt(argv, k, "filtering", nl_beh_name(n->filtering));
  push_opt(argv, k, "alloc", nl_alloc_name(n->alloc));
  if (n->alloc == NL_ALLOC_SEQ) {
    snprintf(buf, sizeof buf, "%d", n->delta);
    push_opt(argv, k, "delta", buf);
  }
  if (n->port_max) {
    snprintf(buf, sizeof buf, "%u-%u", n->port_min, n->port_max);
    push_opt(argv, k, "port-range", buf);
  }
  if (n->port_block) {
    snprintf(buf, sizeof buf, "%u", n->port_block);
    push_opt(argv, k, "port-block", buf);
  }
  if (n->hairpin)
    push(argv, k, "--hairpin");
  if (n->timeout) {
    snprintf(buf, sizeof buf, "%u", n->timeout);
    push_opt(argv, k, "timeout", buf);
  }
  for (int i = 0; i < n->n_nat_opts; i++)
    push_opt(argv, k, n->nat_opts[i].key, n->nat_opts[i].val);
}

static int wait_ready(const char *file, int pid, const char *log) {
  double deadline = nl_now_ms() + 10000;
  char buf[16] = {0};
  while (nl_now_ms() < deadline) {
    FILE *f = fopen(file, "r");
    if (f) {
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = '\0';
      if (strncmp(buf, "ready", 5) == 0)
        return 0;
    }
    if (nl_interrupted)
      return NL_ERR_INTR;
    if (!nl_pid_alive(pid, NULL)) {
      fprintf(stderr, "natlab: natbox exited during start; see %s\n", log);
      return NL_ERR_ENV;
    }
    usleep(20000); /* bounded polling for readiness */
  }
  fprintf(stderr, "natlab: natbox not ready after 10 s; see %s\n", log);
  return NL_ERR_ENV;
}

/* The uplink of @p i as a natbox process (userspace NAT and/or impairment).
 * natbox creates both TUN devices and writes "ready". */
static int natbox_link(struct up *u, int i, const char *ns, const char *pns,
                       const char *mine, const char *peer) {
  const struct nl_node *n = &u->t->nodes[i];
  char *argv[80], buf[320], ready[300], log[300], role[80];
  int k = 0, pid = 0, r;
  nl_state_path(u->prefix, "natbox-", ready, sizeof ready);
  snprintf(ready + strlen(ready), 64, "%s.ready", n->name);
  nl_state_path(u->prefix, "natbox-", log, sizeof log);
  snprintf(log + strlen(log), 64, "%s.log", n->name);
  push(argv, &k, natbox_path());
  snprintf(buf, sizeof buf, "%s:%s", ns, mine);
  push_opt(argv, &k, "lan", buf);
  snprintf(buf, sizeof buf, "%s:%s", pns, peer);
  push_opt(argv, &k, "wan", buf);
  if (nl_node_natbox_nat(n))
    natbox_nat_args(n, argv, &k);
  else
    push_opt(argv, &k, "nat", "none");
  for (int j = 0; j < n->n_link_opts; j++)
    push_opt(argv, &k, n->link_opts[j].key, n->link_opts[j].val);
  nl_state_path(u->prefix, "natbox-", buf, sizeof buf);
  snprintf(buf + strlen(buf), 64, "%s.stats", n->name);
  push_opt(argv, &k, "stats", buf);
  push_opt(argv, &k, "ready-file", ready);
  argv[k] = NULL;
  r = nl_spawn_daemon(NULL, argv, log, &pid);
  for (int j = 0; j < k; j++)
    free(argv[j]);
  if (r)
    return r;
  snprintf(role, sizeof role, "natbox %d", pid);
  CHECK(nl_state_add(u->prefix, "pid", role));
  return wait_ready(ready, pid, log);
}

static int address_link(struct up *u, const char *ns, const char *dev,
                        uint32_t a, uint32_t b) {
  char sa[20], sb[20];
  nl_ip_str(a, sa, sizeof sa);
  nl_ip_str(b, sb, sizeof sb);
  CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "addr", "add", sa, "peer", sb,
                "dev", dev, NULL));
  CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "link", "set", dev, "up", NULL));
  return 0;
}

static int make_links(struct up *u) {
  char ns[64], pns[64], mine[16], peer[16], gw[20];
  for (int i = 1; i < u->t->nnodes; i++) {
    const struct nl_node *n = &u->t->nodes[i];
    ns_name(u, i, ns, sizeof ns);
    ns_name(u, n->parent, pns, sizeof pns);
    if_names(u, i, mine, peer);
    if (nl_node_has_natbox(n))
      CHECK(natbox_link(u, i, ns, pns, mine, peer));
    else
      CHECK(nl_runf(NULL, u->log, "ip", "link", "add", mine, "netns", ns,
                    "type", "veth", "peer", "name", peer, "netns", pns, NULL));
    CHECK(address_link(u, pns, peer, n->up_peer, n->up_addr));
    if (nl_node_natbox_nat(n)) {
      /* natbox owns the public address: were it local to the router's
       * namespace, packets from the LAN to it (hairpinning) would end
       * there instead of reaching natbox, and hairpinned packets from it
       * would be martians. The TUN link needs no address to route. */
      CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "link", "set", mine, "up",
                    NULL));
      CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "route", "add", "default",
                    "dev", mine, NULL));
      continue;
    }
    CHECK(address_link(u, ns, mine, n->up_addr, n->up_peer));
    nl_ip_str(n->up_peer, gw, sizeof gw);
    CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "route", "add", "default",
                  "via", gw, "dev", mine, NULL));
  }
  return 0;
}

static int make_nats(struct up *u) {
  char ns[64], path[300];
  for (int i = 1; i < u->t->nnodes; i++) {
    const struct nl_node *n = &u->t->nodes[i];
    char *rules = NULL;
    if (n->kind != NL_NAT || n->engine != NL_ENGINE_KERNEL)
      continue;
    ns_name(u, i, ns, sizeof ns);
    nl_state_path(u->prefix, n->name, path, sizeof path);
    snprintf(path + strlen(path), 8, ".nft");
    CHECK(nl_nft_ruleset(u->t, i, u->prefix, &rules));
    FILE *f = fopen(path, "w");
    int ok = f && fputs(rules, f) >= 0;
    if (f && fclose(f) != 0)
      ok = 0;
    free(rules);
    if (!ok) {
      fprintf(stderr, "natlab: cannot write %s\n", path);
      return NL_ERR_ENV;
    }
    /* A failing `nft -f` keeps the old ruleset: its status is checked. */
    CHECK(nl_runf(ns, u->log, "nft", "-f", path, NULL));
  }
  return 0;
}

static int start_coturn(struct up *u) {
  char ns[64], log[300], pidf[300], role[64];
  int pid = 0;
  ns_name(u, 0, ns, sizeof ns);
  CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "addr", "add", NL_STUN_IP1 "/32",
                "dev", "lo", NULL));
  CHECK(nl_runf(NULL, u->log, "ip", "-n", ns, "addr", "add", NL_STUN_IP2 "/32",
                "dev", "lo", NULL));
  nl_state_path(u->prefix, "turnserver.log", log, sizeof log);
  nl_state_path(u->prefix, "turnserver.pid", pidf, sizeof pidf);
  char *argv[] = {"turnserver",
                  "-n",
                  "--stun-only",
                  "--no-tls",
                  "--no-dtls",
                  "--no-tcp",
                  "--no-cli",
                  "--no-auth",
                  "--listening-ip",
                  NL_STUN_IP1,
                  "--listening-ip",
                  NL_STUN_IP2,
                  "--listening-port",
                  "3478",
                  "--alt-listening-port",
                  "3479",
                  "--log-file",
                  log,
                  "--simple-log",
                  "--no-stdout-log",
                  "--pidfile",
                  pidf,
                  "-m",
                  "1",
                  NULL};
  CHECK(nl_spawn_daemon(ns, argv, log, &pid));
  snprintf(role, sizeof role, "turnserver %d", pid);
  CHECK(nl_state_add(u->prefix, "pid", role));
  if (nl_stun_ping(ns, NL_STUN_IP1, 3478, 5000) ||
      nl_stun_ping(ns, NL_STUN_IP2, 3479, 5000)) {
    if (nl_interrupted)
      return NL_ERR_INTR;
    fprintf(stderr, "natlab: coturn did not answer within 5 s; see %s\n", log);
    return NL_ERR_ENV;
  }
  return 0;
}

static void print_summary(const struct up *u) {
  char ns[64], a[20];
  printf("lab %s up: topology %s\n", u->prefix, u->t->name);
  ns_name(u, 0, ns, sizeof ns);
  printf("  %-12s %-18s %s\n", "wan", ns,
         "stun " NL_STUN_IP1 ":3478, " NL_STUN_IP2 ":3479");
  for (int i = 1; i < u->t->nnodes; i++) {
    const struct nl_node *n = &u->t->nodes[i];
    ns_name(u, i, ns, sizeof ns);
    nl_ip_str(n->up_addr, a, sizeof a);
    char pm[32];
    printf("  %-12s %-18s %s%s%s%s\n", n->name, ns, a,
           n->kind == NL_NAT ? " (nat)" : "", n->portmap ? " portmap " : "",
           n->portmap ? nl_portmap_names(n->portmap, pm, sizeof pm) : "");
  }
  printf("try: natlab exec --prefix %s %s -- stun " NL_STUN_IP1 "\n", u->prefix,
         u->t->nodes[u->t->nnodes - 1].name);
}

/* miniupnpd on the NATs with portmap=; after coturn, which its STUN test
 * needs. */
static int start_portmaps(struct up *u) {
  for (int i = 1; i < u->t->nnodes; i++)
    if (u->t->nodes[i].kind == NL_NAT && u->t->nodes[i].portmap)
      CHECK(nl_portmap_start(u->t, i, u->prefix, u->log));
  return 0;
}

static int build(struct up *u, const struct nl_params *params) {
  int r = make_state(u, params);
  if (r)
    return r;
  CHECK(make_namespaces(u));
  CHECK(make_links(u));
  CHECK(make_nats(u));
  CHECK(start_coturn(u));
  return start_portmaps(u);
}

/** Build the lab. On any failure or interruption everything made is torn
 * down. 0, NL_ERR_USAGE (prefix in use), NL_ERR_ENV, NL_ERR_INTR. */
int nl_lab_up(const struct nl_topo *t, const char *prefix,
              const struct nl_params *params, bool quiet) {
  struct up u = {t, prefix, {0}, false};
  int r = build(&u, params);
  if (r == 0 && nl_interrupted)
    r = NL_ERR_INTR;
  if (r == 0) {
    if (!quiet)
      print_summary(&u);
    return 0;
  }
  if (u.owned)
    nl_lab_down(prefix, true);
  if (r == NL_ERR_INTR)
    fprintf(stderr, "natlab: interrupted; lab %s torn down\n", prefix);
  return r;
}
