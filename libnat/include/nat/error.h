/* libnat -- error codes.
 *
 * Functions return 0 or a negative code. libnat's own codes live in
 * [-5999, -5000]; libuv's negative errno values (UV_E*) pass through
 * unchanged, and nat_strerror()/nat_err_name() describe them too.
 * A STUN error response (e.g. 401, 420) is data, not a NAT_E* code. */
#ifndef NAT_ERROR_H
#define NAT_ERROR_H

#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message) */
#define NAT_ERRNO_MAP(XX)                                                      \
  XX(EINVAL, -5001, "invalid argument")                                        \
  XX(ENOMEM, -5002, "out of memory")                                           \
  XX(ENOBUFS, -5003, "output buffer too small")                                \
  XX(ETRUNC, -5004, "STUN message truncated")                                  \
  XX(ENOTSTUN, -5005, "not a STUN message")                                    \
  XX(EBADLEN, -5006,                                                           \
     "STUN message length is not a multiple of 4 or "                          \
     "does not match the datagram")                                            \
  XX(EATTRLEN, -5007, "STUN attribute overruns the message")                   \
  XX(EPADDING, -5008, "STUN attribute padding missing")                        \
  XX(EBADFAMILY, -5009, "bad address family in STUN attribute")                \
  XX(EBADATTR, -5010, "malformed STUN attribute value")                        \
  XX(EFINGERPRINT, -5011, "STUN FINGERPRINT mismatch")                         \
  XX(EATTRORDER, -5012, "STUN attribute after FINGERPRINT")                    \
  XX(EINTEGRITY, -5013, "STUN MESSAGE-INTEGRITY mismatch")                     \
  XX(ENOINTEGRITY, -5014, "STUN message has no MESSAGE-INTEGRITY")             \
  XX(ETOOMANYATTRS, -5015, "too many STUN attributes")                         \
  XX(EBADCLASS, -5016, "invalid STUN method or class")                         \
  XX(ENOTFOUND, -5017, "not found")                                            \
  XX(EEXIST, -5018, "already exists")                                          \
  XX(ETIMEDOUT, -5019, "timed out")                                            \
  XX(ECANCELED, -5020, "canceled")                                             \
  XX(EBADADDR, -5021, "bad address")                                           \
  XX(ERESOLVE, -5022, "name resolution failed")                                \
  XX(ECRYPTO, -5023, "cryptographic library failure")                          \
  XX(ECLOSING, -5024, "handle is closing")                                     \
  XX(EBUSY, -5025, "resource busy")                                            \
  XX(EAGAIN, -5026, "nothing to do now, try again later")                      \
  XX(ESTUNERR, -5027, "STUN error response")                                   \
  XX(EUNSUPPORTED, -5028, "not supported")                                     \
  XX(EQUIC, -5029, "QUIC protocol error")                                      \
  XX(EPIN, -5030, "peer certificate does not match the pinned SHA-256")        \
  XX(EALPN, -5031, "no common ALPN protocol with the peer")                    \
  XX(EIDLE, -5032, "connection closed after the idle timeout")                 \
  XX(ETLS, -5033, "TLS handshake failed or was refused by the peer")           \
  XX(ECAPTURE, -5034, "damaged or unreadable capture file")                    \
  XX(EFRAME, -5035, "captured frame is not a whole UDP datagram")              \
  XX(ETICKET, -5036, "malformed punch ticket")                                 \
  XX(ERDVTRUNC, -5037, "rendezvous message truncated")                         \
  XX(ERDVSIZE, -5038, "rendezvous message over the size cap")                  \
  XX(ERDVTYPE, -5039, "unknown rendezvous message type")                       \
  XX(ERDVMSG, -5040, "malformed rendezvous message")                           \
  XX(EROOMSECRET, -5041,                                                       \
     "wrong room secret: the peer's data failed authentication")               \
  XX(EROOMFULL, -5042, "rendezvous room is full")                              \
  XX(ERDVREFUSED, -5043, "refused by the rendezvous server")                   \
  XX(EPEERPIN, -5044,                                                          \
     "the peer refused our certificate: it expects another pin")               \
  XX(EBDAYREFUSED, -5045,                                                      \
     "birthday spray refused: both peers map per destination")                 \
  XX(ENOFILE, -5046, "too few file descriptors allowed (RLIMIT_NOFILE)")       \
  XX(EPMREFUSED, -5047, "the gateway refused the port-mapping request")        \
  XX(EPMPARSE, -5048, "malformed port-mapping answer")                         \
  XX(ENOGATEWAY, -5049, "no gateway to ask for a port mapping")                \
  XX(EALREADY, -5050, "already asked or held")

typedef enum nat_errno {
#define NAT__ERR_ENUM(name, val, msg) NAT_##name = val,
  NAT_ERRNO_MAP(NAT__ERR_ENUM)
#undef NAT__ERR_ENUM
} nat_errno;

/** A one-line message for @p err (a NAT_E* code, a UV_E* code, or 0).
 * Never NULL; the string is static. Unknown codes give "unknown error". */
NAT_EXTERN const char *nat_strerror(int err);

/** The symbolic name of @p err ("NAT_EINVAL", "UV_ECONNREFUSED", "OK").
 * Never NULL; the string is static. */
NAT_EXTERN const char *nat_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
