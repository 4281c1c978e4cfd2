/*
 * The controller's TLS trust towards the agents (agent_tls.h): the files of
 * --ca, --cert and --key checked before anything starts, applied to every
 * agent request, and the one line that says why a TLS handshake failed.
 * Verification is never switched off: an agent whose certificate the
 * controller cannot trust is an error, with the option that would fix it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_tls.h"

#define PEM_PROBE 65536 /* a certificate or key is found within its first 64 KiB */

/* Read up to len-1 bytes of path into buf (NUL-terminated). 0 or -errno. */
static int read_head(const char *path, char *buf, size_t len)
{
    size_t got = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;

            close(fd);
            return e;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

/* The file of option opt holds marker (a PEM block), or err says why not. */
static int check_pem(const char *opt, const char *path, const char *marker, const char *what,
                     struct fl_err *err)
{
    static char buf[PEM_PROBE];
    int r;

    if (path == NULL)
        return 0;
    if ((r = read_head(path, buf, sizeof(buf))) < 0)
        return fl_errf(err, r, "%s %s: cannot read: %s", opt, path, strerror(-r));
    r = strstr(buf, marker) ? 0 : fl_errf(err, -EINVAL, "%s %s: no PEM %s in it", opt, path, what);
    explicit_bzero(buf, sizeof(buf)); /* it may have held a private key */
    return r;
}

int agent_tls_check(const struct agent_tls *t, struct fl_err *err)
{
    int r;

    if (t == NULL)
        return 0;
    if ((t->cert == NULL) != (t->key == NULL))
        return fl_errf(err, -EINVAL,
                       "--cert and --key go together (the client certificate "
                       "and its private key)");
    if ((r = check_pem("--ca", t->ca, "-----BEGIN CERTIFICATE-----", "certificate", err)) < 0 ||
        (r = check_pem("--cert", t->cert, "-----BEGIN CERTIFICATE-----", "certificate", err)) < 0)
        return r;
    return check_pem("--key", t->key, "PRIVATE KEY-----", "private key", err);
}

void agent_tls_apply(CURL *c, const struct agent_tls *t)
{
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t == NULL)
        return;
    if (t->ca != NULL) {
        /* Only this CA: not the system's directory of CAs as well. */
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    if (t->cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, t->cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY, t->key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

bool agent_tls_fatal(int code)
{
    switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

void agent_tls_explain(char *buf, size_t len, const char *host, const char *url,
                       const struct agent_tls *t, int code, const char *text)
{
    const char *ca = t != NULL ? t->ca : NULL;

    if (code == CURLE_PEER_FAILED_VERIFICATION && strstr(text, "subject name") != NULL)
        snprintf(buf, len,
                 "agent of host %s (%s): its TLS certificate is not for this address (its "
                 "subjectAltName must name the URL's host): %s",
                 host, url, text);
    else if (code == CURLE_PEER_FAILED_VERIFICATION && ca != NULL)
        snprintf(buf, len, "agent of host %s (%s): TLS certificate not trusted with --ca %s: %s",
                 host, url, ca, text);
    else if (code == CURLE_PEER_FAILED_VERIFICATION)
        snprintf(buf, len,
                 "agent of host %s (%s): TLS certificate not trusted by the system's CA store "
                 "(give its CA with --ca FILE): %s",
                 host, url, text);
    else if (code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CLIENTCERT)
        snprintf(buf, len, "agent of host %s (%s): client certificate (--cert %s): %s", host, url,
                 t && t->cert ? t->cert : "none", text);
    else if (code == CURLE_SSL_CACERT_BADFILE)
        snprintf(buf, len, "agent of host %s (%s): cannot load --ca %s: %s", host, url,
                 ca ? ca : "(system store)", text);
    else
        snprintf(buf, len, "agent of host %s (%s): TLS handshake failed: %s", host, url, text);
}
