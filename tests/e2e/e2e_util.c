/*
 * End-to-end test helpers (see e2e_util.h).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_util.h"
#include "faultline/err.h"
#include "faultline/history.h"
#include "testutil.h"

const char *e2e_bin(void)
{
    const char *b = getenv("FAULTLINE_BIN");

    return b && *b ? b : "faultline";
}

const char *e2e_src(void)
{
    const char *s = getenv("FAULTLINE_SOURCE_DIR");

    return s && *s ? s : ".";
}

pid_t e2e_start(const char *log, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    pid_t pid;

    argv[n++] = e2e_bin();
    while (args && *args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int e2e_wait(pid_t pid, int timeout_ms)
{
    struct timespec ts = {0, 20 * 1000000L};
    int st, waited = 0;
    pid_t r;

    for (;;) {
        r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0)
            return -1;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nanosleep(&ts, NULL);
        waited += 20;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int e2e_run(const char *log, int timeout_ms, const char *const *args)
{
    pid_t pid = e2e_start(log, args);

    return pid > 0 ? e2e_wait(pid, timeout_ms) : -1;
}

char *e2e_tmpdir(const char *tag)
{
    char *p = NULL;

    if (asprintf(&p, "/tmp/fl-e2e-%d-%s", (int)getpid(), tag) < 0)
        return NULL;
    tu_sh("rm -rf '%s' && mkdir -p '%s'", p, p);
    return p;
}

char *e2e_root_snapshot(void)
{
    return tu_sh_out("sh -c '"
                     "echo == nft; nft list ruleset 2>&1;"
                     "echo == rule; ip -4 rule; ip -6 rule;"
                     "echo == route; ip -4 route show table all; ip -6 route show table all;"
                     "echo == qdisc; tc qdisc show;"
                     "echo == link; ip -o link show | sed -e \"s/ qlen [0-9]*//\""
                     "' 2>&1");
}

bool e2e_lab_left(const char *id, char *what, size_t len)
{
    char prefix[64], state[256];
    struct dirent *e;
    DIR *d;
    bool left = false;

    what[0] = '\0';
    snprintf(prefix, sizeof(prefix), "fl-%s-", id);
    d = opendir("/run/netns");
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            left = true;
            snprintf(what + strlen(what), len - strlen(what), "%s ", e->d_name);
        }
    }
    if (d)
        closedir(d);
    snprintf(state, sizeof(state), "/run/faultline/labs/%s.json", id);
    if (access(state, F_OK) == 0) {
        left = true;
        snprintf(what + strlen(what), len - strlen(what), "%s", state);
    }
    return left;
}

bool e2e_log_wait(const char *log, const char *re, int timeout_ms)
{
    int i;

    for (i = 0; i < timeout_ms / 50; i++) {
        char *hit = tu_sh_out("grep -cE '%s' '%s'", re, log);
        bool ok = hit && atoi(hit) > 0;

        free(hit);
        if (ok)
            return true;
        usleep(50000);
    }
    return false;
}

void e2e_await(pid_t pid, const char *log, const char *re, int timeout_ms, const char *what)
{
    if (e2e_log_wait(log, re, timeout_ms))
        return;
    e2e_print_log(log);
    kill(pid, SIGKILL);
    fail_msg("%s", what);
}

char *e2e_log_lab_id(const char *log)
{
    return tu_sh_out("sed -n 's/.* lab \\([0-9a-f]\\{6\\}\\) up in .*/\\1/p' '%s' | head -1 | "
                     "tr -d '\\n'",
                     log);
}

bool e2e_lab_present(const char *id)
{
    char *n = tu_sh_out("ip netns list | grep -c '^fl-%s-'", id);
    bool present = n && atoi(n) > 0;

    free(n);
    return present;
}

json_t *e2e_json_load(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);

    if (!j)
        fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
    return j;
}

static bool name_char(int c)
{
    return c == '_' || c == '-' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Text or attribute value: '&' must start a known entity, '<' is not allowed. */
static bool xml_chars(const char *s, const char *end, char *why, size_t len)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", NULL};
    size_t i;

    for (; s < end; s++) {
        if (*s == '<') {
            snprintf(why, len, "raw '<' in text");
            return false;
        }
        if (*s != '&')
            continue;
        if (s[1] == '#') {
            const char *p = s + 2;

            while (p < end && *p >= '0' && *p <= '9')
                p++;
            if (p == s + 2 || p >= end || *p != ';') {
                snprintf(why, len, "bad character reference");
                return false;
            }
            continue;
        }
        for (i = 0; ents[i]; i++)
            if (strncmp(s, ents[i], strlen(ents[i])) == 0)
                break;
        if (!ents[i]) {
            snprintf(why, len, "bad entity near '%.10s'", s);
            return false;
        }
    }
    return true;
}

bool e2e_xml_well_formed(const char *path, char *why, size_t len)
{
    char *text = NULL, *p, *end, stack[64][64];
    size_t sz = 0, depth = 0, roots = 0;
    FILE *f = fopen(path, "r");
    bool ok = true;

    if (!f) {
        snprintf(why, len, "cannot open %s", path);
        return false;
    }
    text = calloc(1, 8 << 20);
    if (text)
        sz = fread(text, 1, (8 << 20) - 1, f);
    fclose(f);
    if (!text)
        return false;
    p = text;
    end = text + sz;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        if (!p) {
            snprintf(why, len, "unterminated XML declaration");
            free(text);
            return false;
        }
        p += 2;
    }
    while (ok && p < end) {
        char *lt = memchr(p, '<', (size_t)(end - p)), *gt, *q;
        bool closing, selfclose;
        char name[64];
        size_t n = 0;

        if (!lt) {
            ok = xml_chars(p, end, why, len);
            if (ok && depth) {
                snprintf(why, len, "unclosed <%s>", stack[depth - 1]);
                ok = false;
            }
            for (q = p; ok && q < end; q++)
                if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t') {
                    snprintf(why, len, "text after the root element");
                    ok = false;
                }
            break;
        }
        if (!(ok = xml_chars(p, lt, why, len)))
            break;
        gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt) {
            snprintf(why, len, "unterminated tag");
            ok = false;
            break;
        }
        closing = lt[1] == '/';
        selfclose = gt[-1] == '/';
        q = lt + 1 + closing;
        while (q < gt && name_char(*q) && n < sizeof(name) - 1)
            name[n++] = *q++;
        name[n] = '\0';
        if (n == 0) {
            snprintf(why, len, "tag without a name");
            ok = false;
            break;
        }
        /* attributes: name="value" with the value escaped */
        while (!closing && q < gt - selfclose) {
            char *v, *ve, quote;

            while (q < gt && (*q == ' ' || *q == '\n' || *q == '\t'))
                q++;
            if (q >= gt - selfclose)
                break;
            while (q < gt && name_char(*q))
                q++;
            if (*q != '=' || (q[1] != '"' && q[1] != '\'')) {
                snprintf(why, len, "bad attribute in <%s>", name);
                ok = false;
                break;
            }
            quote = q[1];
            v = q + 2;
            ve = memchr(v, quote, (size_t)(end - v));
            if (!ve) {
                snprintf(why, len, "unterminated attribute in <%s>", name);
                ok = false;
                break;
            }
            if (!(ok = xml_chars(v, ve, why, len)))
                break;
            q = ve + 1;
            if (q > gt) /* '>' inside the value: find the real end of the tag */
                gt = memchr(q, '>', (size_t)(end - q));
            if (!gt) {
                snprintf(why, len, "unterminated tag");
                ok = false;
                break;
            }
        }
        if (!ok)
            break;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                snprintf(why, len, "</%s> does not close <%s>", name,
                         depth ? stack[depth - 1] : "(nothing)");
                ok = false;
                break;
            }
            depth--;
        } else if (selfclose) {
            if (depth == 0 && roots++ > 0) {
                snprintf(why, len, "more than one root element");
                ok = false;
                break;
            }
        } else {
            if (depth == 0 && roots++ > 0) {
                snprintf(why, len, "more than one root element");
                ok = false;
                break;
            }
            if (depth >= 64) {
                snprintf(why, len, "too deep");
                ok = false;
                break;
            }
            snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
        }
        p = gt + 1;
    }
    if (ok && depth) {
        snprintf(why, len, "unclosed <%s>", stack[depth - 1]);
        ok = false;
    }
    if (ok && roots == 0) {
        snprintf(why, len, "no root element");
        ok = false;
    }
    free(text);
    return ok;
}

json_t *e2e_check_outputs(const char *dir, const char *junit_dir)
{
    char path[1024], why[256], *xml;
    struct fl_err err = {0};
    struct hist h;
    struct hist_faults fs = {0};
    json_t *r, *v;
    size_t i;
    const char *name;

    snprintf(path, sizeof(path), "%s/report.json", dir);
    r = e2e_json_load(path);
    assert_non_null(r);
    name = json_string_value(json_object_get(r, "experiment"));
    assert_non_null(name);
    assert_non_null(json_string_value(json_object_get(r, "verdict")));
    assert_true(json_is_array(json_object_get(r, "verifiers")));
    assert_true(json_is_array(json_object_get(r, "faults")));
    v = json_object_get(r, "ops");
    assert_true(json_is_integer(json_object_get(v, "total")));
    assert_true(json_is_integer(json_object_get(v, "ok")));
    assert_true(json_is_integer(json_object_get(v, "fail")));
    assert_true(json_is_integer(json_object_get(v, "info")));
    assert_int_equal(json_integer_value(json_object_get(v, "total")),
                     json_integer_value(json_object_get(v, "ok")) +
                         json_integer_value(json_object_get(v, "fail")) +
                         json_integer_value(json_object_get(v, "info")));
    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        assert_non_null(json_string_value(json_object_get(v, "name")));
        assert_true(json_is_boolean(json_object_get(v, "pass")));
        assert_non_null(json_object_get(v, "measured"));
        assert_non_null(json_object_get(v, "bound"));
        assert_non_null(json_string_value(json_object_get(v, "detail")));
    }
    snprintf(path, sizeof(path), "%s/junit.xml", junit_dir);
    if (!e2e_xml_well_formed(path, why, sizeof(why)))
        fail_msg("%s is not well-formed: %s", path, why);
    xml = tu_sh_out("cat '%s'", path);
    assert_non_null(xml);
    snprintf(why, sizeof(why), "<testsuite name=\"%s\"", name);
    if (!strstr(xml, why))
        fail_msg("%s has no testsuite for %s", path, name);
    free(xml);
    assert_int_equal(hist_init(&h), 0);
    snprintf(path, sizeof(path), "%s/history.jsonl", dir);
    if (hist_load_jsonl(path, &h, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(
        (long long)h.n,
        0 + json_integer_value(json_object_get(json_object_get(r, "ops"), "total")) +
            json_integer_value(json_object_get(json_object_get(r, "final_reads"), "total")));
    hist_free(&h);
    snprintf(path, sizeof(path), "%s/faults.jsonl", dir);
    if (hist_faults_load_jsonl(path, &fs, &err) < 0)
        fail_msg("%s", err.msg);
    hist_faults_free(&fs);
    return r;
}

void e2e_print_log(const char *path)
{
    tu_sh("tail -n 40 '%s' >&2", path);
}
