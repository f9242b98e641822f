/* STUN message integrity (RFC 8489 sections 9.2, 14.5, 14.6; RFC 3489
 * section 11.2.8 for classic messages) on OpenSSL 3 libcrypto. */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "stun_internal.h"

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_impl; /* fetched once, kept for the process */

static void hmac_fetch(void) {
  hmac_impl = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

int nat__stun_hmac(nat__mac_alg alg, const uint8_t *key, size_t keylen,
                   const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                   size_t zpad, uint8_t out[32]) {
  static const uint8_t zeros[64];
  static char sha1[] = "SHA1", sha256[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                       alg == NAT__MAC_SHA1 ? sha1 : sha256, 0),
      OSSL_PARAM_construct_end()};
  size_t outlen = 0;
  int ok = 0;
  if (pthread_once(&hmac_once, hmac_fetch) != 0 || hmac_impl == NULL) {
    return NAT_ECRYPTO;
  }
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_impl);
  /* A NULL key means "keep the old key" to OpenSSL: pass a real pointer
   * even for an empty key. */
  if (ctx != NULL &&
      EVP_MAC_init(ctx, key != NULL ? key : zeros, keylen, params) == 1 &&
      EVP_MAC_update(ctx, a, alen) == 1 &&
      (blen == 0 || EVP_MAC_update(ctx, b, blen) == 1)) {
    ok = 1;
    while (ok && zpad > 0) {
      size_t n = zpad < sizeof zeros ? zpad : sizeof zeros;
      ok = EVP_MAC_update(ctx, zeros, n) == 1;
      zpad -= n;
    }
    ok = ok && EVP_MAC_final(ctx, out, &outlen, 32) == 1;
  }
  EVP_MAC_CTX_free(ctx);
  return ok ? 0 : NAT_ECRYPTO;
}

int nat_stun_long_term_key(uint16_t alg, const char *username,
                           const char *realm, const char *password,
                           uint8_t *key, size_t *keylen) {
  const EVP_MD *md;
  if (username == NULL || realm == NULL || password == NULL || key == NULL ||
      keylen == NULL) {
    return NAT_EINVAL;
  }
  if (alg == NAT_STUN_PWALG_MD5) {
    md = EVP_md5();
  } else if (alg == NAT_STUN_PWALG_SHA256) {
    md = EVP_sha256();
  } else {
    return NAT_EINVAL;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  int ok = ctx != NULL && md != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
           EVP_DigestUpdate(ctx, username, strlen(username)) == 1 &&
           EVP_DigestUpdate(ctx, ":", 1) == 1 &&
           EVP_DigestUpdate(ctx, realm, strlen(realm)) == 1 &&
           EVP_DigestUpdate(ctx, ":", 1) == 1 &&
           EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
           EVP_DigestFinal_ex(ctx, key, &n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    return NAT_ECRYPTO;
  }
  *keylen = n;
  return 0;
}

/* The integrity attribute check_integrity() uses, or NULL. */
static const nat_stun_attr *pick_mi(const nat_stun_msg *m, bool *sha256) {
  int idx = m->mi256_idx >= 0 ? m->mi256_idx : m->mi_idx;
  *sha256 = m->mi256_idx >= 0;
  if (idx < 0 || idx >= m->nattrs || idx >= NAT_STUN_MAX_ATTRS) {
    return NULL;
  }
  return &m->attrs[idx];
}

int nat_stun_msg_check_integrity(const nat_stun_msg *m, const uint8_t *key,
                                 size_t keylen) {
  bool sha256;
  uint8_t hdr[NAT_STUN_HEADER_LEN], mac[32];
  size_t zpad = 0;
  if (m == NULL || m->buf == NULL || (key == NULL && keylen > 0)) {
    return NAT_EINVAL;
  }
  const nat_stun_attr *a = pick_mi(m, &sha256);
  if (a == NULL) {
    return NAT_ENOINTEGRITY;
  }
  if (nat__stun_check_value(a->type, a->value, a->len) != 0 ||
      a->value < m->buf + NAT_STUN_HEADER_LEN + 4 ||
      a->value + a->len > m->buf + m->len) {
    return NAT_EBADATTR;
  }
  size_t off = (size_t)(a->value - m->buf) - 4;
  memcpy(hdr, m->buf, sizeof hdr);
  if (m->classic && !sha256) {
    /* RFC 3489 section 11.2.8: header as sent, text zero-padded to a
     * multiple of 64 bytes. */
    zpad = (64 - off % 64) % 64;
  } else {
    /* RFC 8489 sections 14.5, 14.6: length as if the message ended with
     * this attribute. */
    nat__put16(hdr + 2, (uint16_t)(off - NAT_STUN_HEADER_LEN + 4 + a->len));
  }
  int rc = nat__stun_hmac(sha256 ? NAT__MAC_SHA256 : NAT__MAC_SHA1, key, keylen,
                          hdr, sizeof hdr, m->buf + sizeof hdr,
                          off - sizeof hdr, zpad, mac);
  if (rc != 0) {
    return rc;
  }
  return CRYPTO_memcmp(mac, a->value, a->len) == 0 ? 0 : NAT_EINTEGRITY;
}
