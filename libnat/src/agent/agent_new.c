/* libnat -- the punch agent's driver: its start (nat_agent_new: the
 * values checked, the servers' names resolved) and what it tells
 * (nat_agent_info_get, the pairs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "nat/error.h"

/* The birthday settings within the hard limits of nat/birthday.h. */
static int bday_check(const nat_agent_bday *b, char *diag, size_t dl) {
  const char *why = NULL;
  if (b->sockets > NAT_BDAY_SOCKETS_MAX)
    why = "more sockets than the hard limit (1024)";
  else if (b->probes > NAT_BDAY_PROBES_MAX)
    why = "more probes than the hard limit (16384)";
  else if (b->rate > NAT_BDAY_RATE_MAX)
    why = "a rate over the hard limit (1000 probes/s)";
  else if ((b->lo != 0 || b->hi != 0) && (b->lo == 0 || b->lo > b->hi))
    why = "a port range that is not LO-HI with 1 <= LO <= HI";
  else if (b->ttl > 64)
    why = "a TTL over 64";
  else if (b->role < NAT_BDAY_NONE || b->role > NAT_BDAY_DIALER)
    why = "an unknown role";
  else if (b->disabled && (b->only || b->role != NAT_BDAY_NONE))
    why = "the spray both off and asked for";
  if (why == NULL)
    return 0;
  if (diag != NULL)
    snprintf(diag, dl, "bad birthday settings: %s", why);
  return NAT_EINVAL;
}

/* ---------------------------------------------------------- the names */

static const char *label(const nat_agent *a, int i) {
  if (i == 0)
    return a->cfg.rendezvous_label ? a->cfg.rendezvous_label : "the rendezvous";
  return a->cfg.stun_label ? a->cfg.stun_label : "the STUN server";
}

/* The first address of family @p fam (NAT_AF_NONE: any) into @p out, or
 * the run fails. @return 0 or -1. */
static int name_pick(nat_agent *a, int i, uint8_t fam, const char *famwhy,
                     nat_addr *out) {
  const nat__agent_name *n = &a->names[i];
  for (size_t k = 0; k < n->res.naddrs; k++)
    if (fam == NAT_AF_NONE || n->res.addrs[k].family == fam) {
      *out = n->res.addrs[k];
      return 0;
    }
  if (n->literal)
    nat__agent_fail(a, NAT_EBADFAMILY, false, 0,
                    "bad %s '%s': expected an IPv%c address (%s)", label(a, i),
                    n->arg, fam == NAT_AF_INET6 ? '6' : '4', famwhy);
  else if (n->res.status != 0)
    nat__agent_fail(a, NAT_ERESOLVE, false, 0,
                    "cannot resolve %s '%s': %s (check the name, or give "
                    "IP:PORT)",
                    label(a, i), n->arg,
                    nat_strerror(n->res.status == NAT_ERESOLVE
                                     ? n->res.uv_status
                                     : n->res.status));
  else
    nat__agent_fail(a, NAT_ERESOLVE, false, 0,
                    "%s '%s' has no IPv%c address (%s)", label(a, i), n->arg,
                    fam == NAT_AF_INET6 ? '6' : '4', famwhy);
  return -1;
}

static void names_done(nat_agent *a) {
  if (a->closing) {
    nat__agent_teardown(a);
    return;
  }
  if (a->names[0].arg != NULL) {
    if (name_pick(a, 0, a->cfg.family, "the family asked for", &a->rdv_addr) !=
        0)
      return;
    a->has_rdv = true;
  }
  if (a->names[1].arg != NULL) {
    uint8_t fam = a->has_rdv ? a->rdv_addr.family : a->cfg.family;
    if (name_pick(a, 1, fam,
                  a->has_rdv ? "the rendezvous' family"
                             : "the family asked for",
                  &a->stun_addr) != 0)
      return;
    a->has_stun = true;
  }
  nat__agent_begin(a);
}

static void on_name(void *arg, const nat_resolve_result *r) {
  nat__agent_name *n = arg;
  nat_agent *a = n->a;
  n->pending = false;
  n->res = *r;
  n->res.name = NULL;
  if (!a->names[0].pending && !a->names[1].pending)
    names_done(a);
}

static void on_kick(uv_timer_t *t) {
  names_done(t->data);
}

/* A value's syntax (and a literal's family). @return 0 or an error with
 * a message in @p diag. */
static int name_check(const nat_agent_config *cfg, int i, const char *arg,
                      uint8_t fam, char *diag, size_t dl) {
  const char *lab =
      i == 0
          ? (cfg->rendezvous_label ? cfg->rendezvous_label : "the rendezvous")
          : (cfg->stun_label ? cfg->stun_label : "the STUN server");
  char host[256];
  uint16_t port = 0;
  nat_addr lit;
  if (nat_addr_parse(&lit, arg, 0) == 0 && lit.port != 0) {
    if (fam == NAT_AF_NONE || lit.family == fam)
      return 0;
    if (diag != NULL)
      snprintf(diag, dl, "bad %s '%s': expected an IPv%c address (%s)", lab,
               arg, fam == NAT_AF_INET6 ? '6' : '4',
               i == 0 ? "the family asked for" : "the rendezvous' family");
    return NAT_EBADFAMILY;
  }
  if (nat_hostport_split(arg, host, sizeof host, &port, 0) == 0 && port != 0)
    return 0;
  if (diag != NULL)
    snprintf(diag, dl,
             "bad %s '%s': expected HOST:PORT, IP:PORT or [IPv6]:PORT", lab,
             arg);
  return NAT_EBADADDR;
}

static int config_check(const nat_agent_config *cfg, char *diag, size_t dl) {
  nat_addr lit;
  uint8_t sfam = cfg->family;
  int rc;
  if (cfg->rendezvous != NULL) {
    nat_rdv_keys k;
    if (cfg->room == NULL || nat_rdv_keys_derive(&k, cfg->room) != 0) {
      if (diag != NULL)
        snprintf(diag, dl, "bad room code: expected 8..128 characters");
      return NAT_EINVAL;
    }
    if ((rc = name_check(cfg, 0, cfg->rendezvous, cfg->family, diag, dl)))
      return rc;
    if (nat_addr_parse(&lit, cfg->rendezvous, 0) == 0)
      sfam = lit.family;
  }
  if (cfg->stun != NULL)
    return name_check(cfg, 1, cfg->stun, sfam, diag, dl);
  return 0;
}

static int name_start(nat_agent *a, int i, const char *arg) {
  nat__agent_name *n = &a->names[i];
  nat_addr lit;
  int rc;
  n->a = a;
  n->arg = arg;
  n->literal = nat_addr_parse(&lit, arg, 0) == 0;
  rc = nat_resolve(a->loop, arg, 0, a->cfg.family, on_name, n);
  if (rc == 0)
    n->pending = true;
  else
    n->res.status = rc; /* reported by names_done() */
  return rc;
}

static char *dup_or_null(const char *s, bool *fail) {
  char *d;
  if (s == NULL)
    return NULL;
  if ((d = strdup(s)) == NULL)
    *fail = true;
  return d;
}

/* Free an agent that has no handle yet. @return @p rc. */
static int free_early(nat_agent *a, int rc) {
  free(a->rdv_name);
  free(a->stun_name);
  free(a->room);
  free(a);
  return rc;
}

int nat_agent_new(nat_agent **out, uv_loop_t *loop, const nat_agent_config *cfg,
                  nat_agent_cb cb, void *arg, char *diag, size_t diaglen) {
  nat_agent *a;
  bool oom = false;
  int rc;
  if (out == NULL || loop == NULL || cfg == NULL)
    return NAT_EINVAL;
  if ((rc = config_check(cfg, diag, diaglen)) != 0)
    return rc;
  if (cfg->pipe && (cfg->pipe_in < 0 || cfg->pipe_out < 0)) {
    if (diag != NULL)
      snprintf(diag, diaglen, "bad pipe: expected two open fds");
    return NAT_EINVAL;
  }
  if ((rc = bday_check(&cfg->birthday, diag, diaglen)) != 0)
    return rc;
  if ((a = calloc(1, sizeof *a)) == NULL)
    return NAT_ENOMEM;
  a->loop = loop;
  a->cfg = *cfg;
  a->cb = cb;
  a->arg = arg;
  a->rdv_name = dup_or_null(cfg->rendezvous, &oom);
  a->stun_name = dup_or_null(cfg->stun, &oom);
  a->room = dup_or_null(cfg->room, &oom);
  if (oom)
    return free_early(a, NAT_ENOMEM);
  /* the strings are ours now (the labels are not copied: agent.h) */
  a->cfg.rendezvous = a->rdv_name;
  a->cfg.stun = a->stun_name;
  a->cfg.room = a->room;
  if (cfg->rendezvous_pin != NULL)
    memcpy(a->rdv_pin, cfg->rendezvous_pin, NAT_QUIC_PIN_LEN);
  if (a->cfg.timeout == 0)
    a->cfg.timeout = 10 * NAT_SECONDS;
  if (a->cfg.pipe)
    a->cfg.manual_consume = true; /* the pipe acknowledges what it wrote */
  nat__punch_core_init(&a->core, cfg->rendezvous == NULL, cfg->allow_loopback);
  if (a->rdv_name != NULL && (rc = name_start(a, 0, a->rdv_name)) != 0)
    return free_early(a, rc);
  if (a->stun_name != NULL)
    (void)name_start(a, 1, a->stun_name);
  uv_timer_init(loop, &a->deadline);
  uv_timer_init(loop, &a->gather_timer);
  uv_timer_init(loop, &a->chk_timer);
  uv_timer_init(loop, &a->spray_timer);
  uv_timer_init(loop, &a->progress_timer);
  uv_timer_init(loop, &a->pm_timer);
  a->pm_timer.data = a;
  a->deadline.data = a->gather_timer.data = a->chk_timer.data = a;
  a->spray_timer.data = a->progress_timer.data = a;
  a->timers_init = true;
  if (!a->names[0].pending && !a->names[1].pending)
    uv_timer_start(&a->gather_timer, on_kick, 0, 0);
  *out = a;
  return 0;
}

/* ------------------------------------------------------------ reading */

void nat_agent_info_get(const nat_agent *a, nat_agent_info *out) {
  const nat__punch_core *c = &a->core;
  memset(out, 0, sizeof *out);
  out->phase = a->phase;
  out->has_local = a->udp != NULL || c->local.family != 0;
  out->local = c->local;
  out->has_peer = c->has_peer;
  out->checks = c->chk != NULL;
  out->controlling = c->controlling;
  out->selected = c->selected;
  out->connected = a->connected;
  out->local_mapping = c->local_mapping;
  out->remote_mapping = c->remote_mapping;
  out->mine = c->mine;
  out->peer = c->peer;
  out->nrefused = c->nrefused;
  memcpy(out->refused, c->refused, sizeof c->refused);
  memcpy(out->refused_why, c->refused_why, sizeof c->refused_why);
  out->predict_run = c->predict_run;
  out->pred = c->pred;
  out->nprobes = c->nprobes;
  for (unsigned i = 0; i < c->nprobes; i++)
    out->probes_answered += c->probes[i].answered;
  out->npredicted = c->npredicted;
  out->holes_opened = c->holes_opened;
  out->sel = c->sel;
  out->t0 = a->t0;
  out->t_seen = a->t_seen;
  out->t_peer = a->t_peer;
  out->t_blob = a->t_blob;
  out->t_first_ok = c->t_first_ok;
  out->t_selected = c->t_selected;
  out->t_confirmed = a->t_confirmed;
  out->bday_planned = a->bday_planned;
  out->bday_ran = a->bday_ran;
  out->bday = a->bday;
  out->strategy = a->strategy;
  nat__agent_portmap_info(a, out);
  if (a->bday_ran) {
    const nat__spray *s = &a->spray;
    nat_agent_bday_stats *b = &out->bstats;
    b->sockets_opened = a->nbsock;
    b->sockets_open = a->bsock_open;
    b->probes_sent = s->st.probes_sent;
    b->keepalives = s->st.keepalives;
    b->answers_sent = s->st.answers_sent;
    b->hit_probe = s->st.hit_probe;
    b->ignored = s->st.ignored;
    b->replays = s->st.replays;
    b->send_errors = a->spray_send_errors;
    b->p_now = nat__spray_p_now(s, nat_udp_now());
    b->t_start = s->start;
    b->t_hit = s->hit ? s->t_hit : 0;
    if (!s->hit && a->strategy == NAT_AGENT_VIA_BIRTHDAY) {
      /* the path a probe proved on our main socket (nat__spray_via): the
       * spray's hit as far as the report goes, without a probe number */
      b->hit_remote = a->core.sel.remote.addr;
      b->t_hit = nat__spray_via_at(s, &b->hit_remote);
      b->hit_local = c->local;
    } else if (s->hit) {
      b->hit_remote = s->hit_remote;
      if (s->role == NAT_BDAY_ACCEPTOR && s->hit_sock < a->nbsock &&
          a->bsock[s->hit_sock].u != NULL)
        (void)nat_udp_local_addr(a->bsock[s->hit_sock].u, &b->hit_local);
      else
        b->hit_local = c->local;
    }
  }
  if (a->pipe != NULL)
    nat__pipe_counts(a->pipe, &out->pipe_sent, &out->pipe_received);
  else
    out->pipe_sent = a->pipe_sent, out->pipe_received = a->pipe_received;
}

size_t nat_agent_pair_count(const nat_agent *a) {
  return a != NULL && a->core.chk != NULL ? nat_check_pair_count(a->core.chk)
                                          : 0;
}

int nat_agent_pair_get(const nat_agent *a, size_t i, nat_check_pair *out) {
  if (a == NULL || a->core.chk == NULL)
    return NAT_EINVAL;
  return nat_check_pair_get(a->core.chk, i, out);
}
