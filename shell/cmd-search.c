/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `search TEXT [--limit N] [--json]` finds TEXT in what sessions showed
 * and what engineers typed (the text index the recorder fills), and lists
 * each matching line: the session, the time into it, the stream ("o"
 * output, "i" input) and the line.  TEXT is matched literally, as a
 * substring: quotes, '*', '-' and the like have no meaning.  Every word
 * that is not --limit or --json is TEXT ("search rm -rf" as well as
 * "search 'rm -rf'"), joined with single spaces; "--" before a word makes
 * even --json text.  The index works on trigrams, so TEXT is at least 3
 * characters.
 *
 * Text output is one line per match, "SESSION  HH:MM:SS.s  STREAM  LINE",
 * the line sanitised for the terminal; --json prints an array of
 * {"session", "time" (seconds), "stream", "line"}.
 */
#include "shell.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SEARCH_MIN_CHARS 3
#define SEARCH_LIMIT_DEFAULT 100
#define SEARCH_LIMIT_MAX 1000
#define SEARCH_LINE_SHOWN 1024

/* Seconds into the session as "HH:MM:SS.s". */
static void search_offset(double ts, char *buf, size_t len)
{
    long long tenths = isfinite(ts) && ts > 0 && ts < 1e12 ? (long long)(ts * 10.0 + 0.5) : 0;

    snprintf(buf, len, "%02lld:%02lld:%02lld.%lld", tenths / 36000, tenths / 600 % 60,
             tenths / 10 % 60, tenths % 10);
}

static int search_json(struct shell_ctx *c, const struct store_text *v, size_t n)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{ss sf ss so}", "session", v[i].session, "time", v[i].ts, "stream",
                              v[i].stream ? "i" : "o", "line",
                              shell_json_string(v[i].line != NULL ? v[i].line : ""));

        if (json_array_append_new(arr, o) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static void search_text(struct shell_ctx *c, const struct store_text *v, size_t n)
{
    char when[32], shown[SEARCH_LINE_SHOWN + 8];

    for (size_t i = 0; i < n; i++) {
        search_offset(v[i].ts, when, sizeof(when));
        shell_sanitize(shown, sizeof(shown), v[i].line, v[i].line != NULL ? v[i].len : 0, 0);
        shell_out(c, "%s  %s  %s  %s\n", v[i].session, when, v[i].stream ? "i" : "o", shown);
    }
}

/* Characters of valid UTF-8 text. */
static size_t search_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        n += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return n;
}

static int cmd_search_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"limit=", "json", "*", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_text *v = NULL;
    size_t n = 0, limit = SEARCH_LIMIT_DEFAULT;
    const char *text = NULL;
    char err[300] = "";
    int r, rc;

    if ((r = shell_review_begin(c, argv[0], spec, 0, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if ((text = shell_opt(&o, "*")) == NULL) {
        return shell_usage(c, argv[0], "TEXT is required");
    }
    if (shell_opt(&o, "limit") != NULL && (r = shell_parse_limit(c, argv[0], shell_opt(&o, "limit"),
                                                                 SEARCH_LIMIT_MAX, &limit)) != 0) {
        return r;
    }
    if (access_check_text("search text", text, 1, err, sizeof(err)) != 0) {
        r = shell_usage(c, argv[0], err);
        goto out;
    }
    if (search_chars(text) < SEARCH_MIN_CHARS) {
        r = shell_usage(c, argv[0], "TEXT must be at least 3 characters");
        goto out;
    }
    rc = store_text_search(rv.a->store, text, limit, &v, &n);
    if (rc != 0) {
        r = shell_review_refuse(c, &rv, json_pack("{so}", "text", shell_json_string(text)),
                                "the search failed: %s", db_strerror(rc));
        goto out;
    }
    r = shell_review_ok(
        c, &rv, json_pack("{so sI}", "text", shell_json_string(text), "matches", (json_int_t)n));
    if (r != 0) {
        goto out;
    }
    if (shell_opt(&o, "json") != NULL) {
        r = search_json(c, v, n) != 0 ? shell_fail(c, "out of memory") : SHELL_OK;
    } else if (n == 0) {
        shell_out(c, "no matches\n");
    } else {
        search_text(c, v, n);
    }
out:
    store_text_free(v, n);
    return r;
}

const struct shell_cmd_entry shell_cmd_search_entry = {
    .name = "search",
    .usage = "search TEXT [--limit N] [--json]",
    .summary = "find text in sessions' output and input (reviewers)",
    .exec = cmd_search_exec,
    .example = "ssh gw search rm -rf /var",
};
