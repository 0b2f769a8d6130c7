#ifndef GYM_SERVER_CGYMSYSTEM_H
#define GYM_SERVER_CGYMSYSTEM_H

/// Hands the free pages of every malloc arena back to the system; returns 1 if any was released.
/// (glibc's malloc_trim; elsewhere nothing happens.)
int gym_release_free_memory(void);

/// Caps the number of malloc arenas (glibc's M_ARENA_MAX; default 8 per core). Fewer arenas
/// fragment less, so memory freed by closed instances can go back to the system.
void gym_limit_malloc_arenas(int count);

/// Lowers the calling thread's scheduling priority to at least `niceness` (Linux keeps a nice
/// value per thread, and threads it starts inherit it). Only ever lowers: raising needs privileges.
void gym_lower_thread_priority(int niceness);

/// A pipe whose both ends are close-on-exec from the start (pipe2 with O_CLOEXEC, which Swift's
/// Glibc module does not show), so that no child started meanwhile inherits them. 0 or -1.
int gym_pipe_cloexec(int fds[2]);

/// Opens (creating, mode 0644) the file at `path` and takes a lock on it that holds against
/// every other open of it, in this process or another, on this machine or (on a filesystem that
/// keeps locks, such as NFSv4) another: exclusive, or shared with other shared holders when
/// `shared` is not 0. An open-file-description lock (F_OFD_SETLK), or flock where those are
/// unsupported. The lock lasts until the returned descriptor is closed, or the process ends.
/// Returns the descriptor, -2 when someone else's lock stands in the way, -1 on another error
/// (errno says which).
int gym_lock_file(const char *path, int shared);

/// Turns the exclusive lock of `fd` (from gym_lock_file) into a shared one, atomically where
/// the system can. 0, or -1 (errno).
int gym_lock_share(int fd);

/// The CPUs this process may use: its affinity mask on Linux (else the online CPUs), fewer when a
/// cgroup's CPU quota allows fewer (rounded up: a container limited to 1.5 CPUs gets 2); at least 1.
int gym_usable_cpus(void);

/// The CPUs (rounded up) that the text of a cgroup v2 `cpu.max` file allows: "150000 100000" is
/// 2, "max 100000" (no quota) or anything unreadable 0.
int gym_cpu_max_cpus(const char *text);

/// Gives the calling thread's CPU to any other thread ready to run there (sched_yield).
void gym_yield(void);

#endif
