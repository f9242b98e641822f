/* The streaming capture reader (nat/capture.h). A driver file (stdio):
 * classic pcap and pcapng, read by this file alone, one record at a time
 * through one bounded buffer; nothing accumulates.
 *
 * Classic pcap: magic a1b2c3d4 (microseconds), a1b23c4d (nanoseconds),
 * a1b2cd34 (Kuznetzov's patched format, 24-byte record headers), each in
 * either byte order.
 * pcapng: sections (SHB) in either byte order, one after another; each
 * interface (IDB) with its own link type, snaplen, if_tsresol (a power of
 * 10 or of 2) and if_tsoffset; Enhanced, Simple and (obsolete) Packet
 * Blocks; every other block (NRB, ISB, DSB, custom, unknown) is skipped.
 * Every length is checked: a block's total length is a multiple of 4, at
 * least 12, at most READ_MAX_BLOCK, and repeated at its end; a packet's
 * captured length fits its block (or record) and READ_MAX_PACKET. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "capture/capture_frag.h"
#include "nat/capture.h"
#include "nat/error.h"

/* The longest packet accepted: libpcap's MAXIMUM_SNAPLEN. */
#define READ_MAX_PACKET 262144u
/* The longest pcapng block: a longest packet plus 64 KiB of options. */
#define READ_MAX_BLOCK (READ_MAX_PACKET + 65536u)
/* The buffer starts this big and grows (once) to hold a longer block. */
#define READ_CHUNK 65536u
/* Interfaces per pcapng section (memory stays bounded). */
#define READ_MAX_IFACES 4096u

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 1u
#define PCAPNG_PB  2u
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_BOM 0x1A2B3C4Du

enum { FMT_CLASSIC = 1, FMT_PCAPNG = 2 };
enum { TS_MUL = 0, TS_DIV = 1, TS_BIN = 2 };

typedef struct iface {
  uint32_t linktype;
  uint32_t snaplen;
  uint8_t ts_kind; /* TS_MUL: ticks * ts_arg ns; TS_DIV: ticks / ts_arg;
                      TS_BIN: ticks / 2^ts_arg s */
  uint64_t ts_arg;
  uint64_t offset; /* if_tsoffset in ns (two's complement: added mod 2^64) */
} iface;

struct nat_capture_reader {
  FILE *fp;
  char name[256];
  uint8_t *buf;
  size_t cap, pos, len; /* unread bytes: buf[pos .. len) */
  uint64_t base;        /* byte offset in the file of buf[0] */
  bool eof, ioerr;
  int ioerrno;
  int fmt;
  bool be; /* the file (section) is big-endian */
  /* classic pcap */
  uint32_t hdrlen;   /* record header: 16, or 24 (Kuznetzov) */
  bool nano;         /* nanosecond timestamps */
  uint32_t linktype; /* classic: the file's; pcapng: the first IDB's */
  /* pcapng: the current section's interfaces */
  iface *ifs;
  uint32_t nif, ifcap;
  uint64_t record; /* packet records read so far */
  int failed;      /* sticky NAT_ECAPTURE */
  nat_capture_stats st;
  nat__frag_table *frag; /* IP fragments in reassembly (at the first) */
  nat_stun_msg msg;
  char err[NAT_CAPTURE_ERRLEN];
  char why[256]; /* the reason alone, for open's message */
};

static void set_err(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *dst, size_t cap, const char *fmt, ...) {
  va_list ap;
  if (dst == NULL || cap == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(dst, cap, fmt, ap);
  va_end(ap);
}

static void one_line(char *s) {
  for (; *s != '\0'; s++)
    if (*s == '\n' || *s == '\r')
      *s = ' ';
}

/* ------------------------------------------------------------ buffer */

static uint32_t rd32(const nat_capture_reader *r, const uint8_t *p) {
  return r->be ? nat__get32(p) : nat__get32le(p);
}

static uint16_t rd16(const nat_capture_reader *r, const uint8_t *p) {
  return r->be ? nat__get16(p) : nat__get16le(p);
}

static uint64_t rd64(const nat_capture_reader *r, const uint8_t *p) {
  uint64_t a = rd32(r, p), b = rd32(r, p + 4);
  return r->be ? a << 32 | b : b << 32 | a;
}

/* Make at least @p n unread bytes available (n <= READ_MAX_BLOCK + 32).
 * @return how many are (fewer only at the end of the file or on a read
 *         error), or NAT_ENOMEM. */
static long ensure(nat_capture_reader *r, size_t n) {
  if (r->len - r->pos >= n)
    return (long)n;
  if (n > r->cap) {
    size_t cap = READ_MAX_BLOCK + READ_CHUNK;
    uint8_t *nb = realloc(r->buf, cap);
    if (nb == NULL)
      return NAT_ENOMEM;
    r->buf = nb;
    r->cap = cap;
  }
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->base += r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  while (r->len < n && !r->eof) {
    size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->fp);
    r->len += got;
    if (got == 0) {
      r->eof = true;
      if (ferror(r->fp)) {
        r->ioerr = true;
        r->ioerrno = errno;
      }
    }
  }
  return (long)(r->len < n ? r->len : n);
}

static uint64_t offset_here(const nat_capture_reader *r) {
  return r->base + r->pos;
}

/* ------------------------------------------------------------ errors */

/* The record the reader is about to fail on, named for people: the
 * record number is that of the next packet record, the byte offset that
 * of the record or block at fault. */
static int record_failed(nat_capture_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int record_failed(nat_capture_reader *r, const char *fmt, ...) {
  const char *why = r->why;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
  const char *hint = strstr(why, "truncated") != NULL
                         ? " (the file ends inside this record: a capture "
                           "cut short?)"
                         : "";
  set_err(r->err, sizeof r->err,
          "%s: damaged capture at record %llu (byte offset %llu), after "
          "%llu good records: %s%s",
          r->name, (unsigned long long)(r->record + 1),
          (unsigned long long)offset_here(r), (unsigned long long)r->record,
          why, hint);
  one_line(r->err);
  r->failed = 1;
  nat__frag_flush(r->frag); /* the reader stops: partial datagrams too */
  return NAT_ECAPTURE;
}

/* Why fewer bytes than wanted came: the end of the file, or a read
 * error. */
static int short_read(nat_capture_reader *r, const char *what, long got,
                      size_t want) {
  if (r->ioerr)
    return record_failed(r, "read error: %s", strerror(r->ioerrno));
  return record_failed(r, "truncated %s: %ld of %zu bytes", what, got, want);
}

/* Link type names for messages (libpcap's DLT names). */
static const char *linktype_name(uint32_t lt) {
  switch (lt) {
  case 0:
    return "NULL";
  case 1:
    return "EN10MB";
  case 6:
    return "IEEE802";
  case 9:
    return "PPP";
  case 12:
    return "RAW";
  case 101:
    return "RAW";
  case 104:
    return "C_HDLC";
  case 105:
    return "IEEE802_11";
  case 108:
    return "LOOP";
  case 113:
    return "LINUX_SLL";
  case 127:
    return "IEEE802_11_RADIO";
  case 195:
    return "IEEE802_15_4";
  case 220:
    return "USB_LINUX_MMAPPED";
  case 228:
    return "IPV4";
  case 229:
    return "IPV6";
  case 249:
    return "NETLINK";
  case 276:
    return "LINUX_SLL2";
  default:
    break;
  }
  return NULL;
}

static int unsupported(nat_capture_reader *r, uint32_t lt, char *err,
                       size_t errlen) {
  char name[24];
  const char *known = linktype_name(lt);
  if (known != NULL)
    snprintf(name, sizeof name, "%s", known);
  else if (lt >= 147 && lt <= 162)
    snprintf(name, sizeof name, "USER%u", lt - 147);
  else
    snprintf(name, sizeof name, "unknown");
  set_err(err, errlen,
          "%s: link type %s (%u) is not supported; supported: EN10MB, "
          "LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP",
          r->name, name, lt);
  return NAT_EUNSUPPORTED;
}

/* ------------------------------------------------------------ pcapng */

/* if_tsresol @p v -> how ticks become ns; false if out of range. */
static bool set_tsresol(iface *f, uint8_t v) {
  unsigned e = v & 0x7Fu;
  if (v & 0x80u) {
    if (e > 63)
      return false;
    f->ts_kind = TS_BIN;
    f->ts_arg = e;
    return true;
  }
  if (e > 19)
    return false;
  uint64_t p = 1;
  for (unsigned i = 0; i < (e <= 9 ? 9 - e : e - 9); i++)
    p *= 10;
  f->ts_kind = e <= 9 ? TS_MUL : TS_DIV;
  f->ts_arg = p;
  return true;
}

static nat_tstamp ts_of(const iface *f, uint64_t t) {
  uint64_t ns;
  if (f->ts_kind == TS_MUL) {
    ns = t * f->ts_arg;
  } else if (f->ts_kind == TS_DIV) {
    ns = t / f->ts_arg;
  } else {
    unsigned k = (unsigned)f->ts_arg;
    uint64_t sec = t >> k, frac = t & ((UINT64_C(1) << k) - 1);
    if (k > 32) { /* 2^-32 s is under a nanosecond: drop the rest */
      frac >>= k - 32;
      k = 32;
    }
    ns = sec * NAT_SECONDS + ((frac * NAT_SECONDS) >> k);
  }
  return ns + f->offset;
}

/* An SHB at buf[pos] (12 bytes there): its byte order and total
 * length. */
static int take_shb(nat_capture_reader *r, uint32_t *total, char *why,
                    size_t cap) {
  const uint8_t *p = r->buf + r->pos;
  uint32_t bom_le = (uint32_t)p[11] << 24 | (uint32_t)p[10] << 16 |
                    (uint32_t)p[9] << 8 | p[8];
  if (bom_le == PCAPNG_BOM)
    r->be = false;
  else if (bom_le == 0x4D3C2B1Au)
    r->be = true;
  else {
    snprintf(why, cap,
             "section header block with a bad byte-order magic "
             "0x%08x",
             bom_le);
    return -1;
  }
  *total = rd32(r, p + 4);
  return 0;
}

/* The options of an IDB: @p p .. @p end. */
static int idb_options(nat_capture_reader *r, iface *f, const uint8_t *p,
                       const uint8_t *end, char *why, size_t cap) {
  while (end - p >= 4) {
    uint16_t code = rd16(r, p), len = rd16(r, p + 2);
    size_t padded = ((size_t)len + 3u) & ~(size_t)3u;
    if (code == 0)
      break;
    if ((size_t)(end - p - 4) < padded) {
      snprintf(why, cap,
               "interface description block: option %u of %u bytes "
               "overruns the block",
               code, len);
      return -1;
    }
    if (code == 9 && len == 1) {
      if (!set_tsresol(f, p[4])) {
        snprintf(why, cap,
                 "interface description block: if_tsresol 0x%02x is out "
                 "of range",
                 p[4]);
        return -1;
      }
    } else if (code == 14 && len == 8) {
      f->offset = rd64(r, p + 4) * NAT_SECONDS;
    }
    p += 4 + padded;
  }
  return 0;
}

static int take_idb(nat_capture_reader *r, uint32_t total, char *why,
                    size_t cap) {
  const uint8_t *p = r->buf + r->pos;
  iface f;
  if (total < 20) {
    snprintf(why, cap,
             "interface description block of %u bytes (want 20 "
             "or more)",
             total);
    return -1;
  }
  if (r->nif >= READ_MAX_IFACES) {
    snprintf(why, cap, "more than %u interfaces in one section",
             READ_MAX_IFACES);
    return -1;
  }
  memset(&f, 0, sizeof f);
  f.linktype = rd16(r, p + 8);
  f.snaplen = rd32(r, p + 12);
  set_tsresol(&f, 6);
  if (idb_options(r, &f, p + 16, p + total - 4, why, cap) != 0)
    return -1;
  if (r->nif == r->ifcap) {
    uint32_t n = r->ifcap ? 2 * r->ifcap : 4;
    iface *ni = realloc(r->ifs, n * sizeof *ni);
    if (ni == NULL) {
      snprintf(why, cap, "out of memory");
      return -1;
    }
    r->ifs = ni;
    r->ifcap = n;
  }
  r->ifs[r->nif++] = f;
  if (r->linktype == UINT32_MAX)
    r->linktype = f.linktype;
  return 0;
}

static bool is_packet_block(uint32_t type) {
  return type == PCAPNG_EPB || type == PCAPNG_SPB || type == PCAPNG_PB;
}

/* The header of the pcapng block at buf[pos]: its type and total length
 * checked, and all of it in the buffer.
 * @return 1; 0 at the end of the file; NAT_ECAPTURE. */
static int ng_block(nat_capture_reader *r, uint32_t *type, uint32_t *total) {
  char why[160];
  long got = ensure(r, 12);
  if (got < 0)
    return record_failed(r, "out of memory");
  if (got == 0 && !r->ioerr)
    return 0;
  if (got < 12)
    return short_read(r, "block header", got, 12);
  *type = rd32(r, r->buf + r->pos);
  if (*type == PCAPNG_SHB) {
    if (take_shb(r, total, why, sizeof why) != 0)
      return record_failed(r, "%s", why);
  } else {
    *total = rd32(r, r->buf + r->pos + 4);
  }
  if (*total < 12 || *total % 4 != 0)
    return record_failed(r,
                         "block type 0x%08x: total length %u is not a "
                         "multiple of 4 of at least 12",
                         *type, *total);
  if (*total > READ_MAX_BLOCK)
    return record_failed(r,
                         "block type 0x%08x: total length %u is over "
                         "the %u-byte limit",
                         *type, *total, READ_MAX_BLOCK);
  got = ensure(r, *total);
  if (got < 0)
    return record_failed(r, "out of memory");
  if ((size_t)got < *total)
    return short_read(r, "block", got, *total);
  uint32_t trail = rd32(r, r->buf + r->pos + *total - 4);
  if (trail != *total)
    return record_failed(r,
                         "block type 0x%08x: trailing length %u differs "
                         "from its total length %u",
                         *type, trail, *total);
  if (*type == PCAPNG_SHB) {
    uint16_t major = rd16(r, r->buf + r->pos + 12);
    if (*total < 28)
      return record_failed(r,
                           "section header block of %u bytes (want 28 "
                           "or more)",
                           *total);
    if (major != 1)
      return record_failed(r, "pcapng version %u.%u is not supported", major,
                           rd16(r, r->buf + r->pos + 14));
  }
  return 1;
}

/* A non-packet block at buf[pos] (the whole of it is there): SHB and
 * IDB are taken, the rest skipped. Advances past it on success. */
static int ng_other(nat_capture_reader *r, uint32_t type, uint32_t total) {
  char why[160];
  if (type == PCAPNG_IDB && take_idb(r, total, why, sizeof why) != 0)
    return record_failed(r, "%s", why);
  if (type == PCAPNG_SHB)
    r->nif = 0; /* a new section: its own interfaces */
  r->pos += total;
  return 0;
}

/* A packet block at buf[pos]: its interface, timestamp and bytes. */
static int ng_packet(nat_capture_reader *r, uint32_t type, uint32_t total,
                     const iface **f, uint32_t *ifidx, nat_tstamp *ts,
                     const uint8_t **data, uint32_t *caplen) {
  const uint8_t *p = r->buf + r->pos;
  uint32_t id, room;
  if (type == PCAPNG_SPB) {
    if (total < 16)
      return record_failed(r, "simple packet block of %u bytes", total);
    id = 0;
    room = total - 16;
    *caplen = rd32(r, p + 8); /* the original length */
    *data = p + 12;
  } else {
    if (total < 32)
      return record_failed(r, "packet block of %u bytes (want 32 or more)",
                           total);
    id = type == PCAPNG_PB ? rd16(r, p + 8) : rd32(r, p + 8);
    room = total - 32;
    *caplen = rd32(r, p + 20);
    *data = p + 28;
    if (*caplen > room)
      return record_failed(r,
                           "captured length %u overruns its %u-byte "
                           "packet block",
                           *caplen, total);
  }
  if (id >= r->nif)
    return record_failed(r,
                         "packet of interface %u, but the section "
                         "describes %u",
                         id, r->nif);
  *f = &r->ifs[id];
  *ifidx = id;
  if (type == PCAPNG_SPB) {
    if ((*f)->snaplen != 0 && *caplen > (*f)->snaplen)
      *caplen = (*f)->snaplen;
    if (*caplen > room)
      *caplen = room;
    *ts = 0; /* a Simple Packet Block has no timestamp */
  } else {
    uint64_t t = (uint64_t)rd32(r, p + 12) << 32 | rd32(r, p + 16);
    *ts = ts_of(*f, t);
  }
  if (*caplen > READ_MAX_PACKET)
    return record_failed(r, "captured length %u is over the %u-byte limit",
                         *caplen, READ_MAX_PACKET);
  return 0;
}

/* ------------------------------------------------------------ decode */

/* Fragment @p fi into the reassembly table: 1 and @p f filled when it
 * completes a datagram that decodes as UDP, else 0 (counted). */
static int reassemble(nat_capture_reader *r, const nat__frag_in *fi,
                      nat_tstamp ts, nat_capture_frame *f) {
  nat__frag_out d;
  if (r->frag == NULL && nat__frag_new(&r->frag) != 0) {
    r->st.reason[NAT_CAPR_FRAGMENT]++; /* no memory: part of nothing */
    return 0;
  }
  if (nat__frag_add(r->frag, fi, ts, &d) != 1)
    return 0;
  if (nat__capture_decode_l4(&d, f) != 0) {
    r->st.reason[f->reason < NAT_CAPR_COUNT ? f->reason : 0]++;
    return 0;
  }
  return 1;
}

/* Decode one record; 1 if it holds STUN (out filled), else 0. */
static int take_record(nat_capture_reader *r, uint32_t linktype, uint32_t ifidx,
                       nat_tstamp ts, const uint8_t *data, uint32_t caplen,
                       nat_capture_pkt *out) {
  nat_capture_frame f;
  nat__frag_in fi;
  bool frag = false;
  if (r->frag != NULL && nat__frag_pending(r->frag) > 0)
    nat__frag_expire(r->frag, ts);
  if (nat__capture_decode_frag(linktype, data, caplen, &f, &fi) != 0) {
    if (f.reason == NAT_CAPR_FRAGMENT && fi.version != 0) {
      if (!reassemble(r, &fi, ts, &f))
        return 0;
      frag = true;
    } else {
      r->st.reason[f.reason < NAT_CAPR_COUNT ? f.reason : 0]++;
      return 0;
    }
  }
  r->st.udp++;
  if (nat_stun_decode(&r->msg, f.payload, f.len) != (ssize_t)f.len) {
    if (nat_stun_is_stun(f.payload, f.len))
      r->st.stun_malformed++;
    else
      r->st.not_stun++;
    return 0;
  }
  r->st.stun++;
  out->ts = ts;
  out->record = r->record;
  out->src = f.src;
  out->dst = f.dst;
  out->payload = f.payload;
  out->len = f.len;
  out->msg = &r->msg;
  out->linktype = linktype;
  out->ifindex = ifidx;
  out->ttl = f.ttl;
  out->dir = f.dir;
  out->reassembled = frag;
  return 1;
}

/* The next classic record: 1 and its fields; 0 at the end; an error. */
static int classic_next(nat_capture_reader *r, nat_tstamp *ts,
                        const uint8_t **data, uint32_t *caplen) {
  long got = ensure(r, r->hdrlen);
  if (got < 0)
    return record_failed(r, "out of memory");
  if (got == 0 && !r->ioerr)
    return 0;
  if ((size_t)got < r->hdrlen)
    return short_read(r, "record header", got, r->hdrlen);
  const uint8_t *p = r->buf + r->pos;
  uint32_t sec = rd32(r, p), frac = rd32(r, p + 4);
  *caplen = rd32(r, p + 8);
  if (*caplen > READ_MAX_PACKET)
    return record_failed(r, "captured length %u is over the %u-byte limit",
                         *caplen, READ_MAX_PACKET);
  got = ensure(r, r->hdrlen + *caplen);
  if (got < 0)
    return record_failed(r, "out of memory");
  if ((size_t)got < r->hdrlen + *caplen)
    return short_read(r, "record", got, r->hdrlen + *caplen);
  p = r->buf + r->pos;
  *data = p + r->hdrlen;
  *ts = (nat_tstamp)sec * NAT_SECONDS +
        (r->nano ? (nat_tstamp)frac : (nat_tstamp)frac * 1000u);
  return 1;
}

int nat_capture_reader_next(nat_capture_reader *r, nat_capture_pkt *out) {
  if (r == NULL || out == NULL)
    return NAT_EINVAL;
  if (r->failed)
    return NAT_ECAPTURE;
  for (;;) {
    const uint8_t *data = NULL;
    uint32_t caplen = 0, linktype, ifidx = 0, step;
    nat_tstamp ts = 0;
    int rc;
    if (r->fmt == FMT_CLASSIC) {
      rc = classic_next(r, &ts, &data, &caplen);
      if (rc == 0)
        nat__frag_flush(r->frag); /* the end: partial datagrams dropped */
      if (rc <= 0)
        return rc;
      linktype = r->linktype;
      step = r->hdrlen + caplen;
    } else {
      uint32_t type = 0, total = 0;
      const iface *f = NULL;
      rc = ng_block(r, &type, &total);
      if (rc == 0)
        nat__frag_flush(r->frag); /* the end: partial datagrams dropped */
      if (rc <= 0)
        return rc;
      if (!is_packet_block(type)) {
        if (ng_other(r, type, total) != 0)
          return NAT_ECAPTURE;
        continue;
      }
      if (ng_packet(r, type, total, &f, &ifidx, &ts, &data, &caplen) != 0)
        return NAT_ECAPTURE;
      linktype = f->linktype;
      step = total;
    }
    r->record++;
    r->st.records++;
    r->pos += step; /* data stays in the buffer until the next call */
    if (take_record(r, linktype, ifidx, ts, data, caplen, out))
      return 1;
  }
}

/* ------------------------------------------------------------ open */

/* The classic file header at buf[0] (24 bytes there). */
static int open_classic(nat_capture_reader *r, char *why, size_t cap) {
  const uint8_t *p = r->buf;
  uint16_t major = rd16(r, p + 4), minor = rd16(r, p + 6);
  uint32_t lt = rd32(r, p + 20);
  if (major != 2 || minor > 4) {
    snprintf(why, cap, "pcap version %u.%u is not supported", major, minor);
    return -1;
  }
  r->fmt = FMT_CLASSIC;
  r->linktype = lt & 0xFFFFu; /* the upper bits carry FCS information */
  r->pos = 24;
  return 0;
}

/* The first section of a pcapng file: its SHB, then every block up to
 * the first packet block (which stays unread), so that the interfaces
 * described before the first packet are known. An error after the first
 * IDB is left for nat_capture_reader_next() to report. */
static int open_pcapng(nat_capture_reader *r, char *why, size_t cap) {
  uint32_t type = 0, total = 0;
  r->fmt = FMT_PCAPNG;
  for (bool first = true;; first = false) {
    int rc = ng_block(r, &type, &total);
    if (rc < 0 && r->nif > 0) {
      r->failed = 0; /* next() reads the same block again and says so */
      break;
    }
    if (rc < 0) {
      snprintf(why, cap, "%s", r->why);
      return -1;
    }
    if (rc == 0 || (!first && type == PCAPNG_SHB) || is_packet_block(type))
      break;
    if (ng_other(r, type, total) != 0) {
      if (r->nif > 0) {
        r->failed = 0;
        break;
      }
      snprintf(why, cap, "%s", r->why);
      return -1;
    }
  }
  r->err[0] = '\0';
  if (r->nif == 0) {
    snprintf(why, cap,
             "no interface description block before the first "
             "packet or section");
    return -1;
  }
  return 0;
}

/* Which format, from the first 4 bytes (and 24 for classic pcap). */
static int open_any(nat_capture_reader *r, char *why, size_t cap) {
  long got = ensure(r, 24);
  if (got < 0)
    return NAT_ENOMEM;
  if (got < 4) {
    if (got == 0)
      snprintf(why, cap, "the file is empty");
    else
      snprintf(why, cap, "truncated file header: %ld of 24 bytes", got);
    return -1;
  }
  const uint8_t *p = r->buf;
  uint32_t m = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3]; /* as big-endian */
  uint32_t ms =
      (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
  if (m == PCAPNG_SHB)
    return open_pcapng(r, why, cap);
  r->be = m == 0xA1B2C3D4u || m == 0xA1B23C4Du || m == 0xA1B2CD34u;
  if (!r->be && ms != 0xA1B2C3D4u && ms != 0xA1B23C4Du && ms != 0xA1B2CD34u) {
    snprintf(why, cap, "unknown magic number 0x%08x", m);
    return -1;
  }
  r->nano = (r->be ? m : ms) == 0xA1B23C4Du;
  r->hdrlen = (r->be ? m : ms) == 0xA1B2CD34u ? 24 : 16;
  if (got < 24) {
    snprintf(why, cap, "truncated file header: %ld of 24 bytes", got);
    return -1;
  }
  return open_classic(r, why, cap);
}

int nat_capture_reader_open_fp(nat_capture_reader **out, FILE *fp,
                               const char *name, char *err, size_t errlen) {
  char why[256] = "";
  nat_capture_reader *r;
  int rv;
  if (out == NULL || fp == NULL)
    return NAT_EINVAL;
  *out = NULL;
  if (name == NULL)
    name = "-";
  r = calloc(1, sizeof *r);
  if (r != NULL)
    r->buf = malloc(READ_CHUNK);
  if (r == NULL || r->buf == NULL) {
    free(r);
    fclose(fp);
    return NAT_ENOMEM;
  }
  r->fp = fp;
  r->cap = READ_CHUNK;
  r->linktype = UINT32_MAX;
  snprintf(r->name, sizeof r->name, "%s", name);
  rv = open_any(r, why, sizeof why);
  if (rv == NAT_ENOMEM) {
    nat_capture_reader_close(r);
    return rv;
  }
  if (rv != 0) {
    one_line(why);
    if (r->ioerr)
      set_err(err, errlen, "%s: read error: %s", name, strerror(r->ioerrno));
    else
      set_err(err, errlen, "%s: not a readable pcap or pcapng capture (%s)",
              name, why);
    nat_capture_reader_close(r);
    return NAT_ECAPTURE;
  }
  if (r->fmt == FMT_PCAPNG) {
    /* usable if one interface described before the first packet is */
    bool any = false;
    for (uint32_t i = 0; i < r->nif && !any; i++)
      any = nat_capture_linktype_supported(r->ifs[i].linktype);
    if (!any) {
      rv = unsupported(r, r->ifs[0].linktype, err, errlen);
      nat_capture_reader_close(r);
      return rv;
    }
  } else if (!nat_capture_linktype_supported(r->linktype)) {
    rv = unsupported(r, r->linktype, err, errlen);
    nat_capture_reader_close(r);
    return rv;
  }
  *out = r;
  return 0;
}

int nat_capture_reader_open(nat_capture_reader **out, const char *path,
                            char *err, size_t errlen) {
  FILE *fp;
  int rv;
  if (out == NULL || path == NULL)
    return NAT_EINVAL;
  *out = NULL;
  errno = 0;
  fp = fopen(path, "rb");
  if (fp == NULL) {
    rv = errno != 0 ? -errno : NAT_ECAPTURE;
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(-rv));
    return rv;
  }
  return nat_capture_reader_open_fp(out, fp, path, err, errlen);
}

uint32_t nat_capture_reader_linktype(const nat_capture_reader *r) {
  if (r == NULL)
    return 0;
  return r->linktype == NAT_LINK_RAW_DLT ? (uint32_t)NAT_LINK_RAW : r->linktype;
}

const char *nat_capture_reader_strerror(const nat_capture_reader *r) {
  return r != NULL ? r->err : "";
}

void nat_capture_reader_stats(const nat_capture_reader *r,
                              nat_capture_stats *out) {
  if (out == NULL)
    return;
  nat__frag_stats fs;
  if (r == NULL) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = r->st;
  nat__frag_get_stats(r->frag, &fs);
  out->reason[NAT_CAPR_FRAGMENT] += fs.orphans;
  out->frag_reassembled = fs.reassembled;
  out->frag_used = fs.used;
  out->frag_dropped = fs.dropped;
  out->frag_timeout = fs.timeout;
  out->frag_evicted = fs.evicted;
  out->frag_bad = fs.bad;
  out->frag_duplicate = fs.duplicate;
}

void nat_capture_reader_close(nat_capture_reader *r) {
  if (r == NULL)
    return;
  if (r->fp != NULL)
    fclose(r->fp);
  nat__frag_free(r->frag);
  free(r->ifs);
  free(r->buf);
  free(r);
}
