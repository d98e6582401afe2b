/*
 * test_sign.c: signed packs (rules_sign.c, rules_load_signed.c).
 *
 * Every test works in a fresh mkdtemp directory, removed after it, with key
 * pairs made by rules_keygen (and an EC P-256 pair made here through
 * OpenSSL, for the wrong-type checks). Messages are asserted whole where
 * the path is known, so that a reworded message is a decision, not a drift.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "rules/rules.h"
#include "rules/rules_sign.h"

#define PACK_TEXT "pack t\ndomains s = example.com\nrule r1 bypass sni in s\n"

struct fx {
	char dir[64];
	char path[PATH_MAX]; /* scratch for path() */
	struct rules_error err;
	struct rules_keyring kr;
};

static const char *path(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

/* A path that stays valid while path() is used again. */
static char *pathdup(struct fx *f, const char *name)
{
	char *s = strdup(path(f, name));

	assert_non_null(s);
	return s;
}

static void write_file(const char *p, const void *data, size_t len)
{
	FILE *fp = fopen(p, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static size_t read_file(const char *p, char *buf, size_t cap)
{
	FILE *fp = fopen(p, "rb");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return n;
}

static void keygen(struct fx *f, const char *name, char id[RULES_KEYID_LEN + 1])
{
	char priv[80], pub[80];
	char *pv, *pb;

	snprintf(priv, sizeof(priv), "%s.key", name);
	snprintf(pub, sizeof(pub), "%s.pub", name);
	pv = pathdup(f, priv);
	pb = pathdup(f, pub);
	if (rules_keygen(pv, pb, id, &f->err) != 0)
		fail_msg("keygen: %s", f->err.msg);
	free(pv);
	free(pb);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dpix-sign.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	write_file(path(f, "p.rules"), PACK_TEXT, strlen(PACK_TEXT));
	*state = f;
	return 0;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rm_tree(f->dir);
	free(f);
	return 0;
}

/* Sign p.rules with name.key; the key's id in id. */
static void sign_with(struct fx *f, const char *name, char id[RULES_KEYID_LEN + 1])
{
	char key[80];
	char *pk, *pack;

	snprintf(key, sizeof(key), "%s.key", name);
	pk = pathdup(f, key);
	pack = pathdup(f, "p.rules");
	if (rules_sign_file(pack, pk, id, &f->err) != 0)
		fail_msg("sign: %s", f->err.msg);
	free(pk);
	free(pack);
}

static void trust(struct fx *f, const char *name)
{
	if (rules_keyring_add(&f->kr, path(f, name), &f->err) != 0)
		fail_msg("trust %s: %s", name, f->err.msg);
}

static void expect_refused(struct fx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Verify p.rules, expecting a refusal whose message is exactly fmt, .... */
static void expect_refused(struct fx *f, const char *fmt, ...)
{
	char want[1024];
	char *pack = pathdup(f, "p.rules");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	assert_int_equal(rules_verify_file(pack, f->kr.keys, f->kr.n, &f->err), -1);
	assert_string_equal(f->err.msg, want);
	free(pack);
}

/* --- tests ----------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], sid[RULES_KEYID_LEN + 1], sig[300];
	struct ruleset rs = { 0 };
	struct stat st;
	char *pack;

	keygen(f, "a", id);
	assert_int_equal(strlen(id), RULES_KEYID_LEN);
	assert_int_equal(stat(path(f, "a.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	sign_with(f, "a", sid);
	assert_string_equal(sid, id);
	trust(f, "a.pub");
	assert_int_equal(f->kr.n, 1);
	assert_string_equal(f->kr.keys[0].id, id);

	/* The .sig: three lines, the key id on the second. */
	assert_int_equal(read_file(path(f, "p.rules.sig"), sig, sizeof(sig)),
			 18 + 24 + 8 + 88 + 1);
	assert_memory_equal(sig, "dpix-signature v1\nkey-id ", 25);
	assert_memory_equal(sig + 25, id, RULES_KEYID_LEN);

	pack = pathdup(f, "p.rules");
	assert_int_equal(rules_verify_file(pack, f->kr.keys, f->kr.n, &f->err), 0);
	if (rules_load_signed(&rs, pack, &f->kr, &f->err) != 0)
		fail_msg("load_signed: %s", f->err.msg);
	assert_int_equal(rs.npacks, 1);
	assert_string_equal(rs.packs[0]->name, "t");
	ruleset_free(&rs);
	free(pack);
}

static void test_one_byte_changed(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], text[] = PACK_TEXT;

	keygen(f, "a", id);
	sign_with(f, "a", id);
	trust(f, "a.pub");
	text[strlen(text) - 2] = 'x'; /* "in s" -> "in x" */
	write_file(path(f, "p.rules"), text, strlen(text));
	expect_refused(f,
		       "%s/p.rules: bad signature by key %s (%s/a.pub): the file is not what was "
		       "signed; it was changed or tampered with after signing",
		       f->dir, id, f->dir);

	/* An appended byte, a flipped bit of the signature: refused too. */
	write_file(path(f, "p.rules"), PACK_TEXT "\n", strlen(PACK_TEXT) + 1);
	assert_int_equal(rules_verify_file(path(f, "p.rules"), f->kr.keys, f->kr.n, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "bad signature by key"));
}

static void test_unknown_key(void **state)
{
	struct fx *f = *state;
	char a[RULES_KEYID_LEN + 1], b[RULES_KEYID_LEN + 1];

	keygen(f, "a", a);
	keygen(f, "b", b);
	assert_string_not_equal(a, b);
	sign_with(f, "b", b);
	trust(f, "a.pub");
	expect_refused(f, "%s/p.rules: signed by unknown key %s: not one of the 1 trusted public keys",
		       f->dir, b);
}

static void test_missing_sig(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1];

	keygen(f, "a", id);
	trust(f, "a.pub");
	expect_refused(f, "%s/p.rules: not signed: no signature file %s/p.rules.sig", f->dir, f->dir);
}

static void test_bad_sig_files(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], sig[300], big[400];
	char *sigpath;
	size_t n;

	keygen(f, "a", id);
	sign_with(f, "a", id);
	trust(f, "a.pub");
	sigpath = pathdup(f, "p.rules.sig");
	n = read_file(sigpath, sig, sizeof(sig));

	/* Truncated inside the base64. */
	write_file(sigpath, sig, n - 20);
	expect_refused(f, "%s/p.rules.sig:3:78: found end of file, expected a line feed", f->dir);
	/* Truncated after the key id line. */
	write_file(sigpath, sig, 42);
	expect_refused(f, "%s/p.rules.sig:3:1: found end of file, expected line 3 of 3", f->dir);
	/* Empty. */
	write_file(sigpath, "", 0);
	expect_refused(f, "%s/p.rules.sig:1:1: empty file, expected 'dpix-signature v1'", f->dir);
	/* Garbage. */
	write_file(sigpath, "\x89PNG\r\n\x1a\n", 8);
	expect_refused(f, "%s/p.rules.sig:1:1: found '\\x89PNG\\x0d', expected 'dpix-signature "
			  "v1': not a dpix signature file", f->dir);
	/* Oversized: a valid signature followed by padding past 256 bytes. */
	memcpy(big, sig, n);
	memset(big + n, '\n', sizeof(big) - n);
	write_file(sigpath, big, sizeof(big));
	expect_refused(f, "%s/p.rules.sig: larger than 256 bytes: not a dpix signature file", f->dir);
	/* Anything after the third line. */
	memcpy(big, sig, n);
	memcpy(big + n, "x\n", 2);
	write_file(sigpath, big, n + 2);
	expect_refused(f, "%s/p.rules.sig:4:1: found 'x\\x0a', expected the end of the file", f->dir);
	/* CRLF line ends. */
	write_file(sigpath, "dpix-signature v1\r\n", 19);
	expect_refused(f, "%s/p.rules.sig:1:18: found a carriage return, expected a line feed alone",
		       f->dir);
	free(sigpath);
}

/* The parser alone: each line's errors, with their columns. */
static void test_sig_parse(void **state)
{
	(void)state;
	static const char b64[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				  "AAAAAAAAAAAAAAAAAAAAAA==";
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "dpix-signature v2\n", "s.sig:1:16: unsupported version 'v2': this dpix reads v1" },
		{ "dpix-signature v1\nkeyid 0123456789abcdef\n",
		  "s.sig:2:1: found 'keyid 0123456789abcdef', expected 'key-id ...'" },
		{ "dpix-signature v1\nkey-id 0123456789ABCDEF\n",
		  "s.sig:2:18: found 'A', expected a lower-case hex digit of the key id" },
		{ "dpix-signature v1\nkey-id 0123\n", "s.sig:2:8: key id of 4 hex digits, expected 16" },
		{ "dpix-signature v1\nkey-id 0123456789abcdef\ned25519 AAAA\n",
		  "s.sig:3:9: signature of 4 characters, expected 88 (base64 of a 64-byte Ed25519 "
		  "signature)" },
		{ "dpix-signature v1\nkey-id 0123456789abcdef\ned448 AAAA\n",
		  "s.sig:3:1: found 'ed448 AAAA', expected 'ed25519 ...'" },
	};
	struct rules_error err;
	struct rules_sig sig;
	char text[300];
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rules_sig_parse(bad[i].text, strlen(bad[i].text), "s.sig", &sig,
						 &err),
				 -1);
		assert_string_equal(err.msg, bad[i].msg);
	}
	n = snprintf(text, sizeof(text), "dpix-signature v1\nkey-id 0123456789abcdef\ned25519 %s\n",
		     b64);
	assert_int_equal(rules_sig_parse(text, (size_t)n, "s.sig", &sig, &err), 0);
	assert_string_equal(sig.keyid, "0123456789abcdef");
	/* Non-canonical: the last data character carries bits that are not used. */
	text[n - 4] = 'B';
	assert_int_equal(rules_sig_parse(text, (size_t)n, "s.sig", &sig, &err), -1);
	assert_string_equal(err.msg, "s.sig:3:94: found 'B', expected a base64 character ending "
				     "the data with zero bits (A-Z, a-z, 0-9, + or /)");
	text[n - 4] = 'A';
	text[n - 2] = 'A'; /* padding replaced */
	assert_int_equal(rules_sig_parse(text, (size_t)n, "s.sig", &sig, &err), -1);
	assert_string_equal(err.msg,
			    "s.sig:3:96: found 'A', expected '=' (the padding of the last group)");
	text[n - 2] = '=';
	text[60] = '-'; /* URL-safe base64 is not ours; line 3 starts at 42 */
	assert_int_equal(rules_sig_parse(text, (size_t)n, "s.sig", &sig, &err), -1);
	assert_string_equal(err.msg, "s.sig:3:19: found '-', expected a base64 character ending "
				     "the data with zero bits (A-Z, a-z, 0-9, + or /)");
}

/* An EC P-256 pair in name.key / name.pub, as a team might have lying around. */
static void make_ec_pair(struct fx *f, const char *name)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *pk = NULL;
	char file[80];
	FILE *fp;

	assert_non_null(pc);
	assert_int_equal(EVP_PKEY_keygen_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc, NID_X9_62_prime256v1), 1);
	assert_int_equal(EVP_PKEY_keygen(pc, &pk), 1);
	snprintf(file, sizeof(file), "%s.key", name);
	fp = fopen(path(f, file), "w");
	assert_non_null(fp);
	assert_int_equal(chmod(path(f, file), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	snprintf(file, sizeof(file), "%s.pub", name);
	fp = fopen(path(f, file), "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PUBKEY(fp, pk), 1);
	fclose(fp);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
}

static void test_wrong_key_types(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], want[512];
	char *pack = pathdup(f, "p.rules");

	make_ec_pair(f, "ec");
	assert_int_equal(rules_keyring_add(&f->kr, path(f, "ec.pub"), &f->err), -1);
	snprintf(want, sizeof(want), "%s/ec.pub: an EC public key, expected an Ed25519 key",
		 f->dir);
	assert_string_equal(f->err.msg, want);
	assert_int_equal(rules_sign_file(pack, path(f, "ec.key"), id, &f->err), -1);
	snprintf(want, sizeof(want), "%s/ec.key: an EC private key, expected an Ed25519 key",
		 f->dir);
	assert_string_equal(f->err.msg, want);

	/* A private key where a public one is expected, and the other way round. */
	keygen(f, "a", id);
	assert_int_equal(rules_keyring_add(&f->kr, path(f, "a.key"), &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/a.key: holds a private key, not a public key"));
	assert_int_equal(chmod(path(f, "a.pub"), 0644), 0);
	assert_int_equal(rules_sign_file(pack, path(f, "a.pub"), id, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/a.pub: private key file is accessible by group or "
					   "others (mode 0644): refused"));
	assert_int_equal(chmod(path(f, "a.pub"), 0600), 0);
	assert_int_equal(rules_sign_file(pack, path(f, "a.pub"), id, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/a.pub: holds a public key; signing needs the private key"));
	/* Not PEM at all. */
	assert_int_equal(rules_keyring_add(&f->kr, pack, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/p.rules: not a PEM public key"));
	assert_int_equal(f->kr.n, 0);
	free(pack);
}

static void test_private_key_mode(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], want[512];
	char *pack = pathdup(f, "p.rules");

	keygen(f, "a", id);
	assert_int_equal(chmod(path(f, "a.key"), 0640), 0);
	assert_int_equal(rules_sign_file(pack, path(f, "a.key"), id, &f->err), -1);
	snprintf(want, sizeof(want),
		 "%s/a.key: private key file is accessible by group or others (mode 0640): "
		 "refused; run chmod 600 on it",
		 f->dir);
	assert_string_equal(f->err.msg, want);
	assert_int_equal(access(path(f, "p.rules.sig"), F_OK), -1);
	/* keygen never overwrites. */
	assert_int_equal(rules_keygen(path(f, "a.key"), "/nonexistent/x.pub", id, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/a.key: already exists"));
	free(pack);
}

static void test_key_directory(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], name[32], want[512];
	char *keys;

	keys = pathdup(f, "keys");
	assert_int_equal(mkdir(keys, 0700), 0);
	assert_int_equal(rules_keyring_add(&f->kr, keys, &f->err), -1);
	snprintf(want, sizeof(want), "%s: no *.pem or *.pub file in the key directory", keys);
	assert_string_equal(f->err.msg, want);
	for (int i = 0; i < RULES_MAX_PUBKEYS; i++) {
		snprintf(name, sizeof(name), "keys/k%02d", i);
		keygen(f, name, id);
		snprintf(name, sizeof(name), "keys/k%02d.key", i);
		unlink(path(f, name));
	}
	write_file(path(f, "keys/README"), "not a key\n", 10);
	trust(f, "keys");
	assert_int_equal(f->kr.n, RULES_MAX_PUBKEYS);
	/* The same keys again: skipped, not counted twice. */
	trust(f, "keys/k00.pub");
	assert_int_equal(f->kr.n, RULES_MAX_PUBKEYS);
	/* One more is refused. */
	keygen(f, "extra", id);
	assert_int_equal(rules_keyring_add(&f->kr, path(f, "extra.pub"), &f->err), -1);
	assert_non_null(strstr(f->err.msg, "/extra.pub: more than 64 public keys"));
	free(keys);
}

/* Every file a pack is read from needs its own signature: an include, a
 * list file. */
static void test_included_files_signed(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], want[1024];
	struct ruleset rs = { 0 };
	char *key, *top, *inc, *list;

	keygen(f, "a", id);
	trust(f, "a.pub");
	key = pathdup(f, "a.key");
	top = pathdup(f, "top.rules");
	inc = pathdup(f, "inc.rules");
	list = pathdup(f, "names.txt");
	write_file(top, "pack top\ninclude \"inc.rules\"\n", 29);
	write_file(inc, "domains d from \"names.txt\"\nrule r bypass sni in d\n", 50);
	write_file(list, "a.example.com\n", 14);
	assert_int_equal(rules_sign_file(top, key, id, &f->err), 0);
	assert_int_equal(rules_sign_file(inc, key, id, &f->err), 0);
	/* The list is not signed: the pack is refused, naming it. */
	assert_int_equal(rules_load_signed(&rs, top, &f->kr, &f->err), -1);
	snprintf(want, sizeof(want), "%s: not signed: no signature file %s.sig", list, list);
	assert_non_null(strstr(f->err.msg, want));
	assert_int_equal(rs.npacks, 0);
	assert_int_equal(rules_sign_file(list, key, id, &f->err), 0);
	if (rules_load_signed(&rs, top, &f->kr, &f->err) != 0)
		fail_msg("%s", f->err.msg);
	assert_int_equal(rs.npacks, 1);
	ruleset_free(&rs);
	/* The included file changed after signing: refused. */
	write_file(inc, "domains d from \"names.txt\"\nrule r drop   sni in d\n", 50);
	assert_int_equal(rules_load_signed(&rs, top, &f->kr, &f->err), -1);
	assert_non_null(strstr(f->err.msg, "bad signature"));
	assert_non_null(strstr(f->err.msg, "inc.rules"));
	assert_int_equal(rs.npacks, 0);
	free(key);
	free(top);
	free(inc);
	free(list);
}

static void test_load_dir_signed(void **state)
{
	struct fx *f = *state;
	char id[RULES_KEYID_LEN + 1], want[512];
	struct ruleset rs = { 0 };
	char *packs, *key;

	keygen(f, "a", id);
	trust(f, "a.pub");
	packs = pathdup(f, "packs");
	key = pathdup(f, "a.key");
	assert_int_equal(mkdir(packs, 0700), 0);
	write_file(path(f, "packs/1.rules"), "pack one\n", 9);
	write_file(path(f, "packs/2.rules"), "pack two\n", 9);
	assert_int_equal(rules_sign_file(path(f, "packs/1.rules"), key, id, &f->err), 0);
	/* 2.rules is not signed: nothing is loaded, 1.rules included. */
	assert_int_equal(rules_load_dir_signed(&rs, packs, &f->kr, &f->err), -1);
	snprintf(want, sizeof(want), "%s/2.rules: not signed: no signature file %s/2.rules.sig",
		 packs, packs);
	assert_string_equal(f->err.msg, want);
	assert_int_equal(rs.npacks, 0);
	assert_int_equal(rules_sign_file(path(f, "packs/2.rules"), key, id, &f->err), 0);
	if (rules_load_dir_signed(&rs, packs, &f->kr, &f->err) != 0)
		fail_msg("%s", f->err.msg);
	assert_int_equal(rs.npacks, 2);
	assert_string_equal(rs.packs[0]->name, "one");
	assert_string_equal(rs.packs[1]->name, "two");
	ruleset_free(&rs);
	free(packs);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_byte_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_sig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sig_files, setup, teardown),
		cmocka_unit_test(test_sig_parse),
		cmocka_unit_test_setup_teardown(test_wrong_key_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_dir_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_included_files_signed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
