/*
 * faultline-inject: the injector from the command line, run inside the
 * namespace of the host to break (ip netns exec H faultline-inject ...).
 * Exit codes: 0 done, 2 bad input (nothing applied), 3 the kernel or the
 * environment refused (nothing left applied).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/buf.h"
#include "faultline/inject.h"

#define EXIT_BAD_INPUT 2
#define EXIT_HARNESS   3

static const char usage_text[] =
    "usage: faultline-inject [--state-dir DIR] [--exempt CIDR]... COMMAND [ARGS]\n"
    "\n"
    "Break this host's network for real, and put it back. Run it inside the\n"
    "namespace of the host to break: ip netns exec H faultline-inject ...\n"
    "\n"
    "commands:\n"
    "  apply --id ID SPEC   apply the fault described by SPEC (JSON, or - for stdin)\n"
    "  revert --id ID       revert one fault (not applied counts as reverted)\n"
    "  revert-all           revert every fault in the journal, newest first\n"
    "  list                 active faults as JSON, with drop counters\n"
    "  sweep                remove every faultline-owned kernel object, journal or not\n"
    "  probe                what this kernel can do, as JSON\n"
    "  kinds                the fault kinds and their parameters\n"
    "\n"
    "options:\n"
    "  --state-dir DIR      journal directory (default /run/faultline/netns-cookie-<N>,\n"
    "                       N the namespace cookie, never reused)\n"
    "  --exempt CIDR        never drop this range (the control network); repeatable\n"
    "  -h, --help           this text\n"
    "\n"
    "examples:\n"
    "  faultline-inject apply --id cut1 \\\n"
    "    "
    "'{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/"
    "24\"]]}'\n"
    "  faultline-inject apply --id slow '{\"kind\":\"loss\",\"percent\":20}'\n"
    "  faultline-inject list\n"
    "  faultline-inject revert --id cut1\n"
    "\n"
    "exit codes: 0 done; 2 bad input (nothing applied); 3 kernel or environment\n"
    "refused (nothing left applied).\n";

static int exit_for(int r)
{
    switch (-r) {
    case EINVAL:
    case ENODEV:
    case EEXIST:
    case E2BIG:
    case ENAMETOOLONG:
    case EBUSY:    /* the device has the host's own qdisc: refused, nothing applied */
    case EALREADY: /* the link is already down */
    case ESRCH:    /* no process matches */
        return EXIT_BAD_INPUT;
    default:
        return EXIT_HARNESS;
    }
}

static char *read_stdin(void)
{
    struct fl_buf b;
    char chunk[4096];
    size_t n;

    fl_buf_init(&b, 16 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (fl_buf_add(&b, chunk, n) < 0) {
            fl_buf_free(&b);
            return NULL;
        }
    return fl_buf_take(&b);
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

    if (s == NULL)
        return EXIT_HARNESS;
    puts(s);
    free(s);
    return 0;
}

static int cmd_kinds(void)
{
    const char *const *names = inj_kind_names();
    size_t i;

    for (i = 0; names[i] != NULL; i++)
        printf("%s\n", names[i]);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"exempt", required_argument, NULL, 'x'},
        {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fl_cidr exempt[64];
    struct inj_config cfg = {0};
    struct inj_fault *f = NULL;
    struct inj_ctx *ctx = NULL;
    const char *id = NULL, *cmd;
    char *spec = NULL;
    struct fl_err err;
    json_t *j = NULL;
    int c, r, rc = 0;

    fl_err_clear(&err);
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            cfg.state_dir = optarg;
            break;
        case 'x':
            if (cfg.n_exempt == 64) {
                fprintf(stderr, "faultline-inject: at most 64 --exempt ranges\n");
                return EXIT_BAD_INPUT;
            }
            if (fl_cidr_parse(optarg, &exempt[cfg.n_exempt], &err) < 0) {
                fprintf(stderr, "faultline-inject: --exempt: %s\n", err.msg);
                return EXIT_BAD_INPUT;
            }
            cfg.n_exempt++;
            break;
        case 'i':
            id = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_BAD_INPUT;
        }
    }
    cfg.exempt = exempt;
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return EXIT_BAD_INPUT;
    }
    cmd = argv[optind++];
    /* Command options may also follow the command. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'i')
            id = optarg;
        else if (c == 's')
            cfg.state_dir = optarg;
        else if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fputs(usage_text, stderr);
            return EXIT_BAD_INPUT;
        }
    }
    if (strcmp(cmd, "kinds") == 0)
        return cmd_kinds();
    if (strcmp(cmd, "apply") == 0) {
        if (id == NULL || optind != argc - 1) {
            fprintf(stderr, "faultline-inject: apply needs --id ID and one SPEC (JSON or -)\n");
            return EXIT_BAD_INPUT;
        }
        spec = strcmp(argv[optind], "-") == 0 ? read_stdin() : strdup(argv[optind]);
        if (spec == NULL) {
            fprintf(stderr, "faultline-inject: cannot read the spec\n");
            return EXIT_BAD_INPUT;
        }
        /* Validate completely before opening anything. */
        r = inj_fault_parse(spec, strlen(spec), &f, &err);
        free(spec);
        if (r < 0) {
            fprintf(stderr, "faultline-inject: %s\n", err.msg);
            return EXIT_BAD_INPUT;
        }
        if (!inj_id_valid(id)) {
            fprintf(stderr, "faultline-inject: bad fault id '%s'\n", id);
            inj_fault_free(f);
            return EXIT_BAD_INPUT;
        }
    } else if (strcmp(cmd, "revert") == 0) {
        if (id == NULL || !inj_id_valid(id) || optind != argc) {
            fprintf(stderr, "faultline-inject: revert needs a valid --id ID\n");
            return EXIT_BAD_INPUT;
        }
    } else if (strcmp(cmd, "list") != 0 && strcmp(cmd, "sweep") != 0 && strcmp(cmd, "probe") != 0 &&
               strcmp(cmd, "revert-all") != 0) {
        fprintf(stderr, "faultline-inject: unknown command '%s' (try --help)\n", cmd);
        return EXIT_BAD_INPUT;
    }

    r = inj_open(&cfg, &ctx, &err);
    if (r < 0) {
        fprintf(stderr, "faultline-inject: %s\n", err.msg);
        inj_fault_free(f);
        return EXIT_HARNESS;
    }
    if (strcmp(cmd, "apply") == 0) {
        r = inj_apply(ctx, id, f, &err);
        if (r == 1)
            fprintf(stderr, "faultline-inject: %s already applied with this spec\n", id);
    } else if (strcmp(cmd, "revert") == 0) {
        r = inj_revert(ctx, id, &err);
        if (r == 1)
            fprintf(stderr, "faultline-inject: %s was not applied (nothing to revert)\n", id);
    } else if (strcmp(cmd, "revert-all") == 0) {
        r = inj_revert_all(ctx, &err);
    } else if (strcmp(cmd, "sweep") == 0) {
        r = inj_sweep(ctx, &err);
    } else if (strcmp(cmd, "list") == 0) {
        r = inj_list(ctx, &j, &err);
        if (r == 0)
            rc = print_json(j);
    } else {
        r = inj_probe(ctx, &j, NULL);
        if (r == 0)
            rc = print_json(j);
    }
    if (r < 0) {
        fprintf(stderr, "faultline-inject: %s\n", err.msg[0] ? err.msg : strerror(-r));
        rc = exit_for(r);
    }
    json_decref(j);
    inj_fault_free(f);
    inj_close(ctx);
    return rc;
}
