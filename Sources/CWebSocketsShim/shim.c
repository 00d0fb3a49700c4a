#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "CWebSocketsShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <string.h>

int cws_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cws_epoll_add(int epfd, int fd, uint32_t interest, uint64_t data) {
    struct epoll_event ev;
    ev.events = EPOLLET;
    if (interest & CWS_EVENT_READABLE) ev.events |= EPOLLIN | EPOLLRDHUP;
    if (interest & CWS_EVENT_WRITABLE) ev.events |= EPOLLOUT;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int cws_epoll_del(int epfd, int fd) {
    struct epoll_event ev = {0}; // non-NULL for kernels before 2.6.9
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

int cws_epoll_wait(int epfd, cws_event *events, int maxevents, int timeout_ms) {
    struct epoll_event raw[256];
    if (maxevents > 256) maxevents = 256;
    int n = epoll_wait(epfd, raw, maxevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint32_t e = raw[i].events, out = 0;
        if (e & EPOLLIN) out |= CWS_EVENT_READABLE;
        if (e & EPOLLOUT) out |= CWS_EVENT_WRITABLE;
        if (e & EPOLLRDHUP) out |= CWS_EVENT_READ_CLOSED;
        if (e & (EPOLLERR | EPOLLHUP)) out |= CWS_EVENT_ERROR;
        events[i].data = raw[i].data.u64;
        events[i].events = out;
    }
    return n;
}

int cws_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int cws_eventfd_signal(int fd) {
    uint64_t one = 1;
    for (;;) {
        if (write(fd, &one, sizeof one) == (ssize_t)sizeof one) return 0;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return -1;
        uint64_t drained; // counter would overflow (after ~2^64 wakes): reset and retry
        if (read(fd, &drained, sizeof drained) < 0 && errno != EAGAIN) return -1;
    }
}

int cws_stream_socket(int domain) { return socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

int cws_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void cws_set_thread_name(const char *name) { (void)pthread_setname_np(pthread_self(), name); }

int cws_tcp_info(int fd, cws_tcp_figures *out) {
    struct tcp_info info;
    memset(&info, 0, sizeof info);
    memset(out, 0, sizeof *out);
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    out->rtt_us = info.tcpi_rtt;
    out->rttvar_us = info.tcpi_rttvar;
    out->min_rtt_us = info.tcpi_min_rtt;
    out->delivery_rate_app_limited = info.tcpi_delivery_rate_app_limited;
    out->delivery_rate = info.tcpi_delivery_rate;
    out->bytes_acked = info.tcpi_bytes_acked;
    out->bytes_received = info.tcpi_bytes_received;
    return 0;
}

#else // Not Linux: the event loop is epoll-only for now; these fail cleanly.

int cws_epoll_create(void) { errno = ENOSYS; return -1; }
int cws_epoll_add(int epfd, int fd, uint32_t interest, uint64_t data) {
    (void)epfd; (void)fd; (void)interest; (void)data; errno = ENOSYS; return -1;
}
int cws_epoll_del(int epfd, int fd) { (void)epfd; (void)fd; errno = ENOSYS; return -1; }
int cws_epoll_wait(int epfd, cws_event *events, int maxevents, int timeout_ms) {
    (void)epfd; (void)events; (void)maxevents; (void)timeout_ms; errno = ENOSYS; return -1;
}
int cws_eventfd(void) { errno = ENOSYS; return -1; }
int cws_eventfd_signal(int fd) { (void)fd; errno = ENOSYS; return -1; }

static int cws_set_flags(int fd) {
    if (fd < 0) return fd;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}
int cws_stream_socket(int domain) { return cws_set_flags(socket(domain, SOCK_STREAM, 0)); }
int cws_accept(int fd, struct sockaddr *addr, socklen_t *len) { return cws_set_flags(accept(fd, addr, len)); }
int cws_tcp_info(int fd, cws_tcp_figures *out) { (void)fd; (void)out; errno = ENOSYS; return -1; }

#if defined(__APPLE__)
void cws_set_thread_name(const char *name) { (void)pthread_setname_np(name); }
#else
void cws_set_thread_name(const char *name) { (void)name; }
#endif

#endif

#ifdef __linux__
int cws_random_bytes(void *buffer, size_t length) {
    size_t offset = 0;
    while (offset < length) {
        ssize_t count = getrandom((char *)buffer + offset, length - offset, 0);
        if (count < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        offset += (size_t)count;
    }
    return 0;
}
#else
#include <stdlib.h>
int cws_random_bytes(void *buffer, size_t length) { arc4random_buf(buffer, length); return 0; }
#endif
