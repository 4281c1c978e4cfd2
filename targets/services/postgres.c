/*
 * The postgres launcher: PostgreSQL 15 with pg_auto_failover (Debian's
 * postgresql-15, postgresql-15-auto-failover, pg-auto-failover-cli). The
 * first host of the primary region runs the primary, the first host of
 * another region the secondary (more hosts of other regions: more
 * secondaries), and the monitor runs on a host of a third region when there
 * is one (otherwise on a remaining host), so that cutting the primary's
 * region leaves the monitor with the secondary, as pg_auto_failover's docs
 * ask. Every node is `pg_autoctl create ...` then `pg_autoctl run`, as the
 * postgres user, inside its host's namespace, with its own config and data
 * under <run_dir>/<host>/ (XDG_CONFIG_HOME / XDG_DATA_HOME point there).
 * When the postgres user cannot reach run_dir (a run folder inside a
 * mode-0700 directory, as `mktemp -d` makes), config and data go to a
 * private /var/tmp/faultline-postgres-XXXXXX owned by postgres instead
 * (svc_state_dir; removed at stop, named in the status as state_dir); the
 * logs stay in <run_dir>/<host>/, opened before privileges are dropped.
 *
 * pg_auto_failover's timeouts are long by default (failover after ~20 s +
 * 30 s); the launcher writes the monitor's settings into its
 * postgresql.conf before it starts (pgautofailover.health_check_period,
 * health_check_timeout, health_check_max_retries, health_check_retry_delay,
 * node_considered_unhealthy_timeout, primary_demote_timeout,
 * startup_grace_period) and the keepers' timeout.network_partition_timeout
 * with `pg_autoctl config set`. start() returns when the monitor reports one
 * node primary and every other secondary, after creating the table
 * faultline_kv(k text primary key, v bigint) and faultline_set(k text,
 * e bigint, primary key (k, e)) on the primary.
 *
 * Endpoints are libpq conninfo strings listing every data node (the region's
 * own first) with target_session_attrs=read-write, the way an application
 * finds the primary with libpq.
 *
 * Options (ms unless said): health_check_period (1000),
 * health_check_timeout (1000), health_check_max_retries (1, count),
 * health_check_retry_delay (500), unhealthy_timeout (3000),
 * primary_demote_timeout (5000), startup_grace_period (2000),
 * network_partition_timeout (4000, whole seconds), port (5432: node i uses
 * port+i, the monitor port+n), database (postgres), synchronous (true:
 * secondaries are in the write quorum; false: --replication-quorum false).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "faultline/err.h"
#include "faultline/file.h"
#include "faultline/optspec.h"
#include "faultline/target.h"
#include "faultline/timeutil.h"
#include "svc.h"

#define PGAUTOCTL_BIN "/usr/bin/pg_autoctl"
#define PG_BINDIR     "/usr/lib/postgresql/15/bin"
#define PG_USER       "postgres"

enum pg_role { PG_MONITOR, PG_NODE };

struct pnode {
    char name[64], region[64], netns[64], addr[64];
    char base[400];  /* <run_dir>/<host>: logs */
    char state[400]; /* <state dir>/<host>: pg/ (svc_state_dir: run_dir or a private one) */
    char pgdata[460];
    int port;
    enum pg_role role;
    struct svc_proc p;
};

struct pg_state {
    struct pnode *nodes; /* nodes[0] is the monitor */
    size_t n;
    char dbname[64];
    char env_cfg[480], env_data[480], env_path[600];
    char monitor_uri[256];
    char xdg[400];  /* <state dir>/pg-xdg: pg_autoctl's config and state files */
    char priv[300]; /* the private state dir made because run_dir is out of postgres's reach */
    struct fl_target_endpoint *eps;
    size_t neps;
};

static void pg_stop(void *state)
{
    struct pg_state *s = state;
    size_t i;

    if (!s)
        return;
    /* Data nodes first (pg_autoctl stops its postgres on SIGTERM), the monitor last. */
    for (i = s->n; i-- > 0;)
        svc_stop(&s->nodes[i].p, 15000000000LL);
    for (i = 0; i < s->n; i++) {
        char d[PATH_MAX];

        snprintf(d, sizeof(d), "%s/pg", s->nodes[i].state);
        if (s->nodes[i].state[0])
            svc_rmtree(d);
    }
    if (s->xdg[0])
        svc_rmtree(s->xdg);
    if (s->priv[0])
        svc_rmtree(s->priv);
    free(s->nodes);
    free(s->eps);
    free(s);
}

static int pg_autoctl(struct pg_state *s, struct pnode *nd, const char *what, char *const args[],
                      int64_t timeout_ns, struct fl_err *err)
{
    char *argv[48];
    char *env[] = {s->env_cfg, s->env_data, s->env_path, NULL};
    char label[128];
    size_t i, k = 0;

    argv[k++] = (char *)PGAUTOCTL_BIN;
    for (i = 0; args[i] && k < 47; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    snprintf(label, sizeof(label), "pg_autoctl %s on %s", what, nd->name);
    return svc_run(label, nd->netns, PG_USER, argv, env, nd->p.log, timeout_ns, err);
}

static int append_file(const char *path, const char *text, struct fl_err *err)
{
    FILE *f = fopen(path, "a");

    if (!f)
        return fl_errf(err, -errno, "cannot append to %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        return fl_errf(err, -EIO, "cannot append to %s", path);
    return 0;
}

static int run_node(struct pg_state *s, struct pnode *nd, struct fl_err *err)
{
    char *argv[] = {(char *)PGAUTOCTL_BIN, (char *)"run", (char *)"--pgdata", nd->pgdata, NULL};
    char *env[] = {s->env_cfg, s->env_data, s->env_path, NULL};

    return svc_spawn(&nd->p, nd->netns, PG_USER, argv, env, err);
}

/* Run a query on the monitor; NULL on failure (the caller clears). */
static PGresult *monitor_query(struct pg_state *s, const char *sql)
{
    char ci[512];
    PGconn *c;
    PGresult *r;

    snprintf(ci, sizeof(ci),
             "host=%s port=%d dbname=pg_auto_failover user=autoctl_node connect_timeout=2",
             s->nodes[0].addr, s->nodes[0].port);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    r = PQexec(c, sql);
    PQfinish(c);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Count nodes whose reported and goal state both equal state. */
static int count_state(struct pg_state *s, const char *state, char *primary, size_t plen)
{
    PGresult *r =
        monitor_query(s, "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node");
    int i, n = 0;

    if (!r)
        return -1;
    for (i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 1), state) == 0 && strcmp(PQgetvalue(r, i, 2), state) == 0) {
            n++;
            if (primary)
                snprintf(primary, plen, "%s", PQgetvalue(r, i, 0));
        }
    PQclear(r);
    return n;
}

static int wait_states(struct pg_state *s, struct pnode *nd, int64_t deadline, const char *state,
                       int want, struct fl_err *err)
{
    char tail[400];

    while (count_state(s, state, NULL, 0) < want) {
        if (!svc_alive(&nd->p, NULL))
            return fl_errf(err, -EIO, "pg_autoctl on %s exited; log %s: %s", nd->name, nd->p.log,
                           svc_log_tail(nd->p.log, tail, sizeof(tail)));
        if (fl_now_ns() > deadline)
            return fl_errf(err, -ETIMEDOUT,
                           "pg_autoctl on %s: the monitor does not report %d node(s) '%s' in time; "
                           "log %s: %s",
                           nd->name, want, state, nd->p.log,
                           svc_log_tail(nd->p.log, tail, sizeof(tail)));
        svc_sleep_ns(250000000);
    }
    return 0;
}

/* Choose monitor / primary / secondaries among the hosts (indexes into env->hosts). */
static int place(const struct fl_target_env *env, size_t *order, struct fl_err *err)
{
    size_t prim = 0, sec = SIZE_MAX, mon = SIZE_MAX, i, k = 0;

    for (i = 0; env->primary_region && i < env->n_hosts; i++)
        if (strcmp(env->hosts[i].region, env->primary_region) == 0) {
            prim = i;
            break;
        }
    if (env->primary_region && i == env->n_hosts)
        return fl_errf(err, -EINVAL, "postgres: no host in primary region '%s'",
                       env->primary_region);
    for (i = 0; i < env->n_hosts && sec == SIZE_MAX; i++)
        if (strcmp(env->hosts[i].region, env->hosts[prim].region) != 0)
            sec = i;
    if (sec == SIZE_MAX)
        return fl_errf(err, -EINVAL, "postgres needs a second region for the secondary");
    for (i = 0; i < env->n_hosts && mon == SIZE_MAX; i++)
        if (strcmp(env->hosts[i].region, env->hosts[prim].region) != 0 &&
            strcmp(env->hosts[i].region, env->hosts[sec].region) != 0)
            mon = i;
    for (i = 0; i < env->n_hosts && mon == SIZE_MAX; i++)
        if (i != prim && i != sec)
            mon = i;
    if (mon == SIZE_MAX)
        return fl_errf(err, -EINVAL,
                       "postgres needs at least 3 hosts (monitor, primary, secondary), the "
                       "topology has %zu",
                       env->n_hosts);
    order[k++] = mon;
    order[k++] = prim;
    order[k++] = sec;
    for (i = 0; i < env->n_hosts; i++)
        if (i != mon && i != prim && i != sec)
            order[k++] = i;
    return 0;
}

static int make_endpoints(struct pg_state *s)
{
    size_t i, j, k;

    if ((s->eps = calloc(s->n, sizeof(*s->eps))) == NULL)
        return -ENOMEM;
    for (i = 1; i < s->n; i++) {
        struct fl_target_endpoint *e;
        char hosts[160] = "", ports[64] = "";
        size_t hl = 0, pl = 0;

        for (j = 0; j < s->neps && strcmp(s->eps[j].region, s->nodes[i].region) != 0; j++)
            ;
        if (j < s->neps)
            continue;
        e = &s->eps[s->neps++];
        snprintf(e->region, sizeof(e->region), "%s", s->nodes[i].region);
        for (k = 0; k < 2; k++)
            for (j = 1; j < s->n; j++) {
                bool same = strcmp(s->nodes[j].region, s->nodes[i].region) == 0;

                if ((k == 0) != same || hl >= sizeof(hosts) || pl >= sizeof(ports))
                    continue;
                hl += (size_t)snprintf(hosts + hl, sizeof(hosts) - hl, "%s%s", hl ? "," : "",
                                       s->nodes[j].addr);
                pl += (size_t)snprintf(ports + pl, sizeof(ports) - pl, "%s%d", pl ? "," : "",
                                       s->nodes[j].port);
            }
        if (hl >= sizeof(hosts) || pl >= sizeof(ports))
            return -ENAMETOOLONG;
        if ((size_t)snprintf(e->url, sizeof(e->url),
                             "host=%s port=%s dbname=%s user=postgres "
                             "target_session_attrs=read-write",
                             hosts, ports, s->dbname) >= sizeof(e->url))
            return -ENAMETOOLONG;
    }
    return 0;
}

static int create_table(struct pg_state *s, struct fl_err *err)
{
    const struct fl_target_endpoint *e = &s->eps[0];
    char ci[400];
    PGconn *c;
    PGresult *r;
    int rc = 0;

    snprintf(ci, sizeof(ci), "%s connect_timeout=5", e->url);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        rc = fl_errf(err, -EIO, "postgres: cannot connect to the primary: %s", PQerrorMessage(c));
        PQfinish(c);
        return rc;
    }
    /* faultline_kv for the register model, faultline_set (a row per element) for the set model. */
    r = PQexec(c,
               "CREATE TABLE IF NOT EXISTS faultline_kv (k text PRIMARY KEY, v bigint NOT NULL);"
               "CREATE TABLE IF NOT EXISTS faultline_set (k text, e bigint, PRIMARY KEY (k, e))");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc =
            fl_errf(err, -EIO, "postgres: cannot create faultline_kv: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* What the lab must give: a monitor, a primary and a secondary in another region; the ports. */
static int pg_check(const struct fl_target_env *env, const char **key, struct fl_err *err)
{
    size_t *order = calloc(env->n_hosts ? env->n_hosts : 1, sizeof(*order));
    int port = (int)svc_opt_uint(env->config, "port", 5432), r;

    if (key)
        *key = NULL;
    if (!order)
        return fl_errf(err, -ENOMEM, "out of memory");
    r = place(env, order, err);
    free(order);
    if (r < 0)
        return r;
    /* Data nodes on port, port+1, ...; the monitor on port + hosts. */
    if (port + (long)env->n_hosts > 65535) {
        if (key)
            *key = "port";
        return fl_errf(err, -EINVAL,
                       "postgres: port %d + one port per host (%zu hosts) passes 65535", port,
                       env->n_hosts);
    }
    return 0;
}

/* What pg_start needs on this machine: the lab's shape, the binaries, the postgres user. */
static int pg_prerequisites(const struct fl_target_env *env, struct passwd **pw, struct fl_err *err)
{
    int rc;

    if ((rc = pg_check(env, NULL, err)) < 0 ||
        (rc = svc_need(PGAUTOCTL_BIN, "pg-auto-failover-cli", err)) < 0 ||
        (rc = svc_need(PG_BINDIR "/postgres", "postgresql-15", err)) < 0)
        return rc;
    if (access("/usr/lib/postgresql/15/lib/pgautofailover.so", R_OK) != 0)
        return fl_errf(err, -ENOENT,
                       "pgautofailover.so not found: install the Debian package "
                       "postgresql-15-auto-failover (scripts/setup.sh --with-services)");
    if ((*pw = getpwnam(PG_USER)) == NULL)
        return fl_errf(err, -ENOENT,
                       "no user 'postgres': install the Debian package postgresql-15");
    if (strlen(env->run_dir) > 300)
        return fl_errf(err, -ENAMETOOLONG, "run directory path too long");
    return 0;
}

/*
 * Name every node (node 0 the monitor, then the data nodes in placement
 * order) and make its directories: logs under run_dir/<host>, state under
 * sdir/<host> (its pg/ fresh and the postgres user's), and sdir/pg-xdg.
 */
static int pg_layout(const struct fl_target_env *env, struct pg_state *s, const size_t *order,
                     const struct passwd *pw, const char *sdir, struct fl_err *err)
{
    int base_port = (int)svc_opt_uint(env->config, "port", 5432);
    size_t i;
    int rc;

    snprintf(s->dbname, sizeof(s->dbname), "%s", svc_opt_str(env->config, "database", "postgres"));
    snprintf(s->env_cfg, sizeof(s->env_cfg), "XDG_CONFIG_HOME=%s/pg-xdg/config", sdir);
    snprintf(s->env_data, sizeof(s->env_data), "XDG_DATA_HOME=%s/pg-xdg/data", sdir);
    snprintf(s->env_path, sizeof(s->env_path), "PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin", PG_BINDIR);
    for (i = 0; i < s->n; i++) {
        const struct fl_target_host *th = &env->hosts[order[i]];
        struct pnode *nd = &s->nodes[i];
        char d[PATH_MAX];

        snprintf(nd->name, sizeof(nd->name), "%s", th->name);
        snprintf(nd->region, sizeof(nd->region), "%s", th->region);
        snprintf(nd->netns, sizeof(nd->netns), "%s", th->netns);
        snprintf(nd->addr, sizeof(nd->addr), "%s", th->data_addr);
        snprintf(nd->base, sizeof(nd->base), "%s/%s", env->run_dir, th->name);
        snprintf(nd->state, sizeof(nd->state), "%s/%s", sdir, th->name);
        snprintf(nd->pgdata, sizeof(nd->pgdata), "%s/pg/data", nd->state);
        nd->role = i == 0 ? PG_MONITOR : PG_NODE;
        nd->port = i == 0 ? base_port + (int)s->n : base_port + (int)i - 1;
        snprintf(nd->p.log, sizeof(nd->p.log), "%s/pg_autoctl%s.log", nd->base,
                 i == 0 ? "-monitor" : "");
        snprintf(nd->p.what, sizeof(nd->p.what), "pg_autoctl %s on %s", i == 0 ? "monitor" : "node",
                 th->name);
        snprintf(d, sizeof(d), "%s/pg", nd->state);
        svc_rmtree(d);
        if ((rc = fl_mkdir_p(nd->base, 0755)) < 0 || (rc = fl_mkdir_p(nd->state, 0755)) < 0 ||
            (rc = fl_mkdir_p_as(d, 0700, 0700, (int)pw->pw_uid, (int)pw->pw_gid)) < 0)
            return fl_errf(err, rc, "cannot create %s: %s", d, strerror(-rc));
    }
    snprintf(s->xdg, sizeof(s->xdg), "%s/pg-xdg", sdir);
    svc_rmtree(s->xdg);
    if ((rc = fl_mkdir_p_as(s->xdg, 0700, 0700, (int)pw->pw_uid, (int)pw->pw_gid)) < 0)
        return fl_errf(err, rc, "cannot create %s: %s", s->xdg, strerror(-rc));
    return 0;
}

/* The monitor: create, set its failure-detection settings, run, wait until it answers. */
static int pg_start_monitor(struct pg_state *s, const json_t *cfg, int64_t deadline,
                            struct fl_err *err)
{
    int rc;

    struct pnode *m = &s->nodes[0];
    char port[16], conf[PATH_MAX], text[1024];
    char *args[] = {(char *)"create",     (char *)"monitor",
                    (char *)"--pgdata",   m->pgdata,
                    (char *)"--pgport",   port,
                    (char *)"--hostname", m->addr,
                    (char *)"--auth",     (char *)"trust",
                    (char *)"--no-ssl",   NULL};

    snprintf(port, sizeof(port), "%d", m->port);
    if ((rc = pg_autoctl(s, m, "create monitor", args, 60000000000LL, err)) < 0)
        return rc;
    snprintf(text, sizeof(text),
             "\n# faultline: short failure detection (docs/targets.md)\n"
             "pgautofailover.health_check_period = %lld\n"
             "pgautofailover.health_check_timeout = %lld\n"
             "pgautofailover.health_check_max_retries = %lld\n"
             "pgautofailover.health_check_retry_delay = %lld\n"
             "pgautofailover.node_considered_unhealthy_timeout = %lld\n"
             "pgautofailover.primary_demote_timeout = %lld\n"
             "pgautofailover.startup_grace_period = %lld\n",
             (long long)svc_opt_ms(cfg, "health_check_period", 1000),
             (long long)svc_opt_ms(cfg, "health_check_timeout", 1000),
             (long long)svc_opt_uint(cfg, "health_check_max_retries", 1),
             (long long)svc_opt_ms(cfg, "health_check_retry_delay", 500),
             (long long)svc_opt_ms(cfg, "unhealthy_timeout", 3000),
             (long long)svc_opt_ms(cfg, "primary_demote_timeout", 5000),
             (long long)svc_opt_ms(cfg, "startup_grace_period", 2000));
    snprintf(conf, sizeof(conf), "%s/postgresql.conf", m->pgdata);
    if ((rc = append_file(conf, text, err)) < 0)
        return rc;
    snprintf(conf, sizeof(conf), "%s/pg_hba.conf", m->pgdata);
    if ((rc = append_file(conf, "host all all 0.0.0.0/0 trust # faultline\n", err)) < 0 ||
        (rc = run_node(s, m, err)) < 0)
        return rc;
    snprintf(s->monitor_uri, sizeof(s->monitor_uri),
             "postgres://autoctl_node@%s:%d/pg_auto_failover?sslmode=disable", m->addr, m->port);
    for (;;) {
        PGresult *ok = monitor_query(s, "SELECT 1");
        char tail[400];

        if (ok) {
            PQclear(ok);
            break;
        }
        if (!svc_alive(&m->p, NULL) || fl_now_ns() > deadline) {
            return fl_errf(err, -ETIMEDOUT, "pg_autoctl monitor on %s did not come up; log %s: %s",
                           m->name, m->p.log, svc_log_tail(m->p.log, tail, sizeof(tail)));
        }
        svc_sleep_ns(200000000);
    }
    return 0;
}

/* Data node i (1 = the first: it becomes primary; the others secondaries): create, run, wait. */
static int pg_start_node(struct pg_state *s, const json_t *cfg, size_t i, int64_t deadline,
                         struct fl_err *err)
{
    int rc;

    struct pnode *nd = &s->nodes[i];
    char port[16], conf[PATH_MAX], npt[24];
    char *args[] = {(char *)"create",
                    (char *)"postgres",
                    (char *)"--pgdata",
                    nd->pgdata,
                    (char *)"--pgport",
                    port,
                    (char *)"--hostname",
                    nd->addr,
                    (char *)"--name",
                    nd->name,
                    (char *)"--monitor",
                    s->monitor_uri,
                    (char *)"--auth",
                    (char *)"trust",
                    (char *)"--no-ssl",
                    (char *)"--dbname",
                    s->dbname,
                    NULL,
                    NULL,
                    NULL};
    char *cset[] = {(char *)"config",
                    (char *)"set",
                    (char *)"--pgdata",
                    nd->pgdata,
                    (char *)"timeout.network_partition_timeout",
                    npt,
                    NULL};

    snprintf(port, sizeof(port), "%d", nd->port);
    if (i > 1 && !svc_opt_bool(cfg, "synchronous", true)) {
        /* Asynchronous standby: not part of the write quorum. */
        args[17] = (char *)"--replication-quorum";
        args[18] = (char *)"false";
    }
    snprintf(npt, sizeof(npt), "%lld",
             (long long)((svc_opt_ms(cfg, "network_partition_timeout", 4000) + 999) / 1000));
    if ((rc = pg_autoctl(s, nd, "create postgres", args, 120000000000LL, err)) < 0 ||
        (rc = pg_autoctl(s, nd, "config set", cset, 30000000000LL, err)) < 0)
        return rc;
    snprintf(conf, sizeof(conf), "%s/pg_hba.conf", nd->pgdata);
    if (access(conf, F_OK) == 0 &&
        (rc = append_file(conf, "host all all 0.0.0.0/0 trust # faultline\n", err)) < 0)
        return rc;
    if ((rc = run_node(s, nd, err)) < 0)
        return rc;
    if (i == 1)
        rc = wait_states(s, nd, deadline, "single", 1, err);
    else
        rc = wait_states(s, nd, deadline, "secondary", (int)i - 1, err);
    return rc < 0 ? rc : 0;
}

static int pg_start(const struct fl_target_env *env, void **state, struct fl_err *err)
{
    int64_t deadline =
        fl_now_ns() + (env->ready_timeout_ns > 0 ? env->ready_timeout_ns : 120000000000LL);
    struct passwd *pw = NULL;
    struct pg_state *s;
    char sdir[300];
    size_t *order = NULL, i;
    int rc;

    *state = NULL;
    if ((rc = pg_prerequisites(env, &pw, err)) < 0)
        return rc;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->nodes = calloc(env->n_hosts, sizeof(*s->nodes))) == NULL ||
        (order = calloc(env->n_hosts, sizeof(*order))) == NULL) {
        if (s)
            free(s->nodes);
        free(s);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    if ((rc = place(env, order, err)) < 0) {
        free(order);
        free(s->nodes);
        free(s);
        return rc;
    }
    s->n = env->n_hosts;
    /* pg_autoctl and postgres run as postgres: their state must be within its reach. */
    if ((rc = svc_state_dir("postgres", env->run_dir, PG_USER, sdir, sizeof(sdir), s->priv,
                            sizeof(s->priv), err)) < 0 ||
        (rc = pg_layout(env, s, order, pw, sdir, err)) < 0)
        goto fail;
    free(order);
    order = NULL;
    if ((rc = pg_start_monitor(s, env->config, deadline, err)) < 0)
        goto fail;
    /* Data nodes one by one: the first becomes primary, the others secondaries. */
    for (i = 1; i < s->n; i++) {
        if ((rc = pg_start_node(s, env->config, i, deadline, err)) < 0)
            goto fail;
    }
    if ((rc = wait_states(s, &s->nodes[1], deadline, "primary", 1, err)) < 0)
        goto fail;
    if ((rc = make_endpoints(s)) < 0) {
        fl_errf(err, rc, "postgres: cannot build the endpoint list");
        goto fail;
    }
    if ((rc = create_table(s, err)) < 0)
        goto fail;
    *state = s;
    return 0;
fail:
    free(order);
    pg_stop(s);
    return rc;
}

static int pg_endpoints(void *state, const struct fl_target_endpoint **eps, size_t *n)
{
    struct pg_state *s = state;

    *eps = s->eps;
    *n = s->neps;
    return 0;
}

static json_t *pg_status(void *state)
{
    struct pg_state *s = state;
    PGresult *r = monitor_query(
        s, "SELECT nodename, reportedstate, goalstate, reportedlsn::text FROM pgautofailover.node");
    json_t *o = json_object(), *hosts = json_object();
    const char *primary = NULL;
    int i;

    if (!o || !hosts) {
        json_decref(o);
        json_decref(hosts);
        PQclear(r);
        return NULL;
    }
    for (i = 0; r && i < PQntuples(r); i++) {
        json_object_set_new(hosts, PQgetvalue(r, i, 0),
                            json_pack("{s:s, s:s, s:s}", "reported", PQgetvalue(r, i, 1), "goal",
                                      PQgetvalue(r, i, 2), "lsn", PQgetvalue(r, i, 3)));
        if (strcmp(PQgetvalue(r, i, 1), "primary") == 0 ||
            strcmp(PQgetvalue(r, i, 1), "wait_primary") == 0 ||
            strcmp(PQgetvalue(r, i, 1), "single") == 0)
            primary = PQgetvalue(r, i, 0);
    }
    json_object_set_new(o, "primary", primary ? json_string(primary) : json_null());
    json_object_set_new(o, "monitor", json_string(s->nodes[0].name));
    json_object_set_new(o, "hosts", hosts);
    /* Where the data directories are when the run folder is out of postgres's reach. */
    if (s->priv[0])
        json_object_set_new(o, "state_dir", json_string(s->priv));
    PQclear(r);
    return o;
}

/* The options of this kind under target: in an experiment file (checked by the parser). */
static const struct vspec postgres_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"synchronous", VT_BOOL, NULL, false},
    {"database", VT_STR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {"health_check_period", VT_DUR, NULL, false},
    {"health_check_timeout", VT_DUR, NULL, false},
    {"health_check_max_retries", VT_UINT, NULL, false},
    {"health_check_retry_delay", VT_DUR, NULL, false},
    {"unhealthy_timeout", VT_DUR, NULL, false},
    {"primary_demote_timeout", VT_DUR, NULL, false},
    {"startup_grace_period", VT_DUR, NULL, false},
    {"network_partition_timeout", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

const struct fl_target_ops fl_target_postgres = {
    .kind = "postgres",
    .start = pg_start,
    .endpoints = pg_endpoints,
    .status = pg_status,
    .stop = pg_stop,
    .options = postgres_opts,
    .check = pg_check,
};
