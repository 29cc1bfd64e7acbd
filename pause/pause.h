/* pause: the per-pod infra process and monitor of podrun (see docs/pause.md).
 *
 * main.c     Kubernetes pause semantics, and the command line
 * launch.c   namespaces, the fork into the pod PID namespace, the ready handshake
 * monitor.c  the event loop: control socket, containers, exit records, teardown
 * crilog.c   stdout/stderr pumped into CRI-format log files
 * util.c     small file helpers, clone into a cgroup
 */
#ifndef PODRUN_PAUSE_H
#define PODRUN_PAUSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef PODRUN_PAUSE_VERSION
#define PODRUN_PAUSE_VERSION "dev"
#endif

#define LOG_LINE_MAX 16384      /* containerd's max_container_log_line_size */
#define MAX_CONTAINERS 250      /* below SCM_MAX_FD (253): list passes one pidfd each */
#define MAX_PASSED_FDS 16       /* fds a create request may pass (they become 3, 4, ...) */
#define MAX_CLIENTS 16
#define REQ_MAX (192 * 1024)    /* one request is one SOCK_SEQPACKET message */
#define ID_MAX 128

enum { STREAM_STDOUT = 0, STREAM_STDERR = 1 };

/* One stdout or stderr pipe of a container and the line being assembled from it. */
struct stream {
	int fd;         /* read end, non-blocking; -1 after EOF */
	int kind;       /* STREAM_STDOUT or STREAM_STDERR */
	size_t len;     /* bytes of the current line held in buf */
	char *buf;      /* LOG_LINE_MAX + 1 bytes: one byte more tells a P chunk from an F line */
};

struct container {
	char id[ID_MAX + 1];
	pid_t pid;              /* in pause's PID namespace */
	int running;
	int status;             /* raw wait status once exited */
	int64_t started_ns;
	int64_t finished_ns;
	int log_fd;             /* CRI log file (O_APPEND) or -1 */
	char *log_path;
	uint64_t log_max;       /* byte budget of one log file (create's logMax), 0: none */
	uint64_t log_bytes;     /* size of the current log file: at open, plus what we wrote */
	uint64_t dropped_bytes; /* content dropped since the budget ran out */
	uint64_t dropped_lines;
	int stdin_w;            /* write end of a kept-open stdin pipe, or -1 */
	struct stream out;
	struct stream err;
};

/* launch.c */
int launch_main(int argc, char **argv);

/* monitor.c: never returns; ready_fd gets "ok" once pause serves requests */
struct monitor_opts {
	const char *run_dir;
	const char *hostname;
	const char *cgroup_dir;
	const char *oom_score_adj;  /* for pause itself; containers get theirs per create */
	int own_pidns;          /* pause is PID 1 of a PID namespace it created */
	int in_cgroup;          /* cloned into cgroup_dir already: no cgroup.procs write */
};
void monitor_run(const struct monitor_opts *o, pid_t host_pid, int ready_fd)
	__attribute__((noreturn));
extern int monitor_epoll_fd;

/* crilog.c */
int64_t now_ns(void);
size_t format_rfc3339nano(char *out, int64_t ns);
enum { PUMP_EOF = 0, PUMP_AGAIN = 1, PUMP_DATA = 2 };
int stream_pump(struct container *c, struct stream *s);
void stream_drain(struct container *c, struct stream *s, int max_reads);
void stream_close(struct container *c, struct stream *s);
void log_opened(struct container *c);

/* util.c */
int write_all(int fd, const void *p, size_t n);
pid_t clone_into(unsigned long flags, const char *cgroup_dir, int *joined);
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, int durable);
int mkdir_p(const char *path, mode_t mode);

#endif
