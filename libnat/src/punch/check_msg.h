/* libnat -- the connectivity checks' STUN messages from credentials alone
 * (check_msg.c): what nat_check (check.c) and the birthday spray
 * (spray.c) send and accept. Pure. */
#ifndef NAT_PUNCH_CHECK_MSG_H
#define NAT_PUNCH_CHECK_MSG_H

#include <stdbool.h>

#include "nat/stun.h"

/* A Binding request as RFC 8445 7.2.2: USERNAME "rufrag:lufrag",
 * PRIORITY, ICE-CONTROLLING or -CONTROLLED with @p tie_breaker,
 * USE-CANDIDATE when @p nominate, MESSAGE-INTEGRITY with the peer's
 * password @p rpwd, FINGERPRINT. @return the length or a NAT_E* code. */
ssize_t nat__check_msg_request(uint8_t *buf, size_t cap, const uint8_t *tid,
                               const char *rufrag, const char *lufrag,
                               const char *rpwd, uint32_t priority,
                               bool controlling, uint64_t tie_breaker,
                               bool nominate);

/* The answer to the request with @p tid: success (code 0) with
 * XOR-MAPPED-ADDRESS @p to, or an error @p code; SOFTWARE @p software
 * unless NULL; signed with our password @p lpwd unless it is NULL.
 * @return the length or a NAT_E* code. */
ssize_t nat__check_msg_response(uint8_t *buf, size_t cap, const uint8_t *tid,
                                const nat_addr *to, int code,
                                const char *software, const char *lpwd);

/* The SOFTWARE of the birthday spray's answers: the peer whose check an
 * acceptor's spray socket answered names the path as the spray's, as the
 * acceptor does (spray.c). */
#define NAT__SPRAY_SOFTWARE "libnat birthday"

/* An incoming request's USERNAME ("lufrag:...") and MESSAGE-INTEGRITY
 * (our password @p lpwd). @return 0, 400 (attribute missing) or 401
 * (wrong user or integrity). */
int nat__check_msg_auth(const nat_stun_msg *m, const char *lufrag,
                        const char *lpwd);

#endif
