/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test helper: certificates made with the gateway's own certificate
 * builder and CA key, but with the validity, principal or source address a
 * test wants (expired, for another target, for another address), so that
 * the tests can present them to a real sshd themselves -- the gateway's own
 * certificates certify keys no one outside its session child ever holds.
 *
 *   cert_tool CA_KEY PUBKEY_FILE PRINCIPAL KEY_ID VALID_AFTER VALID_BEFORE SOURCE SERIAL
 *
 * prints the certificate as an OpenSSH public key line (KEY-cert.pub).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"

int main(int argc, char **argv)
{
    struct certkey_spec s;
    struct cakey *ca = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    char err[512] = "", line[4096], pub[512];
    FILE *f = NULL;

    if (argc != 9) {
        fprintf(stderr, "usage: cert_tool CA_KEY PUBKEY_FILE PRINCIPAL KEY_ID VALID_AFTER "
                        "VALID_BEFORE SOURCE SERIAL\n");
        return 2;
    }
    if (cakey_load(argv[1], &ca, err, sizeof(err)) != 0) {
        fprintf(stderr, "cert_tool: %s\n", err);
        return 1;
    }
    memset(&s, 0, sizeof(s));
    f = fopen(argv[2], "r");
    if (f == NULL || fgets(pub, sizeof(pub), f) == NULL || cakey_parse_pub_line(pub, s.pk) != 0) {
        fprintf(stderr, "cert_tool: %s: not an ssh-ed25519 public key\n", argv[2]);
        return 1;
    }
    fclose(f);
    s.principal = argv[3];
    s.key_id = argv[4];
    s.valid_after = strtoull(argv[5], NULL, 10);
    s.valid_before = strtoull(argv[6], NULL, 10);
    s.source_address = argv[7];
    s.serial = strtoull(argv[8], NULL, 10);
    if (certkey_build(&s, ca, &blob, &len, err, sizeof(err)) != 0 ||
        certkey_pub_line(blob, len, line, sizeof(line)) != 0) {
        fprintf(stderr, "cert_tool: %s\n", err);
        return 1;
    }
    printf("%s\n", line);
    free(blob);
    cakey_free(ca);
    return 0;
}
