/* my_edge: MySQL client usages that once fooled the agent, one mode each, so a test can assert
 * what was recorded. Usage: my_edge MODE SOCKET USER DB; prints "my_edge: ok" and exits 0, or
 * names the failed step and exits 1. Modes:
 *   minus1     statement lengths of (unsigned long)-1, "NUL-terminated" to libmariadb
 *   direct     mariadb_stmt_execute_direct on a fresh handle, then on a reused one
 *   reconnect  MYSQL_OPT_RECONNECT: the connection killed, the next query reconnects
 *   use        SQL USE moves the namespace, and mysql_change_user moves it back
 *   outofsync  mysql_next_result before the current result was read (error 2014, no harm)
 *   proc       a procedure with a BEGIN ... END body, called twice (two result sets each)
 *   udp        5000 UDP sockets connected before a query (the agent must not spend its
 *              string table on them)
 *   sigclose   a followed raw socket, and close() from a signal handler while the main
 *              thread closes too
 *   callunread a CALL whose final status is never read: closed; then one followed by a
 *              query refused with 2014 (commands out of sync)
 *   compound   procedures with CASE ... END CASE and FOR ... END FOR, a column named begin,
 *              XA BEGIN, each in a multi-statement string */
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int STDCALL mariadb_stmt_execute_direct(MYSQL_STMT *stmt, const char *q, size_t len);

static const char *sock, *user, *db;

static __attribute__((noreturn)) void fail(MYSQL *m, const char *what)
{
	fprintf(stderr, "my_edge: %s: %s\n", what, m ? mysql_error(m) : "failed");
	exit(1);
}

static MYSQL *connect_db(unsigned long flags)
{
	MYSQL *m = mysql_init(NULL);
	if (!m || !mysql_real_connect(m, NULL, user, NULL, db, 0, sock, flags))
		fail(m, "connect");
	return m;
}

/* Runs q and reads every result it gives. */
static void query(MYSQL *m, const char *q)
{
	if (mysql_query(m, q))
		fail(m, q);
	do {
		MYSQL_RES *r = mysql_store_result(m);
		if (!r && mysql_field_count(m))
			fail(m, q);
		mysql_free_result(r);
	} while (mysql_next_result(m) == 0);
}

static void minus1(void)
{
	MYSQL *m = connect_db(0);
	if (mysql_real_query(m, "SELECT 11 AS minus_one", (unsigned long)-1))
		fail(m, "real_query -1");
	mysql_free_result(mysql_store_result(m));
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (mysql_stmt_prepare(st, "SELECT 12 AS minus_one_prepared", (unsigned long)-1) ||
	    mysql_stmt_execute(st) || mysql_stmt_store_result(st))
		fail(m, "prepare -1");
	mysql_stmt_close(st);
	mysql_close(m);
}

static void direct(void)
{
	MYSQL *m = connect_db(0);
	MYSQL_STMT *st = mysql_stmt_init(m);
	const char *q = "SELECT seq FROM seq_1_to_3 WHERE seq > 0";
	if (mariadb_stmt_execute_direct(st, q, strlen(q)) || mysql_stmt_store_result(st))
		fail(m, "execute_direct");
	mysql_stmt_free_result(st);
	mysql_stmt_close(st);
	st = mysql_stmt_init(m);
	if (mysql_stmt_prepare(st, "SELECT 81 AS x_text", 19) || mysql_stmt_execute(st) ||
	    mysql_stmt_store_result(st))
		fail(m, "prepare");
	mysql_stmt_free_result(st);
	if (mariadb_stmt_execute_direct(st, q, (size_t)-1) || mysql_stmt_store_result(st))
		fail(m, "execute_direct reused");
	mysql_stmt_close(st);
	mysql_close(m);
}

static void reconnect(void)
{
	MYSQL *a = mysql_init(NULL);
	my_bool on = 1;
	mysql_options(a, MYSQL_OPT_RECONNECT, &on);
	if (!mysql_real_connect(a, NULL, user, NULL, db, 0, sock, 0))
		fail(a, "connect");
	MYSQL *b = connect_db(0);
	char kill[64];
	snprintf(kill, sizeof kill, "KILL %lu", mysql_thread_id(a));
	query(b, kill);
	usleep(100000);
	mysql_query(a, "SELECT 'lost'"); /* fails: the server closed it; reconnects next */
	mysql_free_result(mysql_store_result(a));
	query(a, "SELECT 'after reconnect' AS r");
	mysql_close(a);
	mysql_close(b);
}

static void use(void)
{
	MYSQL *m = connect_db(0);
	query(m, "CREATE DATABASE IF NOT EXISTS dbprobe_use");
	query(m, "USE dbprobe_use");
	query(m, "SELECT 13 AS after_use");
	/* mysql_change_user names the database the session continues in. */
	if (mysql_change_user(m, user, NULL, db))
		fail(m, "change_user");
	query(m, "SELECT 14 AS after_change_user");
	mysql_close(m);
}

static void outofsync(void)
{
	MYSQL *m = connect_db(CLIENT_MULTI_STATEMENTS);
	if (mysql_query(m, "SELECT 41 AS a; SELECT 42 AS b; SELECT 43 AS c"))
		fail(m, "multi");
	if (mysql_next_result(m) == 0) /* the first result is unread: 2014 */
		fail(m, "next_result should refuse");
	int n = 0;
	do {
		MYSQL_RES *r = mysql_store_result(m);
		if (!r)
			fail(m, "store");
		mysql_free_result(r);
		n++;
	} while (mysql_next_result(m) == 0);
	if (n != 3)
		fail(m, "three results");
	mysql_close(m);
}

static void proc(void)
{
	MYSQL *m = connect_db(CLIENT_MULTI_RESULTS);
	query(m, "DROP PROCEDURE IF EXISTS edge_p");
	query(m, "CREATE PROCEDURE edge_p() BEGIN SELECT 1 AS one; SELECT 2 AS two UNION SELECT 3; "
		 "END");
	query(m, "CALL edge_p()");
	query(m, "CALL edge_p()");
	mysql_close(m);
}

static void udp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	for (int i = 0; i < 5000; i++) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		sa.sin_port = htons((uint16_t)(20000 + i));
		connect(s, (struct sockaddr *)&sa, sizeof sa);
		close(s);
	}
	MYSQL *m = connect_db(0);
	if (!mysql_query(m, "SELECT * FROM edge_missing"))
		fail(m, "should fail");
	mysql_close(m);
}

static void on_alarm(int sig)
{
	(void)sig;
	close(dup(0));
}

static void sigclose(void)
{
	/* A raw connection the program opens itself: followed (the server greets first). */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof un.sun_path, "%s", sock);
	if (connect(s, (struct sockaddr *)&un, sizeof un) < 0)
		fail(NULL, "raw connect");
	char greeting[256];
	if (read(s, greeting, sizeof greeting) <= 0)
		fail(NULL, "greeting");
	signal(SIGALRM, on_alarm);
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 200000; i++)
		close(dup(0));
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	close(s);
}

/* Reads a CALL's first result set only. */
static void call_first(MYSQL *m)
{
	if (mysql_query(m, "CALL edge_p2()"))
		fail(m, "call");
	MYSQL_RES *r = mysql_store_result(m);
	if (!r)
		fail(m, "store");
	mysql_free_result(r);
}

static void callunread(void)
{
	MYSQL *m = connect_db(CLIENT_MULTI_RESULTS);
	query(m, "DROP PROCEDURE IF EXISTS edge_p2");
	query(m, "CREATE PROCEDURE edge_p2() SELECT 1 AS x UNION SELECT 2");
	call_first(m);
	mysql_close(m); /* the CALL's status result never read */
	m = connect_db(CLIENT_MULTI_RESULTS);
	call_first(m);
	if (!mysql_query(m, "SELECT 7 AS oos")) /* 2014: the CALL's status is pending */
		fail(m, "should be out of sync");
	while (mysql_next_result(m) == 0)
		mysql_free_result(mysql_store_result(m));
	query(m, "SELECT 42 AS afterwards");
	mysql_close(m);
}

static void compound(void)
{
	MYSQL *m = connect_db(CLIENT_MULTI_STATEMENTS);
	query(m, "DROP PROCEDURE IF EXISTS edge_c; DROP PROCEDURE IF EXISTS edge_f; "
		 "DROP TABLE IF EXISTS edge_b; CREATE TABLE edge_b (`begin` INT, `end` INT)");
	query(m, "CREATE PROCEDURE edge_c() BEGIN CASE 1 WHEN 1 THEN SELECT 1; END CASE; END; "
		 "SELECT 20 AS twenty; SELECT 21 AS twentyone");
	query(m, "CREATE PROCEDURE edge_f() BEGIN FOR i IN 1..2 DO SELECT i; END FOR; "
		 "SELECT 3 AS three; END; SELECT 30 AS thirty");
	query(m, "INSERT INTO edge_b VALUES (1, 2), (3, 4); SELECT `begin` FROM edge_b; "
		 "SELECT 5 AS five");
	mysql_close(m);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} modes[] = {
		{ "minus1", minus1 },     { "direct", direct },       { "reconnect", reconnect },
		{ "use", use },           { "outofsync", outofsync }, { "proc", proc },
		{ "udp", udp },           { "sigclose", sigclose },   { "callunread", callunread },
		{ "compound", compound },
	};
	if (argc == 5) {
		sock = argv[2];
		user = argv[3];
		db = argv[4];
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			if (!strcmp(argv[1], modes[i].name)) {
				modes[i].fn();
				printf("my_edge: ok\n");
				return 0;
			}
		}
	}
	fprintf(stderr, "usage: my_edge MODE SOCKET USER DB\n");
	return 2;
}
