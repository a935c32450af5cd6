/* curl_probe: one libcurl transfer, with the options the pos-file connector sets, against the
 * test servers of tests/servers (FTP, FTPS, SFTP).
 *
 * Usage: curl_probe [OPTIONS] URL OP [FILE]
 *   OP: list (the directory listing to stdout), names (names only), get FILE, put FILE, none
 *       (no transfer: only the -q commands)
 *   -u USER[:PASSWORD]   the login (SFTP: the user, the key does the rest)
 *   -k KEY -p PUBKEY     SFTP: the private and public key files (public-key auth only)
 *   -K KNOWN_HOSTS       SFTP: the server's key must be in this file
 *   -H SHA256            SFTP: or have this fingerprint (base64, as ssh-keygen -l shows it)
 *   -c CA_FILE           FTP: require TLS (AUTH TLS) and verify the server against CA_FILE
 *   -2                   FTPS: TLS 1.2 at most (vsftpd 3.0.3 loses uploads over TLS 1.3)
 *   -m                   create missing directories on upload
 *   -q CMD, -Q CMD       a quote command before, after the transfer (repeatable)
 *   -t SECONDS           a time limit for the whole transfer (default 30)
 * Exit status: the CURLcode (0 is success), its name and message on stderr; 100 for a bad
 * command line or a local file that cannot be opened. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct curl_slist *pre = NULL, *post = NULL;
    const char *user = NULL, *key = NULL, *pub = NULL, *known = NULL, *ca = NULL, *sha = NULL;
    long timeout = 30, mkdirs = 0, tls12 = 0;
    int opt;
    while ((opt = getopt(argc, argv, "u:k:p:K:H:c:2mq:Q:t:")) != -1) {
        switch (opt) {
        case 'u':
            user = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'K':
            known = optarg;
            break;
        case 'H':
            sha = optarg;
            break;
        case 'c':
            ca = optarg;
            break;
        case '2':
            tls12 = 1;
            break;
        case 'm':
            mkdirs = CURLFTP_CREATE_DIR_RETRY;
            break;
        case 'q':
            pre = curl_slist_append(pre, optarg);
            break;
        case 'Q':
            post = curl_slist_append(post, optarg);
            break;
        case 't':
            timeout = strtol(optarg, NULL, 10);
            break;
        default:
            return 100;
        }
    }
    const char *url = optind < argc ? argv[optind] : NULL;
    const char *op = optind + 1 < argc ? argv[optind + 1] : "";
    const char *file = optind + 2 < argc ? argv[optind + 2] : NULL;
    int put = strcmp(op, "put") == 0, get = strcmp(op, "get") == 0;
    if (!url || ((put || get) && !file) ||
        (!put && !get && strcmp(op, "list") && strcmp(op, "names") && strcmp(op, "none"))) {
        fprintf(stderr,
                "usage: curl_probe [-u USER[:PW]] [-k KEY -p PUBKEY -K KNOWN_HOSTS|-H SHA256] "
                "[-c CA [-2]] [-m] [-q CMD] [-Q CMD] [-t S]\n"
                "                  URL list|names|none|get FILE|put FILE\n");
        return 100;
    }
    FILE *f = NULL;
    if (put || get) {
        f = fopen(file, put ? "rb" : "wb");
        if (!f) {
            perror(file);
            return 100;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    if (getenv("CURL_PROBE_VERBOSE"))
        curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    if (user)
        curl_easy_setopt(c, CURLOPT_USERPWD, user);
    if (key) {
        curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
        curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, key);
    }
    if (pub)
        curl_easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, pub);
    if (known)
        curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, known);
    if (sha)
        curl_easy_setopt(c, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, sha);
    if (ca) {
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        curl_easy_setopt(c, CURLOPT_FTPSSLAUTH, (long)CURLFTPAUTH_TLS);
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    }
    if (tls12)
        curl_easy_setopt(c, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_DEFAULT | CURL_SSLVERSION_MAX_TLSv1_2));
    curl_easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, mkdirs);
    curl_easy_setopt(c, CURLOPT_QUOTE, pre);
    curl_easy_setopt(c, CURLOPT_POSTQUOTE, post);
    if (strcmp(op, "names") == 0)
        curl_easy_setopt(c, CURLOPT_DIRLISTONLY, 1L);
    if (strcmp(op, "none") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (get)
        curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    if (put) {
        struct stat st;
        fstat(fileno(f), &st);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READDATA, f);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl_probe: CURLcode %d (%s): %s\n", (int)rc, curl_easy_strerror(rc), err);
    curl_easy_cleanup(c);
    curl_slist_free_all(pre);
    curl_slist_free_all(post);
    curl_global_cleanup();
    if (f && fclose(f) != 0 && rc == CURLE_OK) {
        perror(file);
        return 100;
    }
    return (int)rc;
}
