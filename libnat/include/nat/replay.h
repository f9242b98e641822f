/* libnat -- replay: rebuild the observation log (nat/obs.h) from a stream
 * of captured STUN datagrams, so that a capture goes through the same
 * analyzers (nat/analyze.h, nat/verdict.h) as a live run.
 *
 * Pure: no I/O, no clock; timestamps come with the datagrams (capture
 * time). Feed datagrams in capture order with nat_replay_feed(), then call
 * nat_replay_finish() once to get the log.
 *
 * Pairing (RFC 8489 section 6.3, RFC 3489 section 9): Binding requests
 * and responses pair by transaction ID -- the 96-bit ID plus the magic
 * cookie, i.e. the whole 128-bit ID of classic RFC 3489 messages. RTT is
 * the response's timestamp minus the request's first transmission. The
 * same request seen again from the same source to the same destination is
 * a retransmission (counted; the observation's `transmissions`). A request
 * left unanswered for `timeout` of capture time after its last
 * transmission, or at the end of the capture, becomes an NAT_ETIMEDOUT
 * observation. Pending requests sit in a bounded table (`max_pending`);
 * when it is full the oldest one is closed as a timeout (counted as
 * evicted). Memory stays bounded: the table, a few small caches, and at
 * most `max_obs` observations.
 *
 * A response goes to the request's source, with one exception: a request
 * with RESPONSE-PORT (RFC 5780 section 7.5) asks the server to answer to
 * that port of its mapped IP, so its answer, sent from where the request
 * went, may arrive at another socket X of the same client IP: at that
 * port itself (no translation: a public host, or a capture outside the
 * NAT), or at the socket whose mapping an earlier answer showed with that
 * port. It pairs with the request (the observation stays the requesting
 * socket's: its mapped address is the requester's mapping); delivered
 * anywhere else it is a copy, as before.
 *
 * Hostile or odd packets are counted in nat_replay_diag and never trusted:
 *  - a response from an address the request did not go to, that is not
 *    where its CHANGE-REQUEST asked the answer to come from (the server's
 *    OTHER-ADDRESS / CHANGED-ADDRESS combination when known, else any
 *    address that differs the way the flags ask) -> `spoofed`, ignored:
 *    the request stays pending;
 *  - a response whose ID matches no request -> `unmatched`; one for a
 *    request already answered -> `duplicates`;
 *  - a datagram that does not decode as STUN -> `malformed` (feeding the
 *    reader's output never gives one: nat_capture_reader drops them and
 *    counts them as stun_malformed);
 *  - the same request or response seen a second time at another point of
 *    the path (a capture on a NAT box, `-i any` on both sides) -> `copies`.
 *
 * The client: the side sending Binding requests. With several requesting
 * IPs, `client` in the config picks one (netcheck --client ADDR) and the
 * observations of other requesters are dropped (counted in
 * `other_client_obs`). Without it, every requesting IP (at most
 * NAT_REPLAY_MAX_CLIENTS; the records of further ones are dropped and
 * counted) keeps its observations, grouped by IP at
 * nat_replay_finish(): the log and diag nat_replay_finish() gives are the
 * main client's -- the busiest real client (most first transmissions;
 * ties: the first to ask) -- and nat_replay_finish_client() gives each
 * other client's, tagged and judged on their own (server numbering,
 * tests, capture point and measurable bits per client). One pairing table
 * serves them all, so a transaction seen at two points (copies) or a
 * hairpin request arriving at a client socket is recognized across
 * clients, and a single-client capture costs little more. A requester
 * none of whose requests was answered and all of whose requests went to
 * other requesters' IPs is not a client (hairpin traffic arriving at a
 * client socket whose departure is not in the capture): it is never the
 * main client while a real one exists, and nat_replay_finish_client()
 * refuses it.
 *
 * Where the capture was taken: on the client host (inside the NAT), the
 * request's source is the client's private address and NAT presence shows
 * as mapped != local. Captured outside the NAT, the client's private
 * address is not in the capture: the local address recorded is the
 * request's source as seen there, which equals the mapped address, so the
 * log looks like a host with no NAT. The replay infers the point per
 * client (nat_replay_diag.point_inferred, request_ttl, point_reason),
 * from what nat_replay_feed_pkt() passes besides the message: the IP TTL
 * (IPv6 hop limit) of the client's first transmissions -- the most common
 * value, ties to the lowest -- and, in Linux cooked captures (SLL, SLL2:
 * `tcpdump -i any`), each request's direction. In order:
 *  (a) some response of the client shows mapped != local (a translation):
 *      captured inside the NAT (AT_CLIENT);
 *  (b) no translation, and the client's requests carry an initial TTL --
 *      64 (Linux, macOS, BSD), 128 (Windows) or 255 (network equipment);
 *      not 32 (rare) nor 1 (a hop probe's), which a forwarded datagram
 *      also carries -- so no router has forwarded them yet: captured on
 *      the sending host or its link; or, in a cooked capture, its requests
 *      are OUTGOING and never IN: sent by the capturing host itself. The
 *      servers saw the request's own source: there is no NAT, and NAT
 *      presence (NO), mapping, filtering, hairpinning and allocation are
 *      measurable as inside (AT_CLIENT). `netcheck --record` writes its
 *      own requests with TTL 64 (nat_capture_writer): a recording is
 *      taken on the host, and says so;
 *  (c) otherwise (a forwarded TTL such as 63, 127, 254, or nothing said):
 *      not known (AUTO): outside a NAT, or on a path with none. OUTSIDE is
 *      never inferred, only given.
 * Limits of (b): a NAT on the sending host itself that rewrites its own
 * traffic (SNAT of locally generated packets) or a NAT that does not
 * decrement the TTL, captured after it, looks like no NAT; give
 * capture_point OUTSIDE for such a capture. With capture_point AUTO, the
 * capture counts as inside (nat_replay_diag.inside) when the inferred
 * point is AT_CLIENT, and NAT presence is measurable only then (and some
 * request was answered); a configured point wins over the inference,
 * which is still reported. Outside, each
 * "socket" of the log is a mapping the NAT made, and a new mapping cannot
 * be told from a new client socket: an address-dependent NAT keeps one
 * public port for IP1:P1 and IP1:P2, and the analyzer's mapped == local
 * rule would call that endpoint-independent. So unless the capture is
 * known to be inside, mapping counts as measurable only when one source
 * was answered by two different server IPs with one and the same mapped
 * address (an endpoint-independent mapping; AD and APD never show).
 *
 * Test tagging: a live run records which RFC 5780 test each transaction
 * belonged to; a replay infers it from the shapes of verdict.h, per local
 * socket (the request's source address), at nat_replay_finish():
 *  - HAIRPIN: a request whose destination is a client socket's mapped
 *    address: another socket's (RFC 5780 section 4.5) or the sender's own
 *    (the classic `stun` client's test). It counts as answered (status 0) if
 *    the request is seen arriving at a client socket (a capture on the
 *    client host) or a response comes back from that mapped address. A
 *    capture that starts mid-run may show the target's mapped address only
 *    in a later answer: at nat_replay_finish() a plain request to any
 *    mapped address an answer of the client showed is a hairpin request
 *    too (and its arrival, counted as a copy until then, answers it). A
 *    plain request to the client's public IP (an answer's mapped IP) at a
 *    port no answer in the capture shows is a hairpin request too if it
 *    was seen arriving at a client socket (no server forwards a request
 *    to a client); unanswered and not seen arriving -- a hairpin request
 *    whose target is not in the capture -- it is left out of the log and
 *    counted as ignored: no server is made of it; answered and not seen
 *    arriving, it stays a server (a STUN server on the NAT's public
 *    address answers so too).
 *  - FILTERING: a socket that sent CHANGE-REQUEST with flags: its change
 *    requests and its plain requests to that server's primary address.
 *    Filtering is measurable (inside the NAT) if one of those plain
 *    requests was answered and sent no later than a change request (the
 *    analyzer rates change requests after that opening request), or if a
 *    change-IP request of the socket was answered from an IP the socket
 *    never sent anything to (verdict.h: that alone proves
 *    endpoint-independent filtering), or if the socket's change requests
 *    to the server's primary address opened the mapping themselves and
 *    show a dependent filter (verdict.h): with the server's alternate
 *    known (CHANGED-ADDRESS / OTHER-ADDRESS in any answer of that server),
 *    at least 3 unanswered change-IP requests and either at least 3
 *    unanswered change-port-only requests (APD) or a change-port-only
 *    request answered from another port of the primary IP (AD); tries
 *    are counted as requests, not retransmissions. The classic `stun`
 *    client sends its change requests from a second socket that sent no
 *    plain request: no opening request is made up for it; behind a full
 *    cone its change-IP answer makes filtering measurable (EI), behind
 *    other NATs, which drop that answer, its 7 + 7 unanswered (or
 *    change-port answered) tries make it measurable (AD / APD).
 *    A change request that asked its answer at another port than its
 *    socket's own (RESPONSE-PORT; its mapped port when known) and was
 *    never answered is left out of the log: the answer went towards
 *    another mapping (turnutils_stunclient asks for port + 1, which
 *    behind a NAT has none), so its loss says nothing about the socket's
 *    filter. One answered at another socket X is kept only as the proof
 *    of an endpoint-independent filter: a change-IP answer from an IP
 *    that X never sent to (turnutils_stunclient on a public host); any
 *    other is left out too (it tested X's filter, which the analyzer
 *    would read as the requesting socket's). At most 256 such answers
 *    per client are checked against X's requests; further ones are left
 *    out.
 *  - MAPPING: a socket that sent plain requests to at least two of one
 *    server's primary (IP1:P1), IP2:P1, IP2:P2 and IP1:P2 -- the server's
 *    alternates come from OTHER-ADDRESS (RFC 5780) or CHANGED-ADDRESS
 *    (RFC 3489) in its responses. The primary request is recorded once
 *    per test it belongs to (MAPPING and FILTERING when one socket did
 *    both, as turnutils_natdiscovery and the classic `stun` client do).
 *    netcheck's multi-destination allocation socket is not a mapping test
 *    (see ALLOCATION). Inside the NAT, mapping is measurable when one
 *    socket's MAPPING or BASIC observations have answers from two
 *    destinations (outside: see above).
 *  - Requests to a mapped address that equals the local address of the
 *    socket it belongs to (no translation: a host with a public address)
 *    are no hairpin test: nothing was translated that could turn back,
 *    the request went straight to that socket. They are left out of the
 *    log and counted as ignored (a live run with no NAT gives no hairpin
 *    verdict either; turnutils_natdiscovery -H on a public host).
 *  - ALLOCATION: at least two fresh sockets that each sent plain requests
 *    to one and the same destination only (hairpin requests aside: the
 *    hairpin test's socket B is also a fresh allocation socket), and
 *    netcheck's multi-destination allocation socket -- first a plain
 *    request to a server's primary address, then also its IP1:P2 (which
 *    no RFC 5780 mapping test asks), no CHANGE-REQUEST -- when at least
 *    one such fresh socket asked that server. As the live probe plan
 *    does, all their plain requests are recorded as ALLOCATION only.
 *    Inside the NAT, allocation is measurable when at least two answered
 *    ALLOCATION observations were made, or when the analyzer's own
 *    allocation rules (nat_analyze_allocation(), nat/verdict.h: the
 *    classifier, else the rules for few samples) decide over the log the
 *    replay gives: e.g. two sockets' preserved ports (the classic `stun`
 *    client answered on both sockets, turnutils_natdiscovery -m -f or -t
 *    behind a preserving NAT, turnutils_stunclient on a public host), or
 *    one socket's three mappings with a sequential step (-m behind an APD
 *    NAT). An undecided analyzer adds nothing.
 *  - BASIC: everything else. If a server has no BASIC observation in the
 *    end, a copy of its first plain request to the primary address is
 *    added as BASIC, so that reachability, public address and RTT are
 *    reported as a live run's first phase would.
 *  - LIFETIME: only from a RESPONSE-PORT probe to an idle socket. A plain
 *    request from socket Y with RESPONSE-PORT asks the server to answer
 *    to another socket X of the client (turnutils_natdiscovery -t -T 2:
 *    X asks IP1:P1, 2 s later Y asks IP1:P1 with RESPONSE-PORT = X's
 *    mapped port): X is where the answer was delivered, else the client
 *    socket whose own port, or whose mapping (the first answer mapped to
 *    the client's public IP at that port), is the RESPONSE-PORT. If X had
 *    an answered request before Y's, Y's request is also recorded as a
 *    NAT_OBS_LIFETIME observation with nat_obs.idle = Y's first
 *    transmission minus X's last datagram before it (a request's first
 *    transmission or its answer's arrival): status 0 when the answer
 *    arrived at X (X's mapping survived that idle time: lifetime_min),
 *    NAT_ETIMEDOUT when it never did (lifetime_max). An answer that came
 *    back to Y itself (a server that ignores RESPONSE-PORT) makes no
 *    probe. Lifetime is measurable only inside the NAT and where there is
 *    a translation (no NAT: a lifetime does not apply; outside: the
 *    arrival at X is not seen). Y's request keeps its other tags (its
 *    mapping is an allocation sample); idle is 0 on those. At most 256
 *    such requests are examined per client (each scans X's records; a
 *    live run's ladder has a handful, -t one): a hostile capture cannot
 *    make this quadratic.
 *  - Hop probes: netcheck sends Binding requests with TTL 1..N from its
 *    behaviour socket (nat/hops.h), mostly answered by routers with ICMP
 *    time-exceeded, which the capture reader skips. A live run keeps them
 *    out of the observation log; the replay leaves out every request of
 *    the client whose first transmission was captured with a TTL (hop
 *    limit) of at most 16 while the client's usual one (request_ttl) is
 *    at least 32, and counts it as hop_probes (its timeout or response is
 *    no longer counted). Captured on the NAT's uplink they show with TTL
 *    1..N-1 among the usual 63. Without TTLs (nat_replay_feed) none is
 *    recognized.
 * Servers: every destination of a plain request that is not another
 * server's alternate, numbered (server_idx) in order of first appearance,
 * at most NAT_REPLAY_MAX_SERVERS of them.
 *
 * Captures that start mid-run: an answer whose request is not in the
 * capture is unmatched and makes no observation; a retransmission whose
 * first transmission is not in it counts as a request (RTT from it); what
 * the missing part held (an opening request, an OTHER-ADDRESS, a mapped
 * address) is missing from the measurable bits. A cut capture knows less,
 * never something else (tests/replay/midrun.py).
 *
 * Cost: nat_replay_finish() takes O(n log n) time for n observations
 * (addresses are indexed by sorting, which no crafted capture can turn
 * quadratic) and O(n) memory besides the observations.
 */
#ifndef NAT_REPLAY_H
#define NAT_REPLAY_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/capture.h"
#include "nat/common.h"
#include "nat/obs.h"
#include "nat/stun.h"
#include "nat/verdict.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_replay nat_replay;

/** Where the capture was taken. */
typedef enum nat_replay_point {
  NAT_REPLAY_AUTO = 0,      /**< unknown: infer what can be inferred */
  NAT_REPLAY_AT_CLIENT = 1, /**< on the client host: local is private */
  NAT_REPLAY_OUTSIDE = 2    /**< between the NAT and the servers */
} nat_replay_point;

/** Configuration, copied by nat_replay_new(). Zero fields take defaults. */
typedef struct nat_replay_config {
  /** Pick the client (netcheck --client): requests from this IP (and
   * this port, if not 0) are the client's. NAT_AF_NONE: automatic. */
  nat_addr client;
  /** Capture time after a request's last transmission after which it is
   * a timeout; default 20 s (RFC 8489's schedule retransmits up to 16 s
   * apart). */
  nat_tstamp timeout;
  size_t max_pending;    /**< pending requests tracked; default 4096 */
  size_t max_obs;        /**< observations kept; default 100000 */
  uint8_t capture_point; /**< nat_replay_point */
} nat_replay_config;

/** Verdicts a capture can or cannot support (nat_replay_diag.measurable).
 */
enum {
  NAT_REPLAY_M_BASIC = 1u << 0,      /**< reachability, public address, RTT */
  NAT_REPLAY_M_NAT = 1u << 1,        /**< NAT presence */
  NAT_REPLAY_M_MAPPING = 1u << 2,    /**< mapping behaviour */
  NAT_REPLAY_M_FILTERING = 1u << 3,  /**< filtering behaviour */
  NAT_REPLAY_M_HAIRPIN = 1u << 4,    /**< hairpinning */
  NAT_REPLAY_M_ALLOCATION = 1u << 5, /**< port allocation pattern */
  NAT_REPLAY_M_LIFETIME = 1u << 6    /**< mapping lifetime: only from a
                                          RESPONSE-PORT probe to an idle
                                          socket (see LIFETIME above) */
};

/** Servers a replay numbers at most (nat_obs.server_idx is 16 bits):
 * the observations of further servers (only a hostile capture has that
 * many destinations) are left out and counted in
 * nat_replay_diag.server_overflow and obs_dropped. */
#define NAT_REPLAY_MAX_SERVERS 65535

/** Requesting IPs remembered in nat_replay_diag. */
#define NAT_REPLAY_MAX_CLIENTS 8

/** Size of nat_replay_diag.point_reason, with the NUL. */
#define NAT_REPLAY_REASON_LEN 256

/** What the replay saw. A plain value. */
typedef struct nat_replay_diag {
  uint64_t datagrams;        /**< fed */
  uint64_t requests;         /**< Binding requests, first transmissions */
  uint64_t retransmissions;  /**< same ID, source, destination again */
  uint64_t responses;        /**< responses paired with a request */
  uint64_t timeouts;         /**< requests never answered */
  uint64_t evicted;          /**< of which closed early: table full */
  uint64_t unmatched;        /**< responses without a request */
  uint64_t duplicates;       /**< responses to an answered request */
  uint64_t spoofed;          /**< responses from a wrong source */
  uint64_t copies;           /**< the same message seen at another point */
  uint64_t malformed;        /**< not decodable as STUN */
  uint64_t ignored;          /**< other methods, indications, requests to
                                  the client (ICE checks) */
  uint64_t hairpin_arrivals; /**< hairpin requests seen arriving */
  uint64_t obs_dropped;      /**< transactions not kept: beyond max_obs,
                                  or server_overflow */
  uint64_t other_client_obs; /**< observations of non-client requesters */
  uint64_t server_overflow;  /**< observations of servers beyond
                                  NAT_REPLAY_MAX_SERVERS, left out */
  uint64_t hop_probes;       /**< the client's hop probes (nat/hops.h:
                                  a small TTL), left out of the log */
  uint64_t frag_requests;    /**< Binding requests (every transmission)
                                  that came as IP fragments
                                  (nat_capture_pkt.reassembled) */
  nat_addr client;           /**< the client's IP (port 0) */
  size_t nclients;           /**< requesting IPs seen (capped) */
  nat_addr clients[NAT_REPLAY_MAX_CLIENTS];
  uint64_t client_requests[NAT_REPLAY_MAX_CLIENTS];
  uint64_t change_requests;  /**< requests with CHANGE-REQUEST flags */
  uint64_t hairpin_requests; /**< requests to another socket's mapping */
  size_t nservers;           /**< servers identified (capped at
                                  NAT_REPLAY_MAX_SERVERS) */
  uint8_t capture_point;     /**< nat_replay_point, as configured */
  bool saw_translation;      /**< some response had mapped != local */
  bool inside;               /**< the capture is known to be on the client
                                  side of the NAT: AT_CLIENT, or AUTO with
                                  point_inferred AT_CLIENT (a translation,
                                  or the sending host's own capture).
                                  Filtering, hairpinning
                                  and allocation need it: outside the NAT,
                                  answers the NAT then drops are seen, and
                                  the internal ports are not. Without it,
                                  mapping needs a source answered by two
                                  server IPs with one mapped address. */
  uint32_t measurable;       /**< NAT_REPLAY_M_* bits */
  /** Where the capture itself says it was taken (see "Where the capture
   * was taken"), whatever capture_point was configured: AT_CLIENT or
   * AUTO (not known); OUTSIDE is never inferred. */
  uint8_t point_inferred;
  /** The TTL / hop limit most of the client's first transmissions carry
   * (ties: the lowest); 0 when the capture does not say (nat_replay_feed
   * and nat_replay_feed_msg carry none). */
  uint8_t request_ttl;
  /** The client's requests seen leaving the capturing host (Linux cooked
   * capture, OUTGOING) and arriving at it (IN). */
  uint64_t requests_outgoing, requests_in;
  /** One line: why point_inferred is what it is. */
  char point_reason[NAT_REPLAY_REASON_LEN];
} nat_replay_diag;

/** Create a replay. @p cfg is copied (NULL: defaults).
 * @return 0, NAT_EINVAL (NULL out, client family other than none/v4/v6),
 *         NAT_ENOMEM. */
NAT_EXTERN int nat_replay_new(nat_replay **out, const nat_replay_config *cfg);

/** Free @p r (NULL is fine). */
NAT_EXTERN void nat_replay_free(nat_replay *r);

/** Feed one captured UDP datagram: @p len bytes at @p buf from @p src to
 * @p dst at capture time @p ts (ns; any epoch, non-decreasing apart from
 * small reorderings). Non-STUN data is counted as malformed and ignored.
 * @return 0, NAT_EINVAL (NULL argument, after finish). */
NAT_EXTERN int nat_replay_feed(nat_replay *r, nat_tstamp ts,
                               const nat_addr *src, const nat_addr *dst,
                               const uint8_t *buf, size_t len);

/** Same with a message already decoded (nat_capture_pkt.msg), which saves
 * decoding it twice. @return as nat_replay_feed(). */
NAT_EXTERN int nat_replay_feed_msg(nat_replay *r, nat_tstamp ts,
                                   const nat_addr *src, const nat_addr *dst,
                                   const nat_stun_msg *m);

/** Same with what the capture says besides the bytes: the record's IP
 * TTL / hop limit, direction (Linux cooked captures) and link type, which
 * the capture-point inference weighs (see "Where the capture was taken").
 * @p p->msg must be set (nat_capture_reader_next() sets it).
 * @return as nat_replay_feed(). */
NAT_EXTERN int nat_replay_feed_pkt(nat_replay *r, const nat_capture_pkt *p);

/** True when the capture cannot tell whether UDP passes: no request was
 * answered and every transmission of every request came as IP fragments
 * (diag frag_requests). Dropped fragments (a NAT or firewall that
 * forwards no fragment: natbox, many middleboxes) cannot be told from a
 * path without UDP, so a caller should report UDP reachability as
 * unknown rather than "blocked" (netcheck --replay: JSON udp null);
 * nat_replay_mask() then adds the explain line "Replay: UDP reachability
 * not measurable from this capture: ...". */
NAT_EXTERN bool nat_replay_udp_unknown(const nat_replay_diag *d);

/** End of the capture: pending requests become timeouts, tests are
 * tagged, and the observations are appended to @p log in order of first
 * transmission (sent_at: ns since the first datagram fed). Call once.
 * @return 0, NAT_EINVAL (NULL, called twice), NAT_ENOMEM (@p log keeps
 *         what was appended). */
NAT_EXTERN int nat_replay_finish(nat_replay *r, nat_obslog *log);

/** After nat_replay_finish() without config.client: tag the observations
 * of requesting IP @p i (nat_replay_diag.clients[i]) on their own and
 * append them to @p log, as nat_replay_finish() does for the main client
 * (the busiest one), so that each client of a capture gets its own
 * verdict (nat_replay_verdict() with @p out). @p out gets the diag of that
 * client: client, measurable, inside, saw_translation, nservers, the
 * capture point inferred for it, its request_ttl, server_overflow and
 * other_client_obs are its own; the other counters are the capture's as
 * paired, with this client's late hairpin requests (see HAIRPIN) moved.
 * May be called for each i, the main client's included.
 * @return 0; NAT_ENOTFOUND if requester @p i is not a client: none of its
 *         requests was answered and all went to other clients' IPs (a
 *         hairpin request arriving at a client socket, its departure not
 *         in the capture); NAT_EINVAL (NULL, before nat_replay_finish(),
 *         config.client set, @p i >= nclients); NAT_ENOMEM. */
NAT_EXTERN int nat_replay_finish_client(nat_replay *r, size_t i,
                                        nat_obslog *log, nat_replay_diag *out);

/** Counters and the measurable bits (final after nat_replay_finish()). */
NAT_EXTERN void nat_replay_get_diag(const nat_replay *r, nat_replay_diag *out);

/** Why a verdict is not measurable from this capture, one phrase for the
 * report ("no CHANGE-REQUEST probes in the capture"); "" if @p bit is
 * measurable. @p bit is one NAT_REPLAY_M_* value. */
NAT_EXTERN const char *nat_replay_strerror(const nat_replay_diag *d,
                                           uint32_t bit);

/** The verdicts a replay withholds when the capture cannot show them:
 * every NAT_REPLAY_M_* bit but BASIC (without BASIC there is nothing to
 * replay). */
#define NAT_REPLAY_M_MASKABLE                                                  \
  (NAT_REPLAY_M_NAT | NAT_REPLAY_M_MAPPING | NAT_REPLAY_M_FILTERING |          \
   NAT_REPLAY_M_HAIRPIN | NAT_REPLAY_M_ALLOCATION | NAT_REPLAY_M_LIFETIME)

/** The name of verdict @p bit (one NAT_REPLAY_M_* value), as netcheck's
 * report keys it: "basic", "nat_present", "mapping", "filtering",
 * "hairpinning", "allocation", "lifetime"; "unknown" for anything else. */
NAT_EXTERN const char *nat_replay_bit_name(uint32_t bit);

/** Withhold from @p v, the verdict of a replay's log, what the capture
 * cannot show: each NAT_REPLAY_M_MASKABLE bit missing from
 * @p d->measurable, so that a replay says "unknown" where it could only
 * guess (see "Where the capture was taken" above). Withheld:
 *  - NAT: nat_present (overall, per family, per server), double_nat and
 *    carrier_nat become NAT_TRI_UNKNOWN, double_nat_reason "not
 *    measurable from this capture: WHY";
 *  - MAPPING: mapping NAT_BEH_UNKNOWN, mapping_varies unknown,
 *    rfc5780_used false, difficulty 0, self_class NAT_PEER_CLASSES;
 *  - FILTERING: filtering NAT_BEH_UNKNOWN, filtering_unsupported false;
 *  - HAIRPIN: hairpinning unknown;
 *  - ALLOCATION: alloc kind NAT_PA_UNKNOWN, delta and confidence 0, parity
 *    unknown, no prediction, and a NAT_PEER_HARD_SEQUENTIAL self_class
 *    (which rests on the allocation) NAT_PEER_CLASSES;
 *  - LIFETIME: lifetime_min and lifetime_max 0.
 * The evidence of each withheld fact (v->evidence[NAT_FACT_NAT, MAPPING,
 * FILTERING, HAIRPIN, ALLOCATION] for the bits NAT, MAPPING, FILTERING,
 * HAIRPIN, ALLOCATION) gets confidence 0 and the reason "not measurable
 * from this capture: WHY" (nat_replay_strerror); lifetime has no fact.
 * Kept: reachability, public addresses, RTTs, pooling, the per-server
 * basic results but their nat_present, and every measurable verdict. When
 * mapping, filtering or allocation is withheld from a UDP-reachable host,
 * the strategy table is redone (nat_strategy_for) from what is left.
 * Each withheld verdict but lifetime adds an explain line "Replay: NAME
 * not measurable from this capture: WHY" (nat_replay_bit_name,
 * nat_replay_strerror) while v->explain has room, and so does UDP
 * reachability when nat_replay_udp_unknown(@p d). Pure.
 * @return the NAT_REPLAY_M_* bits withheld (0 if @p v or @p d is NULL). */
NAT_EXTERN uint32_t nat_replay_mask(nat_verdict *v, const nat_replay_diag *d);

/** The verdict of a replay, as netcheck --replay gives it:
 * nat_verdict_compute() over @p log (nat_replay_finish()'s), then
 * nat_replay_mask() with @p d (nat_replay_get_diag()'s). @p masked (may
 * be NULL) gets the bits withheld. Double NAT rests on the log's rules
 * only (nat/verdict.h): a replay keeps no hop probe (they are left out,
 * see "Hop probes"; their ICMP answers are not read) and no gateway
 * answer, so an unknown double_nat_reason ends with "; no hop probe or
 * port-mapping answer in a capture".
 * @return 0, NAT_EINVAL (NULL @p v, @p log or @p d), NAT_ENOMEM. */
NAT_EXTERN int nat_replay_verdict(nat_verdict *v, const nat_obslog *log,
                                  const nat_replay_diag *d, uint32_t *masked);

#ifdef __cplusplus
}
#endif
#endif
