/*
 * report.c -- where the reports go and when: the exit report, the dump on
 * a signal (dump_signal), the periodic export (stats_interval_ms), and the
 * file names they use (%p, %e in stats_file and prof_prefix).
 *
 * Owns: the private duplicate of stderr, the pid/program-name header data,
 * file-name expansion, the signal handler and the pending flag, the
 * periodic schedule.  The formatting is stats_print.c's; the snapshot is
 * taken by xalloc_stats_print (stats.c), which holds no allocator lock
 * while output is written.
 *
 * Reports that arrive: programs such as coreutils close fd 2 in their exit
 * handler, before the library's destructor prints.  When a report may go
 * to stderr, initialisation keeps a close-on-exec duplicate of fd 2 at a
 * high descriptor number, with the device and inode it referred to; a
 * report writes there as long as that descriptor still refers to the same
 * file (a program that closes every descriptor, or dup2s over it, makes the
 * check fail, and the report falls back to fd 2).
 *
 * Signals: the handler only sets xa_report_pending (async-signal-safe).
 * The background thread does the work: the next allocator slow path wakes
 * it, and while dump_signal is set it also looks at the flag every
 * REPORT_POLL_NS, for processes that stopped allocating.  Without a
 * background thread (background_thread:false, or it could not start) the
 * next allocation event (every 64 KiB allocated by a thread, up to 1 MiB
 * for a churn of large blocks: alloc.c, alloc_event) does it.  The
 * handler is installed from the library constructor only if the signal's
 * disposition is still the default; a handler the program installs later
 * replaces it (the program's wins).
 *
 * Files: stats_file is created O_EXCL|O_NOFOLLOW, mode 0600.  The exit
 * report alone: the first process takes the name; when it exists and the
 * name has no %p, the report goes to <name>.<pid> instead (a wrapper
 * running many programs gets one file each); if that fails too, to stderr
 * with one line saying why.  With stats_interval_ms or dump_signal the file
 * holds the latest report and is replaced atomically: written to a
 * temporary file in the same directory (".<name>.tmp.<tid>", which
 * node_exporter's *.prom glob does not match), then renamed over it.
 *
 * Nothing here allocates; nothing here holds an allocator lock.
 */
#include "internal.h"

#include "stats.h"

#include <fcntl.h>
#include <stdio.h> /* rename */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char *program_invocation_short_name;
/* stats.c (the public entry point) */
void xalloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts);

#define REPORT_POLL_NS ((uint64_t)1000 * 1000000u)

_Atomic bool xa_report_pending;
static int report_fd = -1;
static dev_t report_dev;
static ino_t report_ino;
static int report_sig;                 /* 0: dump_signal off */
static _Atomic uint64_t report_next_ns; /* next periodic export; 0: off */
static _Atomic bool report_busy;        /* one writer of stats_file at a time */
static _Atomic bool report_exiting;     /* the final report is being written */

/* ---- whose report ------------------------------------------------------- */

void xa_report_whoami(int *pid, char *prog, size_t n) {
	/* The kernel's name (as ps and core_pattern's %e show it: a script's
	 * own name rather than its interpreter's), else argv[0]'s. */
	*pid = (int)getpid();
	char comm[32];
	const char *name = comm;
	if (xa_os_comm(comm, sizeof(comm)) < 0)
		name = program_invocation_short_name && program_invocation_short_name[0] ? program_invocation_short_name
		                                                                          : "?";
	xa_snprintf(prog, n, "%s", name);
	for (char *p = prog; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
}

/* Expand %p (pid), %e (program name) and %% in tmpl; other sequences are
 * kept as they are.  Returns true if %p was present. */
static bool expand(const char *tmpl, char *out, size_t n) {
	size_t l = 0;
	bool has_pid = false;
	int pid;
	char prog[32];
	xa_report_whoami(&pid, prog, sizeof(prog));
	for (const char *p = tmpl; *p && l + 1 < n; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			l += (size_t)xa_snprintf(out + l, n - l, "%d", pid);
			has_pid = true;
			p++;
		} else if (p[0] == '%' && p[1] == 'e') {
			l += (size_t)xa_snprintf(out + l, n - l, "%s", prog);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			out[l++] = '%';
			p++;
		} else {
			out[l++] = *p;
		}
	}
	out[XA_MIN(l, n - 1)] = '\0';
	return has_pid;
}

void xa_report_expand_prefix(char *out, size_t n) {
	expand(xa_opt.prof_prefix[0] ? xa_opt.prof_prefix : "xalloc", out, n);
}

/* ---- the private stderr --------------------------------------------------- */

int xa_report_fd(void) {
	struct stat st;
	if (report_fd >= 0 && fstat(report_fd, &st) == 0 && st.st_dev == report_dev && st.st_ino == report_ino)
		return report_fd;
	return 2;
}

static void dup_stderr(void) {
	struct stat st;
	struct rlimit rl;
	if (fstat(2, &st) != 0)
		return;
	/* High, so that programs that expect small numbers to be free (or
	 * dup2 onto 3..9) are not disturbed; below the soft limit. */
	long base = 768;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur <= 1024)
		base = (long)rl.rlim_cur * 3 / 4;
	int fd = fcntl(2, F_DUPFD_CLOEXEC, base);
	if (fd < 0)
		return;
	report_fd = fd;
	report_dev = st.st_dev;
	report_ino = st.st_ino;
}

/* ---- dump_signal ---------------------------------------------------------- */

static const struct {
	const char *name;
	int sig;
} sig_names[] = {
	{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP},
	{"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"PWR", SIGPWR},
};

/* A signal a handler may take: not one that stops or kills regardless,
 * not a fault the program must see, not glibc's internal ones. */
static bool sig_usable(int s) {
	switch (s) {
	case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGABRT:
	case SIGTRAP: case SIGSYS: case SIGCHLD:
		return false;
	}
	return s >= 1 && s < NSIG && (s < 32 || s >= SIGRTMIN);
}

/* "USR2", "SIGUSR2", "usr2", "12", "RTMIN+3"; 0 if invalid. */
int xa_report_parse_signal(const char *v) {
	char up[16];
	size_t l = strlen(v);
	if (l == 0 || l >= sizeof(up))
		return 0;
	for (size_t i = 0; i <= l; i++)
		up[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
	const char *s = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
	int64_t num;
	int sig = 0;
	if (!xa_parse_int(s, strlen(s), &num)) {
		sig = num > 0 && num < NSIG ? (int)num : 0;
	} else if (strncmp(s, "RTMIN+", 6) == 0 && !xa_parse_int(s + 6, strlen(s + 6), &num)) {
		sig = num >= 0 && SIGRTMIN + num <= SIGRTMAX ? SIGRTMIN + (int)num : 0;
	} else {
		for (size_t i = 0; i < XA_ARRAY_LEN(sig_names); i++)
			if (strcmp(s, sig_names[i].name) == 0)
				sig = sig_names[i].sig;
	}
	return sig_usable(sig) ? sig : 0;
}

static void report_handler(int sig) {
	(void)sig;
	atomic_store_explicit(&xa_report_pending, true, memory_order_relaxed);
}

/* ---- boot ------------------------------------------------------------------- */

void xa_report_boot(void) {
	if (xa_opt.dump_signal[0] != '\0') {
		report_sig = xa_report_parse_signal(xa_opt.dump_signal);
		if (report_sig == 0)
			xa_message("XALLOC_CONF: dump_signal: invalid value '%s' (a signal name such as USR2, or a "
			           "number); no dump on a signal",
			    xa_opt.dump_signal);
	}
	if (xa_opt.stats_interval_ms && xa_opt.stats_file[0] == '\0')
		xa_message("XALLOC_CONF: stats_interval_ms needs stats_file (the file to rewrite); no periodic export");
	else if (xa_opt.stats_interval_ms)
		atomic_store(&report_next_ns, xa_now_ns() + xa_opt.stats_interval_ms * 1000000u);
	/* Only when a report may go to stderr: the duplicate keeps a pipe on
	 * stderr open until exit (see xalloc(3)). */
	if (xa_opt.stats_file[0] == '\0' && (xa_opt.stats_print || report_sig))
		dup_stderr();
}

void xa_report_start(void) {
	if (report_sig) {
		struct sigaction old, sa;
		memset(&sa, 0, sizeof(sa));
		if (sigaction(report_sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL) {
			sa.sa_handler = report_handler;
			sa.sa_flags = SA_RESTART;
			sigemptyset(&sa.sa_mask);
			sigaction(report_sig, &sa, NULL);
		} else {
			xa_message("dump_signal: signal %d already has a handler or is ignored; not installed",
			    report_sig);
			report_sig = 0;
		}
	}
	if (report_sig || atomic_load(&report_next_ns))
		xa_background_wake();
}

/* ---- writing -------------------------------------------------------------- */

static const char *report_opts(void) { return xa_opt.stats_print_opts; }

/* Write the report to path through a temporary file and rename(2).
 * Returns 0 or an errno value. */
static int write_replace(const char *path) {
	char tmp[XA_OPT_STRLEN + 64];
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	if ((size_t)xa_snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%d", (int)dirlen, path, path + dirlen,
	        (int)xa_os_gettid()) >= sizeof(tmp))
		return ENAMETOOLONG;
	int fd = xa_os_create_file(tmp);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = xa_os_create_file(tmp); /* a leftover of a killed process */
	if (fd < 0)
		return errno ? errno : EIO;
	xa_fd_sink_t out = {.fd = fd};
	xalloc_stats_print(xa_fd_sink, &out, report_opts());
	int err = out.err ? EIO : 0; /* a short report never replaces the last one */
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

static void report_stderr(void) {
	xa_fd_sink_t out = {.fd = xa_report_fd()};
	xalloc_stats_print(xa_fd_sink, &out, report_opts());
}

static _Atomic bool replace_error_reported;

/* The report of a signal, a period, or the exit in the modes where the
 * file holds the latest report. */
static void report_replace(bool final) {
	char path[XA_OPT_STRLEN + 32];
	expand(xa_opt.stats_file, path, sizeof(path));
	bool expect = false;
	/* Another thread writing it now: skip (a period or a signal), or wait
	 * for it (the final state at exit, at most about 2 s). */
	for (unsigned i = 0; !atomic_compare_exchange_strong(&report_busy, &expect, true); i++) {
		if (!final || i == 2000)
			return;
		expect = false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (!final && atomic_load(&report_exiting)) {
		/* too late: the final state is (being) written */
		atomic_store(&report_busy, false);
		return;
	}
	int err = write_replace(path);
	atomic_store(&report_busy, false);
	if (err && !atomic_exchange(&replace_error_reported, true)) {
		char eb[24];
		xa_message("stats_file: cannot write %s: %s", path, xa_strerror(err, eb, sizeof(eb)));
	}
}

static void signal_dump(void) {
	if (xa_opt.stats_file[0])
		report_replace(false);
	else
		report_stderr();
	if (config_prof && xa_prof_active_get())
		xa_prof_dump(NULL);
}

uint64_t xa_report_poll(bool bg) {
	if (!bg && xa_background_running()) {
		/* The background thread does it; wake it now. */
		if (atomic_load_explicit(&xa_report_pending, memory_order_relaxed))
			xa_background_wake();
		return UINT64_MAX;
	}
	if (atomic_exchange(&xa_report_pending, false) && report_sig)
		signal_dump();
	uint64_t wait = bg && report_sig ? REPORT_POLL_NS : UINT64_MAX;
	uint64_t next = atomic_load(&report_next_ns);
	if (next) {
		uint64_t now = xa_now_ns();
		if (now >= next) {
			uint64_t nn = now + xa_opt.stats_interval_ms * 1000000u;
			if (atomic_compare_exchange_strong(&report_next_ns, &next, nn)) {
				xa_peak_sample_resident(now);
				report_replace(false);
			}
			next = nn;
			now = xa_now_ns();
		}
		wait = XA_MIN(wait, next > now ? next - now : 0);
	}
	if (!bg && (report_sig || next))
		xa_background_wake(); /* start it if it is not there (fork child) */
	return wait;
}

/* The clock is read only when a periodic report is scheduled: the
 * allocation events that ask run every 64 KiB of allocation, and the read
 * was 1% of b_threads' time (perf: __vdso_clock_gettime). */
bool xa_report_due(void) {
	uint64_t next = atomic_load_explicit(&report_next_ns, memory_order_relaxed);
	return next != 0 && xa_now_ns() >= next;
}

void xa_report_atexit(void) {
	bool replace = xa_opt.stats_interval_ms || report_sig;
	atomic_store(&report_exiting, true);
	if (xa_opt.stats_file[0] && replace && (xa_opt.stats_print || xa_opt.stats_interval_ms)) {
		report_replace(true); /* the final state */
		return;
	}
	if (!xa_opt.stats_print)
		return;
	if (xa_opt.stats_file[0] == '\0') {
		report_stderr();
		return;
	}
	char path[XA_OPT_STRLEN + 32];
	bool has_pid = expand(xa_opt.stats_file, path, sizeof(path));
	int fd = xa_os_create_file(path);
	if (fd < 0 && errno == EEXIST && !has_pid) {
		/* Several processes (a wrapper and its children): one file each. */
		struct stat st;
		bool odd = lstat(path, &st) != 0 || !S_ISREG(st.st_mode);
		size_t l = strlen(path);
		xa_snprintf(path + l, sizeof(path) - l, ".%d", (int)getpid());
		fd = xa_os_create_file(path);
		if (odd && fd >= 0) /* a symlink or device planted there: say so */
			xa_message("stats_file: %.*s exists and is not a regular file (not followed); writing %s",
			    (int)l, path, path);
	}
	if (fd < 0) {
		char eb[24];
		xa_message("stats_file: cannot create %s: %s; printing to stderr", path, xa_strerror(errno, eb, sizeof(eb)));
		report_stderr();
		return;
	}
	xa_fd_sink_t out = {.fd = fd};
	xalloc_stats_print(xa_fd_sink, &out, report_opts());
	close(fd);
}
