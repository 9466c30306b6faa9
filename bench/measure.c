// measure.c: runs one command and records what it cost: wall time, the
// child's CPU time (user + system, from wait4, so every thread of the child
// counts and nothing of the shell or of other processes does) and its peak
// resident set (ru_maxrss). The machine is shared, so run.sh ranks backends
// by CPU time; wall time is kept for the multi-threaded scaling figure.
//
//   measure OUT CMD [ARG...]
//
// The child inherits stdin, stdout and stderr. OUT gets one line:
//   wall=S cpu=S user=S sys=S rss_kb=K status=N
// and measure exits with the child's status (128 + signal if it was killed).
// With MEASURE_TIMEOUT=S in the environment, a child still running after S
// seconds is killed (status 137), so one hung backend cannot stall run.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    kill(child, SIGKILL);
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure OUT CMD [ARG...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s\n", argv[2]);
        _exit(127);
    }
    child = pid;
    const char *limit = getenv("MEASURE_TIMEOUT");
    if (limit != NULL && atoi(limit) > 0) {
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)atoi(limit));
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("measure: wait4");
            return 2;
        }
    }
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double user = seconds(ru.ru_utime), sys = seconds(ru.ru_stime);
    FILE *f = fopen(argv[1], "w");
    if (f == NULL) {
        perror("measure: cannot write the result file");
        return 2;
    }
    fprintf(f, "wall=%.4f cpu=%.4f user=%.4f sys=%.4f rss_kb=%ld status=%d\n", wall, user + sys,
            user, sys, ru.ru_maxrss, rc);
    fclose(f);
    return rc;
}
