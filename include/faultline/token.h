/*
 * The agents' bearer token: one set of limits for the agent that checks it
 * and the controller that sends it, so a token one side accepts is never
 * cut short by the other.
 */
#ifndef FAULTLINE_TOKEN_H
#define FAULTLINE_TOKEN_H

#define FL_TOKEN_MIN 16   /* shortest token accepted (characters) */
#define FL_TOKEN_MAX 4096 /* largest token file (bytes, trailing newline included) */

#endif
