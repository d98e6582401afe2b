/*
 * rules_sign.h: signed rule packs. Ed25519 (OpenSSL EVP), keys in PEM files
 * that the openssl command line reads and writes too, and a detached
 * signature next to each signed file: FILE.sig (format in rules_sign.c and
 * doc/dpix.rules.5). A signature covers the exact bytes of one file, nothing
 * else: every file a loader opens is verified on its own.
 *
 * Calls return 0 (or, rules_verify_file, the index of the key) or -1 with a
 * message in err that names the file and, once known, the key id. No
 * message ever holds key material.
 */
#ifndef DPIX_RULES_SIGN_H
#define DPIX_RULES_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rules-t.h"

#define RULES_PUBKEY_LEN 32	     /* a raw Ed25519 public key */
#define RULES_SIG_LEN 64	     /* a raw Ed25519 signature */
#define RULES_KEYID_LEN 16	     /* hex digits: the first 8 bytes of SHA-256(raw public key) */
#define RULES_MAX_PUBKEYS 64	     /* trusted public keys at most */
#define RULES_SIGFILE_MAX 256	     /* bytes of a .sig file at most */
#define RULES_SIGNED_MAX (64u << 20) /* bytes of a signed file at most, as a pack */

struct rules_pubkey {
	uint8_t raw[RULES_PUBKEY_LEN];
	char id[RULES_KEYID_LEN + 1];
	char file[256]; /* where it was read from, for messages; cut if longer */
};

/* Trusted public keys: a fixed array, nothing to free. */
struct rules_keyring {
	struct rules_pubkey keys[RULES_MAX_PUBKEYS];
	size_t n;
};

/* A parsed .sig file. */
struct rules_sig {
	char keyid[RULES_KEYID_LEN + 1];
	uint8_t sig[RULES_SIG_LEN];
};

/*
 * Add the public keys of path to kr: one SubjectPublicKeyInfo PEM file
 * ("BEGIN PUBLIC KEY", as `openssl pkey -pubout` writes it), or a directory,
 * whose *.pem and *.pub files (not starting with a dot) are read in name
 * order. A key already in kr is skipped; anything else that is not an
 * Ed25519 public key is an error, and so is a 65th key.
 */
int rules_keyring_add(struct rules_keyring *kr, const char *path, struct rules_error *err);

/*
 * Verify path against path.sig with the keys: returns the index in keys of
 * the key that signed it, or -1 and why: the file or its .sig cannot be
 * read, no .sig, a malformed .sig (sig:line:column), a key id not among the
 * keys, or a signature that does not match the file's bytes.
 */
int rules_verify_file(const char *path, const struct rules_pubkey *keys, size_t nkeys,
		      struct rules_error *err);

/* The same for bytes already read from path (the signature is path.sig). */
int rules_verify_bytes(const char *path, const char *data, size_t len,
		       const struct rules_pubkey *keys, size_t nkeys, struct rules_error *err);

/*
 * Sign path with the private key in private_pem (PKCS#8 "BEGIN PRIVATE KEY",
 * unencrypted, as `openssl genpkey -algorithm ed25519` writes it; refused
 * when group or others have any access to the file) and write path.sig
 * through a temporary file and rename. keyid gets the signer's key id.
 */
int rules_sign_file(const char *path, const char *private_pem, char keyid[RULES_KEYID_LEN + 1],
		    struct rules_error *err);

/*
 * A new key pair: the private key to private_pem (mode 0600), the public key
 * to public_pem. Neither file may exist yet.
 */
int rules_keygen(const char *private_pem, const char *public_pem, char keyid[RULES_KEYID_LEN + 1],
		 struct rules_error *err);

/* The key id of a raw public key. */
int rules_keyid(const uint8_t raw[RULES_PUBKEY_LEN], char keyid[RULES_KEYID_LEN + 1]);

/*
 * Parse the text of a .sig file (len bytes, NUL not needed); sigpath is for
 * messages only. Strict: the three lines exactly, nothing before or after.
 */
int rules_sig_parse(const char *text, size_t len, const char *sigpath, struct rules_sig *out,
		    struct rules_error *err);

/*
 * Loading with signatures required (rules_load_signed.c): verify, then
 * parse. The directory form loads the same files as rules_load_dir, each
 * verified first; one bad file and nothing of the directory is kept in rs
 * beyond what was loaded before it (as rules_load_dir).
 */
int rules_load_signed(struct ruleset *rs, const char *path, const struct rules_keyring *kr,
		      struct rules_error *err);
int rules_load_dir_signed(struct ruleset *rs, const char *dir, const struct rules_keyring *kr,
			  struct rules_error *err);

/*
 * The *.rules files of dir (not starting with a dot), as "dir/name", in
 * byte order of the names: the files rules_load_dir reads. No file is not
 * an error here (*n is 0). Free with rules_dir_list_free.
 */
int rules_dir_list(const char *dir, char ***names, size_t *n, struct rules_error *err);
/* The same for names ending in one of suffixes (NULL-terminated). */
int rules_dir_list_suffix(const char *dir, const char *const *suffixes, char ***names, size_t *n,
			  struct rules_error *err);
void rules_dir_list_free(char **names, size_t n);

#endif
