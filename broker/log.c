/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the daemon: one line per event on stderr (text or JSON lines)
 * and optionally syslog.  Every line carries an event name and, inside a
 * session child, the connection id and peer.  Messages are sanitised: control
 * bytes never reach the log, so a hostile username cannot forge lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"

static struct {
    int json;
    int use_syslog;
    char ident[32];
    char conn[40];
    char peer[64];
} log_state = {0, 0, "drawbridge", "", ""};

void log_init(const char *ident, int json, int syslog_too)
{
    snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident != NULL ? ident : "drawbridge");
    log_state.json = json;
    log_state.use_syslog = syslog_too;
    if (syslog_too) {
        openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    }
}

void log_set_context(const char *conn_id, const char *peer)
{
    snprintf(log_state.conn, sizeof(log_state.conn), "%s", conn_id != NULL ? conn_id : "");
    snprintf(log_state.peer, sizeof(log_state.peer), "%s", peer != NULL ? peer : "");
}

static const char *log_level_name(enum log_level lvl)
{
    switch (lvl) {
    case LOG_LVL_ERROR:
        return "error";
    case LOG_LVL_WARN:
        return "warn";
    case LOG_LVL_INFO:
        return "info";
    case LOG_LVL_DEBUG:
        return "debug";
    }
    return "info";
}

/* Replaces control bytes and DEL with '?' so one event is always one line. */
static void log_sanitise(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f) {
            *s = '?';
        }
    }
}

void log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
{
    char msg[1024], ts[96];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (lvl == LOG_LVL_DEBUG && getenv("DRAWBRIDGE_DEBUG") == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_sanitise(msg);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);

    if (log_state.json) {
        json_t *o = json_object();
        char *line = NULL;

        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "level", json_string(log_level_name(lvl)));
        json_object_set_new(o, "pid", json_integer(getpid()));
        json_object_set_new(o, "event", json_string(event));
        if (log_state.conn[0] != '\0') {
            json_object_set_new(o, "conn", json_string(log_state.conn));
            json_object_set_new(o, "peer", json_string(log_state.peer));
        }
        /* json_string refuses invalid UTF-8; fall back to a lossy copy. */
        if (json_object_set_new(o, "msg", json_string(msg)) != 0) {
            for (char *p = msg; *p != '\0'; p++) {
                if ((unsigned char)*p >= 0x80) {
                    *p = '?';
                }
            }
            json_object_set_new(o, "msg", json_string(msg));
        }
        line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (line != NULL) {
            fprintf(stderr, "%s\n", line);
            free(line);
        }
        json_decref(o);
    } else if (log_state.conn[0] != '\0') {
        fprintf(stderr, "%s %s[%d] %s %s conn=%s peer=%s %s\n", ts, log_state.ident, (int)getpid(),
                log_level_name(lvl), event, log_state.conn, log_state.peer, msg);
    } else {
        fprintf(stderr, "%s %s[%d] %s %s %s\n", ts, log_state.ident, (int)getpid(),
                log_level_name(lvl), event, msg);
    }
    if (log_state.use_syslog) {
        int pri = lvl == LOG_LVL_ERROR  ? LOG_ERR
                  : lvl == LOG_LVL_WARN ? LOG_WARNING
                  : lvl == LOG_LVL_INFO ? LOG_INFO
                                        : LOG_DEBUG;
        syslog(pri, "%s %s%s%s %s", event, log_state.conn[0] ? "conn=" : "", log_state.conn,
               log_state.conn[0] ? "" : "", msg);
    }
}
