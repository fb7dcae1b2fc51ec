/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session recordings: asciicast v2 files (FORMAT.md) written by a writer
 * behind a small sink interface (a file, or memory for tests), read back by a
 * reader, checked by the verifier, and made safe for a reviewer's terminal by
 * the sanitiser.  Depends on nothing of ours but common/; never logs, never
 * exits.  Every function returns 0 or a negative DB_ERR_* and, where it takes
 * err, fills it with one line.
 */
#ifndef DRAWBRIDGE_RECORDING_H
#define DRAWBRIDGE_RECORDING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"

#define REC_KEY_LEN 32        /* HMAC key, state_dir/keys/recording.hmac */
#define REC_HEX_LEN 64        /* SHA-256 / HMAC-SHA256 in lowercase hex */
#define REC_FLUSH_MS 1000     /* a crash loses at most this much */

/* ---- sink.c: where a writer's bytes go ---- */

/* The most a file sink keeps out of the file until the next push. */
#define REC_SINK_HELD_MAX (1024u * 1024)

struct rec_sink {
    void *ctx;
    /*
     * takes all of buf or fails (DB_ERR_IO, e.g. ENOSPC, possibly of an
     * earlier write); may keep the end of what it took (at most
     * REC_SINK_HELD_MAX bytes) out of the file until the next push
     */
    int (*write)(void *ctx, const void *buf, size_t len);
    /* makes what was written durable (fdatasync); may be NULL */
    int (*sync)(void *ctx);
    void (*close)(void *ctx);
    /* puts every byte taken into the file (readers see it); may be NULL */
    int (*push)(void *ctx);
};

/*
 * Creates path with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600.  The
 * directory must exist.  DB_ERR_EXISTS, DB_ERR_IO with err.
 *
 * Large writes (a stream's full buffers) are gathered into stages that a
 * thread of the sink's own writes, so that the writer encodes the next while
 * the file system takes one; what the thread has not written yet, and the
 * stage being filled, wait for the next push.  Small writes are written at
 * once.  Everything goes through the page cache.
 */
int rec_sink_file_create(const char *path, struct rec_sink *out, char *err, size_t errlen);

/* A memory sink for tests; fail_after (0: never) makes writes past that many bytes fail. */
struct rec_mem;
int rec_sink_mem(struct rec_sink *out, struct rec_mem **mem, size_t fail_after);
const char *rec_mem_bytes(const struct rec_mem *m, size_t *len);
void rec_mem_free(struct rec_mem *m);

/* ---- writer.c ---- */

struct rec_meta {
    int width, height;       /* 0: 80x24 */
    long long timestamp;     /* unix seconds of the start */
    const char *term;        /* TERM of the pty, NULL without one */
    const char *title;       /* NULL: "USER@TARGET (LOGIN)" */
    /* the header's "drawbridge" object; NULL strings are omitted */
    const char *session;
    const char *user;
    const char *target;
    const char *login;
    const char *kind;        /* "shell", "exec", "subsystem" */
    const char *command;     /* exec command or subsystem name */
    long long grant;         /* 0: none (standing access) */
    int record_input;        /* 0: input events are counted, never written */
};

enum rec_stream { REC_STREAM_OUT, REC_STREAM_IN };

struct rec_writer;

/*
 * Writes the header at once.  key is the HMAC key (copied); start is the
 * monotonic time that event times are relative to.  The sink is owned by the
 * writer from here on (closed by this call too when it fails).  Caller frees
 * with rec_writer_close or rec_writer_free.
 */
int rec_writer_new(const struct rec_sink *sink, const struct rec_meta *m,
                   const unsigned char key[REC_KEY_LEN], const struct timespec *start,
                   struct rec_writer **out, char *err, size_t errlen);
/*
 * Records bytes of one stream at ts (monotonic).  Text goes in "o"/"i"
 * events with invalid UTF-8 escaped losslessly; chunks that are mostly not
 * text go in "bo"/"bi" events (base64), or "zo"/"zi" (base64 of LZ4) when
 * they compress -- see FORMAT.md.  Writes of the same
 * stream that follow each other within REC_COALESCE_MS of an event's first
 * byte join that event (up to REC_EVENT_IN_MAX bytes), whose time is that of
 * its first byte.  Buffered: flushed by rec_writer_tick at least every
 * REC_FLUSH_MS, or when the buffer fills.
 */
int rec_writer_data(struct rec_writer *w, enum rec_stream s, const struct timespec *ts,
                    const void *buf, size_t len);
int rec_writer_resize(struct rec_writer *w, const struct timespec *ts, int cols, int rows);
/* An "m" (marker) event: file operations of sftp/scp, notices, the end reason. */
int rec_writer_marker(struct rec_writer *w, const struct timespec *ts, const char *label);
/* Flushes (with a checkpoint) when REC_FLUSH_MS passed since the last flush. Cheap otherwise. */
int rec_writer_tick(struct rec_writer *w, const struct timespec *now);
/*
 * When the next rec_writer_tick has something to do (an event to finish, a
 * checkpoint to write): 1 with *at set (monotonic, the clock of the
 * writer's times), or 0 when nothing is held back -- an idle writer needs no
 * tick.  A caller that ticks only when this says should also tick once
 * before writing to an idle writer, so that the flush period starts there.
 */
int rec_writer_next_tick(const struct rec_writer *w, struct timespec *at);
/*
 * Flushes, writes the final checkpoint, syncs and closes the sink, frees w,
 * and gives the SHA-256 of the whole file and HMAC-SHA256(key, that SHA-256)
 * (hex, NUL-terminated).
 */
int rec_writer_close(struct rec_writer *w, char sha256_hex[REC_HEX_LEN + 1],
                     char hmac_hex[REC_HEX_LEN + 1], char *err, size_t errlen);
/* Abandons w without a final flush (what a crash leaves); closes the sink. NULL ok. */
void rec_writer_free(struct rec_writer *w);
/* raw: bytes given to rec_writer_data; written: bytes that reached the sink. */
void rec_writer_stats(const struct rec_writer *w, unsigned long long *raw,
                      unsigned long long *written);

/*
 * Text for the search index: the writer calls fn with each completed line of
 * the output or input it writes as text events ("o"/"i"; never what goes in
 * "bo"/"bi"), escape sequences and control bytes stripped, invalid UTF-8
 * replaced by U+FFFD, at most 512 bytes (longer lines are split), and ts the
 * time of the event that holds the line's last character, in seconds from
 * the start.  Each stream stops after max_bytes of recorded bytes have been
 * read for it, and never hands over more than max_bytes of text.  NULL fn
 * (the default): no text, at no cost.
 */
typedef void (*rec_text_fn)(void *ctx, enum rec_stream s, double ts, const char *line,
                            size_t len);
void rec_writer_set_text(struct rec_writer *w, rec_text_fn fn, void *ctx, size_t max_bytes);

/* ---- async.c: the writers of a connection on a thread of their own ---- */

/*
 * One thread runs the rec_writer_* calls of several writers, in the order
 * and with the times the caller gave; the caller's calls copy what they hand
 * over into a ring of queue_bytes and return at once, or wait while the ring
 * is full (a writer that cannot keep up slows the caller; memory stays
 * bounded; nothing is dropped).  Each writer's first error sticks and is
 * returned by every later call for it; the thread writes to notify_fd (an
 * eventfd or a pipe, -1: none) when a writer fails or when text waits to be
 * taken.  Search-index text (text_max > 0 at rec_async_add) is made on the
 * thread and handed to text_fn only on the caller's side: from
 * rec_async_text, from a call that waits for room, and from rec_async_close.
 * The thread ticks a writer only while it holds something back.
 *
 * All rec_async_* calls but the thread's own come from one thread.
 */
typedef void (*rec_async_text_fn)(void *ctx, int h, enum rec_stream s, double ts,
                                  const char *line, size_t len);
struct rec_async;
int rec_async_new(size_t queue_bytes, int notify_fd, rec_async_text_fn text_fn, void *text_ctx,
                  struct rec_async **out);
/* Takes w (from rec_writer_new); returns its handle (>= 0) or DB_ERR_BUSY / DB_ERR_INVALID. */
int rec_async_add(struct rec_async *a, struct rec_writer *w, size_t text_max);
int rec_async_data(struct rec_async *a, int h, enum rec_stream s, const struct timespec *ts,
                   const void *buf, size_t len);
int rec_async_resize(struct rec_async *a, int h, const struct timespec *ts, int cols, int rows);
int rec_async_marker(struct rec_async *a, int h, const struct timespec *ts, const char *label);
/* The writer's error so far (0: none), without waiting. */
int rec_async_error(struct rec_async *a, int h);
/*
 * A little data does not wake a sleeping thread at once, so that a stream
 * wakes it per batch rather than per packet: while rec_async_kick_pending
 * says so, the caller calls rec_async_kick soon (within a few ms).
 */
int rec_async_kick_pending(const struct rec_async *a);
void rec_async_kick(struct rec_async *a);
/* Hands the text made so far to text_fn. */
void rec_async_text(struct rec_async *a);
/* Waits until all before it is written, then closes as rec_writer_close; frees the handle. */
int rec_async_close(struct rec_async *a, int h, char sha256_hex[REC_HEX_LEN + 1],
                    char hmac_hex[REC_HEX_LEN + 1], char *err, size_t errlen);
/* Stops the thread after what is queued; writers not closed are abandoned (rec_writer_free). */
void rec_async_free(struct rec_async *a);
/* How many calls had to wait for room (for tests and benchmarks). */
unsigned long long rec_async_waits(struct rec_async *a);
/* An idle caller: the queue's memory beyond its first pages goes back to the system. */
void rec_async_trim(struct rec_async *a);

/* ---- reader.c ---- */

struct rec_header {
    int version;
    int width, height;
    long long timestamp;
    char *term;
    char *title;
    char *session, *user, *target, *login, *kind, *command;
    long long grant;
    int format;       /* the "drawbridge" object's format (1 to 3) */
    int record_input; /* 1 when input events were written */
};

struct rec_event {
    double time;        /* seconds from the start */
    /* "o", "i", "r", "m", "bo", "bi", "c" (checkpoint), "e" (end); "zo"/"zi" come as "bo"/"bi" */
    char code[4];
    unsigned char *data; /* decoded bytes: o/i/bo/bi give the original bytes exactly; NUL after */
    size_t len;
    int line;           /* 1-based line in the file */
};

struct rec_reader;

/* The buffer is borrowed and must outlive the reader.  Parses the header. */
int rec_reader_open_buf(const char *buf, size_t len, struct rec_reader **out, char *err,
                        size_t errlen);
/* Reads the whole file (regular file, at most 4 GiB). */
int rec_reader_open_file(const char *path, struct rec_reader **out, char *err, size_t errlen);
const struct rec_header *rec_reader_header(const struct rec_reader *r);
/*
 * The next event: 1 with *ev filled (ev->data owned by the reader until the
 * next call), 0 at the end, DB_ERR_INVALID with "line N: why" in err.  A
 * last line without its newline is reported as DB_ERR_INVALID "truncated".
 */
int rec_reader_next(struct rec_reader *r, struct rec_event *ev, char *err, size_t errlen);
void rec_reader_free(struct rec_reader *r);

/* ---- verify.c ---- */

enum rec_verdict {
    REC_OK,        /* sealed hash and HMAC match, or every checkpoint holds and the end is clean */
    REC_TRUNCATED, /* every checkpoint holds but the file ends early (crash, kill) */
    REC_TAMPERED,  /* a sealed hash, HMAC or checkpoint does not match */
    REC_MISSING,
};
const char *rec_verdict_name(enum rec_verdict v);

/*
 * Checks one recording.  sealed_sha256/sealed_hmac: what the store holds for
 * a closed session, or NULL for one that never closed.  0 with *out set (why
 * gets a one-line explanation), or a negative DB_ERR_* when the check itself
 * could not run.
 */
int rec_verify_file(const char *path, const unsigned char key[REC_KEY_LEN],
                    const char *sealed_sha256, const char *sealed_hmac, enum rec_verdict *out,
                    char *why, size_t whylen);

/* ---- sanitize.c: safe replay on a reviewer's terminal ---- */

/*
 * A streaming filter for terminal output: keeps text, colours (SGR), cursor
 * movement and erasing; drops what makes a terminal answer or act beyond the
 * screen: OSC 52 (clipboard) and every OSC except titles (0/1/2, whose
 * reports are dropped), DCS (DECRQSS, ...), APC/PM/SOS, device status and
 * attribute queries (CSI 5n/6n/c/>c/=c, DECRQM, window reports CSI 14-21t),
 * and 8-bit C1 controls.  Sequences split across calls are handled.
 */
struct rec_sanitizer;
int rec_sanitizer_new(struct rec_sanitizer **out);
void rec_sanitizer_free(struct rec_sanitizer *s);
/* Appends the safe form of in[0..len) to *out (realloc'd; *outlen updated). */
int rec_sanitize(struct rec_sanitizer *s, const void *in, size_t len, char **out, size_t *outlen,
                 size_t *outcap);

/*
 * The sanitiser's memory is fixed when it is made: sequences it must hold
 * back (a CSI, a title) are bounded, and longer ones are dropped whole.
 */
#define REC_SANITIZE_CSI_MAX 64    /* bytes of one CSI sequence */
#define REC_SANITIZE_TITLE_MAX 512 /* bytes of one OSC 0/1/2 title */

/* ---- play.c ---- */

/*
 * How long to wait before an event at t when the previous one was at prev
 * (seconds), at speed (> 0) with idle_limit (0: none) capping each gap.
 */
double rec_play_delay(double prev, double t, double speed, double idle_limit);

/*
 * ---- internal to recordings/ and its tests (codec.c, text.c, reader.c) ----
 */

/* The format the writer writes; the reader and verifier also take formats 1 and 2. */
#define REC_FORMAT 3
/* Input bytes per "o"/"i"/"bo"/"bi" event; larger writes become several events. */
#define REC_EVENT_IN_MAX (16u * 1024)
/* Writes of one stream within this long of an event's first byte join that event. */
#define REC_COALESCE_MS 10
/* Longest line the reader accepts. */
#define REC_LINE_MAX (16u * 1024 * 1024)

/*
 * Escapes in[0..len) as the inside of a JSON string (FORMAT.md, "Text
 * events") into out, which has room for 6 * len bytes; returns the bytes
 * written.  Unless final, a valid but incomplete UTF-8 sequence at the end
 * is left alone: *used says how much of in was taken.  *bad is increased by
 * the bytes that were not text; once it passes max_bad, returns (size_t)-1.
 */
size_t rec_esc_json(const unsigned char *in, size_t len, int final, char *out, size_t *used,
                    size_t *bad, size_t max_bad);
/* The length of the UTF-8 sequence at p: 1-4, 0 when invalid, -1 when cut short by avail. */
int rec_utf8_len(const unsigned char *p, size_t avail);
/* Maps U+EF80..U+EFFF back to bytes 0x80..0xFF; out has room for len.  Returns the length. */
size_t rec_pua_decode(const char *in, size_t len, unsigned char *out);
/* A NUL-terminated copy of s with invalid UTF-8 escaped as in events; caller frees. */
char *rec_pua_string(const char *s, size_t len);
size_t rec_b64_encode(const unsigned char *in, size_t len, char *out);
/* Strict: canonical padding, no whitespace.  out has room for len / 4 * 3. */
int rec_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);
void rec_hex(const unsigned char *in, size_t len, char *out);

/* text.c: the search-index lines of rec_writer_set_text. */
struct rec_text;
struct rec_text *rec_text_new(rec_text_fn fn, void *ctx, size_t max_bytes);
void rec_text_feed(struct rec_text *t, enum rec_stream s, double ts, const unsigned char *buf,
                   size_t len);
/* Bytes of s were left out (written as binary): ends the line and any sequence begun. */
void rec_text_break(struct rec_text *t, enum rec_stream s);
/* Hands over what is left of each stream's current line. */
void rec_text_finish(struct rec_text *t, double ts);
void rec_text_free(struct rec_text *t);

/*
 * reader.c, shared with verify.c: one line without its newline.  The header
 * into h (caller frees with rec_header_clear); an event into ev, whose data
 * lives in *buf (grown as needed, caller frees).  prev is the time of the
 * event before (0 for the first); lineno is for messages.
 */
int rec_parse_header(const char *line, size_t len, struct rec_header *h, char *err,
                     size_t errlen);
void rec_header_clear(struct rec_header *h);
int rec_parse_event(const char *line, size_t len, int lineno, double prev, struct rec_event *ev,
                    unsigned char **buf, size_t *cap, char *err, size_t errlen);

#endif
