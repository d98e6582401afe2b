/*
 * test_dpixd_conf.c: dpixd.conf(5) parsing (dpixd_conf.c): a good file with
 * every kind of key, each kind of error with its exact file:line:column
 * message, the command line over the file, and the reload diff.
 * Files are written to a mkstemp file.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpixd/dpixd_conf.h"

static char path[64];

static const char *file(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/dpixd-conf-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Build from text and args; the error message, or "" on success. */
static const char *build(struct dpixd_config *c, const char *text, const struct dpixd_arg *args,
			 size_t nargs)
{
	static char err[1024];

	*c = (struct dpixd_config){
		.conf_path = file(text), .conf_required = true, .args = args, .nargs = nargs
	};
	err[0] = 0;
	dpixd_conf_build(c, "/rules", err, sizeof(err));
	unlink(path);
	return err;
}

static void test_good(void **state)
{
	struct dpixd_config c;

	(void)state;
	assert_string_equal(build(&c,
				  "# dpixd.conf\n"
				  "\n"
				  "rules /a.rules\n"
				  "rules\t/b.rules   # the second\n"
				  "eve /var/log/eve.json\n"
				  "queue 3\nqueues 2\nfail-closed yes\ncopy-range 512\n"
				  "queue-maxlen 0x100\nmark-mask 0xf0\nmark-bypass 0x10\n"
				  "mark-inspect 0x20\nmark-drop 0x30\nhook input\nhook output\n"
				  "max-flows 1000\nmax-packets 4\nstream-window 4096\n"
				  "control-socket /tmp/x.sock\nmetrics [::1]:9100\nuser dpix\r\n",
				  NULL, 0),
			    "");
	assert_int_equal(c.npacks, 2);
	assert_string_equal(c.packs[0], "/a.rules");
	assert_string_equal(c.packs[1], "/b.rules");
	assert_string_equal(c.eve_path, "/var/log/eve.json");
	assert_int_equal(c.queue, 3);
	assert_int_equal(c.nqueues, 2);
	assert_true(c.fail_closed);
	assert_int_equal(c.copy_range, 512);
	assert_int_equal(c.queue_maxlen, 256);
	assert_int_equal(c.mark_mask, 0xf0);
	assert_int_equal(c.mark[ACTION_DROP], 0x30);
	assert_int_equal(c.hooks, HOOK_INPUT | HOOK_OUTPUT);
	assert_int_equal(c.pipe.max_flows, 1000);
	assert_int_equal(c.pipe.max_packets, 4);
	assert_int_equal(c.pipe.stream_window, 4096);
	assert_string_equal(c.ctl_path, "/tmp/x.sock");
	assert_string_equal(c.metrics_addr, "[::1]:9100");
	assert_string_equal(c.user, "dpix");
	assert_string_equal(c.rules_dir, "/rules");
	dpixd_conf_free(&c);
}

static void test_defaults(void **state)
{
	struct dpixd_config c;

	(void)state;
	assert_string_equal(build(&c, "", NULL, 0), "");
	assert_int_equal(c.npacks, 0);
	assert_int_equal(c.nqueues, 1);
	assert_false(c.fail_closed);
	assert_int_equal(c.hooks, HOOK_FORWARD);
	assert_string_equal(c.ctl_path, DPIXD_DEFAULT_CTL);
	assert_null(c.metrics_addr);
	assert_null(c.eve_path);
	dpixd_conf_free(&c);
	/* The control socket can be turned off. */
	assert_string_equal(build(&c, "control-socket none\n", NULL, 0), "");
	assert_null(c.ctl_path);
	dpixd_conf_free(&c);
}

static void expect_error(const char *text, const char *want)
{
	struct dpixd_config c;
	char msg[1200];

	snprintf(msg, sizeof(msg), "%s", build(&c, text, NULL, 0));
	dpixd_conf_free(&c);
	/* The path is the mkstemp name: compare what follows it. */
	assert_int_equal(strncmp(msg, "/tmp/dpixd-conf-", 16), 0);
	assert_string_equal(msg + strlen(path), want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("queue 1\n  frob 2\n",
		     ":2:3: 'frob': unknown key, expected one of rules, eve, queue, queues, "
		     "fail-closed, copy-range, queue-maxlen, mark-mask, mark-bypass, mark-inspect, "
		     "mark-drop, hook, max-flows, max-packets, stream-window, control-socket, "
		     "metrics, user, watchdog, no-supervise, require-signed, pubkey, proxy-listen, "
		     "proxy-parent, proxy-max-tunnels, proxy-idle-timeout, proxy-fronting, "
		     "proxy-transparent, proxy-tproxy, proxy-mark, proxy-head-timeout, "
		     "proxy-parent-auth, proxy-listen-tls, proxy-tls-cert, proxy-tls-key");
	expect_error("queue 70000\n", ":1:7: queue '70000': expected a number from 0 to 65535");
	expect_error("queues 65\n", ":1:8: queues '65': expected a number from 0 to 64");
	expect_error("copy-range 12x\n",
		     ":1:12: copy-range '12x': expected a number from 128 to 65535");
	expect_error("max-flows -1\n",
		     ":1:11: max-flows '-1': expected a number from 1 to 1073741824");
	expect_error("# c\nqueue\n", ":2:6: 'queue': expected a value after the key");
	expect_error("queue # no value\n", ":1:7: 'queue': expected a value after the key");
	expect_error("queue 1 2\n",
		     ":1:9: '2': expected one value, then the end of the line or a # comment");
	expect_error("queue 1\nqueue 2\n",
		     ":2:1: 'queue': already set on line 1, expected it once");
	expect_error("fail-closed true\n", ":1:13: fail-closed 'true': expected yes or no");
	expect_error("hook prerouting\n",
		     ":1:6: hook 'prerouting': expected forward, input or output");
	expect_error("metrics localhost:80\n",
		     ":1:9: metrics 'localhost:80': expected ADDR:PORT (an IPv4 address or [IPv6], "
		     "a port from 1 to 65535)");
	expect_error("metrics 127.0.0.1:0\n",
		     ":1:9: metrics '127.0.0.1:0': expected ADDR:PORT (an IPv4 address or [IPv6], "
		     "a port from 1 to 65535)");
}

static void test_long_line_and_nul(void **state)
{
	struct dpixd_config c;
	char text[DPIXD_CONF_LINE_MAX + 64];
	const char *err;
	FILE *f;
	int fd;

	(void)state;
	memset(text, 'x', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = 0;
	assert_string_equal(build(&c, text, NULL, 0) + strlen(path),
			    ":1:1: line longer than 1024 bytes");
	dpixd_conf_free(&c);
	/* A NUL byte inside a line: written by hand, strlen would stop there. */
	snprintf(path, sizeof(path), "/tmp/dpixd-conf-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fwrite("queue 1\nqueues 1\0 2\n", 1, 20, f);
	fclose(f);
	c = (struct dpixd_config){ .conf_path = path, .conf_required = true };
	err = text;
	text[0] = 0;
	dpixd_conf_build(&c, "/rules", text, sizeof(text));
	unlink(path);
	assert_string_equal(err + strlen(path), ":2:9: a NUL byte: expected text");
	dpixd_conf_free(&c);
}

static void test_missing(void **state)
{
	struct dpixd_config c = { .conf_path = "/nonexistent/dpixd.conf" };
	char err[256] = "";

	(void)state;
	/* The default file may be missing; a file given with --config not. */
	assert_int_equal(dpixd_conf_build(&c, "/rules", err, sizeof(err)), 0);
	c = (struct dpixd_config){ .conf_path = "/nonexistent/dpixd.conf", .conf_required = true };
	assert_int_equal(dpixd_conf_build(&c, "/rules", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/dpixd.conf: No such file or directory");
}

static void test_cross_checks(void **state)
{
	struct dpixd_config c;

	(void)state;
	assert_string_equal(build(&c, "queue 65535\nqueues 2\n", NULL, 0),
			    "queues 65535 to 65536: the last queue number is 65535");
	dpixd_conf_free(&c);
	assert_string_equal(build(&c, "mark-bypass 0x1\n", NULL, 0),
			    "mark-bypass 0x1: must be non-zero and inside mark-mask 0x300000");
	dpixd_conf_free(&c);
	assert_string_equal(build(&c, "mark-inspect 0x100000\n", NULL, 0),
			    "mark-bypass and mark-inspect are both 0x100000");
	dpixd_conf_free(&c);
	/* A TLS listener needs its certificate and key. */
	assert_string_equal(
	    build(&c, "proxy-listen-tls 127.0.0.1:3129\nproxy-tls-cert /c.pem\n", NULL, 0),
	    "proxy-listen-tls: needs proxy-tls-cert and proxy-tls-key");
	dpixd_conf_free(&c);
	assert_string_equal(build(&c,
				  "proxy-listen-tls 127.0.0.1:3129\nproxy-tls-cert /c.pem\n"
				  "proxy-tls-key /k.pem\n",
				  NULL, 0),
			    "");
	assert_string_equal(c.proxy.tls_cert, "/c.pem");
	assert_string_equal(c.proxy.tls_key, "/k.pem");
	dpixd_conf_free(&c);
}

static void test_overrides(void **state)
{
	static const struct dpixd_arg args[] = {
		{ "queue", "5" },
		{ "rules", "/cli.rules" },
		{ "hook", "output" },
		{ "fail-closed", "yes" },
	};
	static const struct dpixd_arg bad[] = { { "queue", "x" } };
	struct dpixd_config c;

	(void)state;
	assert_string_equal(build(&c,
				  "queue 2\nqueues 3\nrules /a.rules\nrules /b.rules\nhook input\n"
				  "fail-closed no\n",
				  args, 4),
			    "");
	assert_int_equal(c.queue, 5);
	assert_int_equal(c.nqueues, 3);
	/* A list on the command line replaces the file's. */
	assert_int_equal(c.npacks, 1);
	assert_string_equal(c.packs[0], "/cli.rules");
	assert_int_equal(c.hooks, HOOK_OUTPUT);
	assert_true(c.fail_closed);
	dpixd_conf_free(&c);
	/* Each listener list apart: proxy-listen-tls on the command line
	 * replaces the file's TLS listeners, not its plain ones. */
	{
		static const struct dpixd_arg tls[] = { { "proxy-listen-tls", "127.0.0.1:4000" } };
		struct sockaddr_in sin;

		assert_string_equal(
		    build(&c,
			  "proxy-listen 127.0.0.1:3128\nproxy-listen-tls 127.0.0.1:3129\n"
			  "proxy-tls-cert /c\nproxy-tls-key /k\n",
			  tls, 1),
		    "");
		assert_int_equal(c.proxy.nlisten, 2);
		assert_false(c.proxy.listen[0].tls);
		assert_true(c.proxy.listen[1].tls);
		memcpy(&sin, &c.proxy.listen[1].ss, sizeof(sin));
		assert_int_equal(ntohs(sin.sin_port), 4000);
		dpixd_conf_free(&c);
	}
	assert_string_equal(build(&c, "queue 2\n", bad, 1),
			    "--queue: 'x': expected a number from 0 to 65535");
	dpixd_conf_free(&c);
}

static void test_diff(void **state)
{
	struct dpixd_config a, b;
	char out[256];

	(void)state;
	assert_string_equal(build(&a, "rules /a.rules\nqueue 1\neve /x\n", NULL, 0), "");
	assert_string_equal(
	    build(&b, "rules /b.rules\nqueue 2\neve /y\nmetrics 127.0.0.1:9\n", NULL, 0), "");
	dpixd_conf_diff(&a, &b, out, sizeof(out));
	/* rules is live: not in the list. */
	assert_string_equal(out, "eve, queue, metrics");
	dpixd_conf_diff(&a, &a, out, sizeof(out));
	assert_string_equal(out, "");
	dpixd_conf_free(&a);
	dpixd_conf_free(&b);
	/* The forwarder's live settings change on reload; its listeners not. */
	assert_string_equal(build(&a, "proxy-listen 127.0.0.1:3128\n", NULL, 0), "");
	assert_string_equal(
	    build(&b,
		  "proxy-listen 127.0.0.1:3129\nproxy-parent p.example:3128\n"
		  "proxy-idle-timeout 60\nproxy-head-timeout 5\nproxy-max-tunnels 9\n"
		  "proxy-fronting log\nproxy-mark 7\n",
		  NULL, 0),
	    "");
	dpixd_conf_diff(&a, &b, out, sizeof(out));
	/* The listener keys share one list: a change names them all. */
	assert_string_equal(out, "proxy-listen, proxy-transparent, proxy-tproxy, proxy-listen-tls");
	dpixd_conf_free(&a);
	dpixd_conf_free(&b);
}

static void test_set_and_keys(void **state)
{
	struct dpixd_config c = { 0 };
	char why[128];
	size_t n = 0;

	(void)state;
	dpixd_conf_defaults(&c, "/r");
	assert_int_equal(dpixd_conf_set(&c, "nope", "1", why, sizeof(why)), -1);
	assert_int_equal(dpixd_conf_set(&c, "max-packets", "1001", why, sizeof(why)), -2);
	assert_string_equal(why, "expected a number from 1 to 1000");
	assert_int_equal(dpixd_conf_set(&c, "max-packets", "12", why, sizeof(why)), 0);
	assert_int_equal(c.pipe.max_packets, 12);
	while (dpixd_conf_key(n))
		n++;
	assert_int_equal(n, 35);
	/* proxy-transparent joins proxy-listen's list, marked as redirected. */
	assert_int_equal(dpixd_conf_set(&c, "proxy-listen", "127.0.0.1:3128", why, sizeof(why)), 0);
	assert_int_equal(
	    dpixd_conf_set(&c, "proxy-transparent", "127.0.0.1:3129", why, sizeof(why)), 0);
	assert_int_equal(c.proxy.nlisten, 2);
	assert_false(c.proxy.listen[0].transparent);
	assert_true(c.proxy.listen[1].transparent);
	assert_false(c.proxy.listen[1].tproxy);
	/* proxy-tproxy too, marked as transparent and TPROXY. */
	assert_int_equal(dpixd_conf_set(&c, "proxy-tproxy", "[::]:3130", why, sizeof(why)), 0);
	assert_int_equal(c.proxy.nlisten, 3);
	assert_true(c.proxy.listen[2].transparent);
	assert_true(c.proxy.listen[2].tproxy);
	assert_false(c.proxy.listen[0].tproxy);
	/* proxy-listen-tls too, marked as TLS only. */
	assert_int_equal(dpixd_conf_set(&c, "proxy-listen-tls", "127.0.0.1:3131", why, sizeof(why)),
			 0);
	assert_int_equal(c.proxy.nlisten, 4);
	assert_true(c.proxy.listen[3].tls);
	assert_false(c.proxy.listen[3].transparent || c.proxy.listen[3].tproxy);
	assert_false(c.proxy.listen[0].tls || c.proxy.listen[1].tls || c.proxy.listen[2].tls);
	assert_int_equal(dpixd_conf_set(&c, "proxy-mark", "0x100", why, sizeof(why)), 0);
	assert_int_equal(c.proxy.mark, 0x100);
	/* Each yes/no key sets its own field. */
	assert_int_equal(dpixd_conf_set(&c, "no-supervise", "yes", why, sizeof(why)), 0);
	assert_true(c.no_supervise);
	assert_false(c.fail_closed);
	assert_int_equal(dpixd_conf_set(&c, "fail-closed", "yes", why, sizeof(why)), 0);
	assert_true(c.fail_closed);
	assert_true(dpixd_conf_key(4)->flag_only); /* fail-closed */
	assert_true(dpixd_conf_key(0)->live);	   /* rules */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),	     cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),	     cmocka_unit_test(test_long_line_and_nul),
		cmocka_unit_test(test_missing),	     cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_overrides),    cmocka_unit_test(test_diff),
		cmocka_unit_test(test_set_and_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
