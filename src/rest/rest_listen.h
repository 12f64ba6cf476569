/*
 * rest_listen.h: the libmicrohttpd daemons of one REST worker.
 *
 * One daemon per listen address, each in external-epoll mode with no thread
 * of its own: the worker waits on their epoll descriptors in its latch loop
 * and calls ps_rest_listen_run() when one is readable or a timeout is due.
 */
#ifndef PROVSECRET_REST_LISTEN_H
#define PROVSECRET_REST_LISTEN_H

#include "postgres.h"

#define PS_REST_MAX_LISTENERS 8

/*
 * Start daemons from the provsecret.rest_* settings.  Refused addresses are
 * logged and skipped; returns how many daemons listen.
 */
extern int	ps_rest_listen_start(void);
extern void ps_rest_listen_stop(void);

/* A string of every setting a restart of the daemons depends on. */
extern char *ps_rest_listen_signature(void);

extern int	ps_rest_listen_count(void);
extern int	ps_rest_listen_epoll_fd(int i);

/* Let every daemon do its work; never blocks. */
extern void ps_rest_listen_run(void);

/* Milliseconds until some daemon has timed work, or -1 for none. */
extern long ps_rest_listen_timeout_ms(void);

#endif
