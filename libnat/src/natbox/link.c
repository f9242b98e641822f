/* nat_link: a one-direction link impairment model (see nat/link.h).
 * Queued packets sit in a binary min-heap ordered by (release, seq), seq
 * being a submission counter, so equal release times leave FIFO.
 * Packet bytes live in a pool of fixed-size cells (LINK_CELL bytes), grown
 * in blocks of LINK_BLOCK cells when empty and kept until nat_link_free(), so
 * a link in steady state does no allocation per packet; the pool never holds
 * more cells than max_queue (rounded up to a block). Larger packets get
 * their own allocation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/link.h"
#include "natbox_rng.h"

#define LINK_DEFAULT_QUEUE  4096
#define LINK_DEFAULT_PACKET 65535
#define LINK_DEFAULT_GAP    NAT_MILLISECONDS
#define LINK_MAX_JITTER     (3600 * NAT_SECONDS)
#define LINK_CELL           2048 /* pooled packet size: an MTU 1500 frame */
#define LINK_BLOCK          64   /* cells allocated at once */

typedef struct link_pkt {
  nat_tstamp release;
  uint64_t seq;
  size_t len;
  uint8_t *data;
} link_pkt;

struct nat_link {
  nat_link_config cfg;
  uint64_t rng[4];         /* xoshiro256** state */
  link_pkt *heap;          /* cfg.max_queue slots */
  size_t n;                /* packets queued */
  uint64_t next_seq;       /* submission counter */
  nat_tstamp last_release; /* release of the last in-order packet */
  nat_tstamp busy_until;   /* rate model: bottleneck free again */
  uint8_t **free_cells;    /* stack of free pool cells */
  size_t nfree, free_cap;  /* cells on the stack, its capacity */
  uint8_t **blocks;        /* pool blocks, for nat_link_free() */
  size_t nblocks;
  nat_link_stats st;
};

/* xoshiro256** (natbox_rng.h). */
static uint64_t rng_next(nat_link *l) {
  return nat__xoshiro256ss(l->rng);
}

/* Uniform in [0, 1) with 53 bits. */
static double rng_unit(nat_link *l) {
  return (double)(rng_next(l) >> 11) * 0x1.0p-53;
}

static int valid_prob(double p) {
  return !isnan(p) && p >= 0.0 && p <= 1.0;
}

/** Create a link; see nat/link.h. */
int nat_link_new(nat_link **out, const nat_link_config *cfg) {
  nat_link *l;
  if (!out || !cfg)
    return NAT_EINVAL;
  *out = NULL;
  if (!valid_prob(cfg->loss) || !valid_prob(cfg->reorder) ||
      !valid_prob(cfg->duplicate) || cfg->jitter > LINK_MAX_JITTER ||
      cfg->delay > LINK_MAX_JITTER || cfg->reorder_gap > LINK_MAX_JITTER)
    return NAT_EINVAL;
  l = calloc(1, sizeof *l);
  if (!l)
    return NAT_ENOMEM;
  l->cfg = *cfg;
  if (l->cfg.max_queue == 0)
    l->cfg.max_queue = LINK_DEFAULT_QUEUE;
  if (l->cfg.max_packet == 0)
    l->cfg.max_packet = LINK_DEFAULT_PACKET;
  if (l->cfg.reorder_gap == 0)
    l->cfg.reorder_gap = LINK_DEFAULT_GAP;
  l->free_cap = (l->cfg.max_queue + LINK_BLOCK - 1) / LINK_BLOCK * LINK_BLOCK;
  l->heap = calloc(l->cfg.max_queue, sizeof *l->heap);
  l->free_cells = calloc(l->free_cap, sizeof *l->free_cells);
  l->blocks = calloc(l->free_cap / LINK_BLOCK, sizeof *l->blocks);
  if (!l->heap || !l->free_cells || !l->blocks) {
    nat_link_free(l);
    return NAT_ENOMEM;
  }
  nat__xoshiro_seed(l->rng, cfg->seed);
  *out = l;
  return 0;
}

/** Free a link and its queued packets; see nat/link.h. */
void nat_link_free(nat_link *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->n; i++)
    if (l->heap[i].len > LINK_CELL)
      free(l->heap[i].data);
  for (size_t i = 0; i < l->nblocks; i++)
    free(l->blocks[i]);
  free(l->blocks);
  free(l->free_cells);
  free(l->heap);
  free(l);
}

/* Storage for a packet of @p len bytes: a pool cell, or its own allocation
 * above LINK_CELL. @return NULL when out of memory. */
static uint8_t *buf_get(nat_link *l, size_t len) {
  if (len > LINK_CELL)
    return malloc(len);
  if (l->nfree == 0) {
    uint8_t *block;
    if (l->nblocks * LINK_BLOCK >= l->free_cap)
      return NULL; /* cannot happen: at most max_queue cells are in use */
    block = malloc((size_t)LINK_BLOCK * LINK_CELL);
    if (!block)
      return NULL;
    l->blocks[l->nblocks++] = block;
    for (size_t i = LINK_BLOCK; i-- > 0;)
      l->free_cells[l->nfree++] = block + i * LINK_CELL;
  }
  return l->free_cells[--l->nfree];
}

/* Give back the storage of a packet of @p len bytes. */
static void buf_put(nat_link *l, uint8_t *data, size_t len) {
  if (len > LINK_CELL)
    free(data);
  else
    l->free_cells[l->nfree++] = data;
}

static int pkt_before(const link_pkt *a, const link_pkt *b) {
  return a->release < b->release ||
         (a->release == b->release && a->seq < b->seq);
}

static void heap_swap(link_pkt *h, size_t i, size_t j) {
  link_pkt t = h[i];
  h[i] = h[j];
  h[j] = t;
}

static void heap_up(link_pkt *h, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!pkt_before(&h[i], &h[parent]))
      break;
    heap_swap(h, i, parent);
    i = parent;
  }
}

static void heap_down(link_pkt *h, size_t n, size_t i) {
  for (;;) {
    size_t left = 2 * i + 1, right = left + 1, best = i;
    if (left < n && pkt_before(&h[left], &h[best]))
      best = left;
    if (right < n && pkt_before(&h[right], &h[best]))
      best = right;
    if (best == i)
      return;
    heap_swap(h, i, best);
    i = best;
  }
}

/* Queue one copy. @return 1 queued, 0 dropped on overflow, or NAT_ENOMEM. */
static int enqueue(nat_link *l, nat_tstamp release, const uint8_t *pkt,
                   size_t len) {
  link_pkt *p;
  if (l->n >= l->cfg.max_queue) {
    l->st.overflow++;
    return 0;
  }
  p = &l->heap[l->n];
  p->data = buf_get(l, len);
  if (!p->data)
    return NAT_ENOMEM;
  memcpy(p->data, pkt, len);
  p->len = len;
  p->release = release;
  p->seq = l->next_seq++;
  heap_up(l->heap, l->n);
  l->n++;
  if (l->n > l->st.queue_max)
    l->st.queue_max = l->n;
  return 1;
}

/* The release time of a packet of @p len bytes submitted at @p now that is
 * neither lost nor reordered, before jitter: delay after the bottleneck. */
static nat_tstamp base_release(nat_link *l, nat_tstamp now, size_t len) {
  nat_tstamp start = now;
  if (l->cfg.rate_bps > 0) {
    uint64_t bits = (uint64_t)len * 8u;
    nat_tstamp tx = (nat_tstamp)(((unsigned __int128)bits * NAT_SECONDS +
                                  l->cfg.rate_bps - 1) /
                                 l->cfg.rate_bps);
    if (l->busy_until > start)
      start = l->busy_until;
    start += tx;
    l->busy_until = start;
  }
  return start + l->cfg.delay;
}

/** Offer a packet; see nat/link.h. */
int nat_link_submit(nat_link *l, nat_tstamp now, const uint8_t *pkt,
                    size_t len) {
  double u_loss, u_dup, u_reorder;
  uint64_t r_jitter;
  nat_tstamp release;
  int copies, rv;
  if (!l || !pkt || len == 0 || len > l->cfg.max_packet)
    return NAT_EINVAL;
  /* Four draws for every packet, whatever is enabled (see the header). */
  u_loss = rng_unit(l);
  u_dup = rng_unit(l);
  u_reorder = rng_unit(l);
  r_jitter = rng_next(l);
  l->st.submitted++;
  if (u_loss < l->cfg.loss) {
    l->st.lost++;
    return 0;
  }
  release = base_release(l, now, len);
  if (l->cfg.jitter > 0) {
    uint64_t span = 2 * l->cfg.jitter + 1;
    uint64_t off = r_jitter % span; /* 0 .. 2*jitter */
    release =
        release + off >= l->cfg.jitter ? release + off - l->cfg.jitter : now;
    if (release < now)
      release = now;
  }
  if (release < l->last_release)
    release = l->last_release; /* jitter does not reorder */
  if (u_reorder < l->cfg.reorder) {
    l->st.reordered++;
    release += l->cfg.reorder_gap; /* held back; later ones may pass */
  } else {
    l->last_release = release;
  }
  rv = enqueue(l, release, pkt, len);
  if (rv <= 0)
    return rv;
  copies = 1;
  if (u_dup < l->cfg.duplicate) {
    rv = enqueue(l, release, pkt, len);
    if (rv < 0)
      return rv;
    if (rv == 1) {
      l->st.duplicated++;
      copies = 2;
    }
  }
  return copies;
}

/** The next release time; see nat/link.h. */
nat_tstamp nat_link_get_expiry(const nat_link *l) {
  if (!l || l->n == 0)
    return NAT_TSTAMP_MAX;
  return l->heap[0].release;
}

/** Look at the next due packet; see nat/link.h. */
ssize_t nat_link_peek(const nat_link *l, nat_tstamp now, const uint8_t **pkt) {
  if (!l || !pkt)
    return NAT_EINVAL;
  if (l->n == 0 || l->heap[0].release > now)
    return NAT_EAGAIN;
  *pkt = l->heap[0].data;
  return (ssize_t)l->heap[0].len;
}

/** Take the next due packet; see nat/link.h. */
ssize_t nat_link_pop(nat_link *l, nat_tstamp now, uint8_t *buf, size_t cap) {
  link_pkt top;
  if (!l)
    return NAT_EINVAL;
  if (l->n == 0 || l->heap[0].release > now)
    return NAT_EAGAIN;
  top = l->heap[0];
  if (buf) {
    if (cap < top.len)
      return NAT_ENOBUFS;
    memcpy(buf, top.data, top.len);
  }
  buf_put(l, top.data, top.len);
  l->n--;
  if (l->n > 0) {
    l->heap[0] = l->heap[l->n];
    heap_down(l->heap, l->n, 0);
  }
  l->st.delivered++;
  return (ssize_t)top.len;
}

/** Copy the counters; see nat/link.h. */
void nat_link_stats_get(const nat_link *l, nat_link_stats *out) {
  if (!out)
    return;
  if (!l) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = l->st;
  out->queue_len = l->n;
}
