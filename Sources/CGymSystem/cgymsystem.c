#define _GNU_SOURCE
#include "cgymsystem.h"

#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
int gym_release_free_memory(void) { return malloc_trim(0); }
void gym_limit_malloc_arenas(int count) { mallopt(M_ARENA_MAX, count); }
#else
int gym_release_free_memory(void) { return 0; }
void gym_limit_malloc_arenas(int count) { (void)count; }
#endif

void gym_lower_thread_priority(int niceness) {
#if defined(__linux__)
    pid_t tid = gettid();
    errno = 0;
    int current = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && current < niceness) {
        setpriority(PRIO_PROCESS, (id_t)tid, niceness);
    }
#else
    (void)niceness;
#endif
}

int gym_pipe_cloexec(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}
