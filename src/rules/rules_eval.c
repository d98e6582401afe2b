/*
 * rules_eval.c: the verdict for a flow's facts, and loading a directory.
 *
 * Evaluation order: packs in the order they were loaded, rules in the order
 * they are written; the first rule that matches decides. No priorities: the
 * order a reviewer reads is the order that runs. No match: inspect.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

static const char *const action_names[ACTION_COUNT] = { "none", "bypass", "inspect", "drop" };

static const char *const reason_names[REASON_COUNT] = {
	"classified", "unrecognized", "budget_exhausted", "flow_end",
	"evicted",    "capture_end",  "no_memory",
};

const char *rule_action_name(enum rule_action a)
{
	return (unsigned)a < ACTION_COUNT ? action_names[a] : "invalid";
}

const char *verdict_reason_name(enum verdict_reason r)
{
	return (unsigned)r < REASON_COUNT ? reason_names[r] : "invalid";
}

static bool rule_matches(const struct rule *r, const struct flow_facts *f)
{
	bool sni = f->sni_len && domain_set_match(r->set, f->sni, f->sni_len);
	bool con =
	    f->connect_host_len && domain_set_match(r->set, f->connect_host, f->connect_host_len);

	switch (r->field) {
	case FIELD_SNI:
		return sni;
	case FIELD_CONNECT:
		return con;
	case FIELD_NAME:
		return sni || con;
	}
	return false;
}

void rules_eval(const struct ruleset *rs, const struct flow_facts *facts, struct verdict *v)
{
	v->action = ACTION_INSPECT;
	v->rule = NULL;
	for (size_t p = 0; p < rs->npacks; p++) {
		const struct rule_pack *pk = rs->packs[p];

		for (size_t i = 0; i < pk->nrules; i++) {
			if (rule_matches(&pk->rules[i], facts)) {
				v->action = pk->rules[i].action;
				v->rule = &pk->rules[i];
				return;
			}
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rules_load_dir(struct ruleset *rs, const char *dir, struct rules_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (!d) {
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open rules directory: %s", dir,
			 strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **v;

		if (len <= 6 || strcmp(de->d_name + len - 6, ".rules") || de->d_name[0] == '.')
			continue;
		v = realloc(names, (n + 1) * sizeof(*v));
		size_t sz = strlen(dir) + len + 2;

		if (!v || !(v[n] = malloc(sz))) {
			names = v ? v : names;
			snprintf(err->msg, sizeof(err->msg), "%s: out of memory", dir);
			rc = -1;
			break;
		}
		names = v;
		snprintf(names[n++], sz, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (rc == 0 && n == 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: no *.rules files", dir);
		rc = -1;
	}
	if (names)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rules_load(rs, names[i], err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
