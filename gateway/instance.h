/* instance.h - one daemon per database (SPEC §7). A POSIX fcntl write lock
 * on a small lock file beside the database, "<storage.path>.lock", held
 * for the daemon's whole life; a second `firegw run` on the same database
 * finds the holder with F_GETLK and refuses at once. Never a lock on the
 * SQLite file itself: SQLite uses fcntl locks on it, and POSIX drops every
 * lock a process holds on a file when any of its descriptors of that file
 * is closed, which would silently break SQLite's own locking.
 *
 * The lock belongs to the process: it survives the daemon's re-exec on
 * SIGHUP (main.c) when instance_keep_on_exec() was called just before
 * execv(); the new image adopts the inherited descriptor in
 * instance_lock(), so there is no moment at which the lock is free.
 * Called by the main thread only. */
#pragma once
#include <sys/types.h>

/* The environment variable that hands the lock's descriptor to the
 * re-executed image. */
#define INSTANCE_FD_ENV "FIREGW_INSTANCE_FD"
#define INSTANCE_LOCK_SUFFIX ".lock"

/* Takes the instance lock of the database db_path: opens (creating it and
 * its directories if needed) db_path.lock, write-locks it without waiting
 * and writes our pid into it (for people; F_GETLK is what counts).
 * Returns 0 when this process holds it now (also when it already did, or
 * inherited it across a re-exec); -EBUSY when another process holds it,
 * with *ret_holder set to that process's pid (0 if it could not be
 * learnt); -ENAMETOOLONG, or -errno when the file cannot be opened. On
 * success *ret_holder is our own pid. ret_holder may be NULL. */
int instance_lock(const char *db_path, pid_t *ret_holder);

/* Releases the lock (closes the file; the file stays). Accepts being
 * called without a lock held. */
void instance_unlock(void);

/* Just before execv() of the same daemon: the lock's descriptor stays
 * open across the exec and its number is put in INSTANCE_FD_ENV, for
 * instance_lock() of the new image. 0, -ENOENT (no lock held), -errno. */
int instance_keep_on_exec(void);
