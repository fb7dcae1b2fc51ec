/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The relay's recording hook: one asciicast file per session channel under
 * state_dir/recordings/YYYY/MM/DD/SESSION.cast (recordings/FORMAT.md), the
 * lines of text fed to the search index, sftp file operations turned into
 * markers and audit rows, and on close the file's SHA-256 and HMAC handed
 * back for the session row.
 *
 * The file is created and its header written here, on the relay's thread;
 * from then on the writer runs on the connection's recording thread
 * (recordings/async.c): each chunk the relay reads is copied into a bounded
 * queue and hashed, encoded and written beside the relay.  When the queue is
 * full the relay waits, so a slow disk slows the session and memory stays
 * bounded.  The search index, the byte counts and sftp's audit rows stay on
 * the relay's thread, the only one that touches the store.
 *
 * Recording is fail-closed: when the file cannot be created or written the
 * hook says so and the channel is refused or ended (a write error on the
 * thread reaches the relay through an eventfd at once, and through the next
 * chunk handed over).  There is no switch that turns it off.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conn.h"
#include "recording.h"

#define RECORDER_TEXT_MAX (4u * 1024 * 1024) /* bytes read for the index, per stream and session */
#define RECORDER_LINES_MAX 1024               /* lines held before a forced index write */
/*
 * What the relay may be ahead of the recording thread.  Also what a session
 * may show the engineer beyond what reached the disk when the disk fails
 * (with the writer's own buffer): the thread needs room to work beside the
 * relay, not more.
 */
#define RECORDER_QUEUE (1u << 20)
/* A few keystrokes wake the recording thread this much later (a stream wakes it by volume). */
#define RECORDER_KICK_MS 5
/* The store's byte counts and index: in a pause this long, or after this long at the latest. */
#define RECORDER_QUIET_MS 100
#define RECORDER_STORE_MAX_MS 5000

struct rec_slot {
    unsigned id; /* 0: free */
    struct recorder *r;
    int h;       /* the writer's handle on the recording thread; -1: none */
    char session[STORE_SESSION_ID_LEN + 1];
    char path[4096];
    struct sftp_watch *sftp;
    struct store_text *lines; /* grown as text comes (most sessions have little or none) */
    size_t nlines, caplines;
    unsigned long long in, out;
    struct timespec now; /* of the event being recorded (for sftp markers) */
    long long store_ms;  /* monotonic ms of the last index and byte-count update */
    int store_dirty;     /* bytes or lines since then */
    long long data_ms;   /* monotonic ms of the last bytes */
    int failed;          /* the recording failed (said and audited once): no more ticks */
};

struct recorder {
    struct conn *c;
    unsigned char key[REC_KEY_LEN];
    struct rec_async *async; /* the recording thread, while a channel is recorded */
    int efd;                 /* it says "look" here: a failure, text to take */
    long long kick_ms;       /* when to wake it for what little was handed over; 0: no need */
    /* allocated while a channel is recorded: most connections have one, many have none */
    struct rec_slot *slots[CONN_CHANNELS_MAX];
};

static struct recorder recorder_state;

static long long recorder_ms(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static struct rec_slot *recorder_slot(struct recorder *r, unsigned id)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (r->slots[i] != NULL && r->slots[i]->id == id) {
            return r->slots[i];
        }
    }
    return NULL;
}

/* A fresh, zeroed slot, or NULL when every channel is already recorded or memory is short. */
static struct rec_slot *recorder_slot_new(struct recorder *r)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (r->slots[i] == NULL) {
            r->slots[i] = calloc(1, sizeof(*r->slots[i]));
            if (r->slots[i] != NULL) {
                r->slots[i]->h = -1;
            }
            return r->slots[i];
        }
    }
    return NULL;
}

static void recorder_slot_free(struct recorder *r, struct rec_slot *sl)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (r->slots[i] == sl) {
            r->slots[i] = NULL;
        }
    }
    for (size_t i = 0; i < sl->nlines; i++) {
        free((char *)sl->lines[i].line);
    }
    free(sl->lines);
    free(sl);
}

static void recorder_flush_text(struct rec_slot *sl)
{
    struct store *st = sl->r->c->store;

    if (sl->nlines > 0 && st != NULL && store_text_insert(st, sl->lines, sl->nlines) != 0) {
        log_msg(LOG_LVL_WARN, "search.index_failed", "session=%s %zu line(s) not indexed",
                sl->session, sl->nlines);
    }
    for (size_t i = 0; i < sl->nlines; i++) {
        free((char *)sl->lines[i].line);
    }
    sl->nlines = 0;
}

static void recorder_text(void *ctx, enum rec_stream s, double ts, const char *line, size_t len)
{
    struct rec_slot *sl = ctx;
    struct store_text *t;
    char *copy;

    if (len == 0) {
        return;
    }
    if (sl->nlines == RECORDER_LINES_MAX) {
        recorder_flush_text(sl);
    }
    if (sl->nlines == sl->caplines) {
        size_t cap = sl->caplines ? sl->caplines * 2 : 16;
        struct store_text *v = realloc(sl->lines, cap * sizeof(*v));

        if (v == NULL) {
            return; /* the index is not the record: the line goes unindexed */
        }
        sl->lines = v;
        sl->caplines = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, line, len);
    copy[len] = '\0';
    t = &sl->lines[sl->nlines++];
    memset(t, 0, sizeof(*t));
    t->session = sl->session;
    t->stream = s == REC_STREAM_IN;
    t->ts = ts;
    t->line = copy;
    t->len = len;
}

/* Text made on the recording thread, handed over on the relay's. */
static void recorder_text_async(void *ctx, int h, enum rec_stream s, double ts, const char *line,
                                size_t len)
{
    struct recorder *r = ctx;

    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (r->slots[i] != NULL && r->slots[i]->h == h) {
            recorder_text(r->slots[i], s, ts, line, len);
            return;
        }
    }
}

static int recorder_on_efd(socket_t fd, int revents, void *userdata)
{
    struct recorder *r = userdata;
    uint64_t n;

    (void)revents;
    if (read(fd, &n, sizeof(n)) < 0) {
        n = 0;
    }
    rec_async_text(r->async);
    /* a failure is said by the ticks (chan_tick_recordings): now */
    r->c->next_tick_ms = 0;
    return 0;
}

/* The recording thread, started with the first recorded channel. */
static int recorder_start(struct recorder *r)
{
    if (r->async != NULL) {
        return 0;
    }
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        return DB_ERR_IO;
    }
    if (rec_async_new(RECORDER_QUEUE, r->efd, recorder_text_async, r, &r->async) != 0) {
        close(r->efd);
        r->efd = -1;
        return DB_ERR_NOMEM;
    }
    if (r->c->ev != NULL) {
        ssh_event_add_fd(r->c->ev, r->efd, POLLIN, recorder_on_efd, r);
    }
    return 0;
}

/* ... and stopped with the last. */
static void recorder_stop(struct recorder *r)
{
    if (r->async == NULL) {
        return;
    }
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (r->slots[i] != NULL && r->slots[i]->h >= 0) {
            return;
        }
    }
    rec_async_free(r->async);
    r->async = NULL;
    if (r->c->ev != NULL) {
        ssh_event_remove_fd(r->c->ev, r->efd);
    }
    close(r->efd);
    r->efd = -1;
}

/* A copy safe for JSON and logs: controls become '?', and so do all bytes >= 0x80 unless UTF-8. */
static char *recorder_printable(const char *s)
{
    size_t n = strlen(s);
    int utf8 = db_utf8_valid(s, n);
    char *d = strdup(s);

    if (d == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];

        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            d[i] = '?';
        }
    }
    return d;
}

static void recorder_sftp(void *ctx, const char *op, const char *path, const char *path2,
                          unsigned long long bytes)
{
    struct rec_slot *sl = ctx;
    struct conn *c = sl->r->c;
    char label[1200], object[64];
    char *p1 = recorder_printable(path), *p2 = path2 ? recorder_printable(path2) : NULL;
    json_t *d = NULL;

    if (p1 == NULL) {
        goto out;
    }
    if (p2 != NULL) {
        snprintf(label, sizeof(label), "sftp %s %.500s -> %.500s", op, p1, p2);
    } else if (strcmp(op, "read") == 0 || strcmp(op, "write") == 0) {
        snprintf(label, sizeof(label), "sftp %s %.500s (%llu bytes)", op, p1, bytes);
    } else {
        snprintf(label, sizeof(label), "sftp %s %.500s", op, p1);
    }
    if (sl->h >= 0) {
        rec_async_marker(sl->r->async, sl->h, &sl->now, label);
    }
    d = json_pack("{ss ss}", "op", op, "path", p1);
    if (d != NULL && p2 != NULL) {
        json_object_set_new(d, "to", json_string(p2));
    }
    if (d != NULL && (strcmp(op, "read") == 0 || strcmp(op, "write") == 0)) {
        json_object_set_new(d, "bytes", json_integer((json_int_t)bytes));
    }
    snprintf(object, sizeof(object), "session %s", sl->session);
    if (c->store != NULL) {
        access_audit_event(c->store, (long long)time(NULL), c->user, "sftp.file", object, d);
    }
out:
    json_decref(d);
    free(p1);
    free(p2);
}

/* recordings_dir/YYYY/MM/DD, created 0700 as needed. */
static int recorder_dir(const struct config *cfg, char *buf, size_t buflen)
{
    time_t now = time(NULL);
    struct tm tm;
    int n[3], len;

    gmtime_r(&now, &tm);
    n[0] = tm.tm_year + 1900;
    n[1] = tm.tm_mon + 1;
    n[2] = tm.tm_mday;
    config_recordings_dir(cfg, buf, buflen);
    len = (int)strlen(buf);
    for (int i = 0; i < 3; i++) {
        if (len < 0 || (size_t)len >= buflen - 8) {
            return DB_ERR_INVALID;
        }
        len += snprintf(buf + len, buflen - (size_t)len, i == 0 ? "/%04d" : "/%02d", n[i]);
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            return DB_ERR_IO;
        }
    }
    return 0;
}

static int recorder_open(void *ctx, const struct relay_chan_info *ci, const struct timespec *ts)
{
    struct recorder *r = ctx;
    struct rec_slot *sl = NULL;
    struct rec_sink sink;
    struct rec_meta m;
    struct rec_writer *w = NULL;
    char dir[4000], err[300] = "", title[256];
    int rc = DB_ERR_IO;

    if (ci->session == NULL) {
        return 0; /* the gateway's own shell: its commands are in the audit */
    }
    sl = recorder_slot_new(r);
    if (sl == NULL || recorder_dir(r->c->cfg, dir, sizeof(dir)) != 0) {
        db_errf(err, sizeof(err), "cannot create the recordings directory under %s",
                r->c->cfg->state_dir);
        goto out;
    }
    sl->r = r;
    snprintf(sl->session, sizeof(sl->session), "%s", ci->session);
    snprintf(sl->path, sizeof(sl->path), "%s/%s.cast", dir, ci->session);
    if ((rc = rec_sink_file_create(sl->path, &sink, err, sizeof(err))) != 0) {
        goto out;
    }
    memset(&m, 0, sizeof(m));
    snprintf(title, sizeof(title), "%s@%s (%s)", ci->user, ci->target, ci->login);
    m.width = ci->cols;
    m.height = ci->rows;
    m.timestamp = (long long)time(NULL);
    m.term = ci->term;
    m.title = title;
    m.session = ci->session;
    m.user = ci->user;
    m.target = ci->target;
    m.login = ci->login;
    m.kind = ci->kind;
    m.command = ci->command;
    m.grant = ci->grant;
    m.record_input = ci->record_input;
    if ((rc = rec_writer_new(&sink, &m, r->key, ts, &w, err, sizeof(err))) != 0) {
        goto out;
    }
    if ((rc = recorder_start(r)) != 0) {
        db_errf(err, sizeof(err), "cannot start the recording thread");
        goto out;
    }
    /* A subsystem (sftp) carries files, not a terminal: nothing in it reads as lines. */
    sl->h = rec_async_add(r->async, w,
                          strcmp(ci->kind, "subsystem") != 0 ? RECORDER_TEXT_MAX : 0);
    if (sl->h < 0) {
        rc = sl->h;
        db_errf(err, sizeof(err), "cannot hand the recording to its thread");
        goto out;
    }
    w = NULL; /* the thread's now */
    if (r->c->store != NULL && store_session_set_recording(r->c->store, ci->session, sl->path) != 0) {
        db_errf(err, sizeof(err), "cannot note the recording in the store");
        rc = DB_ERR_IO;
        goto out;
    }
    if (strcmp(ci->kind, "subsystem") == 0 && ci->command != NULL &&
        strcmp(ci->command, "sftp") == 0) {
        sl->sftp = malloc(sizeof(*sl->sftp));
        if (sl->sftp == NULL) {
            rc = DB_ERR_NOMEM;
            goto out;
        }
        sftp_watch_init(sl->sftp, recorder_sftp, sl);
    }
    sl->id = ci->id;
    rc = 0;
out:
    if (rc != 0) {
        log_msg(LOG_LVL_ERROR, "recording.fail", "session=%s %s", ci->session, err);
        if (r->c->store != NULL) {
            json_t *d = json_pack("{ss ss ss}", "error", err, "session", ci->session, "result",
                                  "session refused: it cannot be recorded");

            access_audit_event(r->c->store, (long long)time(NULL), ci->user, "recording.fail",
                               ci->target, d);
            json_decref(d);
        }
        rec_writer_free(w);
        if (sl != NULL) {
            if (sl->h >= 0) {
                char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], e2[300];

                rec_async_close(r->async, sl->h, sha, mac, e2, sizeof(e2));
            }
            free(sl->sftp);
            recorder_slot_free(r, sl);
        }
        recorder_stop(r);
    }
    return rc;
}

static int recorder_fail(struct rec_slot *sl, const char *what)
{
    sl->failed = 1;
    log_msg(LOG_LVL_ERROR, "recording.fail", "session=%s %s failed; ending the session",
            sl->session, what);
    if (sl->r->c->store != NULL) {
        access_audit_event(sl->r->c->store, (long long)time(NULL), sl->r->c->user,
                           "recording.fail", sl->session, NULL);
    }
    return DB_ERR_IO;
}

static int recorder_data(void *ctx, unsigned id, enum relay_dir dir, int is_stderr,
                         const char *buf, size_t len, const struct timespec *ts)
{
    struct rec_slot *sl = recorder_slot(ctx, id);

    (void)is_stderr;
    if (sl == NULL) {
        return 0;
    }
    if (dir == RELAY_DIR_IN) {
        sl->in += len;
    } else {
        sl->out += len;
    }
    sl->store_dirty = 1;
    sl->data_ms = recorder_ms(ts);
    if (sl->sftp != NULL) {
        sl->now = *ts;
        sftp_watch_feed(sl->sftp, dir == RELAY_DIR_IN, buf, len);
    }
    if (rec_async_data(sl->r->async, sl->h, dir == RELAY_DIR_IN ? REC_STREAM_IN : REC_STREAM_OUT,
                       ts, buf, len) != 0) {
        return recorder_fail(sl, "writing the recording");
    }
    if (sl->r->kick_ms == 0 && rec_async_kick_pending(sl->r->async)) {
        sl->r->kick_ms = recorder_ms(ts) + RECORDER_KICK_MS;
    }
    return 0;
}

static int recorder_resize(void *ctx, unsigned id, int cols, int rows, const struct timespec *ts)
{
    struct rec_slot *sl = recorder_slot(ctx, id);

    if (sl == NULL) {
        return 0;
    }
    return rec_async_resize(sl->r->async, sl->h, ts, cols, rows) == 0
               ? 0
               : recorder_fail(sl, "resize");
}

static int recorder_note(void *ctx, unsigned id, const char *text, const struct timespec *ts)
{
    struct rec_slot *sl = recorder_slot(ctx, id);

    if (sl == NULL) {
        return 0;
    }
    return rec_async_marker(sl->r->async, sl->h, ts, text) == 0 ? 0
                                                                 : recorder_fail(sl, "a marker");
}

/*
 * The byte counts and the index are written at most once a second, in a
 * pause of the session's traffic when it has one (a store commit waits for
 * the disk: a keystroke should not wait behind it), and every RECORDER_STORE_MAX_MS
 * during traffic that never pauses.
 */
static long long recorder_store_due(const struct rec_slot *sl)
{
    long long due = sl->store_ms + 1000, quiet = sl->data_ms + RECORDER_QUIET_MS;

    if (quiet > due) {
        due = quiet;
    }
    return due < sl->store_ms + RECORDER_STORE_MAX_MS ? due : sl->store_ms + RECORDER_STORE_MAX_MS;
}

static int recorder_tick(void *ctx, unsigned id, const struct timespec *ts)
{
    struct recorder *r = ctx;
    struct rec_slot *sl = recorder_slot(ctx, id);

    if (r->kick_ms != 0 && recorder_ms(ts) >= r->kick_ms) {
        r->kick_ms = 0;
        rec_async_kick(r->async);
    }
    if (sl == NULL || sl->failed) {
        return 0;
    }
    /* the thread's flushes happen there; what failed there ends the session here */
    if (rec_async_error(sl->r->async, sl->h) != 0) {
        return recorder_fail(sl, "flushing the recording");
    }
    /* the index and the byte counts: once a second is plenty */
    if (!sl->store_dirty || recorder_ms(ts) < recorder_store_due(sl)) {
        return 0;
    }
    sl->store_ms = recorder_ms(ts);
    sl->store_dirty = 0;
    rec_async_text(sl->r->async);
    recorder_flush_text(sl);
    if (sl->r->c->store != NULL) {
        store_session_bytes(sl->r->c->store, sl->session, sl->in, sl->out);
    }
    return 0;
}

/* The earliest moment a tick has work: an event to finish, a checkpoint, the store to update. */
static long long recorder_due(void *ctx)
{
    struct recorder *r = ctx;
    long long due = r->kick_ms != 0 ? r->kick_ms : LLONG_MAX;

    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct rec_slot *sl = r->slots[i];

        if (sl == NULL || sl->h < 0 || sl->failed) {
            continue;
        }
        if (sl->store_dirty && recorder_store_due(sl) < due) {
            due = recorder_store_due(sl);
        }
    }
    return due;
}

static void recorder_trim(void *ctx)
{
    struct recorder *r = ctx;

    rec_async_trim(r->async);
}

static void recorder_close(void *ctx, unsigned id, int exit_status, const char *exit_signal,
                           const struct timespec *ts, char *sha256, char *hmac)
{
    struct rec_slot *sl = recorder_slot(ctx, id);
    char label[96], err[300] = "";

    sha256[0] = '\0';
    hmac[0] = '\0';
    if (sl == NULL) {
        return;
    }
    if (sl->sftp != NULL) {
        sl->now = *ts;
        sftp_watch_finish(sl->sftp);
        free(sl->sftp);
        sl->sftp = NULL;
    }
    if (exit_signal != NULL) {
        snprintf(label, sizeof(label), "end: signal %.32s", exit_signal);
    } else {
        snprintf(label, sizeof(label), "end: exit status %d", exit_status);
    }
    rec_async_marker(sl->r->async, sl->h, ts, label);
    sl->r->kick_ms = 0; /* the close wakes it */
    if (rec_async_close(sl->r->async, sl->h, sha256, hmac, err, sizeof(err)) != 0) {
        sha256[0] = '\0';
        hmac[0] = '\0';
        recorder_fail(sl, "sealing the recording");
    }
    sl->h = -1;
    recorder_flush_text(sl);
    if (sl->r->c->store != NULL) {
        store_session_bytes(sl->r->c->store, sl->session, sl->in, sl->out);
    }
    {
        struct recorder *r = sl->r;

        recorder_slot_free(r, sl);
        recorder_stop(r);
    }
}

int recorder_init(struct conn *c, struct relay_hook *h, char *err, size_t errlen)
{
    struct recorder *r = &recorder_state;
    char path[4096];
    int fd, rc = DB_ERR_IO;

    memset(r, 0, sizeof(*r));
    memset(h, 0, sizeof(*h));
    r->c = c;
    r->efd = -1;
    keys_path(c->cfg, "recording.hmac", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || read(fd, r->key, sizeof(r->key)) != (ssize_t)sizeof(r->key)) {
        db_errf(err, errlen, "%s: cannot read the recording key", path);
        goto out;
    }
    h->ctx = r;
    h->open = recorder_open;
    h->data = recorder_data;
    h->resize = recorder_resize;
    h->note = recorder_note;
    h->tick = recorder_tick;
    h->due = recorder_due;
    h->trim = recorder_trim;
    h->close = recorder_close;
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}
