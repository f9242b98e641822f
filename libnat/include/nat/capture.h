/* libnat -- captured traces: frame decoding, a streaming pcap/pcapng
 * reader and a pcap writer (no libpcap: libnat reads and writes the
 * files itself).
 *
 * Three layers, used by `netcheck --record` and `netcheck --replay`:
 *
 *  - nat_capture_decode() (pure, no I/O): one captured frame of a given
 *    link type -> the UDP datagram inside it (source, destination,
 *    payload), or the specific reason it is not one. Link types: Ethernet
 *    (with 802.1Q / 802.1ad VLAN tags), Linux cooked v1 and v2 (what
 *    `tcpdump -i any` writes), raw IP (LINKTYPE_RAW, DLT_RAW,
 *    LINKTYPE_IPV4, LINKTYPE_IPV6), BSD loopback (DLT_NULL and DLT_LOOP,
 *    the family word in either byte order). IPv4 with options; IPv6 with
 *    hop-by-hop, routing and destination-options headers skipped.
 *    Fragments (IPv4 MF/offset, the IPv6 fragment header) are refused
 *    here (NAT_CAPR_FRAGMENT): a frame holds one fragment, not a datagram.
 *
 *  - nat_capture_reader (driver, stdio): streams a classic pcap file
 *    (micro- or nanosecond, either byte order) or a pcapng file (several
 *    sections in either byte order; interfaces each with its own link
 *    type, if_tsresol and if_tsoffset; Enhanced, Simple and obsolete
 *    Packet Blocks; other blocks skipped) record by record and returns
 *    each datagram whose payload is a STUN message by CONTENT, on any
 *    port: nat_stun_decode() accepts it (RFC 5389/8489 messages and
 *    classic RFC 3489 ones). IP fragments (IPv4 and IPv6) are
 *    reassembled first: at most 64 datagrams at a time, each at most
 *    65,535 bytes, dropped 30 s of capture time after their first
 *    fragment; overlaps drop the datagram (RFC 5722); all counted
 *    (nat_capture_stats.frag_*). Memory stays flat whatever the file's
 *    size: one bounded buffer (at most 384 KiB), plus, once fragments
 *    appear, at most 4 MiB of reassembly buffers; a packet over 262,144
 *    bytes or a pcapng block over 327,680 is refused as damage.
 *
 *  - nat_capture_writer (driver, stdio): writes a classic pcap file
 *    (nanosecond timestamps) in which each datagram gets a synthesized
 *    IPv4 or IPv6 + UDP header (valid checksums) and, for Ethernet, a
 *    synthesized Ethernet header, so that `tshark -r FILE -Y stun`
 *    dissects it and nat_capture_reader reads it back unchanged.
 *
 * In the tree: libnat/src/capture/ (this header is its main one, with
 * replay.h): captures read (capture_pcap.c, capture_decode.c,
 * capture_frag.c) and written
 * (capture_write.c), and replays: a capture's STUN exchanges paired into the
 * observation log that analyze/ judges (replay.c, then replay_tag.c), with
 * what a capture cannot show withheld (replay_mask.c). Uses stun/, txn/'s
 * names, analyze/.
 */
#ifndef NAT_CAPTURE_H
#define NAT_CAPTURE_H

#include <stdbool.h>
#include <stdio.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/stun.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Link types, as the LINKTYPE_ values stored in pcap and pcapng files
 * (the DLT_ value of raw IP, 12 on Linux, differs from its LINKTYPE_
 * value 101: both are accepted). */
typedef enum nat_linktype {
  NAT_LINK_NULL = 0,        /**< BSD loopback, family in host order */
  NAT_LINK_ETHERNET = 1,    /**< DLT_EN10MB */
  NAT_LINK_RAW_DLT = 12,    /**< DLT_RAW on Linux: raw IPv4/IPv6 */
  NAT_LINK_RAW = 101,       /**< LINKTYPE_RAW: raw IPv4/IPv6 */
  NAT_LINK_LOOP = 108,      /**< OpenBSD loopback, family big-endian */
  NAT_LINK_LINUX_SLL = 113, /**< Linux cooked capture v1 */
  NAT_LINK_IPV4 = 228,      /**< raw IPv4 only */
  NAT_LINK_IPV6 = 229,      /**< raw IPv6 only */
  NAT_LINK_LINUX_SLL2 = 276 /**< Linux cooked capture v2 */
} nat_linktype;

/** Why a frame did not give a UDP datagram (nat_capture_frame.reason). */
typedef enum nat_capture_reason {
  NAT_CAPR_OK = 0,
  NAT_CAPR_LINKTYPE = 1,   /**< link type not supported */
  NAT_CAPR_TRUNC_LINK = 2, /**< frame shorter than its link header */
  NAT_CAPR_NOT_IP = 3,     /**< not IPv4/IPv6 (ARP, LLDP, ...) */
  NAT_CAPR_BAD_IP = 4,     /**< bad IP version, header or total length */
  NAT_CAPR_TRUNC_IP = 5,   /**< IP header or payload cut by the snaplen */
  NAT_CAPR_FRAGMENT = 6,   /**< IPv4 fragment or IPv6 fragment header */
  NAT_CAPR_BAD_EXTHDR = 7, /**< IPv6 extension header chain overruns */
  NAT_CAPR_NOT_UDP = 8,    /**< another transport (TCP, ICMP, ESP, ...) */
  NAT_CAPR_BAD_UDP = 9,    /**< UDP length < 8 or beyond the IP payload */
  NAT_CAPR_TRUNC_UDP = 10, /**< UDP payload cut by the snaplen */
  NAT_CAPR_COUNT = 11
} nat_capture_reason;

/** Which way a frame went, where the link header says so (Linux cooked
 * captures: the packet type of SLL and SLL2). */
typedef enum nat_capture_dir {
  NAT_CAPDIR_UNKNOWN = 0, /**< the link header does not say */
  NAT_CAPDIR_IN = 1,      /**< to this host (unicast, broadcast, multicast,
                               or another host's seen promiscuously) */
  NAT_CAPDIR_OUTGOING = 2 /**< sent by this host (SLL packet type 4) */
} nat_capture_dir;

/** One decoded frame: the UDP datagram inside it. */
typedef struct nat_capture_frame {
  uint8_t reason;         /**< nat_capture_reason */
  uint8_t ip_version;     /**< 4 or 6 once the IP header was read, else 0 */
  uint8_t ttl;            /**< IPv4 TTL or IPv6 hop limit, once the IP
                               header was read (else 0) */
  uint8_t dir;            /**< nat_capture_dir */
  nat_addr src, dst;      /**< UDP source and destination */
  const uint8_t *payload; /**< into the frame given to the decoder */
  size_t len;             /**< UDP payload length (UDP length - 8) */
} nat_capture_frame;

/** Decode one captured frame of link type @p linktype: @p caplen bytes at
 * @p frame (the bytes that were captured). Checks every length against
 * @p caplen; an IPv4 total length, IPv6 payload length or UDP length that
 * claims more than was captured gives a TRUNC reason; trailing bytes after
 * the IP packet (Ethernet padding) are ignored. The UDP checksum is not
 * checked (captures of the sending host carry offloaded, unfinished
 * checksums).
 * @param out  filled on success and on failure (reason set; ip_version,
 *             src and dst as far as they were read).
 * @return 0; NAT_EUNSUPPORTED for an unsupported link type; NAT_EFRAME
 *         for every other frame that is not a whole, unfragmented UDP
 *         datagram (out->reason says which); NAT_EINVAL for NULL. */
NAT_EXTERN int nat_capture_decode(uint32_t linktype, const uint8_t *frame,
                                  size_t caplen, nat_capture_frame *out);

/** True if nat_capture_decode() supports @p linktype (LINKTYPE_ or the
 * equivalent DLT_ value). */
NAT_EXTERN bool nat_capture_linktype_supported(uint32_t linktype);

/** Short name of a nat_capture_reason ("fragment", "not-udp", ...). */
NAT_EXTERN const char *nat_capture_reason_name(uint8_t reason);

/* ------------------------------------------------------------- reader */

typedef struct nat_capture_reader nat_capture_reader;

/** One STUN datagram from a capture. Valid until the next call on the
 * reader. A datagram reassembled from IP fragments has the timestamp and
 * record number of the fragment that completed it, and the TTL and
 * direction of its first fragment (offset 0). */
typedef struct nat_capture_pkt {
  nat_tstamp ts;     /**< record timestamp, ns since the Unix epoch
                          (pcapng: from its interface's if_tsresol, plus
                          its if_tsoffset; 0 for a Simple Packet Block,
                          which has none) */
  uint64_t record;   /**< 1-based record number in the file (pcapng:
                          packet blocks only, over all sections) */
  nat_addr src, dst; /**< UDP endpoints */
  const uint8_t *payload;
  size_t len;
  const nat_stun_msg *msg; /**< the decoded STUN message (over payload) */
  uint32_t linktype;       /**< the record's link type, as stored in the
                                file (pcapng: its interface's) */
  uint32_t ifindex;        /**< pcapng interface index within its section
                                (0 in pcap) */
  uint8_t ttl;             /**< IPv4 TTL / IPv6 hop limit as captured */
  uint8_t dir;             /**< nat_capture_dir */
  bool reassembled;        /**< the datagram came as IP fragments */
} nat_capture_pkt;

/** What the reader has seen so far. */
typedef struct nat_capture_stats {
  uint64_t records;        /**< records read */
  uint64_t udp;            /**< records that held a whole UDP datagram */
  uint64_t stun;           /**< of which STUN (returned) */
  uint64_t stun_malformed; /**< UDP payloads that pass nat_stun_is_stun()
                               (cookie, length) but fail nat_stun_decode():
                               hostile or damaged, counted, not returned */
  uint64_t not_stun;       /**< other UDP payloads (QUIC, DNS, ...) */
  uint64_t reason[NAT_CAPR_COUNT]; /**< frames refused, per reason
                                       (a pcapng interface of an
                                       unsupported link type: each of
                                       its packets, NAT_CAPR_LINKTYPE);
                                       a reassembled datagram that is
                                       not UDP counts once here.
                                       NAT_CAPR_FRAGMENT: fragment
                                       records part of no whole
                                       datagram (cut by the snaplen,
                                       of a datagram dropped, identical
                                       copies), counted when the reader
                                       gives up on them */
  /* IP fragment reassembly (IPv4 and IPv6). Once the end of the file is
   * reached or the reader failed (NAT_ECAPTURE), records +
   * frag_reassembled == udp + the sum of reason[] + frag_used (before,
   * the fragments still held count nowhere). */
  uint64_t frag_reassembled; /**< datagrams rebuilt from fragments (each
                                  then counted once in udp or reason[]) */
  uint64_t frag_used;        /**< fragment records that went into them */
  uint64_t frag_dropped;     /**< partial datagrams given up: the next
                                  three, a buffer that could not be
                                  allocated, and those unfinished at the
                                  end of the file */
  uint64_t frag_timeout;     /**< of which: no fragment completed them
                                  within 30 s of capture time after
                                  their first */
  uint64_t frag_evicted;     /**< of which: the oldest of 64 in
                                  reassembly, evicted for a new one */
  uint64_t frag_bad;         /**< of which: an overlapping or inconsistent
                                  fragment (RFC 5722: the whole datagram
                                  goes; later fragments of it too), data
                                  beyond 65,535 bytes, a non-last fragment
                                  empty or not a multiple of 8 bytes,
                                  over 64 fragments */
  uint64_t frag_duplicate;   /**< fragments identical to one held
                                  (retransmitted or captured twice):
                                  ignored */
} nat_capture_stats;

/** Longest message nat_capture_reader_strerror() returns, with the NUL. */
#define NAT_CAPTURE_ERRLEN 512

/** Open the pcap or pcapng file @p path for streaming. Reads the file
 * header (pcapng: the first section's blocks up to its first packet, so
 * that the interfaces described before it are known).
 * @return 0; a negative errno (UV_ENOENT, UV_EACCES, ... -- libuv's codes
 *         are negative errno values) if the file cannot be opened;
 *         NAT_ECAPTURE if it is not a capture the reader takes (empty,
 *         wrong magic, unsupported version, damaged header or section
 *         header, no interface described before the first packet, a read
 *         error); NAT_EUNSUPPORTED if its link type (pcapng: that of every
 *         interface described before the first packet) is not one
 *         nat_capture_decode() knows; NAT_ENOMEM; NAT_EINVAL. On every
 *         error but NAT_EINVAL and NAT_ENOMEM, @p err (if not NULL) gets a
 *         one-line message naming the file (@p errlen bytes,
 *         NAT_CAPTURE_ERRLEN is enough). */
NAT_EXTERN int nat_capture_reader_open(nat_capture_reader **out,
                                       const char *path, char *err,
                                       size_t errlen);

/** Same as nat_capture_reader_open() on a stream open for reading (a pipe
 * works: the file is read front to back). The reader takes @p fp over in
 * every case but NAT_EINVAL: nat_capture_reader_close() closes it, and so
 * does a failed open. @p name is used in messages ("-" for stdin). */
NAT_EXTERN int nat_capture_reader_open_fp(nat_capture_reader **out, FILE *fp,
                                          const char *name, char *err,
                                          size_t errlen);

/** The next STUN datagram. Records that are not STUN are counted in the
 * stats and skipped.
 * @return 1 and @p out filled; 0 at the end of the file; NAT_ECAPTURE if
 *         the file is damaged (truncated record, garbage record header,
 *         a pcapng block whose lengths do not add up, a packet of an
 *         interface the section does not describe) or cannot be read:
 *         nat_capture_reader_strerror() then names the record number (of
 *         the next packet) and the byte offset (of the record or block at
 *         fault), and later calls return NAT_ECAPTURE again. */
NAT_EXTERN int nat_capture_reader_next(nat_capture_reader *r,
                                       nat_capture_pkt *out);

/** The link type of the capture (LINKTYPE_ value, DLT_RAW given as
 * NAT_LINK_RAW; for pcapng, the first interface's, even when that one is
 * not supported and a later one is). */
NAT_EXTERN uint32_t nat_capture_reader_linktype(const nat_capture_reader *r);

/** The last error message ("" if none). */
NAT_EXTERN const char *nat_capture_reader_strerror(const nat_capture_reader *r);

NAT_EXTERN void nat_capture_reader_stats(const nat_capture_reader *r,
                                         nat_capture_stats *out);

/** Close the file and free @p r. NULL is fine. */
NAT_EXTERN void nat_capture_reader_close(nat_capture_reader *r);

/* ------------------------------------------------------------- writer */

typedef struct nat_capture_writer nat_capture_writer;

/** Create (truncate) @p path and write a classic pcap header with
 * nanosecond timestamps and link type @p linktype: NAT_LINK_RAW (each
 * record is an IPv4 or IPv6 packet) or NAT_LINK_ETHERNET (with
 * synthesized locally administered MAC addresses).
 * @return 0, NAT_EINVAL (NULL, other link type), a negative errno from
 *         opening or writing, NAT_ENOMEM. */
NAT_EXTERN int nat_capture_writer_open(nat_capture_writer **out,
                                       const char *path, uint32_t linktype);

/** Append one UDP datagram @p buf (@p len bytes) from @p src to @p dst
 * (same family, not NAT_AF_NONE) at @p ts (ns since the Unix epoch). The
 * IPv4 header gets a valid header checksum, the UDP header a valid
 * checksum over the pseudo-header; hop limit 64.
 * @return 0; NAT_EINVAL (NULL, families differ or none, @p len over
 *         65507 for IPv4 or 65527 for IPv6); a negative errno if the
 *         write failed (the error is sticky: later writes return it). */
NAT_EXTERN int nat_capture_writer_write(nat_capture_writer *w, nat_tstamp ts,
                                        const nat_addr *src,
                                        const nat_addr *dst, const uint8_t *buf,
                                        size_t len);

/** Flush, close and free @p w (NULL is fine).
 * @return 0, or the first write/flush/close error as a negative errno. */
NAT_EXTERN int nat_capture_writer_close(nat_capture_writer *w);

#ifdef __cplusplus
}
#endif
#endif
