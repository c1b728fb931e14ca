#ifndef SCIM_ROTATOR_CSPAWN_H
#define SCIM_ROTATOR_CSPAWN_H

#include <sys/types.h>

/// A program started by scim_spawn: its own process group, tied to this process by a lifeline.
typedef struct {
    /// The supervisor: a small fork of this process that starts the program, waits for it and reports.
    pid_t supervisor;
    /// Write end of the program's stdin.
    int stdin_fd;
    /// Read end of the program's stderr.
    int stderr_fd;
    /// Read end of the supervisor's reports (scim_report records).
    int report_fd;
    /// Write end of the lifeline: while it is open, the program may run; when it closes (this process exits, is
    /// killed, or calls scim_spawn_release), the supervisor kills the program's whole process group.
    int lifeline_fd;
} scim_spawned;

/// What the supervisor reports, in order: SCIM_REPORT_STARTED (value: the program's pid, which is also its process
/// group id); then SCIM_REPORT_RUNNING once execve succeeded, or SCIM_REPORT_EXEC_FAILED (value: errno); then
/// SCIM_REPORT_WAIT_STATUS (value: the raw wait status) when the program has exited.
typedef struct {
    int kind;
    int value;
} scim_report;

enum {
    SCIM_REPORT_STARTED = 1,
    SCIM_REPORT_EXEC_FAILED = 2,
    SCIM_REPORT_WAIT_STATUS = 3,
    SCIM_REPORT_RUNNING = 4,
};

/// Starts `path` with `argv` and `envp` (NULL-terminated) in a new process group, stdout on /dev/null.
///
/// The program gets default signal dispositions and an empty signal mask (whatever this process ignores), only fds
/// 0-2, and on Linux PR_SET_PDEATHSIG=SIGKILL. Its supervisor kills the program's whole process group when the
/// lifeline closes, so nothing the program started outlives this process, and once the program exits, whatever it
/// left running in its group. Returns 0, or an errno value when nothing could be started.
int scim_spawn(const char *path, char *const argv[], char *const envp[], scim_spawned *out);

/// Helpers for Swift: the fields of a wait status.
int scim_wifexited(int status);
int scim_wexitstatus(int status);
int scim_wifsignaled(int status);
int scim_wtermsig(int status);

#endif
