/*
 * The controller's TLS trust towards the agents: which CA to trust for
 * https:// agents (--ca; otherwise the system's store) and the client
 * certificate to present to agents that ask for one (--cert, --key). One
 * struct, checked once at the command line (an unreadable or non-PEM file
 * is a usage error, exit 2, before anything starts) and applied to every
 * curl handle that talks to an agent (`faultline run`, `faultline halt`).
 */
#ifndef FL_CTL_AGENT_TLS_H
#define FL_CTL_AGENT_TLS_H

#include <stdbool.h>

#include <curl/curl.h>

#include "faultline/err.h"

struct agent_tls {
    const char *ca;   /* PEM file of the CA(s) to trust, or NULL: the system store */
    const char *cert; /* PEM client certificate, or NULL */
    const char *key;  /* PEM private key of cert (required with cert) */
};

/*
 * Check the files of t before anything runs: each given file readable and
 * holding what it should (a PEM certificate; a PEM private key), --cert and
 * --key together. 0, or -EINVAL / -errno with err naming the option and the
 * file ("--ca /etc/x.pem: cannot read: Permission denied"). t may be NULL.
 */
int agent_tls_check(const struct agent_tls *t, struct fl_err *err);

/*
 * Apply t to an easy handle that talks to an agent: CURLOPT_CAINFO with only
 * that CA trusted (CURLOPT_CAPATH off), CURLOPT_SSLCERT / CURLOPT_SSLKEY
 * (PEM). Peer and host verification stay on, always. t NULL or empty: curl's
 * defaults (the system store, no client certificate). The strings are
 * borrowed until the handle's transfers are done.
 */
void agent_tls_apply(CURL *c, const struct agent_tls *t);

/* Is code a TLS failure that waiting will not cure (untrusted peer, bad handshake, bad cert)? */
bool agent_tls_fatal(int curl_code);

/*
 * One line for a TLS failure with agent url of host: "agent of host H (URL):
 * TLS certificate not trusted with --ca F: <curl text>" (or "... by the
 * system store ...", or "TLS handshake failed: ..." for other TLS errors).
 */
void agent_tls_explain(char *buf, size_t len, const char *host, const char *url,
                       const struct agent_tls *t, int curl_code, const char *curl_text);

#endif
