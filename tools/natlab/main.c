/* natlab -- NAT labs in network namespaces: command line. */
#include "natlab.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nat/common.h"

static const char usage_text[] =
    "usage: natlab up [TOPOLOGY] [--prefix P] [--set NAME=VALUE]... [-q]\n"
    "       natlab down [--prefix P | --all]\n"
    "       natlab exec [--prefix P] NODE -- CMD [ARG]...\n"
    "       natlab status [--prefix P]\n"
    "       natlab list\n"
    "       natlab show [TOPOLOGY] [--set NAME=VALUE]...\n"
    "       natlab run reference|netcheck [--json FILE] [--md FILE] [--jobs "
    "N]\n"
    "                  [--only TOPO]...\n"
    "       natlab run punch [--kinds K,K...] [--json FILE] [--md FILE] "
    "[--jobs N]\n"
    "       natlab run birthday [--pairs P,P... | --topology T [--set "
    "NAME=VALUE]...]\n"
    "                  [--trials N] [--timeout S] [--sockets K] [--probes M]\n"
    "                  [--tool punch|birthday] [--json FILE] [--md FILE] "
    "[--jobs N]\n"
    "TOPOLOGY is a file or a shipped topology name (natlab list); the\n"
    "default is " NL_DEFAULT_TOPO ". Prefix: [a-z0-9]{1,6}.\n"
    "Exit: 0 ok, 1 experiment failed, 2 usage error, 3 environment error.\n";

static int usage(const char *fmt, const char *arg) {
  if (fmt) {
    fprintf(stderr, "natlab: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
  }
  fputs(usage_text, stderr);
  return NL_EXIT_USAGE;
}

static int exit_code(int r) {
  switch (r) {
  case 0:
    return NL_EXIT_OK;
  case NL_ERR_USAGE:
    return NL_EXIT_USAGE;
  default:
    return NL_EXIT_ENV;
  }
}

static int need_root(void) {
  if (geteuid() == 0)
    return 0;
  fprintf(stderr, "natlab: needs root (network namespaces and nftables)\n");
  return NL_EXIT_ENV;
}

struct opts {
  const char *prefix;
  const char *topo;
  bool all, quiet;
  struct nl_params params;
};

static int add_set(struct opts *o, const char *kv) {
  return nl_params_add(&o->params, kv) ? usage(NULL, NULL) : 0;
}

/* Options shared by up/down/status/show; positional: at most one. */
static int parse_opts(int argc, char **argv, struct opts *o) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "--prefix") == 0 || strcmp(a, "--set") == 0) &&
        i + 1 >= argc)
      return usage("%s needs a value", a);
    if (strcmp(a, "--prefix") == 0) {
      o->prefix = argv[++i];
      if (!nl_prefix_valid(o->prefix))
        return usage("bad prefix '%s' (want [a-z0-9]{1,6})", o->prefix);
    } else if (strcmp(a, "--set") == 0) {
      if (add_set(o, argv[++i]))
        return NL_EXIT_USAGE;
    } else if (strcmp(a, "--all") == 0) {
      o->all = true;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o->quiet = true;
    } else if (a[0] == '-') {
      return usage("unknown option '%s'", a);
    } else if (o->topo) {
      return usage("unexpected argument '%s'", a);
    } else {
      o->topo = a;
    }
  }
  return 0;
}

static int load(struct opts *o, struct nl_topo *t) {
  char path[PATH_MAX];
  int r = nl_topo_find(o->topo ? o->topo : NL_DEFAULT_TOPO, path, sizeof path);
  if (r == 0)
    r = nl_topo_load(t, path, &o->params);
  return r;
}

static int cmd_up(int argc, char **argv) {
  static struct nl_topo t;
  struct opts o = {0};
  char prefix[NL_PREFIX_MAX];
  int r = parse_opts(argc, argv, &o);
  if (r || (r = exit_code(load(&o, &t))) || (r = need_root()))
    return r;
  if (o.prefix)
    snprintf(prefix, sizeof prefix, "%s", o.prefix);
  else
    nl_prefix_default(prefix, sizeof prefix);
  nl_signals_install();
  return exit_code(nl_lab_up(&t, prefix, &o.params, o.quiet));
}

static int cmd_down(int argc, char **argv) {
  struct opts o = {0};
  char prefix[NL_PREFIX_MAX];
  int r = parse_opts(argc, argv, &o);
  if (r)
    return r;
  if (o.topo)
    return usage("down takes no topology (got '%s')", o.topo);
  if (o.all && o.prefix)
    return usage("%s", "--all and --prefix exclude each other");
  if ((r = need_root()))
    return r;
  if (o.all)
    return exit_code(nl_lab_down_all());
  if (o.prefix)
    snprintf(prefix, sizeof prefix, "%s", o.prefix);
  else if ((r = nl_state_single(prefix, sizeof prefix)))
    return exit_code(r);
  return exit_code(nl_lab_down(prefix, false));
}

static int cmd_status(int argc, char **argv) {
  struct opts o = {0};
  int r = parse_opts(argc, argv, &o);
  if (r)
    return r;
  if (o.topo || o.all)
    return usage("%s", "status takes only --prefix");
  return exit_code(nl_lab_status(o.prefix));
}

static int cmd_exec(int argc, char **argv) {
  const char *prefix_arg = NULL, *node = NULL;
  char prefix[NL_PREFIX_MAX], ns[64];
  int i, r;
  for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
      prefix_arg = argv[++i];
    else if (argv[i][0] == '-')
      return usage("unknown exec option '%s'", argv[i]);
    else if (node)
      return usage("exec: unexpected '%s' (put the command after --)", argv[i]);
    else
      node = argv[i];
  }
  if (!node || i + 1 >= argc)
    return usage("%s", "exec needs NODE -- CMD");
  if (prefix_arg && !nl_prefix_valid(prefix_arg))
    return usage("bad prefix '%s' (want [a-z0-9]{1,6})", prefix_arg);
  if ((r = need_root()))
    return r;
  if (prefix_arg)
    snprintf(prefix, sizeof prefix, "%s", prefix_arg);
  else if ((r = nl_state_single(prefix, sizeof prefix)))
    return exit_code(r);
  snprintf(ns, sizeof ns, "%s-%s", prefix, node);
  if (!nl_netns_exists(ns)) {
    fprintf(stderr, "natlab: lab %s has no node '%s' (namespace %s)\n", prefix,
            node, ns);
    return NL_EXIT_USAGE;
  }
  return nl_exec_in(ns, argv + i + 1);
}

static void show_node(const struct nl_topo *t, int i) {
  const struct nl_node *n = &t->nodes[i];
  char a[20], b[20];
  nl_ip_str(n->up_addr, a, sizeof a);
  nl_ip_str(n->up_peer, b, sizeof b);
  printf("%-5s %-12s behind %-12s addr %-15s gw %-15s",
         n->kind == NL_NAT ? "nat" : "host", n->name, t->nodes[n->parent].name,
         a, b);
  if (n->kind == NL_NAT)
    printf(" %s mapping=%s filtering=%s alloc=%s hairpin=%s",
           n->engine == NL_ENGINE_KERNEL ? "kernel" : "natbox",
           nl_beh_name(n->mapping), nl_beh_name(n->filtering),
           nl_alloc_name(n->alloc), n->hairpin ? "on" : "off");
  if (n->kind == NL_NAT && n->port_max)
    printf(" range=%u-%u", n->port_min, n->port_max);
  if (n->kind == NL_NAT && n->input_drop)
    printf(" input=drop");
  if (n->kind == NL_NAT && n->port_block)
    printf(" port-block=%u", n->port_block);
  if (n->kind == NL_NAT && n->timeout)
    printf(" timeout=%u", n->timeout);
  if (n->kind == NL_NAT && n->portmap) {
    char pm[32];
    printf(" portmap=%s%s", nl_portmap_names(n->portmap, pm, sizeof pm),
           n->portmap_stun ? "" : " portmap-stun=off");
  }
  if (n->kind == NL_HOST) {
    struct nl_expect e;
    nl_topo_effective(t, i, &e);
    printf(" expect mapping=%s filtering=%s alloc=%s hairpin=%s",
           nl_beh_name(e.mapping), nl_beh_name(e.filtering),
           nl_alloc_name(e.alloc),
           e.hairpin < 0 ? "any" : (e.hairpin ? "on" : "off"));
    if (e.delta > 0)
      printf(" delta=%d", e.delta);
  }
  if (n->n_link_opts)
    printf(" link:");
  for (int k = 0; k < n->n_link_opts; k++)
    printf(" %s=%s", n->link_opts[k].key, n->link_opts[k].val);
  putchar('\n');
}

/* Parse a topology and print its layout and rulesets (no root needed). */
static int cmd_show(int argc, char **argv) {
  static struct nl_topo t;
  struct opts o = {0};
  int r = parse_opts(argc, argv, &o);
  if (r || (r = exit_code(load(&o, &t))))
    return r;
  printf("topology %s: %s\n", t.name, t.description);
  for (int i = 1; i < t.nnodes; i++)
    show_node(&t, i);
  for (int i = 1; i < t.nnodes; i++) {
    char *rules = NULL;
    if (t.nodes[i].kind != NL_NAT || t.nodes[i].engine != NL_ENGINE_KERNEL)
      continue;
    if (nl_nft_ruleset(&t, i, o.prefix ? o.prefix : "P", &rules) == 0)
      fputs(rules, stdout);
    free(rules);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage(NULL, NULL);
  const char *cmd = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(cmd, "up") == 0)
    return cmd_up(argc - 2, argv + 2);
  if (strcmp(cmd, "down") == 0)
    return cmd_down(argc - 2, argv + 2);
  if (strcmp(cmd, "exec") == 0)
    return cmd_exec(argc - 2, argv + 2);
  if (strcmp(cmd, "status") == 0)
    return cmd_status(argc - 2, argv + 2);
  if (strcmp(cmd, "show") == 0)
    return cmd_show(argc - 2, argv + 2);
  if (strcmp(cmd, "list") == 0)
    return argc == 2 ? exit_code(nl_topo_list())
                     : usage("%s", "list takes "
                                   "no arguments");
  if (strcmp(cmd, "run") == 0) {
    int r = need_root();
    return r ? r : nl_run_experiment(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("natlab (libnat %s)\n", nat_version_string());
    return 0;
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  return usage("unknown command '%s'", cmd);
}
