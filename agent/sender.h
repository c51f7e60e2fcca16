/* sender: the background thread that ships records to the exporter, and the exit flush. */
#ifndef DBPROBE_SENDER_H
#define DBPROBE_SENDER_H

/* Starts the sender thread if it is not running yet (cheap when it is). */
void dbp_sender_ensure(void);
/* Whether anything was ever recorded (and so the thread started) in this process. */
int dbp_sender_started(void);
/* Drains every buffer to the exporter, waiting at most timeout_ms for it to take them. */
void dbp_sender_flush(int timeout_ms);

/* The exporter socket's descriptor number (-1 when none), for the descriptor hooks' fast
 * check. */
extern int dbp_sender_sock;
/* Before the program closes or replaces descriptors lo..hi: if our socket is among them, it
 * moves to a number above hi so the program's call does exactly what it asked. */
int dbp_sender_vacate(int lo, int hi);

void dbp_sender_lock(void);
void dbp_sender_unlock(void);
/* In a forked child: forget the parent's thread and connection (without shutting it down). */
void dbp_sender_reset_child(void);

#endif
