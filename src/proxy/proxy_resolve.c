/*
 * proxy_resolve.c: name resolution off the event loop. getaddrinfo blocks,
 * so a few threads run it; a job comes back through a pipe the loop
 * watches. The loop owns a job's conn field: when the connection gives up
 * first it sets it to NULL and frees the job when it comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/proxy_int.h"

#define RESOLVE_THREADS 4
#define RESOLVE_QUEUE_MAX 256

struct resolver {
	pthread_t threads[RESOLVE_THREADS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct resolve_job *head, *tail;
	unsigned queued;
	bool stop;
	int done_w; /* the loop reads finished jobs from the other end */
};

static void *resolver_run(void *arg)
{
	struct resolver *r = arg;

	for (;;) {
		struct resolve_job *j;
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

		pthread_mutex_lock(&r->lock);
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		j = r->head;
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		r->queued--;
		pthread_mutex_unlock(&r->lock);
		j->err = getaddrinfo(j->host, j->port, &hints, &j->res);
		/* A pointer is less than PIPE_BUF: the write is whole. */
		if (write(r->done_w, &j, sizeof(j)) != (ssize_t)sizeof(j)) {
			if (j->res)
				freeaddrinfo(j->res);
			free(j);
		}
	}
}

struct resolver *resolver_start(int done_w)
{
	struct resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->done_w = done_w;
	for (; r->nthreads < RESOLVE_THREADS; r->nthreads++)
		if (pthread_create(&r->threads[r->nthreads], NULL, resolver_run, r) != 0)
			break;
	if (!r->nthreads) {
		free(r);
		return NULL;
	}
	return r;
}

int resolver_submit(struct resolver *r, struct resolve_job *j)
{
	pthread_mutex_lock(&r->lock);
	if (r->queued >= RESOLVE_QUEUE_MAX) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	j->next = NULL;
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	r->queued++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Threads inside getaddrinfo finish it first (bounded by the resolver's
 * own timeouts); queued jobs are dropped. */
void resolver_stop(struct resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	while (r->head) {
		struct resolve_job *j = r->head;

		r->head = j->next;
		free(j);
	}
	free(r);
}
