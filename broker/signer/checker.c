/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signer's checker: a process under the gateway's own account, started
 * with the signer and reachable only through the signer's socketpair.  It
 * answers two questions for the signer -- may USER reach TARGET as LOGIN at
 * time NOW (the directory for the user's groups, then access_connect_check:
 * the same check as `ssh USER+TARGET@gw` and `connect`), and "write this
 * audit row" -- and nothing else.  It reads the store, the directory and the
 * policy as every other part of the gateway does, which is why it is not
 * the signer itself: the signer's account can read the CA key and nothing of
 * the gateway's state.
 *
 * The policy is the one on disk: loaded at start and again when the listener
 * reloads (SIGHUP), keeping the previous one when the new one fails, as the
 * listener does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "signer.h"

struct checker {
    const struct config *cfg;
    struct policy *policy;
    struct store *store;
    struct dir *dir;
};

static int checker_store(struct checker *k)
{
    char err[256] = "";

    if (k->store != NULL) {
        return 0;
    }
    if (store_open_config(k->cfg, &k->store, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "checker.store", "%s", err);
        return DB_ERR_UNAVAIL;
    }
    return 0;
}

static void checker_load_policy(struct checker *k)
{
    struct policy *p = NULL;
    char err[4096] = "";

    if (policy_load_file(k->cfg->policy_path, &p, err, sizeof(err)) != 0) {
        db_oneline(err);
        log_msg(LOG_LVL_ERROR, "checker.policy", "keeping the previous policy: %s", err);
        return;
    }
    policy_free(k->policy);
    k->policy = p;
}

static void checker_check(struct checker *k, const struct signer_check_req *q,
                          struct signer_check_reply *a)
{
    struct dir_user *u = NULL;
    struct policy_subject who;
    struct access_connect ac;
    struct access acc;
    char err[SIGNER_TEXT_MAX + 1] = "";
    int r = DB_ERR_INTERNAL;

    memset(a, 0, sizeof(a[0]));
    a->status = SIGNER_UNAVAIL;
    if (k->policy == NULL) {
        snprintf(a->message, sizeof(a->message), "the signer has no valid policy loaded");
        return;
    }
    if (checker_store(k) != 0) {
        snprintf(a->message, sizeof(a->message), "the signer cannot read the store");
        return;
    }
    r = dir_lookup(k->dir, q->user, &u, err, sizeof(err));
    if (r == DB_ERR_NOTFOUND) {
        a->status = SIGNER_REFUSED;
        snprintf(a->message, sizeof(a->message), "no user %s in the directory", q->user);
        return;
    }
    if (r != 0) {
        snprintf(a->message, sizeof(a->message), "the directory cannot be asked: %.300s", err);
        db_oneline(a->message);
        return;
    }
    who.user = u->name;
    who.groups = (const char *const *)u->groups;
    who.ngroups = u->ngroups;
    memset(&acc, 0, sizeof(acc));
    acc.store = k->store;
    acc.policy = k->policy;
    memset(&ac, 0, sizeof(ac));
    r = access_connect_check(&acc, k->policy, &who, q->target, q->login, q->now, &ac, err,
                             sizeof(err));
    if (r == 0 && (ac.target == NULL || strcmp(ac.login, q->login) != 0)) {
        r = DB_ERR_INTERNAL; /* never sign for a login other than the one asked */
        snprintf(err, sizeof(err), "no access as %s", q->login);
    }
    if (r == 0) {
        a->status = SIGNER_OK;
        a->grant = ac.grant_id;
        a->ends = ac.grant_id > 0 ? ac.ends_at : 0;
        a->cert_mode = (uint8_t)config_target_uses_certificate(k->cfg, ac.target);
        snprintf(a->message, sizeof(a->message), "allowed");
    } else {
        a->status = r == DB_ERR_UNAVAIL ? SIGNER_UNAVAIL : SIGNER_REFUSED;
        snprintf(a->message, sizeof(a->message), "%s", err[0] ? err : "access refused");
        db_oneline(a->message);
        /* a store that failed under us is opened again for the next request */
        if (r == DB_ERR_UNAVAIL || r == DB_ERR_IO) {
            store_close(k->store);
            k->store = NULL;
        }
    }
    dir_user_free(u);
}

static void checker_audit(struct checker *k, const struct signer_audit_req *q,
                          struct signer_check_reply *a)
{
    json_t *d = json_loads(q->details, 0, NULL);

    memset(a, 0, sizeof(a[0]));
    a->status = SIGNER_UNAVAIL;
    if (!json_is_object(d)) {
        snprintf(a->message, sizeof(a->message), "audit details are not a JSON object");
    } else if (checker_store(k) != 0 ||
               access_audit_event(k->store, q->now, q->actor, q->event, q->object, d) != 0) {
        snprintf(a->message, sizeof(a->message), "the audit row could not be written");
        log_msg(LOG_LVL_ERROR, "checker.audit", "event %s could not be written", q->event);
        store_close(k->store);
        k->store = NULL;
    } else {
        a->status = SIGNER_OK;
    }
    json_decref(d);
}

int checker_main(const struct config *cfg, int sock)
{
    struct checker k;
    unsigned char buf[SIGNER_MSG_MAX];
    int rc = 1;

    memset(&k, 0, sizeof(k));
    k.cfg = cfg;
    if (dir_new(cfg, &k.dir) != 0) {
        log_msg(LOG_LVL_ERROR, "checker.start", "out of memory");
        return 1;
    }
    checker_load_policy(&k);
    checker_store(&k);
    log_msg(LOG_LVL_INFO, "checker.start", "pid=%d uid=%d", (int)getpid(), (int)getuid());
    for (;;) {
        struct signer_check_req q;
        struct signer_audit_req au;
        struct signer_check_reply a;
        struct wire_w w;
        ssize_t n = signer_recv(sock, buf, sizeof(buf), NULL);
        int kind = 0;

        if (n == 0) {
            rc = 0; /* the signer is gone */
            break;
        }
        if (n < 0 || signer_checker_decode(buf, (size_t)n, &kind, &q, &au) != 0) {
            log_msg(LOG_LVL_ERROR, "checker.request", "a malformed request from the signer");
            memset(&a, 0, sizeof(a));
            a.status = SIGNER_UNAVAIL;
            snprintf(a.message, sizeof(a.message), "malformed request");
        } else if (kind == SIGNER_MSG_RELOAD) {
            checker_load_policy(&k);
            continue; /* no answer */
        } else if (kind == SIGNER_MSG_CHECK) {
            checker_check(&k, &q, &a);
        } else {
            checker_audit(&k, &au, &a);
        }
        wire_w_init(&w);
        signer_check_reply_encode(&w, &a);
        if (signer_send(sock, &w, -1) != 0) {
            wire_w_free(&w);
            break;
        }
        wire_w_free(&w);
    }
    store_close(k.store);
    dir_free(k.dir);
    policy_free(k.policy);
    close(sock);
    return rc;
}
