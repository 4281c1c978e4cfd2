/*
 * The deployment files agree with each other and with the agent as built:
 * the Containerfile (two Debian stages, nothing fetched but Debian packages,
 * the binary copied, uid 0 with its reason written down, every library the
 * freshly built faultline-agent loads per ldd provided by a package the
 * runtime stage installs), the DaemonSet (the image scripts/image.sh builds,
 * hostNetwork, capabilities, token and state paths) and the systemd unit
 * (the same flags and paths). No builder, cluster or systemd needed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libfyaml.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy_files.h"
#include "testutil.h"

#define CONTAINERFILE "deploy/container/Containerfile"
#define DAEMONSET     "deploy/k8s/faultline-agent.yaml"
#define UNIT          "deploy/faultline-agent.service"

static struct df_file cf;

static int load_containerfile(void **state)
{
    char *text = df_slurp(CONTAINERFILE);

    if (text == NULL) {
        fprintf(stderr, "cannot read %s (FAULTLINE_SOURCE_DIR)\n", CONTAINERFILE);
        return -1;
    }
    if (df_parse(text, &cf) < 0) {
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

static int free_containerfile(void **state)
{
    df_free(&cf);
    return 0;
}

/* The instruction args of the first `keyword` in stage (or -1: any), or NULL. */
static const char *first(const char *keyword, int stage)
{
    size_t i;

    for (i = 0; i < cf.n; i++)
        if (strcmp(cf.ins[i].keyword, keyword) == 0 && (stage < 0 || cf.ins[i].stage == stage))
            return cf.ins[i].args;
    return NULL;
}

static void containerfile_should_have_debian_stages_only(void **state)
{
    regex_t re;
    size_t i;
    int froms = 0;

    assert_int_equal(regcomp(&re, "^(docker\\.io/library/)?debian:(12|bookworm)(-slim)?( |$)",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    for (i = 0; i < cf.n; i++) {
        char *img;

        if (strcmp(cf.ins[i].keyword, "FROM") != 0)
            continue;
        froms++;
        img = df_expand(&cf, cf.ins[i].args);
        if (regexec(&re, img, 0, NULL, 0) != 0)
            fail_msg("%s: FROM %s (= %s): every stage must start from Debian 12 (debian:12, "
                     "debian:12-slim)",
                     CONTAINERFILE, cf.ins[i].args, img);
        if (froms == 1 && strstr(img, " AS build") == NULL && strstr(img, " as build") == NULL)
            fail_msg("%s: the first stage must be named 'build' (FROM ... AS build)",
                     CONTAINERFILE);
        if (froms > 1 && strstr(img, "-slim") == NULL)
            fail_msg("%s: the runtime stage must start from debian:12-slim, not %s", CONTAINERFILE,
                     img);
        free(img);
    }
    regfree(&re);
    if (froms < 2)
        fail_msg("%s: %d stage(s); expected a build stage and a runtime stage", CONTAINERFILE,
                 froms);
}

static void containerfile_should_fetch_nothing_but_debian_packages(void **state)
{
    static const char *const banned[] = {"curl ",   "wget ",    "git clone", "pip ", "npm ",
                                         "http://", "https://", "| sh",      "|sh"};
    size_t i, j;

    for (i = 0; i < cf.n; i++) {
        const struct df_ins *in = &cf.ins[i];

        if (strcmp(in->keyword, "ADD") == 0)
            fail_msg("%s: ADD %s: use COPY (ADD fetches URLs and unpacks archives)", CONTAINERFILE,
                     in->args);
        if (strcmp(in->keyword, "RUN") != 0)
            continue;
        for (j = 0; j < sizeof(banned) / sizeof(banned[0]); j++)
            if (strstr(in->args, banned[j]) != NULL)
                fail_msg("%s: RUN %.60s...: contains '%s'; the image takes software from Debian "
                         "packages (apt-get) only",
                         CONTAINERFILE, in->args, banned[j]);
    }
}

static void containerfile_should_copy_the_agent_and_run_it(void **state)
{
    int last = cf.stages - 1;
    const char *copy = first("COPY", last), *entry = first("ENTRYPOINT", last);

    assert_non_null(copy);
    if (strstr(copy, "--from=build") == NULL || strstr(copy, "/usr/sbin/faultline-agent") == NULL)
        fail_msg("%s: the runtime stage must COPY --from=build the binary to "
                 "/usr/sbin/faultline-agent (found COPY %s)",
                 CONTAINERFILE, copy);
    assert_non_null(entry);
    assert_string_equal(entry, "[\"/usr/sbin/faultline-agent\"]");
    assert_non_null(first("STOPSIGNAL", last));
    assert_string_equal(first("STOPSIGNAL", last), "SIGTERM");
    if (first("HEALTHCHECK", -1) != NULL)
        fail_msg("%s: HEALTHCHECK: Kubernetes ignores it; the DaemonSet's probes do that job",
                 CONTAINERFILE);
}

/* A USER in the runtime stage; uid 0 only with its reason in a comment. */
static void containerfile_should_name_its_user_or_say_why(void **state)
{
    const char *user = first("USER", cf.stages - 1);
    char *text = df_slurp(CONTAINERFILE);

    if (user == NULL)
        fail_msg("%s: no USER in the runtime stage: name the user the agent runs as",
                 CONTAINERFILE);
    if (strcmp(user, "0") == 0 || strncmp(user, "0:", 2) == 0 || strncmp(user, "root", 4) == 0) {
        assert_non_null(text);
        if (strstr(text, "# Why uid 0") == NULL || strstr(text, "no_new_privs") == NULL ||
            strstr(text, "CAP_NET_ADMIN") == NULL)
            fail_msg("%s: USER %s without the '# Why uid 0' comment explaining the "
                     "capabilities and no_new_privs",
                     CONTAINERFILE, user);
    }
    free(text);
}

/* Every allowlisted path in .dockerignore; the build stage's COPY sources must be in it. */
static void dockerignore_should_let_in_what_the_build_copies(void **state)
{
    char *ign = df_slurp(".dockerignore");
    size_t i;

    if (ign == NULL)
        fail_msg(".dockerignore missing: the build context would be the whole tree (build-*, "
                 "runs/, .git)");
    if (strncmp(ign, "*\n", 2) != 0 && strstr(ign, "\n*\n") == NULL)
        fail_msg(".dockerignore: must start from '*' (an allowlist)");
    for (i = 0; i < cf.n; i++) {
        char src[256], want[300];

        if (strcmp(cf.ins[i].keyword, "COPY") != 0 || strncmp(cf.ins[i].args, "--", 2) == 0)
            continue;
        if (sscanf(cf.ins[i].args, "%255s", src) != 1)
            continue;
        snprintf(want, sizeof(want), "\n!%s%s\n", src, strchr(src, '.') ? "" : "/");
        if (strstr(ign, want) == NULL)
            fail_msg(".dockerignore: COPY %s needs the line '!%s%s'", src, src,
                     strchr(src, '.') ? "" : "/");
    }
    free(ign);
}

/*
 * The package that ships path (dpkg -S), trying the merged-/usr twin and
 * the resolved path too. malloc'd, NULL when dpkg knows none.
 */
static char *package_of(const char *path)
{
    char *out, *colon, alt[4200];
    const char *tries[3];
    int i;

    if (strncmp(path, "/usr/", 5) == 0)
        snprintf(alt, sizeof(alt), "%s", path + 4);
    else
        snprintf(alt, sizeof(alt), "/usr%s", path);
    tries[0] = path;
    tries[1] = alt;
    tries[2] = NULL;
    for (i = 0; i < 3; i++) {
        if (tries[i] == NULL)
            out = tu_sh_out("dpkg -S \"$(readlink -f '%s')\" 2>/dev/null | head -1", path);
        else
            out = tu_sh_out("dpkg -S '%s' 2>/dev/null | head -1", tries[i]);
        if (out != NULL && (colon = strchr(out, ':')) != NULL) {
            *colon = '\0';
            return out;
        }
        free(out);
    }
    return NULL;
}

/* " pkg " in the Depends/Pre-Depends closure of the installed packages listed. */
static char *dependency_closure(const char *listed)
{
    return tu_sh_out(
        "todo='%s'; seen=' '; while [ -n \"$(echo $todo)\" ]; do set -- $todo; p=$1; shift; "
        "todo=\"$*\"; case \"$seen\" in *\" $p \"*) continue;; esac; seen=\"$seen$p \"; "
        "for d in $(dpkg-query -W -f='${Depends}, ${Pre-Depends}' \"$p\" 2>/dev/null | "
        "tr ',|' '\\n\\n' | sed 's/([^)]*)//g; s/:any//; s/ //g'); do todo=\"$todo $d\"; done; "
        "done; echo \"$seen\"",
        listed);
}

struct libcheck {
    char *listed, *closure, *needed;
    int direct, transitive;
};

/* One line of ldd output: soname => path, or a path alone (the loader). */
static void check_ldd_line(struct libcheck *c, char *line)
{
    char soname[256], path[4096], key[300];
    char *pkg;
    bool direct;

    if (sscanf(line, " %255s => %4095s", soname, path) != 2) {
        if (sscanf(line, " %4095s", path) != 1 || path[0] != '/')
            return; /* linux-vdso.so.1: no file */
        snprintf(soname, sizeof(soname), "%s", strrchr(path, '/') + 1);
    }
    if (strcmp(path, "not") == 0)
        fail_msg("ldd: %s not found on this machine: install its -dev package", soname);
    pkg = package_of(path);
    if (pkg == NULL)
        fail_msg("%s (%s): no Debian package ships it (dpkg -S): the image can only get "
                 "libraries from Debian packages",
                 soname, path);
    snprintf(key, sizeof(key), " %s ", soname);
    direct = strstr(c->needed, key) != NULL;
    snprintf(key, sizeof(key), " %s ", pkg);
    if (direct && strstr(c->listed, key) == NULL)
        fail_msg("faultline-agent needs %s (package %s), which the runtime stage of %s does "
                 "not install: add %s to its apt-get install",
                 soname, pkg, CONTAINERFILE, pkg);
    if (!direct && strstr(c->closure, key) == NULL)
        fail_msg("faultline-agent loads %s (package %s) through another library, and no "
                 "package the runtime stage installs depends on %s: add it",
                 soname, pkg, pkg);
    printf("  %-26s %-22s %s\n", soname, pkg, direct ? "installed" : "dependency");
    direct ? c->direct++ : c->transitive++;
    free(pkg);
}

static void runtime_stage_should_install_every_library_the_agent_loads(void **state)
{
    const char *build = getenv("FAULTLINE_BUILD_DIR");
    char bin[4096], *ldd, *line, *save = NULL, *needed;
    struct libcheck c = {0};

    snprintf(bin, sizeof(bin), "%s/agents/faultline-agent", build ? build : ".");
    if (access(bin, X_OK) != 0)
        fail_msg("%s: not built (cmake --build BUILD --target faultline-agent)", bin);
    if (tu_sh("command -v dpkg-query >/dev/null && command -v ldd >/dev/null") != 0) {
        if (tu_strict())
            fail_msg("no dpkg-query or ldd, and FAULTLINE_STRICT=1 forbids skipping");
        tu_note_skip(__func__, "no dpkg-query or ldd: sonames cannot be mapped to Debian packages");
        skip();
    }
    /*
     * A sanitizer build links differently from the image's Release build
     * (libcurl, for one, stays NEEDED): what it loads says nothing about the
     * image. The normal build's run of this test is the check.
     */
    if (tu_sh("readelf -d '%s' | grep -qE 'NEEDED.*\\[lib(a|ub)san'", bin) == 0) {
        tu_note_branch(__func__, "sanitizer build: its libraries differ from the image's Release "
                                 "build; not compared here (the normal build's run compares them)");
        return;
    }
    needed = tu_sh_out("readelf -d '%s' | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p' | "
                       "tr '\\n' ' '",
                       bin);
    assert_non_null(needed);
    c.needed = calloc(1, strlen(needed) + 3);
    sprintf(c.needed, " %s ", needed);
    c.listed = df_apt_packages(&cf, cf.stages - 1);
    c.closure = dependency_closure(c.listed);
    assert_non_null(c.closure);
    ldd = tu_sh_out("ldd '%s'", bin);
    assert_non_null(ldd);
    printf("runtime stage installs:%s\n", c.listed);
    for (line = strtok_r(ldd, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
        check_ldd_line(&c, line);
    printf("%d direct, %d through dependencies\n", c.direct, c.transitive);
    assert_true(c.direct >= 5);
    free(ldd);
    free(needed);
    free(c.needed);
    free(c.listed);
    free(c.closure);
}

/* ---- DaemonSet and systemd unit -------------------------------------- */

static struct fy_document *yaml_doc(void)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char path[4096];
    struct fy_document *d;

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", DAEMONSET);
    d = fy_document_build_from_file(NULL, path);
    if (d == NULL)
        fail_msg("%s: not valid YAML", DAEMONSET);
    return d;
}

static const char *yget(struct fy_document *d, const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(d), path, FY_NT, FYNWF_DONT_FOLLOW);
    const char *s = n ? fy_node_get_scalar0(n) : NULL;

    if (s == NULL)
        fail_msg("%s: %s missing", DAEMONSET, path);
    return s;
}

#define C0 "/spec/template/spec/containers/0"

static void daemonset_should_run_the_image_the_script_builds(void **state)
{
    struct fy_document *d = yaml_doc();
    char *cmake = df_slurp("CMakeLists.txt"), *help, want[128], version[32] = "";
    const char *v = cmake ? strstr(cmake, "project(faultline VERSION ") : NULL;

    assert_non_null(v);
    assert_int_equal(sscanf(v, "project(faultline VERSION %31[0-9.]", version), 1);
    snprintf(want, sizeof(want), "localhost/faultline/agent:%s", version);
    if (strcmp(yget(d, C0 "/image"), want) != 0)
        fail_msg("%s: image %s, but scripts/image.sh builds %s", DAEMONSET, yget(d, C0 "/image"),
                 want);
    assert_string_equal(yget(d, C0 "/command/0"), "/usr/sbin/faultline-agent");
    help = tu_sh_out("bash '%s/scripts/image.sh' --help", getenv("FAULTLINE_SOURCE_DIR"));
    assert_non_null(help);
    if (strstr(help, want) == NULL)
        fail_msg("scripts/image.sh --help does not name %s as its default tag", want);
    free(help);
    free(cmake);
    fy_document_destroy(d);
}

static void daemonset_should_grant_what_the_agent_needs_and_no_more(void **state)
{
    struct fy_document *d = yaml_doc();
    struct fy_node *add;
    int i, n;

    assert_string_equal(yget(d, "/spec/template/spec/hostNetwork"), "true");
    assert_string_equal(yget(d, C0 "/securityContext/runAsUser"), "0");
    assert_string_equal(yget(d, C0 "/securityContext/allowPrivilegeEscalation"), "false");
    assert_string_equal(yget(d, C0 "/securityContext/readOnlyRootFilesystem"), "true");
    assert_string_equal(yget(d, C0 "/securityContext/capabilities/drop/0"), "ALL");
    add = fy_node_by_path(fy_document_root(d), C0 "/securityContext/capabilities/add", FY_NT,
                          FYNWF_DONT_FOLLOW);
    assert_non_null(add);
    n = fy_node_sequence_item_count(add);
    for (i = 0; i < n; i++) {
        const char *cap = fy_node_get_scalar0(fy_node_sequence_get_by_index(add, i));

        if (strcmp(cap, "NET_ADMIN") && strcmp(cap, "NET_RAW") && strcmp(cap, "SETPCAP"))
            fail_msg("%s: capability %s added; the agent uses NET_ADMIN, NET_RAW (and SETPCAP "
                     "to drop the rest); KILL only with process targets",
                     DAEMONSET, cap);
    }
    assert_int_equal(n, 3);
    fy_document_destroy(d);
}

/* The DaemonSet's args as options. */
static void daemonset_opts(struct fy_document *d, struct df_opts *o)
{
    struct fy_node *args =
        fy_node_by_path(fy_document_root(d), C0 "/args", FY_NT, FYNWF_DONT_FOLLOW);
    char *line = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&line, &len);
    int i;

    assert_non_null(args);
    for (i = 0; i < fy_node_sequence_item_count(args); i++)
        fprintf(mem, "%s ", fy_node_get_scalar0(fy_node_sequence_get_by_index(args, i)));
    fclose(mem);
    df_opts_parse(line, o);
    free(line);
}

/* Volume `name`'s node at rel ("hostPath/path"), as a scalar. */
static const char *volume(struct fy_document *d, const char *name, const char *rel)
{
    struct fy_node *vols = fy_node_by_path(fy_document_root(d), "/spec/template/spec/volumes",
                                           FY_NT, FYNWF_DONT_FOLLOW);
    int i;

    for (i = 0; vols && i < fy_node_sequence_item_count(vols); i++) {
        struct fy_node *v = fy_node_sequence_get_by_index(vols, i);
        const char *vn = fy_node_mapping_lookup_scalar0_by_simple_key(v, "name", FY_NT);
        struct fy_node *n;

        if (vn == NULL || strcmp(vn, name) != 0)
            continue;
        n = fy_node_by_path(v, rel, FY_NT, FYNWF_DONT_FOLLOW);
        return n ? fy_node_get_scalar0(n) : NULL;
    }
    return NULL;
}

/* The files the projected secrets volume puts in its mount: " agent.token agent.crt ... ". */
static char *projected_paths(struct fy_document *d)
{
    char *out = strdup(" "), *p;
    int s, i;

    for (s = 0; s < 4; s++)
        for (i = 0; i < 4; i++) {
            char rel[128];
            const char *v;

            snprintf(rel, sizeof(rel), "projected/sources/%d/secret/items/%d/path", s, i);
            if ((v = volume(d, "secrets", rel)) == NULL)
                continue;
            p = out;
            if (asprintf(&out, "%s%s ", p, v) < 0)
                abort();
            free(p);
        }
    return out;
}

static void daemonset_and_unit_should_name_the_same_flags_and_paths(void **state)
{
    static const char *const same[] = {"--token-file", "--state-dir", "--allow",
                                       "--control",    "--tls-cert",  "--tls-key"};
    static const char *const secret_files[] = {"--token-file", "--tls-cert", "--tls-key"};
    struct fy_document *d = yaml_doc();
    char *unit = df_slurp(UNIT), *start, *pre, *files, key[128];
    struct df_opts k8s, sd, sdpre;
    size_t i;

    assert_non_null(unit);
    start = df_unit_value(unit, "ExecStart");
    pre = df_unit_value(unit, "ExecStartPre");
    assert_non_null(start);
    assert_non_null(pre);
    daemonset_opts(d, &k8s);
    df_opts_parse(start, &sd);
    df_opts_parse(pre, &sdpre);
    assert_int_equal(k8s.n, sd.n);
    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const char *a = df_opt(&k8s, same[i]), *b = df_opt(&sd, same[i]);

        if (a == NULL || b == NULL || strcmp(a, b) != 0)
            fail_msg("%s: %s %s, but %s: %s %s", DAEMONSET, same[i], a ? a : "(absent)", UNIT,
                     same[i], b ? b : "(absent)");
        /* ExecStartPre -n checks the same configuration ExecStart runs. */
        if (df_opt(&sdpre, same[i]) == NULL || strcmp(df_opt(&sdpre, same[i]), b) != 0)
            fail_msg("%s: ExecStartPre gives %s differently from ExecStart", UNIT, same[i]);
    }
    assert_non_null(df_opt(&k8s, "--listen"));
    /* The state directory: /run/faultline-agent everywhere. */
    assert_string_equal(df_opt(&sd, "--state-dir"), "/run/faultline-agent");
    assert_string_equal(volume(d, "state", "hostPath/path"), "/run/faultline-agent");
    assert_string_equal(yget(d, C0 "/volumeMounts/1/mountPath"), "/run/faultline-agent");
    assert_non_null(strstr(unit, "\nRuntimeDirectory=faultline-agent\n"));
    assert_non_null(strstr(unit, "\nReadWritePaths=/run/faultline-agent\n"));
    /* Token and TLS files: in the secrets mount, under the unit's names. */
    assert_string_equal(yget(d, C0 "/volumeMounts/0/mountPath"), "/etc/faultline");
    files = projected_paths(d);
    for (i = 0; i < 3; i++) {
        const char *f = df_opt(&sd, secret_files[i]);

        if (strncmp(f, "/etc/faultline/", 15) != 0)
            fail_msg("%s: %s outside /etc/faultline", UNIT, f);
        snprintf(key, sizeof(key), " %s ", f + 15);
        if (strstr(files, key) == NULL)
            fail_msg("%s: the secrets volume puts no %s in /etc/faultline (has:%s)", DAEMONSET,
                     f + 15, files);
    }
    /* Capabilities: the unit's ambient set is the DaemonSet's minus SETPCAP. */
    assert_non_null(strstr(unit, "\nAmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW\n"));
    assert_non_null(strstr(unit, "\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\n"));
    free(files);
    df_opts_free(&k8s);
    df_opts_free(&sd);
    df_opts_free(&sdpre);
    free(start);
    free(pre);
    free(unit);
    fy_document_destroy(d);
}

/* ---- scripts/image.sh ------------------------------------------------- */

/* A PATH directory with the few tools image.sh needs before it picks a builder. */
static char *bare_path(void)
{
    char *dir = tu_sh_out("d=$(mktemp -d) && for t in bash env sed dirname cat; do "
                          "ln -s \"$(command -v $t)\" \"$d/$t\"; done && printf %%s \"$d\"");

    assert_non_null(dir);
    return dir;
}

static void image_script_should_say_clearly_that_no_builder_exists(void **state)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char *dir = bare_path(), *out;

    out = tu_sh_out("PATH='%s' bash '%s/scripts/image.sh' 2>&1; echo \"rc=$?\"", dir, src);
    assert_non_null(out);
    if (strstr(out, "neither podman nor docker is installed") == NULL ||
        strstr(out, "rc=3") == NULL)
        fail_msg("image.sh without a builder said: %s", out);
    free(out);
    /* A docker client whose daemon does not answer is no builder either. */
    assert_int_equal(
        tu_sh("printf '#!/bin/sh\\nexit 1\\n' > '%s/docker' && chmod +x '%s/docker'", dir, dir), 0);
    out = tu_sh_out("PATH='%s' bash '%s/scripts/image.sh' 2>&1; echo \"rc=$?\"", dir, src);
    assert_non_null(out);
    if (strstr(out, "no daemon") == NULL || strstr(out, "rc=3") == NULL)
        fail_msg("image.sh with a daemon-less docker said: %s", out);
    free(out);
    out = tu_sh_out("PATH='%s' bash '%s/scripts/image.sh' --frobnicate 2>&1; echo \"rc=$?\"", dir,
                    src);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    assert_non_null(strstr(out, "rc=2"));
    free(out);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}

static void image_script_help_should_teach_every_option(void **state)
{
    static const char *const opts[] = {"--tag",     "--builder",   "--base-from-archive",
                                       "--cache",   "--mirror",    "--test",
                                       "Examples:", "Exit status:"};
    char *out = tu_sh_out("bash '%s/scripts/image.sh' --help", getenv("FAULTLINE_SOURCE_DIR"));
    size_t i;

    assert_non_null(out);
    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (strstr(out, opts[i]) == NULL)
            fail_msg("scripts/image.sh --help does not explain %s", opts[i]);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(containerfile_should_have_debian_stages_only),
        cmocka_unit_test(containerfile_should_fetch_nothing_but_debian_packages),
        cmocka_unit_test(containerfile_should_copy_the_agent_and_run_it),
        cmocka_unit_test(containerfile_should_name_its_user_or_say_why),
        cmocka_unit_test(dockerignore_should_let_in_what_the_build_copies),
        cmocka_unit_test(runtime_stage_should_install_every_library_the_agent_loads),
        cmocka_unit_test(daemonset_should_run_the_image_the_script_builds),
        cmocka_unit_test(daemonset_should_grant_what_the_agent_needs_and_no_more),
        cmocka_unit_test(daemonset_and_unit_should_name_the_same_flags_and_paths),
        cmocka_unit_test(image_script_should_say_clearly_that_no_builder_exists),
        cmocka_unit_test(image_script_help_should_teach_every_option),
    };

    return cmocka_run_group_tests(tests, load_containerfile, free_containerfile);
}
