/* natlab -- nftables rulesets for the kernel NAT engine.
 *
 * Recipes, each measured in a lab with nftables 1.0.6:
 *   EI mapping, APD filtering, preserve     masquerade
 *   APD mapping, random                     masquerade random
 *   EI mapping, random in range             snat to PUB:LO-HI
 *   APD mapping, random in range            snat to PUB:LO-HI random
 *   APD mapping, sequential (+delta)        snat to PUB : numgen inc map
 *   EI filtering (full cone)                learned map port -> inside
 *   AD filtering (restricted cone)          learned map port.remote-ip
 *   hairpinning                             the learned map on LAN ingress
 *                                           plus an inside->inside snat
 *   input=drop                              new flows to the NAT itself on
 *                                           its uplink dropped (a router's
 *                                           firewall): no conntrack entry
 *                                           holds the tuple an unsolicited
 *                                           packet named (LAB-NOTES) */
#include "natlab.h"

#include <stdio.h>
#include <stdlib.h>

struct ctx {
  FILE *f;
  char wan[16]; /* uplink interface */
  char pub[16]; /* public address */
  const struct nl_node *n;
  bool fc; /* learned full-cone map (EI filtering, or hairpin) */
  bool rc; /* learned restricted-cone map */
};

static void maps(struct ctx *c) {
  unsigned to = c->n->timeout ? c->n->timeout : 120;
  if (c->fc)
    fprintf(c->f,
            "  map fc {\n    type inet_service : ipv4_addr . inet_service;\n"
            "    flags dynamic,timeout; timeout %us;\n  }\n",
            to);
  if (c->rc)
    fprintf(c->f,
            "  map rc {\n    type inet_service . ipv4_addr : ipv4_addr . "
            "inet_service;\n    flags dynamic,timeout; timeout %us;\n  }\n",
            to);
}

static void prerouting(struct ctx *c) {
  fprintf(c->f, "  chain pre {\n    type nat hook prerouting priority dstnat;"
                " policy accept;\n");
  if (c->n->filtering == NAT_BEH_EI)
    fprintf(c->f,
            "    iifname \"%s\" meta l4proto udp dnat ip addr . port to "
            "udp dport map @fc\n",
            c->wan);
  if (c->rc)
    fprintf(c->f,
            "    iifname \"%s\" meta l4proto udp dnat ip addr . port to "
            "udp dport . ip saddr map @rc\n",
            c->wan);
  if (c->n->hairpin)
    fprintf(c->f,
            "    iifname != \"%s\" ip daddr %s meta l4proto udp dnat ip "
            "addr . port to udp dport map @fc\n",
            c->wan, c->pub);
  fprintf(c->f, "  }\n");
}

static void translation(struct ctx *c) {
  const struct nl_node *n = c->n;
  const char *w = c->wan;
  /* The router's own packets (miniupnpd's STUN test) already carry the
   * public address: `masquerade random` or a `snat` range would move their
   * ports and make conntrack filter the answers from STUN's other address,
   * so miniupnpd would see filtering upstream and forward no port. */
  fprintf(c->f, "    oifname \"%s\" ip saddr %s accept\n", w, c->pub);
  if (n->alloc == NL_ALLOC_PRESERVE) {
    fprintf(c->f, "    oifname \"%s\" masquerade\n", w);
  } else if (n->alloc == NL_ALLOC_RANDOM && n->port_max == 0) {
    fprintf(c->f, "    oifname \"%s\" masquerade random\n", w);
  } else if (n->alloc == NL_ALLOC_RANDOM) {
    fprintf(c->f,
            "    oifname \"%s\" meta l4proto { tcp, udp } snat ip to "
            "%s:%u-%u%s\n",
            w, c->pub, n->port_min, n->port_max,
            n->mapping == NAT_BEH_APD ? " random" : "");
  } else {
    unsigned step = (unsigned)n->delta;
    unsigned cnt = (n->port_max - n->port_min) / step + 1;
    fprintf(c->f,
            "    oifname \"%s\" meta l4proto udp snat ip to %s : numgen "
            "inc mod %u map {",
            w, c->pub, cnt);
    for (unsigned i = 0; i < cnt; i++)
      fprintf(c->f, "%s%s%u : %u", i ? "," : " ", i % 8 == 7 ? "\n      " : "",
              i, n->port_min + i * step);
    fprintf(c->f, " }\n");
  }
  if (n->alloc != NL_ALLOC_PRESERVE)
    fprintf(c->f, "    oifname \"%s\" masquerade\n", w);
}

static void postrouting(struct ctx *c) {
  fprintf(c->f, "  chain post {\n    type nat hook postrouting priority "
                "srcnat; policy accept;\n");
  if (c->n->hairpin)
    fprintf(c->f,
            "    iifname != \"%s\" oifname != \"%s\" ct status dnat snat ip "
            "to %s\n",
            c->wan, c->wan, c->pub);
  translation(c);
  fprintf(c->f, "  }\n");
  if (!c->fc && !c->rc)
    return;
  fprintf(c->f, "  chain learn {\n    type filter hook postrouting priority "
                "srcnat + 10; policy accept;\n");
  if (c->fc)
    fprintf(c->f,
            "    oifname \"%s\" meta l4proto udp update @fc { udp sport : "
            "ct original ip saddr . ct original proto-src }\n",
            c->wan);
  if (c->rc)
    fprintf(c->f,
            "    oifname \"%s\" meta l4proto udp update @rc { udp sport . "
            "ip daddr : ct original ip saddr . ct original proto-src }\n",
            c->wan);
  fprintf(c->f, "  }\n");
}

/* The NAT's own input: input=drop, and the version byte miniupnpd cannot be
 * told to ignore. miniupnpd serves NAT-PMP and PCP on one socket (UDP 5351,
 * enable_natpmp); a gateway that speaks one of them only drops requests of
 * the other (the first payload byte is the version: 0 NAT-PMP, 2 PCP). */
static void input(struct ctx *c) {
  unsigned pm = c->n->portmap & (NL_PORTMAP_NATPMP | NL_PORTMAP_PCP);
  const char *drop = pm == NL_PORTMAP_PCP      ? "0"
                     : pm == NL_PORTMAP_NATPMP ? "!= 0"
                                               : NULL;
  if (!c->n->input_drop && !drop)
    return;
  fprintf(c->f, "  chain input {\n    type filter hook input priority filter; "
                "policy accept;\n");
  if (c->n->input_drop)
    fprintf(c->f, "    iifname \"%s\" ct state new drop\n", c->wan);
  if (drop)
    fprintf(c->f,
            "    iifname != \"%s\" udp dport 5351 @th,64,8 %s drop comment "
            "\"only %s\"\n",
            c->wan, drop, pm == NL_PORTMAP_PCP ? "PCP" : "NAT-PMP");
  fprintf(c->f, "  }\n");
}

/** The table miniupnpd (nftables backend) fills at run time, as its
 * /etc/miniupnpd/nft_init.sh makes it, but named `miniupnpd` (its config
 * says upnp_table_name=miniupnpd) and with an accepting forward chain: the
 * NAT's filtering comes from conntrack, not from a forward policy. */
int nl_nft_portmap(const struct nl_node *n, FILE *f) {
  (void)n;
  return fprintf(f,
                 "# miniupnpd (portmap): it adds its rules to the *_miniupnpd "
                 "chains\n"
                 "table inet miniupnpd {\n"
                 "  chain forward {\n    type filter hook forward priority "
                 "filter; policy accept;\n    jump miniupnpd\n  }\n"
                 "  chain miniupnpd {\n  }\n"
                 "  chain prerouting {\n    type nat hook prerouting priority "
                 "dstnat; policy accept;\n    jump prerouting_miniupnpd\n  }\n"
                 "  chain postrouting {\n    type nat hook postrouting "
                 "priority srcnat; policy accept;\n    jump "
                 "postrouting_miniupnpd\n  }\n"
                 "  chain prerouting_miniupnpd {\n  }\n"
                 "  chain postrouting_miniupnpd {\n  }\n}\n") < 0
             ? NL_ERR_ENV
             : 0;
}

/** The nftables ruleset (for `nft -f`) of kernel NAT node @p node; the
 * caller frees *out. 0, or NL_ERR_ENV when memory runs out. */
int nl_nft_ruleset(const struct nl_topo *t, int node, const char *prefix,
                   char **out) {
  size_t len;
  struct ctx c = {0};
  c.n = &t->nodes[node];
  snprintf(c.wan, sizeof c.wan, "%sa%d", prefix, c.n->index);
  nl_ip_str(c.n->public_ip, c.pub, sizeof c.pub);
  c.fc = c.n->filtering == NAT_BEH_EI || c.n->hairpin;
  c.rc = c.n->filtering == NAT_BEH_AD;
  *out = NULL;
  c.f = open_memstream(out, &len);
  if (!c.f)
    return NL_ERR_ENV;
  fprintf(c.f,
          "# natlab: node %s of %s (mapping=%s filtering=%s alloc=%s "
          "hairpin=%s)\nflush ruleset\ntable ip natlab {\n",
          c.n->name, t->name, nl_beh_name(c.n->mapping),
          nl_beh_name(c.n->filtering), nl_alloc_name(c.n->alloc),
          c.n->hairpin ? "on" : "off");
  maps(&c);
  prerouting(&c);
  postrouting(&c);
  input(&c);
  fprintf(c.f, "}\n");
  if (c.n->portmap)
    nl_nft_portmap(c.n, c.f);
  if (fclose(c.f) != 0 || !*out) {
    free(*out);
    *out = NULL;
    return NL_ERR_ENV;
  }
  return 0;
}
