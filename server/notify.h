/* server/notify.h: systemd's service notification protocol (sd_notify), by hand.
 *
 * Under a unit with Type=notify, systemd passes the path of a datagram socket in
 * $NOTIFY_SOCKET and waits for a "READY=1" datagram before it counts the service as
 * started; "STATUS=..." sets the line `systemctl status` shows, "STOPPING=1" announces a
 * drain, "WATCHDOG=1" is the heartbeat a unit with WatchdogSec= expects.  The protocol
 * is one AF_UNIX datagram of newline-separated VAR=value assignments per call, which is
 * all this module does: no libsystemd, no file descriptor passing, no credentials.
 *
 * Both functions read the environment with getenv: call them only while no thread
 * changes it (wakeful-server never does). */
#ifndef WAKEFUL_SERVER_NOTIFY_H
#define WAKEFUL_SERVER_NOTIFY_H

#include <stdint.h>

/* Sends state (e.g. "READY=1\nSTATUS=listening on 127.0.0.1:7878", not copied, not
 * kept) as one datagram to $NOTIFY_SOCKET: an absolute path, or "@name" for the Linux
 * abstract socket "\0name".  Never blocks: when the receiver's queue is full the
 * datagram is dropped with -EAGAIN (systemd reads its queue promptly; a caller that
 * must not lose READY=1 may retry).
 *
 * Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset or empty (not under systemd:
 * nothing to do), or a negative errno value: -EINVAL (state NULL), -EAFNOSUPPORT (a
 * value that is neither "/..." nor "@...", e.g. systemd's "vsock:" form, not supported),
 * -ENAMETOOLONG (does not fit sockaddr_un), or what socket(2)/sendto(2) said
 * (-ENOENT, -ECONNREFUSED, -EAGAIN, ...).  Thread-safe; opens and closes its own
 * socket each call (a handful of calls per run). */
int notify_send(const char *state);

/* The watchdog interval systemd asks for, in microseconds: $WATCHDOG_USEC when it is a
 * positive decimal number and, if $WATCHDOG_PID is set, that is this process's PID
 * (otherwise the request is for another process, e.g. a parent shell).  0 when there is
 * no watchdog or either variable is malformed.  A service should send "WATCHDOG=1" at
 * least every half of it. */
uint64_t notify_watchdog_usec(void);

#endif
