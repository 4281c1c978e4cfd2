/*
 * The agents' bearer token on the controller's side (agent_token.h). The
 * limits are the agent's (faultline/token.h): a token the agent accepts is
 * sent whole, and one it would refuse is refused here first, with the file's
 * name. Every buffer that held the token is wiped before it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_token.h"

static const char BEARER[] = "Authorization: Bearer ";

int agent_token_read(const char *path, char **out, struct fl_err *err)
{
    char buf[FL_TOKEN_MAX + 1]; /* one more byte to see a file too large */
    size_t got = 0, i;
    ssize_t n;
    int fd, r = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fl_errf(err, -errno, "cannot read the token file %s: %s", path, strerror(errno));
    while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = fl_errf(err, -errno, "cannot read the token file %s: %s", path, strerror(errno));
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (r == 0 && got > FL_TOKEN_MAX)
        r = fl_errf(err, -E2BIG,
                    "%s: the token file is larger than %d bytes (the agents refuse it too)", path,
                    FL_TOKEN_MAX);
    while (r == 0 && got > 0 &&
           (buf[got - 1] == '\n' || buf[got - 1] == '\r' || buf[got - 1] == ' ' ||
            buf[got - 1] == '\t'))
        got--;
    if (r == 0 && got < FL_TOKEN_MIN)
        r = fl_errf(err, -EINVAL, "%s: the token must have at least %d characters", path,
                    FL_TOKEN_MIN);
    for (i = 0; r == 0 && i < got; i++)
        if (buf[i] <= ' ' || buf[i] > '~')
            r = fl_errf(err, -EINVAL,
                        "%s: the token must be printable ASCII without spaces (byte %zu)", path,
                        i + 1);
    if (r == 0) {
        *out = malloc(got + 1);
        if (*out == NULL) {
            r = fl_errf(err, -ENOMEM, "out of memory");
        } else {
            memcpy(*out, buf, got);
            (*out)[got] = '\0';
        }
    }
    explicit_bzero(buf, sizeof(buf));
    return r;
}

void agent_token_free(char *token)
{
    if (token != NULL) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
}

struct curl_slist *agent_headers(const char *token)
{
    struct curl_slist *hdr = NULL, *t;

    if (token != NULL) {
        size_t len = sizeof(BEARER) + strlen(token);
        char *auth = malloc(len);

        if (auth == NULL)
            return NULL;
        snprintf(auth, len, "%s%s", BEARER, token);
        hdr = curl_slist_append(NULL, auth); /* curl keeps its own copy */
        explicit_bzero(auth, len);
        free(auth);
        if (hdr == NULL)
            return NULL;
    }
    t = curl_slist_append(hdr, "Content-Type: application/json");
    if (t == NULL) {
        agent_headers_free(hdr);
        return NULL;
    }
    hdr = t;
    t = curl_slist_append(hdr, "Expect:");
    if (t == NULL)
        agent_headers_free(hdr);
    return t;
}

void agent_headers_free(struct curl_slist *h)
{
    struct curl_slist *p;

    for (p = h; p != NULL; p = p->next)
        if (p->data != NULL)
            explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}
