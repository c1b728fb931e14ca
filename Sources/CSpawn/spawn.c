// Starts an exec sink's program so that it cannot outlive scim-rotator (see CSpawn.h).
//
// Foundation's Process can neither put a child in its own process group nor tie its life to ours, and posix_spawn
// cannot set PR_SET_PDEATHSIG. Between fork and execve only async-signal-safe calls are made.
#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

int scim_wifexited(int status) { return WIFEXITED(status); }
int scim_wexitstatus(int status) { return WEXITSTATUS(status); }
int scim_wifsignaled(int status) { return WIFSIGNALED(status); }
int scim_wtermsig(int status) { return WTERMSIG(status); }

static int cloexec_pipe(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

static void close_from(int lowest) {
#if defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned int)lowest, ~0U, 0) == 0) return;
#endif
    struct rlimit limit;
    long highest = 4096;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && (long)limit.rlim_cur < 65536) {
        highest = (long)limit.rlim_cur;
    }
    for (long fd = lowest; fd < highest; fd++) close((int)fd);
}

static void write_all(int fd, const void *bytes, size_t count) {
    const char *p = bytes;
    while (count > 0) {
        ssize_t n = write(fd, p, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        count -= (size_t)n;
    }
}

static void report(int fd, int kind, int value) {
    scim_report r = {kind, value};
    write_all(fd, &r, sizeof r);
}

static void set_disposition(int sig, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, NULL);
}

/// Whether `pid` has exited, without reaping it (so that its process group id stays taken meanwhile).
static int has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
    return info.si_pid == pid;
}

// The supervisor's fds: 0 stdin (read end), 1 /dev/null, 2 stderr (write end), 3 lifeline (read end), 4 reports.
enum { LIFELINE = 3, REPORTS = 4 };

static void supervise(const char *path, char *const argv[], char *const envp[]) __attribute__((noreturn));

static void supervise(const char *path, char *const argv[], char *const envp[]) {
    pid_t self = getpid();
    int exec_errors[2];
    if (cloexec_pipe(exec_errors) != 0) {
        report(REPORTS, SCIM_REPORT_EXEC_FAILED, errno);
        _exit(0);
    }
    pid_t program = fork();
    if (program < 0) {
        report(REPORTS, SCIM_REPORT_EXEC_FAILED, errno);
        _exit(0);
    }
    if (program == 0) {
        setpgid(0, 0);
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) set_disposition(sig, SIG_DFL);
        }
#if defined(__linux__)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != self) _exit(127);  // the supervisor is already gone
        execve(path, argv, envp);
        int error = errno;
        write_all(exec_errors[1], &error, sizeof error);
        _exit(127);
    }
    setpgid(program, program);  // also here, so that the group exists before it is reported
    close(exec_errors[1]);
    close(0);
    close(1);
    close(2);
    report(REPORTS, SCIM_REPORT_STARTED, (int)program);

    int error = 0;
    ssize_t n;
    do { n = read(exec_errors[0], &error, sizeof error); } while (n < 0 && errno == EINTR);
    int status = 0;
    if (n == (ssize_t)sizeof error) {
        while (waitpid(program, &status, 0) < 0 && errno == EINTR) {}
        report(REPORTS, SCIM_REPORT_EXEC_FAILED, error);
        _exit(0);
    }
    close(exec_errors[0]);
    report(REPORTS, SCIM_REPORT_RUNNING, 0);

    int pidfd = -1;
#if defined(__linux__) && defined(SYS_pidfd_open)
    pidfd = (int)syscall(SYS_pidfd_open, program, 0);
#endif
    for (;;) {
        struct pollfd fds[2] = {{LIFELINE, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int ready = poll(fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 100);
        if (ready < 0 && errno != EINTR) break;
        if (has_exited(program)) {
            kill(-program, SIGKILL);  // whatever it left running in its group
            while (waitpid(program, &status, 0) < 0 && errno == EINTR) {}
            report(REPORTS, SCIM_REPORT_WAIT_STATUS, status);
            _exit(0);
        }
        if (ready > 0 && fds[0].revents != 0) {
            char byte;
            do { n = read(LIFELINE, &byte, 1); } while (n < 0 && errno == EINTR);
            if (n <= 0) break;  // scim-rotator is gone, or it gave up on the program
        }
    }
    kill(-program, SIGKILL);
    while (waitpid(program, &status, 0) < 0 && errno == EINTR) {}
    report(REPORTS, SCIM_REPORT_WAIT_STATUS, status);
    _exit(0);
}

/// Moves `fd` to `target` in a forked child (dup2 clears FD_CLOEXEC on the copy).
static int place(int fd, int target) {
    if (fd == target) return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

int scim_spawn(const char *path, char *const argv[], char *const envp[], scim_spawned *out) {
    int input[2] = {-1, -1}, errors[2] = {-1, -1}, reports[2] = {-1, -1}, lifeline[2] = {-1, -1};
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int failure = 0;
    if (devnull < 0 || cloexec_pipe(input) != 0 || cloexec_pipe(errors) != 0 || cloexec_pipe(reports) != 0
        || cloexec_pipe(lifeline) != 0) {
        failure = errno ? errno : EMFILE;
    }
    pid_t supervisor = -1;
    if (failure == 0) {
        supervisor = fork();
        if (supervisor < 0) failure = errno;
    }
    if (supervisor == 0) {
        // The supervisor: a copy of a multithreaded process, so async-signal-safe calls only.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        set_disposition(SIGCHLD, SIG_DFL);
        set_disposition(SIGTERM, SIG_IGN);  // a timeout signals the program's group, never its supervisor
        set_disposition(SIGINT, SIG_IGN);
        set_disposition(SIGHUP, SIG_IGN);
        set_disposition(SIGPIPE, SIG_IGN);
        int keep[5] = {input[0], devnull, errors[1], lifeline[0], reports[1]};
        for (int i = 0; i < 5; i++) {
            keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 16);  // out of the way of 0-4 first
            if (keep[i] < 0) _exit(0);
        }
        for (int i = 0; i < 5; i++) {
            if (place(keep[i], i) != 0) _exit(0);
        }
        close_from(5);
        fcntl(LIFELINE, F_SETFD, FD_CLOEXEC);
        fcntl(REPORTS, F_SETFD, FD_CLOEXEC);
        supervise(path, argv, envp);
    }
    int mine[] = {input[0], errors[1], reports[1], lifeline[0], devnull};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        if (mine[i] >= 0) close(mine[i]);
    }
    if (failure != 0) {
        int theirs[] = {input[1], errors[0], reports[0], lifeline[1]};
        for (size_t i = 0; i < sizeof theirs / sizeof theirs[0]; i++) {
            if (theirs[i] >= 0) close(theirs[i]);
        }
        return failure;
    }
    out->supervisor = supervisor;
    out->stdin_fd = input[1];
    out->stderr_fd = errors[0];
    out->report_fd = reports[0];
    out->lifeline_fd = lifeline[1];
    return 0;
}
