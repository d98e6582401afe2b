/*
 * dpixd_install.c: --install-rules and --check-rules.
 *
 * Install takes the ruleset --print-rules iptables prints (one source of
 * truth) and loads it idempotently: per family, one iptables-restore
 * --noflush whose input declares each DPIX_* chain (which flushes it if it
 * exists, creates it if not), appends its rules, and inserts a hook's jump
 * at the top only when `iptables -C` does not find it; the site's own
 * rules are never touched. Each table of the input is committed
 * atomically, so no packet sees a half-filled DPIX_QUEUE. Conntrack
 * timeout policies (nfct) are created if missing; an existing policy of
 * the same name is left as it is (one in use cannot be replaced).
 *
 * Check reads what is installed (iptables-save and ip6tables-save, the
 * mangle, filter and raw tables) and reports, one line each, what would
 * make dpixd misbehave: a missing queue rule, jump or mark save, a save
 * that can never run, the wrong fail mode, masks or queue numbers that are
 * not dpixd's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dpixd/dpixd.h"
#include "rules/rules.h"

#define MAX_LINE 1024
#define MAX_ARGS 48

static const char *const dpix_chains[][2] = {
	{ "mangle", "DPIX_QUEUE" },
	{ "filter", "DPIX_SAVE" },
	{ "raw", "DPIX_TIMEOUT" },
};

static const struct {
	unsigned bit;
	const char *chain;
} hook_chains[] = {
	{ HOOK_FORWARD, "FORWARD" },
	{ HOOK_INPUT, "INPUT" },
	{ HOOK_OUTPUT, "OUTPUT" },
};

/* Run argv, with input on its standard input if not NULL, its output to
 * /dev/null if quiet; the exit status, or -1. */
static int run(char *const argv[], const char *input, bool quiet)
{
	int in[2] = { -1, -1 }, st;
	pid_t pid;

	if (input && pipe(in) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (input) {
			dup2(in[0], STDIN_FILENO);
			close(in[0]);
			close(in[1]);
		}
		if (quiet && null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "dpixd: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		size_t len = strlen(input), off = 0;

		close(in[0]);
		while (off < len) {
			ssize_t n = write(in[1], input + off, len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		close(in[1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Split a printed command line at spaces (the printed rules have no
 * quoting); the number of words. */
static size_t split(char *line, char **argv, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	for (char *tok = strtok_r(line, " \n", &save); tok && n + 1 < max;
	     tok = strtok_r(NULL, " \n", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	return n;
}

/* The rules text for the configuration: the --print-rules iptables output. */
static char *printed_rules(const struct dpixd_config *c)
{
	struct ruleset *rs = dpixd_load_rules(c);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!rs)
		return NULL;
	if ((f = open_memstream(&text, &len))) {
		dpixd_print_iptables(f, c);
		dpixd_print_timeouts(f, c, rs);
		fclose(f);
	}
	ruleset_free(rs);
	free(rs);
	return text;
}

/* Append to a growing text; false when out of memory. */
static bool append(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool append(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n >= 0;
}

/* The iptables-restore input of one family (cmd "iptables" or
 * "ip6tables") from the printed commands. */
static char *restore_input(const char *text, const char *cmd)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	if (!f)
		return NULL;
	for (size_t t = 0; t < sizeof(dpix_chains) / sizeof(dpix_chains[0]); t++) {
		const char *table = dpix_chains[t][0];
		const char *p = text;

		append(f, "*%s\n:%s - [0:0]\n", table, dpix_chains[t][1]);
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			char line[MAX_LINE], *argv[MAX_ARGS];
			size_t n;

			if (len < sizeof(line)) {
				memcpy(line, p, len);
				line[len] = '\0';
				n = split(line, argv, MAX_ARGS);
				/* cmd -t TABLE -A CHAIN ...: DPIX_* chains get their
				 * rules, built-in chains a jump if it is missing. */
				if (n >= 5 && !strcmp(argv[0], cmd) && !strcmp(argv[2], table) &&
				    !strcmp(argv[3], "-A")) {
					bool dpix = !strncmp(argv[4], "DPIX_", 5);
					char *check[] = { argv[0], "-t",    argv[2], "-C",
							  argv[4], argv[5], argv[6], NULL };

					if (!dpix && (n != 7 || run(check, NULL, true) == 0))
						goto next;
					append(f, "%s %s", dpix ? "-A" : "-I", argv[4]);
					if (!dpix)
						append(f, " 1");
					for (size_t i = 5; i < n; i++)
						append(f, " %s", argv[i]);
					append(f, "\n");
				}
			}
		next:
			p += len + (nl != NULL);
		}
		append(f, "COMMIT\n");
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* nfct lines: each "nfct add timeout NAME ..." whose policy is missing. */
static int install_timeouts(const char *text)
{
	const char *p = text;
	int rc = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[MAX_LINE], *argv[MAX_ARGS];

		if (len < sizeof(line) && !strncmp(p, "nfct add timeout ", 17)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (split(line, argv, MAX_ARGS) >= 4) {
				char *get[] = { "nfct", "get", "timeout", argv[3], NULL };

				if (run(get, NULL, true) != 0 && run(argv, NULL, false) != 0) {
					fprintf(stderr, "dpixd: nfct add timeout %s failed\n",
						argv[3]);
					rc = -1;
				}
			}
		}
		p += len + (nl != NULL);
	}
	return rc;
}

int dpixd_install_rules(const struct dpixd_config *c)
{
	static const char *const fams[][2] = { { "iptables", "iptables-restore" },
					       { "ip6tables", "ip6tables-restore" } };
	char *text = printed_rules(c);
	int rc = 0;

	if (!text)
		return 1;
	if (install_timeouts(text) < 0)
		rc = 1;
	for (size_t f = 0; f < 2; f++) {
		char *input = restore_input(text, fams[f][0]);
		char *argv[] = { (char *)fams[f][1], "--noflush", NULL };

		if (!input || run(argv, input, false) != 0) {
			fprintf(stderr, "dpixd: %s --noflush refused the rules:\n%s", fams[f][1],
				input ? input : "(out of memory)\n");
			rc = 1;
		}
		free(input);
	}
	free(text);
	if (!rc)
		fprintf(stderr, "dpixd: rules installed (chains DPIX_QUEUE, DPIX_SAVE, "
				"DPIX_TIMEOUT)\n");
	return rc;
}

/*
 * --check-rules. The installed rules of one family, as iptables-save
 * prints them ("-A CHAIN match... -j TARGET options"), one table at a time.
 */
struct saved {
	char *text; /* iptables-save's output, NUL-terminated lines */
	size_t len;
};

static int save_table(const char *cmd, const char *table, struct saved *s)
{
	char line[MAX_LINE], command[128];
	FILE *p, *f;

	s->text = NULL;
	s->len = 0;
	snprintf(command, sizeof(command), "%s-save -t %s 2>/dev/null", cmd, table);
	if (!(p = popen(command, "r")))
		return -1;
	if (!(f = open_memstream(&s->text, &s->len))) {
		pclose(p);
		return -1;
	}
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "-A ", 3) || line[0] == ':')
			fputs(line, f);
	fclose(f);
	return pclose(p) == 0 ? 0 : -1;
}

/* Each line of s in turn: *cursor starts at NULL. */
static bool next_line(const struct saved *s, const char **cursor, char *line, size_t size)
{
	const char *p = *cursor ? *cursor : s->text, *nl;
	size_t len;

	if (!p || !*p)
		return false;
	nl = strchr(p, '\n');
	len = nl ? (size_t)(nl - p) : strlen(p);
	if (len >= size)
		len = size - 1;
	memcpy(line, p, len);
	line[len] = '\0';
	*cursor = nl ? nl + 1 : p + strlen(p);
	return true;
}

static bool chain_is(const char *line, const char *chain)
{
	size_t n = strlen(chain);

	return !strncmp(line, "-A ", 3) && !strncmp(line + 3, chain, n) && line[3 + n] == ' ';
}

static bool has_chain(const struct saved *s, const char *chain)
{
	char line[MAX_LINE];
	const char *cur = NULL;

	while (next_line(s, &cur, line, sizeof(line)))
		if (line[0] == ':' && !strncmp(line + 1, chain, strlen(chain)) &&
		    line[1 + strlen(chain)] == ' ')
			return true;
	return false;
}

/* The hex value after "opt " in line, or -1 when absent: "--mask 0x30". */
static int64_t hex_after(const char *line, const char *opt)
{
	const char *p = strstr(line, opt);

	if (!p)
		return -1;
	return (int64_t)strtoul(p + strlen(opt), NULL, 16);
}

static unsigned problems;

static void problem(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s: ", cmd);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	problems++;
}

static void check_queue_chain(const char *cmd, const struct dpixd_config *c, const struct saved *m)
{
	char line[MAX_LINE], want[64];
	const char *cur = NULL;
	bool ret = false, proto[2] = { false, false };

	if (c->nqueues > 1)
		snprintf(want, sizeof(want), "--queue-balance %u:%u", c->queue,
			 c->queue + c->nqueues - 1);
	else
		snprintf(want, sizeof(want), "--queue-num %u", c->queue);
	while (next_line(m, &cur, line, sizeof(line))) {
		if (!chain_is(line, "DPIX_QUEUE"))
			continue;
		if (strstr(line, "-m connmark") && strstr(line, "-j RETURN")) {
			int64_t mask = hex_after(line, "--mark 0x0/");

			ret = true;
			if (mask != c->mark_mask)
				problem(cmd,
					"mark mask mismatch: DPIX_QUEUE skips connmarks in "
					"0x%" PRIx64 ", dpixd's --mark-mask is 0x%" PRIx32,
					(uint64_t)mask, c->mark_mask);
		}
		if (!strstr(line, "-j NFQUEUE"))
			continue;
		for (int p = 0; p < 2; p++)
			if (strstr(line, p ? "-p udp" : "-p tcp"))
				proto[p] = true;
		if (!strstr(line, want))
			problem(cmd, "queue rule '%s' does not queue to dpixd's queues (%s)",
				line + 3, want);
		if (!c->fail_closed && !strstr(line, "--queue-bypass"))
			problem(cmd,
				"queue rule '%s' lacks --queue-bypass in fail-open mode: while "
				"dpixd is down or restarting, queued traffic is dropped",
				line + 3);
		if (c->fail_closed && strstr(line, "--queue-bypass"))
			problem(cmd,
				"queue rule '%s' has --queue-bypass in fail-closed mode: while "
				"dpixd is down, traffic passes uninspected",
				line + 3);
	}
	if (!ret)
		problem(cmd, "mangle DPIX_QUEUE: the connmark RETURN rule is missing: decided "
			     "flows are queued again");
	for (int p = 0; p < 2; p++)
		if (!proto[p])
			problem(cmd,
				"mangle DPIX_QUEUE: queue rule for %s missing: its flows are "
				"never classified",
				p ? "udp" : "tcp");
}

/* A CONNMARK --save-mark in a mangle chain after that chain's NFQUEUE rule
 * or jump to DPIX_QUEUE: it never runs for a queued packet. */
static void check_dead_save(const char *cmd, const struct saved *m)
{
	char line[MAX_LINE], queued_in[64] = "";
	const char *cur = NULL;

	while (next_line(m, &cur, line, sizeof(line))) {
		char chain[64];
		size_t n;

		if (strncmp(line, "-A ", 3))
			continue;
		n = strcspn(line + 3, " ");
		if (n >= sizeof(chain))
			continue;
		memcpy(chain, line + 3, n);
		chain[n] = '\0';
		if (strstr(line, "-j NFQUEUE") || strstr(line, "-j DPIX_QUEUE")) {
			snprintf(queued_in, sizeof(queued_in), "%s", chain);
			continue;
		}
		if (!strcmp(chain, queued_in) && strstr(line, "--save-mark"))
			problem(cmd,
				"mangle %s: '%s' comes after the queue rule and is dead code: a "
				"packet accepted from the queue continues at the next chain of "
				"its hook, not after the queue rule; dpixd saves the mark in "
				"filter DPIX_SAVE",
				chain, line + 3);
	}
}

static void check_save_chain(const char *cmd, const struct dpixd_config *c, const struct saved *f)
{
	char line[MAX_LINE];
	const char *cur = NULL;
	bool save = false;

	while (next_line(f, &cur, line, sizeof(line))) {
		int64_t mask;

		if (!chain_is(line, "DPIX_SAVE") || !strstr(line, "--save-mark"))
			continue;
		save = true;
		mask = hex_after(line, "--ctmask ");
		if (mask < 0)
			mask = hex_after(line, "--mask ");
		if (mask != c->mark_mask)
			problem(cmd,
				"mark mask mismatch: DPIX_SAVE saves mask 0x%" PRIx64
				", dpixd's --mark-mask is 0x%" PRIx32,
				(uint64_t)mask, c->mark_mask);
	}
	if (!save)
		problem(cmd, "filter DPIX_SAVE: the mark save (CONNMARK --save-mark) is missing: "
			     "verdicts never reach the connmark, so every packet of every flow "
			     "is queued");
}

static void check_jumps(const char *cmd, const struct dpixd_config *c, const struct saved *m,
			const struct saved *f)
{
	for (size_t h = 0; h < sizeof(hook_chains) / sizeof(hook_chains[0]); h++) {
		char line[MAX_LINE], want[64];
		const char *cur = NULL;
		bool q = false, s = false;

		if (!(c->hooks & hook_chains[h].bit))
			continue;
		snprintf(want, sizeof(want), "-A %s -j DPIX_QUEUE", hook_chains[h].chain);
		while (next_line(m, &cur, line, sizeof(line)))
			q |= !strcmp(line, want);
		snprintf(want, sizeof(want), "-A %s -j DPIX_SAVE", hook_chains[h].chain);
		cur = NULL;
		while (next_line(f, &cur, line, sizeof(line)))
			s |= !strcmp(line, want);
		if (!q)
			problem(cmd,
				"jump missing: mangle %s -j DPIX_QUEUE: %s traffic is never "
				"queued",
				hook_chains[h].chain, hook_chains[h].chain);
		if (!s)
			problem(cmd,
				"jump missing: filter %s -j DPIX_SAVE: %s verdicts are never "
				"saved",
				hook_chains[h].chain, hook_chains[h].chain);
	}
}

/* The raw table's timeout rules: as many as printed, reached from the
 * hooks the printed rules use. */
static void check_timeouts(const char *cmd, const char *text, const struct saved *r)
{
	static const char *const jumps[] = { "PREROUTING", "OUTPUT" };
	char line[MAX_LINE], want[96];
	const char *cur = NULL;
	unsigned printed = 0, installed = 0;

	snprintf(want, sizeof(want), "%s -t raw -A DPIX_TIMEOUT ", cmd);
	for (const char *p = text; (p = strstr(p, want)); p++)
		printed += p == text || p[-1] == '\n';
	while (next_line(r, &cur, line, sizeof(line)))
		installed += chain_is(line, "DPIX_TIMEOUT");
	if (installed != printed)
		problem(cmd,
			"raw DPIX_TIMEOUT has %u rule(s), the packs' conntrack timeouts need %u",
			installed, printed);
	for (size_t j = 0; printed && j < 2; j++) {
		bool found = false;

		snprintf(want, sizeof(want), "%s -t raw -A %s -j DPIX_TIMEOUT\n", cmd, jumps[j]);
		if (!strstr(text, want))
			continue;
		snprintf(want, sizeof(want), "-A %s -j DPIX_TIMEOUT", jumps[j]);
		cur = NULL;
		while (next_line(r, &cur, line, sizeof(line)))
			found |= !strcmp(line, want);
		if (!found)
			problem(cmd,
				"jump missing: raw %s -j DPIX_TIMEOUT: the packs' conntrack "
				"timeouts are never applied",
				jumps[j]);
	}
}

int dpixd_check_rules(const struct dpixd_config *c)
{
	static const char *const cmds[] = { "iptables", "ip6tables" };
	char *text = printed_rules(c);

	if (!text)
		return 1;
	problems = 0;
	for (size_t i = 0; i < 2; i++) {
		struct saved m = { 0 }, f = { 0 }, r = { 0 };
		const char *cmd = cmds[i];

		if (save_table(cmd, "mangle", &m) < 0 || save_table(cmd, "filter", &f) < 0 ||
		    save_table(cmd, "raw", &r) < 0) {
			problem(cmd, "%s-save failed: cannot read the installed rules", cmd);
		} else if (!has_chain(&m, "DPIX_QUEUE")) {
			problem(cmd, "mangle chain DPIX_QUEUE missing: nothing is queued (run "
				     "dpixd --install-rules)");
			check_dead_save(cmd, &m);
		} else {
			check_queue_chain(cmd, c, &m);
			check_dead_save(cmd, &m);
			if (!has_chain(&f, "DPIX_SAVE"))
				problem(cmd, "filter chain DPIX_SAVE missing: verdicts are never "
					     "saved");
			else
				check_save_chain(cmd, c, &f);
			check_jumps(cmd, c, &m, &f);
			check_timeouts(cmd, text, &r);
		}
		free(m.text);
		free(f.text);
		free(r.text);
	}
	free(text);
	if (problems) {
		printf("%u problem(s)\n", problems);
		return 1;
	}
	printf("rules ok\n");
	return 0;
}
