/* Small file helpers: full writes, atomic replace (tmp, fsync, rename), mkdir -p. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pause.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A reader sees either the old file or the whole new one. With durable, also after a
 * host crash: the data is on disk before the rename, and the rename before we return. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, int durable)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (!durable)
		return 0;
	slash = strrchr(path, '/');
	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	char *p;

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* clone(flags) straight into the cgroup at cgroup_dir (clone3 CLONE_INTO_CGROUP, Linux 5.7+,
 * cgroup v2): the child never migrates, and a migration (a write to cgroup.procs) takes
 * the cgroup threadgroup lock for writing, which waits an RCU grace period: 5-10 ms of a
 * pod or container start. *joined says whether it worked; if it did not (old kernel, a
 * v1 path, no such dir, any clone3 error) this is a plain clone, and whoever joined the
 * cgroup before (the monitor, the init helper) still does, with the same errors. */
pid_t clone_into(unsigned long flags, const char *cgroup_dir, int *joined)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
			tls, set_tid, set_tid_size, cgroup;
	} ca;
	int cg = -1;
	pid_t pid;

	*joined = 0;
	if (cgroup_dir && cgroup_dir[0])
		cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg >= 0) {
		memset(&ca, 0, sizeof(ca));
		ca.flags = (flags & ~(unsigned long)CSIGNAL) | 0x200000000ULL; /* CLONE_INTO_CGROUP */
		ca.exit_signal = flags & CSIGNAL;
		ca.cgroup = (uint64_t)cg;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		close(cg);
		if (pid >= 0) {
			*joined = 1;
			return pid;
		}
	}
	return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
}
