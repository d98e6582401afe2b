/*
 * nfq.c: a netfilter queue through libmnl.
 *
 * Receiving: poll, then one recvmmsg() takes up to NFQ_BATCH datagrams, one
 * queued packet each. Verdicts: each is its own small netlink message, and
 * nfqueue_flush() sends all of them in one sendmsg() (the kernel walks every
 * message of a datagram), so a batch costs two system calls whatever marks
 * its packets get. NFQNL_MSG_VERDICT_BATCH would be smaller but gives every
 * packet up to an id the same verdict and mark: ours differ per flow.
 *
 * The kernel's messages are read through libmnl's attribute checks
 * (nfq_nlmsg_parse validates each attribute's length); the packet bytes are
 * handed on untouched, for the decoder's bounds-checked cursor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfq/nfq.h"

/* Room for one verdict message: header, nfgenmsg, verdict and mark. */
#define VERDICT_MSG_MAX 64
/* What a queued packet's message carries besides its copy. */
#define PACKET_MSG_OVERHEAD 512
/* A config message or the kernel's answer to one. */
#define CONFIG_BUF 8192

struct nfqueue {
	struct mnl_socket *nl;
	uint32_t portid;
	uint16_t queue;
	size_t bufsize; /* one receive buffer */
	uint8_t *rbuf;	/* NFQ_BATCH receive buffers */
	struct mmsghdr msgs[NFQ_BATCH];
	struct iovec iov[NFQ_BATCH];
	uint8_t vbuf[NFQ_BATCH * VERDICT_MSG_MAX];
	size_t voff, nverdicts;
	struct nfqueue_counters stats;
	bool ct_glue; /* the kernel could set the connmark from a verdict */
};

/* Send one config message and wait for the kernel's answer: 0 or -errno. */
static int config_send(struct nfqueue *q, struct nlmsghdr *nlh)
{
	char buf[CONFIG_BUF];
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, seq, q->portid, NULL, NULL) < 0 ? -errno : 0;
}

/*
 * Can a verdict carry the connmark (NFQA_CT, which needs the kernel's
 * CONFIG_NETFILTER_NETLINK_GLUE_CT)? The kernel refuses
 * NFQA_CFG_F_CONNTRACK without it. dpix does not depend on it, a later
 * rule saves the packet mark either way, so the flag is set back off: it
 * would add conntrack attributes to every message.
 */
static bool probe_ct_glue(struct nfqueue *q)
{
	char buf[CONFIG_BUF];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);

	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_CONNTRACK));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_CONNTRACK));
	if (config_send(q, nlh) < 0)
		return false;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_CONNTRACK));
	config_send(q, nlh);
	return true;
}

bool nfqueue_ct_glue(const struct nfqueue *q)
{
	return q->ct_glue;
}

struct nfqueue *nfqueue_open(const struct nfqueue_config *cfg, char *err, size_t errlen)
{
	/* Zeroed: libnetfilter_queue fills the bind command's fields but not
	 * its padding byte, which would go to the kernel as stack garbage
	 * (valgrind: sendto points to uninitialised bytes). */
	char buf[CONFIG_BUF] = { 0 };
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_GSO | (cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	struct nfqueue *q = calloc(1, sizeof(*q));
	int one = 1, rc;
	int rcvbuf = (int)cfg->rcvbuf;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->queue = cfg->queue;
	q->bufsize = cfg->copy_range + PACKET_MSG_OVERHEAD;
	q->rbuf = malloc(NFQ_BATCH * q->bufsize);
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->rbuf || !q->nl) {
		snprintf(err, errlen, "queue %u: netlink socket: %s", q->queue, strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "queue %u: netlink bind: %s", q->queue, strerror(errno));
		goto fail;
	}
	q->portid = mnl_socket_get_portid(q->nl);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	if ((rc = config_send(q, nlh)) < 0) {
		snprintf(err, errlen, "queue %u: cannot bind: %s%s", q->queue, strerror(-rc),
			 rc == -EBUSY ? " (another program holds this queue)" : "");
		goto fail;
	}
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)cfg->copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	if ((rc = config_send(q, nlh)) < 0) {
		snprintf(err, errlen, "queue %u: cannot configure (copy range %u, length %u): %s",
			 q->queue, cfg->copy_range, cfg->maxlen, strerror(-rc));
		goto fail;
	}
	q->ct_glue = probe_ct_glue(q);
	/* Overruns are counted from the kernel's queue statistics instead of
	 * breaking the receive loop; a big buffer makes them rare. */
	setsockopt(mnl_socket_get_fd(q->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (rcvbuf > 0 && setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				     sizeof(rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			   sizeof(rcvbuf));
	for (size_t i = 0; i < NFQ_BATCH; i++) {
		q->iov[i].iov_base = q->rbuf + i * q->bufsize;
		q->iov[i].iov_len = q->bufsize;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return q;
fail:
	nfqueue_close(q);
	return NULL;
}

void nfqueue_close(struct nfqueue *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->rbuf);
	free(q);
}

int nfqueue_fd(const struct nfqueue *q)
{
	return mnl_socket_get_fd(q->nl);
}

const struct nfqueue_counters *nfqueue_counters(const struct nfqueue *q)
{
	return &q->stats;
}

/* One packet message into p: 0, or -1 if it is not one we can use. */
static int parse_packet(const struct nlmsghdr *nlh, struct nfqueue_packet *p)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr ph;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] || !attr[NFQA_PAYLOAD] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(ph))
		return -1;
	memcpy(&ph, mnl_attr_get_payload(attr[NFQA_PACKET_HDR]), sizeof(ph));
	p->id = ntohl(ph.packet_id);
	p->data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
	p->caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	p->len = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : p->caplen;
	p->mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
	p->gso =
	    attr[NFQA_SKB_INFO] && (ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO])) & NFQA_SKB_GSO);
	return 0;
}

int nfqueue_recv(struct nfqueue *q, struct nfqueue_packet *pkts, size_t max, int timeout_ms)
{
	struct pollfd pfd = { .fd = nfqueue_fd(q), .events = POLLIN };
	size_t np = 0;
	int n;

	if (max > NFQ_BATCH)
		max = NFQ_BATCH;
	n = poll(&pfd, 1, timeout_ms);
	if (n <= 0)
		return n < 0 && errno != EINTR ? -1 : 0;
	n = recvmmsg(pfd.fd, q->msgs, (unsigned)max, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == ENOBUFS) {
			q->stats.overruns++;
			return 0;
		}
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
	for (int i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)q->iov[i].iov_base;
		int len = (int)q->msgs[i].msg_len;

		for (; mnl_nlmsg_ok(nlh, len) && np < max; nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				q->stats.send_fail++;
				continue;
			}
			if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
				continue;
			if (parse_packet(nlh, &pkts[np]) < 0) {
				q->stats.bad_msgs++;
				continue;
			}
			np++;
		}
	}
	q->stats.received += np;
	return (int)np;
}

int nfqueue_verdict(struct nfqueue *q, uint32_t id, uint32_t verdict, bool set_mark, uint32_t mark)
{
	struct nlmsghdr *nlh;

	if (q->nverdicts == NFQ_BATCH && nfqueue_flush(q) < 0)
		return -1;
	nlh = nfq_nlmsg_put((char *)q->vbuf + q->voff, NFQNL_MSG_VERDICT, q->queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (set_mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	q->voff += MNL_ALIGN(nlh->nlmsg_len);
	q->nverdicts++;
	return 0;
}

int nfqueue_flush(struct nfqueue *q)
{
	ssize_t n;

	if (!q->nverdicts)
		return 0;
	n = mnl_socket_sendto(q->nl, q->vbuf, q->voff);
	if (n < 0)
		q->stats.send_fail++;
	else
		q->stats.verdicts += q->nverdicts;
	q->voff = 0;
	q->nverdicts = 0;
	return n < 0 ? -1 : 0;
}
