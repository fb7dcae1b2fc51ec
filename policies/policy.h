/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy: which targets exist, who may reach them and how.  Parsing
 * (policy.c), lint (lint.c), pure evaluation (eval.c) and a small YAML tree
 * reader shared with the broker's config parser (yamltree.c).
 *
 * Nothing in this folder does I/O other than reading the file it is asked to
 * parse, reads the clock, logs or exits.  Errors come back as a negative
 * DB_ERR_* code plus a one-line "file:line: message" in a caller buffer.
 */
#ifndef DRAWBRIDGE_POLICY_H
#define DRAWBRIDGE_POLICY_H

#include <stddef.h>

#include "common.h"

/* ---- yamltree.c: a YAML document as a tree with line numbers ---- */

enum ytree_kind { YTREE_SCALAR, YTREE_SEQ, YTREE_MAP };

struct ytree {
    enum ytree_kind kind;
    int line;        /* 1-based line of the node's start */
    char *value;     /* YTREE_SCALAR: the text (NUL-terminated); else NULL */
    size_t value_len;
    int plain;       /* scalar was unquoted (so "null"/"~" mean null) */
    char **keys;     /* YTREE_MAP: nkids keys */
    int *key_lines;  /* YTREE_MAP: line of each key */
    struct ytree **kids;
    size_t nkids;
};

/*
 * Parses one YAML document (anchors/aliases refused, multiple documents
 * refused, at most 1 MiB).  *out is owned by the caller (ytree_free).
 * err gets "name:line: message".
 */
int ytree_parse(const char *name, const char *buf, size_t len, struct ytree **out, char *err,
                size_t errlen);
/* Reads a file (regular file, at most 1 MiB) then ytree_parse. */
int ytree_parse_file(const char *path, struct ytree **out, char *err, size_t errlen);
void ytree_free(struct ytree *t);
/* Map lookup; NULL when absent or t is not a map. */
const struct ytree *ytree_get(const struct ytree *t, const char *key);
/* 1 when the node is the YAML null (plain null, ~, or empty plain scalar). */
int ytree_is_null(const struct ytree *t);

/*
 * Helpers for walking a tree, shared by policy.c and broker/config.c.  None
 * allocates; messages are the caller's business.
 */
/* First key of map t not listed in allowed (NULL-terminated); its line in *line. NULL if none. */
const char *ytree_unknown_key(const struct ytree *t, const char *const *allowed, int *line);
/* Line of key in map t; t->line when the key is absent. */
int ytree_key_line(const struct ytree *t, const char *key);
/* "a string", "null", "a list" or "a map": for "expected X, got Y" messages. */
const char *ytree_kind_name(const struct ytree *t);
/* A non-null scalar's text, else NULL. */
const char *ytree_str(const struct ytree *t);
/* An unquoted true/false (any case).  0 or DB_ERR_INVALID. */
int ytree_bool(const struct ytree *t, int *out);
/* An unquoted decimal integer within [min, max].  0 or DB_ERR_INVALID. */
int ytree_int(const struct ytree *t, long long min, long long max, long long *out);

/* ---- policy.c: the parsed policy ---- */

enum policy_principal_kind { POLICY_PRINCIPAL_USER, POLICY_PRINCIPAL_GROUP };

struct policy_principal {
    enum policy_principal_kind kind;
    char *name;
};

struct policy_label {
    char *key;
    char *value;
};

/* How the gateway logs in to a target; DEFAULT follows the config's upstream.auth. */
enum policy_upstream_auth {
    POLICY_UPSTREAM_DEFAULT = 0,
    POLICY_UPSTREAM_KEY,         /* the gateway's static upstream key */
    POLICY_UPSTREAM_CERTIFICATE, /* a per-session certificate */
    POLICY_UPSTREAM_INVALID,     /* written, but neither (lint reports it) */
};

struct policy_target {
    char *name;
    char *address;   /* as written, host:port */
    char *host;      /* host part (IPv6 literal without brackets) */
    int port;        /* default 22 */
    char *host_key;  /* "ssh-ed25519 AAAA..." (type and base64; comment dropped) */
    char **logins;   /* at least one; logins[0] is the default */
    size_t nlogins;
    struct policy_label *labels;
    size_t nlabels;
    int record_input; /* default 1 */
    int line;
    int upstream_auth;      /* enum policy_upstream_auth */
    int upstream_auth_line; /* 0 when not written */
};

struct policy_rule {
    char *name;
    struct policy_principal *requesters;
    size_t nrequesters;
    /* target selector: either names or labels (all labels must match) */
    char **target_names;
    size_t ntarget_names;
    struct policy_label *target_labels;
    size_t ntarget_labels;
    char **logins;   /* NULL/0: any login of the selected target */
    size_t nlogins;
    long long max_duration; /* seconds; 0 = not set */
    struct policy_principal *approvers;
    size_t napprovers;
    int approvals;   /* distinct approvers needed; default 1 */
    int standing;    /* no grant needed */
    int line;
    int approvals_set; /* approvals was written (lint refuses it on standing rules) */
};

/* protected: {key: [values]} -- a target carrying any listed key=value is protected */
struct policy_protected {
    char *key;
    char **values;
    size_t nvalues;
};

/*
 * mfa: {require: [principals], actions: [names], issuer: TEXT}.  Who must
 * enrol a second factor, and which actions need a login that gave a code.
 */
enum policy_mfa_action {
    POLICY_MFA_PROTECTED = 1u << 0, /* sessions to protected targets */
    POLICY_MFA_APPROVE = 1u << 1,
    POLICY_MFA_DENY = 1u << 2,
    POLICY_MFA_REVOKE = 1u << 3,
    POLICY_MFA_BREAKGLASS = 1u << 4,
    POLICY_MFA_TERMINATE = 1u << 5,
};
#define POLICY_MFA_ACTIONS_ALL 0x3fu
#define POLICY_MFA_ISSUER_DEFAULT "Drawbridge"
#define POLICY_MFA_ISSUER_MAX 64

struct policy_mfa {
    struct policy_principal *require;
    size_t nrequire;
    unsigned actions;   /* POLICY_MFA_* bits */
    char *issuer;       /* NULL: POLICY_MFA_ISSUER_DEFAULT */
    int line;           /* 0 when mfa is absent */
};

struct policy {
    char *path;
    struct policy_protected *protect;
    size_t nprotect;
    long long request_ttl;  /* seconds; default 24h */
    struct policy_target *targets;
    size_t ntargets;
    struct policy_rule *rules;
    size_t nrules;
    struct policy_principal *reviewers;
    size_t nreviewers;
    struct policy_principal *breakglass_requesters;
    size_t nbreakglass_requesters;
    long long breakglass_max_duration; /* seconds; 0 when break_glass absent */
    int request_ttl_line;              /* 0 when not written */
    int breakglass_line;               /* 0 when break_glass absent */
    struct policy_mfa mfa;             /* the second factor (mfa.c) */
};

/*
 * Parses and lints a policy.  A policy that fails lint is never returned.
 * *out is owned by the caller (policy_free).  err gets the first problem as
 * "file:line: message".
 */
int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen);
int policy_load_buffer(const char *name, const char *buf, size_t len, struct policy **out,
                       char *err, size_t errlen);
void policy_free(struct policy *p);
/*
 * Parses without lint, for `drawbridge check` (which then calls policy_lint
 * to print every problem).  Never hand such a policy to the broker.
 */
int policy_parse_file(const char *path, struct policy **out, char *err, size_t errlen);
int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy **out,
                        char *err, size_t errlen);

/* ---- syntax.c: value syntax shared by the parser and lint ---- */

/* Target and rule names: [a-z_][a-z0-9_.-]{0,63}.  1 when valid. */
int policy_name_valid(const char *s);
/* Upstream logins: [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}. */
int policy_login_valid(const char *s);
/* Label keys [A-Za-z0-9_][A-Za-z0-9_./-]{0,62}; values 1..128 printable ASCII, no spaces. */
int policy_label_key_valid(const char *s);
int policy_label_value_valid(const char *s);
/* The NAME of a principal: 1..256 printable ASCII, no spaces. */
int policy_principal_name_valid(const char *s);
/* "group:NAME" or "user:NAME" into out (caller frees out->name).  0 or DB_ERR_INVALID. */
int policy_principal_parse(const char *s, struct policy_principal *out);
/*
 * "host", "host:port", "[v6]" or "[v6]:port" (port 1-65535, default 22).
 * *host is the host without brackets (caller frees).  DB_ERR_INVALID with a
 * short reason in why.
 */
int policy_address_parse(const char *s, char **host, int *port, char *why, size_t whylen);
/*
 * "TYPE BASE64 [comment]" with a known SSH key type and a blob of that type;
 * *out is "TYPE BASE64" (caller frees).  DB_ERR_INVALID with a reason in why.
 */
int policy_host_key_parse(const char *s, char **out, char *why, size_t whylen);

/* ---- mfa.c: the second factor's part of the policy ---- */

struct policy_subject;

/* "protected", "approve", ...; NULL for anything but one POLICY_MFA_* bit. */
const char *policy_mfa_action_name(unsigned action);
/* The bit named s, or 0 when s names no action. */
unsigned policy_mfa_action_parse(const char *s);
/* 1..POLICY_MFA_ISSUER_MAX printable ASCII bytes without ':' (it ends the otpauth label). */
int policy_mfa_issuer_valid(const char *s);
/* The issuer shown in authenticator apps. */
const char *policy_mfa_issuer(const struct policy *p);
/* Must s enrol a second factor (mfa.require names them)? */
int policy_mfa_required(const struct policy *p, const struct policy_subject *s);
/* Does action (one POLICY_MFA_* bit) need a login that gave a code? */
int policy_mfa_needs_code(const struct policy *p, unsigned action);

/* ---- lint.c ---- */

/*
 * Checks a parsed policy; returns 0 or DB_ERR_INVALID with every problem,
 * one "file:line: message" per line, in err (truncated to errlen).  Called by
 * policy_load_* ; exposed for `drawbridge check` and tests.
 */
int policy_lint(const struct policy *p, char *err, size_t errlen);

/* ---- eval.c: pure evaluation (no I/O, no clock, no globals) ---- */

/* Who is asking: the LDAP user and the names of their LDAP groups. */
struct policy_subject {
    const char *user;
    const char *const *groups;
    size_t ngroups;
};

const struct policy_target *policy_target_find(const struct policy *p, const char *name);
int policy_target_is_protected(const struct policy *p, const struct policy_target *t);
int policy_target_has_login(const struct policy_target *t, const char *login);
/* Does the rule's selector pick this target? */
int policy_rule_selects(const struct policy_rule *r, const struct policy_target *t);
/* Does the rule allow this login on this target (rule logins, else target logins)? */
int policy_rule_allows_login(const struct policy_rule *r, const struct policy_target *t,
                             const char *login);
int policy_principals_match(const struct policy_principal *ps, size_t n,
                            const struct policy_subject *s);
int policy_is_reviewer(const struct policy *p, const struct policy_subject *s);
int policy_is_breakglass_requester(const struct policy *p, const struct policy_subject *s);
/* Is s an approver in at least one rule? (for roles in whoami) */
int policy_is_any_approver(const struct policy *p, const struct policy_subject *s);
int policy_is_any_requester(const struct policy *p, const struct policy_subject *s);

enum policy_verdict {
    POLICY_DENY = 0,          /* no rule gives this subject this target/login */
    POLICY_ALLOW_STANDING,    /* a standing rule on an unprotected target */
    POLICY_ALLOW_GRANT,       /* the caller holds a live grant for (user, target, login) */
    POLICY_NEED_GRANT,        /* a rule lets them request it, but they hold no grant */
    POLICY_UNKNOWN_TARGET,
    POLICY_BAD_LOGIN,         /* login not offered by the target */
};

struct policy_connect_query {
    struct policy_subject subject;
    const char *target;
    const char *login;  /* NULL: the rule's / target's default */
    /*
     * The caller looked for a live grant (user, target, login) in the store
     * at the current time; when grant_login is non-NULL the subject holds one
     * for that login.  The policy never trusts a grant for a login the target
     * does not offer.
     */
    const char *grant_login;
};

struct policy_result {
    enum policy_verdict verdict;
    const struct policy_target *target; /* NULL for UNKNOWN_TARGET */
    const struct policy_rule *rule;     /* the rule that allowed/would allow */
    const char *login;                  /* the login to use upstream */
    char reason[256];                   /* one line for the user when not allowed */
};

/*
 * May this subject open a session to target now?  Standing rules never apply
 * to protected targets, whatever the rule says.
 */
int policy_eval_connect(const struct policy *p, const struct policy_connect_query *q,
                        struct policy_result *out);

struct policy_request_query {
    struct policy_subject subject;
    const char *target;
    const char *login;        /* NULL: default */
    long long duration;       /* seconds asked for */
};

/*
 * May this subject request target/login for duration?  On success out->rule is
 * the rule whose approvers and approvals govern the request (the first
 * matching non-standing rule in file order), out->login the login.  A duration
 * above the rule's max_duration is refused with a reason.
 *
 * Returns 0 (verdict POLICY_NEED_GRANT) when the request may be made; else
 * out->verdict and out->reason say why and the return is DB_ERR_NOTFOUND
 * (unknown target), DB_ERR_INVALID (bad login or duration) or DB_ERR_DENIED.
 * policy_eval_connect returns 0 whatever the verdict (DB_ERR_INVALID only for
 * NULL arguments).
 */
int policy_eval_request(const struct policy *p, const struct policy_request_query *q,
                        struct policy_result *out);

/*
 * May approver decide on a request made under rule by requester?  Never true
 * when approver is the requester, whatever their groups.
 */
int policy_may_approve(const struct policy_rule *rule, const struct policy_subject *approver,
                       const char *requester);

#endif
