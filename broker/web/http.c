/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP plumbing shared by the handlers: responses with the headers every
 * answer carries, JSON bodies and errors, reading headers, query
 * arguments, small JSON and form bodies, and terminal bytes made JSON text.
 *
 * Every response says: a Content-Security-Policy allowing scripts, styles,
 * fetches and images from the console itself only (plus 'wasm-unsafe-eval',
 * which the player's terminal emulator needs), no framing, no referrer,
 * no MIME sniffing, HTTPS only (HSTS).  Nothing the console serves
 * is inline script, so the policy costs the pages nothing.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

static const char web_csp[] =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void web_headers(struct MHD_Response *resp, int cacheable)
{
    MHD_add_response_header(resp, "Content-Security-Policy", web_csp);
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, "Cache-Control", cacheable ? "no-cache" : "no-store");
}

int web_send(struct web_req *r, unsigned status, const char *type, const void *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    int ret;

    if (resp == NULL) {
        return MHD_NO;
    }
    web_headers(resp, 0);
    if (type != NULL) {
        MHD_add_response_header(resp, "Content-Type", type);
    }
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int web_send_json(struct web_req *r, unsigned status, struct json_t *v)
{
    char *s = NULL;
    int ret;

    if (v == NULL) {
        return web_send_error(r, 500, "out of memory");
    }
    s = json_dumps(v,
                   JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
    json_decref(v);
    if (s == NULL) {
        return web_send_error(r, 500, "out of memory");
    }
    ret = web_send(r, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

int web_send_error(struct web_req *r, unsigned status, const char *msg)
{
    static const char fallback[] = "{\"error\":\"out of memory\"}";
    json_t *o = json_pack("{so}", "error", shell_json_string(msg != NULL ? msg : "failed"));
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    int ret;

    json_decref(o);
    if (s == NULL) {
        return web_send(r, 500, "application/json", fallback, strlen(fallback));
    }
    ret = web_send(r, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

int web_redirect(struct web_req *r, const char *location, const char *cookie)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    int ret;

    if (resp == NULL) {
        return MHD_NO;
    }
    web_headers(resp, 0);
    MHD_add_response_header(resp, "Location", location);
    if (cookie != NULL) {
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    }
    ret = MHD_queue_response(r->conn, MHD_HTTP_SEE_OTHER, resp);
    MHD_destroy_response(resp);
    return ret;
}

const char *web_header(struct web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_query(struct web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct json_t *web_body_json(struct web_req *r, int *sent)
{
    json_error_t je;
    json_t *v = NULL;

    *sent = 0;
    if (r->body_too_big) {
        *sent = 1;
        web_send_error(r, 413, "the request body is too large");
        return NULL;
    }
    if (r->bodylen == 0) {
        return json_object();
    }
    v = json_loadb(r->body, r->bodylen, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        *sent = 1;
        web_send_error(r, 400, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

static int web_hexval(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

int web_form_field(const struct web_req *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name), i = 0;

    out[0] = '\0';
    if (r->body == NULL || r->body_too_big) {
        return DB_ERR_NOTFOUND;
    }
    while (i < r->bodylen) {
        size_t end = i, o = 0;

        while (end < r->bodylen && r->body[end] != '&') {
            end++;
        }
        if (end - i > nlen && memcmp(r->body + i, name, nlen) == 0 && r->body[i + nlen] == '=') {
            for (size_t k = i + nlen + 1; k < end; k++) {
                char ch = r->body[k];

                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%') {
                    int hi = k + 2 < end ? web_hexval(r->body[k + 1]) : -1;
                    int lo = k + 2 < end ? web_hexval(r->body[k + 2]) : -1;

                    if (hi < 0 || lo < 0) {
                        return DB_ERR_INVALID;
                    }
                    ch = (char)(hi << 4 | lo);
                    k += 2;
                }
                if (ch == '\0' || o + 1 >= outlen) {
                    return DB_ERR_INVALID;
                }
                out[o++] = ch;
            }
            out[o] = '\0';
            return 0;
        }
        i = end + 1;
    }
    return DB_ERR_NOTFOUND;
}

unsigned web_status_for(int rc)
{
    switch (rc) {
    case DB_ERR_INVALID:
    case DB_ERR_USAGE:
        return 400;
    case DB_ERR_AUTH:
        return 401;
    case DB_ERR_DENIED:
        return 403;
    case DB_ERR_NOTFOUND:
        return 404;
    case DB_ERR_CONFLICT:
    case DB_ERR_EXISTS:
    case DB_ERR_TAMPERED:
        return 409;
    case DB_ERR_UNAVAIL:
    case DB_ERR_BUSY:
    case DB_ERR_TIMEOUT:
        return 503;
    default:
        return 500;
    }
}

int web_secure_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

json_t *web_utf8_json(unsigned char carry[4], size_t *ncarry, const char *in, size_t len)
{
    size_t total = *ncarry + len, o = 0, i = 0;
    unsigned char *src = malloc(total + 1), *dst = malloc(total * 3 + 1);
    json_t *j = NULL;

    if (src == NULL || dst == NULL) {
        goto out;
    }
    memcpy(src, carry, *ncarry);
    memcpy(src + *ncarry, in, len);
    *ncarry = 0;
    while (i < total) {
        int n = rec_utf8_len(src + i, total - i);

        if (n < 0) { /* cut short: the rest comes with the next event */
            *ncarry = total - i;
            memcpy(carry, src + i, *ncarry);
            break;
        }
        if (n == 0 || (n == 1 && src[i] == 0)) {
            memcpy(dst + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(dst + o, src + i, (size_t)n);
        o += (size_t)n;
        i += (size_t)n;
    }
    j = json_stringn((const char *)dst, o);
out:
    free(src);
    free(dst);
    return j;
}
