/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command shell reached with `ssh USER@gw`: a line parser (parse.c, no
 * system shell is ever involved), a command table (cmd.c) with one file per
 * command (cmd-*.c), option parsing shared by commands, and an interactive
 * line editor (term.c) for pty sessions.
 *
 * Exit status of every command: 0 done, 1 refused or failed (one-line reason
 * on stderr), 2 usage.
 */
#ifndef DRAWBRIDGE_SHELL_H
#define DRAWBRIDGE_SHELL_H

#include <stddef.h>

#include "broker.h"
#include "policy.h"
#include "recording.h"

#define SHELL_LINE_MAX 8192
#define SHELL_ARGS_MAX 512 /* a free text of many words must fit */

enum shell_status { SHELL_OK = 0, SHELL_FAIL = 1, SHELL_USAGE = 2 };

/* ---- parse.c ---- */

struct shell_argv {
    int argc;
    char *argv[SHELL_ARGS_MAX + 1]; /* argv[argc] == NULL; each owned */
};

/*
 * Splits a command line into words.  Whitespace separates; '...' is literal;
 * "..." allows \" and \\; a backslash outside quotes escapes the next byte.
 * Refused (DB_ERR_INVALID, err gets why): NUL or other control bytes except
 * tab, unterminated quotes, more than SHELL_ARGS_MAX words, lines longer than
 * SHELL_LINE_MAX.  Nothing is expanded: $, `, *, ; and | are ordinary bytes.
 * An empty line gives argc 0.  Caller calls shell_argv_clear.
 */
int shell_parse(const char *line, size_t len, struct shell_argv *out, char *err, size_t errlen);
void shell_argv_clear(struct shell_argv *a);

/* ---- shell.c: the context a command runs in ---- */

struct shell_ctx;

/* Where commands write: is_err selects stderr (exec) or the same stream (pty). */
typedef int (*shell_write_fn)(void *io, int is_err, const char *buf, size_t len);

struct shell_ctx {
    const struct config *cfg;
    const struct policy *policy;
    const char *user;
    const char *const *groups;
    size_t ngroups;
    int interactive; /* pty: "\n" becomes "\r\n" */
    shell_write_fn write;
    void *io;
    int want_exit;         /* set by `exit` / `logout` */
    struct shell_job *job; /* set by a command that keeps running; see "jobs" below */
    /*
     * The just-in-time state (store + current policy + notifications).  NULL
     * when the shell runs without a store (unit tests of commands that do not
     * need one); commands that need it then fail with a one-line reason.
     * access->policy is the same policy as above.
     */
    const struct access *access;
    /* The clock, unix seconds; NULL means time(NULL).  Tests pass their own. */
    long long (*clock)(void *clock_ctx);
    void *clock_ctx;
    const char *peer; /* "addr:port" of the engineer, for the audit; may be NULL */
    /*
     * Set by `connect TARGET` once the user may reach TARGET now: the session
     * turns this pty channel into a relay to that target and login when the
     * command returns.  Empty otherwise.
     */
    char connect_target[72];
    char connect_login[72];
    /*
     * The DB_ERR_* behind the last refusal, when the command knows it (set
     * by shell_refuse and the reviewer helpers; 0 otherwise).  Nothing in
     * the shell reads it: the web console, which runs the same commands,
     * turns it into an HTTP status.
     */
    int refusal;
    /*
     * The second factor: 1 when this login gave a verification code (set by
     * the session, or the web console for its sessions).  Actions the
     * policy's mfa.actions lists need it.
     */
    int mfa_verified;
};

/* The shell's clock (c->clock or time(NULL)). */
long long shell_now(struct shell_ctx *c);

/* printf to stdout / stderr of the command. */
void shell_out(struct shell_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void shell_err(struct shell_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void shell_write(struct shell_ctx *c, int is_err, const char *buf, size_t len);

/* Parses and runs one line; returns the exit status (0/1/2). */
int shell_run_line(struct shell_ctx *c, const char *line, size_t len);
/*
 * Runs one command given as words (argv[0] its name); returns the exit
 * status (0/1/2).  Every front end runs commands through here (the line
 * above, the web console), so a check every command must pass before it
 * runs belongs here, once.
 */
int shell_run_argv(struct shell_ctx *c, int argc, char **argv);

/*
 * Helpers for commands (additions).  Every message a command prints for a
 * refusal is one line on stderr starting "drawbridge: ".
 */
/* Prints "drawbridge: <message>\n" on stderr; returns SHELL_FAIL. */
int shell_fail(struct shell_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Prints "drawbridge: <why>\n" (when why is not NULL or "") and "usage: <the
 * usage of command name>\n" on stderr; returns SHELL_USAGE.
 */
int shell_usage(struct shell_ctx *c, const char *name, const char *why);
/*
 * Copies in (inlen bytes) into out for display: printable ASCII is kept, and
 * when !ascii_only so is valid UTF-8 other than C1 controls; every other byte
 * (or UTF-8 character, when ascii_only) becomes '?'.  What does not fit in
 * outlen is cut (never inside a UTF-8 sequence) and ends with "...".  Always
 * NUL-terminated; returns out.
 */
char *shell_sanitize(char *out, size_t outlen, const char *in, size_t inlen, int ascii_only);

/*
 * JSON for `--json` output (jansson's json_t).  shell_json_string never fails
 * on bytes that are not UTF-8 (they become '?'); NULL only when out of
 * memory.  shell_out_json prints v compactly, keys in insertion order, and a
 * newline; it does not take the reference.  0 or DB_ERR_NOMEM.
 */
struct json_t;
struct json_t *shell_json_string(const char *s);
int shell_out_json(struct shell_ctx *c, struct json_t *v);

/*
 * Helpers for the access commands (shell.c, additions).  The commands talk
 * to the store only through access_* (broker.h) and to the policy only
 * through policy_* (policy.h).
 */
/* The policy in force: c->access->policy when there is a store, else c->policy. */
const struct policy *shell_policy(const struct shell_ctx *c);
/* The rule called name in p; NULL when absent (break-glass: "", or a rule since removed). */
const struct policy_rule *shell_rule_find(const struct policy *p, const char *name);
/* Who is asking, as the policy and access functions want it. */
struct policy_subject shell_subject(const struct shell_ctx *c);
/*
 * c->access, or NULL after printing "drawbridge: the store is unavailable"
 * (the command then returns SHELL_FAIL).
 */
const struct access *shell_access(struct shell_ctx *c);
/*
 * Prints "drawbridge: <msg>
" with msg passed through shell_sanitize, for
 * messages that may carry what a user typed (the access functions quote
 * targets and logins as given).  Always one line.  Returns SHELL_FAIL.
 */
int shell_fail_text(struct shell_ctx *c, const char *msg);
/* shell_fail_text, noting rc (a negative DB_ERR_*) in c->refusal.  Returns SHELL_FAIL. */
int shell_refuse(struct shell_ctx *c, int rc, const char *msg);
/*
 * A request/grant number N as typed: digits only, 1 to 18 of them, > 0.
 * 0, or SHELL_USAGE after printing why and the usage of command name.
 */
int shell_parse_id(struct shell_ctx *c, const char *name, const char *s, long long *out);
/* A DURATION (db_parse_duration): 0, or SHELL_USAGE after printing why and the usage. */
int shell_parse_duration(struct shell_ctx *c, const char *name, const char *s, long long *out);

#define SHELL_TIME_MAX 32
/* Unix seconds as "YYYY-MM-DD HH:MM UTC" (text output); returns buf. */
char *shell_time(long long t, char *buf, size_t len);
/* Unix seconds as ISO-8601 "YYYY-MM-DDTHH:MM:SSZ" (JSON output); returns buf. */
char *shell_time_iso(long long t, char *buf, size_t len);
/*
 * Sets key to t (unix seconds) and key + "_iso" to shell_time_iso(t) in the
 * JSON object o; both null when t is 0 ("not yet").  0 or DB_ERR_NOMEM.
 */
int shell_json_set_time(struct json_t *o, const char *key, long long t);
/* "group:sre-leads, user:carol" into buf (cut at len); "nobody" when n is 0.  Returns buf. */
char *shell_principals(const struct policy_principal *ps, size_t n, char *buf, size_t len);
/* A JSON array of "group:NAME" / "user:NAME" strings; NULL when out of memory. */
struct json_t *shell_principals_json(const struct policy_principal *ps, size_t n);

/*
 * Aligned text tables for the lists: a header row, then rows of ncols
 * cells, each passed through shell_sanitize and cut to SHELL_TABLE_CELL_MAX
 * bytes, columns two spaces apart, the last column not padded.
 * shell_table_add copies the cells.  Caller frees with shell_table_free.
 */
#define SHELL_TABLE_CELL_MAX 60
#define SHELL_TABLE_COLS_MAX 16 /* shell_table_new refuses more (NULL) */
struct shell_table;
struct shell_table *shell_table_new(size_t ncols, const char *const *headers);
int shell_table_add(struct shell_table *t, const char *const *cells);
void shell_table_print(struct shell_ctx *c, const struct shell_table *t);
void shell_table_free(struct shell_table *t);

/*
 * JSON views of store rows (cmd-show.c), shared by request, requests, show
 * and grants.  Every string a user or the store supplied goes through
 * shell_json_string; times through shell_json_set_time.  New references, or
 * NULL when out of memory.
 *
 *   request:  {"id", "status", "requester", "target", "login", "rule" (null
 *             for break-glass), "breakglass", "duration" (seconds), "reason",
 *             "ticket" (null when none), "approvals", "approvals_needed",
 *             "approvers" (the rule's, in the current policy), "created_at",
 *             "expires_at", "decided_at", "decided_by" (null while pending)}
 *   decision: {"approver", "decision" ("approve"/"deny"), "comment" (null when
 *             none), "at"}
 *   grant:    {"id", "status", "user", "target", "login", "rule",
 *             "breakglass", "starts_at", "ends_at", "revoked_at",
 *             "revoked_by", "revoke_reason", "review_required"}
 *
 * Each time key comes with its "_iso" twin.
 */
struct json_t *shell_request_json(const struct policy *p, const struct store_request *r);
struct json_t *shell_decision_json(const struct store_decision *d);
struct json_t *shell_grant_json(const struct store_grant *g);

/* connect and breakglass decide with access_connect_check (broker.h). */

/*
 * Helpers for the reviewer commands (shell.c, additions): sessions, replay,
 * watch, terminate, export, review, reviews, search, audit.  They are for
 * reviewers only (policy_is_reviewer under the current policy), and every
 * use -- allowed or refused -- leaves exactly one audit row, actor the user:
 *
 *   review.refused     someone who is not a reviewer tried; details {"command"}
 *   review.CMD         a reviewer used CMD; details {"command", "result" ("ok"
 *                      or the one-line refusal), and what the command adds}
 *   session.terminate  `terminate` took effect (in the same transaction as
 *                      the request); a refused terminate is review.terminate
 *
 * The object is "session ID" for commands that name a session (the ID in
 * printable form as typed when it is not a valid one), else the command's
 * name ("sessions", "reviews", "search", "audit").  A use is audited before
 * anything is shown: when the audit row cannot be written the command
 * refuses rather than act unaudited.  A usage error (exit status 2) is not
 * a use and leaves no row.
 */
struct shell_opts;
struct shell_review {
    const struct access *a;
    const char *name;                    /* the command */
    char id[STORE_SESSION_ID_LEN + 1];   /* the session, for commands that take one */
    char object[STORE_SESSION_ID_LEN + 48];
    char event[32];                      /* "review.CMD" unless the command changes it */
};
/*
 * The start of every reviewer command: the store, the role, then the
 * options (shell_cmd_opts with spec).  With takes_id, exactly one
 * positional word, a session id (STORE_SESSION_ID_LEN characters of
 * [a-z2-7]), is required and copied to rv->id.  0 to go on; SHELL_FAIL
 * (refused, reported and audited) or SHELL_USAGE (reported).
 */
int shell_review_begin(struct shell_ctx *c, const char *name, const char *const *spec,
                       int takes_id, int argc, char **argv, struct shell_opts *o,
                       struct shell_review *rv);
/*
 * Ends a use: audits it with details (taken; NULL counts as out of memory)
 * and "result": "ok" / the refusal.  shell_review_ok returns 0, or
 * SHELL_FAIL when the row could not be written (reported: the command must
 * not go on).  shell_review_refuse prints "drawbridge: <reason>" (sanitised)
 * and returns SHELL_FAIL.
 */
int shell_review_ok(struct shell_ctx *c, struct shell_review *rv, struct json_t *details);
int shell_review_refuse(struct shell_ctx *c, struct shell_review *rv, struct json_t *details,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The session rv->id (caller calls store_session_clear), or refused "no session ID". */
int shell_review_session(struct shell_ctx *c, struct shell_review *rv, struct store_session *out);
/*
 * Checks the recording of session s with rec_verify_file against the
 * sealed SHA-256 and HMAC of its row (none while it is live or when it never
 * closed).  The key is state_dir/keys/recording.hmac (c->cfg).  0 with
 * *verdict and why (one line) set, or a negative DB_ERR_* with why when the
 * check could not run (DB_ERR_NOTFOUND: the session has no recording).
 */
int shell_recording_check(struct shell_ctx *c, const struct store_session *s,
                          enum rec_verdict *verdict, char *why, size_t whylen);
/*
 * shell_recording_check, then the refusal (reported and audited) of a
 * recording that cannot be checked, is missing, or does not match its
 * `against` ("seal", "checkpoints"), ending with `refusing` ("not exporting
 * it").  0 with *verdict set (ok, truncated or live), or the exit status.
 */
int shell_recording_usable(struct shell_ctx *c, struct shell_review *rv,
                           const struct store_session *s, const char *against,
                           const char *refusing, enum rec_verdict *verdict);
/*
 * (cmd-replay.c) The recording of s read into memory and checked the way
 * `replay` does: read first, then the file checked against its seal, then
 * the bytes read against the sealed SHA-256, so that a file swapped after
 * the check never reaches a reviewer.  0 with *data (caller frees), *len
 * and *verdict (ok, truncated, or what a live one reads as; why says what
 * verify said); otherwise the
 * exit status after the refusal (reported and audited).
 */
int shell_replay_load(struct shell_ctx *c, struct shell_review *rv, const struct store_session *s,
                      char **data, size_t *len, enum rec_verdict *verdict, char *why,
                      size_t whylen);
/* A session as "user@target (login)", or "user (gateway shell)"; sanitised into buf. */
char *shell_session_label(const struct store_session *s, char *buf, size_t len);

/* A number for --limit: 1 to max.  0, or SHELL_USAGE (reported). */
int shell_parse_limit(struct shell_ctx *c, const char *name, const char *s, size_t max,
                      size_t *out);
/*
 * Session rows for `sessions` and `reviews` (cmd-sessions.c).  The review
 * state is "none" (not asked for), "pending" or "reviewed".  The JSON view:
 * {"id", "user", "target", "login", "kind", "command" (null for a shell),
 * "grant" (null for standing access), "started_at", "ended_at" (null while
 * live), "live", "duration" (seconds, null while live), "exit_status" (null
 * while live or unknown), "recorded", "sealed", "sha256", "review_required",
 * "review", "reviewed_by", "reviewed_at", "review_note"}, times with their
 * "_iso" twins.  A new reference, or NULL when out of memory.
 */
const char *shell_session_review_state(const struct store_session *s);
struct json_t *shell_session_json(const struct store_session *s);

/* Writes buf unchanged even on a pty (recorded terminal output, files). */
void shell_write_raw(struct shell_ctx *c, int is_err, const char *buf, size_t len);

/*
 * Bytes a job has produced and not yet written.  With crlf, each "\n" not
 * already after "\r" (across calls too) is stored as "\r\n".
 * shell_outq_flush writes at most max bytes of it, raw, and returns how many
 * are left.  0 or DB_ERR_NOMEM.
 */
struct shell_outq {
    char *buf;
    size_t off, len, cap;
    char last; /* the last byte added */
};
int shell_outq_add(struct shell_outq *q, const void *p, size_t n, int crlf);
size_t shell_outq_flush(struct shell_ctx *c, struct shell_outq *q, int is_err, size_t max);
void shell_outq_free(struct shell_outq *q);

/*
 * What replay and watch have in common (cmd-replay.c): turning recording
 * events into what the reviewer's terminal is given.  "o" events go through
 * the sanitiser (rec_sanitize); "bo" events become a note "[binary output:
 * N bytes]"; markers a note "[NOTE]"; input, resize and checkpoint events
 * show nothing.  Notes are one line of their own, dim on a terminal.  A
 * recording made without a pty has "\n" made "\r\n" when it is shown on
 * one; one made with a pty is shown as recorded.
 */
struct shell_player {
    struct rec_sanitizer *san;
    struct shell_outq q;
    char *tmp; /* the sanitiser's output */
    size_t tmplen, tmpcap;
    int crlf;   /* translate "\n" (a recording without a pty, shown on one) */
    int styled; /* a terminal: notes are dim, and the end resets the modes */
    int at_bol; /* what was shown last ends a line */
    int alt;    /* the recorded program switched to the alternate screen (best effort) */
    unsigned long long shown; /* output bytes shown */
};
int shell_player_init(struct shell_player *p, const struct shell_ctx *c,
                      const struct rec_header *h);
int shell_player_event(struct shell_player *p, const struct rec_event *ev);
/* A note of its own ("[text]"); text is sanitised. */
int shell_player_note(struct shell_player *p, const char *text);
/*
 * At the end: back to the start of a line, and on a terminal the modes a
 * recorded program may have left on (attributes, alternate screen, hidden
 * cursor) are reset, so the reviewer's prompt comes back usable.
 */
int shell_player_finish(struct shell_player *p);
void shell_player_clear(struct shell_player *p);
/* 1 when the user typed q, Q or ^C in buf. */
int shell_job_quit_key(const char *buf, size_t len);

/* ---- cmd.c: the command table ---- */

struct shell_cmd_entry {
    const char *name;
    const char *usage;   /* "request TARGET --for DURATION --reason TEXT [...]" */
    const char *summary; /* one line for help */
    int (*exec)(struct shell_ctx *c, int argc, char **argv);
    const char *example; /* "ssh gw CMD ..." for `help CMD`, or NULL */
};

const struct shell_cmd_entry *shell_cmd_find(const char *name); /* exact names only */
extern const struct shell_cmd_entry *const shell_cmd_table[];

/*
 * Conventions (additions): exec gets the words as typed, argv[0] being the
 * command's name, and returns a shell_status (a negative DB_ERR_* is mapped
 * to 1, DB_ERR_USAGE to 2).  shell_cmd_table ends with NULL.  An entry whose
 * summary is NULL is an alias: `help CMD` knows it but the list omits it.
 * Each command lives in cmd-NAME.c as `const struct shell_cmd_entry
 * shell_cmd_NAME_entry`, listed once in cmd.c.
 */

/* ---- opts.c: option parsing for commands ---- */

/*
 * Long options only ("--for 1h", "--json").  spec lists names with a trailing
 * '=' when they take a value: {"for=", "reason=", "json", NULL}.  Positional
 * words go to pos (at most npos_max).  Unknown options, missing values,
 * repeated options: DB_ERR_USAGE with a one-line reason in err.
 *
 * (argc, argv) are a command's own: argv[0] is the command name and is
 * skipped, as getopt does.  "--name=value" is accepted as well as "--name
 * value" (whose value may be any word, even one starting with "-"); "--"
 * ends options; a lone "-" is positional.  At most 16 names in spec and 16
 * positional words.  names[i] is spec[i] as given; values and positionals
 * point into argv or into o->text, so they live as long as argv AND o: a
 * helper that parses into a shell_opts of its own must not hand values
 * back to its caller (take the caller's shell_opts instead).
 *
 * Free text (DESIGN.md, "Free text in one-shot commands"): a value option
 * named reason, comment or note takes every word after it (and the part
 * after '=') up to the next word that is one of spec's options ("--for",
 * "--for=1h"), joined with single spaces; any other word is text, "--" and
 * unknown "--words" included.  No word at all is "option '--reason' needs a
 * value".  A spec holding "*" (not an option) takes every word that is not
 * one of its options, words starting with a dash included, as one text:
 * shell_opt(o, "*") (NULL when there was none); such a spec has no
 * free-text option and no positional words.
 */
struct shell_opts {
    const char *names[16];
    const char *values[16]; /* NULL when absent; "" for flags that are set */
    const char *pos[16];
    int npos;
    int rest;              /* index of "*" in names, or -1 */
    const char *free_name; /* the last free-text option given ("reason"), or NULL */
    size_t textused;       /* bytes of text in use */
    char text[SHELL_LINE_MAX + 1]; /* the joined texts, each ending with a NUL */
};
int shell_opts_parse(const char *const *spec, int argc, char **argv, struct shell_opts *o,
                     char *err, size_t errlen);
const char *shell_opt(const struct shell_opts *o, const char *name);
/*
 * (shell.c, addition) shell_opts_parse on a command's own (argc, argv),
 * printing the reason and the usage when it fails.  Returns 0 or SHELL_USAGE
 * (already reported).
 */
int shell_cmd_opts(struct shell_ctx *c, const char *const *spec, int argc, char **argv,
                   struct shell_opts *o);

/* ---- term.c: interactive line editing for pty sessions ---- */

struct shell_term;

/* Prints the banner and the first prompt.  Caller frees. */
struct shell_term *shell_term_new(struct shell_ctx *c);
void shell_term_free(struct shell_term *t);
/*
 * Feeds bytes the user typed.  Handles printable input with echo, backspace
 * (0x7f, ^H), ^U (kill line), ^C (discard line), ^D on an empty line (exit),
 * CR/LF (run the line), left/right arrows and history with up/down, and
 * ignores other escape sequences.  Returns 1 when the session should end.
 *
 * Details (additions): the banner names c->user; the prompt is
 * "USER@drawbridge> ".  CR, LF and CRLF each run the line once.  Home/End
 * (and ^A/^E), Delete, ^W (rub out a word) and ^L (redraw) work too; a tab
 * is taken as a space; other control bytes are ignored.  Lines stop growing
 * at SHELL_LINE_MAX bytes (BEL for each refused key).  UTF-8 is echoed as
 * typed and edited a code point at a time (one column each: wide characters
 * and lines wider than the terminal are not tracked); invalid UTF-8 and C1
 * controls are refused with a BEL.  The last 100 lines (blank lines and
 * immediate repeats left out) are kept for up/down.  Lines run through
 * shell_run_line, so c->interactive should be 1.
 */
int shell_term_input(struct shell_term *t, const char *buf, size_t len);
/*
 * After a line started a job or asked to connect, the editor stops reading
 * (the rest of that input is dropped) until shell_term_resume, which prints
 * the prompt again.
 */
void shell_term_resume(struct shell_term *t);

/*
 * The arguments of `deny N --reason TEXT` and `revoke N --reason TEXT`
 * (what: "request" or "grant"): the number and a checked reason, which
 * points into argv or into the caller's o (free text of several words).
 * SHELL_OK, or the exit status after saying why.
 */
int shell_id_reason(struct shell_ctx *c, int argc, char **argv, const char *what,
                    struct shell_opts *o, long long *id, const char **reason);

/* ---- cmd-mfa.c: the second factor in the shell ---- */

struct mfa_ctx;
/* The context broker/mfa/ works in for this shell (store, notifications, peer). */
void shell_mfa_ctx(const struct shell_ctx *c, struct mfa_ctx *m);
/*
 * Run by shell_run_line before every command: a user the policy requires to
 * enrol who has not may run only help, whoami, mfa (and exit); approve,
 * deny, revoke, breakglass and terminate need a login that gave a code when
 * mfa.actions lists them.  0 to go on, or SHELL_FAIL after the one-line
 * refusal (audited).
 */
int shell_mfa_gate(struct shell_ctx *c, const char *command);
/*
 * For connect and breakglass: a session to target t (protected, and
 * "protected" in mfa.actions) needs a login that gave a code.  0 or
 * SHELL_FAIL (refused, said and audited).
 */
int shell_mfa_target(struct shell_ctx *c, const struct policy_target *t);

/* ---- jobs: commands that keep running (replay, watch, export) ---- */

/*
 * A command that produces output over time sets ctx->job before returning
 * (ownership passes to the session).  The session then drives it: step()
 * when due, input() with what the user types, and free() at the end; the
 * command's exit status is what step() returns when it finishes.  While a
 * job runs the prompt does not come back.  step() writes through the
 * context (shell_write), at most SHELL_JOB_CHUNK bytes per call: the session
 * only calls it when the engineer has taken what was written before.
 */
#define SHELL_JOB_CHUNK (64 * 1024)

struct shell_job {
    /*
     * now_ms: a monotonic clock in milliseconds.  Returns 1 while running
     * (with *next_ms the monotonic time it wants the next call at; the
     * session may call earlier), or finished: 0 - exit status (0, -1, -2
     * for exit statuses 0, 1, 2).
     */
    int (*step)(struct shell_job *j, struct shell_ctx *c, long long now_ms, long long *next_ms);
    /* What the user typed while the job runs (q or ^C stops a replay); may be NULL. */
    void (*input)(struct shell_job *j, struct shell_ctx *c, const char *buf, size_t len);
    void (*free)(struct shell_job *j);
};

#endif
