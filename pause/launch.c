/* Launch: parse the monitor's command line, create the pod's namespaces, fork the
 * monitor (PID 1 of the new PID namespace) and wait until it serves requests.
 *
 * The launching process exits 0 once the monitor said "ok" (pause.pid and pause.sock
 * exist then), printing the monitor's pid as the launcher sees it; on failure it
 * prints the monitor's reason on stderr and exits 1. The monitor is then re-parented:
 * it belongs to no one but the pod.
 *
 *   sync 1  launcher -> monitor: the monitor's pid in the launcher's PID namespace
 *   sync 2  monitor -> launcher: "ok" or an error sentence, then EOF
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pause.h"

static const char usage[] =
	"usage: pause --monitor --run-dir DIR [--new-net | --netns-path PATH] [--new-ipc]\n"
	"             [--new-uts [--hostname NAME]] [--new-pid] [--cgroup DIR]\n"
	"             [--oom-score-adj N]\n";

struct launch_opts {
	struct monitor_opts m;
	const char *netns_path;
	int new_net, new_ipc, new_uts, new_pid;
};

static int parse(int argc, char **argv, struct launch_opts *o)
{
	int i;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **val = NULL;

		if (strcmp(a, "--new-net") == 0)
			o->new_net = 1;
		else if (strcmp(a, "--new-ipc") == 0)
			o->new_ipc = 1;
		else if (strcmp(a, "--new-uts") == 0)
			o->new_uts = 1;
		else if (strcmp(a, "--new-pid") == 0)
			o->new_pid = 1;
		else if (strcmp(a, "--run-dir") == 0)
			val = &o->m.run_dir;
		else if (strcmp(a, "--hostname") == 0)
			val = &o->m.hostname;
		else if (strcmp(a, "--cgroup") == 0)
			val = &o->m.cgroup_dir;
		else if (strcmp(a, "--oom-score-adj") == 0)
			val = &o->m.oom_score_adj;
		else if (strcmp(a, "--netns-path") == 0)
			val = &o->netns_path;
		else {
			fprintf(stderr, "pause: unknown argument %s\n%s", a, usage);
			return -1;
		}
		if (val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pause: %s needs a value\n%s", a, usage);
				return -1;
			}
			*val = argv[++i];
		}
	}
	if (!o->m.run_dir || !o->m.run_dir[0]) {
		fprintf(stderr, "pause: --run-dir is required\n%s", usage);
		return -1;
	}
	if (o->new_net && o->netns_path) {
		fprintf(stderr, "pause: --new-net and --netns-path exclude each other\n");
		return -1;
	}
	/* Without a UTS namespace of its own, sethostname would rename the host. */
	if (o->m.hostname && !o->new_uts) {
		fprintf(stderr, "pause: --hostname needs --new-uts\n");
		return -1;
	}
	return 0;
}

int launch_main(int argc, char **argv)
{
	struct launch_opts o;
	int flags = 0, to_child[2], to_parent[2], fd;
	char buf[512];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	memset(&o, 0, sizeof(o));
	if (parse(argc, argv, &o) < 0)
		return 2;
	if (o.netns_path) {
		fd = open(o.netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			fprintf(stderr, "pause: join network namespace %s: %s\n", o.netns_path,
				strerror(errno));
			return 1;
		}
		close(fd);
	}
	flags |= o.new_net ? CLONE_NEWNET : 0;
	flags |= o.new_ipc ? CLONE_NEWIPC : 0;
	flags |= o.new_uts ? CLONE_NEWUTS : 0;
	flags |= o.new_pid ? CLONE_NEWPID : 0;
	if (flags && unshare(flags) < 0) {
		fprintf(stderr, "pause: unshare namespaces: %s\n", strerror(errno));
		return 1;
	}
	o.m.own_pidns = o.new_pid;
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(to_parent, O_CLOEXEC) < 0) {
		fprintf(stderr, "pause: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	/* Straight into the pod's cgroup when the kernel can: no migration to wait for. */
	pid = clone_into(SIGCHLD, o.m.cgroup_dir, &o.m.in_cgroup);
	if (pid < 0) {
		fprintf(stderr, "pause: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		pid_t host_pid = 0;

		close(to_child[1]);
		close(to_parent[0]);
		/* sync 1: our pid as the launcher sees it; getpid() says 1 in a new PID ns */
		while ((n = read(to_child[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = 0;
		close(to_child[0]);
		host_pid = (pid_t)atoi(buf);
		monitor_run(&o.m, host_pid, to_parent[1]);
	}
	close(to_child[0]);
	close(to_parent[1]);
	n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	write_all(to_child[1], buf, (size_t)n);
	close(to_child[1]);
	/* sync 2 */
	got = 0;
	while ((n = read(to_parent[0], buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = 0;
	if (got >= 2 && memcmp(buf, "ok", 2) == 0) {
		printf("%d\n", (int)pid);
		return 0;
	}
	fprintf(stderr, "pause: %s\n", got ? buf : "monitor died while starting");
	waitpid(pid, NULL, 0);
	return 1;
}
