/* natlab -- port-mapping services on a kernel NAT: miniupnpd (Debian's
 * miniupnpd-nftables 2.3.1) inside the NAT router's namespace, serving
 * UPnP IGD, NAT-PMP and PCP to the NAT's LAN.
 *
 * What miniupnpd needs, and what natlab gives it:
 *   - its nftables chains: the `miniupnpd` table of the NAT's ruleset
 *     (nft.c, nl_nft_portmap()), named in the config;
 *   - a public external address: miniupnpd 2.3.1 refuses to forward ports
 *     when the address of ext_ifname is private or reserved, and every
 *     documentation range (198.51.100.0/24 included) is reserved to it.
 *     The config says ext_perform_stun=yes with the lab's coturn as the
 *     STUN server: miniupnpd learns its address by STUN and, when its
 *     CHANGE-REQUEST test sees no filtering upstream, enables forwarding
 *     (what a real router behind a 1:1 NAT does);
 *   - the LAN: listening_ip=LAN/24 (not the interface name: the LAN links
 *     are point-to-point, so the interface's own mask is /32 and miniupnpd
 *     would call every client "not from a LAN").
 * It runs in the foreground (-d), so the pid natlab records is the daemon;
 * its log (debug level) is NODE-miniupnpd.log in the lab's state
 * directory, beside its config and lease file.
 *
 * Which protocols answer: enable_upnp follows portmap's upnp; NAT-PMP and
 * PCP share one switch (enable_natpmp) and one socket, so a NAT with only
 * one of them drops the other's requests by version byte in its input
 * chain (nft.c). A NAT's own packets are not translated (nft.c), else
 * `masquerade random` would move the ports of the STUN test below and
 * conntrack would filter the answers from the server's other address.
 *
 * Behind another NAT (cgn-upnp, measured with 2.3.1): the STUN test sends
 * four Binding requests (none, change port, change IP, change both),
 * waits 3 s three times, gets 1 answer of 4 and logs "behind restrictive or
 * symmetric NAT ... which does not support port forwarding": forwarding is
 * disabled (`natlab up` takes 9 s more and says so). It still answers:
 *   - UPnP: GetExternalIPAddress = the STUN address (the CGN's public
 *     198.51.100.2), status Connected; AddPortMapping: error 501;
 *   - NAT-PMP: public address = the STUN address, result 0; a mapping
 *     request: result 3 (Network Failure);
 *   - PCP: ANNOUNCE result 0; MAP result 8 (NO_RESOURCES), lifetime 30,
 *     external address = the STUN address.
 * So the address a gateway reports is the public one: a double-NAT
 * detector cannot compare it with STUN's; the refusals and the hops are
 * the evidence. With portmap-stun=off (ext_perform_stun=no) it knows only
 * its WAN address 100.64.1.2, which it calls reserved ("Port forwarding is
 * impossible"): PCP MAP result 8 with external address 100.64.1.2, NAT-PMP
 * address request result 3 with 0.0.0.0, UPnP GetExternalIPAddress empty,
 * AddPortMapping 501 (lab.natlab.portmap_kinds checks all of it). */
#include "natlab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** "upnp,natpmp,pcp" for the bits of @p portmap ("none" for 0). */
const char *nl_portmap_names(unsigned portmap, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s%s", portmap & NL_PORTMAP_UPNP ? "upnp," : "",
           portmap & NL_PORTMAP_NATPMP ? "natpmp," : "",
           portmap & NL_PORTMAP_PCP ? "pcp," : "", portmap ? "" : "none");
  size_t l = strlen(buf);
  if (l && buf[l - 1] == ',')
    buf[l - 1] = '\0';
  return buf;
}

static void node_file(const char *prefix, const struct nl_node *n,
                      const char *suffix, char *buf, size_t len) {
  char name[64];
  snprintf(name, sizeof name, "%s-miniupnpd.%s", n->name, suffix);
  nl_state_path(prefix, name, buf, len);
}

static int write_config(const char *path, const char *prefix, int node,
                        const struct nl_node *n, const char *leases) {
  char lan[20], self[20];
  unsigned h = 2166136261u;
  bool pmp = (n->portmap & (NL_PORTMAP_NATPMP | NL_PORTMAP_PCP)) != 0;
  for (const char *s = prefix; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  nl_ip_str(n->lan_addr & 0xffffff00u, lan, sizeof lan);
  nl_ip_str(n->lan_addr, self, sizeof self);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "natlab: cannot write %s\n", path);
    return NL_ERR_ENV;
  }
  fprintf(f,
          "# natlab: miniupnpd of NAT %s (portmap)\n"
          "ext_ifname=%sa%d\n"
          "listening_ip=%s/24\n"
          "ext_perform_stun=%s\next_stun_host=" NL_STUN_IP1 "\n"
          "ext_stun_port=3478\n"
          "enable_upnp=%s\nenable_natpmp=%s\n"
          "http_port=0\nipv6_disable=yes\nsecure_mode=yes\n"
          "system_uptime=no\nnotify_interval=60\n"
          "clean_ruleset_interval=600\n"
          "lease_file=%s\n"
          "upnp_table_name=miniupnpd\nupnp_nat_table_name=miniupnpd\n"
          "uuid=4e41544c-4142-4000-8000-%08x%04x\n"
          "allow 1024-65535 %s/24 1024-65535\n"
          "deny 0-65535 0.0.0.0/0 0-65535\n",
          n->name, prefix, n->index, self, n->portmap_stun ? "yes" : "no",
          n->portmap & NL_PORTMAP_UPNP ? "yes" : "no", pmp ? "yes" : "no",
          leases, h, (unsigned)node & 0xffffu, lan);
  return fclose(f) == 0 ? 0 : NL_ERR_ENV;
}

/* The last lines of @p log on stderr (the state directory goes away with a
 * failed lab). */
static void print_tail(const char *log) {
  char lines[8][256];
  int n = 0;
  FILE *f = fopen(log, "r");
  while (f && fgets(lines[n % 8], sizeof lines[0], f))
    n++;
  if (f)
    fclose(f);
  for (int i = n > 8 ? n - 8 : 0; i < n; i++)
    fprintf(stderr, "  %s", lines[i % 8]);
}

/* Bounded polling of miniupnpd's log until it says its last socket is
 * open (the NAT-PMP/PCP one, else the HTTP one). */
static int wait_listening(const char *log, int pid, bool pmp,
                          const char *node) {
  const char *ready =
      pmp ? "Listening for NAT-PMP/PCP traffic" : "HTTP listening on port";
  double deadline = nl_now_ms() + 10000;
  while (nl_now_ms() < deadline) {
    char *text = NULL;
    size_t cap = 0;
    FILE *f = fopen(log, "r");
    ssize_t n = f ? getdelim(&text, &cap, '\0', f) : -1;
    if (f)
      fclose(f);
    bool up = n > 0 && strstr(text, ready);
    bool off = n > 0 && (strstr(text, "Port forwarding is now disabled") ||
                         strstr(text, "Port forwarding is impossible"));
    free(text);
    if (up) {
      if (off)
        fprintf(stderr,
                "natlab: miniupnpd on %s runs but forwards no port (its STUN "
                "test saw filtering upstream); see %s\n",
                node, log);
      return 0;
    }
    if (nl_interrupted)
      return NL_ERR_INTR;
    if (!nl_pid_alive(pid, NULL)) {
      fprintf(stderr, "natlab: miniupnpd on %s exited; its log:\n", node);
      print_tail(log);
      return NL_ERR_ENV;
    }
    usleep(20000); /* bounded polling for readiness */
  }
  fprintf(stderr, "natlab: miniupnpd on %s not listening after 10 s; see %s\n",
          node, log);
  return NL_ERR_ENV;
}

/** Start miniupnpd on kernel NAT @p node of lab @p prefix (its nftables
 * table is already loaded, coturn already answers). The pid is recorded
 * in the lab state as "pid miniupnpd PID". 0, NL_ERR_ENV, NL_ERR_INTR. */
int nl_portmap_start(const struct nl_topo *t, int node, const char *prefix,
                     const char *log) {
  const struct nl_node *n = &t->nodes[node];
  char conf[300], dlog[300], leases[300], pidf[300], ns[64], role[64];
  int pid = 0, r;
  (void)log;
  node_file(prefix, n, "conf", conf, sizeof conf);
  node_file(prefix, n, "log", dlog, sizeof dlog);
  node_file(prefix, n, "leases", leases, sizeof leases);
  node_file(prefix, n, "pid", pidf, sizeof pidf);
  snprintf(ns, sizeof ns, "%s-%s", prefix, n->name);
  if ((r = write_config(conf, prefix, node, n, leases)))
    return r;
  char *argv[] = {"miniupnpd", "-d", "-f", conf, "-P", pidf, NULL};
  if ((r = nl_spawn_daemon(ns, argv, dlog, &pid)))
    return r;
  snprintf(role, sizeof role, "miniupnpd %d", pid);
  if ((r = nl_state_add(prefix, "pid", role)))
    return r;
  return wait_listening(
      dlog, pid, (n->portmap & (NL_PORTMAP_NATPMP | NL_PORTMAP_PCP)) != 0,
      n->name);
}
