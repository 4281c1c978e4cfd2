/*
 * The HTTP client setup (see faultline/http.h).
 */
#include <stddef.h>

#include "faultline/buf.h"
#include "faultline/http.h"

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    if (arg == NULL)
        return sz * n;
    return fl_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

void fl_http_setup(CURL *c, const char *url, long timeout_ms, struct fl_buf *body, char *errbuf)
{
    if (errbuf != NULL) {
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    }
    if (url != NULL)
        curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
}

CURL *fl_http_easy(const char *url, long timeout_ms, struct fl_buf *body, char *errbuf)
{
    CURL *c = curl_easy_init();

    if (c != NULL)
        fl_http_setup(c, url, timeout_ms, body, errbuf);
    return c;
}
