/*
 * Packet captures with libpcap: POST /v1/captures starts one on an allowed
 * interface with a BPF filter, written as a pcap file under
 * <state-dir>/captures/<id>.pcap; it ends by itself at its packet, byte or
 * time bound, or on DELETE /v1/captures/{id}. Each capture runs in its own
 * thread (pcap_dispatch with a short timeout, so stop requests are seen
 * within ~100 ms). Captures only read traffic; they never change it.
 *
 * Only an interface named by --allow dev:IFNAME is captured on (never "any"
 * nor a /0 allow's whole host). Files are created O_EXCL|O_NOFOLLOW, mode
 * 0600. The captures directory has a quota (CAP_QUOTA): a new capture first
 * deletes the oldest files of finished captures until its max_bytes fits,
 * and is refused (507) when it still does not.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "faultline/json.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"

#define CAP_MAX             8
#define CAP_PACKETS_MAX     1000000LL
#define CAP_BYTES_MAX       (1024LL * 1024 * 1024)
#define CAP_DURATION_MAX_MS (3600LL * 1000)
#define CAP_QUOTA           (2LL * 1024 * 1024 * 1024) /* bytes of pcap files kept */

#ifdef FAULTLINE_HAVE_PCAP
#include <pcap/pcap.h>

struct capture {
    bool used;
    bool running; /* thread alive */
    bool closing; /* being stopped by one DELETE; the slot stays taken */
    volatile bool stop;
    char id[INJ_ID_MAX + 1];
    char dev[AGENT_IFNAME_MAX];
    char filter[256];
    char path[4096];
    long long max_packets, max_bytes, duration_ms;
    long long packets, bytes;
    int64_t start_ns, end_ns;
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *pc;
    pcap_dumper_t *dump;
    pthread_t thread;
};

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct capture caps[CAP_MAX];

bool agent_capture_supported(void)
{
    return true;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct capture *c = (struct capture *)user;

    pcap_dump((u_char *)c->dump, h, bytes);
    c->packets++;
    c->bytes += h->caplen;
    if (c->packets >= c->max_packets || c->bytes >= c->max_bytes)
        pcap_breakloop(c->pc);
}

static void *cap_main(void *arg)
{
    struct capture *c = arg;
    int64_t deadline = c->start_ns + c->duration_ms * 1000000LL;
    int n;

    while (!c->stop && c->packets < c->max_packets && c->bytes < c->max_bytes &&
           fl_now_ns() < deadline) {
        n = pcap_dispatch(c->pc, -1, on_packet, (u_char *)c);
        if (n == PCAP_ERROR) {
            snprintf(c->error, sizeof(c->error), "%s", pcap_geterr(c->pc));
            break;
        }
    }
    pcap_dump_flush(c->dump);
    pthread_mutex_lock(&cap_lock);
    c->end_ns = fl_now_ns();
    pthread_mutex_unlock(&cap_lock);
    return NULL;
}

static json_t *cap_json(const struct capture *c)
{
    int64_t end = c->end_ns ? c->end_ns : fl_now_ns();

    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:I,s:s?}", "id", c->id, "dev", c->dev, "filter",
                     c->filter, "path", c->path, "packets", (json_int_t)c->packets, "bytes",
                     (json_int_t)c->bytes, "running", c->end_ns == 0, "duration_ms",
                     (json_int_t)((end - c->start_ns) / 1000000), "error",
                     c->error[0] ? c->error : NULL);
}

static json_t *errj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *errj(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:s}", "error", msg);
}

static bool dev_allowed(const struct agent_config *cfg, const char *dev)
{
    size_t i;

    if (strcmp(dev, "any") == 0)
        return false;
    for (i = 0; i < cfg->n_allow_devs; i++)
        if (strcmp(cfg->allow_devs[i], dev) == 0)
            return true;
    return false;
}

/* True if name is the file of a capture slot in use (cap_lock held). */
static bool file_in_use(const char *name)
{
    size_t i, n;

    for (i = 0; i < CAP_MAX; i++) {
        n = strlen(caps[i].id);
        if (caps[i].used && strncmp(name, caps[i].id, n) == 0 && strcmp(name + n, ".pcap") == 0)
            return true;
    }
    return false;
}

/*
 * Make room for want more bytes under CAP_QUOTA: delete the oldest pcap files
 * no capture uses. 0, or -ENOSPC when they are not enough (cap_lock held).
 */
static int make_room(const char *dir, long long want)
{
    struct dirent *de;
    struct stat st;
    long long used;
    int dfd, r = 0;
    DIR *d;

    for (;;) {
        char oldest[256] = "";
        time_t ot = 0;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
            if (dfd >= 0)
                close(dfd);
            return -errno;
        }
        used = 0;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            used += (long long)st.st_size;
            if (S_ISREG(st.st_mode) && !file_in_use(de->d_name) &&
                strlen(de->d_name) < sizeof(oldest) && (oldest[0] == '\0' || st.st_mtime < ot)) {
                snprintf(oldest, sizeof(oldest), "%s", de->d_name);
                ot = st.st_mtime;
            }
        }
        if (used + want <= CAP_QUOTA || oldest[0] == '\0') {
            r = used + want <= CAP_QUOTA ? 0 : -ENOSPC;
            closedir(d);
            return r;
        }
        log_info("captures: quota reached, deleting the oldest file %s", oldest);
        unlinkat(dirfd(d), oldest, 0);
        closedir(d);
    }
}

/* Create path afresh (an old file of the same id goes) without following links. */
static FILE *create_private(const char *path)
{
    int fd;
    FILE *fp;

    if (unlink(path) < 0 && errno != ENOENT)
        return NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    fp = fdopen(fd, "wb");
    if (fp == NULL)
        close(fd);
    return fp;
}

static int get_limit(const json_t *req, const char *key, long long def, long long max,
                     long long *out)
{
    json_t *v = json_object_get(req, key);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

unsigned agent_capture_start(struct agent *a, const json_t *req, json_t **out)
{
    static const char *const keys[] = {"id",        "dev",         "filter", "max_packets",
                                       "max_bytes", "duration_ms", NULL};
    char ebuf[PCAP_ERRBUF_SIZE];
    struct bpf_program prog;
    struct capture *c = NULL;
    const char *key, *id, *dev, *filter = "";
    size_t i;
    unsigned st;

    if ((key = fl_json_unknown_key(req, keys)) != NULL) {
        *out = errj("unknown field '%.64s'", key);
        return 400;
    }
    id = json_string_value(json_object_get(req, "id"));
    dev = json_string_value(json_object_get(req, "dev"));
    if (id == NULL || !inj_id_valid(id)) {
        *out = errj("field 'id' must be a string [A-Za-z0-9_.-]{1,%d}", INJ_ID_MAX);
        return 400;
    }
    if (dev == NULL || strlen(dev) >= AGENT_IFNAME_MAX || strchr(dev, '/') != NULL) {
        *out = errj("field 'dev' must be an interface name");
        return 400;
    }
    if (json_object_get(req, "filter") != NULL) {
        filter = json_string_value(json_object_get(req, "filter"));
        if (filter == NULL || strlen(filter) >= sizeof(c->filter)) {
            *out = errj("field 'filter' must be a BPF filter string under 256 bytes");
            return 400;
        }
    }
    pthread_mutex_lock(&cap_lock);
    for (i = 0; i < CAP_MAX; i++)
        if (caps[i].used && strcmp(caps[i].id, id) == 0) {
            *out = errj("capture '%s' exists", id);
            st = 409;
            goto out;
        }
    for (i = 0; i < CAP_MAX && c == NULL; i++)
        if (!caps[i].used)
            c = &caps[i];
    if (c == NULL) {
        *out = errj("too many captures (%d); DELETE finished ones", CAP_MAX);
        st = 503;
        goto out;
    }
    memset(c, 0, sizeof(*c));
    if (get_limit(req, "max_packets", 10000, CAP_PACKETS_MAX, &c->max_packets) < 0 ||
        get_limit(req, "max_bytes", 64LL << 20, CAP_BYTES_MAX, &c->max_bytes) < 0 ||
        get_limit(req, "duration_ms", 60000, CAP_DURATION_MAX_MS, &c->duration_ms) < 0) {
        *out = errj("max_packets (1..%lld), max_bytes (1..%lld) and duration_ms (1..%lld) "
                    "must be integers",
                    CAP_PACKETS_MAX, CAP_BYTES_MAX, CAP_DURATION_MAX_MS);
        st = 400;
        goto out;
    }
    if (!dev_allowed(a->cfg, dev)) {
        *out = errj("interface %s is outside this agent's --allow list (dev:%s)", dev, dev);
        st = 403;
        goto out;
    }
    {
        char dir[4096];

        snprintf(dir, sizeof(dir), "%s/captures", a->cfg->state_dir);
        if (make_room(dir, c->max_bytes) < 0) {
            *out = errj("captures: no room for %lld more bytes under the quota of %lld",
                        c->max_bytes, CAP_QUOTA);
            st = 507;
            memset(c, 0, sizeof(*c));
            goto out;
        }
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->dev, sizeof(c->dev), "%s", dev);
    snprintf(c->filter, sizeof(c->filter), "%s", filter);
    snprintf(c->path, sizeof(c->path), "%s/captures/%s.pcap", a->cfg->state_dir, id);
    ebuf[0] = '\0';
    c->pc = pcap_create(dev, ebuf);
    if (c->pc == NULL || pcap_set_snaplen(c->pc, 65535) != 0 || pcap_set_timeout(c->pc, 100) != 0 ||
        pcap_set_immediate_mode(c->pc, 1) != 0 || pcap_activate(c->pc) < 0) {
        *out = errj("capture on %s: %s", dev, c->pc ? pcap_geterr(c->pc) : ebuf);
        st = 400;
        goto fail;
    }
    if (pcap_compile(c->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        *out = errj("filter: %s", pcap_geterr(c->pc));
        st = 400;
        goto fail;
    }
    if (pcap_setfilter(c->pc, &prog) < 0) {
        pcap_freecode(&prog);
        *out = errj("filter: %s", pcap_geterr(c->pc));
        st = 400;
        goto fail;
    }
    pcap_freecode(&prog);
    {
        FILE *fp = create_private(c->path);

        c->dump = fp != NULL ? pcap_dump_fopen(c->pc, fp) : NULL;
        if (c->dump == NULL && fp != NULL)
            fclose(fp);
    }
    if (c->dump == NULL) {
        *out = errj("%s: %s", c->path, errno ? strerror(errno) : pcap_geterr(c->pc));
        st = 500;
        goto fail;
    }
    c->start_ns = fl_now_ns();
    if (pthread_create(&c->thread, NULL, cap_main, c) != 0) {
        *out = errj("capture thread: %s", strerror(errno));
        st = 500;
        goto fail;
    }
    c->used = c->running = true;
    *out = cap_json(c);
    st = 201;
    log_info("capture %s on %s started (%s)", id, dev, filter[0] ? filter : "no filter");
    goto out;
fail:
    if (c->dump != NULL)
        pcap_dump_close(c->dump);
    if (c->pc != NULL)
        pcap_close(c->pc);
    memset(c, 0, sizeof(*c));
out:
    pthread_mutex_unlock(&cap_lock);
    return st;
}

/* Join and close c (cap_lock not held: the thread takes it when it ends). */
static void cap_finish(struct capture *c)
{
    c->stop = true;
    if (c->pc != NULL)
        pcap_breakloop(c->pc);
    pthread_join(c->thread, NULL);
    pcap_dump_close(c->dump);
    pcap_close(c->pc);
    c->dump = NULL;
    c->pc = NULL;
    c->running = false;
}

unsigned agent_capture_stop(struct agent *a, const char *id, json_t **out)
{
    struct capture *c = NULL;
    size_t i;

    pthread_mutex_lock(&cap_lock);
    for (i = 0; i < CAP_MAX; i++)
        if (caps[i].used && !caps[i].closing && strcmp(caps[i].id, id) == 0)
            c = &caps[i];
    if (c == NULL) {
        pthread_mutex_unlock(&cap_lock);
        *out = errj("no capture '%s'", id);
        return 404;
    }
    c->closing = true; /* no other DELETE finds it from now on */
    pthread_mutex_unlock(&cap_lock);
    cap_finish(c);
    *out = cap_json(c);
    pthread_mutex_lock(&cap_lock);
    memset(c, 0, sizeof(*c));
    pthread_mutex_unlock(&cap_lock);
    return 200;
}

json_t *agent_capture_list(struct agent *a)
{
    json_t *arr = json_array();
    size_t i;

    pthread_mutex_lock(&cap_lock);
    for (i = 0; i < CAP_MAX; i++)
        if (caps[i].used && !caps[i].closing)
            json_array_append_new(arr, cap_json(&caps[i]));
    pthread_mutex_unlock(&cap_lock);
    return arr;
}

void agent_capture_stop_all(struct agent *a)
{
    size_t i;

    for (i = 0; i < CAP_MAX; i++) {
        pthread_mutex_lock(&cap_lock);
        if (!caps[i].used || caps[i].closing) {
            pthread_mutex_unlock(&cap_lock);
            continue;
        }
        caps[i].closing = true;
        pthread_mutex_unlock(&cap_lock);
        cap_finish(&caps[i]);
        pthread_mutex_lock(&cap_lock);
        memset(&caps[i], 0, sizeof(caps[i]));
        pthread_mutex_unlock(&cap_lock);
    }
}

#else /* !FAULTLINE_HAVE_PCAP */

bool agent_capture_supported(void)
{
    return false;
}

unsigned agent_capture_start(struct agent *a, const json_t *req, json_t **out)
{
    *out = json_pack("{s:s}", "error", "captures need libpcap; this agent was built without it");
    return 501;
}

unsigned agent_capture_stop(struct agent *a, const char *id, json_t **out)
{
    return agent_capture_start(a, NULL, out);
}

json_t *agent_capture_list(struct agent *a)
{
    return json_array();
}

void agent_capture_stop_all(struct agent *a)
{
}

#endif
