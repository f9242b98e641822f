/* QUIC v1 Initial packet protection (RFC 9001 section 5) for
 * fuzz_quic_demux.c and quic_seeds.c, written with GnuTLS apart from
 * ngtcp2 (whose 0.12 crypto helpers for Initial keys are not public): a
 * client's Initial is sealed from its plaintext frames so that mutated
 * frames reach the server's ngtcp2 and TLS instead of failing the AEAD,
 * and a captured Initial is opened to give the frames as a seed. Each
 * program includes this file once. */
#ifndef NAT_FUZZ_QUIC_INITIAL_H
#define NAT_FUZZ_QUIC_INITIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define QI_TAG 16

typedef struct qi_keys {
  uint8_t key[16], iv[12], hp[16];
} qi_keys;

static inline int qi_expand_label(const gnutls_datum_t *secret,
                                  const char *label, uint8_t *out, size_t len) {
  uint8_t info[64];
  size_t ll = 6 + strlen(label), o = 0;
  gnutls_datum_t in = {info, 0};
  info[o++] = (uint8_t)(len >> 8);
  info[o++] = (uint8_t)len;
  info[o++] = (uint8_t)ll;
  memcpy(info + o, "tls13 ", 6);
  memcpy(info + o + 6, label, ll - 6);
  o += ll;
  info[o++] = 0; /* no context */
  in.size = (unsigned)o;
  return gnutls_hkdf_expand(GNUTLS_MAC_SHA256, secret, &in, out, len);
}

/* The client's Initial keys for Destination Connection ID @p dcid. */
static inline bool qi_client_keys(qi_keys *k, const uint8_t *dcid,
                                  size_t dcidlen) {
  static const uint8_t salt[] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
  uint8_t initial[32], client[32];
  gnutls_datum_t ikm = {(unsigned char *)dcid, (unsigned)dcidlen};
  gnutls_datum_t s = {(unsigned char *)salt, sizeof salt};
  gnutls_datum_t is = {initial, 32}, cs = {client, 32};
  return gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &s, initial) == 0 &&
         qi_expand_label(&is, "client in", client, 32) == 0 &&
         qi_expand_label(&cs, "quic key", k->key, 16) == 0 &&
         qi_expand_label(&cs, "quic iv", k->iv, 12) == 0 &&
         qi_expand_label(&cs, "quic hp", k->hp, 16) == 0;
}

/* AES-128 of one block (the header protection mask). */
static inline bool qi_mask(const qi_keys *k, const uint8_t *sample,
                           uint8_t *mask) {
  static const uint8_t zero[16];
  gnutls_cipher_hd_t h;
  gnutls_datum_t key = {(unsigned char *)k->hp, 16};
  gnutls_datum_t iv = {(unsigned char *)zero, 16};
  bool ok;
  if (gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &key, &iv) < 0)
    return false;
  ok = gnutls_cipher_encrypt2(h, sample, 16, mask, 16) == 0;
  gnutls_cipher_deinit(h);
  return ok;
}

static inline bool qi_aead(const qi_keys *k, bool seal, uint64_t pn,
                           const uint8_t *aad, size_t aadlen, const uint8_t *in,
                           size_t inlen, uint8_t *out, size_t *outlen) {
  gnutls_aead_cipher_hd_t h;
  gnutls_datum_t key = {(unsigned char *)k->key, 16};
  uint8_t nonce[12];
  int rv;
  memcpy(nonce, k->iv, 12);
  for (int i = 0; i < 8; i++)
    nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
  if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &key) < 0)
    return false;
  if (seal)
    rv = gnutls_aead_cipher_encrypt(h, nonce, 12, aad, aadlen, QI_TAG, in,
                                    inlen, out, outlen);
  else
    rv = gnutls_aead_cipher_decrypt(h, nonce, 12, aad, aadlen, QI_TAG, in,
                                    inlen, out, outlen);
  gnutls_aead_cipher_deinit(h);
  return rv == 0;
}

/* Seal a client Initial into @p out (at least 1200 + 64 bytes, and
 * plen + 64): version 1, the CIDs given, no token, a 4-byte packet number
 * @p pn, the plaintext @p p padded with PADDING frames so that the
 * datagram is at least 1200 bytes. @return its length, 0 on failure. */
static inline size_t qi_seal(uint8_t *out, const uint8_t *dcid, size_t dcidlen,
                             const uint8_t *scid, size_t scidlen, uint32_t pn,
                             const uint8_t *p, size_t plen) {
  uint8_t plain[1500], mask[16];
  size_t o = 0, hlen, body, clen;
  qi_keys k;
  if (dcidlen > 20 || scidlen > 20 || plen > 1300)
    return 0;
  out[o++] = 0xC3; /* long header, fixed bit, Initial, 4-byte PN */
  out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = 1;
  out[o++] = (uint8_t)dcidlen;
  memcpy(out + o, dcid, dcidlen);
  o += dcidlen;
  out[o++] = (uint8_t)scidlen;
  memcpy(out + o, scid, scidlen);
  o += scidlen;
  out[o++] = 0; /* token length */
  hlen = o + 2 + 4;
  body = plen;
  if (hlen + body + QI_TAG < 1200)
    body = 1200 - hlen - QI_TAG;
  if (body < 4) /* the header protection sample needs 16 bytes after PN+4 */
    body = 4;
  memcpy(plain, p, plen);
  memset(plain + plen, 0, body - plen);
  out[o++] = (uint8_t)(0x40 | ((4 + body + QI_TAG) >> 8));
  out[o++] = (uint8_t)(4 + body + QI_TAG);
  out[o++] = (uint8_t)(pn >> 24), out[o++] = (uint8_t)(pn >> 16);
  out[o++] = (uint8_t)(pn >> 8), out[o++] = (uint8_t)pn;
  clen = body + QI_TAG;
  if (!qi_client_keys(&k, dcid, dcidlen) ||
      !qi_aead(&k, true, pn, out, o, plain, body, out + o, &clen) ||
      !qi_mask(&k, out + o, mask)) /* sample: PN offset + 4 = o */
    return 0;
  out[0] ^= mask[0] & 0x0f;
  for (size_t i = 0; i < 4; i++)
    out[o - 4 + i] ^= mask[1 + i];
  return o + clen;
}

static inline size_t qi_varint(const uint8_t *p, size_t len, uint64_t *v) {
  size_t n;
  if (len == 0)
    return 0;
  n = (size_t)1 << (p[0] >> 6);
  if (n > len)
    return 0;
  *v = p[0] & 0x3f;
  for (size_t i = 1; i < n; i++)
    *v = *v << 8 | p[i];
  return n;
}

/* Open a client Initial (the first packet of @p in): its plaintext into
 * @p out (1500 bytes), the DCID and SCID into @p dcid / @p scid (20
 * bytes each) and their lengths. @return the plaintext's length, 0 when
 * it does not open. */
static inline size_t qi_open(const uint8_t *in, size_t len, uint8_t *out,
                             uint8_t *dcid, size_t *dcidlen, uint8_t *scid,
                             size_t *scidlen) {
  uint8_t hdr[128], mask[16];
  uint64_t tok, plen, pn = 0;
  size_t o = 5, n, pnlen, outlen = 1500;
  qi_keys k;
  *dcidlen = *scidlen = 0;
  if (len < 7 || (in[0] & 0xB0) != 0x80 || in[5] > 20)
    return 0;
  *dcidlen = in[o++];
  if (o + *dcidlen + 1 > len)
    return 0;
  memcpy(dcid, in + o, *dcidlen);
  o += *dcidlen;
  *scidlen = in[o++];
  if (*scidlen > 20 || o + *scidlen > len)
    return 0;
  memcpy(scid, in + o, *scidlen);
  o += *scidlen;
  if (!(n = qi_varint(in + o, len - o, &tok)) || o + n + tok > len)
    return 0;
  o += n + (size_t)tok;
  if (!(n = qi_varint(in + o, len - o, &plen)))
    return 0;
  o += n;
  if (o + plen > len || plen < 20 || o + 4 + 16 > len || o + 4 > sizeof hdr ||
      !qi_client_keys(&k, dcid, *dcidlen) || !qi_mask(&k, in + o + 4, mask))
    return 0;
  memcpy(hdr, in, o + 4);
  hdr[0] ^= mask[0] & 0x0f;
  pnlen = (size_t)(hdr[0] & 3) + 1;
  for (size_t i = 0; i < pnlen; i++) {
    hdr[o + i] ^= mask[1 + i];
    pn = pn << 8 | hdr[o + i];
  }
  if (!qi_aead(&k, false, pn, hdr, o + pnlen, in + o + pnlen,
               (size_t)plen - pnlen, out, &outlen))
    return 0;
  return outlen;
}

#endif
