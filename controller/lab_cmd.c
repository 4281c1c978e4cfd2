/*
 * `faultline lab up|down|list`: an experiment's lab by hand, left running to
 * poke at. `lab up` runs the same bring-up phases as `faultline run`
 * (bringup.c: lab, agents, target) and prints where everything is; `lab
 * down` kills every process in a lab's namespaces and deletes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "commands.h"
#include "run_int.h"

static void lab_usage(FILE *out)
{
    fprintf(
        out,
        "usage: faultline lab up [--no-target] FILE\n"
        "       faultline lab down [ID... | --stale]\n"
        "       faultline lab list\n"
        "\n"
        "Build an experiment's lab by hand and leave it running, to poke at it: the\n"
        "namespaces (fl-<id>-<host>, fl-<id>-router, fl-<id>-ctl), an agent in every\n"
        "host on its control address, and the target's replicas (unless --no-target).\n"
        "No workload runs and no fault is applied. 'lab down' kills every process in\n"
        "the lab's namespaces and deletes them (without ID: every lab; with --stale:\n"
        "exactly the labs whose `faultline run` is gone, killed before it could tear\n"
        "down, checked by the controller's pid and start time); 'lab list' shows the\n"
        "labs recorded in " LAB_STATE_DIR ", stale ones marked. Needs root.\n"
        "\n"
        "examples:\n"
        "  sudo faultline lab up experiments/key-vault-region-outage.yaml\n"
        "  sudo ip netns exec fl-<id>-west-z1-h1 ip addr\n"
        "  sudo ip netns exec fl-<id>-ctl curl -H \"Authorization: Bearer $(sudo cat " LAB_STATE_DIR
        "/<id>/agent.token)\" http://198.19.0.10:7070/v1/health\n"
        "  sudo faultline lab down <id>\n"
        "  sudo faultline lab down --stale\n"
        "\n"
        "%s",
        run_exit_codes);
}

/* Where everything of the lab is, and how to get in. */
static void lab_print(const struct run *R)
{
    const struct experiment *exp = R->exp;
    const struct lab *lab = R->lab;
    char a[64], c[64];
    size_t i;

    printf("lab %s up in %.1f ms (%s)\n", lab->id, (double)lab->up_ns / 1e6, exp->name);
    printf("  router   %s\n  control  %s (controller 198.19.0.1, clients %s)\n", lab->router_ns,
           lab->ctl_ns, LAB_CLIENT_ADDR);
    for (i = 0; i < exp->topology.n_hosts; i++) {
        const struct exp_host *h = &exp->topology.hosts[i];

        bringup_addr(&h->data, a, sizeof(a));
        bringup_addr(&h->control, c, sizeof(c));
        printf("  host     %-36s data %-14s control %-14s agent %s", lab->host_ns[i], a, c,
               h->agent);
        if (R->target_bin)
            printf("  refstore http://%s:%d", a, R->target_port);
        printf("\n");
    }
    printf("\nfiles: %s (agent token: %s, logs: agent-*.log, target/*.log)\n", lab->dir,
           lab->token_file);
    printf("enter a host:   ip netns exec %s bash\n", lab->host_ns[0]);
    printf("ask an agent:   ip netns exec %s curl -H \"Authorization: Bearer $(cat %s)\" "
           "%s/v1/health\n",
           lab->ctl_ns, lab->token_file, exp->topology.hosts[0].agent);
    printf("tear it down:   faultline lab down %s\n", lab->id);
}

/* The bring-up phases of a run: lab, agents, and (unless !target) the target. */
static int lab_bringup(struct run *R, bool target, struct fl_err *err)
{
    if (bringup_lab(R, NULL, true, err) < 0)
        return -1;
    snprintf(R->out, sizeof(R->out), "%s", R->lab->dir);
    snprintf(R->labdir, sizeof(R->labdir), "%s", R->lab->dir);
    if (bringup_agents_start(R, R->lab->dir, false, err) < 0 ||
        bringup_agents_ready(R, 10 * NS_S, err) < 0)
        return -1;
    /* Left running for poking; `lab down` kills every process in the lab. */
    if (target && bringup_target(R, err) < 0)
        return -1;
    return 0;
}

/* Checks before anything is built: a lab topology, root, the programs. */
static int lab_up_check(struct run *R, const char *file, bool target)
{
    if (!R->exp->topology.lab) {
        fprintf(stderr, "faultline lab: %s lists staging hosts; there is no lab to build\n", file);
        return FL_EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "faultline lab: needs root (CAP_NET_ADMIN)\n");
        return FL_EXIT_HARNESS;
    }
    if (bringup_find_bins(R, target && R->exp->target.kind == EXP_TARGET_REFSTORE, &R->err) < 0) {
        fprintf(stderr, "faultline lab: cannot find faultline-agent / faultline-refstore\n");
        return FL_EXIT_HARNESS;
    }
    return FL_EXIT_OK;
}

static int lab_up_cmd(const char *file, bool target)
{
    struct experiment *exp = NULL;
    struct run_opts ro;
    struct run *R = calloc(1, sizeof(*R));
    int code;

    memset(&ro, 0, sizeof(ro));
    if (R == NULL)
        return FL_EXIT_HARNESS;
    if (experiment_load(file, &exp, &R->err) < 0) {
        fprintf(stderr, "%s\n", R->err.msg);
        free(R);
        return FL_EXIT_USAGE;
    }
    pthread_mutex_init(&R->mu, NULL);
    R->exp = exp;
    R->o = &ro;
    R->target_port = bringup_target_port(exp);
    if ((code = lab_up_check(R, file, target)) != FL_EXIT_OK)
        goto out;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    code = FL_EXIT_HARNESS;
    if (agents_init(&R->agents, &exp->topology, NULL) < 0)
        fl_errf(&R->err, -ENOMEM, "out of memory");
    else if (lab_bringup(R, target, &R->err) == 0)
        code = FL_EXIT_OK;
    if (R->lab)
        lab_leave_control(R->lab);
    if (code == FL_EXIT_OK)
        lab_print(R);
    else
        fprintf(stderr, "faultline lab: %s\n", R->err.msg);
    if (code != FL_EXIT_OK && R->lab)
        lab_down(R->lab, 1000, NULL);
    lab_free(R->lab);
    curl_global_cleanup();
out:
    agents_free(&R->agents);
    pthread_mutex_destroy(&R->mu);
    free(R->thosts);
    free(R->taddr);
    experiment_free(exp);
    free(R);
    return code;
}

/* `lab down --stale`: exactly the labs whose controller is gone. */
static int lab_down_stale(void)
{
    struct fl_err err = {0};
    char **ids = NULL, why[128];
    size_t n = 0, i, k = 0;
    int code = FL_EXIT_OK;

    lab_list(&ids, &n);
    for (i = 0; i < n; i++) {
        if (lab_stale(ids[i], why, sizeof(why)) == 1) {
            k++;
            if (lab_down_id(ids[i], &err) < 0) {
                fprintf(stderr, "faultline lab down: %s\n", err.msg);
                code = FL_EXIT_HARNESS;
            } else
                printf("lab %s down (%s)\n", ids[i], why);
        }
        free(ids[i]);
    }
    free(ids);
    if (k == 0)
        printf("no stale lab\n");
    return code;
}

static int lab_down_cmd(int argc, char **argv)
{
    struct fl_err err = {0};
    char **ids = NULL;
    size_t n = 0, i;
    int code = FL_EXIT_OK, a;

    if (geteuid() != 0) {
        fprintf(stderr, "faultline lab: needs root (CAP_NET_ADMIN)\n");
        return FL_EXIT_HARNESS;
    }
    if (argc == 3 && strcmp(argv[2], "--stale") == 0)
        return lab_down_stale();
    for (a = 2; a < argc; a++)
        if (argv[a][0] == '-') {
            fprintf(stderr, "faultline lab down: unknown option '%s' (ID... or --stale)\n",
                    argv[a]);
            return FL_EXIT_USAGE;
        }
    if (argc > 2) {
        for (a = 2; a < argc; a++) {
            if (lab_down_id(argv[a], &err) < 0) {
                fprintf(stderr, "faultline lab down: %s\n", err.msg);
                code = err.code == -EINVAL || err.code == -ENOENT ? FL_EXIT_USAGE : FL_EXIT_HARNESS;
            } else
                printf("lab %s down\n", argv[a]);
        }
        return code;
    }
    lab_list(&ids, &n);
    for (i = 0; i < n; i++) {
        if (lab_down_id(ids[i], &err) < 0) {
            fprintf(stderr, "faultline lab down: %s\n", err.msg);
            code = FL_EXIT_HARNESS;
        } else
            printf("lab %s down\n", ids[i]);
        free(ids[i]);
    }
    free(ids);
    if (n == 0)
        printf("no lab is up\n");
    return code;
}

static int lab_list_cmd(void)
{
    char **ids = NULL;
    size_t n = 0, i;

    lab_list(&ids, &n);
    for (i = 0; i < n; i++) {
        char *res = lab_residue(ids[i]), why[128];

        printf("%s", ids[i]);
        if (lab_stale(ids[i], why, sizeof(why)) == 1)
            printf("  STALE (%s; 'faultline lab down --stale' removes it)", why);
        if (res) {
            char *p;

            for (p = res; *p; p++)
                if (*p == '\n')
                    *p = ' ';
            printf("  %s", res);
        }
        printf("\n");
        free(res);
        free(ids[i]);
    }
    free(ids);
    return FL_EXIT_OK;
}

static int lab_up_args(int argc, char **argv)
{
    const char *file = NULL;
    bool target = true;
    int a;

    for (a = 2; a < argc; a++) {
        if (strcmp(argv[a], "--no-target") == 0)
            target = false;
        else if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            lab_usage(stdout);
            return FL_EXIT_OK;
        } else if (argv[a][0] == '-' || file) {
            lab_usage(stderr);
            return FL_EXIT_USAGE;
        } else
            file = argv[a];
    }
    if (!file) {
        fprintf(stderr, "faultline lab up: no experiment file given\n");
        return FL_EXIT_USAGE;
    }
    return lab_up_cmd(file, target);
}

int cmd_lab(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        lab_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FL_EXIT_USAGE : FL_EXIT_OK;
    }
    if (strcmp(argv[1], "up") == 0)
        return lab_up_args(argc, argv);
    if (strcmp(argv[1], "down") == 0)
        return lab_down_cmd(argc, argv);
    if (strcmp(argv[1], "list") == 0)
        return lab_list_cmd();
    fprintf(stderr, "faultline lab: unknown subcommand '%s' (expected up, down or list)\n",
            argv[1]);
    return FL_EXIT_USAGE;
}
