/* The pod monitor: one epoll loop over its signals, the control socket, and every
 * container's stdout/stderr pipe. It spawns containers on request, writes an exit record
 * the moment one exits, and never exits while containers run unless asked to tear the
 * pod down (a "shutdown" request, SIGTERM or SIGINT). Protocol: docs/pause.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "pause.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define SOCK_NAME "pause.sock"
#define PID_NAME "pause.pid"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum { EV_SIG = 1, EV_LISTEN, EV_CLIENT, EV_OUT, EV_ERR };
#define EV(kind, slot) (((uint64_t)(kind) << 32) | (uint32_t)(slot))

int monitor_epoll_fd = -1;
static int sig_fd = -1, listen_fd = -1, own_pidns;
static int clients[MAX_CLIENTS];
static struct container *ctab[MAX_CONTAINERS];
static char *reqbuf;
static char oom_default[16] = "";   /* the launcher's oom_score_adj, what containers inherit */
static struct rlimit nofile_default;  /* the launcher's RLIMIT_NOFILE, what containers inherit */
static int nofile_saved;

/* ---- requests and replies ------------------------------------------------------------ */

struct req {
	char *buf;
	size_t len;
	int fds[MAX_PASSED_FDS];
	int nfds;
};

struct reply {
	char *p;
	size_t len, cap;
	int fds[MAX_CONTAINERS];
	int nfds;
	int failed;     /* out of memory while building: sent as an error */
};

static const char *req_next(const struct req *q, const char *f)
{
	f += strlen(f) + 1;
	return f < q->buf + q->len ? f : NULL;
}

static const char *req_get(const struct req *q, const char *key)
{
	size_t kl = strlen(key);
	const char *f;

	for (f = req_next(q, q->buf); f; f = req_next(q, f))
		if (strncmp(f, key, kl) == 0 && f[kl] == '=')
			return f + kl + 1;
	return NULL;
}

/* Every value of a repeated key, NULL-terminated, in request order. */
static char **req_all(const struct req *q, const char *key)
{
	size_t kl = strlen(key), n = 0;
	const char *f;
	char **v;

	for (f = req_next(q, q->buf); f; f = req_next(q, f))
		if (strncmp(f, key, kl) == 0 && f[kl] == '=')
			n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	n = 0;
	for (f = req_next(q, q->buf); f; f = req_next(q, f))
		if (strncmp(f, key, kl) == 0 && f[kl] == '=')
			v[n++] = (char *)f + kl + 1;
	return v;
}

static void radd(struct reply *r, const char *s, size_t n)
{
	if (r->failed)
		return;
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		char *p;
		while (cap < r->len + n)
			cap *= 2;
		p = realloc(r->p, cap);
		if (!p) {
			r->failed = 1;
			return;
		}
		r->p = p;
		r->cap = cap;
	}
	memcpy(r->p + r->len, s, n);
	r->len += n;
}

static void rkv(struct reply *r, const char *key, const char *val)
{
	radd(r, key, strlen(key));
	radd(r, "=", 1);
	radd(r, val, strlen(val) + 1);
}

static void rkvi(struct reply *r, const char *key, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	rkv(r, key, num);
}

static void rerror(struct reply *r, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
	r->len = 0;
	r->failed = 0;
	radd(r, "error", 6);
	rkvi(r, "errno", err);
	rkv(r, "message", msg);
}

static void rok(struct reply *r)
{
	radd(r, "ok", 3);
}

/* ---- containers ---------------------------------------------------------------------- */

static int valid_id(const char *id)
{
	size_t n = 0;

	if (!id || !id[0] || id[0] == '.')
		return 0;
	for (; id[n]; n++) {
		char c = id[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return n <= ID_MAX;
}

static int find(const char *id)
{
	int i;

	for (i = 0; i < MAX_CONTAINERS; i++)
		if (ctab[i] && strcmp(ctab[i]->id, id) == 0)
			return i;
	return -1;
}

static void free_container(int slot)
{
	struct container *c = ctab[slot];

	stream_close(c, &c->out);
	stream_close(c, &c->err);
	if (c->log_fd >= 0)
		close(c->log_fd);
	if (c->stdin_w >= 0)
		close(c->stdin_w);
	free(c->log_path);
	free(c);
	ctab[slot] = NULL;
}

static void exit_fields(const struct container *c, int *code, int *sig, int *core)
{
	*code = *sig = *core = 0;
	if (WIFEXITED(c->status)) {
		*code = WEXITSTATUS(c->status);
	} else if (WIFSIGNALED(c->status)) {
		*sig = WTERMSIG(c->status);
		*code = 128 + *sig;
		*core = WCOREDUMP(c->status) ? 1 : 0;
	}
}

/* The exit record is fsync'd (an exit code must survive even a host crash); the start
 * record only renamed into place, to keep fsync latency out of every container start. */
static void write_record(const struct container *c, const char *name)
{
	char path[ID_MAX + 32], json[512];
	int n, code, sig, core;

	snprintf(path, sizeof(path), "containers/%s/%s", c->id, name);
	if (c->running) {
		n = snprintf(json, sizeof(json),
			     "{\"id\":\"%s\",\"pid\":%d,\"startedAt\":%lld}\n",
			     c->id, (int)c->pid, (long long)c->started_ns);
	} else {
		exit_fields(c, &code, &sig, &core);
		n = snprintf(json, sizeof(json),
			     "{\"id\":\"%s\",\"pid\":%d,\"exitCode\":%d,\"signal\":%d,"
			     "\"coreDumped\":%s,\"startedAt\":%lld,\"finishedAt\":%lld,"
			     "\"status\":%d}\n",
			     c->id, (int)c->pid, code, sig, core ? "true" : "false",
			     (long long)c->started_ns, (long long)c->finished_ns, c->status);
	}
	/* Nothing to tell if this fails (stdio is /dev/null): the in-memory table still
	 * answers "list", and the daemon treats a missing record like containerd does. */
	write_file_atomic(path, json, (size_t)n, 0644, !c->running);
}

static void container_exited(struct container *c, int status)
{
	c->finished_ns = now_ns();
	c->running = 0;
	c->status = status;
	/* What the container wrote before it exited goes to the log before the exit record,
	 * so a reader that sees the record has every line. Bounded: a surviving grandchild
	 * holding the pipe must not keep us here. */
	if (c->out.fd >= 0)
		stream_drain(c, &c->out, 64);
	if (c->err.fd >= 0)
		stream_drain(c, &c->err, 64);
	if (c->stdin_w >= 0) {
		close(c->stdin_w);
		c->stdin_w = -1;
	}
	write_record(c, "exit");
}

static void reap(void)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_CONTAINERS; i++) {
			if (ctab[i] && ctab[i]->running && ctab[i]->pid == pid) {
				container_exited(ctab[i], status);
				break;
			}
		}
		/* Not a container: an orphan re-parented to us (PID 1 / subreaper). */
	}
}

/* ---- spawning ------------------------------------------------------------------------ */

enum { STEP_FDS = 1, STEP_CHDIR, STEP_EXEC, STEP_OOM };

struct spawn {
	char **argv, **envp;
	const char *cwd;
	const char *oom_score_adj;
	int src[3 + MAX_PASSED_FDS];    /* become fds 0, 1, 2, 3, ... */
	int nsrc;
	int errpipe;
};

static void report_child(int fd, int step, int err) __attribute__((noreturn));
static void report_child(int fd, int step, int err)
{
	int msg[2] = { step, err };

	write_all(fd, msg, sizeof(msg));
	_exit(127);
}

static void exec_path(char **argv, char **envp)
{
	const char *path = DEFAULT_PATH, *p, *e;
	char file[PATH_MAX];
	size_t nl = strlen(argv[0]);
	int saved = ENOENT;
	char **v;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	for (v = envp; *v; v++)
		if (strncmp(*v, "PATH=", 5) == 0)
			path = *v + 5;
	for (p = path;; p = e + 1) {
		size_t dl;
		e = strchrnul(p, ':');
		dl = (size_t)(e - p);
		if (dl == 0) {
			dl = 1;
			p = ".";
		}
		if (dl + 1 + nl < sizeof(file)) {
			memcpy(file, p, dl);
			file[dl] = '/';
			memcpy(file + dl + 1, argv[0], nl + 1);
			execve(file, argv, envp);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		if (!*e)
			break;
	}
	errno = saved;
}

/* The child between clone and exec: only syscalls, no locks, no allocation. */
static void child(struct spawn *sp) __attribute__((noreturn));
static void child(struct spawn *sp)
{
	sigset_t none;
	int hi[3 + MAX_PASSED_FDS], i, n = sp->nsrc, errfd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	setsid();
	if (nofile_saved)
		setrlimit(RLIMIT_NOFILE, &nofile_default);
	/* Without a PID namespace of its own (hostPID pods) the kernel would not kill the
	 * container with pause; this does, for the container's first process. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Move everything above the target numbers first so no dup2 clobbers a source. */
	errfd = fcntl(sp->errpipe, F_DUPFD_CLOEXEC, n);
	if (errfd < 0)
		_exit(127);
	for (i = 0; i < n; i++) {
		hi[i] = fcntl(sp->src[i], F_DUPFD_CLOEXEC, n);
		if (hi[i] < 0)
			report_child(errfd, STEP_FDS, errno);
	}
	for (i = 0; i < n; i++)
		if (dup2(hi[i], i) < 0)
			report_child(errfd, STEP_FDS, errno);
	if (syscall(SYS_close_range, (unsigned)n, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (i = n; i < 4096; i++)
			if (i != errfd)
				fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	if (sp->oom_score_adj && sp->oom_score_adj[0]) {
		/* pause's own (low) score must not be inherited by the container. */
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write_all(fd, sp->oom_score_adj, strlen(sp->oom_score_adj)) < 0)
			report_child(errfd, STEP_OOM, errno);
		close(fd);
	}
	if (sp->cwd && chdir(sp->cwd) < 0)
		report_child(errfd, STEP_CHDIR, errno);
	exec_path(sp->argv, sp->envp);
	report_child(errfd, STEP_EXEC, errno);
}

/* A decimal uint64 and nothing else; -1 otherwise. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static void handle_create(struct req *q, struct reply *r)
{
	const char *id = req_get(q, "id"), *log = req_get(q, "log"), *cwd = req_get(q, "cwd");
	const char *stdin_mode = req_get(q, "stdin"), *log_max = req_get(q, "logMax"), *f;
	const char *cgroup = req_get(q, "cgroup");
	char **argv = NULL, **envp = NULL, dir[ID_MAX + 16] = "", path[ID_MAX + 32];
	int flags = SIGCHLD, slot = -1, i, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int inp[2] = { -1, -1 }, ep[2] = { -1, -1 }, devnull = -1, log_fd = -1, pidfd = -1;
	int report[2], joined = 0;
	struct container *c = NULL;
	struct spawn sp;
	ssize_t n;
	pid_t pid;
	uint64_t max_bytes = 0;

	if (!valid_id(id)) {
		rerror(r, EINVAL, "invalid container id (1-%d of [A-Za-z0-9_.-], not starting with '.')", ID_MAX);
		return;
	}
	if (find(id) >= 0) {
		rerror(r, EEXIST, "container %s exists (remove it first)", id);
		return;
	}
	for (i = 0; i < MAX_CONTAINERS && ctab[i]; i++)
		;
	if (i == MAX_CONTAINERS) {
		rerror(r, ENOSPC, "too many containers (%d)", MAX_CONTAINERS);
		return;
	}
	slot = i;
	for (f = req_next(q, q->buf); f; f = req_next(q, f)) {
		if (strcmp(f, "ns=pid") == 0)
			flags |= CLONE_NEWPID;
		else if (strcmp(f, "ns=mnt") == 0)
			flags |= CLONE_NEWNS;
		else if (strncmp(f, "ns=", 3) == 0) {
			rerror(r, EINVAL, "unknown namespace %s (pid or mnt)", f + 3);
			return;
		}
	}
	if (stdin_mode && strcmp(stdin_mode, "pipe") != 0 && strcmp(stdin_mode, "null") != 0) {
		rerror(r, EINVAL, "stdin must be pipe or null");
		return;
	}
	if (log_max && parse_u64(log_max, &max_bytes) < 0) {
		rerror(r, EINVAL, "logMax must be a number of bytes");
		return;
	}
	argv = req_all(q, "arg");
	envp = req_all(q, "env");
	c = calloc(1, sizeof(*c));
	if (!argv || !envp || !c) {
		rerror(r, ENOMEM, "out of memory");
		goto out;
	}
	if (!argv[0] || !argv[0][0]) {
		rerror(r, EINVAL, "create needs at least one arg= (the command)");
		goto out;
	}
	snprintf(dir, sizeof(dir), "containers/%s", id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rerror(r, errno, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/exit", dir);
	unlink(path);   /* a record from an earlier instance with this id is not ours */
	if (log && log[0]) {
		log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log_fd < 0) {
			rerror(r, errno, "open log %s: %s", log, strerror(errno));
			goto out;
		}
		c->log_path = strdup(log);
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 ||
	    (stdin_mode && strcmp(stdin_mode, "pipe") == 0 && pipe2(inp, O_CLOEXEC) < 0)) {
		rerror(r, errno, "pipe: %s", strerror(errno));
		goto out;
	}
	c->out.buf = malloc(LOG_LINE_MAX + 1);
	c->err.buf = malloc(LOG_LINE_MAX + 1);
	if (!c->out.buf || !c->err.buf) {
		rerror(r, ENOMEM, "out of memory");
		goto out;
	}
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.envp = envp;
	sp.cwd = cwd && cwd[0] ? cwd : "/";
	sp.oom_score_adj = req_get(q, "oomScoreAdj");
	if (!sp.oom_score_adj)
		sp.oom_score_adj = oom_default;
	sp.src[0] = inp[0] >= 0 ? inp[0] : devnull;
	sp.src[1] = outp[1];
	sp.src[2] = errp[1];
	for (i = 0; i < q->nfds; i++)
		sp.src[3 + i] = q->fds[i];
	sp.nsrc = 3 + q->nfds;
	sp.errpipe = ep[1];

	c->started_ns = now_ns();
	/* clone, not fork: the child starts as PID 1 of its own PID namespace, in a new mount
	 * namespace, and our pid for it is valid in our namespace. */
	pid = clone_into((unsigned long)flags, cgroup, &joined);
	if (pid < 0) {
		rerror(r, errno, "clone: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(&sp);
	close(ep[1]);
	ep[1] = -1;
	while ((n = read(ep[0], report, sizeof(report))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(report)) {
		static const char *const steps[] = { "", "set up fds", "chdir", "exec" };
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (report[0] == STEP_CHDIR)
			rerror(r, report[1], "chdir %s: %s", sp.cwd, strerror(report[1]));
		else if (report[0] == STEP_OOM)
			rerror(r, report[1], "set oom_score_adj %s: %s", sp.oom_score_adj,
			       strerror(report[1]));
		else if (report[0] == STEP_EXEC)
			rerror(r, report[1], "exec \"%s\": %s", argv[0], strerror(report[1]));
		else
			rerror(r, report[1], "%s: %s", steps[report[0] == STEP_FDS ? 1 : 0],
			       strerror(report[1]));
		goto out;
	}
	/* Exec'd. From here on the container exists whatever else fails. */
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->pid = pid;
	c->running = 1;
	c->log_fd = log_fd;
	log_fd = -1;
	c->log_max = max_bytes;
	if (c->log_fd >= 0)
		log_opened(c);
	c->stdin_w = inp[1];
	inp[1] = -1;
	c->out.fd = outp[0];
	c->out.kind = STREAM_STDOUT;
	outp[0] = -1;
	c->err.fd = errp[0];
	c->err.kind = STREAM_STDERR;
	errp[0] = -1;
	ctab[slot] = c;
	fcntl(c->out.fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err.fd, F_SETFL, O_NONBLOCK);
	{
		struct epoll_event ev = { .events = EPOLLIN };
		ev.data.u64 = EV(EV_OUT, slot);
		epoll_ctl(monitor_epoll_fd, EPOLL_CTL_ADD, c->out.fd, &ev);
		ev.data.u64 = EV(EV_ERR, slot);
		epoll_ctl(monitor_epoll_fd, EPOLL_CTL_ADD, c->err.fd, &ev);
	}
	c = NULL;
	write_record(ctab[slot], "start");
	/* The pidfd lets the caller learn the pid in its own PID namespace (fdinfo) and wait
	 * on it; it stays valid because only we reap the child. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	rok(r);
	rkvi(r, "pid", pid);
	rkvi(r, "startedAt", ctab[slot]->started_ns);
	if (joined)
		rkv(r, "cgroup", "joined");
	if (pidfd >= 0) {
		rkvi(r, "pidfd", r->nfds);
		r->fds[r->nfds++] = pidfd;
	}
out:
	if (c && dir[0])
		rmdir(dir);     /* only if empty: a failed create leaves nothing behind */
	if (c) {
		if (c->log_path)
			free(c->log_path);
		free(c->out.buf);
		free(c->err.buf);
		free(c);
	}
	free(argv);
	free(envp);
	for (i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (log_fd >= 0)
		close(log_fd);
}

/* ---- other requests ------------------------------------------------------------------ */

static struct container *lookup(const struct req *q, struct reply *r)
{
	const char *id = req_get(q, "id");
	int slot;

	if (!id) {
		rerror(r, EINVAL, "request needs id=");
		return NULL;
	}
	slot = find(id);
	if (slot < 0) {
		rerror(r, ENOENT, "no container %s", id);
		return NULL;
	}
	return ctab[slot];
}

static void handle_signal(struct req *q, struct reply *r)
{
	struct container *c = lookup(q, r);
	const char *s = req_get(q, "signal");
	char *end;
	long sig;

	if (!c)
		return;
	sig = s ? strtol(s, &end, 10) : -1;
	if (!s || *end || sig < 0 || sig > 64) {
		rerror(r, EINVAL, "signal= must be a signal number");
		return;
	}
	if (!c->running) {
		rerror(r, ESRCH, "container %s is not running", c->id);
		return;
	}
	if (kill(c->pid, (int)sig) < 0) {
		rerror(r, errno, "kill %s: %s", c->id, strerror(errno));
		return;
	}
	rok(r);
}

static void handle_list(struct reply *r)
{
	int i, code, sig, core, fd;

	rok(r);
	for (i = 0; i < MAX_CONTAINERS; i++) {
		struct container *c = ctab[i];
		if (!c)
			continue;
		rkv(r, "id", c->id);
		rkvi(r, "pid", c->pid);
		rkv(r, "state", c->running ? "running" : "exited");
		rkvi(r, "startedAt", c->started_ns);
		if (c->running) {
			fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
			if (fd >= 0) {
				rkvi(r, "pidfd", r->nfds);
				r->fds[r->nfds++] = fd;
			}
			continue;
		}
		exit_fields(c, &code, &sig, &core);
		rkvi(r, "finishedAt", c->finished_ns);
		rkvi(r, "exitCode", code);
		rkvi(r, "signal", sig);
		rkvi(r, "coreDumped", core);
		rkvi(r, "status", c->status);
	}
}

static void handle_reopen_log(struct req *q, struct reply *r)
{
	struct container *c = lookup(q, r);
	const char *path = req_get(q, "path");
	char *copy;
	int fd;

	if (!c)
		return;
	if (!path || !path[0])
		path = c->log_path;
	if (!path) {
		rerror(r, EINVAL, "container %s has no log file; give path=", c->id);
		return;
	}
	/* Open the new file before closing the old one: a failure changes nothing. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		rerror(r, errno, "open log %s: %s", path, strerror(errno));
		return;
	}
	copy = strdup(path);
	if (!copy) {
		close(fd);
		rerror(r, ENOMEM, "out of memory");
		return;
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c->log_path);
	c->log_fd = fd;
	c->log_path = copy;
	log_opened(c);
	rok(r);
}

static void handle_stdin(struct req *q, struct reply *r, int close_it)
{
	struct container *c = lookup(q, r);
	int fd;

	if (!c)
		return;
	if (c->stdin_w < 0) {
		rerror(r, EBADF, "container %s has no open stdin", c->id);
		return;
	}
	if (close_it) {
		close(c->stdin_w);
		c->stdin_w = -1;
		rok(r);
		return;
	}
	fd = fcntl(c->stdin_w, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		rerror(r, errno, "dup stdin: %s", strerror(errno));
		return;
	}
	rok(r);
	rkvi(r, "stdinfd", 0);
	r->fds[r->nfds++] = fd;
}

static void handle_remove(struct req *q, struct reply *r)
{
	struct container *c = lookup(q, r);
	int slot;

	if (!c)
		return;
	if (c->running) {
		rerror(r, EBUSY, "container %s is running", c->id);
		return;
	}
	slot = find(c->id);
	free_container(slot);
	rok(r);
}

/* Kill the children of pause that are not its containers, when pause is no PID
 * namespace's init (then kill(-1) would reach the whole host). */
static void kill_own_children(void)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;
	char *p, *end;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)syscall(SYS_gettid));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
	}
}

static int any_running(void)
{
	int i;

	for (i = 0; i < MAX_CONTAINERS; i++)
		if (ctab[i] && ctab[i]->running)
			return 1;
	return 0;
}

/* SIGKILL every container, wait for them, write their exit records, flush logs. */
static void teardown(void)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	int i, rounds;

	for (i = 0; i < MAX_CONTAINERS; i++)
		if (ctab[i] && ctab[i]->running)
			kill(ctab[i]->pid, SIGKILL);
	if (own_pidns && getpid() == 1)
		kill(-1, SIGKILL);      /* as init of the pod PID ns: every process of the pod */
	else
		kill_own_children();
	/* 10 s at most: a process stuck in D state must not keep the pod's monitor forever. */
	for (rounds = 0; rounds < 2000; rounds++) {
		reap();
		/* Without a PID namespace of our own, a container's children reach us (subreaper)
		 * only after their parent died: kill whoever arrived since the last round. */
		if (!(own_pidns && getpid() == 1))
			kill_own_children();
		if (!any_running() && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		nanosleep(&tick, NULL);
	}
	for (i = 0; i < MAX_CONTAINERS; i++) {
		if (!ctab[i])
			continue;
		stream_drain(ctab[i], &ctab[i]->out, 64);
		stream_drain(ctab[i], &ctab[i]->err, 64);
		stream_close(ctab[i], &ctab[i]->out);
		stream_close(ctab[i], &ctab[i]->err);
		if (ctab[i]->log_fd >= 0)
			fsync(ctab[i]->log_fd);
	}
	unlink(SOCK_NAME);
	unlink(PID_NAME);
}

/* ---- the loop ------------------------------------------------------------------------ */

static void send_reply(int fd, struct reply *r)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_CONTAINERS)];
		struct cmsghdr align;
	} cm;
	int i;

	if (r->failed)
		rerror(r, ENOMEM, "out of memory");
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = r->p;
	iov.iov_len = r->len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (r->nfds > 0) {
		struct cmsghdr *h;
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)r->nfds);
		h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)r->nfds);
		memcpy(CMSG_DATA(h), r->fds, sizeof(int) * (size_t)r->nfds);
	}
	while (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
}

static void drop_client(int slot)
{
	epoll_ctl(monitor_epoll_fd, EPOLL_CTL_DEL, clients[slot], NULL);
	close(clients[slot]);
	clients[slot] = -1;
}

static void on_client(int slot)
{
	struct req q;
	struct reply r;
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
		struct cmsghdr align;
	} cm;
	struct cmsghdr *h;
	ssize_t n;
	int i, shutdown = 0;

	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = reqbuf;
	iov.iov_len = REQ_MAX;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(clients[slot], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(slot);
		return;
	}
	for (h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int cnt = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *fds = (int *)CMSG_DATA(h);
			for (i = 0; i < cnt; i++) {
				if (q.nfds < MAX_PASSED_FDS)
					q.fds[q.nfds++] = fds[i];
				else
					close(fds[i]);
			}
		}
	}
	q.buf = reqbuf;
	q.len = (size_t)n;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || reqbuf[n - 1] != 0) {
		rerror(&r, EMSGSIZE, "request too large (at most %d bytes and %d fds) or not "
		       "NUL-terminated", REQ_MAX, MAX_PASSED_FDS);
	} else if (strcmp(q.buf, "create") == 0) {
		handle_create(&q, &r);
	} else if (q.nfds > 0) {
		rerror(&r, EINVAL, "only create takes file descriptors");
	} else if (strcmp(q.buf, "ping") == 0) {
		rok(&r);
		rkv(&r, "version", PODRUN_PAUSE_VERSION);
	} else if (strcmp(q.buf, "signal") == 0) {
		handle_signal(&q, &r);
	} else if (strcmp(q.buf, "list") == 0) {
		handle_list(&r);
	} else if (strcmp(q.buf, "reopen-log") == 0) {
		handle_reopen_log(&q, &r);
	} else if (strcmp(q.buf, "stdin") == 0) {
		handle_stdin(&q, &r, 0);
	} else if (strcmp(q.buf, "close-stdin") == 0) {
		handle_stdin(&q, &r, 1);
	} else if (strcmp(q.buf, "remove") == 0) {
		handle_remove(&q, &r);
	} else if (strcmp(q.buf, "shutdown") == 0) {
		teardown();
		rok(&r);
		shutdown = 1;
	} else {
		rerror(&r, EINVAL, "unknown request %.64s", q.buf);
	}
	for (i = 0; i < q.nfds; i++)
		close(q.fds[i]);
	/* Give back the pages a large create touched: pause stays small for the pod's life. */
	if (n > 16384)
		madvise(reqbuf + 16384, REQ_MAX - 16384, MADV_DONTNEED);
	send_reply(clients[slot], &r);
	free(r.p);
	if (shutdown)
		_exit(0);
}

static void on_listen(void)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, i;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		/* The socket is 0600 already; this also holds if its mode is changed. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			close(fd);
			continue;
		}
		for (i = 0; i < MAX_CLIENTS && clients[i] >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			close(fd);
			continue;
		}
		{
			struct epoll_event ev = { .events = EPOLLIN };
			ev.data.u64 = EV(EV_CLIENT, i);
			if (epoll_ctl(monitor_epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
				close(fd);
				continue;
			}
		}
		clients[i] = fd;
	}
}

static void on_signal(void)
{
	struct signalfd_siginfo si;
	int stop = 0;

	/* ssi_pid is the sender's pid in our PID namespace, 0 for a sender outside it. A
	 * process of the pod itself (shareProcessNamespace: `kill 1`, `kill -TERM -1`) does
	 * not get to tear its pod down; the daemon, outside, does. */
	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) &&
		    !(own_pidns && si.ssi_pid != 0))
			stop = 1;
	reap();
	if (stop) {
		teardown();
		_exit(0);
	}
}

static void nothing(int sig)
{
	(void)sig;
}

static void fail_start(int ready_fd, const char *what, const char *arg) __attribute__((noreturn));
static void fail_start(int ready_fd, const char *what, const char *arg)
{
	char msg[PATH_MAX + 128];
	int n = snprintf(msg, sizeof(msg), "%s %s: %s", what, arg ? arg : "", strerror(errno));

	write_all(ready_fd, msg, (size_t)n);
	_exit(1);
}

void monitor_run(const struct monitor_opts *o, pid_t host_pid, int ready_fd)
{
	struct sockaddr_un sa;
	struct sigaction act;
	struct epoll_event ev, evs[32];
	sigset_t mask;
	char buf[PATH_MAX + 32];
	int i, n, fd;

	/* Until "ok" we belong to the launcher: if it dies, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	own_pidns = o->own_pidns;
	for (i = 0; i < MAX_CLIENTS; i++)
		clients[i] = -1;
	if (o->cgroup_dir && !o->in_cgroup) {
		/* Out of the daemon's cgroup: a daemon stop must not take the pod with it. */
		snprintf(buf, sizeof(buf), "%s/cgroup.procs", o->cgroup_dir);
		fd = open(buf, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write_all(fd, "0", 1) < 0)
			fail_start(ready_fd, "join cgroup", buf);
		close(fd);
	}
	fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t got = read(fd, oom_default, sizeof(oom_default) - 1);
		oom_default[got > 0 ? got : 0] = 0;
		if (o->oom_score_adj && (lseek(fd, 0, SEEK_SET) < 0 ||
		    write_all(fd, o->oom_score_adj, strlen(o->oom_score_adj)) < 0))
			fail_start(ready_fd, "set oom_score_adj", o->oom_score_adj);
		close(fd);
	} else if (o->oom_score_adj) {
		fail_start(ready_fd, "open", "/proc/self/oom_score_adj");
	}
	/* Up to 250 containers hold 3-4 fds each: more than the usual 1024. */
	if (getrlimit(RLIMIT_NOFILE, &nofile_default) == 0) {
		struct rlimit more = nofile_default;
		nofile_saved = 1;
		if (more.rlim_cur < 65536)
			more.rlim_cur = more.rlim_max < 65536 ? more.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &more);
	}
	if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0)
		fail_start(ready_fd, "sethostname", o->hostname);
	if (mkdir_p(o->run_dir, 0700) < 0 || chdir(o->run_dir) < 0)
		fail_start(ready_fd, "run dir", o->run_dir);
	if (mkdir("containers", 0700) < 0 && errno != EEXIST)
		fail_start(ready_fd, "mkdir", "containers");

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, SOCK_NAME, sizeof(SOCK_NAME));
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0)
		fail_start(ready_fd, "socket", SOCK_NAME);
	if (connect(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		errno = EADDRINUSE;
		fail_start(ready_fd, "another pause serves", o->run_dir);
	}
	close(listen_fd);
	unlink(SOCK_NAME);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	umask(077);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(SOCK_NAME, 0600) < 0 || listen(listen_fd, MAX_CLIENTS) < 0)
		fail_start(ready_fd, "listen", SOCK_NAME);
	umask(022);     /* the modes we ask for (log 0640, records 0644); containers get 022 */

	reqbuf = mmap(NULL, REQ_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (reqbuf == MAP_FAILED)
		fail_start(ready_fd, "mmap", "request buffer");

	/* Signals arrive through the signalfd. The no-op handlers matter: as PID 1 of a PID
	 * namespace, a signal with the default action would be dropped by the kernel. */
	memset(&act, 0, sizeof(act));
	act.sa_handler = nothing;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGCHLD, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	monitor_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (sig_fd < 0 || monitor_epoll_fd < 0)
		fail_start(ready_fd, "signalfd/epoll", "");
	ev.events = EPOLLIN;
	ev.data.u64 = EV(EV_SIG, 0);
	epoll_ctl(monitor_epoll_fd, EPOLL_CTL_ADD, sig_fd, &ev);
	ev.data.u64 = EV(EV_LISTEN, 0);
	epoll_ctl(monitor_epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);

	n = snprintf(buf, sizeof(buf), "%d\n", (int)host_pid);
	if (write_file_atomic(PID_NAME, buf, (size_t)n, 0644, 0) < 0)
		fail_start(ready_fd, "write", PID_NAME);

	/* Detached from the launcher's terminal and pipes for good. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail_start(ready_fd, "open", "/dev/null");
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	prctl(PR_SET_PDEATHSIG, 0);
	write_all(ready_fd, "ok", 2);
	close(ready_fd);

	for (;;) {
		n = epoll_wait(monitor_epoll_fd, evs, 32, -1);
		for (i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t slot = (uint32_t)evs[i].data.u64;
			struct container *c;

			switch (kind) {
			case EV_SIG:
				on_signal();
				break;
			case EV_LISTEN:
				on_listen();
				break;
			case EV_CLIENT:
				if (slot < MAX_CLIENTS && clients[slot] >= 0)
					on_client((int)slot);
				break;
			case EV_OUT:
			case EV_ERR:
				/* One bounded read per stream per round: a flood cannot starve the
				 * others, level-triggered epoll comes back for the rest. */
				c = slot < MAX_CONTAINERS ? ctab[slot] : NULL;
				if (c)
					stream_pump(c, kind == EV_OUT ? &c->out : &c->err);
				break;
			}
		}
	}
}
