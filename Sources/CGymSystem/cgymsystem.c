#define _GNU_SOURCE
#include "cgymsystem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>

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

int gym_lock_file(const char *path, int shared) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
#if defined(F_OFD_SETLK)
    struct flock lock = {0};
    lock.l_type = shared ? F_RDLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0) return fd;
    if (errno == EAGAIN || errno == EACCES) {
        close(fd);
        return -2;
    }
    if (errno != EINVAL) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
#endif
    // No open-file-description locks here: flock, which also conflicts between two opens in
    // one process.
    if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0) return fd;
    int saved = errno;
    close(fd);
    if (saved == EWOULDBLOCK) return -2;
    errno = saved;
    return -1;
}

int gym_lock_share(int fd) {
#if defined(F_OFD_SETLK)
    struct flock lock = {0};
    lock.l_type = F_RDLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0) return 0;
    if (errno != EINVAL) return -1;
#endif
    return flock(fd, LOCK_SH | LOCK_NB);
}


static int gym_cpus_of_quota(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return 0;
    long long cpus = (quota + period - 1) / period;
    return cpus > 0 && cpus < 1 << 20 ? (int)cpus : 0;
}

int gym_cpu_max_cpus(const char *text) {
    char first[32] = {0};
    long long period = 0;
    if (text == NULL || sscanf(text, "%31s %lld", first, &period) != 2 || strcmp(first, "max") == 0) return 0;
    char *end = NULL;
    long long quota = strtoll(first, &end, 10);
    if (end == first || *end != 0) return 0;
    return gym_cpus_of_quota(quota, period);
}

/// The CPUs a cgroup's quota allows (rounded up), or 0 without a quota: cgroup v2's `cpu.max`,
/// else v1's cpu.cfs_quota_us and cpu.cfs_period_us.
static int gym_quota_cpus(void) {
    long long quota = -1, period = 0;
    FILE *file = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (file) {
        char text[80] = {0};
        int cpus = fgets(text, sizeof(text), file) ? gym_cpu_max_cpus(text) : 0;
        fclose(file);
        return cpus;
    } else {
        file = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r");
        if (file) {
            if (fscanf(file, "%lld", &quota) != 1) quota = -1;
            fclose(file);
        }
        file = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
        if (file) {
            if (fscanf(file, "%lld", &period) != 1) period = 0;
            fclose(file);
        }
    }
    return gym_cpus_of_quota(quota, period);
}

int gym_usable_cpus(void) {
    int count = 0;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) count = CPU_COUNT(&set);
#endif
    if (count <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        count = online > 0 ? (int)online : 1;
    }
    int quota = gym_quota_cpus();
    return quota > 0 && quota < count ? quota : count;
}

void gym_yield(void) {
    sched_yield();
}
