/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document as a small tree of scalars, lists and maps, each node and
 * each map key carrying its 1-based line so that the policy and config
 * parsers can say "file:line: message".  Built from libyaml's event parser.
 *
 * Only the plain subset our files need is accepted: one document, no anchors
 * or aliases (they make a file say things its reader does not see), no tags
 * beyond the YAML core ones, no duplicate or non-scalar map keys, no NUL in
 * a scalar, nesting at most YTREE_DEPTH_MAX deep and at most 1 MiB of text.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define YTREE_SIZE_MAX (1024 * 1024)
#define YTREE_DEPTH_MAX 64
#define YTREE_CORE_PREFIX "tag:yaml.org,2002:"

struct ytree_builder {
    const char *name;
    char *err;
    size_t errlen;
    struct ytree *root;
    struct ytree *stack[YTREE_DEPTH_MAX];
    size_t depth;
    /* For the map on top of the stack: the key waiting for its value. */
    char *pending_key[YTREE_DEPTH_MAX];
    int pending_line[YTREE_DEPTH_MAX];
    int ndocs;
};

static int ytree_fail(struct ytree_builder *b, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ytree_fail(struct ytree_builder *b, int line, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    db_oneline(msg);
    db_errf(b->err, b->errlen, "%s:%d: %s", b->name, line, msg);
    return DB_ERR_INVALID;
}

void ytree_free(struct ytree *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        ytree_free(t->kids[i]);
        if (t->keys != NULL) {
            free(t->keys[i]);
        }
    }
    free(t->kids);
    free(t->keys);
    free(t->key_lines);
    free(t->value);
    free(t);
}

/* Tags are refused unless they are one of the core schema's, used on the right kind. */
static int ytree_tag_ok(const yaml_char_t *tag, enum ytree_kind kind)
{
    static const char *const scalar_tags[] = {"str", "int", "float", "bool", "null", NULL};
    const char *t = (const char *)tag;
    size_t plen = strlen(YTREE_CORE_PREFIX);

    if (tag == NULL) {
        return 1;
    }
    if (strncmp(t, YTREE_CORE_PREFIX, plen) != 0) {
        return 0;
    }
    t += plen;
    if (kind == YTREE_SEQ) {
        return strcmp(t, "seq") == 0;
    }
    if (kind == YTREE_MAP) {
        return strcmp(t, "map") == 0;
    }
    for (size_t i = 0; scalar_tags[i] != NULL; i++) {
        if (strcmp(t, scalar_tags[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int ytree_null_text(const char *s)
{
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int ytree_node_from_scalar(struct ytree_builder *b, const yaml_event_t *ev,
                                  struct ytree **out)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    struct ytree *n = NULL;
    int line = (int)ev->start_mark.line + 1;
    size_t len = ev->data.scalar.length;

    *out = NULL;
    if (memchr(ev->data.scalar.value, '\0', len) != NULL) {
        return ytree_fail(b, line, "NUL byte in a value");
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return DB_ERR_NOMEM;
    }
    n->value = malloc(len + 1);
    if (n->value == NULL) {
        free(n);
        return DB_ERR_NOMEM;
    }
    memcpy(n->value, ev->data.scalar.value, len);
    n->value[len] = '\0';
    n->value_len = len;
    n->kind = YTREE_SCALAR;
    n->line = line;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag != NULL) {
        /* "!!str null" is text; "!!null" must really be a null; other tags act unquoted. */
        n->plain = strcmp(tag, YTREE_CORE_PREFIX "str") != 0;
        if (strcmp(tag, YTREE_CORE_PREFIX "null") == 0 && !ytree_null_text(n->value)) {
            ytree_free(n);
            return ytree_fail(b, line, "!!null on a value that is not null");
        }
    }
    *out = n;
    return 0;
}

static int ytree_map_add(struct ytree_builder *b, struct ytree *map, struct ytree *n)
{
    size_t d = b->depth - 1;
    struct ytree **kids = NULL;
    char **keys = NULL;
    int *lines = NULL;

    if (b->pending_key[d] == NULL) {
        if (n->kind != YTREE_SCALAR) {
            return ytree_fail(b, n->line, "map keys must be plain text");
        }
        for (size_t i = 0; i < map->nkids; i++) {
            if (strcmp(map->keys[i], n->value) == 0) {
                return ytree_fail(b, n->line, "duplicate key \"%s\" (first on line %d)", n->value,
                                  map->key_lines[i]);
            }
        }
        b->pending_key[d] = n->value;
        b->pending_line[d] = n->line;
        n->value = NULL;
        ytree_free(n);
        return 0;
    }
    kids = realloc(map->kids, (map->nkids + 1) * sizeof(*kids));
    if (kids == NULL) {
        return DB_ERR_NOMEM;
    }
    map->kids = kids;
    keys = realloc(map->keys, (map->nkids + 1) * sizeof(*keys));
    if (keys == NULL) {
        return DB_ERR_NOMEM;
    }
    map->keys = keys;
    lines = realloc(map->key_lines, (map->nkids + 1) * sizeof(*lines));
    if (lines == NULL) {
        return DB_ERR_NOMEM;
    }
    map->key_lines = lines;
    map->kids[map->nkids] = n;
    map->keys[map->nkids] = b->pending_key[d];
    map->key_lines[map->nkids] = b->pending_line[d];
    map->nkids++;
    b->pending_key[d] = NULL;
    return 0;
}

/* Attaches n to the open collection (or makes it the root).  Takes n on success only. */
static int ytree_attach(struct ytree_builder *b, struct ytree *n)
{
    struct ytree *top = NULL;
    struct ytree **kids = NULL;

    if (b->depth == 0) {
        if (b->root != NULL) {
            return ytree_fail(b, n->line, "more than one document");
        }
        b->root = n;
        return 0;
    }
    top = b->stack[b->depth - 1];
    if (top->kind == YTREE_MAP) {
        return ytree_map_add(b, top, n);
    }
    kids = realloc(top->kids, (top->nkids + 1) * sizeof(*kids));
    if (kids == NULL) {
        return DB_ERR_NOMEM;
    }
    top->kids = kids;
    top->kids[top->nkids++] = n;
    return 0;
}

static int ytree_open(struct ytree_builder *b, const yaml_event_t *ev, enum ytree_kind kind)
{
    struct ytree *n = NULL;
    int line = (int)ev->start_mark.line + 1;
    int r = DB_ERR_INTERNAL;

    if (b->depth >= YTREE_DEPTH_MAX) {
        return ytree_fail(b, line, "nested more than %d levels deep", YTREE_DEPTH_MAX);
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return DB_ERR_NOMEM;
    }
    n->kind = kind;
    n->line = line;
    r = ytree_attach(b, n);
    if (r < 0) {
        ytree_free(n);
        return r;
    }
    b->stack[b->depth] = n;
    b->pending_key[b->depth] = NULL;
    b->depth++;
    return 0;
}

static int ytree_event(struct ytree_builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    struct ytree *n = NULL;
    int r = 0;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->ndocs > 1) {
            return ytree_fail(b, line, "more than one document");
        }
        return 0;
    case YAML_ALIAS_EVENT:
        return ytree_fail(b, line, "aliases (*name) are not allowed");
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return 0;
    default:
        return 0;
    }
    if (anchor != NULL) {
        return ytree_fail(b, line, "anchors (&%s) are not allowed", (const char *)anchor);
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        if (!ytree_tag_ok(tag, YTREE_SEQ)) {
            return ytree_fail(b, line, "tag %s is not allowed here", (const char *)tag);
        }
        return ytree_open(b, ev, YTREE_SEQ);
    }
    if (ev->type == YAML_MAPPING_START_EVENT) {
        if (!ytree_tag_ok(tag, YTREE_MAP)) {
            return ytree_fail(b, line, "tag %s is not allowed here", (const char *)tag);
        }
        return ytree_open(b, ev, YTREE_MAP);
    }
    if (!ytree_tag_ok(tag, YTREE_SCALAR)) {
        return ytree_fail(b, line, "tag %s is not allowed here", (const char *)tag);
    }
    r = ytree_node_from_scalar(b, ev, &n);
    if (r < 0) {
        return r;
    }
    r = ytree_attach(b, n);
    if (r < 0) {
        ytree_free(n);
    }
    return r;
}

int ytree_parse(const char *name, const char *buf, size_t len, struct ytree **out, char *err,
                size_t errlen)
{
    struct ytree_builder b;
    yaml_parser_t parser;
    yaml_event_t ev;
    int parser_ok = 0, done = 0;
    int r = DB_ERR_INTERNAL;

    memset(&b, 0, sizeof(b));
    b.name = name != NULL ? name : "<input>";
    b.err = err;
    b.errlen = errlen;
    db_errf(err, errlen, "%s", "");
    *out = NULL;
    if (buf == NULL && len > 0) {
        r = ytree_fail(&b, 1, "no input");
        goto out;
    }
    if (len > YTREE_SIZE_MAX) {
        r = ytree_fail(&b, 1, "larger than 1 MiB");
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    parser_ok = 1;
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf != NULL ? buf : ""), len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem != NULL ? parser.problem : "syntax error";
            int line = (int)parser.problem_mark.line + 1;

            if (parser.context != NULL) {
                r = ytree_fail(&b, line, "%s %s", problem, parser.context);
            } else {
                r = ytree_fail(&b, line, "%s", problem);
            }
            goto out;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        r = ytree_event(&b, &ev);
        yaml_event_delete(&ev);
        if (r < 0) {
            goto out;
        }
    }
    if (b.root == NULL) {
        r = ytree_fail(&b, 1, "empty document");
        goto out;
    }
    *out = b.root;
    b.root = NULL;
    r = 0;
out:
    /* On error, keys waiting for a value are not yet owned by the tree. */
    for (size_t i = 0; i < b.depth; i++) {
        free(b.pending_key[i]);
    }
    ytree_free(b.root);
    if (parser_ok) {
        yaml_parser_delete(&parser);
    }
    return r;
}

/*
 * Opened without following into FIFOs or devices: O_NONBLOCK keeps open() of
 * a FIFO from waiting for a writer, and fstat() then refuses anything but a
 * regular file.  Symlinks to regular files are fine (/etc is full of them).
 */
static int ytree_read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = -1;
    int r = DB_ERR_IO;

    *out = NULL;
    *outlen = 0;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        db_errf(err, errlen, "%s: not a regular file", path);
        r = DB_ERR_INVALID;
        goto out;
    }
    if (st.st_size > YTREE_SIZE_MAX) {
        db_errf(err, errlen, "%s:1: larger than 1 MiB", path);
        r = DB_ERR_INVALID;
        goto out;
    }
    /* One byte more than allowed, so a file that grew since fstat() is caught. */
    buf = malloc(YTREE_SIZE_MAX + 1);
    if (buf == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, YTREE_SIZE_MAX + 1 - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            db_errf(err, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
        if (got > YTREE_SIZE_MAX) {
            db_errf(err, errlen, "%s:1: larger than 1 MiB", path);
            r = DB_ERR_INVALID;
            goto out;
        }
    }
    *out = buf;
    *outlen = got;
    buf = NULL;
    r = 0;
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

int ytree_parse_file(const char *path, struct ytree **out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    r = ytree_read_file(path, &buf, &len, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = ytree_parse(path, buf, len, out, err, errlen);
out:
    free(buf);
    return r;
}

const struct ytree *ytree_get(const struct ytree *t, const char *key)
{
    if (t == NULL || t->kind != YTREE_MAP || key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        if (strcmp(t->keys[i], key) == 0) {
            return t->kids[i];
        }
    }
    return NULL;
}

int ytree_is_null(const struct ytree *t)
{
    return t != NULL && t->kind == YTREE_SCALAR && t->plain && ytree_null_text(t->value);
}

const char *ytree_unknown_key(const struct ytree *t, const char *const *allowed, int *line)
{
    if (t == NULL || t->kind != YTREE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        size_t k = 0;

        while (allowed[k] != NULL && strcmp(allowed[k], t->keys[i]) != 0) {
            k++;
        }
        if (allowed[k] == NULL) {
            if (line != NULL) {
                *line = t->key_lines[i];
            }
            return t->keys[i];
        }
    }
    return NULL;
}

int ytree_key_line(const struct ytree *t, const char *key)
{
    if (t == NULL) {
        return 0;
    }
    if (t->kind == YTREE_MAP && key != NULL) {
        for (size_t i = 0; i < t->nkids; i++) {
            if (strcmp(t->keys[i], key) == 0) {
                return t->key_lines[i];
            }
        }
    }
    return t->line;
}

const char *ytree_kind_name(const struct ytree *t)
{
    if (t == NULL || ytree_is_null(t)) {
        return "null";
    }
    switch (t->kind) {
    case YTREE_SCALAR:
        return "a string";
    case YTREE_SEQ:
        return "a list";
    case YTREE_MAP:
        return "a map";
    }
    return "something else";
}

const char *ytree_str(const struct ytree *t)
{
    if (t == NULL || t->kind != YTREE_SCALAR || ytree_is_null(t)) {
        return NULL;
    }
    return t->value;
}

int ytree_bool(const struct ytree *t, int *out)
{
    *out = 0;
    if (t == NULL || t->kind != YTREE_SCALAR || !t->plain) {
        return DB_ERR_INVALID;
    }
    /* Only true/false: YAML 1.1's yes/no/on/off surprise people ("NO" the country). */
    if (strcasecmp(t->value, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(t->value, "false") == 0) {
        return 0;
    }
    return DB_ERR_INVALID;
}

int ytree_int(const struct ytree *t, long long min, long long max, long long *out)
{
    long long v = 0;
    size_t i = 0;

    *out = 0;
    if (t == NULL || t->kind != YTREE_SCALAR || !t->plain || t->value[0] == '\0') {
        return DB_ERR_INVALID;
    }
    if (t->value[0] == '-') {
        i = 1;
    }
    if (t->value[i] == '\0') {
        return DB_ERR_INVALID;
    }
    for (; t->value[i] != '\0'; i++) {
        if (t->value[i] < '0' || t->value[i] > '9') {
            return DB_ERR_INVALID;
        }
        /* Stop before overflow: anything this long is out of range anyway. */
        if (v > 1000000000000LL) {
            return DB_ERR_INVALID;
        }
        v = v * 10 + (t->value[i] - '0');
    }
    if (t->value[0] == '-') {
        v = -v;
    }
    if (v < min || v > max) {
        return DB_ERR_INVALID;
    }
    *out = v;
    return 0;
}
