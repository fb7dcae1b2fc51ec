/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the signer's formats (broker/signer: wire.c, cakey.c,
 * certkey.c, proto.c): the CA key file round trip, checked against
 * ssh-keygen's own reading of it; certificates built and parsed back field
 * by field, read by `ssh-keygen -L`, and refused after any change of a byte;
 * the builder refusing what Drawbridge must never issue (no principal, a
 * list of principals smuggled in with a comma, an empty validity); and the
 * request format refusing every truncation, trailing byte and malformed
 * field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signer.h"

struct fx {
    char dir[64];
    char key[128];
    char pub[160];
    struct cakey *ca;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256] = "";

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_certkey.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->key, sizeof(f->key), "%s/user_ca", f->dir);
    snprintf(f->pub, sizeof(f->pub), "%s/user_ca.pub", f->dir);
    assert_int_equal(cakey_generate(f->key, "drawbridge-user-ca", err, sizeof(err)), 0);
    assert_int_equal(cakey_load(f->key, &f->ca, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    cakey_free(f->ca);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int have_ssh_keygen(void)
{
    return access("/usr/bin/ssh-keygen", X_OK) == 0;
}

/* Runs cmd and returns its first line of output (or "" on failure). */
static void run_line(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");

    out[0] = '\0';
    assert_non_null(p);
    if (fgets(out, (int)outlen, p) == NULL) {
        out[0] = '\0';
    }
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static void test_cakey_files(void **state)
{
    struct fx *f = *state;
    struct stat st;
    unsigned char pk[CERTKEY_PK_LEN];
    char err[256] = "", line[256], cmd[512], want[256];

    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(cakey_read_pub(f->pub, pk, err, sizeof(err)), 0);
    assert_memory_equal(pk, cakey_public(f->ca), CERTKEY_PK_LEN);
    /* never over an existing key */
    assert_int_not_equal(cakey_generate(f->key, "again", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "File exists"));
    if (have_ssh_keygen()) {
        /* OpenSSH reads the private key file and derives the same public key */
        snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f '%s' 2>&1", f->key);
        run_line(cmd, line, sizeof(line));
        /* with the comment the key file carries */
        assert_int_equal(cakey_pub_line(pk, "drawbridge-user-ca", want, sizeof(want)), 0);
        assert_string_equal(line, want);
    }
}

static void test_cakey_refuses(void **state)
{
    struct fx *f = *state;
    struct cakey *k = NULL;
    char err[256] = "", *text = NULL, *mid = NULL;
    FILE *fp = fopen(f->key, "r");
    long len = 0;

    (void)state;
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    len = ftell(fp);
    rewind(fp);
    text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    assert_int_equal(cakey_parse(text, (size_t)len, &k, err, sizeof(err)), 0);
    cakey_free(k);
    k = NULL;
    /* any changed character in the body: a damaged key, never a different one */
    mid = strchr(text, '\n') + 40;
    for (char c = 'A'; c <= 'C'; c++) {
        char save = *mid;

        *mid = *mid == c ? 'D' : c;
        assert_int_not_equal(cakey_parse(text, (size_t)len, &k, err, sizeof(err)), 0);
        assert_null(k);
        *mid = save;
    }
    /* truncated, empty, a NUL inside, no armour */
    assert_int_not_equal(cakey_parse(text, (size_t)len / 2, &k, err, sizeof(err)), 0);
    assert_int_not_equal(cakey_parse("", 0, &k, err, sizeof(err)), 0);
    text[60] = '\0';
    assert_int_not_equal(cakey_parse(text, (size_t)len, &k, err, sizeof(err)), 0);
    assert_int_not_equal(cakey_parse("ssh-ed25519 AAAA", 16, &k, err, sizeof(err)), 0);
    assert_null(k);
    free(text);
    /* a missing file says so */
    assert_int_equal(cakey_load("/nonexistent/user_ca", &k, err, sizeof(err)), DB_ERR_NOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/user_ca"));
}

static void spec_fill(struct certkey_spec *s, unsigned char pk[CERTKEY_PK_LEN])
{
    for (int i = 0; i < CERTKEY_PK_LEN; i++) {
        pk[i] = (unsigned char)(i * 7 + 1);
    }
    memset(s, 0, sizeof(*s));
    memcpy(s->pk, pk, CERTKEY_PK_LEN);
    s->serial = 0x123456789abcdef0ULL;
    s->key_id = "drawbridge user=alice target=web-1 login=deploy session=abcdefghijklmnop grant=12";
    s->principal = "drawbridge:web-1";
    s->valid_after = 1700000000 - 60;
    s->valid_before = 1700000000 + 120;
    s->source_address = "127.0.0.1";
}

static void test_cert_roundtrip(void **state)
{
    struct fx *f = *state;
    struct certkey_spec s;
    struct certkey_info c;
    unsigned char pk[CERTKEY_PK_LEN], *blob = NULL;
    size_t len = 0;
    char err[256] = "";

    spec_fill(&s, pk);
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), 0);
    assert_int_equal(certkey_parse(blob, len, &c, err, sizeof(err)), 0);
    assert_memory_equal(c.pk, pk, CERTKEY_PK_LEN);
    assert_true(c.serial == s.serial);
    assert_int_equal(c.type, 1);
    assert_string_equal(c.key_id, s.key_id);
    assert_int_equal(c.nprincipals, 1);
    assert_string_equal(c.principals[0], "drawbridge:web-1");
    assert_true(c.valid_after == s.valid_after && c.valid_before == s.valid_before);
    assert_string_equal(c.critical, "source-address");
    assert_string_equal(c.source_address, "127.0.0.1");
    assert_string_equal(c.extensions, "permit-pty");
    assert_memory_equal(c.ca_pk, cakey_public(f->ca), CERTKEY_PK_LEN);
    /* two certificates for the same key differ (the nonce) */
    {
        unsigned char *b2 = NULL;
        size_t l2 = 0;

        assert_int_equal(certkey_build(&s, f->ca, &b2, &l2, err, sizeof(err)), 0);
        assert_int_equal(l2, len);
        assert_memory_not_equal(b2, blob, len);
        free(b2);
    }
    /* every single changed byte is refused: bad encoding or bad signature */
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x01;
        assert_int_not_equal(certkey_parse(blob, len, &c, err, sizeof(err)), 0);
        blob[i] ^= 0x01;
    }
    /* and so is every truncation and a trailing byte */
    for (size_t i = 0; i < len; i++) {
        assert_int_not_equal(certkey_parse(blob, i, &c, err, sizeof(err)), 0);
    }
    {
        unsigned char *longer = malloc(len + 1);

        assert_non_null(longer);
        memcpy(longer, blob, len);
        longer[len] = 0;
        assert_int_not_equal(certkey_parse(longer, len + 1, &c, err, sizeof(err)), 0);
        free(longer);
    }
    free(blob);
}

static void test_cert_ssh_keygen(void **state)
{
    struct fx *f = *state;
    struct certkey_spec s;
    unsigned char pk[CERTKEY_PK_LEN], *blob = NULL;
    size_t len = 0;
    char err[256] = "", line[1024], path[160], cmd[512], out[8192], fp[256];
    FILE *fo = NULL;
    size_t n = 0;

    if (!have_ssh_keygen()) {
        skip();
    }
    spec_fill(&s, pk);
    s.source_address = "10.1.2.3";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), 0);
    assert_int_equal(certkey_pub_line(blob, len, line, sizeof(line)), 0);
    snprintf(path, sizeof(path), "%s/k-cert.pub", f->dir);
    fo = fopen(path, "w");
    assert_non_null(fo);
    fprintf(fo, "%s\n", line);
    fclose(fo);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -L -f '%s' 2>&1", path);
    fo = popen(cmd, "r");
    assert_non_null(fo);
    n = fread(out, 1, sizeof(out) - 1, fo);
    out[n] = '\0';
    assert_int_equal(pclose(fo), 0);
    assert_non_null(strstr(out, "Type: ssh-ed25519-cert-v01@openssh.com user certificate"));
    assert_non_null(strstr(out, "Key ID: \"drawbridge user=alice target=web-1 login=deploy "
                                "session=abcdefghijklmnop grant=12\""));
    assert_non_null(strstr(out, "Serial: 1311768467463790320"));
    assert_non_null(strstr(out, "Principals: \n                drawbridge:web-1\n        Critical"));
    assert_non_null(strstr(out, "source-address 10.1.2.3"));
    assert_non_null(strstr(out, "Extensions: \n                permit-pty\n"));
    /* signed by our CA: ssh-keygen names its fingerprint */
    snprintf(cmd, sizeof(cmd), "ssh-keygen -l -f '%s.pub' | cut -d' ' -f2", f->key);
    run_line(cmd, fp, sizeof(fp));
    assert_true(strlen(fp) > 10);
    assert_non_null(strstr(out, fp));
    free(blob);
}

static void test_cert_refuses_to_build(void **state)
{
    struct fx *f = *state;
    struct certkey_spec s;
    unsigned char pk[CERTKEY_PK_LEN], *blob = NULL;
    size_t len = 0;
    char err[256] = "";

    spec_fill(&s, pk);
    s.principal = "";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    s.principal = "drawbridge:web-1,drawbridge:db-1";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    spec_fill(&s, pk);
    s.valid_before = s.valid_after;
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    spec_fill(&s, pk);
    s.key_id = "";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    spec_fill(&s, pk);
    s.key_id = "drawbridge user=a\nforged";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    spec_fill(&s, pk);
    s.source_address = "";
    assert_int_equal(certkey_build(&s, f->ca, &blob, &len, err, sizeof(err)), DB_ERR_INVALID);
    assert_null(blob);
}

static void req_fill(struct signer_cert_req *q)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->user, sizeof(q->user), "alice");
    snprintf(q->target, sizeof(q->target), "web-1");
    snprintf(q->login, sizeof(q->login), "deploy");
    snprintf(q->session, sizeof(q->session), "abcdefghijklmn27");
    snprintf(q->source, sizeof(q->source), "127.0.0.1");
    memset(q->pk, 0x42, sizeof(q->pk));
}

static void test_proto_request(void **state)
{
    struct signer_cert_req q, back;
    struct wire_w w;
    char why[128];

    (void)state;
    req_fill(&q);
    wire_w_init(&w);
    signer_cert_req_encode(&w, &q);
    assert_false(w.bad);
    assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)), 0);
    assert_memory_equal(&q, &back, sizeof(q));
    for (size_t i = 0; i < w.len; i++) {
        assert_int_equal(signer_cert_req_decode(w.p, i, &back, why, sizeof(why)), DB_ERR_INVALID);
    }
    w.p[0] = 2; /* another version */
    assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)), DB_ERR_INVALID);
    w.p[0] = SIGNER_PROTO_VERSION;
    wire_put_u8(&w, 0); /* a trailing byte */
    assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)), DB_ERR_INVALID);
    wire_w_free(&w);
}

static void test_proto_request_fields(void **state)
{
    static const struct {
        const char *field;
        const char *value;
    } bad[] = {
        {"user", "Alice"},          {"user", "alice+web-1"},   {"user", ""},
        {"target", "web 1"},        {"target", "../etc"},      {"login", "-oProxyCommand"},
        {"login", "root@x"},        {"session", "ABCDEFGHIJKLMNOP"}, {"session", "short"},
        {"source", "localhost"},    {"source", "127.0.0.1/8"}, {"source", "1.2.3.4 "},
    };
    struct signer_cert_req q, back;
    char why[128];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wire_w w;
        char *dst = NULL;
        size_t cap = 0;

        req_fill(&q);
        if (strcmp(bad[i].field, "user") == 0) {
            dst = q.user, cap = sizeof(q.user);
        } else if (strcmp(bad[i].field, "target") == 0) {
            dst = q.target, cap = sizeof(q.target);
        } else if (strcmp(bad[i].field, "login") == 0) {
            dst = q.login, cap = sizeof(q.login);
        } else if (strcmp(bad[i].field, "session") == 0) {
            dst = q.session, cap = sizeof(q.session);
        } else {
            dst = q.source, cap = sizeof(q.source);
        }
        snprintf(dst, cap, "%s", bad[i].value);
        wire_w_init(&w);
        signer_cert_req_encode(&w, &q);
        assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)),
                         DB_ERR_INVALID);
        wire_w_free(&w);
    }
    /* a key of another length, a name longer than its field */
    {
        struct wire_w w;

        req_fill(&q);
        wire_w_init(&w);
        wire_put_u8(&w, SIGNER_PROTO_VERSION);
        wire_put_u8(&w, SIGNER_MSG_CERT);
        wire_put_cstr(&w, q.user);
        wire_put_cstr(&w, q.target);
        wire_put_cstr(&w, q.login);
        wire_put_cstr(&w, q.session);
        wire_put_cstr(&w, q.source);
        wire_put_string(&w, q.pk, 31);
        assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)),
                         DB_ERR_INVALID);
        wire_w_free(&w);
        wire_w_init(&w);
        wire_put_u8(&w, SIGNER_PROTO_VERSION);
        wire_put_u8(&w, SIGNER_MSG_CERT);
        wire_put_u32(&w, 0xffffffffu); /* a length far past the message */
        assert_int_equal(signer_cert_req_decode(w.p, w.len, &back, why, sizeof(why)),
                         DB_ERR_INVALID);
        wire_w_free(&w);
    }
}

static void test_proto_replies(void **state)
{
    struct signer_cert_reply a, b;
    struct signer_check_reply c, d;
    struct wire_w w;

    (void)state;
    memset(&a, 0, sizeof(a));
    a.status = SIGNER_OK;
    snprintf(a.message, sizeof(a.message), "ok");
    memset(a.cert, 7, 300);
    a.certlen = 300;
    a.serial = 99;
    wire_w_init(&w);
    signer_cert_reply_encode(&w, &a);
    assert_int_equal(signer_cert_reply_decode(w.p, w.len, &b), 0);
    assert_int_equal(b.certlen, 300);
    assert_true(b.serial == 99);
    wire_w_free(&w);
    /* "ok" without a certificate, or a refusal carrying one, is not a reply */
    a.certlen = 0;
    wire_w_init(&w);
    signer_cert_reply_encode(&w, &a);
    assert_int_equal(signer_cert_reply_decode(w.p, w.len, &b), DB_ERR_INVALID);
    wire_w_free(&w);
    a.status = SIGNER_REFUSED;
    snprintf(a.message, sizeof(a.message), "line one\nline two");
    wire_w_init(&w);
    signer_cert_reply_encode(&w, &a);
    assert_int_equal(signer_cert_reply_decode(w.p, w.len, &b), DB_ERR_INVALID);
    wire_w_free(&w);
    memset(&c, 0, sizeof(c));
    c.status = SIGNER_OK;
    c.grant = 12;
    c.ends = 1800000000;
    c.cert_mode = 1;
    wire_w_init(&w);
    signer_check_reply_encode(&w, &c);
    assert_int_equal(signer_check_reply_decode(w.p, w.len, &d), 0);
    assert_true(d.grant == 12 && d.ends == 1800000000 && d.cert_mode == 1);
    wire_w_free(&w);
    /* a grant comes with its end (the certificate's limit), standing access with none */
    c.ends = 0;
    wire_w_init(&w);
    signer_check_reply_encode(&w, &c);
    assert_int_equal(signer_check_reply_decode(w.p, w.len, &d), DB_ERR_INVALID);
    wire_w_free(&w);
    c.grant = 0;
    c.ends = 1800000000;
    wire_w_init(&w);
    signer_check_reply_encode(&w, &c);
    assert_int_equal(signer_check_reply_decode(w.p, w.len, &d), DB_ERR_INVALID);
    wire_w_free(&w);
}

static void test_key_id(void **state)
{
    char buf[256];

    (void)state;
    signer_key_id(buf, sizeof(buf), "alice", "web-1", "deploy", "abcdefghijklmnop", 12);
    assert_string_equal(buf, "drawbridge user=alice target=web-1 login=deploy "
                             "session=abcdefghijklmnop grant=12");
    signer_key_id(buf, sizeof(buf), "bob", "staging-1", "root", "abcdefghijklmnop", 0);
    assert_string_equal(buf, "drawbridge user=bob target=staging-1 login=root "
                             "session=abcdefghijklmnop grant=standing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cakey_files, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cakey_refuses, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cert_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cert_ssh_keygen, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cert_refuses_to_build, fx_setup, fx_teardown),
        cmocka_unit_test(test_proto_request),
        cmocka_unit_test(test_proto_request_fields),
        cmocka_unit_test(test_proto_replies),
        cmocka_unit_test(test_key_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
