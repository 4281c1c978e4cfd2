/*
 * faultline: the command-line entry. A table of subcommands (name, handler,
 * summary) dispatches on argv[1]; each handler lives with its subject and is
 * declared in commands.h. This file also holds the small subcommands that need
 * nothing but the experiment parser: validate, version and help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "experiment.h"
#include "verify_cfg.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"
#include "run.h"

#ifndef FAULTLINE_VERSION
#define FAULTLINE_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

/* One line per subcommand; the order is the order of --help. */
static const struct command commands[] = {
    {"run", cmd_run, "run experiments: lab or staging, workload, faults, verdicts"},
    {"halt", cmd_halt, "emergency stop: agents revert every fault and refuse new ones"},
    {"lab", cmd_lab, "build an experiment's lab by hand (up), tear labs down (down), list them"},
    {"report", cmd_report, "redraw a run folder's report.html and print its summary"},
    {"compare", cmd_compare, "compare a new run with earlier ones; exit 1 on a regression"},
    {"validate", cmd_validate, "check experiment files without touching anything"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help, or a command's help"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const char fl_exit_codes_help[] =
    "exit codes:\n"
    "  0  success: every verifier passed (validate: every file is valid)\n"
    "  1  a verifier failed\n"
    "  2  the experiment file or the command line is wrong\n"
    "  3  the harness itself could not run (setup, agent, kernel feature)\n"
    "  Whatever the code, nothing is left injected.\n";

/* The examples of the top-level and validate help. */
static const char examples_help[] =
    "examples:\n"
    "  sudo faultline run experiments/key-vault-region-outage.yaml\n"
    "  sudo faultline run --out /tmp/nightly experiments/*.yaml\n"
    "  sudo faultline lab up experiments/cosmos-zone-outage.yaml\n"
    "  faultline validate experiments/*.yaml\n"
    "  faultline validate --plan experiments/key-vault-region-outage.yaml\n"
    "\n";

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: faultline <command> [options] [arguments]\n"
                 "\n"
                 "faultline proves what a replicated service does when a zone or a region goes\n"
                 "dark: it builds the topology (or reaches the hosts' agents), drives client\n"
                 "traffic, cuts the network the way a real outage does, and checks the recorded\n"
                 "history against the service's promises (failover time, read-only behaviour,\n"
                 "data loss, staleness, availability). Experiments are YAML files; see\n"
                 "docs/experiment-file.md.\n"
                 "\n"
                 "commands:\n");
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'faultline <command> --help' for a command's options and examples.\n"
            "\n"
            "%s%s",
            examples_help, fl_exit_codes_help);
}

static const struct command *command_find(const char *name)
{
    size_t i;

    for (i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 1], *near;
    size_t i;

    for (i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = NULL;
    near = experiment_nearest(name, names);
    if (near != NULL)
        fprintf(stderr, "faultline: unknown command '%s' (did you mean '%s'?)\n", name, near);
    else
        fprintf(stderr, "faultline: unknown command '%s'; run 'faultline --help'\n", name);
    return FL_EXIT_USAGE;
}

/* ---- validate ----------------------------------------------------------- */

static void validate_usage(FILE *out)
{
    fprintf(out,
            "usage: faultline validate [-q] [--plan] FILE...\n"
            "\n"
            "Check experiment files: YAML syntax, every key (unknown keys are errors, with\n"
            "the nearest valid one as a hint), durations (250ms, 10s, 3m), rates (500/s),\n"
            "names of regions, zones and hosts in faults, fault timing against the\n"
            "workload, and that no fault would cut the control network. Nothing is\n"
            "touched: no namespace, agent or target is started.\n"
            "\n"
            "Prints 'FILE: ok' for each valid file on stdout, and for each invalid one\n"
            "the first error as 'FILE:LINE:COLUMN: message' on stderr.\n"
            "\n"
            "options:\n"
            "  -q, --quiet   print nothing for valid files\n"
            "  -p, --plan    also print the resolved plan: every host with its data and\n"
            "                control address and agent URL, every fault with its CIDRs\n"
            "  -h, --help    show this help\n"
            "\n"
            "%s%s",
            examples_help, fl_exit_codes_help);
}

static void print_set(const char *label, const struct exp_set *s)
{
    char c[64];
    size_t i;

    printf("    %s %s ->", label, s->text ? s->text : "");
    for (i = 0; i < s->n_cidrs; i++)
        printf(" %s", fl_cidr_format(&s->cidrs[i], c, sizeof(c)));
    printf(" (%zu host%s)\n", s->n_hosts, s->n_hosts == 1 ? "" : "s");
}

static void print_plan(const struct experiment *exp)
{
    const struct exp_topology *t = &exp->topology;
    char a[64], b[64], d1[32], d2[32];
    size_t r, z, h, i, g;

    printf("  %s topology, control network %s", t->lab ? "lab" : "staging",
           fl_cidr_format(&t->control, a, sizeof(a)));
    if (t->controller.family != 0)
        printf(", controller %s", fl_cidr_format(&t->controller, b, sizeof(b)));
    printf("\n");
    for (r = 0; r < t->n_regions; r++) {
        const struct exp_region *reg = &t->regions[r];

        printf("  region %s%s%s\n", reg->name, reg->cidr.family ? " " : "",
               reg->cidr.family ? fl_cidr_format(&reg->cidr, a, sizeof(a)) : "");
        for (z = 0; z < reg->n_zones; z++) {
            const struct exp_zone *zn = &reg->zones[z];

            printf("    zone %s%s%s\n", zn->path, zn->cidr.family ? " " : "",
                   zn->cidr.family ? fl_cidr_format(&zn->cidr, a, sizeof(a)) : "");
            for (h = zn->first_host; h < zn->first_host + zn->n_hosts; h++) {
                const struct exp_host *hp = &t->hosts[h];

                printf("      host %s data %s", hp->name, fl_cidr_format(&hp->data, a, sizeof(a)));
                if (hp->control.family != 0)
                    printf(" control %s", fl_cidr_format(&hp->control, b, sizeof(b)));
                printf(" agent %s\n", hp->agent);
            }
        }
    }
    for (i = 0; i < exp->n_faults; i++) {
        const struct exp_fault *f = &exp->faults[i];
        char *params = json_dumps(f->params, JSON_COMPACT | JSON_SORT_KEYS);

        printf("  fault %s %s at %s for %s%s %s\n", f->id, experiment_fault_kind_name(f->kind),
               fl_duration_format(f->at_ns, d1, sizeof(d1)),
               fl_duration_format(f->for_ns, d2, sizeof(d2)), f->until_end ? " (to the end)" : "",
               params ? params : "");
        free(params);
        if (f->scope.text)
            print_set("scope", &f->scope);
        for (g = 0; g < f->n_groups; g++)
            print_set("group", &f->groups[g]);
        if (f->from.text)
            print_set("from", &f->from);
        if (f->to.text)
            print_set("to", &f->to);
    }
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"plan", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false, plan = false;
    int c, i, rc = FL_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qph", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'p':
            plan = true;
            break;
        case 'h':
            validate_usage(stdout);
            return FL_EXIT_OK;
        default:
            validate_usage(stderr);
            return FL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "faultline validate: no experiment file given\n\n");
        validate_usage(stderr);
        return FL_EXIT_USAGE;
    }
    for (i = optind; i < argc; i++) {
        struct experiment *exp = NULL;
        struct fl_err err = {0};

        struct vfy_config vcfg;

        if (experiment_load(argv[i], &exp, &err) < 0 || exp_verify_config(exp, &vcfg, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = FL_EXIT_USAGE;
            experiment_free(exp);
            continue;
        }
        if (!quiet || plan)
            printf("%s: ok\n", argv[i]);
        if (plan)
            print_plan(exp);
        experiment_free(exp);
    }
    fflush(stdout);
    return rc;
}

/* ---- version and help --------------------------------------------------- */

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: faultline version\n\nPrint the version and exit.\n\n%s", fl_exit_codes_help);
        return FL_EXIT_OK;
    }
    printf("faultline %s\n", FAULTLINE_VERSION);
    return FL_EXIT_OK;
}

int cmd_help(int argc, char **argv)
{
    const struct command *cmd;
    char help[] = "--help";
    char *sub[3];

    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return FL_EXIT_OK;
    }
    cmd = command_find(argv[1]);
    if (cmd == NULL)
        return unknown_command(argv[1]);
    sub[0] = argv[1];
    sub[1] = help;
    sub[2] = NULL;
    return cmd->fn(2, sub);
}

int main(int argc, char **argv)
{
    const struct command *cmd;

    fl_log_init("faultline", 0);
    if (argc < 2) {
        usage(stderr);
        return FL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return FL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(1, argv + 1);
    cmd = command_find(argv[1]);
    if (cmd == NULL)
        return unknown_command(argv[1]);
    return cmd->fn(argc - 1, argv + 1);
}
