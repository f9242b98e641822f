/* IP fragment reassembly (capture/capture_frag.h). Pure: no I/O, no
 * clock. A fixed table of NAT__FRAG_SLOTS datagrams, each a list of the
 * fragments held (offset, length) and a buffer of NAT__FRAG_MAX bytes
 * allocated at the slot's first use. */
#include <stdlib.h>
#include <string.h>

#include "capture/capture_frag.h"
#include "nat/error.h"

enum { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_DEAD = 2 };

/* The slot masks are one uint64_t: scans visit only the slots in use. */
typedef char nat__frag_slots_are_64[NAT__FRAG_SLOTS == 64 ? 1 : -1];

/* The index of the lowest bit set in @p m (not 0). */
static unsigned low_bit(uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return (unsigned)__builtin_ctzll(m);
#else
  unsigned i = 0;
  while (!(m & 1)) {
    m >>= 1;
    i++;
  }
  return i;
#endif
}

typedef struct piece {
  uint32_t off, len;
} piece;

typedef struct slot {
  uint8_t state;
  uint8_t version, proto;
  uint8_t ttl, dir; /* of the offset-0 fragment */
  bool have_first;
  bool have_last;
  uint32_t id;
  nat_addr src, dst;
  uint32_t end;    /* the datagram's length, once the last fragment came */
  uint32_t got;    /* bytes held (the pieces never overlap) */
  nat_tstamp born; /* capture time of its first fragment */
  uint64_t seq;    /* creation order, for eviction */
  unsigned npieces;
  piece pieces[NAT__FRAG_PIECES];
  uint8_t *buf; /* NAT__FRAG_MAX bytes, allocated once */
} slot;

struct nat__frag_table {
  slot slots[NAT__FRAG_SLOTS];
  unsigned used; /* slots not free */
  uint64_t live; /* bit i: slots[i] not free (NAT__FRAG_SLOTS is 64) */
  uint64_t bufs; /* bit i: slots[i].buf allocated */
  uint64_t seq;
  nat_tstamp min_born; /* at most the oldest born of the slots not free
                          (when used > 0): expiry skips the scan before
                          min_born + NAT__FRAG_TIMEOUT */
  nat__frag_stats st;
};

int nat__frag_new(nat__frag_table **out) {
  if (out == NULL)
    return NAT_EINVAL;
  *out = calloc(1, sizeof **out);
  return *out != NULL ? 0 : NAT_ENOMEM;
}

void nat__frag_free(nat__frag_table *t) {
  if (t == NULL)
    return;
  for (unsigned i = 0; i < NAT__FRAG_SLOTS; i++)
    free(t->slots[i].buf);
  free(t);
}

unsigned nat__frag_pending(const nat__frag_table *t) {
  return t != NULL ? t->used : 0;
}

void nat__frag_get_stats(const nat__frag_table *t, nat__frag_stats *out) {
  if (out == NULL)
    return;
  if (t == NULL)
    memset(out, 0, sizeof *out);
  else
    *out = t->st;
}

/* Free slot @p s (its buffer stays for reuse). */
static void release(nat__frag_table *t, slot *s) {
  uint8_t *buf = s->buf;
  if (s->state != SLOT_FREE) {
    t->used--;
    t->live &= ~((uint64_t)1 << (s - t->slots));
  }
  memset(s, 0, sizeof *s);
  s->buf = buf;
}

void nat__frag_reset(nat__frag_table *t) {
  if (t == NULL)
    return;
  while (t->live != 0) /* a free slot is already clear */
    release(t, &t->slots[low_bit(t->live)]);
  t->seq = 0;
  memset(&t->st, 0, sizeof t->st);
}

/* Give up the live datagram in @p s: its fragments become orphans. The
 * slot stays (dead) when @p keep, to swallow the rest of the datagram. */
static void give_up(nat__frag_table *t, slot *s, uint64_t *why, bool keep) {
  if (s->state == SLOT_LIVE) {
    t->st.dropped++;
    if (why != NULL)
      (*why)++;
    t->st.orphans += s->npieces;
  }
  if (keep) {
    s->state = SLOT_DEAD;
    s->npieces = 0;
    s->got = 0;
  } else {
    release(t, s);
  }
}

void nat__frag_expire(nat__frag_table *t, nat_tstamp now) {
  nat_tstamp min = UINT64_MAX;
  if (t == NULL || t->used == 0 || now <= t->min_born ||
      now - t->min_born <= NAT__FRAG_TIMEOUT)
    return; /* nothing can be that old */
  for (uint64_t m = t->live; m != 0; m &= m - 1) {
    slot *s = &t->slots[low_bit(m)];
    if (now > s->born && now - s->born > NAT__FRAG_TIMEOUT)
      give_up(t, s, &t->st.timeout, false);
    else if (s->born < min)
      min = s->born;
  }
  t->min_born = min;
}

void nat__frag_flush(nat__frag_table *t) {
  if (t == NULL)
    return;
  while (t->live != 0)
    give_up(t, &t->slots[low_bit(t->live)], NULL, false);
}

static bool same_key(const slot *s, const nat__frag_in *in) {
  size_t n = in->version == 4 ? 4 : 16;
  return s->state != SLOT_FREE && s->version == in->version &&
         s->id == in->id && (in->version == 6 || s->proto == in->proto) &&
         memcmp(s->src.ip, in->src.ip, n) == 0 &&
         memcmp(s->dst.ip, in->dst.ip, n) == 0;
}

/* The slot of @p in's datagram, or a new one (evicting the oldest when
 * the table is full); NULL if no buffer could be allocated. */
static slot *find_or_take(nat__frag_table *t, const nat__frag_in *in,
                          nat_tstamp now) {
  slot *free_s = NULL, *oldest = NULL;
  uint64_t m, fr;
  for (m = t->live; m != 0; m &= m - 1) {
    slot *s = &t->slots[low_bit(m)];
    if (same_key(s, in))
      return s;
    if (oldest == NULL || s->seq < oldest->seq)
      oldest = s;
  }
  fr = ~t->live;
  if (fr == 0) {
    free_s = oldest;
    give_up(t, free_s, &t->st.evicted, false);
  } else { /* the first free slot whose buffer exists, else the first */
    free_s = &t->slots[low_bit((fr & t->bufs) != 0 ? fr & t->bufs : fr)];
  }
  if (free_s->buf == NULL) {
    free_s->buf = malloc(NAT__FRAG_MAX);
    if (free_s->buf == NULL)
      return NULL;
    t->bufs |= (uint64_t)1 << (free_s - t->slots);
  }
  t->live |= (uint64_t)1 << (free_s - t->slots);
  free_s->state = SLOT_LIVE;
  free_s->version = in->version;
  free_s->proto = in->proto;
  free_s->id = in->id;
  free_s->src = in->src;
  free_s->dst = in->dst;
  free_s->born = now;
  free_s->seq = t->seq++;
  if (t->used++ == 0 || now < t->min_born)
    t->min_born = now;
  return free_s;
}

/* An identical copy of a piece held (1), an overlap (-1), or neither. */
static int overlaps(const slot *s, const nat__frag_in *in) {
  uint32_t off = in->offset, end = in->offset + (uint32_t)in->len;
  for (unsigned i = 0; i < s->npieces; i++) {
    const piece *p = &s->pieces[i];
    bool p_last = s->have_last && p->off + p->len == s->end;
    if (p->off == off && p->len == in->len && p_last == !in->more &&
        (in->len == 0 || memcmp(s->buf + off, in->data, in->len) == 0))
      return 1;
    if (off < p->off + p->len && p->off < end)
      return -1;
    if (in->len == 0 && p->off == off) /* an empty one at a held offset */
      return -1;
  }
  return 0;
}

/* Whether @p in is consistent with what @p s holds (lengths, ends). */
static bool consistent(const slot *s, const nat__frag_in *in) {
  uint64_t end = (uint64_t)in->offset + in->len;
  if (end > NAT__FRAG_MAX)
    return false;
  if (in->more) {
    if (in->len == 0 || in->len % 8 != 0)
      return false;
    return !s->have_last || end <= s->end;
  }
  if (s->have_last)
    return end == s->end;
  for (unsigned i = 0; i < s->npieces; i++)
    if (s->pieces[i].off + s->pieces[i].len > end)
      return false;
  return true;
}

static void fill_out(const slot *s, nat__frag_out *out, const uint8_t *data,
                     size_t len) {
  out->version = s->version;
  out->proto = s->proto;
  out->ttl = s->ttl;
  out->dir = s->dir;
  out->src = s->src;
  out->dst = s->dst;
  out->data = data;
  out->len = len;
}

/* An IPv6 atomic fragment (RFC 6946): a whole datagram by itself. */
static int atomic(nat__frag_table *t, const nat__frag_in *in,
                  nat__frag_out *out) {
  slot tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.version = in->version;
  tmp.proto = in->proto;
  tmp.ttl = in->ttl;
  tmp.dir = in->dir;
  tmp.src = in->src;
  tmp.dst = in->dst;
  fill_out(&tmp, out, in->data, in->len);
  t->st.reassembled++;
  t->st.used++;
  return 1;
}

int nat__frag_add(nat__frag_table *t, const nat__frag_in *in, nat_tstamp now,
                  nat__frag_out *out) {
  slot *s;
  int ov;
  if (t == NULL || in == NULL || out == NULL ||
      (in->version != 4 && in->version != 6) ||
      (in->data == NULL && in->len != 0))
    return 0;
  if (in->version == 6 && in->offset == 0 && !in->more)
    return atomic(t, in, out);
  nat__frag_expire(t, now);
  s = find_or_take(t, in, now);
  if (s == NULL) { /* no memory for a buffer: the fragment is lost */
    t->st.orphans++;
    return 0;
  }
  if (s->state == SLOT_DEAD) {
    t->st.orphans++;
    return 0;
  }
  ov = overlaps(s, in);
  if (ov > 0) {
    t->st.duplicate++;
    t->st.orphans++;
    return 0;
  }
  if (ov < 0 || !consistent(s, in) || s->npieces == NAT__FRAG_PIECES) {
    t->st.orphans++; /* this one, and those held (give_up) */
    give_up(t, s, &t->st.bad, true);
    return 0;
  }
  if (in->len > 0)
    memcpy(s->buf + in->offset, in->data, in->len);
  s->pieces[s->npieces].off = in->offset;
  s->pieces[s->npieces].len = (uint32_t)in->len;
  s->npieces++;
  s->got += (uint32_t)in->len;
  if (in->offset == 0) {
    s->have_first = true;
    s->ttl = in->ttl;
    s->dir = in->dir;
  }
  if (!in->more) {
    s->have_last = true;
    s->end = in->offset + (uint32_t)in->len;
  }
  if (!s->have_last || s->got != s->end)
    return 0;
  /* Whole: the pieces do not overlap and add up to the end. */
  t->st.reassembled++;
  t->st.used += s->npieces;
  fill_out(s, out, s->buf, s->end);
  release(t, s); /* the buffer stays valid until the next call */
  return 1;
}
