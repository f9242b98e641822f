/* The streaming capture reader (nat/capture.h). A driver file: the only
 * one that calls libpcap. One record at a time; nothing accumulates. */
#include <errno.h>
#include <stdbool.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/capture.h"
#include "nat/error.h"

struct nat_capture_reader {
  pcap_t *p;
  char name[256];
  uint32_t dlt;     /* pcap_datalink(): what nat_capture_decode() gets */
  uint64_t record;  /* records read so far */
  long next_offset; /* byte offset of the next record, -1 if unknown */
  bool classic;     /* classic pcap: offsets are counted, not asked for
                       (ftell costs a system call per record) */
  int failed;       /* sticky NAT_ECAPTURE */
  nat_capture_stats st;
  nat_stun_msg msg;
  char err[NAT_CAPTURE_ERRLEN];
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

/* libpcap's open errors are full sentences; keep them on one line. */
static void one_line(char *s) {
  for (; *s != '\0'; s++)
    if (*s == '\n' || *s == '\r')
      *s = ' ';
}

int nat_capture_reader_open_fp(nat_capture_reader **out, FILE *fp,
                               const char *name, char *err, size_t errlen) {
  char pe[PCAP_ERRBUF_SIZE] = "";
  nat_capture_reader *r;
  if (out == NULL || fp == NULL)
    return NAT_EINVAL;
  *out = NULL;
  if (name == NULL)
    name = "-";
  r = calloc(1, sizeof *r);
  if (r == NULL) {
    fclose(fp);
    return NAT_ENOMEM;
  }
  snprintf(r->name, sizeof r->name, "%s", name);
  r->p = pcap_fopen_offline_with_tstamp_precision(
      fp, PCAP_TSTAMP_PRECISION_NANO, pe);
  if (r->p == NULL) {
    one_line(pe);
    set_err(err, errlen,
            "%s: not a readable pcap or pcapng capture (libpcap: %s)", name,
            pe);
    free(r);
    fclose(fp); /* libpcap leaves it open when it fails */
    return NAT_ECAPTURE;
  }
  r->dlt = (uint32_t)pcap_datalink(r->p);
  if (!nat_capture_linktype_supported(r->dlt)) {
    const char *lt_name = pcap_datalink_val_to_name((int)r->dlt);
    set_err(err, errlen,
            "%s: link type %s (%u) is not supported; supported: EN10MB, "
            "LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP",
            name, lt_name != NULL ? lt_name : "unknown", r->dlt);
    pcap_close(r->p); /* closes fp */
    free(r);
    return NAT_EUNSUPPORTED;
  }
  r->next_offset = ftell(fp);
  /* the classic file header is 24 bytes; a pcapng section header alone
   * is at least 28 */
  r->classic = r->next_offset == 24;
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

/* The record the reader is about to fail on, named for people. */
static void record_failed(nat_capture_reader *r, const char *why) {
  char where[64] = "";
  if (r->next_offset >= 0)
    snprintf(where, sizeof where, " (byte offset %ld)", r->next_offset);
  const char *hint = strstr(why, "truncated") != NULL
                         ? " (the file ends inside this record: a capture "
                           "cut short?)"
                         : "";
  set_err(r->err, sizeof r->err,
          "%s: damaged capture at record %llu%s, after %llu good records: "
          "%s%s",
          r->name, (unsigned long long)(r->record + 1), where,
          (unsigned long long)r->record, why, hint);
  one_line(r->err);
  r->failed = 1;
}

/* Decode one record; 1 if it holds STUN (out filled), else 0. */
static int take_record(nat_capture_reader *r, const struct pcap_pkthdr *h,
                       const u_char *data, nat_capture_pkt *out) {
  nat_capture_frame f;
  if (nat_capture_decode(r->dlt, data, h->caplen, &f) != 0) {
    r->st.reason[f.reason < NAT_CAPR_COUNT ? f.reason : 0]++;
    return 0;
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
  out->ts = (nat_tstamp)h->ts.tv_sec * NAT_SECONDS + (nat_tstamp)h->ts.tv_usec;
  out->record = r->record;
  out->src = f.src;
  out->dst = f.dst;
  out->payload = f.payload;
  out->len = f.len;
  out->msg = &r->msg;
  out->linktype = r->dlt;
  out->ifindex = 0;
  out->ttl = f.ttl;
  out->dir = f.dir;
  return 1;
}

int nat_capture_reader_next(nat_capture_reader *r, nat_capture_pkt *out) {
  struct pcap_pkthdr *h;
  const u_char *data;
  if (r == NULL || out == NULL)
    return NAT_EINVAL;
  if (r->failed)
    return NAT_ECAPTURE;
  for (;;) {
    int rc = pcap_next_ex(r->p, &h, &data);
    if (rc == PCAP_ERROR_BREAK) /* end of file */
      return 0;
    if (rc != 1) {
      record_failed(r, pcap_geterr(r->p));
      return NAT_ECAPTURE;
    }
    r->record++;
    r->st.records++;
    if (r->classic) {
      r->next_offset += 16 + (long)h->caplen;
    } else if (r->next_offset >= 0) {
      FILE *fp = pcap_file(r->p);
      r->next_offset = fp != NULL ? ftell(fp) : -1;
    }
    if (take_record(r, h, data, out))
      return 1;
  }
}

uint32_t nat_capture_reader_linktype(const nat_capture_reader *r) {
  if (r == NULL)
    return 0;
  return r->dlt == NAT_LINK_RAW_DLT ? (uint32_t)NAT_LINK_RAW : r->dlt;
}

const char *nat_capture_reader_strerror(const nat_capture_reader *r) {
  return r != NULL ? r->err : "";
}

void nat_capture_reader_stats(const nat_capture_reader *r,
                              nat_capture_stats *out) {
  if (out == NULL)
    return;
  if (r == NULL)
    memset(out, 0, sizeof *out);
  else
    *out = r->st;
}

void nat_capture_reader_close(nat_capture_reader *r) {
  if (r == NULL)
    return;
  pcap_close(r->p);
  free(r);
}
