/* TLS identities: a key and its self-signed ECDSA P-256 certificate, their
 * PEM files, the certificate's SHA-256 pin and the pins' text forms. Uses
 * nothing else of the QUIC files; the GnuTLS session of a connection, which
 * checks the peer's pin, is in quic_tls.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "nat/error.h"
#include "quic_internal.h"

/* ------------------------------------------------------------ identity */

static int id_gnutls_err(int rv) {
  return rv == GNUTLS_E_MEMORY_ERROR ? NAT_ENOMEM : NAT_ECRYPTO;
}

static void id_destroy(nat_quic_identity *id) {
  if (id->cred)
    gnutls_certificate_free_credentials(id->cred);
  if (id->crt)
    gnutls_x509_crt_deinit(id->crt);
  if (id->key)
    gnutls_x509_privkey_deinit(id->key);
  free(id);
}

/* Credentials and pin from id->crt and id->key. The pin hashes the
 * certificate's bytes as the handshake sends them (its DER export, the
 * bytes it was read from), which is what a peer hashes (quic_tls.c): not
 * gnutls_x509_crt_get_fingerprint(), which hashes a fresh encoding and
 * differs for a certificate whose encoding GnuTLS accepts but would write
 * otherwise (found by tests/fuzz/fuzz_quic_identity.c). */
static int id_finish(nat_quic_identity *id) {
  gnutls_datum_t der = {NULL, 0};
  int rv = gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_DER, &der);
  if (rv >= 0)
    rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, id->pin);
  gnutls_free(der.data);
  if (rv < 0)
    return id_gnutls_err(rv);
  if ((rv = gnutls_certificate_allocate_credentials(&id->cred)) < 0)
    return id_gnutls_err(rv);
  if ((rv = gnutls_certificate_set_x509_key(id->cred, &id->crt, 1, id->key)) <
      0)
    return NAT_ECRYPTO;
  return 0;
}

static int id_make_cert(nat_quic_identity *id, const char *cn) {
  uint8_t serial[16];
  time_t now = time(NULL);
  int rv = gnutls_x509_privkey_generate(
      id->key, GNUTLS_PK_ECDSA,
      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (rv < 0)
    return rv;
  if (gnutls_rnd(GNUTLS_RND_RANDOM, serial, sizeof serial) != 0)
    nat_rand_system(NULL, serial, sizeof serial);
  serial[0] &= 0x7f; /* a positive INTEGER */
  if ((rv = gnutls_x509_crt_set_version(id->crt, 3)) < 0 ||
      (rv = gnutls_x509_crt_set_serial(id->crt, serial, sizeof serial)) < 0 ||
      (rv = gnutls_x509_crt_set_activation_time(id->crt, now - 3600)) < 0 ||
      (rv = gnutls_x509_crt_set_expiration_time(id->crt, now + 30 * 86400)) <
          0 ||
      (rv = gnutls_x509_crt_set_dn_by_oid(id->crt, GNUTLS_OID_X520_COMMON_NAME,
                                          0, cn, (unsigned)strlen(cn))) < 0 ||
      (rv = gnutls_x509_crt_set_key(id->crt, id->key)) < 0 ||
      (rv = gnutls_x509_crt_set_basic_constraints(id->crt, 0, -1)) < 0 ||
      (rv = gnutls_x509_crt_set_key_usage(id->crt,
                                          GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0)
    return rv;
  return gnutls_x509_crt_sign2(id->crt, id->crt, id->key, GNUTLS_DIG_SHA256, 0);
}

/** Make a fresh self-signed ECDSA P-256 identity; see quic.h. */
int nat_quic_identity_new(nat_quic_identity **out, const char *common_name) {
  nat_quic_identity *id;
  int rv;
  if (!out)
    return NAT_EINVAL;
  *out = NULL;
  if (!common_name)
    common_name = "libnat";
  if (!(id = calloc(1, sizeof *id)))
    return NAT_ENOMEM;
  id->refs = 1;
  if ((rv = gnutls_x509_privkey_init(&id->key)) < 0 ||
      (rv = gnutls_x509_crt_init(&id->crt)) < 0 ||
      (rv = id_make_cert(id, common_name)) < 0) {
    id_destroy(id);
    return id_gnutls_err(rv);
  }
  if ((rv = id_finish(id)) < 0) {
    id_destroy(id);
    return rv;
  }
  *out = id;
  return 0;
}

/* A loaded key must be valid (for EC, its public point belongs to its
 * private scalar) and its public key must be the certificate's. GnuTLS
 * 3.7's gnutls_certificate_set_x509_key() refuses some such pairs itself
 * but leaks the key it copied when it does (found by
 * tests/fuzz/fuzz_quic_identity.c), so they never get that far. */
static int id_check_pair(const nat_quic_identity *id) {
  uint8_t a[64], b[64];
  size_t alen = sizeof a, blen = sizeof b;
  if (gnutls_x509_privkey_verify_params(id->key) < 0 ||
      gnutls_x509_privkey_get_key_id(id->key, GNUTLS_KEYID_USE_SHA256, a,
                                     &alen) < 0 ||
      gnutls_x509_crt_get_key_id(id->crt, GNUTLS_KEYID_USE_SHA256, b, &blen) <
          0 ||
      alen != blen || memcmp(a, b, alen) != 0)
    return NAT_ECRYPTO;
  return 0;
}

/** Load an identity from a PEM certificate and key; see quic.h. */
int nat_quic_identity_load(nat_quic_identity **out, const char *cert_path,
                           const char *key_path) {
  gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
  nat_quic_identity *id;
  int rv;
  if (!out || !cert_path || !key_path)
    return NAT_EINVAL;
  *out = NULL;
  if (gnutls_load_file(cert_path, &cert) < 0)
    return NAT_ENOTFOUND;
  if (gnutls_load_file(key_path, &key) < 0) {
    gnutls_free(cert.data);
    return NAT_ENOTFOUND;
  }
  rv = NAT_ENOMEM;
  if ((id = calloc(1, sizeof *id)) != NULL) {
    id->refs = 1;
    rv = NAT_ECRYPTO;
    if (gnutls_x509_privkey_init(&id->key) >= 0 &&
        gnutls_x509_crt_init(&id->crt) >= 0 &&
        gnutls_x509_crt_import(id->crt, &cert, GNUTLS_X509_FMT_PEM) >= 0 &&
        gnutls_x509_privkey_import2(id->key, &key, GNUTLS_X509_FMT_PEM, NULL,
                                    GNUTLS_PKCS_PLAIN) >= 0 &&
        (rv = id_check_pair(id)) == 0)
      rv = id_finish(id);
  }
  gnutls_free(cert.data);
  gnutls_memset(key.data, 0, key.size);
  gnutls_free(key.data);
  if (rv < 0) {
    if (id)
      id_destroy(id);
    return rv;
  }
  *out = id;
  return 0;
}

static int write_file(const char *path, const gnutls_datum_t *d, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  size_t off = 0;
  if (fd < 0)
    return -errno;
  while (off < d->size) {
    ssize_t w = write(fd, d->data + off, d->size - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
    off += (size_t)w;
  }
  return close(fd) < 0 ? -errno : 0;
}

/** Write the identity as PEM files; see quic.h. */
int nat_quic_identity_save(const nat_quic_identity *id, const char *cert_path,
                           const char *key_path) {
  gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
  int rv = NAT_ECRYPTO;
  if (!id || !cert_path || !key_path)
    return NAT_EINVAL;
  if (gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &cert) >= 0 &&
      gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_PEM, NULL,
                                        GNUTLS_PKCS_PLAIN, &key) >= 0) {
    rv = write_file(cert_path, &cert, 0644);
    if (rv == 0)
      rv = write_file(key_path, &key, 0600);
  }
  gnutls_free(cert.data);
  if (key.data)
    gnutls_memset(key.data, 0, key.size);
  gnutls_free(key.data);
  return rv;
}

/** Copy the identity's pin; see quic.h. */
void nat_quic_identity_pin(const nat_quic_identity *id,
                           uint8_t pin[NAT_QUIC_PIN_LEN]) {
  if (id && pin)
    memcpy(pin, id->pin, NAT_QUIC_PIN_LEN);
}

/** Drop one reference; see quic.h. */
void nat_quic_identity_free(nat_quic_identity *id) {
  if (id && --id->refs == 0)
    id_destroy(id);
}

/* ---------------------------------------------------------------- pins */

/** Constant-time pin comparison; see quic.h. */
bool nat_quic_pin_equal(const uint8_t a[NAT_QUIC_PIN_LEN],
                        const uint8_t b[NAT_QUIC_PIN_LEN]) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < NAT_QUIC_PIN_LEN; i++)
    diff = (uint8_t)(diff | (a[i] ^ b[i]));
  return diff == 0;
}

/** Pin as lowercase hex; see quic.h. */
int nat_quic_pin_to_hex(const uint8_t pin[NAT_QUIC_PIN_LEN], char *buf,
                        size_t len) {
  static const char digits[] = "0123456789abcdef";
  if (!pin || !buf || len < NAT_QUIC_PIN_HEX_LEN)
    return NAT_ENOBUFS;
  for (size_t i = 0; i < NAT_QUIC_PIN_LEN; i++) {
    buf[2 * i] = digits[pin[i] >> 4];
    buf[2 * i + 1] = digits[pin[i] & 15];
  }
  buf[2 * NAT_QUIC_PIN_LEN] = '\0';
  return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Pin as standard base64; see quic.h. */
int nat_quic_pin_to_base64(const uint8_t pin[NAT_QUIC_PIN_LEN], char *buf,
                           size_t len) {
  size_t o = 0, i;
  if (!pin || !buf || len < NAT_QUIC_PIN_B64_LEN)
    return NAT_ENOBUFS;
  for (i = 0; i + 3 <= NAT_QUIC_PIN_LEN; i += 3) {
    uint32_t v =
        (uint32_t)pin[i] << 16 | (uint32_t)pin[i + 1] << 8 | pin[i + 2];
    buf[o++] = b64[v >> 18];
    buf[o++] = b64[(v >> 12) & 63];
    buf[o++] = b64[(v >> 6) & 63];
    buf[o++] = b64[v & 63];
  }
  /* 32 = 30 + 2: the last two bytes give three characters and one '=' */
  {
    uint32_t v = (uint32_t)pin[i] << 16 | (uint32_t)pin[i + 1] << 8;
    buf[o++] = b64[v >> 18];
    buf[o++] = b64[(v >> 12) & 63];
    buf[o++] = b64[(v >> 6) & 63];
    buf[o++] = '=';
  }
  buf[o] = '\0';
  return 0;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static int b64val(char ch) {
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  const char *p = ch ? strchr(b64, ch) : NULL;
  return p ? (int)(p - b64) : -1;
}

static int parse_hex(uint8_t *pin, const char *s, size_t len) {
  size_t n = 0;
  bool colons = len == 3 * NAT_QUIC_PIN_LEN - 1;
  if (len != 2 * NAT_QUIC_PIN_LEN && !colons)
    return NAT_EBADATTR;
  for (size_t i = 0; i < len; n++) {
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return NAT_EBADATTR;
    pin[n] = (uint8_t)(hi << 4 | lo);
    i += 2;
    if (colons && i < len && s[i++] != ':')
      return NAT_EBADATTR;
  }
  return 0;
}

static int parse_b64(uint8_t *pin, const char *s, size_t len) {
  uint32_t acc = 0;
  size_t bits = 0, n = 0;
  if (len == 44 && s[43] == '=')
    len = 43;
  if (len != 43)
    return NAT_EBADATTR;
  for (size_t i = 0; i < len; i++) {
    int v = b64val(s[i]);
    if (v < 0)
      return NAT_EBADATTR;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      pin[n++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return acc == 0 && n == NAT_QUIC_PIN_LEN ? 0 : NAT_EBADATTR;
}

static int parse_forms(uint8_t *pin, const char *s) {
  size_t len = strlen(s);
  int rv = parse_hex(pin, s, len);
  if (rv < 0)
    rv = parse_b64(pin, s, len);
  return rv;
}

/** Parse a pin from hex or base64; see quic.h. "sha256/" is also how a
 * base64 pin may begin (1 in 2^39): a string that is no pin once the
 * prefix is cut is tried whole (the two never both parse: their lengths
 * differ by 7). */
int nat_quic_pin_parse(uint8_t pin[NAT_QUIC_PIN_LEN], const char *s) {
  uint8_t tmp[NAT_QUIC_PIN_LEN];
  int rv = NAT_EBADATTR;
  if (!pin || !s)
    return NAT_EINVAL;
  if (strncasecmp(s, "sha256:", 7) == 0 || strncasecmp(s, "sha256/", 7) == 0)
    rv = parse_forms(tmp, s + 7);
  if (rv < 0)
    rv = parse_forms(tmp, s);
  if (rv == 0)
    memcpy(pin, tmp, NAT_QUIC_PIN_LEN);
  return rv;
}
