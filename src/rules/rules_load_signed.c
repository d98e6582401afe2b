/*
 * rules_load_signed.c: loading the packs of a directory, and loading
 * packs only when their signatures verify.
 *
 * Signed loading hands the parser a verifier: every file a pack is read
 * from (the pack, each included file, each list file) must have its own
 * valid FILE.sig, checked on the very bytes that are then parsed, so a
 * file swapped after the check is never parsed unchecked.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "rules/rules_sign.h"
#include "util/sort.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *name, const char *const *suffixes)
{
	size_t len = strlen(name);

	if (name[0] == '.')
		return false;
	for (size_t i = 0; suffixes[i]; i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(name + len - sl, suffixes[i]))
			return true;
	}
	return false;
}

void rules_dir_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int rules_dir_list_suffix(const char *dir, const char *const *suffixes, char ***names, size_t *n,
			  struct rules_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		int e = errno;

		snprintf(err->msg, sizeof(err->msg), "%s: cannot open directory: %s", dir,
			 strerror(e));
		errno = e;
		return -1;
	}
	while ((de = readdir(d))) {
		size_t sz = strlen(dir) + strlen(de->d_name) + 2;
		char **nv;

		if (!has_suffix(de->d_name, suffixes))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*nv));
		if (nv)
			v = nv;
		if (!nv || !(v[cnt] = malloc(sz))) {
			closedir(d);
			rules_dir_list_free(v, cnt);
			snprintf(err->msg, sizeof(err->msg), "%s: out of memory", dir);
			return -1;
		}
		/* "rules/" and "rules" give the same names. */
		snprintf(v[cnt++], sz, "%s%s%s", dir,
			 *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
	}
	closedir(d);
	if (v)
		sort_n(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

int rules_dir_list(const char *dir, char ***names, size_t *n, struct rules_error *err)
{
	static const char *const suffixes[] = { ".rules", NULL };

	return rules_dir_list_suffix(dir, suffixes, names, n, err);
}

static int check_signed(const char *path, const char *data, size_t len, const void *arg,
			struct rules_error *err)
{
	const struct rules_keyring *kr = arg;

	return rules_verify_bytes(path, data, len, kr->keys, kr->n, err) < 0 ? -1 : 0;
}

int rules_load_signed(struct ruleset *rs, const char *path, const struct rules_keyring *kr,
		      struct rules_error *err)
{
	const struct rules_verifier v = { check_signed, kr };

	return rules_load_with(rs, path, &v, err);
}

int rules_load_dir_with(struct ruleset *rs, const char *dir, const struct rules_verifier *verify,
			struct rules_error *err)
{
	struct ruleset tmp = { 0 };
	char **names;
	size_t n;
	int rc = 0;

	if (rules_dir_list(dir, &names, &n, err) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open rules directory: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (n == 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: no *.rules files", dir);
		rc = -1;
	}
	/* All or nothing: the packs go to rs only once every one has loaded. */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rules_load_with(&tmp, names[i], verify, err);
	rules_dir_list_free(names, n);
	if (rc == 0) {
		struct rule_pack **v = realloc(rs->packs, (rs->npacks + tmp.npacks) * sizeof(*v));

		if (!v) {
			snprintf(err->msg, sizeof(err->msg), "%s: out of memory", dir);
			rc = -1;
		} else {
			memcpy(v + rs->npacks, tmp.packs, tmp.npacks * sizeof(*v));
			rs->packs = v;
			rs->npacks += tmp.npacks;
			if (!rs->default_action)
				rs->default_action = tmp.default_action;
			rules_index_free(rs->index);
			rs->index = NULL;
			free(tmp.packs);
			return 0;
		}
	}
	ruleset_free(&tmp);
	return rc;
}

#ifndef DPIX_RULESDIR
#define DPIX_RULESDIR "/usr/local/share/dpix/rules"
#endif

const char *rules_default_dir(void)
{
	const char *dir = getenv("DPIX_RULES_DIR");

	return dir && *dir ? dir : DPIX_RULESDIR;
}

int rules_load_dir(struct ruleset *rs, const char *dir, struct rules_error *err)
{
	return rules_load_dir_with(rs, dir, NULL, err);
}

int rules_load_dir_signed(struct ruleset *rs, const char *dir, const struct rules_keyring *kr,
			  struct rules_error *err)
{
	const struct rules_verifier v = { check_signed, kr };

	return rules_load_dir_with(rs, dir, &v, err);
}
