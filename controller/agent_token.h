/*
 * The agents' bearer token on the controller's side: read from a token file
 * with the agent's own limits (faultline/token.h), sent in an Authorization
 * header, and wiped from every copy the controller made once it is done.
 */
#ifndef FL_CTL_AGENT_TOKEN_H
#define FL_CTL_AGENT_TOKEN_H

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/token.h"

/*
 * Read the token of file path into *out (malloc'd; free with
 * agent_token_free). Trailing newline and blanks are dropped; a file larger
 * than FL_TOKEN_MAX bytes, a token shorter than FL_TOKEN_MIN or with a
 * character outside printable ASCII is an error ("<path>: ..."), never a
 * shortened token.
 */
int agent_token_read(const char *path, char **out, struct fl_err *err);
/* Wipe and free a token from agent_token_read (NULL is fine). */
void agent_token_free(char *token);
/*
 * The request headers of an agent call: "Authorization: Bearer <token>"
 * (when token is not NULL, whole, however long), the JSON content type, no
 * Expect. NULL when out of memory. Free with agent_headers_free.
 */
struct curl_slist *agent_headers(const char *token);
/* Wipe every header (the token is in one) and free the list. */
void agent_headers_free(struct curl_slist *h);

#endif
