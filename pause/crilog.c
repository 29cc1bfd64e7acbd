/* CRI log files: a container's stdout/stderr pipes become
 * "<RFC3339Nano> <stdout|stderr> <F|P> <content>\n" lines, as containerd writes them
 * (internal/cri/io/logger.go): "\n" and "\r\n" end a line; a line longer than
 * LOG_LINE_MAX bytes is cut into LOG_LINE_MAX-byte P chunks and a last F; bytes left
 * without a newline at EOF are written as a P entry. One fixed buffer per stream,
 * one bounded read per wakeup, no allocation per line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pause.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *digits(char *o, long v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return o + width;
}

/* 2024-05-01T12:00:00.123456789Z: always nine fraction digits (Go's RFC3339Nano trims
 * trailing zeros; both parse the same and fixed width sorts as text). */
size_t format_rfc3339nano(char *out, int64_t ns)
{
	static time_t cached_sec = -1;
	static struct tm cached_tm;
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	char *o = out;

	if (sec != cached_sec) {
		gmtime_r(&sec, &cached_tm);
		cached_sec = sec;
	}
	o = digits(o, cached_tm.tm_year + 1900, 4);
	*o++ = '-';
	o = digits(o, cached_tm.tm_mon + 1, 2);
	*o++ = '-';
	o = digits(o, cached_tm.tm_mday, 2);
	*o++ = 'T';
	o = digits(o, cached_tm.tm_hour, 2);
	*o++ = ':';
	o = digits(o, cached_tm.tm_min, 2);
	*o++ = ':';
	o = digits(o, cached_tm.tm_sec, 2);
	*o++ = '.';
	o = digits(o, frac, 9);
	*o++ = 'Z';
	return (size_t)(o - out);
}

/* One entry: "<time> <stream> <tag> <content>\n" in one writev; returns bytes written. */
static size_t write_entry(struct container *c, int kind, char tag, const char *p, size_t n)
{
	char hdr[48];
	size_t h;
	ssize_t w;
	struct iovec iov[3];

	h = format_rfc3339nano(hdr, now_ns());
	memcpy(hdr + h, kind == STREAM_STDOUT ? " stdout " : " stderr ", 8);
	h += 8;
	hdr[h++] = tag;
	hdr[h++] = ' ';
	iov[0].iov_base = hdr;
	iov[0].iov_len = h;
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	/* One writev per entry on an O_APPEND file keeps entries whole for readers. A
	 * failed write (disk full, file removed) loses the entry but the pipe keeps
	 * draining, so the container never blocks on its stdout. */
	while ((w = writev(c->log_fd, iov, 3)) < 0 && errno == EINTR)
		;
	return w > 0 ? (size_t)w : 0;
}

static void write_marker(struct container *c, const char *text)
{
	c->log_bytes += write_entry(c, STREAM_STDERR, 'F', text, strlen(text));
}

/* The log budget (docs/pause.md, "Logs"): once the current file has reached log_max bytes,
 * one marker line says so and further entries are dropped (counted) until the daemon's
 * rotation reopens the log. The file is append-only throughout, and it does reach log_max,
 * so the daemon's size check (>= containerLogMaxSize) always rotates it. */
static void emit(struct container *c, int kind, char tag, const char *p, size_t n)
{
	char msg[200];

	if (c->log_fd < 0)
		return;
	if (c->log_max > 0 && c->log_bytes >= c->log_max) {
		if (c->dropped_lines == 0) {
			snprintf(msg, sizeof(msg), "podrun: this log file reached its limit of "
				 "%llu bytes (containerLogMaxSize); output is dropped until the "
				 "next rotation", (unsigned long long)c->log_max);
			write_marker(c, msg);
		}
		c->dropped_lines++;
		c->dropped_bytes += n;
		return;
	}
	c->log_bytes += write_entry(c, kind, tag, p, n);
}

/* A log file was (re)opened as c->log_fd: its budget starts from its current size, and
 * what the old file could not take is reported at the top of the new one. */
void log_opened(struct container *c)
{
	struct stat st;
	char msg[200];

	c->log_bytes = fstat(c->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (c->dropped_lines > 0) {
		snprintf(msg, sizeof(msg), "podrun: %llu lines (%llu bytes) of output were "
			 "dropped while the previous log file was at its size limit",
			 (unsigned long long)c->dropped_lines,
			 (unsigned long long)c->dropped_bytes);
		write_marker(c, msg);
	}
	c->dropped_lines = 0;
	c->dropped_bytes = 0;
}

/* One bounded read, then every complete line in the buffer is written. */
int stream_pump(struct container *c, struct stream *s)
{
	ssize_t n;
	size_t start = 0, scan;
	char *nl;

	if (s->fd < 0)
		return PUMP_EOF;
	n = read(s->fd, s->buf + s->len, LOG_LINE_MAX + 1 - s->len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return PUMP_AGAIN;
		stream_close(c, s);
		return PUMP_EOF;
	}
	if (n == 0) {
		stream_close(c, s);
		return PUMP_EOF;
	}
	scan = s->len;
	s->len += (size_t)n;
	while (scan < s->len && (nl = memchr(s->buf + scan, '\n', s->len - scan)) != NULL) {
		size_t end = (size_t)(nl - s->buf);
		size_t e = end;
		if (e > start && s->buf[e - 1] == '\r')
			e--;
		emit(c, s->kind, 'F', s->buf + start, e - start);
		start = end + 1;
		scan = start;
	}
	if (start > 0) {
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
	}
	if (s->len > LOG_LINE_MAX) {
		/* LOG_LINE_MAX + 1 bytes and no newline: the line is longer than the limit. */
		emit(c, s->kind, 'P', s->buf, LOG_LINE_MAX);
		s->buf[0] = s->buf[LOG_LINE_MAX];
		s->len = 1;
	}
	return PUMP_DATA;
}

void stream_drain(struct container *c, struct stream *s, int max_reads)
{
	while (max_reads-- > 0 && stream_pump(c, s) == PUMP_DATA)
		;
}

void stream_close(struct container *c, struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->len > 0)
		emit(c, s->kind, 'P', s->buf, s->len);
	s->len = 0;
	epoll_ctl(monitor_epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
}
