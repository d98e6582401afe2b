/*
 * rules_sign.c: Ed25519 signatures of rule packs, detached, one per file.
 *
 * A signature file sits next to the file it signs, named FILE.sig, and is
 * three lines of ASCII, each ended by a line feed, nothing before or after:
 *
 *   dpix-signature v1
 *   key-id 0123456789abcdef
 *   ed25519 <88 characters: standard base64 of the 64-byte signature>
 *
 * The key id is the first 16 lower-case hex digits of SHA-256 over the raw
 * 32-byte public key; it picks the key, the signature proves the bytes.
 * What is signed is the exact bytes of FILE (pure Ed25519, no prehash), so
 * `openssl pkeyutl -sign -rawin` makes the same signature and
 * `openssl pkeyutl -verify -rawin` checks ours. At most 256 bytes are read
 * from a .sig; a longer one, a shorter one, a byte out of place (a CR, a
 * space, a non-canonical base64 character) is refused with sig:line:column.
 *
 * Keys are PEM files as the openssl command line writes them: PKCS#8
 * "PRIVATE KEY" (unencrypted) and SubjectPublicKeyInfo "PUBLIC KEY". A
 * private key file that group or others can access at all is refused, as
 * ssh refuses one. Messages name files and key ids, never key bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "rules/rules.h"
#include "rules/rules_sign.h"

#define PEM_MAX_BYTES 16384
#define SIG_MAGIC "dpix-signature v1"
#define SIG_B64_LEN 88 /* base64 of RULES_SIG_LEN bytes */

static int failf(struct rules_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int failf(struct rules_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return -1;
}

/*
 * The whole of a regular file of at most max bytes, NUL-terminated. On
 * failure err says why (toobig when it is too large) and errno is kept
 * from the failing call, so that a caller can tell ENOENT apart.
 */
static char *slurp(const char *path, size_t max, const char *toobig, size_t *len, mode_t *mode,
		   struct rules_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		failf(err, "%s: cannot open: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		failf(err, "%s: cannot stat: %s", path, strerror(e));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		e = EINVAL;
		failf(err, "%s: not a regular file", path);
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		e = EFBIG;
		failf(err, "%s: %s", path, toobig);
		goto fail;
	}
	/* One byte more than the size, to see a file that grows meanwhile. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		e = ENOMEM;
		failf(err, "%s: out of memory", path);
		goto fail;
	}
	while (n < cap) {
		ssize_t got = read(fd, buf + n, cap - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			failf(err, "%s: read error: %s", path, strerror(e));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n != (size_t)st.st_size) {
		e = EAGAIN;
		failf(err, "%s: changed while being read", path);
		goto fail;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	if (mode)
		*mode = st.st_mode;
	return buf;
fail:
	close(fd);
	free(buf);
	errno = e;
	return NULL;
}

/* Free a buffer that held a private key. */
static void free_secret(char *buf, size_t len)
{
	if (buf)
		OPENSSL_cleanse(buf, len);
	free(buf);
}

int rules_keyid(const uint8_t raw[RULES_PUBKEY_LEN], char keyid[RULES_KEYID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(raw, RULES_PUBKEY_LEN, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8) {
		ERR_clear_error();
		return -1;
	}
	for (size_t i = 0; i < RULES_KEYID_LEN / 2; i++) {
		keyid[2 * i] = hex[md[i] >> 4];
		keyid[2 * i + 1] = hex[md[i] & 15];
	}
	keyid[RULES_KEYID_LEN] = '\0';
	return 0;
}

/* What kind of key a PEM file held, for the message that refuses it. */
static const char *key_kind(const EVP_PKEY *pk)
{
	switch (EVP_PKEY_id(pk)) {
	case EVP_PKEY_RSA:
		return "an RSA";
	case EVP_PKEY_EC:
		return "an EC";
	case EVP_PKEY_DSA:
		return "a DSA";
	case EVP_PKEY_ED448:
		return "an Ed448";
	case EVP_PKEY_X25519:
		return "an X25519";
	case EVP_PKEY_X448:
		return "an X448";
	default:
		return "a non-Ed25519";
	}
}

/* The raw public key and its id, from a public or private EVP key. */
static int pkey_identity(EVP_PKEY *pk, uint8_t raw[RULES_PUBKEY_LEN],
			 char keyid[RULES_KEYID_LEN + 1])
{
	size_t len = RULES_PUBKEY_LEN;

	if (EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1 || len != RULES_PUBKEY_LEN) {
		ERR_clear_error();
		return -1;
	}
	return rules_keyid(raw, keyid);
}

/* --- public keys --------------------------------------------------------- */

static int add_key_file(struct rules_keyring *kr, const char *path, struct rules_error *err)
{
	struct rules_pubkey k = { 0 };
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	size_t len;
	char *pem;
	int rc = -1;

	pem = slurp(path, PEM_MAX_BYTES, "larger than 16 KiB: not a PEM public key file", &len,
		    NULL, err);
	if (!pem)
		return -1;
	if (strstr(pem, "PRIVATE KEY-----")) {
		/* Said before parsing: the key itself is never handed on. */
		failf(err,
		      "%s: holds a private key, not a public key: give the public key (openssl "
		      "pkey -in KEY -pubout), and keep private keys out of key directories",
		      path);
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	if (!pk) {
		failf(err,
		      "%s: not a PEM public key: expected '-----BEGIN PUBLIC KEY-----' as "
		      "openssl pkey -pubout writes it",
		      path);
		goto out;
	}
	if (EVP_PKEY_id(pk) != EVP_PKEY_ED25519) {
		failf(err, "%s: %s public key, expected an Ed25519 key", path, key_kind(pk));
		goto out;
	}
	if (pkey_identity(pk, k.raw, k.id) < 0) {
		failf(err, "%s: cannot read the raw Ed25519 public key", path);
		goto out;
	}
	for (size_t i = 0; i < kr->n; i++) {
		if (strcmp(kr->keys[i].id, k.id))
			continue;
		if (!memcmp(kr->keys[i].raw, k.raw, sizeof(k.raw))) {
			rc = 0; /* the same key twice: once is enough */
			goto out;
		}
		failf(err, "%s: key id %s is also the id of another key, from %s", path, k.id,
		      kr->keys[i].file);
		goto out;
	}
	if (kr->n == RULES_MAX_PUBKEYS) {
		failf(err, "%s: more than %d public keys", path, RULES_MAX_PUBKEYS);
		goto out;
	}
	snprintf(k.file, sizeof(k.file), "%s", path);
	kr->keys[kr->n++] = k;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	free(pem);
	ERR_clear_error();
	return rc;
}

int rules_keyring_add(struct rules_keyring *kr, const char *path, struct rules_error *err)
{
	static const char *const suffixes[] = { ".pem", ".pub", NULL };
	struct stat st;
	char **names;
	size_t n;
	int rc = 0;

	if (stat(path, &st) < 0)
		return failf(err, "%s: cannot open: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_key_file(kr, path, err);
	if (rules_dir_list_suffix(path, suffixes, &names, &n, err) < 0)
		return -1;
	if (n == 0)
		rc = failf(err, "%s: no *.pem or *.pub file in the key directory", path);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = add_key_file(kr, names[i], err);
	rules_dir_list_free(names, n);
	return rc;
}

/* --- the .sig file -------------------------------------------------------- */

/* A bit of a .sig line for a message: printable ASCII, the rest as \xNN. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 40) {
			o += (size_t)snprintf(buf + o, cap - o, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 of exactly RULES_SIG_LEN bytes: 21 groups of four
 * characters and a last group "xx==" whose unused bits are zero, so that one
 * signature has one spelling. Returns -1 and the offset of the first wrong
 * character.
 */
static int b64_decode_sig(const char *s, uint8_t out[RULES_SIG_LEN], size_t *bad)
{
	uint32_t acc = 0;
	size_t o = 0;

	for (size_t i = 0; i < SIG_B64_LEN; i++) {
		int v = b64_value(s[i]);

		if (i >= SIG_B64_LEN - 2) {
			if (s[i] != '=') {
				*bad = i;
				return -1;
			}
			continue;
		}
		if (v < 0 || (i == SIG_B64_LEN - 3 && (v & 15))) {
			*bad = i;
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	out[o] = (uint8_t)(acc >> 4); /* the last byte: 12 bits read, 8 used */
	return 0;
}

struct sig_line {
	const char *text;
	size_t len;
	unsigned no;
};

/* Line no of the .sig, which must end with a line feed. */
static int sig_next_line(const char **p, const char *end, unsigned no, const char *sigpath,
			 struct sig_line *l, struct rules_error *err)
{
	const char *nl;

	l->text = *p;
	l->no = no;
	if (*p >= end)
		return failf(err, "%s:%u:1: found end of file, expected line %u of 3", sigpath, no,
			     no);
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		return failf(err, "%s:%u:%zu: found end of file, expected a line feed", sigpath, no,
			     (size_t)(end - *p) + 1);
	l->len = (size_t)(nl - *p);
	*p = nl + 1;
	/* Line 1 is checked whole: a binary file is "not a signature". */
	if (no > 1 && l->len > 0 && l->text[l->len - 1] == '\r')
		return failf(err, "%s:%u:%zu: found a carriage return, expected a line feed alone",
			     sigpath, no, l->len);
	return 0;
}

/* The line starts with word and a space; *col is where the value begins. */
static int sig_expect_word(const struct sig_line *l, const char *word, const char *sigpath,
			   struct rules_error *err)
{
	size_t n = strlen(word);
	char b[200];

	if (l->len > n && !memcmp(l->text, word, n) && l->text[n] == ' ')
		return 0;
	return failf(err, "%s:%u:1: found '%s', expected '%s ...'", sigpath, l->no,
		     show(l->text, l->len, b, sizeof(b)), word);
}

int rules_sig_parse(const char *text, size_t len, const char *sigpath, struct rules_sig *out,
		    struct rules_error *err)
{
	const char *p = text, *end = text + len, *v;
	struct sig_line l;
	size_t bad, n;
	char b[200];

	if (len == 0)
		return failf(err, "%s:1:1: empty file, expected '%s'", sigpath, SIG_MAGIC);
	if (sig_next_line(&p, end, 1, sigpath, &l, err) < 0)
		return -1;
	if (l.len != strlen(SIG_MAGIC) || memcmp(l.text, SIG_MAGIC, l.len)) {
		if (l.len == strlen(SIG_MAGIC) + 1 && !memcmp(l.text, SIG_MAGIC "\r", l.len))
			return failf(
			    err, "%s:1:%zu: found a carriage return, expected a line feed alone",
			    sigpath, l.len);
		if (l.len > 15 && !memcmp(l.text, "dpix-signature ", 15))
			return failf(err, "%s:1:16: unsupported version '%s': this dpix reads v1",
				     sigpath, show(l.text + 15, l.len - 15, b, sizeof(b)));
		return failf(err, "%s:1:1: found '%s', expected '%s': not a dpix signature file",
			     sigpath, show(l.text, l.len, b, sizeof(b)), SIG_MAGIC);
	}

	if (sig_next_line(&p, end, 2, sigpath, &l, err) < 0 ||
	    sig_expect_word(&l, "key-id", sigpath, err) < 0)
		return -1;
	v = l.text + 7;
	n = l.len - 7;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return failf(err,
				     "%s:2:%zu: found '%s', expected a lower-case hex digit of "
				     "the key id",
				     sigpath, 8 + i, show(v + i, 1, b, sizeof(b)));
	if (n != RULES_KEYID_LEN)
		return failf(err, "%s:2:8: key id of %zu hex digits, expected %d", sigpath, n,
			     RULES_KEYID_LEN);
	memcpy(out->keyid, v, n);
	out->keyid[n] = '\0';

	if (sig_next_line(&p, end, 3, sigpath, &l, err) < 0 ||
	    sig_expect_word(&l, "ed25519", sigpath, err) < 0)
		return -1;
	v = l.text + 8;
	n = l.len - 8;
	if (n != SIG_B64_LEN)
		return failf(err,
			     "%s:3:9: signature of %zu characters, expected %d (base64 of a "
			     "64-byte Ed25519 signature)",
			     sigpath, n, SIG_B64_LEN);
	if (b64_decode_sig(v, out->sig, &bad) < 0)
		return failf(err, "%s:3:%zu: found '%s', expected %s", sigpath, 9 + bad,
			     show(v + bad, 1, b, sizeof(b)),
			     bad >= SIG_B64_LEN - 2 ? "'=' (the padding of the last group)"
						    : "a base64 character ending the data "
						      "with zero bits (A-Z, a-z, 0-9, + or /)");
	if (p != end)
		return failf(err, "%s:4:1: found '%s', expected the end of the file", sigpath,
			     show(p, (size_t)(end - p), b, sizeof(b)));
	return 0;
}

/* --- verifying ------------------------------------------------------------ */

static char *sig_path_of(const char *path)
{
	size_t n = strlen(path);
	char *s = malloc(n + 5);

	if (s) {
		memcpy(s, path, n);
		memcpy(s + n, ".sig", 5);
	}
	return s;
}

/* 1: the signature is good; 0: it is not; -1: OpenSSL failed. */
static int ed25519_verify(EVP_PKEY *pk, const uint8_t sig[RULES_SIG_LEN], const char *data,
			  size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1)
		rc = EVP_DigestVerify(ctx, sig, RULES_SIG_LEN, (const unsigned char *)data, len) ==
		     1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int rules_verify_file(const char *path, const struct rules_pubkey *keys, size_t nkeys,
		      struct rules_error *err)
{
	size_t len;
	char *data = slurp(path, RULES_SIGNED_MAX, "larger than 64 MiB", &len, NULL, err);
	int rc = data ? rules_verify_bytes(path, data, len, keys, nkeys, err) : -1;

	free(data);
	return rc;
}

int rules_verify_bytes(const char *path, const char *data, size_t len,
		       const struct rules_pubkey *keys, size_t nkeys, struct rules_error *err)
{
	char *sigpath = NULL, *sigtext = NULL;
	struct rules_sig sig;
	EVP_PKEY *pk = NULL;
	size_t siglen, k;
	int rc = -1, good;

	sigpath = sig_path_of(path);
	if (!sigpath) {
		failf(err, "%s: out of memory", path);
		goto out;
	}
	sigtext = slurp(sigpath, RULES_SIGFILE_MAX,
			"larger than 256 bytes: not a dpix signature file", &siglen, NULL, err);
	if (!sigtext) {
		if (errno == ENOENT)
			failf(err, "%s: not signed: no signature file %s", path, sigpath);
		goto out;
	}
	if (rules_sig_parse(sigtext, siglen, sigpath, &sig, err) < 0)
		goto out;
	for (k = 0; k < nkeys && strcmp(keys[k].id, sig.keyid); k++)
		;
	if (k == nkeys) {
		failf(err, "%s: signed by unknown key %s: not one of the %zu trusted public keys",
		      path, sig.keyid, nkeys);
		goto out;
	}
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, keys[k].raw, RULES_PUBKEY_LEN);
	good = pk ? ed25519_verify(pk, sig.sig, data, len) : -1;
	if (good < 0) {
		failf(err, "%s: cannot check the signature by key %s: OpenSSL failed", path,
		      sig.keyid);
		goto out;
	}
	if (!good) {
		failf(err,
		      "%s: bad signature by key %s (%s): the file is not what was signed; it was "
		      "changed or tampered with after signing",
		      path, sig.keyid, keys[k].file);
		goto out;
	}
	rc = (int)k;
out:
	EVP_PKEY_free(pk);
	free(sigtext);
	free(sigpath);
	return rc;
}

/* --- signing and key pairs ------------------------------------------------ */

static EVP_PKEY *load_private(const char *path, struct rules_error *err)
{
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	mode_t mode = 0;
	size_t len = 0;
	char *pem;

	pem = slurp(path, PEM_MAX_BYTES, "larger than 16 KiB: not a PEM private key file", &len,
		    &mode, err);
	if (!pem)
		return NULL;
	if (mode & 077) {
		failf(err,
		      "%s: private key file is accessible by group or others (mode %04o): "
		      "refused; run chmod 600 on it",
		      path, (unsigned)(mode & 07777));
		goto out;
	}
	if (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		failf(err,
		      "%s: an encrypted private key: dpix reads unencrypted PKCS#8 keys (as "
		      "openssl genpkey -algorithm ed25519 writes them)",
		      path);
		goto out;
	}
	if (strstr(pem, "-----BEGIN PUBLIC KEY-----")) {
		failf(err, "%s: holds a public key; signing needs the private key", path);
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	/* An empty passphrase: a key encrypted otherwise fails, never prompts. */
	pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
	if (!pk) {
		failf(err,
		      "%s: not a PEM private key: expected '-----BEGIN PRIVATE KEY-----' as "
		      "openssl genpkey -algorithm ed25519 writes it",
		      path);
		goto out;
	}
	if (EVP_PKEY_id(pk) != EVP_PKEY_ED25519) {
		failf(err, "%s: %s private key, expected an Ed25519 key", path, key_kind(pk));
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	BIO_free(bio);
	free_secret(pem, len);
	ERR_clear_error();
	return pk;
}

/* Write data to path through a temporary file in the same directory. */
static int write_atomic(const char *path, const char *data, size_t len, struct rules_error *err)
{
	size_t n = strlen(path), off = 0;
	char *tmp = malloc(n + 8);
	int fd, e;

	if (!tmp)
		return failf(err, "%s: out of memory", path);
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	fd = mkstemp(tmp);
	if (fd < 0) {
		e = errno;
		free(tmp);
		return failf(err, "%s: cannot create a temporary file: %s", path, strerror(e));
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return failf(err, "%s: cannot write: %s", path, strerror(e));
}

int rules_sign_file(const char *path, const char *private_pem, char keyid[RULES_KEYID_LEN + 1],
		    struct rules_error *err)
{
	uint8_t raw[RULES_PUBKEY_LEN], sig[RULES_SIG_LEN];
	unsigned char b64[SIG_B64_LEN + 1];
	char *data = NULL, *sigpath = NULL, text[RULES_SIGFILE_MAX];
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *pk, *pub = NULL;
	size_t len, siglen = sizeof(sig);
	int rc = -1, n;

	pk = load_private(private_pem, err);
	if (!pk)
		return -1;
	if (pkey_identity(pk, raw, keyid) < 0) {
		failf(err, "%s: cannot derive the public key", private_pem);
		goto out;
	}
	data = slurp(path, RULES_SIGNED_MAX, "larger than 64 MiB", &len, NULL, err);
	sigpath = data ? sig_path_of(path) : NULL;
	if (!data)
		goto out;
	if (!sigpath) {
		failf(err, "%s: out of memory", path);
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, len) != 1 ||
	    siglen != RULES_SIG_LEN) {
		failf(err, "%s: signing with key %s failed in OpenSSL", path, keyid);
		goto out;
	}
	/* Check it as a verifier will, with the public half alone. */
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof(raw));
	if (!pub || ed25519_verify(pub, sig, data, len) != 1) {
		failf(err, "%s: the new signature by key %s does not verify", path, keyid);
		goto out;
	}
	if (EVP_EncodeBlock(b64, sig, RULES_SIG_LEN) != SIG_B64_LEN) {
		failf(err, "%s: base64 encoding failed", path);
		goto out;
	}
	n = snprintf(text, sizeof(text), SIG_MAGIC "\nkey-id %s\ned25519 %s\n", keyid,
		     (const char *)b64);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		failf(err, "%s: signature text too long", path);
		goto out;
	}
	rc = write_atomic(sigpath, text, (size_t)n, err);
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pk);
	free(sigpath);
	free(data);
	ERR_clear_error();
	return rc;
}

/*
 * Write a key to a new file (never over an existing one): the private half
 * as PKCS#8 PEM, or the public half as SubjectPublicKeyInfo PEM. A file
 * left half written is removed.
 */
static int write_key_file(const char *path, EVP_PKEY *pk, bool private_half,
			  struct rules_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, private_half ? 0600 : 0644);
	FILE *f;
	int ok;

	if (fd < 0 && errno == EEXIST)
		return failf(err, "%s: already exists: keygen does not overwrite a key", path);
	if (fd < 0)
		return failf(err, "%s: cannot create: %s", path, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return failf(err, "%s: cannot create: %s", path, strerror(errno));
	}
	if (private_half)
		ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1;
	else
		ok = PEM_write_PUBKEY(f, pk) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		return failf(err, "%s: cannot write the %s key", path,
			     private_half ? "private" : "public");
	}
	return 0;
}

int rules_keygen(const char *private_pem, const char *public_pem, char keyid[RULES_KEYID_LEN + 1],
		 struct rules_error *err)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pk = NULL;
	uint8_t raw[RULES_PUBKEY_LEN];
	int rc = -1;

	if (!pc || EVP_PKEY_keygen_init(pc) != 1 || EVP_PKEY_keygen(pc, &pk) != 1 ||
	    pkey_identity(pk, raw, keyid) < 0) {
		failf(err, "cannot generate an Ed25519 key in OpenSSL");
		goto out;
	}
	if (write_key_file(private_pem, pk, true, err) < 0)
		goto out;
	if (write_key_file(public_pem, pk, false, err) < 0) {
		unlink(private_pem); /* half a pair is of no use */
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	ERR_clear_error();
	return rc;
}
