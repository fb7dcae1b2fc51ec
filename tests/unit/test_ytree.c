/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policies/yamltree.c: what the reader refuses (with the line
 * it names), the shape and line numbers of what it accepts, reading files
 * (size limit, non-regular files) and the small typed accessors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

struct bad_case {
    const char *yaml;
    int line;           /* expected line in "t.yaml:LINE: " */
    const char *needle; /* expected substring of the message */
};

static const struct bad_case bad_cases[] = {
    {"a: &x 1\nb: *x\n", 1, "anchors"},
    {"a: 1\nb: *x\n", 2, NULL},
    {"a:\n  - 1\n  - &y [2]\n", 3, "anchors"},
    {"a: !custom 1\n", 1, "tag !custom"},
    {"a: !!python/object 1\n", 1, "not allowed"},
    {"a: !!map [1]\n", 1, "not allowed"},
    {"a: !!null x\n", 1, "!!null"},
    {"a: 1\n---\nb: 2\n", 2, "more than one document"},
    {"a: 1\nb: 2\na: 3\n", 3, "duplicate key \"a\" (first on line 1)"},
    {"x:\n  y: 1\n  z: 2\n  y: 3\n", 4, "duplicate key \"y\""},
    {"? [1, 2]\n: 3\n", 1, "map keys"},
    {"a: \"nul\\0here\"\n", 1, "NUL"},
    {"a: [1, 2\n", 2, NULL},
    {"a: b: c\n", 1, NULL},
    {"\tkey: 1\n", 1, NULL},
    {"", 1, "empty document"},
    {"# only a comment\n", 1, "empty document"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct ytree *t = NULL;
        char err[256], prefix[32];
        int r = ytree_parse("t.yaml", c->yaml, strlen(c->yaml), &t, err, sizeof(err));

        if (r != DB_ERR_INVALID) {
            print_error("case %zu: expected DB_ERR_INVALID, got %d\n", i, r);
        }
        assert_int_equal(r, DB_ERR_INVALID);
        assert_null(t);
        snprintf(prefix, sizeof(prefix), "t.yaml:%d: ", c->line);
        if (strncmp(err, prefix, strlen(prefix)) != 0) {
            print_error("case %zu: err \"%s\", wanted prefix \"%s\"\n", i, err, prefix);
        }
        assert_memory_equal(err, prefix, strlen(prefix));
        if (c->needle != NULL && strstr(err, c->needle) == NULL) {
            print_error("case %zu: err \"%s\" lacks \"%s\"\n", i, err, c->needle);
            fail();
        }
    }
}

static const char *const good_inputs[] = {
    "a: 1\n",
    "---\na: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: !!str 1\nb: !!int 2\nc: !!bool true\nd: !!null ~\ne: !!seq [1]\nf: !!map {x: 1}\n",
    "[1, 2, {a: b}]\n",
    "plain\n",
};

static void test_good_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_inputs) / sizeof(good_inputs[0]); i++) {
        struct ytree *t = NULL;
        char err[256] = "";
        int r = ytree_parse("t.yaml", good_inputs[i], strlen(good_inputs[i]), &t, err, sizeof(err));

        if (r != 0) {
            print_error("case %zu: %s\n", i, err);
        }
        assert_int_equal(r, 0);
        assert_non_null(t);
        ytree_free(t);
    }
}

static void test_shape_and_lines(void **state)
{
    static const char doc[] = "# comment\n"
                              "name: web-1\n"
                              "list:\n"
                              "  - one\n"
                              "  - \"two\"\n"
                              "\n"
                              "map: {k: v, n: ~}\n"
                              "empty:\n"
                              "quoted_null: 'null'\n"
                              "block: |\n"
                              "  line1\n"
                              "  line2\n";
    struct ytree *t = NULL;
    const struct ytree *n = NULL;
    char err[256] = "";

    (void)state;
    assert_int_equal(ytree_parse("t.yaml", doc, sizeof(doc) - 1, &t, err, sizeof(err)), 0);
    assert_int_equal(t->kind, YTREE_MAP);
    assert_int_equal(t->nkids, 6);
    assert_int_equal(t->line, 2);
    assert_string_equal(t->keys[0], "name");
    assert_int_equal(t->key_lines[0], 2);
    assert_int_equal(t->key_lines[1], 3);
    assert_int_equal(t->key_lines[2], 7);
    assert_int_equal(t->key_lines[5], 10);

    n = ytree_get(t, "name");
    assert_non_null(n);
    assert_int_equal(n->kind, YTREE_SCALAR);
    assert_string_equal(n->value, "web-1");
    assert_int_equal(n->value_len, 5);
    assert_true(n->plain);

    n = ytree_get(t, "list");
    assert_int_equal(n->kind, YTREE_SEQ);
    assert_int_equal(n->nkids, 2);
    assert_int_equal(n->kids[0]->line, 4);
    assert_int_equal(n->kids[1]->line, 5);
    assert_true(n->kids[0]->plain);
    assert_false(n->kids[1]->plain);
    assert_string_equal(n->kids[1]->value, "two");

    n = ytree_get(t, "map");
    assert_int_equal(n->kind, YTREE_MAP);
    assert_int_equal(n->line, 7);
    assert_string_equal(ytree_get(n, "k")->value, "v");
    assert_true(ytree_is_null(ytree_get(n, "n")));

    assert_true(ytree_is_null(ytree_get(t, "empty")));
    assert_false(ytree_is_null(ytree_get(t, "quoted_null")));
    assert_string_equal(ytree_str(ytree_get(t, "quoted_null")), "null");
    assert_null(ytree_str(ytree_get(t, "empty")));
    assert_string_equal(ytree_get(t, "block")->value, "line1\nline2\n");
    assert_null(ytree_get(t, "absent"));
    assert_null(ytree_get(ytree_get(t, "list"), "name"));
    ytree_free(t);
}

static void test_helpers(void **state)
{
    static const char doc[] = "t: true\nT: TRUE\nf: false\nyes: yes\nq: \"true\"\n"
                              "i: 42\nneg: -3\nbig: 99999999999999999999\nx: 4x\ns: \"7\"\n"
                              "m: {}\n";
    static const char *const allowed[] = {"t", "T", "f", "yes", "q", "i", "neg", NULL};
    struct ytree *t = NULL;
    long long v = 0;
    int b = 0, line = 0;
    char err[256];

    (void)state;
    assert_int_equal(ytree_parse("h.yaml", doc, sizeof(doc) - 1, &t, err, sizeof(err)), 0);
    assert_int_equal(ytree_bool(ytree_get(t, "t"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ytree_bool(ytree_get(t, "T"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ytree_bool(ytree_get(t, "f"), &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(ytree_bool(ytree_get(t, "yes"), &b), DB_ERR_INVALID);
    assert_int_equal(ytree_bool(ytree_get(t, "q"), &b), DB_ERR_INVALID);
    assert_int_equal(ytree_bool(ytree_get(t, "m"), &b), DB_ERR_INVALID);

    assert_int_equal(ytree_int(ytree_get(t, "i"), 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(ytree_int(ytree_get(t, "i"), 0, 41, &v), DB_ERR_INVALID);
    assert_int_equal(ytree_int(ytree_get(t, "neg"), -5, 5, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(ytree_int(ytree_get(t, "neg"), 0, 5, &v), DB_ERR_INVALID);
    assert_int_equal(ytree_int(ytree_get(t, "big"), 0, 1000000, &v), DB_ERR_INVALID);
    assert_int_equal(ytree_int(ytree_get(t, "x"), 0, 100, &v), DB_ERR_INVALID);
    assert_int_equal(ytree_int(ytree_get(t, "s"), 0, 100, &v), DB_ERR_INVALID);

    assert_string_equal(ytree_unknown_key(t, allowed, &line), "big");
    assert_int_equal(line, 8);
    assert_int_equal(ytree_key_line(t, "s"), 10);
    assert_int_equal(ytree_key_line(t, "nope"), t->line);
    assert_string_equal(ytree_kind_name(t), "a map");
    assert_string_equal(ytree_kind_name(ytree_get(t, "i")), "a string");
    ytree_free(t);
    ytree_free(NULL);
}

static void test_depth_limit(void **state)
{
    char doc[512];
    size_t n = 0;
    struct ytree *t = NULL;
    char err[256];

    (void)state;
    for (int i = 0; i < 100; i++) {
        doc[n++] = '[';
    }
    for (int i = 0; i < 100; i++) {
        doc[n++] = ']';
    }
    assert_int_equal(ytree_parse("d.yaml", doc, n, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "nested"));
    /* 30 levels are fine. */
    n = 0;
    for (int i = 0; i < 30; i++) {
        doc[n++] = '[';
    }
    for (int i = 0; i < 30; i++) {
        doc[n++] = ']';
    }
    assert_int_equal(ytree_parse("d.yaml", doc, n, &t, err, sizeof(err)), 0);
    ytree_free(t);
}

static void test_size_limit(void **state)
{
    size_t big = 1024 * 1024 + 1;
    char *buf = malloc(big);
    struct ytree *t = NULL;
    char err[256];
    char path[] = "/tmp/test_ytree_XXXXXX";
    int fd = -1;

    (void)state;
    assert_non_null(buf);
    memset(buf, '#', big);
    assert_int_equal(ytree_parse("s.yaml", buf, big, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "1 MiB"));

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, big), (ssize_t)big);
    close(fd);
    assert_int_equal(ytree_parse_file(path, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "1 MiB"));
    /* Exactly 1 MiB of comment plus a real value just fits the limit. */
    assert_int_equal(truncate(path, 1024 * 1024), 0);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\na: 1\n", 6, 1024 * 1024 - 6), 6);
    close(fd);
    assert_int_equal(ytree_parse_file(path, &t, err, sizeof(err)), 0);
    assert_string_equal(ytree_get(t, "a")->value, "1");
    ytree_free(t);
    unlink(path);
    free(buf);
}

static void test_files(void **state)
{
    char dir[] = "/tmp/test_ytree_dir_XXXXXX";
    char path[256], fifo[256];
    struct ytree *t = NULL;
    char err[256];
    FILE *f = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ok.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("a:\n  b: 1\n", f);
    fclose(f);
    assert_int_equal(ytree_parse_file(path, &t, err, sizeof(err)), 0);
    assert_int_equal(ytree_get(ytree_get(t, "a"), "b")->line, 2);
    ytree_free(t);

    /* Errors name the file as given. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("a: 1\na: 2\n", f);
    fclose(f);
    assert_int_equal(ytree_parse_file(path, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, ":2: duplicate key"));
    assert_memory_equal(err, path, strlen(path));

    assert_int_equal(ytree_parse_file(dir, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(ytree_parse_file("/dev/null", &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Must not block waiting for a writer. */
    assert_int_equal(ytree_parse_file(fifo, &t, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(t);

    snprintf(path, sizeof(path), "%s/missing.yaml", dir);
    assert_int_equal(ytree_parse_file(path, &t, err, sizeof(err)), DB_ERR_IO);
    assert_non_null(strstr(err, "missing.yaml"));

    unlink(fifo);
    snprintf(path, sizeof(path), "%s/ok.yaml", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs),      cmocka_unit_test(test_good_inputs),
        cmocka_unit_test(test_shape_and_lines), cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_depth_limit),     cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
