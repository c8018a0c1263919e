/*
 * pgnet: a small netperf-style traffic tool for patchgate's guests (Debian has no netperf).
 * Built static (gcc -static) and put in the busybox initramfs.
 *
 *   pgnet -s [-p PORT]                                   server: TCP_RR, TCP_CRR, TCP_STREAM sink, UDP_RR echo
 *   pgnet -H HOST -t TCP_RR|TCP_CRR|TCP_STREAM|UDP_RR|UDP_SEND [-n TRANS] [-l SECS] [-r REQ,RESP] [-m MSGSIZE] [-p PORT]
 *
 * The client prints one line `PGNET {json}` with netperf's names: test, transactions, elapsed,
 * trans_per_sec, throughput (10^6 bits/s) and the guest's busy time (CPU time not idle, from
 * /proc/timer_list idle_sleeptime + iowait_sleeptime summed over CPUs) as busy_ns and busy_ns_per_trans
 * (netperf's service demand, in ns). The server prints `PGNET-SERVER {json}` after each connection.
 * UDP_SEND sends N datagrams of REQ bytes 1 ms apart without waiting for anything (the filter checks).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { T_RR = 1, T_CRR = 2, T_STREAM = 3, T_UDP_RR = 4, T_UDP_SEND = 5 };
struct hdr { uint32_t magic, test, req, resp; };
#define MAGIC 0x70676e31u

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Sum of idle_sleeptime + iowait_sleeptime over CPUs, in ns; 0 when /proc/timer_list lacks them. */
static uint64_t idle_ns(void) {
	FILE *f = fopen("/proc/timer_list", "r");
	char line[512];
	uint64_t sum = 0, v;
	if (!f) return 0;
	/* lines look like "  .idle_sleeptime : 123456 nsecs" (the name padded to 15 columns) */
	while (fgets(line, sizeof line, f)) {
		char name[32];
		const char *p = line;
		while (*p == ' ' || *p == '\t' || *p == '.') p++;
		if (sscanf(p, "%31[a-z_] : %llu", name, (unsigned long long *)&v) == 2 &&
		    (!strcmp(name, "idle_sleeptime") || !strcmp(name, "iowait_sleeptime")))
			sum += v;
	}
	fclose(f);
	return sum;
}

static uint64_t ncpus(void) {
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (uint64_t)n : 1;
}

static int full_io(int fd, void *buf, size_t len, int wr) {
	size_t done = 0;
	while (done < len) {
		ssize_t r = wr ? write(fd, (char *)buf + done, len - done) : read(fd, (char *)buf + done, len - done);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		done += r;
	}
	return 0;
}

static void die(const char *what) { perror(what); exit(2); }

static int connect_to(const char *host, int port, int type) {
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, type, 0);
	if (fd < 0) die("socket");
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "pgnet: bad address %s\n", host); exit(2); }
	for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof a) < 0; i++) {
		if (i > 300) die("connect");
		usleep(100000); /* the server guest may still be booting */
		close(fd);
		fd = socket(AF_INET, type, 0);
	}
	if (type == SOCK_STREAM) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void serve_conn(int fd) {
	struct hdr h;
	uint64_t t0 = now_ns(), i0 = idle_ns(), bytes = 0, trans = 0;
	static char buf[1 << 16];
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (full_io(fd, &h, sizeof h, 0) || h.magic != MAGIC || h.req > sizeof buf || h.resp > sizeof buf) { close(fd); return; }
	if (h.test == T_STREAM) {
		ssize_t r;
		while ((r = read(fd, buf, sizeof buf)) > 0) bytes += r;
	} else {
		while (full_io(fd, buf, h.req, 0) == 0) {
			trans++;
			if (full_io(fd, buf, h.resp, 1)) break;
		}
	}
	uint64_t el = now_ns() - t0, idle = idle_ns() - i0, cpus_el = el * ncpus();
	if (h.test != T_CRR)
		printf("PGNET-SERVER {\"test\":%u,\"transactions\":%llu,\"bytes\":%llu,\"elapsed_ns\":%llu,\"busy_ns\":%llu}\n", h.test,
		       (unsigned long long)trans, (unsigned long long)bytes, (unsigned long long)el,
		       (unsigned long long)(cpus_el > idle ? cpus_el - idle : 0));
	fflush(stdout);
	close(fd);
}

static void server(int port) {
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
	signal(SIGCHLD, SIG_IGN);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64)) die("bind tcp");
	if (bind(us, (struct sockaddr *)&a, sizeof a)) die("bind udp");
	if (fork() == 0) { /* UDP_RR echo */
		char buf[65536];
		struct sockaddr_in from;
		socklen_t fl;
		for (;;) {
			fl = sizeof from;
			ssize_t r = recvfrom(us, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
			if (r > 0) sendto(us, buf, r, 0, (struct sockaddr *)&from, fl);
		}
	}
	printf("PGNET-READY port %d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) continue;
		serve_conn(fd); /* one connection at a time: the measurements stay clean */
	}
}

int main(int argc, char **argv) {
	const char *host = NULL, *test = "TCP_RR";
	int port = 12865, srv = 0, opt;
	long n = 0, secs = 0, req = 1, resp = 1, msg = 16384;
	while ((opt = getopt(argc, argv, "sH:t:n:l:r:m:p:")) != -1) {
		switch (opt) {
		case 's': srv = 1; break;
		case 'H': host = optarg; break;
		case 't': test = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'l': secs = atol(optarg); break;
		case 'r': if (sscanf(optarg, "%ld,%ld", &req, &resp) != 2) req = resp = atol(optarg); break;
		case 'm': msg = atol(optarg); break;
		case 'p': port = atoi(optarg); break;
		default: fprintf(stderr, "usage: pgnet -s | -H host -t TEST [-n N] [-l S] [-r REQ,RESP] [-m SIZE] [-p PORT]\n"); return 2;
		}
	}
	if (srv) server(port);
	if (!host) { fprintf(stderr, "pgnet: -H host is required\n"); return 2; }
	int t = !strcmp(test, "TCP_RR") ? T_RR : !strcmp(test, "TCP_CRR") ? T_CRR : !strcmp(test, "TCP_STREAM") ? T_STREAM : !strcmp(test, "UDP_RR") ? T_UDP_RR : !strcmp(test, "UDP_SEND") ? T_UDP_SEND : 0;
	if (!t) { fprintf(stderr, "pgnet: unknown test %s\n", test); return 2; }
	if (n <= 0 && secs <= 0) n = 4000;
	if (req < 1 || resp < 1 || req > 65536 || resp > 65536 || msg < 1 || msg > 65536) { fprintf(stderr, "pgnet: sizes must be 1..65536\n"); return 2; }
	static char buf[65536];
	struct hdr h = { MAGIC, (uint32_t)t, (uint32_t)req, (uint32_t)resp };
	uint64_t trans = 0, bytes = 0, retransmits = 0, deadline = secs > 0 ? now_ns() + (uint64_t)secs * 1000000000ull : UINT64_MAX;
	int fd = -1;
	if (t == T_RR || t == T_STREAM) { fd = connect_to(host, port, SOCK_STREAM); if (full_io(fd, &h, sizeof h, 1)) die("header"); }
	if (t == T_UDP_SEND) fd = connect_to(host, port, SOCK_DGRAM);
	if (t == T_UDP_RR) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
		fd = connect_to(host, port, SOCK_DGRAM);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	uint64_t t0 = now_ns(), i0 = idle_ns();
	while ((n <= 0 || (long)trans < n) && now_ns() < deadline) {
		if (t == T_RR) {
			if (full_io(fd, buf, req, 1) || full_io(fd, buf, resp, 0)) die("TCP_RR");
		} else if (t == T_CRR) {
			int c = connect_to(host, port, SOCK_STREAM);
			if (full_io(c, &h, sizeof h, 1) || full_io(c, buf, req, 1) || full_io(c, buf, resp, 0)) die("TCP_CRR");
			close(c);
		} else if (t == T_UDP_RR) {
			/* a datagram can be lost, and the server may still be booting: resend after 200 ms, give up after 30 s */
			int tries = 0;
			for (;;) {
				if (send(fd, buf, req, 0) == req && recv(fd, buf, sizeof buf, 0) >= 0) break;
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EINTR) die("UDP_RR");
				if (++tries > 150) die("UDP_RR: no answer");
				if (errno == ECONNREFUSED) usleep(200000);
				retransmits++;
			}
		} else if (t == T_UDP_SEND) {
			/* nobody may answer (a foreign MAC, a wrong VLAN): errors from ICMP replies do not stop it */
			if (send(fd, buf, req, 0) == req) bytes += req;
			usleep(1000);
		} else {
			if (full_io(fd, buf, msg, 1)) die("TCP_STREAM");
			bytes += msg;
		}
		trans++;
	}
	/* idle time is summed over every CPU: busy is the CPUs' time less their idle time */
	uint64_t el = now_ns() - t0, idle = idle_ns() - i0, cpus_el = el * ncpus(), busy = cpus_el > idle ? cpus_el - idle : 0;
	if (fd >= 0) close(fd);
	double s = el / 1e9;
	printf("PGNET {\"test\":\"%s\",\"transactions\":%llu,\"bytes\":%llu,\"elapsed_ns\":%llu,\"trans_per_sec\":%.2f,"
	       "\"throughput\":%.3f,\"busy_ns\":%llu,\"busy_ns_per_trans\":%.1f,\"busy_ns_per_kb\":%.3f,\"retransmits\":%llu,\"cpus\":%llu}\n",
	       test, (unsigned long long)trans, (unsigned long long)bytes, (unsigned long long)el, trans / s,
	       bytes * 8 / s / 1e6, (unsigned long long)busy, trans ? (double)busy / trans : 0.0,
	       bytes ? (double)busy / (bytes / 1024.0) : 0.0, (unsigned long long)retransmits, (unsigned long long)ncpus());
	fflush(stdout);
	return 0;
}
