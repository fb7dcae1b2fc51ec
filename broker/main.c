/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `drawbridge` command: serve, check, keys and the operator tools of
 * DESIGN.md.  Each subcommand is a small function; usage errors exit 2,
 * failures 1 with a one-line reason, success 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh/libssh.h>

#include "broker.h"
#include "signer.h"

static const char main_usage[] =
    "usage: drawbridge COMMAND [OPTIONS]\n"
    "\n"
    "Drawbridge is a privileged-access SSH gateway: LDAP authentication,\n"
    "just-in-time grants approved by others, and recorded sessions.\n"
    "\n"
    "commands:\n"
    "  serve -c FILE [-f|--foreground] [--log-json]\n"
    "                          run the gateway (daemonizes and logs to syslog\n"
    "                          unless -f; SIGHUP reloads the policy)\n"
    "  check -c FILE           validate the config and lint the policy;\n"
    "                          exit 0/1, problems as \"file:line: message\"\n"
    "  keys -c FILE [--target NAME]\n"
    "                          what targets must trust (generates keys if absent):\n"
    "                          the upstream public key (key mode), or the CA\n"
    "                          public key and its sshd_config alternative\n"
    "                          (upstream.auth: certificate); with --target, the\n"
    "                          one authorized_keys line that target needs\n"
    "  access-report -c FILE   who can reach which target right now, and how;\n"
    "                          who has a second factor, who must enrol\n"
    "  verify -c FILE [--forwarded PATH] [SESSION...]\n"
    "                          check recordings and the audit chain (and the\n"
    "                          chain against a copy audit_forward wrote)\n"
    "  verify -c FILE --archive PATH  check one audit archive file\n"
    "  export -c FILE SESSION  write a session's asciicast to stdout\n"
    "  audit -c FILE [--json] [--since TIME]  print the audit chain\n"
    "  status -c FILE [--json]  listener, sessions, requests, disk, store,\n"
    "                          certificates, last verify; exit 1 if unwell\n"
    "  migrate -c FILE --from PATH/drawbridge.db\n"
    "                          copy a SQLite store into the (empty) PostgreSQL\n"
    "                          store of store.url, audit chain intact\n"
    "\n"
    "options:\n"
    "  -c, --config FILE       the configuration file\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n";

struct main_args {
    const char *config;
    int foreground;
    int log_json;
    int json;
    const char *since;
    const char *archive;
    const char *target;
    const char *forwarded; /* verify --forwarded PATH */
    const char *from;      /* migrate --from PATH */
    int first_pos;         /* index of the first positional argument after options */
};

static int main_parse(int argc, char **argv, struct main_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"log-json", no_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'j'},
        {"since", required_argument, NULL, 's'},
        {"archive", required_argument, NULL, 'A'},
        {"target", required_argument, NULL, 't'},
        {"forwarded", required_argument, NULL, 'F'},
        {"from", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            a->config = optarg;
            break;
        case 'f':
            a->foreground = 1;
            break;
        case 'L':
            a->log_json = 1;
            break;
        case 'j':
            a->json = 1;
            break;
        case 's':
            a->since = optarg;
            break;
        case 'A':
            a->archive = optarg;
            break;
        case 't':
            a->target = optarg;
            break;
        case 'F':
            a->forwarded = optarg;
            break;
        case 'M':
            a->from = optarg;
            break;
        case 'h':
            fputs(main_usage, stdout);
            exit(0);
        default:
            return DB_ERR_USAGE;
        }
    }
    a->first_pos = optind;
    if (a->config == NULL) {
        fprintf(stderr, "drawbridge: %s needs -c FILE\n", argv[0]);
        return DB_ERR_USAGE;
    }
    return 0;
}

/*
 * Not a problem (check still succeeds) but worth saying: a protected target
 * the gateway logs in to with its static key is reachable by whoever reads
 * that key file, with no grant.  One note per target on stderr.
 */
static void main_check_static_key(const struct config *cfg, const struct policy *pol)
{
    for (size_t i = 0; i < pol->ntargets; i++) {
        const struct policy_target *t = &pol->targets[i];

        if (policy_target_is_protected(pol, t) && !config_target_uses_certificate(cfg, t)) {
            fprintf(stderr, "%s:%d: note: protected target %s is logged in to with the static "
                    "upstream key, which opens it without a grant to whoever reads the key "
                    "file; use upstream_auth: certificate (README, Per-session certificates)\n",
                    cfg->policy_path, t->line, t->name);
        }
    }
}

static int main_check(const struct main_args *a)
{
    struct config *cfg = NULL;
    struct policy *pol = NULL;
    char err[16384] = "";
    int r = 1;

    if (config_load(a->config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    /* parse, then lint separately so that every problem is listed, not only the first */
    if (policy_parse_file(cfg->policy_path, &pol, err, sizeof(err)) != 0 ||
        policy_lint(pol, err, sizeof(err)) != 0) {
        size_t n = strlen(err);

        fprintf(stderr, "%s%s", err, n > 0 && err[n - 1] == '\n' ? "" : "\n");
        goto out;
    }
    /* retention against what waits for review: the store's state, not the file's */
    if (retention_lint(cfg, (long long)time(NULL), err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    printf("%s: ok\n%s: ok (%zu targets, %zu rules)\n", a->config, cfg->policy_path,
           pol->ntargets, pol->nrules);
    main_check_static_key(cfg, pol);
    r = 0;
out:
    policy_free(pol);
    config_free(cfg);
    return r;
}

/* The static upstream key's public line (key mode). */
static int main_keys_upstream(const struct config *cfg)
{
    ssh_key key = NULL;
    char path[4096], *b64 = NULL;
    int r = 1;

    keys_path(cfg, "upstream_ed25519", path, sizeof(path));
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK ||
        ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        fprintf(stderr, "drawbridge: %s: cannot read the upstream key\n", path);
        goto out;
    }
    printf("%s %s drawbridge-upstream\n", ssh_key_type_to_char(ssh_key_type(key)), b64);
    r = 0;
out:
    ssh_string_free_char(b64);
    ssh_key_free(key);
    return r;
}

static const char main_keys_ca_help[] =
    "# The line above is the certificate authority of Drawbridge's certificate mode.\n"
    "# Trust it per target with the line `drawbridge keys -c FILE --target NAME`\n"
    "# prints, in the authorized_keys of each login account Drawbridge uses there,\n"
    "# or for a whole host in sshd_config instead:\n"
    "#   TrustedUserCAKeys /etc/ssh/drawbridge_user_ca.pub   (a file holding the line above)\n"
    "#   AuthorizedPrincipalsFile /etc/ssh/drawbridge_principals/%%u\n"
    "# where drawbridge_principals/LOGIN holds the target's principal, %sNAME\n"
    "# (NAME: the target's name in the policy), for each login it may use.\n";

/*
 * keys: what targets must trust.  Without a target, the upstream key (key
 * mode) or the CA key and how to trust it from sshd_config (certificate
 * mode); with one, the authorized_keys line that target needs in its mode.
 */
static int main_keys(const struct main_args *a)
{
    struct config *cfg = NULL;
    struct policy *pol = NULL;
    const struct policy_target *t = NULL;
    unsigned char ca[CERTKEY_PK_LEN];
    struct signer_accounts acc;
    char err[4096] = "", path[4096], line[160];
    int r = 1, make_ca = 1;

    if (config_load(a->config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    /*
     * The CA key is made by root or the signer's account, never by the
     * gateway's: a key that account once wrote, it could have kept.
     */
    if (geteuid() != 0 && signer_accounts_as_root(cfg, &acc, err, sizeof(err)) == 0 &&
        acc.separate) {
        make_ca = 0;
    }
    if (keys_ensure_ex(cfg, make_ca, err, sizeof(err)) != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
        goto out;
    }
    if (a->target != NULL) {
        if (policy_load_file(cfg->policy_path, &pol, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        if ((t = policy_target_find(pol, a->target)) == NULL) {
            fprintf(stderr, "drawbridge: no target %.64s in %s\n", a->target, cfg->policy_path);
            goto out;
        }
    }
    if (!config_target_uses_certificate(cfg, t)) {
        r = main_keys_upstream(cfg);
        goto out;
    }
    keys_path(cfg, "user_ca", path, sizeof(path));
    if (!make_ca && access(path, F_OK) != 0) {
        fprintf(stderr,
                "drawbridge: %s does not exist yet: the daemon makes it at its first start, for "
                "the signer's account (%s); start it first, or run this as root\n",
                path, acc.signer_name);
        goto out;
    }
    keys_path(cfg, "user_ca.pub", path, sizeof(path));
    if (signer_ca_pub_check(cfg, err, sizeof(err)) != 0 ||
        cakey_read_pub(path, ca, err, sizeof(err)) != 0 ||
        cakey_pub_line(ca, "drawbridge-user-ca", line, sizeof(line)) != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
        goto out;
    }
    if (t != NULL) {
        printf("cert-authority,principals=\"%s%s\" %s\n", CERTKEY_PRINCIPAL_PREFIX, t->name,
               line);
    } else {
        printf("%s\n", line);
        printf(main_keys_ca_help, CERTKEY_PRINCIPAL_PREFIX);
    }
    r = 0;
out:
    policy_free(pol);
    config_free(cfg);
    return r;
}

static int main_serve(const struct main_args *a)
{
    struct server_opts o;

    memset(&o, 0, sizeof(o));
    o.config_path = a->config;
    o.foreground = a->foreground;
    o.log_json = a->log_json;
    return server_run(&o) == 0 ? 0 : 1;
}

static int main_exit(int r)
{
    return r == 0 ? 0 : r == DB_ERR_USAGE ? 2 : 1;
}

/* audit, verify, access-report, export, migrate: the store-backed operator tools. */
static int main_admin(const char *cmd, int argc, char **argv, const struct main_args *a)
{
    struct config *cfg = NULL;
    struct policy *pol = NULL;
    char err[16384] = "";
    int r = DB_ERR_INTERNAL;

    if (config_load(a->config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (strcmp(cmd, "audit") == 0) {
        if (a->first_pos < argc) {
            fprintf(stderr, "drawbridge: audit takes no arguments\n");
            r = DB_ERR_USAGE;
        } else {
            r = admin_audit(cfg, a->json, a->since, stdout);
        }
    } else if (strcmp(cmd, "status") == 0) {
        if (a->first_pos < argc) {
            fprintf(stderr, "drawbridge: status takes no arguments\n");
            r = DB_ERR_USAGE;
        } else {
            r = admin_status(cfg, a->json, stdout);
        }
    } else if (strcmp(cmd, "verify") == 0 && a->archive != NULL) {
        if (a->first_pos < argc) {
            fprintf(stderr, "drawbridge: verify --archive checks one file; drop the sessions\n");
            r = DB_ERR_USAGE;
        } else {
            r = admin_verify_archive_file(cfg, a->archive, stdout);
        }
    } else if (strcmp(cmd, "verify") == 0) {
        r = admin_verify(cfg, argv + a->first_pos, (size_t)(argc - a->first_pos), stdout);
        if (a->forwarded != NULL) {
            int r2 = admin_verify_forwarded(cfg, a->forwarded, stdout);

            /* a tamper found either way is what the exit status must say */
            r = r == DB_ERR_TAMPERED || r2 == DB_ERR_TAMPERED ? DB_ERR_TAMPERED : r != 0 ? r : r2;
        }
    } else if (strcmp(cmd, "migrate") == 0) {
        if (a->from == NULL || a->first_pos < argc) {
            fprintf(stderr,
                    "drawbridge: usage: drawbridge migrate -c FILE --from PATH/drawbridge.db\n");
            r = DB_ERR_USAGE;
        } else if ((r = store_migrate_from_sqlite(cfg, a->from, (long long)time(NULL), stdout, err,
                                                  sizeof(err))) != 0) {
            fprintf(stderr, "drawbridge: migrate: %s\n", err[0] ? err : db_strerror(r));
        }
    } else if (strcmp(cmd, "access-report") == 0) {
        if (policy_load_file(cfg->policy_path, &pol, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            r = DB_ERR_INVALID;
        } else {
            r = admin_access_report(cfg, pol, (long long)time(NULL), stdout);
        }
    } else if (strcmp(cmd, "export") == 0) {
        if (argc - a->first_pos != 1) {
            fprintf(stderr, "drawbridge: usage: drawbridge export -c FILE SESSION\n");
            r = DB_ERR_USAGE;
        } else {
            r = admin_export(cfg, argv[a->first_pos], stdout);
        }
    } else {
        fprintf(stderr, "drawbridge: %s: unknown command\n", cmd);
        r = DB_ERR_USAGE;
    }
    policy_free(pol);
    config_free(cfg);
    return main_exit(r);
}

int main(int argc, char **argv)
{
    struct main_args a;
    const char *cmd;

    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("drawbridge %s (libssh %s)\n", DRAWBRIDGE_VERSION, ssh_version(0));
        return 0;
    }
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "keys") != 0 &&
        strcmp(cmd, "access-report") != 0 && strcmp(cmd, "verify") != 0 &&
        strcmp(cmd, "export") != 0 && strcmp(cmd, "audit") != 0 && strcmp(cmd, "status") != 0 &&
        strcmp(cmd, "migrate") != 0) {
        fprintf(stderr, "drawbridge: unknown command '%.40s'; see drawbridge --help\n", cmd);
        return 2;
    }
    if (main_parse(argc - 1, argv + 1, &a) != 0) {
        return 2;
    }
    if (a.archive != NULL && strcmp(cmd, "verify") != 0) {
        fprintf(stderr, "drawbridge: --archive is an option of verify\n");
        return 2;
    }
    if ((a.json && strcmp(cmd, "audit") != 0 && strcmp(cmd, "status") != 0) ||
        (a.since != NULL && strcmp(cmd, "audit") != 0)) {
        fprintf(stderr, "drawbridge: --json is an option of audit and status, --since of audit\n");
        return 2;
    }
    if (a.target != NULL && strcmp(cmd, "keys") != 0) {
        fprintf(stderr, "drawbridge: --target is an option of keys\n");
        return 2;
    }
    if (strcmp(cmd, "keys") == 0 && a.first_pos < argc - 1) {
        fprintf(stderr, "drawbridge: keys takes no arguments (--target NAME names a target)\n");
        return 2;
    }
    if ((a.forwarded != NULL && strcmp(cmd, "verify") != 0) ||
        (a.from != NULL && strcmp(cmd, "migrate") != 0)) {
        fprintf(stderr, "drawbridge: --forwarded is an option of verify, --from of migrate\n");
        return 2;
    }
    if (strcmp(cmd, "serve") == 0) {
        return main_serve(&a);
    }
    if (strcmp(cmd, "check") == 0) {
        return main_check(&a);
    }
    if (strcmp(cmd, "keys") == 0) {
        return main_keys(&a);
    }
    return main_admin(cmd, argc - 1, argv + 1, &a);
}
