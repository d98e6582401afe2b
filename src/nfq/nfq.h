/*
 * nfq.h: one netfilter queue over libmnl (the nfq_nlmsg_* interface):
 * bind, configure, receive packets in batches, send verdicts in batches.
 * No classification here: dpixd's workers decide, this moves bytes.
 */
#ifndef DPIX_NFQ_H
#define DPIX_NFQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Messages read per recvmmsg() and verdicts sent per sendmsg(). */
#define NFQ_BATCH 64

struct nfqueue_config {
	uint16_t queue;	     /* queue number */
	uint32_t copy_range; /* bytes of each packet copied to us */
	uint32_t maxlen;     /* packets the kernel holds for us at most */
	bool fail_open;	     /* accept, not drop, what overflows the queue */
	uint32_t rcvbuf;     /* socket receive buffer, bytes */
};

/* One queued packet, borrowed until the next nfqueue_recv(). */
struct nfqueue_packet {
	uint32_t id;
	uint32_t mark;	     /* the packet mark as it arrived */
	uint32_t len;	     /* the packet's length, if the copy was cut */
	const uint8_t *data; /* the copy: an IPv4 or IPv6 packet */
	uint32_t caplen;
	bool gso; /* a GSO super-packet, checksum not yet filled in */
};

struct nfqueue_counters {
	uint64_t received;  /* packets */
	uint64_t verdicts;  /* verdicts sent */
	uint64_t overruns;  /* receive buffer overruns (ENOBUFS) */
	uint64_t bad_msgs;  /* messages we could not parse */
	uint64_t send_fail; /* verdict batches the kernel refused */
};

struct nfqueue;

/* Open, bind and configure the queue; NULL with a reason in err. */
struct nfqueue *nfqueue_open(const struct nfqueue_config *cfg, char *err, size_t errlen);
void nfqueue_close(struct nfqueue *q);
int nfqueue_fd(const struct nfqueue *q);

/*
 * Wait at most timeout_ms (-1: for ever) for packets, and read what is
 * there, at most NFQ_BATCH messages. Returns the number of packets put in
 * pkts (0 on timeout or interruption), or -1 with errno on a socket error.
 */
int nfqueue_recv(struct nfqueue *q, struct nfqueue_packet *pkts, size_t max, int timeout_ms);

/* Queue a verdict (NF_ACCEPT or NF_DROP) with a new packet mark, or none
 * when set_mark is false; nfqueue_flush() sends what is queued. */
int nfqueue_verdict(struct nfqueue *q, uint32_t id, uint32_t verdict, bool set_mark, uint32_t mark);
int nfqueue_flush(struct nfqueue *q);

const struct nfqueue_counters *nfqueue_counters(const struct nfqueue *q);

/* Whether this kernel could set the connmark from a verdict (NFQA_CT,
 * CONFIG_NETFILTER_NETLINK_GLUE_CT), found at open; not used. */
bool nfqueue_ct_glue(const struct nfqueue *q);

#endif
