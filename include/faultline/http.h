/*
 * The HTTP client setup every module shares: a libcurl easy handle with the
 * house's settings (bounded time, no signals, no proxy: every peer is on a
 * lab or staging network), the answer collected into a capped buffer.
 */
#ifndef FAULTLINE_HTTP_H
#define FAULTLINE_HTTP_H

#include <curl/curl.h>

struct fl_buf;

/*
 * A new easy handle for url: total and connect timeout timeout_ms, no
 * signals, no proxy, the answer appended to body (an answer larger than the
 * buffer's cap fails the transfer; body may be NULL to discard it), curl's
 * error text in errbuf (CURL_ERROR_SIZE bytes, may be NULL). The caller adds
 * method, headers and body, performs, and frees with curl_easy_cleanup().
 * NULL when out of memory.
 */
CURL *fl_http_easy(const char *url, long timeout_ms, struct fl_buf *body, char *errbuf);

/*
 * The same settings on a handle the caller keeps and reuses (keep-alive):
 * url (NULL: left as it is), timeouts, no signals, no proxy, the answer into
 * body, errors into errbuf.
 */
void fl_http_setup(CURL *c, const char *url, long timeout_ms, struct fl_buf *body, char *errbuf);

#endif
