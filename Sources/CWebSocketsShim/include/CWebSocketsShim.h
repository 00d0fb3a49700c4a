// The few system calls Swift's Glibc module does not import cleanly.
//
// `struct epoll_event` is `__attribute__((packed))` on x86_64, `eventfd`, `accept4` and
// `pthread_setname_np` are hidden behind _GNU_SOURCE, and epoll's flags import as an enum. These
// wrappers expose plain ints and an unpacked event struct instead. Everything compiles on any
// platform; off Linux the event-loop calls fail with ENOSYS.
#ifndef CWEBSOCKETSSHIM_H
#define CWEBSOCKETSSHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

// Readiness bits, as reported in `cws_event.events` and requested from `cws_epoll_add`.
#define CWS_EVENT_READABLE 0x1u     // EPOLLIN
#define CWS_EVENT_WRITABLE 0x2u     // EPOLLOUT
#define CWS_EVENT_READ_CLOSED 0x4u  // EPOLLRDHUP: the peer shut down its sending side
#define CWS_EVENT_ERROR 0x8u        // EPOLLERR or EPOLLHUP: wake every waiter

// One readiness report: `data` is the value given to `cws_epoll_add`. Not packed.
typedef struct cws_event {
    uint64_t data;
    uint32_t events;
} cws_event;

// epoll_create1(EPOLL_CLOEXEC).
int cws_epoll_create(void);
// Registers `fd` once, edge-triggered (EPOLLET), for the CWS_EVENT_* bits in `interest`
// (READABLE also asks for EPOLLRDHUP). Returns 0 or -1 with errno.
int cws_epoll_add(int epfd, int fd, uint32_t interest, uint64_t data);
// EPOLL_CTL_DEL. Returns 0 or -1 with errno.
int cws_epoll_del(int epfd, int fd);
// epoll_wait, translated into `events` (at most 256 per call). Returns the count or -1 with errno.
int cws_epoll_wait(int epfd, cws_event *events, int maxevents, int timeout_ms);

// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int cws_eventfd(void);
// Adds 1 to the eventfd counter (resetting it first in the practically impossible overflow case).
int cws_eventfd_signal(int fd);

// socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
int cws_stream_socket(int domain);
// accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC).
int cws_accept(int fd, struct sockaddr *addr, socklen_t *len);

// Names the calling thread (at most 15 bytes are kept on Linux).
void cws_set_thread_name(const char *name);

// Fills `buffer` with `length` bytes from the kernel's CSPRNG (getrandom(2) on Linux,
// arc4random_buf elsewhere). Returns 0 on success, -1 with errno set on failure.
int cws_random_bytes(void *buffer, size_t length);

// The figures of the kernel's `struct tcp_info` (TCP_INFO) that connection statistics use. Fields
// a kernel does not report read 0 (`struct tcp_info` grew over the years; unknown tails stay zero).
typedef struct cws_tcp_figures {
    uint32_t rtt_us;           // tcpi_rtt: the smoothed round-trip time (SRTT), microseconds
    uint32_t rttvar_us;        // tcpi_rttvar: its mean deviation (RTTVAR), microseconds
    uint32_t min_rtt_us;       // tcpi_min_rtt: the windowed minimum RTT, microseconds (Linux 4.6+)
    uint32_t delivery_rate_app_limited; // 1 when the last delivery-rate sample was limited by the sender
    uint64_t delivery_rate;    // tcpi_delivery_rate: bytes/s of the last delivery-rate sample (Linux 4.9+)
    uint64_t bytes_acked;      // tcpi_bytes_acked: bytes the peer acknowledged (Linux 4.1+)
    uint64_t bytes_received;   // tcpi_bytes_received: bytes received in order (Linux 4.1+)
} cws_tcp_figures;

// getsockopt(fd, IPPROTO_TCP, TCP_INFO) into `out` (zeroed first). Returns 0, or -1 with errno
// (ENOTSOCK, EOPNOTSUPP for a socket that is not TCP; ENOSYS off Linux).
int cws_tcp_info(int fd, cws_tcp_figures *out);

#endif
