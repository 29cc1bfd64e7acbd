/* pause: the per-pod infra process of podrun.
 *
 * With no arguments, Kubernetes pause semantics: sleep until SIGINT or SIGTERM, then exit 0;
 * reap every child (it is PID 1 of the pod's PID namespace); -v prints the version.
 * With --monitor it becomes the pod's monitor (launch.c, monitor.c, docs/pause.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pause.h"

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		printf("pause.c %s\n", PODRUN_PAUSE_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--monitor") == 0)
		return launch_main(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return 1;
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return 2;
	for (;;)
		pause();
	return 42;
}
