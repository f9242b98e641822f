/* The rendezvous protocol, sans I/O: room code -> keys (HKDF-SHA256,
 * RFC 5869), sealed blobs (AES-256-GCM), and the length-prefixed TLV
 * messages of docs/rendezvous.md. No I/O, no clock. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "nat/error.h"
#include "nat/rdv_codec.h"

#define SALT       "libnat-rdv-v1"
#define ROOM_LABEL "libnat-rdv-v1 room"
#define AAD_LABEL  "libnat-rdv-v1 blob"
#define SEAL_VER   1
#define TAG_LEN    16

/* Field (TLV) types inside a message. */
enum { F_ROOM = 1, F_JOIN = 2, F_ADDR = 3, F_DATA = 4, F_CODE = 5, F_TEXT = 6 };

/* ------------------------------------------------------------- secrets */

static int normalise(const char *code, char *out, size_t cap, size_t *n) {
  size_t k = 0;
  for (const char *p = code; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == ' ' || ch == '\t' || ch == '-' || ch == '_' || ch == '.')
      continue;
    if (ch < 0x20 || ch == 0x7f)
      return NAT_EINVAL;
    if (ch >= 'A' && ch <= 'Z')
      ch = (unsigned char)(ch - 'A' + 'a');
    if (ch == 'o')
      ch = '0';
    else if (ch == 'i' || ch == 'l')
      ch = '1';
    if (k == cap)
      return NAT_EINVAL;
    out[k++] = (char)ch;
  }
  *n = k;
  return k < NAT_RDV_CODE_MIN ? NAT_EINVAL : 0;
}

static int hkdf(const char *ikm, size_t ikmlen, const char *info, uint8_t *out,
                size_t outlen) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM p[5];
  int ok;
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
  p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm,
                                           ikmlen);
  p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)SALT,
                                           sizeof SALT - 1);
  p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
                                           strlen(info));
  p[4] = OSSL_PARAM_construct_end();
  ok = ctx != NULL && EVP_KDF_derive(ctx, out, outlen, p) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? 0 : NAT_ECRYPTO;
}

static int room_of_join(const uint8_t join[NAT_RDV_JOIN_LEN],
                        uint8_t room[NAT_RDV_ROOM_ID_LEN]) {
  uint8_t buf[sizeof ROOM_LABEL - 1 + NAT_RDV_JOIN_LEN], md[32];
  unsigned int mdlen = 0;
  memcpy(buf, ROOM_LABEL, sizeof ROOM_LABEL - 1);
  memcpy(buf + sizeof ROOM_LABEL - 1, join, NAT_RDV_JOIN_LEN);
  if (EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL) != 1)
    return NAT_ECRYPTO;
  memcpy(room, md, NAT_RDV_ROOM_ID_LEN);
  return 0;
}

int nat_rdv_keys_derive(nat_rdv_keys *out, const char *code) {
  char norm[NAT_RDV_CODE_MAX];
  size_t n = 0;
  int rc;
  if (out == NULL || code == NULL)
    return NAT_EINVAL;
  rc = normalise(code, norm, sizeof norm, &n);
  if (rc == 0)
    rc = hkdf(norm, n, "join", out->join, NAT_RDV_JOIN_LEN);
  if (rc == 0)
    rc = hkdf(norm, n, "e2e-key", out->key, NAT_RDV_KEY_LEN);
  if (rc == 0)
    rc = room_of_join(out->join, out->room_id);
  OPENSSL_cleanse(norm, sizeof norm);
  if (rc != 0)
    OPENSSL_cleanse(out, sizeof *out);
  return rc;
}

bool nat_rdv_join_check(const uint8_t room_id[NAT_RDV_ROOM_ID_LEN],
                        const uint8_t join[NAT_RDV_JOIN_LEN]) {
  uint8_t want[NAT_RDV_ROOM_ID_LEN];
  if (room_id == NULL || join == NULL || room_of_join(join, want) != 0)
    return false;
  return CRYPTO_memcmp(want, room_id, NAT_RDV_ROOM_ID_LEN) == 0;
}

int nat_rdv_code_new(char *buf, size_t len, nat_rand_fn rnd, void *rnd_ctx) {
  static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  uint8_t r[10];
  size_t k = 0;
  if (buf == NULL)
    return NAT_EINVAL;
  if (len < NAT_RDV_CODE_BUFLEN)
    return NAT_ENOBUFS;
  if (rnd == NULL)
    rnd = nat_rand_system;
  rnd(rnd_ctx, r, sizeof r);
  for (size_t i = 0; i < sizeof r; i++) {
    if (i == 5)
      buf[k++] = '-';
    buf[k++] = alphabet[r[i] & 31];
  }
  buf[k] = '\0';
  return 0;
}

/* ------------------------------------------------------------- sealing */

static void make_aad(const nat_rdv_keys *k, uint8_t *aad) {
  memcpy(aad, AAD_LABEL, sizeof AAD_LABEL - 1);
  memcpy(aad + sizeof AAD_LABEL - 1, k->room_id, NAT_RDV_ROOM_ID_LEN);
}

#define AAD_LEN (sizeof AAD_LABEL - 1 + NAT_RDV_ROOM_ID_LEN)

/* AES-256-GCM in one go; @p enc: 1 seal, 0 open (tag checked). */
static int gcm(const nat_rdv_keys *k, int enc, const uint8_t *iv,
               const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  uint8_t aad[AAD_LEN];
  int n = 0, ok;
  make_aad(k, aad);
  ok = ctx != NULL &&
       EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NAT_RDV_NONCE_LEN,
                           NULL) == 1 &&
       EVP_CipherInit_ex(ctx, NULL, NULL, k->key, iv, enc) == 1 &&
       EVP_CipherUpdate(ctx, NULL, &n, aad, (int)sizeof aad) == 1 &&
       (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1);
  if (ok && !enc)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
  if (ctx == NULL || !ok) {
    EVP_CIPHER_CTX_free(ctx);
    return NAT_ECRYPTO;
  }
  if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return enc ? NAT_ECRYPTO : NAT_EROOMSECRET;
  }
  if (enc &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NAT_ECRYPTO;
  }
  EVP_CIPHER_CTX_free(ctx);
  return 0;
}

ssize_t nat_rdv_seal(const nat_rdv_keys *k,
                     const uint8_t nonce[NAT_RDV_NONCE_LEN], const uint8_t *pt,
                     size_t len, uint8_t *out, size_t cap) {
  int rc;
  if (k == NULL || nonce == NULL || out == NULL || (pt == NULL && len > 0) ||
      len > NAT_RDV_MAX_BLOB)
    return NAT_EINVAL;
  if (cap < len + NAT_RDV_SEAL_OVERHEAD)
    return NAT_ENOBUFS;
  out[0] = SEAL_VER;
  memcpy(out + 1, nonce, NAT_RDV_NONCE_LEN);
  rc = gcm(k, 1, nonce, pt, len, out + 1 + NAT_RDV_NONCE_LEN,
           out + 1 + NAT_RDV_NONCE_LEN + len);
  return rc != 0 ? rc : (ssize_t)(len + NAT_RDV_SEAL_OVERHEAD);
}

ssize_t nat_rdv_open(const nat_rdv_keys *k, const uint8_t *sealed, size_t len,
                     uint8_t *out, size_t cap,
                     uint8_t nonce_out[NAT_RDV_NONCE_LEN]) {
  size_t ptlen;
  uint8_t tag[TAG_LEN];
  int rc;
  if (k == NULL || sealed == NULL || out == NULL)
    return NAT_EINVAL;
  if (len < NAT_RDV_SEAL_OVERHEAD || len > NAT_RDV_MAX_SEALED ||
      sealed[0] != SEAL_VER)
    return NAT_ERDVMSG;
  ptlen = len - NAT_RDV_SEAL_OVERHEAD;
  if (cap < ptlen)
    return NAT_ENOBUFS;
  memcpy(tag, sealed + len - TAG_LEN, TAG_LEN);
  rc = gcm(k, 0, sealed + 1, sealed + 1 + NAT_RDV_NONCE_LEN, ptlen, out, tag);
  if (rc != 0) {
    OPENSSL_cleanse(out, ptlen);
    return rc;
  }
  if (nonce_out != NULL)
    memcpy(nonce_out, sealed + 1, NAT_RDV_NONCE_LEN);
  return (ssize_t)ptlen;
}

/* ------------------------------------------------------------- encoding */

typedef struct wbuf {
  uint8_t *p;
  size_t cap, len;
  bool overflow;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
  if (w->overflow || w->cap - w->len < n) {
    w->overflow = true;
    return;
  }
  if (n > 0)
    memcpy(w->p + w->len, src, n);
  w->len += n;
}

static void put_u8(wbuf *w, unsigned v) {
  uint8_t b = (uint8_t)v;
  put(w, &b, 1);
}

static void put_u16(wbuf *w, size_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 2);
}

static void put_field(wbuf *w, unsigned type, const void *v, size_t n) {
  put_u8(w, type);
  put_u16(w, n);
  put(w, v, n);
}

static bool text_ok(const char *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] > 0x7e)
      return false;
  return true;
}

static int put_addr(wbuf *w, const nat_addr *a) {
  uint8_t v[19];
  size_t iplen;
  if (a->family == NAT_AF_INET)
    iplen = 4;
  else if (a->family == NAT_AF_INET6)
    iplen = 16;
  else
    return NAT_EINVAL;
  v[0] = a->family;
  v[1] = (uint8_t)(a->port >> 8);
  v[2] = (uint8_t)a->port;
  memcpy(v + 3, a->ip, iplen);
  put_field(w, F_ADDR, v, 3 + iplen);
  return 0;
}

static int put_fields(wbuf *w, const nat_rdv_msg *m) {
  uint8_t code[2];
  switch (m->type) {
  case NAT_RDV_HELLO:
    put_field(w, F_ROOM, m->room_id, NAT_RDV_ROOM_ID_LEN);
    put_field(w, F_JOIN, m->join, NAT_RDV_JOIN_LEN);
    return 0;
  case NAT_RDV_SEEN:
    return put_addr(w, &m->addr);
  case NAT_RDV_BLOB:
  case NAT_RDV_PEER:
    if (m->data == NULL || m->data_len == 0 || m->data_len > NAT_RDV_MAX_SEALED)
      return NAT_EINVAL;
    put_field(w, F_DATA, m->data, m->data_len);
    return 0;
  case NAT_RDV_ERROR:
    if (m->text_len > NAT_RDV_MAX_TEXT || (m->text == NULL && m->text_len) ||
        !text_ok(m->text, m->text_len))
      return NAT_EINVAL;
    code[0] = (uint8_t)(m->code >> 8);
    code[1] = (uint8_t)m->code;
    put_field(w, F_CODE, code, 2);
    if (m->text_len > 0)
      put_field(w, F_TEXT, m->text, m->text_len);
    return 0;
  case NAT_RDV_BYE:
    return 0;
  default:
    return NAT_EINVAL;
  }
}

ssize_t nat_rdv_msg_encode(const nat_rdv_msg *m, uint8_t *out, size_t cap) {
  wbuf w = {out, cap, 0, false};
  int rc;
  if (m == NULL || out == NULL)
    return NAT_EINVAL;
  put_u16(&w, 0); /* the length, set below */
  put_u8(&w, m->type);
  rc = put_fields(&w, m);
  if (rc != 0)
    return rc;
  if (w.overflow)
    return NAT_ENOBUFS;
  if (w.len > NAT_RDV_MAX_MSG)
    return NAT_EINVAL;
  out[0] = (uint8_t)((w.len - 2) >> 8);
  out[1] = (uint8_t)(w.len - 2);
  return (ssize_t)w.len;
}

/* ------------------------------------------------------------- decoding */

ssize_t nat_rdv_frame_len(const uint8_t *buf, size_t len) {
  size_t n;
  if (buf == NULL || len < 2)
    return 0;
  n = (size_t)buf[0] << 8 | buf[1];
  if (n == 0)
    return NAT_ERDVMSG;
  if (n + 2 > NAT_RDV_MAX_MSG)
    return NAT_ERDVSIZE;
  return (ssize_t)(n + 2);
}

/* Which fields each type must (required) and may (allowed) carry. */
static void fields_of(unsigned type, unsigned *required, unsigned *allowed) {
  switch (type) {
  case NAT_RDV_HELLO:
    *required = 1u << F_ROOM | 1u << F_JOIN;
    break;
  case NAT_RDV_SEEN:
    *required = 1u << F_ADDR;
    break;
  case NAT_RDV_BLOB:
  case NAT_RDV_PEER:
    *required = 1u << F_DATA;
    break;
  case NAT_RDV_ERROR:
    *required = 1u << F_CODE;
    *allowed = 1u << F_CODE | 1u << F_TEXT;
    return;
  default:
    *required = 0;
    break;
  }
  *allowed = *required;
}

static int get_addr(nat_addr *a, const uint8_t *v, size_t n) {
  size_t iplen;
  memset(a, 0, sizeof *a);
  if (n < 3)
    return NAT_ERDVMSG;
  if (v[0] == NAT_AF_INET)
    iplen = 4;
  else if (v[0] == NAT_AF_INET6)
    iplen = 16;
  else
    return NAT_ERDVMSG;
  if (n != 3 + iplen)
    return NAT_ERDVMSG;
  a->family = v[0];
  a->port = (uint16_t)(v[1] << 8 | v[2]);
  memcpy(a->ip, v + 3, iplen);
  return 0;
}

static int get_field(nat_rdv_msg *m, unsigned t, const uint8_t *v, size_t n) {
  switch (t) {
  case F_ROOM:
    if (n != NAT_RDV_ROOM_ID_LEN)
      return NAT_ERDVMSG;
    memcpy(m->room_id, v, n);
    return 0;
  case F_JOIN:
    if (n != NAT_RDV_JOIN_LEN)
      return NAT_ERDVMSG;
    memcpy(m->join, v, n);
    return 0;
  case F_ADDR:
    return get_addr(&m->addr, v, n);
  case F_DATA:
    if (n == 0 || n > NAT_RDV_MAX_SEALED)
      return NAT_ERDVMSG;
    m->data = v;
    m->data_len = n;
    return 0;
  case F_CODE:
    if (n != 2)
      return NAT_ERDVMSG;
    m->code = (uint16_t)(v[0] << 8 | v[1]);
    return 0;
  case F_TEXT:
    if (n > NAT_RDV_MAX_TEXT || !text_ok((const char *)v, n))
      return NAT_ERDVMSG;
    m->text = (const char *)v;
    m->text_len = n;
    return 0;
  default:
    return NAT_ERDVMSG;
  }
}

ssize_t nat_rdv_msg_decode(nat_rdv_msg *m, const uint8_t *buf, size_t len) {
  ssize_t flen;
  size_t off = 3, end;
  unsigned required, allowed, seen = 0;
  if (m == NULL || buf == NULL)
    return NAT_EINVAL;
  memset(m, 0, sizeof *m);
  flen = nat_rdv_frame_len(buf, len);
  if (flen == 0 || (flen > 0 && (size_t)flen > len))
    return NAT_ERDVTRUNC;
  if (flen < 0)
    return flen;
  end = (size_t)flen;
  m->type = buf[2];
  if (m->type < NAT_RDV_HELLO || m->type > NAT_RDV_BYE)
    return NAT_ERDVTYPE;
  fields_of(m->type, &required, &allowed);
  while (off < end) {
    unsigned t;
    size_t n;
    int rc;
    if (end - off < 3)
      return NAT_ERDVTRUNC;
    t = buf[off];
    n = (size_t)buf[off + 1] << 8 | buf[off + 2];
    off += 3;
    if (n > end - off)
      return NAT_ERDVTRUNC;
    if (t >= 16 || !(allowed & 1u << t) || (seen & 1u << t))
      return NAT_ERDVMSG;
    seen |= 1u << t;
    rc = get_field(m, t, buf + off, n);
    if (rc != 0)
      return rc;
    off += n;
  }
  if ((seen & required) != required)
    return NAT_ERDVMSG;
  return flen;
}

const char *nat_rdv_type_name(int type) {
  static const char *const names[] = {"?",    "HELLO", "SEEN", "BLOB",
                                      "PEER", "ERROR", "BYE"};
  if (type < 1 || type > NAT_RDV_BYE)
    return "?";
  return names[type];
}

const char *nat_rdv_strerror(int code) {
  switch (code) {
  case NAT_RDV_ERR_MALFORMED:
    return "malformed message";
  case NAT_RDV_ERR_UNEXPECTED:
    return "unexpected message";
  case NAT_RDV_ERR_BAD_JOIN:
    return "join secret does not match the room";
  case NAT_RDV_ERR_ROOM_FULL:
    return "room full";
  case NAT_RDV_ERR_TOO_MANY:
    return "server full";
  case NAT_RDV_ERR_EXPIRED:
    return "room expired";
  case NAT_RDV_ERR_TIMEOUT:
    return "no HELLO in time";
  case NAT_RDV_ERR_SHUTDOWN:
    return "server shutting down";
  default:
    return "unknown error";
  }
}
