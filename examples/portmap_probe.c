/* Ask the gateway about port mapping through libnat (nat/portmap.h): probe
 * PCP, NAT-PMP and UPnP IGD at once and print what each answered; with
 * --map PORT, have UDP PORT of this host forwarded by the best protocol
 * that answered (or the one --proto names), print the grant, then delete
 * it. With --hold the mapping is kept (and refreshed) until SIGINT or
 * SIGTERM: then the loop stops and the mapping is deleted by the blocking
 * nat_portmap_delete_now(), the last step a program takes after a signal.
 *
 *   usage: portmap_probe [--proto pcp|nat-pmp|upnp] [--gateway ADDR[:PORT]]
 *                        [--timeout MS] [--map PORT [--lease SEC] [--hold]]
 *
 * Output, one fact a line: "gateway: ...", one line per protocol asked
 * ("pcp: ok ...", "nat-pmp: no answer ...", "upnp: ok external ..."), then
 * "mapped: PROTO EXTERNAL -> PORT lifetime L (asked A)", "holding" (with
 * --hold, once mapped), "unmapped: OK" or "deleted: OK".
 * Exit codes: 0 success (a protocol answered; the mapping, when asked,
 * was made and its delete confirmed); 1 nothing answered, the mapping
 * failed or its delete was not confirmed; 2 usage; 3 internal error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <nat/nat.h>

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  nat_portmap *pm;
  unsigned long map_port;
  unsigned long lease;
  int hold;
  int signalled;
  int deleted_now;
  int rc;
} app;

static void print_probe(const nat_portmap_probe *p) {
  char a[NAT_ADDR_STRLEN], b[NAT_ADDR_STRLEN];
  printf("gateway: %s%s local %s\n",
         nat_addr_format_ip(&p->gateway, a, sizeof a),
         p->refused           ? " (public: not asked)"
         : p->gateway_private ? " (private)"
                              : "",
         nat_addr_format_ip(&p->local, b, sizeof b));
  for (int i = 0; i < NAT_PM_PROTOS; i++) {
    const nat_pm_service *s = &p->svc[i];
    if (!s->asked)
      continue;
    printf("%s: %s external %s", nat_pm_proto_name((nat_pm_proto)i),
           s->status == 0 ? "ok"
           : s->answered  ? "refused"
                          : "no answer",
           nat_addr_format_ip(&s->external, a, sizeof a));
    if (s->status != 0)
      printf(" status %s result %u", nat_err_name(s->status), s->result);
    if (s->has_epoch)
      printf(" epoch %u", (unsigned)s->epoch);
    printf(" rtt %.1f ms", (double)s->rtt / (double)NAT_MILLISECONDS);
    if (s->detail[0])
      printf(" (%s)", s->detail);
    printf("\n");
  }
  fflush(stdout);
}

static void on_event(nat_portmap *pm, void *arg, const nat_portmap_event *ev) {
  app *ap = arg;
  char a[NAT_ADDR_STRLEN];
  int any = 0, rv;
  switch (ev->type) {
  case NAT_PM_EV_PROBED:
    print_probe(ev->probe);
    for (int i = 0; i < NAT_PM_PROTOS; i++)
      any |= ev->probe->svc[i].answered && ev->probe->svc[i].status == 0;
    ap->rc = any ? 0 : 1;
    if (!ap->map_port || !any) {
      nat_portmap_close(pm);
      break;
    }
    rv = nat_portmap_map(pm, (uint16_t)ap->map_port, (uint32_t)ap->lease);
    if (rv < 0) {
      fprintf(stderr, "portmap_probe: map: %s\n", nat_strerror(rv));
      ap->rc = 1;
      nat_portmap_close(pm);
    }
    break;
  case NAT_PM_EV_MAPPED:
    printf("mapped: %s %s -> %u lifetime %u (asked %u)%s\n",
           nat_pm_proto_name(ev->mapping->proto),
           nat_addr_format(&ev->mapping->external, a, sizeof a),
           (unsigned)ev->mapping->internal_port,
           (unsigned)ev->mapping->lifetime,
           (unsigned)ev->mapping->lifetime_asked,
           ev->mapping->refreshes ? " refreshed" : "");
    if (!ap->hold && !ev->mapping->refreshes)
      (void)nat_portmap_unmap(pm);
    else if (ap->hold && !ev->mapping->refreshes)
      printf("holding\n");
    fflush(stdout);
    break;
  case NAT_PM_EV_LOST:
    printf("lost: %s\n", ev->reason ? ev->reason : nat_strerror(ev->status));
    break;
  case NAT_PM_EV_FAILED:
    fprintf(stderr, "portmap_probe: mapping failed: %s\n",
            ev->reason ? ev->reason : nat_strerror(ev->status));
    ap->rc = 1;
    nat_portmap_close(pm);
    break;
  case NAT_PM_EV_UNMAPPED:
    if (ap->deleted_now)
      break;
    printf("unmapped: %s\n", ev->status == 0 ? "OK" : nat_err_name(ev->status));
    if (ev->status != 0)
      ap->rc = 1;
    nat_portmap_close(pm);
    break;
  case NAT_PM_EV_CLOSED:
    ap->pm = NULL;
    uv_close((uv_handle_t *)&ap->sigint, NULL);
    uv_close((uv_handle_t *)&ap->sigterm, NULL);
    break;
  }
}

/* SIGINT/SIGTERM: stop the loop; main() deletes with delete_now. */
static void on_signal(uv_signal_t *s, int signum) {
  app *ap = s->data;
  (void)signum;
  ap->signalled = 1;
  uv_stop(&ap->loop);
}

static int usage(void) {
  fprintf(stderr, "usage: portmap_probe [--proto pcp|nat-pmp|upnp] "
                  "[--gateway ADDR[:PORT]] [--timeout MS] "
                  "[--map PORT [--lease SEC] [--hold]]\n");
  return 2;
}

/* After a signal: delete what is held, blocking, then close the handle
 * without a second delete (the mapping is no longer ours to hold). */
static int delete_after_signal(app *ap) {
  nat_portmap_probe p;
  nat_portmap_mapping m;
  int rv = 0;
  nat_portmap_get(ap->pm, &p, &m, NULL);
  if (m.active) {
    rv = nat_portmap_delete_now(&p.gateway, &p.local, m.proto, m.internal_port,
                                &m.external, m.nonce, NAT_PORTMAP_DELETE_WAIT);
    printf("deleted: %s\n", rv == 0 ? "OK" : nat_err_name(rv));
    fflush(stdout);
  }
  return rv == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  app ap;
  nat_portmap_config cfg;
  int rv;
  memset(&ap, 0, sizeof ap);
  memset(&cfg, 0, sizeof cfg);
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (strcmp(o, "--hold") == 0) {
      ap.hold = 1;
      continue;
    }
    if (!v)
      return usage();
    i++;
    if (strcmp(o, "--proto") == 0) {
      int p = strcmp(v, "pcp") == 0       ? NAT_PM_PCP
              : strcmp(v, "nat-pmp") == 0 ? NAT_PM_NATPMP
              : strcmp(v, "upnp") == 0    ? NAT_PM_UPNP
                                          : -1;
      if (p < 0)
        return usage();
      cfg.protos |= NAT_PM_BIT(p);
    } else if (strcmp(o, "--gateway") == 0) {
      if (nat_addr_parse(&cfg.gateway, v, 0) < 0) {
        fprintf(stderr, "portmap_probe: --gateway: '%s' is not an address\n",
                v);
        return 2;
      }
    } else if (strcmp(o, "--timeout") == 0 || strcmp(o, "--map") == 0 ||
               strcmp(o, "--lease") == 0) {
      unsigned long n = strtoul(v, &end, 10);
      unsigned long max = strcmp(o, "--map") == 0 ? 65535 : 604800;
      if (*end || n == 0 || n > max)
        return usage();
      if (strcmp(o, "--timeout") == 0)
        cfg.timeout = n * NAT_MILLISECONDS;
      else if (strcmp(o, "--map") == 0)
        ap.map_port = n;
      else
        ap.lease = n;
    } else {
      return usage();
    }
  }
  cfg.cb = on_event;
  cfg.arg = &ap;
  ap.rc = 1;
  if (uv_loop_init(&ap.loop) < 0)
    return 3;
  uv_signal_init(&ap.loop, &ap.sigint);
  uv_signal_init(&ap.loop, &ap.sigterm);
  ap.sigint.data = ap.sigterm.data = &ap;
  uv_signal_start(&ap.sigint, on_signal, SIGINT);
  uv_signal_start(&ap.sigterm, on_signal, SIGTERM);
  if ((rv = nat_portmap_new(&ap.pm, &ap.loop, &cfg)) < 0) {
    fprintf(stderr, "portmap_probe: %s\n", nat_strerror(rv));
    return 3;
  }
  uv_run(&ap.loop, UV_RUN_DEFAULT);
  if (ap.signalled && ap.pm) {
    ap.rc = delete_after_signal(&ap);
    /* the handle's own delete at close finds nothing left (UPnP answers
     * 714 NoSuchEntry): its outcome no longer decides the exit code */
    ap.deleted_now = 1;
    nat_portmap_close(ap.pm);
    uv_run(&ap.loop, UV_RUN_DEFAULT);
  }
  return uv_loop_close(&ap.loop) == 0 ? ap.rc : 3;
}
