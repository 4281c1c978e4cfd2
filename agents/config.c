/*
 * The agent's configuration: the command line, the bearer token and TLS
 * files (the server's pair and the CA of the client certificates), and the
 * two address policies every fault is checked against before anything is
 * applied: the allowlist (what this agent may touch) and the control network
 * (what no fault may ever cut). The token is read once, compared in constant
 * time and wiped on exit; it is never logged.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "agent.h"
#include "faultline/buf.h"
#include "faultline/log.h"

void agent_usage(FILE *fp)
{
    fprintf(fp,
            "usage: faultline-agent --listen ADDR:PORT --token-file FILE [--state-dir DIR]\n"
            "                       [--allow CIDR|dev:IFNAME]... [--control CIDR]...\n"
            "                       [--allow-process unit:NAME|pidfile:PATH|match:TEXT]...\n"
            "                       [--restart-cmd TYPE:VALUE=PROGRAM ARG...]...\n"
            "                       [--process-file FILE] [--per-ip-limit N] "
            "[--private-metrics]\n"
            "                       [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
            "                       [--threads N]\n"
            "                       [--audit-max-bytes N[K|M|G]] [-n] [-v]\n"
            "\n"
            "  --listen ADDR:PORT   address to serve the API on (numeric; [v6]:port)\n"
            "  --token-file FILE    bearer token every /v1 request must present\n"
            "  --state-dir DIR      journal, captures, audit trail, halt (created 0700;\n"
            "                       default " AGENT_STATE_DIR_DEFAULT ", on tmpfs: see the docs)\n"
            "  --allow CIDR         addresses faults may name (repeatable); dev:IFNAME for\n"
            "                       interfaces; 0.0.0.0/0 or ::/0 allow host-wide faults\n"
            "  --control CIDR       control network: never dropped, refused in fault specs\n"
            "  --allow-process T:V  a process target faults may name (exact; repeatable)\n"
            "  --restart-cmd T:V=CMD  the command that starts an allowed target again\n"
            "  --process-file FILE  more process targets, JSON, re-read at each process fault\n"
            "  --tls-cert/--tls-key serve HTTPS with this PEM certificate and key\n"
            "  --tls-client-ca FILE every request must also present a client certificate\n"
            "                       signed by a CA of this PEM bundle (403 otherwise)\n"
            "  --threads N          HTTP worker threads (default 2)\n"
            "  --per-ip-limit N     connections per client address (default 32)\n"
            "  --private-metrics    per-fault /metrics series only with the token\n"
            "  --audit-max-bytes N  rotate DIR/audit.jsonl to audit.jsonl.1 past N bytes\n"
            "                       (default 16M; 1K..1G; one rotated file is kept)\n"
            "  -n                   check the configuration and exit\n"
            "  -v                   verbose logging (one line per request)\n"
            "\n"
            "POST /v1/halt reverts every fault and refuses new ones (409) until\n"
            "POST /v1/resume; the halt is kept in DIR/halted across restarts.\n"
            "Every change and every refused request is appended to DIR/audit.jsonl\n"
            "(GET /v1/audit?since=WALL_NS&limit=N).\n");
}

static int add_cidr(struct fl_cidr **arr, size_t *n, const char *s, const char *opt,
                    struct fl_err *err)
{
    struct fl_cidr c, *na;
    int r;

    r = fl_cidr_parse(s, &c, err);
    if (r < 0) {
        fl_err_prefix(err, "%s", opt);
        return r;
    }
    na = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (na == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    na[(*n)++] = c;
    *arr = na;
    return 0;
}

/* "65536", "64K", "16M", "1G" (powers of 1024), AGENT_AUDIT_MAX_MIN..AGENT_AUDIT_MAX_MAX. */
static int parse_size(const char *s, uint64_t *out, struct fl_err *err)
{
    unsigned long long v, mul = 1;
    char *end;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end == 'K' || *end == 'k')
        mul = 1ULL << 10;
    else if (*end == 'M')
        mul = 1ULL << 20;
    else if (*end == 'G')
        mul = 1ULL << 30;
    if (mul != 1)
        end++;
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > AGENT_AUDIT_MAX_MAX / mul ||
        v * mul < AGENT_AUDIT_MAX_MIN)
        return fl_errf(err, -EINVAL,
                       "--audit-max-bytes '%s': expected a size from 1K to 1G (bytes, or with "
                       "K, M or G)",
                       s);
    *out = v * mul;
    return 0;
}

static int add_allow(struct agent_config *cfg, const char *s, struct fl_err *err)
{
    char(*nd)[AGENT_IFNAME_MAX];
    const char *dev;
    size_t i;

    if (strncmp(s, "dev:", 4) != 0)
        return add_cidr(&cfg->allow, &cfg->n_allow, s, "--allow", err);
    dev = s + 4;
    if (*dev == '\0' || strlen(dev) >= AGENT_IFNAME_MAX || strcmp(dev, ".") == 0 ||
        strcmp(dev, "..") == 0)
        return fl_errf(err, -EINVAL, "--allow '%s': bad interface name", s);
    for (i = 0; dev[i] != '\0'; i++)
        if (dev[i] == '/' || dev[i] == ':' || dev[i] <= ' ' || dev[i] > '~')
            return fl_errf(err, -EINVAL, "--allow '%s': bad interface name", s);
    nd = realloc(cfg->allow_devs, (cfg->n_allow_devs + 1) * sizeof(*nd));
    if (nd == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    snprintf(nd[cfg->n_allow_devs++], AGENT_IFNAME_MAX, "%s", dev);
    cfg->allow_devs = nd;
    return 0;
}

int agent_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct fl_err *err)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *h = s;
    size_t hlen;
    char *end;
    long port;

    memset(ss, 0, sizeof(*ss));
    if (s == NULL || *s == '\0')
        return fl_errf(err, -EINVAL, "--listen: missing ADDR:PORT");
    if (*s == '[') {
        colon = strchr(s, ']');
        if (colon == NULL || colon[1] != ':')
            return fl_errf(err, -EINVAL, "--listen '%s': expected [v6addr]:port", s);
        h = s + 1;
        hlen = (size_t)(colon - h);
        colon++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return fl_errf(err, -EINVAL, "--listen '%s': expected ADDR:PORT", s);
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return fl_errf(err, -EINVAL, "--listen '%s': expected ADDR:PORT", s);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
        return fl_errf(err, -EINVAL, "--listen '%s': port must be 1..65535", s);
    if (*s != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return 0;
    }
    return fl_errf(err, -EINVAL, "--listen '%s': '%s' is not a numeric address", s, host);
}

int agent_config_parse(struct agent_config *cfg, int argc, char **argv, struct fl_err *err)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"token-file", required_argument, NULL, 't'},
        {"state-dir", required_argument, NULL, 's'},
        {"allow", required_argument, NULL, 'a'},
        {"control", required_argument, NULL, 'c'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"tls-client-ca", required_argument, NULL, 'A'},
        {"threads", required_argument, NULL, 'T'},
        {"allow-process", required_argument, NULL, 'P'},
        {"restart-cmd", required_argument, NULL, 'R'},
        {"process-file", required_argument, NULL, 'F'},
        {"per-ip-limit", required_argument, NULL, 'I'},
        {"private-metrics", no_argument, NULL, 'M'},
        {"audit-max-bytes", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    long v;
    int c, r;

    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = 2;
    cfg->per_ip_limit = AGENT_PER_IP_DEFAULT;
    cfg->audit_max_bytes = AGENT_AUDIT_MAX_DEFAULT;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":nvh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            cfg->listen = optarg;
            break;
        case 't':
            cfg->token_file = optarg;
            break;
        case 's':
            cfg->state_dir = optarg;
            break;
        case 'a':
            if ((r = add_allow(cfg, optarg, err)) < 0)
                return r;
            break;
        case 'c':
            if ((r = add_cidr(&cfg->control, &cfg->n_control, optarg, "--control", err)) < 0)
                return r;
            break;
        case 'P':
            if ((r = agent_config_add_process(cfg, optarg, err)) < 0)
                return r;
            break;
        case 'R':
            if ((r = agent_config_add_restart(cfg, optarg, err)) < 0)
                return r;
            break;
        case 'F':
            if (optarg[0] != '/')
                return fl_errf(err, -EINVAL, "--process-file '%s': must be an absolute path",
                               optarg);
            cfg->process_file = optarg;
            break;
        case 'C':
            cfg->tls_cert = optarg;
            break;
        case 'K':
            cfg->tls_key = optarg;
            break;
        case 'A':
            cfg->tls_client_ca = optarg;
            break;
        case 'T':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 64)
                return fl_errf(err, -EINVAL, "--threads '%s': expected 1..64", optarg);
            cfg->threads = (unsigned)v;
            break;
        case 'I':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 512)
                return fl_errf(err, -EINVAL, "--per-ip-limit '%s': expected 1..512", optarg);
            cfg->per_ip_limit = (unsigned)v;
            break;
        case 'M':
            cfg->private_metrics = true;
            break;
        case 'B':
            if ((r = parse_size(optarg, &cfg->audit_max_bytes, err)) < 0)
                return r;
            break;
        case 'n':
            cfg->check_only = true;
            break;
        case 'v':
            cfg->verbose++;
            break;
        case 'h':
            return 1;
        case ':':
            return fl_errf(err, -EINVAL, "option '%s' needs an argument", argv[optind - 1]);
        default:
            return fl_errf(err, -EINVAL, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fl_errf(err, -EINVAL, "unexpected argument '%s'", argv[optind]);
    if (cfg->listen == NULL)
        return fl_errf(err, -EINVAL, "--listen ADDR:PORT is required");
    if (cfg->token_file == NULL)
        return fl_errf(err, -EINVAL, "--token-file FILE is required");
    /*
     * The journal protects kernel objects that do not survive a reboot, so it
     * lives on /run (tmpfs; the unit's RuntimeDirectory): it survives an agent
     * crash, dies with the objects it describes, and its fsyncs cost nothing.
     */
    if (cfg->state_dir == NULL)
        cfg->state_dir = AGENT_STATE_DIR_DEFAULT;
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return fl_errf(err, -EINVAL, "--tls-cert and --tls-key go together");
    if (cfg->tls_client_ca != NULL && cfg->tls_cert == NULL)
        return fl_errf(err, -EINVAL,
                       "--tls-client-ca needs --tls-cert and --tls-key: client certificates "
                       "are asked for in the TLS handshake, and plain HTTP has none");
    r = agent_addr_parse(cfg->listen, &cfg->listen_addr, &cfg->listen_len, err);
    if (r < 0)
        return r;
    return 0;
}

/*
 * Read a whole small file into a NUL-terminated malloc'd string. Secrets go
 * through here: the buffer is allocated once at its final size (the file's
 * size, at most max) and read into directly, so no copy of the content is
 * ever left behind by a realloc or an intermediate buffer; on error it is
 * wiped. A file larger than max is an error, never truncated.
 */
static int read_small(const char *path, size_t max, char **out, size_t *len, struct stat *st,
                      struct fl_err *err)
{
    struct stat sb;
    size_t size, got = 0;
    char *buf = NULL;
    ssize_t n;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) < 0) {
        r = fl_errf(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (st != NULL)
        *st = sb;
    if (sb.st_size < 0 || (size_t)sb.st_size > max) {
        r = fl_errf(err, -E2BIG, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    size = (size_t)sb.st_size;
    buf = malloc(size + 2); /* one more byte to see a file that grew */
    if (buf == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    while (got < size + 1 && (n = read(fd, buf + got, size + 1 - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = fl_errf(err, -errno, "%s: %s", path, strerror(errno));
            goto out;
        }
        got += (size_t)n;
    }
    if (got > size)
        r = fl_errf(err, -EAGAIN, "%s: changed while being read", path);
out:
    close(fd);
    if (r < 0) {
        if (buf != NULL)
            explicit_bzero(buf, size + 2);
        free(buf);
        return r;
    }
    buf[got] = '\0';
    *len = got;
    *out = buf;
    return 0;
}

/*
 * Read and check a --tls-client-ca bundle into *out (malloc'd). Every
 * certificate in it must parse and be a CA (basicConstraints CA:TRUE): gnutls
 * would trust a leaf given here by mistake as an anchor of its own, so that
 * one certificate (and whoever holds its key) would pass without the option
 * saying so. Costs one parse of the bundle. 0 or negative errno with err;
 * *out untouched on error.
 */
static int read_client_ca(const char *path, char **out, struct fl_err *err)
{
    gnutls_x509_crt_t *crts = NULL;
    gnutls_datum_t d, dn = {NULL, 0};
    unsigned n = 0, i, bad = 0;
    char *pem = NULL;
    size_t len;
    int r;

    r = read_small(path, 1 << 20, &pem, &len, NULL, err);
    if (r < 0) {
        fl_err_prefix(err, "--tls-client-ca");
        return r;
    }
    d.data = (unsigned char *)pem;
    d.size = (unsigned)len;
    if (strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL ||
        (r = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0)) < 0 || n == 0) {
        r = fl_errf(err, -EINVAL, "--tls-client-ca %s: no PEM certificate that parses%s%s", path,
                    r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (bad == 0 && gnutls_x509_crt_get_ca_status(crts[i], NULL) <= 0) {
            bad = i + 1;
            if (gnutls_x509_crt_get_dn2(crts[i], &dn) < 0)
                dn.data = NULL;
        }
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);
    r = 0;
    if (bad != 0)
        r = fl_errf(err, -EINVAL,
                    "--tls-client-ca %s: certificate %u of %u (%.200s) is not a CA "
                    "(basicConstraints CA:TRUE); give the CA that signs the client "
                    "certificates, not a client certificate",
                    path, bad, n, dn.data ? (const char *)dn.data : "?");
    gnutls_free(dn.data);
out:
    if (r < 0) {
        free(pem);
        return r;
    }
    *out = pem;
    return 0;
}

int agent_config_load(struct agent_config *cfg, struct fl_err *err)
{
    struct stat st;
    size_t len, i;
    int r;

    r = read_small(cfg->token_file, AGENT_TOKEN_MAX, &cfg->token, &len, &st, err);
    if (r < 0) {
        fl_err_prefix(err, "--token-file");
        return r;
    }
    while (len > 0 && (cfg->token[len - 1] == '\n' || cfg->token[len - 1] == '\r' ||
                       cfg->token[len - 1] == ' ' || cfg->token[len - 1] == '\t'))
        cfg->token[--len] = '\0';
    cfg->token_len = len;
    if (len < AGENT_TOKEN_MIN)
        return fl_errf(err, -EINVAL, "--token-file %s: token shorter than %d characters",
                       cfg->token_file, AGENT_TOKEN_MIN);
    for (i = 0; i < len; i++)
        if (cfg->token[i] <= ' ' || cfg->token[i] > '~')
            return fl_errf(err, -EINVAL,
                           "--token-file %s: token must be printable ASCII without spaces",
                           cfg->token_file);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        log_warnx("--token-file %s is readable by group or others (mode %03o); use 0600",
                  cfg->token_file, (unsigned)(st.st_mode & 0777));
    if (cfg->tls_cert != NULL) {
        r = read_small(cfg->tls_cert, 1 << 20, &cfg->tls_cert_pem, &len, NULL, err);
        if (r < 0) {
            fl_err_prefix(err, "--tls-cert");
            return r;
        }
        r = read_small(cfg->tls_key, 1 << 20, &cfg->tls_key_pem, &len, NULL, err);
        if (r < 0) {
            fl_err_prefix(err, "--tls-key");
            return r;
        }
        if (strstr(cfg->tls_cert_pem, "-----BEGIN CERTIFICATE-----") == NULL)
            return fl_errf(err, -EINVAL, "--tls-cert %s: no PEM certificate", cfg->tls_cert);
        if (strstr(cfg->tls_key_pem, "PRIVATE KEY-----") == NULL)
            return fl_errf(err, -EINVAL, "--tls-key %s: no PEM private key", cfg->tls_key);
    }
    if (cfg->tls_client_ca != NULL)
        return read_client_ca(cfg->tls_client_ca, &cfg->tls_client_ca_pem, err);
    return 0;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int agent_config_reload_tls(struct agent_config *cfg, struct fl_err *err)
{
    char *cert = NULL, *key = NULL, *client_ca = NULL;
    size_t len;
    int r;

    if (cfg->tls_cert == NULL)
        return fl_errf(err, -EINVAL, "no --tls-cert configured");
    r = read_small(cfg->tls_cert, 1 << 20, &cert, &len, NULL, err);
    if (r == 0)
        r = read_small(cfg->tls_key, 1 << 20, &key, &len, NULL, err);
    if (r == 0 && strstr(cert, "-----BEGIN CERTIFICATE-----") == NULL)
        r = fl_errf(err, -EINVAL, "--tls-cert %s: no PEM certificate", cfg->tls_cert);
    if (r == 0 && strstr(key, "PRIVATE KEY-----") == NULL)
        r = fl_errf(err, -EINVAL, "--tls-key %s: no PEM private key", cfg->tls_key);
    if (r == 0 && cfg->tls_client_ca != NULL)
        r = read_client_ca(cfg->tls_client_ca, &client_ca, err);
    if (r < 0) {
        free(cert);
        wipe_free(key);
        return r;
    }
    free(cfg->tls_cert_pem);
    wipe_free(cfg->tls_key_pem);
    free(cfg->tls_client_ca_pem);
    cfg->tls_cert_pem = cert;
    cfg->tls_key_pem = key;
    cfg->tls_client_ca_pem = client_ca;
    return 0;
}

void agent_config_free(struct agent_config *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->token != NULL) {
        explicit_bzero(cfg->token, cfg->token_len);
        free(cfg->token);
    }
    wipe_free(cfg->tls_key_pem);
    free(cfg->tls_cert_pem);
    free(cfg->tls_client_ca_pem);
    free(cfg->allow);
    free(cfg->allow_devs);
    free(cfg->control);
    agent_config_free_processes(cfg);
    memset(cfg, 0, sizeof(*cfg));
}

bool agent_token_equal(const char *want, size_t want_len, const char *got, size_t got_len)
{
    volatile unsigned char diff = 0;
    size_t i;

    /*
     * Time depends only on the length presented by the client, never on how
     * much of the secret matched or on its length.
     */
    diff |= (unsigned char)(want_len != got_len);
    for (i = 0; i < got_len; i++)
        diff |= (unsigned char)(got[i] ^ (want_len ? want[i % want_len] : 0));
    return want_len > 0 && diff == 0;
}

static bool is_any(const struct fl_cidr *c)
{
    return c->prefix == 0;
}

int agent_policy_check(const struct agent_config *cfg, const struct inj_fault *f,
                       struct fl_err *err)
{
    const struct fl_cidr *cidrs;
    const char *const *devs;
    size_t nc = 0, nd = 0, i, j;
    char buf[64], cbuf[64];
    bool ok, any = false;

    if (strcmp(inj_fault_kind(f), "process") == 0) {
        /* Processes have their own allowlist: no --allow, not even /0, admits them. */
        json_t *spec = inj_fault_to_json(f);
        int r;

        if (spec == NULL)
            return fl_errf(err, -ENOMEM, "out of memory");
        r = agent_process_check(cfg, spec, false, err);
        json_decref(spec);
        return r;
    }
    cidrs = inj_fault_cidrs(f, &nc);
    devs = inj_fault_devs(f, &nd);
    for (i = 0; i < cfg->n_allow; i++)
        any |= is_any(&cfg->allow[i]);
    if (nc == 0 && nd == 0 && !any)
        return fl_errf(err, -EPERM,
                       "fault %s names no address or interface (host-wide); this agent "
                       "allows that only with --allow 0.0.0.0/0 or ::/0",
                       inj_fault_kind(f));
    for (i = 0; i < nc; i++) {
        for (j = 0; j < cfg->n_control; j++)
            if (fl_cidr_overlaps(&cidrs[i], &cfg->control[j]))
                return fl_errf(err, -EPERM,
                               "%s overlaps the control network %s: the control channel is "
                               "never cut",
                               fl_cidr_format(&cidrs[i], buf, sizeof(buf)),
                               fl_cidr_format(&cfg->control[j], cbuf, sizeof(cbuf)));
        ok = false;
        for (j = 0; j < cfg->n_allow && !ok; j++)
            ok = fl_cidr_contains(&cfg->allow[j], &cidrs[i]);
        if (!ok)
            return fl_errf(err, -EPERM, "%s is outside this agent's --allow list",
                           fl_cidr_format(&cidrs[i], buf, sizeof(buf)));
    }
    for (i = 0; i < nd; i++) {
        ok = false;
        for (j = 0; j < cfg->n_allow_devs && !ok; j++)
            ok = strcmp(cfg->allow_devs[j], devs[i]) == 0;
        if (!ok)
            return fl_errf(err, -EPERM,
                           "interface %s is outside this agent's --allow list (dev:%s)", devs[i],
                           devs[i]);
    }
    return 0;
}
