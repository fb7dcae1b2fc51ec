/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pages and static files.  Everything the browser runs is a file under
 * static/ (HTML without inline script, one small ES module per page, one
 * stylesheet) or the asciinema player from its npm package, all read into
 * memory when the process starts: a page is the same bytes for everyone,
 * and its module fills it from the API.  The directory is web.files, by
 * default the source tree's broker/web (static/ and node_modules/ there)
 * when it is still there, else share/drawbridge/web beside the running
 * binary's sbin/ (wherever `cmake --install` or the package put both), else
 * where `cmake --install` would put them for the configured prefix.
 */
#include "web.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#ifndef DRAWBRIDGE_WEB_FILES_INSTALLED
#define DRAWBRIDGE_WEB_FILES_INSTALLED "/usr/share/drawbridge/web"
#endif
#ifndef DRAWBRIDGE_WEB_FILES
#define DRAWBRIDGE_WEB_FILES DRAWBRIDGE_WEB_FILES_INSTALLED
#endif

#define WEB_FILE_MAX (8u * 1024 * 1024)
#define WEB_FILES_MAX 128

static const char *web_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return NULL;
}

static int web_file_add(struct web_app *app, const char *path, const char *url, char *err,
                        size_t errlen)
{
    struct web_file *f = NULL;
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if (app->nfiles == WEB_FILES_MAX || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > WEB_FILE_MAX) {
        db_errf(err, errlen, "%s: not a file to serve", path);
        close(fd);
        return DB_ERR_INVALID;
    }
    f = &app->files[app->nfiles];
    memset(f, 0, sizeof(*f));
    f->type = web_type(url);
    f->name = strdup(url);
    f->data = malloc((size_t)st.st_size + 1);
    while (f->name != NULL && f->data != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, f->data + got, (size_t)st.st_size - got);

        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (f->name == NULL || f->data == NULL || got != (size_t)st.st_size) {
        free(f->name);
        free(f->data);
        db_errf(err, errlen, "%s: cannot read it", path);
        return DB_ERR_IO;
    }
    f->len = got;
    app->nfiles++;
    return 0;
}

/* PREFIX/share/drawbridge/web for the binary at PREFIX/sbin/drawbridge; "" when unknown. */
static void web_files_beside(char *buf, size_t buflen)
{
    char exe[PATH_MAX - 64]; /* room for the suffix in a PATH_MAX buffer */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = NULL;

    buf[0] = '\0';
    if (n <= 0) {
        return;
    }
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        if ((slash = strrchr(exe, '/')) == NULL) {
            return;
        }
        *slash = '\0';
    }
    snprintf(buf, buflen, "%s/share/drawbridge/web", exe[0] ? exe : "");
}

int web_files_load(struct web_app *app, char *err, size_t errlen)
{
    static const char *const player[] = {"asciinema-player.min.js", "asciinema-player.css"};
    const char *base = app->cfg->web.files;
    char dir[PATH_MAX + 16], path[PATH_MAX + 300], url[300], beside[PATH_MAX];
    struct stat st;
    struct dirent *de = NULL;
    DIR *d = NULL;
    int r = 0;

    if ((app->files = calloc(WEB_FILES_MAX, sizeof(*app->files))) == NULL) {
        return DB_ERR_NOMEM;
    }
    if (base == NULL) {
        web_files_beside(beside, sizeof(beside));
        snprintf(dir, sizeof(dir), "%s/static", beside);
        base = stat(DRAWBRIDGE_WEB_FILES "/static", &st) == 0 ? DRAWBRIDGE_WEB_FILES
               : beside[0] != '\0' && stat(dir, &st) == 0     ? beside
                                                               : DRAWBRIDGE_WEB_FILES_INSTALLED;
    }
    snprintf(dir, sizeof(dir), "%s/static", base);
    if ((d = opendir(dir)) == NULL) {
        db_errf(err, errlen, "%s: %s (web.files)", dir, strerror(errno));
        return DB_ERR_IO;
    }
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || web_type(de->d_name) == NULL || strlen(de->d_name) > 200) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(url, sizeof(url), "/static/%s", de->d_name);
        r = web_file_add(app, path, url, err, errlen);
    }
    closedir(d);
    for (size_t i = 0; r == 0 && i < sizeof(player) / sizeof(player[0]); i++) {
        char perr[300];

        snprintf(path, sizeof(path), "%s/node_modules/asciinema-player/dist/bundle/%s", base,
                 player[i]);
        snprintf(url, sizeof(url), "/static/player/%s", player[i]);
        if (web_file_add(app, path, url, perr, sizeof(perr)) != 0) {
            log_msg(LOG_LVL_WARN, "web.player_missing",
                    "%s: the player will not load (install it: npm ci --prefix %s)", perr, base);
        }
    }
    return r;
}

void web_files_free(struct web_app *app)
{
    for (size_t i = 0; app->files != NULL && i < app->nfiles; i++) {
        free(app->files[i].name);
        free(app->files[i].data);
    }
    free(app->files);
    app->files = NULL;
    app->nfiles = 0;
}

static int web_serve(struct web_req *r, const char *url)
{
    struct MHD_Response *resp = NULL;
    int ret;

    for (size_t i = 0; i < r->app->nfiles; i++) {
        const struct web_file *f = &r->app->files[i];

        if (strcmp(f->name, url) != 0) {
            continue;
        }
        resp = MHD_create_response_from_buffer(f->len, f->data, MHD_RESPMEM_PERSISTENT);
        if (resp == NULL) {
            return MHD_NO;
        }
        web_headers(resp, 1);
        MHD_add_response_header(resp, "Content-Type", f->type);
        ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    return web_send(r, 404, "text/plain; charset=utf-8", "no such file\n", 13);
}

int web_h_page(struct web_req *r)
{
    char url[300];

    snprintf(url, sizeof(url), "/static/%s", r->route->file);
    return web_serve(r, url);
}

int web_h_static(struct web_req *r)
{
    return web_serve(r, r->url);
}

int web_h_root(struct web_req *r)
{
    return web_redirect(r, "/requests", NULL);
}
