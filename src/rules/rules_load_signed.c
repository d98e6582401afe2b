/*
 * rules_load_signed.c: loading packs only when their signature verifies,
 * and listing the files of a directory in the order dpix loads them.
 *
 * Each file is verified, then parsed: it is read twice, so the rules
 * directory must be writable by its owner alone (a file swapped between
 * the two reads would be parsed unverified). Files a pack refers to are
 * not covered by its signature; a loader that opens more files calls
 * rules_verify_file for each.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "rules/rules_sign.h"

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
		snprintf(v[cnt++], sz, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (v)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

int rules_dir_list(const char *dir, char ***names, size_t *n, struct rules_error *err)
{
	static const char *const suffixes[] = { ".rules", NULL };

	return rules_dir_list_suffix(dir, suffixes, names, n, err);
}

int rules_load_signed(struct ruleset *rs, const char *path, const struct rules_keyring *kr,
		      struct rules_error *err)
{
	if (rules_verify_file(path, kr->keys, kr->n, err) < 0)
		return -1;
	return rules_load(rs, path, err);
}

int rules_load_dir_signed(struct ruleset *rs, const char *dir, const struct rules_keyring *kr,
			  struct rules_error *err)
{
	char **names;
	size_t n;
	int rc = 0;

	if (rules_dir_list(dir, &names, &n, err) < 0) {
		/* The words rules_load_dir uses. */
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open rules directory: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (n == 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: no *.rules files", dir);
		rc = -1;
	}
	/* Every file verified before any is parsed: all or nothing is trusted. */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rules_verify_file(names[i], kr->keys, kr->n, err) < 0 ? -1 : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rules_load_signed(rs, names[i], kr, err);
	rules_dir_list_free(names, n);
	return rc;
}
