/*
 * A slower disk, simulated: preloaded into a server by `SLOW_FSYNC_US=N bash bench/webhooks/run.sh`,
 * every fsync and fdatasync it makes takes N microseconds longer (default 1000) after the real
 * call. For comparing how servers scale with the disk's fsync latency; NOT a result on this disk.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

static useconds_t extra_us(void) {
    const char *value = getenv("SLOW_FSYNC_US");
    return value ? (useconds_t)atoi(value) : 1000;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int result = real(fd);
    usleep(extra_us());
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int result = real(fd);
    usleep(extra_us());
    return result;
}
