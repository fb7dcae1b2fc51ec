/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the policy reader: arbitrary bytes go through the
 * YAML tree reader, the parser and lint (policy_load_buffer), then, when a
 * policy comes out, through evaluation for every target with a few subjects.
 * Besides memory errors it checks the invariants the rest of Drawbridge
 * relies on, and aborts when one breaks:
 *
 *   - an error always comes with a "name:line: message" text, success never
 *     with a NULL policy;
 *   - a loaded policy passes lint again;
 *   - standing access is never given to a protected target, even on a
 *     parsed policy that lint refused;
 *   - a login handed back is one the target offers;
 *   - nobody may approve their own request.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_result(const struct policy *p, const struct policy_result *res)
{
    if (res->verdict == POLICY_ALLOW_STANDING && policy_target_is_protected(p, res->target)) {
        abort();
    }
    if (res->login != NULL && !policy_target_has_login(res->target, res->login)) {
        abort();
    }
    if ((res->verdict == POLICY_ALLOW_GRANT || res->verdict == POLICY_ALLOW_STANDING) &&
        res->rule == NULL) {
        abort();
    }
}

static void fuzz_eval(const struct policy *p)
{
    static const char *const groups[] = {"sre", "sre-leads", "engineers", "oncall", "security"};
    const struct policy_subject subjects[] = {
        {"alice", groups, 1},   {"bob", groups + 1, 1},
        {"eve", groups + 2, 1}, {"root", groups, sizeof(groups) / sizeof(groups[0])},
        {"nobody", NULL, 0},
    };

    for (size_t t = 0; t < p->ntargets && t < 32; t++) {
        const struct policy_target *tg = &p->targets[t];

        for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++) {
            const char *login = tg->nlogins > 0 ? tg->logins[tg->nlogins - 1] : NULL;
            struct policy_connect_query cq = {subjects[s], tg->name, NULL, login};
            struct policy_request_query rq = {subjects[s], tg->name, login, 3600};
            struct policy_result res;

            if (policy_eval_connect(p, &cq, &res) != 0) {
                abort();
            }
            fuzz_check_result(p, &res);
            cq.login = login;
            cq.grant_login = NULL;
            (void)policy_eval_connect(p, &cq, &res);
            fuzz_check_result(p, &res);
            if (policy_eval_request(p, &rq, &res) == 0) {
                fuzz_check_result(p, &res);
                if (res.rule == NULL || res.rule->standing ||
                    policy_may_approve(res.rule, &subjects[s], subjects[s].user)) {
                    abort();
                }
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    char err[1024];
    char *lint = NULL;
    int r = 0;

    err[0] = '\0';
    r = policy_load_buffer("fuzz.yaml", (const char *)data, size, &p, err, sizeof(err));
    if (r != 0) {
        if (p != NULL || (r != DB_ERR_NOMEM && strncmp(err, "fuzz.yaml", 9) != 0)) {
            abort();
        }
    } else {
        if (p == NULL || policy_lint(p, NULL, 0) != 0) {
            abort();
        }
        fuzz_eval(p);
        policy_free(p);
        p = NULL;
    }

    /* Lint and evaluation must also hold up on policies that fail lint. */
    if (policy_parse_buffer("fuzz.yaml", (const char *)data, size, &p, err, sizeof(err)) == 0) {
        lint = malloc(4096);
        if (lint != NULL) {
            (void)policy_lint(p, lint, 4096);
            free(lint);
        }
        fuzz_eval(p);
        policy_free(p);
    }
    return 0;
}
